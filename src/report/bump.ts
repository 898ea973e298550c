/**
 * What the report needs to know about a version bump (issue 14, `kiln bump`): a small typed view,
 * not the bump report itself. The bump command writes its own report.json; whoever joins the two
 * maps that report onto this view (or writes it in this shape). docs/report.md documents the
 * fields; `kiln report --bump <file>` reads a JSON file of this shape, checked by BumpViewSchema.
 */
import { z } from "zod";
import { KilnError } from "../errors.js";

/** How one patch of the series fared on the new tree. */
export const PATCH_STATUSES = ["clean", "offset", "fuzz", "conflict", "upstream", "blocked"] as const;
export type PatchStatus = (typeof PATCH_STATUSES)[number];

/** Words the report prints beside each status (the status is never shown by colour alone). */
export const PATCH_STATUS_TEXT: Record<PatchStatus, string> = {
  clean: "applies clean",
  offset: "applies only with an offset",
  fuzz: "applies only with fuzz",
  conflict: "conflicts",
  upstream: "already upstream (reverse-applies)",
  blocked: "stops applying (an earlier patch was dropped)",
};

export const BumpViewSchema = z.object({
  schema: z.literal("kiln.bump-view/v1"),
  /** The source pin that moves (its kiln.toml name). */
  source: z.string(),
  from: z.object({ version: z.string(), tree: z.string().optional() }),
  to: z.object({ version: z.string(), tree: z.string().optional() }),
  patches: z.array(
    z.object({
      name: z.string(),
      status: z.enum(PATCH_STATUSES),
      /** e.g. "hunk 2 at offset 14 lines", "2 of 3 hunks rejected: saved as 0003.rej". */
      detail: z.string().optional(),
      /** The patch header's upstream state (DEP-3 Applied-Upstream, Patch-mainline, Upstream-Status). */
      upstream: z.string().optional(),
      /** A command line that reproduces the finding. */
      reproduce: z.string().optional(),
    }),
  ),
  /** New symbols of the new tree, per arch (what went into the pending layer). */
  new_symbols: z.array(
    z.object({
      arch: z.string(),
      symbol: z.string(),
      type: z.string().optional(),
      value: z.string().optional().describe("the value the new tree's defaults give it"),
      menu: z.string().optional(),
      prompt: z.string().optional(),
    }),
  ),
  /** Gates run per cell on the new tree (configure, audit, invariants, build, boot). */
  gates: z
    .array(z.object({ target: z.string(), arch: z.string(), gate: z.string(), ok: z.boolean(), detail: z.string().optional() }))
    .optional(),
  /** Whether the lock and series were changed (--apply), and what --force overrode. */
  applied: z.boolean().optional(),
  forced: z.array(z.string()).optional(),
});

export type BumpView = z.infer<typeof BumpViewSchema>;

/** A bump view read from text: parsed and checked, with the first problem named. Pure. */
export function parseBumpView(text: string, where: { file?: string }): BumpView {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new KilnError(`the bump report is not JSON: ${(e as Error).message}`, where, "pass the JSON file a bump wrote (docs/report.md: the bump view)");
  }
  const r = BumpViewSchema.safeParse(raw);
  if (!r.success) {
    const iss = r.error.issues[0]!;
    const path = iss.path.map(String).join(".") || "(top level)";
    throw new KilnError(
      `not a kiln bump view: ${path}: ${iss.message}${r.error.issues.length > 1 ? ` (and ${r.error.issues.length - 1} more issue(s))` : ""}`,
      where,
      'the report reads the "kiln.bump-view/v1" shape described in docs/report.md',
    );
  }
  return r.data;
}

/**
 * What the report needs to know about a version bump (issue 14, `kiln bump`): a small typed view,
 * not the bump report itself. The bump command writes its own report.json; src/bump/view.ts maps
 * that report onto this view (docs/adr/0049). docs/report.md documents the fields;
 * `kiln report --bump <file>` reads either a bump's report.json or a JSON file of this shape
 * (readBumpFile), each checked by its schema.
 */
import { z } from "zod";
import { KilnError } from "../errors.js";
import { firstIssue } from "../core/schema_issue.js";
import { BumpReportSchema, bumpView } from "../bump/view.js";

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
      /** The target whose series holds it, when the bump moved more than one target. */
      target: z.string().optional(),
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
      /** When the bump moved more than one target (each cell lists its own). */
      target: z.string().optional(),
      symbol: z.string(),
      type: z.string().optional(),
      value: z.string().optional().describe("the value the new tree's defaults give it"),
      menu: z.string().optional(),
      prompt: z.string().optional(),
    }),
  ),
  /** Gates run per target (patches) or per cell (audit, invariants) on the new tree; no arch: every arch of the target. */
  gates: z
    .array(z.object({ target: z.string(), arch: z.string().optional(), gate: z.string(), ok: z.boolean(), detail: z.string().optional() }))
    .optional(),
  /** Whether every gate passed. */
  passed: z.boolean().optional(),
  /** Whether the lock and series were changed (--apply), and what --force overrode. */
  applied: z.boolean().optional(),
  forced: z.array(z.string()).optional(),
});

export type BumpView = z.infer<typeof BumpViewSchema>;

function parseJson(text: string, where: { file?: string }): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new KilnError(`the bump report is not JSON: ${(e as Error).message}`, where, "pass the report.json a bump wrote (bump-report/report.json) or a bump view (docs/report.md)");
  }
}

function checkView(raw: unknown, where: { file?: string }): BumpView {
  const r = BumpViewSchema.safeParse(raw);
  if (!r.success) throw new KilnError(`not a kiln bump view: ${firstIssue(r.error)}`, where, 'pass the report.json kiln bump wrote (bump-report/report.json), or a file of the "kiln.bump-view/v1" shape described in docs/report.md');
  return r.data;
}

/** A bump view read from text: parsed and checked, with the first problem named. Pure. */
export function parseBumpView(text: string, where: { file?: string }): BumpView {
  return checkView(parseJson(text, where), where);
}

/**
 * What `kiln report --bump <file>` reads: a bump view (it has `"schema": "kiln.bump-view/v1"`), or
 * the report.json `kiln bump` wrote (no `schema`, `"version": 1`), checked and mapped onto the view
 * (src/bump/view.ts). Pure.
 */
export function readBumpFile(text: string, where: { file?: string }): BumpView {
  const raw = parseJson(text, where);
  if (raw !== null && typeof raw === "object" && !Array.isArray(raw) && !("schema" in raw) && "version" in raw) {
    const r = BumpReportSchema.safeParse(raw);
    if (!r.success) throw new KilnError(`not a kiln bump report: ${firstIssue(r.error)}`, where, "pass the report.json that kiln bump wrote (run the bump again if it is from another kiln), or a bump view (docs/report.md)");
    return checkView(bumpView(r.data), where);
  }
  return checkView(raw, where);
}

/**
 * The join of `kiln bump` and `kiln report` (issue 14): the bump's own report.json mapped onto the
 * report page's bump view (`kiln.bump-view/v1`, src/report/bump.ts). Pure.
 *
 * The mapping reads only the fields it needs, checked by BumpReportSchema when the report comes
 * from a file (`kiln report --bump bump-report/report.json`); `kiln bump` maps its in-memory
 * report the same way to write bump-report/report.html. See docs/adr/0049.
 */
import { z } from "zod";
import type { BumpReport } from "./bump.js";
import type { BumpView, PatchStatus } from "../report/bump.js";
import type { ConfigDiffView } from "../report/model.js";

const Side = z.object({
  kernel_version: z.string(),
  tree: z.string(),
  package: z.string().optional(),
  version: z.string().optional(),
  url: z.string().optional(),
  commit: z.string().optional(),
});

const DiffEntry = z.object({ symbol: z.string(), kind: z.enum(["removed", "changed", "added"]), old: z.string().optional(), new: z.string().optional() });

/** What the mapping reads of a bump's report.json (src/bump/bump.ts BumpReport); other fields are ignored. */
export const BumpReportSchema = z.object({
  version: z.literal(1),
  source: z.string(),
  from: Side,
  to: Side,
  targets: z.array(
    z.object({
      target: z.string(),
      patches: z.array(
        z.object({
          name: z.string(),
          class: z.enum(["clean", "offset", "upstream", "conflict", "blocked"]),
          moved: z.array(z.object({ file: z.string(), hunk: z.number(), offset: z.number(), fuzz: z.number() })),
          status: z.string(),
          statusLine: z.string().optional(),
          flagged: z.string().optional(),
          blockedBy: z.string().optional(),
          rejects: z.string().optional(),
          refreshed: z.string().optional(),
          refreshError: z.string().optional(),
          action: z.string(),
          reproduce: z.string(),
        }),
      ),
    }),
  ),
  cells: z.array(
    z.object({
      target: z.string(),
      arch: z.string(),
      current: z.object({ release: z.string().optional(), config: z.string() }),
      next: z.object({ release: z.string().optional(), config: z.string() }),
      newSymbols: z.array(z.object({ symbol: z.string(), value: z.string() })),
      diff: z.object({
        counts: z.object({ removed: z.number(), changed: z.number(), added: z.number() }),
        groups: z.array(z.object({ menu: z.array(z.string()), entries: z.array(DiffEntry) })),
        menus: z.string(),
      }),
      reproduce: z.object({ newSymbols: z.string() }),
    }),
  ),
  gates: z.array(z.object({ name: z.string(), ok: z.boolean(), problems: z.array(z.string()), kind: z.string().optional(), target: z.string().optional(), arch: z.string().optional() })),
  passed: z.boolean(),
  applied: z.boolean(),
  overridden: z.array(z.string()),
});

export type BumpReportInput = z.infer<typeof BumpReportSchema>;

// A BumpReport is a BumpReportInput: the schema reads a subset of what the bump writes.
const _fits: (r: BumpReport) => BumpReportInput = (r) => r;
void _fits;

type Side = z.infer<typeof Side>;

/** "6.12.117 (linux-source-6.12 6.12.117-1~deb12u1)", as report.md names a side. */
export function sideText(s: Side): string {
  const what = s.package ? `${s.package}${s.version ? ` ${s.version}` : ""}` : s.url ?? (s.commit ? s.commit.slice(0, 12) : undefined);
  return `${s.kernel_version}${what ? ` (${what})` : ""}`;
}

type PatchIn = BumpReportInput["targets"][number]["patches"][number];

/** The view's six statuses: the bump's "offset" class covers offset and fuzz, told apart by the moved hunks. */
export function viewStatus(p: Pick<PatchIn, "class" | "moved">): PatchStatus {
  if (p.class === "offset") return p.moved.some((m) => m.fuzz > 0) ? "fuzz" : "offset";
  return p.class;
}

function detailOf(p: PatchIn): string {
  const parts: string[] = [];
  if (p.moved.length) parts.push(p.moved.map((m) => `${m.file} hunk #${m.hunk}${m.offset ? ` at offset ${m.offset}` : ""}${m.fuzz ? ` with fuzz ${m.fuzz}` : ""}`).join(", "));
  if (p.class === "upstream") parts.push("reverse-applies cleanly to the new tree");
  if (p.blockedBy) parts.push(`blocked by ${p.blockedBy}`);
  if (p.rejects) parts.push(`rejected hunks in ${p.rejects}`);
  if (p.refreshed) parts.push(`refreshed copy in ${p.refreshed}`);
  if (p.refreshError) parts.push(`cannot refresh: ${p.refreshError}`);
  if (p.flagged) parts.push(`flagged: ${p.flagged}`);
  parts.push(`action: ${p.action}`);
  return parts.join("; ");
}

/** The report page's bump view of a bump report. Pure. */
export function bumpView(r: BumpReportInput): BumpView {
  const manyTargets = new Set(r.targets.map((t) => t.target)).size > 1;
  const patches: BumpView["patches"] = r.targets.flatMap((t) =>
    t.patches.map((p) => ({
      ...(manyTargets ? { target: t.target } : {}),
      name: p.name,
      status: viewStatus(p),
      detail: detailOf(p),
      upstream: `${p.status}${p.statusLine ? ` (line ${p.statusLine})` : ""}`,
      reproduce: p.reproduce,
    })),
  );
  const new_symbols: BumpView["new_symbols"] = r.cells.flatMap((c) => {
    // the menu of a new symbol: where the config diff (grouped by the new tree's menus) put it
    const menuOf = new Map<string, string>();
    for (const g of c.diff.groups) for (const e of g.entries) menuOf.set(e.symbol, g.menu.join(" › "));
    return c.newSymbols.map((s) => {
      const menu = menuOf.get(s.symbol);
      return { arch: c.arch, ...(manyTargets ? { target: c.target } : {}), symbol: s.symbol, value: s.value, ...(menu ? { menu } : {}) };
    });
  });
  const gates: NonNullable<BumpView["gates"]> = r.gates.map((g) => {
    // gates written before they carried their target and arch: the name says both ("audit x86_64/base")
    const [kind = g.name, rest = ""] = g.name.split(" ", 2);
    const cell = /^([^/]+)\/(.+)$/.exec(rest);
    const target = g.target ?? (cell ? cell[2]! : rest);
    const arch = g.arch ?? (g.target ? undefined : cell?.[1]);
    return { target, ...(arch ? { arch } : {}), gate: g.kind ?? kind, ok: g.ok, ...(g.problems.length ? { detail: g.problems.join("; ") } : {}) };
  });
  return {
    schema: "kiln.bump-view/v1",
    source: r.source,
    from: { version: sideText(r.from), tree: r.from.tree },
    to: { version: sideText(r.to), tree: r.to.tree },
    patches,
    new_symbols,
    gates,
    passed: r.passed,
    applied: r.applied,
    ...(r.overridden.length ? { forced: r.overridden } : {}),
  };
}

/** The config diff of each cell (current -> new), as the report page's diff section shows it. Pure. */
export function bumpDiffs(r: BumpReportInput): ConfigDiffView[] {
  return r.cells.map((c) => ({
    from: `${c.arch}/${c.target} now${c.current.release ? ` (${c.current.release})` : ""}`,
    to: `on ${r.to.kernel_version}${c.next.release ? ` (${c.next.release})` : ""}`,
    counts: c.diff.counts,
    groups: c.diff.groups,
    menus: c.diff.menus,
  }));
}

/**
 * `kiln check patches` and `kiln check configured` (also `kiln config audit`). The boot gate
 * (`check boots`) joins from commands/boot.ts, the repro gate (`check repro`) from commands/ship.ts.
 */
import type { Command } from "commander";
import { GateFailure } from "../errors.js";
import type { Context } from "./context.js";

/**
 * `kiln check configured` and `kiln config audit`: the flow up to the identity for every cell,
 * each recorded in its state/configured.json (never in the manifest of the last build); list
 * every finding and violation, then fail.
 */
export async function configuredGate(ctx: Context, targets: string[], o: { arch?: string; reportOnly?: boolean }): Promise<void> {
  const { selectCells, configureCells } = await import("../pipeline/cells.js");
  const project = await ctx.project();
  const ui = ctx.ui;
  const { cells } = await configureCells(project, selectCells(project, targets, o.arch ? [o.arch] : []), { ui, paths: await ctx.paths(), ...(o.reportOnly ? { reportOnly: true } : {}) });
  const results = cells.map((c) => c.manifest);
  if (ctx.globals.json) ctx.printJson(results.map((m) => ({ target: m.target, arch: m.arch, uts_release: m.uts_release, config: m.config })));
  for (const m of results) {
    const f = m.config?.findings ?? [];
    const v = m.config?.invariants ?? [];
    ui.step("configured", `${m.arch}/${m.target}: ${m.uts_release} (${m.config?.requested ?? 0} requested, ${m.config?.dropped.length ?? 0} dropped, ${f.length} finding(s), ${v.length} violation(s))`);
  }
  const fatal = results.flatMap((m) => (m.config?.findings ?? []).filter((f) => !f.allowed));
  const broken = results.filter((m) => (m.config?.invariants?.length ?? 0) > 0);
  const problems: string[] = [];
  if (broken.length) problems.push(`invariants violated: ${broken.map((m) => `${m.arch}/${m.target}: ${m.config!.invariants!.length}`).join(", ")}`);
  if (fatal.length && !o.reportOnly) problems.push(`${fatal.length} audit finding(s)`);
  if (problems.length) throw new GateFailure(`the config gate failed: ${problems.join("; ")}`, {}, "every finding and violation is listed above; opt a line out with \"# kiln-allow: <reason>\" or pass --report-only for audit findings");
  ui.step("configured", `${results.length} cell(s): ${fatal.length ? `${fatal.length} finding(s) reported` : "every requested value survived"}, invariants hold`);
}

/** `kiln check`, with the patch and config gates; returns it for the boot and repro gates. */
export function registerCheckCommands(prog: Command, ctx: Context): Command {
  const check = prog.command("check").description("run one gate alone");
  check
    .command("patches [targets...]")
    .description("the patch gate: the series applies at -p1 with zero fuzz and zero offset")
    .action(async (targets: string[]) => {
      const [{ selectCells, cellSources }, { withSources }, { loadSeries, applySeries }, { GitStore }, { seriesFor }, { preflight }] = await Promise.all([
        import("../pipeline/cells.js"), import("../pipeline/sources.js"), import("../pipeline/apply_patches.js"), import("../effects/git.js"), import("../project/load.js"), import("../project/preflight.js"),
      ]);
      const project = await ctx.project();
      const ui = ctx.ui;
      const p = await ctx.paths();
      const names = [...new Set(selectCells(project, targets).map((c) => c.target))];
      preflight(project, names.map((t) => ({ target: t, arch: project.targets[t]!.arches[0]! })), [], { config: false });
      const git = new GitStore(p.git);
      await git.init();
      const report = await withSources(project, cellSources(project, names.map((t) => ({ target: t, arch: "" }))), { paths: p, ui }, async (sources) => {
        const out: { target: string; patches: number; tree: string }[] = [];
        for (const t of names) {
          const decl = project.targets[t]!;
          const series = await loadSeries(project.dir, seriesFor(project, decl), project.decl.outside_paths);
          const res = await applySeries(git, sources.entry(decl.source).tree, series, p.git, sources.entry(decl.source).commit);
          out.push({ target: t, patches: series.patches.length, tree: res.tree });
          ui.step("patches", `${t}: ${series.patches.length} patch(es) apply clean -> tree ${res.tree.slice(0, 12)}`);
        }
        return out;
      });
      if (ctx.globals.json) ctx.printJson(report);
    });

  check
    .command("configured [targets...]")
    .description("the config gate: configure every cell, audit it and check the invariants; exit 2 on any finding or violation")
    .option("--arch <arch>", "only this arch")
    .option("--report-only", "report audit findings without failing (invariants still fail)")
    .action(async (targets: string[], o: { arch?: string; reportOnly?: boolean }) => {
      await configuredGate(ctx, targets, o);
    });
  return check;
}

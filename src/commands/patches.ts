/**
 * `kiln patches [targets...] [--json]`: each patch of each target's series with its provenance
 * (status, origin, upstream commit, bug references, from the headers distributions use: DEP-3,
 * SUSE, Yocto, git format-patch) and whether it applies with zero fuzz and zero offset to the
 * current pin (the zero-fuzz gate's verdict, patch by patch, in series order).
 */
import type { Command } from "commander";
import type { Context } from "./context.js";

export function registerPatchesCommand(prog: Command, ctx: Context): void {
  prog
    .command("patches [targets...]")
    .description("list each patch of each target's series: subject, provenance status, origin, upstream state, and whether it applies with zero fuzz to the current pin")
    .action(async (targets: string[]) => {
      const [{ selectCells, cellSources }, { withSources }, { readSeries }, { GitStore }, { seriesFor }, { classifySeries }, { statusText }, { relative, join }, { projectId }, { rmSync }] = await Promise.all([
        import("../pipeline/cells.js"), import("../pipeline/sources.js"), import("../pipeline/apply_patches.js"), import("../effects/git.js"), import("../project/load.js"),
        import("../bump/classify.js"), import("../core/patch_headers.js"), import("node:path"), import("../store/paths.js"), import("node:fs"),
      ]);
      const project = await ctx.project();
      const ui = ctx.ui;
      const p = await ctx.paths();
      const names = [...new Set(selectCells(project, targets).map((c) => c.target))];
      const git = new GitStore(p.git);
      await git.init();
      // scratch folders of the classification live (and are removed) under KILN_HOME/tmp
      const scratch = join(p.home, "tmp", `patches-${projectId(project.decl.name, project.dir)}`);
      const report = await withSources(project, cellSources(project, names.map((t) => ({ target: t, arch: "" }))), { paths: p, ui }, async (sources) => {
        const out = [];
        for (const t of names) {
          const decl = project.targets[t]!;
          const series = readSeries(project.dir, seriesFor(project, decl), project.decl.outside_paths);
          const src = sources.entry(decl.source);
          const verdicts = await classifySeries(git, src.tree, series.patches, scratch);
          out.push({
            target: t,
            source: decl.source,
            kernel_version: src.kernel_version,
            patches: verdicts.map((v) => ({
              file: relative(project.dir, v.path),
              subject: v.provenance.subject ?? null,
              status: v.provenance.status,
              status_text: statusText(v.provenance),
              ...(v.provenance.version ? { upstream_version: v.provenance.version } : {}),
              origin: v.provenance.origin ?? null,
              upstream_commit: v.provenance.upstreamCommit ?? null,
              bugs: v.provenance.bugs,
              header_lines: v.provenance.from,
              formats: v.provenance.formats,
              applies: v.class,
              zero_fuzz: v.class === "clean",
              gate: v.gate,
            })),
          });
        }
        return out;
      }).finally(() => rmSync(scratch, { recursive: true, force: true }));
      if (ctx.globals.json) return ctx.printJson(report);
      for (const t of report) {
        ui.info(`${t.target} (source ${t.source}, ${t.kernel_version}): ${t.patches.length} patch(es)`);
        for (const x of t.patches) {
          ui.info(`  ${x.file}: ${x.subject ?? "(no subject)"}`);
          ui.info(`    status: ${x.status_text}${x.origin ? `; origin: ${x.origin}` : ""}${x.upstream_commit ? `; upstream commit ${x.upstream_commit}` : ""}${x.bugs.length ? `; bugs: ${x.bugs.join(", ")}` : ""}`);
          ui.info(`    on ${t.kernel_version}: ${x.zero_fuzz ? "applies with zero fuzz and zero offset" : `${x.applies}: ${x.gate.join("; ")}`}`);
        }
      }
    });
}

/** `kiln build`: run the whole flow for every selected cell (src/pipeline/build.ts). */
import type { Command } from "commander";
import { ARCHES } from "../tables/arches.js";
import { intOption, type Context } from "./context.js";
import type { CellResult } from "../pipeline/build.js";

export interface BuildCliOptions {
  arch?: string;
  jobs?: number;
  locked?: boolean;
  reuse?: boolean;
  ccache?: boolean;
  wipe?: boolean;
  label?: string;
  reportOnly?: boolean;
  /** Human lines on stderr (stdout carries something else). */
  stderr?: boolean;
  /** The caller reads the warm tree afterwards (boot): check it out even on a reuse. */
  tree?: boolean;
}

/** Build (or reuse) the selected cells; boot, run and check boots build through this too. */
export async function buildSelected(ctx: Context, targets: string[], o: BuildCliOptions): Promise<CellResult[]> {
  const { selectCells, buildCells } = await import("../pipeline/cells.js");
  const project = await ctx.project();
  const cells = selectCells(project, targets, o.arch ? [o.arch] : []);
  return buildCells(project, cells, {
    ui: o.stderr ? ctx.stderrUi : ctx.ui, paths: await ctx.paths(), locked: !!o.locked,
    reuse: o.reuse !== false, ccache: o.ccache !== false, wipe: !!o.wipe, reportOnly: !!o.reportOnly,
    ...(o.jobs ? { jobs: o.jobs } : {}), ...(o.label !== undefined ? { label: o.label } : {}), ...(o.tree ? { tree: true } : {}),
  });
}

export function registerBuildCommand(prog: Command, ctx: Context): void {
  prog
    .command("build [targets...]")
    .description("build targets (default: every target not declared `default = false`) into the store, reusing a build with the same identity")
    .option("--arch <arch>", `build only this arch (${Object.keys(ARCHES).join(", ")})`)
    .option("-j, --jobs <n>", "parallel make jobs (default: the CPU count)", intOption("--jobs"))
    .option("--locked", "refuse to build when kiln.toml and kiln.lock disagree (CI, releases)")
    .option("--no-reuse", "compile even when the identity is already in the store")
    .option("--no-ccache", "do not use ccache")
    .option("--wipe", "remove the warm build folder first (a clean build)")
    .option("--label <label>", "the readable label baked into the release (default: inferred)")
    .option("--report-only", "report config audit findings without failing (invariants still fail)")
    .option("--tree", "check the warm source tree out even when the build is reused (for tools that read it)")
    .action(async (targets: string[], o: BuildCliOptions) => {
      const results = await buildSelected(ctx, targets, o);
      if (ctx.globals.json) ctx.printJson(results.map((r) => r.manifest));
    });
}

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
  /** Build on the farm: true (the URL from KILN_FARM_REDIS / [farm] redis) or the Redis URL. */
  farm?: boolean | string;
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
    .option("--farm [redis]", "build on the farm (redis://host:port; default: KILN_FARM_REDIS, [farm] redis) and take the signed results")
    .action(async (targets: string[], o: BuildCliOptions) => {
      if (o.farm !== undefined && o.farm !== false) {
        const results = await buildOnFarm(ctx, targets, o);
        if (ctx.globals.json) ctx.printJson(results.map((r) => r.manifest));
        return;
      }
      const results = await buildSelected(ctx, targets, o);
      if (ctx.globals.json) ctx.printJson(results.map((r) => r.manifest));
    });
}

/** `kiln build --farm`: the cells as farm jobs (src/farm/submit.ts). */
async function buildOnFarm(ctx: Context, targets: string[], o: BuildCliOptions) {
  const [{ selectCells }, { resolveFarmRedis }, { submitCells }, { checkRedisUrl }, { ProjectError }] = await Promise.all([
    import("../pipeline/cells.js"), import("../farm/config.js"), import("../farm/submit.js"), import("../effects/redis.js"), import("../errors.js"),
  ]);
  for (const [flag, on] of [["--wipe", o.wipe], ["--no-reuse", o.reuse === false], ["--tree", o.tree], ["--label", o.label !== undefined], ["--jobs", o.jobs !== undefined], ["--report-only", o.reportOnly]] as const) {
    if (on) throw new ProjectError(`${flag} does not go with --farm: the workers build the project as kiln.toml says`, {}, `drop ${flag}, or build locally`);
  }
  // `kiln build --farm base`: commander hands "base" to --farm as its value; a value that is not a URL is a target
  let given = typeof o.farm === "string" ? o.farm : undefined;
  if (given !== undefined && !given.includes("://")) {
    targets = [given, ...targets];
    given = undefined;
  }
  const project = await ctx.project();
  const t = resolveFarmRedis(project, given, process.env);
  if (!t) throw new ProjectError("--farm names no Redis", { file: project.file }, "pass --farm redis://host:port, set KILN_FARM_REDIS, or [farm] redis = \"redis://…\" in kiln.toml");
  checkRedisUrl(t.redis, `the farm Redis (${t.from})`);
  const cells = selectCells(project, targets, o.arch ? [o.arch] : []);
  return submitCells(project, cells, { redis: t.redis, ui: ctx.ui, paths: await ctx.paths() });
}

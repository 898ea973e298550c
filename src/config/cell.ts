/**
 * Shared effects of the config tools: pick a project's (target, arch) cells, configure them
 * with the real pipeline (configure only, no compile), and run extra kconfig goals with the
 * cell's own make variables in a scratch out-of-tree folder.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ProjectError, BuildFailure } from "../errors.js";
import type { Project } from "../project/load.js";
import type { LockEntry } from "../project/lock.js";
import { ARCHES } from "../tables/arches.js";
import { paths as kilnPaths, projectId, warmTree, type Paths, type WarmTree } from "../store/paths.js";
import { resolveSources } from "../pipeline/sources.js";
import { buildCell } from "../pipeline/build.js";
import { discardAdoptables } from "../pipeline/prepare_source.js";
import { buildFlags } from "../pipeline/build_flags.js";
import { makeArgv, type MakeEnv } from "../pipeline/configure.js";
import type { Manifest } from "../core/manifest.js";
import { run, type RunResult } from "../effects/proc.js";
import type { Ui } from "../ui/log.js";

export interface Cell {
  target: string;
  arch: string;
}

export interface ConfiguredCell extends Cell {
  manifest: Manifest;
  /** The cell's warm tree (src, build, state, lock). */
  warm: WarmTree;
  /** The final .config text, read right after configure. */
  configText: string;
  source: LockEntry;
}

export interface CellOptions {
  ui: Ui;
  paths?: Paths;
}

/** Every (target, arch) the filters select, in kiln.toml order. Throws on an unknown name. */
export function selectCells(project: Project, targets: readonly string[] = [], arches: readonly string[] = []): Cell[] {
  const names = targets.length ? [...targets] : Object.keys(project.targets);
  const out: Cell[] = [];
  for (const a of arches) if (!(a in ARCHES)) throw new ProjectError(`unknown arch "${a}"`, {}, `arches: ${Object.keys(ARCHES).join(", ")}`);
  for (const t of names) {
    const decl = project.targets[t];
    if (!decl) throw new ProjectError(`no target "${t}" in kiln.toml`, { file: project.file }, `targets: ${Object.keys(project.targets).join(", ")}`);
    for (const a of decl.arches) if (!arches.length || arches.includes(a)) out.push({ target: t, arch: a });
  }
  if (!out.length) throw new ProjectError(`no (target, arch) cell matches ${[...targets, ...arches].join(", ")}`, { file: project.file }, "check --target and --arch against kiln.toml");
  return out;
}

/** Resolve the sources the cells need (plus `extra` pins) and configure each cell. */
export async function configureCells(project: Project, cells: readonly Cell[], o: CellOptions & { extraSources?: string[] }): Promise<{ cells: ConfiguredCell[]; sources: Record<string, LockEntry> }> {
  const p = o.paths ?? kilnPaths();
  const names = [...new Set([...cells.map((c) => project.targets[c.target]!.source), ...(o.extraSources ?? [])])];
  for (const n of names) {
    if (!(n in project.pins)) throw new ProjectError(`source "${n}" is not declared in kiln.toml`, { file: project.file }, `declare it as [source.${n}], or use one of: ${Object.keys(project.pins).join(", ")}`);
  }
  const out: ConfiguredCell[] = [];
  // A fresh import's extraction stays adoptable: the caller may check that source out next.
  // Callers end with discardAdoptables() (see withSources).
  {
    const sources = await resolveSources(project, names, { paths: p, ui: o.ui });
    for (const c of cells) {
      const source = sources[project.targets[c.target]!.source]!;
      const r = await buildCell(project, c.target, c.arch, source, { ui: o.ui, paths: p, configureOnly: true });
      const warm = cellWarmTree(project, c, p);
      const build = r.manifest.build_dir ?? warm.build;
      const configText = readFileSync(join(build, ".config"), "utf8");
      out.push({ ...c, manifest: r.manifest, warm, configText, source });
    }
    return { cells: out, sources };
  }
}

/** Run fn, then drop any fresh extraction nobody adopted. */
export async function withSources<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } finally {
    discardAdoptables();
  }
}

export function cellWarmTree(project: Project, c: Cell, p: Paths = kilnPaths()): WarmTree {
  return warmTree(p, projectId(project.decl.name, project.dir), c.target, c.arch);
}

/** make variables for running kconfig goals of a cell against `src`, out of tree in `build`. */
export function cellMakeEnv(project: Project, c: Cell, src: string, build: string, timestamp: number): MakeEnv {
  const target = project.targets[c.target]!;
  const flags = buildFlags({ arch: ARCHES[c.arch]!, toolchain: target.toolchain, src, build, timestamp, makeVars: target.make_vars });
  return { src, build, makeVars: flags.makeVars, env: { LC_ALL: "C" } };
}

/** Run `make -s <goals>` and fail with the tail of its output when it exits non-zero. */
export async function kconfigMake(m: MakeEnv, goals: string[], extra: string[] = [], what = goals.join(" ")): Promise<RunResult> {
  mkdirSync(m.build, { recursive: true });
  const r = await run(makeArgv(m, goals, ["-s", ...extra]), { env: m.env, allowFail: true });
  if (r.exitCode !== 0) {
    const tail = r.all.trim().split("\n").slice(-20).join("\n");
    throw new BuildFailure(`make ${what} failed (exit ${r.exitCode}) in ${m.build}\n${tail}`, {}, "the output above is kconfig's; check the config and the source tree");
  }
  return r;
}

export function readIfExists(f: string): string | undefined {
  return existsSync(f) ? readFileSync(f, "utf8") : undefined;
}

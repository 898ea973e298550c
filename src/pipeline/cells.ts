/**
 * The (target, arch) cells of a project: which ones a command selects (the one place that says
 * "no target" or "not declared for"), and running the flow over them, fully (build) or up to the
 * identity (configure). Also the helpers the config tools use to run extra kconfig goals with a
 * cell's own make variables in a scratch out-of-tree folder.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ProjectError, BuildFailure } from "../errors.js";
import type { Project } from "../project/load.js";
import { preflight } from "../project/preflight.js";
import type { TargetDecl } from "../project/schema.js";
import type { LockEntry } from "../project/lock.js";
import { ARCHES } from "../tables/arches.js";
import { paths as kilnPaths, projectId, warmTree, type Paths, type WarmTree } from "../store/paths.js";
import { resolveSources, withSources, type Sources } from "./sources.js";
import { buildCell, type BuildOptions, type CellResult } from "./build.js";
import { buildFlags } from "./build_flags.js";
import { makeArgv, type MakeEnv } from "./configure.js";
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

function unknownArch(a: string): ProjectError {
  return new ProjectError(`unknown arch "${a}"`, {}, `arches: ${Object.keys(ARCHES).join(", ")}`);
}

/** The named target (default: the first declared without `default = false`). The one "no target" error. */
export function pickTarget(project: Project, name?: string): { name: string; decl: TargetDecl } {
  const t = name ?? defaultTargets(project)[0] ?? Object.keys(project.targets)[0];
  const decl = t === undefined ? undefined : project.targets[t];
  if (t === undefined || !decl) throw new ProjectError(`no target "${t ?? ""}" in kiln.toml`, { file: project.file }, `targets: ${Object.keys(project.targets).join(", ") || "(none declared)"}`);
  return { name: t, decl };
}

/** One cell: the named target (default: the first) at the given arch (default: its first). */
export function pickCell(project: Project, target?: string, arch?: string): Cell {
  const t = pickTarget(project, target);
  if (arch !== undefined && !(arch in ARCHES)) throw unknownArch(arch);
  const a = arch ?? t.decl.arches[0]!;
  if (!t.decl.arches.includes(a)) throw new ProjectError(`target "${t.name}" is not declared for ${a}`, { file: project.file }, `its arches: ${t.decl.arches.join(", ")}`);
  return { target: t.name, arch: a };
}

/**
 * Every (target, arch) the filters select, in kiln.toml order. A target named explicitly must be
 * declared for every arch asked for; with no names, targets without that arch are left out.
 */
/** The targets a command takes when it is given no target names: those not declared `default = false`. */
export function defaultTargets(project: Project): string[] {
  return Object.entries(project.targets).filter(([, d]) => d.default !== false).map(([t]) => t);
}

export function selectCells(project: Project, targets: readonly string[] = [], arches: readonly string[] = []): Cell[] {
  for (const a of arches) if (!(a in ARCHES)) throw unknownArch(a);
  const out: Cell[] = [];
  for (const t of targets.length ? targets : defaultTargets(project)) {
    const { decl } = pickTarget(project, t);
    if (targets.length) {
      const lacking = arches.filter((a) => !decl.arches.includes(a));
      if (lacking.length === arches.length && lacking.length) throw new ProjectError(`target "${t}" is not declared for ${lacking.join(", ")}`, { file: project.file }, `its arches: ${decl.arches.join(", ")}`);
    }
    for (const a of decl.arches) if (!arches.length || arches.includes(a)) out.push({ target: t, arch: a });
  }
  if (!out.length) throw new ProjectError(`no (target, arch) cell matches ${[...targets, ...arches].join(", ")}`, { file: project.file }, "check the target names and --arch against kiln.toml");
  return out;
}

/** The source pins the cells need, plus `extra`, each once. */
export function cellSources(project: Project, cells: readonly Cell[], extra: readonly string[] = []): string[] {
  const names = [...new Set([...cells.map((c) => project.targets[c.target]!.source), ...extra])];
  for (const n of names) {
    if (!(n in project.pins)) throw new ProjectError(`source "${n}" is not declared in kiln.toml`, { file: project.file }, `declare it as [source.${n}], or use one of: ${Object.keys(project.pins).join(", ")}`);
  }
  return names;
}

export interface BuildCellsOptions extends Omit<BuildOptions, "ui" | "paths" | "configureOnly"> {
  ui: Ui;
  paths?: Paths;
  /** Refuse to build when kiln.toml and kiln.lock disagree. */
  locked?: boolean;
  /** Resolve the pins from these entries, leaving kiln.lock unread and unwritten (kiln bisect). */
  lockOverride?: Record<string, LockEntry>;
}

/** Build (or reuse) every cell, outputs included: the whole flow. */
export async function buildCells(project: Project, cells: readonly Cell[], o: BuildCellsOptions): Promise<CellResult[]> {
  const { locked, lockOverride, ...flow } = o;
  const p = o.paths ?? kilnPaths();
  preflight(project, cells);
  return withSources(project, cellSources(project, cells), { locked: !!locked, paths: p, ui: o.ui, ...(lockOverride ? { lockOverride } : {}) }, async (sources) => {
    const out: CellResult[] = [];
    for (const c of cells) out.push(await buildCell(project, c.target, c.arch, sources, { ...flow, paths: p }));
    return out;
  });
}

/**
 * Configure (and audit) every cell without compiling: the flow up to the identity. The import's
 * extraction is removed before returning unless `keepSources`: then the caller owns `sources`
 * (it may check that source out next) and must `discard()` it.
 */
export async function configureCells(
  project: Project,
  cells: readonly Cell[],
  o: CellOptions & { extraSources?: string[]; keepSources?: boolean; reportOnly?: boolean; lockOverride?: Record<string, LockEntry>; identityOnly?: boolean },
): Promise<{ cells: ConfiguredCell[]; sources: Sources }> {
  const p = o.paths ?? kilnPaths();
  preflight(project, cells, o.extraSources);
  const sources = await resolveSources(project, cellSources(project, cells, o.extraSources), { paths: p, ui: o.ui, ...(o.lockOverride ? { lockOverride: o.lockOverride } : {}) });
  try {
    const out: ConfiguredCell[] = [];
    for (const c of cells) {
      const r = await buildCell(project, c.target, c.arch, sources, { ui: o.ui, paths: p, configureOnly: true, ...(o.reportOnly ? { reportOnly: true } : {}), ...(o.identityOnly ? { identityOnly: true } : {}) });
      const warm = cellWarmTree(project, c, p);
      if (o.identityOnly) {
        out.push({ ...c, manifest: r.manifest, warm, configText: "", source: sources.entry(project.targets[c.target]!.source) });
        continue;
      }
      const build = r.manifest.build_dir ?? warm.build;
      const configText = readFileSync(join(build, ".config"), "utf8");
      out.push({ ...c, manifest: r.manifest, warm, configText, source: sources.entry(project.targets[c.target]!.source) });
    }
    return { cells: out, sources };
  } finally {
    if (!o.keepSources) sources.discard();
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

/**
 * New symbols on a version bump. For each (arch, variant) cell of a project, the cell's final
 * .config (configured on its current source) is read by the NEW source's kconfig with
 * `make listnewconfig` and `make helpnewconfig`, in a scratch out-of-tree folder next to a
 * checkout of the new source (shared trees are never written). Each new symbol becomes one file
 * named CONFIG_X in a pending layer folder, holding its default and its help text as comments,
 * like ARK's pending-<flavor> layer ("AUTOMATIC: New configs"), for a maintainer to review and
 * move into a real layer.
 *
 * Re-running is idempotent: an existing file with the same bytes is left alone, a file a
 * maintainer edited is kept (and reported), and a symbol a maintainer already set in one of the
 * target's other layers is not written again.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { ProjectError } from "../errors.js";
import type { Project } from "../project/load.js";
import { projectPath, seriesFor } from "../project/load.js";
import { paths as kilnPaths, projectId, warmTree, type Paths } from "../store/paths.js";
import { GitStore } from "../effects/git.js";
import { acquire } from "../effects/lock.js";
import { writeFileAtomic } from "../effects/fsx.js";
import { loadSeries, applySeries } from "../pipeline/apply_patches.js";
import { prepareWorktree } from "../pipeline/prepare_worktree.js";
import { layerFiles } from "../pipeline/configure.js";
import { parseFragment } from "../core/fragment.js";
import { kernelVersionFromMakefile } from "../core/kernel_version.js";
import { cellMakeEnv, configureCells, kconfigMake, selectCells, type CellOptions } from "../pipeline/cells.js";

// ---------------------------------------------------------------- pure

export interface ListedSymbol {
  /** Without the CONFIG_ prefix. */
  symbol: string;
  /** The value as listnewconfig prints it (strings keep their quotes). */
  value: string;
}

/** The `CONFIG_X=value` lines of `make listnewconfig` output, in order (duplicates kept). */
export function parseListNewconfig(text: string): ListedSymbol[] {
  const out: ListedSymbol[] = [];
  for (const raw of text.split("\n")) {
    const m = /^CONFIG_([A-Za-z0-9_]+)=(.*)$/.exec(raw.replace(/\r$/, ""));
    if (m) out.push({ symbol: m[1]!, value: m[2]! });
  }
  return out;
}

/**
 * `make helpnewconfig` output: one block per new symbol between `-----` lines, starting with
 * `CONFIG_X:`. Returns symbol -> the block's lines (leading and trailing blank lines removed).
 * The first block of a symbol listed twice wins.
 */
export function parseHelpNewconfig(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let block: string[] | undefined;
  const flush = () => {
    if (!block) return;
    while (block.length && block[0]!.trim() === "") block.shift();
    while (block.length && block[block.length - 1]!.trim() === "") block.pop();
    const first = block[0] ?? "";
    const m = /^CONFIG_([A-Za-z0-9_]+):\s*$/.exec(first) ?? /^Symbol: ([A-Za-z0-9_]+)/m.exec(block.join("\n"));
    if (m && !out.has(m[1]!)) out.set(m[1]!, block);
  };
  for (const raw of text.split("\n")) {
    const line = raw.replace(/\r$/, "");
    if (line === "-----") {
      if (block) {
        flush();
        block = undefined;
      } else block = [];
      continue;
    }
    if (block) block.push(line);
  }
  flush();
  return out;
}

export const PENDING_HEADER = "# AUTOMATIC: New configs";

/** The text of one pending file: header, help as comments, then the setting line. */
export function pendingFileText(s: ListedSymbol, help: readonly string[], source: string): string {
  const lines = [`${PENDING_HEADER} (new in ${source}; review, then move this file into a layer)`, "#"];
  for (const h of help.length ? help : [`CONFIG_${s.symbol}:`, "", "There is no help available for this option."]) lines.push(h.trimEnd() === "" ? "#" : `# ${h.trimEnd()}`);
  lines.push("#");
  lines.push(s.value === "n" ? `# CONFIG_${s.symbol} is not set` : `CONFIG_${s.symbol}=${s.value}`);
  return lines.join("\n") + "\n";
}

// ---------------------------------------------------------------- effects

export interface NewSymbolsOptions extends CellOptions {
  /** The pin (a [source.<name>] of kiln.toml) holding the new version. */
  source: string;
  targets?: string[];
  arches?: string[];
  /**
   * The pending layer folder, relative to the project; "{arch}" and "{target}" are replaced.
   * Default "config/pending/{arch}". Cells sharing a folder share its files (first cell wins
   * when their defaults differ; the conflict is reported).
   */
  pendingDir?: string;
  /** Compute and report only; write nothing. */
  dryRun?: boolean;
}

export interface NewSymbolsCell {
  target: string;
  arch: string;
  /** Lines `make listnewconfig` printed: the hand-run figure. */
  count: number;
  /** The distinct new symbols (a symbol defined in two places is listed twice by kconfig). */
  symbols: string[];
  /** Project-relative pending folder. */
  pendingDir: string;
  /** Files created or rewritten by this run. */
  written: string[];
  /** Files already present with the same bytes. */
  unchanged: string[];
  /** Symbols not written because a non-pending layer of the target already sets them. */
  inLayers: string[];
  /** Files present with other bytes (a maintainer's edit, or another cell's default): left alone. */
  kept: string[];
  /** Symbols another cell sharing this folder wrote with a different default. */
  conflicts: { symbol: string; with: string }[];
  /** Kernel version of the new source. */
  newVersion: string;
  /** The cell's final .config (from the current source) as kconfig of the new source read it. */
  configFile: string;
  /** Set when the target's series did not apply to the new source (new symbols read unpatched). */
  seriesSkipped?: string;
}

export interface NewSymbolsReport {
  source: string;
  newVersion: string;
  cells: NewSymbolsCell[];
}

export async function newSymbols(project: Project, o: NewSymbolsOptions): Promise<NewSymbolsReport> {
  return newSymbolsIn(project, o);
}

async function newSymbolsIn(project: Project, o: NewSymbolsOptions): Promise<NewSymbolsReport> {
  const p: Paths = o.paths ?? kilnPaths();
  const ui = o.ui;
  if (!(o.source in project.pins)) {
    throw new ProjectError(`source "${o.source}" is not declared in kiln.toml`, { file: project.file }, `declare the new version as [source.${o.source}] (e.g. debian = "linux-source-6.12"); declared: ${Object.keys(project.pins).join(", ")}`);
  }
  const cells = selectCells(project, o.targets, o.arches);
  const { cells: configured, sources } = await configureCells(project, cells, { ui, paths: p, extraSources: [o.source], keepSources: true });
  const next = sources.entry(o.source);
  const git = new GitStore(p.git);
  await git.init();
  const pid = projectId(project.decl.name, project.dir);
  const nw = warmTree(p, pid, "_new-symbols", o.source);
  const template = o.pendingDir ?? "config/pending/{arch}";
  const claimed = new Map<string, { text: string; cell: string }>(); // abs file -> first writer this run
  const out: NewSymbolsCell[] = [];
  const lock = await acquire(nw.lock, { onWait: () => ui.step("wait", `another kiln is using the ${o.source} checkout; waiting`) });
  let newVersion = next.kernel_version;
  try {
    for (const c of configured) {
      const target = project.targets[c.target]!;
      // The new source, with the target's series when it still applies.
      const series = await loadSeries(project.dir, seriesFor(project, target), project.decl.outside_paths);
      let tree = next.tree;
      let seriesSkipped: string | undefined;
      if (series.patches.length) {
        try {
          tree = (await applySeries(git, next.tree, series, p.git)).tree;
        } catch (e) {
          seriesSkipped = (e as Error).message.split("\n")[0];
          ui.warn(`${c.arch}/${c.target}: the series does not apply to ${o.source}; new symbols are read from the unpatched source (${seriesSkipped})`);
        }
      }
      const wt = await prepareWorktree(git, nw, tree, sources.adopt(next.tree), false, next.tree);
      newVersion = kernelVersionFromMakefile(readFileSync(join(wt.src, "Makefile"), "utf8")) ?? newVersion;
      const build = join(nw.build, `${c.target}-${c.arch}`);
      mkdirSync(build, { recursive: true });
      writeFileSync(join(build, ".config"), c.configText);
      const m = cellMakeEnv(project, c, wt.src, build, next.timestamp);
      const listed = parseListNewconfig((await kconfigMake(m, ["listnewconfig"])).stdout);
      const help = listed.length ? parseHelpNewconfig((await kconfigMake(m, ["helpnewconfig"])).stdout) : new Map<string, string[]>();

      // Symbols a maintainer already placed in one of the target's other layers.
      const pendingRel = template.replaceAll("{arch}", c.arch).replaceAll("{target}", c.target);
      const pendingAbs = projectPath(project, pendingRel);
      const inLayer = new Set<string>();
      for (const f of layerFiles(project, c.target, target, c.arch)) {
        if (resolve(f.file, "..") === resolve(pendingAbs)) continue;
        for (const r of parseFragment(readFileSync(f.file, "utf8"), f.rel, f.layer).requests) inLayer.add(r.symbol);
      }
      const cell: NewSymbolsCell = { target: c.target, arch: c.arch, count: listed.length, symbols: [], pendingDir: pendingRel, written: [], unchanged: [], inLayers: [], kept: [], conflicts: [], newVersion, configFile: join(build, ".config"), ...(seriesSkipped ? { seriesSkipped } : {}) };
      const seen = new Set<string>();
      for (const s of listed) {
        if (seen.has(s.symbol)) continue;
        seen.add(s.symbol);
        cell.symbols.push(s.symbol);
        if (inLayer.has(s.symbol)) {
          cell.inLayers.push(s.symbol);
          continue;
        }
        const name = `CONFIG_${s.symbol}`;
        const file = join(pendingAbs, name);
        const text = pendingFileText(s, help.get(s.symbol) ?? [], `${o.source} ${newVersion}`);
        const first = claimed.get(file);
        if (first) {
          if (first.text !== text) cell.conflicts.push({ symbol: name, with: first.cell });
          else cell.unchanged.push(name);
          continue;
        }
        claimed.set(file, { text, cell: `${c.arch}/${c.target}` });
        const have = existsSync(file) ? readFileSync(file, "utf8") : undefined;
        if (have === text) cell.unchanged.push(name);
        else if (have !== undefined) cell.kept.push(name);
        else {
          if (!o.dryRun) writeFileAtomic(file, text);
          cell.written.push(name);
        }
      }
      out.push(cell);
      ui.step("new", `${c.arch}/${c.target}: ${cell.symbols.length} new symbol(s) in ${o.source} ${newVersion} (${cell.written.length} written, ${cell.unchanged.length} unchanged, ${cell.inLayers.length} already in layers, ${cell.kept.length} kept) -> ${relative(project.dir, pendingAbs) || "."}/`);
      if (cell.conflicts.length) ui.warn(`${c.arch}/${c.target}: ${cell.conflicts.length} symbol(s) have another default in ${cell.conflicts[0]!.with}, which shares ${pendingRel}/: ${cell.conflicts.map((x) => x.symbol).join(", ")}; use "{target}" in the pending folder to keep them apart`);
      if (cell.kept.length) ui.warn(`${c.arch}/${c.target}: ${cell.kept.length} pending file(s) differ from what kconfig now says and were left alone: ${cell.kept.join(", ")}`);
    }
  } finally {
    await lock.release();
    sources.discard();
  }
  return { source: o.source, newVersion, cells: out };
}

/** Files named CONFIG_* in a pending folder (for callers that list what awaits review). */
export function pendingFiles(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((f) => /^CONFIG_[A-Za-z0-9_]+$/.test(f)).sort() : [];
}

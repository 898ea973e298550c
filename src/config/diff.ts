/**
 * Compare two configs: added, removed and changed symbols, like the kernel's scripts/diffconfig
 * (`-SYM val`, ` SYM old -> new`, `+SYM val`), grouped by Kconfig menu when a tree is known,
 * with a JSON form. A side is a .config file, a store entry (its boot/config-<release>), or a
 * target's final config (configured with the real pipeline, no compile).
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ProjectError } from "../errors.js";
import type { Project } from "../project/load.js";
import { paths as kilnPaths, type Paths } from "../store/paths.js";
import { ARCHES } from "../tables/arches.js";
import type { KconfigModel, MenuNode } from "../kconfig/index.js";
import { loadKconfig, menuPath } from "../kconfig/index.js";
import { configureCells, pickCell, type CellOptions } from "../pipeline/cells.js";

// ---------------------------------------------------------------- pure

/** symbol (no CONFIG_ prefix) -> value as written; `# CONFIG_X is not set` is "n". */
export type ConfigValues = Map<string, string>;

/** Read a config exactly as scripts/diffconfig does. */
export function readConfigValues(text: string): ConfigValues {
  const d: ConfigValues = new Map();
  for (const raw of text.split("\n")) {
    const line = raw;
    if (line.startsWith("CONFIG_")) {
      const eq = line.indexOf("=");
      if (eq > 7) d.set(line.slice(7, eq), line.slice(eq + 1));
    }
    if (line.endsWith(" is not set") && line.startsWith("# CONFIG_")) d.set(line.slice(9, -11), "n");
  }
  return d;
}

export interface DiffEntry {
  /** Without the CONFIG_ prefix, as scripts/diffconfig prints it. */
  symbol: string;
  kind: "removed" | "changed" | "added";
  /** Value in A (absent for added). */
  old?: string;
  /** Value in B (absent for removed). */
  new?: string;
}

export interface ConfigDiff {
  removed: DiffEntry[];
  changed: DiffEntry[];
  added: DiffEntry[];
}

const byName = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);

export function diffConfigValues(a: ConfigValues, b: ConfigValues): ConfigDiff {
  const removed = [...a.keys()].filter((k) => !b.has(k)).sort(byName).map((k): DiffEntry => ({ symbol: k, kind: "removed", old: a.get(k)! }));
  const changed = [...a.keys()].filter((k) => b.has(k) && a.get(k) !== b.get(k)).sort(byName).map((k): DiffEntry => ({ symbol: k, kind: "changed", old: a.get(k)!, new: b.get(k)! }));
  const added = [...b.keys()].filter((k) => !a.has(k)).sort(byName).map((k): DiffEntry => ({ symbol: k, kind: "added", new: b.get(k)! }));
  return { removed, changed, added };
}

export function formatEntry(e: DiffEntry): string {
  if (e.kind === "removed") return `-${e.symbol} ${e.old}`;
  if (e.kind === "added") return `+${e.symbol} ${e.new}`;
  return ` ${e.symbol} ${e.old} -> ${e.new}`;
}

/** The output of `scripts/diffconfig a b`, byte for byte. */
export function formatDiffconfig(d: ConfigDiff): string {
  return [...d.removed, ...d.changed, ...d.added].map((e) => formatEntry(e) + "\n").join("");
}

export interface DiffGroup {
  /** Menu titles from the top; [] for the top level; ["(not in this tree's Kconfig)"] for unknown symbols. */
  menu: string[];
  entries: DiffEntry[];
}

export const UNKNOWN_MENU = "(not in this tree's Kconfig)";
export const ALL_MENU = "(all symbols)";

/** Where a symbol sits: its menu path and its position in menu order. */
export interface MenuIndex {
  locate(symbol: string): { menu: string[]; order: number } | undefined;
}

/** Menu order and paths of every symbol of a model (its first definition). */
export function menuIndex(model: KconfigModel): MenuIndex {
  const order = new Map<string, { menu: string[]; order: number }>();
  let i = 0;
  const walk = (n: MenuNode): void => {
    if (n.sym?.name && !order.has(n.sym.name)) order.set(n.sym.name, { menu: menuPath(n), order: i++ });
    for (const c of n.children) walk(c);
  };
  walk(model.root);
  return { locate: (s) => order.get(s) };
}

/**
 * Group entries by menu, groups in menu order (unknown symbols last), entries in diffconfig's
 * order inside a group (removed, changed, added; each by name). Without an index: one group.
 */
export function groupByMenu(d: ConfigDiff, index?: MenuIndex): DiffGroup[] {
  const all = [...d.removed, ...d.changed, ...d.added];
  if (!index) return all.length ? [{ menu: [ALL_MENU], entries: all }] : [];
  const groups = new Map<string, { menu: string[]; order: number; entries: DiffEntry[] }>();
  for (const e of all) {
    const loc = index.locate(e.symbol);
    const menu = loc ? loc.menu : [UNKNOWN_MENU];
    const key = menu.join("\0");
    const g = groups.get(key) ?? { menu, order: loc ? loc.order : Number.MAX_SAFE_INTEGER, entries: [] };
    if (loc) g.order = Math.min(g.order, loc.order);
    g.entries.push(e);
    groups.set(key, g);
  }
  return [...groups.values()].sort((x, y) => x.order - y.order || byName(x.menu.join("\0"), y.menu.join("\0"))).map((g) => ({ menu: g.menu, entries: g.entries }));
}

/** Grouped text: a heading per menu, then diffconfig lines. */
export function formatGrouped(groups: readonly DiffGroup[]): string {
  let out = "";
  for (const g of groups) {
    out += `# ${g.menu.length ? g.menu.join(" > ") : "(top level)"}\n`;
    for (const e of g.entries) out += formatEntry(e) + "\n";
  }
  return out;
}

// ---------------------------------------------------------------- effects

export type ConfigRef =
  | { kind: "file"; path: string }
  | { kind: "release"; release: string }
  | { kind: "target"; target: string; arch?: string };

export interface DiffSide {
  ref: ConfigRef;
  /** Human label: the file, the release or target/arch. */
  label: string;
  file: string;
  arch?: string;
  /** A source tree for this side (targets: the cell's warm tree). */
  tree?: string;
  values: ConfigValues;
}

export interface DiffReport {
  a: { label: string; file: string };
  b: { label: string; file: string };
  counts: { removed: number; changed: number; added: number };
  diff: ConfigDiff;
  groups: DiffGroup[];
  /** Where menus came from, or why there are none. */
  menus: { tree: string; arch: string } | { none: string };
  /** scripts/diffconfig text. */
  text: string;
}

export interface DiffOptions extends CellOptions {
  project?: Project;
  /** Kernel tree whose Kconfig names the menus (default: a target side's tree). */
  tree?: string;
  /** Arch for the menus (default: a side's arch, else x86_64). */
  arch?: string;
  /** Skip the Kconfig reader: one group. */
  noMenus?: boolean;
}

/**
 * Read a spec the way the CLI gets it: an existing file; `release:<r>` or a store entry name;
 * `<target>` or `<target>/<arch>` of the project. Throws naming what was tried.
 */
export function parseConfigRef(spec: string, project: Project | undefined, p: Paths = kilnPaths()): ConfigRef {
  if (spec.startsWith("release:")) return { kind: "release", release: spec.slice(8) };
  if (spec.startsWith("file:")) return { kind: "file", path: spec.slice(5) };
  if (existsSync(spec)) return { kind: "file", path: spec };
  const [t, a] = spec.split("/", 2) as [string, string | undefined];
  if (project && t in project.targets) return { kind: "target", target: t, ...(a ? { arch: a } : {}) };
  if (existsSync(storeConfig(p, spec))) return { kind: "release", release: spec };
  throw new ProjectError(
    `"${spec}" is not a config file, a store entry or a target`,
    {},
    `give a path to a .config, release:<release> (see \`kiln store ls\`), or a target${project ? ` (${Object.keys(project.targets).join(", ")})` : " inside a project"} optionally with /<arch>`,
  );
}

function storeConfig(p: Paths, release: string): string {
  return join(p.store, release, "boot", `config-${release}`);
}

async function loadSide(ref: ConfigRef, o: DiffOptions): Promise<DiffSide> {
  const p = o.paths ?? kilnPaths();
  if (ref.kind === "file") {
    if (!existsSync(ref.path)) throw new ProjectError(`config file ${ref.path} does not exist`, { file: ref.path });
    return { ref, label: ref.path, file: ref.path, values: readConfigValues(readFileSync(ref.path, "utf8")) };
  }
  if (ref.kind === "release") {
    const file = storeConfig(p, ref.release);
    if (!existsSync(file)) throw new ProjectError(`store entry ${ref.release} has no boot/config-${ref.release}`, { file }, "list the store with `kiln store ls`; only installed builds have a config there");
    let arch: string | undefined;
    const mf = join(p.store, ref.release, "manifest.json");
    if (existsSync(mf)) arch = (JSON.parse(readFileSync(mf, "utf8")) as { arch?: string }).arch;
    return { ref, label: ref.release, file, ...(arch ? { arch } : {}), values: readConfigValues(readFileSync(file, "utf8")) };
  }
  const project = o.project;
  if (!project) throw new ProjectError(`target "${ref.target}" needs a project`, {}, "run inside a project folder or pass -C <project>");
  const { arch } = pickCell(project, ref.target, ref.arch);
  const { cells } = await configureCells(project, [{ target: ref.target, arch }], o);
  const c = cells[0]!;
  const file = join(c.manifest.build_dir ?? c.warm.build, ".config");
  return { ref, label: `${ref.target}/${arch}`, file, arch, tree: c.warm.src, values: readConfigValues(c.configText) };
}

export async function configDiff(a: ConfigRef, b: ConfigRef, o: DiffOptions): Promise<DiffReport> {
  const sa = await loadSide(a, o);
  const sb = await loadSide(b, o);
  const diff = diffConfigValues(sa.values, sb.values);
  let menus: DiffReport["menus"] = { none: "no kernel tree given (pass a tree, or compare targets)" };
  let index: MenuIndex | undefined;
  const tree = o.tree ?? sb.tree ?? sa.tree;
  const arch = o.arch ?? sb.arch ?? sa.arch ?? "x86_64";
  if (o.noMenus) menus = { none: "menus not requested" };
  else if (tree) {
    if (!(arch in ARCHES) && !["x86", "arm64", "riscv"].includes(arch)) throw new ProjectError(`unknown arch "${arch}" for the menus`, {}, `arches: ${Object.keys(ARCHES).join(", ")}`);
    try {
      index = menuIndex(loadKconfig(tree, { arch }));
      menus = { tree, arch };
    } catch (e) {
      menus = { none: `the Kconfig reader failed on ${tree}: ${(e as Error).message.split("\n")[0]}` };
      o.ui.warn(`menus unavailable: ${menus.none}; showing one group`);
    }
  }
  const groups = groupByMenu(diff, index);
  return {
    a: { label: sa.label, file: sa.file },
    b: { label: sb.label, file: sb.file },
    counts: { removed: diff.removed.length, changed: diff.changed.length, added: diff.added.length },
    diff,
    groups,
    menus,
    text: formatDiffconfig(diff),
  };
}

/** The JSON form (what `--json` prints). */
export function diffJson(r: DiffReport): object {
  return { a: r.a, b: r.b, counts: r.counts, menus: r.menus, groups: r.groups.map((g) => ({ menu: g.menu, entries: g.entries })) };
}

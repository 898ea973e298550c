/**
 * Import a Fedora/RHEL "ARK" config tree into kiln layers.
 *
 * ARK keeps one file per symbol (`CONFIG_FOO` holding `CONFIG_FOO=y` or `# CONFIG_FOO is not
 * set`, help as comments) in folders: an ORDER of top folders (common, fedora, pending-fedora,
 * custom-overrides), each with generic/, generic/x86/, generic/x86/x86_64/, debug/, ...
 * `priority.<flavor>` names the ORDER and, per arch-variant, the layer names, e.g.
 *   ORDER=common fedora pending-fedora custom-overrides
 *   x86_64=generic:generic-x86:generic-x86-x86_64
 *   x86_64-debug=generic:generic-x86:generic-x86-x86_64:debug:debug-x86:debug-x86-x86_64
 * A layer name is a folder path with "/" written "-". ARK merges, for each ORDER folder in turn,
 * every layer of the list (later wins): kiln's layer list is the same walk, keeping the folders
 * that exist.
 *
 * Every per-symbol file is checked before anything is written; problems are reported together
 * with file:line. The tree is copied (CONFIG_* files only, byte for byte) into the project, and
 * the result names, per (arch, variant), the ordered layer folders plus a kiln.toml snippet.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, copyFileSync } from "node:fs";
import { basename, join, relative, resolve } from "node:path";
import { ProjectError } from "../errors.js";
import { parseFragment } from "../core/fragment.js";
import { ARCHES } from "../tables/arches.js";

// ---------------------------------------------------------------- pure

export interface ArkIssue {
  file: string;
  line: number;
  message: string;
}

export interface ArkVariantLine {
  /** The key as written: "x86_64", "x86_64-debug", "aarch64-64k-debug". */
  key: string;
  arch: string;
  /** "" for the arch's base config, else what follows the arch ("debug", "64k-debug"). */
  variant: string;
  /** Layer names in order (lowest first). */
  layers: string[];
  line: number;
}

export interface ArkPriority {
  flavor: string;
  file: string;
  order: string[];
  /** Arches ARK builds with an empty config (EMPTY=...). */
  empty: string[];
  variants: ArkVariantLine[];
}

const ARK_ARCHES = ["x86_64", "aarch64", "riscv64", "ppc64le", "s390x", "i686", "armv7hl", "ppc64"];
const NAME = /^[A-Za-z0-9_.+]+(?:-[A-Za-z0-9_.+]+)*$/;

/** Parse a `priority.<flavor>` file. */
export function parsePriority(text: string, file: string, flavor = basename(file).replace(/^priority\./, "")): { priority: ArkPriority; issues: ArkIssue[] } {
  const issues: ArkIssue[] = [];
  const pr: ArkPriority = { flavor, file, order: [], empty: [], variants: [] };
  const seen = new Map<string, number>();
  let orderLine = 0;
  text.split("\n").forEach((raw, i) => {
    const line = raw.replace(/\r$/, "").trim();
    const at = i + 1;
    if (line === "" || line.startsWith("#")) return;
    const m = /^([A-Za-z0-9_][A-Za-z0-9_.+-]*)=(.*)$/.exec(line);
    if (!m) {
      issues.push({ file, line: at, message: `cannot read ${JSON.stringify(raw.slice(0, 80))}: expected ORDER=<folders>, EMPTY=<arches> or <arch>[-<variant>]=<layer>:<layer>:...` });
      return;
    }
    const key = m[1]!;
    const val = m[2]!.trim();
    if (seen.has(key)) {
      issues.push({ file, line: at, message: `${key} is given twice (first at line ${seen.get(key)})` });
      return;
    }
    seen.set(key, at);
    if (key === "ORDER") {
      pr.order = val.split(/\s+/).filter(Boolean);
      orderLine = at;
      const bad = pr.order.filter((o) => !/^[A-Za-z0-9_.+-]+$/.test(o));
      if (!pr.order.length) issues.push({ file, line: at, message: "ORDER is empty: name the top folders, lowest priority first" });
      if (bad.length) issues.push({ file, line: at, message: `ORDER names invalid folder(s): ${bad.join(", ")}` });
      return;
    }
    if (key === "EMPTY") {
      pr.empty = val.split(/\s+/).filter(Boolean);
      return;
    }
    const arch = ARK_ARCHES.find((a) => key === a || key.startsWith(`${a}-`));
    if (!arch) {
      issues.push({ file, line: at, message: `${key}: unknown arch (expected one of ${ARK_ARCHES.join(", ")}, optionally followed by -<variant>)` });
      return;
    }
    const layers = val.split(":").map((s) => s.trim());
    const bad = layers.filter((l) => !NAME.test(l));
    if (!val || bad.length) {
      issues.push({ file, line: at, message: `${key}: ${!val ? "no layers" : `invalid layer name(s) ${bad.map((b) => JSON.stringify(b)).join(", ")}`} (expected names like generic:generic-x86:generic-x86-x86_64)` });
      return;
    }
    pr.variants.push({ key, arch, variant: key.slice(arch.length + 1), layers, line: at });
  });
  if (!orderLine) issues.push({ file, line: 1, message: "no ORDER= line: name the top folders, e.g. ORDER=common fedora pending-fedora custom-overrides" });
  return { priority: pr, issues };
}

/**
 * Check one per-symbol file: its lines read as a fragment, it sets exactly one symbol, and that
 * symbol is the one the file is named after.
 */
export function checkSymbolFile(name: string, text: string, file: string): ArkIssue[] {
  const { requests, issues } = parseFragment(text, file);
  const out: ArkIssue[] = issues.map((i) => ({ file, line: i.origin.line, message: i.message }));
  const want = name.replace(/^CONFIG_/, "");
  if (!/^CONFIG_[A-Za-z0-9_]+$/.test(name)) out.push({ file, line: 1, message: `the file name ${name} is not CONFIG_<SYMBOL>` });
  if (!requests.length && !issues.length) out.push({ file, line: 1, message: `holds no setting: expected CONFIG_${want}=<value> or "# CONFIG_${want} is not set"` });
  for (const r of requests) {
    if (r.symbol !== want) out.push({ file, line: r.origin.line, message: `sets CONFIG_${r.symbol}, but the file is named ${name}: one file per symbol, named after it` });
  }
  const own = requests.filter((r) => r.symbol === want);
  if (own.length > 1) out.push({ file, line: own[1]!.origin.line, message: `sets CONFIG_${want} more than once` });
  return out;
}

/** ARK's name for a folder under an ORDER folder: its path with "/" written "-". */
export function dashedName(relDir: string): string {
  return relDir.split("/").filter(Boolean).join("-");
}

export interface ArkLayer {
  order: string;
  name: string;
  /** The folder, relative to the ARK root (e.g. common/generic/x86/x86_64). */
  dir: string;
}

export interface ArkCellPlan {
  flavor: string;
  key: string;
  arch: string;
  variant: string;
  /** Folders in merge order (lowest first), only those that exist. */
  layers: ArkLayer[];
  /** Layer names of the list that exist in no ORDER folder. */
  missing: string[];
}

/** The ordered folders for each arch-variant of a priority file, given the folders that exist. */
export function planLayers(pr: ArkPriority, folders: ReadonlyMap<string, ReadonlyMap<string, string>>): ArkCellPlan[] {
  return pr.variants.map((v) => {
    const layers: ArkLayer[] = [];
    const found = new Set<string>();
    for (const order of pr.order) {
      const byName = folders.get(order);
      for (const name of v.layers) {
        const dir = byName?.get(name);
        if (dir !== undefined) {
          layers.push({ order, name, dir });
          found.add(name);
        }
      }
    }
    return { flavor: pr.flavor, key: v.key, arch: v.arch, variant: v.variant, layers, missing: v.layers.filter((n) => !found.has(n)) };
  });
}

export interface KilnTargetPlan {
  name: string;
  arches: string[];
  layers: { path: string; override: boolean; optional: boolean }[];
  from: string[];
}

/**
 * kiln targets for the plans: one per (flavor, variant) when every arch has the same folder
 * list, else one per (flavor, variant, arch). Every layer after the first is an override: in
 * ARK a later layer changing an earlier value is the mechanism (arch over generic, fedora over
 * common, custom-overrides over all), and the priority file is its declaration. Pending folders
 * are optional (a maintainer empties them, and an empty folder does not survive git).
 */
export function kilnTargets(plans: readonly ArkCellPlan[], into: string): KilnTargetPlan[] {
  const groups = new Map<string, ArkCellPlan[]>();
  for (const p of plans) {
    const k = `${p.flavor}\0${p.variant}`;
    groups.set(k, [...(groups.get(k) ?? []), p]);
  }
  const out: KilnTargetPlan[] = [];
  const toLayers = (p: ArkCellPlan) => p.layers.map((l, i) => ({ path: `${into}/${l.dir}`, override: i > 0, optional: /^pending/.test(l.order) }));
  for (const ps of groups.values()) {
    const base = targetName(ps[0]!.flavor, ps[0]!.variant);
    const lists = ps.map((p) => JSON.stringify(toLayers(p)));
    if (lists.every((l) => l === lists[0])) out.push({ name: base, arches: ps.map((p) => p.arch), layers: toLayers(ps[0]!), from: ps.map((p) => p.key) });
    else for (const p of ps) out.push({ name: `${base}-${p.arch.replace(/_/g, "-")}`, arches: [p.arch], layers: toLayers(p), from: [p.key] });
  }
  return out;
}

function targetName(flavor: string, variant: string): string {
  return [flavor, variant].filter(Boolean).join("-").toLowerCase().replace(/[^a-z0-9_-]+/g, "-").replace(/^[^a-z0-9]+/, "") || "ark";
}

/** The kiln.toml text for the targets. */
export function tomlSnippet(targets: readonly KilnTargetPlan[], o: { source: string; toolchain?: string; comment?: string }): string {
  const q = (s: string) => JSON.stringify(s);
  let out = o.comment ? o.comment.split("\n").map((l) => `# ${l}`.trimEnd()).join("\n") + "\n" : "";
  for (const t of targets) {
    out += `\n# from ${t.from.join(", ")}\n[target.${t.name}]\nsource = ${q(o.source)}\narches = [${t.arches.map(q).join(", ")}]\ntoolchain = ${q(o.toolchain ?? "gcc")}\n`;
    out += `\n[target.${t.name}.config]\nmethod = "fragments"\nbase = "alldefconfig"\nlayers = [\n`;
    for (const l of t.layers) {
      const flags = [l.override ? "override = true" : "", l.optional ? "optional = true" : ""].filter(Boolean);
      out += flags.length ? `  { path = ${q(l.path)}, ${flags.join(", ")} },\n` : `  ${q(l.path)},\n`;
    }
    out += "]\n";
  }
  return out;
}

// ---------------------------------------------------------------- effects

export interface ImportArkOptions {
  /** The ARK config folder (holding priority.* and the ORDER folders). */
  root: string;
  /** Flavors to import (priority.<flavor>); default every priority file. */
  flavors?: string[];
  /** The kiln project folder. */
  projectDir: string;
  /** Where the copy goes, relative to the project. Default "config/ark". */
  into?: string;
  /** Replace an existing copy. */
  replace?: boolean;
  /** Read and plan only; write nothing. */
  dryRun?: boolean;
  /** The pin the snippet's targets use. Default "linux". */
  source?: string;
  toolchain?: string;
}

export interface ImportArkResult {
  /** Per (arch, variant): the ordered layer folders, relative to the project. */
  cells: { flavor: string; arch: string; variant: string; key: string; target: string; layers: string[]; missing: string[] }[];
  /** arch-variants kiln cannot build (arches it does not know, EMPTY arches). */
  skipped: { key: string; reason: string }[];
  targets: KilnTargetPlan[];
  toml: string;
  /** Per-symbol files copied. */
  files: number;
  into: string;
}

/** Every folder under `dir` (recursive) by its ARK dashed name, relative to `root`. */
function foldersByName(root: string, order: string, issues: ArkIssue[]): Map<string, string> {
  const out = new Map<string, string>();
  const top = join(root, order);
  if (!existsSync(top)) return out;
  const walk = (rel: string) => {
    for (const e of readdirSync(join(top, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (!e.isDirectory()) continue;
      const r = rel ? `${rel}/${e.name}` : e.name;
      const name = dashedName(r);
      const prev = out.get(name);
      // A folder without CONFIG_ files adds nothing (ARK merges an empty file for it); it is left
      // out, except in pending folders, which new-symbols fills later.
      const hasFiles = readdirSync(join(top, r)).some((f) => f.startsWith("CONFIG_"));
      if (prev !== undefined) issues.push({ file: join(top, r), line: 1, message: `folder ${order}/${r} and ${prev} have the same layer name "${name}"; rename one` });
      else if (hasFiles || order.startsWith("pending")) out.set(name, `${order}/${r}`);
      walk(r);
    }
  };
  walk("");
  return out;
}

export function importArk(o: ImportArkOptions): ImportArkResult {
  const root = resolve(o.root);
  const into = o.into ?? "config/ark";
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new ProjectError(`ARK config folder ${root} does not exist`, { file: root }, "pass the folder holding priority.<flavor> (redhat/configs in a kernel-ark checkout)");
  const prFiles = readdirSync(root)
    .filter((f) => /^priority\.[A-Za-z0-9_.-]+$/.test(f))
    .filter((f) => !o.flavors?.length || o.flavors.includes(f.slice("priority.".length)))
    .sort();
  if (!prFiles.length) throw new ProjectError(`no priority.${o.flavors?.length ? `{${o.flavors.join(",")}}` : "<flavor>"} file in ${root}`, { file: root }, "an ARK tree names its layers in priority.<flavor> files (ORDER= and <arch>=<layer>:<layer> lines)");
  const issues: ArkIssue[] = [];
  const priorities: ArkPriority[] = [];
  for (const f of prFiles) {
    const r = parsePriority(readFileSync(join(root, f), "utf8"), join(root, f));
    issues.push(...r.issues);
    priorities.push(r.priority);
  }
  const orders = [...new Set(priorities.flatMap((p) => p.order))];
  const folders = new Map<string, Map<string, string>>();
  for (const ord of orders) folders.set(ord, foldersByName(root, ord, issues));
  const skipped: ImportArkResult["skipped"] = [];
  const plans: ArkCellPlan[] = [];
  for (const pr of priorities) {
    for (const e of pr.empty) skipped.push({ key: `${pr.flavor}:${e}`, reason: "EMPTY in the priority file (ARK builds no config for it)" });
    const usable = { ...pr, variants: pr.variants.filter((v) => {
      if (pr.empty.includes(v.arch)) return false;
      if (!(v.arch in ARCHES)) {
        skipped.push({ key: `${pr.flavor}:${v.key}`, reason: `kiln does not build ${v.arch} (arches: ${Object.keys(ARCHES).join(", ")})` });
        return false;
      }
      return true;
    }) };
    plans.push(...planLayers(usable, folders));
  }
  // Check every per-symbol file the plans use, once.
  const used = [...new Set(plans.flatMap((p) => p.layers.map((l) => l.dir)))].sort();
  let files = 0;
  const copies: { from: string; rel: string }[] = [];
  for (const d of used) {
    for (const f of readdirSync(join(root, d)).sort()) {
      const abs = join(root, d, f);
      if (!statSync(abs).isFile()) continue;
      if (!f.startsWith("CONFIG_")) continue; // README and other notes are not settings
      issues.push(...checkSymbolFile(f, readFileSync(abs, "utf8"), abs));
      copies.push({ from: abs, rel: `${d}/${f}` });
      files++;
    }
  }
  if (issues.length) {
    throw new ProjectError(
      `the ARK tree has ${issues.length} problem(s); nothing was imported:\n  ${issues.map((i) => `${i.file}:${i.line}: ${i.message}`).join("\n  ")}`,
      {},
      "fix the files above (one file per symbol, named after it, holding CONFIG_X=value or \"# CONFIG_X is not set\" plus comments)",
    );
  }
  const targets = kilnTargets(plans, into);
  const targetOf = new Map<string, string>();
  for (const t of targets) for (const k of t.from) targetOf.set(`${plans.find((p) => p.key === k)?.flavor}\0${k}`, t.name);
  const cells = plans.map((p) => ({ flavor: p.flavor, arch: p.arch, variant: p.variant, key: p.key, target: targetOf.get(`${p.flavor}\0${p.key}`) ?? "", layers: p.layers.map((l) => `${into}/${l.dir}`), missing: p.missing }));
  const pending = orders.find((x) => x.startsWith("pending"));
  const toml = tomlSnippet(targets, {
    source: o.source ?? "linux",
    ...(o.toolchain ? { toolchain: o.toolchain } : {}),
    comment: `Imported from ${root} (${prFiles.join(", ")}) by kiln config import-ark.\nLayers: for each ORDER folder (${orders.join(" ")}), the arch-variant's layers; later wins.${pending ? `\nNew symbols: kiln config new-symbols --pending-dir ${into}/${pending}/generic` : ""}`,
  });
  if (!o.dryRun) {
    const dest = resolve(o.projectDir, into);
    if (existsSync(dest) && !o.replace) throw new ProjectError(`${into} already exists in the project`, { file: dest }, "pass replace (--replace) to overwrite the earlier import, or choose another folder");
    const tmp = `${dest}.import-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    try {
      for (const d of used) mkdirSync(join(tmp, d), { recursive: true });
      for (const c of copies) copyFileSync(c.from, join(tmp, c.rel));
      const old = `${dest}.old-${process.pid}`;
      if (existsSync(dest)) renameSync(dest, old);
      mkdirSync(resolve(dest, ".."), { recursive: true });
      renameSync(tmp, dest);
      rmSync(old, { recursive: true, force: true });
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
  }
  return { cells, skipped, targets, toml, files, into: relative(o.projectDir, resolve(o.projectDir, into)) || "." };
}

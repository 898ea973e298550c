/**
 * The devel layer of a store entry: `<store>/<release>/devel/`, made from the warm tree that
 * holds the build, without recompiling anything:
 *
 *   devel/devel.json               what this is (schema kiln.devel/v1): release, arch, source tree,
 *                                  the placeholders, the make goal and file counts
 *   devel/compile_commands.json    scripts/clang-tools/gen_compile_commands.py -d <build>, with the
 *                                  source folder as @KILN_SRC@ and the build folder as @KILN_BUILD@
 *   devel/build/                   what an out-of-tree module build needs, the set the kernel's own
 *                                  scripts/package/install-extmod-build gives linux-headers
 *                                  (Makefiles, include/, arch/<srcarch>/include, the prepared
 *                                  scripts/, generated headers, auto.conf, kernel.release,
 *                                  Module.symvers when the build has modules), plus .config,
 *                                  vmlinux-gdb.py and scripts/gdb/ from `make scripts_gdb`
 *
 * Symlinks (kbuild links scripts/gdb/linux/*.py into the source tree) are copied as the files
 * they point to, so the layer names no host path. The layer is staged in store/.tmp/ and moved
 * into the entry with one rename; an entry has a complete devel layer or none.
 */
import { copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { availableParallelism } from "node:os";
import type { ArchSpec } from "../tables/arches.js";
import type { Paths } from "../store/paths.js";
import { buildFlags, ccacheEnv } from "../pipeline/build_flags.js";
import { run, which } from "../effects/proc.js";
import { withLock } from "../effects/lock.js";
import { writeFileAtomic } from "../effects/fsx.js";
import { HostError, InfraError, ProjectError } from "../errors.js";
import { BUILD_PLACEHOLDER, leftoverPaths, parseCompileCommands, SRC_PLACEHOLDER, toPlaceholders } from "./compdb.js";

export const DEVEL_SCHEMA = "kiln.devel/v1";

export interface DevelInfo {
  schema: typeof DEVEL_SCHEMA;
  release: string;
  arch: string;
  /** The content hash of the prepared source tree the build compiled (kiln's git store). */
  source_tree: string;
  placeholders: { src: string; build: string };
  compile_commands: number;
  build_files: number;
}

/** The warm tree does not hold the build (it was reused from the store or a peer). */
export class DevelNotInWarmTree extends ProjectError {}

/** `<entry>/devel`. */
export function develDir(entry: string): string {
  return join(entry, "devel");
}

export function hasDevel(entry: string): boolean {
  return existsSync(join(develDir(entry), "devel.json"));
}

export function readDevelInfo(entry: string): DevelInfo {
  const f = join(develDir(entry), "devel.json");
  let v: DevelInfo;
  try {
    v = JSON.parse(readFileSync(f, "utf8")) as DevelInfo;
  } catch (e) {
    throw new ProjectError(`cannot read the devel layer's ${f}: ${(e as Error).message}`, { file: f }, "remove the entry's devel/ folder and make it again");
  }
  if (v.schema !== DEVEL_SCHEMA) throw new ProjectError(`${f} is not a ${DEVEL_SCHEMA} record (schema ${JSON.stringify(v.schema)})`, { file: f });
  return v;
}

export interface MakeDevelInput {
  paths: Paths;
  /** The store entry to add the layer to. */
  entry: string;
  release: string;
  sourceTree: string;
  arch: ArchSpec;
  toolchain: string;
  makeVars: Record<string, string>;
  timestamp: number;
  /** The warm tree that holds the build. */
  src: string;
  build: string;
  /** The warm tree's lock file. */
  lock: string;
  notify?: (message: string) => void;
}

export interface MakeDevelResult {
  dir: string;
  info: DevelInfo;
  /** Files of the build folder that `make scripts_gdb` wrote or changed (all under scripts/gdb, vmlinux-gdb.py, or make's own records). */
  touched: string[];
  seconds: number;
}

/** Whether the warm build folder holds this release's build (its kernel.release and a vmlinux). */
export function warmHolds(build: string, release: string): { ok: boolean; holds?: string } {
  const f = join(build, "include", "config", "kernel.release");
  const holds = existsSync(f) ? readFileSync(f, "utf8").trim() : undefined;
  return { ok: holds === release && existsSync(join(build, "vmlinux")), ...(holds ? { holds } : {}) };
}

/** mtime (ns) of every file under dir, by relative path; symlinks by their own lstat. */
export function snapshot(dir: string, skip: (rel: string) => boolean = () => false): Map<string, bigint> {
  const out = new Map<string, bigint>();
  const walk = (abs: string, rel: string) => {
    for (const e of readdirSync(abs, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (skip(r)) continue;
      const a = join(abs, e.name);
      if (e.isDirectory()) walk(a, r);
      else out.set(r, lstatSync(a, { bigint: true }).mtimeNs);
    }
  };
  walk(dir, "");
  return out;
}

/** Pure: files that are new or changed between two snapshots. */
export function changedFiles(before: Map<string, bigint>, after: Map<string, bigint>): string[] {
  return [...after].filter(([f, t]) => before.get(f) !== t).map(([f]) => f).sort();
}

/** Pure: which changed files mean that something was compiled again (objects, archives, the kernel). */
export function recompiled(changed: readonly string[]): string[] {
  return changed.filter((f) => !/^scripts\/gdb\//.test(f) && (/\.(o|a|ko|s)$/.test(f) || /^vmlinux(\.[a-z]+)?$/.test(f) || /^arch\/[^/]+\/boot\//.test(f)));
}

/** kbuild's find_in_scripts: scripts/ without atomic, dtc, kconfig, package, unifdef, mk_elfconfig. */
function inScripts(rel: string, isDir: boolean): boolean {
  const base = rel.slice(rel.lastIndexOf("/") + 1);
  if (isDir) return !["atomic", "dtc", "kconfig", "package"].includes(base);
  return base !== "unifdef" && base !== "mk_elfconfig";
}

/** Walks `root/start`, returning files (and symlinks) relative to root, pruning with `keepDir`. */
function walkFiles(root: string, start: string, keepDir: (rel: string) => boolean = () => true, keepFile: (rel: string) => boolean = () => true): string[] {
  const out: string[] = [];
  const abs0 = join(root, start);
  if (!existsSync(abs0)) return out;
  if (!statSync(abs0).isDirectory()) return keepFile(start) ? [start] : [];
  const walk = (rel: string) => {
    for (const e of readdirSync(join(root, rel), { withFileTypes: true })) {
      const r = `${rel}/${e.name}`;
      if (e.isDirectory()) {
        if (keepDir(r)) walk(r);
      } else if (keepFile(r)) out.push(r);
    }
  };
  walk(start);
  return out;
}

/**
 * The files of the module-build set (install-extmod-build's lists), as [root, rel] pairs:
 * source-tree files first, then build-folder files (which win where both have one).
 */
export function extmodFiles(src: string, build: string, srcArch: string, autoConf: string): { from: string; rel: string }[] {
  const enabled = (sym: string) => new RegExp(`^${sym}=y$`, "m").test(autoConf);
  const fromSrc: string[] = ["Makefile"];
  const archDir = `arch/${srcArch}`;
  for (const n of readdirSync(join(src, archDir))) if (n.startsWith("Makefile")) fromSrc.push(`${archDir}/${n}`);
  const archIncludes: string[] = [];
  const findInclude = (rel: string) => {
    for (const e of readdirSync(join(src, rel), { withFileTypes: true })) {
      if (!e.isDirectory() || e.name === "generated") continue;
      const r = `${rel}/${e.name}`;
      if (e.name === "include") archIncludes.push(r);
      else findInclude(r);
    }
  };
  findInclude(archDir);
  for (const d of archIncludes) fromSrc.push(...walkFiles(src, d));
  fromSrc.push(...walkFiles(src, archDir, () => true, (r) => /\/(Kbuild\.platforms|Platform)$/.test(r)));
  fromSrc.push(...walkFiles(src, "include", (r) => !/\/(config|generated)$/.test(r)));
  fromSrc.push(...walkFiles(src, "scripts", (r) => inScripts(r, true), (r) => inScripts(r, false)));
  const fromBuild: string[] = [];
  if (enabled("CONFIG_OBJTOOL")) fromBuild.push("tools/objtool/objtool");
  if (enabled("CONFIG_DEBUG_INFO_BTF_MODULES")) fromBuild.push("tools/bpf/resolve_btfids/resolve_btfids");
  for (const f of ["Module.symvers", ".config", "include/config/auto.conf", "include/config/kernel.release", "vmlinux-gdb.py"]) if (existsSync(join(build, f))) fromBuild.push(f);
  fromBuild.push(...walkFiles(build, `${archDir}/include/generated`));
  fromBuild.push(...walkFiles(build, "include/generated"));
  fromBuild.push(...walkFiles(build, "scripts", (r) => inScripts(r, true), (r) => inScripts(r, false)));
  if (enabled("CONFIG_GCC_PLUGINS")) fromBuild.push(...walkFiles(build, "scripts/gcc-plugins", () => true, (r) => r.endsWith(".so")));
  const unwanted = (rel: string) => /(^|\/)\.[^/]*\.cmd$/.test(rel) || rel.endsWith(".o");
  return [
    ...fromSrc.filter((r) => !unwanted(r)).map((rel) => ({ from: src, rel })),
    ...fromBuild.filter((r) => !unwanted(r)).map((rel) => ({ from: build, rel })),
  ];
}

/** Copies one file, following symlinks, keeping the executable bit. */
function copyResolved(from: string, to: string): void {
  mkdirSync(dirname(to), { recursive: true });
  rmSync(to, { force: true });
  copyFileSync(from, to);
}

/**
 * Makes the devel layer of an entry from the warm tree that holds its build (under the tree's
 * lock). Refuses when the warm tree holds another build, and fails when `make scripts_gdb`
 * rebuilt an object or the kernel (it must not: the same make variables as the build).
 */
export async function makeDevel(i: MakeDevelInput): Promise<MakeDevelResult> {
  const t0 = Date.now();
  return withLock(i.lock, async () => {
    const dest = develDir(i.entry);
    if (hasDevel(i.entry)) return { dir: dest, info: readDevelInfo(i.entry), touched: [], seconds: 0 };
    const holds = warmHolds(i.build, i.release);
    if (!holds.ok) {
      throw new DevelNotInWarmTree(
        `no devel layer for ${i.release}: it is made from the warm build folder, which does not hold this build${holds.holds ? ` (it holds ${holds.holds})` : ""}`,
        { file: i.build },
        `compile it there first: kiln build --arch ${i.arch.name} --no-reuse`,
      );
    }
    const python = (await which("python3")) ?? (await which("python"));
    if (!python) throw new HostError("python3 is not installed; the kernel's gen_compile_commands.py needs it", {}, "apt-get install python3");
    const ccacheBin = await which("ccache");
    const flags = buildFlags({ arch: i.arch, toolchain: i.toolchain, src: i.src, build: i.build, timestamp: i.timestamp, makeVars: i.makeVars, ...(ccacheBin ? { ccache: { bin: ccacheBin } } : {}) });
    const env: Record<string, string> = { LC_ALL: "C", ...(ccacheBin ? ccacheEnv(i.paths.ccache, join(dirname(i.build), "state", "ccache-stats.log"), { src: i.src, build: i.build }) : {}) };
    const skip = (rel: string) => rel === "scripts/gdb" || rel === "vmlinux-gdb.py";
    const before = snapshot(i.build, skip);
    i.notify?.(`make scripts_gdb for ${i.release}`);
    const mk = await run(["make", "-C", i.src, `O=${i.build}`, ...flags.makeVars, `-j${availableParallelism()}`, "scripts_gdb"], { env, allowFail: true });
    if (mk.exitCode !== 0) throw new InfraError(`make scripts_gdb failed (exit ${mk.exitCode}) in ${i.build}\n${mk.all.trim().split("\n").slice(-15).join("\n")}`, { file: i.build });
    const touched = changedFiles(before, snapshot(i.build, skip));
    const rebuilt = recompiled(touched);
    if (rebuilt.length) {
      throw new InfraError(
        `make scripts_gdb recompiled ${rebuilt.length} file(s) of ${i.release} (${rebuilt.slice(0, 5).join(", ")}): its make variables differ from the build's`,
        { file: i.build },
        "the warm tree no longer matches its build; rebuild it: kiln build --no-reuse",
      );
    }
    if (!existsSync(join(i.build, "vmlinux-gdb.py"))) throw new InfraError(`make scripts_gdb left no vmlinux-gdb.py in ${i.build}`, { file: i.build });
    mkdirSync(i.paths.storeTmp, { recursive: true });
    const stage = join(i.paths.storeTmp, `${i.release}.devel.${process.pid}.${Date.now()}`);
    mkdirSync(stage, { recursive: true });
    try {
      // compile_commands.json: the kernel's own generator over the .cmd files
      const raw = join(stage, "compile_commands.raw.json");
      i.notify?.(`gen_compile_commands.py for ${i.release}`);
      await run([python, join(i.src, "scripts", "clang-tools", "gen_compile_commands.py"), "-d", i.build, "-o", raw], { env: { LC_ALL: "C" } });
      const entries = toPlaceholders(parseCompileCommands(readFileSync(raw, "utf8"), raw), { src: i.src, build: i.build });
      rmSync(raw);
      const left = leftoverPaths(entries, [i.src, i.build]);
      if (left.length) throw new InfraError(`compile_commands.json still names ${left.join(", ")} after the placeholders were put in`);
      if (entries.length === 0) throw new InfraError(`gen_compile_commands.py found no compile commands in ${i.build}`, { file: i.build });
      writeFileSync(join(stage, "compile_commands.json"), JSON.stringify(entries, null, 2) + "\n");
      // the module-build set, the generated headers, vmlinux-gdb.py and scripts/gdb
      const autoConf = readFileSync(join(i.build, "include", "config", "auto.conf"), "utf8");
      const files = extmodFiles(i.src, i.build, i.arch.srcArch, autoConf);
      const seen = new Set<string>();
      for (const f of files) {
        const abs = join(f.from, f.rel);
        if (!existsSync(abs)) continue; // a dangling link
        copyResolved(abs, join(stage, "build", f.rel));
        seen.add(f.rel);
      }
      const info: DevelInfo = {
        schema: DEVEL_SCHEMA,
        release: i.release,
        arch: i.arch.name,
        source_tree: i.sourceTree,
        placeholders: { src: SRC_PLACEHOLDER, build: BUILD_PLACEHOLDER },
        compile_commands: entries.length,
        build_files: seen.size,
      };
      writeFileAtomic(join(stage, "devel.json"), JSON.stringify(info, null, 2) + "\n");
      try {
        renameSync(stage, dest);
      } catch (e) {
        if (!hasDevel(i.entry)) throw e;
        rmSync(stage, { recursive: true, force: true });
      }
      return { dir: dest, info, touched, seconds: (Date.now() - t0) / 1000 };
    } catch (e) {
      rmSync(stage, { recursive: true, force: true });
      throw e;
    }
  });
}

/** Relative paths of every file in the layer (for the artifact and tests). */
export function develFiles(entry: string): string[] {
  const d = develDir(entry);
  return walkFiles(d, "build").concat(["compile_commands.json", "devel.json"]).map((r) => relative(d, join(d, r)));
}

/**
 * Effects around the Kconfig reader: reading a tree's files, running the kernel's own kconfig
 * (`make O=<dir> ARCH=... <goal>`) and running `$(shell,...)` macros for real.
 * The parser and evaluator stay pure; they receive the functions defined here.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { InfraError, ProjectError } from "../errors.js";
import { runSync, whichSync } from "../effects/proc.js";
import { ARCHES, archByAnyName, crossPrefixFor, hostArch } from "../tables/arches.js";
import { fillToolchainWord, TOOLCHAINS } from "../tables/toolchains.js";

/** The ARCH/SRCARCH/CROSS_COMPILE triple kconfig needs for one target arch. */
export interface KconfigArch {
  /** ARCH= for make, e.g. x86_64, arm64, riscv. */
  arch: string;
  /** SRCARCH: the folder under arch/, e.g. x86. */
  srcArch: string;
  /** CROSS_COMPILE prefix, "" for the host compiler. */
  crossCompile: string;
}

/**
 * The kconfig view of an arch from the arch table. `name` is kiln's name or the kernel's
 * ARCH/SRCARCH; the cross prefix is empty when the host runs that arch.
 */
export function kconfigArch(name: string, host = hostArch()): KconfigArch {
  const a = archByAnyName(name);
  if (!a) {
    throw new ProjectError(`no arch table row for "${name}"`, {}, `kiln knows ${Object.keys(ARCHES).join(", ")} (src/tables/arches.ts)`);
  }
  return { arch: a.kernelArch, srcArch: a.srcArch, crossCompile: crossPrefixFor(a, host) };
}

/** A file reader for the parser: path relative to the tree root, undefined when absent. */
export function treeReader(tree: string): (rel: string) => string | undefined {
  return (rel) => {
    const p = join(tree, rel);
    try {
      return readFileSync(p, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT" || (e as NodeJS.ErrnoException).code === "ENOTDIR") {
        return undefined;
      }
      throw e;
    }
  };
}

/**
 * The environment variables top-level make exports to kconfig, as far as kiln can know them.
 * The tool names come from the toolchain table's makeTools row (gcc unless told).
 */
export function kconfigEnv(tree: string, a: KconfigArch, toolchain = "gcc"): Record<string, string> {
  const tc = TOOLCHAINS[toolchain];
  if (!tc) throw new ProjectError(`unknown toolchain "${toolchain}"`, {}, `kiln knows ${Object.keys(TOOLCHAINS).join(", ")} (src/tables/toolchains.ts)`);
  const t = (w: string) => fillToolchainWord(w, { prefix: tc.usesCrossPrefix ? a.crossCompile : "", triple: "" });
  const cc = t(tc.makeTools.CC);
  return {
    SRCARCH: a.srcArch,
    ARCH: a.arch,
    srctree: tree,
    CC: cc,
    LD: t(tc.makeTools.LD),
    OBJCOPY: t(tc.makeTools.OBJCOPY),
    HOSTCC: t(tc.makeTools.HOSTCC),
    HOSTCXX: t(tc.makeTools.HOSTCXX),
    AR: t(tc.makeTools.AR),
    NM: t(tc.makeTools.NM),
    OBJDUMP: t(tc.makeTools.OBJDUMP),
    READELF: t(tc.makeTools.READELF),
    STRIP: t(tc.makeTools.STRIP),
    CPP: `${cc} -E`,
    RUSTC: "rustc",
    BINDGEN: "bindgen",
    PAHOLE: "pahole",
    AWK: "awk",
  };
}

/** The first line of `<cc> --version`, as top-level make exports it in CC_VERSION_TEXT. */
export function ccVersionText(cc: string): string {
  try {
    return runSync([cc, "--version"]).stdout.split("\n")[0] ?? "";
  } catch {
    return "";
  }
}

/**
 * Runs `$(shell,cmd)` the way kconfig does: `sh -c <literal text from the tree>` in the tree,
 * stdout with newlines turned into spaces and the trailing newline dropped. Results are cached
 * per command text for the life of the returned function.
 */
export function realShell(tree: string, env: Record<string, string>): (cmd: string) => string {
  const cache = new Map<string, string>();
  return (cmd) => {
    const hit = cache.get(cmd);
    if (hit !== undefined) return hit;
    // The command text is the tree's own Kconfig source, run as kconfig itself runs it.
    let out = runSync(["sh", "-c", cmd], { cwd: tree, env }).stdout;
    out = out.replace(/\n$/, "").replace(/\n/g, " ");
    cache.set(cmd, out);
    return out;
  };
}

/** Whether a command (e.g. the arch's cross gcc) is on PATH. */
export function hasCommand(name: string): boolean {
  return whichSync(name) !== undefined;
}

export interface KconfigGoal {
  /** make goal: defconfig, tinyconfig, allnoconfig, olddefconfig, ... */
  goal: string;
  /** KCONFIG_ALLCONFIG file for all*config goals. */
  allconfig?: string;
}

/**
 * Runs the kernel's own kconfig out of tree and returns the resulting .config text.
 * The tree is never written to: everything lands in outDir.
 */
export function runKernelKconfig(tree: string, a: KconfigArch, outDir: string, g: KconfigGoal): string {
  mkdirSync(outDir, { recursive: true });
  const args = ["-s", "-C", tree, `O=${outDir}`, `ARCH=${a.arch}`];
  if (a.crossCompile) args.push(`CROSS_COMPILE=${a.crossCompile}`);
  if (g.allconfig) args.push(`KCONFIG_ALLCONFIG=${g.allconfig}`);
  args.push(g.goal);
  const r = runSync(["make", ...args]);
  if (r.exitCode !== 0) throw new InfraError(`make ${g.goal} failed in ${tree}: ${r.stderr.slice(-2000)}`);
  const cfg = join(outDir, ".config");
  if (!existsSync(cfg)) throw new InfraError(`make ${g.goal} left no .config in ${outDir}`);
  return readFileSync(cfg, "utf8");
}

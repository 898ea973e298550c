/**
 * Step 4, build_flags: the make command line for this (target, arch): arch and toolchain from
 * the tables, reproducibility (timestamp, user, host, build version, prefix maps), ccache, and
 * the target's own make variables. Pure apart from reading the ccache version.
 */
import { dirname, isAbsolute, relative, sep } from "node:path";
import type { ArchSpec } from "../tables/arches.js";
import { hostArch } from "../tables/arches.js";
import { TOOLCHAINS } from "../tables/toolchains.js";

export const BUILD_USER = "kiln";
export const BUILD_HOST = "kiln";

export interface FlagInputs {
  arch: ArchSpec;
  toolchain: string;
  src: string;
  build: string;
  timestamp: number;
  makeVars: Record<string, string>;
  ccache?: { bin: string };
  /**
   * Compile through distcc (its binary, and the compiler's absolute path: distcc rewrites a bare
   * "gcc" to "x86_64-linux-gnu-gcc", even for `gcc --version`, which would change
   * CONFIG_CC_VERSION_TEXT and so the identity). The hosts go into the environment (distccEnv).
   */
  distcc?: { bin: string; ccPath: string };
}

export interface BuildFlags {
  /** Variables that change the output bytes: they enter the identity (host paths blanked there). */
  identityVars: string[];
  /** Everything passed to make (identity vars plus CC wrappers). */
  makeVars: string[];
  cc: string;
  crossPrefix: string;
  timestampText: string;
}

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** `date`-style UTC text for KBUILD_BUILD_TIMESTAMP ("Sun Nov 22 04:21:35 UTC 2026"); date -d reads it. */
export function timestampText(epoch: number): string {
  const d = new Date(epoch * 1000);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} UTC ${d.getUTCFullYear()}`;
}

export function buildFlags(i: FlagInputs): BuildFlags {
  const tc = TOOLCHAINS[i.toolchain]!;
  const cross = i.arch.name !== hostArch();
  const crossPrefix = cross ? i.arch.crossPrefix : "";
  const ts = timestampText(i.timestamp);
  const prefixMaps = prefixMapFlags(i.src, i.build);
  const userK = i.makeVars.KCFLAGS ? ` ${i.makeVars.KCFLAGS}` : "";
  const userA = i.makeVars.KAFLAGS ? ` ${i.makeVars.KAFLAGS}` : "";
  const identityVars = [
    `ARCH=${i.arch.kernelArch}`,
    ...(crossPrefix && tc.usesCrossPrefix ? [`CROSS_COMPILE=${crossPrefix}`] : []),
    ...tc.makeVars,
    `KBUILD_BUILD_TIMESTAMP=${ts}`,
    `KBUILD_BUILD_USER=${BUILD_USER}`,
    `KBUILD_BUILD_HOST=${BUILD_HOST}`,
    `KBUILD_BUILD_VERSION=1`,
    `KCFLAGS=${prefixMaps}${userK}`,
    `KAFLAGS=${prefixMaps}${userA}`,
    ...Object.entries(i.makeVars)
      .filter(([k]) => k !== "KCFLAGS" && k !== "KAFLAGS")
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k}=${v}`),
  ];
  const cc = tc.cc.replace("{prefix}", tc.usesCrossPrefix ? crossPrefix : "");
  const makeVars = [...identityVars];
  // ccache and distcc do not change output bytes, so they stay out of the identity. With both,
  // ccache runs distcc as its prefix (CCACHE_PREFIX=distcc, distccEnv): a cache hit never
  // reaches the network. HOSTCC is never wrapped: host tools compile here.
  if (i.ccache) makeVars.push(`CC=${i.ccache.bin} ${cc}`);
  else if (i.distcc) makeVars.push(`CC=${i.distcc.bin} ${i.distcc.ccPath}`);
  return { identityVars, makeVars, cc, crossPrefix, timestampText: ts };
}

/**
 * The prefix maps that take host paths out of the output (`__FILE__`, debug info): the source
 * and build folders by their absolute paths, and the source folder once more as the relative path
 * from the build folder (`../src/` in kiln's layout). kbuild compiles in the build folder and names
 * sources by absolute path, but ccache's base_dir rewrites those to paths relative to the build
 * folder before gcc sees them; without the relative map `__FILE__` would read `../src/init/main.c`
 * under ccache and `init/main.c` without it (ADR 0105). Pure.
 */
export function prefixMapFlags(src: string, build: string): string {
  const rel = relative(build, src);
  const maps = [`-ffile-prefix-map=${src}/=`, `-ffile-prefix-map=${build}/=`];
  if (climbs(rel)) maps.push(`-ffile-prefix-map=${rel.split(sep).join("/")}/=`);
  return maps.join(" ");
}

/**
 * ccache's base_dir for a build: the nearest folder that holds both the source and the build
 * folder (a warm tree's cell folder in kiln's layout). Paths under it reach the compiler relative
 * to the build folder (`../src/...`), the same in every KILN_HOME and on every machine; paths
 * outside it (the compiler's own headers under /usr/lib/gcc) stay absolute, so they do not depend
 * on how deep the KILN_HOME is either, as they would with base_dir=/ (ADR 0105). Pure.
 */
export function ccacheBaseDir(src: string, build: string): string {
  let d = src;
  while (d !== dirname(d) && (climbs(relative(d, build)) || isAbsolute(relative(d, build)))) d = dirname(d);
  return d;
}

/** Whether a relative path leaves its folder ("..", "../x"). */
function climbs(rel: string): boolean {
  return rel === ".." || rel.startsWith(`..${sep}`);
}

/**
 * The ccache environment: shared cache, hits across trees and folders (base dir: the folder
 * holding src and build, see ccacheBaseDir; no cwd hash).
 */
export function ccacheEnv(dir: string, statsLog: string, tree: { src: string; build: string }): Record<string, string> {
  return {
    CCACHE_DIR: dir,
    CCACHE_BASEDIR: ccacheBaseDir(tree.src, tree.build),
    CCACHE_NOHASHDIR: "1",
    CCACHE_COMPILERCHECK: "content",
    CCACHE_SLOPPINESS: "time_macros,include_file_mtime,include_file_ctime,file_stat_matches,locale",
    CCACHE_MAXSIZE: process.env.KILN_CCACHE_MAXSIZE ?? "10G",
    CCACHE_STATSLOG: statsLog,
  };
}

/**
 * The distcc environment for make. `hosts` is DISTCC_HOSTS: the probed hosts for the compile,
 * or "localhost/<n>" (local compiles only) for configure and install, which then see the same CC
 * and so never re-run syncconfig. Pump mode is never on (no ",cpp" host, no include server).
 * Cross arches already name their prefixed compiler (distcc aarch64-linux-gnu-gcc).
 */
export function distccEnv(o: { hosts: string; log?: string; dir: string; ccache: boolean }): Record<string, string> {
  return {
    DISTCC_HOSTS: o.hosts,
    DISTCC_DIR: o.dir,
    // distcc otherwise rewrites "gcc" to "x86_64-linux-gnu-gcc" (distcc 3.4 also does so for
    // --version, this does not stop that: hence the absolute compiler path in CC).
    DISTCC_NO_CROSS_REWRITE: "1",
    ...(o.log ? { DISTCC_LOG: o.log } : {}),
    ...(o.ccache ? { CCACHE_PREFIX: "distcc" } : {}),
  };
}

/** ccache's remote storage (ccache >= 4.7): remote_storage plus no local-only shortcuts. */
export function ccacheRemoteEnv(storage: string): Record<string, string> {
  return { CCACHE_REMOTE_STORAGE: storage };
}

/** Pure: count hits and misses in a ccache stats log written during one build. */
export function parseCcacheStatsLog(text: string): { hits: number; misses: number; uncacheable: number } {
  let hits = 0;
  let misses = 0;
  let uncacheable = 0;
  for (const raw of text.split("\n")) {
    const l = raw.trim();
    if (!l || l.startsWith("#")) continue;
    if (/^(direct_cache_hit|preprocessed_cache_hit)$/.test(l)) hits++;
    else if (l === "cache_miss") misses++;
    else if (/^(called_for_link|called_for_preprocessing|unsupported_|no_input_file|multiple_source_files|could_not_|compiler_check_failed|bad_compiler_arguments|autoconf_test|compile_failed|preprocessor_error|output_to_stdout|unsupported_code_directive|unsupported_compiler_option|unsupported_source_language|internal_error|missing_cache_file|remote_storage_error|disabled|recache)/.test(l)) uncacheable++;
  }
  return { hits, misses, uncacheable };
}

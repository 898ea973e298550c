/**
 * Benchmark: kiln build against the bare baseline (the same make commands typed by hand on the
 * same tree and config), measured in one run on the bundled example. Prints ratios.
 *
 *   node dist/bench/build.js            (needs linux-source-6.12; takes 15-20 minutes on 2 cores)
 *
 * 1. cold store:   kiln build (empty store, empty build folder, no ccache)  vs  bare make from scratch
 * 2. reuse hit:    kiln build again                                           vs  (1)
 * 3. incremental:  kiln build after a one-file patch                         vs  bare make after the same change
 * 4. ccache:       kiln build --wipe with a hot ccache                        vs  the same with a cold ccache
 */
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, copyFileSync } from "node:fs";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { availableParallelism } from "node:os";
import { projectId } from "../src/store/paths.js";
import type { Manifest } from "../src/core/manifest.js";
import { calibrateCommentPatch } from "../test/support/patches.js";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const KILN = join(REPO, "bin", "kiln");
const work = mkdtempSync("/var/tmp/kiln-bench-");
const home = join(work, "home");
const proj = join(work, "microvm");
cpSync(join(REPO, "examples", "microvm"), proj, { recursive: true, filter: (s) => !s.endsWith("kiln.lock") });
const jobs = availableParallelism();

function time(fn: () => void): number {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e9;
}

function kiln(args: string[], env: Record<string, string> = {}): void {
  // the example has three arches; the baseline is the x86_64 cell
  const a = args[0] === "build" ? [...args, "--arch", "x86_64"] : args;
  const r = spawnSync(process.execPath, [KILN, "-C", proj, ...a], { env: { ...process.env, KILN_HOME: home, ...env }, stdio: ["ignore", "inherit", "inherit"] });
  if (r.status !== 0) throw new Error(`kiln ${args.join(" ")} failed with ${r.status}`);
}

function sh(argv: string[], cwd?: string, env: Record<string, string> = {}): void {
  const r = spawnSync(argv[0]!, argv.slice(1), { cwd, env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "inherit"] });
  if (r.status !== 0) throw new Error(`${argv.join(" ")} failed with ${r.status}`);
}

const warm = join(home, "work", projectId("microvm", proj), "base-x86_64");
const manifest = (): Manifest => JSON.parse(readFileSync(join(warm, "state", "manifest.json"), "utf8")) as Manifest;

// Import the source first: a one-time cost per tarball, not part of a build.
console.log("# preparing: import the source once");
kiln(["check", "patches"]);

// 1. cold store, no ccache
const tKiln = time(() => kiln(["build", "--no-ccache", "--wipe", "-j", String(jobs)]));
const m = manifest();
const release = m.uts_release!;
// The bare baseline: the same tree, the same config, plain make by hand in a fresh folder.
const src = join(warm, "src");
const bare = join(work, "bare");
mkdirSync(bare);
const frags = m.inputs.fragments.map((f) => join(proj, f.file));
const vars = m.identity!.make_flags.filter((v) => !v.startsWith("KCFLAGS") && !v.startsWith("KAFLAGS"));
const tBare = time(() => {
  sh([join(src, "scripts/kconfig/merge_config.sh"), "-n", "-O", bare, ...frags], src, { ARCH: "x86_64" });
  sh(["make", "-C", src, `O=${bare}`, ...vars, "olddefconfig"]);
  sh(["make", "-C", src, `O=${bare}`, ...vars, `-j${jobs}`]);
  mkdirSync(join(bare, "inst", "boot"), { recursive: true });
  copyFileSync(join(bare, "arch/x86/boot/bzImage"), join(bare, "inst/boot/vmlinuz"));
  copyFileSync(join(bare, "System.map"), join(bare, "inst/boot/System.map"));
});

// 2. reuse hit
const tReuse = time(() => kiln(["build"]));

// 3. incremental after a one-file patch
const patch = calibrateCommentPatch("bench: a one-file change");
kiln(["build", "--no-ccache"]); // make sure the warm tree is built
writeFileSync(join(proj, "patches", "0002-bench.patch"), patch);
const tKilnInc = time(() => kiln(["build", "--no-ccache", "-j", String(jobs)]));
const calib = join(src, "init", "calibrate.c");
const tBareInc = time(() => {
  // the same change in the bare tree's view: bare builds from the same src; touching the file
  // the way an editor would, then plain make
  const now = new Date();
  execFileSync("touch", ["-d", now.toISOString(), calib]);
  sh(["make", "-C", src, `O=${bare}`, ...vars, `-j${jobs}`]);
});
rmSync(join(proj, "patches", "0002-bench.patch"));

// 4. full rebuild with a hot ccache vs a cold one
const cold = join(work, "ccache-cold");
const tCold = time(() => kiln(["build", "--wipe", "--no-reuse", "--label", "ccache", "-j", String(jobs)], { KILN_CCACHE_DIR: cold }));
const tHot = time(() => kiln(["build", "--wipe", "--no-reuse", "--label", "ccache", "-j", String(jobs)], { KILN_CCACHE_DIR: cold }));

const ratio = (a: number, b: number) => (a / b).toFixed(3);
console.log("\n# kiln build benchmark (bundled example, %d jobs, release %s)", jobs, release);
console.log("| measure | kiln s | baseline s | ratio | goal |");
console.log("|---|---:|---:|---:|---|");
console.log(`| cold store vs bare make | ${tKiln.toFixed(1)} | ${tBare.toFixed(1)} | ${ratio(tKiln, tBare)} | <= 1.02 |`);
console.log(`| reuse hit vs full build | ${tReuse.toFixed(1)} | ${tKiln.toFixed(1)} | ${ratio(tReuse, tKiln)} | seconds |`);
console.log(`| one-file patch vs bare incremental | ${tKilnInc.toFixed(1)} | ${tBareInc.toFixed(1)} | ${ratio(tKilnInc, tBareInc)} | <= 1.1 |`);
console.log(`| hot ccache vs cold ccache | ${tHot.toFixed(1)} | ${tCold.toFixed(1)} | ${ratio(tHot, tCold)} | lower is better |`);
if (!process.env.KEEP) rmSync(work, { recursive: true, force: true });


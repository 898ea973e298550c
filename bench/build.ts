/**
 * Build benchmarks (goals 3, 4, 6) on the bundled example's x86_64 cell, every pair interleaved
 * by bench/pair.ts (A B A B ..., at least 3 runs each). The bare side is the same make commands
 * typed by hand, on a tree it extracts itself from the same tarball.
 *
 *   node dist/bench/build.js [--quick]     (needs linux-source-6.12; an hour or more on 2 cores)
 *
 * 1. cold:        kiln build from an EMPTY kiln home (import, checkout, configure, compile,
 *                 install; no ccache)              vs  tar xf + patch + merge_config + make
 * 2. with tree:   kiln build --wipe --no-reuse (tree and import there, no ccache)
 *                                                  vs  merge_config + make in the bare tree
 * 3. incremental: kiln build after a one-file patch  vs  the same edit in the bare tree + make;
 *                 also the make steps each ran (kiln's extra ones are what the identity change
 *                 rebuilds: the release string lives in a few generated headers)
 * 4. ETA:         the total the compile progress stated at 10% done against the real total.
 *
 * Each pair runs 3 times unless told (a cold pair is about 6 min on 2 cores):
 *   --only cold,tree,incr   the pairs to run (the later ones need the trees the cold pair made)
 *   --runs-cold N --runs-tree N --runs-incr N
 *   --logs DIR              keep kiln's build.log and build.log.times of each cold run there
 *                           (bench/eta.ts replays them through the ETA)
 *   --work DIR              where the scratch folder goes (default /var/tmp); KEEP=1 keeps it
 *   --resume DIR            run the tree or incr pairs on a kept scratch folder (no cold pair)
 * The make variables of the bare side come from kiln's first cold build (its manifest).
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, copyFileSync, readdirSync, existsSync } from "node:fs";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { availableParallelism } from "node:os";
import { spawnSync } from "node:child_process";
import { projectId } from "../src/store/paths.js";
import type { Manifest } from "../src/core/manifest.js";
import { calibrateCommentPatch } from "../test/support/patches.js";
import { debianTarball } from "../test/support/trees.js";
import { pair, sh, timeSync, median, type PairResult } from "./pair.js";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const KILN = join(REPO, "bin", "kiln");
const jobs = availableParallelism();

export interface BuildBenchOptions {
  quick?: boolean;
  only?: string[];
  runs?: { cold?: number; tree?: number; incr?: number };
  logs?: string;
  /** The folder the bench's scratch folder goes under (default /var/tmp). */
  work?: string;
  /** The scratch folder of a kept run (KEEP=1): its trees are built, the cold pair can be left out. */
  resume?: string;
}

export async function buildBench(o: BuildBenchOptions = {}): Promise<PairResult[]> {
  const tarball = debianTarball("6.12");
  if (!tarball) throw new Error("linux-source-6.12 is not installed (apt-get install linux-source-6.12)");
  const only = new Set(o.only ?? ["cold", "tree", "incr"]);
  for (const n of only) if (!["cold", "tree", "incr"].includes(n)) throw new Error(`unknown build pair ${n} (cold, tree, incr)`);
  if (!only.has("cold") && !o.resume) throw new Error("the tree and incr pairs need the trees the cold pair makes: --only cold,... (or --resume DIR of a kept run)");
  const runs = { cold: o.runs?.cold ?? 3, tree: o.runs?.tree ?? 3, incr: o.runs?.incr ?? 3 };
  const work = o.resume ?? mkdtempSync(join(o.work ?? "/var/tmp", "kiln-bench-"));
  const home = join(work, "home");
  const proj = join(work, "microvm");
  if (!o.resume) cpSync(join(REPO, "examples", "microvm"), proj, { recursive: true, filter: (s) => !s.endsWith("kiln.lock") });
  const warm = join(home, "work", projectId("microvm", proj), "base-x86_64");
  const manifest = (): Manifest => JSON.parse(readFileSync(join(warm, "state", "manifest.json"), "utf8")) as Manifest;
  /** kiln build; its stdout lines (the progress lines when not on a terminal). */
  const kiln = (args: string[]): string => {
    const r = spawnSync(process.execPath, [KILN, "-C", proj, "build", "--arch", "x86_64", "-j", String(jobs), ...args], { env: { ...process.env, KILN_HOME: home, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "inherit"], encoding: "utf8", maxBuffer: 64 << 20 });
    if (r.status !== 0) throw new Error(`kiln build ${args.join(" ")} exited with ${r.status}:\n${r.stdout.slice(-2000)}`);
    return r.stdout;
  };
  const patches = readdirSync(join(proj, "patches")).sort().map((f) => join(proj, "patches", f));
  const frags = ["config/common/10-core.config", "config/common/20-virtio.config", "config/x86_64/10-arch.config"].map((f) => join(proj, f));
  const bare = join(work, "bare");
  let bareSrc = "";
  /** The make variables kiln used, with the bare tree's own prefix maps instead of kiln's (blanked) ones. */
  let vars: string[] = [];
  const bareVars = (src: string, build: string) => vars.map((v) => v.replace(/-ffile-prefix-map=([^\s=]*)=/g, (_m, _p, off: number) => `-ffile-prefix-map=${off === v.indexOf("-ffile-prefix-map") ? src : build}/=`));
  const bareConfigureAndMake = (src: string, build: string): string => {
    mkdirSync(build, { recursive: true });
    sh([join(src, "scripts/kconfig/merge_config.sh"), "-n", "-O", build, ...frags], { cwd: src, env: { ARCH: "x86_64" } });
    sh(["make", "-C", src, `O=${build}`, ...bareVars(src, build), "olddefconfig"]);
    return bareMake(src, build);
  };
  const bareMake = (src: string, build: string): string => {
    const out = sh(["make", "-C", src, `O=${build}`, ...bareVars(src, build), `-j${jobs}`]);
    mkdirSync(join(build, "inst", "boot"), { recursive: true });
    copyFileSync(join(build, "arch/x86/boot/bzImage"), join(build, "inst/boot/vmlinuz"));
    copyFileSync(join(build, "System.map"), join(build, "inst/boot/System.map"));
    return out;
  };
  const stepLines = (makeOut: string) => makeOut.split("\n").filter((l) => /^\s+[A-Z][A-Z0-9_-]*\s+\S/.test(l));
  const steps = (makeOut: string) => stepLines(makeOut).length;
  /** "VERB target" of each kbuild step line. */
  const targets = (makeOut: string) => stepLines(makeOut).map((l) => l.trim().replace(/\s+/g, " "));
  const etas: { stated: number; real: number }[] = [];
  const results: PairResult[] = [];
  try {
    if (o.resume) {
      // a kept run (KEEP=1): its kiln home and bare tree are built; the bare side's variables
      // are the ones kiln's last build used
      vars = manifest().identity!.make_flags;
      bareSrc = join(bare, readdirSync(bare).find((d) => existsSync(join(bare, d, "Kconfig")))!);
    }
    // 1. cold, from an empty kiln home vs tar + make (kiln goes first: the bare side's make
    // variables come from its manifest)
    let coldRun = 0;
    if (only.has("cold")) results.push(
      await pair(
        "cold build: kiln from an empty home (no ccache) vs tar xf + patch + make",
        ["kiln build", () => {
          rmSync(home, { recursive: true, force: true });
          let out = "";
          const t = timeSync(() => (out = kiln(["--no-ccache"])));
          const m = manifest();
          if (!vars.length) vars = m.identity!.make_flags;
          const eta = statedTotalAt10(out);
          const compileMs = m.steps.compile;
          if (eta && compileMs) etas.push({ stated: eta, real: compileMs / 1000 });
          if (o.logs) {
            mkdirSync(o.logs, { recursive: true });
            for (const f of ["build.log", "build.log.times"]) copyFileSync(join(warm, "state", f), join(o.logs, `cold-${coldRun}-${f}`));
            writeFileSync(join(o.logs, `cold-${coldRun}-progress.txt`), out);
          }
          coldRun++;
          return t;
        }],
        ["tar + make", () => {
          if (!vars.length) throw new Error("the bare side runs after kiln's first cold build");
          rmSync(bare, { recursive: true, force: true });
          mkdirSync(bare, { recursive: true });
          return timeSync(() => {
            sh(["tar", "-xf", tarball, "-C", bare]);
            bareSrc = join(bare, readdirSync(bare).find((d) => existsSync(join(bare, d, "Kconfig")))!);
            for (const p of patches) sh(["patch", "-p1", "-s", "-i", p], { cwd: bareSrc });
            bareConfigureAndMake(bareSrc, join(bare, "build"));
          });
        }],
        { runs: runs.cold, goal: "<= 1.03" },
      ),
    );

    // 2. tree already there
    if (only.has("tree")) results.push(
      await pair(
        "with a tree: kiln build --wipe --no-reuse (no ccache) vs configure + make",
        ["kiln build", () => timeSync(() => kiln(["--no-ccache", "--wipe", "--no-reuse"]))],
        ["make", () => {
          rmSync(join(bare, "build"), { recursive: true, force: true });
          return timeSync(() => bareConfigureAndMake(bareSrc, join(bare, "build")));
        }],
        { runs: runs.tree, goal: "<= 1.01" },
      ),
    );

    // 3. one-file incremental: a new comment each run, in kiln's series and in the bare tree
    if (only.has("incr")) {
      let n = o.resume ? 1000 : 0; // a resumed run must not meet its earlier identities in the store
      const kilnSteps: number[] = [];
      const bareSteps: number[] = [];
      const kilnTargets: string[][] = [];
      const bareTargets: string[][] = [];
      const stepTimes: Record<string, number>[] = [];
      const calib = join(bareSrc, "init", "calibrate.c");
      const calib0 = readFileSync(calib, "utf8");
      results.push(
        await pair(
          "one-file patch: kiln build (incremental) vs the same edit + make",
          ["kiln build", () => {
            writeFileSync(join(proj, "patches", "0099-bench.patch"), calibrateCommentPatch(`bench change ${++n}`));
            const t = timeSync(() => kiln(["--no-ccache"]));
            const m = manifest();
            kilnSteps.push(m.compile?.steps ?? 0);
            stepTimes.push(m.steps);
            kilnTargets.push(targets(readFileSync(join(warm, "state", "build.log"), "utf8")));
            return t;
          }],
          ["make", () => {
            writeFileSync(calib, calib0.replace("\n", `\n/* bench change ${++n} */\n`));
            let out = "";
            const t = timeSync(() => (out = bareMake(bareSrc, join(bare, "build"))));
            bareSteps.push(steps(out));
            bareTargets.push(targets(out));
            return t;
          }],
          { runs: runs.incr, goal: "<= 1.1 (beyond what the identity change rebuilds)" },
        ),
      );
      rmSync(join(proj, "patches", "0099-bench.patch"), { force: true });
      console.log(`  make steps per incremental build: kiln ${kilnSteps.join(", ")} | bare ${bareSteps.join(", ")} (median extra ${median(kilnSteps) - median(bareSteps)})`);
      const extra = [...new Set(kilnTargets.flat())].filter((t) => !bareTargets.some((b) => b.includes(t)));
      console.log(`  kiln's extra steps (what the identity change rebuilds): ${extra.join(" ") || "none"}`);
      for (const st of stepTimes) console.log(`  kiln step times (ms): ${Object.entries(st).map(([k, v]) => `${k} ${v}`).join(", ")}`);
    }
    if (etas.length) {
      for (const e of etas) console.log(`  ETA at 10%: stated total ${e.stated.toFixed(0)} s, real compile ${e.real.toFixed(0)} s, error ${(((e.stated - e.real) / e.real) * 100).toFixed(1)}% (goal within 25%)`);
    }
  } finally {
    if (!process.env.KEEP && !o.resume) rmSync(work, { recursive: true, force: true });
  }
  return results;
}

/** From kiln's plain progress lines ("compile  12% 300/2500 steps, 20s elapsed, ETA 2m30s"): elapsed + ETA at the first line >= 10%. */
export function statedTotalAt10(out: string): number | undefined {
  const sec = (t: string) => {
    let s = 0;
    for (const [, n, u] of t.matchAll(/(\d+(?:\.\d+)?)(h|m|s)/g)) s += Number(n) * (u === "h" ? 3600 : u === "m" ? 60 : 1);
    return s;
  };
  for (const l of out.split("\n")) {
    const m = /(\d+)% \d+\/\d+ \S+, (\S+) elapsed, ETA (\S+)/.exec(l);
    if (m && Number(m[1]) >= 10) return sec(m[2]!) + sec(m[3]!);
  }
  return undefined;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const args = process.argv.slice(2);
  const opt = (k: string) => {
    const i = args.indexOf(`--${k}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const num = (k: string) => (opt(k) !== undefined ? Number(opt(k)) : undefined);
  buildBench({
    quick: args.includes("--quick"),
    ...(opt("only") ? { only: opt("only")!.split(",") } : {}),
    runs: { ...(num("runs-cold") ? { cold: num("runs-cold") } : {}), ...(num("runs-tree") ? { tree: num("runs-tree") } : {}), ...(num("runs-incr") ? { incr: num("runs-incr") } : {}) },
    ...(opt("logs") ? { logs: opt("logs")! } : {}),
    ...(opt("work") ? { work: opt("work")! } : {}),
    ...(opt("resume") ? { resume: opt("resume")! } : {}),
  }).catch((e) => {
    console.error(e);
    process.exit(1);
  });
}

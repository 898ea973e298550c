/**
 * Every bench, one command: `npm run bench` (or `node dist/bench/all.js [--quick] [--only a,b]`).
 * Each pair runs interleaved (bench/pair.ts) and prints as it goes; the closing table has every
 * pair with min and median of both sides, their ratios and the load average at start and end.
 *
 *   start   kiln --version vs node -e 0                                   (seconds)
 *   reuse   kiln build from a fresh folder vs a warm one                  (a minute; needs the
 *           example's build in the test store: builds it once otherwise)
 *   fetch   kiln fetch (CLI) vs curl + sha256sum -c + tar on a loopback mirror   (a minute)
 *   boot    kiln boot vs raw qemu                                         (a few minutes)
 *   image   gpt-ab image creation vs the same layout by hand; image boot vs bare kernel boot
 *           to the marker (TCG)                                           (a few minutes)
 *   build   cold build vs tar + make, with-tree build vs make, one-file incremental vs bare
 *           make, and the ETA at 10% done                                 (an hour or more)
 *   farm    kiln build --farm (a store hit on the worker) vs a local store hit, and the farm
 *           overhead (submitter wall - worker build)                    (a minute)
 * --quick runs every pair the minimum 3 times; --only picks benches by name.
 */
import { fileURLToPath } from "node:url";
import { resolve } from "node:path";
import { table, quick, type PairResult } from "./pair.js";

const BENCHES: Record<string, () => Promise<PairResult[]>> = {
  start: async () => (await import("./start.js")).startBench(quick ? 5 : 10),
  reuse: async () => (await import("./reuse.js")).reuseBench(quick ? 3 : 5),
  fetch: async () => {
    if (!process.argv.includes("--runs")) process.argv.push("--runs", quick ? "3" : "5");
    return (await import("./fetch.js")).fetchBench();
  },
  boot: async () => (await import("./boot.js")).bootBench(3),
  build: async () => (await import("./build.js")).buildBench({ quick }),
  farm: async () => (await import("./farm.js")).farmBench(quick ? 3 : 5),
  image: async () => (await import("./image.js")).imageBench(3),
};

async function main(): Promise<void> {
  const i = process.argv.indexOf("--only");
  const only = i > 0 ? process.argv[i + 1]!.split(",") : Object.keys(BENCHES);
  const unknown = only.filter((n) => !BENCHES[n]);
  if (unknown.length) throw new Error(`unknown bench ${unknown.join(", ")}; there are: ${Object.keys(BENCHES).join(", ")}`);
  const all: PairResult[] = [];
  const failed: string[] = [];
  for (const name of only) {
    console.log(`\n# bench ${name}`);
    try {
      all.push(...(await BENCHES[name]!()));
    } catch (e) {
      failed.push(name);
      console.error(`bench ${name} failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  console.log(`\n# all benches${quick ? " (--quick)" : ""}: A vs B, interleaved\n${table(all)}`);
  if (failed.length) {
    console.error(`failed: ${failed.join(", ")}`);
    process.exitCode = 1;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) void main();

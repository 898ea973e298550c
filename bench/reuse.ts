/**
 * Reuse benchmark (goal 1): with the example's x86_64 build in the store, `kiln build` from a
 * FRESH copy of the example (no warm tree, no kiln.lock: what `cp -a examples/microvm` or a CI
 * clone gives) against the same in a warm folder (the second run there).
 *
 *   node dist/bench/reuse.js [--runs N]
 *
 * The store is the test store (test/support/boot_kernels.ts builds the example there once if it
 * is missing; KILN_TEST_HOME / KILN_TEST_CACHE choose it). Goals: fresh < 1 s, warm < 0.5 s.
 */
import { cpSync, mkdtempSync, mkdirSync, rmSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join, resolve } from "node:path";
import { pair, sh, timeSync, type PairResult } from "./pair.js";
import { TEST_HOME } from "../test/support/kiln.js";
import { TEST_CACHE } from "../test/support/trees.js";
import { bootKernel } from "../test/support/boot_kernels.js";
import { projectId } from "../src/store/paths.js";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const KILN = join(REPO, "bin", "kiln");

export async function reuseBench(runs = 5): Promise<PairResult[]> {
  const release = bootKernel("x86_64").release; // the store holds the example's build
  const root = join(TEST_CACHE, "projects");
  mkdirSync(root, { recursive: true });
  const made: string[] = [];
  const fresh = () => {
    const d = mkdtempSync(join(root, "bench-reuse-"));
    made.push(d);
    cpSync(join(REPO, "examples", "microvm"), d, { recursive: true, filter: (s) => !s.endsWith("kiln.lock") });
    return d;
  };
  const build = (d: string) => {
    const out = sh([process.execPath, KILN, "-C", d, "build", "--arch", "x86_64"], { env: { KILN_HOME: TEST_HOME, NO_COLOR: "1" } });
    if (!out.includes(`reused     ${release}`)) throw new Error(`expected a reuse of ${release}, got:\n${out}`);
  };
  const warm = fresh();
  build(warm);
  try {
    return [
      await pair(`reuse: fresh folder vs warm folder (${release})`, ["fresh folder", () => { const d = fresh(); return timeSync(() => build(d)); }], ["warm folder", () => timeSync(() => build(warm))], { runs, goal: "fresh < 1 s, warm < 0.5 s" }),
    ];
  } finally {
    for (const d of made) {
      rmSync(join(TEST_HOME, "work", projectId("microvm", d)), { recursive: true, force: true });
      if (existsSync(d)) rmSync(d, { recursive: true, force: true });
    }
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const i = process.argv.indexOf("--runs");
  void reuseBench(i > 0 ? Number(process.argv[i + 1]) : 5);
}

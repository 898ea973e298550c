/**
 * Start-up benchmark (goal 5): `kiln --version` against `node -e 0`, both new processes.
 *
 *   node dist/bench/start.js [--runs N]
 */
import { fileURLToPath } from "node:url";
import { dirname, join, resolve } from "node:path";
import { pair, sh, timeSync, type PairResult } from "./pair.js";

const KILN = join(resolve(dirname(fileURLToPath(import.meta.url)), "..", ".."), "bin", "kiln");

export async function startBench(runs = 10): Promise<PairResult[]> {
  return [
    await pair("kiln --version vs node -e 0", ["kiln --version", () => timeSync(() => sh([process.execPath, KILN, "--version"]))], ["node -e 0", () => timeSync(() => sh([process.execPath, "-e", "0"]))], { runs, warmup: true, goal: "kiln <= 80 ms" }),
  ];
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const i = process.argv.indexOf("--runs");
  void startBench(i > 0 ? Number(process.argv[i + 1]) : 10);
}

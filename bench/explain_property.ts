/**
 * The explain property at scale: 1,000+ random requests per arch on Debian's 6.12 tree
 * (see test/integration/kconfig_property.ts). Runs kconfig only, no compile.
 *   node dist/bench/explain_property.js [seeds=10] [arches=x86_64,arm64,riscv]
 * 10 seeds x 110 requests = 1,100 per arch; three kconfig runs per seed (randconfig, merge,
 * the batched flips), two arches at a time.
 */
import { join } from "node:path";
import { kernelTree, TEST_CACHE } from "../test/support/trees.js";
import { runProperties } from "../test/integration/kconfig_property.js";

const seeds = parseInt(process.argv[2] ?? "10", 10);
const arches = (process.argv[3] ?? "x86_64,arm64,riscv").split(",");
const tree = kernelTree("6.12");
let failed = 0;
const runs = runProperties(arches.map((arch) => ({ tree, arch, seeds: Array.from({ length: seeds }, (_, i) => 1000 + i), requests: 55, drawn: 55, out: join(TEST_CACHE, "kconfig-property-bench") })));
for (const [i, arch] of arches.entries()) {
  const r = await runs[i]!;
  const fails = r.asRequested.length + r.wrongPrediction.length + r.flipFailures.length + r.kconfigFlipFailures.length;
  failed += fails;
  console.log(
    `${arch}: ${r.requests} requests, ${r.dropped} dropped; by rule ${JSON.stringify(r.byRule)}; "as requested" ${r.asRequested.length}; wrong prediction ${r.wrongPrediction.length}; flips ${r.flipsChecked} checked, ${r.flipFailures.length} failed, ${r.unsatisfiable} need a symbol this arch lacks; in kconfig ${r.kconfigFlipsChecked} checked, ${r.kconfigFlipFailures.length} failed; ${r.seconds.toFixed(0)} s`,
  );
  for (const l of [...r.asRequested, ...r.wrongPrediction, ...r.flipFailures, ...r.kconfigFlipFailures].slice(0, 30)) console.log("  FAIL " + l);
  if (process.env.SAMPLES) for (const l of r.samples) console.log("  " + l);
}
process.exitCode = failed ? 1 : 0;

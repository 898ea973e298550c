/**
 * The explain property in CI (see kconfig_property.ts): Debian's 6.12 tree, 10 randconfig seeds
 * per arch, fragments drawn from them, merged with the tree's merge_config.sh. Every dropped
 * value is predicted, explained without "as requested", flipping what the explanation names
 * keeps the request in kiln's evaluation, and every flip a fragment can express keeps it in
 * kconfig itself (batched: one extra merge per seed). The arches run two at a time.
 * Runs kconfig only. bench/explain_property.ts runs the same with 1,000+ requests per arch.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { kernelTree, TEST_CACHE } from "../support/trees.js";
import { needs, needSource } from "../support/needs.js";
import { hasCommand, kconfigArch } from "../../src/kconfig/run.js";
import { runProperties } from "./kconfig_property.js";

const ARCHES = ["x86_64", "arm64", "riscv"];
const missing = (arch: string): string | false => {
  const cc = `${kconfigArch(arch).crossCompile}gcc`;
  return needSource("6.12") || needs(!hasCommand(cc) && `${cc} is not installed (apt-get install gcc-${kconfigArch(arch).crossCompile.replace(/-$/, "")})`);
};
const ready = ARCHES.filter((a) => !missing(a));
const results = ready.length ? runProperties(ready.map((arch) => ({ tree: kernelTree("6.12"), arch, seeds: Array.from({ length: 10 }, (_, i) => 1 + i), requests: 20, drawn: 20, out: join(TEST_CACHE, "kconfig-property") }))) : [];
// A failure surfaces in its own test; keep an early one from being reported as unhandled.
for (const p of results) p.catch(() => undefined);

for (const arch of ARCHES) {
  test(`explain property on 6.12 ${arch}: 10 seeds, every dropped value predicted and explained by its real cause`, { skip: missing(arch) }, async () => {
    const r = await results[ready.indexOf(arch)]!;
    console.log(`${arch}: ${r.requests} requests, ${r.dropped} dropped, by rule ${JSON.stringify(r.byRule)}, ${r.flipsChecked} flips (${r.kconfigFlipsChecked} in kconfig), ${r.unsatisfiable} need a symbol this arch lacks, ${r.seconds.toFixed(0)} s`);
    assert.ok(r.dropped >= 50, `the fragments drop values (${r.dropped})`);
    assert.deepEqual(r.wrongPrediction, []);
    assert.deepEqual(r.asRequested, []);
    assert.deepEqual(r.flipFailures, []);
    assert.deepEqual(r.kconfigFlipFailures, []);
    assert.ok(r.flipsChecked >= r.dropped / 2, `most explanations were checked by flipping (${r.flipsChecked} of ${r.dropped})`);
    assert.ok(r.kconfigFlipsChecked >= 20, `flips were checked in kconfig too (${r.kconfigFlipsChecked})`);
  });
}

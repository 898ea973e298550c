/**
 * The explain property in CI (see kconfig_property.ts): Debian's 6.12 tree, 10 randconfig seeds
 * per arch, fragments drawn from them, merged with the tree's merge_config.sh. Every dropped
 * value is predicted, explained without "as requested", and flipping what the explanation names
 * keeps the request (in kiln's evaluation, and once per seed in kconfig). Runs kconfig only.
 * bench/explain_property.ts runs the same with 1,000+ requests per arch.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { debianTarball, kernelTree, TEST_CACHE } from "../support/trees.js";
import { hasCommand, kconfigArch } from "../../src/kconfig/run.js";
import { runProperty } from "./kconfig_property.js";

const ci = process.env.CI === "true";

for (const arch of ["x86_64", "arm64", "riscv"]) {
  const cc = `${kconfigArch(arch).crossCompile}gcc`;
  const missing = !debianTarball("6.12") ? "linux-source-6.12 is not installed" : !hasCommand(cc) ? `${cc} is not installed` : false;
  test(`explain property on 6.12 ${arch}: 10 seeds, every dropped value predicted and explained by its real cause`, { skip: ci ? false : missing }, () => {
    const r = runProperty({ tree: kernelTree("6.12"), arch, seeds: Array.from({ length: 10 }, (_, i) => 1 + i), requests: 20, drawn: 20, out: join(TEST_CACHE, "kconfig-property") });
    console.log(`${arch}: ${r.requests} requests, ${r.dropped} dropped, by rule ${JSON.stringify(r.byRule)}, ${r.flipsChecked} flips (${r.kconfigFlipsChecked} in kconfig), ${r.unsatisfiable} need a symbol this arch lacks, ${r.seconds.toFixed(0)} s`);
    assert.ok(r.dropped >= 50, `the fragments drop values (${r.dropped})`);
    assert.deepEqual(r.wrongPrediction, []);
    assert.deepEqual(r.asRequested, []);
    // Known gap (see ADR 0015): a flip can need more than three rounds of newly uncovered
    // conditions; at most 1% of the flips may fail that way, and they are printed.
    if (r.flipFailures.length) console.log(r.flipFailures.join("\n"));
    assert.ok(r.flipFailures.length <= Math.ceil(r.flipsChecked / 100), r.flipFailures.join("\n"));
    assert.deepEqual(r.kconfigFlipFailures, []);
    assert.ok(r.flipsChecked >= r.dropped / 2, `most explanations were checked by flipping (${r.flipsChecked} of ${r.dropped})`);
    assert.ok(r.kconfigFlipsChecked >= 3, `flips were checked in kconfig too (${r.kconfigFlipsChecked})`);
  });
}

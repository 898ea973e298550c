/**
 * The compile ETA counts work, not steps (docs/adr/0092). Real inputs: kbuild output of a real
 * modules_prepare run, and a recorded cold build of the example (its build.log, the times kiln's
 * compile step wrote beside it, and its .config), replayed through the same functions the
 * compile step uses.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { ARCHIVE_WORK, estimateWork, lineWork, remainingMs, replayEta, stepWork, workFraction } from "../../src/core/compile_eta.js";
import { etaOf } from "../../src/ui/progress.js";

const FIX = new URL("../../../test/fixtures/", import.meta.url);
const text = (name: string) => readFileSync(new URL(name, FIX), "utf8");

test("archives weigh next to nothing; compiled, assembled and linked steps one unit", () => {
  assert.equal(stepWork("AR"), ARCHIVE_WORK);
  assert.equal(stepWork("BOOTAR"), ARCHIVE_WORK);
  for (const v of ["CC", "CC [M]", "AS", "LD", "HOSTCC", "LDS"]) assert.equal(stepWork(v), 1, v);
  assert.equal(lineWork("  AR      drivers/pci/built-in.a"), ARCHIVE_WORK);
  assert.equal(lineWork("  CC      kernel/fork.o"), 1);
  assert.equal(lineWork("  GEN     Makefile"), 0, "generated headers are not counted");
  assert.equal(lineWork("make[1]: Entering directory '/x'"), 0);
  const units = text("diagnostics/kbuild-modules-prepare.txt").split("\n").reduce((a, l) => a + lineWork(l), 0);
  // 44 counted steps (kbuild_lines.test.ts), of which the archives weigh 0.05 each
  const ars = text("diagnostics/kbuild-modules-prepare.txt").split("\n").filter((l) => /^  AR /.test(l)).length;
  assert.ok(Math.abs(units - (44 - ars + ars * ARCHIVE_WORK)) < 1e-9);
});

test("the fraction stays under 1 and the ETA waits for the first 3% (or 20 s)", () => {
  assert.equal(workFraction(50, 100), 0.5);
  assert.equal(workFraction(120, 100), 0.99, "an estimate that was short never says done");
  assert.equal(workFraction(5, 0), 0);
  assert.equal(remainingMs(10_000, 0.02), undefined);
  assert.equal(remainingMs(30_000, 0.02), (30_000 / 0.02) * 0.98);
  assert.equal(remainingMs(60_000, 0.25), 180_000);
  assert.equal(etaOf(60_000, 0.25), "3m00s");
  assert.equal(etaOf(1_000, 0.01), "?");
});

test("a recorded cold build of the example, replayed: the work model's stated total at 10% and later", () => {
  // bench/build.ts, 2026-12-02: kiln's cold x86_64 build of examples/microvm (-j2, load 7 falling
  // to 2), its build.log and the times kiln's compile step wrote beside it
  const lines = text("eta/build.log").split("\n");
  if (lines.at(-1) === "") lines.pop();
  const times = text("eta/build.log.times").split("\n").slice(1).filter(Boolean).map(Number);
  assert.equal(times.length, lines.length, "one time per log line");
  const real = Math.max(...times);
  const work = estimateWork(text("eta/microvm-x86_64.config"));
  const done = lines.reduce((a, l) => a + lineWork(l), 0);
  assert.ok(Math.abs(work - done) / done < 0.05, `the config's estimate ${work} is within 5% of the work done ${done}`);
  const [at10, at25, at50] = replayEta(lines, times, work, [0.1, 0.25, 0.5]);
  for (const [name, r] of [["10%", at10!], ["25%", at25!], ["50%", at50!]] as const) {
    assert.ok(Math.abs(r.statedMs - real) / real <= 0.25, `stated ${Math.round(r.statedMs / 1000)} s at ${name} vs real ${Math.round(real / 1000)} s`);
  }
});

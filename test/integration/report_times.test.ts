/**
 * The compile step records when each log line arrived (build.log.times), and the report's
 * timeline reads it back: kiln's real compile() runs make on a small Makefile that prints
 * kbuild-style lines with pauses between them. Seconds; no kernel tree.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { compile, logTimesPath } from "../../src/pipeline/compile.js";
import { acquire } from "../../src/effects/lock.js";
import { makeUi } from "../../src/ui/log.js";
import { timelineFromRecorded } from "../../src/report/timeline.js";

test("compile() writes build.log.times beside the log; the timeline reads the pauses back", { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "kiln-times-"));
  try {
    // kbuild's quiet lines, 0.4 s apart (make's recipes run one after another at -j1)
    writeFileSync(
      join(dir, "Makefile"),
      "all:\n\t@printf '  CC      init/main.o\\n'\n\t@sleep 0.4\n\t@printf '  GEN     include/generated/x.h\\n'\n\t@printf '  CC      kernel/fork.o\\n'\n\t@sleep 0.4\n\t@printf '  LD      vmlinux.o\\n'\n",
    );
    const logFile = join(dir, "build.log");
    const lock = await acquire(join(dir, "tree.lock"));
    try {
      const r = await compile({ make: { src: dir, build: join(dir, "out"), makeVars: [], env: {} }, jobs: 1, goals: ["all"], estimate: 0, logFile, lock, ui: makeUi({}) });
      assert.equal(r.steps, 3);
    } finally {
      await lock.release();
    }
    const log = readFileSync(logFile, "utf8");
    const t = timelineFromRecorded(log, readFileSync(logTimesPath(logFile), "utf8"));
    assert.ok(t, "the times file matches the log line for line");
    assert.equal(t.source, "recorded");
    assert.deepEqual(t.events.map((e) => e.target), ["init/main.o", "kernel/fork.o", "vmlinux.o"]);
    const [a, b, c] = t.events.map((e) => e.ms!);
    assert.ok(b! - a! >= 350 && c! - b! >= 350, `times ${a}, ${b}, ${c} show the 0.4 s pauses`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

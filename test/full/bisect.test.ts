/**
 * `kiln bisect` end to end on real builds and boots: a local repository made from Debian's 6.12
 * tree with 8 commits on top, each touching one .c file. Commit 4 does not build (an #error in
 * lib/cmdline.c, removed again by commit 5); commit 6 is the regression: init/calibrate.c logs a
 * marker the --exec command looks for in dmesg. The bisect must skip 4 and name 6, every step an
 * ordinary build in the project's one warm tree (the good end is the test store's example kernel,
 * a store hit; the bad end compiles the tree once with the warm ccache; each later step recompiles
 * the files that differ). A second bisect over the same range reuses every identity and takes
 * every verdict remembered for it: no compile, no boot.
 *
 * Cold, this compiles the bad end's tree in a fresh build folder and runs 4 more incremental
 * builds and ~9 TCG boots: minutes, more than the default suite's budget allows, so it lives in
 * test/full (npm run test:full). Run it under the shared compile lock:
 *   flock /work/wt/compile.lock node --test dist/test/full/bisect.test.js
 * The default suite keeps test/integration/bisect_range.test.ts (no compile).
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { kiln, exampleCopy, removeProject, TEST_HOME, RUN_ID } from "../support/kiln.js";
import { exampleKernel } from "../support/store.js";
import { needSource } from "../support/needs.js";
import { bisectRepo, comment, withGitPin, type BisectRepo } from "../support/bisect_repo.js";
import { projectId } from "../../src/store/paths.js";
import type { BisectReport } from "../../src/bisect/bisect.js";

const skip = needSource("6.12");
const dir = skip ? "" : exampleCopy("bisect-full");
let repo: BisectRepo | undefined;
after(() => {
  if (!dir) return;
  rmSync(join(TEST_HOME, "work", projectId("microvm", dir)), { recursive: true, force: true });
  removeProject(dir);
  repo?.remove();
});

const MARKER = "kiln-bisect: regression marker";
const EXEC = `if dmesg | grep -q '${MARKER}'; then echo 'the regression marker is in dmesg'; exit 1; fi; echo clean`;
const ERROR = "#error \"kiln bisect test: this commit does not build\"\n";

test("bisect over 8 commits: skips the one that does not build, names the regression; the rerun is all store hits and remembered verdicts", { skip, timeout: 14 * 60_000 }, async () => {
  const k = exampleKernel("x86_64");
  repo = bisectRepo(`bisect-full-${RUN_ID}`, k.built.inputs.source.tree, k.built.inputs.source.timestamp, [
    // the run id in the first commit makes every tree of this run new to the store (a cold bisect on every run)
    { ...comment("lib/ctype.c", 1), edit: (t) => comment("lib/ctype.c", 1).edit(t).replace("(kiln bisect test 1)", `(kiln bisect test 1, run ${RUN_ID})`) },
    comment("kernel/panic.c", 2),
    comment("lib/string.c", 3),
    { subject: "lib/cmdline: a change that does not build", file: "lib/cmdline.c", edit: (t) => t + ERROR },
    { subject: "lib/cmdline: build again", file: "lib/cmdline.c", edit: (t) => t.replace(ERROR, "") },
    {
      subject: "init/calibrate: log a marker (the regression)",
      file: "init/calibrate.c",
      edit: (t) => `${t}\nstatic int __init kiln_bisect_marker(void)\n{\n\tpr_notice("${MARKER}\\n");\n\treturn 0;\n}\nlate_initcall(kiln_bisect_marker);\n`,
    },
    comment("kernel/exit.c", 7),
    comment("init/version.c", 8),
  ]);
  const c = repo.commits;
  writeFileSync(join(dir, "kiln.toml"), withGitPin(readFileSync(join(dir, "kiln.toml"), "utf8"), repo.dir, "master"));
  const args = ["-C", dir, "--json", "bisect", "--arch", "x86_64", "--good", "base", "--bad", "master", "--exec", EXEC];

  const cold = await kiln(args);
  assert.equal(cold.code, 0, cold.stderr.split("\n").slice(-40).join("\n"));
  const r = JSON.parse(cold.stdout) as BisectReport;
  assert.deepEqual(r.conclusion, { kind: "found", commit: c[6], subject: "init/calibrate: log a marker (the regression)" });
  const [g, b, ...mid] = r.steps;
  assert.deepEqual([g!.role, g!.commit, g!.verdict, g!.build, g!.identity], ["good end", c[0], "good", "reused", k.release], "the good end is the example kernel: a store hit");
  assert.deepEqual([b!.role, b!.commit, b!.verdict, b!.build], ["bad end", c[8], "bad", "built"]);
  assert.match(b!.reason ?? "", /--exec exited 1: the regression marker is in dmesg/);
  const skipped = r.steps.find((s) => s.commit === c[4]);
  assert.ok(skipped, "git bisect tried the commit that does not build");
  assert.deepEqual([skipped.verdict, skipped.build], ["skip", "failed"]);
  assert.match(skipped.reason ?? "", /cmdline/);
  assert.ok(mid.every((s) => s.role === "bisect" && s.commit !== c[0] && s.commit !== c[8]));
  assert.ok(r.steps.some((s) => s.commit === c[5] && s.verdict === "good") && r.steps.some((s) => s.commit === c[6] && s.verdict === "bad"), "the commits on either side of the regression were tested");
  const ids = r.steps.map((s) => s.identity).filter(Boolean);
  assert.equal(new Set(ids).size, ids.length, "each commit has its own identity");
  assert.match(cold.stderr, /step 3 \(~\d+ more after this, ETA /, "progress says the steps left and an ETA");

  const rerun = await kiln(args);
  assert.equal(rerun.code, 0, rerun.stderr);
  const r2 = JSON.parse(rerun.stdout) as BisectReport;
  assert.deepEqual(r2.conclusion, r.conclusion);
  assert.deepEqual(r2.steps.map((s) => s.commit), r.steps.map((s) => s.commit), "the same steps");
  assert.deepEqual(r2.steps.map((s) => [s.verdict, s.build, s.remembered]), r.steps.map((s) => [s.verdict, s.build === "failed" ? "failed" : "reused", true]));
  assert.deepEqual(r2.steps.map((s) => s.identity), r.steps.map((s) => s.identity), "every identity again");
  assert.doesNotMatch(rerun.stderr, /^compile /m, "nothing compiles on the rerun");

  const table = r.steps.map((s) => `#   ${s.n} ${s.commit.slice(0, 12)} ${s.role.padEnd(8)} ${s.build.padEnd(7)} ${s.verdict.padEnd(4)} ${s.seconds.toFixed(1)} s`).join("\n");
  console.log(`# bisect cold: ${(cold.ms / 1000).toFixed(1)} s wall (${r.steps.length} steps)\n${table}\n# bisect rerun: ${(rerun.ms / 1000).toFixed(1)} s wall`);
});

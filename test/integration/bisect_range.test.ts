/**
 * kiln-test-lane: store-builder (it asks first for the test store's x86_64 kernel: the source import and
 * that cold build happen here; test/run.sh starts the side lane's integration files after it)
 * `kiln bisect` through the CLI without a compile: the range's good end is the Debian tree the
 * test store's example kernel was built from (same tree, same date, same config: the example's
 * own identity, a store hit), so every build here is a reuse and the boots are real.
 *  - a good end whose --exec fails is an inconsistent range: exit 2 after one step, said in the
 *    table and in --json;
 *  - the same bisect again takes the verdict remembered for that identity (no boot);
 *  - a project without a git pin, a ref the repository lacks and a good end that is not an
 *    ancestor of the bad one are refused with exit 1, naming what is wrong.
 * The whole bisect (builds of new commits, a skip, the first bad commit, the rerun) is
 * test/full/bisect.test.ts.
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
const dir = skip ? "" : exampleCopy("bisect-range");
let repo: BisectRepo | undefined;
after(() => {
  if (!dir) return;
  rmSync(join(TEST_HOME, "work", projectId("microvm", dir)), { recursive: true, force: true });
  removeProject(dir);
  repo?.remove();
});

const bisect = (args: string[]) => kiln(["-C", dir, "--json", "bisect", "--arch", "x86_64", "--accel", "tcg", ...args]);

test("a project without a git pin: exit 1, naming the source and what to pin", { skip }, async () => {
  const r = await bisect(["--good", "v6.12"]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /kiln bisect needs a git pin: source "linux" of target "base" is a debian pin/);
  assert.match(r.stderr, /kiln\.toml: source\.linux/);
});

test("a good end whose --exec fails is an inconsistent range (exit 2); the rerun takes the remembered verdict", { skip, timeout: 20 * 60_000 }, async () => {
  const k = exampleKernel("x86_64");
  repo = bisectRepo(`bisect-range-${RUN_ID}`, k.built.inputs.source.tree, k.built.inputs.source.timestamp, [comment("lib/ctype.c", 1)]);
  writeFileSync(join(dir, "kiln.toml"), withGitPin(readFileSync(join(dir, "kiln.toml"), "utf8"), repo.dir, "master"));
  const before = readFileSync(join(dir, "kiln.toml"), "utf8");

  // the run id in the command: a verdict remembered by an earlier run of this file is another key
  const cmd = `echo checking ${RUN_ID}; exit 3`;
  const r = await bisect(["--good", "base", "--exec", cmd]);
  assert.equal(r.code, 2, r.stderr);
  const rep = JSON.parse(r.stdout) as BisectReport;
  assert.deepEqual(rep.conclusion, { kind: "inconsistent", reason: `the good end ${repo.commits[0]!.slice(0, 12)} is bad (--exec exited 3: checking ${RUN_ID})` });
  assert.equal(rep.good, repo.commits[0]);
  assert.equal(rep.bad, repo.commits[1], "--bad defaults to the pin's ref");
  assert.equal(rep.steps.length, 1, "nothing is built after the good end fails");
  const s = rep.steps[0]!;
  assert.deepEqual([s.role, s.commit, s.verdict, s.build, s.identity], ["good end", repo.commits[0], "bad", "reused", k.release]);
  assert.equal(s.remembered, undefined);
  assert.match(r.stderr, /kiln bisect: inconsistent range: the good end/);
  assert.equal(readFileSync(join(dir, "kiln.toml"), "utf8"), before, "kiln.toml is not touched");
  assert.throws(() => readFileSync(join(dir, "kiln.lock")), /ENOENT/, "a bisect writes no kiln.lock");

  const again = await bisect(["--good", repo.commits[0]!, "--exec", cmd]);
  assert.equal(again.code, 2, again.stderr);
  const rep2 = JSON.parse(again.stdout) as BisectReport;
  assert.deepEqual(rep2.steps.map((x) => [x.verdict, x.build, x.remembered, x.identity]), [["bad", "reused", true, k.release]]);
  assert.doesNotMatch(again.stderr, /booted|kiln run --exec/, "no guest is started for a remembered verdict");
  console.log(`# bisect over a store hit: first ${(r.ms / 1000).toFixed(1)} s (boot + exec), again ${(again.ms / 1000).toFixed(1)} s (remembered)`);

  // the table a person reads
  const human = await kiln(["-C", dir, "bisect", "--arch", "x86_64", "--good", "base", "--exec", cmd]);
  assert.equal(human.code, 2, human.stderr);
  assert.match(human.stdout, /^#\s+ref\s+subject\s+identity\s+build\s+result\s+time$/m);
  assert.match(human.stdout, new RegExp(`^1\\s+${repo.commits[0]!.slice(0, 12)}\\s+Linux 6\\.12 \\(Debian's linux-source-6…\\s+${k.release.replace(/\./g, "\\.")}\\s+reused\\s+bad \\(remembered\\) \\[good end\\]`, "m"));
  assert.match(human.stdout, /inconsistent range: the good end/);
});

test("a ref the repository lacks, and a good end that is not an ancestor of the bad one: exit 1", { skip, timeout: 5 * 60_000 }, async () => {
  assert.ok(repo, "needs the previous test's repository");
  const missing = await bisect(["--good", "no-such-branch"]);
  assert.equal(missing.code, 1, missing.stderr);
  assert.match(missing.stderr, /cannot fetch --good no-such-branch from /);
  const backwards = await bisect(["--good", repo.commits[1]!, "--bad", "base"]);
  assert.equal(backwards.code, 1, backwards.stderr);
  assert.match(backwards.stderr, /the good commit [0-9a-f]{12} is not an ancestor of the bad commit [0-9a-f]{12}/);
});

/**
 * kiln bisect's own logic: reading git bisect's output, the step table, the verdict key, and the
 * driver over a real git repository (a small history made here, real `git bisect` in a scratch
 * repository borrowing its objects). The evaluator is a real predicate over each commit's
 * content (what the file says), so the tests check what the driver decides from real git.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { driveBisect, parseBisectOutput, renderConclusion, renderSteps, sweepScratch, taggedCommits, type StepOutcome } from "../../src/bisect/bisect.js";
import { recallVerdict, rememberVerdict, testKey } from "../../src/bisect/verdicts.js";
import { GitStore } from "../../src/effects/git.js";
import { ProjectError } from "../../src/errors.js";

const root = mkdtempSync(join(tmpdir(), "kiln-bisect-unit-"));
after(() => rmSync(root, { recursive: true, force: true }));

test("git bisect's output: the first bad commit, only skipped left, the next step's estimate", () => {
  const sha = "08205923fdf4c6c187d92c22888d7e684f34276e";
  assert.deepEqual(parseBisectOutput(`${sha} is the first bad commit\ncommit ${sha}\nAuthor: a <a@b>\n\n    c8\n`), { kind: "found", commit: sha });
  const only = "There are only 'skip'ped commits left to test.\nThe first bad commit could be any of:\n14c0b5ede89faafcfe2563c2857bc984a90c6baa\nd512874ed12d82cd008d78b300f300ad6ee4d851\nWe cannot bisect more!\n";
  assert.deepEqual(parseBisectOutput(only), { kind: "only-skipped", candidates: ["14c0b5ede89faafcfe2563c2857bc984a90c6baa", "d512874ed12d82cd008d78b300f300ad6ee4d851"] });
  assert.deepEqual(parseBisectOutput(`Bisecting: 3 revisions left to test after this (roughly 2 steps)\n[${sha}] c5\n`), { kind: "next", left: 2 });
  assert.deepEqual(parseBisectOutput(`Bisecting: 0 revisions left to test after this (roughly 1 step)\n[${sha}] c5\n`), { kind: "next", left: 1 });
});

test("the step table: ref, subject, identity, build, result with the ends marked, time; reasons below", () => {
  const base = { identity: "6.12.57-microvm-0123456789ab", build: "built" as const, seconds: 61.5 };
  const t = renderSteps(
    [
      { n: 1, role: "good end", commit: "a".repeat(40), subject: "Linux 6.12", verdict: "good", ...base },
      { n: 2, role: "bisect", commit: "b".repeat(40), subject: "lib: a comment that is much longer than the column gives it", verdict: "skip", build: "failed", reason: "compile failed: lib/x.c:3: error", seconds: 12 },
      { n: 3, role: "bisect", commit: "c".repeat(40), subject: "init: marker", verdict: "bad", remembered: true, ...base, build: "reused", reason: "--exec exited 1" },
    ],
    (ms) => `${(ms / 1000).toFixed(1)}s`,
  );
  const lines = t.split("\n");
  assert.match(lines[0]!, /^#\s+ref\s+subject\s+identity\s+build\s+result\s+time$/);
  assert.match(lines[1]!, /^1\s+aaaaaaaaaaaa\s+Linux 6\.12\s+6\.12\.57-microvm-0123456789ab\s+built\s+good \[good end\]\s+61\.5s$/);
  assert.match(lines[2]!, /^2\s+bbbbbbbbbbbb\s+lib: a comment that is much longer …\s+-\s+failed\s+skip\s+12\.0s$/);
  assert.match(lines[3]!, /reused\s+bad \(remembered\)\s+61\.5s$/);
  assert.equal(lines[1]!.indexOf("6.12.57"), lines[3]!.indexOf("6.12.57"), "columns line up");
  assert.deepEqual(lines.slice(5), ["  2: skipped, compile failed: lib/x.c:3: error", "  3: --exec exited 1"]);
  assert.equal(renderConclusion({ kind: "found", commit: "c".repeat(40), subject: "init: marker" }), `first bad commit: ${"c".repeat(40)} init: marker`);
  assert.match(renderConclusion({ kind: "only-skipped", candidates: ["d".repeat(40)] }), /one of\n {2}d{40}$/);
});

test("verdicts are remembered per identity and test: another command, arch or memory is another key", () => {
  const t = { kind: "exec" as const, command: "dmesg | grep -q x", arch: "x86_64", memoryMiB: 512 };
  assert.equal(testKey(t), testKey({ ...t }));
  assert.notEqual(testKey(t), testKey({ ...t, command: "true" }));
  assert.notEqual(testKey(t), testKey({ ...t, memoryMiB: 1024 }));
  assert.notEqual(testKey(t), testKey({ kind: "boot", arch: "x86_64", memoryMiB: 512 }));
  const home = join(root, "home");
  assert.equal(recallVerdict(home, "6.12.57-x-0123456789ab", t), undefined);
  rememberVerdict(home, "6.12.57-x-0123456789ab", t, { verdict: "bad", reason: "--exec exited 1", at: "2026-01-01T00:00:00.000Z" });
  assert.deepEqual(recallVerdict(home, "6.12.57-x-0123456789ab", t), { verdict: "bad", reason: "--exec exited 1", at: "2026-01-01T00:00:00.000Z" });
  assert.equal(recallVerdict(home, "6.12.57-x-0123456789ab", { ...t, command: "true" }), undefined);
  // a torn file is decided again
  const dir = join(home, "bisect", "verdicts", "6.12.57-x-0123456789ab");
  writeFileSync(join(dir, `${testKey({ ...t, command: "torn" })}.json`), "{\"verdict\":");
  assert.equal(recallVerdict(home, "6.12.57-x-0123456789ab", { ...t, command: "torn" }), undefined);
});

// ------------------------------------------------------------------ the driver over real git

const gitEnv = { ...process.env, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null", GIT_AUTHOR_NAME: "Ada", GIT_AUTHOR_EMAIL: "ada@example.org", GIT_COMMITTER_NAME: "Ada", GIT_COMMITTER_EMAIL: "ada@example.org" };
const git = (dir: string, args: string[]) => execFileSync("git", ["-C", dir, ...args], { encoding: "utf8", env: gitEnv }).trim();

/** A history of `n` commits; commit i sets state to `states[i]` ("ok", "broken" = regression, "nobuild"). */
function history(name: string, states: string[]): { store: GitStore; commits: string[] } {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  git(dir, ["init", "-q"]);
  const commits: string[] = [];
  states.forEach((s, i) => {
    writeFileSync(join(dir, "state"), `${s}\n`);
    writeFileSync(join(dir, "n"), `${i}\n`);
    git(dir, ["add", "-A"]);
    git(dir, ["commit", "-q", "-m", `c${i}: ${s}`]);
    commits.push(git(dir, ["rev-parse", "HEAD"]));
  });
  return { store: new GitStore(join(dir, ".git")), commits };
}

function byContent(store: GitStore, visited: string[]) {
  return async (commit: string): Promise<StepOutcome> => {
    visited.push(commit);
    const s = await store.out(["show", `${commit}:state`]);
    if (s === "nobuild") return { verdict: "skip", build: "failed", reason: "does not build", seconds: 0 };
    return { verdict: s === "ok" ? "good" : "bad", build: "built", identity: `6.12.0-${commit.slice(0, 12)}`, seconds: 0 };
  };
}

test("driveBisect names the first bad commit, checking both ends first, and removes its scratch repository", async () => {
  // 0 good ... 5 is the regression, 6-8 stay bad
  const { store, commits } = history("h1", ["ok", "ok", "ok", "ok", "ok", "broken", "broken", "broken", "broken"]);
  const visited: string[] = [];
  const scratchRoot = join(root, "scratch1");
  const r = await driveBisect({ store, scratchRoot, good: commits[0]!, bad: commits[8]!, evaluate: byContent(store, visited) });
  assert.deepEqual(r.conclusion, { kind: "found", commit: commits[5], subject: "c5: broken" });
  assert.deepEqual(r.steps.slice(0, 2).map((s) => [s.role, s.commit, s.verdict]), [["good end", commits[0], "good"], ["bad end", commits[8], "bad"]]);
  assert.ok(r.steps.length <= 2 + 3, `log2(8) = 3 steps after the ends, got ${r.steps.length - 2}`);
  assert.equal(new Set(visited).size, visited.length, "no commit is built twice");
  assert.deepEqual(readdirSync(scratchRoot), [], "the scratch repository is removed");
});

test("a commit that does not build is skipped (git bisect skip) and the bisect still names the regression", async () => {
  // 4 is the midpoint git picks first for 0..8; it does not build
  const { store, commits } = history("h2", ["ok", "ok", "ok", "ok", "nobuild", "ok", "broken", "broken", "broken"]);
  const visited: string[] = [];
  const r = await driveBisect({ store, scratchRoot: join(root, "scratch2"), good: commits[0]!, bad: commits[8]!, evaluate: byContent(store, visited) });
  assert.deepEqual(r.conclusion, { kind: "found", commit: commits[6], subject: "c6: broken" });
  assert.ok(r.steps.some((s) => s.verdict === "skip" && s.commit === commits[4]), "the unbuildable commit was tried and skipped");
});

test("only unbuildable commits next to the regression: the candidates are listed", async () => {
  const { store, commits } = history("h3", ["ok", "nobuild", "nobuild", "broken"]);
  const r = await driveBisect({ store, scratchRoot: join(root, "scratch3"), good: commits[0]!, bad: commits[3]!, evaluate: byContent(store, []) });
  assert.equal(r.conclusion.kind, "only-skipped");
  assert.deepEqual(new Set(r.conclusion.kind === "only-skipped" ? r.conclusion.candidates : []), new Set(commits.slice(1, 4)));
});

test("an inconsistent range stops after the ends: a bad good end, a good bad end, the same commit", async () => {
  const { store, commits } = history("h4", ["broken", "ok", "ok", "broken"]);
  const a = await driveBisect({ store, scratchRoot: join(root, "scratch4"), good: commits[0]!, bad: commits[3]!, evaluate: byContent(store, []) });
  assert.deepEqual(a.conclusion, { kind: "inconsistent", reason: `the good end ${commits[0]!.slice(0, 12)} is bad` });
  assert.equal(a.steps.length, 1);
  const b = await driveBisect({ store, scratchRoot: join(root, "scratch4"), good: commits[1]!, bad: commits[2]!, evaluate: byContent(store, []) });
  assert.deepEqual(b.conclusion, { kind: "inconsistent", reason: `the bad end ${commits[2]!.slice(0, 12)} is good: nothing regressed in the range` });
  const c = await driveBisect({ store, scratchRoot: join(root, "scratch4"), good: commits[1]!, bad: commits[1]!, evaluate: byContent(store, []) });
  assert.equal(c.conclusion.kind, "inconsistent");
  assert.equal(c.steps.length, 0);
  await assert.rejects(
    driveBisect({ store, scratchRoot: join(root, "scratch4"), good: commits[3]!, bad: commits[1]!, evaluate: byContent(store, []) }),
    (e: unknown) => e instanceof ProjectError && /is not an ancestor of the bad commit/.test(e.message),
  );
});

test("a scratch repository left by a killed bisect is swept; a live one stays", () => {
  const r = join(root, "sweep");
  mkdirSync(join(r, "bisect-999999999-x.git"), { recursive: true });
  mkdirSync(join(r, `bisect-${process.pid}-y.git`), { recursive: true });
  mkdirSync(join(r, "other"), { recursive: true });
  sweepScratch(r);
  assert.equal(existsSync(join(r, "bisect-999999999-x.git")), false);
  assert.equal(existsSync(join(r, `bisect-${process.pid}-y.git`)), true);
  assert.equal(existsSync(join(r, "other")), true);
});

test("taggedCommits: a lightweight tag's own commit, an annotated tag's peeled commit, other refs ignored", () => {
  const a = "1".repeat(40), tagObj = "2".repeat(40), peeled = "3".repeat(40), branch = "4".repeat(40);
  const out = [`${a}\trefs/tags/v6.12-light`, `${tagObj}\trefs/tags/v6.12`, `${peeled}\trefs/tags/v6.12^{}`, `${branch}\trefs/heads/master`, "garbage", ""].join("\n");
  assert.deepEqual([...taggedCommits(out)].sort(), [a, peeled]);
  assert.equal(taggedCommits("").size, 0);
});

test("taggedCommits on a real repository: git ls-remote --tags of a lightweight and an annotated tag", () => {
  const dir = mkdtempSync(join(tmpdir(), "kiln-tags-"));
  try {
    const g = (...a: string[]) => execFileSync("git", ["-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.org", ...a], { encoding: "utf8" }).trim();
    g("init", "-q");
    writeFileSync(join(dir, "f"), "1\n");
    g("add", "f");
    g("commit", "-q", "-m", "one");
    const one = g("rev-parse", "HEAD");
    g("tag", "light");
    writeFileSync(join(dir, "f"), "2\n");
    g("commit", "-q", "-am", "two");
    const two = g("rev-parse", "HEAD");
    g("tag", "-a", "-m", "release", "v1");
    writeFileSync(join(dir, "f"), "3\n");
    g("commit", "-q", "-am", "three");
    const tags = taggedCommits(execFileSync("git", ["ls-remote", "--tags", dir], { encoding: "utf8" }));
    assert.deepEqual([...tags].sort(), [one, two].sort());
    assert.ok(!tags.has(g("rev-parse", "HEAD")));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

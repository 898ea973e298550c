/**
 * Mailed series and git pins through the CLI, up to the identity (`kiln check configured`,
 * no compile), on Debian's 6.12 tree, in one project folder so one warm tree serves every run.
 *
 * Series: an mbox as `b4 am -o` writes it, the same series mailed again (other dates, other
 * message-ids) -> the same tree and identity, b4 fetching it from a loopback lore server (with
 * the lore base in kiln.toml, and in KILN_LORE_URL for a base b4 resolves by redirect), the
 * label from the cover letter with its revision, the review branch refs/heads/b4/<slug>, and a
 * series that does not apply -> exit 2 naming the patch and the hunk.
 *
 * Git pins: a local repository made from the Debian tree at a tag, a branch and a SHA. The tag's
 * commit is written straight into the test store's object database, which the repository
 * borrows through objects/info/alternates: packing the 80k objects of a kernel tree for a fetch
 * costs ~40 s on two cores, and the tag is then a commit kiln already has (git fetch's quick
 * path). The branch's commit and its trees exist only in the repository, so kiln really fetches
 * them (a small pack on top of the tag's commit).
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { kiln, exampleCopy, removeProject, TEST_HOME, RUN_ID } from "../support/kiln.js";
import { kernelTree, TEST_CACHE } from "../support/trees.js";
import { needSource, needs, haveCommand } from "../support/needs.js";
import { mailedSeries, startLore, type Lore } from "../support/lore.js";
import { projectId } from "../../src/store/paths.js";
import type { Manifest } from "../../src/core/manifest.js";
import { readLock } from "../../src/project/lock.js";

const skip = needSource("6.12") || needs(!haveCommand("b4") && "b4 is not installed (apt-get install b4)");
const dir = skip ? "" : exampleCopy("series");
const work = skip ? "" : join(TEST_HOME, "work", projectId("microvm", dir));
const repo = join(TEST_CACHE, "git-pins", `linux-${RUN_ID}.git`);
const store = join(TEST_HOME, "git");
const lores: Lore[] = [];
after(async () => {
  for (const l of lores) await l.close();
  if (!dir) return;
  rmSync(work, { recursive: true, force: true });
  removeProject(dir);
  rmSync(repo, { recursive: true, force: true });
});

const SLUG = "calibrate-clearer-comments-v3";
const REF = `refs/heads/b4/${SLUG}`;
const toml = () => join(dir, "kiln.toml");
const original = skip ? "" : readFileSync(join(dir, "kiln.toml"), "utf8").replace('label = "microvm"\n', "");
const withSeries = (series: string) => writeFileSync(toml(), original.replace('[series]\ndir = "patches"', `[series]\n${series}`));
const configured = (): Manifest => JSON.parse(readFileSync(join(work, "base-x86_64", "state", "configured.json"), "utf8")) as Manifest;
const check = (env: Record<string, string> = {}) => kiln(["-C", dir, "check", "configured", "--arch", "x86_64"], { env });
const gitEnv = { ...process.env, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" };
const git = (gitDir: string, args: string[], env: Record<string, string> = {}, input?: string) =>
  execFileSync("git", ["--git-dir", gitDir, ...args], { encoding: "utf8", env: { ...gitEnv, ...env }, ...(input !== undefined ? { input } : {}) }).trim();
const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

const tree = skip ? "" : kernelTree("6.12");
const first = skip ? undefined : mailedSeries(tree, { date: 1_700_000_000, salt: "first" });
const again = skip ? undefined : mailedSeries(tree, { date: 1_710_000_000, salt: "again" });
const broken = skip ? undefined : mailedSeries(tree, { date: 1_720_000_000, salt: "broken", broken: true });
let identity = "";
let patchedTree = "";
let baseTree = "";
let firstCommits: string[] = [];

test("an mbox as b4 am -o writes it: label from the cover with -v3, refs/heads/b4/<slug>, the series in the manifest", { skip, timeout: 10 * 60_000 }, async () => {
  writeFileSync(join(dir, "series.mbx"), first!.mbx);
  writeFileSync(join(dir, "series.cover"), first!.cover);
  withSeries('mbox = "series.mbx"');
  const r = await check();
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout + r.stderr, new RegExp(`3 mailed patch\\(es\\) apply \\(git am\\) -> b4/${SLUG}`));
  const m = configured();
  identity = m.uts_release!;
  patchedTree = m.source_tree;
  baseTree = m.inputs.source.tree;
  assert.match(identity, new RegExp(`^6\\.12\\.[0-9]+-${SLUG}-[0-9a-f]{12}$`));
  assert.equal(m.inputs.label, SLUG);
  assert.notEqual(patchedTree, baseTree);
  assert.deepEqual(m.inputs.mailed_series, {
    kind: "mbox",
    origin: join(dir, "series.mbx"),
    message_id: first!.coverMsgid,
    revision: 3,
    cover: "[PATCH v3 0/3] Calibrate: clearer comments",
    subjects: first!.subjects,
    mbox_sha256: sha256(first!.mbx),
    ref: REF,
    commits: m.inputs.mailed_series!.commits,
  });
  // The review branch: one commit per patch with the mail's author and subject, on a commit of the pinned tree.
  const commits = m.inputs.mailed_series!.commits!;
  firstCommits = commits;
  assert.equal(git(store, ["rev-parse", REF]), commits[2]);
  assert.equal(git(store, ["rev-parse", `${REF}^{tree}`]), patchedTree);
  assert.equal(git(store, ["rev-parse", `${REF}~3^{tree}`]), baseTree);
  assert.deepEqual(git(store, ["log", "-3", "--format=%an|%s", REF]).split("\n"), ["Ada Tester|init/version: comment the banner", "Ada Tester|calibrate: shorter timer comment", "Ada Tester|calibrate: say what the file holds"]);
  assert.match(git(store, ["show", `${REF}:init/version.c`]), /The banner below is what `uname -a` and dmesg print first/);
});

test("the same series mailed again (new dates, new message-ids, new commits) keeps the tree and the identity", { skip, timeout: 5 * 60_000 }, async () => {
  assert.ok(identity, "needs the first test");
  rmSync(join(dir, "series.cover"));
  writeFileSync(join(dir, "series.mbx"), again!.mbox); // a list archive's thread: the cover letter inside
  const r = await check();
  assert.equal(r.code, 0, r.stderr);
  const m = configured();
  assert.equal(m.uts_release, identity);
  assert.equal(m.source_tree, patchedTree);
  assert.equal(m.inputs.mailed_series!.message_id, again!.coverMsgid);
  assert.equal(m.inputs.mailed_series!.mbox_sha256, sha256(again!.mbox));
  assert.notDeepEqual(m.inputs.mailed_series!.commits, firstCommits, "new dates give new commits");
  assert.equal(git(store, ["rev-parse", REF]), m.inputs.mailed_series!.commits![2]);
  console.log(`# re-mailed series: apply + identity in ${(r.ms / 1000).toFixed(1)} s`);
});

test("b4 fetches the series from a lore server (lore in kiln.toml; KILN_LORE_URL for a redirecting base): same tree, same identity", { skip, timeout: 5 * 60_000 }, async () => {
  assert.ok(identity, "needs the first test");
  rmSync(join(dir, "series.mbx"));
  const thread = { mbox: first!.mbox, msgids: [first!.coverMsgid, ...first!.msgids] };
  const all = await startLore([thread]);
  lores.push(all);
  withSeries(`b4 = "<${first!.coverMsgid}>"\nlore = "${all.url}"`);
  const r = await check();
  assert.equal(r.code, 0, r.stderr);
  const m = configured();
  assert.equal(m.uts_release, identity);
  assert.equal(m.source_tree, patchedTree);
  assert.equal(m.inputs.mailed_series!.kind, "b4");
  assert.equal(m.inputs.mailed_series!.origin, `${all.url}/${first!.coverMsgid}`);
  assert.equal(m.inputs.mailed_series!.message_id, first!.coverMsgid);
  assert.deepEqual(m.inputs.mailed_series!.subjects, first!.subjects);
  assert.match(m.inputs.mailed_series!.mbox_sha256, /^[0-9a-f]{64}$/);
  assert.deepEqual(all.requests, [`GET /all/${encodeURIComponent(first!.coverMsgid)}/t.mbox.gz`]);

  const lkml = await startLore([thread], { base: "/lkml" });
  lores.push(lkml);
  withSeries(`b4 = "${first!.msgids[1]}"`);
  const r2 = await check({ KILN_LORE_URL: lkml.url });
  assert.equal(r2.code, 0, r2.stderr);
  assert.equal(configured().uts_release, identity);
  assert.deepEqual(lkml.requests, [`HEAD /lkml/${encodeURIComponent(first!.msgids[1]!)}`, `GET /lkml/${encodeURIComponent(first!.msgids[1]!)}/t.mbox.gz`]);
  assert.deepEqual(existsSync(join(TEST_HOME, "tmp")) ? readdirSync(join(TEST_HOME, "tmp")).filter((f) => /^(b4|mbox)-/.test(f)) : [], [], "b4's staging folders are removed");

  withSeries(`b4 = "no-such-series@example.org"`);
  const gone = await check({ KILN_LORE_URL: all.url });
  assert.equal(gone.code, 1, gone.stderr);
  assert.match(gone.stderr, /b4 could not fetch the series <no-such-series@example\.org>/);
  assert.match(gone.stderr, /not known/);
});

test("a series that does not apply fails with exit 2, naming the patch, its N/M, the file and the hunk", { skip, timeout: 5 * 60_000 }, async () => {
  writeFileSync(join(dir, "broken.mbx"), broken!.mbox);
  withSeries('mbox = "broken.mbx"');
  const r = await check();
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /broken\.mbx: the mailed series does not apply \(git am\): patch 2\/3 "\[PATCH v3 2\/3\] calibrate: shorter timer comment"/);
  assert.match(r.stderr, /init\/calibrate\.c: hunk #1 \(@@ -24,7 \+24,7 @@\) does not apply at line 24/);
  assert.equal(configured().status, "failed");
});

// ------------------------------------------------------------------ git pins

const D_TAG = 1_731_000_000;
const D_BRANCH = 1_731_500_000;
const who = (d: number) => ({ GIT_AUTHOR_NAME: "Ada Tester", GIT_AUTHOR_EMAIL: "ada@example.org", GIT_COMMITTER_NAME: "Ada Tester", GIT_COMMITTER_EMAIL: "ada@example.org", GIT_AUTHOR_DATE: `@${d} +0000`, GIT_COMMITTER_DATE: `@${d} +0000` });
let tagCommit = "";
let branchCommit = "";

/** The repository: master and the lightweight tag v6.12-kiln at the Debian tree; dev one commit later. */
function makeRepo(): void {
  mkdirSync(join(TEST_CACHE, "git-pins"), { recursive: true });
  rmSync(repo, { recursive: true, force: true });
  git(repo, ["init", "-q", "--bare"]);
  writeFileSync(join(repo, "objects", "info", "alternates"), join(store, "objects") + "\n");
  tagCommit = git(store, ["commit-tree", baseTree, "-m", "Linux 6.12 (Debian's linux-source-6.12)"], who(D_TAG));
  git(repo, ["update-ref", "refs/heads/master", tagCommit]);
  git(repo, ["update-ref", "refs/tags/v6.12-kiln", tagCommit]);
  const index = `${repo}.index`;
  try {
    git(repo, ["read-tree", baseTree], { GIT_INDEX_FILE: index });
    const text = git(repo, ["show", `${baseTree}:init/calibrate.c`]) + "\n";
    const blob = git(repo, ["hash-object", "-w", "--stdin"], {}, text.replace(" * Excised from init/main.c\n", " * Excised from init/main.c (a dev branch comment)\n"));
    git(repo, ["update-index", "--cacheinfo", `100644,${blob},init/calibrate.c`], { GIT_INDEX_FILE: index });
    const t1 = git(repo, ["write-tree"], { GIT_INDEX_FILE: index });
    branchCommit = git(repo, ["commit-tree", t1, "-p", tagCommit, "-m", "calibrate: a comment on the dev branch"], who(D_BRANCH));
    git(repo, ["update-ref", "refs/heads/dev", branchCommit]);
  } finally {
    rmSync(index, { force: true });
  }
}

const withGitPin = (ref: string) =>
  writeFileSync(toml(), original.replace(/\[source\.linux\]\ndebian = "linux-source-6\.12"\n/, `[source.linux]\ngit = "${repo}"\nref = "${ref}"\n`).replace('[series]\ndir = "patches"\n', ""));

test("a git pin at a tag: the commit, its date as the timestamp, the label vanilla", { skip, timeout: 10 * 60_000 }, async () => {
  assert.ok(baseTree, "needs the first test (the Debian tree in the store)");
  makeRepo();
  withGitPin("v6.12-kiln");
  const r = await check();
  assert.equal(r.code, 0, r.stderr);
  const m = configured();
  assert.equal(m.inputs.source.kind, "git");
  assert.equal(m.commit, tagCommit);
  assert.equal(m.inputs.source.tree, baseTree);
  assert.equal(m.inputs.source.timestamp, D_TAG);
  assert.equal(m.inputs.label, "vanilla");
  assert.match(m.uts_release!, /^6\.12\.[0-9]+-vanilla-[0-9a-f]{12}$/);
  const lock = readLock(dir)?.source.linux;
  assert.deepEqual(lock && { commit: lock.commit, tag: lock.tag, timestamp: lock.timestamp }, { commit: tagCommit, tag: true, timestamp: D_TAG });
});

test("a git pin at a branch and at that branch's SHA resolve to the same commit, tree and timestamp (kiln lock)", { skip, timeout: 5 * 60_000 }, async () => {
  assert.ok(branchCommit, "needs the tag test (the repository)");
  const branchTree = git(repo, ["rev-parse", `${branchCommit}^{tree}`]);
  for (const ref of ["dev", branchCommit]) {
    withGitPin(ref);
    const r = await kiln(["-C", dir, "lock"]);
    assert.equal(r.code, 0, r.stderr);
    const e = readLock(dir)!.source.linux!;
    assert.equal(e.kind, "git", ref);
    assert.equal(e.commit, branchCommit, ref);
    assert.equal(e.tree, branchTree, ref);
    assert.equal(e.timestamp, D_BRANCH, `${ref}: the commit date is the timestamp`);
    assert.equal(e.tag, false, `${ref} is not a tag`);
    assert.match(e.kernel_version, /^6\.12\.[0-9]+$/);
  }
  assert.notEqual(branchTree, baseTree);
  assert.equal(git(store, ["cat-file", "-t", branchCommit]), "commit", "kiln fetched the branch's commit into its store");
  assert.equal(git(store, ["rev-parse", `${branchCommit}:init/calibrate.c`]), git(repo, ["rev-parse", `${branchCommit}:init/calibrate.c`]));
});

/**
 * kiln bump on real trees: the example on Debian's linux-source-6.1 with four patches made from
 * real differences between 6.1 and 6.12 (test/support/bump_patches.ts), bumped to
 * linux-source-6.12 for x86_64. Nothing compiles: the cells are configured (current and new),
 * kconfig lists the new symbols, the configs are diffed.
 *   1. a report-only run (--refresh): each patch classified as made (report.md, report.html), rejects saved, the upstream
 *      one flagged by its header, the refreshed patch passing the zero-offset gate on 6.12,
 *      kiln.toml, kiln.lock and the series untouched, exit 2;
 *   2. --apply --force --refresh --drop-upstream: the pin, the lock and the series change, and the
 *      report records what was overridden.
 * The project folder and its work trees are removed after. In test/full/ (npm run test:full): two
 * fresh warm-tree checkouts and the 6.1 import take minutes on two cores; the default suite keeps
 * test/integration/bump_classify.test.ts (every class on a small real git tree, seconds).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO, TEST_HOME, kiln } from "../support/kiln.js";
import { TEST_CACHE, debianTarball, kernelTree } from "../support/trees.js";
import { bumpSeries, type MadePatch } from "../support/bump_patches.js";
import { paths, projectId } from "../../src/store/paths.js";
import { GitStore } from "../../src/effects/git.js";
import { applySeries } from "../../src/pipeline/apply_patches.js";
import type { BumpReport } from "../../src/bump/bump.js";

const skip = (!debianTarball("6.1") || !debianTarball("6.12")) && "needs linux-source-6.1 and linux-source-6.12 (apt-get install linux-source-6.1 linux-source-6.12)";
let DIR = "";
let made: MadePatch[] = [];

before(() => {
  if (skip) return;
  made = bumpSeries(kernelTree("6.1"), kernelTree("6.12"));
  mkdirSync(join(TEST_CACHE, "projects"), { recursive: true });
  DIR = mkdtempSync(join(TEST_CACHE, "projects", "bump-"));
  cpSync(join(REPO, "examples", "microvm"), DIR, { recursive: true, filter: (s) => !s.endsWith("kiln.lock") && !s.includes("/patches") });
  const f = join(DIR, "kiln.toml");
  const t = readFileSync(f, "utf8").replace('debian = "linux-source-6.12"', 'debian = "linux-source-6.1"');
  assert.match(t, /debian = "linux-source-6\.1"\n/);
  writeFileSync(f, t);
  mkdirSync(join(DIR, "patches"));
  for (const p of made) writeFileSync(join(DIR, "patches", p.name), p.text);
});

after(() => {
  if (!DIR) return;
  rmSync(join(paths(TEST_HOME).work, projectId("microvm", DIR)), { recursive: true, force: true });
  rmSync(DIR, { recursive: true, force: true });
});

const snapshot = () => ({
  toml: readFileSync(join(DIR, "kiln.toml"), "utf8"),
  lock: readFileSync(join(DIR, "kiln.lock"), "utf8"),
  patches: readdirSync(join(DIR, "patches")).sort().map((n) => [n, readFileSync(join(DIR, "patches", n), "utf8")]),
});

test("bump 6.1 -> 6.12: each patch classified, rejects saved, the upstream one flagged, nothing changed, exit 2", { skip }, async () => {
  const lock = await kiln(["-C", DIR, "lock"]);
  assert.equal(lock.code, 0, lock.stderr);
  const before = snapshot();
  assert.match(before.lock, /linux-source-6\.1/);
  const r = await kiln(["-C", DIR, "bump", "linux", "--to", "linux-source-6.12", "--arch", "x86_64", "--refresh"]);
  process.stderr.write(`bump report-only run: ${r.ms} ms\n`);
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stderr, /did not pass/);
  assert.deepEqual(snapshot(), before, "kiln.toml, kiln.lock and the series are untouched without --apply");

  const rep = JSON.parse(readFileSync(join(DIR, "bump-report", "report.json"), "utf8")) as BumpReport;
  assert.match(rep.from.kernel_version, /^6\.1\./);
  assert.match(rep.to.kernel_version, /^6\.12\./);
  const got = Object.fromEntries(rep.targets[0]!.patches.map((p) => [p.name, p.class]));
  assert.deepEqual(got, Object.fromEntries(made.map((p) => [p.name, p.expect])));
  const byName = (n: string) => rep.targets[0]!.patches.find((p) => p.name === n)!;

  const up = byName("0001-upstream-hunk.patch");
  assert.match(up.flagged ?? "", /upstream in 6\.12 \(line \d+: Patch-mainline: v6\.12\), at or below 6\.12\./);
  assert.equal(up.status, "upstream in 6.12");
  assert.match(up.reproduce, /patch -p1 -F0 --dry-run -R /);

  const off = byName("0002-offset-comment.patch");
  assert.ok(off.moved.length === 1 && off.moved[0]!.offset !== 0, JSON.stringify(off.moved));
  assert.equal(off.status, "pending");
  assert.equal(off.refreshed, "refreshed/0002-offset-comment.patch");

  const con = byName("0003-conflict.patch");
  assert.equal(con.rejects, "rejects/0003-conflict.patch.rej");
  const rej = readFileSync(join(DIR, "bump-report", con.rejects!), "utf8");
  assert.match(rej, /^@@ -\d+,\d+ \+\d+,\d+ @@/m);
  assert.match(rej, /kiln bump test/);
  assert.equal(byName("0004-clean-comment.patch").action, "keep");
  assert.deepEqual(rep.targets[0]!.configuredWith, ["0002-offset-comment.patch", "0004-clean-comment.patch"]);

  // the refreshed patch keeps its header and passes the zero-offset gate on the 6.12 tree
  const refreshed = readFileSync(join(DIR, "bump-report", off.refreshed!), "utf8");
  assert.ok(refreshed.startsWith(made[1]!.text.slice(0, made[1]!.text.indexOf("--- a/"))), "header kept");
  const scratch = mkdtempSync(join(TEST_CACHE, "bump-gate-"));
  try {
    const f = join(scratch, off.name);
    writeFileSync(f, refreshed);
    const git = new GitStore(paths(TEST_HOME).git);
    const res = await applySeries(git, rep.to.tree, { patches: [{ name: off.name, path: f, text: refreshed, sha256: "refreshed" + Date.now() }] }, scratch);
    assert.notEqual(res.tree, rep.to.tree);
    await assert.rejects(applySeries(git, rep.to.tree, { patches: [{ name: off.name, path: join(DIR, "patches", off.name), text: made[1]!.text, sha256: "original" + Date.now() }] }, scratch), /applies only at an offset of/);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }

  // the cell: configured on 6.12, new symbols listed, a config diff, invariants checked
  assert.equal(rep.cells.length, 1);
  const c = rep.cells[0]!;
  assert.equal(c.arch, "x86_64");
  assert.match(c.current.release ?? "", /^6\.1\.\d+-microvm-/);
  assert.match(c.next.release ?? "", /^6\.12\.\d+-microvm-/);
  assert.ok(c.newSymbols.length > 0);
  assert.ok(c.diff.counts.added + c.diff.counts.changed + c.diff.counts.removed > 0);
  assert.ok(c.diff.groups.length > 1, "grouped by menu");
  assert.match(c.reproduce.newSymbols, /listnewconfig/);
  const md = readFileSync(join(DIR, "bump-report", "report.md"), "utf8");
  for (const p of made) assert.match(md, new RegExp(`### ${p.name.replace(/\./g, "\\.")}`));
  assert.match(md, /## x86_64\/base/);
  // the report page of the bump (the same render as kiln report): its bump and config diff sections
  const html = readFileSync(join(DIR, "bump-report", "report.html"), "utf8");
  assert.match(html, /<body data-kiln-sections="bump diff">/);
  for (const p of made) assert.ok(html.includes(`<code>${p.name}</code>`), p.name);
  assert.ok(!existsSync(join(DIR, "config", "pending")), "pending files only with --apply");
});

test("--apply --force: the pin, the lock and the series change; the report records the override", { skip }, async () => {
  const r = await kiln(["-C", DIR, "bump", "linux", "--to", "linux-source-6.12", "--arch", "x86_64", "--refresh", "--drop-upstream", "--apply", "--force"]);
  process.stderr.write(`bump --apply --force run: ${r.ms} ms\n`);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const rep = JSON.parse(readFileSync(join(DIR, "bump-report", "report.json"), "utf8")) as BumpReport;
  assert.equal(rep.applied, true);
  assert.equal(rep.passed, false);
  assert.ok(rep.overridden.some((o) => /0003-conflict\.patch conflicts/.test(o)), rep.overridden.join("\n"));
  assert.match(readFileSync(join(DIR, "kiln.toml"), "utf8"), /\[source\.linux\]\ndebian = "linux-source-6\.12"\n/);
  assert.match(readFileSync(join(DIR, "kiln.lock"), "utf8"), /kernel_version = "6\.12\./);
  assert.deepEqual(readdirSync(join(DIR, "patches")).sort(), ["0002-offset-comment.patch", "0003-conflict.patch", "0004-clean-comment.patch"]);
  assert.equal(readFileSync(join(DIR, "patches", "0002-offset-comment.patch"), "utf8"), readFileSync(join(DIR, "bump-report", "refreshed", "0002-offset-comment.patch"), "utf8"));
  const c = rep.cells[0]!;
  assert.ok(c.pendingWritten.length > 0);
  for (const n of c.pendingWritten) assert.match(readFileSync(join(DIR, c.pendingDir, n), "utf8"), /^# AUTOMATIC: New configs/);
  // kiln patches reads the bumped project: the refreshed patch is clean on 6.12, the conflict is not
  const p = await kiln(["-C", DIR, "--json", "patches"]);
  assert.equal(p.code, 0, p.stderr);
  const list = JSON.parse(p.stdout) as { kernel_version: string; patches: { file: string; applies: string; zero_fuzz: boolean; status: string }[] }[];
  assert.match(list[0]!.kernel_version, /^6\.12\./);
  assert.deepEqual(list[0]!.patches.map((x) => [x.file, x.applies, x.status]), [
    ["patches/0002-offset-comment.patch", "clean", "pending"],
    ["patches/0003-conflict.patch", "conflict", "pending"],
    ["patches/0004-clean-comment.patch", "clean", "inappropriate"],
  ]);
});

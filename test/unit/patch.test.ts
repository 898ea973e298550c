import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { parsePatchOutput, cleanApplyFailures, touchedPaths, unsafePaths, hunkHeader, parseSeriesFile, patchSubject } from "../../src/core/patch.js";

const REPO = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const fx = (n: string) => readFileSync(join(REPO, "test/fixtures/patch", n), "utf8");
const PATCH_NAME = "0001-init-say-which-kernel-this-is.patch";
const PATCH = readFileSync(join(REPO, "examples/microvm/patches", PATCH_NAME), "utf8");

// The fixtures are GNU patch 2.7's real output on init/main.c of Debian's 6.12 tree (see test/fixtures/patch/README.md).
test("a clean apply has no failures", () => {
  const r = parsePatchOutput(fx("clean.out"));
  assert.deepEqual(r.problems, []);
  assert.deepEqual(cleanApplyFailures(PATCH_NAME, PATCH, r, 0), []);
});

test("an offset is refused, naming the patch, the file and the hunk", () => {
  const r = parsePatchOutput(fx("offset.out"));
  assert.deepEqual(r.hunks, [{ file: "init/main.c", hunk: 1, status: "offset", at: 1357, offset: 5 }]);
  const f = cleanApplyFailures(PATCH_NAME, PATCH, r, 0);
  assert.equal(f.length, 1);
  assert.match(f[0]!, /^0001-init-say-which-kernel-this-is\.patch: init\/main\.c: hunk #1 \(@@ -1352,6 \+1352,7 @@\) applies only at an offset of 5 lines/);
});

test("fuzz is refused: with -F0 the hunk fails; with fuzz allowed it is still reported", () => {
  const refused = cleanApplyFailures(PATCH_NAME, PATCH, parsePatchOutput(fx("fuzz-refused.out")), 1);
  assert.match(refused[0]!, /init\/main\.c: hunk #1 .* does not apply/);
  const fuzzy = parsePatchOutput(fx("fuzz-allowed.out"));
  assert.equal(fuzzy.hunks[0]!.status, "fuzz");
  assert.match(cleanApplyFailures(PATCH_NAME, PATCH, fuzzy, 0)[0]!, /needs fuzz 1/);
});

test("already-applied and missing-file patches are refused with a reason", () => {
  assert.match(cleanApplyFailures(PATCH_NAME, PATCH, parsePatchOutput(fx("reversed.out")), 1).join("\n"), /already applied/);
  assert.match(cleanApplyFailures(PATCH_NAME, PATCH, parsePatchOutput(fx("missing.out")), 1).join("\n"), /does not exist/);
});

test("touched paths at -p1, renames, new and deleted files; escaping paths are caught", () => {
  assert.deepEqual(touchedPaths(PATCH), [{ old: "init/main.c", new: "init/main.c" }]);
  const git = "diff --git a/x b/y\nsimilarity index 90%\nrename from lib/old.c\nrename to lib/new.c\n--- a/lib/old.c\n+++ b/lib/new.c\n@@ -1 +1 @@\n-a\n+b\n--- /dev/null\n+++ b/lib/added.c\n@@ -0,0 +1 @@\n+x\n--- a/lib/gone.c\n+++ /dev/null\n@@ -1 +0,0 @@\n-x\n";
  assert.deepEqual(touchedPaths(git), [
    { old: "lib/old.c", new: "lib/new.c" },
    { old: "lib/old.c", new: "lib/new.c" },
    { old: undefined, new: "lib/added.c" },
    { old: "lib/gone.c", new: undefined },
  ]);
  assert.deepEqual(unsafePaths(touchedPaths("--- a/../etc/passwd\n+++ b/../etc/passwd\n")), ["../etc/passwd", "../etc/passwd"]);
  assert.equal(hunkHeader(PATCH, "init/main.c", 1), "@@ -1352,6 +1352,7 @@");
  assert.equal(patchSubject(PATCH), "[PATCH] init: say which kernel this is");
});

test("series files: comments, -p1 accepted, other levels refused with file:line", () => {
  const { entries, errors } = parseSeriesFile("# queue\n0001-a.patch\n0002-b.patch -p1\n\n0003-c.patch -p0 # old\n", "series");
  assert.deepEqual(entries.map((e) => [e.patch, e.line]), [["0001-a.patch", 2], ["0002-b.patch", 3], ["0003-c.patch", 5]]);
  assert.deepEqual(errors, ["series:5: option -p0 is not supported: kiln applies every patch at -p1"]);
});

/**
 * kiln-test-lane: side (no shared kiln home, no kernel build, no race against the clock; test/run.sh
 * runs it beside the main lane)
 * The patch classes on a small tree in a real git store, with real GNU patch: every class,
 * including "blocked" (a patch that builds on a conflicted one), and the refreshed text passing
 * the zero-offset gate. Seconds, no kernel tree.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { GitStore } from "../../src/effects/git.js";
import { classifySeries } from "../../src/bump/classify.js";
import { applySeries, type PatchFile } from "../../src/pipeline/apply_patches.js";
import { unified } from "../support/bump_patches.js";

const root = mkdtempSync(join(tmpdir(), "kiln-classify-"));
after(() => rmSync(root, { recursive: true, force: true }));

const lines = (tag: string, n: number) => Array.from({ length: n }, (_, i) => `${tag} line ${i + 1}: ${createHash("sha1").update(`${tag}${i}`).digest("hex").slice(0, 16)}`);
const text = (ls: string[]) => ls.join("\n") + "\n";

async function treeOf(git: GitStore, files: Record<string, string>): Promise<string> {
  const dir = mkdtempSync(join(root, "t-"));
  for (const [f, t] of Object.entries(files)) {
    mkdirSync(join(dir, f, ".."), { recursive: true });
    writeFileSync(join(dir, f), t);
  }
  const index = join(root, `index-${Date.now()}`);
  await git.git(["add", "-A", "."], { index, workTree: dir, cwd: dir });
  return git.out(["write-tree"], { index });
}

function patchFile(name: string, body: string): PatchFile {
  const path = join(root, name);
  const t = `From: Kiln Test <kiln@example.org>\nSubject: [PATCH] ${name}\nUpstream-Status: Pending\n---\n${body}`;
  writeFileSync(path, t);
  return { name, path, text: t, sha256: createHash("sha256").update(t).digest("hex") };
}

test("clean, offset, upstream, conflict and blocked on a real tree; the refresh passes the gate", async () => {
  const git = new GitStore(join(root, "git"));
  await git.init();
  const a = lines("a", 30), b = lines("b", 30), c = lines("c", 30), d = lines("d", 30);
  // the old tree the patches were made on, and the new one
  const edit = (ls: string[], i: number, s: string) => ls.map((l, j) => (j === i ? s : l));
  const cUp = edit(c, 10, "c changed upstream");
  const bNew = ["b new 1", "b new 2", "b new 3", ...b];
  const dNew = edit(d, 10, "d rewritten upstream");
  const tree = await treeOf(git, { "a.c": text(a), "b.c": text(bNew), "c.c": text(cUp), "d.c": text(dNew) });
  const d1 = edit(d, 10, "d line 11 edited by 4");
  const series = [
    patchFile("1-clean.patch", unified("a.c", text(a), text(edit(a, 4, "a edited")))),
    patchFile("2-offset.patch", unified("b.c", text(b), text(edit(b, 14, "b edited")))),
    patchFile("3-upstream.patch", unified("c.c", text(c), text(cUp))),
    patchFile("4-conflict.patch", unified("d.c", text(d), text(d1))),
    patchFile("5-blocked.patch", unified("d.c", text(d1), text(edit(d1, 11, "d line 12 edited by 5")))),
  ];
  const v = await classifySeries(git, tree, series, join(root, "scratch"));
  assert.deepEqual(v.map((x) => [x.name, x.class]), [["1-clean.patch", "clean"], ["2-offset.patch", "offset"], ["3-upstream.patch", "upstream"], ["4-conflict.patch", "conflict"], ["5-blocked.patch", "blocked"]]);
  assert.deepEqual(v[1]!.moved, [{ file: "b.c", hunk: 1, offset: 3, fuzz: 0 }]);
  assert.equal(v[4]!.blockedBy, "4-conflict.patch");
  assert.match(v[3]!.rejects ?? "", /^\+d line 11 edited by 4$/m);
  assert.deepEqual(v.map((x) => x.provenance.status), ["pending", "pending", "pending", "pending", "pending"]);
  // the refreshed offset patch keeps its header and applies with zero offset after the clean one
  const r = v[1]!.refreshed!;
  assert.ok(r.startsWith("From: Kiln Test <kiln@example.org>\nSubject: [PATCH] 2-offset.patch\nUpstream-Status: Pending\n---\n--- a/b.c\n+++ b/b.c\n@@ -15,"), r);
  const refreshed = patchFile("2-offset-refreshed.patch", r.slice(r.indexOf("--- a/b.c")));
  const res = await applySeries(git, tree, { patches: [series[0]!, refreshed] }, join(root, "cache"));
  assert.equal(res.applied.length, 2);
  await assert.rejects(applySeries(git, tree, { patches: [series[0]!, series[1]!] }, join(root, "cache")), /applies only at an offset of 3 lines/);
  // nothing is left in the scratch root
  assert.equal(execFileSync("find", [join(root, "scratch"), "-mindepth", "1"], { encoding: "utf8" }), "");
});

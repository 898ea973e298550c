/**
 * Warm trees linked from a sibling (ADR 0069), on a real git store with small real trees: a
 * second project's fresh tree is hard links of the first's, switching one never changes the
 * other, and a file edited in place by hand is reverted in every tree that shares it.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, appendFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { GitStore } from "../../src/effects/git.js";
import { paths, warmTree } from "../../src/store/paths.js";
import { prepareWorktree } from "../../src/pipeline/prepare_worktree.js";
import { acquire } from "../../src/effects/lock.js";

const root = mkdtempSync(join(tmpdir(), "kiln-link-"));
after(() => rmSync(root, { recursive: true, force: true }));

/** A tree object made from a folder of files. */
async function treeOf(git: GitStore, files: Record<string, string>): Promise<string> {
  const dir = mkdtempSync(join(root, "files-"));
  for (const [name, body] of Object.entries(files)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), body);
  }
  const index = join(dir, "..", `${Date.now()}-${Math.random()}.index`);
  await git.git(["add", "-A", "."], { index, workTree: dir, cwd: dir });
  const t = await git.out(["write-tree"], { index });
  rmSync(dir, { recursive: true, force: true });
  rmSync(index, { force: true });
  return t;
}

test("a fresh warm tree is linked from a sibling of the same base, and each tree switches alone", async () => {
  const p = paths(join(root, "home"));
  mkdirSync(p.locks, { recursive: true });
  const git = new GitStore(join(root, "home", "git"));
  await git.init();
  const base = await treeOf(git, { "Makefile": "VERSION = 6\n", "init/main.c": "int main;\n", "kernel/fork.c": "fork\n" });
  const patched = await treeOf(git, { "Makefile": "VERSION = 6\n", "init/main.c": "int main; /* patched */\n", "kernel/fork.c": "fork\n" });

  const a = warmTree(p, "proj-a", "base", "x86_64");
  const ra = await prepareWorktree(git, a, base, undefined, false, base);
  assert.equal(ra.mode, "fresh");

  // another project folder, the patched tree of the same base: linked, then switched
  const b = warmTree(p, "proj-b", "base", "x86_64");
  const rb = await prepareWorktree(git, b, patched, undefined, false, base);
  assert.equal(rb.mode, "linked");
  assert.equal(rb.linkedFrom, a.root);
  assert.equal(rb.changedFiles, 1);
  assert.equal(readFileSync(join(b.src, "init/main.c"), "utf8"), "int main; /* patched */\n");
  assert.equal(readFileSync(join(a.src, "init/main.c"), "utf8"), "int main;\n", "the donor is unchanged");
  // untouched files share their inode; the switched one does not
  assert.equal(statSync(join(a.src, "kernel/fork.c")).ino, statSync(join(b.src, "kernel/fork.c")).ino);
  assert.notEqual(statSync(join(a.src, "init/main.c")).ino, statSync(join(b.src, "init/main.c")).ino);

  // both trees see no change of their own after the link (ctime moved, content did not)
  const again = await prepareWorktree(git, a, base, undefined, false, base);
  assert.deepEqual([again.mode, again.changedFiles], ["unchanged", 0]);

  // an in-place edit by hand reaches both links; each tree's next prepare reverts it
  appendFileSync(join(b.src, "kernel/fork.c"), "edited by hand\n");
  assert.match(readFileSync(join(a.src, "kernel/fork.c"), "utf8"), /edited/);
  const fixA = await prepareWorktree(git, a, base, undefined, false, base);
  const fixB = await prepareWorktree(git, b, patched, undefined, false, base);
  assert.equal(fixA.mode, "switched");
  assert.equal(fixB.mode, "switched");
  assert.equal(readFileSync(join(a.src, "kernel/fork.c"), "utf8"), "fork\n");
  assert.equal(readFileSync(join(b.src, "kernel/fork.c"), "utf8"), "fork\n");
});

test("a busy sibling is passed over: the fresh tree is checked out instead", async () => {
  const p = paths(join(root, "home2"));
  mkdirSync(p.locks, { recursive: true });
  const git = new GitStore(join(root, "home2", "git"));
  await git.init();
  const t = await treeOf(git, { "README": "kernel\n" });
  const a = warmTree(p, "proj-a", "base", "aarch64");
  await prepareWorktree(git, a, t, undefined, false, t);
  const held = await acquire(a.lock);
  try {
    const b = warmTree(p, "proj-b", "base", "aarch64");
    const rb = await prepareWorktree(git, b, t, undefined, false, t);
    assert.equal(rb.mode, "fresh");
    assert.notEqual(statSync(join(a.src, "README")).ino, statSync(join(b.src, "README")).ino);
  } finally {
    await held.release();
  }
});

test("a sibling of another base is never a donor", async () => {
  const p = paths(join(root, "home3"));
  mkdirSync(p.locks, { recursive: true });
  const git = new GitStore(join(root, "home3", "git"));
  await git.init();
  const t61 = await treeOf(git, { "Makefile": "PATCHLEVEL = 1\n" });
  const t612 = await treeOf(git, { "Makefile": "PATCHLEVEL = 12\n" });
  await prepareWorktree(git, warmTree(p, "proj-a", "base", "x86_64"), t61, undefined, false, t61);
  const rb = await prepareWorktree(git, warmTree(p, "proj-b", "base", "x86_64"), t612, undefined, false, t612);
  assert.equal(rb.mode, "fresh");
});

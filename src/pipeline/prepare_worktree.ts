/**
 * Step 3, prepare_worktree: bring the target's warm source tree to the wanted tree id.
 * The warm tree keeps its own git index (state/index), so the switch rewrites only files whose
 * content differs; make then rebuilds incrementally. Local edits in the warm tree are reverted
 * (kiln's trees are kiln's), and files a previous series added are removed.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import type { GitStore } from "../effects/git.js";
import type { WarmTree } from "../store/paths.js";
import { ensureFree, writeFileAtomic } from "../effects/fsx.js";
import { tryAcquire } from "../effects/lock.js";
import { run } from "../effects/proc.js";

export interface WorktreeResult {
  src: string;
  build: string;
  /**
   * "fresh" (first checkout), "adopted" (the import's extraction), "linked" (hard links of a
   * sibling warm tree of the same tree or base, then switched), "switched" or "unchanged".
   */
  mode: "fresh" | "adopted" | "linked" | "switched" | "unchanged";
  /** For "linked": the warm tree the files were linked from. */
  linkedFrom?: string;
  changedFiles: number;
}

/** `baseTree`: the unpatched tree `tree` was made from, whose checkout size the import measured. */
export async function prepareWorktree(git: GitStore, warm: WarmTree, tree: string, adoptable?: { dir: string; index: string }, wipeBuild = false, baseTree?: string): Promise<WorktreeResult> {
  mkdirSync(warm.state, { recursive: true });
  const index = join(warm.state, "index");
  const headFile = join(warm.state, "tree");
  if (wipeBuild) rmSync(warm.build, { recursive: true, force: true });
  mkdirSync(warm.build, { recursive: true });
  const current = existsSync(headFile) && existsSync(index) && existsSync(warm.src) ? readFileSync(headFile, "utf8").trim() : undefined;
  if (!current) {
    rmSync(warm.src, { recursive: true, force: true });
    rmSync(index, { force: true });
    let mode: WorktreeResult["mode"] = "fresh";
    let linkedFrom: string | undefined;
    if (adoptable && existsSync(adoptable.dir)) {
      renameSync(adoptable.dir, warm.src);
      renameSync(adoptable.index, index);
      mode = "adopted";
    } else if ((linkedFrom = await linkFromSibling(warm, index, tree, baseTree))) {
      mode = "linked";
    } else {
      mkdirSync(warm.src, { recursive: true });
      // a kernel checkout is about 1.5-1.7 GiB; the import measured this tree's (or its base's)
      ensureFree(warm.src, (git.checkoutBytes(tree) ?? (baseTree ? git.checkoutBytes(baseTree) : undefined) ?? 1.8 * 1024 ** 3) + 256 * 1024 ** 2, `checking out the warm tree ${tree.slice(0, 12)}`);
      await git.git(["read-tree", tree], { index });
      await git.git(["checkout-index", "-a", "-f"], { index, workTree: warm.src });
      // Files written in the same second as the index are "racily clean" to git and would be
      // hashed again by the next build's refresh. Settle that now, while the build is cold anyway.
      await new Promise((r) => setTimeout(r, 1100 - (Date.now() % 1000)));
      await git.git(["update-index", "-q", "--refresh"], { index, workTree: warm.src, cwd: warm.src, allowFail: true });
    }
    // adopted trees are the base import and linked ones a sibling's tree: switch to the wanted one
    const n = mode === "fresh" ? 0 : await switchTree(git, warm, index, tree);
    if (baseTree) writeFileAtomic(join(warm.state, "base"), baseTree);
    writeFileAtomic(headFile, tree);
    return { src: warm.src, build: warm.build, mode, changedFiles: n, ...(linkedFrom ? { linkedFrom } : {}) };
  }
  if (adoptable) rmSync(adoptable.dir, { recursive: true, force: true }), rmSync(adoptable.index, { force: true });
  const n = await switchTree(git, warm, index, tree);
  if (baseTree) writeFileAtomic(join(warm.state, "base"), baseTree);
  writeFileAtomic(headFile, tree);
  return { src: warm.src, build: warm.build, mode: n || current !== tree ? "switched" : "unchanged", changedFiles: n };
}

/** Revert local edits, then move the index and files to `tree`. Returns how many paths changed. */
async function switchTree(git: GitStore, warm: WarmTree, index: string, tree: string): Promise<number> {
  const o = { index, workTree: warm.src, cwd: warm.src };
  await git.git(["update-index", "-q", "--refresh"], { ...o, allowFail: true });
  const dirty = (await git.out(["diff-files", "--name-only", "-z"], o)).split("\0").filter(Boolean);
  if (dirty.length) await git.git(["checkout-index", "-f", "-z", "--stdin"], { ...o, input: dirty.join("\0") + "\0" });
  const changed = (await git.out(["diff-index", "--cached", "--name-only", "-z", tree], o)).split("\0").filter(Boolean);
  if (changed.length) await git.git(["read-tree", "--reset", "-u", tree], o);
  return changed.length + dirty.length;
}

/**
 * A fresh warm tree made of hard links to a sibling's files (another project folder, target or
 * arch on the same tree or the same base; ADR 0069). About 2 s against about 30 s for writing
 * 86,000 files, and no second 1.7 GiB on disk. It is safe because git never writes a tracked file
 * in place: a switch or a revert unlinks the old file and writes a new one, so one tree's change
 * never reaches another (the build writes only under its own O= folder). A file edited in place
 * by hand changes every linked tree's stat data, so each tree's next refresh sees it dirty and
 * reverts it. The donor is taken only under its own tree lock, taken without waiting: a donor
 * that is busy is passed over. Returns the donor's root, or undefined when no donor was usable.
 */
async function linkFromSibling(warm: WarmTree, index: string, tree: string, baseTree?: string): Promise<string | undefined> {
  const work = dirname(dirname(warm.root));
  const locks = dirname(warm.lock);
  const donors: { root: string; lock: string; exact: boolean }[] = [];
  for (const proj of safeList(work)) {
    for (const cell of safeList(join(work, proj))) {
      const root = join(work, proj, cell);
      if (root === warm.root) continue;
      const at = readState(join(root, "state", "tree"));
      const base = readState(join(root, "state", "base"));
      const exact = at === tree;
      if (!exact && !(baseTree && (at === baseTree || base === baseTree))) continue;
      donors.push({ root, lock: join(locks, `tree-${proj}-${cell}.lock`), exact });
    }
  }
  donors.sort((a, b) => Number(b.exact) - Number(a.exact));
  for (const d of donors.slice(0, 4)) {
    const held = await tryAcquire(d.lock);
    if (!held) continue;
    try {
      const src = join(d.root, "src");
      const donorIndex = join(d.root, "state", "index");
      const at = readState(join(d.root, "state", "tree"));
      if (!at || !existsSync(donorIndex) || !existsSync(src)) continue;
      // the index first, so a tree that changes later is only ever "dirty", never trusted
      copyFileSync(donorIndex, index);
      const r = await run(["cp", "-al", "--", src, warm.src], { allowFail: true });
      if (r.exitCode !== 0) {
        rmSync(warm.src, { recursive: true, force: true });
        rmSync(index, { force: true });
        continue;
      }
      return d.root;
    } finally {
      await held.release();
    }
  }
  return undefined;
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir).filter((n) => !n.startsWith("."));
  } catch {
    return [];
  }
}

function readState(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

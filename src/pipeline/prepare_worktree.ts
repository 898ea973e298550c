/**
 * Step 3, prepare_worktree: bring the target's warm source tree to the wanted tree id.
 * The warm tree keeps its own git index (state/index), so the switch rewrites only files whose
 * content differs; make then rebuilds incrementally. Local edits in the warm tree are reverted
 * (kiln's trees are kiln's), and files a previous series added are removed.
 */
import { existsSync, mkdirSync, renameSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { GitStore } from "../effects/git.js";
import type { WarmTree } from "../store/paths.js";
import { ensureFree, writeFileAtomic } from "../effects/fsx.js";

export interface WorktreeResult {
  src: string;
  build: string;
  /** "fresh" (first checkout), "adopted" (the import's extraction), "switched" or "unchanged". */
  mode: "fresh" | "adopted" | "switched" | "unchanged";
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
    if (adoptable && existsSync(adoptable.dir)) {
      renameSync(adoptable.dir, warm.src);
      renameSync(adoptable.index, index);
      mode = "adopted";
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
    // adopted trees are the base import; switch to the wanted (maybe patched) tree
    const n = mode === "adopted" ? await switchTree(git, warm, index, tree) : 0;
    writeFileAtomic(headFile, tree);
    return { src: warm.src, build: warm.build, mode, changedFiles: n };
  }
  if (adoptable) rmSync(adoptable.dir, { recursive: true, force: true }), rmSync(adoptable.index, { force: true });
  const n = await switchTree(git, warm, index, tree);
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

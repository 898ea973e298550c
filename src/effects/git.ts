/**
 * kiln's one object store for source trees: a bare git repository under KILN_HOME/git.
 * Trees are imported once per tarball (content-addressed) and checked out into warm trees
 * with a per-tree index, so switching trees rewrites only the files whose content changed.
 * Warm trees hold no .git, so the kernel's setlocalversion sees a plain tree.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { writeFileAtomic } from "./fsx.js";
import { join } from "node:path";
import { run, output, type RunOptions } from "./proc.js";

export class GitStore {
  constructor(readonly dir: string) {}

  /** Bytes a checkout of `tree` took when it was imported (recorded then), if known. */
  checkoutBytes(tree: string): number | undefined {
    const f = join(this.dir, "kiln-sizes", tree);
    if (!existsSync(f)) return undefined;
    const n = Number(readFileSync(f, "utf8").trim());
    return Number.isFinite(n) && n > 0 ? n : undefined;
  }

  /** Remembers what a checkout of `tree` takes on disk (the import's measured footprint). */
  recordCheckoutBytes(tree: string, bytes: number): void {
    if (!(bytes > 0)) return;
    writeFileAtomic(join(this.dir, "kiln-sizes", tree), String(Math.round(bytes)));
  }

  async init(): Promise<void> {
    if (existsSync(join(this.dir, "HEAD"))) return;
    mkdirSync(this.dir, { recursive: true });
    await run(["git", "init", "-q", "--bare", this.dir]);
    for (const [k, v] of [
      ["gc.auto", "0"],
      ["core.compression", "1"],
      ["core.looseCompression", "1"],
      ["core.bigFileThreshold", "16m"],
      ["core.excludesFile", "/dev/null"],
    ] as const)
      await run(["git", "--git-dir", this.dir, "config", k, v]);
  }

  /** Run git on this store; indexFile and workTree select a tree's index and files. */
  git(args: readonly string[], o: { index?: string; workTree?: string } & RunOptions = {}) {
    const argv = ["git", "--git-dir", this.dir];
    // warm trees may be hard links of each other (prepare_worktree, ADR 0069): linking changes a
    // file's ctime, not its content, so a tree's index compares mtime, size and inode only
    if (o.workTree) argv.push("-c", "core.trustctime=false", "--work-tree", o.workTree);
    const env = { ...(o.env ?? {}), ...(o.index ? { GIT_INDEX_FILE: o.index } : {}), GIT_CONFIG_NOSYSTEM: "1" };
    return run([...argv, ...args], { ...o, env });
  }

  async out(args: readonly string[], o: { index?: string; workTree?: string } & RunOptions = {}): Promise<string> {
    return (await this.git(args, o)).stdout.trim();
  }

  async hasObject(oid: string): Promise<boolean> {
    const r = await this.git(["cat-file", "-e", oid], { allowFail: true });
    return r.exitCode === 0;
  }

  /** Keep an object reachable (kiln never runs gc, but a person might). */
  async keep(kind: string, oid: string): Promise<void> {
    await this.git(["update-ref", `refs/kiln/${kind}/${oid}`, oid]);
  }
}

export async function gitVersion(): Promise<string> {
  return output(["git", "--version"]);
}

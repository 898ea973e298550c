/**
 * A local git repository made from Debian's 6.12 tree for `kiln bisect` tests: a base commit whose
 * tree is the test store's imported tree (its date the import's timestamp, so the example built
 * from it has the example's own identity and is a store hit), and small commits on top, each
 * touching one .c file. The repository borrows the test store's objects (objects/info/alternates),
 * so it is made in a second and kiln's fetch of it moves only the new commits.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TEST_CACHE } from "./trees.js";
import { TEST_HOME } from "./kiln.js";

export interface Change {
  /** One line for the commit subject. */
  subject: string;
  file: string;
  /** The new content from the current one. */
  edit(text: string): string;
}

const gitEnv = { ...process.env, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" };
const who = (d: number) => ({ GIT_AUTHOR_NAME: "Ada Tester", GIT_AUTHOR_EMAIL: "ada@example.org", GIT_COMMITTER_NAME: "Ada Tester", GIT_COMMITTER_EMAIL: "ada@example.org", GIT_AUTHOR_DATE: `@${d} +0000`, GIT_COMMITTER_DATE: `@${d} +0000` });
export const git = (gitDir: string, args: string[], env: Record<string, string> = {}, input?: string) =>
  execFileSync("git", ["--git-dir", gitDir, ...args], { encoding: "utf8", env: { ...gitEnv, ...env }, maxBuffer: 64 << 20, ...(input !== undefined ? { input } : {}) }).trim();

export interface BisectRepo {
  dir: string;
  /** commits[0] is the base (the Debian tree); commits[i] applies changes[i-1]. */
  commits: string[];
  remove(): void;
}

/** A change to a file's header comment that keeps its line count (the file recompiles, nothing else). */
export function comment(file: string, n: number): Change {
  return {
    subject: `${file.split("/").slice(-2).join("/")}: a comment (test commit ${n})`,
    file,
    edit: (t) => {
      const at = t.indexOf("\n", t.indexOf("\n") + 1); // the end of the second line: inside the header comment
      const line2 = t.slice(t.indexOf("\n") + 1, at);
      if (!/^\/\*/.test(line2) && !/^ \*/.test(line2)) throw new Error(`${file}: the second line is not a comment: ${line2}`);
      return `${t.slice(0, at)} (kiln bisect test ${n})${t.slice(at)}`;
    },
  };
}

/** Make the repository: base = `baseTree` dated `timestamp`, then one commit per change. */
export function bisectRepo(name: string, baseTree: string, timestamp: number, changes: Change[]): BisectRepo {
  const root = join(TEST_CACHE, "git-pins");
  mkdirSync(root, { recursive: true });
  const dir = join(root, `${name}.git`);
  const store = join(TEST_HOME, "git");
  rmSync(dir, { recursive: true, force: true });
  git(dir, ["init", "-q", "--bare"]);
  writeFileSync(join(dir, "objects", "info", "alternates"), join(store, "objects") + "\n");
  const commits = [git(store, ["commit-tree", baseTree, "-m", "Linux 6.12 (Debian's linux-source-6.12)"], who(timestamp))];
  const index = `${dir}.index`;
  try {
    git(dir, ["read-tree", baseTree], { GIT_INDEX_FILE: index });
    changes.forEach((c, i) => {
      const before = git(dir, ["show", `:${c.file}`], { GIT_INDEX_FILE: index }) + "\n";
      const after = c.edit(before);
      if (after === before) throw new Error(`change ${i + 1} (${c.subject}) leaves ${c.file} as it was`);
      const blob = git(dir, ["hash-object", "-w", "--stdin"], {}, after);
      git(dir, ["update-index", "--cacheinfo", `100644,${blob},${c.file}`], { GIT_INDEX_FILE: index });
      const tree = git(dir, ["write-tree"], { GIT_INDEX_FILE: index });
      commits.push(git(dir, ["commit-tree", tree, "-p", commits[i]!, "-m", c.subject], who(timestamp + 60 * (i + 1))));
    });
  } finally {
    rmSync(index, { force: true });
  }
  git(dir, ["update-ref", "refs/heads/master", commits[commits.length - 1]!]);
  git(dir, ["update-ref", "refs/tags/base", commits[0]!]);
  return { dir, commits, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The example's kiln.toml with its Debian pin replaced by a git pin of `repo` at `ref`. */
export function withGitPin(toml: string, repo: string, ref: string): string {
  const out = toml.replace(/\[source\.linux\]\ndebian = "linux-source-6\.12"\n/, `[source.linux]\ngit = "${repo}"\nref = "${ref}"\n`);
  if (out === toml) throw new Error("examples/microvm/kiln.toml changed shape: test/support/bisect_repo.ts cannot replace its [source.linux] pin");
  return out;
}

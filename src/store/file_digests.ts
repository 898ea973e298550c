/**
 * Digests of big local files kiln reads on every unlocked run (Debian's installed
 * /usr/src/linux-source-X.Y.tar.xz: checked against dpkg's md5sums, then hashed for the content
 * cache), kept across runs in KILN_HOME/file-digests.json and keyed by the file's identity (path,
 * size, mtime, ctime, inode), as git's index and the toolchain facts are: the same file is read
 * once, not 150 MB on every build from a fresh folder. Any change to the file changes its ctime.
 */
import { createHash } from "node:crypto";
import { createReadStream, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../effects/fsx.js";

export interface FileDigests {
  sha256: string;
  md5: string;
}

function identity(path: string): string {
  const st = statSync(path);
  return `${path}\0${st.size}\0${st.mtimeMs}\0${st.ctimeMs}\0${st.ino}\0${st.dev}`;
}

/** sha256 and md5 in one pass over the file. */
export async function hashFile(path: string): Promise<FileDigests> {
  const s = createHash("sha256");
  const m = createHash("md5");
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    s.update(chunk as Buffer);
    m.update(chunk as Buffer);
  }
  return { sha256: s.digest("hex"), md5: m.digest("hex") };
}

/** The file's digests, from the cache when its identity is unchanged, else hashed and remembered. */
export async function fileDigests(home: string, path: string): Promise<FileDigests> {
  const cacheFile = join(home, "file-digests.json");
  let cache: Record<string, FileDigests> = {};
  try {
    cache = JSON.parse(readFileSync(cacheFile, "utf8")) as Record<string, FileDigests>;
    if (typeof cache !== "object" || cache === null || Array.isArray(cache)) cache = {};
  } catch {
    cache = {}; // absent or damaged: rebuilt
  }
  const id = identity(path);
  const hit = cache[id];
  if (hit && /^[0-9a-f]{64}$/.test(hit.sha256) && /^[0-9a-f]{32}$/.test(hit.md5)) return hit;
  const d = await hashFile(path);
  // the file must not have changed while it was read
  if (identity(path) !== id) return d;
  for (const k of Object.keys(cache)) if (k.startsWith(`${path}\0`)) delete cache[k];
  cache[id] = d;
  writeFileAtomic(cacheFile, JSON.stringify(cache));
  return d;
}

/**
 * A key for what apt knows: the files of its package lists, dpkg's status and apt's own
 * configuration (names, sizes, mtimes). `apt-get update`, an install or a changed source list
 * changes it. Undefined when apt's folders cannot be read (then nothing is cached).
 */
export function aptStateKey(roots: readonly string[] = ["/var/lib/apt/lists", "/etc/apt", "/etc/apt/preferences.d", "/etc/apt/sources.list.d"], files: readonly string[] = ["/var/lib/dpkg/status"]): string | undefined {
  const h = createHash("sha256");
  try {
    for (const f of files) {
      const st = statSync(f);
      h.update(`${f}\0${st.size}\0${st.mtimeMs}\0`);
    }
    for (const d of roots) {
      let names: string[];
      try {
        names = readdirSync(d).sort();
      } catch {
        h.update(`${d}\0-\0`);
        continue;
      }
      for (const n of names) {
        const st = statSync(join(d, n));
        if (st.isFile()) h.update(`${d}/${n}\0${st.size}\0${st.mtimeMs}\0`);
      }
    }
  } catch {
    return undefined;
  }
  return h.digest("hex");
}

/** A cached answer for a query under a state key (KILN_HOME/<name>.json holds the last few). */
export function cachedAnswer(home: string, name: string, state: string, query: string): string | undefined {
  try {
    const c = JSON.parse(readFileSync(join(home, `${name}.json`), "utf8")) as { state?: string; answers?: Record<string, string> };
    return c.state === state && typeof c.answers?.[query] === "string" ? c.answers[query] : undefined;
  } catch {
    return undefined;
  }
}

export function rememberAnswer(home: string, name: string, state: string, query: string, answer: string): void {
  const file = join(home, `${name}.json`);
  let answers: Record<string, string> = {};
  try {
    const c = JSON.parse(readFileSync(file, "utf8")) as { state?: string; answers?: Record<string, string> };
    if (c.state === state && c.answers && typeof c.answers === "object") answers = c.answers;
  } catch {
    /* a new cache */
  }
  answers[query] = answer;
  writeFileAtomic(file, JSON.stringify({ state, answers }));
}

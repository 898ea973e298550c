/**
 * Where kiln keeps things. Everything lives under one home folder:
 *   KILN_HOME (default $XDG_CACHE_HOME/kiln or ~/.cache/kiln)
 *     downloads/sha256/<hex>.<ext>   content-addressed source tarballs
 *     git/                           one object store for every imported source tree
 *     work/<project-id>/<target>-<arch>/{src,build,state}   warm trees
 *     store/<release>/               finished builds, moved in atomically
 *     store/.tmp/                    installs in progress (never read as entries)
 *     ccache/                        the shared compiler cache
 *     locks/                         flock files
 */
import { homedir } from "node:os";
import { join } from "node:path";
import { createHash } from "node:crypto";

export function kilnHome(): string {
  if (process.env.KILN_HOME) return process.env.KILN_HOME;
  const xdg = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return join(xdg, "kiln");
}

export interface Paths {
  home: string;
  downloads: string;
  git: string;
  work: string;
  store: string;
  storeTmp: string;
  ccache: string;
  locks: string;
}

export function paths(home = kilnHome()): Paths {
  return {
    home,
    downloads: join(home, "downloads"),
    git: join(home, "git"),
    work: join(home, "work"),
    store: join(home, "store"),
    storeTmp: join(home, "store", ".tmp"),
    ccache: process.env.KILN_CCACHE_DIR ?? join(home, "ccache"),
    locks: join(home, "locks"),
  };
}

/** A stable id for a project folder: its name plus a short hash of its absolute path. */
export function projectId(name: string, dir: string): string {
  return `${name}-${createHash("sha256").update(dir).digest("hex").slice(0, 8)}`;
}

export interface WarmTree {
  root: string;
  src: string;
  build: string;
  /** kiln's own state for this tree: the git index of src, the last build's line count… */
  state: string;
  lock: string;
}

export function warmTree(p: Paths, projId: string, target: string, arch: string): WarmTree {
  const root = join(p.work, projId, `${target}-${arch}`);
  return {
    root,
    src: join(root, "src"),
    build: join(root, "build"),
    state: join(root, "state"),
    lock: join(p.locks, `tree-${projId}-${target}-${arch}.lock`),
  };
}

/**
 * The local store: finished builds keyed by kernel release. An entry is complete or absent:
 * installs happen in store/.tmp/ and move in with one rename.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Paths } from "./paths.js";
import { parseManifest, type Manifest } from "../core/manifest.js";
import { KilnError } from "../errors.js";
import { pidAlive } from "../effects/proc.js";

export interface StoreEntry {
  release: string;
  dir: string;
  manifest?: Manifest;
  bytes: number;
  lastUsed: Date;
}

export function entryDir(p: Paths, release: string): string {
  return join(p.store, release);
}

export function hasEntry(p: Paths, release: string): boolean {
  return existsSync(join(entryDir(p, release), "manifest.json"));
}

/**
 * Read and validate a manifest.json (a store entry's, or a warm tree's state): the one way kiln
 * reads a manifest back. A missing, damaged or foreign file is a KilnError naming the file and the
 * first schema issue.
 */
export function readManifest(file: string): Manifest {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new KilnError(`cannot read the manifest ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { file }, "build first: kiln build");
  }
  return parseManifest(text, { file });
}

export function readEntryManifest(p: Paths, release: string): Manifest | undefined {
  const f = join(entryDir(p, release), "manifest.json");
  return existsSync(f) ? readManifest(f) : undefined;
}

/** Record a use, for gc. */
export function touchEntry(p: Paths, release: string): void {
  const f = join(entryDir(p, release), ".last-used");
  try {
    writeFileSync(f, "");
    const now = new Date();
    utimesSync(f, now, now);
  } catch {
    /* read-only store: fine */
  }
}

/** Move a finished install into the store. Returns false when another build got there first. */
export function commitEntry(p: Paths, tmpDir: string, release: string): boolean {
  const dest = entryDir(p, release);
  if (existsSync(dest)) {
    rmSync(tmpDir, { recursive: true, force: true });
    return false;
  }
  try {
    renameSync(tmpDir, dest);
    return true;
  } catch (e) {
    rmSync(tmpDir, { recursive: true, force: true });
    if (existsSync(dest)) return false;
    throw e;
  }
}

export function newTmpDir(p: Paths, release: string): string {
  mkdirSync(p.storeTmp, { recursive: true });
  const dir = join(p.storeTmp, `${release}.${process.pid}.${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

export function duBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const f = join(dir, e.name);
    if (e.isDirectory()) n += duBytes(f);
    else if (e.isFile()) n += statSync(f).size;
  }
  return n;
}

export function listEntries(p: Paths): StoreEntry[] {
  if (!existsSync(p.store)) return [];
  return readdirSync(p.store)
    .filter((n) => !n.startsWith(".") && existsSync(join(p.store, n, "manifest.json")))
    .map((release) => {
      const dir = join(p.store, release);
      const lu = join(dir, ".last-used");
      let manifest: Manifest | undefined;
      try {
        manifest = readManifest(join(dir, "manifest.json"));
      } catch {
        manifest = undefined;
      }
      return { release, dir, manifest, bytes: duBytes(dir), lastUsed: existsSync(lu) ? statSync(lu).mtime : statSync(dir).mtime };
    })
    .sort((a, b) => b.lastUsed.getTime() - a.lastUsed.getTime());
}

export interface GcPlan {
  remove: StoreEntry[];
  tmp: string[];
}

/** Pure: which entries to remove: unused for longer than maxAgeDays, beyond keepLatest per (project, target, arch). */
export function planGc(entries: StoreEntry[], opts: { maxAgeDays?: number; keepLatest?: number; now?: Date }): StoreEntry[] {
  const now = opts.now ?? new Date();
  const byKey = new Map<string, StoreEntry[]>();
  for (const e of entries) {
    const k = e.manifest ? `${e.manifest.project.name}/${e.manifest.target}/${e.manifest.arch}` : e.release;
    byKey.set(k, [...(byKey.get(k) ?? []), e]);
  }
  const out: StoreEntry[] = [];
  for (const list of byKey.values()) {
    list.sort((a, b) => b.lastUsed.getTime() - a.lastUsed.getTime());
    list.forEach((e, i) => {
      const old = opts.maxAgeDays !== undefined && now.getTime() - e.lastUsed.getTime() > opts.maxAgeDays * 86400_000;
      const extra = opts.keepLatest !== undefined && i >= opts.keepLatest;
      if (old || extra) out.push(e);
    });
  }
  return out;
}

/** Leftovers of killed installs: tmp dirs whose owner process is gone. */
export function staleTmp(p: Paths): string[] {
  if (!existsSync(p.storeTmp)) return [];
  return readdirSync(p.storeTmp)
    .filter((n) => {
      const pid = Number(/\.(\d+)\.\d+$/.exec(n)?.[1]);
      return !pid || !pidAlive(pid);
    })
    .map((n) => join(p.storeTmp, n));
}

/** A warm tree (work/<project-id>/<target>-<arch>) and why gc may remove it. */
export interface WarmCell {
  dir: string;
  /** The tree lock builds of this cell hold (store/paths.ts warmTree). */
  lock: string;
  project?: string;
  lastUsed: Date;
}

/** The warm trees under work/, with the project folder their last build came from. */
export function listWarmCells(p: Paths): WarmCell[] {
  if (!existsSync(p.work)) return [];
  const out: WarmCell[] = [];
  for (const proj of readdirSync(p.work)) {
    const pdir = join(p.work, proj);
    if (proj.startsWith(".") || !statSync(pdir).isDirectory()) continue;
    for (const cell of readdirSync(pdir)) {
      const dir = join(pdir, cell);
      if (!statSync(dir).isDirectory()) continue;
      const state = join(dir, "state");
      let project: string | undefined;
      for (const f of ["manifest.json", "configured.json"]) {
        try {
          project ??= (JSON.parse(readFileSync(join(state, f), "utf8")) as { project?: { dir?: string } }).project?.dir;
        } catch {
          /* no record yet */
        }
      }
      const stamps = ["tree", "manifest.json", "configured.json", "configure.json"].map((f) => join(state, f)).filter((f) => existsSync(f));
      const lastUsed = new Date(Math.max(statSync(dir).mtimeMs, ...stamps.map((f) => statSync(f).mtimeMs)));
      out.push({ dir, lock: join(p.locks, `tree-${proj}-${cell}.lock`), ...(project ? { project } : {}), lastUsed });
    }
  }
  return out;
}

/** Pure: warm trees whose project folder is gone, or unused for longer than maxAgeDays, with the reason. */
export function planWarmGc(cells: WarmCell[], opts: { maxAgeDays: number; now?: Date; exists: (dir: string) => boolean }): { cell: WarmCell; why: string }[] {
  const now = (opts.now ?? new Date()).getTime();
  const out: { cell: WarmCell; why: string }[] = [];
  for (const c of cells) {
    const days = (now - c.lastUsed.getTime()) / 86400_000;
    if (c.project && !opts.exists(c.project)) out.push({ cell: c, why: `its project folder ${c.project} is gone` });
    else if (days > opts.maxAgeDays) out.push({ cell: c, why: `unused for ${Math.floor(days)} days` });
  }
  return out;
}

/**
 * Resolve the pins a command needs, honouring kiln.lock: a locked pin is used as locked; a pin
 * whose declaration changed (or that is new) is resolved again and the lock rewritten.
 * With --locked, any disagreement is refused before anything is fetched.
 */
import { LockError } from "../errors.js";
import type { Project } from "../project/load.js";
import { readLock, writeLock, lockDisagreements, type Lock, type LockEntry } from "../project/lock.js";
import { GitStore } from "../effects/git.js";
import { rmSync } from "node:fs";
import { prepareSource, type Adoptable } from "./prepare_source.js";
import type { Paths } from "../store/paths.js";
import type { Ui } from "../ui/log.js";

export interface ResolveOptions {
  locked?: boolean;
  /** Re-resolve these pins even when locked (kiln lock --update). */
  update?: string[];
  /**
   * Resolve from these entries instead of kiln.lock, and write no lock: a bisect step builds a
   * commit the project does not pin, and the project's kiln.lock stays as it was.
   */
  lockOverride?: Record<string, LockEntry>;
  paths: Paths;
  ui: Ui;
}

/**
 * The pins a command resolved, and the fresh extractions their import left behind. A value, not
 * module state: the first warm tree of a base tree adopts its extraction (`adopt`), and
 * `withSources` removes what nobody adopted, in one place.
 */
export class Sources {
  readonly #adoptable: Map<string, Adoptable>;
  constructor(
    readonly entries: Readonly<Record<string, LockEntry>>,
    adoptable: Map<string, Adoptable> = new Map(),
  ) {
    this.#adoptable = adoptable;
  }

  /** Hand over an import's extraction (resolveSources does, once per imported tree). */
  offer(tree: string, a: Adoptable): void {
    this.#adoptable.set(tree, a);
  }

  /** The resolved pin; throws on a name the caller did not resolve (a kiln bug). */
  entry(name: string): LockEntry {
    const e = this.entries[name];
    if (!e) throw new Error(`source "${name}" was not resolved`);
    return e;
  }

  /** The fresh extraction of this base tree, once: later calls get undefined. */
  adopt(tree: string): Adoptable | undefined {
    const a = this.#adoptable.get(tree);
    this.#adoptable.delete(tree);
    return a;
  }

  /** Remove every extraction nobody adopted. */
  discard(): void {
    for (const a of this.#adoptable.values()) {
      rmSync(a.dir, { recursive: true, force: true });
      rmSync(a.index, { force: true });
    }
    this.#adoptable.clear();
  }
}

/** Resolve the pins, run fn with them, then remove any extraction nobody adopted. */
export async function withSources<T>(project: Project, names: string[], o: ResolveOptions, fn: (s: Sources) => Promise<T>): Promise<T> {
  const sources = await resolveSources(project, names, o);
  try {
    return await fn(sources);
  } finally {
    sources.discard();
  }
}

/** Resolve the pins. The caller owns the result and must `discard()` it; prefer withSources. */
export async function resolveSources(project: Project, names: string[], o: ResolveOptions): Promise<Sources> {
  const lock: Lock = o.lockOverride ? { version: 1, source: { ...o.lockOverride } } : readLock(project.dir) ?? { version: 1, source: {} };
  if (o.locked && !o.lockOverride) {
    const d = lockDisagreements(Object.fromEntries(names.map((n) => [n, project.pins[n]!])), readLock(project.dir) && lock).filter((l) => !/no longer declares/.test(l));
    if (d.length) throw new LockError(`--locked: kiln.toml and kiln.lock disagree:\n  ${d.join("\n  ")}`, { file: `${project.dir}/kiln.lock` }, "run `kiln lock` (or a build without --locked) and commit kiln.lock");
  }
  const git = new GitStore(o.paths.git);
  await git.init();
  const out: Record<string, LockEntry> = {};
  const sources = new Sources(out, new Map());
  try {
    let changed = false;
    for (const name of names) {
      const pin = project.pins[name]!;
      const prev = o.update?.includes(name) ? undefined : lock.source[name];
      const prepared = await prepareSource(name, pin, prev, { projectDir: project.dir, paths: o.paths, git, ui: o.ui });
      out[name] = prepared.entry;
      if (prepared.adoptable) sources.offer(prepared.entry.tree, prepared.adoptable);
      if (JSON.stringify(prev) !== JSON.stringify(prepared.entry)) {
        if (o.locked) throw new LockError(`--locked: source "${name}" resolved to something other than kiln.lock records`, { file: `${project.dir}/kiln.lock` }, `run \`kiln lock --update ${name}\` and commit kiln.lock`);
        lock.source[name] = prepared.entry;
        changed = true;
      }
    }
    if (changed && !o.lockOverride) {
      writeLock(project.dir, lock);
      o.ui.debug("kiln.lock written");
    }
    return sources;
  } catch (e) {
    sources.discard();
    throw e;
  }
}

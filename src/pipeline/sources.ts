/**
 * Resolve the pins a command needs, honouring kiln.lock: a locked pin is used as locked; a pin
 * whose declaration changed (or that is new) is resolved again and the lock rewritten.
 * With --locked, any disagreement is refused before anything is fetched.
 */
import { LockError } from "../errors.js";
import type { Project } from "../project/load.js";
import { readLock, writeLock, lockDisagreements, type Lock, type LockEntry } from "../project/lock.js";
import { GitStore } from "../effects/git.js";
import { prepareSource } from "./prepare_source.js";
import type { Paths } from "../store/paths.js";
import type { Ui } from "../ui/log.js";

export interface ResolveOptions {
  locked?: boolean;
  /** Re-resolve these pins even when locked (kiln lock --update). */
  update?: string[];
  paths: Paths;
  ui: Ui;
}

export async function resolveSources(project: Project, names: string[], o: ResolveOptions): Promise<Record<string, LockEntry>> {
  const lock: Lock = readLock(project.dir) ?? { version: 1, source: {} };
  if (o.locked) {
    const d = lockDisagreements(Object.fromEntries(names.map((n) => [n, project.pins[n]!])), readLock(project.dir) && lock).filter((l) => !/no longer declares/.test(l));
    if (d.length) throw new LockError(`--locked: kiln.toml and kiln.lock disagree:\n  ${d.join("\n  ")}`, { file: `${project.dir}/kiln.lock` }, "run `kiln lock` (or a build without --locked) and commit kiln.lock");
  }
  const git = new GitStore(o.paths.git);
  await git.init();
  const out: Record<string, LockEntry> = {};
  let changed = false;
  for (const name of names) {
    const pin = project.pins[name]!;
    const prev = o.update?.includes(name) ? undefined : lock.source[name];
    const prepared = await prepareSource(name, pin, prev, { projectDir: project.dir, paths: o.paths, git, ui: o.ui });
    out[name] = prepared.entry;
    if (JSON.stringify(prev) !== JSON.stringify(prepared.entry)) {
      if (o.locked) throw new LockError(`--locked: source "${name}" resolved to something other than kiln.lock records`, { file: `${project.dir}/kiln.lock` }, `run \`kiln lock --update ${name}\` and commit kiln.lock`);
      lock.source[name] = prepared.entry;
      changed = true;
    }
  }
  if (changed) {
    writeLock(project.dir, lock);
    o.ui.debug("kiln.lock written");
  }
  return out;
}

/**
 * kiln.lock: what each source pin resolved to. Written by the first build, read by later ones.
 * `--locked` refuses to build when the project and the lock disagree.
 */
import { readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { parse as parseToml, stringify as stringifyToml } from "smol-toml";
import { z } from "zod";
import { LockError } from "../errors.js";
import { firstIssue } from "../core/schema_issue.js";
import { writeFileAtomic } from "../effects/fsx.js";
import type { Pin } from "./schema.js";

export const LOCK_FILE = "kiln.lock";

export const LockEntrySchema = z.object({
  /** Hash of the pin as declared in kiln.toml: a changed declaration means the lock is stale. */
  declared: z.string(),
  kind: z.enum(["url", "debian", "file", "git"]),
  package: z.string().optional(),
  version: z.string().optional(),
  deb_sha256: z.string().optional(),
  url: z.string().optional(),
  tarball_sha256: z.string().optional(),
  commit: z.string().optional(),
  tag: z.boolean().optional(),
  /** git tree hash of the unpatched source tree. */
  tree: z.string(),
  /** Build timestamp, seconds since the epoch (commit date or the tarball's). */
  timestamp: z.number().int(),
  /** The kernel version of the tree (make -s kernelversion). */
  kernel_version: z.string(),
});
export type LockEntry = z.infer<typeof LockEntrySchema>;

export const LockSchema = z.object({
  version: z.literal(1),
  source: z.record(z.string(), LockEntrySchema).default({}),
});
export type Lock = z.infer<typeof LockSchema>;

export function pinDeclHash(pin: Pin): string {
  const keys = Object.keys(pin).sort();
  const canon = JSON.stringify(pin, keys);
  return createHash("sha256").update(canon).digest("hex").slice(0, 16);
}

export function readLock(projectDir: string): Lock | undefined {
  const file = join(projectDir, LOCK_FILE);
  if (!existsSync(file)) return undefined;
  let raw: unknown;
  try {
    raw = parseToml(readFileSync(file, "utf8"));
  } catch (e) {
    throw new LockError(`cannot read ${LOCK_FILE}: ${(e as Error).message}`, { file }, `delete ${LOCK_FILE} and run \`kiln lock\` to re-resolve the pins`);
  }
  const res = LockSchema.safeParse(raw);
  if (!res.success) {
    throw new LockError(`${LOCK_FILE} is invalid at ${firstIssue(res.error)}`, { file }, `delete ${LOCK_FILE} and run \`kiln lock\` to re-resolve the pins`);
  }
  return res.data;
}

export function writeLock(projectDir: string, lock: Lock): void {
  const sorted: Lock = { version: 1, source: Object.fromEntries(Object.entries(lock.source).sort(([a], [b]) => a.localeCompare(b))) };
  const body = stringifyToml(sorted as unknown as Record<string, unknown>);
  writeFileAtomic(
    join(projectDir, LOCK_FILE),
    `# kiln.lock: what each source pin resolved to. Written by kiln; commit it with kiln.toml.\n# Re-resolve with \`kiln lock --update [source...]\`.\n${body}\n`,
  );
}

/** Pure: the disagreements between the project's pins and the lock, as readable lines. */
export function lockDisagreements(pins: Record<string, Pin>, lock: Lock | undefined): string[] {
  const out: string[] = [];
  if (!lock) return [`there is no ${LOCK_FILE}`];
  for (const [name, pin] of Object.entries(pins)) {
    const e = lock.source[name];
    if (!e) out.push(`source "${name}" is not in ${LOCK_FILE}`);
    else if (e.declared !== pinDeclHash(pin)) out.push(`source "${name}" changed in kiln.toml since ${LOCK_FILE} was written`);
  }
  for (const name of Object.keys(lock.source)) if (!(name in pins)) out.push(`${LOCK_FILE} has source "${name}", which kiln.toml no longer declares`);
  return out;
}

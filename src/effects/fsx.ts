/**
 * File helpers that never leave a half-written file behind: write to a temporary file in the
 * same folder, fsync, then rename over the target.
 */
import { openSync, writeSync, fsyncSync, closeSync, renameSync, mkdirSync, rmSync, createReadStream, existsSync, statfsSync, statSync } from "node:fs";
import { dirname, basename, join, resolve } from "node:path";
import { InfraError } from "../errors.js";
import { fmtBytes } from "../ui/log.js";
import { randomBytes, createHash } from "node:crypto";

export function tmpName(target: string): string {
  return join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
}

/**
 * `durable: false` skips the fsync: the rename is still atomic (a reader sees the old or the new
 * file), but after a power loss the old content may come back. For files rewritten often whose
 * last version is written durably anyway (the running manifest after each step).
 */
export function writeFileAtomic(target: string, data: string | Buffer, mode = 0o644, o: { durable?: boolean } = {}): void {
  mkdirSync(dirname(target), { recursive: true });
  const tmp = tmpName(target);
  try {
    const fd = openSync(tmp, "w", mode);
    try {
      writeSync(fd, typeof data === "string" ? Buffer.from(data) : data);
      if (o.durable !== false) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, target);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * Fills a folder at `final` through a temporary sibling (`<final>.tmp-<pid>-<random>`) renamed into
 * place when `fill` succeeds, removed when it throws. When another process landed `final` first,
 * its content stands and this one's copy is dropped: callers key `final` by content.
 */
export function atomicDir(final: string, fill: (tmp: string) => Promise<void>): Promise<void> {
  const tmp = `${final}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  mkdirSync(tmp, { recursive: true });
  return fill(tmp).then(
    () => {
      try {
        renameSync(tmp, final);
      } catch (e) {
        rmSync(tmp, { recursive: true, force: true });
        if (!existsSync(final)) throw e;
      }
    },
    (e: unknown) => {
      rmSync(tmp, { recursive: true, force: true });
      throw e;
    },
  );
}

export async function sha256File(path: string, onBytes?: (n: number) => void): Promise<string> {
  const h = createHash("sha256");
  await new Promise<void>((res, rej) => {
    const s = createReadStream(path, { highWaterMark: 1 << 20 });
    s.on("data", (d) => {
      h.update(d);
      onBytes?.((d as Buffer).length);
    });
    s.on("end", () => res());
    s.on("error", rej);
  });
  return h.digest("hex");
}

/** Bytes an unprivileged user may still write on the filesystem holding `dir` (or its nearest existing parent). */
export function freeBytes(dir: string): number {
  let d = resolve(dir);
  while (!existsSync(d) && dirname(d) !== d) d = dirname(d);
  const s = statfsSync(d);
  return Number(s.bavail) * Number(s.bsize);
}

/**
 * Refuses work that cannot fit before it starts, instead of failing half-way through with
 * "No space left on device" from tar or git (and leaving the next run to sweep up).
 */
export function ensureFree(dir: string, need: number, what: string): void {
  const free = freeBytes(dir);
  if (free >= need) return;
  throw new InfraError(
    `not enough disk space for ${what}: it needs about ${fmtBytes(need)} under ${dir}, and ${fmtBytes(free)} is free`,
    { file: dir },
    "free space on that disk (`kiln store gc` removes old builds and warm trees), or point KILN_HOME at a bigger disk",
  );
}

/** What unpacking a tarball will take, from its compressed size (a kernel tarball's ratios, with room for git's objects). */
export function unpackEstimate(tarball: string): number {
  const size = statSync(tarball).size;
  const ratio = /\.xz$|\.zst$/.test(tarball) ? 12 : /\.(gz|bz2)$/.test(tarball) ? 7 : 1.6;
  return Math.ceil(size * ratio);
}

/**
 * File helpers that never leave a half-written file behind: write to a temporary file in the
 * same folder, fsync, then rename over the target.
 */
import { openSync, writeSync, fsyncSync, closeSync, renameSync, mkdirSync, rmSync, createReadStream } from "node:fs";
import { dirname, basename, join } from "node:path";
import { randomBytes, createHash } from "node:crypto";

export function tmpName(target: string): string {
  return join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
}

export function writeFileAtomic(target: string, data: string | Buffer, mode = 0o644): void {
  mkdirSync(dirname(target), { recursive: true });
  const tmp = tmpName(target);
  try {
    const fd = openSync(tmp, "w", mode);
    try {
      writeSync(fd, typeof data === "string" ? Buffer.from(data) : data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, target);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
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

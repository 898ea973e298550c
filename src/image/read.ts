/**
 * Reading and changing a gpt-ab disk in place, partition by partition, without root: the GPT is
 * parsed by kiln (src/image/gpt.ts), FAT is read and written with mtools at the partition's byte
 * offset (image@@offset), ext4 with debugfs (image?offset=). Used by kiln image inspect, kiln
 * image update and kiln boot --image.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { run } from "../effects/proc.js";
import { GPT_HEAD_BYTES, parseGpt, type Gpt, type GptPartition } from "./gpt.js";
import { mtoolsImage } from "./make.js";
import { PART_NAMES, type PartRole } from "./layout.js";

const env = { ...process.env, MTOOLS_SKIP_CHECK: "1", TZ: "UTC", LC_ALL: "C" };

export function readGpt(disk: string): Gpt {
  const fd = openSync(disk, "r");
  try {
    const b = Buffer.alloc(GPT_HEAD_BYTES);
    const n = readSync(fd, b, 0, b.length, 0);
    return parseGpt(b.subarray(0, n));
  } finally {
    closeSync(fd);
  }
}

/** The partition of a role, by its GPT name; undefined when the table has none. */
export function findPart(g: Gpt, role: PartRole): GptPartition | undefined {
  return g.partitions.find((p) => p.name === PART_NAMES[role]);
}

export interface FileEntry {
  path: string;
  type: "file" | "dir" | "symlink" | "other";
  size: number;
}

/* ---------------------------------------------------------------- FAT (mtools) */

/** Every file and folder of a FAT partition (mdir -/ -b), with sizes from mdir's long listing. */
export async function fatList(disk: string, p: GptPartition): Promise<FileEntry[]> {
  const img = mtoolsImage(disk, p.offset);
  const r = await run(["mdir", "-/", "-a", "-i", img, "::/"], { env, missingHint: "apt-get install mtools" });
  const out: FileEntry[] = [];
  let dir = "";
  for (const line of r.stdout.split("\n")) {
    const d = /^Directory for ::(\/.*)$/.exec(line.trim());
    if (d) {
      dir = d[1] === "/" ? "" : d[1]!.replace(/\/$/, "");
      continue;
    }
    // mdir: "NAME EXT  <DIR>  date time  longname" or "NAME EXT  size date time  longname"
    const m = /^(\S+)(?:\s+(\S{1,3}))?\s+(<DIR>|\d[\d ]*?)\s+\d{4}-\d\d-\d\d\s+\d\d?:\d\d\s*(.*)$/.exec(line);
    if (!m) continue;
    const short = m[2] && !/^\d/.test(m[2]) ? `${m[1]}.${m[2]}` : m[1]!;
    const name = (m[4] ?? "").trim() || short;
    if (name === "." || name === "..") continue;
    const isDir = m[3] === "<DIR>";
    out.push({ path: `${dir}/${name}`.replace(/^\//, ""), type: isDir ? "dir" : "file", size: isDir ? 0 : Number(m[3]!.replace(/\s/g, "")) });
  }
  return out;
}

/** One file of a FAT partition, or undefined when it is not there. */
export async function fatRead(disk: string, p: GptPartition, path: string): Promise<Buffer | undefined> {
  const r = await run(["mtype", "-i", mtoolsImage(disk, p.offset), `::/${path}`], { env, allowFail: true, missingHint: "apt-get install mtools" });
  if (r.exitCode !== 0) return undefined;
  return Buffer.from(r.stdout, "latin1");
}

/** Writes (replaces) a file in a FAT partition. */
export async function fatWrite(disk: string, p: GptPartition, path: string, from: string): Promise<void> {
  await run(["mcopy", "-o", "-i", mtoolsImage(disk, p.offset), from, `::/${path}`], { env, missingHint: "apt-get install mtools" });
}

/* ---------------------------------------------------------------- ext4 (debugfs) */

export function e2Device(disk: string, p: GptPartition): string {
  return `${disk}?offset=${p.offset}`;
}

/** Runs debugfs commands (read-only unless write) on an ext4 partition; the output per command. */
export async function debugfs(disk: string, p: GptPartition, cmds: string[], o: { write?: boolean } = {}): Promise<string[]> {
  const r = await run(["debugfs", ...(o.write ? ["-w"] : []), "-f", "-", e2Device(disk, p)], { input: cmds.join("\n") + "\n", env, missingHint: "apt-get install e2fsprogs" });
  // with -f, debugfs echoes each command as "debugfs: <cmd>" before its output
  const parts = r.stdout.split(/^debugfs: .*$/m);
  parts.shift();
  const errs = r.stderr.split("\n").filter((l) => l.trim() && !/^debugfs \d/.test(l));
  if (o.write && errs.length) throw new Error(`debugfs on partition ${p.number}: ${errs.join(" | ")}`);
  return parts.map((s) => s.replace(/^\n/, ""));
}

/** Every file under a folder of an ext4 partition (recursive, one debugfs run per level). */
export async function e2List(disk: string, p: GptPartition, root = "/"): Promise<FileEntry[]> {
  const out: FileEntry[] = [];
  let level = [root];
  while (level.length) {
    const res = await debugfs(disk, p, level.map((d) => `ls -p ${d}`));
    const next: string[] = [];
    level.forEach((d, i) => {
      for (const line of (res[i] ?? "").split("\n")) {
        // /inode/mode/uid/gid/name/size/
        const m = /^\/(\d+)\/(\d+)\/\d+\/\d+\/(.*)\/(\d*)\/$/.exec(line.trim());
        if (!m) continue;
        const name = m[3]!;
        if (name === "." || name === ".." || name === "lost+found") continue;
        const mode = parseInt(m[2]!, 8);
        const fmt = mode & 0o170000;
        const path = `${d === "/" ? "" : d}/${name}`;
        const type = fmt === 0o040000 ? "dir" : fmt === 0o100000 ? "file" : fmt === 0o120000 ? "symlink" : "other";
        out.push({ path: path.replace(/^\//, ""), type, size: Number(m[4] || 0) });
        if (type === "dir") next.push(path);
      }
    });
    level = next;
  }
  return out;
}

/** One file of an ext4 partition, or undefined when it is not there. */
export async function e2Read(disk: string, p: GptPartition, path: string): Promise<string | undefined> {
  const r = await run(["debugfs", "-R", `cat /${path}`, e2Device(disk, p)], { env, allowFail: true, missingHint: "apt-get install e2fsprogs" });
  if (r.exitCode !== 0 || /File not found/.test(r.stderr)) return undefined;
  return r.stdout;
}

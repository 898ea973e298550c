/**
 * A cpio "newc" (SVR4, no CRC) writer, the format the kernel unpacks as an initramfs.
 *
 * Pure: entries in, bytes out. The archive is deterministic: entries are sorted by
 * path (byte order), missing parent directories are added, inode numbers are assigned
 * in that order, and every entry gets the same owner (0:0) and mtime (default 0).
 * The same entries therefore always give the same bytes.
 */

export type CpioEntry =
  | { type: "file"; path: string; mode: number; data: Uint8Array }
  | { type: "dir"; path: string; mode: number }
  | { type: "symlink"; path: string; target: string }
  | { type: "char" | "block"; path: string; mode: number; major: number; minor: number };

export interface CpioOptions {
  /** mtime of every entry, seconds since the epoch (default 0). */
  mtime?: number;
  /** Owner of every entry (default 0:0). */
  uid?: number;
  gid?: number;
}

const S_IFMT = 0o170000;
const TYPE_BITS: Record<CpioEntry["type"], number> = {
  file: 0o100000,
  dir: 0o040000,
  symlink: 0o120000,
  char: 0o020000,
  block: 0o060000,
};

const MAGIC = "070701";
const TRAILER = "TRAILER!!!";
const MAX_U32 = 0xffffffff;

/** "a//b/./c/" -> "a/b/c"; refuses "..", absolute escapes and empty names. */
export function normalizeCpioPath(path: string): string {
  const parts = path.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.length === 0) throw new Error(`cpio: empty path ${JSON.stringify(path)}`);
  if (parts.includes("..")) throw new Error(`cpio: path escapes the archive: ${JSON.stringify(path)}`);
  return parts.join("/");
}

function compareBytes(a: string, b: string): number {
  const x = Buffer.from(a, "utf8");
  const y = Buffer.from(b, "utf8");
  return Buffer.compare(x, y);
}

/**
 * The entries as they will be written: normalised paths, parents added, sorted,
 * duplicates refused (a directory given twice with the same mode is merged).
 */
export function canonicalEntries(entries: readonly CpioEntry[]): CpioEntry[] {
  const byPath = new Map<string, CpioEntry>();
  for (const e of entries) {
    const path = normalizeCpioPath(e.path);
    const entry = { ...e, path } as CpioEntry;
    const prev = byPath.get(path);
    if (prev) {
      const sameDir = prev.type === "dir" && entry.type === "dir" && prev.mode === entry.mode;
      if (!sameDir) throw new Error(`cpio: ${path} given twice`);
      continue;
    }
    byPath.set(path, entry);
  }
  for (const path of [...byPath.keys()]) {
    const parts = path.split("/");
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join("/");
      const existing = byPath.get(parent);
      if (!existing) byPath.set(parent, { type: "dir", path: parent, mode: 0o755 });
      else if (existing.type !== "dir") throw new Error(`cpio: ${parent} is not a directory but holds ${path}`);
    }
  }
  return [...byPath.values()].sort((a, b) => compareBytes(a.path, b.path));
}

function hex8(n: number, field: string): string {
  if (!Number.isInteger(n) || n < 0 || n > MAX_U32) throw new Error(`cpio: ${field} out of range: ${n}`);
  return n.toString(16).toUpperCase().padStart(8, "0");
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

interface Header {
  ino: number;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  mtime: number;
  filesize: number;
  rdevmajor: number;
  rdevminor: number;
  name: string;
}

function headerBytes(h: Header): Buffer {
  const name = Buffer.from(h.name + "\0", "utf8");
  const fields = [
    h.ino,
    h.mode,
    h.uid,
    h.gid,
    h.nlink,
    h.mtime,
    h.filesize,
    0, // devmajor
    0, // devminor
    h.rdevmajor,
    h.rdevminor,
    name.length,
    0, // check
  ];
  const names = ["ino", "mode", "uid", "gid", "nlink", "mtime", "filesize", "devmajor", "devminor", "rdevmajor", "rdevminor", "namesize", "check"];
  const text = MAGIC + fields.map((f, i) => hex8(f, names[i]!)).join("");
  const head = Buffer.from(text, "ascii");
  return Buffer.concat([head, name, Buffer.alloc(pad4(head.length + name.length))]);
}

/** Writes the archive. Same entries and options give the same bytes. */
export function writeCpio(entries: readonly CpioEntry[], options: CpioOptions = {}): Buffer {
  const mtime = options.mtime ?? 0;
  const uid = options.uid ?? 0;
  const gid = options.gid ?? 0;
  const chunks: Buffer[] = [];
  let ino = 1;
  for (const e of canonicalEntries(entries)) {
    let data: Buffer = Buffer.alloc(0);
    let perm: number;
    let rdevmajor = 0;
    let rdevminor = 0;
    switch (e.type) {
      case "file":
        data = Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength);
        perm = e.mode;
        break;
      case "symlink":
        data = Buffer.from(e.target, "utf8");
        perm = 0o777;
        break;
      case "dir":
        perm = e.mode;
        break;
      case "char":
      case "block":
        perm = e.mode;
        rdevmajor = e.major;
        rdevminor = e.minor;
        break;
    }
    if ((perm & S_IFMT) !== 0 || perm > 0o7777) throw new Error(`cpio: ${e.path}: mode must hold permission bits only`);
    chunks.push(
      headerBytes({
        ino: ino++,
        mode: TYPE_BITS[e.type] | perm,
        uid,
        gid,
        nlink: e.type === "dir" ? 2 : 1,
        mtime,
        filesize: data.length,
        rdevmajor,
        rdevminor,
        name: e.path,
      }),
    );
    if (data.length > 0) chunks.push(data, Buffer.alloc(pad4(data.length)));
  }
  chunks.push(
    headerBytes({ ino: 0, mode: 0, uid: 0, gid: 0, nlink: 1, mtime: 0, filesize: 0, rdevmajor: 0, rdevminor: 0, name: TRAILER }),
  );
  return Buffer.concat(chunks);
}

/** One parsed header, for tests and for inspecting an archive kiln wrote. */
export interface CpioRecord {
  name: string;
  ino: number;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  mtime: number;
  rdevmajor: number;
  rdevminor: number;
  data: Buffer;
}

/** Reads a newc archive (up to the trailer). Throws on a malformed one. */
export function readCpio(buf: Buffer): CpioRecord[] {
  const out: CpioRecord[] = [];
  let off = 0;
  for (;;) {
    if (off + 110 > buf.length) throw new Error(`cpio: truncated header at ${off}`);
    const magic = buf.toString("ascii", off, off + 6);
    if (magic !== MAGIC) throw new Error(`cpio: bad magic ${JSON.stringify(magic)} at ${off}`);
    const field = (i: number): number => parseInt(buf.toString("ascii", off + 6 + i * 8, off + 14 + i * 8), 16);
    const namesize = field(11);
    const filesize = field(6);
    const nameStart = off + 110;
    const name = buf.toString("utf8", nameStart, nameStart + namesize - 1);
    const dataStart = nameStart + namesize + pad4(110 + namesize);
    if (dataStart + filesize > buf.length) throw new Error(`cpio: truncated data of ${name} at ${dataStart}`);
    const data = buf.subarray(dataStart, dataStart + filesize);
    const rec: CpioRecord = {
      name,
      ino: field(0),
      mode: field(1),
      uid: field(2),
      gid: field(3),
      nlink: field(4),
      mtime: field(5),
      rdevmajor: field(9),
      rdevminor: field(10),
      data: Buffer.from(data),
    };
    off = dataStart + filesize + pad4(filesize);
    if (name === TRAILER) return out;
    out.push(rec);
  }
}

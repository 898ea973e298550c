/**
 * A small pure ustar/pax tar writer and a streaming tar reader.
 *
 * The writer makes deterministic archives: callers give entries already sorted,
 * with owner 0/0 (root/root) and fixed modes; names that do not fit ustar get a
 * pax "x" record with a fixed name and mtime, so the bytes depend on the content only.
 *
 * The reader is a push parser: feed it chunks, it calls back with headers and data.
 * It validates checksums and structure and reports the byte offset of any problem;
 * what an entry may be (paths, links, devices) is decided by the caller (see unpack.ts).
 */
export type TarType = "file" | "dir" | "symlink" | "hardlink" | "chardev" | "blockdev" | "fifo" | "other";

export interface TarWriteEntry {
  /** Relative path, "/"-separated, no leading "./" and no trailing "/". */
  path: string;
  type: "file" | "dir" | "symlink";
  mode: number;
  /** Seconds since the epoch. */
  mtime: number;
  /** File size (files only). */
  size?: number;
  /** Symlink target. */
  linkname?: string;
}

const BLOCK = 512;
export const TAR_END = Buffer.alloc(BLOCK * 2);

function octal(buf: Buffer, off: number, len: number, value: number): boolean {
  const s = value.toString(8);
  if (s.length > len - 1) return false;
  buf.write(s.padStart(len - 1, "0") + "\0", off, len, "ascii");
  return true;
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let n = Buffer.byteLength(body) + 1;
  while (String(n).length + Buffer.byteLength(body) !== n) n = String(n).length + Buffer.byteLength(body);
  return `${n}${body}`;
}

function rawHeader(name: string, typeflag: string, mode: number, size: number, mtime: number, linkname: string): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, "utf8");
  octal(h, 100, 8, mode & 0o7777);
  octal(h, 108, 8, 0);
  octal(h, 116, 8, 0);
  if (!octal(h, 124, 12, size)) throw new RangeError(`tar entry ${name}: size ${size} too large for ustar`);
  octal(h, 136, 12, Math.max(0, Math.floor(mtime)));
  h.write(typeflag, 156, 1, "ascii");
  h.write(linkname, 157, 100, "utf8");
  h.write("ustar\0", 257, 6, "ascii");
  h.write("00", 263, 2, "ascii");
  h.write("root", 265, 32, "ascii");
  h.write("root", 297, 32, "ascii");
  octal(h, 329, 8, 0);
  octal(h, 337, 8, 0);
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8, "ascii");
  return h;
}

/** The header block(s) of one entry: a pax "x" header first when a name does not fit. */
export function tarHeader(e: TarWriteEntry): Buffer {
  const name = e.type === "dir" ? `${e.path}/` : e.path;
  const link = e.linkname ?? "";
  const size = e.type === "file" ? (e.size ?? 0) : 0;
  const typeflag = e.type === "file" ? "0" : e.type === "dir" ? "5" : "2";
  const records: string[] = [];
  const fits = (s: string) => Buffer.byteLength(s) <= 100 && /^[\x20-\x7e]*$/.test(s);
  if (!fits(name)) records.push(paxRecord("path", name));
  if (!fits(link)) records.push(paxRecord("linkpath", link));
  if (size > 0o77777777777) records.push(paxRecord("size", String(size)));
  const main = rawHeader(
    fits(name) ? name : asciiTail(name),
    typeflag,
    e.mode,
    size > 0o77777777777 ? 0 : size,
    e.mtime,
    fits(link) ? link : asciiTail(link),
  );
  if (records.length === 0) return main;
  const body = Buffer.from(records.join(""), "utf8");
  const pax = rawHeader(asciiTail(`PaxHeaders/${name}`), "x", 0o644, body.length, e.mtime, "");
  return Buffer.concat([pax, body, tarPadding(body.length), main]);
}

function asciiTail(s: string): string {
  const a = s.replace(/[^\x20-\x7e]/g, "_");
  return a.length <= 100 ? a : a.slice(a.length - 100);
}

/** Zero bytes that pad `size` bytes of data to a whole block. */
export function tarPadding(size: number): Buffer {
  const r = size % BLOCK;
  return r === 0 ? Buffer.alloc(0) : Buffer.alloc(BLOCK - r);
}

/** Builds a whole archive in memory (small archives and tests). */
export function packTar(entries: { entry: TarWriteEntry; data?: Buffer }[]): Buffer {
  const parts: Buffer[] = [];
  for (const { entry, data } of entries) {
    const d = data ?? Buffer.alloc(0);
    parts.push(tarHeader({ ...entry, size: entry.type === "file" ? d.length : 0 }));
    if (entry.type === "file") parts.push(d, tarPadding(d.length));
  }
  parts.push(TAR_END);
  return Buffer.concat(parts);
}

// ------------------------------------------------------------------ reader

export interface TarEntryHeader {
  path: string;
  type: TarType;
  typeflag: string;
  mode: number;
  size: number;
  mtime: number;
  linkname: string;
  /** Byte offset of this entry's (main) header in the archive. */
  offset: number;
}

export class TarFormatError extends Error {
  constructor(
    readonly reason: string,
    readonly offset: number,
  ) {
    super(`${reason} (at archive byte ${offset})`);
  }
}

export interface TarSink {
  entry(h: TarEntryHeader): void;
  data(h: TarEntryHeader, chunk: Buffer): void;
  end(h: TarEntryHeader): void;
}

function cstr(b: Buffer, off: number, len: number): string {
  const s = b.subarray(off, off + len);
  const z = s.indexOf(0);
  return (z < 0 ? s : s.subarray(0, z)).toString("utf8");
}

function parseNum(b: Buffer, off: number, len: number, field: string, at: number): number {
  const f = b.subarray(off, off + len);
  if (f[0]! & 0x80) {
    // base-256 (GNU): only accept what fits a safe integer
    let v = 0n;
    for (let i = 1; i < f.length; i++) v = (v << 8n) | BigInt(f[i]!);
    if (f[0] !== 0x80 || v > BigInt(Number.MAX_SAFE_INTEGER)) throw new TarFormatError(`${field} out of range`, at + off);
    return Number(v);
  }
  const s = f.toString("ascii").replace(/[\0 ]+$/, "").replace(/^ +/, "");
  if (s === "") return 0;
  if (!/^[0-7]+$/.test(s)) throw new TarFormatError(`${field} is not an octal number: ${JSON.stringify(s)}`, at + off);
  return parseInt(s, 8);
}

function typeOf(flag: string): TarType {
  switch (flag) {
    case "0":
    case "\0":
    case "7":
      return "file";
    case "5":
      return "dir";
    case "2":
      return "symlink";
    case "1":
      return "hardlink";
    case "3":
      return "chardev";
    case "4":
      return "blockdev";
    case "6":
      return "fifo";
    default:
      return "other";
  }
}

function parsePax(body: Buffer, at: number): Map<string, string> {
  const out = new Map<string, string>();
  let i = 0;
  while (i < body.length) {
    const sp = body.indexOf(0x20, i);
    if (sp < 0) throw new TarFormatError("malformed pax record", at);
    const n = parseInt(body.toString("ascii", i, sp), 10);
    if (!Number.isFinite(n) || n <= 0 || i + n > body.length) throw new TarFormatError("malformed pax record length", at);
    const rec = body.toString("utf8", sp + 1, i + n - 1);
    const eq = rec.indexOf("=");
    if (eq < 0) throw new TarFormatError("malformed pax record", at);
    out.set(rec.slice(0, eq), rec.slice(eq + 1));
    i += n;
  }
  return out;
}

/** Push parser. Call write() with chunks, then finish(). */
export class TarReader {
  private pending: Buffer[] = [];
  private pendingLen = 0;
  private pos = 0; // archive bytes consumed
  private state: "header" | "data" | "pad" | "meta" | "done" = "header";
  private cur?: TarEntryHeader;
  private remaining = 0;
  private padLeft = 0;
  private metaKind = "";
  private metaBuf: Buffer[] = [];
  private pax = new Map<string, string>();
  private longName?: string;
  private longLink?: string;
  private zeroBlocks = 0;

  constructor(
    private readonly sink: TarSink,
    private readonly maxMetaSize = 1 << 20,
  ) {}

  get finished(): boolean {
    return this.state === "done";
  }

  private take(n: number): Buffer | undefined {
    if (this.pendingLen < n) return undefined;
    // copy only when n spans chunks, and then only the chunks it spans
    let first = this.pending[0]!;
    if (first.length < n) {
      let k = 1;
      let len = first.length;
      while (len < n) len += this.pending[k++]!.length;
      first = Buffer.concat(this.pending.slice(0, k), len);
      this.pending.splice(0, k, first);
    }
    const out = first.subarray(0, n);
    if (first.length === n) this.pending.shift();
    else this.pending[0] = first.subarray(n);
    this.pendingLen -= n;
    this.pos += n;
    return out;
  }

  write(chunk: Buffer): void {
    if (this.state === "done") return; // data after the end-of-archive marker is ignored
    this.pending.push(chunk);
    this.pendingLen += chunk.length;
    for (;;) {
      if (this.state === "header") {
        const at = this.pos;
        const h = this.take(BLOCK);
        if (!h) return;
        this.header(h, at);
        if ((this.state as string) === "done") return;
      } else if (this.state === "data" || this.state === "meta") {
        if (this.remaining === 0) {
          this.endData();
          continue;
        }
        if (this.pendingLen === 0) return;
        // data goes out chunk by chunk as it came in: no copy
        const n = Math.min(this.remaining, this.pending[0]!.length);
        const part = this.take(n)!;
        this.remaining -= n;
        if (this.state === "data") this.sink.data(this.cur!, part);
        else this.metaBuf.push(Buffer.from(part));
      } else if (this.state === "pad") {
        if (this.padLeft === 0) {
          this.state = "header";
          continue;
        }
        const n = Math.min(this.padLeft, this.pendingLen === 0 ? 0 : this.pending[0]!.length);
        if (n === 0) return;
        this.take(n);
        this.padLeft -= n;
      } else return;
    }
  }

  private endData(): void {
    const size = this.state === "data" ? this.cur!.size : this.metaBuf.reduce((a, b) => a + b.length, 0);
    if (this.state === "data") this.sink.end(this.cur!);
    else {
      const body = Buffer.concat(this.metaBuf);
      this.metaBuf = [];
      if (this.metaKind === "x") this.pax = parsePax(body, this.pos - body.length);
      else if (this.metaKind === "L") this.longName = cstr(body, 0, body.length);
      else if (this.metaKind === "K") this.longLink = cstr(body, 0, body.length);
      // "g" global headers carry nothing kiln needs
    }
    this.cur = undefined;
    this.padLeft = (BLOCK - (size % BLOCK)) % BLOCK;
    this.state = "pad";
  }

  private header(h: Buffer, at: number): void {
    if (h.every((b) => b === 0)) {
      this.zeroBlocks++;
      if (this.zeroBlocks >= 2) this.state = "done";
      return;
    }
    if (this.zeroBlocks > 0) throw new TarFormatError("a single zero block inside the archive", at - BLOCK);
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
    const stored = parseNum(h, 148, 8, "checksum", at);
    if (stored !== sum) throw new TarFormatError(`header checksum mismatch (stored ${stored}, computed ${sum}): corrupt or not a tar archive`, at);
    const typeflag = String.fromCharCode(h[156]!);
    const size = parseNum(h, 124, 12, "size", at);
    if (typeflag === "x" || typeflag === "g" || typeflag === "L" || typeflag === "K") {
      if (size > this.maxMetaSize) throw new TarFormatError(`extended header of ${size} bytes is over the ${this.maxMetaSize}-byte limit`, at);
      this.metaKind = typeflag;
      this.remaining = size;
      this.state = "meta";
      return;
    }
    const magic = h.toString("ascii", 257, 263);
    const prefix = magic.startsWith("ustar") ? cstr(h, 345, 155) : "";
    let path = this.pax.get("path") ?? this.longName ?? (prefix ? `${prefix}/${cstr(h, 0, 100)}` : cstr(h, 0, 100));
    const linkname = this.pax.get("linkpath") ?? this.longLink ?? cstr(h, 157, 100);
    const paxSize = this.pax.get("size");
    const realSize = paxSize !== undefined ? Number(paxSize) : size;
    if (!Number.isSafeInteger(realSize) || realSize < 0) throw new TarFormatError(`bad size ${paxSize}`, at);
    this.pax = new Map();
    this.longName = this.longLink = undefined;
    const type = typeOf(typeflag);
    if (type === "dir" && path.endsWith("/")) path = path.slice(0, -1);
    const entry: TarEntryHeader = {
      path,
      type,
      typeflag,
      mode: parseNum(h, 100, 8, "mode", at),
      size: type === "file" ? realSize : 0,
      mtime: parseNum(h, 136, 12, "mtime", at),
      linkname,
      offset: at,
    };
    // Only regular files carry data here; other types with a size field are skipped as data.
    this.cur = entry;
    this.sink.entry(entry);
    this.remaining = realSize;
    if (type === "file") this.state = "data";
    else {
      // discard any payload a non-file claims to have
      this.state = "meta";
      this.metaKind = "skip";
      if (realSize > this.maxMetaSize) throw new TarFormatError(`${type} entry ${path} claims ${realSize} bytes of data`, at);
    }
  }

  /** Call at end of input. Throws when the archive stopped early. */
  finish(): void {
    if (this.state === "done") return;
    if (this.state === "header" && this.pendingLen === 0 && this.zeroBlocks === 1) {
      throw new TarFormatError("archive ends after one of the two end-of-archive blocks (truncated)", this.pos);
    }
    const what = this.cur ? `inside entry ${this.cur.path}` : "before the end-of-archive marker";
    throw new TarFormatError(`archive is truncated ${what}`, this.pos + this.pendingLen);
  }
}

/**
 * Safe unpacking of artifacts kiln did not necessarily write itself.
 *
 * Policy (checked per entry, before anything is written):
 * - paths are relative, with no "..", no empty or "." components, no NUL;
 * - no entry is written through a symlink the archive created, and no path appears twice;
 * - symlinks are relative, have the shape "../../a/b" (ups first, then names) and stay
 *   inside the archive root; hardlinks name a regular file extracted before;
 * - devices, fifos and unknown types are refused;
 * - per-entry size, total size and entry count are limited.
 * Everything lands in a fresh temporary folder beside the destination, which is renamed
 * into place only when the whole archive was read; any failure removes it.
 */
import { closeSync, lstatSync, linkSync, mkdirSync, openSync, renameSync, symlinkSync, futimesSync, writeSync, existsSync, readdirSync, rmdirSync, unlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import { createHash, randomBytes, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import { start } from "../effects/proc.js";
import { TarReader, TarFormatError, type TarEntryHeader } from "./tar.js";
import { SourceError, InfraError, KilnError } from "../errors.js";

export interface UnpackLimits {
  /** Largest single file, bytes (`--max-unpack-file-bytes`). */
  maxEntrySize: number;
  /** Sum of all file sizes, bytes (`--max-unpack-bytes`). */
  maxTotalSize: number;
  /** Entries, folders implied by a path counted too (`--max-unpack-entries`). */
  maxEntries: number;
  /** Path components of one entry. */
  maxDepth: number;
}

export const DEFAULT_LIMITS: UnpackLimits = {
  maxEntrySize: 1 << 30,
  maxTotalSize: 4 * (1 << 30),
  maxEntries: 200_000,
  maxDepth: 32,
};

/**
 * Removes a file or a folder tree without recursion (a 3000-deep tree is fine) and without
 * following symlinks. Missing is fine.
 */
export function removeTree(path: string): void {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  if (!st.isDirectory()) {
    unlinkSync(path);
    return;
  }
  const stack: string[] = [path];
  while (stack.length) {
    const d = stack[stack.length - 1]!;
    const kids = readdirSync(d, { withFileTypes: true });
    let pushed = false;
    for (const k of kids) {
      const p = join(d, k.name);
      if (k.isDirectory()) {
        stack.push(p);
        pushed = true;
      } else unlinkSync(p);
    }
    if (!pushed) {
      rmdirSync(d);
      stack.pop();
    }
  }
}

/** Why an entry is refused, or undefined when its path is acceptable. Pure. */
export function checkEntryPath(path: string): string | undefined {
  if (path === "" ) return "empty path";
  if (path.includes("\0")) return "NUL in path";
  if (path.startsWith("/")) return "absolute path";
  if (/^[A-Za-z]:/.test(path) || path.includes("\\")) return "path with a drive letter or backslash";
  const parts = path.replace(/^\.\//, "").split("/");
  for (const p of parts) {
    if (p === "..") return "path with a \"..\" component";
    if (p === "" || p === ".") return "path with an empty or \".\" component";
  }
  return undefined;
}

export function normalEntryPath(path: string): string {
  return path.replace(/^\.\//, "");
}

/**
 * Why a symlink at `path` pointing to `target` is refused, or undefined. Pure.
 * Targets are "../" repeated, then plain names, and must stay inside the root.
 */
export function checkSymlink(path: string, target: string): string | undefined {
  if (target === "" || target.includes("\0")) return "empty symlink target";
  if (target.startsWith("/")) return `absolute symlink target ${target}`;
  const parts = target.split("/").filter((p) => p !== "" && p !== ".");
  let ups = 0;
  let names = 0;
  for (const p of parts) {
    if (p === "..") {
      if (names > 0) return `symlink target ${target} goes up after going down`;
      ups++;
    } else names++;
  }
  const depth = normalEntryPath(path).split("/").length - 1; // folders above the link inside the root
  if (ups > depth) return `symlink target ${target} points outside the archive`;
  return undefined;
}

export interface UnpackResult {
  entries: number;
  bytes: number;
  /** Every regular file (hardlinks too) by its path under dest: sha256 of the bytes written, size. */
  files: Map<string, { sha256: string; size: number }>;
}

class Extractor {
  private kinds = new Map<string, "dir" | "file" | "symlink">();
  private fd?: number;
  private fdPath = "";
  private fdRel = "";
  private hash?: Hash;
  entries = 0;
  bytes = 0;
  /** sha256 and size of each regular file, computed from the bytes as they are written. */
  readonly files = new Map<string, { sha256: string; size: number }>();

  constructor(
    private readonly root: string,
    private readonly limits: UnpackLimits,
    private readonly what: string,
  ) {
    this.kinds.set("", "dir");
  }

  private refuse(h: TarEntryHeader, reason: string): never {
    throw new SourceError(
      `refusing archive entry ${JSON.stringify(h.path)}: ${reason} (archive byte ${h.offset})`,
      { file: this.what },
      "the artifact is malformed or hostile; do not use it, and tell its publisher",
    );
  }

  private parents(h: TarEntryHeader, rel: string): void {
    const parts = rel.split("/");
    let cur = "";
    for (let i = 0; i < parts.length - 1; i++) {
      cur = cur ? `${cur}/${parts[i]}` : parts[i]!;
      const k = this.kinds.get(cur);
      if (k === "symlink") this.refuse(h, `its folder ${cur} is a symlink in the archive`);
      if (k === "file") this.refuse(h, `its folder ${cur} is a file in the archive`);
      if (!k) {
        if (++this.entries > this.limits.maxEntries) this.refuse(h, `more than ${this.limits.maxEntries} entries, counting implied folders (--max-unpack-entries raises the limit)`);
        mkdirSync(join(this.root, cur), { mode: 0o755 });
        this.kinds.set(cur, "dir");
      }
    }
  }

  entry(h: TarEntryHeader): void {
    if (h.type === "dir" && (h.path === "." || h.path === "./")) return; // the root itself
    const bad = checkEntryPath(h.path);
    if (bad) this.refuse(h, bad);
    const rel = normalEntryPath(h.path);
    const existing = this.kinds.get(rel);
    if (!existing && ++this.entries > this.limits.maxEntries) this.refuse(h, `more than ${this.limits.maxEntries} entries (--max-unpack-entries raises the limit)`);
    if (rel.split("/").length > this.limits.maxDepth) this.refuse(h, `more than ${this.limits.maxDepth} folders deep`);
    if (Buffer.byteLength(rel) > 1024) this.refuse(h, "path longer than 1024 bytes");
    if (existing && !(existing === "dir" && h.type === "dir")) this.refuse(h, "path appears twice");
    const abs = join(this.root, rel);
    switch (h.type) {
      case "dir":
        this.parents(h, rel);
        if (!existing) mkdirSync(abs, { mode: 0o755 });
        this.kinds.set(rel, "dir");
        return;
      case "file": {
        if (h.size > this.limits.maxEntrySize) this.refuse(h, `size ${h.size} is over the per-file limit of ${this.limits.maxEntrySize} bytes (--max-unpack-file-bytes raises it)`);
        if (this.bytes + h.size > this.limits.maxTotalSize) this.refuse(h, `total size would exceed the limit of ${this.limits.maxTotalSize} bytes (--max-unpack-bytes raises it)`);
        this.bytes += h.size;
        this.parents(h, rel);
        this.fd = openSync(abs, "wx", h.mode & 0o111 ? 0o755 : 0o644);
        this.fdPath = abs;
        this.fdRel = rel;
        this.hash = createHash("sha256");
        this.kinds.set(rel, "file");
        return;
      }
      case "symlink": {
        const why = checkSymlink(rel, h.linkname);
        if (why) this.refuse(h, why);
        this.parents(h, rel);
        symlinkSync(h.linkname, abs);
        this.kinds.set(rel, "symlink");
        return;
      }
      case "hardlink": {
        const tbad = checkEntryPath(h.linkname);
        if (tbad) this.refuse(h, `hardlink target: ${tbad}`);
        const target = normalEntryPath(h.linkname);
        if (this.kinds.get(target) !== "file") this.refuse(h, `hardlink target ${h.linkname} is not a file extracted before it`);
        this.parents(h, rel);
        linkSync(join(this.root, target), abs);
        this.kinds.set(rel, "file");
        const f = this.files.get(target);
        if (f) this.files.set(rel, f);
        return;
      }
      case "chardev":
      case "blockdev":
        this.refuse(h, "device node");
      case "fifo":
        this.refuse(h, "fifo");
      default:
        this.refuse(h, `unsupported entry type ${JSON.stringify(h.typeflag)}`);
    }
  }

  data(_h: TarEntryHeader, chunk: Buffer): void {
    this.hash!.update(chunk);
    let off = 0;
    while (off < chunk.length) off += writeSync(this.fd!, chunk, off);
  }

  end(h: TarEntryHeader): void {
    const fd = this.fd!;
    this.fd = undefined;
    this.files.set(this.fdRel, { sha256: this.hash!.digest("hex"), size: h.size });
    this.hash = undefined;
    try {
      if (h.mtime > 0) futimesSync(fd, h.mtime, h.mtime);
    } finally {
      closeSync(fd);
    }
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/** A temp path beside `dest`, so the final rename stays on one filesystem. */
export function siblingTemp(dest: string, tag: string): string {
  return join(dirname(dest), `.${tag}-${process.pid}-${randomBytes(4).toString("hex")}`);
}

/**
 * Unpacks a tar (or tar.zst) file into `dest`, which must not exist yet.
 * On any failure nothing is left at `dest` or beside it.
 */
export async function safeUnpack(opts: {
  archive: string;
  dest: string;
  compression?: "zstd" | "none";
  limits?: Partial<UnpackLimits>;
}): Promise<UnpackResult> {
  const limits = { ...DEFAULT_LIMITS, ...opts.limits };
  if (existsSync(opts.dest)) {
    throw new InfraError(`unpack destination already exists`, { file: opts.dest }, "remove it or choose another folder");
  }
  mkdirSync(dirname(opts.dest), { recursive: true });
  const tmp = siblingTemp(opts.dest, "kiln-unpack");
  mkdirSync(tmp, { mode: 0o755 });
  const ex = new Extractor(tmp, limits, opts.archive);
  const reader = new TarReader(ex);
  // Archive bytes beyond the content limit plus generous header room mean a bomb.
  const maxStream = limits.maxTotalSize + (limits.maxEntries + 2) * 2048;
  let streamed = 0;
  let stderr = "";
  const compression = opts.compression ?? (opts.archive.endsWith(".zst") ? "zstd" : "none");
  const proc =
    compression === "zstd"
      ? start(["zstd", "-d", "-c", "-q", "--no-progress", "--", opts.archive], { onStderr: (d) => (stderr += d) })
      : undefined;
  try {
    const source = proc ? proc.stdout! : createReadStream(opts.archive, { highWaterMark: 1 << 20 });
    for await (const chunk of source as AsyncIterable<Buffer>) {
      streamed += chunk.length;
      if (streamed > maxStream) {
        throw new SourceError(`archive decompresses to more than ${maxStream} bytes`, { file: opts.archive }, "the archive is a decompression bomb or larger than the budget; --max-unpack-bytes and --max-unpack-entries raise it if this is expected");
      }
      reader.write(chunk);
      if (reader.finished) break;
    }
    if (proc) {
      if (reader.finished) proc.kill();
      const r = await proc.done;
      if (!reader.finished && (r.exitCode ?? 1) !== 0) {
        throw new SourceError(
          `zstd could not decompress the artifact: ${stderr.trim() || `exit ${r.exitCode}`}`,
          { file: opts.archive },
          "the download is corrupt or truncated; delete it and fetch again",
        );
      }
    }
    reader.finish();
    ex.close();
    renameSync(tmp, opts.dest);
    return { entries: ex.entries, bytes: ex.bytes, files: ex.files };
  } catch (e) {
    ex.close();
    proc?.kill();
    await proc?.done.catch(() => undefined);
    removeTree(tmp);
    if (e instanceof TarFormatError) {
      throw new SourceError(`not a valid tar archive: ${e.message}`, { file: opts.archive }, "the artifact is corrupt or truncated; fetch it again");
    }
    if (e instanceof KilnError) throw e;
    if (!existsSync(opts.archive)) throw new SourceError(`archive not found`, { file: opts.archive });
    const code = (e as NodeJS.ErrnoException).code;
    const hint = code === "ENOSPC" || code === "EDQUOT" ? `free space beside ${opts.dest}` : code === "EACCES" || code === "EPERM" || code === "EROFS" ? `check the permissions beside ${opts.dest}` : "nothing was left behind; the error names the cause";
    throw new InfraError(`unpacking failed: ${(e as Error).message}`, { file: opts.archive }, hint);
  }
}

/** True when `p` exists without following a final symlink. */
export function lexists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

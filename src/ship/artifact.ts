/**
 * The shippable artifact: `<name>-kernel-<release>-<arch>.tar.zst`, a deterministic
 * tar of an install tree compressed by the zstd CLI, with `<artifact>.sha256` beside it
 * and `SHA256SUMS` over a release's files. Byte-identical across runs for the same tree
 * and build timestamp (see docs/adr/0031).
 */
import { lstatSync, openSync, readSync, closeSync, readdirSync, readlinkSync, renameSync, rmSync, mkdirSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { start } from "../effects/proc.js";
import { tarHeader, tarPadding, TAR_END, type TarWriteEntry } from "./tar.js";
import { checkSymlink, siblingTemp } from "./unpack.js";
import { HostError, ProjectError, InfraError, SourceError } from "../errors.js";
import { sha256File, writeFileAtomic } from "../effects/fsx.js";

/** Fixed zstd level: part of the artifact's byte identity. */
export const ZSTD_LEVEL = 12;

export function artifactFileName(name: string, release: string, arch: string): string {
  for (const [k, v] of Object.entries({ name, release, arch })) {
    if (!/^[A-Za-z0-9._+-]+$/.test(v)) throw new ProjectError(`artifact ${k} ${JSON.stringify(v)} has characters outside [A-Za-z0-9._+-]`);
  }
  return `${name}-kernel-${release}-${arch}.tar.zst`;
}

export interface TreeEntry extends TarWriteEntry {
  /** Absolute source path for files. */
  source?: string;
}

/** Fixed modes: 0755 folders and executables, 0644 other files, 0777 symlinks. */
export function fixedMode(type: TarWriteEntry["type"], mode: number): number {
  if (type === "dir") return 0o755;
  if (type === "symlink") return 0o777;
  return mode & 0o111 ? 0o755 : 0o644;
}

/** Paths of an install tree that are not shipped: the build/source links into the build host. */
export function isExcluded(rel: string): boolean {
  return /^lib\/modules\/[^/]+\/(build|source)$/.test(rel);
}

/**
 * What the artifact carries from a store entry: `boot/` and `lib/modules/`. Not the entry's
 * `vmlinux` (large; bundles are made from it at build time) nor `manifest.json` (it records
 * times and host paths, which would break byte identity across rebuilds).
 */
export function inArtifact(rel: string): boolean {
  return rel === "boot" || rel.startsWith("boot/") || rel === "lib" || rel === "lib/modules" || rel.startsWith("lib/modules/");
}

/**
 * Lists an install tree as sorted tar entries, mtimes clamped to `timestamp`.
 * Refuses device nodes, fifos, sockets and symlinks that leave the tree.
 */
export function listTree(root: string, timestamp: number, include: (rel: string) => boolean = () => true): TreeEntry[] {
  const out: TreeEntry[] = [];
  const walk = (rel: string) => {
    const abs = rel ? join(root, rel) : root;
    for (const name of readdirSync(abs)) {
      const r = rel ? `${rel}/${name}` : name;
      if (isExcluded(r) || !include(r)) continue;
      const st = lstatSync(join(root, r));
      const mtime = Math.min(Math.floor(st.mtimeMs / 1000), timestamp);
      if (st.isDirectory()) {
        out.push({ path: r, type: "dir", mode: fixedMode("dir", st.mode), mtime });
        walk(r);
      } else if (st.isFile()) {
        out.push({ path: r, type: "file", mode: fixedMode("file", st.mode), mtime, size: st.size, source: join(root, r) });
      } else if (st.isSymbolicLink()) {
        const target = readlinkSync(join(root, r));
        const why = checkSymlink(r, target);
        if (why) throw new ProjectError(`cannot ship ${r}: ${why}`, { file: join(root, r) }, "the install tree must be self-contained");
        out.push({ path: r, type: "symlink", mode: 0o777, mtime, linkname: target });
      } else {
        throw new ProjectError(`cannot ship ${r}: not a file, folder or symlink`, { file: join(root, r) });
      }
    }
  };
  walk("");
  out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return out;
}

/** Streams the tar of `entries` to `write` (which may return a promise for back-pressure). */
export async function streamTar(entries: TreeEntry[], write: (b: Buffer) => void | Promise<void>): Promise<void> {
  const buf = Buffer.allocUnsafe(1 << 20);
  for (const e of entries) {
    await write(tarHeader(e));
    if (e.type !== "file") continue;
    const fd = openSync(e.source!, "r");
    try {
      let left = e.size ?? 0;
      while (left > 0) {
        const n = readSync(fd, buf, 0, Math.min(buf.length, left), null);
        if (n === 0) throw new InfraError(`file shrank while packing`, { file: e.source }, "do not change the install tree while kiln packs it");
        await write(Buffer.from(buf.subarray(0, n)));
        left -= n;
      }
    } finally {
      closeSync(fd);
    }
    await write(tarPadding(e.size ?? 0));
  }
  await write(TAR_END);
}

// One atomic writer and one file hasher for the whole project (src/effects/fsx.ts).
export { sha256File, writeFileAtomic };

/** Writes `entries` as a deterministic tar.zst at `path` (temp file + rename). */
export async function writeTarZst(entries: TreeEntry[], path: string, zstdLevel = ZSTD_LEVEL): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = siblingTemp(path, basename(path));
  let stderr = "";
  const proc = start(["zstd", `-${zstdLevel}`, "-T1", "-q", "--no-progress", "-c", "-o", tmp], {
    stdin: "pipe",
    stdout: "ignore",
    onStderr: (d) => (stderr += d),
    missingHint: "apt-get install zstd",
  });
  // A zstd that is not installed rejects `done` at once; keep that rejection for the await below.
  proc.done.catch(() => undefined);
  try {
    const stdin = proc.stdin!;
    let broken: Error | undefined;
    stdin.on("error", (e) => (broken = e));
    await streamTar(entries, (b) => {
      if (broken) throw broken;
      if (!stdin.write(b)) return new Promise<void>((res) => stdin.once("drain", res));
    });
    stdin.end();
    const r = await proc.done;
    if (r.exitCode !== 0) {
      throw new InfraError(`zstd failed (exit ${r.exitCode}): ${stderr.trim()}`, { file: path }, "check that zstd is installed and the disk has room");
    }
    renameSync(tmp, path);
  } catch (e) {
    proc.kill();
    const startFailure = await proc.done.then(
      () => undefined,
      (x: unknown) => x,
    );
    rmSync(tmp, { force: true });
    // zstd not installed: say that, not the broken pipe it caused.
    throw startFailure instanceof HostError ? startFailure : e;
  }
}

export interface ArtifactResult {
  path: string;
  sha256: string;
  size: number;
  sha256Path: string;
  entries: number;
}

/**
 * Packs the install tree `entryDir` into `<outDir>/<name>-kernel-<release>-<arch>.tar.zst`
 * and writes `<artifact>.sha256`. `timestamp` is the build timestamp (seconds).
 */
export async function writeArtifact(opts: {
  entryDir: string;
  name: string;
  release: string;
  arch: string;
  timestamp: number;
  outDir: string;
  zstdLevel?: number;
}): Promise<ArtifactResult> {
  const file = artifactFileName(opts.name, opts.release, opts.arch);
  const path = join(opts.outDir, file);
  const entries = listTree(opts.entryDir, opts.timestamp, inArtifact);
  if (!entries.some((e) => e.type === "file" && e.path.startsWith("boot/"))) {
    throw new ProjectError("the install tree has no files under boot/", { file: opts.entryDir }, "pass the store entry of a finished build");
  }
  await writeTarZst(entries, path, opts.zstdLevel);
  const sha256 = await sha256File(path);
  const sha256Path = `${path}.sha256`;
  writeFileAtomic(sha256Path, `${sha256}\n`);
  return { path, sha256, size: lstatSync(path).size, sha256Path, entries: entries.length };
}

// ----------------------------------------------------------------- SHA256SUMS

/** `sha256sum -c` format, sorted by file name. Pure. */
export function formatSha256Sums(files: { name: string; sha256: string }[]): string {
  const sorted = [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const f of sorted) {
    if (!/^[0-9a-f]{64}$/.test(f.sha256)) throw new ProjectError(`bad sha256 for ${f.name}: ${f.sha256}`);
    if (/[\n\\]/.test(f.name) || f.name.includes("/")) throw new ProjectError(`file name ${JSON.stringify(f.name)} cannot go in SHA256SUMS`);
  }
  return sorted.map((f) => `${f.sha256}  ${f.name}\n`).join("");
}

/** Parses SHA256SUMS; refuses malformed lines and duplicates. Pure. */
export function parseSha256Sums(text: string, where = "SHA256SUMS"): Map<string, string> {
  const out = new Map<string, string>();
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  lines.forEach((line, i) => {
    const m = /^([0-9a-fA-F]{64}) [ *](.+)$/.exec(line);
    if (!m) throw new SourceError(`malformed checksum line: ${JSON.stringify(line.slice(0, 120))}`, { file: where, line: i + 1 }, "expected '<64 hex>  <file>'");
    if (out.has(m[2]!)) throw new SourceError(`${m[2]} is listed twice`, { file: where, line: i + 1 });
    out.set(m[2]!, m[1]!.toLowerCase());
  });
  return out;
}

/** Reads a `.sha256` file's content: exactly one hex digest (optionally followed by a name). */
export function parseSha256File(text: string, where: string): string {
  const m = /^([0-9a-fA-F]{64})(?:[ \t]+[ *]?\S.*)?\s*$/.exec(text.trim());
  if (!m) throw new SourceError(`not a sha256 digest: ${JSON.stringify(text.slice(0, 80))}`, { file: where }, "the .sha256 file must hold the 64-hex digest");
  return m[1]!.toLowerCase();
}

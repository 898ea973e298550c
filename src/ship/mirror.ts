/**
 * A plain mirror: a folder or an HTTP(S) server with PUT. Layout (docs/adr/0034):
 *
 *   index.json                                  what the mirror holds (unsigned: a locator only)
 *   <name>/<release>/<artifact>.tar.zst         the artifact
 *   <name>/<release>/<artifact>.tar.zst.sha256  its digest, hex only
 *   <name>/<release>/SHA256SUMS                 every file of the release, `sha256sum -c` format
 *   <name>/<release>/SHA256SUMS.minisig         minisign signature over SHA256SUMS
 *
 * Publishing uploads the files first, the signature after the sums, and the index last,
 * so the index never names a release whose files are not all there.
 */
import { basename } from "node:path";
import { statSync } from "node:fs";
import { formatSha256Sums, sha256File } from "./artifact.js";
import { signMinisign, trustedComment, type MinisignKeyPair } from "./minisign.js";
import type { Transport } from "./transport.js";
import { SourceError, ProjectError } from "../errors.js";

export const INDEX_PATH = "index.json";

export interface IndexEntry {
  name: string;
  release: string;
  kernel_version: string;
  arch: string;
  /** Release tag, seed 003 style: v<version> or v<version>-r<N>. */
  tag: string;
  /** Paths relative to the mirror root. */
  artifact: string;
  sha256: string;
  size: number;
  sums: string;
  signature: string;
  /** Other files of the release (bundles...), names relative to the release folder. */
  files: string[];
  published: string;
}

export interface MirrorIndex {
  kiln_mirror: 1;
  kernels: IndexEntry[];
}

export function emptyIndex(): MirrorIndex {
  return { kiln_mirror: 1, kernels: [] };
}

/** Parses index.json strictly enough that a hostile index cannot point outside the mirror. */
export function parseIndex(text: string, where: string): MirrorIndex {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new SourceError(`mirror index is not JSON: ${(e as Error).message}`, { url: where });
  }
  const o = v as MirrorIndex;
  if (!o || o.kiln_mirror !== 1 || !Array.isArray(o.kernels)) {
    throw new SourceError(`not a kiln mirror index (expected {"kiln_mirror": 1, "kernels": [...]})`, { url: where });
  }
  for (const [i, k] of o.kernels.entries()) {
    for (const f of ["name", "release", "kernel_version", "arch", "tag", "artifact", "sha256", "sums", "signature"] as const) {
      if (typeof k[f] !== "string") throw new SourceError(`index entry ${i} has no string "${f}"`, { url: where });
    }
    if (!/^[0-9a-f]{64}$/.test(k.sha256)) throw new SourceError(`index entry ${i} has a malformed sha256`, { url: where });
    if (!Array.isArray(k.files)) k.files = [];
  }
  return o;
}

/** Seed 003's tag: v<kernelversion> for the first release of a version, then -r1, -r2... Pure. */
export function releaseTag(index: MirrorIndex, name: string, arch: string, kernelVersion: string, release: string): string {
  const same = index.kernels.find((k) => k.name === name && k.release === release);
  if (same) return same.tag;
  const earlier = new Set(index.kernels.filter((k) => k.name === name && k.kernel_version === kernelVersion).map((k) => k.tag));
  if (earlier.size === 0) return `v${kernelVersion}`;
  let n = 1;
  while (earlier.has(`v${kernelVersion}-r${n}`)) n++;
  void arch;
  return `v${kernelVersion}-r${n}`;
}

export interface ParsedRef {
  name: string;
  version: string;
}

export function parseRef(ref: string): ParsedRef {
  const m = /^([A-Za-z0-9._+-]+)@([A-Za-z0-9._+-]+)$/.exec(ref);
  if (!m) throw new ProjectError(`bad kernel reference ${JSON.stringify(ref)}`, {}, "write <name>@<version>, e.g. blueberry@6.12.9 or blueberry@6.12.9-vanilla-0123456789ab");
  return { name: m[1]!, version: m[2]! };
}

/**
 * Picks the index entry for `name@version` on `arch`: an exact release, a tag, or a kernel
 * version (the latest published release of it). Pure.
 */
export function resolveRef(index: MirrorIndex, ref: ParsedRef, arch: string, where: string): IndexEntry {
  const mine = index.kernels.filter((k) => k.name === ref.name && k.arch === arch);
  const hit =
    mine.filter((k) => k.release === ref.version).at(-1) ??
    mine.filter((k) => k.tag === ref.version).at(-1) ??
    mine.filter((k) => k.kernel_version === ref.version).at(-1);
  if (!hit) {
    const have = mine.map((k) => `${k.release} (${k.tag})`);
    throw new SourceError(
      `${ref.name}@${ref.version} for ${arch} is not on the mirror`,
      { url: where },
      have.length ? `available: ${have.join(", ")}` : `the mirror has no ${ref.name} kernels for ${arch}`,
    );
  }
  return hit;
}

export interface PublishInput {
  transport: Transport;
  name: string;
  release: string;
  kernelVersion: string;
  arch: string;
  /** The .tar.zst written by writeArtifact (its .sha256 is expected beside it). */
  artifactPath: string;
  /** More files of the release, e.g. SUBK bundles. */
  extraFiles?: string[];
  /** Signs SHA256SUMS. Required: kiln does not publish unsigned releases. */
  key: MinisignKeyPair;
  /** Build identity digest, for the trusted comment. */
  identity?: string;
  /** Seconds; defaults to now. */
  timestamp?: number;
  onProgress?: (msg: string) => void;
}

export interface PublishResult {
  entry: IndexEntry;
  uploaded: string[];
}

export async function publishToMirror(p: PublishInput): Promise<PublishResult> {
  const dir = `${p.name}/${p.release}`;
  const artName = basename(p.artifactPath);
  const files = [p.artifactPath, ...(p.extraFiles ?? [])];
  const sums: { name: string; sha256: string }[] = [];
  for (const f of files) sums.push({ name: basename(f), sha256: await sha256File(f) });
  const artSha = sums[0]!.sha256;
  const sumsText = formatSha256Sums(sums);
  const ts = p.timestamp ?? Math.floor(Date.now() / 1000);
  const sig = signMinisign(Buffer.from(sumsText), p.key, trustedComment({ timestamp: ts, file: "SHA256SUMS", release: p.release, identity: p.identity }));
  const uploaded: string[] = [];
  const put = async (path: string, data: Buffer | { file: string }) => {
    p.onProgress?.(`upload ${path}`);
    await p.transport.put(path, data);
    uploaded.push(path);
  };
  for (const f of files) await put(`${dir}/${basename(f)}`, { file: f });
  await put(`${dir}/${artName}.sha256`, Buffer.from(`${artSha}\n`));
  await put(`${dir}/SHA256SUMS`, Buffer.from(sumsText));
  await put(`${dir}/SHA256SUMS.minisig`, Buffer.from(sig));
  const current = await p.transport.get(INDEX_PATH);
  const index = current ? parseIndex(current.toString("utf8"), p.transport.where(INDEX_PATH)) : emptyIndex();
  const entry: IndexEntry = {
    name: p.name,
    release: p.release,
    kernel_version: p.kernelVersion,
    arch: p.arch,
    tag: releaseTag(index, p.name, p.arch, p.kernelVersion, p.release),
    artifact: `${dir}/${artName}`,
    sha256: artSha,
    size: statSync(p.artifactPath).size,
    sums: `${dir}/SHA256SUMS`,
    signature: `${dir}/SHA256SUMS.minisig`,
    files: (p.extraFiles ?? []).map((f) => basename(f)),
    published: new Date(ts * 1000).toISOString(),
  };
  index.kernels = index.kernels.filter((k) => !(k.name === p.name && k.release === p.release && k.arch === p.arch));
  index.kernels.push(entry);
  await put(INDEX_PATH, Buffer.from(JSON.stringify(index, null, 2) + "\n"));
  return { entry, uploaded };
}

/**
 * A plain mirror: a folder or an HTTP(S) server with PUT. Layout (docs/adr/0034):
 *
 *   index.json                                  what the mirror holds: a copy of the newest signed index
 *   meta/index-<N>.json, meta/index-<N>.json.minisig  signed index version N (never rewritten)
 *   <name>/<release>/<artifact>.tar.zst         the artifact
 *   <name>/<release>/<artifact>.tar.zst.sha256  its digest, hex only
 *   <name>/<release>/SHA256SUMS                 every file of the release, `sha256sum -c` format
 *   <name>/<release>/SHA256SUMS.minisig         minisign signature over SHA256SUMS
 *
 * Publishing uploads the files first, the signature after the sums, then the signed index
 * version N+1, and flips index.json last, so the index never names a release whose files are
 * not all there and a killed publish leaves the old state visible. A release folder that holds
 * different sums is never rewritten (docs/adr/0041).
 */
import { basename } from "node:path";
import { statSync } from "node:fs";
import { formatSha256Sums, sha256File } from "./artifact.js";
import { signMinisign, trustedComment, type MinisignKeyPair } from "./minisign.js";
import type { Transport } from "./transport.js";
import { SourceError, ProjectError } from "../errors.js";
import { nameProblem, printable, type NameKind } from "../core/identity.js";

export const INDEX_PATH = "index.json";

export interface IndexEntry {
  name: string;
  release: string;
  kernel_version: string;
  arch: string;
  /** Release tag: v<version> or v<version>-r<N>. */
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
  /** Monotonic: each publish signs version + 1. Absent in indexes kiln wrote before signing them. */
  version?: number;
  /** ISO time after which consumers refuse this index (freeze protection). */
  expires?: string;
  kernels: IndexEntry[];
}

export function emptyIndex(): MirrorIndex {
  return { kiln_mirror: 1, version: 0, kernels: [] };
}

/** Where signed index version `n` lives on the mirror. */
export function signedIndexPath(n: number): string {
  return `meta/index-${n}.json`;
}

/** How long a signed index stays valid unless `[ship].index_valid_days` says otherwise. */
export const DEFAULT_INDEX_VALID_DAYS = 90;

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
  if (o.version !== undefined && (!Number.isSafeInteger(o.version) || o.version < 0)) throw new SourceError(`the index version ${JSON.stringify(o.version)} is not a whole number`, { url: where });
  if (o.expires !== undefined && (typeof o.expires !== "string" || Number.isNaN(Date.parse(o.expires)))) throw new SourceError(`the index expiry ${JSON.stringify(o.expires)} is not a date`, { url: where });
  return o;
}

/**
 * Checks an entry before any of its strings becomes a path: every name against the identity
 * grammar, and the file paths against the one layout kiln publishes. Throws naming the field.
 */
export function checkEntry(k: IndexEntry, where: string): void {
  const fields: [keyof IndexEntry, NameKind][] = [["name", "name"], ["release", "release"], ["arch", "arch"], ["tag", "tag"], ["kernel_version", "version"]];
  for (const [f, kind] of fields) {
    const why = nameProblem(kind, k[f] as string);
    if (why) throw new SourceError(`refusing the index entry with ${f} "${printable(k[f] as string)}": ${why}`, { url: where }, "the mirror's index is malformed or hostile; nothing was installed");
  }
  const dir = `${k.name}/${k.release}`;
  const want = { artifact: `${dir}/${k.name}-kernel-${k.release}-${k.arch}.tar.zst`, sums: `${dir}/SHA256SUMS`, signature: `${dir}/SHA256SUMS.minisig` };
  for (const f of ["artifact", "sums", "signature"] as const) {
    if (k[f] !== want[f]) throw new SourceError(`index entry ${k.release}: ${f} is "${printable(k[f])}", expected "${want[f]}"`, { url: where }, "the mirror's index is malformed or hostile; nothing was installed");
  }
  if (!Number.isSafeInteger(k.size) || k.size <= 0) throw new SourceError(`index entry ${k.release}: size ${JSON.stringify(k.size)} is not a positive whole number`, { url: where });
  for (const f of k.files) {
    if (typeof f !== "string" || nameProblem("version", f)) throw new SourceError(`index entry ${k.release}: unsafe file name "${printable(String(f))}"`, { url: where });
  }
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
  /** Signs SHA256SUMS and the index. Required: kiln does not publish unsigned releases. */
  key: MinisignKeyPair;
  /** Build identity digest, for the trusted comment. */
  identity?: string;
  /** The tag to publish under (default: the next free v<version>[-r<N>]). */
  tag?: string;
  /** Days the signed index stays valid. */
  validDays?: number;
  /** Seconds; defaults to now. */
  timestamp?: number;
  onProgress?: (msg: string) => void;
}

export interface PublishResult {
  entry: IndexEntry;
  uploaded: string[];
  /** The signed index version now live. */
  version: number;
}

/**
 * Publishes one release. The caller holds the publish lock (ship/publish.ts). Never rewrites
 * a live release: when the release folder already holds SHA256SUMS, it must be the same
 * bytes, and its files and signature are kept as they are.
 */
export async function publishToMirror(p: PublishInput): Promise<PublishResult> {
  for (const [kind, v] of [["name", p.name], ["release", p.release], ["arch", p.arch], ["version", p.kernelVersion]] as const) {
    const why = nameProblem(kind, v);
    if (why) throw new ProjectError(`cannot publish: ${kind} "${printable(v)}": ${why}`);
  }
  const dir = `${p.name}/${p.release}`;
  const artName = basename(p.artifactPath);
  const files = [p.artifactPath, ...(p.extraFiles ?? [])];
  const sums: { name: string; sha256: string }[] = [];
  for (const f of files) sums.push({ name: basename(f), sha256: await sha256File(f) });
  const artSha = sums[0]!.sha256;
  const sumsText = formatSha256Sums(sums);
  const ts = p.timestamp ?? Math.floor(Date.now() / 1000);
  const uploaded: string[] = [];
  const put = async (path: string, data: Buffer | { file: string }) => {
    p.onProgress?.(`upload ${path}`);
    await p.transport.put(path, data);
    uploaded.push(path);
  };
  const live = await p.transport.get(`${dir}/SHA256SUMS`);
  const liveSig = live ? await p.transport.get(`${dir}/SHA256SUMS.minisig`) : undefined;
  if (live && !live.equals(Buffer.from(sumsText))) {
    throw new ProjectError(
      `release ${p.release} is already published with different files, and a published release is never rewritten`,
      { url: p.transport.where(`${dir}/SHA256SUMS`) },
      "a changed kernel has a new identity and so a new release; if the bytes differ for the same identity, the build is not reproducible (run `kiln check repro`)",
    );
  }
  if (!live || !liveSig) {
    const sig = signMinisign(Buffer.from(sumsText), p.key, trustedComment({ timestamp: ts, file: "SHA256SUMS", release: p.release, identity: p.identity }));
    for (const f of files) await put(`${dir}/${basename(f)}`, { file: f });
    await put(`${dir}/${artName}.sha256`, Buffer.from(`${artSha}\n`));
    await put(`${dir}/SHA256SUMS`, Buffer.from(sumsText));
    await put(`${dir}/SHA256SUMS.minisig`, Buffer.from(sig));
  } else p.onProgress?.(`${dir} is already published with the same files; not uploading them again`);
  const current = await p.transport.get(INDEX_PATH);
  const index = current ? parseIndex(current.toString("utf8"), p.transport.where(INDEX_PATH)) : emptyIndex();
  const entry: IndexEntry = {
    name: p.name,
    release: p.release,
    kernel_version: p.kernelVersion,
    arch: p.arch,
    tag: p.tag ?? releaseTag(index, p.name, p.arch, p.kernelVersion, p.release),
    artifact: `${dir}/${artName}`,
    sha256: artSha,
    size: statSync(p.artifactPath).size,
    sums: `${dir}/SHA256SUMS`,
    signature: `${dir}/SHA256SUMS.minisig`,
    files: (p.extraFiles ?? []).map((f) => basename(f)),
    published: new Date(ts * 1000).toISOString(),
  };
  checkEntry(entry, p.transport.where(INDEX_PATH));
  const version = (index.version ?? 0) + 1;
  const next: MirrorIndex = {
    kiln_mirror: 1,
    version,
    // from the wall clock, not `timestamp` (which may be the source date, for reproducible sums)
    expires: new Date(Date.now() + (p.validDays ?? DEFAULT_INDEX_VALID_DAYS) * 86_400_000).toISOString(),
    kernels: [...index.kernels.filter((k) => !(k.name === p.name && k.release === p.release && k.arch === p.arch)), entry],
  };
  const bytes = Buffer.from(JSON.stringify(next, null, 2) + "\n");
  const meta = signedIndexPath(version);
  const isig = signMinisign(bytes, p.key, trustedComment({ timestamp: ts, file: basename(meta), indexVersion: version }));
  await put(meta, bytes);
  await put(`${meta}.minisig`, Buffer.from(isig));
  // the flip: one whole-file write; before it consumers see version N, after it N + 1
  await put(INDEX_PATH, bytes);
  return { entry, uploaded, version };
}

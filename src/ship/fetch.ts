/**
 * The consumer flow, `kiln fetch <name>@<version> --boot-dir B --root R` (seed 000's
 * `make kernel` for any distro):
 *   resolve on the mirror -> verify SHA256SUMS's signature against trusted keys ->
 *   download the artifact into the cache, checking its sha256 against the signed sums and
 *   its .sha256 -> unpack safely into a staging folder -> move boot files into B and
 *   lib/modules/<release> into R -> write a marker, so a second run is a no-op.
 * Nothing is unpacked before both checks pass; any failure undoes the moves done so far.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, copyFileSync, lstatSync } from "node:fs";
import { join, dirname } from "node:path";
import { parseSha256Sums, parseSha256File, sha256File, writeFileAtomic } from "./artifact.js";
import { verifyMinisign, type MinisignPublicKey } from "./minisign.js";
import { INDEX_PATH, parseIndex, parseRef, resolveRef, type IndexEntry } from "./mirror.js";
import { safeUnpack, siblingTemp, type UnpackLimits } from "./unpack.js";
import type { Progress, Transport } from "./transport.js";
import { SourceError, ProjectError, InfraError, KilnError } from "../errors.js";

export interface FetchOptions {
  ref: string;
  arch: string;
  transport: Transport;
  bootDir: string;
  root: string;
  cacheDir: string;
  trustedKeys: MinisignPublicKey[];
  /** Skip the signature check. Callers must say so loudly (onWarning receives a message). */
  allowUnsigned?: boolean;
  limits?: Partial<UnpackLimits>;
  onProgress?: (p: Progress) => void;
  onWarning?: (msg: string) => void;
}

export interface InstalledMarker {
  kiln_fetch: 1;
  ref: string;
  arch: string;
  name: string;
  release: string;
  artifact: string;
  sha256: string;
  signed_by?: string;
  trusted_comment?: string;
  boot_files: string[];
  modules_dir?: string;
}

export interface FetchResult {
  /** True when the marker showed this exact kernel installed: nothing was done. */
  noop: boolean;
  marker: InstalledMarker;
  /** True when the artifact came from the cache. */
  cached: boolean;
}

export function markerPath(bootDir: string, name: string): string {
  return join(bootDir, `.kiln-kernel-${name}.json`);
}

function readMarker(path: string): InstalledMarker | undefined {
  try {
    const m = JSON.parse(readFileSync(path, "utf8")) as InstalledMarker;
    return m.kiln_fetch === 1 ? m : undefined;
  } catch {
    return undefined;
  }
}

/** Is the marked kernel still fully in place? */
function markerIntact(m: InstalledMarker, bootDir: string, root: string): boolean {
  return m.boot_files.every((f) => existsSync(join(bootDir, f))) && (!m.modules_dir || existsSync(join(root, m.modules_dir)));
}

export async function fetchKernel(o: FetchOptions): Promise<FetchResult> {
  const ref = parseRef(o.ref);
  const mpath = markerPath(o.bootDir, ref.name);
  const prev = readMarker(mpath);
  if (prev && prev.ref === o.ref && prev.arch === o.arch && markerIntact(prev, o.bootDir, o.root)) {
    return { noop: true, marker: prev, cached: true };
  }
  const { entry, path: cached, sha256: want, fileName: artName, signedBy, trustedComment: tc, cached: fromCache } = await fetchVerifiedArtifact(o);

  // 3. unpack into staging, then move into place
  mkdirSync(o.root, { recursive: true });
  mkdirSync(o.bootDir, { recursive: true });
  const staging = siblingTemp(join(o.root, "x"), "kiln-fetch");
  const moves: Move[] = [];
  try {
    await safeUnpack({ archive: cached, dest: staging, compression: "zstd", limits: o.limits });
    const bootFiles = existsSync(join(staging, "boot")) ? readdirSync(join(staging, "boot")).sort() : [];
    if (!bootFiles.some((f) => /^(vmlinuz|Image|bzImage)/.test(f))) {
      throw new SourceError(`${artName} has no kernel image under boot/`, { file: cached }, "the artifact is not a kiln kernel artifact");
    }
    const modsRel = `lib/modules/${entry.release}`;
    const hasMods = existsSync(join(staging, modsRel));
    if (hasMods) moveReplacing(join(staging, modsRel), join(o.root, modsRel), moves);
    for (const f of bootFiles) {
      const st = lstatSync(join(staging, "boot", f));
      if (!st.isFile()) throw new SourceError(`boot/${f} in the artifact is not a regular file`, { file: cached });
      moveReplacing(join(staging, "boot", f), join(o.bootDir, f), moves);
    }
    const marker: InstalledMarker = {
      kiln_fetch: 1,
      ref: o.ref,
      arch: o.arch,
      name: ref.name,
      release: entry.release,
      artifact: artName,
      sha256: want,
      signed_by: signedBy,
      trusted_comment: tc,
      boot_files: bootFiles,
      modules_dir: hasMods ? modsRel : undefined,
    };
    writeFileAtomic(mpath, JSON.stringify(marker, null, 2) + "\n");
    for (const m of moves) m.commit();
    rmSync(staging, { recursive: true, force: true });
    return { noop: false, marker, cached: fromCache };
  } catch (e) {
    for (const m of moves.reverse()) {
      try {
        m.undo();
      } catch {
        /* best effort: report the original error */
      }
    }
    rmSync(staging, { recursive: true, force: true });
    if (e instanceof KilnError) throw e;
    throw new InfraError(`installing ${artName} failed: ${(e as Error).message}`, { file: o.bootDir }, "check free space and permissions of the boot dir and the root; nothing was changed");
  }
}

export interface VerifiedArtifact {
  entry: IndexEntry;
  /** The verified artifact in the cache. */
  path: string;
  fileName: string;
  sha256: string;
  signedBy?: string;
  trustedComment?: string;
  /** True when the cached copy was used. */
  cached: boolean;
}

/**
 * Resolves `ref` on the mirror and returns the artifact in the cache, verified: signature over
 * SHA256SUMS against trusted keys, then sha256 against the sums and the .sha256. Also what
 * `kiln build` uses to reuse a peer's build instead of compiling.
 */
export async function fetchVerifiedArtifact(
  o: Pick<FetchOptions, "ref" | "arch" | "transport" | "cacheDir" | "trustedKeys" | "allowUnsigned" | "onProgress" | "onWarning">,
): Promise<VerifiedArtifact> {
  const t = o.transport;
  const indexBytes = await t.get(INDEX_PATH);
  if (!indexBytes) throw new SourceError("the mirror has no index.json", { url: t.where(INDEX_PATH) }, "check the mirror address");
  const ref = parseRef(o.ref);
  const entry = resolveRef(parseIndex(indexBytes.toString("utf8"), t.where(INDEX_PATH)), ref, o.arch, t.where(INDEX_PATH));
  const artName = entry.artifact.split("/").at(-1)!;
  // The index is unsigned: the signed sums and the file name must agree with what was asked.
  const expected = `${ref.name}-kernel-${entry.release}-${o.arch}.tar.zst`;
  if (artName !== expected) throw new SourceError(`index points at ${artName}, expected ${expected}`, { url: t.where(INDEX_PATH) }, "the mirror index is inconsistent");

  // 1. signature over SHA256SUMS
  const sumsBytes = await t.get(entry.sums);
  if (!sumsBytes) throw new SourceError("SHA256SUMS is missing on the mirror", { url: t.where(entry.sums) }, "kiln refuses artifacts without checksums");
  let signedBy: string | undefined;
  let tc: string | undefined;
  const sigBytes = await t.get(entry.signature);
  if (!sigBytes) {
    if (!o.allowUnsigned) {
      throw new SourceError("the signature SHA256SUMS.minisig is missing on the mirror", { url: t.where(entry.signature) }, "ask the publisher to sign the release; --allow-unsigned skips this check at your own risk");
    }
    o.onWarning?.(`WARNING: ${t.where(entry.signature)} is missing and the signature check is DISABLED (--allow-unsigned)`);
  } else if (o.allowUnsigned && o.trustedKeys.length === 0) {
    o.onWarning?.(`WARNING: signature NOT verified (--allow-unsigned, no trusted key)`);
  } else {
    const v = verifyMinisign(sumsBytes, sigBytes.toString("utf8"), o.trustedKeys, t.where(entry.signature));
    signedBy = v.keyId;
    tc = v.trustedComment;
    const rel = /(?:^|\t)kiln-release:([^\t]+)/.exec(tc)?.[1];
    if (rel !== undefined && rel !== entry.release) {
      throw new SourceError(`signature is for release ${rel}, not ${entry.release}`, { url: t.where(entry.signature) }, "the mirror serves another release's signature");
    }
  }
  const sums = parseSha256Sums(sumsBytes.toString("utf8"), t.where(entry.sums));
  const want = sums.get(artName);
  if (!want) throw new SourceError(`${artName} is not listed in SHA256SUMS`, { url: t.where(entry.sums) }, "kiln refuses artifacts without a checksum");
  const shaBytes = await t.get(`${entry.artifact}.sha256`);
  if (!shaBytes) throw new SourceError(`${artName}.sha256 is missing on the mirror`, { url: t.where(`${entry.artifact}.sha256`) }, "kiln refuses artifacts without a checksum");
  const side = parseSha256File(shaBytes.toString("utf8"), t.where(`${entry.artifact}.sha256`));
  if (side !== want) throw new SourceError(`${artName}.sha256 (${side}) disagrees with SHA256SUMS (${want})`, { url: t.where(`${entry.artifact}.sha256`) });

  // 2. the artifact, from the cache or the mirror, checked before use
  const cached = join(o.cacheDir, ref.name, entry.release, artName);
  let fromCache = false;
  if (existsSync(cached)) {
    if ((await sha256File(cached)) === want) fromCache = true;
    else {
      o.onWarning?.(`cached ${cached} does not match the signed checksum; deleted, downloading again`);
      rmSync(cached, { force: true });
    }
  }
  if (!fromCache) {
    await downloadVerified(t, entry, cached, want, o.onProgress);
  }

  return { entry, path: cached, fileName: artName, sha256: want, signedBy, trustedComment: tc, cached: fromCache };
}

/** The mirror's entry for an exact release, or undefined (for reuse checks before compiling). */
export async function lookupRelease(t: Transport, name: string, release: string, arch: string): Promise<IndexEntry | undefined> {
  const bytes = await t.get(INDEX_PATH);
  if (!bytes) return undefined;
  const index = parseIndex(bytes.toString("utf8"), t.where(INDEX_PATH));
  return index.kernels.filter((k) => k.name === name && k.release === release && k.arch === arch).at(-1);
}

async function downloadVerified(t: Transport, entry: IndexEntry, dest: string, want: string, onProgress?: (p: Progress) => void): Promise<void> {
  const tmp = siblingTemp(dest, "kiln-artifact");
  try {
    const r = await t.download(entry.artifact, tmp, onProgress);
    if (r.sha256 !== want) {
      throw new SourceError(
        `checksum mismatch: ${entry.artifact} has sha256 ${r.sha256}, the signed SHA256SUMS says ${want}`,
        { url: t.where(entry.artifact) },
        "the download is corrupt or was tampered with; it was deleted. Run again; if it persists, tell the mirror's owner",
      );
    }
    mkdirSync(dirname(dest), { recursive: true });
    renameSync(tmp, dest);
  } finally {
    rmSync(tmp, { force: true });
  }
}

interface Move {
  undo(): void;
  commit(): void;
}

/**
 * Moves `src` to `dest`. An existing `dest` is set aside first: undo() puts it back,
 * commit() deletes it. Across filesystems a file is copied to a temp beside `dest`, then renamed.
 */
function moveReplacing(src: string, dest: string, moves: Move[]): void {
  mkdirSync(dirname(dest), { recursive: true });
  let aside: string | undefined;
  if (existsSync(dest)) {
    aside = siblingTemp(dest, "kiln-old");
    renameSync(dest, aside);
  }
  try {
    try {
      renameSync(src, dest);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EXDEV") throw e;
      if (!lstatSync(src).isFile()) {
        throw new ProjectError(`cannot move ${src} across filesystems`, { file: dest }, "put the root on the same filesystem as its staging folder");
      }
      const tmp = siblingTemp(dest, "kiln-copy");
      copyFileSync(src, tmp);
      renameSync(tmp, dest);
    }
  } catch (e) {
    if (aside) renameSync(aside, dest);
    throw e;
  }
  moves.push({
    undo: () => {
      rmSync(dest, { recursive: true, force: true });
      if (aside) renameSync(aside, dest);
    },
    commit: () => {
      if (aside) rmSync(aside, { recursive: true, force: true });
    },
  });
}

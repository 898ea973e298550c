/**
 * The consumer flow, `kiln fetch <name>@<version> --boot-dir B --root R` (a
 * prebuilt, pinned kernel for machines that never compile), designed after apt's secure-apt and TUF (docs/adr/0041):
 *   signed index (version, expiry; rollback and freeze refused against the newest version this
 *   consumer has seen) -> resolve name@version in the signed index only -> verify SHA256SUMS's
 *   signature (prehashed, trusted comment naming the release) -> download at most the signed
 *   size into the cache and check the sha256 -> unpack within budgets into a staging folder ->
 *   move only kiln's own names into place -> the marker (sha256 and size of every file) last.
 * Every run holds the install lock and first sweeps what an earlier killed run left.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, copyFileSync, lstatSync } from "node:fs";
import { join, dirname } from "node:path";
import { createHash } from "node:crypto";
import { parseSha256Sums, parseSha256File, sha256File, writeFileAtomic } from "./artifact.js";
import { verifyMinisign, type MinisignPublicKey } from "./minisign.js";
import { INDEX_PATH, checkEntry, parseIndex, parseRef, resolveRef, signedIndexPath, type IndexEntry, type MirrorIndex } from "./mirror.js";
import { removeTree, safeUnpack, siblingTemp, type UnpackLimits } from "./unpack.js";
import type { Progress, Transport } from "./transport.js";
import { withLock } from "../effects/lock.js";
import { nameProblem, printable } from "../core/identity.js";
import { SourceError, ProjectError, InfraError, KilnError } from "../errors.js";

export interface FetchOptions {
  ref: string;
  arch: string;
  transport: Transport;
  bootDir: string;
  root: string;
  cacheDir: string;
  /** The consumer's trust record (newest index version seen...); default <cacheDir>/.trust. */
  stateDir?: string;
  trustedKeys: MinisignPublicKey[];
  /** Skip the signature check. Callers must say so loudly (onWarning receives a message). */
  allowUnsigned?: boolean;
  limits?: Partial<UnpackLimits>;
  /** A consumer lock (`--lock`): pins name@version to one artifact's sha256 and signing key. */
  lockFile?: string;
  /** Move the pin to what the mirror now resolves (`--update`). */
  update?: boolean;
  /** Now, for expiry checks (tests). */
  now?: Date;
  onProgress?: (p: Progress) => void;
  onWarning?: (msg: string) => void;
}

export interface InstalledFile {
  /** Relative to the boot dir ("boot:") or the root ("root:"). */
  path: string;
  sha256: string;
  size: number;
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
  /** Every installed file with its digest and size; a re-run checks them. */
  files?: InstalledFile[];
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

function checkName(kind: "name" | "release" | "arch" | "version", v: string, where: string): void {
  const why = nameProblem(kind, v);
  if (why) throw new ProjectError(`refusing ${kind} "${printable(v)}": ${why}`, { symbol: where }, `write <name>@<version>, e.g. blueberry@6.12.9`);
}

/** The names kiln installs into the boot dir for `release`; nothing else is ever placed there. */
export function ownedBootName(f: string, release: string): boolean {
  return [`vmlinuz-${release}`, `Image-${release}`, `bzImage-${release}`, `System.map-${release}`, `config-${release}`].includes(f);
}

function hashSync(p: string): string {
  return createHash("sha256").update(readFileSync(p)).digest("hex");
}

/** Is the marked kernel still in place, every file with its recorded sha256 and size? */
function markerIntact(m: InstalledMarker, bootDir: string, root: string): boolean {
  if (!m.files) return false; // markers from before digests were recorded: reinstall once
  for (const f of m.files) {
    const abs = f.path.startsWith("boot:") ? join(bootDir, f.path.slice(5)) : join(root, f.path.slice(5));
    try {
      const st = lstatSync(abs);
      if (!st.isFile() || st.size !== f.size || hashSync(abs) !== f.sha256) return false;
    } catch {
      return false;
    }
  }
  return m.boot_files.every((f) => existsSync(join(bootDir, f))) && (!m.modules_dir || existsSync(join(root, m.modules_dir)));
}

interface ConsumerLock {
  kiln_consumer_lock: 1;
  /** "<name>@<version>/<arch>" -> the one artifact it means. */
  pins: Record<string, { release: string; artifact: string; sha256: string; signed_by?: string }>;
}

function readConsumerLock(file: string): ConsumerLock {
  if (!existsSync(file)) return { kiln_consumer_lock: 1, pins: {} };
  let v: ConsumerLock;
  try {
    v = JSON.parse(readFileSync(file, "utf8")) as ConsumerLock;
  } catch (e) {
    throw new ProjectError(`the consumer lock is not JSON: ${(e as Error).message}`, { file }, "fix it, or delete it to pin again");
  }
  if (v?.kiln_consumer_lock !== 1 || typeof v.pins !== "object" || v.pins === null) throw new ProjectError("not a kiln consumer lock", { file }, 'expected {"kiln_consumer_lock": 1, "pins": {...}}');
  for (const [k, p] of Object.entries(v.pins)) {
    if (!p || nameProblem("release", p.release) || !/^[0-9a-f]{64}$/.test(p.sha256 ?? "")) throw new ProjectError(`the pin ${printable(k)} is malformed`, { file }, "delete it and fetch again to pin anew");
  }
  return v;
}

function readdirSafe(d: string): string[] {
  try {
    return readdirSync(d).map((x) => join(d, x));
  } catch {
    return [];
  }
}

const LEFTOVER = /^\.kiln-(fetch|unpack|copy|download|artifact|put)-/;
const ASIDE = /^\.kiln-old-[0-9]+-[0-9a-f]{8}\.(.+)$/;

/**
 * Removes what killed runs left in `dirs`: staging, unpack, copy and download temps, and
 * set-aside copies (put back when their original is missing, deleted otherwise). Run under
 * the install lock. Returns what was swept.
 */
export function sweepLeftovers(dirs: string[]): string[] {
  const swept: string[] = [];
  for (const d of dirs) {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      continue;
    }
    for (const n of names) {
      const p = join(d, n);
      const aside = ASIDE.exec(n);
      if (aside) {
        const orig = join(d, aside[1]!);
        if (existsSync(orig)) removeTree(p);
        else renameSync(p, orig);
        swept.push(p);
      } else if (LEFTOVER.test(n)) {
        removeTree(p);
        swept.push(p);
      }
    }
  }
  return swept;
}

export async function fetchKernel(o: FetchOptions): Promise<FetchResult> {
  const ref = parseRef(o.ref);
  checkName("name", ref.name, "the kernel reference");
  checkName("version", ref.version, "the kernel reference");
  checkName("arch", o.arch, "--arch");
  const stateDir = o.stateDir ?? join(o.cacheDir, ".trust");
  const lockKey = createHash("sha256").update(`${o.bootDir}\0${o.root}`).digest("hex").slice(0, 16);
  return withLock(join(stateDir, `install-${lockKey}.lock`), async () => {
    const modulesParent = join(o.root, "lib", "modules");
    const swept = sweepLeftovers([o.bootDir, o.root, modulesParent]);
    if (swept.length) o.onWarning?.(`cleaned up after an interrupted run: ${swept.map(printable).join(", ")}`);
    const mpath = markerPath(o.bootDir, ref.name);
    const prev = readMarker(mpath);
    if (prev && prev.ref === o.ref && prev.arch === o.arch && markerIntact(prev, o.bootDir, o.root)) {
      return { noop: true, marker: prev, cached: true };
    }
    if (prev && prev.ref === o.ref && prev.arch === o.arch) o.onWarning?.(`the installed ${printable(prev.release)} is damaged or incomplete; installing it again`);
    const pins = o.lockFile ? readConsumerLock(o.lockFile) : undefined;
    const pinKey = `${o.ref}/${o.arch}`;
    const pin = pins && !o.update ? pins.pins[pinKey] : undefined;
    // SIGINT/SIGTERM: put back what was set aside, remove every temp of this run, and go
    const moves: Move[] = [];
    const stop = (sig: NodeJS.Signals) => {
      for (const m of [...moves].reverse()) {
        try {
          m.undo();
        } catch {
          /* the next run's sweep finishes it */
        }
      }
      try {
        sweepLeftovers([o.bootDir, o.root, modulesParent, ...readdirSafe(join(o.cacheDir, ref.name))]);
      } catch {
        /* the next run's sweep finishes it */
      }
      process.exit(sig === "SIGINT" ? 130 : 143);
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    try {
      // a pinned ref is resolved by its pinned release, and must be the pinned bytes
      const { entry, path: cached, sha256: want, fileName: artName, signedBy, trustedComment: tc, cached: fromCache } = await fetchVerifiedArtifact({ ...o, ...(pin ? { ref: `${ref.name}@${pin.release}` } : {}), stateDir });
      if (pin && (pin.sha256 !== want || (pin.signed_by && pin.signed_by !== signedBy))) {
        throw new SourceError(
          pin.sha256 !== want
            ? `${printable(o.ref)} is pinned to sha256 ${pin.sha256} in the consumer lock, the mirror offers ${want}`
            : `${printable(o.ref)} is pinned to key ${pin.signed_by} in the consumer lock, the mirror's copy is signed by ${signedBy ?? "(nobody)"}`,
          { file: o.lockFile },
          "kiln installs only the pinned bytes; `kiln fetch --lock <file> --update` moves the pin on purpose",
        );
      }
      const res = await install(o, moves, ref.name, entry, cached, want, artName, signedBy, tc, fromCache, mpath);
      if (o.lockFile && pins && (!pin || o.update)) {
        pins.pins[pinKey] = { release: entry.release, artifact: artName, sha256: want, ...(signedBy ? { signed_by: signedBy } : {}) };
        writeFileAtomic(o.lockFile, JSON.stringify(pins, null, 2) + "\n");
      }
      return res;
    } finally {
      process.removeListener("SIGINT", stop);
      process.removeListener("SIGTERM", stop);
    }
  });
}

async function install(o: FetchOptions, moves: Move[], name: string, entry: IndexEntry, cached: string, want: string, artName: string, signedBy: string | undefined, tc: string | undefined, fromCache: boolean, mpath: string): Promise<FetchResult> {
  mkdirSync(o.root, { recursive: true });
  mkdirSync(o.bootDir, { recursive: true });
  const staging = siblingTemp(join(o.root, "x"), "kiln-fetch");
  try {
    // the digests of the installed files come from the bytes as they were unpacked
    const { files: unpacked } = await safeUnpack({ archive: cached, dest: staging, compression: "zstd", limits: o.limits });
    const bootFiles = existsSync(join(staging, "boot")) ? readdirSync(join(staging, "boot")).sort() : [];
    if (!bootFiles.some((f) => /^(vmlinuz|Image|bzImage)-/.test(f))) {
      throw new SourceError(`${artName} has no kernel image under boot/`, { file: cached }, "the artifact is not a kiln kernel artifact");
    }
    for (const f of bootFiles) {
      const st = lstatSync(join(staging, "boot", f));
      if (!st.isFile()) throw new SourceError(`boot/${printable(f)} in the artifact is not a regular file`, { file: cached });
      if (!ownedBootName(f, entry.release)) {
        throw new SourceError(
          `refusing boot/${printable(f)} in the artifact: kiln installs only vmlinuz-, System.map- and config-${printable(entry.release)} into the boot dir`,
          { file: cached },
          "the artifact is malformed or hostile; nothing was installed",
        );
      }
    }
    const modsRel = `lib/modules/${entry.release}`;
    const hasMods = existsSync(join(staging, modsRel));
    const files: InstalledFile[] = [];
    const digest = (rel: string) => {
      const d = unpacked.get(rel);
      if (!d) throw new InfraError(`unpacked ${rel} has no recorded digest`, { file: cached }, "a kiln bug: report it");
      return d;
    };
    for (const f of bootFiles) files.push({ path: `boot:${f}`, ...digest(`boot/${f}`) });
    if (hasMods) {
      const under = `${modsRel}/`;
      const mods = [...unpacked.keys()].filter((k) => k.startsWith(under)).map((k) => k.slice(under.length)).sort();
      for (const f of mods) files.push({ path: `root:${modsRel}/${f}`, ...digest(`${under}${f}`) });
    }
    if (hasMods) moveReplacing(join(staging, modsRel), join(o.root, modsRel), moves);
    for (const f of bootFiles) moveReplacing(join(staging, "boot", f), join(o.bootDir, f), moves);
    const marker: InstalledMarker = {
      kiln_fetch: 1,
      ref: o.ref,
      arch: o.arch,
      name,
      release: entry.release,
      artifact: artName,
      sha256: want,
      signed_by: signedBy,
      trusted_comment: tc,
      boot_files: bootFiles,
      modules_dir: hasMods ? modsRel : undefined,
      files,
    };
    // the commit point: before this rename the old marker (or none) says what is installed
    writeFileAtomic(mpath, JSON.stringify(marker, null, 2) + "\n");
    for (const m of moves) m.commit();
    removeTree(staging);
    return { noop: false, marker, cached: fromCache };
  } catch (e) {
    for (const m of moves.reverse()) {
      try {
        m.undo();
      } catch {
        /* best effort: report the original error; the next run's sweep finishes it */
      }
    }
    removeTree(staging);
    if (e instanceof KilnError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    const hint =
      code === "ENOSPC" || code === "EDQUOT"
        ? "free space in the boot dir and the root; nothing was changed"
        : code === "EACCES" || code === "EPERM" || code === "EROFS"
          ? "check the permissions of the boot dir and the root; nothing was changed"
          : "nothing was changed; the error names the file";
    throw new InfraError(`installing ${artName} failed: ${(e as Error).message}`, { file: o.bootDir }, hint);
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

/** What a consumer remembers about one remote (docs/adr/0041). */
interface TrustState {
  kiln_trust: 1;
  remote: string;
  /** Newest signed index version seen, and the digest of its bytes. */
  version: number;
  digest: string;
  /** name@ref/arch -> the release it meant and when that release was published. */
  refs: Record<string, { release: string; published: string }>;
}

function statePath(stateDir: string, remote: string): string {
  return join(stateDir, `${createHash("sha256").update(remote).digest("hex").slice(0, 16)}.json`);
}

function readState(file: string, remote: string): TrustState {
  try {
    const s = JSON.parse(readFileSync(file, "utf8")) as TrustState;
    if (s.kiln_trust === 1 && s.remote === remote) return s;
  } catch {
    /* first contact */
  }
  return { kiln_trust: 1, remote, version: 0, digest: "", refs: {} };
}

/**
 * The mirror's signed index: index.json names version N, meta/index-N.json and its signature
 * must verify with a trusted key, say version N in the trusted comment, not be expired, and
 * not be older than (or, at the same version, different from) what this consumer saw before.
 */
async function signedIndex(
  t: Transport,
  o: Pick<FetchOptions, "trustedKeys" | "allowUnsigned" | "onWarning" | "now">,
  state: TrustState,
): Promise<{ index: MirrorIndex; version: number; digest: string; where: string }> {
  const hintBytes = await t.get(INDEX_PATH);
  if (!hintBytes) throw new SourceError("the mirror has no index.json", { url: t.where(INDEX_PATH) }, "check the mirror address");
  const hint = parseIndex(hintBytes.toString("utf8"), t.where(INDEX_PATH));
  if (hint.version === undefined || hint.version < 1) {
    if (!o.allowUnsigned) throw new SourceError("the mirror's index is not signed (no version)", { url: t.where(INDEX_PATH) }, "ask the publisher to publish again with a current kiln; --allow-unsigned skips this check at your own risk");
    o.onWarning?.(`WARNING: ${t.where(INDEX_PATH)} is not signed; using it unverified (--allow-unsigned)`);
    return { index: hint, version: 0, digest: "", where: t.where(INDEX_PATH) };
  }
  const n = hint.version;
  const meta = signedIndexPath(n);
  const where = t.where(meta);
  const bytes = await t.get(meta);
  const sig = await t.get(`${meta}.minisig`);
  if (!bytes || !sig) throw new SourceError(`the signed index version ${n} (${meta} and its .minisig) is missing`, { url: where }, "the mirror is incomplete; try again later");
  if (o.allowUnsigned && o.trustedKeys.length === 0) {
    o.onWarning?.(`WARNING: the index signature NOT verified (--allow-unsigned, no trusted key)`);
  } else {
    const v = verifyMinisign(bytes, sig.toString("utf8"), o.trustedKeys, `${where}.minisig`);
    if (!v.prehashed) throw new SourceError("the index signature uses minisign's legacy (non-prehashed) algorithm, which kiln does not accept", { url: `${where}.minisig` }, "sign with a current minisign or kiln");
    const said = /(?:^|\t)kiln-index-version:([0-9]+)(?:\t|$)/.exec(v.trustedComment)?.[1];
    if (said !== String(n)) throw new SourceError(`the index signature is for version ${said ?? "(none)"}, not ${n}`, { url: `${where}.minisig` }, "the mirror serves another index's signature");
  }
  const index = parseIndex(bytes.toString("utf8"), where);
  if (index.version !== n) throw new SourceError(`${meta} holds version ${index.version}, not ${n}`, { url: where }, "the mirror's index is inconsistent or hostile");
  const digest = createHash("sha256").update(bytes).digest("hex");
  if (n < state.version) {
    throw new SourceError(
      `rollback refused: the mirror offers index version ${n}, older than version ${state.version} this machine has seen`,
      { url: where },
      "a mirror serving old metadata is stale or hostile; try another mirror, or remove the trust record only if the publisher really started over",
    );
  }
  if (n === state.version && state.digest && digest !== state.digest) {
    throw new SourceError(`index version ${n} differs from the version ${n} this machine has seen`, { url: where }, "two different indexes signed with the same version: the publisher's key may be misused");
  }
  const now = (o.now ?? new Date()).getTime();
  if (index.expires === undefined || Date.parse(index.expires) < now) {
    throw new SourceError(
      `freeze refused: the signed index version ${n} expired at ${index.expires ?? "(no expiry)"}`,
      { url: where },
      "the mirror serves old metadata (or the publisher stopped publishing); ask the publisher to publish again",
    );
  }
  return { index, version: n, digest, where };
}

/**
 * Resolves `ref` in the mirror's signed index and returns the artifact in the cache, verified:
 * signature over SHA256SUMS against trusted keys, then sha256 against the sums and the
 * .sha256. Also what `kiln build` uses to reuse a peer's build instead of compiling.
 */
export async function fetchVerifiedArtifact(
  o: Pick<FetchOptions, "ref" | "arch" | "transport" | "cacheDir" | "stateDir" | "trustedKeys" | "allowUnsigned" | "onProgress" | "onWarning" | "now">,
): Promise<VerifiedArtifact> {
  const t = o.transport;
  const ref = parseRef(o.ref);
  checkName("name", ref.name, "the kernel reference");
  checkName("arch", o.arch, "--arch");
  const stateDir = o.stateDir ?? join(o.cacheDir, ".trust");
  const sfile = statePath(stateDir, t.where(INDEX_PATH));
  const state = readState(sfile, t.where(INDEX_PATH));
  const si = await signedIndex(t, o, state);
  const entry = resolveRef(si.index, ref, o.arch, si.where);
  checkEntry(entry, si.where);
  const refKey = `${ref.name}@${ref.version}/${o.arch}`;
  const seen = state.refs[refKey];
  if (seen && seen.release !== entry.release && ref.version !== entry.release && Date.parse(entry.published) < Date.parse(seen.published)) {
    throw new SourceError(
      `${ref.name}@${ref.version} now means ${entry.release} (published ${entry.published}), older than ${seen.release} (published ${seen.published}) it meant before`,
      { url: si.where },
      `a tag or version does not move back; to install the older release on purpose, ask for it by its full release: ${ref.name}@${entry.release}`,
    );
  }
  const artName = entry.artifact.split("/").at(-1)!;

  // 1. signature over SHA256SUMS, naming this release
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
    if (rel !== entry.release) {
      throw new SourceError(`signature is for release ${rel === undefined ? "(none named)" : printable(rel)}, not ${entry.release}`, { url: t.where(entry.signature) }, "the mirror serves another release's signature");
    }
    if (!v.prehashed) throw new SourceError("the signature uses minisign's legacy (non-prehashed) algorithm, which kiln does not accept", { url: t.where(entry.signature) }, "sign with a current minisign or kiln");
  }
  const sums = parseSha256Sums(sumsBytes.toString("utf8"), t.where(entry.sums));
  const want = sums.get(artName);
  if (!want) throw new SourceError(`${artName} is not listed in SHA256SUMS`, { url: t.where(entry.sums) }, "kiln refuses artifacts without a checksum");
  if (si.version > 0 && want !== entry.sha256) throw new SourceError(`the signed index says ${artName} has sha256 ${entry.sha256}, the signed SHA256SUMS says ${want}`, { url: si.where }, "the publisher's metadata is inconsistent");
  const shaBytes = await t.get(`${entry.artifact}.sha256`);
  if (!shaBytes) throw new SourceError(`${artName}.sha256 is missing on the mirror`, { url: t.where(`${entry.artifact}.sha256`) }, "kiln refuses artifacts without a checksum");
  const side = parseSha256File(shaBytes.toString("utf8"), t.where(`${entry.artifact}.sha256`));
  if (side !== want) throw new SourceError(`${artName}.sha256 (${side}) disagrees with SHA256SUMS (${want})`, { url: t.where(`${entry.artifact}.sha256`) });

  // 2. the artifact, from the cache or the mirror, checked before use
  const cacheRel = join(o.cacheDir, ref.name, entry.release);
  const cached = join(cacheRel, artName);
  sweepLeftovers([cacheRel]);
  let fromCache = false;
  if (existsSync(cached)) {
    if ((await sha256File(cached)) === want) fromCache = true;
    else {
      o.onWarning?.(`cached ${cached} does not match the signed checksum; deleted, downloading again`);
      removeTree(cached);
    }
  }
  if (!fromCache) await downloadVerified(t, entry, cached, want, si.version > 0 ? entry.size : undefined, o.onProgress);

  // 3. remember what was seen, only once everything checked out
  if (si.version > 0) {
    state.version = si.version;
    state.digest = si.digest;
    state.refs[refKey] = { release: entry.release, published: entry.published };
    mkdirSync(stateDir, { recursive: true });
    writeFileAtomic(sfile, JSON.stringify(state, null, 2) + "\n");
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

async function downloadVerified(t: Transport, entry: IndexEntry, dest: string, want: string, maxBytes: number | undefined, onProgress?: (p: Progress) => void): Promise<void> {
  mkdirSync(dirname(dest), { recursive: true });
  const tmp = siblingTemp(dest, "kiln-artifact");
  try {
    const r = await t.download(entry.artifact, tmp, onProgress, maxBytes);
    if (r.sha256 !== want) {
      throw new SourceError(
        `checksum mismatch: ${entry.artifact} has sha256 ${r.sha256}, the signed SHA256SUMS says ${want}`,
        { url: t.where(entry.artifact) },
        "the download is corrupt or was tampered with; it was deleted. Run again; if it persists, tell the mirror's owner",
      );
    }
    renameSync(tmp, dest);
  } finally {
    removeTree(tmp);
  }
}

interface Move {
  undo(): void;
  commit(): void;
}

/** A set-aside name beside `dest` that records what it was, so a sweep can put it back. */
function asideName(dest: string): string {
  const t = siblingTemp(dest, "kiln-old");
  return `${t}.${dest.split("/").at(-1)}`;
}

/**
 * Moves `src` to `dest`. An existing `dest` is set aside first: undo() puts it back,
 * commit() deletes it. Across filesystems a file is copied to a temp beside `dest`, then renamed.
 */
function moveReplacing(src: string, dest: string, moves: Move[]): void {
  mkdirSync(dirname(dest), { recursive: true });
  let aside: string | undefined;
  if (existsSync(dest)) {
    aside = asideName(dest);
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
      removeTree(dest);
      if (aside) renameSync(aside, dest);
    },
    commit: () => {
      if (aside) removeTree(aside);
    },
  });
}

/**
 * fetch_identity (peer reuse): before compiling, ask each `[ship].reuse` remote
 * whether it has this exact release. A copy is used only when its SHA256SUMS is signed by a
 * key in `[ship].trusted_keys` for this release and every file matches the signed sums; it is
 * unpacked into a temporary store folder and moved into `<store>/<release>` in one rename,
 * with a manifest.json that says where it came from. Anything else is reported and skipped,
 * and the build compiles as usual.
 *
 * The remote helpers (opening a remote, the trusted keys, the signing key) are in ship/remotes.ts.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from "node:fs";
import { join, resolve, isAbsolute } from "node:path";
import type { Project } from "../project/load.js";
import type { RemoteDecl } from "../project/schema.js";
import { parseManifest, type Manifest } from "../core/manifest.js";
import type { Paths } from "../store/paths.js";
import type { Ui } from "../ui/log.js";
import { commitEntry, entryDir, hasEntry, newTmpDir } from "../store/store.js";
import { openTransport, type Transport } from "../ship/transport.js";
import type { IndexEntry } from "../ship/mirror.js";
import { fetchVerifiedArtifact, lookupRelease } from "../ship/fetch.js";
import { RegistryClient, pullKernelOci, registryCredentials, parseRegistryRef } from "../ship/oci.js";
import { loadTrustedKeys, parseSecretKey, verifyMinisign, type MinisignKeyPair, type MinisignPublicKey } from "../ship/minisign.js";
import { parseSha256Sums, writeFileAtomic } from "../ship/artifact.js";
import { safeUnpack, siblingTemp } from "../ship/unpack.js";
import { KilnError, ProjectError, SourceError } from "../errors.js";
import { artifactName } from "./outputs.js";
import { openDeclaredRemote, trustedKeys, type OpenedRemote } from "../ship/remotes.js";

/**
 * Seed 001's fetch_identity: the first `[ship].reuse` remote with a correctly signed copy of
 * `release` for `arch` lands in the local store. Returns where it came from, or undefined.
 */
export async function fetchIdentity(project: Project, release: string, arch: string, o: { paths: Paths; ui: Ui }): Promise<{ from: string } | undefined> {
  const names = project.decl.ship.reuse;
  if (names.length === 0) return undefined;
  if (hasEntry(o.paths, release)) return { from: entryDir(o.paths, release) };
  let keys: MinisignPublicKey[];
  try {
    keys = trustedKeys(project);
  } catch (e) {
    o.ui.warn(`peer reuse is off: ${e instanceof KilnError ? e.render() : String(e)}`);
    return undefined;
  }
  if (keys.length === 0) {
    o.ui.warn(`[ship].reuse names remotes but [ship].trusted_keys is empty: a peer's build is never used unsigned; compiling ${release}`);
    return undefined;
  }
  for (const name of names) {
    let remote: OpenedRemote;
    try {
      remote = openDeclaredRemote(project, name);
    } catch (e) {
      o.ui.warn(`peer ${name}: ${e instanceof KilnError ? e.render() : String(e)}`);
      continue;
    }
    try {
      const got = remote.kind === "mirror" ? await fromMirror(project, remote, release, arch, keys, o) : await fromOci(remote, release, arch, keys, o);
      if (got) {
        o.ui.step("peer", `${release} from ${got} (signature verified); not compiling`);
        return { from: got };
      }
    } catch (e) {
      o.ui.warn(`not using ${remote.name}'s copy of ${release}: ${e instanceof KilnError ? e.render() : String((e as Error).message ?? e)}`);
    }
  }
  return undefined;
}

const PEER_CACHE = "peers";

async function fromMirror(project: Project, r: Extract<OpenedRemote, { kind: "mirror" }>, release: string, arch: string, keys: MinisignPublicKey[], o: { paths: Paths; ui: Ui }): Promise<string | undefined> {
  const name = artifactName(project);
  const entry: IndexEntry | undefined = await lookupRelease(r.transport, name, release, arch);
  if (!entry) {
    o.ui.debug(`peer ${r.name}: no ${name} ${release} for ${arch}`);
    return undefined;
  }
  const cacheDir = join(o.paths.home, PEER_CACHE);
  const art = await fetchVerifiedArtifact({ ref: `${name}@${release}`, arch, transport: r.transport, cacheDir, trustedKeys: keys });
  const from = `${r.name} (${r.transport.where(entry.artifact)}, signed by ${art.signedBy})`;
  // the release's other files: the manifest and bundles, each checked against the signed sums
  const dir = entry.artifact.split("/").slice(0, -1).join("/");
  const sumsBytes = await r.transport.get(entry.sums);
  const sigBytes = await r.transport.get(entry.signature);
  if (!sumsBytes || !sigBytes) throw new SourceError("SHA256SUMS or its signature disappeared during the fetch", { url: r.transport.where(entry.sums) }, "run the build again");
  verifyMinisign(sumsBytes, sigBytes.toString("utf8"), keys, r.transport.where(entry.signature));
  const sums = parseSha256Sums(sumsBytes.toString("utf8"), r.transport.where(entry.sums));
  if (!entry.files.includes("manifest.json") || !sums.has("manifest.json")) {
    throw new SourceError("the release has no signed manifest.json", { url: r.transport.where(`${dir}/manifest.json`) }, "publish it again with a current kiln");
  }
  const tmp = newTmpDir(o.paths, release);
  rmSync(tmp, { recursive: true, force: true });
  try {
    await safeUnpack({ archive: art.path, dest: tmp, compression: "zstd" });
    const extras: Record<string, string> = {};
    for (const f of entry.files) {
      if (f !== "manifest.json" && !f.endsWith(".kernel")) continue;
      const want = sums.get(f);
      if (!want) throw new SourceError(`${f} is not covered by the signed SHA256SUMS`, { url: r.transport.where(entry.sums) });
      if (!/^[A-Za-z0-9][A-Za-z0-9._+-]*$/.test(f)) throw new SourceError(`unsafe file name ${JSON.stringify(f)} in the index`, { url: r.transport.where("index.json") });
      const dest = f === "manifest.json" ? join(tmp, ".peer-manifest.json") : join(tmp, "bundles", f);
      mkdirSync(join(tmp, "bundles"), { recursive: true });
      const got = await r.transport.download(`${dir}/${f}`, dest);
      if (got.sha256 !== want) {
        throw new SourceError(`checksum mismatch: ${f} has sha256 ${got.sha256}, the signed SHA256SUMS says ${want}`, { url: r.transport.where(`${dir}/${f}`) }, "the remote copy is corrupt or was tampered with");
      }
      extras[f] = dest;
    }
    if (existsSync(join(tmp, "bundles")) && readdirSync(join(tmp, "bundles")).length === 0) rmSync(join(tmp, "bundles"), { recursive: true });
    const peer = readPeerManifest(extras["manifest.json"]!, r.transport.where(`${dir}/manifest.json`));
    rmSync(extras["manifest.json"]!, { force: true });
    landEntry(o.paths, tmp, release, arch, peer, from);
    return from;
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

async function fromOci(r: Extract<OpenedRemote, { kind: "oci" }>, release: string, arch: string, keys: MinisignPublicKey[], o: { paths: Paths; ui: Ui }): Promise<string | undefined> {
  const head = await r.client.request("HEAD", `/v2/${r.client.repository}/manifests/${release}`, { accept: "application/vnd.oci.image.manifest.v1+json" });
  head.stream.resume();
  if (head.status === 404) {
    o.ui.debug(`peer ${r.name}: no tag ${release}`);
    return undefined;
  }
  const pulled = siblingTemp(join(o.paths.storeTmp, "x"), `pull-${release}`);
  mkdirSync(o.paths.storeTmp, { recursive: true });
  const tmp = newTmpDir(o.paths, release);
  try {
    const got = await pullKernelOci({ client: r.client, reference: release, dest: pulled, trustedKeys: keys });
    if (got.release !== release) throw new SourceError(`the registry's ${release} tag holds release ${got.release}`, { url: r.client.url(`/v2/${r.client.repository}/manifests/${release}`) });
    if (!got.signedBy) throw new SourceError("the artifact is not signed", { url: r.where });
    const from = `${r.name} (${r.where}:${release}@${got.digest}, signed by ${got.signedBy})`;
    mkdirSync(join(tmp, "boot"), { recursive: true });
    for (const f of [`vmlinuz-${release}`, `config-${release}`, `System.map-${release}`]) {
      if (!got.files[f]) throw new SourceError(`the artifact has no ${f} layer`, { url: r.where });
      renameSync(join(pulled, f), join(tmp, "boot", f));
    }
    const mods = `modules-${release}.tar.zst`;
    if (got.files[mods]) {
      const un = join(tmp, ".modules");
      await safeUnpack({ archive: join(pulled, mods), dest: un, compression: "zstd" });
      if (!existsSync(join(un, "lib", "modules", release)) || readdirSync(join(un, "lib", "modules")).length !== 1) {
        throw new SourceError(`${mods} does not hold exactly lib/modules/${release}`, { url: r.where });
      }
      renameSync(join(un, "lib"), join(tmp, "lib"));
      rmSync(un, { recursive: true, force: true });
    }
    if (!got.files["manifest.json"]) throw new SourceError("the artifact has no manifest.json layer", { url: r.where });
    const peer = readPeerManifest(join(pulled, "manifest.json"), `${r.where}:${release} (manifest.json)`);
    landEntry(o.paths, tmp, release, arch, peer, from);
    return from;
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  } finally {
    rmSync(pulled, { recursive: true, force: true });
  }
}

function readPeerManifest(file: string, where: string): Manifest {
  return parseManifest(readFileSync(file, "utf8"), { url: where });
}

/**
 * Checks the unpacked folder against the release, writes its manifest (the peer's, with local
 * paths and the origin) and moves it into the store in one rename.
 */
function landEntry(p: Paths, tmp: string, release: string, arch: string, peer: Manifest, from: string): void {
  if (peer.uts_release !== release) throw new SourceError(`the peer's manifest is for ${peer.uts_release}, not ${release}`, { file: from });
  if (peer.arch !== arch) throw new SourceError(`the peer's build is for ${peer.arch}, not ${arch}`, { file: from });
  const boot = join(tmp, "boot");
  for (const f of [`vmlinuz-${release}`, `System.map-${release}`, `config-${release}`]) {
    if (!existsSync(join(boot, f))) throw new SourceError(`the peer's copy has no boot/${f}`, { file: from });
  }
  const dest = entryDir(p, release);
  const modules = existsSync(join(tmp, "lib", "modules", release));
  const { build_dir: _drop, ...rest } = peer;
  void _drop;
  const manifest: Manifest = {
    ...rest,
    reuse: { status: "reused", from },
    artifacts: {
      store_entry: dest,
      image: join(dest, "boot", `vmlinuz-${release}`),
      system_map: join(dest, "boot", `System.map-${release}`),
      config: join(dest, "boot", `config-${release}`),
      ...(modules ? { modules: join(dest, "lib", "modules", release) } : {}),
    },
  };
  writeFileAtomic(join(tmp, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
  commitEntry(p, tmp, release);
}

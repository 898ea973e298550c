/**
 * Pushing a build to an OCI registry as an artifact, and pulling it back verified
 * (distribution spec; docs/adr/0035).
 *
 * Manifest: OCI image manifest with artifactType application/vnd.kiln.kernel.v1, the empty
 * config, and one layer per file (title annotation = file name): the image, the modules
 * (deterministic tar.zst of lib/modules/<release>), config, System.map, manifest.json,
 * SHA256SUMS over those files and its minisign signature. Tags: <kernelversion> and <release>.
 *
 * Credentials: KILN_REGISTRY_USER/KILN_REGISTRY_PASSWORD or KILN_REGISTRY_TOKEN, else the
 * docker-style config ($DOCKER_CONFIG/config.json or ~/.docker/config.json, "auths" entries).
 * Basic and Bearer (token service) challenges are both handled.
 */
import type http from "node:http";
import { request as httpRequest } from "../effects/http.js";
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, existsSync, readFileSync, statSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { basename, join } from "node:path";
import { homedir } from "node:os";
import { InfraError, SourceError, ProjectError } from "../errors.js";
import { formatSha256Sums, parseSha256Sums, sha256File, listTree, writeTarZst } from "./artifact.js";
import { signMinisign, trustedComment, verifyMinisign, type MinisignKeyPair, type MinisignPublicKey } from "./minisign.js";
import { siblingTemp } from "./unpack.js";

export const KERNEL_ARTIFACT_TYPE = "application/vnd.kiln.kernel.v1";
export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
export const EMPTY_CONFIG = {
  mediaType: "application/vnd.oci.empty.v1+json",
  digest: "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
  size: 2,
};
export const LAYER_TYPES = {
  image: "application/vnd.kiln.kernel.image.v1",
  modules: "application/vnd.kiln.kernel.modules.v1.tar+zstd",
  config: "application/vnd.kiln.kernel.config.v1",
  systemMap: "application/vnd.kiln.kernel.system-map.v1",
  manifest: "application/vnd.kiln.kernel.manifest.v1+json",
  devel: "application/vnd.kiln.kernel.devel.v1.tar+zstd",
  sums: "application/vnd.kiln.kernel.sha256sums.v1",
  signature: "application/vnd.kiln.kernel.minisig.v1",
} as const;
export type LayerRole = keyof typeof LAYER_TYPES;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

export interface OciManifest {
  schemaVersion: 2;
  mediaType: string;
  artifactType: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface RegistryCredentials {
  username?: string;
  password?: string;
  token?: string;
}

/** "host[:port]/repo/path[:tag]" split; `http` for loopback hosts unless told otherwise. Pure. */
export function parseRegistryRef(ref: string): { registry: string; repository: string; tag?: string } {
  const m = /^([^/]+)\/([a-z0-9]+(?:[._/-][a-z0-9]+)*)(?::([A-Za-z0-9_][A-Za-z0-9._-]{0,127}))?$/.exec(ref);
  if (!m) throw new ProjectError(`bad registry reference ${JSON.stringify(ref)}`, {}, "write host[:port]/repository[:tag], e.g. registry.example.org/kernels/demo");
  return { registry: m[1]!, repository: m[2]!, tag: m[3] };
}

/** Credentials for `registry`: environment first, then the docker-style config file. */
export function registryCredentials(registry: string, env: NodeJS.ProcessEnv = process.env): RegistryCredentials | undefined {
  if (env.KILN_REGISTRY_TOKEN) return { token: env.KILN_REGISTRY_TOKEN };
  if (env.KILN_REGISTRY_USER) return { username: env.KILN_REGISTRY_USER, password: env.KILN_REGISTRY_PASSWORD ?? "" };
  const file = join(env.DOCKER_CONFIG ?? join(env.HOME ?? homedir(), ".docker"), "config.json");
  if (!existsSync(file)) return undefined;
  let cfg: { auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }> };
  try {
    cfg = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new ProjectError(`cannot read the registry credentials file: ${(e as Error).message}`, { file });
  }
  const auths = cfg.auths ?? {};
  const key = Object.keys(auths).find((k) => k === registry || k.replace(/^https?:\/\//, "").replace(/\/.*$/, "") === registry);
  const a = key ? auths[key]! : undefined;
  if (!a) return undefined;
  if (a.auth) {
    const dec = Buffer.from(a.auth, "base64").toString("utf8");
    const i = dec.indexOf(":");
    if (i < 0) throw new ProjectError(`auths["${key}"].auth is not base64 of user:password`, { file });
    return { username: dec.slice(0, i), password: dec.slice(i + 1) };
  }
  if (a.username) return { username: a.username, password: a.password ?? "" };
  return undefined;
}

type Body = Buffer | { file: string; size: number };

interface Res {
  status: number;
  headers: http.IncomingHttpHeaders;
  stream: http.IncomingMessage;
}

export class RegistryClient {
  private auth?: string;
  private readonly base: string;

  constructor(
    readonly registry: string,
    readonly repository: string,
    private readonly creds?: RegistryCredentials,
    opts: { insecure?: boolean } = {},
  ) {
    const loopback = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/.test(registry);
    this.base = `${(opts.insecure ?? loopback) ? "http" : "https"}://${registry}`;
  }

  url(path: string): string {
    return `${this.base}${path}`;
  }

  private async raw(method: string, url: string, headers: Record<string, string>, body?: Body): Promise<Res> {
    const r = await httpRequest({ method, url, headers, ...(body === undefined ? {} : { body: Buffer.isBuffer(body) ? body : { file: body.file, size: body.size } }), what: "the registry" });
    return { status: r.status, headers: r.headers, stream: r.stream };
  }

  private static async text(r: Res): Promise<string> {
    const parts: Buffer[] = [];
    for await (const c of r.stream) parts.push(c as Buffer);
    return Buffer.concat(parts).toString("utf8");
  }

  private async authenticate(challenge: string, url: string): Promise<void> {
    const scheme = challenge.split(" ")[0]!.toLowerCase();
    const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!.toLowerCase(), m[2]!]));
    const userpass = this.creds?.username !== undefined ? Buffer.from(`${this.creds.username}:${this.creds.password ?? ""}`).toString("base64") : undefined;
    if (scheme === "basic") {
      if (!userpass) throw new InfraError("the registry wants a user name and password", { url }, "set KILN_REGISTRY_USER and KILN_REGISTRY_PASSWORD, or log in with a docker-style config");
      this.auth = `Basic ${userpass}`;
      return;
    }
    if (scheme === "bearer") {
      if (this.creds?.token && !params.realm) {
        this.auth = `Bearer ${this.creds.token}`;
        return;
      }
      const realm = params.realm;
      if (!realm) throw new InfraError("the registry's Bearer challenge has no realm", { url });
      const t = new URL(realm);
      if (params.service) t.searchParams.set("service", params.service);
      t.searchParams.set("scope", `repository:${this.repository}:pull,push`);
      const h: Record<string, string> = {};
      if (userpass) h.authorization = `Basic ${userpass}`;
      const r = await this.raw("GET", t.toString(), h);
      const body = await RegistryClient.text(r);
      if (r.status !== 200) throw new InfraError(`token service answered ${r.status}: ${body.slice(0, 200)}`, { url: t.toString() }, "check the registry credentials");
      const j = JSON.parse(body) as { token?: string; access_token?: string };
      const tok = j.token ?? j.access_token;
      if (!tok) throw new InfraError("token service gave no token", { url: t.toString() });
      this.auth = `Bearer ${tok}`;
      return;
    }
    throw new InfraError(`unsupported registry auth scheme ${scheme}`, { url });
  }

  /** One request, authenticating once on 401. */
  async request(method: string, path: string, headers: Record<string, string> = {}, body?: Body): Promise<Res> {
    const url = path.startsWith("http") ? path : this.url(path);
    const send = () => this.raw(method, url, { ...headers, ...(this.auth ? { authorization: this.auth } : {}) }, body);
    let r = await send();
    if (r.status === 401) {
      const challenge = String(r.headers["www-authenticate"] ?? "");
      await RegistryClient.text(r);
      if (this.auth) throw new InfraError(`${method} was refused (401) with the configured credentials`, { url }, "check KILN_REGISTRY_USER/KILN_REGISTRY_PASSWORD or the docker config");
      await this.authenticate(challenge, url);
      r = await send();
      if (r.status === 401) {
        await RegistryClient.text(r);
        throw new InfraError(`${method} was refused (401) with the configured credentials`, { url }, "check KILN_REGISTRY_USER/KILN_REGISTRY_PASSWORD or the docker config");
      }
    }
    return r;
  }

  private async expect(r: Res, ok: number[], what: string, url: string): Promise<void> {
    if (ok.includes(r.status)) return;
    const body = (await RegistryClient.text(r)).slice(0, 300);
    const E = r.status === 404 ? SourceError : InfraError;
    throw new E(`${what}: registry answered ${r.status}${body ? `: ${body}` : ""}`, { url }, r.status >= 500 ? "the registry failed; run the command again" : undefined);
  }

  async hasBlob(digest: string): Promise<boolean> {
    const path = `/v2/${this.repository}/blobs/${digest}`;
    const r = await this.request("HEAD", path);
    r.stream.resume();
    if (r.status === 200) return true;
    if (r.status === 404) return false;
    await this.expect(r, [200], `HEAD blob ${digest}`, this.url(path));
    return false;
  }

  /** Monolithic upload (POST then PUT with the digest). Skips blobs the registry has. */
  async pushBlob(body: Body, digest: string): Promise<void> {
    if (await this.hasBlob(digest)) return;
    const start = `/v2/${this.repository}/blobs/uploads/`;
    const r = await this.request("POST", start, { "content-length": "0" });
    await this.expect(r, [202], "start blob upload", this.url(start));
    r.stream.resume();
    const loc = r.headers.location;
    if (!loc) throw new InfraError("registry gave no upload location", { url: this.url(start) });
    const u = new URL(loc, this.base);
    u.searchParams.set("digest", digest);
    const size = Buffer.isBuffer(body) ? body.length : body.size;
    const p = await this.request("PUT", u.toString(), { "content-type": "application/octet-stream", "content-length": String(size) }, body);
    await this.expect(p, [201], `upload blob ${digest}`, u.toString());
    p.stream.resume();
  }

  async putManifest(tag: string, manifest: Buffer): Promise<string> {
    const path = `/v2/${this.repository}/manifests/${tag}`;
    const r = await this.request("PUT", path, { "content-type": OCI_MANIFEST, "content-length": String(manifest.length) }, manifest);
    await this.expect(r, [201], `push manifest ${tag}`, this.url(path));
    r.stream.resume();
    return `sha256:${createHash("sha256").update(manifest).digest("hex")}`;
  }

  async getManifest(reference: string): Promise<{ bytes: Buffer; digest: string }> {
    const path = `/v2/${this.repository}/manifests/${reference}`;
    const r = await this.request("GET", path, { accept: OCI_MANIFEST });
    await this.expect(r, [200], `get manifest ${reference}`, this.url(path));
    const parts: Buffer[] = [];
    for await (const c of r.stream) parts.push(c as Buffer);
    const bytes = Buffer.concat(parts);
    const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
    const claimed = r.headers["docker-content-digest"];
    if (claimed && claimed !== digest) throw new SourceError(`manifest digest ${digest} differs from the registry's ${claimed}`, { url: this.url(path) });
    if (reference.startsWith("sha256:") && reference !== digest) throw new SourceError(`manifest does not match its digest ${reference}`, { url: this.url(path) });
    return { bytes, digest };
  }

  /** Downloads a blob to `dest` (temp + rename), refusing a wrong digest or size. */
  async pullBlob(d: Descriptor, dest: string): Promise<void> {
    const path = `/v2/${this.repository}/blobs/${d.digest}`;
    let r = await this.request("GET", path);
    for (let hops = 0; r.status >= 300 && r.status < 400 && r.headers.location && hops < 5; hops++) {
      r.stream.resume();
      r = await this.raw("GET", new URL(r.headers.location, this.base).toString(), {}); // no credentials to other hosts
    }
    await this.expect(r, [200], `get blob ${d.digest}`, this.url(path));
    const tmp = siblingTemp(dest, "kiln-blob");
    const out = createWriteStream(tmp);
    let outErr: Error | undefined;
    out.on("error", (e) => (outErr = e));
    const h = createHash("sha256");
    let n = 0;
    try {
      for await (const c of r.stream) {
        h.update(c as Buffer);
        n += (c as Buffer).length;
        if (n > d.size) throw new SourceError(`blob ${d.digest} is larger than its descriptor's ${d.size} bytes`, { url: this.url(path) });
        if (!out.write(c)) await new Promise<void>((res) => out.once("drain", () => res()));
        if (outErr) throw outErr;
      }
      await new Promise<void>((res, rej) => out.end((e?: Error | null) => (e ? rej(e) : res())));
      if (outErr) throw outErr;
      const got = `sha256:${h.digest("hex")}`;
      if (n !== d.size) throw new SourceError(`blob ${d.digest} truncated: ${n} of ${d.size} bytes`, { url: this.url(path) }, "run the command again");
      if (got !== d.digest) throw new SourceError(`blob digest mismatch: got ${got}, expected ${d.digest}`, { url: this.url(path) }, "the registry served corrupt or tampered data");
      renameSync(tmp, dest);
    } catch (e) {
      out.destroy();
      rmSync(tmp, { force: true });
      throw e;
    }
  }
}

export interface OciPushInput {
  client: RegistryClient;
  /** The install tree: boot/{vmlinuz,System.map,config}-<release>, lib/modules/<release>, manifest.json. */
  entryDir: string;
  release: string;
  kernelVersion: string;
  timestamp: number;
  key: MinisignKeyPair;
  identity?: string;
  /** Scratch folder for the modules tar and the sums. */
  workDir: string;
  /**
   * The devel layer's artifact (<name>-devel-<release>-<arch>.tar.zst), pushed as one more layer
   * covered by the same signed SHA256SUMS; a pull takes it only when asked (`devel: true`).
   */
  devel?: string;
}

export interface OciPushResult {
  digest: string;
  tags: string[];
  manifest: OciManifest;
}

function fileLayer(role: LayerRole, title: string, sha: string, size: number): Descriptor {
  return { mediaType: LAYER_TYPES[role], digest: `sha256:${sha}`, size, annotations: { "org.opencontainers.image.title": title } };
}

export async function pushKernelOci(p: OciPushInput): Promise<OciPushResult> {
  const r = p.release;
  const files: { role: LayerRole; title: string; path: string }[] = [
    { role: "image", title: `vmlinuz-${r}`, path: join(p.entryDir, "boot", `vmlinuz-${r}`) },
    { role: "config", title: `config-${r}`, path: join(p.entryDir, "boot", `config-${r}`) },
    { role: "systemMap", title: `System.map-${r}`, path: join(p.entryDir, "boot", `System.map-${r}`) },
    { role: "manifest", title: "manifest.json", path: join(p.entryDir, "manifest.json") },
  ];
  for (const f of files) if (!existsSync(f.path)) throw new ProjectError(`the install tree has no ${f.title}`, { file: f.path }, "build the target first");
  mkdirSync(p.workDir, { recursive: true });
  if (existsSync(join(p.entryDir, "lib", "modules", r))) {
    const modsPath = join(p.workDir, `modules-${r}.tar.zst`);
    const entries = listTree(p.entryDir, p.timestamp, (rel) => rel === "lib" || rel === "lib/modules" || rel === `lib/modules/${r}` || rel.startsWith(`lib/modules/${r}/`));
    await writeTarZst(entries, modsPath);
    files.splice(1, 0, { role: "modules", title: `modules-${r}.tar.zst`, path: modsPath });
  }
  if (p.devel) {
    if (!existsSync(p.devel)) throw new ProjectError(`the devel artifact ${basename(p.devel)} is missing`, { file: p.devel }, "make it: kiln build with outputs = [\"devel\"]");
    files.push({ role: "devel", title: basename(p.devel), path: p.devel });
  }
  const layers: Descriptor[] = [];
  const sums: { name: string; sha256: string }[] = [];
  for (const f of files) {
    const sha = await sha256File(f.path);
    sums.push({ name: f.title, sha256: sha });
    layers.push(fileLayer(f.role, f.title, sha, statSync(f.path).size));
  }
  const sumsText = Buffer.from(formatSha256Sums(sums));
  const sig = Buffer.from(signMinisign(sumsText, p.key, trustedComment({ timestamp: p.timestamp, file: "SHA256SUMS", release: r, identity: p.identity })));
  const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
  layers.push(fileLayer("sums", "SHA256SUMS", sha(sumsText), sumsText.length));
  layers.push(fileLayer("signature", "SHA256SUMS.minisig", sha(sig), sig.length));
  await p.client.pushBlob(Buffer.from("{}"), EMPTY_CONFIG.digest);
  for (const f of files) await p.client.pushBlob({ file: f.path, size: statSync(f.path).size }, layers.find((l) => l.annotations!["org.opencontainers.image.title"] === f.title)!.digest);
  await p.client.pushBlob(sumsText, `sha256:${sha(sumsText)}`);
  await p.client.pushBlob(sig, `sha256:${sha(sig)}`);
  const manifest: OciManifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: KERNEL_ARTIFACT_TYPE,
    config: EMPTY_CONFIG,
    layers,
    annotations: {
      "org.opencontainers.image.version": r,
      "org.opencontainers.image.created": new Date(p.timestamp * 1000).toISOString(),
      "dev.kiln.kernel.version": p.kernelVersion,
      ...(p.identity ? { "dev.kiln.identity": p.identity } : {}),
    },
  };
  const bytes = Buffer.from(JSON.stringify(manifest));
  const tags = [...new Set([p.kernelVersion, r])];
  let digest = "";
  // the exact release first, the moving kernel-version tag last
  for (const t of [...tags].reverse()) digest = await p.client.putManifest(t, bytes);
  return { digest, tags, manifest };
}

export interface OciPullResult {
  digest: string;
  release: string;
  files: Record<string, string>;
  signedBy?: string;
  trustedComment?: string;
}

/**
 * Pulls `reference` (tag or digest) into `dest` (must not exist): every blob is checked against
 * its digest, the signature over SHA256SUMS against `trustedKeys`, each file against SHA256SUMS.
 * Files land in a temp folder renamed to `dest` at the end. The devel layer is left out unless
 * `devel` asks for it (then an artifact without one is refused).
 */
export async function pullKernelOci(o: { client: RegistryClient; reference: string; dest: string; trustedKeys: MinisignPublicKey[]; allowUnsigned?: boolean; devel?: boolean }): Promise<OciPullResult> {
  const { bytes, digest } = await o.client.getManifest(o.reference);
  const where = o.client.url(`/v2/${o.client.repository}/manifests/${o.reference}`);
  let m: OciManifest;
  try {
    m = JSON.parse(bytes.toString("utf8"));
  } catch {
    throw new SourceError("manifest is not JSON", { url: where });
  }
  if (m.artifactType !== KERNEL_ARTIFACT_TYPE || !Array.isArray(m.layers)) {
    throw new SourceError(`not a kiln kernel artifact (artifactType ${JSON.stringify(m.artifactType)})`, { url: where });
  }
  if (o.devel && !m.layers.some((l) => l.mediaType === LAYER_TYPES.devel)) throw new SourceError("the artifact has no devel layer", { url: where }, 'publish it from a target whose outputs include "devel"');
  if (existsSync(o.dest)) throw new InfraError("pull destination already exists", { file: o.dest });
  const tmp = siblingTemp(o.dest, "kiln-pull");
  mkdirSync(tmp, { recursive: true });
  try {
    const files: Record<string, string> = {};
    for (const l of m.layers) {
      const title = l.annotations?.["org.opencontainers.image.title"] ?? "";
      if (!/^[A-Za-z0-9][A-Za-z0-9._+-]*$/.test(title)) throw new SourceError(`layer ${l.digest} has an unsafe or missing title ${JSON.stringify(title)}`, { url: where });
      if (!/^sha256:[0-9a-f]{64}$/.test(l.digest) || !Number.isSafeInteger(l.size) || l.size < 0) throw new SourceError(`layer ${title} has a malformed descriptor`, { url: where });
      if (files[title]) throw new SourceError(`two layers are titled ${title}`, { url: where });
      // the devel layer is large and only a developer wants it: pulled when asked
      if (l.mediaType === LAYER_TYPES.devel && !o.devel) continue;
      await o.client.pullBlob(l, join(tmp, title));
      files[title] = join(o.dest, title);
    }
    if (!files["SHA256SUMS"]) throw new SourceError("the artifact has no SHA256SUMS layer", { url: where }, "kiln refuses artifacts without checksums");
    const sumsText = readFileSync(join(tmp, "SHA256SUMS"));
    let signedBy: string | undefined;
    let tc: string | undefined;
    if (files["SHA256SUMS.minisig"]) {
      if (!(o.allowUnsigned && o.trustedKeys.length === 0)) {
        const v = verifyMinisign(sumsText, readFileSync(join(tmp, "SHA256SUMS.minisig"), "utf8"), o.trustedKeys, `${where} (SHA256SUMS.minisig)`);
        signedBy = v.keyId;
        tc = v.trustedComment;
      }
    } else if (!o.allowUnsigned) {
      throw new SourceError("the artifact has no signature layer", { url: where }, "kiln refuses unsigned artifacts unless explicitly allowed");
    }
    const sums = parseSha256Sums(sumsText.toString("utf8"), `${where} (SHA256SUMS)`);
    for (const [title] of Object.entries(files)) {
      if (title === "SHA256SUMS" || title === "SHA256SUMS.minisig") continue;
      const want = sums.get(title);
      const layer = m.layers.find((l) => l.annotations?.["org.opencontainers.image.title"] === title)!;
      if (!want || `sha256:${want}` !== layer.digest) throw new SourceError(`${title} is not covered by the signed SHA256SUMS`, { url: where });
    }
    const release = m.annotations?.["org.opencontainers.image.version"] ?? "";
    const signedRelease = tc ? /(?:^|\t)kiln-release:([^\t]+)/.exec(tc)?.[1] : undefined;
    if (signedRelease !== undefined && signedRelease !== release) throw new SourceError(`signature is for ${signedRelease}, the manifest says ${release}`, { url: where });
    renameSync(tmp, o.dest);
    return { digest, release, files, signedBy, trustedComment: tc };
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

export function layerTitle(d: Descriptor): string | undefined {
  return d.annotations?.["org.opencontainers.image.title"];
}

/**
 * Where published files live: a local directory or an HTTP(S) server that accepts PUT.
 * Paths are "/"-separated and relative to the remote's root. Every write lands whole:
 * a temp file and a rename on disk; one PUT with a Content-Length over HTTP. Every
 * download is checked against the announced length, so a cut connection is an error.
 */
import { createReadStream, createWriteStream, mkdirSync, readFileSync, renameSync, rmSync, statSync, copyFileSync, existsSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { createHash } from "node:crypto";
import { InfraError, SourceError } from "../errors.js";
import { request as httpRequest, readBody, collect, errorText, redactUrl, splitUserinfo, type HttpBody, type HttpLimits } from "../effects/http.js";

/** Metadata (index, sums, signatures) is small: this default cap stops a hostile server early. */
export const DEFAULT_METADATA_MAX = 4 << 20;

/** The metadata cap: KILN_MAX_METADATA_BYTES, else 4 MiB. */
export function metadataMax(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.KILN_MAX_METADATA_BYTES;
  if (v === undefined || v === "") return DEFAULT_METADATA_MAX;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InfraError(`KILN_MAX_METADATA_BYTES=${JSON.stringify(v)} is not a positive whole number`, {}, "set it to a byte count, e.g. 4194304");
  return n;
}

const METADATA_HINT = "mirror metadata (index.json, SHA256SUMS, signatures) is capped; KILN_MAX_METADATA_BYTES raises the cap";
import { siblingTemp } from "./unpack.js";

export interface Progress {
  file: string;
  received: number;
  /** Undefined when the server did not say. */
  total?: number;
}

export interface DownloadResult {
  bytes: number;
  sha256: string;
}

export interface Transport {
  /** Human-readable location of `path` for messages. */
  where(path: string): string;
  /** The file's bytes, or undefined when it does not exist. */
  get(path: string, maxBytes?: number): Promise<Buffer | undefined>;
  /** Downloads to `dest` (temp + rename), hashing on the way, stopping past `maxBytes`. Missing file is an error. */
  download(path: string, dest: string, onProgress?: (p: Progress) => void, maxBytes?: number): Promise<DownloadResult>;
  /** Uploads a local file or bytes. */
  put(path: string, data: Buffer | { file: string }): Promise<void>;
}

export function checkRemotePath(path: string): string {
  if (path.startsWith("/") || path.split("/").some((p) => p === ".." || p === "." || p === "")) {
    throw new SourceError(`unsafe remote path ${JSON.stringify(path)}`, {}, "the mirror index is malformed or hostile");
  }
  return path;
}

export class DirTransport implements Transport {
  constructor(readonly root: string) {}
  where(path: string): string {
    return join(this.root, path);
  }
  async get(path: string, maxBytes = metadataMax()): Promise<Buffer | undefined> {
    const p = join(this.root, checkRemotePath(path));
    if (!existsSync(p)) return undefined;
    const size = statSync(p).size;
    if (size > maxBytes) throw new SourceError(`${path} is larger than ${maxBytes} bytes (${size}); not read`, { file: p }, METADATA_HINT);
    return readFileSync(p);
  }
  async download(path: string, dest: string, onProgress?: (p: Progress) => void, maxBytes?: number): Promise<DownloadResult> {
    const src = join(this.root, checkRemotePath(path));
    if (!existsSync(src)) throw new SourceError(`not found on the mirror`, { file: src });
    const total = statSync(src).size;
    if (maxBytes !== undefined && total > maxBytes) {
      throw new SourceError(`${path} is ${total} bytes, more than the ${maxBytes} bytes the signed index declares`, { file: src }, "the mirror serves another file; nothing was written");
    }
    return writeStreamTo(createReadStream(src, { highWaterMark: 1 << 20 }), dest, path, total, onProgress, src);
  }
  async put(path: string, data: Buffer | { file: string }): Promise<void> {
    const dest = join(this.root, checkRemotePath(path));
    mkdirSync(dirname(dest), { recursive: true });
    const tmp = siblingTemp(dest, "kiln-put");
    try {
      if (Buffer.isBuffer(data)) writeFileSync(tmp, data);
      else copyFileSync(data.file, tmp);
      renameSync(tmp, dest);
    } catch (e) {
      rmSync(tmp, { force: true });
      throw new InfraError(`cannot write to the mirror: ${(e as Error).message}`, { file: dest });
    }
  }
}

/** Resolves on "drain" or "error" (the error itself is kept by the caller's listener). */
function drained(out: NodeJS.WritableStream): Promise<void> {
  return new Promise<void>((r) => {
    const done = () => {
      out.removeListener("drain", done);
      out.removeListener("error", done);
      r();
    };
    out.once("drain", done);
    out.once("error", done);
  });
}

async function writeStreamTo(
  stream: AsyncIterable<Buffer>,
  dest: string,
  file: string,
  total: number | undefined,
  onProgress: ((p: Progress) => void) | undefined,
  where: string,
): Promise<DownloadResult> {
  mkdirSync(dirname(dest), { recursive: true });
  const tmp = siblingTemp(dest, "kiln-download");
  const out = createWriteStream(tmp);
  let outErr: Error | undefined;
  out.on("error", (e) => (outErr = e)); // surfaced below, never uncaught
  const hash = createHash("sha256");
  let received = 0;
  try {
    for await (const chunk of stream) {
      if (outErr) throw new InfraError(`cannot write ${dest}: ${outErr.message}`, { file: dest });
      hash.update(chunk);
      received += chunk.length;
      if (!out.write(chunk)) await drained(out);
      onProgress?.({ file, received, total });
    }
    await new Promise<void>((res, rej) => out.end((e?: Error | null) => (e ? rej(e) : res())));
    if (total !== undefined && received !== total) {
      throw new SourceError(`download truncated: got ${received} of ${total} bytes`, { url: where }, "the connection was cut; run the command again");
    }
    renameSync(tmp, dest);
    return { bytes: received, sha256: hash.digest("hex") };
  } catch (e) {
    await new Promise<void>((r) => (out.closed ? r() : (out.once("close", r), out.destroy())));
    rmSync(tmp, { force: true });
    if (e instanceof SourceError || e instanceof InfraError) throw e;
    throw new SourceError(`download failed after ${received} bytes: ${(e as Error).message}`, { url: where }, "the connection was cut; run the command again");
  }
}

export interface HttpOptions {
  /** Extra headers, e.g. Authorization from the environment. */
  headers?: Record<string, string>;
  limits?: Partial<HttpLimits>;
}

/** A mirror over HTTP(S), through the one client in effects/http.ts. */
export class HttpTransport implements Transport {
  private readonly base: URL;
  private readonly headers: Record<string, string>;
  constructor(
    base: string,
    private readonly opts: HttpOptions = {},
  ) {
    let parsed: URL;
    try {
      parsed = new URL(base.endsWith("/") ? base : `${base}/`);
    } catch {
      throw new InfraError(`not a URL`, { url: redactUrl(base) }, "use a folder, http:// or https://");
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
      throw new InfraError(`unsupported mirror URL scheme ${parsed.protocol}`, { url: redactUrl(base) }, "use a folder, http:// or https://");
    }
    // userinfo becomes a header here, so no URL kiln prints or logs carries a password
    const split = splitUserinfo(parsed.toString());
    this.base = new URL(split.url);
    this.headers = { ...(split.authorization ? { authorization: split.authorization } : {}), ...opts.headers };
  }
  url(path: string): string {
    return new URL(checkRemotePath(path), this.base).toString();
  }
  where(path: string): string {
    return this.url(path);
  }

  private send(method: string, url: string, extra: Record<string, string> = {}, body?: HttpBody) {
    return httpRequest({ method, url, headers: { ...this.headers, ...extra }, body, limits: this.opts.limits, redirects: method === "GET" ? 5 : 0, what: "the mirror" });
  }

  async get(path: string, maxBytes = metadataMax()): Promise<Buffer | undefined> {
    const r = await this.send("GET", this.url(path));
    if (r.status === 404) {
      r.discard();
      return undefined;
    }
    if (r.status !== 200) {
      const body = await errorText(r);
      throw new InfraError(`GET answered ${r.status} ${r.statusMessage}${body ? `: ${body}` : ""}`, { url: r.url }, "the mirror failed; try again later");
    }
    return collect(r, { maxBytes, what: path, hint: METADATA_HINT });
  }

  async download(path: string, dest: string, onProgress?: (p: Progress) => void, maxBytes?: number): Promise<DownloadResult> {
    const r = await this.send("GET", this.url(path));
    if (r.status !== 200) {
      const body = await errorText(r);
      const E = r.status === 404 ? SourceError : InfraError;
      throw new E(`GET answered ${r.status} ${r.statusMessage}${body ? `: ${body}` : ""}`, { url: r.url }, r.status === 404 ? "the mirror does not have this file" : "the mirror failed; try again later");
    }
    const len = r.headers["content-length"];
    const total = len === undefined ? undefined : Number(len);
    if (maxBytes !== undefined && total !== undefined && total > maxBytes) {
      r.discard();
      throw new SourceError(`${path} is announced as ${total} bytes, more than the ${maxBytes} bytes the signed index declares`, { url: r.url }, "the mirror serves another file; nothing was written");
    }
    const cap = maxBytes === undefined ? undefined : { maxBytes, what: path, hint: "the signed index declares a smaller size; the mirror serves another file" };
    return writeStreamTo(readBody(r, cap), dest, path, total, onProgress, r.url);
  }

  async put(path: string, data: Buffer | { file: string }): Promise<void> {
    const url = this.url(path);
    const size = Buffer.isBuffer(data) ? data.length : statSync(data.file).size;
    const body = Buffer.isBuffer(data) ? data : { file: data.file, size };
    const r = await this.send("PUT", url, { "content-length": String(size), "content-type": "application/octet-stream" }, body);
    const text = await errorText(r);
    if (r.status < 200 || r.status >= 300) {
      throw new InfraError(`PUT answered ${r.status} ${r.statusMessage}${text ? `: ${text}` : ""}`, { url: r.url }, "check the mirror accepts PUT and your credentials (KILN_MIRROR_TOKEN)");
    }
  }
}

/** A folder path or an http(s) URL. Credentials come from the environment only. */
export function openTransport(remote: string, env: NodeJS.ProcessEnv = process.env): Transport {
  if (/^https?:\/\//.test(remote)) {
    const headers: Record<string, string> = {};
    if (env.KILN_MIRROR_TOKEN) headers.authorization = `Bearer ${env.KILN_MIRROR_TOKEN}`;
    else if (env.KILN_MIRROR_USER) headers.authorization = `Basic ${Buffer.from(`${env.KILN_MIRROR_USER}:${env.KILN_MIRROR_PASSWORD ?? ""}`).toString("base64")}`;
    return new HttpTransport(remote, { headers });
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(remote)) throw new InfraError(`unsupported mirror URL`, { url: redactUrl(remote) }, "use a folder, http:// or https://");
  return new DirTransport(resolve(remote.replace(/^file:\/\//, "")));
}

/**
 * Where published files live: a local directory or an HTTP(S) server that accepts PUT.
 * Paths are "/"-separated and relative to the remote's root. Every write lands whole:
 * a temp file and a rename on disk; one PUT with a Content-Length over HTTP. Every
 * download is checked against the announced length, so a cut connection is an error.
 */
import { createReadStream, createWriteStream, mkdirSync, readFileSync, renameSync, rmSync, statSync, copyFileSync, existsSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import http from "node:http";
import https from "node:https";
import { createHash } from "node:crypto";
import { InfraError, SourceError } from "../errors.js";
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
  get(path: string): Promise<Buffer | undefined>;
  /** Downloads to `dest` (temp + rename), hashing on the way. Missing file is an error. */
  download(path: string, dest: string, onProgress?: (p: Progress) => void): Promise<DownloadResult>;
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
  async get(path: string): Promise<Buffer | undefined> {
    const p = join(this.root, checkRemotePath(path));
    return existsSync(p) ? readFileSync(p) : undefined;
  }
  async download(path: string, dest: string, onProgress?: (p: Progress) => void): Promise<DownloadResult> {
    const src = join(this.root, checkRemotePath(path));
    if (!existsSync(src)) throw new SourceError(`not found on the mirror`, { file: src });
    const total = statSync(src).size;
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
  timeoutMs?: number;
}

export class HttpTransport implements Transport {
  private readonly base: URL;
  constructor(
    base: string,
    private readonly opts: HttpOptions = {},
  ) {
    this.base = new URL(base.endsWith("/") ? base : `${base}/`);
    if (this.base.protocol !== "http:" && this.base.protocol !== "https:") {
      throw new InfraError(`unsupported mirror URL scheme ${this.base.protocol}`, { url: base }, "use a folder, http:// or https://");
    }
  }
  url(path: string): string {
    return new URL(checkRemotePath(path), this.base).toString();
  }
  where(path: string): string {
    return this.url(path);
  }

  private request(method: string, url: string, headers: Record<string, string> = {}, body?: Buffer | { file: string; size: number }, anonymous = false): Promise<http.IncomingMessage> {
    const mod = url.startsWith("https:") ? https : http;
    const all: Record<string, string> = anonymous ? {} : { ...this.opts.headers };
    for (const [k, v] of Object.entries(headers)) if (v !== "") all[k] = v;
    return new Promise((res, rej) => {
      // agent: false: no idle keep-alive sockets that a server may close under us between calls
      const req = mod.request(url, { method, agent: false, headers: all, timeout: this.opts.timeoutMs ?? 60_000 });
      req.on("response", res);
      req.on("timeout", () => req.destroy(new Error(`no answer within ${this.opts.timeoutMs ?? 60_000} ms`)));
      req.on("error", (e) => rej(new InfraError(`${method} failed: ${e.message}`, { url }, "check that the mirror is reachable")));
      if (body === undefined) req.end();
      else if (Buffer.isBuffer(body)) req.end(body);
      else {
        const s = createReadStream(body.file);
        s.on("error", (e) => req.destroy(e));
        s.pipe(req);
      }
    });
  }

  /** GET following up to 5 redirects; credentials go only to the mirror's own origin. */
  private async getFollowing(url: string): Promise<{ r: http.IncomingMessage; url: string }> {
    let cur = url;
    for (let hops = 0; ; hops++) {
      const sameOrigin = new URL(cur).origin === this.base.origin;
      const r = await this.request("GET", cur, {}, undefined, !sameOrigin);
      const loc = r.headers.location;
      if (r.statusCode && r.statusCode >= 300 && r.statusCode < 400 && loc && hops < 5) {
        r.resume();
        cur = new URL(loc, cur).toString();
        continue;
      }
      return { r, url: cur };
    }
  }

  private static async drain(r: http.IncomingMessage): Promise<string> {
    const parts: Buffer[] = [];
    let n = 0;
    for await (const c of r) {
      if (n < 4096) parts.push(c as Buffer);
      n += (c as Buffer).length;
    }
    return Buffer.concat(parts).toString("utf8").slice(0, 300).trim();
  }

  async get(path: string): Promise<Buffer | undefined> {
    const { r, url } = await this.getFollowing(this.url(path));
    if (r.statusCode === 404) {
      await HttpTransport.drain(r);
      return undefined;
    }
    if (r.statusCode !== 200) {
      const body = await HttpTransport.drain(r);
      throw new InfraError(`GET answered ${r.statusCode} ${r.statusMessage ?? ""}${body ? `: ${body}` : ""}`, { url }, "the mirror failed; try again later");
    }
    const parts: Buffer[] = [];
    try {
      for await (const c of r) parts.push(c as Buffer);
    } catch (e) {
      throw new SourceError(`download cut: ${(e as Error).message}`, { url }, "run the command again");
    }
    const data = Buffer.concat(parts);
    const len = r.headers["content-length"];
    if (len !== undefined && Number(len) !== data.length) {
      throw new SourceError(`download truncated: got ${data.length} of ${len} bytes`, { url }, "the connection was cut; run the command again");
    }
    return data;
  }

  async download(path: string, dest: string, onProgress?: (p: Progress) => void): Promise<DownloadResult> {
    const { r, url } = await this.getFollowing(this.url(path));
    if (r.statusCode !== 200) {
      const body = await HttpTransport.drain(r);
      const E = r.statusCode === 404 ? SourceError : InfraError;
      throw new E(`GET answered ${r.statusCode} ${r.statusMessage ?? ""}${body ? `: ${body}` : ""}`, { url }, r.statusCode === 404 ? "the mirror does not have this file" : "the mirror failed; try again later");
    }
    const len = r.headers["content-length"];
    return writeStreamTo(r as AsyncIterable<Buffer>, dest, path, len === undefined ? undefined : Number(len), onProgress, url);
  }

  async put(path: string, data: Buffer | { file: string }): Promise<void> {
    const url = this.url(path);
    const size = Buffer.isBuffer(data) ? data.length : statSync(data.file).size;
    const body = Buffer.isBuffer(data) ? data : { file: data.file, size };
    const r = await this.request("PUT", url, { "content-length": String(size), "content-type": "application/octet-stream" }, body);
    const text = await HttpTransport.drain(r);
    if (!r.statusCode || r.statusCode < 200 || r.statusCode >= 300) {
      throw new InfraError(`PUT answered ${r.statusCode} ${r.statusMessage ?? ""}${text ? `: ${text}` : ""}`, { url }, "check the mirror accepts PUT and your credentials (KILN_MIRROR_TOKEN)");
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
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(remote)) throw new InfraError(`unsupported mirror URL`, { url: remote }, "use a folder, http:// or https://");
  return new DirTransport(resolve(remote.replace(/^file:\/\//, "")));
}

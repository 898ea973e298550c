/**
 * The one HTTP client: mirrors (ship/transport.ts), OCI registries (ship/oci.ts) and source
 * downloads (effects/download.ts) all send their requests here.
 *
 * Every request has an overall deadline and an idle timeout (no byte for that long); a body
 * read through `readBody` or `collect` may be capped at a byte count. Redirects are followed
 * only between http and https URLs of the same scheme (never to file:, ftp:...); headers that
 * carry credentials are dropped as soon as a redirect leaves the first request's origin.
 * User names and passwords in URLs never reach a message: `redactUrl` is applied to every URL
 * this module puts into an error, and `splitUserinfo` turns them into a header first.
 */
import http from "node:http";
import https from "node:https";
import { createReadStream } from "node:fs";
import { InfraError, SourceError } from "../errors.js";

export interface HttpLimits {
  /** The whole operation (connect, headers, body), milliseconds. */
  deadlineMs: number;
  /** Longest gap between two bytes, milliseconds. */
  idleMs: number;
}

/** Defaults; `KILN_HTTP_DEADLINE` and `KILN_HTTP_IDLE_TIMEOUT` (seconds) override them. */
export const DEFAULT_HTTP_LIMITS: HttpLimits = { deadlineMs: 30 * 60_000, idleMs: 60_000 };

/** The limits from the environment, falling back to the defaults. Pure. */
export function httpLimits(env: NodeJS.ProcessEnv = process.env, over: Partial<HttpLimits> = {}): HttpLimits {
  const sec = (name: string, dflt: number): number => {
    const v = env[name];
    if (v === undefined || v === "") return dflt;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new InfraError(`${name}=${JSON.stringify(v)} is not a positive number of seconds`, {}, `set ${name} to e.g. 60`);
    return Math.round(n * 1000);
  };
  return {
    deadlineMs: over.deadlineMs ?? sec("KILN_HTTP_DEADLINE", DEFAULT_HTTP_LIMITS.deadlineMs),
    idleMs: over.idleMs ?? sec("KILN_HTTP_IDLE_TIMEOUT", DEFAULT_HTTP_LIMITS.idleMs),
  };
}

/** `https://user:secret@host/x` -> `https://***@host/x`, anywhere in a string. Pure. */
export function redactUrl(s: string): string {
  return s.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/gi, "$1***@");
}

/** Removes userinfo from a URL and returns it as a Basic authorization value. Pure. */
export function splitUserinfo(url: string): { url: string; authorization?: string } {
  const u = new URL(url);
  if (!u.username && !u.password) return { url: u.toString() };
  const auth = `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString("base64")}`;
  u.username = "";
  u.password = "";
  return { url: u.toString(), authorization: auth };
}

/** Headers that carry credentials: never sent to another origin. */
const SECRET_HEADERS = new Set(["authorization", "cookie", "proxy-authorization"]);

export type HttpBody = Buffer | { file: string; size: number };

export interface HttpRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: HttpBody;
  limits?: Partial<HttpLimits>;
  /** Follow up to this many redirects (GET/HEAD only). Default 0. */
  redirects?: number;
  /** Said in the hint of a connection failure, e.g. "the mirror". */
  what?: string;
}

export interface HttpResponse {
  status: number;
  statusMessage: string;
  headers: http.IncomingHttpHeaders;
  /** The final URL (after redirects), userinfo removed. */
  url: string;
  /** The raw stream; prefer readBody/collect, which keep the deadline and the idle timeout. */
  stream: http.IncomingMessage;
  /** Drop the body (the deadline timer stops). */
  discard(): void;
}

interface Live {
  timer: NodeJS.Timeout;
  fail?: Error;
}

const lives = new WeakMap<http.IncomingMessage, Live>();

function once(r: HttpRequest, url: string, headers: Record<string, string>, limits: HttpLimits, started: number): Promise<HttpResponse> {
  const mod = url.startsWith("https:") ? https : http;
  const shown = redactUrl(url);
  return new Promise((resolve, reject) => {
    // agent: false: no idle keep-alive sockets that a server may close under us between calls
    const req = mod.request(url, { method: r.method, agent: false, headers });
    const left = Math.max(1, limits.deadlineMs - (Date.now() - started));
    const live: Live = {
      timer: setTimeout(() => {
        live.fail = new SourceError(
          `${r.method} did not finish within the deadline of ${Math.round(limits.deadlineMs / 1000)} s`,
          { url: shown },
          "the server is too slow or is stalling on purpose; raise KILN_HTTP_DEADLINE (seconds) if it is just slow",
        );
        req.destroy(live.fail);
      }, left),
    };
    live.timer.unref();
    req.setTimeout(limits.idleMs, () => {
      live.fail = new SourceError(
        `no data for ${Math.round(limits.idleMs / 1000)} s during ${r.method}`,
        { url: shown },
        "the server stopped sending; run again, or raise KILN_HTTP_IDLE_TIMEOUT (seconds) for a slow link",
      );
      req.destroy(live.fail);
    });
    req.on("response", (res) => {
      lives.set(res, live);
      res.on("close", () => clearTimeout(live.timer));
      res.on("error", () => clearTimeout(live.timer));
      resolve({
        status: res.statusCode ?? 0,
        statusMessage: res.statusMessage ?? "",
        headers: res.headers,
        url: shown,
        stream: res,
        discard: () => {
          clearTimeout(live.timer);
          res.destroy();
        },
      });
    });
    req.on("error", (e) => {
      clearTimeout(live.timer);
      if (live.fail) reject(live.fail);
      else reject(new InfraError(`${r.method} failed: ${redactUrl(e.message)}`, { url: shown }, `check that ${r.what ?? "the server"} is reachable`));
    });
    if (r.body === undefined) req.end();
    else if (Buffer.isBuffer(r.body)) req.end(r.body);
    else {
      const s = createReadStream(r.body.file);
      s.on("error", (e) => req.destroy(e));
      s.pipe(req);
    }
  });
}

/** Sends one request, following redirects when asked. */
export async function request(r: HttpRequest): Promise<HttpResponse> {
  const limits = { ...httpLimits(), ...r.limits };
  const first = splitUserinfo(r.url);
  const origin = new URL(first.url).origin;
  const baseHeaders: Record<string, string> = { ...(first.authorization ? { authorization: first.authorization } : {}), ...r.headers };
  const started = Date.now();
  let url = first.url;
  for (let hops = 0; ; hops++) {
    const u = new URL(url);
    if (u.protocol !== "http:" && u.protocol !== "https:") {
      throw new SourceError(`refusing a ${u.protocol} URL`, { url: redactUrl(url) }, "kiln speaks http:// and https:// only");
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(baseHeaders)) {
      if (v === "") continue;
      if (u.origin !== origin && SECRET_HEADERS.has(k.toLowerCase())) continue;
      headers[k] = v;
    }
    const res = await once(r, url, headers, limits, started);
    const loc = res.headers.location;
    const follow = (r.redirects ?? 0) > 0 && (r.method === "GET" || r.method === "HEAD");
    if (!follow || res.status < 300 || res.status >= 400 || res.status === 304 || !loc) return res;
    res.discard();
    if (hops >= (r.redirects ?? 0)) throw new SourceError(`more than ${r.redirects} redirects`, { url: redactUrl(url) }, "the server redirects in a loop");
    let next: URL;
    try {
      next = new URL(loc, url);
    } catch {
      throw new SourceError(`redirect to a malformed location ${JSON.stringify(redactUrl(loc))}`, { url: redactUrl(url) });
    }
    if (next.protocol !== u.protocol) {
      throw new SourceError(
        `refusing a redirect from ${u.protocol} to ${next.protocol} (${redactUrl(next.toString())})`,
        { url: redactUrl(url) },
        "kiln follows redirects only between URLs of the same scheme, http or https",
      );
    }
    url = next.toString();
  }
}

/**
 * The body as chunks, stopping with an error once more than `maxBytes` arrive (the cap is
 * named in the message by `capHint`, e.g. the option that raises it).
 */
export async function* readBody(res: HttpResponse, cap?: { maxBytes: number; hint: string; what: string }): AsyncGenerator<Buffer> {
  const live = lives.get(res.stream);
  let n = 0;
  try {
    for await (const c of res.stream as AsyncIterable<Buffer>) {
      n += c.length;
      if (cap && n > cap.maxBytes) {
        res.discard();
        throw new SourceError(`${cap.what} is larger than ${cap.maxBytes} bytes; the download was stopped there`, { url: res.url }, cap.hint);
      }
      yield c;
    }
  } catch (e) {
    if (live?.fail) throw live.fail;
    if (e instanceof SourceError || e instanceof InfraError) throw e;
    throw new SourceError(`download cut after ${n} bytes: ${(e as Error).message}`, { url: res.url }, "the connection was cut; run the command again");
  } finally {
    if (live) clearTimeout(live.timer);
  }
  if (live?.fail) throw live.fail;
  const len = res.headers["content-length"];
  if (len !== undefined && Number(len) !== n && res.status >= 200 && res.status < 300) {
    throw new SourceError(`download truncated: got ${n} of ${len} bytes`, { url: res.url }, "the connection was cut; run the command again");
  }
}

/** The whole body in memory, capped. */
export async function collect(res: HttpResponse, cap?: { maxBytes: number; hint: string; what: string }): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of readBody(res, cap)) parts.push(c);
  return Buffer.concat(parts);
}

/** At most 4 KiB of an error body, as text for a message. */
export async function errorText(res: HttpResponse): Promise<string> {
  const parts: Buffer[] = [];
  let n = 0;
  try {
    for await (const c of res.stream as AsyncIterable<Buffer>) {
      parts.push(c);
      n += c.length;
      if (n >= 4096) break;
    }
  } catch {
    /* the status line is the message */
  }
  res.discard();
  return Buffer.concat(parts).toString("utf8").slice(0, 300).replace(/[\x00-\x08\x0b-\x1f\x7f]/g, "?").trim();
}

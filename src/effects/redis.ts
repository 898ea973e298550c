/**
 * The one door to Redis (the build farm's queue, docs/farm.md): connections from a
 * redis:// URL, a reachability check with a short timeout, and the BullMQ classes bound to a
 * connection. Credentials may ride in the URL (from the environment, never kiln.toml) and are
 * redacted in every message.
 */
import { Redis, type RedisOptions } from "ioredis";
import { InfraError, ProjectError } from "../errors.js";
import { redactUrl } from "./http.js";

export type { Redis } from "ioredis";

/** Parses and checks a farm Redis URL (redis://[user:pass@]host:port[/db]). */
export function checkRedisUrl(url: string, where = "the farm Redis URL"): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ProjectError(`${where} ${JSON.stringify(redactUrl(url))} is not a URL`, {}, "expected redis://host:port (rediss:// for TLS)");
  }
  if (u.protocol !== "redis:" && u.protocol !== "rediss:") throw new ProjectError(`${where} ${redactUrl(url)} is not a redis:// URL`, {}, "expected redis://host:port (rediss:// for TLS)");
  if (!u.hostname) throw new ProjectError(`${where} ${redactUrl(url)} names no host`, {}, "expected redis://host:port");
  return u;
}

/**
 * A connection. `blocking` connections (BullMQ workers and queue events) retry forever, as
 * BullMQ requires; others give up after a few tries so a dead Redis is an error, not a hang.
 */
export function connectRedis(url: string, o: { blocking?: boolean; name?: string } = {}): Redis {
  checkRedisUrl(url);
  const opts: RedisOptions = {
    maxRetriesPerRequest: o.blocking ? null : 2,
    connectTimeout: 5000,
    enableOfflineQueue: true,
    ...(o.name ? { connectionName: o.name } : {}),
    retryStrategy: (times) => (o.blocking ? Math.min(times * 200, 2000) : times > 3 ? null : 200),
  };
  const r = new Redis(url, opts);
  r.on("error", () => undefined); // reported by the commands that fail; ioredis would print otherwise
  return r;
}

/**
 * A set of connections closed together: BullMQ does not close connections it was given, so
 * whoever makes them ends them (a forgotten one keeps kiln from exiting).
 */
export class RedisConnections {
  private readonly all: Redis[] = [];
  constructor(private readonly url: string) {}
  open(o: { blocking?: boolean; name?: string } = {}): Redis {
    const r = connectRedis(this.url, o);
    this.all.push(r);
    return r;
  }
  closeAll(): void {
    for (const r of this.all.splice(0)) r.disconnect();
  }
}

/** PING within `timeoutMs`; the Redis version on success. Throws InfraError with what to do. */
export async function pingRedis(url: string, timeoutMs = 3000): Promise<{ version: string; aof: boolean }> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: timeoutMs, retryStrategy: () => null, enableOfflineQueue: false });
  let seen: Error | undefined;
  r.on("error", (e: Error) => (seen ??= e));
  try {
    await withTimeout(r.connect(), timeoutMs, "connect").catch((e: Error) => {
      throw seen ?? e; // "Connection is closed" says less than the socket's own error (ECONNREFUSED ...)
    });
    await withTimeout(r.ping(), timeoutMs, "PING");
    const info = String(await withTimeout(r.info("server"), timeoutMs, "INFO"));
    const persist = String(await withTimeout(r.info("persistence"), timeoutMs, "INFO"));
    return { version: /redis_version:(\S+)/.exec(info)?.[1] ?? "?", aof: /aof_enabled:1/.test(persist) };
  } catch (e) {
    throw new InfraError(
      `cannot reach the farm Redis at ${redactUrl(url)}: ${(e as Error).message}`,
      { url: redactUrl(url) },
      "start it (redis-server --appendonly yes --port 6379, see docs/farm.md) or check --farm, KILN_FARM_REDIS and [farm] redis in kiln.toml",
    );
  } finally {
    r.disconnect();
  }
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<T>((_r, rej) => (t = setTimeout(() => rej(new Error(`${what} timed out after ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(t);
  }
}

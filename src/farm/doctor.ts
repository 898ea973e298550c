/** `kiln doctor`'s farm row: the farm Redis answers (and keeps an append-only file). */
import type { Project } from "../project/load.js";
import { KilnError } from "../errors.js";
import { redactUrl } from "../effects/http.js";
import { pingRedis } from "../effects/redis.js";
import { resolveFarmRedis } from "./config.js";

export async function farmChecks(project: Project | undefined): Promise<{ what: string; pkg: string; ok: boolean; optional: boolean; detail: string }[]> {
  const t = resolveFarmRedis(project, undefined, process.env);
  if (!t) return [];
  try {
    const r = await pingRedis(t.redis);
    return [{ what: "farm redis", pkg: "redis-server", ok: true, optional: false, detail: `${redactUrl(t.redis)} (${t.from}): Redis ${r.version}${r.aof ? ", appendonly on" : ", appendonly OFF: a restart loses queued jobs"}` }];
  } catch (e) {
    return [{ what: "farm redis", pkg: "redis-server", ok: false, optional: false, detail: `${t.from}: ${e instanceof KilnError ? e.message : String(e)}` }];
  }
}

/**
 * `kiln farm worker` and `kiln farm status`: the build farm on BullMQ + Redis (docs/farm.md).
 * `kiln build --farm` (src/commands/build.ts) is the submitter.
 */
import type { Command } from "commander";
import { hostname } from "node:os";
import { resolve } from "node:path";
import { ProjectError } from "../errors.js";
import { intOption, type Context } from "./context.js";

/** The farm Redis for a command: the option, else KILN_FARM_REDIS, else [farm] redis of the project here (if any). */
async function farmUrl(ctx: Context, given: string | undefined): Promise<string> {
  const { resolveFarmRedis } = await import("../farm/config.js");
  const project = given || process.env.KILN_FARM_REDIS ? undefined : await ctx.maybeProject().catch(() => undefined);
  const t = resolveFarmRedis(project, given, process.env);
  if (!t) throw new ProjectError("no farm Redis given", {}, "pass --redis redis://host:port, set KILN_FARM_REDIS, or [farm] redis = \"redis://…\" in kiln.toml");
  (await import("../effects/redis.js")).checkRedisUrl(t.redis, `the farm Redis (${t.from})`);
  return t.redis;
}

export function registerFarmCommands(prog: Command, ctx: Context): void {
  const farm = prog.command("farm").description("the build farm: workers that take build jobs from Redis (BullMQ) and publish signed results");
  farm
    .command("worker")
    .description("take build jobs from the farm and run them here (this KILN_HOME's trees, store and caches); publish each release signed")
    .option("--redis <url>", "the farm Redis, redis://host:port (default: KILN_FARM_REDIS, [farm] redis)")
    .option("--concurrency <n>", "jobs at once", intOption("--concurrency", 1), 1)
    .option("--name <name>", "the worker's name in `kiln farm status` and in manifests (default: host-pid)")
    .option("--signing-key <file>", "the secret key releases are signed with (default: $KILN_SIGNING_KEY)")
    .option("--lock-ms <ms>", "a job whose worker is silent this long is taken by another worker", intOption("--lock-ms", 1000), 30_000)
    .option("--stalled-ms <ms>", "how often this worker looks for such stalled jobs", intOption("--stalled-ms", 500), 30_000)
    .action(async (o: { redis?: string; concurrency: number; name?: string; signingKey?: string; lockMs: number; stalledMs: number }) => {
      const url = await farmUrl(ctx, o.redis);
      const name = o.name ?? `${hostname()}-${process.pid}`;
      if (!/^[A-Za-z0-9._-]{1,64}$/.test(name)) throw new ProjectError(`--name ${JSON.stringify(name)}: use letters, digits, . _ - (at most 64)`);
      const key = o.signingKey ?? process.env.KILN_SIGNING_KEY;
      if (!key) throw new ProjectError("a farm worker signs what it publishes: no signing key", {}, "pass --signing-key <file> or set KILN_SIGNING_KEY (create one with `kiln keygen`)");
      const { runWorker } = await import("../farm/worker.js");
      await runWorker({ redis: url, name, concurrency: o.concurrency, lockMs: o.lockMs, stalledMs: o.stalledMs, signingKey: resolve(key), paths: await ctx.paths(), ui: ctx.ui });
    });
  farm
    .command("status")
    .description("the farm's workers and its queued, running, finished and failed cells")
    .option("--redis <url>", "the farm Redis (default: KILN_FARM_REDIS, [farm] redis)")
    .option("--limit <n>", "jobs listed per state", intOption("--limit", 1), 20)
    .action(async (o: { redis?: string; limit: number }) => {
      const url = await farmUrl(ctx, o.redis);
      const s = await (await import("../farm/status.js")).farmStatus(url, o.limit);
      if (ctx.globals.json) return ctx.printJson(s);
      const ui = ctx.ui;
      ui.info(`redis ${s.redis.version}${s.redis.aof ? "" : "  (appendonly off: a restart loses queued jobs)"}`);
      ui.info(`workers ${s.workers.length}`);
      for (const w of s.workers) {
        const run = Object.entries(w.running).map(([id, c]) => `${c} (${id.slice(0, 12)})`).join(", ");
        ui.info(`  ${w.name.padEnd(24)} ${w.host} pid ${w.pid}  ${w.done} done, ${w.failed} failed  ${run ? `running ${run}` : "idle"}`);
      }
      ui.info(`jobs   ${Object.entries(s.counts).map(([k, v]) => `${v} ${k}`).join(", ")}`);
      for (const j of s.jobs) {
        ui.info(`  ${j.state.padEnd(9)} ${j.cell.padEnd(18)} ${j.id.slice(0, 12)}  ${j.worker ?? "-"}  ${j.release ?? j.progress ?? ""}${j.error ? `  ${j.error}` : ""}`);
      }
    });
}

/** `kiln farm status`: the farm's workers (their heartbeats), and its queued, running and finished cells. */
import { Queue } from "bullmq";
import { pingRedis, RedisConnections } from "../effects/redis.js";
import { decodeFailure, type FarmProgress, type FarmResult } from "./job.js";
import { PREFIX, QUEUE, workerKey, type WorkerBeat } from "./queue.js";

export interface FarmJobRow {
  id: string;
  cell: string;
  state: string;
  submitter?: string;
  worker?: string;
  release?: string;
  progress?: string;
  attempts: number;
  error?: string;
  finished_at?: string;
}

export interface FarmStatus {
  redis: { version: string; aof: boolean };
  workers: WorkerBeat[];
  counts: Record<string, number>;
  jobs: FarmJobRow[];
}

export async function farmStatus(url: string, limit = 20): Promise<FarmStatus> {
  const redis = await pingRedis(url);
  const conns = new RedisConnections(url);
  const kv = conns.open();
  const queue = new Queue(QUEUE, { connection: conns.open(), prefix: PREFIX });
  try {
    const keys: string[] = [];
    let cursor = "0";
    do {
      const [next, found] = await kv.scan(cursor, "MATCH", workerKey("*"), "COUNT", 100);
      cursor = next;
      keys.push(...found);
    } while (cursor !== "0");
    const workers = (await Promise.all(keys.sort().map((k) => kv.get(k)))).filter((v): v is string => !!v).map((v) => JSON.parse(v) as WorkerBeat);
    const counts = await queue.getJobCounts("waiting", "active", "delayed", "completed", "failed");
    const jobs: FarmJobRow[] = [];
    for (const state of ["active", "waiting", "delayed", "failed", "completed"] as const) {
      for (const j of await queue.getJobs([state], 0, limit - 1)) {
        if (!j?.id) continue;
        const p = (typeof j.progress === "object" ? j.progress : undefined) as FarmProgress | undefined;
        const r = j.returnvalue as FarmResult | null | undefined;
        const f = decodeFailure(j.failedReason);
        const worker = r?.worker ?? f?.worker ?? p?.worker;
        jobs.push({
          id: j.id,
          cell: j.name,
          state,
          attempts: j.attemptsMade,
          ...(typeof (j.data as { submitter?: unknown })?.submitter === "string" ? { submitter: (j.data as { submitter: string }).submitter } : {}),
          ...(worker ? { worker } : {}),
          ...(r?.release ? { release: r.release } : {}),
          ...(p && state === "active" ? { progress: `${p.step}${p.pct !== undefined ? ` ${p.pct}%` : ""}` } : {}),
          ...(state === "failed" ? { error: f ? f.lines.slice(0, 3).join(" | ") : (j.failedReason ?? "") } : {}),
          ...(j.finishedOn ? { finished_at: new Date(j.finishedOn).toISOString() } : {}),
        });
      }
    }
    return { redis, workers, counts, jobs };
  } finally {
    await queue.close().catch(() => undefined);
    conns.closeAll();
  }
}

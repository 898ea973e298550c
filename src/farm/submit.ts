/**
 * `kiln build --farm`: send the selected cells to the farm as BullMQ jobs, show the workers'
 * progress per cell, and take each result through the verified reuse path (fetch_identity:
 * a signed copy from the farm's remote, checked against [ship].trusted_keys), so the store and
 * the cell's manifest look as after a local build, plus `farm: {worker, job, ...}`
 * (docs/farm.md, docs/adr/0097).
 *
 * The job id is the cell's input digest (src/farm/job.ts): two submitters of one cell add one
 * job (BullMQ keeps the first under its id) and both wait for it. A digest a worker has built
 * before names its release in Redis; when the remote still has that release, no job is
 * enqueued at all.
 */
import { existsSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { Job, Queue, QueueEvents } from "bullmq";
import { BuildFailure, InfraError } from "../errors.js";
import { pingRedis, RedisConnections, type Redis } from "../effects/redis.js";
import { redactUrl } from "../effects/http.js";
import { writeFileAtomic } from "../effects/fsx.js";
import { acquire } from "../effects/lock.js";
import type { Project } from "../project/load.js";
import { preflight } from "../project/preflight.js";
import type { Paths } from "../store/paths.js";
import { entryDir } from "../store/store.js";
import { fmtDuration, type Ui } from "../ui/log.js";
import { parseManifest, type Manifest } from "../core/manifest.js";
import { cellWarmTree, type Cell } from "../pipeline/cells.js";
import { fetchIdentity } from "../pipeline/fetch_identity.js";
import { decodeFailure, FarmResultSchema, makeJob, type FarmProgress, type FarmResult } from "./job.js";
import { projectJobFiles } from "./files.js";
import { farmRemote } from "./config.js";
import { PREFIX, QUEUE, releaseKey, type KnownRelease } from "./queue.js";
import { remoteHas } from "./remote.js";

export interface SubmitOptions {
  redis: string;
  ui: Ui;
  paths: Paths;
}

export interface FarmCellResult {
  manifest: Manifest;
  manifestPath: string;
  wallMs: number;
  /** wall minus the worker's build time: queueing, publishing, fetching, verifying. */
  overheadMs: number;
}

/** Jobs stay this long after they finish: a later submission of the same digest gets the result. */
const KEEP_DONE_S = 7 * 86400;
const KEEP_FAILED_S = 86400;

export async function submitCells(project: Project, cells: readonly Cell[], o: SubmitOptions): Promise<FarmCellResult[]> {
  preflight(project, cells);
  const remote = farmRemote(project);
  const files = projectJobFiles(project);
  await pingRedis(o.redis);
  const conns = new RedisConnections(o.redis);
  // Redis answered: from here on the connections wait out a restart (appendonly keeps the jobs)
  const kv = conns.open({ blocking: true });
  const queue = new Queue(QUEUE, { connection: conns.open({ blocking: true }), prefix: PREFIX });
  const events = new QueueEvents(QUEUE, { connection: conns.open({ blocking: true }), prefix: PREFIX });
  let lost = 0;
  const onError = (e: Error) => {
    if (Date.now() - lost > 10_000) o.ui.warn(`the farm Redis: ${e.message}; reconnecting (queued jobs survive a restart with appendonly)`);
    lost = Date.now();
  };
  queue.on("error", onError);
  events.on("error", onError);
  try {
    await events.waitUntilReady();
    o.ui.step("farm", `${cells.length} cell(s) to ${redactUrl(o.redis)}; results from ${remote}`);
    // every cell at once: the farm runs them in parallel
    const settled = await Promise.allSettled(cells.map((c) => submitCell(project, c, remote, files, { ...o, kv, queue, events })));
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
    if (failed) throw failed.reason;
    return settled.map((s) => (s as PromiseFulfilledResult<FarmCellResult>).value);
  } finally {
    await events.close().catch(() => undefined);
    await queue.close().catch(() => undefined);
    conns.closeAll();
  }
}

interface Conn {
  kv: Redis;
  queue: Queue;
  events: QueueEvents;
}

async function submitCell(project: Project, c: Cell, remote: string, files: Map<string, Buffer>, o: SubmitOptions & Conn): Promise<FarmCellResult> {
  const t0 = Date.now();
  const cell = `${c.target}/${c.arch}`;
  const { job: data, id } = makeJob({ project: project.decl.name, target: c.target, arch: c.arch, remote, files, submitter: hostname() });
  // built before, and still at the remote: nothing to build at all
  const knownText = await o.kv.get(releaseKey(id));
  if (knownText) {
    const known = JSON.parse(knownText) as KnownRelease;
    if (known.remote === remote && known.arch === c.arch && (await remoteHas(project, remote, known.release, c.arch))) {
      o.ui.step("farm", `${cell}: ${known.release} is at ${remote} already (built by ${known.worker}); no job`);
      return land(project, c, remote, { release: known.release, arch: c.arch, worker: known.worker, remote, build: "reused", build_ms: 0, publish_ms: 0, published: false }, id, "at-remote", t0, o);
    }
  }
  let job: Job | undefined = await o.queue.getJob(id);
  if (job && (await job.getState()) === "failed") {
    const f = decodeFailure(job.failedReason);
    if (f?.exit === 2) throw buildFailed(cell, f.worker, f.lines);
    o.ui.step("farm", `${cell}: job ${id.slice(0, 12)} failed before (${firstLine(job.failedReason)}); sending it again`);
    await job.remove();
    job = undefined;
  } else if (job && (await job.getState()) === "completed") {
    // finished before; its release must still be at the remote, else it is built again
    const rel = FarmResultSchema.safeParse(job.returnvalue);
    if (!rel.success || !(await remoteHas(project, remote, rel.data.release, c.arch))) {
      o.ui.step("farm", `${cell}: job ${id.slice(0, 12)} finished before, but ${remote} no longer has its release; sending it again`);
      await job.remove();
      job = undefined;
    }
  }
  const progress = ({ jobId, data: p }: { jobId: string; data: unknown }) => {
    if (jobId !== id || typeof p !== "object" || p === null) return;
    const ev = p as FarmProgress;
    o.ui.step("farm", `${cell} [${ev.worker}] ${ev.step === "start" ? ev.msg : `${ev.step} ${ev.msg}`}`);
  };
  o.events.on("progress", progress);
  try {
    job ??= await o.queue.add(cell, data, {
      jobId: id,
      attempts: 3,
      backoff: { type: "fixed", delay: 2000 },
      removeOnComplete: { age: KEEP_DONE_S },
      removeOnFail: { age: KEEP_FAILED_S },
    });
    o.ui.step("farm", `${cell}: job ${id.slice(0, 12)} ${(await job.getState()) === "waiting" ? "queued" : `is ${await job.getState()}`}`);
    let raw: unknown;
    try {
      raw = await waitFinished(job, o.queue, o.events);
    } catch (e) {
      const f = decodeFailure((e as Error).message);
      if (f?.exit === 2) throw buildFailed(cell, f.worker, f.lines);
      throw new InfraError(`${cell}: the farm job ${id.slice(0, 12)} failed${f ? ` on ${f.worker}:\n  ${f.lines.join("\n  ")}` : `: ${(e as Error).message}`}`, {}, "see the worker's output; `kiln farm status` lists the farm's jobs");
    }
    const res = FarmResultSchema.safeParse(raw);
    if (!res.success) throw new InfraError(`${cell}: the farm job ${id.slice(0, 12)} returned no kiln result`, {}, "is every worker running the same kiln?");
    o.ui.step("farm", `${cell}: ${res.data.release} ${res.data.build} on ${res.data.worker} in ${fmtDuration(res.data.build_ms)}`);
    o.ui.debug(`farm: ${cell} finished ${Date.now() - t0} ms after it was sent (worker: build ${res.data.build_ms} ms, publish ${res.data.publish_ms} ms)`);
    return await land(project, c, remote, res.data, id, res.data.build, t0, o);
  } finally {
    o.events.off("progress", progress);
  }
}

/**
 * The job's result: from its queue event, or from its state, asked every few seconds (an event
 * sent while this submitter was reconnecting to a restarted Redis is not sent again).
 */
async function waitFinished(job: Job, queue: Queue, events: QueueEvents): Promise<unknown> {
  let stop = false;
  const poll = async (): Promise<unknown> => {
    for (;;) {
      await new Promise((r) => setTimeout(r, POLL_MS).unref());
      if (stop) return new Promise(() => undefined);
      const j = await Job.fromId(queue, job.id!).catch(() => undefined);
      const state = j ? await j.getState().catch(() => "unknown") : "unknown";
      if (j && state === "completed") return j.returnvalue;
      if (j && state === "failed") throw new Error(j.failedReason);
    }
  };
  try {
    return await Promise.race([job.waitUntilFinished(events), poll()]);
  } finally {
    stop = true;
  }
}

const POLL_MS = 3000;

function buildFailed(cell: string, worker: string, lines: string[]): BuildFailure {
  return new BuildFailure(`${cell}: the build failed on farm worker ${worker}:\n  ${lines.join("\n  ")}`, {}, "fix the project and build again (the job is not retried: the same inputs fail the same way)");
}

function firstLine(s: string | undefined): string {
  const f = decodeFailure(s);
  return (f ? f.lines[0] : s?.split("\n")[0]) ?? "?";
}

/** The result into this machine's store (verified), and the cell's manifest, with the farm's record. */
async function land(project: Project, c: Cell, remote: string, r: FarmResult, id: string, build: "compiled" | "reused" | "at-remote", t0: number, o: SubmitOptions): Promise<FarmCellResult> {
  const fromRemote: Project = { ...project, decl: { ...project.decl, ship: { ...project.decl.ship, reuse: [remote] } } };
  const got = await fetchIdentity(fromRemote, r.release, c.arch, { paths: o.paths, ui: o.ui });
  o.ui.debug(`farm: ${c.target}/${c.arch} fetched and verified ${Date.now() - t0} ms after it was sent`);
  const entry = join(entryDir(o.paths, r.release), "manifest.json");
  if (!got || !existsSync(entry)) {
    throw new InfraError(`${c.target}/${c.arch}: ${r.worker} built ${r.release} but no verified copy of it came from ${remote}`, {}, "the warnings above say why (signature, trusted keys, the remote)");
  }
  const lockFile = join(project.dir, "kiln.lock");
  if (r.lock && !existsSync(lockFile)) writeFileAtomic(lockFile, r.lock);
  const stored = parseManifest(readFileSync(entry, "utf8"), { file: entry });
  const wallMs = Date.now() - t0;
  const manifest: Manifest = { ...stored, farm: { worker: r.worker, job: id, build, build_ms: Math.round(r.build_ms), wall_ms: wallMs } };
  const warm = cellWarmTree(project, c, o.paths);
  const manifestPath = join(warm.state, "manifest.json");
  const lock = await acquire(warm.lock);
  try {
    writeFileAtomic(manifestPath, JSON.stringify(manifest, null, 2) + "\n");
  } finally {
    await lock.release();
  }
  o.ui.step("built", `${c.target}/${c.arch} ${r.release} from the farm (${r.worker}), signature verified, in ${fmtDuration(wallMs)}`);
  return { manifest, manifestPath, wallMs, overheadMs: wallMs - Math.round(r.build_ms) };
}

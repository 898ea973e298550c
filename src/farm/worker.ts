/**
 * `kiln farm worker`: takes build jobs from the farm's BullMQ queue and runs the ordinary kiln
 * pipeline for each, in this machine's KILN_HOME (its warm trees, store and compiler cache),
 * then publishes the release, signed, to the job's remote (docs/farm.md, docs/adr/0096).
 *
 * Each job's files are laid in <KILN_HOME>/farm/<project>-<target>-<arch>/ (staged, then
 * renamed; the folder is stable, so its warm tree stays warm from one job to the next) under a
 * lock, and `kiln build` / `kiln publish` run there as child processes, so a job is exactly
 * what a person would run. The child runs under `setpriv --pdeathsig KILL`: a worker killed
 * with SIGKILL takes its kiln with it, and that kiln's tree-lock guardian stops its make
 * (src/effects/lock.ts); the job's BullMQ lock then expires and another worker takes it.
 * Exit 2 (the kernel build, a gate, a patch) fails the job for good (UnrecoverableError) with
 * the first error lines; anything else is retried.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker, UnrecoverableError, type Job } from "bullmq";
import { HostError, ProjectError } from "../errors.js";
import { pingRedis, RedisConnections, type Redis } from "../effects/redis.js";
import { redactUrl } from "../effects/http.js";
import { acquire } from "../effects/lock.js";
import { start, whichSync, type Proc } from "../effects/proc.js";
import type { Paths } from "../store/paths.js";
import { fmtDuration, type Ui } from "../ui/log.js";
import { loadProject } from "../project/load.js";
import { checkJob, decodeFailure, encodeFailure, firstErrorLines, progressFromLine, type FarmJob, type FarmProgress, type FarmResult } from "./job.js";
import { HEARTBEAT_MS, PREFIX, QUEUE, RELEASE_TTL_S, releaseKey, workerKey, type KnownRelease, type WorkerBeat } from "./queue.js";
import { remoteHas } from "./remote.js";

const KILN_BIN = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "bin", "kiln");

export interface WorkerOptions {
  redis: string;
  name: string;
  concurrency: number;
  /** BullMQ lockDuration: a job whose worker stops renewing its lock for this long is stalled. */
  lockMs: number;
  /** BullMQ stalledInterval: how often this worker looks for stalled jobs. */
  stalledMs: number;
  /** The secret key the releases are signed with. */
  signingKey: string;
  paths: Paths;
  ui: Ui;
  /** Resolves when the worker should stop (SIGINT/SIGTERM by default). */
  stop?: Promise<unknown>;
}

/** Runs until stopped. Active jobs are left to stall (another worker takes them). */
export async function runWorker(o: WorkerOptions): Promise<void> {
  if (!existsSync(o.signingKey)) throw new ProjectError(`the signing key ${o.signingKey} does not exist`, { file: o.signingKey }, "create one with `kiln keygen`, then pass --signing-key or set KILN_SIGNING_KEY");
  if (!whichSync("setpriv")) throw new HostError("setpriv is not installed (util-linux)", {}, "apt-get install util-linux");
  const redis = await pingRedis(o.redis);
  if (!redis.aof) o.ui.warn(`the farm Redis at ${redactUrl(o.redis)} runs without appendonly: queued jobs are lost if it restarts (docs/farm.md)`);
  const conns = new RedisConnections(o.redis);
  const kv = conns.open({ blocking: true }); // waits out a Redis restart
  const children = new Set<Proc>();
  const beat: WorkerBeat = { name: o.name, host: hostname(), pid: process.pid, concurrency: o.concurrency, started: new Date().toISOString(), running: {}, done: 0, failed: 0 };
  const sendBeat = () => kv.set(workerKey(o.name), JSON.stringify(beat), "PX", HEARTBEAT_MS * 3).catch(() => undefined);
  await sendBeat();
  const timer = setInterval(sendBeat, HEARTBEAT_MS);
  const worker = new Worker(QUEUE, (job: Job) => runJob(job, o, kv, children, beat), {
    connection: conns.open({ blocking: true }),
    prefix: PREFIX,
    concurrency: o.concurrency,
    lockDuration: o.lockMs,
    stalledInterval: o.stalledMs,
    maxStalledCount: 2,
    name: o.name,
  });
  let lost = 0;
  worker.on("error", (e) => {
    if (Date.now() - lost > 10_000) o.ui.warn(`the farm Redis: ${e.message}; reconnecting`);
    lost = Date.now();
  });
  worker.on("completed", () => (beat.done++, void sendBeat()));
  worker.on("failed", () => (beat.failed++, void sendBeat()));
  await worker.waitUntilReady();
  o.ui.step("worker", `${o.name} waiting for jobs on ${redactUrl(o.redis)} (Redis ${redis.version}, concurrency ${o.concurrency}, KILN_HOME ${o.paths.home})`);
  const stop =
    o.stop ??
    new Promise<void>((r) => {
      process.once("SIGINT", () => r());
      process.once("SIGTERM", () => r());
    });
  await stop;
  o.ui.step("worker", `${o.name} stopping`);
  clearInterval(timer);
  for (const c of children) c.kill("SIGTERM");
  await worker.close(true);
  await kv.del(workerKey(o.name)).catch(() => undefined);
  conns.closeAll();
}

async function runJob(job: Job, o: WorkerOptions, kv: Redis, children: Set<Proc>, beat: WorkerBeat): Promise<FarmResult> {
  let data: FarmJob;
  try {
    data = checkJob(job.data);
  } catch (e) {
    throw new UnrecoverableError(encodeFailure({ exit: 1, worker: o.name, lines: [(e as Error).message] }));
  }
  const cell = `${data.target}/${data.arch}`;
  beat.running[job.id!] = cell;
  const t0 = Date.now();
  o.ui.step("job", `${cell} of ${data.project} (${job.id!.slice(0, 12)}, attempt ${job.attemptsMade + 1}) from ${data.submitter}`);
  let lastSent = 0;
  let lastStep = "";
  const progress = (p: FarmProgress) => {
    const now = Date.now();
    if (p.step === lastStep && now - lastSent < 1000) return;
    lastSent = now;
    lastStep = p.step;
    void job.updateProgress(p as unknown as object).catch(() => undefined);
  };
  progress({ worker: o.name, step: "start", msg: `taken by ${o.name}` });
  const folder = join(o.paths.home, "farm", `${data.project}-${data.target}-${data.arch}`);
  const lock = await acquire(join(o.paths.locks, `farm-${data.project}-${data.target}-${data.arch}.lock`));
  try {
    layFiles(folder, data);
    // the worker's folder means nothing to the submitter: its paths are the project's
    const errorLines = (stderr: string) => firstErrorLines(stderr).map((l) => l.replaceAll(`${folder}/`, ""));
    const kiln = async (args: string[], what: string): Promise<{ stdout: string; stderr: string; code: number }> => {
      let stdout = "";
      let stderr = "";
      const env: Record<string, string | undefined> = { NO_COLOR: "1", KILN_FARM_REDIS: undefined, KILN_SIGNING_KEY: o.signingKey };
      const p = start(["setpriv", "--pdeathsig", "KILL", "--", process.execPath, KILN_BIN, "-C", folder, "--json", ...args], {
        env,
        group: true,
        onStdout: (c) => (stdout += c),
        onStderr: (c) => (stderr += c),
        onLine: (l, s) => {
          if (s !== "stderr") return;
          const ev = progressFromLine(l, o.name);
          if (ev) progress(ev);
        },
      });
      children.add(p);
      try {
        const x = await p.done;
        o.ui.debug(`${what}: exit ${x.exitCode}`);
        return { stdout, stderr, code: x.exitCode };
      } finally {
        children.delete(p);
      }
    };
    const b = await kiln(["build", data.target, "--arch", data.arch, ...(data.locked ? ["--locked"] : [])], "build");
    if (b.code === 2) throw new UnrecoverableError(encodeFailure({ exit: 2, worker: o.name, lines: errorLines(b.stderr) }));
    if (b.code !== 0) throw new Error(encodeFailure({ exit: 1, worker: o.name, lines: errorLines(b.stderr) }));
    const manifest = (JSON.parse(b.stdout) as { uts_release?: string; reuse?: { status?: string } }[])[0];
    const release = manifest?.uts_release;
    if (!release) throw new Error(encodeFailure({ exit: 1, worker: o.name, lines: ["kiln build printed no release"] }));
    const buildMs = Date.now() - t0;
    const build = manifest.reuse?.status === "built" ? "compiled" : "reused";
    const project = loadProject(folder);
    const t1 = Date.now();
    let published = false;
    if (await remoteHas(project, data.remote, release, data.arch)) {
      progress({ worker: o.name, step: "publish", msg: `${release} is at ${data.remote} already` });
    } else {
      progress({ worker: o.name, step: "publish", msg: `${release} to ${data.remote}` });
      const pub = await kiln(["publish", data.target, "--arch", data.arch, "--remote", data.remote, "--signing-key", o.signingKey], "publish");
      if (pub.code !== 0) throw new Error(encodeFailure({ exit: 1, worker: o.name, lines: errorLines(pub.stderr) }));
      published = true;
    }
    const known: KnownRelease = { release, arch: data.arch, remote: data.remote, worker: o.name };
    await kv.set(releaseKey(job.id!), JSON.stringify(known), "EX", RELEASE_TTL_S);
    const lockFile = join(folder, "kiln.lock");
    o.ui.step("done", `${cell} ${release} (${build}) in ${fmtDuration(Date.now() - t0)}${published ? `, published to ${data.remote}` : ""}`);
    return {
      release,
      arch: data.arch,
      worker: o.name,
      remote: data.remote,
      build,
      build_ms: buildMs,
      publish_ms: Date.now() - t1,
      published,
      ...(!data.locked && existsSync(lockFile) ? { lock: readFileSync(lockFile, "utf8") } : {}),
    };
  } catch (e) {
    const f = decodeFailure((e as Error).message);
    o.ui.warn(`${cell}: ${f ? `failed (exit ${f.exit}${f.exit === 2 ? ", not retried" : ", may be retried"}):\n  ${f.lines.join("\n  ")}` : (e as Error).message}`);
    throw e;
  } finally {
    delete beat.running[job.id!];
    await lock.release();
  }
}

/** Lays the job's files in `folder`: staged beside it, then swapped in (the old files go). */
export function layFiles(folder: string, job: FarmJob): void {
  const stage = `${folder}.new-${process.pid}`;
  const old = `${folder}.old-${process.pid}`;
  rmSync(stage, { recursive: true, force: true });
  rmSync(old, { recursive: true, force: true });
  for (const f of job.files) {
    const dest = join(stage, ...f.path.split("/"));
    mkdirSync(dirname(dest), { recursive: true });
    writeFileSync(dest, Buffer.from(f.b64, "base64"));
  }
  if (existsSync(folder)) renameSync(folder, old);
  renameSync(stage, folder);
  rmSync(old, { recursive: true, force: true });
}

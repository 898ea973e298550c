/**
 * A farm job, as data (docs/farm.md, docs/adr/0095): the project's small files by content
 * (kiln.toml, kiln.lock, the patch series, the config layers, presets, trusted public keys),
 * the cell (target, arch) and the remote the worker publishes to. Pure: what to send, how it
 * is checked on arrival, its id (the cell's input digest), and how the worker's output lines
 * become progress events and error lines. No Redis here.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { KILN_VERSION } from "../version.js";

/** Bounds on what one job carries: a kernel project's own files are small. */
export const JOB_LIMITS = { maxFiles: 2000, maxFileBytes: 4 * 1024 * 1024, maxTotalBytes: 16 * 1024 * 1024, maxDepth: 8 } as const;

export const JOB_VERSION = 1;

export const JobFileSchema = z.strictObject({ path: z.string().min(1).max(400), b64: z.string() });
export type JobFile = z.infer<typeof JobFileSchema>;

export const FarmJobSchema = z.strictObject({
  v: z.literal(JOB_VERSION),
  /** The project's name (kiln.toml `name`): the worker's folder for the cell is named after it. */
  project: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/),
  target: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/),
  arch: z.string().regex(/^[a-z0-9_]+$/),
  /** The kiln.toml remote the worker publishes the signed release to. */
  remote: z.string().regex(/^[A-Za-z0-9_-]+$/),
  /** The job carries kiln.lock: the worker builds --locked. */
  locked: z.boolean(),
  files: z.array(JobFileSchema),
  /** Who sent it (host name), for `kiln farm status`. */
  submitter: z.string().max(200),
  kiln: z.string(),
});
export type FarmJob = z.infer<typeof FarmJobSchema>;

/** What a worker returns for a finished job. */
export const FarmResultSchema = z.strictObject({
  release: z.string(),
  arch: z.string(),
  worker: z.string(),
  remote: z.string(),
  /** compiled: make ran; reused: the worker's store (or a peer) had it. */
  build: z.enum(["compiled", "reused"]),
  /** The worker's wall time for the build step (kiln build), ms. */
  build_ms: z.number(),
  /** ms spent publishing (0 when the remote had the release already). */
  publish_ms: z.number(),
  published: z.boolean(),
  /** The kiln.lock the worker built with (the submitter writes it when it had none). */
  lock: z.string().optional(),
});
export type FarmResult = z.infer<typeof FarmResultSchema>;

/** A progress event (BullMQ job progress). */
export interface FarmProgress {
  worker: string;
  step: string;
  /** compile's percentage, when the line had one. */
  pct?: number;
  msg: string;
}

/**
 * A job file's path, checked before it becomes a path in the worker's folder: relative, plain
 * name segments (no "..", no hidden names, no backslashes or control characters), not too deep.
 * Returns the problem, or undefined when the path is fine.
 */
export function jobPathProblem(p: string): string | undefined {
  if (p.startsWith("/")) return "is absolute";
  const segs = p.split("/");
  if (segs.length > JOB_LIMITS.maxDepth) return `is deeper than ${JOB_LIMITS.maxDepth} folders`;
  for (const s of segs) {
    if (s === "") return "has an empty segment (// or a trailing /)";
    if (s === "." || s === "..") return `has a "${s}" segment`;
    if (s.startsWith(".")) return `has a hidden segment "${s}"`;
    if (!/^[A-Za-z0-9_+@=,-][A-Za-z0-9._+@=,-]*$/.test(s)) return `has a segment with characters outside A-Z a-z 0-9 . _ + @ = , - ("${s}")`;
  }
  return undefined;
}

/** Checks a job that arrived from the queue; throws with every problem listed. */
export function checkJob(data: unknown): FarmJob {
  const parsed = FarmJobSchema.safeParse(data);
  if (!parsed.success) throw new Error(`the job is not a kiln farm job v${JOB_VERSION}: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  const job = parsed.data;
  const problems: string[] = [];
  if (job.files.length > JOB_LIMITS.maxFiles) problems.push(`${job.files.length} files (at most ${JOB_LIMITS.maxFiles})`);
  const seen = new Set<string>();
  let total = 0;
  for (const f of job.files) {
    const why = jobPathProblem(f.path);
    if (why) problems.push(`file ${JSON.stringify(f.path)} ${why}`);
    if (seen.has(f.path)) problems.push(`file ${JSON.stringify(f.path)} is listed twice`);
    seen.add(f.path);
    const n = Buffer.byteLength(f.b64, "base64");
    if (n > JOB_LIMITS.maxFileBytes) problems.push(`file ${f.path} is ${n} bytes (at most ${JOB_LIMITS.maxFileBytes})`);
    total += n;
  }
  // a file may not also be a folder of another (a/b and a/b/c)
  for (const p of seen) {
    const parts = p.split("/");
    for (let i = 1; i < parts.length; i++) if (seen.has(parts.slice(0, i).join("/"))) problems.push(`file ${parts.slice(0, i).join("/")} is also a folder of ${p}`);
  }
  if (total > JOB_LIMITS.maxTotalBytes) problems.push(`${total} bytes of files (at most ${JOB_LIMITS.maxTotalBytes})`);
  if (!seen.has("kiln.toml")) problems.push("no kiln.toml");
  if (job.locked !== seen.has("kiln.lock")) problems.push(job.locked ? "locked but no kiln.lock" : "carries kiln.lock but is not locked");
  if (problems.length) throw new Error(`refusing the job: ${problems.join("; ")}`);
  return job;
}

/**
 * The job id: the cell's input digest. Equal project files (by content), cell, remote and
 * kiln version give one id, so two submissions of one cell are one BullMQ job.
 */
export function jobDigest(job: Pick<FarmJob, "project" | "target" | "arch" | "remote" | "files" | "kiln">): string {
  const h = createHash("sha256");
  h.update(`kiln farm job v${JOB_VERSION}\nkiln ${job.kiln}\nproject ${job.project}\ntarget ${job.target}\narch ${job.arch}\nremote ${job.remote}\n`);
  for (const f of [...job.files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    h.update(`file ${f.path} ${createHash("sha256").update(Buffer.from(f.b64, "base64")).digest("hex")}\n`);
  }
  return h.digest("hex");
}

/** Assemble a job from file contents (path -> bytes). */
export function makeJob(o: { project: string; target: string; arch: string; remote: string; files: Map<string, Buffer>; submitter: string }): { job: FarmJob; id: string } {
  const files = [...o.files.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([path, bytes]) => ({ path, b64: bytes.toString("base64") }));
  const job: FarmJob = { v: JOB_VERSION, project: o.project, target: o.target, arch: o.arch, remote: o.remote, locked: o.files.has("kiln.lock"), files, submitter: o.submitter, kiln: KILN_VERSION };
  return { job, id: jobDigest(job) };
}

/**
 * One human line of a worker's kiln (its ui.step lines, `name      message`) as a progress
 * event: the step name, and compile's percentage when the line carries one. Other lines
 * (warnings, blank, indented detail) give undefined.
 */
export function progressFromLine(line: string, worker: string): FarmProgress | undefined {
  const m = /^([a-z][a-z_-]{1,15}) +(\S.*)$/.exec(line);
  if (!m || m[1] === "warning" || m[1] === "error") return undefined;
  const step = m[1]!;
  const msg = m[2]!;
  const pct = step === "compile" ? /^(\d{1,3})% /.exec(msg) : null;
  return { worker, step, msg, ...(pct ? { pct: Math.min(100, Number(pct[1])) } : {}) };
}

/**
 * The first error of a kiln run's stderr: from the first "error:" line, at most `max` lines
 * (the message, its hint, the first diagnostics). Falls back to the last lines when no
 * "error:" line is there.
 */
export function firstErrorLines(stderr: string, max = 20): string[] {
  const lines = stderr.replace(/\x1b\[[0-9;]*m/g, "").split("\n");
  const at = lines.findIndex((l) => l.startsWith("error:"));
  const out = at >= 0 ? lines.slice(at, at + max) : lines.filter((l) => l.trim()).slice(-max);
  while (out.length && !out.at(-1)!.trim()) out.pop();
  return out;
}

/** A failed job's reason, as BullMQ stores it (a string): kiln's exit code and its error lines. */
export interface FarmFailure {
  exit: 1 | 2;
  worker: string;
  lines: string[];
}

export function encodeFailure(f: FarmFailure): string {
  return JSON.stringify({ kiln_farm_failure: f });
}

export function decodeFailure(reason: string | undefined): FarmFailure | undefined {
  if (!reason) return undefined;
  try {
    const v = JSON.parse(reason) as { kiln_farm_failure?: FarmFailure };
    const f = v.kiln_farm_failure;
    if (f && (f.exit === 1 || f.exit === 2) && Array.isArray(f.lines)) return f;
  } catch {
    /* not ours: a BullMQ reason such as "job stalled more than allowable limit" */
  }
  return undefined;
}

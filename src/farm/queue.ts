/** The farm's names in Redis, shared by workers, submitters and `kiln farm status`. */
export const QUEUE = "builds";
/** BullMQ key prefix: every farm key starts with "kiln-farm:". */
export const PREFIX = "kiln-farm";
/** A worker's heartbeat: kiln-farm:worker:<name>, refreshed every HEARTBEAT_MS, gone after 3 misses. */
export const workerKey = (name: string) => `${PREFIX}:worker:${name}`;
export const HEARTBEAT_MS = 5000;
/** What a finished job's input digest built: kiln-farm:release:<job id> -> {release, arch, remote, worker}. */
export const releaseKey = (jobId: string) => `${PREFIX}:release:${jobId}`;
/** How long a finished job's release is remembered (the remote is asked again before it is used). */
export const RELEASE_TTL_S = 30 * 86400;

export interface WorkerBeat {
  name: string;
  host: string;
  pid: number;
  concurrency: number;
  started: string;
  /** Jobs running now: id -> cell. */
  running: Record<string, string>;
  done: number;
  failed: number;
}

export interface KnownRelease {
  release: string;
  arch: string;
  remote: string;
  worker: string;
}

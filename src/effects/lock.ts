/**
 * Kernel-level exclusive locks (flock(2) through util-linux flock(1)) with a guardian.
 *
 * The lock is held by a small guardian process whose stdin is a pipe from kiln. When kiln
 * exits for any reason, SIGKILL included, the pipe closes; the guardian then kills the process
 * group registered with it (a running make), waits for it to die, and only then exits, which
 * releases the lock. So a killed build can never leave a make running in a warm tree that the
 * next build has already locked, and a stale lock can never block anyone.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import { InfraError } from "../errors.js";

const GUARDIAN = [
  'echo locked',
  'cat >/dev/null',
  'if [ -s "$1" ]; then',
  '  g=$(cat "$1")',
  '  kill -TERM -- "-$g" 2>/dev/null',
  '  i=0',
  '  while kill -0 -- "-$g" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done',
  '  kill -KILL -- "-$g" 2>/dev/null',
  '  rm -f "$1"',
  'fi',
].join("\n");

export class HeldLock {
  constructor(
    readonly path: string,
    private readonly child: ChildProcess,
  ) {}

  private get pgidFile(): string {
    return `${this.path}.pgid`;
  }

  /** Register a process group the guardian must kill if kiln dies while holding the lock. */
  guard(pgid: number): void {
    writeFileSync(this.pgidFile, String(pgid));
  }

  unguard(): void {
    rmSync(this.pgidFile, { force: true });
  }

  async release(): Promise<void> {
    this.unguard();
    const done = new Promise<void>((res) => {
      if (this.child.exitCode !== null || this.child.signalCode !== null) res();
      else this.child.once("exit", () => res());
    });
    this.child.stdin?.end();
    await done;
  }
}

export interface LockOptions {
  /** Called once if the lock is not free within a moment, e.g. to say "waiting for …". */
  onWait?: () => void;
}

/**
 * Starts flock holding `path` for the guardian; resolves with the child once it holds the lock,
 * or undefined when `nonBlocking` and another process holds it (flock -n exits 1).
 */
function flockGuardian(path: string, nonBlocking: boolean): Promise<ChildProcess | undefined> {
  mkdirSync(dirname(path), { recursive: true });
  const pgidFile = `${path}.pgid`;
  const child = spawn("flock", [...(nonBlocking ? ["-n"] : []), "-x", path, "sh", "-c", GUARDIAN, "sh", pgidFile], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  return new Promise<ChildProcess | undefined>((res, rej) => {
    let buf = "";
    child.stdout!.on("data", (d: Buffer) => {
      buf += d.toString();
      if (buf.includes("locked")) res(child);
    });
    child.once("error", (e) => rej(new InfraError(`cannot take lock ${path}: ${e.message}`)));
    child.once("exit", (code) => (nonBlocking && code === 1 ? res(undefined) : rej(new InfraError(`cannot take lock ${path}: flock exited with ${code}`))));
  });
}

export async function acquire(path: string, opts: LockOptions = {}): Promise<HeldLock> {
  const timer = setTimeout(() => opts.onWait?.(), 300);
  try {
    return new HeldLock(path, (await flockGuardian(path, false))!);
  } finally {
    clearTimeout(timer);
  }
}

/** Takes the lock only if it is free now; undefined when another process holds it. */
export async function tryAcquire(path: string): Promise<HeldLock | undefined> {
  const child = await flockGuardian(path, true);
  return child ? new HeldLock(path, child) : undefined;
}

export async function withLock<T>(path: string, fn: (lock: HeldLock) => Promise<T>, opts: LockOptions = {}): Promise<T> {
  const lock = await acquire(path, opts);
  try {
    return await fn(lock);
  } finally {
    await lock.release();
  }
}

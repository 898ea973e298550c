/**
 * The one door to subprocesses. Always argv arrays, never a shell string built from input.
 *
 * - run / output: run to the end, collect stdout and stderr (on top of start).
 * - runSync: the same, synchronously, for the kconfig reader's `$(shell,...)` and make calls.
 * - start: a long-running child with streaming output (line or chunk callbacks), stdin given
 *   or piped, an overall timeout, its own process group and kill-on-signal (Ctrl-C stops it too).
 * - which / whichSync: PATH lookup, in process (no `command -v` shell).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { accessSync, constants, statSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import { InfraError, HostError } from "../errors.js";

/**
 * Whether a process with this id exists (signal 0). EPERM means it exists under another user.
 * Sweeps use it to tell a killed run's leftovers from a live run's.
 */
export function pidAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  input?: string | Buffer;
  /** Do not throw on a non-zero exit; the caller inspects the result. */
  allowFail?: boolean;
  timeoutMs?: number;
  /** Said with the HostError when the command is not installed (default: `kiln doctor --install`). */
  missingHint?: string;
}

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** stdout and stderr interleaved, as a person would have seen them. */
  all: string;
  /** Set when the child was stopped by a signal (including a timeout's SIGTERM). */
  signal?: string;
  timedOut: boolean;
}

function notInstalled(cmd: string, hint?: string): HostError {
  return new HostError(`${cmd} is not installed`, {}, hint ?? "run `kiln doctor --install` to install the host tools");
}

export async function run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  let stdout = "";
  let stderr = "";
  let all = "";
  const p = start(argv, {
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
    ...(opts.env ? { env: opts.env } : {}),
    ...(opts.input !== undefined ? { input: opts.input } : {}),
    ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    ...(opts.missingHint ? { missingHint: opts.missingHint } : {}),
    onStdout: (c) => ((stdout += c), (all += c)),
    onStderr: (c) => ((stderr += c), (all += c)),
  });
  const x = await p.done;
  const res: RunResult = { exitCode: x.exitCode, stdout, stderr, all, ...(x.signal ? { signal: x.signal } : {}), timedOut: x.timedOut };
  if (res.exitCode !== 0 && !opts.allowFail) {
    const tail = res.all.trim().split("\n").slice(-15).join("\n");
    throw new InfraError(`command failed (exit ${res.exitCode}${x.signal ? `, ${x.signal}` : ""}): ${argv.join(" ")}\n${tail}`);
  }
  return res;
}

/** stdout of a command, trimmed. */
export async function output(argv: readonly string[], opts: RunOptions = {}): Promise<string> {
  return (await run(argv, opts)).stdout.trim();
}

export interface RunSyncResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to the end, synchronously; stdin is closed. Throws HostError when it is not installed. */
export function runSync(argv: readonly string[], opts: { cwd?: string; env?: Record<string, string | undefined>; missingHint?: string } = {}): RunSyncResult {
  const [cmd, ...args] = argv;
  if (!cmd) throw new InfraError("internal: empty command");
  const r = spawnSync(cmd, args, {
    cwd: opts.cwd,
    env: opts.env ? { ...process.env, ...opts.env } : process.env,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    maxBuffer: 512 * 1024 * 1024,
  });
  if (r.error && (r.error as NodeJS.ErrnoException).code === "ENOENT") throw notInstalled(cmd, opts.missingHint);
  if (r.error) throw new InfraError(`could not run ${argv.join(" ")}: ${r.error.message}`);
  return { exitCode: r.status ?? (r.signal ? 128 : 1), stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

type Sink = "pipe" | "ignore" | "inherit";

export interface StartOptions {
  cwd?: string;
  /** Added to the parent's environment. */
  env?: Record<string, string | undefined>;
  /** "ignore" (default), "inherit", or "pipe" (write to Proc.stdin yourself). */
  stdin?: Sink;
  /** Bytes written to the child's stdin, which is then closed (implies a piped stdin). */
  input?: string | Buffer;
  /** Default "pipe". */
  stdout?: Sink;
  stderr?: Sink;
  /** Called with each chunk of stdout / stderr (text when `encoding` is set). */
  onStdout?: (chunk: string) => void;
  onStderr?: (chunk: string) => void;
  /** Called with each line of stdout and stderr, as they arrive. */
  onLine?: (line: string, stream: "stdout" | "stderr") => void;
  /** Overall limit: the child (its group, with `group`) is killed with SIGKILL and `timedOut` is set. */
  timeoutMs?: number;
  /** Run in its own process group; kill() and signals then reach everything it started. */
  group?: boolean;
  /** Pass a SIGINT/SIGTERM sent to kiln on to the child (its group), until it ends. */
  killOnSignal?: boolean;
  /** Said with the HostError when the command is not installed. */
  missingHint?: string;
}

export interface ProcExit {
  /** The exit code; 128 when killed by a signal with no code. */
  exitCode: number;
  signal?: NodeJS.Signals;
  timedOut: boolean;
}

export interface Proc {
  readonly argv: readonly string[];
  readonly pid: number | undefined;
  /** With stdin "pipe". */
  readonly stdin: Writable | null;
  /** Raw streams, for callers that read bytes (with stdout "pipe" and no onStdout/onLine). */
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  /** Kills the child (its group with `group`). Harmless after it ended. */
  kill(signal?: NodeJS.Signals): void;
  /** Resolves when the child has exited and its output streams are closed; rejects when it could not start. */
  readonly done: Promise<ProcExit>;
}

/** Starts a child process. See StartOptions. */
export function start(argv: readonly string[], opts: StartOptions = {}): Proc {
  const [cmd, ...args] = argv;
  if (!cmd) throw new InfraError("internal: empty command");
  const given = opts.input;
  const stdinMode: Sink = given !== undefined ? "pipe" : (opts.stdin ?? "ignore");
  const child: ChildProcess = spawn(cmd, args, {
    cwd: opts.cwd,
    env: opts.env ? { ...process.env, ...opts.env } : process.env,
    stdio: [stdinMode, opts.stdout ?? "pipe", opts.stderr ?? "pipe"],
    detached: opts.group === true,
  });
  let ended = false;
  let timedOut = false;
  const kill = (signal: NodeJS.Signals = "SIGKILL") => {
    if (ended || child.pid === undefined) return;
    try {
      if (opts.group) process.kill(-child.pid, signal);
      else child.kill(signal);
    } catch {
      // already gone
    }
  };
  const onSignal = (sig: NodeJS.Signals) => kill(sig);
  if (opts.killOnSignal) {
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  }
  const timer = opts.timeoutMs !== undefined ? setTimeout(() => ((timedOut = true), kill("SIGKILL")), opts.timeoutMs) : undefined;
  const wire = (stream: Readable | null, name: "stdout" | "stderr", onChunk?: (c: string) => void) => {
    if (!stream) return;
    if (onChunk || opts.onLine) stream.setEncoding("utf8");
    if (onChunk) stream.on("data", onChunk);
    if (opts.onLine) {
      const rl = createInterface({ input: stream, crlfDelay: Infinity });
      rl.on("line", (l) => opts.onLine!(l, name));
    }
  };
  wire(child.stdout, "stdout", opts.onStdout);
  wire(child.stderr, "stderr", opts.onStderr);
  if (given !== undefined && child.stdin) {
    child.stdin.on("error", () => undefined); // a child that exits without reading its input
    child.stdin.end(given);
  }
  const cleanup = () => {
    ended = true;
    if (timer) clearTimeout(timer);
    if (opts.killOnSignal) {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
  };
  const done = new Promise<ProcExit>((resolve, reject) => {
    child.on("error", (e: NodeJS.ErrnoException) => {
      if (ended) return;
      cleanup();
      reject(e.code === "ENOENT" ? notInstalled(cmd, opts.missingHint) : new InfraError(`could not start ${cmd}: ${e.message}`));
    });
    child.on("close", (code, signal) => {
      if (ended) return;
      cleanup();
      resolve({ exitCode: code ?? (signal ? 128 : 1), signal: signal ?? undefined, timedOut });
    });
  });
  return { argv, pid: child.pid, stdin: child.stdin, stdout: child.stdout, stderr: child.stderr, kill, done };
}

/** Where a command is on PATH, looked up in-process (no shell started). */
export async function which(cmd: string): Promise<string | undefined> {
  return whichSync(cmd);
}

/** The same lookup, synchronously. A name with a slash is checked as given. */
export function whichSync(cmd: string, path = process.env.PATH ?? ""): string | undefined {
  if (cmd.includes("/")) return isExecutable(cmd) ? cmd : undefined;
  for (const dir of path.split(":")) {
    if (!dir) continue;
    const p = join(dir, cmd);
    if (isExecutable(p)) return p;
  }
  return undefined;
}

function isExecutable(p: string): boolean {
  try {
    if (!statSync(p).isFile()) return false;
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

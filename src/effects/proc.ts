/**
 * Subprocesses, always from argv arrays. Thin wrappers over execa.
 */
import { execa, type Options as ExecaOptions } from "execa";
import { accessSync, constants, statSync } from "node:fs";
import { join } from "node:path";
import { InfraError, HostError } from "../errors.js";

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  input?: string | Buffer;
  /** Do not throw on a non-zero exit; the caller inspects the result. */
  allowFail?: boolean;
  timeoutMs?: number;
}

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** stdout and stderr interleaved, as a person would have seen them. */
  all: string;
}

export async function run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const [cmd, ...args] = argv;
  if (!cmd) throw new InfraError("internal: empty command");
  const eo: ExecaOptions = {
    cwd: opts.cwd,
    env: opts.env,
    extendEnv: true,
    input: opts.input,
    reject: false,
    all: true,
    stripFinalNewline: false,
    timeout: opts.timeoutMs,
    maxBuffer: 512 * 1024 * 1024,
  };
  const r = await execa(cmd, args, eo);
  if (r.failed && (r as { code?: string }).code === "ENOENT") {
    throw new HostError(`${cmd} is not installed`, {}, "run `kiln doctor --install` to install the host tools");
  }
  const res: RunResult = {
    exitCode: r.exitCode ?? (r.signal ? 128 : 1),
    stdout: String(r.stdout ?? ""),
    stderr: String(r.stderr ?? ""),
    all: String(r.all ?? ""),
  };
  if (res.exitCode !== 0 && !opts.allowFail) {
    const tail = res.all.trim().split("\n").slice(-15).join("\n");
    throw new InfraError(`command failed (exit ${res.exitCode}${r.signal ? `, ${r.signal}` : ""}): ${argv.join(" ")}\n${tail}`);
  }
  return res;
}

/** stdout of a command, trimmed. */
export async function output(argv: readonly string[], opts: RunOptions = {}): Promise<string> {
  return (await run(argv, opts)).stdout.trim();
}

/** Where a command is on PATH, looked up in-process (no shell started). */
export async function which(cmd: string): Promise<string | undefined> {
  if (cmd.includes("/")) return isExecutable(cmd) ? cmd : undefined;
  for (const dir of (process.env.PATH ?? "").split(":")) {
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

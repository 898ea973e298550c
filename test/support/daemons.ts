/**
 * Real distccd and redis-server daemons on 127.0.0.1 for the distcc and shared-ccache tests:
 * free ports, logs to files, stopped by the test (SIGTERM to their process group, then SIGKILL).
 * distccd started as root drops to its own user (distccd), so its log file and any wrapper
 * folder on its PATH are made readable/writable for that user.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { createServer, connect } from "node:net";
import { join } from "node:path";

export interface Daemon {
  name: string;
  port: number;
  log: string;
  proc: ChildProcess;
  stop(): Promise<void>;
}

/** A TCP port nobody listens on right now (the kernel picks it). */
export async function freePort(): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      const port = typeof a === "object" && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, proc: ChildProcess, what: string, log: string, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`${what} exited (${proc.exitCode}) before listening on ${port}: ${existsSync(log) ? readFileSync(log, "utf8").slice(-800) : ""}`);
    const ok = await new Promise<boolean>((r) => {
      const c = connect(port, "127.0.0.1");
      c.once("connect", () => (c.destroy(), r(true)));
      c.once("error", () => r(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`${what} did not listen on 127.0.0.1:${port} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function stopper(proc: ChildProcess): () => Promise<void> {
  return async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise<void>((r) => proc.once("exit", () => r()));
    try {
      process.kill(-proc.pid!, "SIGTERM");
    } catch {
      return;
    }
    const t = setTimeout(() => {
      try {
        process.kill(-proc.pid!, "SIGKILL");
      } catch {
        /* already gone */
      }
    }, 3000);
    await gone;
    clearTimeout(t);
  };
}

/**
 * distccd on 127.0.0.1:<port>, `jobs` slots, its log in dir. `shadow` runs it in a private mount
 * namespace (unshare -m, as root) with shadow.wrapper bind-mounted over shadow.target.
 */
export async function startDistccd(dir: string, name: string, o: { jobs?: number; shadow?: { wrapper: string; target: string } } = {}): Promise<Daemon> {
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o777);
  const port = await freePort();
  const log = join(dir, `${name}.log`);
  writeFileSync(log, "");
  chmodSync(log, 0o666);
  const argv = ["--daemon", "--no-detach", "--allow", "127.0.0.1", "--listen", "127.0.0.1", "--port", String(port), "--jobs", String(o.jobs ?? 2), "--log-file", log, "--log-level", "info"];
  const env = { ...process.env, PATH: "/usr/bin:/bin", TMPDIR: "/tmp" };
  const cmd = o.shadow
    ? ["unshare", "-m", "--", "sh", "-c", 'w=$1; t=$2; shift 2; mount --bind "$w" "$t" && exec distccd "$@"', "sh", o.shadow.wrapper, o.shadow.target, ...argv]
    : ["distccd", ...argv];
  // distccd opens --log-file after it drops root to the distccd user; when it cannot, it says so
  // on stderr only and serves jobs with no log, which would read as "0 jobs compiled" later.
  const errFile = join(dir, `${name}.stderr`);
  const errFd = openSync(errFile, "w");
  const proc = spawn(cmd[0]!, cmd.slice(1), { env, stdio: ["ignore", "ignore", errFd], detached: true });
  closeSync(errFd);
  const daemon = { name, port, log, proc, stop: stopper(proc) };
  try {
    await waitForPort(port, proc, `distccd ${name}`, log);
    await waitForLog(log, /\bdaemon started\b/, errFile, 5000, () => `distccd ${name} listens on 127.0.0.1:${port} but writes nothing to its log ${log} (it runs as the distccd user, which must be able to reach that folder); its stderr: ${readFileSync(errFile, "utf8").trim() || "(empty)"}`);
  } catch (e) {
    await daemon.stop();
    throw e;
  }
  return daemon;
}

/** Wait for a line in the daemon's log; give up at once when its stderr says it cannot open the log. */
async function waitForLog(log: string, line: RegExp, errFile: string, ms: number, why: () => string): Promise<void> {
  const until = Date.now() + ms;
  while (!line.test(readFileSync(log, "utf8"))) {
    if (Date.now() > until || /failed to open/.test(readFileSync(errFile, "utf8"))) throw new Error(why());
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * redis-server on 127.0.0.1:<port>, its log in dir. Nothing saved to disk by default; with
 * `appendonly` it keeps an append-only file in dir (the farm's documented setup), and `port`
 * starts it again where an earlier one listened (a restart).
 */
export async function startRedis(dir: string, o: { appendonly?: boolean; port?: number } = {}): Promise<Daemon> {
  mkdirSync(dir, { recursive: true });
  const port = o.port ?? (await freePort());
  const log = join(dir, "redis.log");
  const argv = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", o.appendonly ? "yes" : "no", "--daemonize", "no", "--dir", dir, "--logfile", log];
  const proc = spawn("redis-server", argv, { stdio: "ignore", detached: true });
  await waitForPort(port, proc, "redis-server", log);
  return { name: "redis", port, log, proc, stop: stopper(proc) };
}

/** Jobs a distccd log says it compiled (its COMPILE_OK job summaries). Throws on a log distccd never wrote. */
export function distccdCompiles(log: string): number {
  const text = readFileSync(log, "utf8");
  if (!/\bdaemon started\b/.test(text)) throw new Error(`${log} is not a distccd log (no "daemon started" line): the daemon could not write it`);
  return (text.match(/\bCOMPILE_OK\b/g) ?? []).length;
}

/**
 * A compiler that reports another version on `-v` first (what a host with a different gcc looks
 * like to the probe), then runs a copy of the real driver (GCC_EXEC_PREFIX tells the copy where cc1 lives). `target` is the real binary the local
 * compiler resolves to (/usr/bin/gcc -> x86_64-linux-gnu-gcc-12); startDistccd's `shadow` mounts
 * the wrapper over it in the daemon's own mount namespace, so only that daemon sees it.
 */
export function otherCompiler(dir: string, cc: string): { wrapper: string; target: string } {
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
  const target = realpathSync(cc);
  const copy = join(dir, "real-driver");
  copyFileSync(target, copy);
  chmodSync(copy, 0o755);
  const wrapper = join(dir, "other-gcc");
  writeFileSync(wrapper, `#!/bin/sh\nfor a in "$@"; do [ "$a" = "-v" ] && echo "gcc version 99.1.0 (another compiler)" >&2; done\nGCC_EXEC_PREFIX=/usr/lib/gcc/ exec ${copy} "$@"\n`);
  chmodSync(wrapper, 0o755);
  return { wrapper, target };
}

/**
 * A build farm on loopback for the farm tests: a redis-server with an append-only file, a
 * signing key, a mirror folder, the example project pointed at them, and `kiln farm worker`
 * processes in their own KILN_HOMEs. `shareHome` links a worker's home to the test store's
 * source, configure records, compiler cache (and, for the default suite, its store), so a
 * worker that gets the test store's cell needs no compile.
 */
import { type ChildProcess } from "node:child_process";
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { kiln, kilnSpawn, REPO, TEST_HOME } from "./kiln.js";
import { exampleKernel, type ExampleKernel } from "./store.js";
import { haveCommand, needs } from "./needs.js";
import { startRedis, type Daemon } from "./daemons.js";
import { TEST_CACHE } from "./trees.js";
import type { Manifest } from "../../src/core/manifest.js";

export interface FarmWorker {
  name: string;
  home: string;
  proc: ChildProcess;
  out: () => string;
  stop(): Promise<void>;
}

/** A KILN_HOME whose listed parts are links into the test home; the rest is its own. */
export function sharedHome(dir: string, share: readonly string[]): string {
  mkdirSync(dir, { recursive: true });
  for (const e of share) {
    const from = join(TEST_HOME, e);
    if (existsSync(from)) symlinkSync(from, join(dir, e));
  }
  return dir;
}

/** What a worker's home shares in the default suite: everything but warm trees, locks and its farm folder. */
export function storeShare(): string[] {
  return readdirSync(TEST_HOME).filter((e) => !["work", "locks", "farm", "tmp", "peers", "repro"].includes(e));
}

export async function startWorker(name: string, home: string, redis: string, key: string, extra: string[] = []): Promise<FarmWorker> {
  const proc = kilnSpawn(["farm", "worker", "--redis", redis, "--name", name, "--signing-key", key, "--lock-ms", "4000", "--stalled-ms", "1500", ...extra], { home });
  let out = "";
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  await new Promise<void>((res, rej) => {
    const t = setTimeout(() => rej(new Error(`worker ${name} did not start within 20 s:\n${out}`)), 20_000);
    const check = () => {
      if (/waiting for jobs/.test(out)) {
        clearTimeout(t);
        res();
      }
    };
    proc.stdout!.on("data", check);
    proc.once("exit", (c) => (clearTimeout(t), rej(new Error(`worker ${name} exited (${c}):\n${out}`))));
  });
  return {
    name,
    home,
    proc,
    out: () => out,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill("SIGTERM");
      const t = setTimeout(() => proc.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}

/**
 * This checkout's example with the test store's kiln.lock, in `dest`: the farm tests' project.
 * Not the test store's project folder itself, which another test run may lay again meanwhile.
 */
export function exampleWithLock(storeProject: string, dest: string): string {
  cpSync(join(REPO, "examples", "microvm"), dest, { recursive: true, filter: (s) => !s.endsWith("kiln.lock") });
  copyFileSync(join(storeProject, "kiln.lock"), join(dest, "kiln.lock"));
  return dest;
}

/** A copy of a project folder (its kiln.lock included) with the farm's remote, trusted key and [farm] table. */
export function farmProject(from: string, dest: string, o: { mirror: string; pub: string; redis?: string }): string {
  cpSync(from, dest, { recursive: true, filter: (s) => !/\/out(\/|$)/.test(s.slice(from.length)) });
  const pubKey = readFileSync(o.pub, "utf8").trim().split("\n").at(-1)!;
  writeFileSync(
    join(dest, "kiln.toml"),
    `${readFileSync(join(dest, "kiln.toml"), "utf8")}\n[remote.farm]\nurl = "${o.mirror}"\n\n[ship]\ntrusted_keys = ["${pubKey}"]\n\n[farm]\nremote = "farm"\n${o.redis ? `redis = "${o.redis}"\n` : ""}`,
  );
  return dest;
}

export async function keygen(dir: string): Promise<{ key: string; pub: string }> {
  const r = await kiln(["keygen", "--out", dir, "--name", "farm"], { home: join(dir, "home") });
  if (r.code !== 0) throw new Error(`kiln keygen failed: ${r.stderr}`);
  return { key: join(dir, "farm.key"), pub: join(dir, "farm.pub") };
}

export function farmManifest(stdout: string): Manifest {
  return (JSON.parse(stdout) as Manifest[])[0]!;
}

/** What the farm tests need on both levels, missing tools said as a skip reason. */
export const farmMissing = (): string | false =>
  needs(["redis-server", "setpriv"].filter((c) => !haveCommand(c)).map((c) => `${c} is not installed (apt-get install redis-server util-linux)`).join("; "));

export interface FarmRig {
  /** The test store's x86_64 example kernel (its project holds the kiln.lock the jobs carry). */
  ek: ExampleKernel;
  scratch: string;
  redis: Daemon;
  url: string;
  keys: { key: string; pub: string };
  /** The example with the store project's lock, in the scratch folder. */
  base: string;
  /** The empty mirror folder workers publish to. */
  mirror: string;
}

/** A Redis (appendonly on), a signing key, the locked example and an empty mirror, under TEST_CACHE/scratch/<tag>-*. */
export async function farmRig(tag: string): Promise<FarmRig> {
  const ek = exampleKernel("x86_64");
  mkdirSync(join(TEST_CACHE, "scratch"), { recursive: true });
  const scratch = mkdtempSync(join(TEST_CACHE, "scratch", `${tag}-`));
  const redis = await startRedis(join(scratch, "redis"), { appendonly: true });
  const keys = await keygen(join(scratch, "keys"));
  const base = exampleWithLock(ek.project, join(scratch, "example"));
  const mirror = join(scratch, "mirror");
  mkdirSync(mirror);
  return { ek, scratch, redis, url: `redis://127.0.0.1:${redis.port}`, keys, base, mirror };
}

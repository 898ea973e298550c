/**
 * The build farm for real, on loopback, with no compile: a redis-server (appendonly on), a
 * mirror folder, two `kiln farm worker` processes in their own KILN_HOMEs and `kiln build
 * --farm` submitters in empty KILN_HOMEs (no source, no trees). The workers' homes share the
 * test store (src, configure records, store: test/support/farm.ts), so the x86_64 example is a
 * store hit there: the worker runs the ordinary pipeline, publishes the release signed, and the
 * submitters take it through the verified reuse path. A cell whose patch does not apply fails
 * at apply_patches, before anything compiles. Real compiles (two submitters one compile, a
 * worker killed mid-build) are in test/full/farm.test.ts.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { dirname, join } from "node:path";
import { spawn, spawnSync } from "node:child_process";
import type { ExampleKernel } from "../support/store.js";
import { haveCommand, needs } from "../support/needs.js";
import { freePort, startRedis, type Daemon } from "../support/daemons.js";
import { kiln, kilnSpawn } from "../support/kiln.js";
import { farmManifest, farmMissing, farmProject, farmRig, sharedHome, startWorker, storeShare, type FarmWorker } from "../support/farm.js";
import { paths, projectId, warmTree } from "../../src/store/paths.js";
import { ManifestSchema } from "../../src/core/manifest.js";

const missing = farmMissing();

let ek: ExampleKernel;
let scratch: string;
let redis: Daemon;
let url: string;
let keys: { key: string; pub: string };
let base: string;
let proj: string;
const workers: FarmWorker[] = [];

const sha = (f: string) => createHash("sha256").update(readFileSync(f)).digest("hex");
const submit = (home: string, dir = proj, extra: string[] = []) => kiln(["-C", dir, "--json", "build", "--arch", "x86_64", "--farm", url, ...extra], { home });

before(async () => {
  if (missing) return;
  ({ ek, scratch, redis, url, keys, base } = await farmRig("farm"));
  proj = farmProject(base, join(scratch, "proj"), { mirror: join(scratch, "mirror"), pub: keys.pub });
  for (const name of ["wa", "wb"]) workers.push(await startWorker(name, sharedHome(join(scratch, `home-${name}`), storeShare()), url, keys.key));
});

after(async () => {
  for (const w of workers) await w.stop();
  await redis?.stop();
  for (const w of workers) assert.ok(w.proc.exitCode !== null || w.proc.signalCode !== null, `worker ${w.name} is still running`);
  if (scratch) {
    // nothing the test started is left: no worker, kiln child, make or redis-server under the scratch folder
    const left = spawnSync("pgrep", ["-af", scratch], { encoding: "utf8" }).stdout.trim();
    rmSync(scratch, { recursive: true, force: true });
    assert.equal(left, "", `processes left running: ${left}`);
  }
});

test("two submitters of one cell at once: one farm job, both get the signed result into their own store", { skip: missing }, async () => {
  const [a, b] = await Promise.all([submit(join(scratch, "sub-a")), submit(join(scratch, "sub-b"))]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  const ma = farmManifest(a.stdout);
  const mb = farmManifest(b.stdout);
  for (const [m, home] of [[ma, "sub-a"], [mb, "sub-b"]] as const) {
    assert.ok(ManifestSchema.safeParse(m).success);
    assert.equal(m.uts_release, ek.release, "the farm's build has the test store's identity");
    assert.equal(m.status, "ok");
    assert.equal(m.reuse?.status, "reused");
    assert.match(m.reuse!.from!, /^farm \(.*mirror.*signed by [0-9A-F]{16}\)$/);
    assert.ok(["wa", "wb"].includes(m.farm!.worker));
    assert.equal(m.farm!.build, "reused", "the worker's store had it: no compile");
    // the submitter's store holds the exact bytes of the test store's build, and its cell manifest says farm
    const entry = join(scratch, home, "store", ek.release);
    assert.equal(m.artifacts!.store_entry, entry);
    assert.equal(sha(join(entry, "boot", `vmlinuz-${ek.release}`)), sha(join(ek.storeEntry, "boot", `vmlinuz-${ek.release}`)));
    const cell = JSON.parse(readFileSync(join(scratch, home, "work", projectId("microvm", proj), "base-x86_64", "state", "manifest.json"), "utf8"));
    assert.deepEqual(cell.farm, m.farm);
    console.log(`farm overhead (${home}): wall ${m.farm!.wall_ms} ms - worker build ${m.farm!.build_ms} ms = ${m.farm!.wall_ms - m.farm!.build_ms} ms`);
  }
  assert.equal(ma.farm!.job, mb.farm!.job, "one job id: the cell's input digest");
  assert.equal(ma.farm!.worker, mb.farm!.worker);
  const st = await kiln(["--json", "farm", "status", "--redis", url]);
  assert.equal(st.code, 0, st.stderr);
  const s = JSON.parse(st.stdout);
  assert.equal(s.counts.completed, 1, "the two submissions ran as one job");
  assert.equal(s.jobs.filter((j: { id: string }) => j.id === ma.farm!.job).length, 1);
  // the mirror holds the release, signed
  const index = JSON.parse(readFileSync(join(scratch, "mirror", "index.json"), "utf8"));
  assert.ok(JSON.stringify(index).includes(ek.release));
  // the worker published it and said so
  const w = workers.find((x) => x.name === ma.farm!.worker)!;
  assert.match(w.out(), new RegExp(`done +base/x86_64 ${ek.release} \\(reused\\) .*published to farm`));
});

test("a cell built before and still at the remote is not built at all: no job is queued", { skip: missing }, async () => {
  const before = JSON.parse((await kiln(["--json", "farm", "status", "--redis", url])).stdout);
  const c = await submit(join(scratch, "sub-c"));
  assert.equal(c.code, 0, c.stderr);
  const m = farmManifest(c.stdout);
  assert.equal(m.farm!.build, "at-remote");
  assert.equal(m.uts_release, ek.release);
  assert.match(c.stderr, /is at farm already .*no job/);
  assert.ok(existsSync(join(scratch, "sub-c", "store", ek.release, "manifest.json")));
  const after = JSON.parse((await kiln(["--json", "farm", "status", "--redis", url])).stdout);
  assert.deepEqual(after.counts, before.counts);
});

test("a cell whose patch does not apply: exit 2 at the submitter with the patch error, not retried", { skip: missing }, async () => {
  const bad = farmProject(base, join(scratch, "proj-bad"), { mirror: join(scratch, "mirror"), pub: keys.pub });
  const patch = join(bad, "patches", "0001-init-say-which-kernel-this-is.patch");
  const text = readFileSync(patch, "utf8");
  assert.ok(text.includes("argv_init[0] = init_filename;"));
  writeFileSync(patch, text.replace("argv_init[0] = init_filename;", "argv_init[0] = another_name;"));
  const r = await submit(join(scratch, "sub-bad"), bad);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /base\/x86_64: the build failed on farm worker w[ab]/);
  assert.match(r.stderr, /the patch series does not apply clean/);
  assert.match(r.stderr, /0001-init-say-which-kernel-this-is\.patch/);
  const s = JSON.parse((await kiln(["--json", "farm", "status", "--redis", url])).stdout);
  const failed = s.jobs.filter((j: { state: string }) => j.state === "failed");
  assert.equal(failed.length, 1);
  assert.equal(failed[0].attempts, 1, "an exit-2 failure is not retried");
  assert.match(failed[0].error, /does not apply clean/);
  // sent again: the farm answers from the failed job, at once, with the same error
  const again = await submit(join(scratch, "sub-bad"), bad);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /does not apply clean/);
});

test("kiln farm status shows the workers and the finished and failed cells", { skip: missing }, async () => {
  const r = await kiln(["farm", "status", "--redis", url]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^redis 7\.\d+\.\d+$/m);
  assert.match(r.stdout, /^workers 2$/m);
  assert.match(r.stdout, /^ {2}wa +\S+ pid \d+ +\d+ done, \d+ failed +idle$/m);
  assert.match(r.stdout, /^ {2}wb /m);
  assert.match(r.stdout, /^jobs {3}0 waiting, 0 active, 0 delayed, 1 completed, 1 failed$/m);
  assert.match(r.stdout, new RegExp(`^ {2}completed base/x86_64 +[0-9a-f]{12} {2}w[ab] {2}${ek.release}$`, "m"));
  assert.match(r.stdout, /^ {2}failed +base\/x86_64 .*does not apply clean/m);
});

test("kiln doctor checks the farm Redis when one is configured", { skip: missing }, async () => {
  const ok = await kiln(["--json", "doctor"], { env: { KILN_FARM_REDIS: url } });
  const row = JSON.parse(ok.stdout).checks.find((c: { what: string }) => c.what === "farm redis");
  assert.equal(row.ok, true, JSON.stringify(row));
  assert.match(row.detail, /KILN_FARM_REDIS.*Redis 7\.\d+\.\d+, appendonly on/);
  const dead = `redis://127.0.0.1:${await freePort()}`;
  const bad = await kiln(["--json", "doctor"], { env: { KILN_FARM_REDIS: dead } });
  assert.equal(bad.code, 1);
  const row2 = JSON.parse(bad.stdout).checks.find((c: { what: string }) => c.what === "farm redis");
  assert.equal(row2.ok, false);
  assert.match(row2.detail, new RegExp(`cannot reach the farm Redis at ${dead}`));
});

test("a farm submission without a reachable Redis fails at once with what to do", { skip: missing }, async () => {
  const dead = `redis://127.0.0.1:${await freePort()}`;
  const r = await kiln(["-C", proj, "build", "--arch", "x86_64", "--farm", dead], { home: join(scratch, "sub-dead") });
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`^error: .*cannot reach the farm Redis at ${dead}: connect ECONNREFUSED`, "m"));
  assert.match(r.stderr, /hint: start it \(redis-server --appendonly yes/);
});

test("a worker killed with SIGKILL mid-job: another worker takes the stalled job over and finishes it", { skip: missing }, async () => {
  // wa takes the job and its kiln waits on its tree lock (held here), so the job stays active
  // until wa is killed; no compile anywhere
  const wa = workers.find((w) => w.name === "wa")!;
  const wb = workers.find((w) => w.name === "wb")!;
  await wb.stop();
  const dir = farmProject(base, join(scratch, "proj-stall"), { mirror: join(scratch, "mirror"), pub: keys.pub });
  writeFileSync(join(dir, "kiln.toml"), `# taken over after a SIGKILL\n${readFileSync(join(dir, "kiln.toml"), "utf8")}`);
  const folder = join(wa.home, "farm", "microvm-base-x86_64");
  const lockFile = warmTree(paths(wa.home), projectId("microvm", folder), "base", "x86_64").lock;
  mkdirSync(dirname(lockFile), { recursive: true });
  // its own process group: flock's child (the sleep) holds the lock too, so the whole group is stopped
  const holder = spawn("flock", ["-x", lockFile, "sh", "-c", "echo locked; exec sleep 600"], { stdio: ["ignore", "pipe", "ignore"], detached: true });
  await new Promise<void>((r) => holder.stdout!.once("data", () => r()));
  try {
    const child = kilnSpawn(["-C", dir, "--json", "build", "--arch", "x86_64", "--farm", url], { home: join(scratch, "sub-stall") });
    let out = "";
    let err = "";
    child.stdout!.on("data", (d) => (out += d));
    child.stderr!.on("data", (d) => (err += d));
    const done = new Promise<number>((r) => child.once("exit", (c) => r(c ?? 1)));
    const until = Date.now() + 30_000;
    while (!/\[wa\] wait +another kiln is using the base\/x86_64 tree/.test(err)) {
      assert.ok(Date.now() < until, `wa did not take the job and wait on its tree: ${err}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    workers.push(await startWorker("wd", wb.home, url, keys.key));
    wa.proc.kill("SIGKILL");
    assert.equal(await done, 0, err);
    const m = farmManifest(out);
    assert.equal(m.farm!.worker, "wd", "the other worker finished it");
    assert.equal(m.uts_release, ek.release);
    assert.match(err, /\[wd\] taken by wd/);
  } finally {
    process.kill(-holder.pid!, "SIGTERM");
  }
  // wa's kiln died with it (setpriv --pdeathsig); its flock, which waited for the tree lock, ends once the lock is free
  const deadline = Date.now() + 15_000;
  const alive = () => spawnSync("pgrep", ["-af", wa.home], { encoding: "utf8" }).stdout.trim();
  while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  assert.equal(alive(), "");
});

test("Redis restarting with appendonly keeps a queued job; a worker then runs it", { skip: missing }, async () => {
  // stop the workers, queue a new cell (another label: a new input digest), restart Redis, start a worker
  for (const w of workers.splice(0)) await w.stop();
  const other = farmProject(base, join(scratch, "proj-restart"), { mirror: join(scratch, "mirror"), pub: keys.pub });
  // a comment changes the input digest, not the identity: the worker's build is a store hit again
  writeFileSync(join(other, "kiln.toml"), `# queued across a Redis restart\n${readFileSync(join(other, "kiln.toml"), "utf8")}`);
  const child = kilnSpawn(["-C", other, "--json", "build", "--arch", "x86_64", "--farm", url], { home: join(scratch, "sub-restart") });
  let out = "";
  let err = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (err += d));
  const done = new Promise<number>((r) => child.once("exit", (c) => r(c ?? 1)));
  const until = Date.now() + 20_000;
  while (!/job [0-9a-f]{12} queued/.test(err)) {
    assert.ok(Date.now() < until, `the submitter did not queue its job: ${err}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  await redis.stop();
  redis = await startRedis(join(scratch, "redis"), { appendonly: true, port: redis.port });
  workers.push(await startWorker("wc", sharedHome(join(scratch, "home-wc"), storeShare()), url, keys.key));
  assert.equal(await done, 0, err);
  const m = farmManifest(out);
  assert.equal(m.farm!.worker, "wc");
  assert.equal(m.uts_release, ek.release);
});

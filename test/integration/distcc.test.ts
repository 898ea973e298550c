/**
 * distcc and the shared ccache, for real, on loopback: two distccd daemons (and one whose PATH
 * puts another "gcc" first), a redis-server, and kiln's own make environment (buildFlags, the
 * distcc/ccache environments, prepareDistccCompile's probe and compile()) compiling init/ of the
 * example's x86_64 config in a scratch O= folder. No kernel is built: a handful of objects.
 *
 * The scratch folder (test/support/objects.ts) is made once from the test store's .config
 * (olddefconfig + prepare, about 40 s) and kept in the test cache, so later runs only compile init/.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exampleKernel, type ExampleKernel } from "../support/store.js";
import { haveCommand, needs } from "../support/needs.js";
import { startDistccd, startRedis, freePort, distccdCompiles, otherCompiler, type Daemon } from "../support/daemons.js";
import { ccacheEnv } from "../../src/pipeline/build_flags.js";
import type { MakeEnv } from "../../src/pipeline/configure.js";
import { objectsDir, type ObjectsDir } from "../support/objects.js";
import { compile, type CompileResult } from "../../src/pipeline/compile.js";
import { acquire, type HeldLock } from "../../src/effects/lock.js";
import { HostError } from "../../src/errors.js";
import { parseDistccHost, resolveCcacheRemote, type DistccHost } from "../../src/distcc/config.js";
import { prepareDistccCompile, remoteCcacheEnv, localDistccEnv, distccRecord, distccPlan, type DistccPlan } from "../../src/distcc/flow.js";
import { ccacheManifestRecord } from "../../src/pipeline/manifest.js";
import { ManifestSchema } from "../../src/core/manifest.js";
import type { Ui } from "../../src/ui/log.js";

const missing = needs(["distcc", "distccd", "redis-server", "ccache"].filter((c) => !haveCommand(c)).map((c) => `${c} is not installed (apt-get install distcc redis-server ccache)`).join("; "));

// "Another compiler" is a daemon in its own mount namespace (unshare -m + a bind mount): root only.
const notRoot = needs(process.getuid?.() !== 0 && "the other-compiler daemon needs root (unshare -m and a bind mount over gcc)");
let ek: ExampleKernel;
let objDir: string;
let scratch: string;
let lock: HeldLock;
const daemons: Daemon[] = [];
let d1: Daemon, d2: Daemon, other: Daemon, redis: Daemon;
const warnings: string[] = [];
const ui: Ui = {
  json: false, verbose: false, color: false, tty: false, out: process.stderr,
  info: () => {}, step: () => {}, debug: () => {}, error: () => {},
  warn: (m) => void warnings.push(m),
};

const CORES = 2;
const spec = (d: Daemon): DistccHost => {
  const h = parseDistccHost(`127.0.0.1:${d.port}/2`);
  if ("error" in h) throw new Error(h.error);
  return h;
};

let objs: ObjectsDir;
const makeEnv = (o: { ccache?: boolean; distcc?: boolean; env?: Record<string, string> } = {}): MakeEnv => objs.make(o);

async function plan(hosts: DistccHost[]): Promise<DistccPlan> {
  const p = await distccPlan({ hosts, from: "kiln.toml" }, scratch, "gcc");
  assert.ok(p);
  assert.deepEqual([p.bin, p.ccPath], ["/usr/bin/distcc", "/usr/bin/gcc"]);
  return p;
}

/** Remove init/'s objects, compile init/ with compile(), return the result and the objects' digests. */
async function compileInit(make: MakeEnv, jobs: number, extra: { distccLog?: string; ccacheStatsLog?: string; ccacheRemote?: boolean } = {}): Promise<{ res: CompileResult; objects: Record<string, string> }> {
  objs.clean(["init"]);
  const res = await compile({ make, jobs, goals: ["init/"], estimate: 0, logFile: join(scratch, "compile.log"), ...extra, lock, ui });
  return { res, objects: objs.digests(["init"]) };
}

let reference: Record<string, string>;

before(async () => {
  if (missing) return;
  ek = exampleKernel("x86_64");
  objs = await objectsDir(ek, CORES);
  objDir = objs.dir;
  scratch = mkdtempSync(join(tmpdir(), "kiln-distcc-"));
  chmodSync(scratch, 0o755); // distccd drops root to its own user: it must reach the wrapper folder
  lock = await acquire(join(scratch, "tree.lock"));
  const logs = join(scratch, "logs");
  const shadow = otherCompiler(join(scratch, "other-gcc"), "/usr/bin/gcc");
  [d1, d2, redis] = await Promise.all([startDistccd(logs, "d1"), startDistccd(logs, "d2"), startRedis(join(scratch, "redis"))]);
  daemons.push(d1, d2, redis);
  if (!notRoot) daemons.push((other = await startDistccd(logs, "other", { shadow })));
  // The reference: a plain local compile, no wrapper at all.
  reference = (await compileInit(makeEnv(), CORES)).objects;
});

after(async () => {
  await Promise.all(daemons.map((d) => d.stop()));
  if (lock) await lock.release();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

test("init/ through two distccd daemons: the daemons compiled it, the objects equal a local compile's", { skip: missing }, async () => {
  assert.ok(Object.keys(reference).length >= 5, `init/ has objects: ${Object.keys(reference).join(" ")}`);
  const p = await plan([spec(d1), spec(d2)]);
  const base = makeEnv({ distcc: true, env: localDistccEnv(p, false, CORES) });
  assert.ok(base.makeVars.includes("CC=/usr/bin/distcc /usr/bin/gcc"), base.makeVars.join(" "));
  const before1 = distccdCompiles(d1.log) + distccdCompiles(d2.log);
  warnings.length = 0;
  const dc = await prepareDistccCompile(p, { make: base, ccache: false, cores: CORES, configText: readFileSync(join(objDir, ".config"), "utf8"), ui });
  assert.deepEqual(warnings, []);
  assert.equal(dc.jobs, 2 + 2 + CORES);
  assert.equal(dc.make.env.DISTCC_HOSTS, `127.0.0.1:${d1.port}/2 127.0.0.1:${d2.port}/2`);
  const { res, objects } = await compileInit(dc.make, dc.jobs, { distccLog: p.log });
  const served = distccdCompiles(d1.log) + distccdCompiles(d2.log) - before1;
  // the probe is one job per host; the rest are init/'s objects
  assert.ok(served - 2 >= Object.keys(reference).length - 1, `the daemons' logs show ${served} jobs`);
  assert.deepEqual(objects, reference);
  const rec = distccRecord(p.settings.from, dc.hosts, dc.dropped, res.distcc!);
  assert.ok(rec.remote >= Object.keys(reference).length - 1, JSON.stringify(rec));
  assert.equal(rec.hosts.reduce((n, h) => n + h.compiles, 0), rec.remote);
  assert.equal(rec.fallbacks, 0);
  assert.ok(ManifestSchema.shape.compile.unwrap().shape.distcc.safeParse(rec).success);
});

test("a dead host in the list is dropped with a warning; the compile goes on and gives the same objects", { skip: missing }, async () => {
  const deadPort = await freePort();
  const p = await plan([parseDistccHost(`127.0.0.1:${deadPort}/4`) as DistccHost, spec(d1)]);
  const base = makeEnv({ distcc: true, env: localDistccEnv(p, false, CORES) });
  warnings.length = 0;
  const dc = await prepareDistccCompile(p, { make: base, ccache: false, cores: CORES, configText: "", ui });
  assert.equal(warnings.length, 1, warnings.join("\n"));
  assert.match(warnings[0]!, new RegExp(`distcc host 127\\.0\\.0\\.1:${deadPort}/4 is unreachable .*compiling without it`));
  assert.deepEqual(dc.hosts, [`127.0.0.1:${d1.port}/2`]);
  assert.deepEqual(dc.dropped.map((d) => d.host), [`127.0.0.1:${deadPort}/4`]);
  const { res, objects } = await compileInit(dc.make, dc.jobs, { distccLog: p.log });
  assert.deepEqual(objects, reference);
  assert.ok(res.distcc!.remote > 0, JSON.stringify(res.distcc));
});

test("a host whose compiler reports another version is refused with a clear error", { skip: missing || notRoot }, async () => {
  const p = await plan([spec(d1), spec(other)]);
  await assert.rejects(
    prepareDistccCompile(p, { make: makeEnv({ distcc: true }), ccache: false, cores: CORES, configText: "", ui }),
    (e: unknown) => e instanceof HostError && e.message.includes(`127.0.0.1:${other.port}/2`) && /99\.1\.0/.test(e.message) && !e.message.includes(`127.0.0.1:${d1.port}/2 (`) && /identical \/usr\/bin\/gcc/.test(e.hint ?? ""),
  );
});

test("ccache with redis remote storage: a fresh cache dir gets remote hits, recorded as the manifest records them", { skip: missing }, async () => {
  const remote = resolveCcacheRemote(undefined, { KILN_CCACHE_REMOTE: `redis://127.0.0.1:${redis.port}` }, { file: "kiln.toml" })!;
  const side = async (name: string) => {
    const dir = join(scratch, `ccache-${name}`);
    const stats = join(scratch, `ccache-${name}.stats`);
    const m = makeEnv({ ccache: true, env: { ...ccacheEnv(dir, stats, { src: ek.tree, build: objDir }), ...remoteCcacheEnv(remote) } });
    const { res, objects } = await compileInit(m, CORES, { ccacheStatsLog: stats, ccacheRemote: true });
    return { rec: ccacheManifestRecord(res, remote), objects };
  };
  const a = await side("A");
  const n = Object.keys(reference).length;
  // ccache's base_dir hands gcc relative source paths; the relative prefix map gives them the
  // names a plain compile gives them, so ccache on and off make the same bytes (ADR 0105).
  assert.deepEqual(a.objects, reference, "objects compiled through ccache equal a plain compile's");
  assert.equal(a.rec.remote_hits, 0);
  assert.ok(a.rec.misses >= n - 1, JSON.stringify(a.rec));
  const b = await side("B");
  assert.deepEqual(b.objects, a.objects, "remote hits give machine A's objects");
  assert.ok((b.rec.remote_hits ?? 0) >= n - 1, JSON.stringify(b.rec));
  assert.equal(b.rec.local_hits, 0);
  assert.equal(b.rec.misses, 0);
  assert.equal(b.rec.remote, `redis://127.0.0.1:${redis.port}`);
  assert.ok(ManifestSchema.shape.compile.unwrap().shape.ccache.unwrap().safeParse(b.rec).success);
});

test("a distccd that cannot write its log is caught when it starts, not read later as 0 compiles", { skip: missing || notRoot }, async () => {
  // distccd drops root to its own user before it opens --log-file: a folder only root can enter
  const closed = mkdtempSync(join(tmpdir(), "kiln-distcc-closed-"));
  try {
    await assert.rejects(startDistccd(join(closed, "logs"), "closed"), /writes nothing to its log .*distccd user.*Permission denied/s);
  } finally {
    rmSync(closed, { recursive: true, force: true });
  }
});

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, cpSync, symlinkSync, existsSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { checkJob, decodeFailure, encodeFailure, firstErrorLines, jobDigest, jobPathProblem, makeJob, progressFromLine, JOB_LIMITS } from "../../src/farm/job.js";
import { projectJobFiles } from "../../src/farm/files.js";
import { farmRemote, resolveFarmRedis } from "../../src/farm/config.js";
import { layFiles } from "../../src/farm/worker.js";
import { loadProject, parseProject } from "../../src/project/load.js";
import { ProjectError } from "../../src/errors.js";
import { checkRedisUrl } from "../../src/effects/redis.js";

const REPO = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const EXAMPLE = join(REPO, "examples", "microvm");
const KEY = "RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3";

function scratchExample(extra = ""): string {
  const dir = mkdtempSync(join(tmpdir(), "kiln-farm-unit-"));
  cpSync(EXAMPLE, dir, { recursive: true, filter: (s) => !s.endsWith("kiln.lock") });
  if (extra) writeFileSync(join(dir, "kiln.toml"), readFileSync(join(dir, "kiln.toml"), "utf8") + extra);
  return dir;
}

test("job file paths: plain relative names pass; absolute, .., hidden, odd characters and deep paths are refused", () => {
  for (const ok of ["kiln.toml", "patches/0001-init-say-which-kernel-this-is.patch", "config/x86_64/10-virtio.config", "presets/a+b@c=d,e.config"]) assert.equal(jobPathProblem(ok), undefined, ok);
  assert.match(jobPathProblem("/etc/passwd")!, /absolute/);
  assert.match(jobPathProblem("../kiln.toml")!, /"\.\." segment/);
  assert.match(jobPathProblem("patches/../../x")!, /"\.\." segment/);
  assert.match(jobPathProblem("a/./b")!, /"\." segment/);
  assert.match(jobPathProblem(".git/config")!, /hidden segment/);
  assert.match(jobPathProblem("a//b")!, /empty segment/);
  assert.match(jobPathProblem("a/b/")!, /empty segment/);
  assert.match(jobPathProblem("a\\..\\b")!, /characters outside/);
  assert.match(jobPathProblem("a/b\nc")!, /characters outside/);
  assert.match(jobPathProblem(Array(JOB_LIMITS.maxDepth + 1).fill("d").join("/"))!, /deeper than/);
});

test("the example's job carries kiln.toml, the series and every target's and arch's layers, and no other file", () => {
  const dir = scratchExample();
  try {
    writeFileSync(join(dir, "secret.key"), "untrusted comment: minisign encrypted secret key\n");
    mkdirSync(join(dir, "out", "x"), { recursive: true });
    writeFileSync(join(dir, "out", "x", "big.tar.zst"), "x");
    const files = projectJobFiles(loadProject(dir));
    const names = [...files.keys()].sort();
    const want = ["kiln.toml", ...readdirSync(join(dir, "patches")).map((f) => `patches/${f}`)];
    for (const sub of ["common", "x86_64", "aarch64", "riscv64", "modular"]) for (const f of readdirSync(join(dir, "config", sub))) want.push(`config/${sub}/${f}`);
    assert.deepEqual(names, want.sort());
    assert.equal(files.get("kiln.toml")!.toString("utf8"), readFileSync(join(dir, "kiln.toml"), "utf8"));
    // kiln.lock travels when there is one
    writeFileSync(join(dir, "kiln.lock"), "# lock\n");
    assert.ok(projectJobFiles(loadProject(dir)).has("kiln.lock"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a layer that is a symbolic link, or a layer outside the project, cannot travel in a job", () => {
  const dir = scratchExample();
  const outside = mkdtempSync(join(tmpdir(), "kiln-farm-outside-"));
  try {
    writeFileSync(join(outside, "x.config"), "CONFIG_X=y\n");
    symlinkSync(join(outside, "x.config"), join(dir, "config", "common", "99-link.config"));
    assert.throws(() => projectJobFiles(loadProject(dir)), (e: unknown) => e instanceof ProjectError && /symbolic link/.test(e.message) && /99-link\.config/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  }
});

test("the job id is the input digest: equal content gives one id whatever the order; any file, the cell or the remote changes it", () => {
  const files = new Map([["kiln.toml", Buffer.from("name = 'x'\n")], ["patches/0001.patch", Buffer.from("diff\n")]]);
  const a = makeJob({ project: "microvm", target: "base", arch: "x86_64", remote: "farm", files, submitter: "a" });
  const b = makeJob({ project: "microvm", target: "base", arch: "x86_64", remote: "farm", files: new Map([...files].reverse()), submitter: "another host" });
  assert.equal(a.id, b.id);
  assert.match(a.id, /^[0-9a-f]{64}$/);
  assert.equal(jobDigest(a.job), a.id);
  const changed = new Map(files).set("patches/0001.patch", Buffer.from("diff 2\n"));
  assert.notEqual(makeJob({ project: "microvm", target: "base", arch: "x86_64", remote: "farm", files: changed, submitter: "a" }).id, a.id);
  assert.notEqual(makeJob({ project: "microvm", target: "base", arch: "aarch64", remote: "farm", files, submitter: "a" }).id, a.id);
  assert.notEqual(makeJob({ project: "microvm", target: "base", arch: "x86_64", remote: "other", files, submitter: "a" }).id, a.id);
  assert.equal(a.job.locked, false);
  assert.equal(makeJob({ project: "microvm", target: "base", arch: "x86_64", remote: "farm", files: new Map(files).set("kiln.lock", Buffer.from("")), submitter: "a" }).job.locked, true);
});

test("a job from the queue is checked: bad paths, duplicates, file-over-folder, sizes and the lock flag", () => {
  const good = makeJob({ project: "microvm", target: "base", arch: "x86_64", remote: "farm", files: new Map([["kiln.toml", Buffer.from("x")]]), submitter: "a" }).job;
  assert.deepEqual(checkJob(good), good);
  const bad = (files: { path: string; b64: string }[], extra: object = {}) => () => checkJob({ ...good, files, ...extra });
  const toml = { path: "kiln.toml", b64: "eA==" };
  assert.throws(bad([toml, { path: "../evil", b64: "" }]), /file "\.\.\/evil" has a "\.\." segment/);
  assert.throws(bad([toml, toml]), /listed twice/);
  assert.throws(bad([toml, { path: "a", b64: "" }, { path: "a/b", b64: "" }]), /file a is also a folder of a\/b/);
  assert.throws(bad([{ path: "x", b64: "" }]), /no kiln\.toml/);
  assert.throws(bad([toml], { locked: true }), /locked but no kiln\.lock/);
  assert.throws(bad([toml, { path: "big", b64: Buffer.alloc(JOB_LIMITS.maxFileBytes + 1).toString("base64") }]), /file big is \d+ bytes/);
  assert.throws(() => checkJob({ ...good, v: 2 }), /not a kiln farm job v1/);
  assert.throws(() => checkJob({ ...good, project: "../x" }), /project/);
});

test("a worker lays the job's files in its folder, replacing the previous job's", () => {
  const root = mkdtempSync(join(tmpdir(), "kiln-farm-lay-"));
  try {
    const folder = join(root, "microvm-base-x86_64");
    mkdirSync(folder);
    writeFileSync(join(folder, "stale.patch"), "old");
    const { job } = makeJob({ project: "microvm", target: "base", arch: "x86_64", remote: "farm", files: new Map([["kiln.toml", Buffer.from("name")], ["config/common/a.config", Buffer.from("CONFIG_A=y\n")]]), submitter: "a" });
    layFiles(folder, job);
    assert.equal(readFileSync(join(folder, "config/common/a.config"), "utf8"), "CONFIG_A=y\n");
    assert.equal(existsSync(join(folder, "stale.patch")), false);
    assert.deepEqual(readdirSync(root), ["microvm-base-x86_64"]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("a worker's kiln lines become progress events: step names and compile's percentage", () => {
  assert.deepEqual(progressFromLine("compile    42% 548/1305 steps, 1m02s elapsed, ETA 1m25s (init/main.o)", "w1"), { worker: "w1", step: "compile", msg: "42% 548/1305 steps, 1m02s elapsed, ETA 1m25s (init/main.o)", pct: 42 });
  assert.deepEqual(progressFromLine("patches    1 applied", "w1"), { worker: "w1", step: "patches", msg: "1 applied" });
  assert.equal(progressFromLine("warning: something", "w1"), undefined);
  assert.equal(progressFromLine("error: the kernel build failed", "w1"), undefined);
  assert.equal(progressFromLine("  indented detail", "w1"), undefined);
  assert.equal(progressFromLine("", "w1"), undefined);
});

test("the first error lines of a failed kiln run, and failures encoded for BullMQ", () => {
  const stderr = "apply      0001-x.patch\nerror: patches/0001-x.patch: hunk 1 of init/main.c does not apply\n  hint: refresh the patch\n\n";
  assert.deepEqual(firstErrorLines(stderr), ["error: patches/0001-x.patch: hunk 1 of init/main.c does not apply", "  hint: refresh the patch"]);
  assert.deepEqual(firstErrorLines("a\nb\n"), ["a", "b"]);
  assert.deepEqual(firstErrorLines("\x1b[31;1merror:\x1b[0m red\n"), ["error: red"]);
  const f = { exit: 2 as const, worker: "w1", lines: ["error: x"] };
  assert.deepEqual(decodeFailure(encodeFailure(f)), f);
  assert.equal(decodeFailure("job stalled more than allowable limit"), undefined);
  assert.equal(decodeFailure(undefined), undefined);
});

test("where the farm is: --farm, then KILN_FARM_REDIS, then [farm] redis; credentials stay out of kiln.toml", () => {
  const base = readFileSync(join(EXAMPLE, "kiln.toml"), "utf8");
  const p = parseProject(`${base}\n[farm]\nredis = "redis://farm.example:6379"\n`, "/x/kiln.toml");
  assert.deepEqual(resolveFarmRedis(p, undefined, {}), { redis: "redis://farm.example:6379", from: "kiln.toml" });
  assert.deepEqual(resolveFarmRedis(p, undefined, { KILN_FARM_REDIS: "redis://env:1" }), { redis: "redis://env:1", from: "KILN_FARM_REDIS" });
  assert.deepEqual(resolveFarmRedis(p, "redis://flag:2", { KILN_FARM_REDIS: "redis://env:1" }), { redis: "redis://flag:2", from: "--farm" });
  assert.equal(resolveFarmRedis(parseProject(base, "/x/kiln.toml"), undefined, {}), undefined);
  assert.throws(() => parseProject(`${base}\n[farm]\nredis = "redis://u:pw@farm:6379"\n`, "/x/kiln.toml"), /credentials/);
  assert.throws(() => parseProject(`${base}\n[farm]\nredis = "http://farm:6379"\n`, "/x/kiln.toml"), /redis:\/\/host:port/);
  assert.throws(() => checkRedisUrl("http://x:1"), /not a redis:\/\/ URL/);
  assert.equal(checkRedisUrl("redis://127.0.0.1:6379").port, "6379");
});

test("the farm's remote must be reachable from the workers and its results signed by a trusted key", () => {
  const base = readFileSync(join(EXAMPLE, "kiln.toml"), "utf8");
  const at = (extra: string) => parseProject(`${base}\n${extra}`, "/x/kiln.toml");
  assert.throws(() => farmRemote(at("")), /no remote to publish to/);
  assert.throws(() => farmRemote(at('[farm]\nremote = "nope"\n')), /"nope" is not declared/);
  assert.throws(() => farmRemote(at('[remote.m]\nurl = "mirror"\n[farm]\nremote = "m"\n')), /relative to this project: farm workers cannot reach it/);
  assert.throws(() => farmRemote(at('[remote.m]\nurl = "/srv/mirror"\n[farm]\nremote = "m"\n')), /trusted_keys is empty/);
  assert.equal(farmRemote(at(`[remote.m]\nurl = "/srv/mirror"\n[ship]\npublish = ["m"]\ntrusted_keys = ["${KEY}"]\n`)), "m");
  assert.equal(farmRemote(at(`[remote.m]\nurl = "https://mirror.example/k"\n[remote.o]\noci = "reg.example/k"\n[ship]\npublish = ["m"]\ntrusted_keys = ["${KEY}"]\n[farm]\nremote = "o"\n`)), "o");
});

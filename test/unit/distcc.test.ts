import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { parseProject } from "../../src/project/load.js";
import { ProjectError } from "../../src/errors.js";
import { buildFlags, distccEnv, ccacheEnv, ccacheBaseDir, prefixMapFlags } from "../../src/pipeline/build_flags.js";
import { computeDigest } from "../../src/core/identity.js";
import { ARCHES } from "../../src/tables/arches.js";
import { parseDistccHost, resolveDistcc, resolveCcacheRemote, redactUrl, redactText, distccJobs, distccHostsValue, ccacheRemoteStorage, type DistccHost } from "../../src/distcc/config.js";
import { parseDistccLog, parseCcacheStorageLog, compilerVersionLines, enablesGccPlugins } from "../../src/distcc/stats.js";
import { buildSettings, distccRecord } from "../../src/distcc/flow.js";

const REPO = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const FIX = join(REPO, "test/fixtures/distcc");
const EXAMPLE = readFileSync(join(REPO, "examples/microvm/kiln.toml"), "utf8");

function host(s: string): DistccHost {
  const h = parseDistccHost(s);
  if ("error" in h) assert.fail(`${s}: ${h.error}`);
  return h;
}
function hostError(s: string): string {
  const h = parseDistccHost(s);
  assert.ok("error" in h, `${s} should be refused`);
  return h.error;
}

test("distcc host specs: host[:port][/jobs] with distcc's defaults filled in", () => {
  assert.deepEqual(host("build1:3700/8"), { spec: "build1:3700/8", host: "build1", port: 3700, jobs: 8, options: [] });
  assert.equal(host("build1").spec, "build1:3632/2");
  assert.equal(host("10.0.0.7/16").spec, "10.0.0.7:3632/16");
  assert.equal(host("b.example.org:4000,lzo").spec, "b.example.org:4000/2,lzo");
  assert.equal(host("[::1]:3632/4").host, "[::1]");
});

test("distcc host specs kiln does not drive are refused with the reason", () => {
  assert.match(hostError("build1/8,cpp"), /pump mode.*generated headers/);
  assert.match(hostError("user@build1/8"), /ssh host/);
  assert.match(hostError("localhost/4"), /local slot/);
  assert.match(hostError("build1:99999/4"), /port "99999" is not a number from 1 to 65535/);
  assert.match(hostError("build1:3632/0"), /job count "0"/);
  assert.match(hostError("build1:36x2"), /port "36x2"/);
  assert.match(hostError("bad_host!"), /not a host name/);
  assert.match(hostError("--randomize"), /distcc option/);
  assert.match(hostError("b1,zstd"), /unknown option ",zstd"/);
});

test("the environment wins over kiln.toml; KILN_DISTCC_HOSTS over DISTCC_HOSTS; an empty variable turns distcc off", () => {
  const where = { file: "/p/kiln.toml" };
  assert.deepEqual(resolveDistcc(["a:1/2"], {}, where)?.hosts.map((h) => h.spec), ["a:1/2"]);
  assert.equal(resolveDistcc(["a:1/2"], {}, where)?.from, "kiln.toml");
  const d = resolveDistcc(["a:1/2"], { DISTCC_HOSTS: "b:2/4  c:3/4" }, where)!;
  assert.deepEqual([d.from, distccHostsValue(d.hosts)], ["DISTCC_HOSTS", "b:2/4 c:3/4"]);
  assert.equal(resolveDistcc(["a:1/2"], { DISTCC_HOSTS: "b", KILN_DISTCC_HOSTS: "k:9/1" }, where)?.hosts[0]!.spec, "k:9/1");
  assert.equal(resolveDistcc(["a:1/2"], { KILN_DISTCC_HOSTS: "" }, where), undefined);
  assert.equal(resolveDistcc(undefined, {}, where), undefined);
  assert.throws(() => resolveDistcc(undefined, { DISTCC_HOSTS: "b c,cpp" }, where), (e: unknown) => e instanceof ProjectError && /^DISTCC_HOSTS: "c,cpp" asks for pump mode/.test(e.message));
  assert.throws(() => resolveDistcc(["a:1/2", "a:1/8"], {}, where), /a:1 is listed twice/);
});

test("a bad [build] distcc host is a kiln.toml error with its line", () => {
  const text = EXAMPLE + '\n[build]\ndistcc = ["build1:3632/8", "build2,cpp"]\n';
  let e: unknown;
  try {
    parseProject(text, "/p/kiln.toml");
  } catch (x) {
    e = x;
  }
  assert.ok(e instanceof ProjectError, String(e));
  const line = text.split("\n").findIndex((l) => l.startsWith("distcc =")) + 1;
  assert.match(e.message, new RegExp(`/p/kiln.toml:${line}: build\\.distcc\\.1: "build2,cpp" asks for pump mode`));
});

test("[build] settings come from kiln.toml, credentials in kiln.toml are refused, the environment may carry them", () => {
  const p = parseProject(EXAMPLE + '\n[build]\ndistcc = ["build1:3632/8"]\nccache_remote = "redis://cache:6379"\n', "/p/kiln.toml");
  const s = buildSettings(p, {});
  assert.deepEqual(s.distcc?.hosts.map((h) => h.spec), ["build1:3632/8"]);
  assert.deepEqual(s.ccacheRemote, { url: "redis://cache:6379", shown: "redis://cache:6379", from: "kiln.toml" });
  const withCreds = EXAMPLE + '\n[build]\nccache_remote = "redis://u:secret@cache:6379"\n';
  assert.throws(() => parseProject(withCreds, "/p/kiln.toml"), (e: unknown) => e instanceof ProjectError && /credentials/.test(e.message) && !/secret/.test(e.message));
  const env = buildSettings(p, { KILN_CCACHE_REMOTE: "redis://kiln:s3cr3t@10.1.1.1:6380" });
  assert.equal(env.ccacheRemote?.from, "KILN_CCACHE_REMOTE");
  assert.equal(env.ccacheRemote?.shown, "redis://kiln:***@10.1.1.1:6380");
  assert.equal(ccacheRemoteStorage(env.ccacheRemote!), "redis://kiln:s3cr3t@10.1.1.1:6380|connect-timeout=500|operation-timeout=5000");
  assert.equal(redactText("ccache: cannot reach redis://kiln:s3cr3t@10.1.1.1:6380", env.ccacheRemote), "ccache: cannot reach redis://kiln:***@10.1.1.1:6380");
  assert.equal(redactUrl("http://token@cache.example/ccache"), "http://***@cache.example/ccache");
  assert.equal(redactUrl("http://cache.example/ccache"), "http://cache.example/ccache");
  assert.throws(() => resolveCcacheRemote(undefined, { KILN_CCACHE_REMOTE: "ftp://u:pw@x" }, { file: "/p/kiln.toml" }), (e: unknown) => e instanceof ProjectError && /ftp:\/\/u:\*\*\*@x/.test(e.message) && !/pw/.test(e.message));
  assert.equal(resolveCcacheRemote("redis://a:1", { KILN_CCACHE_REMOTE: "" }, { file: "/p/kiln.toml" }), undefined);
});

const FLAGS = { toolchain: "gcc", src: "/w/src", build: "/w/build", timestamp: 1_800_000_000, makeVars: {} };

test("CC: ccache runs distcc as its prefix, or distcc wraps the compiler; cross arches keep their prefix; HOSTCC stays local", () => {
  const both = buildFlags({ ...FLAGS, arch: ARCHES.x86_64!, ccache: { bin: "/usr/bin/ccache" }, distcc: { bin: "/usr/bin/distcc", ccPath: "/usr/bin/gcc" } });
  assert.ok(both.makeVars.includes("CC=/usr/bin/ccache gcc"));
  assert.deepEqual(distccEnv({ hosts: "a:1/2", dir: "/d", ccache: true }), { DISTCC_HOSTS: "a:1/2", DISTCC_DIR: "/d", DISTCC_NO_CROSS_REWRITE: "1", CCACHE_PREFIX: "distcc" });
  const only = buildFlags({ ...FLAGS, arch: ARCHES.x86_64!, distcc: { bin: "/usr/bin/distcc", ccPath: "/usr/bin/gcc" } });
  assert.ok(only.makeVars.includes("CC=/usr/bin/distcc /usr/bin/gcc"), "distcc gets the compiler's path, which it does not rewrite");
  assert.deepEqual(distccEnv({ hosts: "a:1/2", dir: "/d", log: "/l", ccache: false }), { DISTCC_HOSTS: "a:1/2", DISTCC_DIR: "/d", DISTCC_NO_CROSS_REWRITE: "1", DISTCC_LOG: "/l" });
  // the flow resolves the prefixed compiler (buildFlags' cc) to its path for distcc
  const arch = process.arch === "arm64" ? ARCHES.riscv64! : ARCHES.aarch64!;
  const crossCc = buildFlags({ ...FLAGS, arch }).cc;
  assert.equal(crossCc, `${arch.crossPrefix}gcc`);
  const cross = buildFlags({ ...FLAGS, arch, distcc: { bin: "/usr/bin/distcc", ccPath: `/usr/bin/${crossCc}` } });
  assert.ok(cross.makeVars.includes(`CC=/usr/bin/distcc /usr/bin/${arch.crossPrefix}gcc`), cross.makeVars.join(" "));
  assert.ok(cross.makeVars.includes(`CROSS_COMPILE=${arch.crossPrefix}`));
  for (const f of [both, only, cross]) assert.ok(!f.makeVars.some((v) => v.startsWith("HOSTCC=")), "HOSTCC is never wrapped");
  assert.equal(ccacheEnv("/c", "/s", { src: "/w/src", build: "/w/build" }).CCACHE_COMPILERCHECK, "content");
});

test("ccache's base_dir is the folder holding src and build, not /: the compiler's own headers stay absolute", () => {
  const w = "/home/u/.cache/kiln/work/microvm-1a2b/base-x86_64";
  assert.equal(ccacheBaseDir(`${w}/src`, `${w}/build`), w);
  assert.equal(ccacheEnv("/c", "/s", { src: `${w}/src`, build: `${w}/build` }).CCACHE_BASEDIR, w);
  // a build folder elsewhere (test/support/objects.ts): their nearest common folder
  assert.equal(ccacheBaseDir("/var/tmp/c/kiln-home/work/p/base-x86_64/src", "/var/tmp/c/distcc-objects/0123"), "/var/tmp/c");
  // a folder name that only starts with ".." is not a parent
  assert.equal(ccacheBaseDir("/a/..b/src", "/a/..b/build"), "/a/..b");
  assert.equal(ccacheBaseDir("/src", "/build"), "/");
  assert.equal(ccacheBaseDir("/w/src", "/w/src/out"), "/w/src");
});

test("prefix maps: the source folder by its absolute path and by the relative path ccache's base_dir gives it", () => {
  assert.equal(prefixMapFlags("/w/src", "/w/build"), "-ffile-prefix-map=/w/src/= -ffile-prefix-map=/w/build/= -ffile-prefix-map=../src/=");
  assert.equal(prefixMapFlags("/c/home/work/p/cell/src", "/c/objects/k"), "-ffile-prefix-map=/c/home/work/p/cell/src/= -ffile-prefix-map=/c/objects/k/= -ffile-prefix-map=../../home/work/p/cell/src/=");
  // a build folder inside the source tree: ccache hands gcc "../init/main.c"
  assert.equal(prefixMapFlags("/w/src", "/w/src/out"), "-ffile-prefix-map=/w/src/= -ffile-prefix-map=/w/src/out/= -ffile-prefix-map=../=");
  // a source folder inside the build folder needs none: ccache's "src/x.c" is what the build map gives
  assert.equal(prefixMapFlags("/w/b/src", "/w/b"), "-ffile-prefix-map=/w/b/src/= -ffile-prefix-map=/w/b/=");
  const f = buildFlags({ ...FLAGS, arch: ARCHES.x86_64! });
  assert.ok(f.identityVars.includes("KCFLAGS=-ffile-prefix-map=/w/src/= -ffile-prefix-map=/w/build/= -ffile-prefix-map=../src/="), f.identityVars.join(" "));
  assert.ok(f.identityVars.includes("KAFLAGS=-ffile-prefix-map=/w/src/= -ffile-prefix-map=/w/build/= -ffile-prefix-map=../src/="), f.identityVars.join(" "));
});

test("distcc is not an identity input: the identity make flags and the digest are the same with and without it", () => {
  for (const arch of [ARCHES.x86_64!, ARCHES.aarch64!]) {
    const plain = buildFlags({ ...FLAGS, arch });
    const viaCcache = buildFlags({ ...FLAGS, arch, ccache: { bin: "ccache" } });
    const viaDistcc = buildFlags({ ...FLAGS, arch, distcc: { bin: "distcc", ccPath: "/usr/bin/gcc" } });
    const viaBoth = buildFlags({ ...FLAGS, arch, ccache: { bin: "ccache" }, distcc: { bin: "distcc", ccPath: "/usr/bin/gcc" } });
    assert.notDeepEqual(viaDistcc.makeVars, plain.makeVars, "distcc does reach make");
    const digest = (f: typeof plain) => computeDigest({ config: "CONFIG_X=y\n", toolchain: "gcc 12.2.0 sha", makeFlags: f.identityVars, sourceTree: "t".repeat(40) });
    for (const f of [viaCcache, viaDistcc, viaBoth]) {
      assert.deepEqual(f.identityVars, plain.identityVars);
      assert.equal(digest(f), digest(plain));
    }
  }
});

test("-j is every remote slot plus the local cores", () => {
  assert.equal(distccJobs([host("a/8"), host("b:4000/4")], 2), 14);
  assert.equal(distccJobs([], 2), 2);
  assert.equal(distccJobs([host("a")], 0), 3);
});

test("distcc client logs: remote compiles per host, local compiles and fallbacks (real distcc 3.4 logs)", () => {
  const ok = parseDistccLog(readFileSync(join(FIX, "remote-ok.log"), "utf8"));
  assert.deepEqual(ok, { perHost: { "127.0.0.1:36321/2": 1 }, remote: 1, local: 0, fallbacks: 0 });
  const dead = parseDistccLog(readFileSync(join(FIX, "dead-host-fallback.log"), "utf8"));
  assert.deepEqual(dead, { perHost: {}, remote: 0, local: 1, fallbacks: 1 });
  const both = parseDistccLog(readFileSync(join(FIX, "remote-ok.log"), "utf8") + "\n" + readFileSync(join(FIX, "dead-host-fallback.log"), "utf8"));
  assert.equal(both.remote + both.local, 2);
  const rec = distccRecord("kiln.toml", ["127.0.0.1:36321/2", "127.0.0.1:36322/2"], [{ host: "127.0.0.1:1/2", reason: "distcc exit 103" }], both);
  assert.deepEqual(rec.hosts, [{ host: "127.0.0.1:36321/2", compiles: 1 }, { host: "127.0.0.1:36322/2", compiles: 0 }]);
  assert.deepEqual([rec.remote, rec.local, rec.fallbacks, rec.dropped.length], [1, 1, 1, 1]);
});

test("ccache 4.7 stats logs: a cold cache misses both, a fresh cache dir hits the remote (real ccache 4.7.5 logs)", () => {
  assert.deepEqual(parseCcacheStorageLog(readFileSync(join(FIX, "ccache-stats-cold.log"), "utf8")), { local_hits: 0, remote_hits: 0, misses: 1, remote_errors: 0 });
  assert.deepEqual(parseCcacheStorageLog(readFileSync(join(FIX, "ccache-stats-remote-hit.log"), "utf8")), { local_hits: 0, remote_hits: 1, misses: 0, remote_errors: 0 });
  assert.deepEqual(parseCcacheStorageLog("# a.c\ndirect_cache_hit\nlocal_storage_hit\n# b.c\ncache_miss\nremote_storage_error\n"), { local_hits: 1, remote_hits: 0, misses: 1, remote_errors: 1 });
});

test("compiler version lines of a -v compile: the driver, cc1 and as; temp paths left out", () => {
  const lines = compilerVersionLines(readFileSync(join(FIX, "gcc-v-stderr.txt"), "utf8"));
  assert.ok(lines.some((l) => /^gcc version 12\.\d+\.\d+ /.test(l)), lines.join("\n"));
  assert.ok(lines.some((l) => /^GNU assembler version/.test(l)));
  assert.ok(!lines.some((l) => /\/tmp\/|COLLECT_/.test(l)));
  const fake = compilerVersionLines("gcc version 99.1.0 (fake)\n" + readFileSync(join(FIX, "gcc-v-stderr.txt"), "utf8"));
  assert.notDeepEqual(fake, lines);
});

test("GCC plugins are spotted in a config", () => {
  assert.equal(enablesGccPlugins("CONFIG_A=y\nCONFIG_GCC_PLUGINS=y\n"), true);
  assert.equal(enablesGccPlugins("CONFIG_HAVE_GCC_PLUGINS=y\n# CONFIG_GCC_PLUGINS is not set\n"), false);
});

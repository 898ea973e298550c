import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { parseProject } from "../../src/project/load.js";
import { ProjectError } from "../../src/errors.js";
import { lockDisagreements, pinDeclHash, LockSchema } from "../../src/project/lock.js";
import { parseAptShow } from "../../src/pipeline/prepare_source.js";
import { parseCcacheStatsLog, timestampText, buildFlags } from "../../src/pipeline/build_flags.js";
import { locateKey } from "../../src/project/toml_locate.js";
import { ARCHES } from "../../src/tables/arches.js";

const REPO = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const EXAMPLE = readFileSync(join(REPO, "examples/microvm/kiln.toml"), "utf8");

function err(text: string): ProjectError {
  try {
    parseProject(text, "/p/kiln.toml");
  } catch (e) {
    assert.ok(e instanceof ProjectError, String(e));
    return e;
  }
  assert.fail("expected a ProjectError");
}

test("the bundled example validates", () => {
  const p = parseProject(EXAMPLE, "/p/kiln.toml");
  assert.equal(p.decl.name, "microvm");
  assert.deepEqual(p.pins.linux, { kind: "debian", debian: "linux-source-6.12" });
  assert.equal(p.targets.base!.config.method, "fragments");
  assert.deepEqual(p.targets.base!.config.layers, ["config/common", "config/{arch}"]);
});

test("errors name the file, the line and the key, and say what is expected", () => {
  const bad = EXAMPLE.replace('arches = ["x86_64", "aarch64", "riscv64"]', 'arches = ["x86_64", "sparc"]');
  assert.notEqual(bad, EXAMPLE);
  const e = err(bad);
  const line = bad.split("\n").findIndex((l) => l.startsWith("arches")) + 1;
  assert.match(e.message, new RegExp(`/p/kiln.toml:${line}: target\\.base\\.arches\\.1: expected one of x86_64, aarch64, riscv64`));
  const e2 = err(EXAMPLE.replace('toolchain = "gcc"', 'toolchain = "gcc"\ncolour = "blue"'));
  assert.match(e2.message, /kiln.toml:\d+: target\.base: unknown key\(s\) "colour"/);
  const e3 = err(EXAMPLE.replace('method = "fragments"', 'method = "magic"'));
  assert.match(e3.message, /target\.base\.config\.method/);
  const e4 = err(EXAMPLE.replace('debian = "linux-source-6.12"', 'debian = "linux-6.12"'));
  assert.match(e4.message, /source\.linux\.debian: expected a Debian package name like linux-source-6.12/);
  const e5 = err(EXAMPLE.replace('[target.base]\n', '[target.base]\nmake_vars = { ARCH = "arm" }\n'));
  assert.match(e5.message, /ARCH is set by kiln/);
  const e6 = err(EXAMPLE.replace('source = "linux"', 'source = "mainline"'));
  assert.match(e6.message, /target "base" uses source "mainline", which is not declared/);
  assert.equal(e6.where.line, EXAMPLE.split("\n").findIndex((l) => l.startsWith('source = "linux"')) + 1);
  const e7 = err(EXAMPLE.replace('debian = "linux-source-6.12"', 'debian = "linux-source-6.12"\nurl = "https://x/y.tar.xz"'));
  assert.match(e7.message, /more than one pin kind/);
  const e8 = err("name = \"x\"\n[source.linux\n");
  assert.match(e8.message, /invalid TOML/);
  assert.equal(e8.where.line, 2);
  const e9 = err(EXAMPLE.replace('debian = "linux-source-6.12"', 'url = "https://example.org/linux.tar.xz"\nsha256 = "abc"'));
  assert.match(e9.message, /sha256: expected a sha256: 64 lower-case hex characters/);
});

test("TOML key location follows tables, dotted keys and inline tables", () => {
  const t = 'a = 1\n[target.base]\nx = 2\n[target.base.config]\nmethod = "m"\nlayers = ["a", "b"]\n';
  assert.equal(locateKey(t, ["target", "base", "x"]), 3);
  assert.equal(locateKey(t, ["target", "base", "config", "method"]), 5);
  assert.equal(locateKey(t, ["target", "base", "config", "layers", 1]), 6);
  assert.equal(locateKey(t, ["target", "base", "nothere"]), 2);
});

test("lock: a changed pin declaration or a missing entry is a disagreement", () => {
  const p = parseProject(EXAMPLE, "/p/kiln.toml");
  const entry = { declared: pinDeclHash(p.pins.linux!), kind: "debian" as const, tree: "t", timestamp: 1, kernel_version: "6.12.117", version: "6.12.117-1~deb12u1" };
  assert.deepEqual(lockDisagreements(p.pins, { version: 1, source: { linux: entry } }), []);
  assert.match(lockDisagreements(p.pins, { version: 1, source: {} })[0]!, /not in kiln.lock/);
  const changed = parseProject(EXAMPLE.replace('debian = "linux-source-6.12"', 'debian = "linux-source-6.12"\nversion = "6.12.1-1"'), "/p/kiln.toml");
  assert.match(lockDisagreements(changed.pins, { version: 1, source: { linux: entry } })[0]!, /changed in kiln.toml/);
  assert.match(lockDisagreements(p.pins, undefined)[0]!, /there is no kiln.lock/);
  assert.equal(LockSchema.safeParse({ version: 2 }).success, false);
});

test("apt-cache show output (real, from the archive) gives version, sha256 and file", () => {
  const recs = parseAptShow(readFileSync(join(REPO, "test/fixtures/apt/linux-source-6.12.show.txt"), "utf8"));
  assert.equal(recs.length, 1);
  assert.match(recs[0]!.version, /^6\.12\.\d+/);
  assert.match(recs[0]!.sha256, /^[0-9a-f]{64}$/);
  assert.match(recs[0]!.filename, /^pool\/.*\/linux-source-6\.12_.*_all\.deb$/);
});

test("reproducible make flags: fixed user/host/version, date text, prefix maps on both folders", () => {
  assert.equal(timestampText(1763123456), "Fri Nov 14 12:30:56 UTC 2025");
  const f = buildFlags({ arch: ARCHES.aarch64!, toolchain: "gcc", src: "/w/src", build: "/w/build", timestamp: 0, makeVars: { W: "1", KCFLAGS: "-O2" }, ccache: { bin: "/usr/bin/ccache" } });
  assert.ok(f.identityVars.includes("ARCH=arm64"));
  assert.ok(f.identityVars.includes("CROSS_COMPILE=aarch64-linux-gnu-"));
  assert.ok(f.identityVars.includes("KBUILD_BUILD_USER=kiln") && f.identityVars.includes("KBUILD_BUILD_VERSION=1"));
  assert.ok(f.identityVars.includes("KCFLAGS=-ffile-prefix-map=/w/src/= -ffile-prefix-map=/w/build/= -ffile-prefix-map=../src/= -O2"));
  assert.ok(!f.identityVars.some((v) => v.startsWith("CC=")), "ccache stays out of the identity");
  assert.ok(f.makeVars.includes("CC=/usr/bin/ccache aarch64-linux-gnu-gcc"));
  const clang = buildFlags({ arch: ARCHES.riscv64!, toolchain: "clang", src: "/s", build: "/b", timestamp: 0, makeVars: {} });
  assert.ok(clang.identityVars.includes("LLVM=1"));
  assert.ok(!clang.identityVars.some((v) => v.startsWith("CROSS_COMPILE")));
});

test("ccache stats log: hits and misses of one build", () => {
  const log = "# /w/build/init/main.c\ncache_miss\n# /w/build/init/version.c\ndirect_cache_hit\n# x\npreprocessed_cache_hit\n# y\ncalled_for_link\n";
  assert.deepEqual(parseCcacheStatsLog(log), { hits: 2, misses: 1, uncacheable: 1 });
});

/**
 * kiln build on the real Debian linux-source-6.12, with real make, kconfig, patch and ccache.
 * The tests share one KILN_HOME (test/support/kiln.ts), so the source import happens once; the
 * example's x86_64 kernel comes from the test store (test/support/store.ts), built once per suite
 * run. Each test stands alone: run any one of them with --test-name-pattern. The cold build that
 * is killed mid-compile lives in test/full/build_cold.test.ts (npm run test:full).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync, readdirSync, rmSync, mkdirSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createReadStream, statSync } from "node:fs";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { kiln, exampleCopy, removeProject, TEST_HOME, RUN_ID, cellManifest } from "../support/kiln.js";
import { debianTarball } from "../support/trees.js";
import { needSource } from "../support/needs.js";
import { exampleKernel } from "../support/store.js";
import { calibrateCommentPatch } from "../support/patches.js";
import { projectId } from "../../src/store/paths.js";
import type { Manifest } from "../../src/core/manifest.js";

const TARBALL = debianTarball("6.12");
const skip = needSource("6.12");
const projects: string[] = [];
const RUN = RUN_ID;

function project(tag: string): string {
  const d = exampleCopy(tag);
  projects.push(d);
  return d;
}

const manifestOf = cellManifest;

function buildLog(dir: string): string {
  return readFileSync(join(TEST_HOME, "work", projectId("microvm", dir), "base-x86_64", "state", "build.log"), "utf8");
}

after(() => {
  for (const p of projects) {
    rmSync(join(TEST_HOME, "work", projectId("microvm", p)), { recursive: true, force: true });
    removeProject(p);
  }
});

// A loopback HTTP server that serves one file and counts requests.
let server: Server | undefined;
let served = 0;
let base = "";
before(async () => {
  if (skip) return;
  server = createServer((req, res) => {
    served++;
    if (req.url !== "/linux.tar.xz") {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-length": String(statSync(TARBALL!).size) });
    createReadStream(TARBALL!).pipe(res);
  });
  await new Promise<void>((r) => server!.listen(0, "127.0.0.1", () => r()));
  const addr = server.address();
  base = `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}`;
});
after(() => server?.close());

function urlPin(dir: string, sha: string): void {
  const f = join(dir, "kiln.toml");
  writeFileSync(f, readFileSync(f, "utf8").replace('debian = "linux-source-6.12"', `url = "${base}/linux.tar.xz"\nsha256 = "${sha}"`));
}

test("a sha256 mismatch is refused: the download is deleted and nothing is extracted", { skip }, async () => {
  const home = join(TEST_HOME, "..", "kiln-home-mismatch");
  rmSync(home, { recursive: true, force: true });
  const dir = project("mismatch");
  const wrong = "0".repeat(64);
  urlPin(dir, wrong);
  const r = await kiln(["-C", dir, "build"], { home });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`sha256 mismatch for ${base}/linux.tar.xz: expected ${wrong}, got [0-9a-f]{64}`));
  assert.match(r.stderr, /nothing was extracted/);
  const dl = join(home, "downloads", "sha256");
  assert.deepEqual(existsSync(dl) ? readdirSync(dl) : [], [], "no download left behind");
  const imports = join(home, "git", "imports");
  assert.deepEqual(existsSync(imports) ? readdirSync(imports) : [], [], "nothing imported");
  assert.ok(!existsSync(join(home, "work")), "no tree was laid out");
  rmSync(home, { recursive: true, force: true });
});

test("the example's x86_64 build lands in the store with the §2 layout and a manifest of what was built", { skip, timeout: 40 * 60_000 }, async () => {
  // The test store builds it once per suite run; the entry's manifest is the one its compile wrote.
  const k = exampleKernel("x86_64");
  const m = k.built;
  assert.equal(m.status, "ok");
  assert.equal(m.reuse?.status, "built");
  const release = m.uts_release!;
  assert.equal(release, k.release);
  assert.match(release, /^6\.12\.\d+-microvm-[0-9a-f]{12}$/);
  assert.equal(m.identity!.digest, release.slice(-12));
  const entry = join(TEST_HOME, "store", release);
  for (const f of [`boot/vmlinuz-${release}`, `boot/System.map-${release}`, `boot/config-${release}`, "manifest.json"]) assert.ok(existsSync(join(entry, f)), f);
  assert.match(readFileSync(join(entry, `boot/config-${release}`), "utf8"), new RegExp(`^CONFIG_LOCALVERSION="-microvm-${m.identity!.digest}"$`, "m"));
  // provenance comes from the kernel's own generated headers
  assert.equal(m.provenance!.linux_compile_by, "kiln");
  assert.equal(m.provenance!.linux_compile_host, "kiln");
  assert.equal(m.provenance!.uts_machine, "x86_64");
  assert.match(m.provenance!.linux_compiler!, /gcc/);
  assert.match(m.provenance!.uts_version!, /^#1 /);
  assert.equal(m.inputs.series.length, 1);
  assert.equal(m.inputs.source.kind, "debian");
  assert.ok(m.compile!.steps > 500);
  assert.equal(m.compile!.errors, 0);
  assert.ok(m.steps.compile! > 0 && m.steps.configure! > 0);
  assert.match(m.reproduce, /kiln build base --arch x86_64 --locked/);
  // the lock records what the pin resolved to
  const lock = readFileSync(join(k.project, "kiln.lock"), "utf8");
  assert.match(lock, /version = "6\.12\.\d+/);
  assert.match(lock, /tarball_sha256 = "[0-9a-f]{64}"/);
  assert.match(lock, /tree = "[0-9a-f]{40}"/);
  // the image really is a bzImage that names the release
  const img = readFileSync(join(entry, `boot/vmlinuz-${release}`));
  assert.equal(img.subarray(0x202, 0x206).toString("latin1"), "HdrS");
  // the setup header's kernel_version string (offset at 0x20e, from 0x200) names the release
  const verAt = 0x200 + img.readUInt16LE(0x20e);
  const ver = img.subarray(verAt, img.indexOf(0, verAt)).toString("latin1");
  assert.ok(ver.startsWith(`${release} (kiln@kiln) #1`), ver);
});

test("a second build with the same inputs is reused, with the same release", { skip, timeout: 40 * 60_000 }, async () => {
  const k = exampleKernel("x86_64");
  const release = k.release;
  const r = await kiln(["-C", k.project, "build", "--arch", "x86_64", "--locked"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`reused +${release.replace(/\./g, "\\.")}`));
  const m = manifestOf(k.project);
  assert.equal(m.uts_release, release);
  assert.equal(m.reuse?.status, "reused");
  assert.equal(m.steps.compile, undefined, "no compile step ran");
  console.log(`reuse took ${r.ms} ms`);
});

test("the same tarball by URL in a second project downloads and unpacks nothing", { skip, timeout: 10 * 60_000 }, async () => {
  const sha = execFileSync("sha256sum", [TARBALL!]).toString().split(" ")[0]!;
  // the Debian pin's import first (a no-op when an earlier test made it): same bytes, one tarball
  const first = await kiln(["-C", project("by-debian"), "check", "patches"]);
  assert.equal(first.code, 0, first.stderr);
  const dir = project("by-url");
  urlPin(dir, sha);
  served = 0;
  const r = await kiln(["-C", dir, "check", "patches"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(served, 0, "no request reached the server");
  assert.doesNotMatch(r.stdout, /unpack/);
});

test("a patch that needs an offset is refused, naming the patch, the file and the hunk", { skip, timeout: 10 * 60_000 }, async () => {
  const dir = project("offset");
  const p = join(dir, "patches", "0001-init-say-which-kernel-this-is.patch");
  writeFileSync(p, readFileSync(p, "utf8").replace("@@ -1352,6 +1352,7 @@", "@@ -1340,6 +1340,7 @@"));
  const r = await kiln(["-C", dir, "check", "patches"]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /does not apply clean/);
  assert.match(r.stderr, /0001-init-say-which-kernel-this-is\.patch: init\/main\.c: hunk #1 \(@@ -1340,6 \+1340,7 @@\) applies only at an offset of 12 lines/);
});

test("a dropped fragment value is reported with the fragment file and line", { skip, timeout: 15 * 60_000 }, async () => {
  const dir = project("dropped");
  writeFileSync(join(dir, "config", "common", "90-debug.config"), "# wants bounds checking\nCONFIG_UBSAN_BOUNDS=y\n");
  const r = await kiln(["-C", dir, "check", "configured", "--json"]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /config\/common\/90-debug\.config:2: mismatch CONFIG_UBSAN_BOUNDS requested y, got n \[layer config\/common\]: CONFIG_UBSAN_BOUNDS=n because it depends on UBSAN \(=n\)/);
  const [cell] = JSON.parse(r.stdout) as { config: { dropped: { symbol: string; file: string; line: number }[] } }[];
  assert.deepEqual(cell!.config.dropped.map((d) => [d.symbol, d.file, d.line]), [["UBSAN_BOUNDS", "config/common/90-debug.config", 2]]);
  // the gate records its own run and leaves the manifest of the last build alone
  const state = join(TEST_HOME, "work", projectId("microvm", dir), "base-x86_64", "state");
  assert.ok(!existsSync(join(state, "manifest.json")), "check configured writes no build manifest");
  const rec = JSON.parse(readFileSync(join(state, "configured.json"), "utf8")) as Manifest;
  assert.equal(rec.artifacts, undefined);
  assert.equal(rec.flow!.find((s) => s.step === "compile")!.status, "skipped");
});

interface ConcurrentPair {
  a: string;
  b: string;
  ra: Awaited<ReturnType<typeof kiln>>;
  rb: Awaited<ReturnType<typeof kiln>>;
}
let pair: Promise<ConcurrentPair> | undefined;
/** Two folders building one new identity at once (a label unique to this run); done once per file. */
function concurrentPair(): Promise<ConcurrentPair> {
  pair ??= (async () => {
    // the store's kernel first: its compile fills the compiler cache these builds are measured against
    exampleKernel("x86_64");
    const a = project("conc-a");
    const b = project("conc-b");
    const label = `concurrent-${RUN}`;
    const [ra, rb] = await Promise.all([kiln(["-C", a, "build", "--arch", "x86_64", "--label", label]), kiln(["-C", b, "build", "--arch", "x86_64", "--label", label])]);
    return { a, b, ra, rb };
  })();
  return pair;
}

test("two concurrent builds of one identity end with one compile", { skip, timeout: 40 * 60_000 }, async () => {
  const { a, b, ra, rb } = await concurrentPair();
  assert.equal(ra.code, 0, ra.stderr);
  assert.equal(rb.code, 0, rb.stderr);
  const ma = manifestOf(a);
  const mb = manifestOf(b);
  assert.equal(ma.uts_release, mb.uts_release, "two folders, one identity");
  const statuses = [ma.reuse!.status, mb.reuse!.status].sort();
  assert.deepEqual(statuses, ["built", "waited-reused"]);
  const waiter = ma.reuse!.status === "built" ? rb : ra;
  assert.match(waiter.stdout, /waiting to reuse it/);
  const built = ma.reuse!.status === "built" ? ma : mb;
  // a second folder hits ccache: the first build filled it
  assert.ok(built.compile!.ccache!.hits > built.compile!.ccache!.misses, JSON.stringify(built.compile!.ccache));
});

test("after a one-file patch is added, the rebuild compiles only a handful of objects", { skip, timeout: 40 * 60_000 }, async () => {
  // a folder whose build folder is warm: the one of the concurrent pair that compiled
  const { a, b, ra, rb } = await concurrentPair();
  assert.equal(ra.code, 0, ra.stderr);
  assert.equal(rb.code, 0, rb.stderr);
  const warmDir = manifestOf(a).reuse!.status === "built" ? a : b;
  const release = manifestOf(warmDir).uts_release!;
  writeFileSync(
    join(warmDir, "patches", "0002-calibrate-comment.patch"),
    calibrateCommentPatch("kiln test: a one-file change"),
  );
  const head = readFileSync(join(TEST_HOME, "work", projectId("microvm", warmDir), "base-x86_64", "src", "init", "calibrate.c"), "utf8").split("\n").slice(0, 4);
  assert.equal(head[0], "// SPDX-License-Identifier: GPL-2.0", "the patch context matches this tree");
  const r = await kiln(["-C", warmDir, "-v", "build", "--arch", "x86_64", "--no-reuse"]);
  assert.equal(r.code, 0, r.stderr);
  const m = manifestOf(warmDir);
  assert.equal(m.reuse!.status, "built");
  assert.notEqual(m.uts_release, release, "a new source tree is a new identity");
  // the compile's make built exactly the identity's release
  const made = readFileSync(join(TEST_HOME, "work", projectId("microvm", warmDir), "base-x86_64", "build", "include", "config", "kernel.release"), "utf8").trim();
  assert.equal(made, m.uts_release);
  const cc = buildLog(warmDir).split("\n").filter((l) => /^\s+CC\s/.test(l));
  console.log(`incremental rebuild: ${cc.length} CC lines, ${m.compile!.steps} steps: ${cc.map((l) => l.trim().split(/\s+/)[1]).join(" ")}`);
  assert.ok(cc.some((l) => /init\/calibrate\.o/.test(l)), "the patched file was compiled");
  assert.ok(cc.length <= 12, `only a handful of objects compiled, got ${cc.length}`);
});

test("--locked refuses a project whose lock is missing or stale", { skip, timeout: 5 * 60_000 }, async () => {
  const dir = project("locked");
  const r = await kiln(["-C", dir, "build", "--locked"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--locked: kiln.toml and kiln.lock disagree:\n\s+there is no kiln.lock/);
});

test("a locked Debian version gone from the archive gives the command that re-pins", { skip, timeout: 5 * 60_000 }, async () => {
  const home = join(TEST_HOME, "..", "kiln-home-gone");
  rmSync(home, { recursive: true, force: true });
  const dir = project("gone");
  // What `kiln lock` wrote a while ago, for a version the archive has since dropped.
  const { pinDeclHash } = await import("../../src/project/lock.js");
  const declared = pinDeclHash({ kind: "debian", debian: "linux-source-6.12" });
  writeFileSync(
    join(dir, "kiln.lock"),
    `version = 1\n[source.linux]\ndeclared = "${declared}"\nkind = "debian"\npackage = "linux-source-6.12"\nversion = "6.12.1-1"\ntarball_sha256 = "${"1".repeat(64)}"\ntree = "${"2".repeat(40)}"\ntimestamp = 1\nkernel_version = "6.12.1"\n`,
  );
  const r = await kiln(["-C", dir, "build", "--locked"], { home });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /linux-source-6\.12 version 6\.12\.1-1 is no longer in the Debian archive/);
  assert.match(r.stderr, /kiln lock --update linux/);
  rmSync(home, { recursive: true, force: true });
});

/**
 * Real boots under TCG of the example's minimal kernels on x86_64, aarch64 and riscv64,
 * and the failures that must explain themselves. Kernels come from
 * the test store (test/support/store.ts: built once per suite run, reused after).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { GateFailure } from "../../src/errors.js";
import { writeCpio } from "../../src/boot/cpio.js";
import { defaultInitToolchain } from "../../src/boot/init.js";
import { ARCHES } from "../../src/tables/arches.js";
import { assertSmoke, checkBoots, runSmoke, smokeManifestFields, writeSmokeInitramfs } from "../../src/boot/smoke.js";
import { BOOT_TEST_CACHE, bootKernel, bootTestDir } from "../support/boot_kernels.js";
import { haveCommand, needs } from "../support/needs.js";

const BUILD_TIMEOUT = 60 * 60 * 1000;

for (const arch of ["x86_64", "aarch64", "riscv64"]) {
  test(`${arch}: the example kernel boots under TCG and the marker names its release`, { timeout: BUILD_TIMEOUT }, async () => {
    const k = bootKernel(arch);
    const dir = bootTestDir(`smoke-${arch}`);
    const rd = await writeSmokeInitramfs({ tree: k.tree, arch, cacheDir: BOOT_TEST_CACHE, out: join(dir, "initramfs.cpio") });
    const notes: string[] = [];
    const r = await runSmoke({
      arch,
      kernel: k.image,
      initramfs: rd.path,
      expectedRelease: k.release,
      consoleLog: join(dir, "console.log"),
      accel: "tcg",
      notify: (m) => notes.push(m),
    });
    assert.equal(r.ok, true, r.diagnosis);
    assert.equal(r.release, k.release);
    assert.equal(r.marker?.machine, arch);
    assert.equal(r.marker?.cpus, 1);
    assert.equal(r.accel, "tcg");
    assert.equal(r.stage, "marker");
    assert.ok(r.timings.bannerSec! > 0 && r.timings.bannerSec! <= r.timings.initSec!);
    assert.ok(r.timings.initSec! <= r.timings.markerSec! && r.timings.markerSec! <= r.timings.totalSec);
    assert.match(readFileSync(r.consoleLog, "utf8"), /KILN-MARKER v1 release=/);
    const f = smokeManifestFields(r);
    assert.equal(f.boot_ok, true);
    assert.equal(f.boot_release, k.release);
    assert.equal(typeof f.boot_marker_sec, "number");
  });
}

test("a kernel with another identity than expected fails the identity check (exit 2)", { timeout: BUILD_TIMEOUT }, async () => {
  const k = bootKernel("x86_64");
  const dir = bootTestDir("identity");
  const rd = await writeSmokeInitramfs({ tree: k.tree, arch: "x86_64", cacheDir: BOOT_TEST_CACHE, out: join(dir, "initramfs.cpio") });
  const expected = k.release.replace(/-[0-9a-f]{12}$/, "-0123456789ab");
  assert.notEqual(expected, k.release);
  const r = await runSmoke({ arch: "x86_64", kernel: k.image, initramfs: rd.path, expectedRelease: expected, consoleLog: join(dir, "console.log"), accel: "tcg" });
  assert.equal(r.ok, false);
  assert.equal(r.release, k.release);
  assert.match(r.reason ?? "", /identity mismatch/);
  assert.ok(r.reason?.includes(expected) && r.reason.includes(k.release));
  assert.throws(
    () => assertSmoke(r),
    (e: unknown) => e instanceof GateFailure && e.exitCode === 2 && /identity mismatch/.test(e.message),
  );
});

test("a guest whose init is missing shows the kernel panic", { timeout: BUILD_TIMEOUT }, async () => {
  const k = bootKernel("x86_64");
  const dir = bootTestDir("noinit");
  const rd = join(dir, "noinit.cpio");
  const { writeFileSync } = await import("node:fs");
  writeFileSync(rd, writeCpio([{ type: "char", path: "dev/console", mode: 0o600, major: 5, minor: 1 }]));
  const r = await runSmoke({ arch: "x86_64", kernel: k.image, initramfs: rd, expectedRelease: k.release, consoleLog: join(dir, "console.log"), accel: "tcg" });
  assert.equal(r.ok, false);
  assert.equal(r.stage, "banner");
  assert.ok(r.panic.some((l) => /Kernel panic - not syncing/.test(l)), r.diagnosis);
  assert.match(r.reason ?? "", /^kernel panic/);
  assert.match(r.diagnosis ?? "", /last \d+ console lines:/);
  // panic=-1 with -no-reboot: QEMU exits at once instead of hanging until the time limit.
  assert.ok(r.timings.totalSec < 30, `took ${r.timings.totalSec} s`);
});

test("the boot gate boots at 512 MiB and 2 GiB", { timeout: BUILD_TIMEOUT }, async () => {
  const k = bootKernel("x86_64");
  const dir = bootTestDir("gate");
  const rd = await writeSmokeInitramfs({ tree: k.tree, arch: "x86_64", cacheDir: BOOT_TEST_CACHE, out: join(dir, "initramfs.cpio") });
  const results = await checkBoots({ arch: "x86_64", kernel: k.image, initramfs: rd.path, expectedRelease: k.release, consoleLogDir: dir, accel: "tcg" });
  assert.deepEqual(
    results.map((r) => r.memoryMiB),
    [512, 2048],
  );
  assert.ok(results.every((r) => r.ok));
  assert.ok(results[1]!.marker!.memKiB > 4 * results[0]!.marker!.memKiB - 100_000);
  await assert.rejects(
    checkBoots({ arch: "x86_64", kernel: k.image, initramfs: rd.path, expectedRelease: "wrong", consoleLogDir: dir, accel: "tcg", memoriesMiB: [512] }),
    (e: unknown) => e instanceof GateFailure && /512 MiB: identity mismatch/.test(e.message),
  );
});

test("with accel auto, KVM is used only when it really runs a guest here (else TCG, said once)", { timeout: BUILD_TIMEOUT }, async () => {
  const k = bootKernel("x86_64");
  const dir = bootTestDir("auto");
  const rd = await writeSmokeInitramfs({ tree: k.tree, arch: "x86_64", cacheDir: BOOT_TEST_CACHE, out: join(dir, "initramfs.cpio") });
  const notes: string[] = [];
  const r = await runSmoke({ arch: "x86_64", kernel: k.image, initramfs: rd.path, expectedRelease: k.release, consoleLog: join(dir, "console.log"), cacheDir: BOOT_TEST_CACHE, notify: (m) => notes.push(m) });
  assert.equal(r.ok, true, r.diagnosis);
  if (r.accel === "tcg") assert.ok(notes.length <= 1 && notes.every((n) => /TCG/.test(n)), notes.join("\n"));
});

const clangSkip = needs(!haveCommand("clang") && "clang is not installed (apt-get install clang lld llvm)");

test("the init also builds with clang (LLVM toolchain) and boots", { timeout: BUILD_TIMEOUT, skip: clangSkip }, async () => {
  for (const arch of ["aarch64", "riscv64"]) {
    const k = bootKernel(arch);
    const dir = bootTestDir(`clang-${arch}`);
    const rd = await writeSmokeInitramfs({
      tree: k.tree,
      arch,
      cacheDir: BOOT_TEST_CACHE,
      out: join(dir, "initramfs.cpio"),
      toolchain: defaultInitToolchain(ARCHES[arch]!, { llvm: true }),
    });
    const r = await runSmoke({ arch, kernel: k.image, initramfs: rd.path, expectedRelease: k.release, consoleLog: join(dir, "console.log"), accel: "tcg" });
    assert.equal(r.ok, true, r.diagnosis);
  }
});

test("kiln boot (the CLI) builds or reuses, boots, and records the timings in the manifest", { timeout: BUILD_TIMEOUT }, async () => {
  const k = bootKernel("x86_64");
  const { kiln } = await import("../support/kiln.js");
  const r = await kiln(["-C", k.project, "--json", "boot", "--arch", "x86_64", "--accel", "tcg"]);
  assert.equal(r.code, 0, r.stderr);
  const [s] = JSON.parse(r.stdout) as { ok: boolean; release: string }[];
  assert.equal(s!.ok, true);
  assert.equal(s!.release, k.release);
  const m = JSON.parse(readFileSync(join(k.buildDir, "..", "state", "manifest.json"), "utf8")) as { boot?: { ok: boolean; init_sec?: number; total_sec: number; console_log: string }[] };
  assert.equal(m.boot?.[0]?.ok, true);
  assert.ok((m.boot?.[0]?.init_sec ?? 0) > 0);
  assert.ok(existsSync(m.boot![0]!.console_log), "the console log is saved beside the manifest");
});

/**
 * kiln-test-lane: store-builder (it asks first for the test store's aarch64 and riscv64 kernels: their
 * cold builds happen here; test/run.sh starts the side lane's integration files after it)
 * `kiln run --exec`: one command in a real guest, output and exit code back on the host, on
 * every arch of the arch table. Needs a static busybox for each guest arch: Debian's
 * busybox-static on the host arch, and for the others the ones scripts/fetch-busybox.sh puts in
 * /usr/lib/kiln/busybox-<arch> (run by scripts/setup-debian.sh). Under CI=true a missing one is
 * a failure (test/support/needs.ts).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { HostError } from "../../src/errors.js";
import { ARCHES, hostArch } from "../../src/tables/arches.js";
import { findBusybox } from "../../src/boot/init.js";
import { interactiveArgv, runExec } from "../../src/boot/run.js";
import { BOOT_TEST_CACHE, bootKernel, bootTestDir } from "../support/boot_kernels.js";
import { needs } from "../support/needs.js";

const host = hostArch();

/** Why there is no usable static busybox for the arch (kiln's own message), or false. */
function noBusybox(arch: string): string | false {
  try {
    findBusybox(ARCHES[arch]!);
    return false;
  } catch (e) {
    return e instanceof HostError ? `${e.message} (${e.hint ?? ""})` : String(e);
  }
}
const hostSkip = needs(noBusybox(host));

test(`run --exec on ${host}: output and exit code come back`, { timeout: 60 * 60 * 1000, skip: hostSkip }, async () => {
  const k = bootKernel(host);
  const dir = bootTestDir("exec");
  const r = await runExec({
    arch: host,
    kernel: k.image,
    tree: k.tree,
    cacheDir: BOOT_TEST_CACHE,
    workDir: dir,
    accel: "tcg",
    command: "echo hello from $(uname -m); uname -r; ls /proc/self >/dev/null && echo proc ok; echo to-stderr >&2; exit 7",
  });
  assert.equal(r.exitCode, 7);
  assert.equal(r.output, `hello from ${host}\n${k.release}\nproc ok\nto-stderr\n`);
  assert.ok(existsSync(r.consoleLog));
  const ok = await runExec({ arch: host, kernel: k.image, tree: k.tree, cacheDir: BOOT_TEST_CACHE, workDir: dir, accel: "tcg", command: "true" });
  assert.equal(ok.exitCode, 0);
  assert.equal(ok.output, "");
});

for (const other of Object.keys(ARCHES).filter((a) => a !== host)) {
  test(
    `run --exec on ${other} with a static busybox for it`,
    { timeout: 60 * 60 * 1000, skip: needs(noBusybox(other) && `${noBusybox(other)}; run bash scripts/fetch-busybox.sh`) },
    async () => {
      const k = bootKernel(other);
      const dir = bootTestDir(`exec-${other}`);
      const r = await runExec({ arch: other, kernel: k.image, tree: k.tree, cacheDir: BOOT_TEST_CACHE, workDir: dir, accel: "tcg", command: "uname -m; exit 3" });
      assert.equal(r.exitCode, 3);
      assert.equal(r.output, `${other}\n`);
    },
  );
}

test("run --exec without a busybox for the guest arch says what is needed", async () => {
  const other = host === "x86_64" ? "riscv64" : "x86_64";
  const saved = process.env[`KILN_BUSYBOX_${other.toUpperCase()}`];
  delete process.env[`KILN_BUSYBOX_${other.toUpperCase()}`];
  try {
    assert.throws(
      // an explicit path that is not there: the setup's /usr/lib/kiln/busybox-<arch> would be found otherwise
      () => findBusybox(ARCHES[other]!, join(BOOT_TEST_CACHE, "no-such-busybox")),
      (e: unknown) => e instanceof HostError && /no static busybox for/.test(e.message) && /KILN_BUSYBOX_/.test(e.hint ?? ""),
    );
  } finally {
    if (saved !== undefined) process.env[`KILN_BUSYBOX_${other.toUpperCase()}`] = saved;
  }
});

test("kiln run builds an interactive argv: console with monitor, shell mode, user options last", { skip: hostSkip, timeout: 60 * 60 * 1000 }, async () => {
  const k = bootKernel(host);
  const dir = bootTestDir("run");
  const r = await interactiveArgv({
    arch: host,
    kernel: k.image,
    tree: k.tree,
    cacheDir: BOOT_TEST_CACHE,
    workDir: dir,
    accel: "tcg",
    memoryMiB: 768,
    cpus: 2,
    append: "loglevel=3",
    qemuArgs: ["-name", "kiln-test"],
  });
  const a = r.argv;
  assert.equal(a[a.indexOf("-serial") + 1], "mon:stdio");
  assert.equal(a[a.indexOf("-m") + 1], "768M");
  assert.equal(a[a.indexOf("-smp") + 1], "2");
  assert.match(a[a.indexOf("-append") + 1]!, /kiln\.mode=shell kiln\.tty=\S+ loglevel=3$/);
  assert.deepEqual(a.slice(-2), ["-name", "kiln-test"]);
  assert.equal(a[a.indexOf("-initrd") + 1], join(dir, `run-${host}.cpio`));
  const withRootfs = await interactiveArgv({ arch: host, kernel: k.image, cacheDir: BOOT_TEST_CACHE, workDir: dir, accel: "tcg", rootfs: "/img/root.img" });
  assert.ok(!withRootfs.argv.includes("-initrd"));
  assert.match(withRootfs.argv[withRootfs.argv.indexOf("-append") + 1]!, /root=\/dev\/vda rw/);
});

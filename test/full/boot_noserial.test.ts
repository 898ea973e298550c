/**
 * The "no console output" diagnosis on a real kernel built without its serial console (the
 * test store's noserial variant: the example with SERIAL_8250_CONSOLE off in an override layer).
 * It needs a cold build of its own (a config change rebuilds every object), so it lives in
 * test/full/ (npm run test:full).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { runSmoke, writeSmokeInitramfs } from "../../src/boot/smoke.js";
import { BOOT_TEST_CACHE, bootKernel, bootTestDir } from "../support/boot_kernels.js";

const BUILD_TIMEOUT = 60 * 60 * 1000;

test("a kernel without a serial console fails with a clear no-console-output diagnosis", { timeout: BUILD_TIMEOUT }, async () => {
  const k = bootKernel("x86_64", "noserial");
  const dir = bootTestDir("noserial");
  const rd = await writeSmokeInitramfs({ tree: k.tree, arch: "x86_64", cacheDir: BOOT_TEST_CACHE, out: join(dir, "initramfs.cpio") });
  const r = await runSmoke({
    arch: "x86_64",
    kernel: k.image,
    initramfs: rd.path,
    expectedRelease: k.release,
    consoleLog: join(dir, "console.log"),
    accel: "tcg",
    silenceSec: 10,
    timeoutSec: 30,
  });
  assert.equal(r.ok, false);
  assert.equal(r.stage, "none");
  assert.match(r.reason ?? "", /^no console output from the kernel/);
  assert.match(r.reason ?? "", /ttyS0/);
  assert.match(r.reason ?? "", /CONFIG_SERIAL_8250_CONSOLE/);
  assert.ok(existsSync(r.consoleLog));
});


/**
 * Debian packages from kbuild's bindeb-pkg (apt-get install dpkg-dev debhelper), checked with
 * dpkg-deb --info/--contents and extracted into a throwaway root. Uses the ship tests' small
 * x86_64 build (made once, out of tree).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { tmpdir } from "node:os";
import { smallVmlinux } from "../fixtures/ship/kernel.js";
import { kernelTree } from "../support/trees.js";
import { inspectDeb, checkKernelImageDeb, assertKernelDeb, parseDebContents, parseDebFields } from "../../src/ship/deb.js";
import { GateFailure } from "../../src/errors.js";
import { haveCommand, needs } from "../support/needs.js";

const canBuild = haveCommand("dpkg-buildpackage") && haveCommand("dh_listpackages");

test("bindeb-pkg packages: fields, contents, extraction into a throwaway root", { skip: needs(!canBuild && "dpkg-dev/debhelper are not installed (apt-get install dpkg-dev debhelper)"), timeout: 30 * 60_000 }, async () => {
  const out = dirname(smallVmlinux());
  const work = dirname(out);
  const release = readFileSync(join(out, "include", "config", "kernel.release"), "utf8").trim();
  let deb = readdirSync(work).find((f) => f.startsWith(`linux-image-${release}_`) && f.endsWith(".deb"));
  if (!deb) {
    execFileSync("make", ["-C", kernelTree("6.12"), `O=${out}`, "bindeb-pkg", "-j2", "KDEB_PKGVERSION=1"], { stdio: "ignore" });
    deb = readdirSync(work).find((f) => f.startsWith(`linux-image-${release}_`) && f.endsWith(".deb"));
  }
  assert.ok(deb, "bindeb-pkg made a linux-image package");
  const info = await inspectDeb(join(work, deb));
  assert.equal(info.package, `linux-image-${release}`);
  assert.equal(info.architecture, "amd64");
  assert.deepEqual(checkKernelImageDeb(info, release, { modules: false }), []);
  assert.ok(info.entries.some((e) => e.path === `boot/vmlinuz-${release}` && e.type === "file" && e.size > 100_000));
  const root = mkdtempSync(join(tmpdir(), "kiln-ship-debroot-"));
  try {
    await assertKernelDeb(join(work, deb), release, { modules: false, root: join(root, "r") });
    assert.ok(existsSync(join(root, "r", "boot", `System.map-${release}`)));
    await assert.rejects(assertKernelDeb(join(work, deb), "6.99.0", { modules: true }), (e: unknown) => e instanceof GateFailure && /boot\/vmlinuz-6\.99\.0 is missing/.test(e.message));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("dpkg-deb output parsing", () => {
  const c = parseDebContents(
    "drwxr-xr-x root/root         0 2026-11-22 04:53 ./\n" +
      "-rw-r--r-- root/root    621525 2026-11-22 04:53 ./boot/System.map-6.12.117\n" +
      "lrwxrwxrwx root/root         0 2026-11-22 04:53 ./lib/modules/x/build -> /usr/src/x\n",
  );
  assert.deepEqual(c.map((e) => [e.path, e.type, e.size]), [["", "dir", 0], ["boot/System.map-6.12.117", "file", 621525], ["lib/modules/x/build", "symlink", 0]]);
  assert.deepEqual(parseDebFields("Package: linux-image-x\nDescription: a\n more\n"), { Package: "linux-image-x", Description: "a\nmore" });
});

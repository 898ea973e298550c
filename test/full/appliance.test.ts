/**
 * The appliance example's tracks end to end (docs/tracks.md): the vendor fork made by
 * examples/appliance/scripts/make-vendor-fork.sh from Debian's source, every cell configured
 * and checked against the container-host invariant table, the rpi track built from the fork's
 * branch with its vendor defconfig (and its device trees installed by dtbs_install), its kernel
 * booted under QEMU's virt machine (the config carries virtio-mmio and PL011 for that), and the
 * generic track built and booted through its gpt-ab image (OVMF -> GRUB -> slot A).
 *
 * Three cold builds plus the fork: well over the default suite's budget, so it lives in
 * test/full (npm run test:full):
 *   KILN_TEST_CACHE=<cache> CI=true node --test dist/test/full/appliance.test.js
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { kiln, exampleCopy, removeProject, TEST_HOME } from "../support/kiln.js";
import { needSource } from "../support/needs.js";
import { projectId } from "../../src/store/paths.js";
import type { Manifest } from "../../src/core/manifest.js";
import { rmSync } from "node:fs";

const skip = needSource("6.12");
const dir = skip ? "" : exampleCopy("appliance", "appliance");
after(() => {
  if (!dir) return;
  rmSync(join(TEST_HOME, "work", projectId("appliance", dir)), { recursive: true, force: true });
  removeProject(dir);
});
const C = ["-C", dir];

function manifestOf(target: string, arch: string): Manifest {
  return JSON.parse(readFileSync(join(TEST_HOME, "work", projectId("appliance", dir), `${target}-${arch}`, "state", "manifest.json"), "utf8")) as Manifest;
}

test("the vendor fork: a bare repository whose rpi-6.12.y branch adds the vendor defconfig on top of the Debian tree", { skip, timeout: 10 * 60_000 }, () => {
  const r = spawnSync("bash", [join(dir, "scripts", "make-vendor-fork.sh")], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const git = (...a: string[]) => spawnSync("git", ["-C", join(dir, "vendor", "linux-rpi.git"), ...a], { encoding: "utf8" }).stdout.trim();
  assert.equal(git("rev-list", "--count", "rpi-6.12.y"), "2");
  assert.deepEqual(git("diff", "--name-only", "main", "rpi-6.12.y").split("\n"), ["arch/arm64/configs/kiln_rpi_defconfig", "drivers/firmware/raspberrypi.c"]);
  // fixed authors and dates: remaking the fork gives the same commit
  const head = git("rev-parse", "rpi-6.12.y");
  const again = spawnSync("bash", [join(dir, "scripts", "make-vendor-fork.sh")], { encoding: "utf8" });
  assert.equal(again.status, 0, again.stderr);
  assert.equal(git("rev-parse", "rpi-6.12.y"), head);
});

test("every cell of both tracks configures and holds the container-host invariants", { skip, timeout: 15 * 60_000 }, async () => {
  const r = await kiln([...C, "check", "configured"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /configured 3 cell\(s\): every requested value survived, invariants hold/);
  for (const cell of ["x86_64/generic", "aarch64/generic", "aarch64/rpi"]) assert.match(r.stderr, new RegExp(`configured ${cell}: 6\\.12\\.\\d+-${cell.split("/")[1]}-[0-9a-f]{12}`));
  // the lock pins the fork's branch by commit
  assert.match(readFileSync(join(dir, "kiln.lock"), "utf8"), /\[source\.rpi\][^[]*kind = "git"[^[]*commit = "[0-9a-f]{40}"/);
});

test("the rpi track builds from the fork, installs the Pi's device trees, and its kernel boots under virt", { skip, timeout: 40 * 60_000 }, async () => {
  const b = await kiln([...C, "build", "rpi", "--arch", "aarch64"]);
  assert.equal(b.code, 0, b.stderr.slice(-3000));
  const m = manifestOf("rpi", "aarch64");
  assert.match(m.uts_release!, /-rpi-[0-9a-f]{12}$/);
  assert.ok(m.artifacts?.dtbs, "the manifest names no dtbs folder");
  assert.ok(m.dtbs?.includes("broadcom/bcm2711-rpi-4-b.dtb"), `dtbs: ${m.dtbs?.join(", ")}`);
  for (const f of m.dtbs!) assert.ok(existsSync(join(m.artifacts!.dtbs!, f)), f);
  // the vendor's driver line is in the kernel that was built
  const cfg = readFileSync(m.artifacts!.config, "utf8");
  assert.match(cfg, /^CONFIG_RASPBERRYPI_FIRMWARE=y$/m);
  assert.match(cfg, /^CONFIG_OVERLAY_FS=y$/m);
  const boot = await kiln([...C, "--json", "boot", "rpi", "--arch", "aarch64", "--accel", "tcg"]);
  assert.equal(boot.code, 0, boot.stdout + boot.stderr);
  assert.match(boot.stdout, new RegExp(m.uts_release!.replace(/\./g, "\\.")));
});

test("the rpi-ab image of the Pi track: MBR, autoboot.txt, both boot partitions with the build's DTBs, byte-identical when made again", { skip, timeout: 10 * 60_000 }, async () => {
  // the Pi's firmware is the user's input: placeholders here, never Broadcom's files
  writeFileSync(join(dir, "firmware", "start4.elf"), "placeholder, not the Raspberry Pi firmware\n");
  writeFileSync(join(dir, "firmware", "fixup4.dat"), "placeholder\n");
  const made = await kiln([...C, "--json", "image", "pi"]);
  assert.equal(made.code, 0, made.stderr);
  const r = (JSON.parse(made.stdout) as { disk: string; image: string; sha256: string; release: string }[])[0]!;
  const table = spawnSync("sfdisk", ["-d", r.disk], { encoding: "utf8" }).stdout;
  assert.match(table, /^label: dos$/m);
  assert.deepEqual([...table.matchAll(/type=(\w+)/g)].map((x) => x[1]), ["c", "c", "c", "83"]);
  const starts = [...table.matchAll(/start=\s*(\d+)/g)].map((x) => Number(x[1]) * 512);
  const mtype = (at: number, f: string) => spawnSync("mtype", ["-i", `${r.disk}@@${at}`, `::/${f}`], { encoding: "utf8", env: { ...process.env, MTOOLS_SKIP_CHECK: "1" } }).stdout;
  assert.equal(mtype(starts[0]!, "autoboot.txt"), "[all]\ntryboot_a_b=1\nboot_partition=2\n[tryboot]\nboot_partition=3\n");
  const m = manifestOf("rpi", "aarch64");
  for (const [slot, at] of [["A", starts[1]!], ["B", starts[2]!]] as const) {
    assert.match(mtype(at, "cmdline.txt"), new RegExp(`kiln\\.slot=${slot}\\n?$`));
    assert.match(mtype(at, "config.txt"), /^arm_64bit=1$/m);
    assert.match(mtype(at, "config.txt"), /^device_tree=bcm2711-rpi-4-b\.dtb$/m);
    const dtb = spawnSync("mtype", ["-i", `${r.disk}@@${at}`, "::/bcm2711-rpi-4-b.dtb"], { env: { ...process.env, MTOOLS_SKIP_CHECK: "1" } }).stdout;
    assert.ok(dtb.equals(readFileSync(join(m.artifacts!.dtbs!, "broadcom", "bcm2711-rpi-4-b.dtb"))), `slot ${slot}: the DTB differs from the build's`);
  }
  const again = await kiln([...C, "--json", "image", "pi"]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal((JSON.parse(again.stdout) as { sha256: string }[])[0]!.sha256, r.sha256);
  // QEMU has no Raspberry Pi 4: booting the image is refused with the reason, exit 1
  const boot = await kiln([...C, "boot", "--image", "pi"]);
  assert.equal(boot.code, 1);
  assert.match(boot.stderr, /kiln cannot boot image "pi" \(rpi-ab\): QEMU 7\.2/);
});

test("the generic track builds for x86_64 and boots through its gpt-ab image", { skip, timeout: 40 * 60_000 }, async () => {
  const b = await kiln([...C, "build", "generic", "--arch", "x86_64"]);
  assert.equal(b.code, 0, b.stderr.slice(-3000));
  const m = manifestOf("generic", "x86_64");
  assert.match(m.uts_release!, /-generic-[0-9a-f]{12}$/);
  assert.equal(m.dtbs, undefined);
  const img = await kiln([...C, "--json", "image", "appliance", "--arch", "x86_64"]);
  assert.equal(img.code, 0, img.stderr);
  const boot = await kiln([...C, "--json", "boot", "--image", "appliance", "--arch", "x86_64", "--accel", "tcg"]);
  assert.equal(boot.code, 0, boot.stdout + boot.stderr);
  const r = JSON.parse(boot.stdout) as { slot: string; release: string };
  assert.equal(r.slot, "A");
  assert.equal(r.release, m.uts_release!);
});

test("the generic track builds for aarch64 and boots", { skip, timeout: 40 * 60_000 }, async () => {
  const b = await kiln([...C, "build", "generic", "--arch", "aarch64"]);
  assert.equal(b.code, 0, b.stderr.slice(-3000));
  const boot = await kiln([...C, "--json", "boot", "generic", "--arch", "aarch64", "--accel", "tcg"]);
  assert.equal(boot.code, 0, boot.stdout + boot.stderr);
  assert.match(boot.stdout, new RegExp(manifestOf("generic", "aarch64").uts_release!.replace(/\./g, "\\.")));
});

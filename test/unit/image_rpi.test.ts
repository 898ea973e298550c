import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { closeSync, ftruncateSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  autobootBoots, autobootProblems, encodeAutoboot, parseAutoboot, parseRpiConfig, planDtbs, planRpiDisk, rpiCmdlineProblems, rpiCmdlineTxt, rpiConfigProblems, rpiConfigTxt, rpiSfdiskScript, setAutoboot,
} from "../../src/image/layout.js";
import { parseMbr, tableKind } from "../../src/image/gpt.js";
import { imageArchProblem, IMAGE_LAYOUT_SPECS } from "../../src/tables/image_boot.js";

test("rpi-ab plan: control, boot-a, boot-b, data, 1 MiB aligned; disk id derived from the seed", () => {
  const p = planRpiDisk("s", { bootMiB: 64, dataMiB: 16 });
  assert.deepEqual(p.parts.map((x) => [x.role, x.number, x.type]), [["control", 1, 0x0c], ["boot-a", 2, 0x0c], ["boot-b", 3, 0x0c], ["data", 4, 0x83]]);
  for (const x of p.parts) assert.equal(x.startSector % 2048, 0);
  assert.match(p.diskId, /^0x[0-9a-f]{8}$/);
  assert.equal(p.diskId, planRpiDisk("s", { bootMiB: 64, dataMiB: 16 }).diskId);
  assert.notEqual(p.diskId, planRpiDisk("t", { bootMiB: 64, dataMiB: 16 }).diskId);
  assert.match(rpiSfdiskScript(p), /^label: dos\nlabel-id: 0x[0-9a-f]{8}\n/);
});

test("sfdisk writes the rpi-ab MBR and parseMbr reads it back (real sfdisk, sparse file)", (t) => {
  if (spawnSync("sfdisk", ["--version"]).status !== 0) {
    if (process.env.CI === "true") assert.fail("sfdisk is not installed (Debian: fdisk)");
    t.skip("sfdisk is not installed (Debian: fdisk)");
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "kiln-mbr-"));
  try {
    const plan = planRpiDisk("mbr-test", { bootMiB: 64, dataMiB: 16 });
    const disk = join(dir, "d.img");
    const fd = openSync(disk, "w");
    ftruncateSync(fd, plan.totalSectors * 512);
    closeSync(fd);
    const r = spawnSync("sfdisk", ["-q", "--no-reread", "--no-tell-kernel", disk], { input: rpiSfdiskScript(plan) });
    assert.equal(r.status, 0, String(r.stderr));
    const s0 = readFileSync(disk).subarray(0, 512);
    assert.equal(tableKind(s0), "mbr");
    const m = parseMbr(s0);
    assert.equal(m.diskId, plan.diskId);
    assert.deepEqual(m.partitions.map((x) => [x.number, x.type, x.startLba, x.sectors]), plan.parts.map((x) => [x.number, x.type, x.startSector, x.sizeSectors]));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("parseMbr and tableKind refuse what is not an MBR; a protective 0xEE entry is GPT", () => {
  assert.throws(() => parseMbr(Buffer.alloc(512)), /0x55AA/);
  const b = Buffer.alloc(512);
  b[510] = 0x55;
  b[511] = 0xaa;
  b[446 + 4] = 0xee;
  assert.equal(tableKind(b), "gpt");
  assert.match(tableKind(Buffer.alloc(512)), /not a partitioned disk/);
});

test("autoboot.txt: the factory text, parsed back, sound; broken ones are named", () => {
  const f = encodeAutoboot();
  assert.equal(f, "[all]\ntryboot_a_b=1\nboot_partition=2\n[tryboot]\nboot_partition=3\n");
  const a = parseAutoboot(f);
  assert.ok(typeof a !== "string");
  assert.deepEqual(autobootBoots(a), { normal: 2, tryboot: 3 });
  assert.deepEqual(autobootProblems(a, [1, 2, 3]), []);
  assert.match(autobootProblems(a, [1, 2]).join("\n"), /boot_partition=3 names no FAT partition/);
  const same = parseAutoboot("[all]\ntryboot_a_b=1\nboot_partition=2\n[tryboot]\nboot_partition=2\n");
  assert.match(autobootProblems(same as never, [1, 2, 3]).join("\n"), /nothing to try/);
  const noab = parseAutoboot("[all]\nboot_partition=2\n[tryboot]\nboot_partition=7\n");
  const p = autobootProblems(noab as never, [1, 2, 3]).join("\n");
  assert.match(p, /tryboot_a_b/);
  assert.match(p, /expected 2 \(boot-a\) or 3/);
  assert.match(String(parseAutoboot("boot_partition=2\n")), /before any \[section\]/);
  assert.match(String(parseAutoboot("[all]\nnonsense\n")), /not \[section\] or key=value/);
  // arming slot B's try keeps [all]; committing moves [all] and the try to the other one
  assert.deepEqual(setAutoboot(a, { tryboot: 3 }), { normal: 2, tryboot: 3 });
  assert.deepEqual(setAutoboot(a, { normal: 3 }), { normal: 3, tryboot: 2 });
});

test("config.txt and cmdline.txt: written, read back, checked against the partition's files", () => {
  const c = rpiConfigTxt({ release: "6.6.1-kiln", slot: "A", deviceTree: "bcm2711-rpi-4-b.dtb" });
  assert.match(c, /^# kiln rpi-ab slot A: 6\.6\.1-kiln/);
  const p = parseRpiConfig(c);
  assert.equal(p.values.arm_64bit, "1");
  assert.equal(p.values.kernel, "kernel8.img");
  assert.equal(p.initramfs, "initramfs.img");
  assert.deepEqual(rpiConfigProblems(p, ["kernel8.img", "initramfs.img", "bcm2711-rpi-4-b.dtb"]), []);
  assert.match(rpiConfigProblems(p, ["kernel8.img", "initramfs.img"]).join("\n"), /device_tree=bcm2711-rpi-4-b\.dtb is not on the partition/);
  assert.match(rpiConfigProblems(parseRpiConfig("kernel=kernel8.img\n"), ["kernel8.img"]).join("\n"), /arm_64bit/);
  assert.equal(rpiCmdlineTxt("console=ttyS0", "B"), "console=ttyS0 kiln.slot=B\n");
  assert.deepEqual(rpiCmdlineProblems("console=ttyS0 kiln.slot=B\n", "B"), []);
  assert.match(rpiCmdlineProblems("console=ttyS0 kiln.slot=A\n", "B").join(), /kiln\.slot=A/);
  assert.match(rpiCmdlineProblems("a kiln.slot=B\nb\n", "B").join(), /2 lines/);
});

test("DTB plan: every .dtb by default, flattened; the vendor's overlays; the Pi 4 board DTB by default", () => {
  const files = ["broadcom/bcm2711-rpi-4-b.dtb", "broadcom/bcm2837-rpi-3-b.dtb", "broadcom/overlays/uart.dtbo", "arm/foo.dtb", "arm/overlays/x.dtbo"];
  const all = planDtbs(files);
  assert.deepEqual(all.dtbs.map(([, n]) => n), ["foo.dtb", "bcm2711-rpi-4-b.dtb", "bcm2837-rpi-3-b.dtb"]);
  assert.equal(all.boardDtb, "bcm2711-rpi-4-b.dtb");
  const bc = planDtbs(files, ["broadcom/bcm2711-rpi-4-b.dtb"]);
  assert.deepEqual(bc.overlays, [["broadcom/overlays/uart.dtbo", "uart.dtbo"]]);
  assert.equal(planDtbs(["arm/foo.dtb"]).boardDtb, undefined);
  assert.throws(() => planDtbs(files, ["broadcom/nope.dtb"]), /not in the build's DTBs/);
  assert.throws(() => planDtbs(files, ["arm/foo.dtb"], "broadcom/bcm2711-rpi-4-b.dtb"), /not among the chosen/);
  assert.throws(() => planDtbs(["a/x.dtb", "b/x.dtb"]), /same name/);
});

test("the layout table: rpi-ab is aarch64 only and says why QEMU cannot boot it", () => {
  assert.equal(imageArchProblem("aarch64", "rpi-ab"), undefined);
  assert.match(imageArchProblem("x86_64", "rpi-ab")!, /rpi-ab images for aarch64 only/);
  assert.equal(imageArchProblem("x86_64"), undefined);
  assert.equal(IMAGE_LAYOUT_SPECS["rpi-ab"].qemuBoots, false);
  assert.match(IMAGE_LAYOUT_SPECS["rpi-ab"].qemuReason!, /raspi4b/);
});

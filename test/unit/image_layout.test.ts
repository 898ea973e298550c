import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, openSync, ftruncateSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  cmdlineSlot, derivedUuid, encodeEnv, parseEnv, ubootScript, encodeGrubenv, factoryGrubenv, grubCfg, grubenvProblems, GRUBENV_SIZE, imageFileName, nextBoot, parseGrubenv, parseSlotCfg, planDisk, sfdiskScript, slotCfg,
} from "../../src/image/layout.js";
import { crc32, parseGpt, GPT_HEAD_BYTES } from "../../src/image/gpt.js";
import { parseMarker } from "../../src/boot/console.js";
import { parseProject } from "../../src/project/load.js";
import { imageProblems, selectImages } from "../../src/image/project.js";
import { slotCmdline, sweepImageLeftovers } from "../../src/image/make.js";

const SIZES = { espMiB: 32, systemMiB: 64, dataMiB: 16 };

test("GUIDs derive from the seed: stable, distinct per role, RFC 4122 v4 shaped", () => {
  const a = derivedUuid("seed-1", "disk");
  assert.equal(a, derivedUuid("seed-1", "disk"));
  assert.notEqual(a, derivedUuid("seed-2", "disk"));
  assert.notEqual(a, derivedUuid("seed-1", "part:esp"));
  assert.match(a, /^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$/);
});

test("the plan is 1 MiB aligned, in order EFI, system-a, system-b, data, with room for the backup GPT", () => {
  const p = planDisk("s", SIZES);
  assert.deepEqual(p.parts.map((x) => x.name), ["EFI", "system-a", "system-b", "data"]);
  let at = 2048;
  for (const x of p.parts) {
    assert.equal(x.startSector, at);
    assert.equal(x.startSector % 2048, 0);
    at += x.sizeSectors;
  }
  assert.equal(p.parts[1]!.sizeSectors, 64 * 2048);
  assert.equal(p.totalSectors, at + 2048);
  assert.match(p.parts[0]!.fsId, /^[0-9A-F]{8}$/);
  assert.match(p.parts[1]!.fsId, /^[0-9a-f-]{36}$/);
});

test("sfdisk writes the plan and kiln's own GPT reader reads it back (real sfdisk, sparse file)", (t) => {
  if (spawnSync("sfdisk", ["--version"]).status !== 0) {
    if (process.env.CI === "true") assert.fail("sfdisk is not installed (Debian: fdisk)");
    t.skip("sfdisk is not installed (Debian: fdisk)");
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "kiln-gpt-"));
  try {
    const plan = planDisk("gpt-test", SIZES);
    const disk = join(dir, "d.img");
    const fd = openSync(disk, "w");
    ftruncateSync(fd, plan.totalSectors * 512);
    closeSync(fd);
    const r = spawnSync("sfdisk", ["-q", "--no-reread", "--no-tell-kernel", disk], { input: sfdiskScript(plan) });
    assert.equal(r.status, 0, String(r.stderr));
    const head = readFileSync(disk).subarray(0, GPT_HEAD_BYTES);
    const g = parseGpt(head);
    assert.equal(g.diskUuid, plan.diskUuid);
    assert.deepEqual(
      g.partitions.map((x) => [x.number, x.name, x.type, x.uuid, x.firstLba, x.size]),
      plan.parts.map((x) => [x.number, x.name, x.type, x.uuid, x.startSector, x.sizeSectors * 512]),
    );
    // a flipped byte in the entries is caught by the CRC
    const bad = Buffer.from(head);
    bad[1024 + 60]! ^= 0xff;
    assert.throws(() => parseGpt(bad), /CRC32 does not match/);
    // an MBR-only disk is named as such
    const mbr = Buffer.from(head);
    mbr[446 + 4] = 0x0c;
    assert.throws(() => parseGpt(mbr), /MBR disk, not GPT/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("crc32 is the IEEE one", () => {
  assert.equal(crc32(Buffer.from("123456789")), 0xcbf43926);
});

test("grubenv: exactly 1024 bytes, GRUB's header, round-trips, and bad blocks are named", () => {
  const b = encodeGrubenv(factoryGrubenv());
  assert.equal(b.length, GRUBENV_SIZE);
  assert.ok(b.toString("utf8").startsWith("# GRUB Environment Block\nboot_default=A\nboot_once=\nboot_counter=3\nboot_success=1\n#"));
  assert.deepEqual(parseGrubenv(b), factoryGrubenv());
  assert.match(String(parseGrubenv(b.subarray(0, 1000))), /1000 bytes/);
  assert.match(String(parseGrubenv(Buffer.alloc(1024, "#"))), /does not start with/);
  assert.deepEqual(grubenvProblems(factoryGrubenv()), []);
  assert.equal(grubenvProblems({ ...factoryGrubenv(), boot_default: "C", boot_counter: "9" }).length, 2);
});

test("grubenv written by kiln is what grub-editenv reads (real grub-editenv)", (t) => {
  if (spawnSync("grub-editenv", ["--version"]).status !== 0) {
    if (process.env.CI === "true") assert.fail("grub-editenv is not installed (Debian: grub-common)");
    t.skip("grub-editenv is not installed (Debian: grub-common)");
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "kiln-env-"));
  try {
    const f = join(dir, "grubenv");
    writeFileSync(f, encodeGrubenv({ ...factoryGrubenv(), boot_once: "B" }));
    const r = spawnSync("grub-editenv", [f, "list"], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split("\n"), ["boot_default=A", "boot_once=B", "boot_counter=3", "boot_success=1"]);
    assert.equal(spawnSync("grub-editenv", [f, "set", "boot_counter=1", "boot_success=0"]).status, 0);
    const back = parseGrubenv(readFileSync(f));
    assert.equal(typeof back, "object");
    assert.equal((back as Record<string, string>).boot_counter, "1");
    assert.equal((back as Record<string, string>).boot_success, "0");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("A/B semantics: a one-shot try is consumed before it boots, a failed try falls back to boot_default", () => {
  const factory = factoryGrubenv();
  assert.equal(nextBoot(factory).slot, "A");
  const armed = { ...factory, boot_once: "B" };
  const first = nextBoot(armed);
  assert.equal(first.slot, "B");
  assert.equal(first.env.boot_once, "");
  // B failed and nobody changed the env: the next boot is A again
  assert.equal(nextBoot(first.env).slot, "A");
});

test("A/B semantics: an unconfirmed default gets 3 tries, then the other slot takes over", () => {
  let env: Record<string, string> = { boot_default: "B", boot_once: "", boot_counter: "3", boot_success: "0" };
  const slots: string[] = [];
  for (let i = 0; i < 4; i++) {
    const n = nextBoot(env);
    slots.push(n.slot);
    env = n.env;
  }
  assert.deepEqual(slots, ["B", "B", "B", "A"]);
  assert.equal(env.boot_default, "A");
  assert.equal(env.boot_success, "1");
});

test("grub.cfg follows the same rules and reads the slot's own config", () => {
  const c = grubCfg();
  assert.match(c, /load_env -f \(\$esp\)\/EFI\/kiln\/grubenv/);
  assert.match(c, /set boot_once=\n  save_env -f \(\$esp\)\/EFI\/kiln\/grubenv boot_once/);
  // the one-shot is cleared before linux/boot
  assert.ok(c.indexOf("save_env -f ($esp)/EFI/kiln/grubenv boot_once") < c.indexOf("linux /boot/vmlinuz"));
  assert.match(c, /source \/boot\/kiln-slot\.cfg/);
  assert.match(c, /if \[ "\$slot" = "A" \]; then set part=gpt2; else set part=gpt3; fi/);
});

test("slot config: quoted for GRUB, read back, and the command line names the slot", () => {
  const cfg = slotCfg({ release: "6.12.1-x-abc", cmdline: slotCmdline("console=ttyS0 it's", "B") });
  assert.match(cfg, /^set kiln_cmdline='console=ttyS0 it'\\''s kiln\.slot=B'$/m);
  assert.deepEqual(parseSlotCfg(cfg), { release: "6.12.1-x-abc", cmdline: "console=ttyS0 it's kiln.slot=B" });
  assert.equal(cmdlineSlot("a kiln.slot=A b"), "A");
  assert.equal(cmdlineSlot("a b"), undefined);
  assert.equal(parseSlotCfg("set kiln_release='x'\n"), "no kiln_cmdline line");
  assert.equal(imageFileName("appliance", "6.12.1-x", "x86_64"), "appliance-6.12.1-x-x86_64.img.zst");
});

test("the marker carries the slot when the init was given kiln.slot", () => {
  const m = parseMarker("KILN-MARKER v1 release=6.12-x machine=x86_64 cpus=1 mem_kib=100 mounts=ok slot=B cmdline=console=ttyS0 kiln.slot=B");
  assert.equal(m?.slot, "B");
  assert.equal(m?.cmdline, "console=ttyS0 kiln.slot=B");
  const old = parseMarker("KILN-MARKER v1 release=6.12-x machine=x86_64 cpus=1 mem_kib=100 mounts=ok cmdline=console=ttyS0");
  assert.equal(old?.slot, undefined);
  assert.equal(old?.cmdline, "console=ttyS0");
});

const TOML = `name = "p"
[source.linux]
debian = "linux-source-6.12"
[target.base]
source = "linux"
arches = ["x86_64", "aarch64", "riscv64"]
[target.base.config]
method = "fragments"
layers = ["config"]
`;

test("[image.<name>]: defaults, and every problem with its kiln.toml line", () => {
  const ok = parseProject(`${TOML}[image.appliance]\n`, "/nonexistent/kiln.toml");
  assert.equal(ok.decl.image.appliance!.layout, "gpt-ab");
  assert.equal(ok.decl.image.appliance!.system_mib, 64);
  const cells = selectImages(ok, undefined);
  assert.deepEqual(cells.map((c) => `${c.name}/${c.target}/${c.arch}`), ["appliance/base/x86_64", "appliance/base/aarch64"]);
  const bad = parseProject(`${TOML}[image.appliance]\ntarget = "nope"\narches = ["riscv64"]\ninitramfs = "missing.cpio"\n`, "/nonexistent/kiln.toml");
  const problems = imageProblems(bad, ["appliance"]);
  const lines = Object.fromEntries(problems.map((p) => [p.message.split(" ").slice(0, 4).join(" "), p.line]));
  assert.ok(problems.some((p) => /target "nope", which is not declared/.test(p.message) && p.line === 11), JSON.stringify(problems));
  assert.ok(problems.some((p) => /for riscv64: kiln makes gpt-ab images for x86_64, aarch64 only/.test(p.message) && p.line === 12), JSON.stringify(lines));
  assert.ok(problems.some((p) => /initramfs "missing.cpio" of image "appliance" does not exist/.test(p.message) && p.line === 13));
  assert.throws(() => selectImages(bad, "appliance"), /kiln\.toml:11: image "appliance" uses target "nope"/);
  assert.throws(() => parseProject(`${TOML}[image.appliance]\nlayout = "mbr-abc"\n`, "/x/kiln.toml"), /image\.appliance\.layout/);
  // rpi-ab: aarch64 only; its keys are refused on a gpt-ab image, a rootfs on an rpi-ab one
  const rpi = parseProject(`${TOML}[image.pi]\nlayout = "rpi-ab"\narches = ["x86_64"]\n`, "/nonexistent/kiln.toml");
  assert.ok(imageProblems(rpi, ["pi"]).some((p) => /for x86_64: kiln makes rpi-ab images for aarch64 only/.test(p.message) && p.line === 12), JSON.stringify(imageProblems(rpi, ["pi"])));
  assert.deepEqual(selectImages(parseProject(`${TOML}[image.pi]\nlayout = "rpi-ab"\n`, "/x/kiln.toml"), undefined).map((c) => c.arch), ["aarch64"]);
  assert.throws(() => parseProject(`${TOML}[image.appliance]\nfirmware = "fw/"\n`, "/x/kiln.toml"), /firmware is for layout = "rpi-ab"; a gpt-ab image does not take it/);
  assert.throws(() => parseProject(`${TOML}[image.pi]\nlayout = "rpi-ab"\nrootfs = "r/"\n`, "/x/kiln.toml"), /an rpi-ab image has no System partitions for a rootfs/);
  assert.throws(() => selectImages(parseProject(TOML, "/x/kiln.toml"), undefined), /declares no image/);
});

test("U-Boot env text: written without an empty boot_once, read back with it", () => {
  const b = encodeEnv("uboot-text", factoryGrubenv());
  assert.equal(b.toString(), "boot_default=A\nboot_counter=3\nboot_success=1\n");
  assert.deepEqual(parseEnv("uboot-text", b), { boot_default: "A", boot_counter: "3", boot_success: "1", boot_once: "" });
  // what env export -t leaves: a trailing NUL
  assert.deepEqual(parseEnv("uboot-text", Buffer.from("boot_default=B\nboot_once=A\nboot_counter=2\nboot_success=0\n\0")), { boot_default: "B", boot_once: "A", boot_counter: "2", boot_success: "0" });
  assert.match(String(parseEnv("uboot-text", Buffer.from("junk\n"))), /not name=value/);
  const s = ubootScript("kiln/abenv.txt");
  assert.match(s, /^load virtio 0:1 \$\{ramdisk_addr_r\} kiln\/abenv\.txt$/m);
  assert.match(s, /booti \$\{kernel_addr_r\} \$\{ramdisk_addr_r\}:\$\{filesize\} \$\{fdtcontroladdr\}/);
  assert.match(s, /fatwrite virtio 0:1 \$\{ramdisk_addr_r\} kiln\/abenv\.txt \$\{filesize\}/);
});

test("a killed image run's leftovers are swept; a live process's are kept", () => {
  const dir = mkdtempSync(join(tmpdir(), "kiln-sweep-"));
  try {
    const dead = 2 ** 22 + 12345; // above pid_max's default: no such process
    for (const f of [`.a-x86_64.img.${dead}.0123abcd.tmp`, `.a-x86_64.scratch-${dead}`, `.a-x86_64.img.${process.pid}.0123abcd.tmp`, "a-x86_64.img"]) writeFileSync(join(dir, f), "");
    assert.deepEqual(sweepImageLeftovers(dir).sort(), [`.a-x86_64.img.${dead}.0123abcd.tmp`, `.a-x86_64.scratch-${dead}`].sort());
    assert.deepEqual(readdirSync(dir).sort(), [`.a-x86_64.img.${process.pid}.0123abcd.tmp`, "a-x86_64.img"].sort());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * gpt-ab disk images, for real: `kiln image` lays the image out from the example's x86_64 kernel
 * (a store hit: test/support/store.ts) with kiln's own initramfs, `kiln image inspect` reads it
 * back, a second make gives the same bytes, and `kiln boot --image` boots the disk itself under
 * TCG: OVMF -> GRUB -> slot A; `kiln image update` puts another build in slot B and arms a
 * one-shot try -> slot B boots; a slot B that panics -> that boot fails (exit 2) and the next one
 * falls back to A. Broken images (a slot without its kernel, a bad grubenv, not a GPT) fail
 * inspection with exit 2.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { exampleKernel, type ExampleKernel } from "../support/store.js";
import { exampleCopy, kiln, removeProject, REPO, RUN_ID } from "../support/kiln.js";
import { writeSmokeInitramfs } from "../../src/boot/smoke.js";
import { BOOT_TEST_CACHE } from "../support/boot_kernels.js";
import { TEST_CACHE } from "../support/trees.js";
import { haveCommand, needs } from "../support/needs.js";
import { IMAGE_BOOT } from "../../src/tables/image_boot.js";
import type { MadeImageReport } from "../../src/commands/image.js";

const TIMEOUT = 30 * 60 * 1000;
const TOOLS = ["sfdisk", "mkfs.vfat", "mmd", "mcopy", "mke2fs", "debugfs", "grub-mkimage", "mkimage", "zstd", "qemu-system-x86_64", "qemu-system-aarch64"];
const FIRMWARE = [IMAGE_BOOT.x86_64!.firmwareCode!, IMAGE_BOOT.aarch64!.bios!];
const gone = [...TOOLS.filter((t) => !haveCommand(t)), ...FIRMWARE.filter((f) => !existsSync(f))];
const missing = needs(gone.length > 0 && `${gone.join(", ")} missing (apt-get install ${[...new Set([...IMAGE_BOOT.x86_64!.debianPackages, ...IMAGE_BOOT.aarch64!.debianPackages])].join(" ")})`);

/**
 * The build that goes into slot B: on x86_64 another release than slot A's, the test store's
 * "modular" variant of the example; the test store has no other aarch64 build, so there slot B
 * holds the same kernel again (the slot is proven by kiln.slot= on the command line and the
 * init's slot= in its marker).
 */
function slotBKernel(arch: string): ExampleKernel {
  return arch === "x86_64" ? exampleKernel("x86_64", "modular") : exampleKernel(arch);
}

const LOADER: Record<string, { esp: string[]; tag: string; env: string }> = {
  x86_64: { esp: ["EFI/BOOT/BOOTX64.EFI", "EFI/BOOT/grub.cfg", "EFI/kiln/grubenv", "kiln/image.json"], tag: "kiln-grub", env: "EFI/kiln/grubenv" },
  aarch64: { esp: ["boot.scr", "kiln/abenv.txt", "kiln/image.json"], tag: "kiln-uboot", env: "kiln/abenv.txt" },
};

const sha256 = (f: string) => createHash("sha256").update(readFileSync(f)).digest("hex");
const scratch = join(TEST_CACHE, "image-runs", RUN_ID);

type Made = Pick<MadeImageReport, "name" | "arch" | "release" | "disk" | "image" | "sha256">;

for (const arch of ["x86_64", "aarch64"]) test(`${arch} gpt-ab: make, inspect, remake (same bytes), boot A, try B, a failing B falls back to A`, { skip: missing, timeout: TIMEOUT }, async () => {
  const k = exampleKernel(arch);
  const b = slotBKernel(arch);
  const L = LOADER[arch]!;
  // the example (with its [image.appliance]) in a folder of this test's own: the build is a store
  // hit without a tree, and the image gets kiln's initramfs made from the store kernel's warm tree
  // (what initramfs = "kiln" does) as a cpio file, so no tree is checked out for this folder
  const project = exampleCopy(`image-${arch}`);
  await writeSmokeInitramfs({ tree: k.tree, arch, cacheDir: BOOT_TEST_CACHE, out: join(project, "kiln-init.cpio") });
  const toml = readFileSync(join(project, "kiln.toml"), "utf8");
  assert.match(toml, /^# initramfs = "kiln"/m);
  writeFileSync(join(project, "kiln.toml"), toml.replace(/^# initramfs = "kiln".*$/m, 'initramfs = "kiln-init.cpio"\ncmdline = "kiln.mode=smoke"'));
  const C = ["-C", project];
  const A = ["--arch", arch];
  mkdirSync(scratch, { recursive: true });
  try {
    // make: the kernel is reused from the store, kiln's init comes from the warm tree's nolibc
    const made = await kiln([...C, "--json", "image", "appliance", ...A]);
    assert.equal(made.code, 0, made.stderr);
    const m = (JSON.parse(made.stdout) as Made[])[0]!;
    assert.equal(m.release, k.release);
    assert.ok(m.image.endsWith(`/out/${k.release}/appliance-${k.release}-${arch}.img.zst`), m.image);
    assert.equal(readFileSync(`${m.image}.sha256`, "utf8").trim(), sha256(m.image));
    assert.equal(m.sha256, sha256(m.image));
    assert.match(made.stderr, /reused/);

    // inspect the shipped .img.zst: table, files, boot configuration
    const ins = await kiln([...C, "--json", "image", "inspect", m.image]);
    assert.equal(ins.code, 0, ins.stdout + ins.stderr);
    const r = JSON.parse(ins.stdout) as {
      partitions: { name: string; fs: string; files: { path: string; size: number }[] }[];
      grubenv: Record<string, string>;
      next: { slot: string };
      slots: Record<string, { release: string; cmdline: string }>;
      problems: string[];
    };
    assert.deepEqual(r.problems, []);
    assert.deepEqual(r.partitions.map((p) => `${p.name}:${p.fs}`), ["EFI:vfat", "system-a:ext4", "system-b:ext4", "data:ext4"]);
    const esp = r.partitions[0]!.files.map((f) => f.path);
    for (const f of L.esp) assert.ok(esp.includes(f), `${f} in ${esp.join(", ")}`);
    const kernelBytes = readFileSync(k.image).length;
    assert.equal(r.partitions[1]!.files.find((f) => f.path === "boot/vmlinuz")?.size, kernelBytes);
    assert.deepEqual(r.grubenv, { boot_default: "A", boot_once: "", boot_counter: "3", boot_success: "1" });
    assert.equal(r.next.slot, "A");
    assert.equal(r.slots.A!.release, k.release);
    assert.match(r.slots.A!.cmdline, /kiln\.mode=smoke kiln\.slot=A$/);
    assert.match(r.slots.B!.cmdline, /kiln\.slot=B$/);
    const text = await kiln([...C, "image", "inspect", m.disk]);
    assert.equal(text.code, 0);
    assert.match(text.stdout, /next boot: slot A \(boot_default A, confirmed\)/);

    // the same inputs again: the same bytes, disk and .img.zst
    const diskSha = sha256(m.disk);
    const again = await kiln([...C, "--json", "image", "appliance", ...A]);
    assert.equal(again.code, 0, again.stderr);
    const m2 = (JSON.parse(again.stdout) as Made[])[0]!;
    assert.equal(m2.sha256, m.sha256, "the .img.zst changed between two makes of the same inputs");
    assert.equal(sha256(m2.disk), diskSha, "the raw disk changed between two makes of the same inputs");

    // boot the disk itself: OVMF -> GRUB (x86_64) or U-Boot (aarch64) -> slot A
    const bootA = await kiln([...C, "--json", "boot", "--image", "appliance", ...A, "--accel", "tcg"]);
    assert.equal(bootA.code, 0, bootA.stdout + bootA.stderr);
    const a = JSON.parse(bootA.stdout) as { ok: boolean; slot: string; grubSlot: string; release: string; expectedRelease: string; grubLines: string[]; stage: string; timings: { firmwareSec?: number; markerSec: number } };
    assert.equal(a.slot, "A");
    assert.equal(a.grubSlot, "A");
    assert.equal(a.release, k.release);
    assert.deepEqual(a.grubLines.filter((l) => l !== "kiln-uboot: A/B"), [`${L.tag}: slot A, confirmed`, `${L.tag}: booting slot A: ${k.release}`]);
    assert.ok(a.timings.firmwareSec! < a.timings.markerSec);

    // another build into slot B with a one-shot try: the next boot is B
    const up = await kiln([...C, "image", "update", m.disk, "--slot", "B", "--release", b.release]);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, /the next boot tries it once \(boot_once=B\)/);
    const armed = JSON.parse((await kiln([...C, "--json", "image", "inspect", m.disk])).stdout) as typeof r;
    assert.equal(armed.grubenv.boot_once, "B");
    assert.equal(armed.next.slot, "B");
    assert.equal(armed.slots.B!.release, b.release);
    const bootB = await kiln([...C, "--json", "boot", "--image", "appliance", ...A, "--accel", "tcg"]);
    assert.equal(bootB.code, 0, bootB.stdout + bootB.stderr);
    const bb = JSON.parse(bootB.stdout) as typeof a;
    assert.equal(bb.slot, "B");
    assert.equal(bb.release, b.release);
    assert.ok(bb.grubLines.includes(`${L.tag}: one-shot try of slot B`), bb.grubLines.join(" | "));
    // GRUB consumed the try before the kernel started
    const after = JSON.parse((await kiln([...C, "--json", "image", "inspect", m.disk])).stdout) as typeof r;
    assert.equal(after.grubenv.boot_once, "");
    assert.equal(after.next.slot, "A");

    // a slot B that panics (its init does not exist, no root device): that boot fails, exit 2 ...
    const bad = await kiln([...C, "image", "update", m.disk, "--slot", "B", "--release", b.release, "--append", "rdinit=/nonexistent"]);
    assert.equal(bad.code, 0, bad.stderr);
    const bootBad = await kiln([...C, "boot", "--image", "appliance", ...A, "--accel", "tcg"]);
    assert.equal(bootBad.code, 2, bootBad.stdout + bootBad.stderr);
    assert.match(bootBad.stderr, new RegExp(`image boot failed for ${arch} \\(TCG, slot B\\): kernel panic`));
    assert.match(bootBad.stderr, new RegExp(`${L.tag}: one-shot try of slot B`));
    // ... and the next boot falls back to A
    const back = await kiln([...C, "--json", "boot", "--image", "appliance", ...A, "--accel", "tcg"]);
    assert.equal(back.code, 0, back.stdout + back.stderr);
    assert.equal((JSON.parse(back.stdout) as typeof a).slot, "A");
    assert.equal((JSON.parse(back.stdout) as typeof a).release, k.release);

    // broken images fail inspection with exit 2, naming what is wrong (the loader does not matter: once)
    if (arch !== "x86_64") return;
    const noKernel = join(scratch, "no-kernel.img");
    spawnSync("cp", ["--sparse=always", m.disk, noKernel]);
    const sysB = (JSON.parse((await kiln([...C, "--json", "image", "inspect", noKernel])).stdout) as { partitions: { name: string }[] }).partitions;
    assert.equal(sysB[2]!.name, "system-b");
    const g = spawnSync("sfdisk", ["-J", noKernel], { encoding: "utf8" });
    const start = (JSON.parse(g.stdout) as { partitiontable: { partitions: { start: number }[] } }).partitiontable.partitions[2]!.start;
    assert.equal(spawnSync("debugfs", ["-w", "-R", "rm /boot/vmlinuz", `${noKernel}?offset=${start * 512}`]).status, 0);
    const i1 = await kiln([...C, "image", "inspect", noKernel]);
    assert.equal(i1.code, 2, i1.stdout + i1.stderr);
    assert.match(i1.stdout, /slot B \(partition 3\) has no kernel boot\/vmlinuz/);

    const badEnv = join(scratch, "bad-env.img");
    spawnSync("cp", ["--sparse=always", m.disk, badEnv]);
    const envFile = join(scratch, "grubenv");
    writeFileSync(envFile, "boot_default=C\n");
    const espStart = (JSON.parse(spawnSync("sfdisk", ["-J", badEnv], { encoding: "utf8" }).stdout) as { partitiontable: { partitions: { start: number }[] } }).partitiontable.partitions[0]!.start;
    assert.equal(spawnSync("mcopy", ["-o", "-i", `${badEnv}@@${espStart * 512}`, envFile, "::/EFI/kiln/grubenv"], { env: { ...process.env, MTOOLS_SKIP_CHECK: "1" } }).status, 0);
    const i2 = await kiln([...C, "image", "inspect", badEnv]);
    assert.equal(i2.code, 2);
    assert.match(i2.stdout, /EFI\/kiln\/grubenv: grubenv is 15 bytes, GRUB needs exactly 1024/);
    const bootRefused = await kiln([...C, "boot", "--image", badEnv, "--accel", "tcg"]);
    assert.equal(bootRefused.code, 2);
    assert.match(bootRefused.stderr, /does not pass inspection/);

    const notGpt = join(scratch, "zeros.img");
    writeFileSync(notGpt, Buffer.alloc(64 * 1024));
    const i3 = await kiln([...C, "image", "inspect", notGpt]);
    assert.equal(i3.code, 2);
    assert.match(i3.stdout, /no MBR boot signature/);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
    removeProject(project);
  }
});

test("kiln image: a bad [image] table is refused before any build, with its kiln.toml line", { skip: missing }, async () => {
  const dir = join(scratch, "project");
  mkdirSync(dir, { recursive: true });
  try {
    const base = readFileSync(join(REPO, "examples", "microvm", "kiln.toml"), "utf8").replace(/\n\[image\.appliance\][\s\S]*$/, "\n");
    writeFileSync(join(dir, "kiln.toml"), `${base}[image.appliance]\narches = ["x86_64"]\nrootfs = "rootfs.tar"\n`);
    const line = `${base}[image.appliance]\n`.split("\n").length + 1;
    const r = await kiln(["-C", dir, "image", "appliance"]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`kiln\\.toml:${line}: rootfs "rootfs\\.tar" of image "appliance" does not exist`));
    assert.doesNotMatch(r.stdout + r.stderr, /identity|reused|compile/);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});

test("payloads: a rootfs tarball in System A and B, a data folder in Data, a user's cpio; inspect lists them", { skip: missing, timeout: TIMEOUT }, async () => {
  const k = exampleKernel("x86_64");
  const dir = join(scratch, "payloads");
  mkdirSync(join(dir, "root/etc"), { recursive: true });
  mkdirSync(join(dir, "root/usr/bin"), { recursive: true });
  mkdirSync(join(dir, "data/conf"), { recursive: true });
  try {
    writeFileSync(join(dir, "root/etc/os-release"), 'ID=appliance\n');
    writeFileSync(join(dir, "root/usr/bin/agent"), "#!/bin/sh\n", { mode: 0o755 });
    spawnSync("ln", ["-s", "agent", join(dir, "root/usr/bin/agent-link")]);
    assert.equal(spawnSync("tar", ["-C", join(dir, "root"), "-cf", join(dir, "rootfs.tar"), "."]).status, 0);
    writeFileSync(join(dir, "data/conf/site.toml"), "x = 1\n");
    const { writeCpio } = await import("../../src/boot/cpio.js");
    writeFileSync(join(dir, "my.cpio"), writeCpio([{ type: "file", path: "init", mode: 0o755, data: Buffer.from("#!/bin/sh\n") }]));
    const { makeImage } = await import("../../src/image/make.js");
    const { inspectDisk } = await import("../../src/image/inspect.js");
    const made = await makeImage(
      { name: "payload", arch: "x86_64", release: k.release, kernel: k.image, initramfs: join(dir, "my.cpio"), cmdline: "console=ttyS0", rootfs: join(dir, "rootfs.tar"), data: join(dir, "data"), sizes: { espMiB: 16, systemMiB: 16, dataMiB: 8 }, timestamp: k.manifest.inputs.source.timestamp },
      { outDir: join(dir, "out"), disk: join(dir, "disk.img"), scratch: join(dir, "stage") },
    );
    const r = await inspectDisk(made.disk);
    assert.deepEqual(r.problems, []);
    for (const n of [1, 2]) {
      const files = r.partitions[n]!.files;
      assert.equal(files.find((f) => f.path === "etc/os-release")?.size, 13);
      assert.equal(files.find((f) => f.path === "usr/bin/agent")?.type, "file");
      assert.equal(files.find((f) => f.path === "usr/bin/agent-link")?.type, "symlink");
      assert.ok(files.some((f) => f.path === "boot/vmlinuz"));
    }
    assert.deepEqual(r.partitions[3]!.files.map((f) => `${f.path}:${f.type}`), ["conf:dir", "conf/site.toml:file"]);
    assert.equal(r.slots.A!.cmdline, "console=ttyS0 kiln.slot=A");
    assert.equal(r.slots.B!.initramfsBytes, readFileSync(join(dir, "my.cpio")).length);
    const p = JSON.parse(spawnSync("sfdisk", ["-J", made.disk], { encoding: "utf8" }).stdout) as { partitiontable: { partitions: { start: number }[] } };
    const stat = spawnSync("debugfs", ["-R", "stat /usr/bin/agent", `${made.disk}?offset=${p.partitiontable.partitions[1]!.start * 512}`], { encoding: "utf8" }).stdout;
    assert.match(stat, /Mode:\s+0755/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

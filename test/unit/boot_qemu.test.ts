import { test } from "node:test";
import assert from "node:assert/strict";
import { ARCHES } from "../../src/tables/arches.js";
import { createHash } from "node:crypto";
import { kernelCmdline, parseCpusOption, parseMemoryOption, qemuArgv, shellQuote } from "../../src/boot/qemu.js";
import { ProjectError } from "../../src/errors.js";
import { probeArgv, probeFirmware } from "../../src/boot/kvm.js";
import { busyboxCandidates, defaultInitToolchain, elfInfo, initCompileArgs, initSourcePath, readInitSource } from "../../src/boot/init.js";

const x86 = ARCHES.x86_64!;
const arm = ARCHES.aarch64!;
const rv = ARCHES.riscv64!;

function after(argv: string[], flag: string): string | undefined {
  const i = argv.indexOf(flag);
  return i < 0 ? undefined : argv[i + 1];
}

test("x86_64 under TCG: q35, serial on stdio, no reboot, kernel and initrd", () => {
  const argv = qemuArgv({ arch: x86, accel: "tcg", kernel: "/k/bzImage", initrd: "/i.cpio", cmdline: "console=ttyS0", memoryMiB: 512, cpus: 1, console: "pipe" });
  assert.equal(argv[0], "qemu-system-x86_64");
  assert.equal(after(argv, "-machine"), "q35");
  assert.equal(after(argv, "-accel"), "tcg");
  assert.equal(after(argv, "-m"), "512M");
  assert.equal(after(argv, "-smp"), "1");
  assert.equal(after(argv, "-serial"), "stdio");
  assert.equal(after(argv, "-monitor"), "none");
  assert.equal(after(argv, "-kernel"), "/k/bzImage");
  assert.equal(after(argv, "-initrd"), "/i.cpio");
  assert.equal(after(argv, "-append"), "console=ttyS0");
  assert.ok(argv.includes("-no-reboot"));
  assert.ok(argv.includes("-nodefaults"));
  assert.equal(after(argv, "-cpu"), undefined);
  assert.equal(after(argv, "-bios"), undefined);
});

test("KVM uses the host CPU; TCG with several CPUs runs multi-threaded", () => {
  const kvm = qemuArgv({ arch: x86, accel: "kvm", kernel: "k", cmdline: "", memoryMiB: 2048, cpus: 4, console: "pipe" });
  assert.equal(after(kvm, "-accel"), "kvm");
  assert.equal(after(kvm, "-cpu"), "host");
  const tcg = qemuArgv({ arch: arm, accel: "tcg", kernel: "k", cmdline: "", memoryMiB: 2048, cpus: 2, console: "pipe" });
  assert.equal(after(tcg, "-accel"), "tcg,thread=multi");
});

test("aarch64 boots virt with a real CPU model; riscv64 boots virt through OpenSBI", () => {
  const a = qemuArgv({ arch: arm, accel: "tcg", kernel: "Image", cmdline: "", memoryMiB: 512, cpus: 1, console: "pipe" });
  assert.equal(a[0], "qemu-system-aarch64");
  assert.equal(after(a, "-machine"), "virt");
  assert.equal(after(a, "-cpu"), "cortex-a57");
  const r = qemuArgv({ arch: rv, accel: "tcg", kernel: "Image", cmdline: "", memoryMiB: 512, cpus: 1, console: "pipe" });
  assert.equal(r[0], "qemu-system-riscv64");
  assert.equal(after(r, "-machine"), "virt");
  assert.equal(after(r, "-bios"), "default");
});

test("interactive console multiplexes the monitor; rootfs is a virtio disk; extra args come last", () => {
  const argv = qemuArgv({
    arch: x86,
    accel: "tcg",
    kernel: "k",
    rootfs: "/img/root.ext4",
    cmdline: "x",
    memoryMiB: 1024,
    cpus: 2,
    console: "interactive",
    extraArgs: ["-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0"],
  });
  assert.equal(after(argv, "-serial"), "mon:stdio");
  assert.ok(!argv.includes("-monitor"));
  assert.equal(after(argv, "-drive"), "file=/img/root.ext4,format=raw,if=virtio");
  assert.deepEqual(argv.slice(-4), ["-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0"]);
});

test("bad memory and cpu counts are refused", () => {
  assert.throws(() => qemuArgv({ arch: x86, accel: "tcg", kernel: "k", cmdline: "", memoryMiB: 16, cpus: 1, console: "pipe" }), /memory/);
  assert.throws(() => qemuArgv({ arch: x86, accel: "tcg", kernel: "k", cmdline: "", memoryMiB: 512, cpus: 0, console: "pipe" }), /cpus/);
});

test("kernel command line: console first, panic reboots, user words last", () => {
  assert.equal(kernelCmdline(x86, { mode: "smoke" }), "console=ttyS0 panic=-1 rdinit=/init kiln.mode=smoke");
  assert.equal(kernelCmdline(arm, { mode: "smoke", append: " loglevel=7  foo " }), "console=ttyAMA0 earlycon panic=-1 rdinit=/init kiln.mode=smoke loglevel=7 foo");
  assert.equal(kernelCmdline(rv, { mode: "shell" }), "console=ttyS0 earlycon panic=-1 rdinit=/init kiln.mode=shell kiln.tty=ttyS0");
  assert.equal(kernelCmdline(x86, { initrd: false, rootfs: true }), "console=ttyS0 panic=-1 root=/dev/vda rw");
  assert.equal(kernelCmdline(x86, { initrd: false, rootfs: true, append: "root=/dev/vdb1" }), "console=ttyS0 panic=-1 root=/dev/vdb1");
  assert.equal(kernelCmdline(x86, { mode: "exec", quiet: true }), "console=ttyS0 panic=-1 rdinit=/init quiet kiln.mode=exec");
});

test("shellQuote quotes only what needs it", () => {
  assert.equal(shellQuote(["qemu", "-append", "console=ttyS0 panic=-1", "it's"]), `qemu -append 'console=ttyS0 panic=-1' 'it'\\''s'`);
});

test("the KVM probe: x86 reset-vector code exits through isa-debug-exit with the same CPU model", () => {
  const fw = probeFirmware("x86-debug-exit");
  assert.equal(fw.length, 65536);
  assert.deepEqual([...fw.subarray(0xfff0, 0xfff7)], [0xb0, 0x31, 0xe6, 0xf4, 0xf4, 0xeb, 0xfd]);
  const p = probeArgv(x86, "/tmp/fw.bin")!;
  assert.equal(p.expectExit, 99);
  assert.equal(after(p.argv, "-accel"), "kvm");
  assert.equal(after(p.argv, "-cpu"), "host");
  assert.equal(after(p.argv, "-machine"), x86.qemuMachine);
  assert.equal(after(p.argv, "-device"), "isa-debug-exit,iobase=0xf4,iosize=0x04");
  const arm64 = probeFirmware("arm64-psci-off");
  assert.equal(arm64.readUInt32LE(0), 0x52800100); // movz w0, #0x8
  assert.equal(arm64.readUInt32LE(8), 0xd4000002); // hvc #0
  assert.equal(probeArgv(rv, "/tmp/fw.bin"), undefined);
});

test("init toolchain: host gcc, cross gcc, or clang with a target", () => {
  assert.deepEqual(defaultInitToolchain(x86, { host: "x86_64" }), { cc: ["gcc"], libgcc: true });
  assert.deepEqual(defaultInitToolchain(arm, { host: "x86_64" }), { cc: ["aarch64-linux-gnu-gcc"], libgcc: true });
  assert.deepEqual(defaultInitToolchain(rv, { host: "x86_64", llvm: true }), { cc: ["clang", "--target=riscv64-linux-gnu"], libgcc: false });
  const argv = initCompileArgs({ toolchain: { cc: ["riscv64-linux-gnu-gcc"], libgcc: true }, nolibcHeader: "/t/nolibc.h", uapiInclude: "/u", source: "init.c", output: "init" });
  assert.equal(argv[0], "riscv64-linux-gnu-gcc");
  for (const f of ["-static", "-nostdlib", "-nostdinc"]) assert.ok(argv.includes(f), f);
  assert.equal(after(argv, "-include"), "/t/nolibc.h");
  assert.equal(after(argv, "-I"), "/u");
  assert.equal(argv.at(-1), "-lgcc");
});

function fakeElf(machine: number, interp: boolean): Buffer {
  const b = Buffer.alloc(4096);
  b.writeUInt32BE(0x7f454c46, 0);
  b[4] = 2; // 64-bit
  b[5] = 1; // little-endian
  b.writeUInt16LE(machine, 18);
  b.writeBigUInt64LE(64n, 32); // e_phoff
  b.writeUInt16LE(56, 54); // e_phentsize
  b.writeUInt16LE(2, 56); // e_phnum
  b.writeUInt32LE(1, 64); // PT_LOAD
  b.writeUInt32LE(interp ? 3 : 1, 64 + 56);
  return b;
}

test("elfInfo tells the machine and whether a binary is static", () => {
  assert.deepEqual(elfInfo(fakeElf(183, false)), { machine: "aarch64", is64: true, littleEndian: true, static: true });
  assert.equal(elfInfo(fakeElf(62, true))?.static, false);
  assert.equal(elfInfo(fakeElf(243, false))?.machine, "riscv64");
  assert.equal(elfInfo(Buffer.from("#!/bin/sh\n")), undefined);
});

test("busybox is looked for in the per-arch variable first, host paths only for the host arch", () => {
  const c = busyboxCandidates(arm, { KILN_BUSYBOX_AARCH64: "/opt/bb" }, "x86_64");
  assert.equal(c[0], "/opt/bb");
  assert.ok(!c.includes("/bin/busybox"));
  assert.ok(busyboxCandidates(x86, {}, "x86_64").includes("/bin/busybox"));
});

test("--memory and --cpus are checked when the options are parsed, with the option named", () => {
  assert.equal(parseMemoryOption("2048"), 2048);
  assert.equal(parseCpusOption("4"), 4);
  for (const bad of ["12", "12g", "", "-1", "1.5"]) {
    assert.throws(() => parseMemoryOption(bad), (e: unknown) => e instanceof ProjectError && e.where.symbol === "--memory" && e.message.includes(JSON.stringify(bad)) && /at least 64/.test(e.message), bad);
  }
  assert.throws(() => parseCpusOption("0"), (e: unknown) => e instanceof ProjectError && e.where.symbol === "--cpus");
  assert.throws(() => qemuArgv({ arch: x86, accel: "tcg", kernel: "k", cmdline: "", memoryMiB: 16, cpus: 1, console: "pipe" }), ProjectError);
});

test("the init's C source ships as src/boot/init.c and is found from the compiled module", () => {
  assert.match(initSourcePath(), /src\/boot\/init\.c$/);
  // Pinned: the init's bytes (and so every cached init key) change only on purpose (last: kernel.modprobe points at busybox's modprobe, ADR 0108).
  assert.equal(createHash("sha256").update(readInitSource()).digest("hex"), "8754d19761c7d26f3addb29c074249e3206fa50f31b4945a5e870ce498cc9e12");
});

import { test } from "node:test";
import assert from "node:assert/strict";
import {
  packBundle,
  inspectBundle,
  payloadFromVmlinux,
  payloadFromArm64Image,
  payloadFromRiscvImage,
  renderInspection,
  F,
  type BundleInspection,
} from "../../src/ship/bundle.js";
import { ProjectError } from "../../src/errors.js";

const GOLDEN_BASE =
  "5355424b0100000001000000010000000000000000000100000000010000000000000001000000000000010000000000" +
  "000001000000000000000000000000000000000000000000000000000000000000000000000000006000000000000000";

function problems(r: BundleInspection): string[] {
  return r.ok ? [] : r.problems.map((p) => `${p.offset}:${p.field}:${p.message}`);
}

test("golden header: base x86_64, 64 KiB kernel at 0x1000000", () => {
  const b = packBundle({
    arch: "x86_64",
    variant: "base",
    abiVersion: 1,
    pageSize: 65536,
    kernel: { data: Buffer.alloc(65536, 0xcc), loadAddr: 0x1000000n, entryAddr: 0x1000000n },
  });
  assert.equal(b.subarray(0, 96).toString("hex"), GOLDEN_BASE);
  assert.equal(b.length, 65536 * 2);
  assert.ok(b.subarray(96, 65536).every((x) => x === 0), "header padding is zero");
  const r = inspectBundle(b);
  assert.ok(r.ok, problems(r).join("\n"));
  assert.equal(r.bundle.arch, "x86_64");
  assert.equal(r.bundle.variant, "base");
  assert.deepEqual(r.bundle.sections, [{ name: "kernel", offset: 65536n, size: 65536n }]);
});

test("golden header: windows variant, 4 KiB page and 4 KiB kernel", () => {
  const b = packBundle({
    arch: "x86_64",
    variant: "windows",
    kernel: { data: Buffer.alloc(4096, 1), loadAddr: 0x1000000n, entryAddr: 0x1000000n },
  });
  const want = Buffer.from(GOLDEN_BASE, "hex");
  want.writeUInt32LE(3, 16);
  want.writeUInt32LE(4096, 20);
  want.writeBigUInt64LE(4096n, 40);
  want.writeBigUInt64LE(4096n, 48);
  const hdr = b.subarray(0, 96).toString("hex");
  assert.equal(hdr, want.toString("hex"));
  assert.equal(hdr.slice(32, 40), "03000000");
  assert.equal(hdr.slice(40, 48), "00100000");
  assert.equal(hdr.slice(80, 96), "0010000000000000");
  assert.equal(hdr.slice(96, 112), "0010000000000000");
  assert.equal(b.length, 8192);
  assert.ok(inspectBundle(b).ok);
});

test("payloads are padded and sections follow each other page-aligned", () => {
  const b = packBundle({
    arch: "aarch64",
    variant: "base",
    kernel: { data: Buffer.alloc(70000, 7), loadAddr: 0x40000000n, entryAddr: 0x40000000n },
    qboot: Buffer.alloc(10, 8),
    initrd: Buffer.alloc(65537, 9),
  });
  const r = inspectBundle(b);
  assert.ok(r.ok, problems(r).join("\n"));
  assert.deepEqual(
    r.bundle.sections.map((s) => [s.name, Number(s.offset), Number(s.size)]),
    [
      ["kernel", 65536, 131072],
      ["qboot", 196608, 65536],
      ["initrd", 262144, 131072],
    ],
  );
  assert.equal(b.length, 393216);
  assert.equal(b[65536 + 69999], 7);
  assert.equal(b[65536 + 70000], 0);
  assert.equal(b[262144], 9);
  // initrd without qboot goes right after the kernel
  const c = packBundle({
    arch: "riscv64",
    variant: "base",
    kernel: payloadFromRiscvImage(Buffer.alloc(100, 1)),
    initrd: Buffer.alloc(5, 2),
  });
  const rc = inspectBundle(c);
  assert.ok(rc.ok);
  assert.deepEqual(rc.bundle.sections.map((s) => s.name), ["kernel", "initrd"]);
  assert.equal(c.readBigUInt64LE(F.qbootOffset), 0n);
  assert.equal(c.readBigUInt64LE(F.initrdOffset), 131072n);
  assert.equal(c.readBigUInt64LE(F.loadAddr), 0x80000000n);
});

test("pack refuses a page size or variant that the arch does not have", () => {
  const kernel = { data: Buffer.alloc(1), loadAddr: 0x1000000n, entryAddr: 0x1000000n };
  assert.throws(() => packBundle({ arch: "x86_64", variant: "base", pageSize: 4096, kernel }), ProjectError);
  assert.throws(() => packBundle({ arch: "aarch64", variant: "windows", kernel }), /does not exist for aarch64/);
  assert.throws(() => packBundle({ arch: "x86_64", variant: "base", kernel: { ...kernel, data: Buffer.alloc(0) } }), /empty/);
});

function good(): Buffer {
  return packBundle({
    arch: "x86_64",
    variant: "base",
    kernel: { data: Buffer.alloc(65536, 0xcc), loadAddr: 0x1000000n, entryAddr: 0x1000000n },
    initrd: Buffer.alloc(100, 1),
  });
}

test("inspect: hostile and corrupt bundles are refused with offset and reason", () => {
  const cases: [string, (b: Buffer) => Buffer, RegExp][] = [
    ["empty file", () => Buffer.alloc(0), /^0:magic:not a SUBK bundle/],
    ["short header", (b) => b.subarray(0, 50), /^50:header:.*shorter than the 96-byte header/],
    ["bad magic", (b) => (b.write("ELF!", 0), b), /^0:magic:magic is "ELF!"/],
    ["format version", (b) => (b.writeUInt32LE(2, 4), b), /^4:format_version:format version 2/],
    ["unknown arch", (b) => (b.writeUInt32LE(9, 12), b), /^12:arch:unknown arch code 9/],
    ["unknown variant", (b) => (b.writeUInt32LE(7, 16), b), /^16:variant:unknown variant code 7/],
    ["page not power of two", (b) => (b.writeUInt32LE(65535, 20), b), /^20:page_size:.*not a power of two/],
    ["page wrong for variant", (b) => (b.writeUInt32LE(4096, 20), b), /^20:page_size:page size 4096 but variant base/],
    ["header size", (b) => (b.writeBigUInt64LE(64n, 88), b), /^88:header_size:/],
    ["kernel misaligned", (b) => (b.writeBigUInt64LE(65537n, 40), b), /^40:kernel_offset:.*not aligned/],
    ["kernel size zero", (b) => (b.writeBigUInt64LE(0n, 48), b), /^48:kernel_size:kernel size is 0/],
    ["kernel overlaps header", (b) => (b.writeBigUInt64LE(0n, 40), b), /^40:kernel_offset:.*offset 0/],
    ["initrd overlaps kernel", (b) => (b.writeBigUInt64LE(65536n, 72), b), /^72:initrd_offset:initrd at 0x10000 overlaps the kernel/],
    ["initrd past end", (b) => (b.writeBigUInt64LE(1n << 62n, 80), b), /^72:initrd_offset:.*past the end/],
    ["size overflow", (b) => (b.writeBigUInt64LE(0xffffffffffff0000n, 80), b), /past the end/],
    ["truncated", (b) => b.subarray(0, b.length - 1), /^72:initrd_offset:.*past the end of the 196607-byte file/],
    ["trailing bytes", (b) => Buffer.concat([b, Buffer.alloc(3)]), /^196608:file_end:3 trailing bytes/],
    ["half-present qboot", (b) => (b.writeBigUInt64LE(131072n, 56), b), /^64:qboot_size:qboot has offset 0x20000 but size 0/],
    ["entry outside kernel", (b) => (b.writeBigUInt64LE(0x2000000n, 32), b), /^32:entry_addr:entry 0x2000000 is outside/],
    ["windows on aarch64", (b) => (b.writeUInt32LE(2, 12), b.writeUInt32LE(3, 16), b), /variant windows does not exist for aarch64/],
  ];
  for (const [name, corrupt, want] of cases) {
    const r = inspectBundle(corrupt(good()));
    assert.equal(r.ok, false, `${name}: accepted`);
    const ps = problems(r);
    assert.ok(ps.some((p) => want.test(p)), `${name}: got\n${ps.join("\n")}`);
  }
  const text = renderInspection(inspectBundle(Buffer.from("nope")), "x.kernel");
  assert.match(text, /^x\.kernel: not a valid SUBK bundle:\n  byte 0 \(magic\)/);
});

test("inspect: random garbage never throws", () => {
  let seed = 42;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) & 0xff);
  for (let i = 0; i < 300; i++) {
    const b = good();
    for (let k = 0; k < 4; k++) b[rnd() % 96] = rnd();
    const r = inspectBundle(b);
    if (!r.ok) assert.ok(r.problems.length > 0);
  }
});

/** A small synthetic x86_64 ELF with the given PT_LOAD segments. */
function elf(segs: { paddr: bigint; vaddr?: bigint; data: Buffer; memsz?: bigint }[], entry: bigint): Buffer {
  const phoff = 64;
  let dataOff = phoff + 56 * segs.length;
  const parts: Buffer[] = [];
  const h = Buffer.alloc(64);
  h.writeUInt32BE(0x7f454c46, 0);
  h[4] = 2;
  h[5] = 1;
  h[6] = 1;
  h.writeUInt16LE(2, 16);
  h.writeUInt16LE(62, 18);
  h.writeBigUInt64LE(entry, 24);
  h.writeBigUInt64LE(BigInt(phoff), 32);
  h.writeUInt16LE(64, 52);
  h.writeUInt16LE(56, 54);
  h.writeUInt16LE(segs.length, 56);
  parts.push(h);
  const blobs: Buffer[] = [];
  for (const s of segs) {
    const p = Buffer.alloc(56);
    p.writeUInt32LE(1, 0);
    p.writeBigUInt64LE(BigInt(dataOff), 8);
    p.writeBigUInt64LE(s.vaddr ?? 0xffffffff80000000n + s.paddr, 16);
    p.writeBigUInt64LE(s.paddr, 24);
    p.writeBigUInt64LE(BigInt(s.data.length), 32);
    p.writeBigUInt64LE(s.memsz ?? BigInt(s.data.length), 40);
    parts.push(p);
    blobs.push(s.data);
    dataOff += s.data.length;
  }
  return Buffer.concat([...parts, ...blobs]);
}

test("vmlinux flattening: gaps zero-filled, bss tail not stored, load masked", () => {
  const e = elf(
    [
      { paddr: 0x1000000n, data: Buffer.alloc(0x100, 0xaa), memsz: 0x200n },
      { paddr: 0x1001000n, data: Buffer.alloc(0x10, 0xbb), memsz: 0x5000n },
    ],
    0x1000040n,
  );
  const p = payloadFromVmlinux(e);
  assert.equal(p.loadAddr, 0x1000000n);
  assert.equal(p.entryAddr, 0x1000040n);
  assert.equal(p.data.length, 0x1010);
  assert.equal(p.data[0xff], 0xaa);
  assert.equal(p.data[0x100], 0);
  assert.equal(p.data[0xfff], 0);
  assert.equal(p.data[0x1000], 0xbb);
});

test("vmlinux flattening: overlap, truncation and wrong machine are errors", () => {
  const overlap = elf(
    [
      { paddr: 0x1000000n, data: Buffer.alloc(0x100), memsz: 0x2000n },
      { paddr: 0x1001000n, data: Buffer.alloc(0x10) },
    ],
    0x1000000n,
  );
  assert.throws(() => payloadFromVmlinux(overlap), /segment 1 at physical 0x1001000 overlaps segment 0 ending at 0x1002000/);
  const ok = elf([{ paddr: 0x1000000n, data: Buffer.alloc(0x100) }], 0x1000000n);
  assert.throws(() => payloadFromVmlinux(ok.subarray(0, ok.length - 1)), /PT_LOAD segment 0 needs file bytes/);
  assert.throws(() => payloadFromVmlinux(ok.subarray(0, 40)), /file ends before the ELF header/);
  const arm = Buffer.from(ok);
  arm.writeUInt16LE(183, 18);
  assert.throws(() => payloadFromVmlinux(arm), /not x86_64/);
  assert.throws(() => payloadFromVmlinux(Buffer.from("#!/bin/sh\n".padEnd(80))), /not an ELF file/);
});

test("arm64 Image: magic checked, load = base + text_offset, base configurable", () => {
  const img = Buffer.alloc(4096);
  img.writeBigUInt64LE(0x80000n, 8);
  img.writeUInt32LE(0x644d5241, 56);
  const p = payloadFromArm64Image(img);
  assert.equal(p.loadAddr, 0x40080000n);
  assert.equal(p.entryAddr, 0x40080000n);
  assert.equal(payloadFromArm64Image(img, { base: 0x80000000n }).loadAddr, 0x80080000n);
  const bad = Buffer.from(img);
  bad.writeUInt32LE(0, 56);
  assert.throws(() => payloadFromArm64Image(bad), /magic at byte 56 is 0x0, expected 0x644d5241/);
  assert.throws(() => payloadFromArm64Image(Buffer.alloc(10)), /shorter than its 64-byte header/);
  const b = packBundle({ arch: "aarch64", variant: "base", kernel: p });
  assert.ok(inspectBundle(b).ok);
});

/**
 * kiln's one ELF reader, on real binaries of this host (the shell and Node itself) and on
 * headers of the other kinds it must tell apart.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, realpathSync } from "node:fs";
import { elfInfo, readElf64, readElfSections, firstDifferingSection, ElfFormatError, PT_LOAD } from "../../src/core/elf.js";
import { ARCHES, hostArch } from "../../src/tables/arches.js";

const sh = readFileSync(realpathSync("/bin/sh"));
const node = readFileSync(process.execPath);

test("elfInfo on real host binaries: the host arch, dynamically linked", () => {
  for (const [name, buf] of [["/bin/sh", sh], [process.execPath, node]] as const) {
    const info = elfInfo(buf.subarray(0, 4096));
    assert.ok(info, name);
    assert.equal(info.machine, hostArch(), name);
    assert.equal(info.is64, true);
    assert.equal(info.littleEndian, true);
    assert.equal(info.static, false, `${name} has a PT_INTERP`);
  }
});

test("elfInfo: 32-bit big-endian headers, unknown machines, not an ELF", () => {
  const b = Buffer.alloc(128);
  b.writeUInt32BE(0x7f454c46, 0);
  b[4] = 1; // 32-bit
  b[5] = 2; // big-endian
  b.writeUInt16BE(40, 18); // EM_ARM
  b.writeUInt32BE(52, 28); // e_phoff
  b.writeUInt16BE(32, 42); // e_phentsize
  b.writeUInt16BE(1, 44); // e_phnum
  b.writeUInt32BE(3, 52); // PT_INTERP
  assert.deepEqual(elfInfo(b), { machine: "arm", is64: false, littleEndian: false, static: false });
  b.writeUInt16BE(2, 18);
  assert.equal(elfInfo(b)?.machine, "e_machine=2");
  assert.equal(elfInfo(Buffer.from("#!/bin/sh\necho hi\n".padEnd(80))), undefined);
});

test("readElf64 on the host shell: machine from the arch table, loadable segments inside the file", () => {
  const e = readElf64(sh);
  assert.equal(e.machine, ARCHES[hostArch()]!.elfMachine);
  const loads = e.segments.filter((s) => s.type === PT_LOAD);
  assert.ok(loads.length >= 1);
  for (const s of loads) assert.ok(s.offset + s.filesz <= BigInt(sh.length));
  const names = readElfSections(sh).map((s) => s.name);
  for (const n of [".text", ".dynamic", ".shstrtab"]) assert.ok(names.includes(n), n);
});

test("readElf64 names the offset when a real file is cut short or is not ELF64", () => {
  assert.throws(() => readElf64(sh.subarray(0, 40)), (e: unknown) => e instanceof ElfFormatError && e.offset === 0);
  const cut = sh.subarray(0, 100);
  assert.throws(() => readElf64(cut), (e: unknown) => e instanceof ElfFormatError && /program header/.test(e.message));
  assert.throws(() => readElf64(Buffer.alloc(64)), /bad magic/);
});

test("firstDifferingSection finds the section a one-byte change lands in", () => {
  const text = readElfSections(sh).find((s) => s.name === ".text")!;
  const changed = Buffer.from(sh);
  changed[text.offset + 10] = changed[text.offset + 10]! ^ 0xff;
  assert.equal(firstDifferingSection(sh, sh), "all sections equal; the headers or layout differ");
  assert.equal(firstDifferingSection(sh, changed), `section .text: first difference at section offset 0xa (sizes ${text.size} vs ${text.size})`);
});

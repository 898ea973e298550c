/**
 * kiln's one ELF reader. Pure: it reads the bytes it is given, nothing else.
 *
 * - elfInfo: the identification of any ELF (32/64-bit, either byte order): machine, and
 *   whether it is static; enough to check a binary before it goes into a guest.
 * - readElf64 / readElfSections: ELF64 little-endian program and section headers, enough to
 *   flatten a kernel's vmlinux into the bytes a loader copies to guest memory and to compare
 *   two builds section by section. Every read is bounds-checked, so a truncated or hostile
 *   file gives an error naming the offset, never a garbage value.
 *
 * Machine numbers map to kiln's arch names through the arch table (src/tables/arches.ts).
 */
import { archByElfMachine } from "../tables/arches.js";
export interface ElfSegment {
  index: number;
  type: number;
  flags: number;
  offset: bigint;
  vaddr: bigint;
  paddr: bigint;
  filesz: bigint;
  memsz: bigint;
  align: bigint;
}

export interface Elf64 {
  type: number;
  machine: number;
  entry: bigint;
  segments: ElfSegment[];
}

export const PT_LOAD = 1;
export const PT_INTERP = 3;

/** ELF facts kiln checks before putting a binary into a guest. */
export interface ElfInfo {
  /** kiln arch name, or `e_machine=<n>` when no arch table row has it. */
  machine: string;
  is64: boolean;
  littleEndian: boolean;
  /** No PT_INTERP: runs without a dynamic loader. */
  static: boolean;
}

/** Machines that are not kiln arches but are worth naming in an error. */
const OTHER_MACHINES: Record<number, string> = { 3: "i386", 40: "arm" };

/**
 * Parses just enough of an ELF header: the first few KiB of a file will do (program headers
 * past the given bytes are not seen). Undefined when not an ELF file.
 */
export function elfInfo(buf: Buffer): ElfInfo | undefined {
  if (buf.length < 64 || buf.readUInt32BE(0) !== 0x7f454c46) return undefined;
  const is64 = buf[4] === 2;
  const le = buf[5] === 1;
  const u16 = (o: number) => (le ? buf.readUInt16LE(o) : buf.readUInt16BE(o));
  const u32 = (o: number) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const word = (o: number) => (is64 ? Number(le ? buf.readBigUInt64LE(o) : buf.readBigUInt64BE(o)) : u32(o));
  const em = u16(18);
  const phoff = word(is64 ? 32 : 28);
  const phentsize = u16(is64 ? 54 : 42);
  const phnum = u16(is64 ? 56 : 44);
  let hasInterp = false;
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * phentsize;
    if (o + 4 > buf.length) break;
    if (u32(o) === PT_INTERP) hasInterp = true;
  }
  const machine = archByElfMachine(em)?.name ?? OTHER_MACHINES[em] ?? `e_machine=${em}`;
  return { machine, is64, littleEndian: le, static: !hasInterp };
}

export class ElfFormatError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} (at byte ${offset})`);
  }
}

function need(buf: Buffer, off: number, len: number, what: string): void {
  if (off < 0 || off + len > buf.length) {
    throw new ElfFormatError(`file ends before ${what}: need ${len} bytes, file is ${buf.length} bytes`, off);
  }
}

/** Parses the ELF header and program headers. Throws ElfFormatError. */
export function readElf64(buf: Buffer): Elf64 {
  need(buf, 0, 64, "the ELF header");
  if (buf.readUInt32BE(0) !== 0x7f454c46) throw new ElfFormatError("not an ELF file (bad magic)", 0);
  if (buf[4] !== 2) throw new ElfFormatError(`not a 64-bit ELF (EI_CLASS ${buf[4]})`, 4);
  if (buf[5] !== 1) throw new ElfFormatError(`not a little-endian ELF (EI_DATA ${buf[5]})`, 5);
  const type = buf.readUInt16LE(16);
  const machine = buf.readUInt16LE(18);
  const entry = buf.readBigUInt64LE(24);
  const phoff = buf.readBigUInt64LE(32);
  const phentsize = buf.readUInt16LE(54);
  const phnum = buf.readUInt16LE(56);
  if (phnum > 0 && phentsize < 56) throw new ElfFormatError(`program header entry size ${phentsize} < 56`, 54);
  if (phoff > BigInt(buf.length)) throw new ElfFormatError(`program header offset ${phoff} is past the end`, 32);
  const segments: ElfSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const at = Number(phoff) + i * phentsize;
    need(buf, at, 56, `program header ${i}`);
    const seg: ElfSegment = {
      index: i,
      type: buf.readUInt32LE(at),
      flags: buf.readUInt32LE(at + 4),
      offset: buf.readBigUInt64LE(at + 8),
      vaddr: buf.readBigUInt64LE(at + 16),
      paddr: buf.readBigUInt64LE(at + 24),
      filesz: buf.readBigUInt64LE(at + 32),
      memsz: buf.readBigUInt64LE(at + 40),
      align: buf.readBigUInt64LE(at + 48),
    };
    if (seg.type === PT_LOAD) {
      if (seg.offset + seg.filesz > BigInt(buf.length)) {
        throw new ElfFormatError(
          `PT_LOAD segment ${i} needs file bytes ${seg.offset}..${seg.offset + seg.filesz} but the file is ${buf.length} bytes`,
          at + 8,
        );
      }
      if (seg.filesz > seg.memsz) {
        throw new ElfFormatError(`PT_LOAD segment ${i} has filesz ${seg.filesz} > memsz ${seg.memsz}`, at + 32);
      }
    }
    segments.push(seg);
  }
  return { type, machine, entry, segments };
}

export interface ElfSection {
  index: number;
  name: string;
  type: number;
  offset: number;
  size: number;
}

export const SHT_NOBITS = 8;

/** Section headers with names. Throws ElfFormatError on a malformed table. */
export function readElfSections(buf: Buffer): ElfSection[] {
  readElf64(buf); // validates the identification and header
  const shoff = Number(buf.readBigUInt64LE(40));
  const shentsize = buf.readUInt16LE(58);
  const shnum = buf.readUInt16LE(60);
  const shstrndx = buf.readUInt16LE(62);
  if (shnum === 0) return [];
  if (shentsize < 64) throw new ElfFormatError(`section header entry size ${shentsize} < 64`, 58);
  const raw: { name: number; type: number; offset: number; size: number }[] = [];
  for (let i = 0; i < shnum; i++) {
    const at = shoff + i * shentsize;
    need(buf, at, 64, `section header ${i}`);
    raw.push({
      name: buf.readUInt32LE(at),
      type: buf.readUInt32LE(at + 4),
      offset: Number(buf.readBigUInt64LE(at + 24)),
      size: Number(buf.readBigUInt64LE(at + 32)),
    });
  }
  const strtab = raw[shstrndx];
  const name = (off: number) => {
    if (!strtab || strtab.offset + off >= buf.length) return `#${off}`;
    const start = strtab.offset + off;
    const end = buf.indexOf(0, start);
    return buf.toString("latin1", start, end < 0 ? buf.length : end);
  };
  return raw.map((s, index) => ({ index, name: name(s.name), type: s.type, offset: s.offset, size: s.size }));
}

/**
 * The first section whose bytes differ between two ELF files, in file order, or a note on
 * why sections cannot be compared. Pure.
 */
export function firstDifferingSection(a: Buffer, b: Buffer): string {
  let sa: ElfSection[];
  let sb: ElfSection[];
  try {
    sa = readElfSections(a);
    sb = readElfSections(b);
  } catch (e) {
    return `not comparable by section (${(e as Error).message})`;
  }
  const byName = new Map(sb.map((s) => [s.name, s]));
  const ordered = [...sa].sort((x, y) => x.offset - y.offset);
  for (const s of ordered) {
    const t = byName.get(s.name);
    if (!t) return `section ${s.name} is only in the first file`;
    if (s.type === SHT_NOBITS || t.type === SHT_NOBITS) {
      if (s.size !== t.size) return `section ${s.name} (nobits): size ${s.size} vs ${t.size}`;
      continue;
    }
    const x = a.subarray(s.offset, s.offset + s.size);
    const y = b.subarray(t.offset, t.offset + t.size);
    if (!x.equals(y)) {
      const n = Math.min(x.length, y.length);
      let i = 0;
      while (i < n && x[i] === y[i]) i++;
      return `section ${s.name}: first difference at section offset 0x${i.toString(16)} (sizes ${s.size} vs ${t.size})`;
    }
  }
  for (const t of sb) if (!sa.some((s) => s.name === t.name)) return `section ${t.name} is only in the second file`;
  return "all sections equal; the headers or layout differ";
}

/**
 * A minimal ELF64 little-endian reader: just enough to flatten a kernel's
 * vmlinux into the bytes a loader copies to guest memory. Pure: works on a Buffer.
 * Every read is bounds-checked, so a truncated or hostile file gives an error
 * naming the offset, never a garbage value.
 */
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
export const EM_X86_64 = 62;
export const EM_AARCH64 = 183;
export const EM_RISCV = 243;

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

/**
 * The SUBK kernel bundle: a flat little-endian file a microVM monitor mmaps and
 * boots with no kernel-image parser of its own. 96-byte header, then page-aligned
 * sections (kernel, optional qboot firmware, optional initrd), each zero-padded to
 * the page size; the file ends exactly at the end of the last section.
 *
 * Pure: Buffers in, Buffers or typed descriptions out. See docs/adr/0030.
 */
import { ElfFormatError, PT_LOAD, readElf64 } from "../core/elf.js";
import { ProjectError } from "../errors.js";
import { ARCHES } from "../tables/arches.js";

export const SUBK_MAGIC = "SUBK";
export const SUBK_FORMAT_VERSION = 1;
export const SUBK_HEADER_SIZE = 96;

/** Arch codes in the header: the `bundle` column of the arch table (src/tables/arches.ts). */
export const BUNDLE_ARCHES: Readonly<Record<string, number>> = Object.fromEntries(
  Object.values(ARCHES).flatMap((a) => (a.bundle ? [[a.name, a.bundle.code] as const] : [])),
);
/** An arch name with a bundle row. */
export type BundleArch = string;

const archCodesText = () =>
  Object.entries(BUNDLE_ARCHES)
    .map(([a, c]) => `${c} ${a}`)
    .join(", ");

/**
 * Variant codes, the page size each is packed at, and the arches it exists for.
 * base and debug exist for every arch with a bundle row; sev/tdx are x86 confidential-compute
 * technologies and windows is the x86 WHP host.
 */
export const BUNDLE_VARIANTS = {
  base: { code: 0, pageSize: 65536, arches: Object.keys(BUNDLE_ARCHES) },
  sev: { code: 1, pageSize: 65536, arches: ["x86_64"] },
  tdx: { code: 2, pageSize: 65536, arches: ["x86_64"] },
  windows: { code: 3, pageSize: 4096, arches: ["x86_64"] },
  debug: { code: 4, pageSize: 65536, arches: Object.keys(BUNDLE_ARCHES) },
} as const satisfies Record<string, { code: number; pageSize: number; arches: readonly BundleArch[] }>;
export type BundleVariant = keyof typeof BUNDLE_VARIANTS;

/** Header field offsets (bytes). */
export const F = {
  magic: 0,
  formatVersion: 4,
  abiVersion: 8,
  arch: 12,
  variant: 16,
  pageSize: 20,
  loadAddr: 24,
  entryAddr: 32,
  kernelOffset: 40,
  kernelSize: 48,
  qbootOffset: 56,
  qbootSize: 64,
  initrdOffset: 72,
  initrdSize: 80,
  headerSize: 88,
} as const;

/** Default guest-physical base of the aarch64 Image (load = base + text_offset). */
export const AARCH64_DEFAULT_BASE = 0x40000000n;
/** Guest-physical load/entry of the riscv64 Image. */
export const RISCV64_LOAD = 0x80000000n;
/** Mask applied to the first PT_LOAD vaddr of an x86_64 vmlinux. */
export const X86_LOAD_MASK = 0xfffffffn;

export interface KernelPayload {
  /** The bytes copied to load_addr. */
  data: Buffer;
  loadAddr: bigint;
  entryAddr: bigint;
}

export interface PackInput {
  arch: BundleArch;
  variant: BundleVariant;
  /** From the build; default 1. */
  abiVersion?: number;
  /** Must equal the variant's page size when given (65536, or 4096 for windows). */
  pageSize?: number;
  kernel: KernelPayload;
  qboot?: Buffer;
  initrd?: Buffer;
}

export function alignUp(n: bigint, a: bigint): bigint {
  return ((n + a - 1n) / a) * a;
}

function pageSizeFor(arch: BundleArch, variant: BundleVariant, given?: number): number {
  const v = BUNDLE_VARIANTS[variant];
  if (!v) throw new ProjectError(`unknown bundle variant "${String(variant)}"`, {}, `use one of ${Object.keys(BUNDLE_VARIANTS).join(", ")}`);
  if (!BUNDLE_ARCHES[arch]) throw new ProjectError(`unknown bundle arch "${String(arch)}"`, {}, `use one of ${Object.keys(BUNDLE_ARCHES).join(", ")}`);
  if (!(v.arches as readonly string[]).includes(arch)) {
    throw new ProjectError(`bundle variant ${variant} does not exist for ${arch}`, {}, `${variant} is built for ${v.arches.join(", ")} only`);
  }
  if (given !== undefined && given !== v.pageSize) {
    throw new ProjectError(`page size ${given} does not match variant ${variant}, which is packed at ${v.pageSize}`);
  }
  return v.pageSize;
}

/** Packs a SUBK bundle. Deterministic: the same input gives the same bytes. */
export function packBundle(input: PackInput): Buffer {
  const page = BigInt(pageSizeFor(input.arch, input.variant, input.pageSize));
  const abi = input.abiVersion ?? 1;
  if (!Number.isInteger(abi) || abi < 0 || abi > 0xffffffff) throw new ProjectError(`abi version ${abi} is not a u32`);
  if (input.kernel.data.length === 0) throw new ProjectError("the kernel payload is empty");
  const sections: { data: Buffer; offset: bigint; size: bigint }[] = [];
  let cursor = alignUp(BigInt(SUBK_HEADER_SIZE), page);
  const place = (data: Buffer) => {
    const s = { data, offset: cursor, size: alignUp(BigInt(data.length), page) };
    cursor = alignUp(s.offset + s.size, page);
    sections.push(s);
    return s;
  };
  const kernel = place(input.kernel.data);
  const qboot = input.qboot && input.qboot.length > 0 ? place(input.qboot) : undefined;
  const initrd = input.initrd && input.initrd.length > 0 ? place(input.initrd) : undefined;
  const out = Buffer.alloc(Number(cursor));
  out.write(SUBK_MAGIC, F.magic, "ascii");
  out.writeUInt32LE(SUBK_FORMAT_VERSION, F.formatVersion);
  out.writeUInt32LE(abi, F.abiVersion);
  out.writeUInt32LE(BUNDLE_ARCHES[input.arch]!, F.arch);
  out.writeUInt32LE(BUNDLE_VARIANTS[input.variant].code, F.variant);
  out.writeUInt32LE(Number(page), F.pageSize);
  out.writeBigUInt64LE(input.kernel.loadAddr, F.loadAddr);
  out.writeBigUInt64LE(input.kernel.entryAddr, F.entryAddr);
  out.writeBigUInt64LE(kernel.offset, F.kernelOffset);
  out.writeBigUInt64LE(kernel.size, F.kernelSize);
  out.writeBigUInt64LE(qboot?.offset ?? 0n, F.qbootOffset);
  out.writeBigUInt64LE(qboot?.size ?? 0n, F.qbootSize);
  out.writeBigUInt64LE(initrd?.offset ?? 0n, F.initrdOffset);
  out.writeBigUInt64LE(initrd?.size ?? 0n, F.initrdSize);
  out.writeBigUInt64LE(BigInt(SUBK_HEADER_SIZE), F.headerSize);
  for (const s of sections) s.data.copy(out, Number(s.offset));
  return out;
}

/**
 * x86_64: flattens the vmlinux PT_LOAD segments by physical address, in order,
 * zero-filling the gaps (which covers an earlier segment's memsz tail).
 * load_addr = first PT_LOAD vaddr & 0xFFFFFFF, entry = e_entry.
 */
export function payloadFromVmlinux(elf: Buffer, file = "vmlinux"): KernelPayload {
  let parsed;
  try {
    parsed = readElf64(elf);
  } catch (e) {
    if (e instanceof ElfFormatError) throw new ProjectError(`${e.message}`, { file }, "pass the build dir's vmlinux (an x86_64 ELF)");
    throw e;
  }
  const x86 = ARCHES.x86_64!;
  if (parsed.machine !== x86.elfMachine) {
    throw new ProjectError(`vmlinux is for ELF machine ${parsed.machine}, not x86_64 (${x86.elfMachine})`, { file });
  }
  const loads = parsed.segments.filter((s) => s.type === PT_LOAD);
  const first = loads[0];
  if (!first) throw new ProjectError("vmlinux has no PT_LOAD segment", { file });
  const loadAddr = first.vaddr & X86_LOAD_MASK;
  if (first.paddr !== loadAddr) {
    throw new ProjectError(
      `first PT_LOAD segment: physical address 0x${first.paddr.toString(16)} differs from vaddr & 0xFFFFFFF = 0x${loadAddr.toString(16)}`,
      { file },
      "the kernel was linked at an unexpected address; check CONFIG_PHYSICAL_START/CONFIG_RELOCATABLE",
    );
  }
  const base = first.paddr;
  let end = base; // end of memory (memsz) covered so far
  let fileEnd = base; // end of bytes that must be present in the payload
  for (const [i, s] of loads.entries()) {
    if (s.paddr < end) {
      const prev = loads[i - 1]!;
      throw new ProjectError(
        `PT_LOAD segment ${s.index} at physical 0x${s.paddr.toString(16)} overlaps segment ${prev.index} ending at 0x${end.toString(16)}`,
        { file },
        "the segments must be disjoint and in ascending physical order",
      );
    }
    end = s.paddr + s.memsz;
    if (s.filesz > 0n) fileEnd = s.paddr + s.filesz;
  }
  const size = fileEnd - base;
  if (size > 1n << 31n) throw new ProjectError(`flattened kernel would be ${size} bytes (over 2 GiB)`, { file });
  const data = Buffer.alloc(Number(size));
  for (const s of loads) {
    if (s.filesz === 0n) continue;
    elf.copy(data, Number(s.paddr - base), Number(s.offset), Number(s.offset + s.filesz));
  }
  return { data, loadAddr, entryAddr: parsed.entry };
}

export const ARM64_IMAGE_MAGIC = 0x644d5241; // "ARM\x64" at byte 56

/** aarch64: the raw Image; load = entry = base + text_offset (base default 0x40000000). */
export function payloadFromArm64Image(image: Buffer, opts: { base?: bigint; file?: string } = {}): KernelPayload {
  const file = opts.file ?? "Image";
  if (image.length < 64) throw new ProjectError(`arm64 Image is ${image.length} bytes, shorter than its 64-byte header`, { file });
  const magic = image.readUInt32LE(56);
  if (magic !== ARM64_IMAGE_MAGIC) {
    throw new ProjectError(
      `not an arm64 Image: magic at byte 56 is 0x${magic.toString(16)}, expected 0x644d5241 ("ARM\\x64")`,
      { file },
      "pass arch/arm64/boot/Image (uncompressed), not Image.gz or vmlinux",
    );
  }
  const textOffset = image.readBigUInt64LE(8);
  const addr = (opts.base ?? AARCH64_DEFAULT_BASE) + textOffset;
  return { data: image, loadAddr: addr, entryAddr: addr };
}

/** riscv64: the raw Image at 0x80000000. */
export function payloadFromRiscvImage(image: Buffer): KernelPayload {
  return { data: image, loadAddr: RISCV64_LOAD, entryAddr: RISCV64_LOAD };
}

// ---------------------------------------------------------------- inspection

export interface BundleSection {
  name: "kernel" | "qboot" | "initrd";
  offset: bigint;
  size: bigint;
}

export interface BundleDescription {
  formatVersion: number;
  abiVersion: number;
  arch: BundleArch;
  variant: BundleVariant;
  pageSize: number;
  loadAddr: bigint;
  entryAddr: bigint;
  headerSize: number;
  sections: BundleSection[];
  fileSize: number;
}

export interface BundleProblem {
  /** Byte offset of the offending field or data. */
  offset: number;
  field: string;
  message: string;
}

export type BundleInspection = { ok: true; bundle: BundleDescription } | { ok: false; problems: BundleProblem[] };

const hex = (n: bigint | number) => `0x${n.toString(16)}`;

/** Validates a bundle. Never throws on bad input; reports every problem it can find. */
export function inspectBundle(buf: Buffer): BundleInspection {
  const problems: BundleProblem[] = [];
  const bad = (offset: number, field: string, message: string) => problems.push({ offset, field, message });
  if (buf.length < SUBK_HEADER_SIZE) {
    if (buf.length < 4 || buf.toString("latin1", 0, 4) !== SUBK_MAGIC) {
      bad(0, "magic", `not a SUBK bundle: ${buf.length} bytes, no "SUBK" magic`);
    } else {
      bad(buf.length, "header", `file is ${buf.length} bytes, shorter than the ${SUBK_HEADER_SIZE}-byte header`);
    }
    return { ok: false, problems };
  }
  const magic = buf.toString("latin1", 0, 4);
  if (magic !== SUBK_MAGIC) {
    bad(F.magic, "magic", `magic is ${JSON.stringify(magic)} (${buf.subarray(0, 4).toString("hex")}), expected "SUBK"`);
    return { ok: false, problems };
  }
  const u32 = (o: number) => buf.readUInt32LE(o);
  const u64 = (o: number) => buf.readBigUInt64LE(o);
  const formatVersion = u32(F.formatVersion);
  if (formatVersion !== SUBK_FORMAT_VERSION) bad(F.formatVersion, "format_version", `format version ${formatVersion} is not supported (only ${SUBK_FORMAT_VERSION})`);
  const archCode = u32(F.arch);
  const arch = Object.keys(BUNDLE_ARCHES).find((a) => BUNDLE_ARCHES[a] === archCode);
  if (!arch) bad(F.arch, "arch", `unknown arch code ${archCode} (${archCodesText()})`);
  const variantCode = u32(F.variant);
  const variant = (Object.keys(BUNDLE_VARIANTS) as BundleVariant[]).find((v) => BUNDLE_VARIANTS[v].code === variantCode);
  if (!variant) bad(F.variant, "variant", `unknown variant code ${variantCode} (0 base, 1 sev, 2 tdx, 3 windows, 4 debug)`);
  if (arch && variant && !(BUNDLE_VARIANTS[variant].arches as readonly string[]).includes(arch)) {
    bad(F.variant, "variant", `variant ${variant} does not exist for ${arch}`);
  }
  const pageSize = u32(F.pageSize);
  const pageOk = pageSize >= 4096 && (pageSize & (pageSize - 1)) === 0;
  if (!pageOk) bad(F.pageSize, "page_size", `page size ${pageSize} is not a power of two >= 4096`);
  else if (variant && BUNDLE_VARIANTS[variant].pageSize !== pageSize) {
    bad(F.pageSize, "page_size", `page size ${pageSize} but variant ${variant} is packed at ${BUNDLE_VARIANTS[variant].pageSize}`);
  }
  const headerSize = u64(F.headerSize);
  if (headerSize !== BigInt(SUBK_HEADER_SIZE)) bad(F.headerSize, "header_size", `header size ${headerSize}, expected ${SUBK_HEADER_SIZE}`);
  const loadAddr = u64(F.loadAddr);
  const entryAddr = u64(F.entryAddr);
  const fileSize = BigInt(buf.length);
  const page = BigInt(pageOk ? pageSize : 1);

  const raw: (BundleSection & { fieldAt: number })[] = [
    { name: "kernel", offset: u64(F.kernelOffset), size: u64(F.kernelSize), fieldAt: F.kernelOffset },
    { name: "qboot", offset: u64(F.qbootOffset), size: u64(F.qbootSize), fieldAt: F.qbootOffset },
    { name: "initrd", offset: u64(F.initrdOffset), size: u64(F.initrdSize), fieldAt: F.initrdOffset },
  ];
  const present: typeof raw = [];
  for (const s of raw) {
    const optional = s.name !== "kernel";
    if (optional && s.offset === 0n && s.size === 0n) continue;
    if (s.size === 0n) {
      bad(s.fieldAt + 8, `${s.name}_size`, optional ? `${s.name} has offset ${hex(s.offset)} but size 0 (both must be 0 when absent)` : "kernel size is 0");
      continue;
    }
    if (s.offset === 0n) {
      bad(s.fieldAt, `${s.name}_offset`, `${s.name} has size ${s.size} but offset 0 (inside the header)`);
      continue;
    }
    if (pageOk && s.offset % page !== 0n) bad(s.fieldAt, `${s.name}_offset`, `${s.name} offset ${hex(s.offset)} is not aligned to the page size ${pageSize}`);
    if (pageOk && s.size % page !== 0n) bad(s.fieldAt + 8, `${s.name}_size`, `${s.name} size ${s.size} is not a multiple of the page size ${pageSize}`);
    if (s.offset + s.size > fileSize) {
      bad(s.fieldAt, `${s.name}_offset`, `${s.name} spans ${hex(s.offset)}..${hex(s.offset + s.size)} past the end of the ${buf.length}-byte file (truncated?)`);
    }
    present.push(s);
  }
  const kernel = raw[0]!;
  if (pageOk && kernel.offset !== alignUp(BigInt(SUBK_HEADER_SIZE), page)) {
    bad(F.kernelOffset, "kernel_offset", `kernel offset ${hex(kernel.offset)}, expected ${hex(alignUp(96n, page))} (header padded to the page size)`);
  }
  // Overlaps with the header and with each other, in file order.
  const ordered = [...present].sort((a, b) => (a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0));
  let prevEnd = BigInt(SUBK_HEADER_SIZE);
  let prevName = "header";
  for (const s of ordered) {
    if (s.offset < prevEnd) {
      bad(s.fieldAt, `${s.name}_offset`, `${s.name} at ${hex(s.offset)} overlaps the ${prevName}, which ends at ${hex(prevEnd)}`);
    } else if (pageOk && s.offset !== alignUp(prevEnd, page)) {
      bad(s.fieldAt, `${s.name}_offset`, `${s.name} at ${hex(s.offset)} leaves a gap after the ${prevName}; expected ${hex(alignUp(prevEnd, page))}`);
    }
    if (s.offset + s.size > prevEnd) {
      prevEnd = s.offset + s.size;
      prevName = s.name;
    }
  }
  // The section order is fixed: kernel, then qboot, then initrd.
  const order = present.map((s) => s.name).join(",");
  const fileOrder = ordered.map((s) => s.name).join(",");
  if (order !== fileOrder) bad(F.kernelOffset, "sections", `sections are in file order ${fileOrder}; the format requires kernel, qboot, initrd`);
  if (present.length > 0 && prevEnd !== fileSize) {
    if (prevEnd < fileSize) bad(Number(prevEnd), "file_end", `${fileSize - prevEnd} trailing bytes after the last section (${prevName}) ending at ${hex(prevEnd)}`);
    // prevEnd > fileSize was reported as a truncation above.
  }
  if (arch && ARCHES[arch]?.bundle?.entryAtLoad) {
    if (loadAddr !== entryAddr) bad(F.entryAddr, "entry_addr", `${arch} bundles enter at the load address: entry ${hex(entryAddr)} != load ${hex(loadAddr)}`);
  }
  if (entryAddr < loadAddr || entryAddr >= loadAddr + kernel.size) {
    bad(F.entryAddr, "entry_addr", `entry ${hex(entryAddr)} is outside the kernel loaded at ${hex(loadAddr)}..${hex(loadAddr + kernel.size)}`);
  }
  if (loadAddr % 4096n !== 0n) bad(F.loadAddr, "load_addr", `load address ${hex(loadAddr)} is not 4 KiB aligned`);
  if (problems.length > 0 || !arch || !variant) return { ok: false, problems };
  return {
    ok: true,
    bundle: {
      formatVersion,
      abiVersion: u32(F.abiVersion),
      arch,
      variant,
      pageSize,
      loadAddr,
      entryAddr,
      headerSize: SUBK_HEADER_SIZE,
      sections: present.map(({ name, offset, size }) => ({ name, offset, size })),
      fileSize: buf.length,
    },
  };
}

/** Human-readable report for `kiln bundle inspect`. */
export function renderInspection(r: BundleInspection, file: string): string {
  if (!r.ok) {
    return [`${file}: not a valid SUBK bundle:`, ...r.problems.map((p) => `  byte ${p.offset} (${p.field}): ${p.message}`)].join("\n");
  }
  const b = r.bundle;
  const lines = [
    `${file}: SUBK v${b.formatVersion}, ${b.arch} ${b.variant}, abi ${b.abiVersion}, page ${b.pageSize}`,
    `  load  ${hex(b.loadAddr)}`,
    `  entry ${hex(b.entryAddr)}`,
    ...b.sections.map((s) => `  ${s.name.padEnd(6)} offset ${hex(s.offset)} size ${s.size}`),
    `  file  ${b.fileSize} bytes`,
  ];
  return lines.join("\n");
}

/** Conventional file name: linux-<version>-<variant>-<arch>.kernel. */
export function bundleFileName(version: string, variant: BundleVariant, arch: BundleArch): string {
  return `linux-${version}-${variant}-${arch}.kernel`;
}

/**
 * Reading a GPT (pure): the protective MBR, the primary header at LBA 1 (signature, CRC32s) and
 * its partition entries. kiln image inspect and update find the partitions with this, so they
 * need no partitioning tool and no loop device.
 */
export interface GptPartition {
  number: number;
  type: string;
  uuid: string;
  name: string;
  firstLba: number;
  lastLba: number;
  /** Byte offset and size in the disk. */
  offset: number;
  size: number;
}

export interface Gpt {
  diskUuid: string;
  sectorSize: number;
  firstUsable: number;
  lastUsable: number;
  partitions: GptPartition[];
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

export function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A mixed-endian GUID as text (first three fields little-endian). */
export function guidText(b: Buffer): string {
  const h = (s: number, e: number, rev: boolean) => {
    const x = Buffer.from(b.subarray(s, e));
    if (rev) x.reverse();
    return x.toString("hex");
  };
  return `${h(0, 4, true)}-${h(4, 6, true)}-${h(6, 8, true)}-${h(8, 10, false)}-${h(10, 16, false)}`.toUpperCase();
}

/**
 * Parses the primary GPT from the first sectors of a disk (at least 34 * 512 bytes).
 * Throws an Error saying what is wrong (no protective MBR, bad signature, CRC mismatch).
 */
export function parseGpt(head: Buffer, sectorSize = 512): Gpt {
  if (head.length < sectorSize * 2) throw new Error(`the disk is ${head.length} bytes: too small to hold a GPT`);
  if (head[510] !== 0x55 || head[511] !== 0xaa) throw new Error("no MBR boot signature (0x55AA) in sector 0: not a partitioned disk");
  if (head[sectorSize * 0 + 446 + 4] !== 0xee) throw new Error("the MBR's first partition is not the GPT protective type 0xEE: this is an MBR disk, not GPT");
  const h = head.subarray(sectorSize, sectorSize * 2);
  if (h.toString("latin1", 0, 8) !== "EFI PART") throw new Error('no "EFI PART" signature at LBA 1: the GPT header is missing');
  const headerSize = h.readUInt32LE(12);
  const hdr = Buffer.from(h.subarray(0, headerSize));
  const want = hdr.readUInt32LE(16);
  hdr.writeUInt32LE(0, 16);
  if (crc32(hdr) !== want) throw new Error("the GPT header's CRC32 does not match: the header is corrupt");
  const entriesLba = Number(h.readBigUInt64LE(72));
  const count = h.readUInt32LE(80);
  const entrySize = h.readUInt32LE(84);
  const entriesCrc = h.readUInt32LE(88);
  const start = entriesLba * sectorSize;
  const end = start + count * entrySize;
  if (end > head.length) throw new Error(`the partition entries end at byte ${end}, past the ${head.length} bytes read`);
  const entries = head.subarray(start, end);
  if (crc32(entries) !== entriesCrc) throw new Error("the GPT partition entries' CRC32 does not match: the table is corrupt");
  const partitions: GptPartition[] = [];
  for (let i = 0; i < count; i++) {
    const e = entries.subarray(i * entrySize, (i + 1) * entrySize);
    if (e.subarray(0, 16).every((x) => x === 0)) continue;
    const firstLba = Number(e.readBigUInt64LE(32));
    const lastLba = Number(e.readBigUInt64LE(40));
    const name = e.subarray(56, 128).toString("utf16le").replace(/\0.*$/s, "");
    partitions.push({
      number: i + 1,
      type: guidText(e.subarray(0, 16)),
      uuid: guidText(e.subarray(16, 32)),
      name,
      firstLba,
      lastLba,
      offset: firstLba * sectorSize,
      size: (lastLba - firstLba + 1) * sectorSize,
    });
  }
  return {
    diskUuid: guidText(h.subarray(56, 72)),
    sectorSize,
    firstUsable: Number(h.readBigUInt64LE(40)),
    lastUsable: Number(h.readBigUInt64LE(48)),
    partitions,
  };
}

/** Bytes to read from a disk's start to parse its GPT (128 entries of 128 bytes after LBA 2). */
export const GPT_HEAD_BYTES = 34 * 512;

/* ---------------------------------------------------------------- MBR (rpi-ab) */

export interface MbrPartition {
  number: number;
  /** 0x80 active, 0x00 inactive. */
  status: number;
  /** The partition type byte (0x0c FAT32 LBA, 0x83 Linux, 0xee GPT protective). */
  type: number;
  startLba: number;
  sectors: number;
  /** Byte offset and size in the disk. */
  offset: number;
  size: number;
}

export interface Mbr {
  /** The disk identifier at byte 440, as sfdisk's label-id prints it (0x + 8 hex). */
  diskId: string;
  partitions: MbrPartition[];
}

/**
 * Parses a DOS partition table from sector 0 (pure): the disk id at 440, the four primary
 * entries at 446 (status, type at +4, LBA start at +8, sector count at +12), the 0x55AA
 * signature. Empty entries (type 0) are left out. Throws an Error saying what is wrong.
 */
export function parseMbr(sector0: Buffer, sectorSize = 512): Mbr {
  if (sector0.length < 512) throw new Error(`the disk is ${sector0.length} bytes: too small to hold an MBR`);
  if (sector0[510] !== 0x55 || sector0[511] !== 0xaa) throw new Error("no MBR boot signature (0x55AA) in sector 0: not a partitioned disk");
  const partitions: MbrPartition[] = [];
  for (let i = 0; i < 4; i++) {
    const e = sector0.subarray(446 + i * 16, 446 + (i + 1) * 16);
    const type = e[4]!;
    if (type === 0) continue;
    const startLba = e.readUInt32LE(8);
    const sectors = e.readUInt32LE(12);
    partitions.push({ number: i + 1, status: e[0]!, type, startLba, sectors, offset: startLba * sectorSize, size: sectors * sectorSize });
  }
  return { diskId: `0x${sector0.readUInt32LE(440).toString(16).padStart(8, "0")}`, partitions };
}

/**
 * Which table a disk has (pure): "gpt" when sector 0 holds the protective 0xEE entry, "mbr" for a
 * DOS table without one; an Error message when sector 0 is no partition table at all.
 */
export function tableKind(sector0: Buffer): "gpt" | "mbr" | string {
  if (sector0.length < 512 || sector0[510] !== 0x55 || sector0[511] !== 0xaa) return "no MBR boot signature (0x55AA) in sector 0: not a partitioned disk";
  for (let i = 0; i < 4; i++) if (sector0[446 + i * 16 + 4] === 0xee) return "gpt";
  return "mbr";
}

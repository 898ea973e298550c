/**
 * The gpt-ab disk layout, as pure functions (no I/O): the partition plan, GUIDs derived from the
 * image's identity, the sfdisk script, GRUB's A/B configuration, the grubenv block, and each
 * slot's own config file. src/image/make.ts runs the tools over these; inspect and update read
 * them back. See docs/adr/0080-gpt-ab-images.md.
 *
 * Disk (512-byte sectors, 1 MiB aligned):
 *   1 EFI       FAT   EFI/BOOT/BOOTX64.EFI (GRUB), EFI/BOOT/grub.cfg, EFI/kiln/grubenv, kiln/image.json
 *   2 system-a  ext4  boot/vmlinuz, boot/initramfs.img, boot/kiln-slot.cfg (+ the rootfs payload)
 *   3 system-b  ext4  the same (slot B starts as a copy of A, as seed 004 ships it)
 *   4 data      ext4  the data payload
 */
import { createHash } from "node:crypto";

export const SECTOR = 512;
export const ALIGN_SECTORS = 2048; // 1 MiB
export const ESP_TYPE = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
export const LINUX_FS_TYPE = "0FC63DAF-8483-4772-8E79-3D69D8477DE4";
export const SLOTS = ["A", "B"] as const;
export type Slot = (typeof SLOTS)[number];

export type PartRole = "esp" | "system-a" | "system-b" | "data";
export const PART_NAMES: Record<PartRole, string> = { esp: "EFI", "system-a": "system-a", "system-b": "system-b", data: "data" };
export const PART_ROLES: readonly PartRole[] = ["esp", "system-a", "system-b", "data"];

export function slotRole(slot: Slot): PartRole {
  return slot === "A" ? "system-a" : "system-b";
}

export interface PartPlan {
  role: PartRole;
  /** 1-based partition number. */
  number: number;
  name: string;
  type: string;
  uuid: string;
  /** Filesystem UUID (ext4) or volume id (FAT, 8 hex digits). */
  fsId: string;
  label: string;
  startSector: number;
  sizeSectors: number;
}

export interface DiskPlan {
  diskUuid: string;
  totalSectors: number;
  parts: PartPlan[];
}

export interface Sizes {
  espMiB: number;
  systemMiB: number;
  dataMiB: number;
}

/** A GUID derived from a seed and a role: version-4 shaped, stable for the same inputs. */
export function derivedUuid(seed: string, role: string): string {
  const h = createHash("sha256").update(`kiln-image\0${seed}\0${role}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x40;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString("hex");
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`.toUpperCase();
}

/** The partition plan (pure): 1 MiB aligned, 1 MiB left at the end for the backup GPT. */
export function planDisk(seed: string, sizes: Sizes): DiskPlan {
  const mib = (n: number) => n * ALIGN_SECTORS;
  const want: [PartRole, number][] = [["esp", sizes.espMiB], ["system-a", sizes.systemMiB], ["system-b", sizes.systemMiB], ["data", sizes.dataMiB]];
  let at = ALIGN_SECTORS;
  const parts: PartPlan[] = want.map(([role, size], i) => {
    const p: PartPlan = {
      role,
      number: i + 1,
      name: PART_NAMES[role],
      type: role === "esp" ? ESP_TYPE : LINUX_FS_TYPE,
      uuid: derivedUuid(seed, `part:${role}`),
      fsId: role === "esp" ? derivedUuid(seed, "fs:esp").slice(0, 8) : derivedUuid(seed, `fs:${role}`).toLowerCase(),
      label: role === "esp" ? "EFI" : `kiln-${role}`,
      startSector: at,
      sizeSectors: mib(size),
    };
    at += p.sizeSectors;
    return p;
  });
  return { diskUuid: derivedUuid(seed, "disk"), totalSectors: at + ALIGN_SECTORS, parts };
}

export function part(plan: DiskPlan, role: PartRole): PartPlan {
  const p = plan.parts.find((x) => x.role === role);
  if (!p) throw new Error(`no ${role} partition in the plan`);
  return p;
}

/** sfdisk's input for the plan (pure). */
export function sfdiskScript(plan: DiskPlan): string {
  const lines = ["label: gpt", `label-id: ${plan.diskUuid}`, "unit: sectors", `first-lba: ${ALIGN_SECTORS}`, "sector-size: 512", ""];
  for (const p of plan.parts) lines.push(`start=${p.startSector}, size=${p.sizeSectors}, type=${p.type}, uuid=${p.uuid}, name="${p.name}"`);
  return lines.join("\n") + "\n";
}

/* ---------------------------------------------------------------- grubenv */

export const GRUBENV_SIZE = 1024;
const GRUBENV_HEADER = "# GRUB Environment Block\n";

/** GRUB's environment block: the header, key=value lines, '#' padding to 1024 bytes (pure). */
export function encodeGrubenv(vars: Record<string, string>): Buffer {
  let body = GRUBENV_HEADER;
  for (const [k, v] of Object.entries(vars)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`bad grubenv name ${JSON.stringify(k)}`);
    body += `${k}=${v.replace(/\\/g, "\\\\").replace(/\n/g, "\\\n")}\n`;
  }
  const b = Buffer.from(body, "utf8");
  if (b.length > GRUBENV_SIZE) throw new Error(`grubenv is over ${GRUBENV_SIZE} bytes`);
  return Buffer.concat([b, Buffer.alloc(GRUBENV_SIZE - b.length, "#")]);
}

/** Reads a grubenv block; a string describing what is wrong when it is not one (pure). */
export function parseGrubenv(b: Buffer): Record<string, string> | string {
  if (b.length !== GRUBENV_SIZE) return `grubenv is ${b.length} bytes, GRUB needs exactly ${GRUBENV_SIZE}`;
  const text = b.toString("utf8");
  if (!text.startsWith(GRUBENV_HEADER)) return "grubenv does not start with \"# GRUB Environment Block\"";
  const out: Record<string, string> = {};
  for (const line of text.slice(GRUBENV_HEADER.length).split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    if (eq <= 0) return `grubenv line ${JSON.stringify(line)} is not name=value`;
    out[line.slice(0, eq)] = line.slice(eq + 1).replace(/\\(.)/g, "$1");
  }
  return out;
}

/** The factory A/B state: boot A, A confirmed good, no try pending (seed 004's names). */
export function factoryGrubenv(): Record<string, string> {
  return { boot_default: "A", boot_once: "", boot_counter: "3", boot_success: "1" };
}

/** Problems with an A/B environment (pure); empty when it is sound. */
export function grubenvProblems(env: Record<string, string>): string[] {
  const out: string[] = [];
  if (!["A", "B"].includes(env.boot_default ?? "")) out.push(`boot_default is ${JSON.stringify(env.boot_default ?? "")}, expected A or B`);
  if (!["", "A", "B"].includes(env.boot_once ?? "")) out.push(`boot_once is ${JSON.stringify(env.boot_once)}, expected empty, A or B`);
  if (!["0", "1", "2", "3"].includes(env.boot_counter ?? "")) out.push(`boot_counter is ${JSON.stringify(env.boot_counter ?? "")}, expected 0 to 3`);
  if (!["0", "1"].includes(env.boot_success ?? "")) out.push(`boot_success is ${JSON.stringify(env.boot_success ?? "")}, expected 0 or 1`);
  return out;
}

/**
 * Which slot GRUB will boot next and what it writes back first (pure; mirrors grubCfg below, so
 * inspect can say it and unit tests pin the semantics):
 *   boot_once set           -> that slot, once (cleared before the kernel starts: a try that
 *                              fails leaves the next boot on boot_default)
 *   boot_success = 1        -> boot_default
 *   boot_success = 0, N > 0 -> boot_default, boot_counter N-1 (an update awaiting confirmation)
 *   boot_success = 0, N = 0 -> the other slot becomes boot_default, confirmed (fallback)
 */
export function nextBoot(env: Record<string, string>): { slot: Slot; env: Record<string, string>; why: string } {
  const e = { ...env };
  const def: Slot = e.boot_default === "B" ? "B" : "A";
  if (e.boot_once === "A" || e.boot_once === "B") {
    const slot = e.boot_once;
    e.boot_once = "";
    return { slot, env: e, why: `one-shot try of slot ${slot} (boot_once)` };
  }
  if (e.boot_success === "1") return { slot: def, env: e, why: `boot_default ${def}, confirmed` };
  const n = Number(e.boot_counter ?? "0");
  if (n > 0 && n <= 3) {
    e.boot_counter = String(n - 1);
    return { slot: def, env: e, why: `boot_default ${def}, unconfirmed: try ${4 - n} of 3` };
  }
  const other: Slot = def === "A" ? "B" : "A";
  e.boot_default = other;
  e.boot_counter = "3";
  e.boot_success = "1";
  return { slot: other, env: e, why: `slot ${def} used its 3 tries unconfirmed: falling back to ${other}` };
}

/* ---------------------------------------------------------------- GRUB */

export const ENV_PATH = "EFI/kiln/grubenv";
export const GRUB_CFG_PATH = "EFI/BOOT/grub.cfg";
export const IMAGE_JSON_PATH = "kiln/image.json";
export const SLOT_FILES = { kernel: "boot/vmlinuz", initramfs: "boot/initramfs.img", config: "boot/kiln-slot.cfg", ubootEnv: "boot/kiln-slot.env" } as const;

/**
 * GRUB's configuration (pure): serial console, A/B selection from grubenv as nextBoot describes,
 * then the slot's own kiln-slot.cfg (release and kernel command line) and its kernel + initramfs.
 * A slot without a kernel is skipped for the other one.
 */
export function grubCfg(o: { serialUnit?: number } = {}): string {
  const envf = `($esp)/${ENV_PATH}`;
  return `# kiln gpt-ab: A/B selection (docs/adr/0080-gpt-ab-images.md). Written by kiln image.
# the serial port when there is one (the firmware's console may mirror to it too: one output only)
if serial --unit=${o.serialUnit ?? 0} --speed=115200; then
  terminal_input serial console
  terminal_output serial
fi
set timeout=0
set esp="$root"
regexp --set=1:disk '^([^,]+),' "$root"
load_env -f ${envf}
if [ "$boot_default" != "B" ]; then set boot_default=A; fi
set slot="$boot_default"
if [ "$boot_once" = "A" -o "$boot_once" = "B" ]; then
  set slot="$boot_once"
  set boot_once=
  save_env -f ${envf} boot_once
  echo "kiln-grub: one-shot try of slot $slot"
elif [ "$boot_success" = "1" ]; then
  echo "kiln-grub: slot $slot, confirmed"
elif [ "$boot_counter" = "3" ]; then
  set boot_counter=2
  save_env -f ${envf} boot_counter
  echo "kiln-grub: slot $slot, unconfirmed, try 1 of 3"
elif [ "$boot_counter" = "2" ]; then
  set boot_counter=1
  save_env -f ${envf} boot_counter
  echo "kiln-grub: slot $slot, unconfirmed, try 2 of 3"
elif [ "$boot_counter" = "1" ]; then
  set boot_counter=0
  save_env -f ${envf} boot_counter
  echo "kiln-grub: slot $slot, unconfirmed, try 3 of 3"
else
  if [ "$slot" = "A" ]; then set slot=B; else set slot=A; fi
  set boot_default="$slot"
  set boot_counter=3
  set boot_success=1
  save_env -f ${envf} boot_default boot_counter boot_success
  echo "kiln-grub: tries used up, falling back to slot $slot"
fi
if [ "$slot" = "A" ]; then set part=gpt2; else set part=gpt3; fi
if [ ! -f "($disk,$part)/${SLOT_FILES.kernel}" ]; then
  echo "kiln-grub: slot $slot has no kernel, booting the other slot"
  if [ "$slot" = "A" ]; then set slot=B; set part=gpt3; else set slot=A; set part=gpt2; fi
fi
set root="($disk,$part)"
source /${SLOT_FILES.config}
echo "kiln-grub: booting slot $slot: $kiln_release"
linux /${SLOT_FILES.kernel} $kiln_cmdline
initrd /${SLOT_FILES.initramfs}
boot
`;
}

/** A GRUB string literal: single quotes, a quote inside closed and escaped (pure). */
export function grubQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export interface SlotInfo {
  release: string;
  cmdline: string;
}

/** The slot's config file GRUB sources (pure). */
export function slotCfg(s: SlotInfo): string {
  if (/[\n\r]/.test(s.release + s.cmdline)) throw new Error("a slot's release and command line are one line each");
  return `# kiln slot config: the release in this slot and its kernel command line\nset kiln_release=${grubQuote(s.release)}\nset kiln_cmdline=${grubQuote(s.cmdline)}\n`;
}

/** Reads slotCfg's output back (pure); a string saying what is wrong otherwise. */
export function parseSlotCfg(text: string): SlotInfo | string {
  const get = (k: string) => {
    const m = new RegExp(`^set ${k}='((?:[^']|'\\\\'')*)'$`, "m").exec(text);
    return m ? m[1]!.replace(/'\\''/g, "'") : undefined;
  };
  const release = get("kiln_release");
  const cmdline = get("kiln_cmdline");
  if (release === undefined) return "no kiln_release line";
  if (cmdline === undefined) return "no kiln_cmdline line";
  return { release, cmdline };
}

/** The slot a kernel command line names (kiln.slot=A|B), if any (pure). */
export function cmdlineSlot(cmdline: string): string | undefined {
  return /(?:^|\s)kiln\.slot=(\S+)/.exec(cmdline)?.[1];
}

/** `<name>-<release>-<arch>.img.zst` (pure). */
export function imageFileName(name: string, release: string, arch: string): string {
  return `${name}-${release}-${arch}.img.zst`;
}

/** What kiln/image.json on the ESP says. */
export interface ImageRecord {
  format: "kiln-image v1";
  name: string;
  layout: "gpt-ab" | "rpi-ab";
  arch: string;
  /** The release the image was made from (slot A and B at first). */
  release: string;
  /** The seed the GUIDs derive from (sha256 of the inputs). */
  seed: string;
  timestamp: number;
  /** rpi-ab: the DTBs each boot partition holds (names at its root), and the one config.txt names. */
  dtbs?: string[];
  boardDtb?: string;
}

/* ---------------------------------------------------------------- U-Boot (aarch64) */

/** U-Boot's `env import -t` text: name=value lines (pure). */
export function encodeUbootEnv(vars: Record<string, string>): Buffer {
  let body = "";
  for (const [k, v] of Object.entries(vars)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) || /[\n\r]/.test(v)) throw new Error(`bad U-Boot env entry ${k}`);
    body += `${k}=${v}\n`;
  }
  return Buffer.from(body, "utf8");
}

/** Reads `env export -t` text back (NULs U-Boot leaves at the end are dropped; a missing name is ""). */
export function parseUbootEnv(b: Buffer): Record<string, string> | string {
  const text = b.toString("utf8").replace(/\0+$/g, "");
  if (text.includes("\0")) return "the env file holds NUL bytes inside its text";
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    if (eq <= 0) return `env line ${JSON.stringify(line)} is not name=value`;
    out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  if (!("boot_default" in out)) return "the env file has no boot_default";
  out.boot_once ??= "";
  return out;
}

export type EnvFormat = "grubenv" | "uboot-text";

export function encodeEnv(format: EnvFormat, vars: Record<string, string>): Buffer {
  if (format === "grubenv") return encodeGrubenv(vars);
  // U-Boot drops a variable set to "" (setenv x): the file leaves an empty boot_once out too
  return encodeUbootEnv(Object.fromEntries(Object.entries(vars).filter(([, v]) => v !== "")));
}

export function parseEnv(format: EnvFormat, b: Buffer): Record<string, string> | string {
  return format === "grubenv" ? parseGrubenv(b) : parseUbootEnv(b);
}

/** The slot's config for U-Boot (env import -t): the same release and command line (pure). */
export function slotUbootEnv(s: SlotInfo): string {
  if (/[\n\r]/.test(s.release + s.cmdline)) throw new Error("a slot's release and command line are one line each");
  return `kiln_release=${s.release}\nkiln_cmdline=${s.cmdline}\n`;
}

/**
 * U-Boot's boot script (boot.cmd, wrapped by mkimage into boot.scr): the same A/B rules as
 * grubCfg and nextBoot, the state in envFile on the ESP (read with load + env import, written
 * with env export + fatwrite), then the slot's kernel and initramfs with booti and the device
 * tree QEMU gives U-Boot. Scratch memory: ramdisk_addr_r until the initramfs is loaded.
 */
export function ubootScript(envFile: string): string {
  const save = (_changed: string) =>
    `if env exists boot_once; then env export -t \${ramdisk_addr_r} boot_default boot_once boot_counter boot_success; else env export -t \${ramdisk_addr_r} boot_default boot_counter boot_success; fi; fatwrite virtio 0:1 \${ramdisk_addr_r} ${envFile} \${filesize}`;
  return `# kiln gpt-ab: A/B selection for U-Boot (docs/adr/0081-aarch64-image-boot.md). Written by kiln image.
echo "kiln-uboot: A/B"
load virtio 0:1 \${ramdisk_addr_r} ${envFile}
env import -t \${ramdisk_addr_r} \${filesize}
if test "\${boot_default}" != "B"; then setenv boot_default A; fi
setenv slot \${boot_default}
if test "\${boot_once}" = "A" -o "\${boot_once}" = "B"; then
  setenv slot \${boot_once}
  setenv boot_once
  ${save("boot_once")}
  echo "kiln-uboot: one-shot try of slot \${slot}"
elif test "\${boot_success}" = "1"; then
  echo "kiln-uboot: slot \${slot}, confirmed"
elif test "\${boot_counter}" = "3" -o "\${boot_counter}" = "2" -o "\${boot_counter}" = "1"; then
  setexpr boot_counter \${boot_counter} - 1
  ${save("boot_counter")}
  echo "kiln-uboot: slot \${slot}, unconfirmed, \${boot_counter} tries left"
else
  if test "\${slot}" = "A"; then setenv slot B; else setenv slot A; fi
  setenv boot_default \${slot}
  setenv boot_counter 3
  setenv boot_success 1
  ${save("boot_default boot_counter boot_success")}
  echo "kiln-uboot: tries used up, falling back to slot \${slot}"
fi
if test "\${slot}" = "A"; then setenv part 2; else setenv part 3; fi
if test ! -e virtio 0:\${part} /${SLOT_FILES.kernel}; then
  echo "kiln-uboot: slot \${slot} has no kernel, booting the other slot"
  if test "\${slot}" = "A"; then setenv slot B; setenv part 3; else setenv slot A; setenv part 2; fi
fi
load virtio 0:\${part} \${ramdisk_addr_r} /${SLOT_FILES.ubootEnv}
env import -t \${ramdisk_addr_r} \${filesize}
echo "kiln-uboot: booting slot \${slot}: \${kiln_release}"
load virtio 0:\${part} \${kernel_addr_r} /${SLOT_FILES.kernel}
load virtio 0:\${part} \${ramdisk_addr_r} /${SLOT_FILES.initramfs}
setenv bootargs "\${kiln_cmdline}"
booti \${kernel_addr_r} \${ramdisk_addr_r}:\${filesize} \${fdtcontroladdr}
`;
}

/* ---------------------------------------------------------------- rpi-ab (Raspberry Pi 4, arm64) */
/*
 * Disk (MBR, 512-byte sectors, 1 MiB aligned), see docs/adr/0111-rpi-ab-images.md:
 *   1 control  FAT    autoboot.txt (which boot partition the firmware takes), kiln/image.json
 *   2 boot-a   FAT32  kernel8.img, initramfs.img, config.txt, cmdline.txt, *.dtb, overlays/, firmware, kiln-slot.txt
 *   3 boot-b   FAT32  the same, kiln.slot=B
 *   4 data     ext4   the data payload
 */

export const MBR_FAT32_LBA = 0x0c;
export const MBR_LINUX = 0x83;
export type RpiRole = "control" | "boot-a" | "boot-b" | "data";
export const RPI_ROLES: readonly RpiRole[] = ["control", "boot-a", "boot-b", "data"];
export const RPI_CONTROL_MIB = 8;
export const RPI_DEFAULT_BOARD_DTB = "broadcom/bcm2711-rpi-4-b.dtb";
export const AUTOBOOT_PATH = "autoboot.txt";
export const RPI_FILES = { kernel: "kernel8.img", initramfs: "initramfs.img", config: "config.txt", cmdline: "cmdline.txt", slot: "kiln-slot.txt", overlays: "overlays" } as const;

export function rpiSlotRole(slot: Slot): RpiRole {
  return slot === "A" ? "boot-a" : "boot-b";
}

/** The MBR partition number of a slot's boot partition (what autoboot.txt's boot_partition names). */
export function rpiSlotPartition(slot: Slot): number {
  return slot === "A" ? 2 : 3;
}

export interface MbrPartPlan {
  role: RpiRole;
  number: number;
  type: number;
  /** FAT volume id (8 hex digits) or ext4 UUID. */
  fsId: string;
  label: string;
  startSector: number;
  sizeSectors: number;
}

export interface MbrDiskPlan {
  /** sfdisk's label-id: 0x + 8 hex digits, derived from the seed. */
  diskId: string;
  totalSectors: number;
  parts: MbrPartPlan[];
}

export interface RpiSizes {
  bootMiB: number;
  dataMiB: number;
}

/** The rpi-ab partition plan (pure): control, boot-a, boot-b, data; 1 MiB aligned. */
export function planRpiDisk(seed: string, sizes: RpiSizes): MbrDiskPlan {
  const want: [RpiRole, number][] = [["control", RPI_CONTROL_MIB], ["boot-a", sizes.bootMiB], ["boot-b", sizes.bootMiB], ["data", sizes.dataMiB]];
  let at = ALIGN_SECTORS;
  const parts = want.map(([role, size], i): MbrPartPlan => {
    const p: MbrPartPlan = {
      role,
      number: i + 1,
      type: role === "data" ? MBR_LINUX : MBR_FAT32_LBA,
      fsId: role === "data" ? derivedUuid(seed, "fs:data").toLowerCase() : derivedUuid(seed, `fs:${role}`).slice(0, 8),
      label: role === "control" ? "KILNCTL" : role === "boot-a" ? "KILNBOOTA" : role === "boot-b" ? "KILNBOOTB" : "kiln-data",
      startSector: at,
      sizeSectors: size * ALIGN_SECTORS,
    };
    at += p.sizeSectors;
    return p;
  });
  // a zero disk id means "none" to some tools: keep the derived one non-zero
  let id = derivedUuid(seed, "mbr-disk-id").slice(0, 8).toLowerCase();
  if (id === "00000000") id = "00000001";
  return { diskId: `0x${id}`, totalSectors: at, parts };
}

export function rpiPart(plan: MbrDiskPlan, role: RpiRole): MbrPartPlan {
  const p = plan.parts.find((x) => x.role === role);
  if (!p) throw new Error(`no ${role} partition in the plan`);
  return p;
}

/** sfdisk's input for an rpi-ab plan (pure). */
export function rpiSfdiskScript(plan: MbrDiskPlan): string {
  const lines = ["label: dos", `label-id: ${plan.diskId}`, "unit: sectors", "sector-size: 512", ""];
  for (const p of plan.parts) lines.push(`start=${p.startSector}, size=${p.sizeSectors}, type=${p.type.toString(16)}`);
  return lines.join("\n") + "\n";
}

/* autoboot.txt: the Pi firmware's A/B switch (tryboot_a_b=1; boot_partition per section) */

export type AutobootSections = Record<string, Record<string, string>>;

/** autoboot.txt for a normal and a tryboot partition (pure); the factory state is 2 and 3. */
export function encodeAutoboot(o: { normal: number; tryboot: number } = { normal: 2, tryboot: 3 }): string {
  return `[all]\ntryboot_a_b=1\nboot_partition=${o.normal}\n[tryboot]\nboot_partition=${o.tryboot}\n`;
}

/** Reads autoboot.txt into its sections (pure); a string saying what is wrong otherwise. */
export function parseAutoboot(text: string): AutobootSections | string {
  const out: AutobootSections = {};
  let section: string | undefined;
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const h = /^\[([^\]]+)\]$/.exec(line);
    if (h) {
      section = h[1]!;
      out[section] ??= {};
      continue;
    }
    const eq = line.indexOf("=");
    if (eq <= 0) return `line ${i + 1} ${JSON.stringify(line)} is not [section] or key=value`;
    if (section === undefined) return `line ${i + 1} ${JSON.stringify(line)} comes before any [section]`;
    out[section]![line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return out;
}

/** The partitions a normal boot and a tryboot take (pure; undefined where autoboot.txt names none). */
export function autobootBoots(a: AutobootSections): { normal?: number; tryboot?: number } {
  const n = a.all?.boot_partition;
  const t = a.tryboot?.boot_partition ?? n;
  return { ...(n !== undefined ? { normal: Number(n) } : {}), ...(t !== undefined ? { tryboot: Number(t) } : {}) };
}

/** Problems with autoboot.txt for a disk whose FAT partitions are fatParts (pure); empty when sound. */
export function autobootProblems(a: AutobootSections, fatParts: readonly number[]): string[] {
  const out: string[] = [];
  const known = new Set(["all", "tryboot"]);
  for (const s of Object.keys(a)) if (!known.has(s)) out.push(`section [${s}] is not one kiln writes ([all], [tryboot])`);
  if (!a.all) out.push("no [all] section");
  if (!a.tryboot) out.push("no [tryboot] section: a tryboot would take the normal partition");
  if (a.all && a.all.tryboot_a_b !== "1") out.push(`[all] tryboot_a_b is ${JSON.stringify(a.all.tryboot_a_b ?? "")}, expected 1 (without it the firmware ignores [tryboot] boot_partition)`);
  const check = (sec: string) => {
    const v = a[sec]?.boot_partition;
    if (a[sec] && v === undefined) out.push(`[${sec}] has no boot_partition`);
    else if (v !== undefined) {
      if (v !== "2" && v !== "3") out.push(`[${sec}] boot_partition is ${JSON.stringify(v)}, expected 2 (boot-a) or 3 (boot-b)`);
      else if (!fatParts.includes(Number(v))) out.push(`[${sec}] boot_partition=${v} names no FAT partition on the disk`);
    }
  };
  check("all");
  check("tryboot");
  const b = autobootBoots(a);
  if (b.normal !== undefined && b.tryboot !== undefined && b.normal === b.tryboot) out.push(`a normal boot and a tryboot both take partition ${b.normal}: there is nothing to try`);
  return out;
}

/** Sets [tryboot] (arm) or [all] (commit) boot_partition, keeping the rest (pure). */
export function setAutoboot(a: AutobootSections, o: { tryboot?: number; normal?: number }): { normal: number; tryboot: number } {
  const b = autobootBoots(a);
  const normal = o.normal ?? b.normal ?? 2;
  let tryboot = o.tryboot ?? b.tryboot ?? 3;
  if (o.normal !== undefined && o.tryboot === undefined && tryboot === normal) tryboot = normal === 2 ? 3 : 2;
  return { normal, tryboot };
}

/* config.txt and cmdline.txt of a boot partition */

/** config.txt (pure): 64-bit kernel8.img, the initramfs after the kernel, UART, the board's DTB. */
export function rpiConfigTxt(o: { release: string; slot: Slot; deviceTree?: string }): string {
  if (/[\n\r]/.test(o.release)) throw new Error("a release is one line");
  return [
    `# kiln rpi-ab slot ${o.slot}: ${o.release} (docs/adr/0111-rpi-ab-images.md). Written by kiln image.`,
    "arm_64bit=1",
    `kernel=${RPI_FILES.kernel}`,
    `initramfs ${RPI_FILES.initramfs} followkernel`,
    "enable_uart=1",
    ...(o.deviceTree ? [`device_tree=${o.deviceTree}`] : []),
    "",
  ].join("\n");
}

export interface RpiConfig {
  values: Record<string, string>;
  initramfs?: string;
}

/** Reads config.txt's key=value lines and its initramfs line (pure; [sections] are read flat). */
export function parseRpiConfig(text: string): RpiConfig {
  const out: RpiConfig = { values: {} };
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/#.*$/, "").trim();
    if (!line || /^\[.*\]$/.test(line)) continue;
    const ini = /^initramfs\s+(\S+)/.exec(line);
    if (ini) out.initramfs = ini[1]!;
    const eq = line.indexOf("=");
    if (eq > 0) out.values[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return out;
}

/** Problems with a boot partition's config.txt given the files at its root (pure). */
export function rpiConfigProblems(c: RpiConfig, files: readonly string[]): string[] {
  const out: string[] = [];
  const has = (f: string) => files.some((x) => x.toLowerCase() === f.toLowerCase());
  if (c.values.arm_64bit !== "1") out.push(`arm_64bit is ${JSON.stringify(c.values.arm_64bit ?? "")}, expected 1: the firmware would start the arm64 kernel in 32-bit mode`);
  const kernel = c.values.kernel ?? "kernel8.img";
  if (!has(kernel)) out.push(`kernel=${kernel} is not on the partition`);
  if (c.initramfs === undefined) out.push("no initramfs line: the kernel gets no initramfs");
  else if (!has(c.initramfs)) out.push(`initramfs ${c.initramfs} is not on the partition`);
  const dt = c.values.device_tree;
  if (dt !== undefined && dt !== "" && !has(dt)) out.push(`device_tree=${dt} is not on the partition`);
  return out;
}

/** cmdline.txt (pure): one line, the command line and kiln.slot= of its slot. */
export function rpiCmdlineTxt(base: string, slot: Slot): string {
  if (/[\n\r]/.test(base)) throw new Error("a kernel command line is one line");
  return `${`${base} kiln.slot=${slot}`.trim()}\n`;
}

/** Problems with a slot's cmdline.txt (pure): one line, naming kiln.slot= of its own slot. */
export function rpiCmdlineProblems(text: string, slot: Slot): string[] {
  const lines = text.replace(/\n$/, "").split("\n");
  const out: string[] = [];
  if (lines.length !== 1) out.push(`cmdline.txt has ${lines.length} lines: the firmware passes only the first`);
  const named = cmdlineSlot(lines[0] ?? "");
  if (named !== slot) out.push(`cmdline.txt says kiln.slot=${named ?? "(nothing)"}: the booted slot would be misreported`);
  return out;
}

/** The slot file on a boot partition: kiln_release= and kiln_cmdline= lines (pure). */
export function parseSlotTxt(text: string): SlotInfo | string {
  const get = (k: string) => new RegExp(`^${k}=(.*)$`, "m").exec(text)?.[1];
  const release = get("kiln_release");
  const cmdline = get("kiln_cmdline");
  if (release === undefined) return "no kiln_release line";
  if (cmdline === undefined) return "no kiln_cmdline line";
  return { release, cmdline };
}

/* DTBs: what of a dtbs_install folder goes onto the boot partitions */

export interface DtbPlan {
  /** [path under the dtbs folder, name at the partition root]. */
  dtbs: [string, string][];
  /** [path under the dtbs folder, name under overlays/]. */
  overlays: [string, string][];
  /** The DTB config.txt names (a root name), when there is one. */
  boardDtb?: string;
}

/**
 * Chooses the DTBs (pure) from every file under a dtbs_install folder (paths relative to it):
 * want, else every .dtb; the .dtbo of the chosen DTBs' vendor folders' overlays/; the board DTB
 * (board, else RPI_DEFAULT_BOARD_DTB when chosen). Throws an Error naming what is wrong.
 */
export function planDtbs(files: readonly string[], want?: readonly string[], board?: string): DtbPlan {
  const all = new Set(files);
  const dtbs = (want ?? files.filter((f) => f.endsWith(".dtb") && !f.split("/").includes("overlays"))).slice().sort();
  for (const d of dtbs) if (!all.has(d)) throw new Error(`the DTB ${d} is not in the build's DTBs (it has ${files.filter((f) => f.endsWith(".dtb")).length} .dtb files)`);
  const flat = new Map<string, string>();
  for (const d of dtbs) {
    const n = d.split("/").pop()!;
    if (flat.has(n)) throw new Error(`${d} and ${flat.get(n)} have the same name at the partition root`);
    flat.set(n, d);
  }
  const vendors = new Set(dtbs.map((d) => d.split("/").slice(0, -1).join("/")));
  const overlays = files
    .filter((f) => f.endsWith(".dtbo") && vendors.has(f.split("/").slice(0, -2).join("/")) && f.split("/").at(-2) === "overlays")
    .sort()
    .map((f): [string, string] => [f, f.split("/").pop()!]);
  const b = board ?? (dtbs.includes(RPI_DEFAULT_BOARD_DTB) ? RPI_DEFAULT_BOARD_DTB : undefined);
  if (b !== undefined && !dtbs.includes(b)) throw new Error(`board_dtb ${b} is not among the chosen DTBs`);
  return { dtbs: dtbs.map((d): [string, string] => [d, d.split("/").pop()!]), overlays, ...(b ? { boardDtb: b.split("/").pop()! } : {}) };
}

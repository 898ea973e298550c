/**
 * `kiln image inspect <file>`: the partition table, each filesystem's files, the boot
 * configuration (grubenv, the slot each boot takes next, each slot's release and command line),
 * and what is wrong with them. A problem makes the command exit 2.
 */
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { IMAGE_BOOT } from "../tables/image_boot.js";
import { decompressImage } from "./make.js";
import { e2List, e2Read, fatList, fatRead, findPart, readGpt, type FileEntry } from "./read.js";
import {
  cmdlineSlot, ESP_TYPE, GRUB_CFG_PATH, grubenvProblems, IMAGE_JSON_PATH, nextBoot, PART_ROLES, PART_NAMES, parseEnv, parseSlotCfg, SLOT_FILES, slotRole, SLOTS,
  type ImageRecord, type SlotInfo, type Slot,
} from "./layout.js";
import type { Gpt } from "./gpt.js";

export interface InspectedPart {
  number: number;
  name: string;
  type: string;
  uuid: string;
  offset: number;
  size: number;
  fs: "vfat" | "ext4";
  files: FileEntry[];
}

export interface Inspection {
  file: string;
  disk: { uuid: string; partitions: number };
  record?: ImageRecord;
  partitions: InspectedPart[];
  grubenv?: Record<string, string>;
  next?: { slot: Slot; why: string };
  slots: Partial<Record<Slot, SlotInfo & { kernelBytes: number; initramfsBytes: number }>>;
  problems: string[];
}

/** A raw disk for a path: the file itself, or a .img.zst unpacked into scratch. */
export async function rawDisk(file: string, scratch: string): Promise<{ disk: string; cleanup: () => void }> {
  if (!file.endsWith(".zst")) return { disk: file, cleanup: () => undefined };
  mkdirSync(scratch, { recursive: true });
  const disk = join(scratch, "disk.img");
  await decompressImage(file, disk);
  return { disk, cleanup: () => rmSync(scratch, { recursive: true, force: true }) };
}

export async function inspectDisk(disk: string, shownAs = disk): Promise<Inspection> {
  const problems: string[] = [];
  const out: Inspection = { file: shownAs, disk: { uuid: "", partitions: 0 }, partitions: [], slots: {}, problems };
  let g: Gpt;
  try {
    g = readGpt(disk);
  } catch (e) {
    problems.push((e as Error).message);
    return out;
  }
  out.disk = { uuid: g.diskUuid, partitions: g.partitions.length };
  for (const role of PART_ROLES) if (!findPart(g, role)) problems.push(`no partition named "${PART_NAMES[role]}" (gpt-ab has ${PART_ROLES.map((r) => PART_NAMES[r]).join(", ")})`);
  for (const p of g.partitions) {
    const isEsp = p.name === PART_NAMES.esp;
    if (isEsp && p.type !== ESP_TYPE) problems.push(`partition ${p.number} "${p.name}" has type ${p.type}, not the EFI system partition type ${ESP_TYPE}: firmware will not look there`);
    let files: FileEntry[] = [];
    try {
      files = isEsp ? await fatList(disk, p) : await e2List(disk, p);
    } catch (e) {
      problems.push(`partition ${p.number} "${p.name}": cannot read its ${isEsp ? "FAT" : "ext4"} filesystem: ${(e as Error).message.split("\n")[0]}`);
    }
    out.partitions.push({ number: p.number, name: p.name, type: p.type, uuid: p.uuid, offset: p.offset, size: p.size, fs: isEsp ? "vfat" : "ext4", files });
  }
  const esp = findPart(g, "esp");
  if (esp) {
    const rec = await fatRead(disk, esp, IMAGE_JSON_PATH);
    if (rec) {
      try {
        out.record = JSON.parse(rec.toString("utf8")) as ImageRecord;
      } catch {
        problems.push(`${IMAGE_JSON_PATH} on the ESP is not JSON`);
      }
    } else problems.push(`the ESP has no ${IMAGE_JSON_PATH}: not an image kiln made`);
    const arch = out.record?.arch;
    const boot = arch ? IMAGE_BOOT[arch] : undefined;
    const espFiles = out.partitions.find((p) => p.number === esp.number)?.files ?? [];
    const has = (path: string) => espFiles.some((f) => f.path.toLowerCase() === path.toLowerCase() && f.type === "file" && f.size > 0);
    if (arch && !boot) problems.push(`kiln/image.json says arch ${arch}, which kiln has no image boot for`);
    const ENV_PATH = boot?.envFile ?? IMAGE_BOOT.x86_64!.envFile;
    const loader = boot?.loader === "u-boot" ? "U-Boot" : "GRUB";
    if (boot && !has(boot.bootFile)) problems.push(`the ESP has no ${boot.bootFile}: the firmware has nothing to start`);
    if (boot?.loader === "grub-efi" && !has(GRUB_CFG_PATH)) problems.push(`the ESP has no ${GRUB_CFG_PATH}: GRUB has no A/B configuration`);
    const envRaw = await fatRead(disk, esp, ENV_PATH);
    if (!envRaw) problems.push(`the ESP has no ${ENV_PATH}: ${loader} cannot read or record the A/B state`);
    else {
      const env = parseEnv(boot?.envFormat ?? "grubenv", envRaw);
      if (typeof env === "string") problems.push(`${ENV_PATH}: ${env}`);
      else {
        out.grubenv = env;
        const bad = grubenvProblems(env);
        problems.push(...bad.map((b) => `${ENV_PATH}: ${b}`));
        if (!bad.length) {
          const n = nextBoot(env);
          out.next = { slot: n.slot, why: n.why };
        }
      }
    }
  }
  for (const slot of SLOTS) {
    const p = findPart(g, slotRole(slot));
    if (!p) continue;
    const files = out.partitions.find((x) => x.number === p.number)?.files ?? [];
    const size = (path: string) => files.find((f) => f.path === path && f.type === "file")?.size;
    const k = size(SLOT_FILES.kernel);
    const rd = size(SLOT_FILES.initramfs);
    if (!k) problems.push(`slot ${slot} (partition ${p.number}) has no kernel ${SLOT_FILES.kernel}`);
    if (!rd) problems.push(`slot ${slot} (partition ${p.number}) has no initramfs ${SLOT_FILES.initramfs}`);
    const cfgText = await e2Read(disk, p, SLOT_FILES.config);
    if (cfgText === undefined) {
      problems.push(`slot ${slot} (partition ${p.number}) has no ${SLOT_FILES.config}: GRUB gets no kernel command line`);
      continue;
    }
    const cfg = parseSlotCfg(cfgText);
    if (typeof cfg === "string") {
      problems.push(`slot ${slot}: ${SLOT_FILES.config}: ${cfg}`);
      continue;
    }
    const named = cmdlineSlot(cfg.cmdline);
    if (named !== slot) problems.push(`slot ${slot}'s command line says kiln.slot=${named ?? "(nothing)"}: the booted slot would be misreported`);
    out.slots[slot] = { ...cfg, kernelBytes: k ?? 0, initramfsBytes: rd ?? 0 };
  }
  return out;
}

/** Human text of an inspection (pure). */
export function renderInspection(r: Inspection): string {
  const lines: string[] = [];
  lines.push(`${r.file}: GPT disk ${r.disk.uuid}, ${r.disk.partitions} partitions${r.record ? `; ${r.record.layout} image "${r.record.name}" for ${r.record.arch}, made from ${r.record.release}` : ""}`);
  for (const p of r.partitions) {
    lines.push(`  ${p.number} ${p.name.padEnd(9)} ${p.fs.padEnd(5)} at ${String(p.offset / 1048576).padStart(4)} MiB, ${String(p.size / 1048576).padStart(4)} MiB  ${p.uuid}`);
    for (const f of p.files) if (f.type !== "dir") lines.push(`      ${f.path}${f.type === "file" ? ` (${f.size} bytes)` : ` (${f.type})`}`);
  }
  if (r.grubenv) lines.push(`  grubenv: ${Object.entries(r.grubenv).map(([k, v]) => `${k}=${v}`).join(" ")}`);
  if (r.next) lines.push(`  next boot: slot ${r.next.slot} (${r.next.why})`);
  for (const s of SLOTS) {
    const x = r.slots[s];
    if (x) lines.push(`  slot ${s}: ${x.release}, kernel ${x.kernelBytes} bytes, initramfs ${x.initramfsBytes} bytes\n          cmdline: ${x.cmdline}`);
  }
  lines.push(r.problems.length ? `  PROBLEMS (${r.problems.length}):\n${r.problems.map((p) => `    - ${p}`).join("\n")}` : "  ok: the layout, the boot configuration and both slots are sound");
  return lines.join("\n");
}

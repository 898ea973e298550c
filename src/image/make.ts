/**
 * Making a gpt-ab disk image without root, loop devices or sudo: sfdisk writes the GPT into a
 * sparse file, mkfs.vfat (--offset) and mtools fill the EFI system partition, mke2fs -d
 * (-E offset=) writes System A, System B and Data straight from staging folders. Every
 * identifier and timestamp is derived from the inputs, so the same inputs give the same bytes.
 * The disk is made under a temporary name and renamed into place; the .img.zst and its .sha256
 * likewise. See docs/adr/0080-gpt-ab-images.md.
 */
import { createHash } from "node:crypto";
import { closeSync, copyFileSync, existsSync, lstatSync, lutimesSync, mkdirSync, openSync, readdirSync, readlinkSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, ftruncateSync } from "node:fs";
import { dirname, join } from "node:path";
import { pidAlive, run } from "../effects/proc.js";
import { sha256File, tmpName, writeFileAtomic } from "../effects/fsx.js";
import { InfraError, ProjectError } from "../errors.js";
import { IMAGE_BOOT, imageArchProblem } from "../tables/image_boot.js";
import {
  encodeEnv, factoryGrubenv, grubCfg, slotUbootEnv, ubootScript, GRUB_CFG_PATH, IMAGE_JSON_PATH, imageFileName, part, planDisk, SECTOR, SLOT_FILES, slotCfg, slotRole,
  sfdiskScript, SLOTS, type DiskPlan, type ImageRecord, type Sizes, type Slot,
  AUTOBOOT_PATH, encodeAutoboot, planDtbs, planRpiDisk, rpiCmdlineTxt, rpiConfigTxt, RPI_FILES, rpiPart, rpiSfdiskScript, rpiSlotRole, type MbrDiskPlan,
} from "./layout.js";

export const ZSTD_IMAGE_LEVEL = 12;

export interface ImageInputs {
  name: string;
  arch: string;
  release: string;
  /** The kernel's boot image (bzImage). */
  kernel: string;
  /** The initramfs (kiln's or the user's cpio). */
  initramfs: string;
  /** The kernel command line of each slot, without kiln.slot= (added per slot). */
  cmdline: string;
  /** A folder or a tarball laid out at the root of System A and B. */
  rootfs?: string;
  /** A folder whose files go into Data. */
  data?: string;
  sizes: Sizes;
  /** Seconds since the epoch for every timestamp in the image (the build's). */
  timestamp: number;
}

export interface MadeImage {
  /** The raw disk (what kiln boot --image boots and kiln image update changes). */
  disk: string;
  /** The shipped file: <name>-<release>-<arch>.img.zst, and its .sha256. */
  zst: string;
  sha256Path: string;
  sha256: string;
  seed: string;
  plan: DiskPlan;
  /** Seconds per phase, for the bench and --verbose. */
  phases: Record<string, number>;
}

const toolEnv = (timestamp: number) => ({ ...process.env, SOURCE_DATE_EPOCH: String(timestamp), E2FSPROGS_FAKE_TIME: String(timestamp), MTOOLS_SKIP_CHECK: "1", TZ: "UTC", LC_ALL: "C" });

/** Hash of a file or a folder tree (paths, modes, link targets, contents), for the seed. */
function treeDigest(path: string): string {
  const h = createHash("sha256");
  const walk = (p: string, rel: string) => {
    const st = lstatSync(p);
    h.update(`${rel}\0${st.mode}\0`);
    if (st.isDirectory()) for (const f of readdirSync(p).sort()) walk(join(p, f), rel ? `${rel}/${f}` : f);
    else if (st.isSymbolicLink()) h.update(`link\0${readlinkSync(p)}\0`);
    else if (st.isFile()) h.update(readFileSync(p));
  };
  walk(path, "");
  return h.digest("hex");
}


/** The seed every GUID and fs id derives from: all inputs that shape the bytes. */
export function imageSeed(i: ImageInputs): string {
  const h = createHash("sha256");
  h.update(JSON.stringify({ v: 1, layout: "gpt-ab", name: i.name, arch: i.arch, release: i.release, cmdline: i.cmdline, sizes: i.sizes, timestamp: i.timestamp }));
  h.update(treeDigest(i.kernel));
  h.update(treeDigest(i.initramfs));
  if (i.rootfs) h.update(`rootfs\0${treeDigest(i.rootfs)}`);
  if (i.data) h.update(`data\0${treeDigest(i.data)}`);
  return h.digest("hex");
}

/** Sets every timestamp under a folder to t (symlinks themselves, not their targets). */
function pinTimes(dir: string, t: number): void {
  const walk = (p: string) => {
    const st = lstatSync(p);
    if (st.isDirectory()) for (const f of readdirSync(p)) walk(join(p, f));
    lutimesSync(p, t, t);
  };
  walk(dir);
}

/** Lays a rootfs payload (folder or tarball) into dir. */
async function layRootfs(src: string, dir: string): Promise<void> {
  if (statSync(src).isDirectory()) {
    await run(["cp", "-a", "--no-preserve=ownership", `${src}/.`, dir]);
    return;
  }
  const r = await run(["tar", "-x", "-f", src, "-C", dir, "--no-same-owner", "--delay-directory-restore"], { allowFail: true, missingHint: "apt-get install tar" });
  if (r.exitCode !== 0) throw new ProjectError(`cannot unpack the rootfs tarball ${src}: ${r.stderr.trim().split("\n").slice(-3).join(" | ")}`, { file: src }, "give a tar (optionally compressed) of the root folder, or the folder itself");
}

/** The kernel command line of a slot (pure). */
export function slotCmdline(base: string, slot: Slot): string {
  return `${base} kiln.slot=${slot}`.trim();
}

/** Every path under a folder, as the filesystem will name it ("/", "/boot", "/boot/vmlinuz", ...), in name order. */
function fsPaths(dir: string): string[] {
  const out = ["/"];
  const walk = (p: string, rel: string) => {
    for (const f of readdirSync(p).sort()) {
      const r = `${rel}/${f}`;
      out.push(r);
      if (lstatSync(join(p, f)).isDirectory()) walk(join(p, f), r);
    }
  };
  walk(dir, "");
  return out;
}

async function mke2fs(disk: string, o: { offset: number; sizeBytes: number; label: string; uuid: string; dir: string; timestamp: number }): Promise<void> {
  const env = toolEnv(o.timestamp);
  await run(
    ["mke2fs", "-q", "-F", "-t", "ext4", "-L", o.label, "-U", o.uuid, "-E", `hash_seed=${o.uuid},root_owner=0:0,offset=${o.offset}`, "-d", o.dir, disk, `${o.sizeBytes / 1024}k`],
    { env, missingHint: "apt-get install e2fsprogs" },
  );
  // mke2fs -d copies each file's ctime, which no one can set on the staging folder: pin it
  const cmds = fsPaths(o.dir).map((p) => `sif "${p.replace(/(["\\])/g, "\\$1")}" ctime ${o.timestamp}`);
  const r = await run(["debugfs", "-w", "-f", "-", `${disk}?offset=${o.offset}`], { input: cmds.join("\n") + "\n", env, missingHint: "apt-get install e2fsprogs" });
  const bad = r.stderr.split("\n").filter((l) => l.trim() && !/^debugfs \d/.test(l));
  if (bad.length) throw new InfraError(`debugfs could not pin the timestamps in ${o.label}: ${bad.slice(0, 3).join(" | ")}`, { file: disk });
}

/** mtools' image@@offset address of a partition. */
export function mtoolsImage(disk: string, offset: number): string {
  return `${disk}@@${offset}`;
}

/** Copies a staged folder into a FAT partition: every folder in one mmd (parents first, name order), then the files per folder. */
async function fillFat(disk: string, offset: number, dir: string, timestamp: number): Promise<void> {
  const img = mtoolsImage(disk, offset);
  const env = toolEnv(timestamp);
  const dirs: string[] = [];
  const files = new Map<string, string[]>();
  const walk = (rel: string) => {
    const here = join(dir, rel);
    for (const n of readdirSync(here).sort()) {
      const r = rel ? `${rel}/${n}` : n;
      if (statSync(join(here, n)).isDirectory()) {
        dirs.push(r);
        walk(r);
      } else files.set(rel, [...(files.get(rel) ?? []), join(here, n)]);
    }
  };
  walk("");
  if (dirs.length) await run(["mmd", "-i", img, ...dirs.map((d) => `::/${d}`)], { env, missingHint: "apt-get install mtools" });
  for (const [rel, fs] of [...files.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    await run(["mcopy", "-m", "-i", img, ...fs, `::/${rel}`], { env, missingHint: "apt-get install mtools" });
  }
}

/** The loader's files on the ESP: GRUB as the EFI binary + grub.cfg, or U-Boot's boot.scr. */
async function loaderFiles(arch: string, espDir: string, timestamp: number): Promise<void> {
  const b = IMAGE_BOOT[arch]!;
  const hint = `apt-get install ${b.debianPackages.join(" ")}`;
  const out = join(espDir, b.bootFile);
  mkdirSync(dirname(out), { recursive: true });
  if (b.loader === "grub-efi") {
    await run(["grub-mkimage", "-O", b.grubFormat!, "-p", "/EFI/BOOT", "-o", out, ...b.grubModules!], { missingHint: hint });
    writeFileSync(join(espDir, GRUB_CFG_PATH), grubCfg());
  } else {
    const cmd = join(dirname(espDir), "boot.cmd");
    writeFileSync(cmd, ubootScript(b.envFile));
    // mkimage stamps the script header with SOURCE_DATE_EPOCH
    await run(["mkimage", "-A", "arm64", "-O", "linux", "-T", "script", "-C", "none", "-n", "kiln A/B", "-d", cmd, out], { env: toolEnv(timestamp), missingHint: hint });
  }
}


/**
 * Removes what a killed image run left in a folder: dot-temp files (`.<name>.<pid>.<hex>.tmp`)
 * and scratch folders (`.<...>.scratch-<pid>`) of processes that are gone.
 */
export function sweepImageLeftovers(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const gone: string[] = [];
  for (const f of readdirSync(dir)) {
    const m = /^\..+\.(\d+)\.[0-9a-f]{8}\.tmp$/.exec(f) ?? /^\..+\.scratch-(\d+)$/.exec(f);
    if (!m || pidAlive(Number(m[1]))) continue;
    rmSync(join(dir, f), { recursive: true, force: true });
    gone.push(f);
  }
  return gone;
}

/** The Data partition of either layout: the data payload (or nothing) as ext4 at the partition's offset. */
async function dataPartition(disk: string, d: { startSector: number; sizeSectors: number; label: string; fsId: string }, dir: string, i: { data?: string; timestamp: number }): Promise<void> {
  mkdirSync(dir, { recursive: true });
  if (i.data) await run(["cp", "-a", "--no-preserve=ownership", `${i.data}/.`, dir]);
  pinTimes(dir, i.timestamp);
  await mke2fs(disk, { offset: d.startSector * SECTOR, sizeBytes: d.sizeSectors * SECTOR, label: d.label, uuid: d.fsId, dir, timestamp: i.timestamp });
}

/** Writes a sparse file of n bytes. */
function sparseFile(path: string, n: number): void {
  const fd = openSync(path, "w");
  try {
    ftruncateSync(fd, n);
  } finally {
    closeSync(fd);
  }
}

/**
 * Makes the image. `outDir` receives the .img.zst and .sha256; `disk` is the raw disk's path.
 * `scratch` is a folder for staging (removed at the end).
 */
export async function makeImage(i: ImageInputs, o: { outDir: string; disk: string; scratch: string; notify?: (m: string) => void }): Promise<MadeImage> {
  const bad = imageArchProblem(i.arch);
  if (bad) throw new ProjectError(bad, { symbol: i.arch });
  for (const [what, p] of [["kernel", i.kernel], ["initramfs", i.initramfs], ["rootfs", i.rootfs], ["data", i.data]] as const) {
    if (p !== undefined && !existsSync(p)) throw new ProjectError(`the image's ${what} ${p} does not exist`, { file: p });
  }
  const phases: Record<string, number> = {};
  let t = performance.now();
  const lap = (name: string) => {
    const now = performance.now();
    phases[name] = Math.round(now - t) / 1000;
    t = now;
  };
  const seed = imageSeed(i);
  const plan = planDisk(seed, i.sizes);
  lap("seed");
  for (const d of new Set([dirname(o.disk), o.outDir, dirname(o.scratch)])) sweepImageLeftovers(d);
  rmSync(o.scratch, { recursive: true, force: true });
  mkdirSync(o.scratch, { recursive: true });
  mkdirSync(dirname(o.disk), { recursive: true });
  const tmpDisk = tmpName(o.disk);
  try {
    sparseFile(tmpDisk, plan.totalSectors * SECTOR);
    await run(["sfdisk", "-q", "--no-reread", "--no-tell-kernel", tmpDisk], { input: sfdiskScript(plan), env: toolEnv(i.timestamp), missingHint: "apt-get install fdisk" });
    lap("gpt");

    // EFI system partition
    const esp = part(plan, "esp");
    const espDir = join(o.scratch, "esp");
    const boot = IMAGE_BOOT[i.arch]!;
    mkdirSync(join(espDir, dirname(boot.envFile)), { recursive: true });
    mkdirSync(join(espDir, dirname(IMAGE_JSON_PATH)), { recursive: true });
    await loaderFiles(i.arch, espDir, i.timestamp);
    writeFileSync(join(espDir, boot.envFile), encodeEnv(boot.envFormat, factoryGrubenv()));
    const record: ImageRecord = { format: "kiln-image v1", name: i.name, layout: "gpt-ab", arch: i.arch, release: i.release, seed, timestamp: i.timestamp };
    writeFileSync(join(espDir, IMAGE_JSON_PATH), JSON.stringify(record, null, 2) + "\n");
    pinTimes(espDir, i.timestamp);
    await run(["mkfs.vfat", "--invariant", "-i", esp.fsId, "-n", esp.label, `--offset=${esp.startSector}`, tmpDisk, String((esp.sizeSectors * SECTOR) / 1024)], {
      env: toolEnv(i.timestamp), missingHint: "apt-get install dosfstools",
    });
    await fillFat(tmpDisk, esp.startSector * SECTOR, espDir, i.timestamp);
    lap("esp");

    // System A and B: the same payload, each with its own slot config
    for (const slot of SLOTS) {
      const p = part(plan, slotRole(slot));
      const dir = join(o.scratch, `system-${slot}`);
      mkdirSync(dir, { recursive: true });
      if (i.rootfs) await layRootfs(i.rootfs, dir);
      mkdirSync(join(dir, "boot"), { recursive: true });
      copyFileSync(i.kernel, join(dir, SLOT_FILES.kernel));
      copyFileSync(i.initramfs, join(dir, SLOT_FILES.initramfs));
      const info = { release: i.release, cmdline: slotCmdline(i.cmdline, slot) };
      writeFileSync(join(dir, SLOT_FILES.config), slotCfg(info));
      writeFileSync(join(dir, SLOT_FILES.ubootEnv), slotUbootEnv(info));
      pinTimes(dir, i.timestamp);
      await mke2fs(tmpDisk, { offset: p.startSector * SECTOR, sizeBytes: p.sizeSectors * SECTOR, label: p.label, uuid: p.fsId, dir, timestamp: i.timestamp });
      lap(`system-${slot}`);
    }
    await dataPartition(tmpDisk, part(plan, "data"), join(o.scratch, "data"), i);
    lap("data");
    renameSync(tmpDisk, o.disk);
  } catch (e) {
    rmSync(tmpDisk, { force: true });
    throw e;
  } finally {
    rmSync(o.scratch, { recursive: true, force: true });
  }
  const shipped = await compressImage(o.disk, join(o.outDir, imageFileName(i.name, i.release, i.arch)));
  lap("zstd");
  return { disk: o.disk, ...shipped, seed, plan, phases };
}

/** zstd of a raw disk with its .sha256 beside it (only the hex digest), each staged then renamed. */
export async function compressImage(disk: string, zst: string): Promise<{ zst: string; sha256Path: string; sha256: string }> {
  mkdirSync(dirname(zst), { recursive: true });
  const tmp = tmpName(zst);
  try {
    const r = await run(["zstd", `-${ZSTD_IMAGE_LEVEL}`, "-T1", "-q", "--no-progress", "-f", disk, "-o", tmp], { allowFail: true, missingHint: "apt-get install zstd" });
    if (r.exitCode !== 0) throw new InfraError(`zstd failed (exit ${r.exitCode}): ${r.stderr.trim()}`, { file: zst }, "check the disk has room");
    renameSync(tmp, zst);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  const sha256 = await sha256File(zst);
  const sha256Path = `${zst}.sha256`;
  writeFileAtomic(sha256Path, `${sha256}\n`);
  return { zst, sha256Path, sha256 };
}

/** A raw disk from a .img.zst (staged, renamed). */
export async function decompressImage(zst: string, disk: string): Promise<void> {
  const tmp = tmpName(disk);
  try {
    await run(["zstd", "-d", "-q", "--no-progress", "--sparse", "-f", zst, "-o", tmp], { missingHint: "apt-get install zstd" });
    renameSync(tmp, disk);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/* ---------------------------------------------------------------- rpi-ab */

export interface RpiImageInputs extends Omit<ImageInputs, "rootfs"> {
  /** A dtbs_install folder: <vendor>/<board>.dtb, <vendor>/overlays/*.dtbo. */
  dtbs: string;
  /** A folder of the Pi's boot files (start4.elf, fixup4.dat, ...): the user's, kiln ships none. */
  firmware?: string;
  /** DTBs to put on the boot partitions (relative to dtbs); default every .dtb. */
  dtbList?: string[];
  boardDtb?: string;
  bootMiB: number;
}

/** Every file under a folder, relative to it, in name order. */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const n of readdirSync(join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${n}` : n;
      if (statSync(join(dir, r)).isDirectory()) walk(r);
      else out.push(r);
    }
  };
  walk("");
  return out;
}

export function rpiImageSeed(i: RpiImageInputs): string {
  const h = createHash("sha256");
  h.update(JSON.stringify({ v: 1, layout: "rpi-ab", name: i.name, arch: i.arch, release: i.release, cmdline: i.cmdline, sizes: i.sizes, bootMiB: i.bootMiB, dtbList: i.dtbList ?? null, boardDtb: i.boardDtb ?? null, timestamp: i.timestamp }));
  for (const p of [i.kernel, i.initramfs, i.dtbs]) h.update(treeDigest(p));
  if (i.firmware) h.update(`firmware\0${treeDigest(i.firmware)}`);
  if (i.data) h.update(`data\0${treeDigest(i.data)}`);
  return h.digest("hex");
}

/** Makes an rpi-ab image (MBR; control FAT, boot-a/boot-b FAT32, data ext4), as makeImage does gpt-ab. */
export async function makeRpiImage(i: RpiImageInputs, o: { outDir: string; disk: string; scratch: string }): Promise<Omit<MadeImage, "plan"> & { plan: MbrDiskPlan }> {
  const bad = imageArchProblem(i.arch, "rpi-ab");
  if (bad) throw new ProjectError(bad, { symbol: i.arch });
  for (const [what, p] of [["kernel", i.kernel], ["initramfs", i.initramfs], ["dtbs", i.dtbs], ["firmware", i.firmware], ["data", i.data]] as const) {
    if (p !== undefined && !existsSync(p)) throw new ProjectError(`the image's ${what} ${p} does not exist`, { file: p });
  }
  let dtbPlan;
  try {
    dtbPlan = planDtbs(filesUnder(i.dtbs), i.dtbList, i.boardDtb);
  } catch (e) {
    throw new ProjectError((e as Error).message, { file: i.dtbs });
  }
  const phases: Record<string, number> = {};
  let t = performance.now();
  const lap = (name: string) => {
    const now = performance.now();
    phases[name] = Math.round(now - t) / 1000;
    t = now;
  };
  const seed = rpiImageSeed(i);
  const plan = planRpiDisk(seed, { bootMiB: i.bootMiB, dataMiB: i.sizes.dataMiB });
  for (const d of new Set([dirname(o.disk), o.outDir, dirname(o.scratch)])) sweepImageLeftovers(d);
  rmSync(o.scratch, { recursive: true, force: true });
  mkdirSync(o.scratch, { recursive: true });
  mkdirSync(dirname(o.disk), { recursive: true });
  const tmpDisk = tmpName(o.disk);
  const env = toolEnv(i.timestamp);
  const vfat = async (p: { fsId: string; label: string; startSector: number; sizeSectors: number }, fat32: boolean) =>
    run(["mkfs.vfat", "--invariant", ...(fat32 ? ["-F", "32"] : []), "-i", p.fsId, "-n", p.label, `--offset=${p.startSector}`, tmpDisk, String((p.sizeSectors * SECTOR) / 1024)], { env, missingHint: "apt-get install dosfstools" });
  try {
    sparseFile(tmpDisk, plan.totalSectors * SECTOR);
    await run(["sfdisk", "-q", "--no-reread", "--no-tell-kernel", tmpDisk], { input: rpiSfdiskScript(plan), env, missingHint: "apt-get install fdisk" });
    lap("mbr");
    const ctl = rpiPart(plan, "control");
    const ctlDir = join(o.scratch, "control");
    mkdirSync(join(ctlDir, dirname(IMAGE_JSON_PATH)), { recursive: true });
    writeFileSync(join(ctlDir, AUTOBOOT_PATH), encodeAutoboot());
    const record: ImageRecord = {
      format: "kiln-image v1", name: i.name, layout: "rpi-ab", arch: i.arch, release: i.release, seed, timestamp: i.timestamp,
      dtbs: dtbPlan.dtbs.map(([, n]) => n), ...(dtbPlan.boardDtb ? { boardDtb: dtbPlan.boardDtb } : {}),
    };
    writeFileSync(join(ctlDir, IMAGE_JSON_PATH), JSON.stringify(record, null, 2) + "\n");
    pinTimes(ctlDir, i.timestamp);
    await vfat(ctl, false);
    await fillFat(tmpDisk, ctl.startSector * SECTOR, ctlDir, i.timestamp);
    lap("control");
    for (const slot of SLOTS) {
      const p = rpiPart(plan, rpiSlotRole(slot));
      const dir = join(o.scratch, `boot-${slot}`);
      mkdirSync(join(dir, RPI_FILES.overlays), { recursive: true });
      if (i.firmware) for (const f of filesUnder(i.firmware)) {
        mkdirSync(dirname(join(dir, f)), { recursive: true });
        copyFileSync(join(i.firmware, f), join(dir, f));
      }
      copyFileSync(i.kernel, join(dir, RPI_FILES.kernel));
      copyFileSync(i.initramfs, join(dir, RPI_FILES.initramfs));
      for (const [from, to] of dtbPlan.dtbs) copyFileSync(join(i.dtbs, from), join(dir, to));
      for (const [from, to] of dtbPlan.overlays) copyFileSync(join(i.dtbs, from), join(dir, RPI_FILES.overlays, to));
      writeFileSync(join(dir, RPI_FILES.config), rpiConfigTxt({ release: i.release, slot, ...(dtbPlan.boardDtb ? { deviceTree: dtbPlan.boardDtb } : {}) }));
      const cmd = rpiCmdlineTxt(i.cmdline, slot);
      writeFileSync(join(dir, RPI_FILES.cmdline), cmd);
      writeFileSync(join(dir, RPI_FILES.slot), slotUbootEnv({ release: i.release, cmdline: cmd.trim() }));
      pinTimes(dir, i.timestamp);
      await vfat(p, true);
      await fillFat(tmpDisk, p.startSector * SECTOR, dir, i.timestamp);
      lap(`boot-${slot}`);
    }
    await dataPartition(tmpDisk, rpiPart(plan, "data"), join(o.scratch, "data"), i);
    lap("data");
    renameSync(tmpDisk, o.disk);
  } catch (e) {
    rmSync(tmpDisk, { force: true });
    throw e;
  } finally {
    rmSync(o.scratch, { recursive: true, force: true });
  }
  const shipped = await compressImage(o.disk, join(o.outDir, imageFileName(i.name, i.release, i.arch)));
  lap("zstd");
  return { disk: o.disk, ...shipped, seed, plan, phases };
}

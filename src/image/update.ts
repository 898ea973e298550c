/**
 * `kiln image update <image> --slot B --release R`: writes another build's kernel into a slot of
 * an existing image and arms a one-shot try of it (grubenv boot_once), without remaking the
 * image: debugfs changes the slot's ext4 at its offset, mtools the grubenv on the ESP. The change
 * is made on a copy of the image that is renamed over it at the end, so an interrupted update
 * leaves the image as it was. A .img.zst is unpacked, changed, packed again (with its .sha256).
 */
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "../effects/proc.js";
import { tmpName } from "../effects/fsx.js";
import { GateFailure, ProjectError } from "../errors.js";
import { compressImage, decompressImage } from "./make.js";
import { debugfs, e2List, fatRead, fatWrite, findPart, readGpt } from "./read.js";
import { encodeEnv, IMAGE_JSON_PATH, parseEnv, slotCfg, SLOT_FILES, slotRole, slotUbootEnv, type ImageRecord, type Slot } from "./layout.js";
import { IMAGE_BOOT } from "../tables/image_boot.js";
import { slotCmdline } from "./make.js";

export interface UpdateOptions {
  image: string;
  slot: Slot;
  release: string;
  kernel: string;
  /** The kernel command line without kiln.slot= (the slot's is added). */
  cmdline: string;
  /** A new initramfs; default: keep the slot's own (or copy the other slot's). */
  initramfs?: string;
  /** Arm a one-shot try of the slot (default true). */
  arm: boolean;
  scratch: string;
}

export interface UpdateResult {
  image: string;
  slot: Slot;
  release: string;
  armed: boolean;
  grubenv: Record<string, string>;
  sha256?: string;
}

export async function updateImage(o: UpdateOptions): Promise<UpdateResult> {
  if (!existsSync(o.image)) throw new ProjectError(`no image ${o.image}`, { file: o.image }, "give the .img kiln image wrote under out/disks/, or its .img.zst");
  const zst = o.image.endsWith(".zst");
  mkdirSync(o.scratch, { recursive: true });
  const work = zst ? join(o.scratch, "disk.img") : tmpName(o.image);
  try {
    if (zst) await decompressImage(o.image, work);
    else await run(["cp", "--sparse=always", o.image, work]);
    const g = readGpt(work);
    const p = findPart(g, slotRole(o.slot));
    const other = findPart(g, slotRole(o.slot === "A" ? "B" : "A"));
    const esp = findPart(g, "esp");
    if (!p || !esp) throw new GateFailure(`${o.image} is not a gpt-ab image: it has no ${p ? "EFI" : slotRole(o.slot)} partition`, { file: o.image }, "kiln image inspect shows what it holds");
    const rec = await fatRead(work, esp, IMAGE_JSON_PATH);
    const arch = rec ? (JSON.parse(rec.toString("utf8")) as ImageRecord).arch : undefined;
    const boot = arch ? IMAGE_BOOT[arch] : undefined;
    if (!boot) throw new GateFailure(`${o.image} has no kiln/image.json naming an arch kiln boots`, { file: o.image }, "kiln image inspect shows what it holds");
    const ENV_PATH = boot.envFile;
    const info = { release: o.release, cmdline: slotCmdline(o.cmdline, o.slot) };
    const cfg = join(o.scratch, "kiln-slot.cfg");
    writeFileSync(cfg, slotCfg(info));
    const uenv = join(o.scratch, "kiln-slot.env");
    writeFileSync(uenv, slotUbootEnv(info));
    let initramfs = o.initramfs;
    const have = await e2List(work, p, "/boot").catch(() => []);
    const hasOwn = have.some((f) => f.path === SLOT_FILES.initramfs);
    if (!initramfs && !hasOwn) {
      if (!other) throw new GateFailure(`slot ${o.slot} has no initramfs and there is no other slot to take one from`, { file: o.image }, "give --initramfs");
      initramfs = join(o.scratch, "initramfs.img");
      await debugfs(work, other, [`dump /${SLOT_FILES.initramfs} ${initramfs}`]);
      if (!existsSync(initramfs)) throw new GateFailure(`neither slot has ${SLOT_FILES.initramfs}`, { file: o.image }, "give --initramfs");
    }
    const cmds = ["mkdir /boot", "cd /boot", "rm vmlinuz", `write ${o.kernel} vmlinuz`, "rm kiln-slot.cfg", `write ${cfg} kiln-slot.cfg`, "rm kiln-slot.env", `write ${uenv} kiln-slot.env`];
    if (initramfs) cmds.push("rm initramfs.img", `write ${initramfs} initramfs.img`);
    // rm of a missing file and mkdir of an existing folder only warn: the result is checked below
    await run(["debugfs", "-w", "-f", "-", `${work}?offset=${p.offset}`], { input: cmds.join("\n") + "\n", env: { ...process.env, LC_ALL: "C" } });
    const after = await e2List(work, p, "/boot");
    for (const f of [SLOT_FILES.kernel, SLOT_FILES.initramfs, SLOT_FILES.config]) {
      if (!after.some((x) => x.path === f && x.type === "file" && x.size > 0)) throw new GateFailure(`writing slot ${o.slot} failed: ${f} is missing afterwards`, { file: o.image }, "the slot may be too small for the kernel: make the image again with a larger system_mib");
    }
    const raw = await fatRead(work, esp, ENV_PATH);
    const env0 = raw ? parseEnv(boot.envFormat, raw) : "missing";
    if (typeof env0 === "string") throw new GateFailure(`${ENV_PATH} on the ESP is unusable: ${env0}`, { file: o.image }, "kiln image inspect says more");
    const env = { ...env0 };
    if (o.arm) env.boot_once = o.slot;
    const envFile = join(o.scratch, "abenv");
    writeFileSync(envFile, encodeEnv(boot.envFormat, env));
    await fatWrite(work, esp, ENV_PATH, envFile);
    let sha256: string | undefined;
    if (zst) {
      const c = await compressImage(work, o.image);
      sha256 = c.sha256;
    } else renameSync(work, o.image);
    return { image: o.image, slot: o.slot, release: o.release, armed: o.arm, grubenv: env, ...(sha256 ? { sha256 } : {}) };
  } finally {
    if (!zst) rmSync(work, { force: true });
    rmSync(o.scratch, { recursive: true, force: true });
  }
}



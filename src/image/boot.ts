/**
 * `kiln boot --image`: boots the disk itself, firmware -> GRUB -> the slot's kernel + initramfs
 * -> kiln's init, under QEMU with UEFI firmware (OVMF, its variable store copied to a temporary
 * file per boot). The disk is booted in place, as a device boots its own disk: GRUB's writes to
 * grubenv (a consumed boot_once, a counted try) stay in it for the next boot.
 * Passes when the init's marker names a slot and that slot's release; fails (exit 2) with the
 * stage reached, GRUB's kiln-grub lines and the console otherwise.
 */
import { copyFileSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { GateFailure, HostError } from "../errors.js";
import { tmpName } from "../effects/fsx.js";
import { IMAGE_BOOT } from "../tables/image_boot.js";
import { failureReason, renderDiagnosis, type Stage } from "../boot/console.js";
import { chooseAccel, type AccelRequest } from "../boot/kvm.js";
import { bootGuest, resolveArch } from "../boot/smoke.js";
import { shellQuote, type Accel } from "../boot/qemu.js";
import { inspectDisk } from "./inspect.js";
import type { Slot } from "./layout.js";

export interface ImageBootOptions {
  disk: string;
  arch: string;
  consoleLog: string;
  cacheDir: string;
  accel?: AccelRequest;
  memoryMiB?: number;
  timeoutSec?: number;
  notify?: (m: string) => void;
}

export interface ImageBootResult {
  ok: boolean;
  arch: string;
  accel: Accel;
  /** The slot the init reported (kiln.slot=), when it got that far. */
  slot?: string;
  /** The slot GRUB said it boots (kiln-grub: booting slot X). */
  grubSlot?: string;
  release?: string;
  /** The release recorded in the booted slot. */
  expectedRelease?: string;
  /** The loader's own lines (kiln-grub: ... or kiln-uboot: ...), in order. */
  grubLines: string[];
  stage: Stage;
  timings: { firmwareSec?: number; bannerSec?: number; markerSec?: number; totalSec: number };
  consoleLog: string;
  qemuCommand: string;
  reason?: string;
  diagnosis?: string;
}

export async function bootImage(o: ImageBootOptions): Promise<ImageBootResult> {
  const arch = resolveArch(o.arch);
  const b = IMAGE_BOOT[arch.name];
  if (!b) throw new HostError(`kiln cannot boot ${arch.name} disk images`, {}, "see docs/images.md for the arches images boot on");
  for (const f of [b.firmwareCode, b.firmwareVars, b.bios]) {
    if (f !== undefined && !existsSync(f)) throw new HostError(`the firmware ${f} is not installed`, { file: f }, `apt-get install ${b.debianPackages[0]}`);
  }
  const seen = await inspectDisk(o.disk);
  if (seen.problems.length) throw new GateFailure(`the image does not pass inspection:\n  ${seen.problems.join("\n  ")}`, { file: o.disk }, "kiln image inspect shows it all");
  const request = o.accel ?? "auto";
  const choice = await chooseAccel(arch, request, { cacheDir: o.cacheDir, notify: o.notify });
  mkdirSync(join(o.consoleLog, ".."), { recursive: true });
  const vars = tmpName(o.consoleLog.replace(/\.log$/, "") + "-efivars.fd");
  if (b.firmwareVars) copyFileSync(b.firmwareVars, vars);
  const grubLines: string[] = [];
  let grubSlot: string | undefined;
  try {
    const r = await bootGuest({
      arch: { ...arch, firmwareLines: [...arch.firmwareLines, ...b.firmwareLines] },
      accel: choice.accel,
      ...(b.firmwareCode ? { firmware: { code: b.firmwareCode, vars } } : {}),
      ...(b.bios ? { bios: b.bios } : {}),
      machine: b.qemuMachine,
      rootfs: o.disk,
      cmdline: "",
      memoryMiB: o.memoryMiB ?? 512,
      cpus: 1,
      timeoutSec: o.timeoutSec ?? (choice.accel === "kvm" ? 60 : arch.tcgTimeoutSec + b.tcgExtraSec),
      silenceSec: 90,
      consoleLog: o.consoleLog,
      onLine: (line) => {
        const i = line.search(/kiln-(grub|uboot): /);
        if (i < 0) return;
        const l = line.slice(i);
        grubLines.push(l);
        const m = /^kiln-(?:grub|uboot): booting slot ([AB])\b/.exec(l);
        if (m) grubSlot = m[1];
      },
    });
    const s = r.state;
    const slot = s.marker?.slot;
    const expected = slot === "A" || slot === "B" ? seen.slots[slot as Slot]?.release : undefined;
    let reason = failureReason({ arch, state: s, end: r.end, ...(expected ? { expectedRelease: expected } : {}) });
    if (!reason && s.marker && !slot) reason = "the init marker names no slot: the slot's command line lacks kiln.slot=";
    if (!reason && slot !== grubSlot) reason = `GRUB said it boots slot ${grubSlot ?? "(nothing)"}, the init says slot ${slot}`;
    const sec = (ms?: number) => (ms === undefined ? undefined : Math.round(ms) / 1000);
    const res: ImageBootResult = {
      ok: reason === undefined,
      arch: arch.name,
      accel: choice.accel,
      ...(slot ? { slot } : {}),
      ...(grubSlot ? { grubSlot } : {}),
      ...(s.marker ? { release: s.marker.release } : {}),
      ...(expected ? { expectedRelease: expected } : {}),
      grubLines,
      stage: s.stage,
      timings: { firmwareSec: sec(s.times.firmware), bannerSec: sec(s.times.banner), markerSec: sec(s.times.marker), totalSec: sec(r.totalMs)! },
      consoleLog: o.consoleLog,
      qemuCommand: shellQuote(r.argv),
    };
    if (reason) {
      res.reason = reason;
      res.diagnosis =
        renderDiagnosis({ arch, state: s, end: r.end, reason, nowMs: r.totalMs, consoleLog: o.consoleLog, title: `image boot failed for ${arch.name} (${choice.accel.toUpperCase()}${grubSlot ? `, slot ${grubSlot}` : ""})`, ...(expected ? { expectedRelease: expected } : {}) }) +
        (grubLines.length ? `\n  grub: ${grubLines.join(" | ")}` : "\n  grub: no kiln-grub/kiln-uboot line: the firmware did not start the loader from the ESP") +
        `\n  qemu: ${res.qemuCommand}`;
    }
    return res;
  } finally {
    rmSync(vars, { force: true });
  }
}

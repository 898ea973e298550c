/**
 * The boot smoke: boot a kernel under QEMU with kiln's initramfs, and pass only when
 * the init's marker names the expected release. Never a silent hang: every boot
 * ends by marker + power-off, a panic (panic=-1 with -no-reboot makes QEMU exit),
 * QEMU exiting, a silence limit, or an overall time limit; the guest is then stopped
 * and the failure names the stage, panic lines and last console lines.
 */
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { GateFailure, HostError } from "../errors.js";
import { start } from "../effects/proc.js";
import { archSpec, type ArchSpec } from "../tables/arches.js";
import { writeCpio } from "./cpio.js";
import { ConsoleTracker, failureReason, renderDiagnosis, type BootEnd, type ConsoleState, type Marker, type Stage } from "./console.js";
import { buildInit, initramfsEntries, modulesTreeEntries, type InitToolchain } from "./init.js";
import { chooseAccel, KVM_FIRST_OUTPUT_SEC, kvmGuestSilent, noteSilentKvm, type AccelRequest } from "./kvm.js";
import { kernelCmdline, qemuArgv, shellQuote, type Accel, type InitMode } from "./qemu.js";

export function resolveArch(arch: ArchSpec | string): ArchSpec {
  if (typeof arch !== "string") return arch;
  const a = archSpec(arch);
  if (!a) throw new HostError(`unknown arch ${JSON.stringify(arch)}`);
  return a;
}

/** Writes kiln's smoke initramfs for an arch (init built from the tree's nolibc, cached). */
export async function writeSmokeInitramfs(o: {
  tree: string;
  arch: ArchSpec | string;
  cacheDir: string;
  out: string;
  toolchain?: InitToolchain;
  treeKey?: string;
  /** The build's installed module tree (<store entry>/lib/modules/<release>), put in at lib/modules/<release>. */
  modules?: { dir: string; release: string };
}): Promise<{ path: string; initKey: string }> {
  const arch = resolveArch(o.arch);
  const init = await buildInit({ tree: o.tree, arch, cacheDir: o.cacheDir, toolchain: o.toolchain, treeKey: o.treeKey });
  mkdirSync(dirname(o.out), { recursive: true });
  const modules = o.modules ? modulesTreeEntries(o.modules.dir, o.modules.release) : undefined;
  writeFileSync(o.out, writeCpio(initramfsEntries({ init: readFileSync(init.path), ...(modules ? { modules } : {}) })));
  return { path: o.out, initKey: init.key };
}

/** One QEMU boot with the console followed; shared by the smoke and `run --exec`. */
export interface GuestBootOptions {
  arch: ArchSpec;
  accel: Accel;
  /** Absent when the firmware boots a disk (firmware + rootfs as the disk). */
  kernel?: string;
  firmware?: { code: string; vars: string };
  machine?: string;
  bios?: string;
  initrd?: string;
  rootfs?: string;
  cmdline: string;
  memoryMiB: number;
  cpus: number;
  extraQemuArgs?: readonly string[];
  /** Overall limit. */
  timeoutSec: number;
  /** Stop when the console prints nothing for this long. */
  silenceSec: number;
  /** A shorter limit for the first output (e.g. under KVM, where a banner comes in well under a second). */
  firstOutputSec?: number;
  /** After the marker (or power-off line), how long QEMU gets to exit by itself. */
  exitGraceMs?: number;
  /** Where the raw console goes. */
  consoleLog: string;
  /** Also stop once the marker is seen and this returns true (e.g. exec output complete). */
  doneWhen?: (s: ConsoleState) => boolean;
  onLine?: (line: string, atMs: number) => void;
}

export interface GuestBootResult {
  argv: string[];
  state: ConsoleState;
  end: BootEnd;
  /** From QEMU's start, ms. */
  totalMs: number;
  raw: string;
}

export async function bootGuest(o: GuestBootOptions): Promise<GuestBootResult> {
  const argv = qemuArgv({
    arch: o.arch,
    accel: o.accel,
    ...(o.kernel !== undefined ? { kernel: o.kernel } : {}),
    ...(o.firmware ? { firmware: o.firmware } : {}),
    ...(o.machine ? { machine: o.machine } : {}),
    ...(o.bios ? { bios: o.bios } : {}),
    initrd: o.initrd,
    rootfs: o.rootfs,
    cmdline: o.cmdline,
    memoryMiB: o.memoryMiB,
    cpus: o.cpus,
    console: "pipe",
    extraArgs: o.extraQemuArgs,
  });
  mkdirSync(dirname(o.consoleLog), { recursive: true });
  const log = createWriteStream(o.consoleLog);
  const tracker = new ConsoleTracker(o.arch);
  if (o.onLine) tracker.onLine = o.onLine;
  const chunks: string[] = [];
  const t0 = performance.now();
  const now = () => performance.now() - t0;

  let end: BootEnd | undefined;
  let graceTimer: NodeJS.Timeout | undefined;
  let graceKind: "done" | "off" | undefined;
  let stderr = "";
  const stop = (why: BootEnd) => {
    if (end) return;
    end = why;
    child.kill("SIGKILL");
  };
  const armSilence = (sec: number) => setTimeout(() => stop({ kind: "silent", afterSec: sec }), sec * 1000);
  const onStdout = (d: string) => {
    const at = now();
    log.write(d);
    chunks.push(d);
    tracker.push(d, at);
    clearTimeout(silence);
    silence = armSilence(o.silenceSec);
    const s = tracker.state;
    const done = s.marker !== undefined && (o.doneWhen ? o.doneWhen(s) : true);
    // The guest is done, or powered off / halted (QEMU does not exit on a halt): give
    // QEMU a moment to exit by itself, then stop it.
    if (s.panic.some((l) => /^---\[ end Kernel panic/.test(l)) && graceKind === undefined) {
      // A panic that did not reset the machine (too early for panic=-1): nothing more will come.
      graceKind = "done";
      graceTimer = setTimeout(() => stop({ kind: "stopped" }), 1000);
    } else if (s.poweredOff && graceKind !== "off") {
      if (graceTimer) clearTimeout(graceTimer);
      graceKind = "off";
      graceTimer = setTimeout(() => stop({ kind: "stopped" }), 200);
    } else if (done && graceKind === undefined) {
      graceKind = "done";
      graceTimer = setTimeout(() => stop({ kind: "stopped" }), o.exitGraceMs ?? 3000);
    }
  };
  const child = start(argv, {
    onStdout,
    onStderr: (d) => {
      stderr += d;
      if (stderr.length > 65536) stderr = stderr.slice(-65536);
    },
    killOnSignal: true,
    missingHint: `apt-get install ${o.arch.qemuPackage}`,
  });
  const overall = setTimeout(() => stop({ kind: "timeout", afterSec: o.timeoutSec }), o.timeoutSec * 1000);
  let silence = armSilence(Math.min(o.firstOutputSec ?? o.silenceSec, o.silenceSec));
  const clear = () => {
    clearTimeout(overall);
    clearTimeout(silence);
    if (graceTimer) clearTimeout(graceTimer);
  };
  let exit;
  try {
    exit = await child.done;
  } catch (e) {
    clear();
    await new Promise<void>((r) => log.end(() => r()));
    throw e;
  }
  clear();
  const totalMs = now();
  const state = tracker.end(totalMs);
  const e: BootEnd = end ?? { kind: "exited", code: exit.signal ? null : exit.exitCode, signal: exit.signal, stderr };
  if (e.kind === "exited" && stderr) log.write(`\n[kiln: qemu stderr]\n${stderr}`);
  await new Promise<void>((r) => log.end(() => r()));
  return { argv, state, end: e, totalMs, raw: chunks.join("") };
}

export interface SmokeOptions {
  arch: ArchSpec | string;
  /** The boot image (bzImage / Image). */
  kernel: string;
  /** kiln's smoke initramfs (writeSmokeInitramfs). */
  initramfs: string;
  /** The release the build claims (`make -s kernelrelease`); the marker must say exactly this. */
  expectedRelease: string;
  /** Where the full console log is saved (beside the manifest). */
  consoleLog: string;
  memoryMiB?: number;
  cpus?: number;
  accel?: AccelRequest;
  /** Cache for the KVM probe result. */
  cacheDir?: string;
  append?: string;
  extraQemuArgs?: readonly string[];
  /** Defaults: the arch's TCG budget under TCG, 30 s under KVM. */
  timeoutSec?: number;
  /** Default 30 s (under an automatic KVM choice, 3 s until the first output). */
  silenceSec?: number;
  /** Notices for the person (e.g. the TCG fallback), said once. */
  notify?: (message: string) => void;
}

export interface SmokeTimings {
  /** kiln's own time before QEMU started (accelerator choice, command line), seconds. */
  setupSec: number;
  /** From QEMU's start to the kernel banner / handover to init / the marker, seconds. */
  bannerSec?: number;
  initSec?: number;
  markerSec?: number;
  /** QEMU's whole run, seconds. */
  totalSec: number;
}

export interface SmokeResult {
  ok: boolean;
  arch: string;
  accel: Accel;
  accelReason: string;
  memoryMiB: number;
  cpus: number;
  expectedRelease: string;
  /** What the guest said it runs (uname -r), when it got that far. */
  release?: string;
  marker?: Marker;
  stage: Stage;
  timings: SmokeTimings;
  panic: string[];
  lastLines: string[];
  consoleLog: string;
  qemuCommand: string;
  /** One line; undefined when ok. */
  reason?: string;
  /** The full readable report; undefined when ok. */
  diagnosis?: string;
}

const sec = (ms: number | undefined) => (ms === undefined ? undefined : Math.round(ms) / 1000);

/** Runs one smoke boot. Guest failures come back as ok=false with a diagnosis; missing tools throw HostError. */
export async function runSmoke(o: SmokeOptions): Promise<SmokeResult> {
  const t0 = performance.now();
  const arch = resolveArch(o.arch);
  const memoryMiB = o.memoryMiB ?? 512;
  const cpus = o.cpus ?? 1;
  const request = o.accel ?? "auto";
  const choice = await chooseAccel(arch, request, { cacheDir: o.cacheDir, notify: o.notify });
  const cmdline = kernelCmdline(arch, { mode: "smoke", append: o.append });
  const boot = (accel: Accel) =>
    bootGuest({
      arch,
      accel,
      kernel: o.kernel,
      initrd: o.initramfs,
      cmdline,
      memoryMiB,
      cpus,
      extraQemuArgs: o.extraQemuArgs,
      timeoutSec: o.timeoutSec ?? (accel === "kvm" ? 30 : arch.tcgTimeoutSec),
      silenceSec: o.silenceSec ?? 30,
      firstOutputSec: accel === "kvm" && request === "auto" ? KVM_FIRST_OUTPUT_SEC : undefined,
      // the marker line carries all the smoke checks (release, mounts): stop the guest at once
      // rather than wait for its power-off (ADR 0093)
      exitGraceMs: 0,
      consoleLog: o.consoleLog,
    });
  let accel = choice.accel;
  let accelReason = choice.reason;
  const setupMs = performance.now() - t0;
  let r = await boot(accel);
  if (kvmGuestSilent({ accel, request, anyOutput: r.state.anyOutput, endKind: r.end.kind })) {
    // KVM passed the probe but the real guest said nothing: do not blame the kernel for the host.
    // Remembered per host, so the next boot goes straight to TCG.
    accelReason = noteSilentKvm(arch, { cacheDir: o.cacheDir, notify: o.notify, silentSec: r.end.kind === "silent" ? r.end.afterSec : KVM_FIRST_OUTPUT_SEC });
    accel = "tcg";
    r = await boot(accel);
  }
  const s = r.state;
  const reason = failureReason({ arch, state: s, end: r.end, expectedRelease: o.expectedRelease });
  const result: SmokeResult = {
    ok: reason === undefined,
    arch: arch.name,
    accel,
    accelReason,
    memoryMiB,
    cpus,
    expectedRelease: o.expectedRelease,
    release: s.marker?.release,
    marker: s.marker,
    stage: s.stage,
    timings: { setupSec: sec(setupMs)!, bannerSec: sec(s.times.banner), initSec: sec(s.times.init), markerSec: sec(s.times.marker), totalSec: sec(r.totalMs)! },
    panic: s.panic,
    lastLines: s.lastLines,
    consoleLog: o.consoleLog,
    qemuCommand: shellQuote(r.argv),
  };
  if (reason !== undefined) {
    result.reason = reason;
    result.diagnosis = renderDiagnosis({
      arch,
      state: s,
      end: r.end,
      expectedRelease: o.expectedRelease,
      nowMs: r.totalMs,
      reason,
      consoleLog: o.consoleLog,
      title: `boot smoke failed for ${arch.name} (${accel.toUpperCase()}, ${memoryMiB} MiB)`,
    }) + `\n  qemu: ${result.qemuCommand}`;
  }
  return result;
}

/** Throws GateFailure (exit 2) for a failed smoke. */
export function assertSmoke(r: SmokeResult): void {
  if (!r.ok) throw new GateFailure(r.diagnosis ?? r.reason ?? "boot smoke failed", { file: r.consoleLog });
}

/** The memory sizes `kiln check boots` boots each cell with. */
export const GATE_MEMORIES_MIB: readonly number[] = [512, 2048];

/**
 * The boot gate: the smoke at 512 MiB and 2 GiB (console logs `<consoleLogDir>/boot-<arch>-<mem>M.log`).
 * Returns every result; throws GateFailure naming every failed boot when any failed.
 */
export async function checkBoots(
  o: Omit<SmokeOptions, "memoryMiB" | "consoleLog"> & { consoleLogDir: string; memoriesMiB?: readonly number[] },
): Promise<SmokeResult[]> {
  const arch = resolveArch(o.arch);
  const results: SmokeResult[] = [];
  for (const mem of o.memoriesMiB ?? GATE_MEMORIES_MIB) {
    results.push(await runSmoke({ ...o, arch, memoryMiB: mem, consoleLog: join(o.consoleLogDir, `boot-${arch.name}-${mem}M.log`) }));
  }
  const failed = results.filter((r) => !r.ok);
  if (failed.length > 0) {
    throw new GateFailure(
      `boot gate failed for ${arch.name}: ${failed.map((r) => `${r.memoryMiB} MiB: ${r.reason}`).join("; ")}\n\n` +
        failed.map((r) => r.diagnosis).join("\n\n"),
      { file: failed[0]!.consoleLog },
    );
  }
  return results;
}

/** The timings as manifest fields (flat, seconds). */
export function smokeManifestFields(r: SmokeResult): Record<string, string | number | boolean> {
  const f: Record<string, string | number | boolean> = {
    boot_ok: r.ok,
    boot_arch: r.arch,
    boot_accel: r.accel,
    boot_memory_mib: r.memoryMiB,
    boot_release: r.release ?? "",
    boot_stage: r.stage,
    boot_total_sec: r.timings.totalSec,
    boot_console_log: r.consoleLog,
  };
  if (r.timings.bannerSec !== undefined) f.boot_banner_sec = r.timings.bannerSec;
  if (r.timings.initSec !== undefined) f.boot_init_sec = r.timings.initSec;
  if (r.timings.markerSec !== undefined) f.boot_marker_sec = r.timings.markerSec;
  return f;
}

/**
 * Reading a guest's serial console (pure): which boot stage was reached, the
 * init marker, panic lines, the last lines, and a diagnosis a person can act on.
 *
 * Stages, in order: firmware (e.g. OpenSBI), decompression (the image unpacking
 * itself), banner ("Linux version ..."), init (the kernel handed over to init),
 * marker (kiln's init printed its identity line).
 */
import type { ArchSpec } from "../tables/arches.js";

export const STAGES = ["none", "firmware", "decompression", "banner", "init", "marker"] as const;
export type Stage = (typeof STAGES)[number];

export const STAGE_TEXT: Record<Stage, string> = {
  none: "nothing (no console output)",
  firmware: "firmware",
  decompression: "kernel decompression",
  banner: "kernel banner",
  init: "init",
  marker: "init marker",
};

export const LAST_LINES = 40;

/** The line kiln's init prints: KILN-MARKER v1 release=... machine=... cpus=N mem_kib=N mounts=ok cmdline=... */
export interface Marker {
  release: string;
  machine: string;
  cpus: number;
  memKiB: number;
  mountsOk: boolean;
  /** The A/B slot the init was started from (kiln.slot= on the command line), when given. */
  slot?: string;
  cmdline: string;
  line: string;
}

const MARKER_RE = /KILN-MARKER v1 release=(\S*) machine=(\S*) cpus=(\d+) mem_kib=(\d+) mounts=(\S+)(?: slot=(\S*))? cmdline=(.*)$/;
const PRINTK_TIME_RE = /^\[\s*\d+\.\d+\]\s?/;
// CSI / OSC sequences and stray control characters other than tab.
// eslint-disable-next-line no-control-regex
const ANSI_RE = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07]*(\x07|\x1b\\)|\x1b[@-Z\\-_]|[\x00-\x08\x0b-\x1f\x7f]/g;

const BANNER_RE = /^Linux version \d+\.\d+\S* /;
const INIT_RES = [/^Run \S+ as init process/, /^kiln-init: started/, /^Trying to run \S+ as init process/];
const PANIC_RES = [
  /Kernel panic - not syncing/,
  /^---\[ end Kernel panic/,
  /^(Oops|BUG:|WARNING: CPU:|Unable to handle kernel|general protection fault|Internal error: Oops)/,
  /^Kernel Offset:/,
  /^(VFS: Unable to mount root fs|No working init found|Failed to execute \S+|check access for rdinit=\S+ failed|No filesystem could mount root)/,
];
const POWER_OFF_RES = [/^reboot: Power down/, /^reboot: System halted/, /^reboot: Power off not available/, /^System halted/];
const EXEC_END_RE = /^KILN-EXEC-END status=(\d+)$/;

/** Parses one marker line (pure). */
export function parseMarker(line: string): Marker | undefined {
  const m = MARKER_RE.exec(line);
  if (!m) return undefined;
  return {
    release: m[1]!,
    machine: m[2]!,
    cpus: Number(m[3]),
    memKiB: Number(m[4]),
    mountsOk: m[5] === "ok",
    ...(m[6] !== undefined ? { slot: m[6] } : {}),
    cmdline: m[7]!.trim(),
    line: line.slice(m.index),
  };
}

/** One console line as shown to people: no CR, no escape sequences, no trailing blanks. */
export function cleanLine(raw: string): string {
  return raw.replace(ANSI_RE, "").trimEnd();
}

function stageIndex(s: Stage): number {
  return STAGES.indexOf(s);
}

export interface StageTimes {
  /** Milliseconds from the start of the boot (as given to push) at which each stage was first seen. */
  firmware?: number;
  decompression?: number;
  banner?: number;
  init?: number;
  marker?: number;
}

export interface ConsoleState {
  stage: Stage;
  times: StageTimes;
  banner?: string;
  marker?: Marker;
  panic: string[];
  lastLines: string[];
  /** Lines seen in total. */
  lineCount: number;
  /** Time of the last byte of output, ms. */
  lastOutputAt?: number;
  /** The kernel said it is powering off or halting. */
  poweredOff: boolean;
  /** Exit status printed by the init in exec mode. */
  execStatus?: number;
  /** The guest has printed anything at all. */
  anyOutput: boolean;
}

/**
 * Incremental console reader: feed it chunks as they arrive with their time;
 * it keeps only what the diagnosis needs (the caller saves the full log).
 */
export class ConsoleTracker {
  private partial = "";
  private readonly firmwareRes: RegExp[];
  private readonly decompressRes: RegExp[];
  readonly state: ConsoleState = { stage: "none", times: {}, panic: [], lastLines: [], lineCount: 0, poweredOff: false, anyOutput: false };
  /** Called once per complete line (after cleaning), e.g. to follow exec output. */
  onLine?: (line: string, atMs: number) => void;

  constructor(arch?: Pick<ArchSpec, "firmwareLines" | "decompressLines">, private readonly keep = LAST_LINES) {
    this.firmwareRes = (arch?.firmwareLines ?? []).map((s) => new RegExp(s));
    this.decompressRes = (arch?.decompressLines ?? []).map((s) => new RegExp(s));
  }

  push(chunk: string, atMs: number): void {
    if (chunk.length === 0) return;
    this.state.anyOutput = true;
    this.state.lastOutputAt = atMs;
    const text = this.partial + chunk;
    const parts = text.split("\n");
    this.partial = parts.pop() ?? "";
    for (const p of parts) this.line(p, atMs);
  }

  /** Flushes a last line without newline. */
  end(atMs: number): ConsoleState {
    if (this.partial.length > 0) {
      const p = this.partial;
      this.partial = "";
      this.line(p, atMs);
    }
    return this.state;
  }

  /** The unterminated tail, e.g. a prompt or a line cut by a hang. */
  get pending(): string {
    return cleanLine(this.partial);
  }

  private reach(stage: Stage, atMs: number): void {
    const s = this.state;
    if (stage !== "none" && s.times[stage] === undefined) s.times[stage] = atMs;
    if (stageIndex(stage) > stageIndex(s.stage)) s.stage = stage;
  }

  private line(raw: string, atMs: number): void {
    const line = cleanLine(raw);
    const s = this.state;
    s.lineCount++;
    s.lastLines.push(line);
    if (s.lastLines.length > this.keep) s.lastLines.shift();
    const body = line.replace(PRINTK_TIME_RE, "");
    if (this.firmwareRes.some((r) => r.test(body))) this.reach("firmware", atMs);
    if (this.decompressRes.some((r) => r.test(body))) this.reach("decompression", atMs);
    if (s.banner === undefined && BANNER_RE.test(body)) {
      s.banner = body;
      this.reach("banner", atMs);
    }
    if (INIT_RES.some((r) => r.test(body))) this.reach("init", atMs);
    if (s.marker === undefined) {
      const m = parseMarker(body);
      if (m) {
        s.marker = m;
        this.reach("marker", atMs);
      }
    }
    if (PANIC_RES.some((r) => r.test(body))) s.panic.push(body);
    if (POWER_OFF_RES.some((r) => r.test(body))) s.poweredOff = true;
    const e = EXEC_END_RE.exec(body);
    if (e) s.execStatus = Number(e[1]);
    this.onLine?.(line, atMs);
  }
}

/** Reads a whole captured log (pure). */
export function analyzeConsole(text: string, arch?: Pick<ArchSpec, "firmwareLines" | "decompressLines">): ConsoleState {
  const t = new ConsoleTracker(arch);
  t.push(text, 0);
  return t.end(0);
}

/** How a boot ended, as seen from the host. */
export type BootEnd =
  | { kind: "exited"; code: number | null; signal?: string; stderr?: string }
  | { kind: "timeout"; afterSec: number }
  | { kind: "silent"; afterSec: number }
  | { kind: "stopped" }; // kiln stopped the guest after it powered off or halted

export interface DiagnosisInput {
  arch: Pick<ArchSpec, "name" | "console" | "consoleConfig">;
  state: ConsoleState;
  end: BootEnd;
  expectedRelease?: string;
  /** Time of the last output, for the timeout text. */
  nowMs?: number;
}

/** The one-line reason the boot failed, or undefined when it passed (pure). */
export function failureReason(d: DiagnosisInput): string | undefined {
  const s = d.state;
  if (s.marker) {
    if (d.expectedRelease !== undefined && s.marker.release !== d.expectedRelease) {
      return `identity mismatch: the guest runs ${JSON.stringify(s.marker.release)}, expected ${JSON.stringify(d.expectedRelease)}`;
    }
    if (!s.marker.mountsOk) return "the init could not mount proc, sys or devtmpfs (see the console lines)";
    return undefined;
  }
  const kernelSpoke = stageIndex(s.stage) >= stageIndex("banner") || s.panic.length > 0;
  if (!kernelSpoke) {
    const fw = s.stage === "firmware" || s.stage === "decompression" ? ` after ${STAGE_TEXT[s.stage]}` : "";
    const how =
      d.end.kind === "exited" && d.end.stderr?.trim()
        ? `; QEMU said: ${d.end.stderr.trim().split("\n").slice(-3).join(" | ")}`
        : d.end.kind === "exited"
          ? `; QEMU exited with ${d.end.code ?? d.end.signal}`
          : d.end.kind === "timeout" || d.end.kind === "silent"
            ? ` within ${d.end.afterSec} s`
            : "";
    return (
      `no console output from the kernel${fw}${how}: it has no console on ${d.arch.console} ` +
      `(is ${d.arch.consoleConfig}=y in its config?) or it died before its console came up`
    );
  }
  if (s.panic.length > 0) {
    const main = s.panic.find((l) => /Kernel panic - not syncing/.test(l)) ?? s.panic[0]!;
    const noInit = /Unable to mount root fs|No working init found|Requested init \S+ failed/.test(main) && stageIndex(s.stage) < stageIndex("marker");
    return `kernel panic at stage ${STAGE_TEXT[s.stage]}: ${main}${noInit ? " (no runnable init: the initramfs lacks /init or it cannot run on this kernel, and there is no root device)" : ""}`;
  }
  switch (d.end.kind) {
    case "timeout":
      return `timed out after ${d.end.afterSec} s at stage ${STAGE_TEXT[s.stage]}, before the init marker`;
    case "silent":
      return `the console went silent for ${d.end.afterSec} s at stage ${STAGE_TEXT[s.stage]}, before the init marker`;
    case "exited":
      return `QEMU exited (${d.end.code ?? d.end.signal}) at stage ${STAGE_TEXT[s.stage]}, before the init marker${d.end.stderr?.trim() ? `: ${d.end.stderr.trim().split("\n").slice(-1)[0]}` : ""}`;
    case "stopped":
      return `the guest powered off at stage ${STAGE_TEXT[s.stage]} without printing the init marker`;
  }
}

function fmtSec(ms: number | undefined): string {
  return ms === undefined ? "-" : `${(ms / 1000).toFixed(2)} s`;
}

/** A full, readable failure report (pure). */
export function renderDiagnosis(d: DiagnosisInput & { reason: string; consoleLog?: string; title?: string }): string {
  const s = d.state;
  const out: string[] = [];
  out.push(`${d.title ?? `boot of ${d.arch.name} failed`}: ${d.reason}`);
  const reached = (STAGES.filter((st) => st !== "none") as (keyof StageTimes)[])
    .filter((st) => s.times[st] !== undefined)
    .map((st) => `${STAGE_TEXT[st]} at ${fmtSec(s.times[st])}`)
    .join(", ");
  out.push(`  stage reached: ${STAGE_TEXT[s.stage]}${reached ? ` (${reached})` : ""}`);
  if (s.banner) out.push(`  kernel: ${s.banner}`);
  if (s.marker) out.push(`  marker: ${s.marker.line}`);
  if (s.panic.length > 0) {
    out.push("  panic:");
    for (const l of s.panic.slice(0, 12)) out.push(`    ${l}`);
  }
  if (d.end.kind === "timeout" || d.end.kind === "silent") {
    const last = d.state.lastLines.filter((l) => l.trim() !== "").slice(-1)[0];
    out.push(
      `  last seen: ${last !== undefined ? JSON.stringify(last) : "nothing"}` +
        (s.lastOutputAt !== undefined ? ` (at ${fmtSec(s.lastOutputAt)}, output stopped ${fmtSec((d.nowMs ?? s.lastOutputAt) - s.lastOutputAt)} before the end)` : ""),
    );
  }
  if (s.lastLines.length > 0) {
    out.push(`  last ${Math.min(s.lastLines.length, LAST_LINES)} console lines:`);
    for (const l of s.lastLines.slice(-LAST_LINES)) out.push(`    | ${l}`);
  }
  if (d.consoleLog) out.push(`  full console log: ${d.consoleLog}`);
  return out.join("\n");
}

/**
 * QEMU command lines, built from the arch table (pure: no I/O).
 * Everything that differs per arch comes from ArchSpec; this file only assembles.
 */
import type { ArchSpec } from "../tables/arches.js";
import { quoteArgv } from "../core/shell.js";
import { ProjectError } from "../errors.js";

/** The smallest guest kiln boots: below this no kernel of the arch table gets to init. */
export const MIN_MEMORY_MIB = 64;

/** Why a guest memory size is refused (pure); undefined when it is fine. */
export function memoryProblem(mib: number): string | undefined {
  if (!Number.isInteger(mib) || mib < MIN_MEMORY_MIB) return `memory must be a whole number of MiB, at least ${MIN_MEMORY_MIB}, got ${mib}`;
  return undefined;
}

/** Why a guest CPU count is refused (pure); undefined when it is fine. */
export function cpusProblem(n: number): string | undefined {
  if (!Number.isInteger(n) || n < 1) return `cpus must be a positive integer, got ${n}`;
  return undefined;
}

/**
 * Parses a `--memory` value (MiB) for the command line, before any build starts: a ProjectError
 * naming the option and the value when it is bad.
 */
export function parseMemoryOption(text: string, option = "--memory"): number {
  const n = /^\s*\d+\s*$/.test(text) ? Number(text) : Number.NaN;
  const problem = memoryProblem(n);
  if (problem) throw new ProjectError(`${problem.replace(/, got .*$/, "")}, got ${JSON.stringify(text)}`, { symbol: option }, `e.g. ${option} 512 (MiB)`);
  return n;
}

/** Parses a `--cpus` value the same way. */
export function parseCpusOption(text: string, option = "--cpus"): number {
  const n = /^\s*\d+\s*$/.test(text) ? Number(text) : Number.NaN;
  const problem = cpusProblem(n);
  if (problem) throw new ProjectError(`${problem.replace(/, got .*$/, "")}, got ${JSON.stringify(text)}`, { symbol: option }, `e.g. ${option} 2`);
  return n;
}

export type Accel = "kvm" | "tcg";

/** What the init does after printing its marker (kiln.mode= on the command line). */
export type InitMode = "smoke" | "exec" | "shell";

export interface QemuSpec {
  arch: ArchSpec;
  accel: Accel;
  /** Kernel image (bzImage / Image); absent when the firmware boots a disk (kiln boot --image). */
  kernel?: string;
  /** UEFI firmware as two flash devices: read-only code and a writable copy of the variable store. */
  firmware?: { code: string; vars: string };
  /** Machine override (an image boot may need another machine than the arch's default). */
  machine?: string;
  /** -bios override (an image boot runs U-Boot instead of the arch's default firmware). */
  bios?: string;
  initrd?: string;
  /** A disk image attached as the first virtio disk (/dev/vda). */
  rootfs?: string;
  rootfsFormat?: "raw" | "qcow2";
  /** Full kernel command line (see kernelCmdline). */
  cmdline: string;
  memoryMiB: number;
  cpus: number;
  /**
   * "pipe": the console on stdin/stdout, nothing else (smoke, --exec);
   * "interactive": console multiplexed with the monitor on the terminal (Ctrl-a x quits).
   */
  console: "pipe" | "interactive";
  /** Repeatable extra arguments, appended last so they can override. */
  extraArgs?: readonly string[];
  /** Start stopped (-S) with QEMU's gdb stub on 127.0.0.1:<port> (kiln run --gdb). */
  gdbPort?: number;
}

/** The kernel command line kiln boots with. User words come last so they win. */
export function kernelCmdline(
  arch: ArchSpec,
  o: { mode?: InitMode; rootfs?: boolean; initrd?: boolean; append?: string; quiet?: boolean } = {},
): string {
  const words = [`console=${arch.console}`, ...arch.bootAppend, "panic=-1"];
  const userWords = (o.append ?? "").split(/\s+/).filter(Boolean);
  const userHas = (key: string) => userWords.some((w) => w === key || w.startsWith(`${key}=`));
  if (o.initrd !== false) words.push("rdinit=/init");
  if (o.rootfs && !userHas("root")) words.push("root=/dev/vda", "rw");
  if (o.quiet) words.push("quiet");
  if (o.mode) {
    words.push(`kiln.mode=${o.mode}`);
    if (o.mode === "shell") words.push(`kiln.tty=${arch.console}`);
  }
  return [...words, ...userWords].join(" ");
}

/** The full argv, binary first. */
export function qemuArgv(s: QemuSpec): string[] {
  const bad = memoryProblem(s.memoryMiB) ?? cpusProblem(s.cpus);
  if (bad) throw new ProjectError(bad, {}, "give --memory in MiB (at least 64) and --cpus as a positive integer");
  const a = s.arch;
  const cpu = s.accel === "kvm" ? "host" : (a.qemuCpuTcg ?? a.qemuCpu);
  const argv = [
    a.qemuBinary,
    "-machine",
    s.machine ?? a.qemuMachine,
    "-accel",
    s.accel === "tcg" && s.cpus > 1 ? "tcg,thread=multi" : s.accel,
    ...(cpu ? ["-cpu", cpu] : []),
    "-m",
    `${s.memoryMiB}M`,
    "-smp",
    String(s.cpus),
    "-nodefaults",
    "-no-user-config",
    "-display",
    "none",
    ...(s.console === "pipe" ? ["-serial", "stdio", "-monitor", "none"] : ["-serial", "mon:stdio"]),
    "-no-reboot",
    ...(s.firmware
      ? ["-drive", `if=pflash,format=raw,unit=0,readonly=on,file=${s.firmware.code}`, "-drive", `if=pflash,format=raw,unit=1,file=${s.firmware.vars}`]
      : (s.bios ?? a.qemuBios) ? ["-bios", (s.bios ?? a.qemuBios)!] : []),
    ...(s.kernel !== undefined ? ["-kernel", s.kernel] : []),
    ...(s.initrd ? ["-initrd", s.initrd] : []),
  ];
  if (s.gdbPort !== undefined) {
    if (!Number.isInteger(s.gdbPort) || s.gdbPort < 1 || s.gdbPort > 65535) throw new ProjectError(`bad gdb port ${s.gdbPort}`, {}, "a TCP port from 1 to 65535");
    argv.push("-S", "-gdb", `tcp:127.0.0.1:${s.gdbPort}`);
  }
  if (s.rootfs) {
    argv.push("-drive", `file=${s.rootfs},format=${s.rootfsFormat ?? "raw"},if=virtio`);
  }
  if (s.kernel !== undefined) argv.push("-append", s.cmdline);
  argv.push(...(s.extraArgs ?? []));
  return argv;
}

/** The argv as one shell-quoted line, for logs and for a person to paste. */
export function shellQuote(argv: readonly string[]): string {
  return quoteArgv(argv);
}

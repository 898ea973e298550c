/**
 * QEMU command lines, built from the arch table (pure: no I/O).
 * Everything that differs per arch comes from ArchSpec; this file only assembles.
 */
import type { ArchSpec } from "../tables/arches.js";
import { quoteArgv } from "../core/shell.js";

export type Accel = "kvm" | "tcg";

/** What the init does after printing its marker (kiln.mode= on the command line). */
export type InitMode = "smoke" | "exec" | "shell";

export interface QemuSpec {
  arch: ArchSpec;
  accel: Accel;
  /** Kernel image (bzImage / Image). */
  kernel: string;
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
  if (!Number.isInteger(s.memoryMiB) || s.memoryMiB < 64) throw new Error(`memory must be at least 64 MiB, got ${s.memoryMiB}`);
  if (!Number.isInteger(s.cpus) || s.cpus < 1) throw new Error(`cpus must be a positive integer, got ${s.cpus}`);
  const a = s.arch;
  const cpu = s.accel === "kvm" ? "host" : (a.qemuCpuTcg ?? a.qemuCpu);
  const argv = [
    a.qemuBinary,
    "-machine",
    a.qemuMachine,
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
    ...(a.qemuBios ? ["-bios", a.qemuBios] : []),
    "-kernel",
    s.kernel,
    ...(s.initrd ? ["-initrd", s.initrd] : []),
  ];
  if (s.rootfs) {
    argv.push("-drive", `file=${s.rootfs},format=${s.rootfsFormat ?? "raw"},if=virtio`);
  }
  argv.push("-append", s.cmdline, ...(s.extraArgs ?? []));
  return argv;
}

/** The argv as one shell-quoted line, for logs and for a person to paste. */
export function shellQuote(argv: readonly string[]): string {
  return quoteArgv(argv);
}

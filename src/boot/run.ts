/**
 * `kiln run`: a guest for a person (the console on the terminal), and
 * `kiln run --exec 'cmd'`: one command in the guest, its output and exit code back
 * on the host.
 *
 * Both need some userland: a static busybox for the guest arch goes into kiln's
 * initramfs (Debian's busybox-static for the host arch; for other arches see
 * findBusybox). A user's own --initrd or --rootfs replaces kiln's initramfs.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HostError, InfraError } from "../errors.js";
import { start } from "../effects/proc.js";
import { waitListening } from "../effects/port.js";
import type { ArchSpec } from "../tables/arches.js";
import { writeCpio } from "./cpio.js";
import { failureReason, renderDiagnosis } from "./console.js";
import { buildInit, findBusybox, initramfsEntries, modulesTreeEntries, type InitToolchain } from "./init.js";
import { chooseAccel, KVM_FIRST_OUTPUT_SEC, kvmGuestSilent, noteSilentKvm, type AccelRequest } from "./kvm.js";
import { kernelCmdline, qemuArgv, shellQuote, type Accel } from "./qemu.js";
import { bootGuest, resolveArch } from "./smoke.js";

export interface RunOptions {
  arch: ArchSpec | string;
  kernel: string;
  /** The kernel tree (for kiln's init); not needed with --initrd or --rootfs alone. */
  tree?: string;
  /** Cache for the init build and the KVM probe. */
  cacheDir: string;
  /** Scratch dir for the generated initramfs. */
  workDir: string;
  initrd?: string;
  rootfs?: string;
  append?: string;
  memoryMiB?: number;
  cpus?: number;
  qemuArgs?: readonly string[];
  accel?: AccelRequest;
  /** The build's installed module tree (<store entry>/lib/modules/<release>): kiln's initramfs carries it at lib/modules/<release>. */
  modules?: { dir: string; release: string };
  /** Static busybox to put in kiln's initramfs (default: findBusybox). */
  busybox?: string;
  toolchain?: InitToolchain;
  notify?: (message: string) => void;
  /** Interactive only: start stopped with QEMU's gdb stub on this loopback port. */
  gdbPort?: number;
  /** With gdbPort: called once QEMU listens on it (gdb can attach). */
  onGdbReady?: () => void;
}

async function kilnInitramfs(o: RunOptions, arch: ArchSpec, execScript?: string): Promise<string> {
  if (!o.tree) throw new HostError("kiln's initramfs needs the kernel tree (for its init)", {}, "pass the tree, or give --initrd / --rootfs");
  const init = await buildInit({ tree: o.tree, arch, cacheDir: o.cacheDir, toolchain: o.toolchain });
  const busybox = readFileSync(findBusybox(arch, o.busybox));
  const modules = o.modules ? modulesTreeEntries(o.modules.dir, o.modules.release) : undefined;
  const cpio = writeCpio(initramfsEntries({ init: readFileSync(init.path), busybox, execScript, ...(modules ? { modules } : {}) }));
  mkdirSync(o.workDir, { recursive: true });
  const path = join(o.workDir, execScript === undefined ? `run-${arch.name}.cpio` : `exec-${arch.name}.cpio`);
  writeFileSync(path, cpio);
  return path;
}

/** The argv `kiln run` would start (for --dry-run and logs). */
export async function interactiveArgv(o: RunOptions): Promise<{ argv: string[]; accel: Accel; accelReason: string }> {
  const arch = resolveArch(o.arch);
  const choice = await chooseAccel(arch, o.accel ?? "auto", { cacheDir: o.cacheDir, notify: o.notify });
  const useKiln = !o.initrd && !o.rootfs;
  const initrd = o.initrd ?? (useKiln ? await kilnInitramfs(o, arch) : undefined);
  const cmdline = kernelCmdline(arch, {
    mode: useKiln ? "shell" : undefined,
    initrd: initrd !== undefined,
    rootfs: o.rootfs !== undefined,
    append: o.append,
  });
  const argv = qemuArgv({
    arch,
    accel: choice.accel,
    kernel: o.kernel,
    initrd,
    rootfs: o.rootfs,
    cmdline,
    memoryMiB: o.memoryMiB ?? 1024,
    cpus: o.cpus ?? 2,
    console: "interactive",
    extraArgs: o.qemuArgs,
    ...(o.gdbPort !== undefined ? { gdbPort: o.gdbPort } : {}),
  });
  return { argv, accel: choice.accel, accelReason: choice.reason };
}

/** Opens the guest console on this terminal; resolves with QEMU's exit code. Ctrl-a x quits. */
export async function runInteractive(o: RunOptions): Promise<number> {
  const { argv } = await interactiveArgv(o);
  o.notify?.(`starting: ${shellQuote(argv)}\n(Ctrl-a x quits QEMU; the guest powers off when its shell exits${o.gdbPort !== undefined ? "; QEMU waits for gdb: it starts the guest with continue, and quits with gdb's kill" : ""})`);
  const child = start(argv, { stdin: "inherit", stdout: "inherit", stderr: "inherit", missingHint: `apt-get install ${resolveArch(o.arch).qemuPackage}` });
  if (o.gdbPort !== undefined) {
    let ended = false;
    void child.done.then(() => (ended = true), () => (ended = true));
    if (await waitListening(o.gdbPort, { timeoutMs: 30_000, alive: () => !ended })) o.onGdbReady?.();
    else if (!ended) {
      child.kill("SIGKILL");
      await child.done.catch(() => undefined);
      throw new InfraError(`QEMU did not open its gdb stub on 127.0.0.1:${o.gdbPort} within 30 s`, {}, "another program may have taken the port; run kiln run --gdb again");
    }
  }
  return (await child.done).exitCode;
}

export interface ExecResult {
  /** The command's exit status in the guest. */
  exitCode: number;
  /** What it wrote to stdout and stderr (merged, as on a console; CR LF turned to LF). */
  output: string;
  consoleLog: string;
  accel: Accel;
  totalSec: number;
}

/**
 * The command's output between the init's BEGIN and END lines (pure).
 * The console turns LF into CR LF; the init adds one newline before END.
 */
export function extractExecOutput(raw: string): { output: string; status: number } | undefined {
  const text = raw.replace(/\r\n/g, "\n").replace(/\r/g, "");
  const begin = text.indexOf("KILN-EXEC-BEGIN\n");
  if (begin < 0) return undefined;
  const from = begin + "KILN-EXEC-BEGIN\n".length;
  const endRe = /\nKILN-EXEC-END status=(\d+)\n?/g;
  endRe.lastIndex = from - 1;
  const m = endRe.exec(text);
  if (!m) return undefined;
  return { output: text.slice(from, m.index), status: Number(m[1]) };
}

/** Runs one shell command in the guest (busybox sh) and returns its output and exit code. */
export async function runExec(o: RunOptions & { command: string; timeoutSec?: number; consoleLog?: string }): Promise<ExecResult> {
  const arch = resolveArch(o.arch);
  // With --rootfs, kiln's init still runs from the initramfs; the disk is there as /dev/vda.
  const request = o.accel ?? "auto";
  const choice = await chooseAccel(arch, request, { cacheDir: o.cacheDir, notify: o.notify });
  const initrd = o.initrd ?? (await kilnInitramfs(o, arch, `${o.command}\n`));
  const consoleLog = o.consoleLog ?? join(o.workDir, `exec-${arch.name}.log`);
  const boot = (accel: Accel) => bootGuest({
    arch,
    accel,
    kernel: o.kernel,
    initrd,
    rootfs: o.rootfs,
    cmdline: kernelCmdline(arch, { mode: "exec", quiet: true, append: o.append }),
    memoryMiB: o.memoryMiB ?? 512,
    cpus: o.cpus ?? 1,
    extraQemuArgs: o.qemuArgs,
    timeoutSec: o.timeoutSec ?? (accel === "kvm" ? 60 : arch.tcgTimeoutSec),
    silenceSec: o.timeoutSec ?? 60,
    firstOutputSec: accel === "kvm" && request === "auto" ? KVM_FIRST_OUTPUT_SEC : undefined,
    consoleLog,
    doneWhen: (s) => s.execStatus !== undefined,
  });
  let accel = choice.accel;
  let r = await boot(accel);
  if (kvmGuestSilent({ accel, request, anyOutput: r.state.anyOutput, endKind: r.end.kind })) {
    noteSilentKvm(arch, { cacheDir: o.cacheDir, notify: o.notify, silentSec: KVM_FIRST_OUTPUT_SEC });
    accel = "tcg";
    r = await boot(accel);
  }
  const got = extractExecOutput(r.raw);
  if (!got) {
    const reason = failureReason({ arch, state: r.state, end: r.end }) ?? "the command's end was not seen on the console";
    throw new InfraError(renderDiagnosis({ arch, state: r.state, end: r.end, reason, consoleLog, nowMs: r.totalMs, title: `kiln run --exec on ${arch.name} failed` }));
  }
  return { exitCode: got.status, output: got.output, consoleLog, accel, totalSec: Math.round(r.totalMs) / 1000 };
}

/**
 * Choosing the accelerator: KVM only when the guest arch equals the host arch and
 * KVM really runs a guest here. /dev/kvm existing is not enough (on some hosts it
 * exists and guests fault or hang), so kiln boots a few bytes of firmware under KVM
 * with the same machine and CPU model the real boot uses, and expects it to reach
 * a known exit. Anything else means TCG, said once per process and arch.
 *
 * The probe result is cached on disk per host boot (boot_id) and QEMU binary, so
 * repeated boots do not pay for it.
 */
import { constants, accessSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { hostArch, type ArchSpec } from "../tables/arches.js";
import type { Accel } from "./qemu.js";

export type AccelRequest = "auto" | Accel;

export interface AccelChoice {
  accel: Accel;
  /** Why: one line a person can read. */
  reason: string;
}

export interface KvmProbeResult {
  usable: boolean;
  reason: string;
}

/** Firmware for the probe guest (pure). */
export function probeFirmware(kind: NonNullable<ArchSpec["kvmProbe"]>): Buffer {
  if (kind === "x86-debug-exit") {
    // 64 KiB BIOS; at the reset vector (0xFFF0): mov al,0x31; out 0xf4,al; hlt; jmp $-1.
    // isa-debug-exit turns the write into QEMU exit status (0x31 << 1) | 1 = 99.
    const b = Buffer.alloc(65536, 0xf4);
    Buffer.from([0xb0, 0x31, 0xe6, 0xf4, 0xf4, 0xeb, 0xfd]).copy(b, 0xfff0);
    return b;
  }
  // arm64 at the flash base: w0 = PSCI SYSTEM_OFF (0x84000008); hvc #0; b .
  // Under KVM the virt machine's PSCI conduit is HVC; SYSTEM_OFF makes QEMU exit 0.
  const words = [0x52800100, 0x72b08000, 0xd4000002, 0x14000000];
  const b = Buffer.alloc(4096);
  words.forEach((w, i) => b.writeUInt32LE(w, i * 4));
  return b;
}

/** The probe's QEMU argv and the exit code that means "the guest ran" (pure). */
export function probeArgv(arch: ArchSpec, firmwarePath: string): { argv: string[]; expectExit: number } | undefined {
  const common = ["-accel", "kvm", "-cpu", "host", "-m", "64M", "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot"];
  if (arch.kvmProbe === "x86-debug-exit") {
    return {
      argv: [arch.qemuBinary, "-machine", arch.qemuMachine, ...common, "-bios", firmwarePath, "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"],
      expectExit: 99,
    };
  }
  if (arch.kvmProbe === "arm64-psci-off") {
    return { argv: [arch.qemuBinary, "-machine", arch.qemuMachine, ...common, "-bios", firmwarePath], expectExit: 0 };
  }
  return undefined;
}

function bootId(): string {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    return "unknown";
  }
}

const memo = new Map<string, Promise<KvmProbeResult>>();

/** Whether KVM really runs a guest of this arch (host arch only). Memoised and cached on disk. */
export function probeKvm(arch: ArchSpec, o: { cacheDir?: string; timeoutMs?: number } = {}): Promise<KvmProbeResult> {
  const key = `${arch.name}:${o.cacheDir ?? ""}`;
  let p = memo.get(key);
  if (!p) {
    p = probeUncached(arch, o);
    memo.set(key, p);
  }
  return p;
}

async function probeUncached(arch: ArchSpec, o: { cacheDir?: string; timeoutMs?: number }): Promise<KvmProbeResult> {
  if (!existsSync("/dev/kvm")) return { usable: false, reason: "/dev/kvm does not exist" };
  try {
    accessSync("/dev/kvm", constants.R_OK | constants.W_OK);
  } catch {
    return { usable: false, reason: "/dev/kvm is not readable and writable by this user (add it to the kvm group)" };
  }
  if (!arch.kvmProbe) return { usable: false, reason: `kiln has no KVM probe for ${arch.name} guests` };
  let qemuStamp = "";
  try {
    const which = await execa("sh", ["-c", 'command -v "$1"', "sh", arch.qemuBinary], { reject: false });
    const path = which.stdout.trim();
    qemuStamp = path ? `${path}:${statSync(path).mtimeMs}` : "";
  } catch {
    qemuStamp = "";
  }
  if (!qemuStamp) return { usable: false, reason: `${arch.qemuBinary} is not installed` };
  const cacheFile = o.cacheDir ? join(o.cacheDir, `kvm-probe-${arch.name}.json`) : undefined;
  const stamp = `${bootId()}|${qemuStamp}`;
  if (cacheFile && existsSync(cacheFile)) {
    try {
      const c = JSON.parse(readFileSync(cacheFile, "utf8")) as { stamp: string; result: KvmProbeResult };
      if (c.stamp === stamp) return c.result;
    } catch {
      // a torn or old cache file: probe again
    }
  }
  const dir = join(o.cacheDir ?? "/tmp", `kiln-kvm-probe-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const fw = join(dir, `probe-${arch.name}.bin`);
  writeFileSync(fw, probeFirmware(arch.kvmProbe));
  const spec = probeArgv(arch, fw)!;
  const r = await execa(spec.argv[0]!, spec.argv.slice(1), { reject: false, timeout: o.timeoutMs ?? 10_000, stdin: "ignore", all: true });
  rmSync(dir, { recursive: true, force: true });
  let result: KvmProbeResult;
  if (r.timedOut) result = { usable: false, reason: "a KVM test guest hung" };
  else if (r.exitCode === spec.expectExit) result = { usable: true, reason: "KVM runs guests" };
  else {
    const why = (r.all ?? "").split("\n").find((l) => /error|fail|assert/i.test(l)) ?? `exit ${r.exitCode ?? r.signal}`;
    result = { usable: false, reason: `a KVM test guest failed: ${why.replace(/^qemu-system-\S+: /, "").trim()}` };
  }
  if (cacheFile) {
    try {
      mkdirSync(o.cacheDir!, { recursive: true });
      writeFileSync(cacheFile, JSON.stringify({ stamp, result }));
    } catch {
      // caching is best effort
    }
  }
  return result;
}

const said = new Set<string>();

/**
 * Picks the accelerator. `notify` hears about a TCG fallback once per process and arch.
 * An explicit "kvm" is honoured without probing (the boot then shows what happens).
 */
export async function chooseAccel(
  arch: ArchSpec,
  request: AccelRequest = "auto",
  o: { cacheDir?: string; notify?: (message: string) => void; host?: string } = {},
): Promise<AccelChoice> {
  if (request === "tcg") return { accel: "tcg", reason: "TCG requested" };
  if (request === "kvm") return { accel: "kvm", reason: "KVM requested" };
  const host = o.host ?? hostArch();
  let choice: AccelChoice;
  if (arch.name !== host) {
    choice = { accel: "tcg", reason: `${arch.name} guest on a ${host} host` };
  } else {
    const p = await probeKvm(arch, { cacheDir: o.cacheDir });
    choice = p.usable ? { accel: "kvm", reason: p.reason } : { accel: "tcg", reason: p.reason };
  }
  if (choice.accel === "tcg" && !said.has(arch.name)) {
    said.add(arch.name);
    o.notify?.(`${arch.name}: using TCG (software emulation): ${choice.reason}`);
  }
  return choice;
}

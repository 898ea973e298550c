/**
 * Choosing the accelerator: KVM only when the guest arch equals the host arch and
 * KVM really runs a guest here. /dev/kvm existing is not enough (on some hosts it
 * exists and guests fault or hang), so kiln boots a few bytes of firmware under KVM
 * with the same machine and CPU model the real boot uses, and expects it to reach
 * a known exit. Anything else means TCG, said once per process and arch.
 *
 * Two facts are remembered in kiln's home, per host boot (boot_id) and QEMU binary (path,
 * size, mtime), so later boots pay for neither:
 * - the probe's result (kvm-probe-<arch>.json);
 * - the verdict that real guests stay silent under KVM even though the probe passes
 *   (kvm-guests-<arch>.json): on such hosts every later boot goes straight to TCG.
 * A reboot or a QEMU upgrade changes the stamp and kiln tries KVM again.
 */
import { constants, accessSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run, whichSync } from "../effects/proc.js";
import { writeFileAtomic } from "../effects/fsx.js";
import { hostArch, type ArchSpec } from "../tables/arches.js";
import type { Accel } from "./qemu.js";

/**
 * Under KVM a guest prints its banner in well under a second; a guest still silent after this
 * long will stay silent (the host's KVM does not run real guests), so kiln stops it early.
 */
export const KVM_FIRST_OUTPUT_SEC = 3;

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

/** This host boot and this QEMU binary, as one string; undefined when QEMU is not installed. */
export function hostStamp(arch: ArchSpec, o: { bootId?: string; path?: string } = {}): string | undefined {
  const path = whichSync(arch.qemuBinary, o.path);
  if (!path) return undefined;
  try {
    const st = statSync(path);
    return `${o.bootId ?? bootId()}|${path}:${st.size}:${Math.floor(st.mtimeMs)}`;
  } catch {
    return undefined;
  }
}

/** What kiln remembers about real guests under KVM on this host. */
export interface KvmVerdict {
  stamp: string;
  /** Real guests printed nothing under KVM (the probe passed). */
  guestsSilent: boolean;
  /** When it was seen (ISO time). */
  seen: string;
}

const verdictFile = (cacheDir: string, arch: ArchSpec) => join(cacheDir, `kvm-guests-${arch.name}.json`);

/** The remembered verdict, when it was recorded for this stamp (a stale or torn file is ignored). */
export function readKvmVerdict(cacheDir: string, arch: ArchSpec, stamp: string): KvmVerdict | undefined {
  try {
    const v = JSON.parse(readFileSync(verdictFile(cacheDir, arch), "utf8")) as Partial<KvmVerdict>;
    if (v.stamp === stamp && typeof v.guestsSilent === "boolean" && typeof v.seen === "string") return v as KvmVerdict;
  } catch {
    // absent or torn: nothing remembered
  }
  return undefined;
}

/** Records that real guests stay silent under KVM on this host (atomic write). */
export function recordSilentKvm(cacheDir: string, arch: ArchSpec, stamp: string, now = new Date()): KvmVerdict {
  const v: KvmVerdict = { stamp, guestsSilent: true, seen: now.toISOString() };
  mkdirSync(cacheDir, { recursive: true });
  writeFileAtomic(verdictFile(cacheDir, arch), JSON.stringify(v) + "\n");
  return v;
}

/**
 * The decision (pure): an explicit request wins; a guest of another arch runs under TCG; a
 * remembered "guests stay silent" verdict means TCG without probing; then the probe decides.
 * `probe` is called only when its answer matters.
 */
export async function decideAccel(i: {
  guest: string;
  host: string;
  request: AccelRequest;
  verdict?: KvmVerdict;
  probe: () => Promise<KvmProbeResult>;
}): Promise<AccelChoice> {
  if (i.request === "tcg") return { accel: "tcg", reason: "TCG requested" };
  if (i.request === "kvm") return { accel: "kvm", reason: "KVM requested" };
  if (i.guest !== i.host) return { accel: "tcg", reason: `${i.guest} guest on a ${i.host} host` };
  if (i.verdict?.guestsSilent) {
    return { accel: "tcg", reason: `guests printed nothing under KVM on this host (seen ${i.verdict.seen}; kiln tries KVM again after a reboot or a QEMU change)` };
  }
  const p = await i.probe();
  return p.usable ? { accel: "kvm", reason: p.reason } : { accel: "tcg", reason: p.reason };
}

/**
 * After a boot (pure): whether it shows that real guests stay silent under KVM here, so the
 * boot should be redone under TCG and the verdict remembered. Only for an automatic choice: an
 * explicit `--accel kvm` shows what happens.
 */
export function kvmGuestSilent(b: { accel: Accel; request: AccelRequest; anyOutput: boolean; endKind: string }): boolean {
  return b.accel === "kvm" && b.request === "auto" && !b.anyOutput && b.endKind !== "stopped";
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
  const stamp = hostStamp(arch);
  if (!stamp) return { usable: false, reason: `${arch.qemuBinary} is not installed` };
  const cacheFile = o.cacheDir ? join(o.cacheDir, `kvm-probe-${arch.name}.json`) : undefined;
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
  const r = await run(spec.argv, { allowFail: true, timeoutMs: o.timeoutMs ?? 10_000, missingHint: `apt-get install ${arch.qemuPackage}` });
  rmSync(dir, { recursive: true, force: true });
  let result: KvmProbeResult;
  if (r.timedOut) result = { usable: false, reason: "a KVM test guest hung" };
  else if (r.exitCode === spec.expectExit) result = { usable: true, reason: "KVM runs guests" };
  else {
    const why = r.all.split("\n").find((l) => /error|fail|assert/i.test(l)) ?? `exit ${r.signal ?? r.exitCode}`;
    result = { usable: false, reason: `a KVM test guest failed: ${why.replace(/^qemu-system-\S+: /, "").trim()}` };
  }
  if (cacheFile) {
    try {
      mkdirSync(o.cacheDir!, { recursive: true });
      writeFileAtomic(cacheFile, JSON.stringify({ stamp, result }));
    } catch {
      // caching is best effort
    }
  }
  return result;
}

const said = new Set<string>();

/** Says a TCG notice once per process and arch. */
function sayOnce(arch: string, message: string, notify?: (m: string) => void): void {
  if (said.has(arch)) return;
  said.add(arch);
  notify?.(message);
}

/**
 * Picks the accelerator. `notify` hears about a TCG fallback once per process and arch.
 * An explicit "kvm" is honoured without probing (the boot then shows what happens).
 */
export async function chooseAccel(
  arch: ArchSpec,
  request: AccelRequest = "auto",
  o: { cacheDir?: string; notify?: (message: string) => void; host?: string } = {},
): Promise<AccelChoice> {
  const host = o.host ?? hostArch();
  const stamp = request === "auto" && arch.name === host && o.cacheDir ? hostStamp(arch) : undefined;
  const choice = await decideAccel({
    guest: arch.name,
    host,
    request,
    verdict: stamp && o.cacheDir ? readKvmVerdict(o.cacheDir, arch, stamp) : undefined,
    probe: () => probeKvm(arch, { cacheDir: o.cacheDir }),
  });
  if (choice.accel === "tcg" && request === "auto") sayOnce(arch.name, `${arch.name}: using TCG (software emulation): ${choice.reason}`, o.notify);
  return choice;
}

/**
 * A boot under an automatic KVM choice printed nothing: remember it for this host (so later
 * boots go straight to TCG) and say once why TCG is used from now on.
 */
export function noteSilentKvm(arch: ArchSpec, o: { cacheDir?: string; notify?: (message: string) => void; silentSec: number }): string {
  const stamp = o.cacheDir ? hostStamp(arch) : undefined;
  let remembered = "";
  if (stamp && o.cacheDir) {
    try {
      recordSilentKvm(o.cacheDir, arch, stamp);
      remembered = "; later boots on this host use TCG until it reboots or QEMU changes";
    } catch {
      // remembering is best effort: the next boot asks again
    }
  }
  const reason = `the guest printed nothing under KVM in ${o.silentSec} s`;
  said.delete(arch.name);
  sayOnce(arch.name, `${arch.name}: using TCG (software emulation): ${reason}, although the KVM probe passed${remembered}`, o.notify);
  return `${reason}; fell back to TCG`;
}

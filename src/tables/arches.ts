/**
 * The architecture table: everything that differs between arches is data here,
 * not code elsewhere. Adding an arch is adding a row.
 */
export interface ArchSpec {
  /** kiln's name, also the `uname -m` of the guest. */
  name: string;
  /** The kernel's ARCH= value. */
  kernelArch: string;
  /** The kernel's SRCARCH (arch/<srcarch>). */
  srcArch: string;
  /** GNU cross prefix used when the host is another arch. */
  crossPrefix: string;
  /** Debian package holding the cross gcc. */
  crossGccPackage: string;
  /** The make goal that builds the boot image. */
  imageGoal: string;
  /** Path of the boot image, relative to the build dir. */
  imagePath: string;
  /** Name of the installed image under boot/. */
  installName: string;
  /** QEMU system binary and machine. */
  qemuBinary: string;
  qemuMachine: string;
  qemuCpu?: string;
  qemuPackage: string;
  /** Serial console device for console=. */
  console: string;
  /** Firmware argument for QEMU, if any (e.g. OpenSBI for riscv). */
  qemuBios?: string;
  /** UTS machine string the kernel reports. */
  utsMachine: string;
  /** CPU model under TCG (qemuCpu when absent); under KVM kiln uses "host". */
  qemuCpuTcg?: string;
  /** Kernel command-line words every boot of this arch gets (after console=). */
  bootAppend: readonly string[];
  /** The config symbol that gives the kernel its console on `console`, named when there is no output. */
  consoleConfig: string;
  /** How kiln proves KVM really runs a guest of this arch on a host of the same arch. */
  kvmProbe?: "x86-debug-exit" | "arm64-psci-off";
  /** Console lines (regex sources) printed by firmware before the kernel runs. */
  firmwareLines: readonly string[];
  /** Console lines (regex sources) printed while the kernel image decompresses itself. */
  decompressLines: readonly string[];
  /** Time budget for one smoke boot under TCG, in seconds. */
  tcgTimeoutSec: number;
}

export const ARCHES: Readonly<Record<string, ArchSpec>> = {
  x86_64: {
    name: "x86_64",
    kernelArch: "x86_64",
    srcArch: "x86",
    crossPrefix: "x86_64-linux-gnu-",
    crossGccPackage: "gcc-x86-64-linux-gnu",
    imageGoal: "bzImage",
    imagePath: "arch/x86/boot/bzImage",
    installName: "vmlinuz",
    qemuBinary: "qemu-system-x86_64",
    qemuMachine: "q35",
    qemuPackage: "qemu-system-x86",
    console: "ttyS0",
    utsMachine: "x86_64",
    bootAppend: [],
    consoleConfig: "CONFIG_SERIAL_8250_CONSOLE",
    kvmProbe: "x86-debug-exit",
    firmwareLines: ["^SeaBIOS \\(version", "^Booting from ROM", "^iPXE", "^qboot"],
    decompressLines: ["^Decompressing Linux", "^Parsing ELF", "^Booting the kernel"],
    tcgTimeoutSec: 60,
  },
  aarch64: {
    name: "aarch64",
    kernelArch: "arm64",
    srcArch: "arm64",
    crossPrefix: "aarch64-linux-gnu-",
    crossGccPackage: "gcc-aarch64-linux-gnu",
    imageGoal: "Image",
    imagePath: "arch/arm64/boot/Image",
    installName: "vmlinuz",
    qemuBinary: "qemu-system-aarch64",
    qemuMachine: "virt",
    qemuCpu: "cortex-a57",
    qemuPackage: "qemu-system-arm",
    console: "ttyAMA0",
    utsMachine: "aarch64",
    qemuCpuTcg: "cortex-a57",
    // earlycon with no argument follows the device tree's stdout-path: output from the first
    // instructions, so an early death is seen rather than a silent console.
    bootAppend: ["earlycon"],
    consoleConfig: "CONFIG_SERIAL_AMBA_PL011_CONSOLE",
    kvmProbe: "arm64-psci-off",
    firmwareLines: ["^U-Boot ", "^UEFI firmware", "^BdsDxe"],
    decompressLines: ["^EFI stub: Decompressing"],
    tcgTimeoutSec: 120,
  },
  riscv64: {
    name: "riscv64",
    kernelArch: "riscv",
    srcArch: "riscv",
    crossPrefix: "riscv64-linux-gnu-",
    crossGccPackage: "gcc-riscv64-linux-gnu",
    imageGoal: "Image",
    imagePath: "arch/riscv/boot/Image",
    installName: "vmlinuz",
    qemuBinary: "qemu-system-riscv64",
    qemuMachine: "virt",
    qemuPackage: "qemu-system-misc",
    console: "ttyS0",
    qemuBios: "default",
    utsMachine: "riscv64",
    qemuCpuTcg: "rv64",
    bootAppend: ["earlycon"],
    consoleConfig: "CONFIG_SERIAL_8250_CONSOLE (with CONFIG_SERIAL_OF_PLATFORM)",
    firmwareLines: ["^OpenSBI v", "^Platform Name\\s*:", "^Boot HART ", "^U-Boot "],
    decompressLines: [],
    tcgTimeoutSec: 120,
  },
};

export function archSpec(name: string): ArchSpec | undefined {
  return ARCHES[name];
}

/** The host's arch in kiln's names. */
export function hostArch(): string {
  switch (process.arch) {
    case "x64":
      return "x86_64";
    case "arm64":
      return "aarch64";
    case "riscv64":
      return "riscv64";
    default:
      return process.arch;
  }
}

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
  /** Debian's name for the arch (dpkg --print-architecture, `apt-get download pkg:<arch>`). */
  debianArch: string;
  /** e_machine in the ELF header of binaries for this arch. */
  elfMachine: number;
  /** Node's process.arch on a host of this arch: how kiln knows the host. */
  nodeArch: string;
  /** The SUBK bundle row, when bundles exist for the arch (docs/adr/0030). */
  bundle?: BundleSpec;
}

/** How an arch is packed into a SUBK bundle. */
export interface BundleSpec {
  /** The arch code in the bundle header. */
  code: number;
  /**
   * Which payload reader flattens the kernel: an x86_64 vmlinux ELF by its PT_LOAD segments,
   * or the raw boot Image (arm64 header with text_offset; riscv64 at a fixed base).
   */
  payload: "x86-vmlinux" | "arm64-image" | "riscv-image";
  /** Whether the bundle is made from `vmlinux` or from the boot image (imagePath / the installed vmlinuz). */
  input: "vmlinux" | "image";
  /** The monitor enters at the load address (entry == load). */
  entryAtLoad: boolean;
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
    debianArch: "amd64",
    elfMachine: 62,
    nodeArch: "x64",
    bundle: { code: 1, payload: "x86-vmlinux", input: "vmlinux", entryAtLoad: false },
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
    debianArch: "arm64",
    elfMachine: 183,
    nodeArch: "arm64",
    bundle: { code: 2, payload: "arm64-image", input: "image", entryAtLoad: true },
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
    debianArch: "riscv64",
    elfMachine: 243,
    nodeArch: "riscv64",
    bundle: { code: 3, payload: "riscv-image", input: "image", entryAtLoad: true },
  },
};

export function archSpec(name: string): ArchSpec | undefined {
  return ARCHES[name];
}

/** The arch whose row has this ELF e_machine. */
export function archByElfMachine(machine: number): ArchSpec | undefined {
  return Object.values(ARCHES).find((a) => a.elfMachine === machine);
}

/**
 * The row for a name as a person or the kernel spells it: kiln's name (x86_64), the kernel's
 * ARCH (arm64, riscv) or its SRCARCH (x86).
 */
export function archByAnyName(name: string): ArchSpec | undefined {
  return ARCHES[name] ?? Object.values(ARCHES).find((a) => a.kernelArch === name || a.srcArch === name);
}

/** kiln's name for a host whose Node process.arch is `nodeArch`; process.arch itself when no row matches. */
export function hostArchOf(nodeArch: string): string {
  return Object.values(ARCHES).find((a) => a.nodeArch === nodeArch)?.name ?? nodeArch;
}

/** The host's arch in kiln's names. */
export function hostArch(): string {
  return hostArchOf(process.arch);
}

/** The GNU triple of an arch (its cross prefix without the dash), e.g. aarch64-linux-gnu. */
export function gnuTriple(a: ArchSpec): string {
  return a.crossPrefix.replace(/-$/, "");
}

/** The cross prefix to use for an arch on this host: "" when the host runs that arch. */
export function crossPrefixFor(a: ArchSpec, host = hostArch()): string {
  return a.name === host ? "" : a.crossPrefix;
}

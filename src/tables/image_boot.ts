/**
 * How a disk image boots on each arch (data, not code): the firmware QEMU runs, the bootloader
 * kiln puts on the EFI system partition, where it keeps the A/B state, and the Debian packages
 * that provide them. See docs/adr/0080-gpt-ab-images.md and docs/adr/0081-aarch64-image-boot.md.
 */
export type ImageLoader = "grub-efi" | "u-boot";

export interface ImageBootSpec {
  /**
   * grub-efi: UEFI firmware (pflash) starts GRUB from the ESP's removable-media path.
   * u-boot: U-Boot as QEMU's -bios runs boot.scr from the ESP (distro boot), then booti.
   */
  loader: ImageLoader;
  /** grub-efi: grub-mkimage -O format. */
  grubFormat?: string;
  /** The file on the ESP the firmware starts (EFI binary or U-Boot script). */
  bootFile: string;
  /** grub-efi: GRUB modules built into the EFI binary (everything the A/B grub.cfg uses). */
  grubModules?: readonly string[];
  /** grub-efi: UEFI firmware as read-only code and the variable store kiln copies per boot. */
  firmwareCode?: string;
  firmwareVars?: string;
  /** u-boot: the U-Boot binary QEMU runs as -bios. */
  bios?: string;
  /** Where the A/B state lives on the ESP, and in which format. */
  envFile: string;
  envFormat: "grubenv" | "uboot-text";
  /** Debian packages that provide the firmware, the loader and the tools. */
  debianPackages: readonly string[];
  /** QEMU machine for an image boot. */
  qemuMachine: string;
  /** Extra seconds the firmware and the loader take under TCG, on top of the arch's kernel budget. */
  tcgExtraSec: number;
  /** Console lines that show the firmware or loader ran (for the stage reached). */
  firmwareLines: readonly string[];
}

const GRUB_AB_MODULES = [
  "part_gpt", "fat", "ext2", "normal", "linux", "loadenv", "test", "echo", "serial", "terminal", "regexp", "configfile", "halt", "reboot", "cat", "ls", "sleep",
] as const;

const TOOLS = ["mtools", "dosfstools", "e2fsprogs", "fdisk"] as const;

export const IMAGE_BOOT: Readonly<Record<string, ImageBootSpec>> = {
  x86_64: {
    loader: "grub-efi",
    grubFormat: "x86_64-efi",
    bootFile: "EFI/BOOT/BOOTX64.EFI",
    grubModules: GRUB_AB_MODULES,
    firmwareCode: "/usr/share/OVMF/OVMF_CODE_4M.fd",
    firmwareVars: "/usr/share/OVMF/OVMF_VARS_4M.fd",
    envFile: "EFI/kiln/grubenv",
    envFormat: "grubenv",
    debianPackages: ["ovmf", "grub-efi-amd64-bin", "grub-common", ...TOOLS],
    qemuMachine: "q35",
    tcgExtraSec: 120,
    firmwareLines: ["^BdsDxe: ", "^kiln-grub: "],
  },
  aarch64: {
    loader: "u-boot",
    bootFile: "boot.scr",
    bios: "/usr/lib/u-boot/qemu_arm64/u-boot.bin",
    envFile: "kiln/abenv.txt",
    envFormat: "uboot-text",
    debianPackages: ["u-boot-qemu", "u-boot-tools", ...TOOLS],
    qemuMachine: "virt",
    tcgExtraSec: 120,
    firmwareLines: ["^U-Boot 20\\d\\d", "^kiln-uboot: "],
  },
};

/** The layouts kiln can lay out. */
export const IMAGE_LAYOUTS = ["gpt-ab", "rpi-ab"] as const;
export type ImageLayout = (typeof IMAGE_LAYOUTS)[number];

/** What each layout needs and can do (data): see docs/adr/0080 and docs/adr/0111-rpi-ab-images.md. */
export interface ImageLayoutSpec {
  /** The arches kiln makes this layout for. */
  arches: readonly string[];
  /** The host tools make, inspect and update run, and the Debian packages that provide them. */
  tools: readonly string[];
  debianPackages: readonly string[];
  /** Whether kiln boot --image can boot it under QEMU, and why not when it cannot. */
  qemuBoots: boolean;
  qemuReason?: string;
}

export const IMAGE_LAYOUT_SPECS: Readonly<Record<ImageLayout, ImageLayoutSpec>> = {
  "gpt-ab": {
    arches: Object.keys(IMAGE_BOOT),
    tools: ["sfdisk", "mkfs.vfat", "mmd", "mcopy", "mke2fs", "debugfs", "zstd"],
    debianPackages: [...TOOLS, "zstd"],
    qemuBoots: true,
  },
  "rpi-ab": {
    arches: ["aarch64"],
    tools: ["sfdisk", "mkfs.vfat", "mmd", "mcopy", "mtype", "mdir", "mke2fs", "debugfs", "zstd"],
    debianPackages: [...TOOLS, "zstd"],
    qemuBoots: false,
    qemuReason: "QEMU 7.2 (Debian 12's) has no raspi4b machine, and its raspi3b does not run the Pi 4 firmware's autoboot.txt/tryboot logic: an rpi-ab image boots on the board only",
  },
};

/** Why an image of a layout cannot be made for an arch (said in errors); undefined when it can. */
export function imageArchProblem(arch: string, layout: ImageLayout = "gpt-ab"): string | undefined {
  const spec = IMAGE_LAYOUT_SPECS[layout];
  if (spec.arches.includes(arch)) return undefined;
  return `kiln makes ${layout} images for ${spec.arches.join(", ")} only`;
}

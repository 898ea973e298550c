/**
 * How a disk image boots on each arch (data, not code): the firmware QEMU runs, the bootloader
 * kiln puts on the EFI system partition, and the Debian packages that provide them.
 * See docs/adr/0080-gpt-ab-images.md and docs/adr/0081-aarch64-image-boot.md.
 */
export interface ImageBootSpec {
  /** The loader kiln lays out: GRUB (x86_64-efi) as the removable-media EFI binary. */
  loader: "grub-efi";
  /** grub-mkimage -O format. */
  grubFormat: string;
  /** Path of the EFI binary on the ESP (the UEFI removable-media default). */
  efiBinary: string;
  /** GRUB modules built into the EFI binary (everything the A/B grub.cfg uses). */
  grubModules: readonly string[];
  /** UEFI firmware: read-only code and the variable store kiln copies to a temp file per boot. */
  firmwareCode: string;
  firmwareVars: string;
  /** Debian packages that provide the firmware, the loader and the tools. */
  debianPackages: readonly string[];
  /** QEMU machine for an image boot (the firmware needs its flash devices). */
  qemuMachine: string;
  /** Extra seconds the firmware and the loader take under TCG, on top of the arch's kernel budget. */
  tcgExtraSec: number;
  /** Console lines that show the firmware or loader ran (for the stage reached). */
  firmwareLines: readonly string[];
}

const GRUB_AB_MODULES = [
  "part_gpt", "fat", "ext2", "normal", "linux", "loadenv", "test", "echo", "serial", "terminal", "regexp", "configfile", "halt", "reboot", "cat", "ls", "sleep",
] as const;

export const IMAGE_BOOT: Readonly<Record<string, ImageBootSpec>> = {
  x86_64: {
    loader: "grub-efi",
    grubFormat: "x86_64-efi",
    efiBinary: "EFI/BOOT/BOOTX64.EFI",
    grubModules: GRUB_AB_MODULES,
    firmwareCode: "/usr/share/OVMF/OVMF_CODE_4M.fd",
    firmwareVars: "/usr/share/OVMF/OVMF_VARS_4M.fd",
    debianPackages: ["ovmf", "grub-efi-amd64-bin", "grub-common", "mtools", "dosfstools", "e2fsprogs", "fdisk"],
    qemuMachine: "q35",
    tcgExtraSec: 120,
    firmwareLines: ["^BdsDxe: ", "^kiln-grub: "],
  },
};

/** The layouts kiln can lay out. */
export const IMAGE_LAYOUTS = ["gpt-ab"] as const;
export type ImageLayout = (typeof IMAGE_LAYOUTS)[number];

/** The arches an image can be made for, with the reason for the others (said in errors). */
export function imageArchProblem(arch: string): string | undefined {
  if (IMAGE_BOOT[arch]) return undefined;
  if (arch === "aarch64") return "gpt-ab images for aarch64 are not made yet: Debian on amd64 has no grub-efi-arm64-bin, and kiln's U-Boot path is not written (docs/adr/0081-aarch64-image-boot.md)";
  return `kiln makes gpt-ab images for ${Object.keys(IMAGE_BOOT).join(", ")} only`;
}

/**
 * Host requirements: each row is a command kiln runs, the Debian package that provides it, and
 * why. `kiln doctor` checks them; `kiln doctor --install` installs the missing packages.
 */
import { ARCHES, hostArch } from "./arches.js";

const HOST = hostArch();

export interface HostTool {
  cmd: string;
  pkg: string;
  why: string;
  /** Needed only for some targets/commands. */
  optional?: boolean;
  /** Only for these arches (cross compilers, QEMU). */
  arch?: string;
}

export const HOST_TOOLS: readonly HostTool[] = [
  { cmd: "make", pkg: "make", why: "kbuild" },
  { cmd: "gcc", pkg: "gcc", why: "the default toolchain" },
  { cmd: "ld", pkg: "binutils", why: "linker" },
  { cmd: "flex", pkg: "flex", why: "kconfig lexer" },
  { cmd: "bison", pkg: "bison", why: "kconfig parser" },
  { cmd: "bc", pkg: "bc", why: "kernel build scripts" },
  { cmd: "perl", pkg: "perl", why: "kernel build scripts" },
  { cmd: "git", pkg: "git", why: "source store and warm trees" },
  { cmd: "patch", pkg: "patch", why: "the patch series gate" },
  { cmd: "tar", pkg: "tar", why: "unpacking sources" },
  { cmd: "xz", pkg: "xz-utils", why: "xz tarballs" },
  { cmd: "zstd", pkg: "zstd", why: "artifacts" },
  { cmd: "cpio", pkg: "cpio", why: "initramfs tooling" },
  { cmd: "flock", pkg: "util-linux", why: "build locks" },
  { cmd: "rsync", pkg: "rsync", why: "headers_install" },
  { cmd: "depmod", pkg: "kmod", why: "modules_install" },
  { cmd: "ccache", pkg: "ccache", why: "compiler cache (>= 4.7.3)", optional: true },
  { cmd: "pahole", pkg: "dwarves", why: "BTF, when DEBUG_INFO_BTF is on", optional: true },
  { cmd: "clang", pkg: "clang", why: "the clang toolchain (LLVM=1)", optional: true },
  { cmd: "ld.lld", pkg: "lld", why: "the clang toolchain (LLVM=1)", optional: true },
  // QEMU for every arch of the arch table (needed for other arches only when asked for them).
  ...Object.values(ARCHES).map((a) => ({
    cmd: a.qemuBinary,
    pkg: a.qemuPackage,
    why: `boot ${a.name} guests`,
    optional: true,
    ...(a.name === HOST ? {} : { arch: a.name }),
  })),
  // disk images (kiln image, kiln boot --image; docs/images.md)
  { cmd: "sfdisk", pkg: "fdisk", why: "GPT of disk images", optional: true },
  { cmd: "mkfs.vfat", pkg: "dosfstools", why: "the EFI system partition of disk images", optional: true },
  { cmd: "mcopy", pkg: "mtools", why: "files in FAT partitions without root", optional: true },
  { cmd: "debugfs", pkg: "e2fsprogs", why: "files in ext4 partitions without root (mke2fs -d)", optional: true },
  { cmd: "grub-mkimage", pkg: "grub-efi-amd64-bin", why: "GRUB for x86_64 disk images (with grub-common)", optional: true },
  { cmd: "mkimage", pkg: "u-boot-tools", why: "U-Boot's boot.scr in aarch64 disk images (with u-boot-qemu)", optional: true },
  { cmd: "busybox", pkg: "busybox-static", why: "userland for kiln run --exec", optional: true },
  { cmd: "minisign", pkg: "minisign", why: "verify kiln's signatures with the reference tool", optional: true },
  { cmd: "b4", pkg: "b4", why: "mailed series fetched by message-id ([series] b4)", optional: true },
  // Cross compilers for every arch that is not the host's.
  ...Object.values(ARCHES)
    .filter((a) => a.name !== HOST)
    .map((a) => ({ cmd: `${a.crossPrefix}gcc`, pkg: a.crossGccPackage, why: `cross-compile ${a.name}`, optional: true, arch: a.name })),
];

/** Libraries checked by their headers (no command to probe). */
export const HOST_HEADERS: readonly { header: string; pkg: string; why: string }[] = [
  { header: "/usr/include/libelf.h", pkg: "libelf-dev", why: "objtool and ORC unwinder (x86)" },
  { header: "/usr/include/openssl/ssl.h", pkg: "libssl-dev", why: "module signing and certificate tools" },
];

#!/usr/bin/env bash
# Makes the example's vendor fork: a git repository standing for a board vendor's kernel tree
# (like github.com/raspberrypi/linux), made here from Debian's linux-source package because the
# machines that build this example have no network.
#
#   main            one commit: the Debian source tree as Debian ships it
#   rpi-6.12.y      on top, the vendor's commit: a vendor defconfig
#                   (arch/arm64/configs/kiln_rpi_defconfig, made with savedefconfig from the
#                   vendor's seed below) and a small change to the Pi firmware driver
#
# Every author, committer and date is fixed, so the same Debian package gives the same commit
# ids on every machine. Usage:
#   scripts/make-vendor-fork.sh [--source /usr/src/linux-source-6.12.tar.xz] [--out vendor/linux-rpi.git]
# The repository is made under a temporary name and renamed into place; run again to remake it.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
src=/usr/src/linux-source-6.12.tar.xz
out=$here/vendor/linux-rpi.git
while [[ $# -gt 0 ]]; do
  case $1 in
    --source) src=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "make-vendor-fork.sh: unknown argument $1 (use --source <tarball> or --out <repo>)" >&2; exit 1 ;;
  esac
done
if [[ ! -f $src ]]; then
  echo "make-vendor-fork.sh: no $src: install Debian's linux-source-6.12 (apt-get install linux-source-6.12)" >&2
  exit 1
fi
mkdir -p "$(dirname "$out")"
tmp=$(mktemp -d "$(dirname "$out")/.fork.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export GIT_AUTHOR_NAME="Kiln Example Vendor" GIT_AUTHOR_EMAIL="vendor@example.invalid"
export GIT_COMMITTER_NAME="$GIT_AUTHOR_NAME" GIT_COMMITTER_EMAIL="$GIT_AUTHOR_EMAIL"
export GIT_CONFIG_NOSYSTEM=1 HOME=$tmp LC_ALL=C TZ=UTC
g() { git -c init.defaultBranch=main -c core.looseCompression=1 -c gc.auto=0 -c core.autocrlf=false -c core.fileMode=true "$@"; }

echo "make-vendor-fork: unpacking $(basename "$src")" >&2
mkdir "$tmp/tree"
tar -xf "$src" -C "$tmp/tree" --strip-components=1 --no-same-owner
cd "$tmp/tree"
g init -q --bare "$tmp/repo.git"
export GIT_DIR=$tmp/repo.git GIT_WORK_TREE=$tmp/tree
# upload-pack (kiln's fetch) packs without a delta search: quicker for a one-off local copy
g config pack.window 0
g config pack.compression 1
version=$(dpkg-deb -f "$(ls /var/cache/apt/archives/linux-source-6.12_*.deb 2>/dev/null | tail -1)" Version 2>/dev/null || make -s kernelversion)
echo "make-vendor-fork: committing the Debian tree ($version)" >&2
g add -A -f .
GIT_AUTHOR_DATE="2026-01-01T00:00:00Z" GIT_COMMITTER_DATE="2026-01-01T00:00:00Z" \
  g commit -q -m "Import Debian linux-source-6.12 ($version)"

echo "make-vendor-fork: the vendor's commit" >&2
g checkout -q -b rpi-6.12.y
# The vendor's seed: what its boards need, over allnoconfig. savedefconfig turns it into the
# minimal defconfig a vendor commits.
cat > "$tmp/seed.config" <<'SEED'
CONFIG_ARCH_BCM=y
CONFIG_ARCH_BCM2835=y
CONFIG_SMP=y
CONFIG_NR_CPUS=4
CONFIG_PRINTK=y
CONFIG_TTY=y
CONFIG_BLK_DEV_INITRD=y
CONFIG_BINFMT_ELF=y
CONFIG_BINFMT_SCRIPT=y
CONFIG_DEVTMPFS=y
CONFIG_DEVTMPFS_MOUNT=y
CONFIG_PROC_FS=y
CONFIG_SYSFS=y
CONFIG_SERIAL_AMBA_PL011=y
CONFIG_SERIAL_AMBA_PL011_CONSOLE=y
CONFIG_SERIAL_8250=y
CONFIG_SERIAL_8250_CONSOLE=y
CONFIG_SERIAL_8250_EXTENDED=y
CONFIG_SERIAL_8250_SHARE_IRQ=y
CONFIG_SERIAL_8250_BCM2835AUX=y
CONFIG_MAILBOX=y
CONFIG_BCM2835_MBOX=y
CONFIG_RASPBERRYPI_FIRMWARE=y
CONFIG_MMC=y
CONFIG_MMC_SDHCI=y
CONFIG_MMC_SDHCI_PLTFM=y
CONFIG_MMC_SDHCI_IPROC=y
CONFIG_BLOCK=y
CONFIG_MSDOS_PARTITION=y
CONFIG_PARTITION_ADVANCED=y
CONFIG_VFAT_FS=y
CONFIG_EXT4_FS=y
SEED
mkdir "$tmp/kconfig"
make -s -C "$tmp/tree" O="$tmp/kconfig" ARCH=arm64 KCONFIG_ALLCONFIG="$tmp/seed.config" allnoconfig >/dev/null
make -s -C "$tmp/tree" O="$tmp/kconfig" ARCH=arm64 savedefconfig >/dev/null
{
  echo "# Kiln Example Vendor: Raspberry Pi 4 (BCM2711) kernel, 64-bit."
  echo "# Made with savedefconfig over allnoconfig; build with: make ARCH=arm64 kiln_rpi_defconfig"
  cat "$tmp/kconfig/defconfig"
} > arch/arm64/configs/kiln_rpi_defconfig
# the vendor's driver change: the firmware driver says which vendor tree it came from
python3 - drivers/firmware/raspberrypi.c <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
old = 'dev_info(fw->cl.dev, "Attached to firmware from %ptT\\n", &date_and_time);'
if old not in s:
    sys.exit(f"make-vendor-fork: {p} has no firmware date line to extend")
s = s.replace(old, old + '\n\tdev_info(fw->cl.dev, "Kiln Example Vendor tree (rpi-6.12.y)\\n");', 1)
open(p, "w").write(s)
PY
g add -f arch/arm64/configs/kiln_rpi_defconfig drivers/firmware/raspberrypi.c
GIT_AUTHOR_DATE="2026-01-02T00:00:00Z" GIT_COMMITTER_DATE="2026-01-02T00:00:00Z" \
  g commit -q -m "arm64: add kiln_rpi_defconfig; firmware: name the vendor tree" \
  -m "The vendor's defconfig for the Raspberry Pi 4, and a line in the firmware driver's probe."
head=$(g rev-parse HEAD)
unset GIT_DIR GIT_WORK_TREE
rm -rf "$out"
mv "$tmp/repo.git" "$out"
echo "make-vendor-fork: $out: rpi-6.12.y at $head" >&2

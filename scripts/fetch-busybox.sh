#!/usr/bin/env bash
# Static busybox binaries for the guest arches kiln boots but the host is not, so that
# `kiln run --exec` (and its tests) work for every arch in src/tables/arches.ts.
#
# Each comes from Debian's busybox-static package for that arch, downloaded with apt through a
# private apt state (the machine's own sources and architectures are not changed) and unpacked
# with dpkg-deb. The binary lands at /usr/lib/kiln/busybox-<arch>, one of the places kiln's
# findBusybox looks (src/boot/init.ts; KILN_BUSYBOX_<ARCH> still overrides it).
#
# Debian 12 (bookworm) has no riscv64 port in its archive; riscv64 is an official arch from
# Debian 13 (trixie) on, so riscv64 takes trixie's package (a static binary needs no libc of
# that release). Idempotent: an arch whose binary is already there is left alone.
#   bash scripts/fetch-busybox.sh [DEST]      (DEST defaults to /usr/lib/kiln)
set -euo pipefail
dest="${1:-/usr/lib/kiln}"
# kiln arch, Debian arch, Debian suite
rows=(
  "aarch64 arm64 bookworm"
  "riscv64 riscv64 trixie"
)
host=$(uname -m)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$dest"
for row in "${rows[@]}"; do
  read -r arch deb suite <<<"$row"
  [[ "$arch" == "$host" ]] && continue
  out="$dest/busybox-$arch"
  if [[ -x "$out" ]]; then echo "busybox for $arch: $out (already there)"; continue; fi
  st="$work/$deb"
  mkdir -p "$st/lists/partial" "$st/cache/archives/partial" "$st/etc/preferences.d" "$st/etc/apt.conf.d" "$st/dl"
  echo "deb [arch=$deb signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $suite main" >"$st/etc/sources.list"
  touch "$st/status"
  opts=(
    -o "Dir::Etc::SourceList=$st/etc/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
    -o "Dir::Etc::Preferences=/dev/null" -o "Dir::Etc::PreferencesParts=$st/etc/preferences.d"
    -o "Dir::State::Lists=$st/lists" -o "Dir::State::status=$st/status" -o "Dir::Cache=$st/cache"
    -o "APT::Architecture=$deb" -o "APT::Architectures::=$deb" -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root"
  )
  apt-get "${opts[@]}" -q update >/dev/null
  (cd "$st/dl" && apt-get "${opts[@]}" -q download "busybox-static:$deb" >/dev/null)
  dpkg-deb -x "$st"/dl/busybox-static_*.deb "$st/root"
  bin="$st/root/bin/busybox"
  [[ -f "$bin" ]] || bin="$st/root/usr/bin/busybox" # trixie's merged /usr
  install -m 0755 "$bin" "$out.tmp"
  mv "$out.tmp" "$out"
  echo "busybox for $arch: $out ($(basename "$st"/dl/busybox-static_*.deb))"
done

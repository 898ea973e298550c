#!/usr/bin/env bash
# Set up a fresh Debian 12 machine for kiln: Debian packages (scripts/debian-packages.txt),
# static busybox binaries for the foreign guest arches (scripts/fetch-busybox.sh, into
# /usr/lib/kiln), npm dependencies (npm ci) and the TypeScript build. Idempotent; uses sudo when not root.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=()
if [[ $(id -u) -ne 0 ]]; then SUDO=(sudo); fi
mapfile -t pkgs < <(grep -v '^\s*#' scripts/debian-packages.txt | sed 's/\s*#.*//' | grep -v '^\s*$')
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -q
"${SUDO[@]}" apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 "${pkgs[@]}"
"${SUDO[@]}" bash scripts/fetch-busybox.sh /usr/lib/kiln
npm ci --no-audit --no-fund
npm run build

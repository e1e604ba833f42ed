#!/usr/bin/env bash
# Installs everything lapis's tests need on a fresh Debian machine: Debian packages first, then npm ci.
# The model's tests need only Node; the conformance runner's backends (nasm, QEMU, Bochs) join this list
# when that runner lands.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=()

missing=()
for p in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
npm ci --no-audit --no-fund

#!/usr/bin/env bash
# Installs everything lapis's tests need on a fresh Debian bookworm machine: Debian packages first, then npm ci.
# The model's tests need only Node; the conformance runner (docs/conformance.md) needs nasm (guest images),
# QEMU 7.2 (qemu-tcg, qemu-kvm*), Bochs 2.7 (bochs) and, side by side with 7.2, QEMU 10 from bookworm-backports
# (qemu10-tcg), unpacked under $LAPIS_QEMU10_DIR without touching the system's QEMU.
# Idempotent: when everything is present it only checks (well under a second) and runs npm ci.
set -euo pipefail
cd "$(dirname "$0")/.."

# nasm: assembles the guests. qemu-system-x86 (7.2): qemu-tcg and the KVM backends; it brings seabios and the
# shared libraries QEMU 10 needs too. bochs + bochsbios + vgabios: Bochs 2.7 (SMP and SMM). Bochs's package insists
# on one display plugin (bochs-gui), and Debian's build has no 'nogui' display: bochs-term is the smallest, and the
# runner uses it headless ('term' runs ncurses on a pty of its own; no terminal is needed). chromium: the web app's
# browser tests (test/web, through playwright-core; no browser is downloaded).
DEBIAN_PACKAGES=(nasm qemu-system-x86 bochs bochsbios vgabios bochs-term chromium)

sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"

missing=()
for p in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# QEMU 10 from bookworm-backports (from the mirror the system's apt already uses), unpacked (dpkg -x) into its own
# prefix. A private apt configuration (its own sources list, package lists and cache under $QEMU10_DIR/apt, removed
# afterwards) reads bookworm-backports without adding it to the system's sources, so nothing the system installs
# later picks up a backported package.
# Its shared libraries are bookworm's, already brought by qemu-system-x86 7.2 above.
QEMU10_DIR="${LAPIS_QEMU10_DIR:-/opt/lapis/qemu-10}"
QEMU10_PACKAGES=(qemu-system-x86 qemu-system-common qemu-system-data seabios)
qemu10_ok() {
  [ -x "$QEMU10_DIR/usr/bin/qemu-system-x86_64" ] &&
    "$QEMU10_DIR/usr/bin/qemu-system-x86_64" --version 2>/dev/null | grep -q 'version 10\.'
}
if ! qemu10_ok; then
  mkdir -p "$QEMU10_DIR" 2>/dev/null || $sudo mkdir -p "$QEMU10_DIR"
  [ -w "$QEMU10_DIR" ] || $sudo chown "$(id -u):$(id -g)" "$QEMU10_DIR"
  apt_dir="$QEMU10_DIR/apt"
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/debs"
  # The mirror the system's own apt sources use (scripts/debian-mirror.sh), or LAPIS_DEBIAN_MIRROR.
  mirror="${LAPIS_DEBIAN_MIRROR:-$(bash scripts/debian-mirror.sh bookworm)}" || {
    echo "setup: cannot tell which Debian mirror this machine uses (see above); set LAPIS_DEBIAN_MIRROR=URI" >&2
    exit 1
  }
  echo "deb $mirror bookworm-backports main" >"$apt_dir/sources.list"
  apt_opts=(
    -o "Dir::Etc::SourceList=$apt_dir/sources.list" -o "Dir::Etc::SourceParts=/nonexistent"
    -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
    -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root"
  )
  apt-get -q "${apt_opts[@]}" update
  rm -f "$apt_dir/debs/"*.deb
  (cd "$apt_dir/debs" && apt-get -q "${apt_opts[@]}" download "${QEMU10_PACKAGES[@]}")
  for deb in "$apt_dir/debs/"*.deb; do dpkg -x "$deb" "$QEMU10_DIR"; done
  rm -rf "$apt_dir"
  if ! qemu10_ok; then
    echo "setup: QEMU 10 from bookworm-backports does not run; missing libraries:" >&2
    ldd "$QEMU10_DIR/usr/bin/qemu-system-x86_64" | grep 'not found' >&2 || true
    exit 1
  fi
fi
"$QEMU10_DIR/usr/bin/qemu-system-x86_64" --version | head -1

# kvm-unit-tests (docs/kvm-unit-tests.md): apic.flat, ioapic.flat, smptest.flat, eventinj.flat and msr.flat, built
# into $LAPIS_KUT_DIR (never into the repository) from a copy of ../shared/third_party/kvm-unit-tests (read-only:
# it is copied first; LAPIS_KUT_SRC names another tree) or, where that is absent, from upstream at the same commit.
# Idempotent: a build whose COMMIT file names that commit and has every .flat is left alone.
KUT_COMMIT=1da1819e49fc4938985edca67df669099b4c87a7
KUT_DIR="${LAPIS_KUT_DIR:-/opt/lapis/kvm-unit-tests}"
KUT_TESTS=(apic ioapic smptest eventinj msr)
kut_ok() {
  [ "$(cat "$KUT_DIR/COMMIT" 2>/dev/null)" = "$KUT_COMMIT" ] || return 1
  for t in "${KUT_TESTS[@]}"; do [ -s "$KUT_DIR/x86/$t.flat" ] || return 1; done
}
if ! kut_ok; then
  kut_missing=()
  for p in gcc make binutils git; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || kut_missing+=("$p")
  done
  if [ ${#kut_missing[@]} -gt 0 ]; then
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${kut_missing[@]}"
  fi
  mkdir -p "$(dirname "$KUT_DIR")" 2>/dev/null || $sudo mkdir -p "$(dirname "$KUT_DIR")"
  [ -w "$(dirname "$KUT_DIR")" ] || $sudo chown "$(id -u):$(id -g)" "$(dirname "$KUT_DIR")"
  kut_tmp="$KUT_DIR.new"
  rm -rf "$kut_tmp"
  kut_src="${LAPIS_KUT_SRC:-../shared/third_party/kvm-unit-tests}"
  if [ -f "$kut_src/x86/unittests.cfg" ]; then
    cp -R "$kut_src" "$kut_tmp"
    chmod -R u+w "$kut_tmp"
  else
    # A fetch of one commit where the server allows it, else the whole history.
    git init -q "$kut_tmp"
    git -C "$kut_tmp" remote add origin https://gitlab.com/kvm-unit-tests/kvm-unit-tests.git
    if ! git -C "$kut_tmp" fetch -q --depth 1 origin "$KUT_COMMIT"; then git -C "$kut_tmp" fetch -q origin; fi
    git -C "$kut_tmp" -c advice.detachedHead=false checkout -q "$KUT_COMMIT"
  fi
  kut_targets=()
  for t in "${KUT_TESTS[@]}"; do kut_targets+=("x86/$t.flat"); done
  (cd "$kut_tmp" && ./configure >/dev/null && make -s -j"$(nproc)" "${kut_targets[@]}")
  echo "$KUT_COMMIT" >"$kut_tmp/COMMIT"
  rm -rf "$KUT_DIR"
  mv "$kut_tmp" "$KUT_DIR"
  kut_ok || { echo "setup: kvm-unit-tests did not build into $KUT_DIR" >&2; exit 1; }
fi
echo "kvm-unit-tests $KUT_COMMIT: ${KUT_TESTS[*]/%/.flat} in $KUT_DIR/x86"

# A Linux bzImage for the VMM's loader tests (test/vmm/boot.test.ts): Debian's kernel image, unpacked into
# $LAPIS_LINUX_DIR (never installed: no initramfs, no boot loader). Idempotent.
LINUX_DIR="${LAPIS_LINUX_DIR:-/opt/lapis/linux}"
if [ ! -s "$LINUX_DIR/vmlinuz" ]; then
  linux_pkg="$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/ { print $2; exit }')"
  [ -n "$linux_pkg" ] || { $sudo apt-get update -q; linux_pkg="$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/ { print $2; exit }')"; }
  linux_tmp="$(mktemp -d)"
  (cd "$linux_tmp" && apt-get download "$linux_pkg" >/dev/null 2>&1 && dpkg-deb --fsys-tarfile ./*.deb | tar -x --wildcards './boot/vmlinuz-*')
  mkdir -p "$LINUX_DIR" 2>/dev/null || $sudo mkdir -p "$LINUX_DIR"
  [ -w "$LINUX_DIR" ] || $sudo chown "$(id -u):$(id -g)" "$LINUX_DIR"
  cp "$linux_tmp"/boot/vmlinuz-* "$LINUX_DIR/vmlinuz"
  rm -rf "$linux_tmp"
  [ -s "$LINUX_DIR/vmlinuz" ] || { echo "setup: no Linux bzImage in $LINUX_DIR" >&2; exit 1; }
fi
echo "Linux bzImage: $LINUX_DIR/vmlinuz"
# A static busybox beside it, the userland of the VMM's Linux boot test (test/vmm/kvm.test.ts builds its initramfs).
if [ ! -s "$LINUX_DIR/busybox" ]; then
  bb_tmp="$(mktemp -d)"
  (cd "$bb_tmp" && apt-get download busybox-static >/dev/null 2>&1 && dpkg-deb --fsys-tarfile ./*.deb | tar -x ./bin/busybox)
  cp "$bb_tmp/bin/busybox" "$LINUX_DIR/busybox" 2>/dev/null || true
  rm -rf "$bb_tmp"
  [ -s "$LINUX_DIR/busybox" ] || { echo "setup: no busybox in $LINUX_DIR" >&2; exit 1; }
fi
echo "busybox: $LINUX_DIR/busybox"

npm ci --no-audit --no-fund

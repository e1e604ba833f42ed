#!/usr/bin/env bash
# A KVM for lapis vmm where the host has none: QEMU 10 TCG emulates AMD SVM with nested paging (-cpu max), so
# Debian's kernel booted under it, with kvm and kvm_amd loaded, offers /dev/kvm. The initramfs holds busybox, those
# modules, this host's node and the libraries it links, lapis's dist/ with its runtime node_modules, and the
# kvm-unit-tests build ($LAPIS_KUT_DIR). The guest runs SCRIPT (a shell script; /lapis is the package, /kut the
# kvm-unit-tests build, /files what --add gave, /boot/vmlinuz the kernel it runs itself) and powers off; its output
# is this script's output. Slow (TCG running KVM running a guest: a few hundred user-space exits a second) and
# bounded by QEMU TCG's own CPU bugs (docs/vmm.md): for development, never part of npm test or CI.
#
#   bash scripts/nested-kvm.sh SCRIPT [--cpus N] [--mem MiB] [--add FILE]...
#
# Downloads (apt-get download, once) go to $LAPIS_NESTED_CACHE (default ~/.cache/lapis-nested); the initramfs is
# built in a temporary directory removed on every way out.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
script="${1:?usage: nested-kvm.sh SCRIPT [--cpus N] [--mem MiB]}"; shift
cpus=2; mem=6144; adds=()
while [ $# -gt 0 ]; do
  case "$1" in
    --cpus) cpus="$2"; shift 2 ;;
    --mem) mem="$2"; shift 2 ;;
    --add) adds+=("$2"); shift 2 ;;
    *) echo "nested-kvm: unknown option $1" >&2; exit 2 ;;
  esac
done
qemu="${LAPIS_QEMU10:-/opt/lapis/qemu-10/usr/bin/qemu-system-x86_64}"
kut="${LAPIS_KUT_DIR:-/opt/lapis/kvm-unit-tests}"
cache="${LAPIS_NESTED_CACHE:-$HOME/.cache/lapis-nested}"
[ -x "$qemu" ] || { echo "nested-kvm: no QEMU 10 at $qemu (npm run setup installs it)" >&2; exit 2; }
[ -f "$here/dist/vmm/vm.js" ] || { echo "nested-kvm: build lapis first (npm run build)" >&2; exit 2; }

mkdir -p "$cache/debs"
if ! ls "$cache"/debs/linux-image-*.deb >/dev/null 2>&1 || ! ls "$cache"/debs/busybox-static_*.deb >/dev/null 2>&1; then
  kpkg="$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')"
  (cd "$cache/debs" && apt-get download "$kpkg" busybox-static)
fi

work="$(mktemp -d /tmp/lapis-nested.XXXXXX)"
qpid=""
# Under set -e a failing `kill` (QEMU already gone) would end the trap before the rm: guard it.
cleanup() { if [ -n "$qpid" ]; then kill "$qpid" 2>/dev/null || true; fi; rm -rf "$work"; }
trap cleanup EXIT INT TERM

x="$work/x"; root="$work/root"
mkdir -p "$x" "$root"/{bin,dev,proc,sys,tmp,lib/modules,lapis,kut,files,boot}
for d in "$cache"/debs/*.deb; do dpkg-deb -x "$d" "$x"; done
kernel="$(ls "$x"/boot/vmlinuz-* | head -1)"
kmods="$(ls -d "$x"/lib/modules/* | head -1)/kernel"
cp "$x/bin/busybox" "$root/bin/"
cp "$kernel" "$root/boot/vmlinuz"
for f in "${adds[@]}"; do cp "$f" "$root/files/"; done
for m in virt/lib/irqbypass arch/x86/kvm/kvm drivers/crypto/ccp/ccp arch/x86/kvm/kvm-amd; do cp "$kmods/$m.ko" "$root/lib/modules/"; done
# node and the libraries it links, at the same paths
node="$(command -v node)"
mkdir -p "$root$(dirname "$node")"; cp "$node" "$root$node"
for lib in $(ldd "$node" | grep -o '/[^ ]*'); do mkdir -p "$root$(dirname "$lib")"; cp -L "$lib" "$root$lib"; done
# lapis: dist/, package.json, runtime dependencies (commander, koffi's linux_x64 binary only)
cp -r "$here/dist" "$here/package.json" "$root/lapis/"
mkdir -p "$root/lapis/node_modules/koffi/build/koffi"
cp -r "$here/node_modules/commander" "$root/lapis/node_modules/"
(cd "$here/node_modules/koffi" && cp -r package.json index.js indirect.js lib "$root/lapis/node_modules/koffi/" 2>/dev/null || true)
cp -r "$here/node_modules/koffi/build/koffi/linux_x64" "$root/lapis/node_modules/koffi/build/koffi/"
[ -d "$kut/x86" ] && cp "$kut"/x86/*.flat "$kut/x86/unittests.cfg" "$root/kut/" 2>/dev/null || true
cp "$script" "$root/run.sh"
cat > "$root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev; mount -t tmpfs tmp /tmp
for m in irqbypass kvm ccp kvm-amd; do insmod /lib/modules/$m.ko || echo "nested-kvm: insmod $m failed"; done
echo "nested-kvm: $(grep -c ^processor /proc/cpuinfo) CPUs, $(ls /dev/kvm 2>/dev/null || echo 'no /dev/kvm'), $(uname -r)"
cd /lapis
sh /run.sh
echo "nested-kvm: done"
poweroff -f
EOF
chmod +x "$root/init"
(cd "$root" && find . | "$x/bin/busybox" cpio -o -H newc > "$work/initrd.cpio") 2>/dev/null
echo "nested-kvm: initramfs $(( $(stat -c %s "$work/initrd.cpio") >> 20 )) MiB; booting $(basename "$kernel") under QEMU 10 TCG (-cpu max: SVM, NPT)" >&2
"$qemu" -M q35 -accel tcg,thread=multi -cpu max -smp "$cpus" -m "$mem" -nographic -no-reboot \
  -kernel "$kernel" -initrd "$work/initrd.cpio" -append 'console=ttyS0 quiet loglevel=3 panic=-1' </dev/null &
qpid=$!
wait "$qpid"

#!/usr/bin/env bash
# Build the prototype guest initramfs: busybox-static + modules + init.
#
# Usage: build-initramfs.sh GUEST_DIR OUT_DIR
#   GUEST_DIR  output of scripts/provision-guest-kernel.sh (modules/, kernel-release)
#   OUT_DIR    receives initramfs.cpio (uncompressed newc) and initramfs.cpio.gz
#
# Busybox applet links are RELATIVE symlinks (e.g. usr/sbin/chroot ->
# ../../bin/busybox), never `busybox --install -s`, which writes absolute links
# to the host's busybox path.
set -euo pipefail

[[ $# -eq 2 ]] || { echo "usage: $0 GUEST_DIR OUT_DIR" >&2; exit 1; }
guest=$1 out=$2
here=$(cd "$(dirname "$0")" && pwd)
busybox=${BUSYBOX:-/bin/busybox}

[[ -f $guest/modules/load-order ]] || { echo "$0: $guest is not provisioned" >&2; exit 1; }
# busybox-static is a static ELF; a dynamic busybox would need its libc too.
if file -L "$busybox" 2>/dev/null | grep -q 'dynamically linked'; then
    echo "$0: $busybox is dynamically linked; install busybox-static" >&2
    exit 1
fi

mkdir -p "$out"
root=$(mktemp -d "$out/.root.XXXXXX")
trap 'rm -rf "$root"' EXIT

mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,run,tmp,mnt,etc,lib/modules}
chmod 1777 "$root/tmp"
install -m 0755 "$busybox" "$root/bin/busybox"

# bin/sh, sbin/insmod, usr/bin/[, ... -> relative link to bin/busybox
"$busybox" --list-full | while IFS= read -r applet; do
    [[ $applet == bin/busybox ]] && continue
    dir=$(dirname "$applet")
    up=$(printf '%s' "$dir" | sed 's#[^/][^/]*#..#g')   # usr/sbin -> ../..
    mkdir -p "$root/$dir"
    ln -sf "$up/bin/busybox" "$root/$applet"
done

# The kernel opens /dev/console before exec'ing /init; put the node in the
# archive (needs root; init re-opens it from devtmpfs otherwise).
mknod -m 0600 "$root/dev/console" c 5 1 2>/dev/null || true
mknod -m 0666 "$root/dev/null" c 1 3 2>/dev/null || true

cp "$guest"/modules/*.ko "$guest/modules/load-order" "$root/lib/modules/"
install -m 0755 "$here/init" "$root/init"

# Reproducible-ish archive: sorted names, fixed mtimes, owned by root.
find "$root" -exec touch -h -d @0 {} +
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
    cpio --quiet -o -H newc -R 0:0 --reproducible) >"$out/initramfs.cpio.tmp"
gzip -n -6 -c "$out/initramfs.cpio.tmp" >"$out/initramfs.cpio.gz.tmp"
mv -f "$out/initramfs.cpio.tmp" "$out/initramfs.cpio"
mv -f "$out/initramfs.cpio.gz.tmp" "$out/initramfs.cpio.gz"
ls -l "$out/initramfs.cpio" "$out/initramfs.cpio.gz" >&2

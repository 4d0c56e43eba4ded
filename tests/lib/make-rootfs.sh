#!/usr/bin/env bash
# Build a busybox rootfs in $1 with relative applet links (busybox --install -s
# would make absolute links to the host's path).
set -euo pipefail
dest=$1
bb=$(command -v busybox)
[[ -x "$bb" ]] || { echo "make-rootfs: busybox-static is not installed (run scripts/install-deps.sh)" >&2; exit 1; }
mkdir -p "$dest"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,root,run,var/tmp,home}
cp "$bb" "$dest/bin/busybox"
chmod 755 "$dest/bin/busybox"
for applet in $("$bb" --list-full); do
  dir=$(dirname "$applet")
  name=$(basename "$applet")
  [[ "$applet" == "bin/busybox" ]] && continue
  mkdir -p "$dest/$dir"
  # relative path from $dir back to bin/busybox
  up=$(echo "$dir" | sed -e 's|[^/][^/]*|..|g')
  ln -sf "$up/bin/busybox" "$dest/$dir/$name"
done
chmod 1777 "$dest/tmp" "$dest/var/tmp"
cat > "$dest/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
P
cat > "$dest/etc/group" <<'G'
root:x:0:
nogroup:x:65534:
G
echo "runhv-test" > "$dest/etc/hostname"
: > "$dest/etc/resolv.conf"
: > "$dest/etc/hosts"

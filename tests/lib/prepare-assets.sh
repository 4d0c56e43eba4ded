#!/usr/bin/env bash
# Test assets built locally (there is no registry here): a busybox rootfs and
# an image tarball that podman and containerd can import.
set -euo pipefail
dest=$1
src=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$dest"
stamp="$dest/.stamp"
want="$(busybox 2>&1 | head -1) $(sha256sum "$src/tests/lib/make-rootfs.sh" "$src/scripts/make-oci-image.py" | sha256sum)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  exit 0
fi
rm -rf "$dest/rootfs" "$dest/busybox.tar"
bash "$src/tests/lib/make-rootfs.sh" "$dest/rootfs"
/usr/bin/python3 "$src/scripts/make-oci-image.py" "$dest/rootfs" "$dest/busybox.tar" \
  --name localhost/runhv-test/busybox:latest
echo "$want" > "$stamp"

#!/usr/bin/env bash
# The images the CRI tests import (there is no registry here), built into
# OUT_DIR:
#   OUT_DIR/pause.tar    localhost/runhv-test/pause:latest   (only /pause, static)
#   OUT_DIR/busybox.tar  localhost/runhv-test/busybox:latest (prepare-assets.sh)
# Both are OCI layouts that `ctr -n k8s.io images import` accepts.  Quick when
# nothing changed.
set -euo pipefail
[[ $# -eq 1 ]] || { echo "usage: make-cri-images.sh OUT_DIR" >&2; exit 2; }
out=$1
lib=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"

bash "$lib/prepare-assets.sh" "$out"

cc=${CC_FOR_PAUSE:-cc}
stamp="$out/.pause-stamp"
want="$(sha256sum "$lib/pause.c" "$lib/../../scripts/make-oci-image.py" | sha256sum) $("$cc" --version | head -1)"
if [[ -f "$stamp" && -f "$out/pause.tar" && "$(cat "$stamp")" == "$want" ]]; then
  exit 0
fi
rm -rf "$out/pause-rootfs" "$out/pause.tar"
mkdir -p "$out/pause-rootfs"
"$cc" -static -O2 -Wall -o "$out/pause-rootfs/pause" "$lib/pause.c" ||
  { echo "make-cri-images: building a static pause failed (is libc6-dev installed?)" >&2; exit 1; }
strip "$out/pause-rootfs/pause" 2>/dev/null || true
/usr/bin/python3 "$lib/../../scripts/make-oci-image.py" "$out/pause-rootfs" "$out/pause.tar" \
  --name localhost/runhv-test/pause:latest --cmd /pause
echo "$want" > "$stamp"

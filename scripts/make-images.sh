#!/usr/bin/env bash
# `make images`: the container images runhv's manifests name, built offline
# from this tree's own release binaries (no registry, no base image):
# FROM scratch plus the binary, the shared libraries it loads (as ldd
# resolves them here, Debian 12's), the CA bundle and a passwd entry for
# the unprivileged user it runs as. Written as OCI archives that
# `podman load`, `ctr images import` and `skopeo copy oci-archive:...`
# accept. Reproducible: the same binaries and commit give the same digests
# (every timestamp is the commit's time, or SOURCE_DATE_EPOCH).
#
# usage: scripts/make-images.sh [BUILD_DIR [OUT_DIR]]   (default build, build/images)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
out=${2:-$build/images}
die() {
  echo "make-images: $*" >&2
  exit 1
}

[[ -x "$build/src/webhook/runhv-webhook" ]] || die "no release build in $build (run \`make\` first)"
version=$(sed -n 's/^#define RUNHV_VERSION "\(.*\)"$/\1/p' "$build/runhv-config.h")
[[ -n "$version" ]] || die "cannot read RUNHV_VERSION from $build/runhv-config.h"
commit=$(git -C "$src" rev-parse HEAD 2>/dev/null || echo unknown)
epoch=${SOURCE_DATE_EPOCH:-$(git -C "$src" log -1 --format=%ct 2>/dev/null || echo 0)}
created=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)
ca_bundle=/etc/ssl/certs/ca-certificates.crt
[[ -f "$ca_bundle" ]] || die "$ca_bundle is missing (apt-get install ca-certificates)"

# The binary and, at the paths the dynamic loader looks them up, every
# library it needs (symlinks resolved: a scratch image has only files).
add_binary() {
  local root=$1 bin=$2 dest=$3 lib
  install -D -m 755 "$bin" "$root$dest"
  ldd "$bin" | awk '/=> \// { print $3 }' | while read -r lib; do
    install -D -m 644 "$(readlink -f "$lib")" "$root$lib"
  done
  # the loader is exec'd by the kernel: it needs the execute bit
  ldd "$bin" | awk '/^\t\/.*ld-linux/ { print $1 }' | while read -r lib; do
    install -D -m 755 "$(readlink -f "$lib")" "$root$lib"
  done
  [[ -n "$(find "$root" -name 'ld-linux*')" ]] || die "$bin: no dynamic loader found by ldd"
}

# A user and group 65532 ("nonroot", as distroless images use).
add_base() {
  local root=$1
  install -D -m 644 "$ca_bundle" "$root/etc/ssl/certs/ca-certificates.crt"
  install -d -m 1777 "$root/tmp"
  printf 'root:x:0:0:root:/:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/nonexistent:/sbin/nologin\n' \
    >"$root/etc/passwd"
  printf 'root:x:0:\nnonroot:x:65532:\n' >"$root/etc/group"
  chmod 644 "$root/etc/passwd" "$root/etc/group"
}

image() {
  local name=$1 title=$2 description=$3 entrypoint=$4 root=$5
  /usr/bin/python3 "$src/scripts/make-oci-image.py" "$root" "$out/$title.oci.tar" \
    --name "$name" --entrypoint "$entrypoint" --user 65532:65532 --created "$epoch" \
    --label "org.opencontainers.image.title=$title" \
    --label "org.opencontainers.image.description=$description" \
    --label "org.opencontainers.image.version=$version" \
    --label "org.opencontainers.image.revision=$commit" \
    --label "org.opencontainers.image.created=$created" \
    --label "org.opencontainers.image.ref.name=$version"
  echo "wrote $out/$title.oci.tar ($name)"
}

mkdir -p "$out"
work=$(mktemp -d "$out/.rootfs.XXXXXX")
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"

# runhv-webhook: the image deploy/webhook.yaml names.
mkdir -m 755 "$work/webhook"
add_base "$work/webhook"
add_binary "$work/webhook" "$build/src/webhook/runhv-webhook" /usr/bin/runhv-webhook
find "$work/webhook" -type d -exec chmod 755 {} +
chmod 1777 "$work/webhook/tmp"
# docker.io/ as the API server's nodes normalize the manifests' short name
image "docker.io/runhv/runhv-webhook:$version" runhv-webhook \
  "runhv's Kubernetes admission webhook: makes hypervisor isolation the default for pods that can have it" \
  '["/usr/bin/runhv-webhook"]' "$work/webhook"

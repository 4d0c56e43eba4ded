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
# Two images: runhv-webhook, and runhv-node-installer, which carries
# runhv's node payload (the runtime, the shim, their libraries and the
# guest kernel + initramfs from RUNHV_GUEST_DIR, default BUILD_DIR/guest:
# `make guest`) and the program that copies it onto a node.
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
guest=${RUNHV_GUEST_DIR:-$build/guest}
[[ -f "$guest/vmlinux" && -f "$guest/initramfs.cpio" ]] ||
  die "no guest kernel and initramfs in $guest for the node installer (run \`make guest\`, or set RUNHV_GUEST_DIR)"
command -v patchelf >/dev/null || die "patchelf is missing (apt-get install patchelf; scripts/install-deps.sh)"
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

# runhv's files for a node, under $root/opt/runhv: the binaries find
# their libraries in ../lib through an $ORIGIN RPATH (DT_RPATH, so that
# the libraries' own dependencies are found there too), wherever the
# installer puts the tree; glibc is the node's (its loader is the one
# PT_INTERP names, and a libc must match its loader). /opt/runhv/lib comes
# second, for the copies runhv execs of itself from a sealed memfd (the
# CVE-2019-5736 defence): there /proc/self/exe names the memfd, so
# $ORIGIN no longer leads to ../lib, and the node path must.
add_payload() {
  local root=$1 bin lib name f
  install -d -m 755 "$root/opt/runhv/bin" "$root/opt/runhv/lib" "$root/opt/runhv/share/runhv"
  for bin in "$build/src/cli/runhv" "$build/src/shim/containerd-shim-runhv-v1"; do
    [[ -x "$bin" ]] || die "$bin is missing (run \`make\`)"
    install -m 755 "$bin" "$root/opt/runhv/bin/"
    patchelf --force-rpath --set-rpath '$ORIGIN/../lib:/opt/runhv/lib' "$root/opt/runhv/bin/$(basename "$bin")"
    ldd "$bin" | awk '/=> \// { print $1, $3 }' | while read -r name lib; do
      case $name in libc.so.* | libm.so.* | libpthread.so.* | libdl.so.* | librt.so.* | ld-linux*) continue ;; esac
      install -m 644 "$(readlink -f "$lib")" "$root/opt/runhv/lib/$name"
    done
  done
  # the Makefile's install target's GUEST_FILES
  for f in vmlinux kernel-release .provisioned initramfs.cpio initramfs.cpio.kernel-release; do
    install -m 644 "$guest/$f" "$root/opt/runhv/share/runhv/$f"
  done
}

image() {
  local name=$1 title=$2 description=$3 entrypoint=$4 root=$5 user=${6:-65532:65532}
  /usr/bin/python3 "$src/scripts/make-oci-image.py" "$root" "$out/$title.oci.tar" \
    --name "$name" --entrypoint "$entrypoint" --user "$user" --created "$epoch" \
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

# runhv-node-installer: the image deploy/node-installer.yaml names.  It runs
# as root: it writes the node's root (see docs/kubernetes.md, "Node installer").
mkdir -m 755 "$work/installer"
add_base "$work/installer"
add_binary "$work/installer" "$build/src/installer/runhv-node-installer" /usr/bin/runhv-node-installer
add_payload "$work/installer"
find "$work/installer" -type d -exec chmod 755 {} +
chmod 1777 "$work/installer/tmp"
image "docker.io/runhv/runhv-node-installer:$version" runhv-node-installer \
  "runhv's node installer: puts the runtime, its shim and the guest kernel on a Kubernetes node (a privileged DaemonSet)" \
  '["/usr/bin/runhv-node-installer"]' "$work/installer" 0:0

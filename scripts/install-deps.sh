#!/usr/bin/env bash
# Install what runhv needs to build, test and run, from Debian 12's archive.
# Idempotent and quick when everything is already there.
set -euo pipefail

packages=(
  # build
  make meson ninja-build pkg-config gcc clang libclang-rt-14-dev clang-format
  libjansson-dev libseccomp-dev libcap-dev libprotobuf-c-dev protobuf-c-compiler libprotobuf-dev
  libmicrohttpd-dev libgnutls28-dev libcmocka-dev
  # guest kernel, initramfs and VMM
  qemu-system-x86 busybox-static xz-utils cpio kmod zstd
  linux-source-6.1 bc bison flex libelf-dev libssl-dev patch
  # the peers and clients the tests drive
  containerd runc crun podman containernetworking-plugins iproute2 iptables
  bats hyperfine wrk curl gnutls-bin jq procps psmisc util-linux time strace
  # the node installer image: an $ORIGIN RPATH on its payload's binaries
  patchelf
  python3 python3-jsonpatch python3-grpcio python3-protobuf python3-yaml
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: run as root to install: ${missing[*]}" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends "${missing[@]}" >/tmp/runhv-apt.log 2>&1; then
  apt-get update >/tmp/runhv-apt-update.log 2>&1
  apt-get install -y --no-install-recommends "${missing[@]}" >/tmp/runhv-apt.log 2>&1 || {
    tail -20 /tmp/runhv-apt.log >&2
    echo "install-deps: apt-get failed (see /tmp/runhv-apt.log)" >&2
    exit 1
  }
fi
# Debian enables these services on install; runhv's tests start their own
# private instances, so the system ones must not hold the default sockets.
for svc in containerd podman podman.socket; do
  systemctl disable --now "$svc" >/dev/null 2>&1 || true
done

#!/usr/bin/env bash
# Provision what hypervisor isolation boots: Debian's current generic kernel
# (made into an uncompressed PVH vmlinux, with the modules the agent loads)
# and the initramfs holding the runhv-agent this build made.  Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build/guest}
agent=build/src/agent/runhv-agent
[[ -x "$agent" ]] || make -s all
bash scripts/provision-guest-kernel.sh "$out"
stripped=$(mktemp)
trap 'rm -f "$stripped"' EXIT
strip -o "$stripped" "$agent"
/usr/bin/python3 scripts/build-initramfs.py "$out/initramfs.cpio" "$stripped" "$out"
echo "provision-guest: $out/vmlinux ($(cat "$out/kernel-release")) and $out/initramfs.cpio are ready" >&2

#!/usr/bin/env bash
# Provision what hypervisor isolation boots, idempotently:
#   build/guest/          the lean kernel built from linux-source-6.1 and
#                         guest/kernel.config (the default), and an initramfs
#                         holding this build's runhv-agent;
#   build/guest/generic/  Debian's generic kernel with the modules the agent
#                         loads, and its own initramfs: the fallback, chosen
#                         with `[vm] kernel = ".../generic/vmlinux"`.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build/guest}
agent=build/src/agent/runhv-agent
[[ -x "$agent" ]] || make -s all
bash scripts/build-guest-kernel.sh "$out"
dirs=("$out")
# The fallback needs Debian's archive; without it the lean kernel still works.
if bash scripts/provision-guest-kernel.sh "$out/generic"; then
  dirs+=("$out/generic")
else
  echo "provision-guest: warning: Debian's generic kernel (the fallback) could not be provisioned" \
    "into $out/generic; the lean kernel is ready" >&2
fi
stripped=$(mktemp)
trap 'rm -f "$stripped"' EXIT
strip -o "$stripped" "$agent"
for dir in "${dirs[@]}"; do
  /usr/bin/python3 scripts/build-initramfs.py "$dir/initramfs.cpio" "$stripped" "$dir"
done
echo "provision-guest: ${dirs[*]/%//vmlinux} and their initramfs are ready" >&2

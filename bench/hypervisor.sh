#!/usr/bin/env bash
# Hypervisor isolation start-up against its floor (a bare QEMU boot of the
# same kernel and initramfs) and against process isolation, plus the host
# memory of idle VM containers.  Release build; run as root.  BEFORE_GUEST=DIR
# (vmlinux, initramfs.cpio, kernel-release) adds that guest as a third column.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
runhv=${RUNHV:-$src/build/src/cli/runhv}
RUNS=${RUNS:-10}
[[ -x "$runhv" ]] || { echo "bench: build first (make && make guest)" >&2; exit 1; }
work=$(mktemp -d /tmp/runhv-bench.XXXXXX)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
bash "$src/tests/lib/make-rootfs.sh" "$work/bundle/rootfs"
(cd "$work/bundle" && "$runhv" spec)
jq '.process.terminal = false | .process.args = ["echo", "a line"] | del(.linux.resources)' \
  "$work/bundle/config.json" > "$work/c" && mv "$work/c" "$work/bundle/config.json"
echo "machine: $(nproc) CPUs, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -r), $(qemu-system-x86_64 --version | head -1)"
echo "accelerator: $("$runhv" diag check 2>/dev/null | grep accelerator || true)"
/usr/bin/python3 "$src/bench/lib/hypervisor.py" "$runhv" "$work/bundle" "$RUNS"

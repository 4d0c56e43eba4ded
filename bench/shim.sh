#!/usr/bin/env bash
# Pod start latency through containerd's CRI for containerd's own runc
# handler and runhv's runhv-process and runhv-hypervisor handlers (the
# release build's shim, configured by `runhv config containerd`; plus
# runhv-hypervisor-generic, the same on Debian's generic kernel, and
# runhv-hypervisor-cold, the lean kernel without VM templates), side by
# side in one run on a private containerd (tests/lib/containerd-cri.sh):
# single pods, then 4 and 8 started at once.  RUNS (5) and BATCHES (4,8)
# change the amounts.  Results: bench/shim.py prints the table; the raw
# numbers stay in $OUT (default /tmp/runhv-bench-shim.json).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
shim=$src/build/src/shim/containerd-shim-runhv-v1
runhv=$src/build/src/cli/runhv
[[ -x "$shim" && -x "$runhv" ]] || { echo "bench: build first (make)" >&2; exit 1; }
export RUNHV_GUEST_DIR=${RUNHV_GUEST_DIR:-$src/build/guest}
[[ -f "$RUNHV_GUEST_DIR/initramfs.cpio" ]] || { echo "bench: no guest in $RUNHV_GUEST_DIR (make guest)" >&2; exit 1; }
export RUNHV_BUILD_DIR=$src/build
source "$src/tests/lib/containerd-cri.sh"

dir=$(mktemp -d /tmp/runhv-bench-cri.XXXXXX)
trap 'cri_stop "$dir" >/dev/null 2>&1 || true; rm -rf /tmp/runhv-bench-logs' EXIT
mkdir -p "$dir/bin" "$dir/etc"
ln -s "$shim" "$dir/bin/containerd-shim-runhv-v1"
"$runhv" config containerd --output-dir "$dir/etc" > "$dir/snippet.toml"
# A fourth handler boots Debian's generic kernel (the fallback), so both guest
# kernels are measured in the same run.
{ cat "$dir/etc/runhv-hypervisor.toml"; printf '[vm]\nkernel = "%s"\n' "$RUNHV_GUEST_DIR/generic/vmlinux"; } \
  > "$dir/etc/runhv-hypervisor-generic.toml"
sed -n '/runtimes.runhv-hypervisor]/,$p' "$dir/snippet.toml" |
  sed "s/runtimes.runhv-hypervisor\([].]\)/runtimes.runhv-hypervisor-generic\1/; s|runhv-hypervisor.toml|runhv-hypervisor-generic.toml|" \
  >> "$dir/snippet.toml"
# A fifth boots every VM of the lean kernel ([vm] template = false), as every
# pod's VM did before VM templates (docs/hypervisor.md), in the same run.
{ cat "$dir/etc/runhv-hypervisor.toml"; printf '[vm]\ntemplate = false\n'; } > "$dir/etc/runhv-hypervisor-cold.toml"
sed -n '/runtimes.runhv-hypervisor]/,$p' "$dir/snippet.toml" |
  sed -n '/runtimes.runhv-hypervisor-generic/q;p' |
  sed "s/runtimes.runhv-hypervisor\([].]\)/runtimes.runhv-hypervisor-cold\1/; s|runhv-hypervisor.toml|runhv-hypervisor-cold.toml|" \
  >> "$dir/snippet.toml"
cri_start "$dir" "$dir/bin" "$dir/snippet.toml"
/usr/bin/python3 "$src/bench/shim.py" "$CRI_ENDPOINT" "$CRI_PAUSE_IMAGE" "$CRI_BUSYBOX_IMAGE" "${OUT:-/tmp/runhv-bench-shim.json}"

#!/usr/bin/env bash
# A VM pod's host side before and after the shim hosts the VM's session
# (issue 8's shape), in one run through containerd's CRI: the previous
# design's shim (BEFORE, default 0f6e20c: an exec'd supervisor between the
# shim and QEMU, a host stand-in per exec) beside this build's, both
# booting this build's guest, interleaved: pod start (RunPodSandbox →
# container RUNNING), ExecSync latency, the host processes of an idle pod
# and their PSS.  Root, release build.  RUNS (5) changes the amount.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
shim=$src/build/src/shim/containerd-shim-runhv-v1
runhv=$src/build/src/cli/runhv
before=${BEFORE:-0f6e20c}
[[ -x "$shim" && -x "$runhv" ]] || { echo "bench: build first (make)" >&2; exit 1; }
export RUNHV_GUEST_DIR=${RUNHV_GUEST_DIR:-$src/build/guest}
[[ -f "$RUNHV_GUEST_DIR/initramfs.cpio" ]] || { echo "bench: no guest in $RUNHV_GUEST_DIR (make guest)" >&2; exit 1; }
export RUNHV_BUILD_DIR=$src/build
source "$src/tests/lib/containerd-cri.sh"

work=$(mktemp -d /tmp/runhv-shim-compare.XXXXXX)
chmod 755 "$work"
cleanup() {
  cri_stop "$work/cri" >/dev/null 2>&1 || true
  git -C "$src" worktree remove --force "$work/old-src" 2>/dev/null || true
  rm -rf "$work" /tmp/runhv-bench-logs
}
trap cleanup EXIT
git -C "$src" worktree add --detach "$work/old-src" "$before" >/dev/null 2>&1
meson setup "$work/old-build" "$work/old-src" --buildtype=release >/dev/null
ninja -C "$work/old-build" src/shim/containerd-shim-runhv-v1 >/dev/null
mkdir -p "$work/bin" "$work/etc"
ln -s "$shim" "$work/bin/containerd-shim-runhv-v1"
# the old shim under a runtime type of its own: containerd execs
# containerd-shim-<name>-v1 for io.containerd.<name>.v1
ln -s "$work/old-build/src/shim/containerd-shim-runhv-v1" "$work/bin/containerd-shim-runhvbefore-v1"
"$runhv" config containerd --output-dir "$work/etc" > "$work/snippet.toml"
sed -n '/runtimes.runhv-hypervisor]/,$p' "$work/snippet.toml" |
  sed 's/runtimes.runhv-hypervisor\([].]\)/runtimes.runhv-hypervisor-before\1/; s/io.containerd.runhv.v1/io.containerd.runhvbefore.v1/' \
  >> "$work/snippet.toml"
cri_start "$work/cri" "$work/bin" "$work/snippet.toml"
echo "machine: $(nproc) CPUs, $(uname -r), $(qemu-system-x86_64 --version | head -1)"
echo "before: $before ($(git -C "$src" log -1 --format=%s "$before" | cut -c1-60))"
echo "after:  $(git -C "$src" rev-parse --short HEAD) (working tree)"
/usr/bin/python3 "$src/bench/lib/shim_compare.py" "$CRI_ENDPOINT" "$CRI_BUSYBOX_IMAGE"

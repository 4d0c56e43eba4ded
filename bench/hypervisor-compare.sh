#!/usr/bin/env bash
# The VM host side before and after issue 8 (exec'd, jailed, confined
# supervisor), in one run: start time of `runhv run --isolation=hypervisor`
# (interleaved) and the host PSS of an idle VM container, old binary beside
# new, plus the jail's own cost (bench/jail-spawn.c).  Both binaries boot the
# same guest (this build's), so only the host side differs.  Root, release
# build.  BEFORE=<git ref> picks the old design (default: the commit before
# the jail).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
new=${RUNHV:-$src/build/src/cli/runhv}
before=${BEFORE:-9a605b4}
RUNS=${RUNS:-8}
[[ -x "$new" ]] || { echo "bench: build first (make)" >&2; exit 1; }
work=$(mktemp -d /tmp/runhv-compare.XXXXXX)
chmod 755 "$work"
cleanup() {
  git -C "$src" worktree remove --force "$work/old-src" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
git -C "$src" worktree add --detach "$work/old-src" "$before" >/dev/null 2>&1
meson setup "$work/old-build" "$work/old-src" --buildtype=release >/dev/null
ninja -C "$work/old-build" src/cli/runhv >/dev/null
old=$work/old-build/src/cli/runhv
# both boot this build's guest
export RUNHV_GUEST_DIR=${RUNHV_GUEST_DIR:-$src/build/guest}
bash "$src/tests/lib/make-rootfs.sh" "$work/bundle/rootfs"
(cd "$work/bundle" && "$new" spec)
jq '.process.terminal = false | .process.args = ["echo", "a line"] | del(.linux.resources)' \
  "$work/bundle/config.json" > "$work/c" && mv "$work/c" "$work/bundle/config.json"
echo "machine: $(nproc) CPUs, $(uname -r), $(qemu-system-x86_64 --version | head -1)"
echo "before: $before ($(git -C "$src" log -1 --format=%s "$before" | cut -c1-60))"
echo "after:  $(git -C "$src" rev-parse --short HEAD) (working tree)"
/usr/bin/python3 "$src/bench/lib/hypervisor_compare.py" "$old" "$new" "$work/bundle" "$RUNS"
if [[ -x "$src/build/tests/jail-spawn" ]]; then
  echo
  "$src/build/tests/jail-spawn" "$RUNHV_GUEST_DIR" 20
fi

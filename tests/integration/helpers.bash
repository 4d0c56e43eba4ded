# Shared by the bats suites: a private runtime root, a fresh bundle per test
# (a copy of the busybox rootfs the suite built), and leak checks.

: "${RUNHV:?RUNHV must point at the runhv binary under test}"
: "${RUNHV_SOURCE_DIR:?}"
: "${RUNHV_BUILD_DIR:?}"
ASSETS="${RUNHV_BUILD_DIR}/test-assets"
# Guest artifacts come from the release build (the agent is a static binary,
# which the sanitizer build cannot make).
GUEST_DIR="${RUNHV_GUEST_DIR:-$RUNHV_SOURCE_DIR/build/guest}"
export RUNHV_GUEST_DIR="$GUEST_DIR"

fail() {
  echo "# $*" >&3
  return 1
}

setup_bundle() {
  [[ -d "$ASSETS/rootfs" ]] || fail "test assets missing: run tests/lib/prepare-assets.sh $ASSETS"
  TEST_DIR=$(mktemp -d /tmp/runhv-test.XXXXXX)
  chmod 755 "$TEST_DIR"  # a mapped container root must reach its rootfs
  ROOT="$TEST_DIR/root"
  BUNDLE="$TEST_DIR/bundle"
  mkdir -p "$BUNDLE"
  cp -a "$ASSETS/rootfs" "$BUNDLE/rootfs"
  (cd "$BUNDLE" && "$RUNHV" spec)
  # tests change what they need from here
  config '.process.terminal = false | .process.args = ["sleep", "1000"] | .root.readonly = false'
}

teardown_bundle() {
  if [[ -n "${ROOT:-}" && -d "$ROOT" ]]; then
    for d in "$ROOT"/*/; do
      [[ -d "$d" ]] || continue
      "$RUNHV" --root "$ROOT" delete --force "$(basename "$d")" >/dev/null 2>&1 || true
    done
  fi
  [[ -n "${TEST_DIR:-}" ]] && rm -rf "$TEST_DIR"
}

# Apply a jq filter to the bundle's config.json.
config() {
  local tmp="$BUNDLE/config.json.tmp"
  jq "$1" "$BUNDLE/config.json" > "$tmp" && mv "$tmp" "$BUNDLE/config.json"
}

rh() {
  "$RUNHV" --root "$ROOT" "$@"
}

# For create and run --detach: the container inherits runhv's stdio, and
# bats' `run` would wait for it to close; give it a file instead and print
# what runhv itself said.
rhd() {
  local log="$TEST_DIR/detached.$RANDOM.log"
  "$RUNHV" --root "$ROOT" "$@" </dev/null >"$log" 2>&1
  local rc=$?
  cat "$log"
  return $rc
}

# Wait until `cmd` succeeds (tests assert behaviour, not timing: this only
# bounds how long a broken runtime can hang the suite).
wait_for() {
  local tries=$1
  shift
  for ((i = 0; i < tries; i++)); do
    "$@" && return 0
    sleep 0.1
  done
  return 1
}

status_of() {
  rh state "$1" | jq -r .status
}

pid_of() {
  rh state "$1" | jq -r .pid
}

# Nothing of container $1 may be left: state directory, cgroups, processes
# rooted in the bundle, mounts from the bundle.
assert_no_leaks() {
  local id=$1
  [[ ! -e "$ROOT/$id" ]] || fail "state directory $ROOT/$id left behind"
  local cg
  for cg in /sys/fs/cgroup/*/runhv/"$id" /sys/fs/cgroup/runhv/"$id"; do
    [[ ! -e "$cg" ]] || fail "cgroup $cg left behind"
  done
  if grep -q " $BUNDLE/rootfs" /proc/self/mountinfo; then
    fail "mount from $BUNDLE/rootfs left behind"
  fi
  local p
  for p in /proc/[0-9]*; do
    local r
    r=$(readlink "$p/root" 2>/dev/null) || continue
    [[ "$r" == "$BUNDLE/rootfs"* ]] && fail "process ${p#/proc/} still runs in the bundle"
  done
  return 0
}

# CVE-2019-5736 asserts on an exe-probe report (tests/lib/exe-probe.c) and on
# the binary under test, $1: the probe caught a runtime process joining the
# container and held its executable, that executable is not $1, no write to
# it went through (while the process ran or after), and $1 is unchanged.
assert_exe_unreachable() {
  local binary=$1 report=$2 sum=$3
  grep -q '^FOREIGN' "$report" || fail "the probe never saw a joining process: $(cat "$report")"
  # the exploit writes once the process has gone: wait for that attempt
  wait_for 100 grep -q '^AFTER' "$report" || fail "no write after the process exited: $(cat "$report")"
  if grep -q 'wrote' "$report"; then fail "a write reached the executable: $(cat "$report")"; fi
  local host
  host=$(stat -L -c 'dev=%d ino=%i' "$binary")
  if grep -q "^FOREIGN .* $host\$" "$report"; then fail "the container held $binary itself: $(cat "$report")"; fi
  [ "$(sha256sum < "$binary")" = "$sum" ] || fail "$binary changed"
}

# The VMM $1 gave back what it needed only to start: it maps the kernel and
# initramfs it booted (QEMU keeps them for a reset) with none of their pages
# resident, and under half of its own code and read-only data is (84% of it
# is, left alone: what only its start-up ran; the rest, what it runs, comes
# back).  Both boot image mappings must be there, or the
# check would pass on a QEMU that names them otherwise.  No other VM may run
# meanwhile: a page two VMMs map is not reclaimed.
assert_startup_reclaimed() {
  local vmm=$1 found code
  found=$(awk '/^[0-9a-f]+-[0-9a-f]+ / { name = $6 }
      /^Rss:/ && (name == "/kernel" || name == "/initrd") { n++; rss += $2 }
      END { print n + 0, rss + 0 }' "/proc/$vmm/smaps")
  [[ $found == "2 0" ]] || fail "the VMM $vmm's /kernel and /initrd mappings (count, resident KiB): $found, want 2 0"
  code=$(awk '/^[0-9a-f]+-[0-9a-f]+ / { name = $6; perms = $2 }
      name == "/vmm" && perms !~ /w/ && /^Size:/ { size += $2 }
      name == "/vmm" && perms !~ /w/ && /^Rss:/ { rss += $2 }
      END { print size + 0, rss + 0 }' "/proc/$vmm/smaps")
  read -r size rss <<<"$code"
  [ "$size" -gt 0 ] || fail "the VMM $vmm maps no /vmm"
  [ $((rss * 2)) -lt "$size" ] || fail "the VMM $vmm keeps $rss KiB of its $size KiB of code and read-only data"
}

# No VM, supervisor, state or log may remain of container $1.
assert_no_vm_leaks() {
  local id=$1
  ! pgrep -f "runhv-uvm-$id[, ]" >/dev/null || fail "a VMM of $id is still running"
  [[ ! -e "$ROOT/$id" ]] || fail "state directory $ROOT/$id left behind"
  [[ ! -e "$ROOT/vm-logs/$id.console.log" ]] || fail "console log of $id left behind"
  ! grep -q "$ROOT/$id" /proc/self/mountinfo || fail "a mount of $id left behind"
  assert_no_leaks "$id"
}

#!/usr/bin/env bats
# The runc contract for signals, seccomp, hooks and events: each behaviour is
# checked against runc 1.1 on the same bundle where runc gets it right.

load helpers

setup() { setup_bundle; }
teardown() {
  local d
  for d in "$TEST_DIR"/runc-root/*/; do
    [[ -d "$d" ]] && runc --root "$TEST_DIR/runc-root" delete --force "$(basename "$d")" >/dev/null 2>&1
  done
  teardown_bundle
}

rc_runc() {
  runc --root "$TEST_DIR/runc-root" "$@"
}

stopped_under() {
  [ "$("$1" state "$2" | jq -r .status)" = stopped ]
}

# `kill ID 0` is kill(2)'s liveness probe: success while the init lives
# (created or running), "not running" once it has exited.
@test "kill ID 0 checks liveness, as runc's does" {
  local rt
  for rt in rh rc_runc; do
    $rt create --bundle "$BUNDLE" k0 </dev/null >/dev/null 2>&1
    run $rt kill k0 0
    [ "$status" -eq 0 ] || fail "$rt: kill 0 of a created container: $output"
    $rt start k0
    run $rt kill k0 0
    [ "$status" -eq 0 ] || fail "$rt: kill 0 of a running container: $output"
    $rt kill k0 KILL
    wait_for 100 stopped_under $rt k0
    run $rt kill k0 0
    [ "$status" -ne 0 ] || fail "$rt: kill 0 of a stopped container succeeded"
    [[ "$output" == *"not running"* ]] || fail "$rt: $output"
    run $rt kill k0 SIG0
    [ "$status" -ne 0 ]
    $rt delete k0
  done
}

# A profile that denies by default and names only syscalls older than clone3:
# clone3 must fail with ENOSYS (so glibc falls back to clone), while an old
# syscall the profile leaves out still gets the default EPERM.
@test "seccomp: syscalls newer than the profile get ENOSYS, older ones the default action" {
  cc -static -O2 -o "$BUNDLE/rootfs/seccomp-probe" "$RUNHV_SOURCE_DIR/tests/lib/seccomp-probe.c" ||
    fail "cannot build the static probe (gcc and libc6-dev are needed)"
  local names
  names=$(awk '$1 == "#define" && $2 ~ /^__NR_/ && $3 < 435 && $2 != "__NR_getpriority" { sub(/^__NR_/, "", $2); print $2 }' \
    /usr/include/x86_64-linux-gnu/asm/unistd_64.h | jq -R . | jq -s -c .)
  [ "$(jq length <<<"$names")" -gt 300 ] || fail "syscall list: $names"
  config ".process.args = [\"/seccomp-probe\"] | .linux.seccomp = {
    defaultAction: \"SCMP_ACT_ERRNO\",
    architectures: [\"SCMP_ARCH_X86_64\", \"SCMP_ARCH_X86\", \"SCMP_ARCH_X32\"],
    syscalls: [{names: $names, action: \"SCMP_ACT_ALLOW\"}]}"
  run rh run --bundle "$BUNDLE" sc1
  [ "$status" -eq 0 ] || fail "runhv: $output"
  local ours=$output
  run rc_runc run --bundle "$BUNDLE" sc1
  [ "$status" -eq 0 ] || fail "runc: $output"
  [ "$ours" = "$output" ] || fail "runhv: $ours; runc: $output"
  [ "$ours" = $'clone3=ENOSYS\ngetpriority=EPERM' ] || fail "runhv: $ours"
}

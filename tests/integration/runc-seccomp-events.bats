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

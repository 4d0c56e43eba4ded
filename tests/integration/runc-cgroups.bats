#!/usr/bin/env bats
# The runc contract for cgroups, update and exec (docs/runc-compat.md,
# "Cgroups, update and exec"): where runc 1.1 behaves correctly the same
# bundle runs under both and the results are compared.

load helpers

setup() {
  setup_bundle
  RUNC_ROOT="$TEST_DIR/runc-root"
  # a cgroup parent of this test's own, so nothing here touches another's
  CGP="runhv-rc-$$-$BATS_TEST_NUMBER"
}

teardown() {
  local d
  if [[ -d "${RUNC_ROOT:-}" ]]; then
    for d in "$RUNC_ROOT"/*/; do
      [[ -d "$d" ]] && runc --root "$RUNC_ROOT" delete --force "$(basename "$d")" >/dev/null 2>&1
    done
  fi
  teardown_bundle
  # thaw, then remove this test's cgroups deepest first
  for d in /sys/fs/cgroup/freezer/"$CGP" /sys/fs/cgroup/freezer/"$CGP"/*; do
    [[ -f "$d/freezer.state" ]] && echo THAWED >"$d/freezer.state"
  done
  find /sys/fs/cgroup/*/"$CGP" -depth -type d -exec rmdir {} + 2>/dev/null || true
}

rc() {
  runc --root "$RUNC_ROOT" "$@"
}

# Like rhd, for runc.
rcd() {
  local log="$TEST_DIR/detached-runc.$RANDOM.log"
  runc --root "$RUNC_ROOT" "$@" </dev/null >"$log" 2>&1
  local rc=$?
  cat "$log"
  return $rc
}

# rhd with a bound: a runtime that waits on a frozen init fails instead of
# hanging the suite.
rhb() {
  local log="$TEST_DIR/bounded.$RANDOM.log"
  timeout 60 "$RUNHV" --root "$ROOT" "$@" </dev/null >"$log" 2>&1
  local rc=$?
  cat "$log"
  return $rc
}

# mkdir a cgroup in every v1 hierarchy (cpuset needs its cpus and mems).
mkcg() {
  local h
  for h in /sys/fs/cgroup/*/; do
    [[ "$h" == */unified/ ]] && continue
    mkdir -p "$h$1"
  done
  local p=/sys/fs/cgroup/cpuset d
  IFS=/ read -ra parts <<<"$1"
  for d in "${parts[@]}"; do
    [[ -z "$d" ]] && continue
    cat "$p/cpuset.cpus" >"$p/$d/cpuset.cpus"
    cat "$p/cpuset.mems" >"$p/$d/cpuset.mems"
    p="$p/$d"
  done
}

@test "create into a frozen cgroup is refused, as runc does, and leaves nothing" {
  mkcg "$CGP/frozen"
  echo FROZEN >/sys/fs/cgroup/freezer/"$CGP"/frozen/freezer.state
  config ".linux.cgroupsPath = \"/$CGP/frozen\""
  run rcd create --bundle "$BUNDLE" fz-runc
  [ "$status" -ne 0 ]
  [[ "$output" == *"container's cgroup unexpectedly frozen"* ]]
  run rhb create --bundle "$BUNDLE" fz1
  [ "$status" -ne 0 ]
  [[ "$output" == *"container's cgroup unexpectedly frozen"* ]]
  [ "$(echo "$output" | wc -l)" -eq 1 ]
  run rhb run -d --bundle "$BUNDLE" fz1
  [ "$status" -ne 0 ]
  [[ "$output" == *"unexpectedly frozen"* ]]
  [ ! -e "$ROOT/fz1" ]
  [ -z "$(cat /sys/fs/cgroup/freezer/"$CGP"/frozen/cgroup.procs)" ]
}

@test "create under a frozen parent is refused and makes no cgroup (runc 1.1 hangs there)" {
  mkcg "$CGP"
  echo FROZEN >/sys/fs/cgroup/freezer/"$CGP"/freezer.state
  config ".linux.cgroupsPath = \"/$CGP/child\""
  run rhb create --bundle "$BUNDLE" fz2
  [ "$status" -ne 0 ]
  [[ "$output" == *"container's cgroup unexpectedly frozen"* ]]
  [ ! -e "$ROOT/fz2" ]
  for h in /sys/fs/cgroup/*/; do
    [ ! -e "$h$CGP/child" ] || fail "$h$CGP/child left behind"
  done
}

# Start container $2 with runtime $1 (rhd or rcd) whose second process sits
# in a sub-cgroup "sub" in every v1 hierarchy, frozen there; print nothing.
start_with_subcgroup() {
  local run=$1 id=$2 h
  config ".linux.cgroupsPath = \"/$CGP/$id\" | .process.args = [\"sh\", \"-c\", \"sleep 1000 & exec sleep 1001\"]"
  $run run -d --bundle "$BUNDLE" "$id" >/dev/null || return 1
  local init child=
  init=$(cat /sys/fs/cgroup/pids/"$CGP/$id"/cgroup.procs | head -1)
  wait_for 50 bash -c "[ \$(wc -l </sys/fs/cgroup/pids/$CGP/$id/cgroup.procs) -eq 2 ]" || return 1
  for p in $(cat /sys/fs/cgroup/pids/"$CGP/$id"/cgroup.procs); do
    grep -q 1001 /proc/$p/cmdline || child=$p
  done
  [ -n "$child" ] || return 1
  mkcg "$CGP/$id/sub/deeper"
  for h in /sys/fs/cgroup/*/; do
    [[ "$h" == */unified/ ]] && continue
    echo "$child" >"$h$CGP/$id/sub/deeper/cgroup.procs"
  done
  [ "${FREEZE_SUB:-1}" = 1 ] && echo FROZEN >/sys/fs/cgroup/freezer/"$CGP/$id"/sub/freezer.state
  echo "$child"
}

@test "delete --force removes a cgroup with sub-cgroups and kills what is in them, as runc does" {
  local child h
  child=$(FREEZE_SUB=0 start_with_subcgroup rcd sc-runc)
  [ -n "$child" ]
  rc delete --force sc-runc
  [ ! -e /sys/fs/cgroup/memory/"$CGP"/sc-runc ]
  ! kill -0 "$child" 2>/dev/null

  child=$(FREEZE_SUB=0 start_with_subcgroup rhd sc1)
  [ -n "$child" ]
  run rh delete --force sc1
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  for h in /sys/fs/cgroup/*/; do
    [ ! -e "$h$CGP/sc1" ] || fail "$h$CGP/sc1 left behind"
  done
  wait_for 50 bash -c "! kill -0 $child 2>/dev/null"
  [ ! -e "$ROOT/sc1" ]
}

@test "delete --force with a frozen sub-cgroup (where runc 1.1 fails: init still running)" {
  local child h
  child=$(start_with_subcgroup rhd sc2)
  [ -n "$child" ]
  [ "$(cat /sys/fs/cgroup/freezer/"$CGP"/sc2/sub/freezer.state)" = FROZEN ]
  run rh delete --force sc2
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  for h in /sys/fs/cgroup/*/; do
    [ ! -e "$h$CGP/sc2" ] || fail "$h$CGP/sc2 left behind"
  done
  wait_for 50 bash -c "! kill -0 $child 2>/dev/null"
}

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
  [[ -n "${LOOP:-}" ]] && losetup -d "$LOOP"
  teardown_bundle
  # a failed test may leave processes in this test's cgroups: thaw them all,
  # kill them, then remove the cgroups deepest first
  local f
  for f in $(find /sys/fs/cgroup/freezer/"$CGP" -name freezer.state 2>/dev/null); do
    echo THAWED >"$f"
  done
  for f in $(find /sys/fs/cgroup/*/"$CGP" -name cgroup.procs 2>/dev/null); do
    xargs -r kill -9 <"$f" 2>/dev/null
  done
  wait_for 50 bash -c "find /sys/fs/cgroup/*/$CGP -depth -type d -exec rmdir {} + 2>/dev/null; ! ls -d /sys/fs/cgroup/*/$CGP >/dev/null 2>&1" || true
}

rc() {
  runc --root "$RUNC_ROOT" "$@"
}

# Run a command whose container may keep stdio open (see rhd).
detached() {
  local log="$TEST_DIR/detached.$RANDOM.log"
  "$@" </dev/null >"$log" 2>&1
  local rc=$?
  cat "$log"
  return $rc
}

# Like rhd, for runc.
rcd() {
  detached runc --root "$RUNC_ROOT" "$@"
}

# No cgroup of container $1 (cgroupsPath /$CGP/$1) in any hierarchy.
no_cgroups_of() {
  local h
  for h in /sys/fs/cgroup/*/; do
    [ ! -e "$h$CGP/$1" ] || fail "$h$CGP/$1 left behind"
  done
}

# rhd with a bound: a runtime that waits on a frozen init fails instead of
# hanging the suite.
rhb() {
  detached timeout 60 "$RUNHV" --root "$ROOT" "$@"
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
  no_cgroups_of child
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
  if kill -0 "$child" 2>/dev/null; then return 1; fi

  child=$(FREEZE_SUB=0 start_with_subcgroup rhd sc1)
  [ -n "$child" ]
  run rh delete --force sc1
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  no_cgroups_of sc1
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
  no_cgroups_of sc2
  wait_for 50 bash -c "! kill -0 $child 2>/dev/null"
}

@test "update takes its flags after the id, as runc does" {
  config ".linux.cgroupsPath = \"/$CGP/u\""
  rcd run -d --bundle "$BUNDLE" u-runc
  rc update u-runc --memory 100m --pids-limit 50
  [ "$(cat /sys/fs/cgroup/memory/"$CGP"/u/memory.limit_in_bytes)" = 104857600 ]
  rc delete --force u-runc
  rhd run -d --bundle "$BUNDLE" u1
  rh update u1 --memory 100m --pids-limit 50
  [ "$(cat /sys/fs/cgroup/memory/"$CGP"/u/memory.limit_in_bytes)" = 104857600 ]
  [ "$(cat /sys/fs/cgroup/pids/"$CGP"/u/pids.max)" = 50 ]
  run rh update u1 --memory 100m extra
  [ "$status" -ne 0 ]
  [[ "$output" == *"unexpected argument"* ]]
}

@test "real-time CPU: update flags, --resources and config.json apply cpu.rt_*, as runc does" {
  mkcg "$CGP"
  echo 10000 >/sys/fs/cgroup/cpu/"$CGP"/cpu.rt_runtime_us
  config ".linux.cgroupsPath = \"/$CGP/rt\""
  local d=/sys/fs/cgroup/cpu/"$CGP"/rt
  rcd run -d --bundle "$BUNDLE" rt-runc
  rc update --cpu-rt-period 900000 --cpu-rt-runtime 1000 rt-runc
  [ "$(cat $d/cpu.rt_period_us)" = 900000 ]
  [ "$(cat $d/cpu.rt_runtime_us)" = 1000 ]
  rc delete --force rt-runc

  rhd run -d --bundle "$BUNDLE" rt1
  rh update --cpu-rt-period 900000 --cpu-rt-runtime 1000 rt1
  [ "$(cat $d/cpu.rt_period_us)" = 900000 ]
  [ "$(cat $d/cpu.rt_runtime_us)" = 1000 ]
  echo '{"cpu": {"realtimeRuntime": 2000, "realtimePeriod": 800000}}' | rh update --resources - rt1
  [ "$(cat $d/cpu.rt_period_us)" = 800000 ]
  [ "$(cat $d/cpu.rt_runtime_us)" = 2000 ]
  # more than the parent grants: a clear error that says so
  run rh update --cpu-rt-runtime 20000 rt1
  [ "$status" -ne 0 ]
  [[ "$output" == *"realtimeRuntime"*"parent cgroup"* ]]
  [ "$(cat $d/cpu.rt_runtime_us)" = 2000 ]
  rh delete --force rt1

  config '.linux.resources.cpu = {"realtimeRuntime": 3000, "realtimePeriod": 700000}'
  rhd create --bundle "$BUNDLE" rt2
  [ "$(cat $d/cpu.rt_period_us)" = 700000 ]
  [ "$(cat $d/cpu.rt_runtime_us)" = 3000 ]
}

@test "update --cpu-period 10000 --cpu-quota 3000 under a parent quota succeeds, as with runc" {
  mkcg "$CGP"
  echo 100000 >/sys/fs/cgroup/cpu/"$CGP"/cpu.cfs_period_us
  echo 50000 >/sys/fs/cgroup/cpu/"$CGP"/cpu.cfs_quota_us
  config ".linux.cgroupsPath = \"/$CGP/q\" | .linux.resources.cpu = {\"quota\": 25000, \"period\": 50000}"
  local d=/sys/fs/cgroup/cpu/"$CGP"/q
  rcd run -d --bundle "$BUNDLE" q-runc
  rc update --cpu-period 10000 --cpu-quota 3000 q-runc
  [ "$(cat $d/cpu.cfs_period_us)" = 10000 ]
  [ "$(cat $d/cpu.cfs_quota_us)" = 3000 ]
  rc delete --force q-runc
  rhd run -d --bundle "$BUNDLE" q1
  rh update --cpu-period 10000 --cpu-quota 3000 q1
  [ "$(cat $d/cpu.cfs_period_us)" = 10000 ]
  [ "$(cat $d/cpu.cfs_quota_us)" = 3000 ]
  [ "$(rh state q1 | jq -r .status)" = running ]
}

@test "blockIO.weightDevice is applied through BFQ as runc does, and refused naming the device without it" {
  truncate -s 8M "$TEST_DIR/disk"
  LOOP=$(losetup -f --show "$TEST_DIR/disk")
  local q=/sys/block/${LOOP#/dev/}/queue/scheduler dev d=/sys/fs/cgroup/blkio/"$CGP"/w
  dev=$(cat /sys/block/${LOOP#/dev/}/dev)
  grep -qw bfq "$q" || fail "this kernel has no BFQ scheduler"
  echo bfq >"$q"
  local wd="{\"major\": ${dev%:*}, \"minor\": ${dev#*:}, \"weight\": 500}"
  config ".linux.cgroupsPath = \"/$CGP/w\" | .linux.resources.blockIO = {\"weightDevice\": [$wd]}"
  rcd run -d --bundle "$BUNDLE" w-runc
  grep -qx "$dev 500" $d/blkio.bfq.weight_device
  rc delete --force w-runc
  rhd run -d --bundle "$BUNDLE" w1
  grep -qx "$dev 500" $d/blkio.bfq.weight_device
  # update applies it too (runc 1.1's update drops weightDevice)
  rh update --resources - w1 <<<"{\"blockIO\": {\"weightDevice\": [${wd/500/300}]}}"
  grep -qx "$dev 300" $d/blkio.bfq.weight_device
  rh delete --force w1

  # a device whose scheduler has no weights: refused, naming it
  echo none >"$q"
  run rhd create --bundle "$BUNDLE" w3
  [ "$status" -ne 0 ]
  [[ "$output" == *"weightDevice: device $dev does not use the BFQ I/O scheduler"* ]]
  [ "$(echo "$output" | wc -l)" -eq 1 ]
  [ ! -e "$ROOT/w3" ]
  [ ! -e "$d" ]
}

@test "exec into a paused container is refused as runc does; --ignore-paused waits for resume" {
  config ".linux.cgroupsPath = \"/$CGP/p\""
  rcd run -d --bundle "$BUNDLE" p-runc
  rc pause p-runc
  run rc exec p-runc true
  [ "$status" -ne 0 ]
  [[ "$output" == *"cannot exec in a paused container (use --ignore-paused to override)"* ]]
  rc delete --force p-runc

  rhd run -d --bundle "$BUNDLE" p1
  rh pause p1
  run rh exec p1 true
  [ "$status" -ne 0 ]
  [[ "$output" == *"cannot exec in a paused container (use --ignore-paused to override)"* ]]
  # with --ignore-paused the process starts frozen and runs at resume
  "$RUNHV" --root "$ROOT" exec --ignore-paused p1 sh -c 'echo ran >/ran' </dev/null >"$TEST_DIR/ip.log" 2>&1 &
  local bg=$!
  wait_for 50 bash -c "grep -q . /sys/fs/cgroup/freezer/$CGP/p/cgroup.procs && [ \$(wc -l </sys/fs/cgroup/freezer/$CGP/p/cgroup.procs) -ge 2 ]"
  [ ! -e "$BUNDLE/rootfs/ran" ]
  [ "$(status_of p1)" = paused ]
  rh resume p1
  wait "$bg"
  [ "$(cat "$BUNDLE/rootfs/ran")" = ran ]
}

@test "exec --cgroup puts the process in the named sub-cgroup, as runc does" {
  # a cgroup namespace of its own (runhv spec, like runc spec, adds none on
  # a v1 host), so the paths below are the container's view
  config ".linux.cgroupsPath = \"/$CGP/x\" | .linux.namespaces += [{\"type\": \"cgroup\"}]"
  local id out
  for id in x-runc x1; do
    if [ $id = x-runc ]; then rcd run -d --bundle "$BUNDLE" $id; else rhd run -d --bundle "$BUNDLE" $id; fi
    mkdir /sys/fs/cgroup/memory/"$CGP"/x/sub
    # one controller
    if [ $id = x-runc ]; then out=$(rc exec --cgroup memory:sub $id cat /proc/self/cgroup); else out=$(rh exec --cgroup memory:sub $id cat /proc/self/cgroup); fi
    # (the bundle has a cgroup namespace: paths are the container's view)
    [[ "$out" == *":memory:/sub"* ]] || fail "$id: $out"
    [[ "$out" == *":pids:/"$'\n'* ]]
    # every hierarchy: it must exist in each
    if [ $id = x-runc ]; then run rc exec --cgroup sub $id true; else run rh exec --cgroup sub $id true; fi
    [ "$status" -ne 0 ]
    mkcg "$CGP/x/sub"
    mkdir -p /sys/fs/cgroup/unified/"$CGP"/x/sub
    if [ $id = x-runc ]; then out=$(rc exec --cgroup sub $id cat /proc/self/cgroup); else out=$(rh exec --cgroup sub $id cat /proc/self/cgroup); fi
    [[ "$out" == *":pids:/sub"* ]]
    [[ "$out" == *":freezer:/sub"* ]]
    [[ "$out" == *"0::/sub"* ]]
    # never out of the container's cgroup
    if [ $id = x-runc ]; then run rc exec --cgroup memory:../.. $id true; else run rh exec --cgroup memory:../.. $id true; fi
    [ "$status" -ne 0 ]
    [[ "$output" == *"not a sub"* ]]
    if [ $id = x-runc ]; then rc delete --force $id; else rh delete --force $id; fi
  done
  [ ! -e /sys/fs/cgroup/memory/"$CGP"/x ]
}

# Whether v1 controller $1 is mounted on this host.
v1_mounted() {
  awk -v c="$1" '$1 == c && $2 != 0 { found = 1 } END { exit !found }' /proc/cgroups
}

@test "network classID/priorities and hugepageLimits: applied, or refused naming the missing controller as runc fails" {
  local res ctrl file want
  for res in '{"network": {"classID": 1048577}}|net_cls|net_cls.classid|1048577' \
    '{"network": {"priorities": [{"name": "lo", "priority": 3}]}}|net_prio|net_prio.ifpriomap|lo 3' \
    '{"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]}|hugetlb|hugetlb.2MB.limit_in_bytes|4194304'; do
    IFS='|' read -r json ctrl file want <<<"$res"
    config ".linux.cgroupsPath = \"/$CGP/n\" | .linux.resources = $json"
    run rcd run -d --bundle "$BUNDLE" n-runc
    local runc_status=$status
    rc delete --force n-runc >/dev/null 2>&1 || true
    run rhd run -d --bundle "$BUNDLE" n1
    if v1_mounted "$ctrl"; then
      [ "$runc_status" -eq 0 ]
      [ "$status" -eq 0 ]
      grep -q "$want" /sys/fs/cgroup/"$ctrl"/"$CGP"/n/"$file"
      rh delete --force n1
    else
      [ "$runc_status" -ne 0 ]
      [ "$status" -ne 0 ]
      [[ "$output" == *"the $ctrl cgroup controller is not mounted on this host"* ]] || fail "$output"
      [ "$(echo "$output" | wc -l)" -eq 1 ]
      [ ! -e "$ROOT/n1" ]
      [ ! -e /sys/fs/cgroup/memory/"$CGP"/n ]
    fi
  done
  config '.linux.resources = {"hugepageLimits": [{"pageSize": "2M", "limit": 1}]}'
  run rhd create --bundle "$BUNDLE" n2
  [ "$status" -ne 0 ]
  [[ "$output" == *"hugepageLimits[0].pageSize: \`2M\` is not a page size"* ]] || fail "$output"
}

# The applied half of the test above, wherever this host leaves the
# controllers unmounted: the test mounts them (in a mount namespace of its
# own, so the host's view never changes) and runs runc and runhv there. The
# hierarchies go when the namespace ends and the test's cgroups are removed.
@test "network classID/priorities and hugepageLimits are written as runc writes them where the controllers are mounted" {
  [ -d /sys/kernel/mm/hugepages/hugepages-2048kB ] || fail "this kernel has no 2 MiB huge pages"
  local mounted_before
  mounted_before=$(awk '$2 != 0 { print $1 }' /proc/cgroups)
  config ".linux.cgroupsPath = \"/$CGP/n\" | .linux.resources = {network: {classID: 1048577,
    priorities: [{name: \"lo\", priority: 3}]}, hugepageLimits: [{pageSize: \"2MB\", limit: 4194304}]}"
  cat >"$TEST_DIR/in-ns.sh" <<'SCRIPT'
set -u
cleanup() {
  runc --root "$RUNC_ROOT" delete --force n-runc >/dev/null 2>&1
  "$RUNHV" --root "$ROOT" delete --force n1 >/dev/null 2>&1
  for c in net_cls,net_prio hugetlb; do
    rmdir /sys/fs/cgroup/$c/"$CGP"/n /sys/fs/cgroup/$c/"$CGP" 2>/dev/null
    [ -e /sys/fs/cgroup/$c.made-by-test ] || continue
    # the kernel frees a hierarchy at its last umount only if no removed
    # child is still dying then; otherwise it lingers, mounted nowhere
    for i in $(seq 100); do
      [ "$(awk -v c="${c%%,*}" '$1 == c { print $3 }' /proc/cgroups)" = 1 ] && break
      sleep 0.1
    done
    umount /sys/fs/cgroup/$c; rmdir /sys/fs/cgroup/$c; rm /sys/fs/cgroup/$c.made-by-test
  done
}
trap cleanup EXIT
for c in net_cls,net_prio hugetlb; do
  if ! mountpoint -q /sys/fs/cgroup/$c; then
    mkdir /sys/fs/cgroup/$c && touch /sys/fs/cgroup/$c.made-by-test && mount -t cgroup -o $c cgroup /sys/fs/cgroup/$c || exit 9
  fi
done
for rt in runc runhv; do
  if [ $rt = runc ]; then runc --root "$RUNC_ROOT" run -d --bundle "$BUNDLE" n-runc </dev/null >/dev/null 2>&1 || exit 1
  else "$RUNHV" --root "$ROOT" run -d --bundle "$BUNDLE" n1 </dev/null >"$TEST_DIR/rh.log" 2>&1 || { cat "$TEST_DIR/rh.log"; exit 2; }; fi
  echo "$rt $(cat /sys/fs/cgroup/net_cls,net_prio/"$CGP"/n/net_cls.classid) $(grep '^lo ' /sys/fs/cgroup/net_cls,net_prio/"$CGP"/n/net_prio.ifpriomap) $(cat /sys/fs/cgroup/hugetlb/"$CGP"/n/hugetlb.2MB.limit_in_bytes)"
  if [ $rt = runc ]; then echo "$rt $(runc --root "$RUNC_ROOT" events --stats n-runc | jq -c .data.hugetlb)"
  else echo "$rt $("$RUNHV" --root "$ROOT" events --stats n1 | jq -c .data.hugetlb)"; fi
  if [ $rt = runc ]; then runc --root "$RUNC_ROOT" delete --force n-runc; else "$RUNHV" --root "$ROOT" delete --force n1; fi
  [ ! -e /sys/fs/cgroup/hugetlb/"$CGP"/n ] || { echo "$rt left its hugetlb cgroup"; exit 3; }
done
SCRIPT
  run env RUNC_ROOT="$RUNC_ROOT" ROOT="$ROOT" RUNHV="$RUNHV" BUNDLE="$BUNDLE" CGP="$CGP" TEST_DIR="$TEST_DIR" \
    unshare -m --propagation private bash "$TEST_DIR/in-ns.sh"
  [ "$status" -eq 0 ] || fail "$output"
  [ "${lines[0]}" = "runc 1048577 lo 3 4194304" ] || fail "$output"
  [ "${lines[2]}" = "runhv 1048577 lo 3 4194304" ] || fail "$output"
  # events --stats reports the hugetlb hierarchy per page size, as runc does
  [ "${lines[1]}" = 'runc {"2MB":{"failcnt":0}}' ] || fail "$output"
  [ "${lines[3]}" = 'runhv {"2MB":{"failcnt":0}}' ] || fail "$output"
  # and the host is as it was: what the test mounted is gone
  local c
  for c in net_cls hugetlb; do
    if ! grep -q "$c" <<<"$mounted_before"; then
      wait_for 50 bash -c "! awk -v c=$c '\$1 == c && \$2 != 0 { f = 1 } END { exit !f }' /proc/cgroups" ||
        fail "the $c hierarchy outlived the test"
    fi
  done
}

# The mkdir calls of one `create`, numbered as strace counts them (LeakSanitizer
# cannot run under ptrace).
mkdir_calls() {
  ASAN_OPTIONS=detect_leaks=0 strace -o "$TEST_DIR/dry.log" -qq -e trace=mkdir,mkdirat \
    "$RUNHV" --root "$ROOT" create --bundle "$BUNDLE" "$1" </dev/null >/dev/null 2>&1
  rh delete --force "$1"
  grep -E '^mkdir' "$TEST_DIR/dry.log"
}

# `create $1` SIGKILLed by strace as it enters its $2-th mkdir.
create_killed_at_mkdir() {
  ASAN_OPTIONS=detect_leaks=0 strace -o /dev/null -qq -e trace=mkdir,mkdirat -e inject=mkdir,mkdirat:signal=KILL:when="$2" \
    "$RUNHV" --root "$ROOT" create --bundle "$BUNDLE" "$1" </dev/null >/dev/null 2>&1 || true
}

@test "create SIGKILLed at several points: delete --force leaves no cgroup, state or process" {
  local calls n id points p
  config ".linux.cgroupsPath = \"/$CGP/dry\""
  mkdir_calls dry >"$TEST_DIR/calls"
  # the state directory's, then one per cgroup hierarchy
  local state_at
  state_at=$(grep -n "^mkdir[a-z]*(.*\"$ROOT/dry\"" "$TEST_DIR/calls" | cut -d: -f1)
  mapfile -t points < <(grep -n "/$CGP/dry\"" "$TEST_DIR/calls" | cut -d: -f1)
  [ -n "$state_at" ] && [ "${#points[@]}" -ge 3 ] || fail "mkdirs not recognised: $(cat "$TEST_DIR/calls")"
  n=0
  # before the state directory, before the first cgroup, midway, before the last
  for p in "$state_at" "${points[0]}" "${points[$((${#points[@]} / 2))]}" "${points[-1]}"; do
    id=k$((n++))
    config ".linux.cgroupsPath = \"/$CGP/$id\""
    create_killed_at_mkdir "$id" "$p" 2>/dev/null
    # it was killed half-way: on record, and (after the first cgroup) some cgroups made
    if [ "$p" != "$state_at" ]; then
      [ -e "$ROOT/$id/state.json" ] || fail "$id: no state after a kill at mkdir $p"
      [ "$(status_of "$id")" != created ]
    fi
    if [ "$p" = "${points[-1]}" ]; then
      [ -n "$(ls -d /sys/fs/cgroup/*/"$CGP/$id" 2>/dev/null)" ] || fail "$id: no cgroup made before the kill"
    fi
    rh delete --force "$id"
    no_cgroups_of "$id"
    assert_no_leaks "$id"
  done

  # while a prestart hook runs: every cgroup exists and the init waits
  config ".linux.cgroupsPath = \"/$CGP/kh\" | .hooks.prestart = [{\"path\": \"/bin/sh\", \"args\": [\"sh\", \"-c\", \"echo \$\$ >$TEST_DIR/hook.pid; exec sleep 100\"]}]"
  "$RUNHV" --root "$ROOT" create --bundle "$BUNDLE" kh </dev/null >/dev/null 2>&1 &
  local pid=$!
  wait_for 300 test -s "$TEST_DIR/hook.pid"
  kill -9 $pid
  wait $pid 2>/dev/null || true
  kill -9 "$(cat "$TEST_DIR/hook.pid")"
  [ -d /sys/fs/cgroup/pids/"$CGP"/kh ]
  rh delete --force kh
  no_cgroups_of kh
  assert_no_leaks kh

  # and the id is free again
  config 'del(.hooks)'
  rhd create --bundle "$BUNDLE" kh
  [ "$(status_of kh)" = created ]
}

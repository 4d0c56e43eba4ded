#!/usr/bin/env bats
# The runc contract for signals, seccomp, hooks and events: each behaviour is
# checked against runc 1.1 on the same bundle where runc gets it right.

load helpers

setup() { setup_bundle; }
teardown() {
  local d
  [[ -n "${AGENT_PID:-}" ]] && kill "$AGENT_PID" 2>/dev/null
  [[ -n "${EVENTS_PID:-}" ]] && kill "$EVENTS_PID" 2>/dev/null
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

# SCMP_ACT_NOTIFY + listenerPath: the runtime hands the listener to the agent
# with runc's message (the OCI ContainerProcessState), and the agent answers
# the container's syscall.
start_agent() {
  python3 "$RUNHV_SOURCE_DIR/tests/lib/seccomp-agent.py" "$1" "$2" 18 "${3:-1}" >"$2.log" 2>&1 3>&- &
  AGENT_PID=$!
  wait_for 100 test -S "$1" || fail "the agent did not listen: $(cat "$2.log")"
}

@test "seccomp notify: the listener reaches the agent with the state, as runc sends it" {
  cc -static -O2 -o "$BUNDLE/rootfs/seccomp-probe" "$RUNHV_SOURCE_DIR/tests/lib/seccomp-probe.c" ||
    fail "cannot build the static probe (gcc and libc6-dev are needed)"
  config ".process.args = [\"/seccomp-probe\"] | .linux.seccomp = {
    defaultAction: \"SCMP_ACT_ALLOW\", listenerPath: \"$TEST_DIR/agent.sock\", listenerMetadata: \"meta-1\",
    syscalls: [{names: [\"getpriority\"], action: \"SCMP_ACT_NOTIFY\"}]}"
  local rt out
  for rt in rh rc_runc; do
    rm -f "$TEST_DIR/agent.sock"
    start_agent "$TEST_DIR/agent.sock" "$TEST_DIR/msg.$rt"
    run $rt run --bundle "$BUNDLE" sn1
    [ "$status" -eq 0 ] || fail "$rt: $output"
    # the agent answered getpriority with -EXDEV
    [ "$output" = $'clone3=EINVAL\ngetpriority=EXDEV' ] || fail "$rt: $output"
    wait "$AGENT_PID" || fail "$rt: agent: $(cat "$TEST_DIR/msg.$rt.log")"
    AGENT_PID=
    out=$TEST_DIR/msg.$rt.1
    jq -e --arg b "$BUNDLE" '.fds == ["seccompFd"] and .metadata == "meta-1" and .pid > 0 and .state.pid == .pid
      and .state.id == "sn1" and .state.status == "creating" and .state.bundle == $b and (.ociVersion | type) == "string"' \
      "$out" >/dev/null || fail "$rt sent: $(cat "$out")"
  done
  # the same message, field for field
  [ "$(jq -c '[paths | map(tostring) | join(".")] | sort' "$TEST_DIR/msg.rh.1")" = \
    "$(jq -c '[paths | map(tostring) | join(".")] | sort' "$TEST_DIR/msg.rc_runc.1")" ] ||
    fail "runhv: $(cat "$TEST_DIR/msg.rh.1"); runc: $(cat "$TEST_DIR/msg.rc_runc.1")"
}

# runc sends a second listener for each `exec`: the state is the running
# container's (its init's pid), the message's own pid the exec'd process.
@test "seccomp notify: exec hands its own listener over, as runc does" {
  cc -static -O2 -o "$BUNDLE/rootfs/seccomp-probe" "$RUNHV_SOURCE_DIR/tests/lib/seccomp-probe.c" ||
    fail "cannot build the static probe (gcc and libc6-dev are needed)"
  config ".linux.seccomp = {defaultAction: \"SCMP_ACT_ALLOW\", listenerPath: \"$TEST_DIR/agent.sock\",
    syscalls: [{names: [\"getpriority\"], action: \"SCMP_ACT_NOTIFY\"}]}"
  local rt m
  for rt in rh rc_runc; do
    rm -f "$TEST_DIR/agent.sock"
    start_agent "$TEST_DIR/agent.sock" "$TEST_DIR/msg.$rt" 2
    $rt run -d --bundle "$BUNDLE" sn4 </dev/null >/dev/null 2>&1 || fail "$rt: run: $(cat "$TEST_DIR/msg.$rt.log")"
    run $rt exec sn4 /seccomp-probe
    [ "$status" -eq 0 ] || fail "$rt: $output"
    [ "$output" = $'clone3=EINVAL\ngetpriority=EXDEV' ] || fail "$rt: $output"
    wait "$AGENT_PID" || fail "$rt: agent: $(cat "$TEST_DIR/msg.$rt.log")"
    AGENT_PID=
    m=$TEST_DIR/msg.$rt.2
    jq -e --argjson init "$($rt state sn4 | jq .pid)" '.fds == ["seccompFd"] and .state.status == "running"
      and .state.pid == $init and .pid != $init and .pid > 0 and .state.id == "sn4"' "$m" >/dev/null ||
      fail "$rt sent: $(cat "$m")"
    $rt delete --force sn4
  done
}

@test "seccomp notify: no agent listening fails create and leaves nothing; a VM refuses it" {
  config ".linux.seccomp = {defaultAction: \"SCMP_ACT_ALLOW\", listenerPath: \"$TEST_DIR/nobody.sock\",
    syscalls: [{names: [\"getpriority\"], action: \"SCMP_ACT_NOTIFY\"}]}"
  run rhd create --bundle "$BUNDLE" sn2
  [ "$status" -ne 0 ]
  [[ "$output" == *"listenerPath: connect to \`$TEST_DIR/nobody.sock\`"* ]] || fail "$output"
  assert_no_leaks sn2
  config '.linux.seccomp.listenerPath = null'
  run rhd create --bundle "$BUNDLE" sn2
  [ "$status" -ne 0 ]
  [[ "$output" == *"SCMP_ACT_NOTIFY needs a listenerPath"* ]] || fail "$output"
  config ".linux.seccomp.listenerPath = \"$TEST_DIR/nobody.sock\""
  # checked before any VM is started
  run rhd create --isolation=hypervisor --bundle "$BUNDLE" sn3
  [ "$status" -ne 0 ]
  [[ "$output" == *"seccomp notify is not supported with hypervisor isolation"* ]] || fail "$output"
  assert_no_leaks sn3
}

# runc loads the filter at create, before the container waits for `start`,
# so startContainer hooks (run in the container just before the user's
# process) already run under it, with the state of a created container.
@test "startContainer hooks run after the seccomp filter is loaded, as in runc" {
  printf '#!/bin/sh\n{ grep "^Seccomp:" /proc/self/status; cat; echo; } > /hook.out\n' > "$BUNDLE/rootfs/hook"
  chmod +x "$BUNDLE/rootfs/hook"
  config '.process.args = ["true"] | .hooks = {startContainer: [{path: "/hook"}]}
    | .linux.seccomp = {defaultAction: "SCMP_ACT_ALLOW", syscalls: [{names: ["getpriority"], action: "SCMP_ACT_ERRNO"}]}'
  local rt
  for rt in rh rc_runc; do
    rm -f "$BUNDLE/rootfs/hook.out"
    run $rt run --bundle "$BUNDLE" hk1
    [ "$status" -eq 0 ] || fail "$rt: $output"
    [ "$(sed -n 1p "$BUNDLE/rootfs/hook.out")" = $'Seccomp:\t2' ] || fail "$rt: $(cat "$BUNDLE/rootfs/hook.out")"
    [ "$(sed -n 2p "$BUNDLE/rootfs/hook.out" | jq -r '.id + " " + .status')" = "hk1 created" ] ||
      fail "$rt: $(cat "$BUNDLE/rootfs/hook.out")"
  done
}

# Every scalar's path, array indices folded: the fields printed, not how
# many CPUs or disks there are.
leaf_paths() {
  jq -c '[paths(scalars) | map(if type == "number" then "[]" else . end) | join(".")] | unique' <<<"$1"
}

# Dropping the page cache before each start makes both containers read
# their binaries from disk, so both have blkio entries and page cache.
@test "events --stats: one stats event with every field runc prints, where runc puts it" {
  config '.linux.resources.memory = {limit: 67108864} | .linux.resources.pids = {limit: 100}'
  sync; echo 3 > /proc/sys/vm/drop_caches
  rhd run -d --bundle "$BUNDLE" ev1
  sync; echo 3 > /proc/sys/vm/drop_caches
  rc_runc run -d --bundle "$BUNDLE" ev1 </dev/null >/dev/null 2>&1
  run rh events --stats ev1
  [ "$status" -eq 0 ] || fail "$output"
  [ "${#lines[@]}" -eq 1 ] || fail "$output"
  local ours=$output theirs
  theirs=$(rc_runc events --stats ev1)
  jq -e '.type == "stats" and .id == "ev1" and .data.pids.current == 1 and .data.pids.limit == 100
    and .data.memory.usage.limit == 67108864 and .data.memory.usage.usage > 0 and .data.cpu.usage.total > 0
    and (.data.cpu.usage | has("kernel") and has("user")) and (.data.cpu.usage.percpu | length) == '"$(nproc)"'
    and .data.memory.raw.hierarchical_memory_limit == 67108864 and .data.memory.cache == .data.memory.raw.cache
    and (.data.blkio.ioServiceBytesRecursive | length) > 0' <<<"$ours" >/dev/null || fail "runhv: $ours"
  [ "$(leaf_paths "$ours")" = "$(leaf_paths "$theirs")" ] ||
    fail "fields differ: runhv only $(jq -n --argjson a "$(leaf_paths "$ours")" --argjson b "$(leaf_paths "$theirs")" '$a - $b'), runc only $(jq -n --argjson a "$(leaf_paths "$ours")" --argjson b "$(leaf_paths "$theirs")" '$b - $a')"
  # the same objects in the same order, and the same static values
  [ "$(jq -c '[.data | keys_unsorted, (.memory | keys_unsorted), (.cpuset | keys_unsorted)]' <<<"$ours")" = \
    "$(jq -c '[.data | keys_unsorted, (.memory | keys_unsorted), (.cpuset | keys_unsorted)]' <<<"$theirs")" ]
  [ "$(jq -c '[.type, .id, .data.pids, .data.memory.usage.limit, .data.cpuset, .data.memory.swap.limit]' <<<"$ours")" = \
    "$(jq -c '[.type, .id, .data.pids, .data.memory.usage.limit, .data.cpuset, .data.memory.swap.limit]' <<<"$theirs")" ]
  # an unlimited v1 limit is 2^63 less a page: printed whole, digit for digit
  # as Go prints it (jq, and jansson, would round or refuse it)
  [ "$(grep -o '"kernelTCP":{"limit":[0-9]*' <<<"$ours")" = "$(grep -o '"kernelTCP":{"limit":[0-9]*' <<<"$theirs")" ]
  [[ "$(grep -o '"kernelTCP":{"limit":[0-9]*' <<<"$ours")" == *:9223372036854771712 ]] || fail "$ours"
  # a stopped container has no events, for either
  rh kill ev1 KILL
  rc_runc kill ev1 KILL
  wait_for 100 stopped_under rh ev1
  wait_for 100 stopped_under rc_runc ev1
  run rh events --stats ev1
  [ "$status" -ne 0 ] && [[ "$output" == *"not running"* ]] || fail "runhv: $output"
  run rc_runc events --stats ev1
  [ "$status" -ne 0 ] && [[ "$output" == *"not running"* ]] || fail "runc: $output"
}

# The container waits for /go, so that the OOM comes after `events` watches
# (its first stats line says it does), then fills a 16 MiB cgroup.
@test "events: an OOM kill is an oom event; the stream ends when the container is deleted" {
  config '.process.args = ["sh", "-c", "while [ ! -e /go ]; do sleep 0.1; done; tail /dev/zero; sleep 1000"]
    | .linux.resources.memory = {limit: 16777216, swap: 16777216}'
  local rt
  for rt in rh rc_runc; do
    rm -f "$BUNDLE/rootfs/go"
    $rt run -d --bundle "$BUNDLE" oom1 </dev/null >/dev/null 2>&1 || fail "$rt: run"
    $rt events --interval 200ms oom1 >"$TEST_DIR/events.$rt" 2>&1 3>&- &
    EVENTS_PID=$!
    wait_for 100 grep -q '"type":"stats"' "$TEST_DIR/events.$rt" || fail "$rt: $(cat "$TEST_DIR/events.$rt")"
    touch "$BUNDLE/rootfs/go"
    wait_for 300 grep -q '"type":"oom"' "$TEST_DIR/events.$rt" || fail "$rt: no oom event"
    [ "$(grep '"type":"oom"' "$TEST_DIR/events.$rt" | head -1)" = '{"type":"oom","id":"oom1"}' ] ||
      fail "$rt: $(grep oom "$TEST_DIR/events.$rt")"
    $rt delete --force oom1
    wait_for 100 eval '! kill -0 $EVENTS_PID 2>/dev/null' || fail "$rt: events still runs after delete"
    wait "$EVENTS_PID" || fail "$rt: events exited with $?: $(tail -1 "$TEST_DIR/events.$rt")"
    EVENTS_PID=
  done
}

#!/usr/bin/env bats
# containerd's shim v2 for runhv (runtime io.containerd.runhv.v1), driven by a
# private Debian containerd through ctr: both isolations, stdio and
# terminals, exec, pause, metrics, update, and faults (a dead VMM, a dead
# shim, a containerd restart, bad runtime options), each ending with nothing
# left behind.  The shim under test is the sanitizer build; its ASan
# reports land in files the suite checks at the end.

load helpers
bats_require_minimum_version 1.5.0

SHIM_ROOT=/run/runhv

source "$RUNHV_SOURCE_DIR/tests/lib/containerd-ctr.sh"

setup_file() {
  : "${RUNHV_SHIM:?RUNHV_SHIM must point at containerd-shim-runhv-v1}"
  [[ -f "$GUEST_DIR/initramfs.cpio" ]] || { echo "no guest artifacts in $GUEST_DIR: run scripts/provision-guest.sh" >&2; return 1; }
  # containerd (and the shims it starts) find the shim in $CTD_DIR/bin and
  # the guest through RUNHV_GUEST_DIR
  ctd_setup
  ln -s "$RUNHV_SHIM" "$CTD_DIR/bin/containerd-shim-runhv-v1"
  printf 'SandboxIsolation = 1\n' > "$CTD_DIR/hypervisor.toml"
}

teardown_file() {
  ctd_teardown shim-containerd
}

IMAGE=localhost/runhv-test/busybox:latest
HV=(--annotation io.runhv.isolation=hypervisor)

# containerd's detached commands inherit nothing we wait on.
cd_() { local rc=0; c "$@" </dev/null >"$CTD_DIR/out.$$" 2>&1 || rc=$?; cat "$CTD_DIR/out.$$"; return $rc; }

task_status() { c task ls | awk -v id="$1" '$1 == id { print $3 }'; }
wait_task() { wait_for 300 bash -c "[ \"\$(ctr --address '$CTD_DIR/containerd.sock' task ls | awk '\$1 == \"$1\" { print \$3 }')\" = $2 ]"; }

# Everything of task $1 is gone: runhv state, VM, cgroups, rootfs mount,
# the pod's shim.
assert_gone() {
  local id=$1
  [[ ! -e "$SHIM_ROOT/$id" ]] || fail "runhv state $SHIM_ROOT/$id left behind"
  ! pgrep -f "runhv-uvm-$id[, ]" >/dev/null || fail "a VMM of $id is still running"
  [[ ! -e "$SHIM_ROOT/vm-logs/$id.console.log" ]] || fail "console log of $id left behind"
  local cg
  for cg in /sys/fs/cgroup/*/default/"$id" /sys/fs/cgroup/default/"$id"; do
    [[ ! -e "$cg" ]] || fail "cgroup $cg left behind"
  done
  ! grep -q "/$id/rootfs " /proc/self/mountinfo || fail "rootfs mount of $id left behind"
  ! pgrep -f "containerd-shim-runhv-v1.* -id $id( |$)" >/dev/null || fail "the shim of $id is still running"
}

remove() {
  c task rm -f "$1" >/dev/null 2>&1 || true
  c containers rm "$1" >/dev/null 2>&1 || true
}

@test "process isolation through the shim: output, exit status, runhv state while it runs" {
  run --separate-stderr c run --rm --runtime io.containerd.runhv.v1 $IMAGE sp1 sh -c 'echo hello-process; echo to-stderr >&2; exit 5'
  [ "$status" -eq 5 ]
  [ "$output" = hello-process ]
  [ "${stderr_lines[0]}" = to-stderr ]
  assert_gone sp1

  cd_ run -d --runtime io.containerd.runhv.v1 $IMAGE sp2 sleep 1000
  run "$RUNHV" --root $SHIM_ROOT state sp2
  [ "$status" -eq 0 ]
  echo "$output" | jq -e '.status == "running" and .isolation == "process" and .owner == "containerd"'
  # the host pid containerd reports is the container's init
  local pid
  pid=$(c task ls | awk '$1 == "sp2" { print $2 }')
  [ "$(tr '\0' ' ' < /proc/$pid/cmdline)" = "sleep 1000 " ]
  c task kill -s KILL sp2
  wait_task sp2 STOPPED
  remove sp2
  assert_gone sp2
}

@test "hypervisor isolation by annotation: the guest's kernel, exit status, VM gone after" {
  run c run --rm --runtime io.containerd.runhv.v1 "${HV[@]}" $IMAGE sh1 sh -c 'uname -r; cat /proc/sys/kernel/random/boot_id; exit 7'
  [ "$status" -eq 7 ]
  [ "${lines[0]}" = "$(cat "$GUEST_DIR/kernel-release")" ]
  [ "${lines[1]}" != "$(cat /proc/sys/kernel/random/boot_id)" ]
  assert_gone sh1
}

@test "isolation from the handler's runtime options (ConfigPath → runhv.toml)" {
  run c run --rm --runtime io.containerd.runhv.v1 --runtime-config-path "$CTD_DIR/hypervisor.toml" $IMAGE sh2 \
    cat /proc/sys/kernel/random/boot_id
  [ "$status" -eq 0 ]
  [ "$output" != "$(cat /proc/sys/kernel/random/boot_id)" ]
  # the annotation still wins over the node's default, as it does for runhv run
  run c run --rm --runtime io.containerd.runhv.v1 --runtime-config-path "$CTD_DIR/hypervisor.toml" \
    --annotation io.runhv.isolation=process $IMAGE sh3 cat /proc/sys/kernel/random/boot_id
  [ "$status" -eq 0 ]
  [ "$output" = "$(cat /proc/sys/kernel/random/boot_id)" ]
  assert_gone sh2
  assert_gone sh3
}

# The task API, for each isolation.
task_api() {
  local id=$1
  shift
  cd_ run -d --runtime io.containerd.runhv.v1 "$@" $IMAGE $id sleep 1000
  [ "$(task_status $id)" = RUNNING ]
  run bash -c "echo piped | ctr --address '$CTD_DIR/containerd.sock' task exec --exec-id e1 $id sh -c 'read x; echo got \$x'"
  [ "$status" -eq 0 ]
  [ "$output" = "got piped" ]
  # stdout and stderr are two FIFOs that ctr copies on its own: compare
  # each stream, not their interleaving
  run --separate-stderr c task exec --exec-id e2 $id sh -c 'echo out; echo err >&2; exit 9'
  [ "$status" -eq 9 ]
  [ "$output" = out ]
  [ "${stderr_lines[0]}" = err ]
  # an exec killed by SIGKILL (which a VM process's host proxy cannot catch)
  cd_ task exec -d --exec-id e3 $id sleep 1000
  run c task ps $id
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -ge 2 ]
  c task kill -s KILL --exec-id e3 $id
  run c task exec --exec-id e4 $id sh -c 'ps | grep -c "[s]leep 1000"'
  [ "$output" = 1 ]
  c task pause $id
  [ "$(task_status $id)" = PAUSED ]
  c task resume $id
  [ "$(task_status $id)" = RUNNING ]
  run c task metrics $id
  [ "$status" -eq 0 ]
  [[ "$output" == *memory.usage_in_bytes* || "$output" == *memory.usage* ]]
  # the init is pid 1 of its namespace: only KILL ends a sleep there
  c task kill -s KILL $id
  wait_task $id STOPPED
  run c task rm $id
  [ "$status" -eq 0 ]
  c containers rm $id
  assert_gone $id
}

@test "task API with process isolation: stdin, exec, kill exec, ps, pause/resume, metrics" {
  task_api tp
}

@test "task API with hypervisor isolation: stdin, exec, kill exec, ps, pause/resume, metrics" {
  task_api th "${HV[@]}"
}

@test "a VM the shim hosts gives back what QEMU needed only to start (boot images, start-up code) once the guest is up" {
  cd_ run -d --runtime io.containerd.runhv.v1 "${HV[@]}" $IMAGE hl sleep 1000
  [ "$(task_status hl)" = RUNNING ]
  vmm=$(pgrep -f "runhv-uvm-hl[, ]")
  assert_startup_reclaimed "$vmm"
  c task kill -s KILL hl
  wait_task hl STOPPED
  c task rm hl
  c containers rm hl
  assert_gone hl
}

# CVE-2019-5736 through the shim's Exec: the shim forks the processes that
# join a container through the library, which runs them from a sealed copy
# of the shim's binary.  The probe (tests/lib/exe-probe.c, with
# CAP_SYS_PTRACE to get past PR_SET_DUMPABLE) holds the executable of every
# runtime process it sees join and tries to write to it; the shim is a copy,
# under a runtime name of its own, so a broken defence spoils only the copy.
@test "Exec with process isolation: the container cannot write the shim's binary through /proc/PID/exe (CVE-2019-5736)" {
  local dir=$CTD_DIR/cve shim=$CTD_DIR/bin/containerd-shim-runhvcve-v1 sum i
  mkdir -p "$dir"
  cc -static -O2 -o "$dir/exe-probe" "$RUNHV_SOURCE_DIR/tests/lib/exe-probe.c" ||
    fail "cannot build the static probe (gcc and libc6-dev are needed)"
  cp "$RUNHV_SHIM" "$shim"
  sum=$(sha256sum < "$shim")
  cd_ run -d --runtime io.containerd.runhvcve.v1 --cap-add CAP_SYS_PTRACE \
    --mount "type=bind,src=$dir,dst=/cve,options=rbind:rw" $IMAGE cve1 /cve/exe-probe /cve/report
  wait_for 100 grep -q '^READY' "$dir/report" || fail "the probe did not start"
  # each Exec is one chance for the probe to catch the joining process
  for ((i = 0; i < 30; i++)); do
    run c task exec --exec-id x$i cve1 true
    [ "$status" -eq 0 ] || fail "exec: $output"
    grep -q '^FOREIGN' "$dir/report" && break
  done
  assert_exe_unreachable "$shim" "$dir/report" "$sum"
  c task kill -s KILL cve1
  wait_task cve1 STOPPED
  remove cve1
  assert_gone cve1
}

# A VM container's OOM is seen through the guest's cgroup while the VM lives:
# in a pod (shim-cri.bats); a lone container's VM is gone with its init.
@test "an OOM kill is published as /tasks/oom before the exit" {
  c events > "$CTD_DIR/events.log" 2>&1 &
  local watcher=$!
  sleep 0.3
  # dd's 128 MiB buffer cannot fit a 32 MiB limit: the kernel's OOM killer
  # ends it
  run c run --rm --runtime io.containerd.runhv.v1 --memory-limit 33554432 $IMAGE oom1 \
    dd if=/dev/zero of=/dev/null bs=128M count=1
  [ "$status" -eq 137 ]
  # a process the OOM killer ends while the container lives on (a child of
  # an exec's shell, which the shim does not wait on): reported at once,
  # from the cgroup's OOM notification
  cd_ run -d --runtime io.containerd.runhv.v1 --memory-limit 33554432 $IMAGE oom2 sleep 1000
  run c task exec --exec-id x1 oom2 sh -c 'dd if=/dev/zero of=/dev/null bs=128M count=1; echo survived'
  [ "$status" -eq 0 ]
  [[ "$output" == *survived* ]]
  wait_for 50 grep -q '/tasks/oom {"container_id":"oom2"}' "$CTD_DIR/events.log"
  [ "$(task_status oom2)" = RUNNING ]
  c task kill -s KILL oom2
  wait_task oom2 STOPPED
  remove oom2
  # the same in a VM: the guest's OOM killer ends an exec's child while the
  # container lives on; the shim reads the guest's count (every second)
  cd_ run -d --runtime io.containerd.runhv.v1 "${HV[@]}" --memory-limit 33554432 $IMAGE oom4 sleep 1000
  # (tail's buffer grows line by line: the small guest cannot refuse one
  # 128 MiB malloc the way it would dd's, so the cgroup's killer acts)
  run c task exec --exec-id x1 oom4 sh -c 'tail /dev/zero; echo survived'
  [ "$status" -eq 0 ] || fail "exec in the VM: $output"
  [[ "$output" == *survived* ]] || fail "$output"
  wait_for 50 grep -q '/tasks/oom {"container_id":"oom4"}' "$CTD_DIR/events.log" || fail "no /tasks/oom for the VM's OOM"
  [ "$(task_status oom4)" = RUNNING ]
  c task kill -s KILL oom4
  wait_task oom4 STOPPED
  remove oom4
  # an ordinary SIGKILL is not an OOM
  cd_ run -d --runtime io.containerd.runhv.v1 $IMAGE oom3 sleep 1000
  c task kill -s KILL oom3
  wait_task oom3 STOPPED
  remove oom3
  sleep 0.5
  kill $watcher
  local e
  for e in oom1; do
    grep -q "/tasks/oom {\"container_id\":\"$e\"}" "$CTD_DIR/events.log" || fail "no /tasks/oom for $e"
    # before its exit
    [ "$(grep -n -e "/tasks/oom {\"container_id\":\"$e\"" "$CTD_DIR/events.log" | cut -d: -f1)" -lt \
      "$(grep -n -e "/tasks/exit {\"container_id\":\"$e\"" "$CTD_DIR/events.log" | head -1 | cut -d: -f1)" ]
  done
  if grep -q '/tasks/oom {"container_id":"oom3"}' "$CTD_DIR/events.log"; then fail "a plain SIGKILL was reported as an OOM"; fi
  assert_gone oom1
  assert_gone oom2
  assert_gone oom3
  assert_gone oom4
}

@test "without TTRPC_ADDRESS the events go through containerd's publish binary" {
  # another runtime name for the same shim, started without TTRPC_ADDRESS
  printf '#!/bin/sh\nunset TTRPC_ADDRESS\nexec "%s" "$@"\n' "$RUNHV_SHIM" > "$CTD_DIR/bin/containerd-shim-runhvpub-v1"
  chmod +x "$CTD_DIR/bin/containerd-shim-runhvpub-v1"
  c events > "$CTD_DIR/events-pub.log" 2>&1 &
  local watcher=$!
  sleep 0.3
  run c run --rm --runtime io.containerd.runhvpub.v1 $IMAGE pb1 sh -c 'exit 6'
  [ "$status" -eq 6 ]
  sleep 0.5
  kill $watcher
  local t
  for t in create start exit delete; do
    grep -q "/tasks/$t {\"container_id\":\"pb1\"" "$CTD_DIR/events-pub.log" || fail "no /tasks/$t for pb1"
  done
  grep -q "task events go through .*containerd publish" "$CTD_DIR/log"
  assert_gone pb1
}

@test "terminals: ctr run -t in both isolations, sized by ResizePty" {
  # ctr sends its terminal's size with ResizePty: the container's terminal
  # must take it (script's pty is set to 37x91 first)
  run script -qec "stty rows 37 cols 91; ctr --address '$CTD_DIR/containerd.sock' run -t --rm --runtime io.containerd.runhv.v1 $IMAGE tt1 sh -c 'tty; sleep 0.5; stty size; exit 3'" /dev/null
  [ "$status" -eq 3 ]
  [[ "$output" == *"/dev/pts/"* ]]
  [[ "$output" == *"37 91"* ]]
  run script -qec "stty rows 37 cols 91; ctr --address '$CTD_DIR/containerd.sock' run -t --rm --runtime io.containerd.runhv.v1 ${HV[*]} $IMAGE tt2 sh -c 'tty; sleep 0.5; stty size; echo in-vm; exit 4'" /dev/null
  [ "$status" -eq 4 ]
  [[ "$output" == *"/dev/"* ]]
  [[ "$output" == *"37 91"* ]]
  [[ "$output" == *in-vm* ]]
  assert_gone tt1
  assert_gone tt2
}

@test "fault: the VMM is killed; the task exits with 255 and nothing is left" {
  cd_ run -d --runtime io.containerd.runhv.v1 "${HV[@]}" $IMAGE fv1 sleep 1000
  local vmm
  vmm=$(pgrep -f "runhv-uvm-fv1[, ]")
  [ -n "$vmm" ]
  kill -KILL $vmm
  wait_task fv1 STOPPED
  run c task ls
  [[ "$output" == *fv1*STOPPED* ]]
  run c task rm fv1
  [ "$status" -eq 0 ]
  [[ "$output" == *"exit code 255"* ]]
  c containers rm fv1
  assert_gone fv1
}

@test "fault: the shim is killed; containerd's cleanup (shim delete) removes the container and its VM" {
  cd_ run -d --runtime io.containerd.runhv.v1 "${HV[@]}" $IMAGE fs1 sleep 1000
  local shim
  # the shim alone: its VM supervisor is a fork with the same command line
  shim=$(pgrep -f "containerd-shim-runhv-v1.* -id fs1( |$)" | xargs -r ps -o pid=,comm= -p | awk '$2 == "runhv-shim" { print $1 }')
  [ "$(echo "$shim" | wc -w)" -eq 1 ]
  pgrep -f "runhv-uvm-fs1[, ]" >/dev/null
  kill -KILL $shim
  # containerd sees the shim go, runs `shim delete` and marks the task gone
  wait_for 300 bash -c "! ctr --address '$CTD_DIR/containerd.sock' task ls | grep -q '^fs1 .*RUNNING'"
  wait_for 300 bash -c "[ ! -e $SHIM_ROOT/fs1 ]"
  wait_for 300 bash -c "! pgrep -f 'runhv-uvm-fs1[, ]'"
  # and last unmounts the rootfs containerd gave the shim
  wait_for 100 bash -c "! grep -q '/fs1/rootfs ' /proc/self/mountinfo"
  remove fs1
  assert_gone fs1
}

@test "fault: containerd restarts; the running task is found again and its exit still reported" {
  cd_ run -d --runtime io.containerd.runhv.v1 "${HV[@]}" $IMAGE fr1 sleep 1000
  kill -KILL "$(cat "$CTD_DIR/pid")"
  sleep 0.5
  ctd_start
  wait_task fr1 RUNNING
  run c task exec --exec-id after fr1 echo still-here
  [ "$status" -eq 0 ]
  [ "$output" = still-here ]
  c task kill -s KILL fr1
  wait_task fr1 STOPPED
  c task rm fr1
  c containers rm fr1
  assert_gone fr1
}

@test "bad input: an unknown isolation value fails with one line naming the annotation; nothing left" {
  run c run --rm --runtime io.containerd.runhv.v1 --annotation io.runhv.isolation=sandbox $IMAGE bi1 true
  [ "$status" -ne 0 ]
  [[ "$output" == *io.runhv.isolation* ]]
  [[ "$output" == *sandbox* ]]
  remove bi1
  assert_gone bi1
  [ -z "$(ls $SHIM_ROOT | grep -x bi1)" ]
}

@test "bad input: a ConfigPath that does not exist names the path and the fix" {
  run c run --rm --runtime io.containerd.runhv.v1 --runtime-config-path /nonexistent/runhv.toml $IMAGE bi2 true
  [ "$status" -ne 0 ]
  [[ "$output" == *"/nonexistent/runhv.toml"* ]]
  [[ "$output" == *ConfigPath* ]]
  remove bi2
  assert_gone bi2
}

@test "the shim's own commands: -v, -help, an unknown flag, serve without containerd" {
  run "$RUNHV_SHIM" -v
  [ "$status" -eq 0 ]
  [[ "$output" == *Version* ]]
  run "$RUNHV_SHIM" -bogus
  [ "$status" -eq 2 ]
  [[ "$output" == *"-bogus"* ]]
  run "$RUNHV_SHIM" -namespace x
  [ "$status" -eq 2 ]
  [[ "$output" == *"containerd runs this shim"* ]]
  # delete of a task that never existed is a no-op with a DeleteResponse
  run bash -c "cd /tmp && '$RUNHV_SHIM' -namespace default -address /x -id nosuch -bundle /tmp/nosuch delete | od -An -tx1 | head -1"
  [ "$status" -eq 0 ]
  [ -n "$output" ]
}

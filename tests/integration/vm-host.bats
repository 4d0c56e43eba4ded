#!/usr/bin/env bats
# The VM's host side as a hostile or unlucky user meets it (issue 8):
# many clients, a supervisor that stops answering, a supervisor killed
# outright.  Real VMs under TCG.

load helpers

setup() {
  setup_bundle
  [[ -f "$GUEST_DIR/initramfs.cpio" ]] || fail "no guest artifacts in $GUEST_DIR: run scripts/provision-guest.sh"
}
teardown() { teardown_bundle; }

assert_no_vm_leaks() {
  local id=$1
  ! pgrep -f "runhv-uvm-$id[, ]" >/dev/null || fail "a VMM of $id is still running"
  [[ ! -e "$ROOT/$id" ]] || fail "state directory $ROOT/$id left behind"
  [[ ! -e "$ROOT/vm-logs/$id.console.log" ]] || fail "console log of $id left behind"
  ! grep -q "$ROOT/$id" /proc/self/mountinfo || fail "a mount of $id left behind"
  assert_no_leaks "$id"
}

# The VM supervisor of container $1: the VMM's parent, named runhv-vmsup.
supervisor_of() {
  local vmm ppid
  vmm=$(rh state "$1" | jq -r .pid)
  ppid=$(ps -o ppid= -p "$vmm" | tr -d ' ')
  [[ "$(cat /proc/"$ppid"/comm)" == runhv-vmsup ]] || fail "the VMM's parent $ppid is $(cat /proc/"$ppid"/comm), not the supervisor"
  echo "$ppid"
}

@test "100 exec --detach into one VM: it stays running, every process runs, plain delete refuses" {
  rhd run --detach --isolation=hypervisor --bundle "$BUNDLE" many
  for i in $(seq 1 100); do
    rhd exec --detach many sleep 1000 || fail "exec --detach #$i failed"
  done
  [ "$(status_of many)" = running ]
  [ "$(rh state many | jq -r .pid)" -gt 0 ]
  # the container's own sleep and the 100 exec'd ones, seen in the guest
  run rh exec many sh -c 'ps | grep -c "[s]leep 1000"'
  [ "$status" -eq 0 ]
  [ "$output" -eq 101 ]
  run rh delete many
  [ "$status" -ne 0 ]
  [[ "$output" == *"is running: stop it first or use \`delete --force\`"* ]]
  [ "$(status_of many)" = running ]
  rh delete --force many
  assert_no_vm_leaks many
}

@test "a supervisor that does not answer: state is an error, not stopped; delete refuses; delete -f cleans" {
  rhd run --detach --isolation=hypervisor --bundle "$BUNDLE" stuck
  sup=$(supervisor_of stuck)
  kill -STOP "$sup"
  run rh state stuck
  [ "$status" -ne 0 ]
  [[ "$output" == *"its VM supervisor (pid $sup) is alive but does not answer"*"runhv delete --force stuck"* ]]
  [[ "$output" != *stopped* ]]
  run rh delete stuck
  [ "$status" -ne 0 ]
  kill -0 "$sup"
  run rh delete --force stuck
  [ "$status" -eq 0 ]
  ! kill -0 "$sup" 2>/dev/null
  assert_no_vm_leaks stuck
}

@test "a SIGKILLed supervisor: the VM goes, an exit record and a vm-stopped event remain, delete cleans" {
  rhd run --detach --isolation=hypervisor --bundle "$BUNDLE" killed
  vmm=$(rh state killed | jq -r .pid)
  sup=$(supervisor_of killed)
  kill -KILL "$sup"
  wait_for 100 bash -c "! kill -0 $vmm 2>/dev/null" || fail "the VMM outlived its supervisor"
  [ "$(status_of killed)" = stopped ]
  jq -e '.status == 255 and .reason == "supervisor-killed"' "$ROOT/killed/exit.json"
  run rh state killed
  echo "$output" | jq -e '.exitStatus == 255'
  [ "$(rh diag events | grep '"id":"killed"' | grep -c vm-stopped)" -eq 1 ]
  [ "$(rh diag events | grep '"id":"killed"' | grep -c container-exited)" -eq 1 ]
  rh delete killed
  assert_no_vm_leaks killed
}

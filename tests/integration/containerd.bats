#!/usr/bin/env bats
# containerd from Debian, started privately by the test with its own root,
# state and socket, runs containers through its runc v2 shim with runhv as
# the runtime binary (ctr run --runc-binary).

load helpers

source "$RUNHV_SOURCE_DIR/tests/lib/containerd-ctr.sh"

setup_file() {
  ctd_setup
}

teardown_file() {
  ctd_teardown containerd
}

IMAGE=localhost/runhv-test/busybox:latest

@test "ctr run with runhv as the runc binary: output and exit status" {
  run c run --rm --runc-binary "$RUNHV" $IMAGE r1 sh -c 'echo hello-from-containerd; exit 5'
  [ "$status" -eq 5 ]
  [ "$output" = hello-from-containerd ]
  # the shim's runtime root holds runhv state while it runs (checked below)
}

@test "the shim really drives runhv: its state is in runhv's format" {
  c run -d --runc-binary "$RUNHV" $IMAGE r2 sleep 1000 >/dev/null
  run "$RUNHV" --root /run/containerd/runc/default state r2
  [ "$status" -eq 0 ]
  echo "$output" | jq -e '.status == "running" and .isolation == "process" and .owner == "containerd"'
  c task kill -s KILL r2
  wait_for 100 bash -c "ctr --address '$CTD_DIR/containerd.sock' task ls | grep -q 'r2.*STOPPED'"
  c task rm r2
  c containers rm r2
  [ ! -e /run/containerd/runc/default/r2 ]
}

@test "stdin, exec, pause/resume, ps, metrics and kill through the task API" {
  c run -d --runc-binary "$RUNHV" $IMAGE r3 sleep 1000 >/dev/null
  run bash -c "echo piped | ctr --address '$CTD_DIR/containerd.sock' task exec --exec-id e1 r3 sh -c 'read x; echo got \$x'"
  [ "$status" -eq 0 ]
  [ "$output" = "got piped" ]
  run c task exec --exec-id e2 r3 sh -c 'exit 9'
  [ "$status" -eq 9 ]
  c task pause r3
  run c task ls
  [[ "$output" == *r3*PAUSED* ]]
  c task resume r3
  run c task ls
  [[ "$output" == *r3*RUNNING* ]]
  run c task ps r3
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -ge 2 ]
  run c task metrics r3
  [[ "$output" == *memory.usage_in_bytes* ]]
  c task kill -s KILL r3
  wait_for 100 bash -c "ctr --address '$CTD_DIR/containerd.sock' task ls | grep -q 'r3.*STOPPED'"
  c task rm r3
  c containers rm r3
  [ ! -d /sys/fs/cgroup/memory/default/r3 ]
}

@test "ctr run -t gives a terminal" {
  run script -qec "ctr --address '$CTD_DIR/containerd.sock' run --rm -t --runc-binary '$RUNHV' $IMAGE r4 sh -c 'tty; exit 0'" /dev/null
  [ "$status" -eq 0 ]
  [[ "$output" == *"/dev/pts/0"* ]]
}

#!/usr/bin/env bats
# containerd from Debian, started privately by the test with its own root,
# state and socket, runs containers through its runc v2 shim with runhv as
# the runtime binary (ctr run --runc-binary).

load helpers

setup_file() {
  export CTD_DIR=$(mktemp -d /tmp/runhv-containerd.XXXXXX)
  containerd config default > "$CTD_DIR/config.toml"
  sed -i -e "s|^root = .*|root = \"$CTD_DIR/root\"|" -e "s|^state = .*|state = \"$CTD_DIR/state\"|" \
    -e "s|address = \"/run/containerd/containerd.sock\"|address = \"$CTD_DIR/containerd.sock\"|" \
    -e 's|^\(\s*\)disabled_plugins = .*|\1disabled_plugins = ["io.containerd.grpc.v1.cri"]|' \
    "$CTD_DIR/config.toml"
  containerd --config "$CTD_DIR/config.toml" > "$CTD_DIR/log" 2>&1 &
  echo $! > "$CTD_DIR/pid"
  for i in $(seq 100); do
    ctr --address "$CTD_DIR/containerd.sock" version >/dev/null 2>&1 && break
    sleep 0.1
  done
  ctr --address "$CTD_DIR/containerd.sock" images import "$RUNHV_BUILD_DIR/test-assets/busybox.tar" >/dev/null
}

teardown_file() {
  for t in $(c task ls -q 2>/dev/null); do c task kill -s KILL "$t" >/dev/null 2>&1; done
  sleep 0.3
  for t in $(c task ls -q 2>/dev/null); do c task rm -f "$t" >/dev/null 2>&1; done
  for t in $(c containers ls -q 2>/dev/null); do c containers rm "$t" >/dev/null 2>&1; done
  kill "$(cat "$CTD_DIR/pid")" 2>/dev/null
  sleep 0.5
  umount -R "$CTD_DIR/root" 2>/dev/null || true
  rm -rf "$CTD_DIR"
}

c() { ctr --address "$CTD_DIR/containerd.sock" "$@"; }
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

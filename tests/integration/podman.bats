#!/usr/bin/env bats
# Podman from Debian drives runhv as its OCI runtime (podman --runtime).
# Images come from the busybox rootfs the suite built (no registry here).

load helpers

setup_file() {
  export PM_DIR=$(mktemp -d /tmp/runhv-podman.XXXXXX)
  # This host withholds CAP_SYS_RESOURCE, so no runtime (runc included) can
  # raise RLIMIT_NOFILE/NPROC to podman's defaults of 1048576: give podman
  # defaults within the host's limits, as an operator of such a host would.
  mkdir -p "$PM_DIR/conf"
  printf '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\n' > "$PM_DIR/conf/containers.conf"
  export CONTAINERS_CONF="$PM_DIR/conf/containers.conf"
  pm load -i "$RUNHV_BUILD_DIR/test-assets/busybox.tar" >/dev/null
}

teardown_file() {
  pm rm -a -f >/dev/null 2>&1 || true
  pm system reset -f >/dev/null 2>&1 || true
  rm -rf "$PM_DIR"
}

pm() {
  podman --root "$PM_DIR/storage" --runroot "$PM_DIR/run" --runtime "$RUNHV" --cgroup-manager cgroupfs \
    --events-backend file --storage-driver vfs "$@"
}

IMAGE=localhost/runhv-test/busybox:latest

@test "podman run --rm of a plain command" {
  run pm run --rm --network none $IMAGE sh -c 'echo hello from podman; cat /proc/1/cmdline | tr "\0" " "'
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "hello from podman" ]
  # podman really used runhv: the container's state lives in runhv's format
  run pm info --format '{{.Host.OCIRuntime.Path}}'
  [ "$output" = "$RUNHV" ]
}

@test "podman run propagates the exit status" {
  run pm run --rm --network none $IMAGE sh -c 'exit 23'
  [ "$status" -eq 23 ]
}

@test "podman run -t gives the container a terminal" {
  run script -qec "podman --root '$PM_DIR/storage' --runroot '$PM_DIR/run' --runtime '$RUNHV' --cgroup-manager cgroupfs --events-backend file --storage-driver vfs run --rm -t --network none $IMAGE sh -c 'tty; test -t 0 && echo stdin-is-tty'" /dev/null
  [ "$status" -eq 0 ]
  [[ "$output" == *"/dev/pts/0"* ]]
  [[ "$output" == *"stdin-is-tty"* ]]
}

@test "podman run --memory sets the memory cgroup" {
  run pm run --rm --network none --memory 64m $IMAGE cat /sys/fs/cgroup/memory/memory.limit_in_bytes
  [ "$status" -eq 0 ]
  [ "$output" = 67108864 ]
}

@test "podman run --cpus sets the CFS quota" {
  run pm run --rm --network none --cpus 0.5 $IMAGE sh -c 'cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us'
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = 50000 ]
  [ "${lines[1]}" = 100000 ]
}

@test "podman exec runs in the running container" {
  pm run -d --name ex1 --network none $IMAGE sleep 1000
  run pm exec ex1 sh -c 'echo exec-ok; cat /proc/1/cmdline | tr "\0" " "'
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = exec-ok ]
  [[ "${lines[1]}" == "sleep 1000"* ]]
  run pm exec ex1 sh -c 'exit 4'
  [ "$status" -eq 4 ]
  run pm exec -t ex1 tty
  [ "$status" -eq 0 ]
  [[ "$output" == /dev/pts/* ]]
  pm rm -f -t 0 ex1
}

@test "podman stop, start again and rm leave nothing behind" {
  pm run -d --name lc1 --network none $IMAGE sh -c 'trap "exit 0" TERM; while :; do sleep 0.1; done'
  id=$(pm inspect --format '{{.Id}}' lc1)
  pm stop -t 5 lc1
  run pm inspect --format '{{.State.Status}}' lc1
  [ "$output" = exited ]
  pm start lc1
  run pm inspect --format '{{.State.Status}}' lc1
  [ "$output" = running ]
  pm rm -f -t 0 lc1
  for h in memory cpu pids; do
    if ls -d /sys/fs/cgroup/$h/libpod_parent/libpod-$id 2>/dev/null; then return 1; fi
  done
}

@test "podman run --privileged: its device list (file modes with type bits, as runc accepts) works" {
  # podman writes fileMode with the type bits (020666 for /dev/null's
  # kin); runc takes them, so runhv must too
  run pm run --rm --privileged --network none $IMAGE sh -c 'test -c /dev/zero && stat -c "%a %t:%T" /dev/zero; id -u'
  [ "$status" -eq 0 ] || fail "$output"
  [ "${lines[0]}" = "666 1:5" ]
  [ "${lines[1]}" = 0 ]
}

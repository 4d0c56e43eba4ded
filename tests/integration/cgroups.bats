#!/usr/bin/env bats
# cgroup v1 on this host: limits applied at create, changed by update,
# removed at delete, freezer for pause.  (v2 is unit-tested on a fake tree
# and exercised for real inside the utility VM.)

load helpers

setup() { setup_bundle; }
teardown() { teardown_bundle; }

cg() { cat "/sys/fs/cgroup/$1/runhv/$2/$3"; }

@test "memory: limit, reservation and swap" {
  config '.linux.resources.memory = {"limit": 67108864, "reservation": 33554432, "swap": 134217728, "swappiness": 10}'
  rhd create --bundle "$BUNDLE" m1
  [ "$(cg memory m1 memory.limit_in_bytes)" = 67108864 ]
  [ "$(cg memory m1 memory.soft_limit_in_bytes)" = 33554432 ]
  [ "$(cg memory m1 memory.memsw.limit_in_bytes)" = 134217728 ]
  [ "$(cg memory m1 memory.swappiness)" = 10 ]
  # the init is in it
  grep -qx "$(pid_of m1)" /sys/fs/cgroup/memory/runhv/m1/cgroup.procs
}

@test "memory: the limit is enforced (the kernel OOM-kills past it)" {
  config '.linux.resources.memory = {"limit": 33554432, "swap": 33554432} | .process.args = ["sh", "-c", "x=$(head -c 80000000 /dev/zero | tr \"\\0\" a); echo survived"]'
  run rh run --bundle "$BUNDLE" oom1
  [ "$status" -eq 137 ]
  [[ "$output" != *survived* ]]
}

@test "cpu: shares, quota, period, cpus and mems" {
  config '.linux.resources.cpu = {"shares": 512, "quota": 25000, "period": 50000, "cpus": "0", "mems": "0"}'
  rhd create --bundle "$BUNDLE" c1
  [ "$(cg cpu c1 cpu.shares)" = 512 ]
  [ "$(cg cpu c1 cpu.cfs_quota_us)" = 25000 ]
  [ "$(cg cpu c1 cpu.cfs_period_us)" = 50000 ]
  [ "$(cg cpuset c1 cpuset.cpus)" = 0 ]
  [ "$(cg cpuset c1 cpuset.mems)" = 0 ]
}

@test "pids: the limit stops forks" {
  config '.linux.resources.pids = {"limit": 5} | .process.args = ["sh", "-c", "for i in 1 2 3 4 5 6 7 8; do sleep 1 & done 2>&1; wait"]'
  run rh run --keep --bundle "$BUNDLE" p1
  [[ "$output" == *"can't fork"* ]]
  [ "$(cg pids p1 pids.max)" = 5 ]
  rh delete p1
}

@test "cgroups are removed at delete, in every hierarchy" {
  config '.linux.resources.memory = {"limit": 67108864}'
  rhd run --detach --bundle "$BUNDLE" gone
  for h in memory cpu cpuset pids freezer devices blkio; do
    [ -d "/sys/fs/cgroup/$h/runhv/gone" ] || fail "no $h cgroup"
  done
  rh delete --force gone
  for h in memory cpu cpuset pids freezer devices blkio systemd unified; do
    [ ! -d "/sys/fs/cgroup/$h/runhv/gone" ] || fail "$h cgroup left"
  done
  assert_no_leaks gone
}

@test "cgroupsPath: absolute, relative and systemd style" {
  config '.linux.cgroupsPath = "/runhv-test-abs/x1"'
  rhd create --bundle "$BUNDLE" a1
  [ -d /sys/fs/cgroup/memory/runhv-test-abs/x1 ]
  rh delete a1
  [ ! -d /sys/fs/cgroup/memory/runhv-test-abs/x1 ]
  rmdir /sys/fs/cgroup/*/runhv-test-abs 2>/dev/null || true
  config '.linux.cgroupsPath = "machine.slice:runhvtest:s1"'
  "$RUNHV" --root "$ROOT" --systemd-cgroup create --bundle "$BUNDLE" s1 </dev/null >/dev/null 2>&1
  [ -d /sys/fs/cgroup/memory/machine.slice/runhvtest-s1.scope ]
  rh delete s1
  [ ! -d /sys/fs/cgroup/memory/machine.slice/runhvtest-s1.scope ]
  rmdir /sys/fs/cgroup/*/machine.slice 2>/dev/null || true
}

@test "update: lowering memory below usage is a clear error" {
  # tmpfs pages are charged to the container's memory cgroup
  config '.process.args = ["sh", "-c", "dd if=/dev/zero of=/dev/shm/fill bs=1M count=30 2>/dev/null; sleep 1000"]'
  rhd run --detach --bundle "$BUNDLE" busy
  wait_for 100 bash -c "[ \$(cat /sys/fs/cgroup/memory/runhv/busy/memory.usage_in_bytes) -gt 30000000 ]"
  run rh update --memory 8m --memory-swap 8m busy
  [ "$status" -ne 0 ]
  [[ "$output" == *"linux.resources.memory"*"the container already uses more than that"* ]]
  # the old limit stays
  [ "$(cg memory busy memory.limit_in_bytes)" != 8388608 ]
}

# The disk under a path, as MAJ:MIN of the whole disk (blk-throttle's unit).
disk_of() {
  local d
  d=$(stat -c '%Hd:%Ld' "$1")
  if [[ -e /sys/dev/block/$d/partition ]]; then
    d=$(cat "$(dirname "$(readlink -f "/sys/dev/block/$d")")/dev")
  fi
  echo "$d"
}

@test "storage QoS annotations throttle a process-isolated container's rootfs disk (the seed's, io.microsoft.* too)" {
  local disk secs
  disk=$(disk_of "$BUNDLE/rootfs")
  config '.annotations = {"io.microsoft.container.storage.qos.bandwidthmaximum": "1048576", "io.runhv.container.storage.qos.iopsmaximum": "200"}'
  rhd create --bundle "$BUNDLE" q1
  [ "$(cg blkio q1 blkio.throttle.write_bps_device)" = "$disk 1048576" ]
  [ "$(cg blkio q1 blkio.throttle.read_bps_device)" = "$disk 1048576" ]
  [ "$(cg blkio q1 blkio.throttle.write_iops_device)" = "$disk 200" ]
  [ "$(cg blkio q1 blkio.throttle.read_iops_device)" = "$disk 200" ]
  rh delete --force q1
  # and the kernel holds the container to it: 3 MiB of direct writes at
  # 1 MiB/s take over 2 s (busybox's dd prints no timing; unthrottled the
  # whole run takes a fraction of a second here)
  config '.process.args = ["sh", "-c", "dd if=/dev/zero of=/qos.bin bs=64k count=48 oflag=direct && rm /qos.bin"]'
  local t0 t1
  t0=$(date +%s%N)
  run rh run --bundle "$BUNDLE" q2
  t1=$(date +%s%N)
  [ "$status" -eq 0 ] || fail "$output"
  secs=$(( (t1 - t0) / 1000000 ))
  [ "$secs" -gt 2000 ] || fail "3 MiB at 1 MiB/s took $secs ms: $output"
}

@test "storage QoS on a rootfs with no disk under it (tmpfs) is refused, leaving nothing" {
  mkdir "$TEST_DIR/tmpfs"
  mount -t tmpfs -o size=16m tmpfs "$TEST_DIR/tmpfs"
  cp -a "$BUNDLE/rootfs" "$TEST_DIR/tmpfs/rootfs"
  config ".root.path = \"$TEST_DIR/tmpfs/rootfs\" | .annotations = {\"io.runhv.container.storage.qos.bandwidthmaximum\": \"1048576\"}"
  run rh create --bundle "$BUNDLE" q3 </dev/null
  umount "$TEST_DIR/tmpfs"
  [ "$status" -ne 0 ]
  [[ "$output" == *"annotations.io.runhv.container.storage.qos.bandwidthmaximum: the container's rootfs"*"is on no block device"*"remove the annotation or put the rootfs on a disk"* ]] || fail "$output"
  [ ! -e "$ROOT/q3" ]
  [ ! -e /sys/fs/cgroup/blkio/runhv/q3 ]
  [ ! -e /sys/fs/cgroup/memory/runhv/q3 ]
}

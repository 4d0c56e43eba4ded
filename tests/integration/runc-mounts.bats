#!/usr/bin/env bats
# The runc contract for mounts, namespaces, the root filesystem, security
# labels and the console: each behaviour checked on runhv, and where runc
# 1.1 gets it right, on runc with the same bundle.

load helpers

setup() {
  setup_bundle
  RUNC_ROOT="$TEST_DIR/runc-root"
}

teardown() {
  if [[ -d "${RUNC_ROOT:-}" ]]; then
    for d in "$RUNC_ROOT"/*/; do
      [[ -d "$d" ]] && runc --root "$RUNC_ROOT" delete --force "$(basename "$d")" >/dev/null 2>&1
    done
  fi
  [[ -n "${TEST_DIR:-}" ]] && umount -R "$TEST_DIR/src/sub" 2>/dev/null
  if [[ -f "${TEST_DIR:-}/receivers" ]]; then
    while read -r pid; do kill "$pid" 2>/dev/null; done <"$TEST_DIR/receivers"
  fi
  teardown_bundle
}

rc_() {
  runc --root "$RUNC_ROOT" "$@"
}

# A foreground run of the bundle under runc and under runhv; $runc_out and
# $rh_out hold what each printed, $runc_rc and $rh_rc their exit codes.
both() {
  runc_out=$(rc_ run --bundle "$BUNDLE" "c$RANDOM" </dev/null 2>&1) && runc_rc=0 || runc_rc=$?
  rh_out=$(rh run --bundle "$BUNDLE" "h$RANDOM" </dev/null 2>&1) && rh_rc=0 || rh_rc=$?
  echo "runc ($runc_rc): $runc_out"
  echo "runhv ($rh_rc): $rh_out"
}

cgroup_v2() {
  [[ "$(stat -fc %T /sys/fs/cgroup)" == cgroup2fs ]]
}

@test "spec lists a cgroup namespace only on a cgroup v2 host, as runc spec" {
  mkdir "$TEST_DIR/r" "$TEST_DIR/h"
  (cd "$TEST_DIR/r" && runc spec)
  (cd "$TEST_DIR/h" && "$RUNHV" spec)
  runc_ns=$(jq -c '[.linux.namespaces[].type] | sort' "$TEST_DIR/r/config.json")
  rh_ns=$(jq -c '[.linux.namespaces[].type] | sort' "$TEST_DIR/h/config.json")
  echo "runc $runc_ns runhv $rh_ns"
  [ "$runc_ns" = "$rh_ns" ]
  if cgroup_v2; then
    [[ "$rh_ns" == *'"cgroup"'* ]]
  else
    [[ "$rh_ns" != *'"cgroup"'* ]]
    # a caller that adds its own (as podman or containerd do) is accepted
    config '.linux.namespaces += [{"type": "cgroup"}] | .process.args = ["true"]'
    run rh run --bundle "$BUNDLE" cgns1
    echo "$output"
    [ "$status" -eq 0 ]
  fi
}

@test "root.path that is the host's / is refused before anything is created" {
  config '.root.path = "/"'
  run rh create --bundle "$BUNDLE" root1
  echo "$output"
  [ "$status" -ne 0 ]
  [[ "$output" == *"root.path: \`/\` is the host's /"* ]]
  [[ "$output" == *"point root.path at"* ]]
  [ "${#lines[@]}" -eq 1 ]
  [ ! -e "$ROOT/root1" ]
  # through a symlink in the bundle too
  ln -s / "$BUNDLE/hostroot"
  config '.root.path = "hostroot"'
  run rh create --bundle "$BUNDLE" root2
  [ "$status" -ne 0 ]
  [[ "$output" == *"is the host's /"* ]]
  [ ! -e "$ROOT/root2" ]
  # runc refuses it too (late, at pivot_root)
  config '.mounts |= map(select(.type != "cgroup"))'
  run rc_ run --bundle "$BUNDLE" root3
  [ "$status" -ne 0 ]
}

# No mount namespace: the container shares the runtime's and is chrooted.
no_mount_ns() {
  config '.linux.namespaces |= map(select(.type != "mount")) | .mounts = [] | del(.linux.maskedPaths, .linux.readonlyPaths)'
}

@test "without a mount namespace the container shares the runtime's and is chrooted, as runc" {
  no_mount_ns
  config '.process.args = ["sh", "-c", "test ! -e /work && test -x /bin/busybox && echo chrooted"]'
  rh_out=$(rh run --bundle "$BUNDLE" nomnt-h </dev/null 2>&1)
  # runc needs /proc in the container and mounts it in the namespace it
  # runs in (where it outlives the container): give it a private one
  config '.mounts = [{"destination": "/proc", "type": "proc", "source": "proc"}]'
  runc_out=$(unshare -m runc --root "$RUNC_ROOT" run --bundle "$BUNDLE" nomnt-c </dev/null 2>&1)
  config '.mounts = []'
  echo "runc: $runc_out / runhv: $rh_out"
  [ "$runc_out" = chrooted ]
  [ "$rh_out" = chrooted ]
  # runhv's own namespace, with nothing mounted in it for the container
  config '.process.args = ["sleep", "1000"]'
  before=$(grep -c . /proc/self/mountinfo)
  rhd create --bundle "$BUNDLE" nomnt1
  pid=$(pid_of nomnt1)
  [ "$(readlink /proc/$pid/ns/mnt)" = "$(readlink /proc/self/ns/mnt)" ]
  [ "$(readlink /proc/$pid/root)" = "$BUNDLE/rootfs" ]
  if grep -q " $BUNDLE/rootfs" /proc/self/mountinfo; then return 1; fi
  # exec lands in the same chroot
  run rh exec nomnt1 sh -c 'test ! -e /work && echo exec-chrooted'
  echo "$output"
  [ "$output" = exec-chrooted ]
  rh delete --force nomnt1
  assert_no_leaks nomnt1
}

@test "without a mount namespace, masking and mounts are refused (runc refuses masking too)" {
  no_mount_ns
  config '.linux.maskedPaths = ["/proc/kcore"]'
  both
  [ "$runc_rc" -ne 0 ]
  [[ "$runc_out" == *"without a private MNT namespace"* ]]
  [ "$rh_rc" -ne 0 ]
  [[ "$rh_out" == *"linux.maskedPaths: masking paths needs a private mount namespace (add {\"type\": \"mount\"}"* ]]
  config 'del(.linux.maskedPaths) | .mounts = [{"destination": "/proc", "type": "proc", "source": "proc"}]'
  run rh run --bundle "$BUNDLE" nomnt2
  echo "$output"
  [ "$status" -ne 0 ]
  [[ "$output" == *"mounts: without a mount namespace they would be made in the host's"* ]]
  [ ! -e "$ROOT/nomnt2" ]
}

@test "a read-only /dev is made read-only after devices, pts and links, as runc" {
  config '(.mounts[] | select(.destination == "/dev") | .options) += ["ro"]'
  config '(.mounts[] | select(.destination == "/dev/shm") | .options) += ["ro"]'
  config '.mounts |= map(select(.type != "cgroup"))'
  config '.process.args = ["sh", "-c", "test -c /dev/null && test -L /dev/ptmx && test -d /dev/pts/ && echo made; touch /dev/x /dev/shm/x 2>&1; awk '\''$2 ~ /^\\/dev(\\/shm)?$/ {print $2, $4}'\'' /proc/mounts"]'
  both
  [ "$runc_rc" -eq 0 ]
  [ "$rh_rc" -eq 0 ]
  [[ "$rh_out" == made* ]]
  [[ "$rh_out" == *"/dev ro,"* ]]
  [[ "$rh_out" == *"/dev/shm ro,"* ]]
  [[ "$rh_out" == *"touch: /dev/x: Read-only file system"* ]]
  [ "$rh_out" = "$runc_out" ]
}

@test "rro and the other recursive options reach submounts, as runc; features lists them" {
  mkdir -p "$TEST_DIR/src/sub"
  mount -t tmpfs tmpfs "$TEST_DIR/src/sub"
  config '.mounts += [{"destination": "/data", "type": "bind", "source": "'"$TEST_DIR/src"'", "options": ["rbind", "rro", "rnosuid", "rnodev", "rnoexec", "rnoatime"]}]'
  config '.mounts |= map(select(.type != "cgroup"))'
  config '.process.args = ["sh", "-c", "touch /data/x /data/sub/x 2>&1; awk '\''$2 ~ /^\\/data/ {print $2, $4}'\'' /proc/mounts"]'
  both
  [ "$rh_rc" -eq 0 ]
  [[ "$rh_out" == *"touch: /data/x: Read-only file system"* ]]
  [[ "$rh_out" == *"touch: /data/sub/x: Read-only file system"* ]]
  [[ "$rh_out" == *"/data/sub ro,nosuid,nodev,noexec,noatime"* ]]
  [ "$rh_out" = "$runc_out" ]
  # rrw undoes rro; runc 1.1 ignores these on anything but a bind mount,
  # runhv applies them (here: a tmpfs)
  config '.mounts[-1].options = ["rbind", "rro", "rrw"] | .mounts += [{"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["rro"]}]'
  config '.process.args = ["sh", "-c", "touch /data/sub/y && echo rw; touch /scratch/x 2>&1; true"]'
  run rh run --bundle "$BUNDLE" rec2
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == rw*"touch: /scratch/x: Read-only file system" ]]
  run rh features
  for o in rro rrw rnosuid rsuid rnodev rdev rnoexec rexec rnodiratime rdiratime rrelatime rnorelatime rnoatime ratime rstrictatime rnostrictatime rnosymfollow rsymfollow; do
    jq -e --arg o "$o" '.mountOptions | index($o)' <<<"$output" >/dev/null || fail "features does not list $o"
  done
  # and what features lists is what the parser accepts, sorted
  jq -e '.mountOptions == (.mountOptions | sort)' <<<"$output" >/dev/null
}

# This host has neither AppArmor nor SELinux: a label must be refused, not
# ignored (a container would run unconfined while its caller believes not).
@test "apparmorProfile, selinuxLabel and mountLabel are refused on a host without the LSM (runc refuses the first two)" {
  [ ! -e /sys/kernel/security/apparmor ] || fail "this host has AppArmor: the refusal cannot be tested here"
  [ ! -d /sys/fs/selinux ] || [ -z "$(ls /sys/fs/selinux)" ] || fail "this host has SELinux"
  config '.mounts |= map(select(.type != "cgroup")) | .process.args = ["true"]'
  config '.process.apparmorProfile = "runhv-test"'
  both
  [ "$runc_rc" -ne 0 ]
  [[ "$runc_out" == *"apparmor"* ]]
  [ "$rh_rc" -ne 0 ]
  [[ "$rh_out" == "runhv: create container "*": process.apparmorProfile: \`runhv-test\` cannot be applied, this kernel has no AppArmor (remove apparmorProfile, or run on a host with AppArmor enabled; in a VM, on a guest kernel with it: \`[vm] kernel\` = the generic one)" ]]
  config 'del(.process.apparmorProfile) | .process.selinuxLabel = "system_u:system_r:container_t:s0"'
  both
  [ "$runc_rc" -ne 0 ]
  [[ "$runc_out" == *"selinux label is specified in config, but selinux is disabled"* ]]
  [ "$rh_rc" -ne 0 ]
  [[ "$rh_out" == "runhv: create container "*": process.selinuxLabel: "*"this host has no SELinux (remove selinuxLabel, or run on a host with SELinux enabled)" ]]
  # runc drops a mount label silently where SELinux is off
  config 'del(.process.selinuxLabel) | .linux.mountLabel = "system_u:object_r:container_file_t:s0"'
  run rh create --bundle "$BUNDLE" label3
  echo "$output"
  [ "$status" -ne 0 ]
  [[ "$output" == *"linux.mountLabel: "*"this host has no SELinux (remove mountLabel"* ]]
  [ "${#lines[@]}" -eq 1 ]
  [ ! -e "$ROOT/label3" ]
  # exec's --apparmor and --process-label are refused the same way
  config 'del(.linux.mountLabel) | .process.args = ["sleep", "1000"]'
  rhd run --detach --bundle "$BUNDLE" label4
  run rh exec --apparmor runhv-test label4 true
  [ "$status" -ne 0 ]
  [[ "$output" == *"process.apparmorProfile: \`runhv-test\` cannot be applied"* ]]
  run rh exec --process-label system_u:system_r:container_t:s0 label4 true
  [ "$status" -ne 0 ]
  [[ "$output" == *"process.selinuxLabel: "*"cannot be applied"* ]]
  run rh exec label4 true
  [ "$status" -eq 0 ]
}

# The console socket receiver's transcript of container $1 under runtime $2.
console_owner() {
  local name=$1 sock="$TEST_DIR/$1.sock" out="$TEST_DIR/$1.out"
  shift
  /usr/bin/python3 "$RUNHV_SOURCE_DIR/tests/lib/console-socket.py" "$sock" "$out" </dev/null >/dev/null 2>&1 &
  echo $! >>"$TEST_DIR/receivers"
  wait_for 50 test -S "$sock" || fail "no console socket"
  "$@" run --detach --bundle "$BUNDLE" --console-socket "$sock" "$name" </dev/null >/dev/null 2>&1 || fail "$name did not start"
  wait_for 100 grep -q "owner=" "$out" || fail "$name: $(cat "$out")"
  grep -o "owner=[0-9:]*" "$out"
}

@test "the console pty belongs to process.user, as runc" {
  config '.mounts |= map(select(.type != "cgroup"))'
  config '.process.terminal = true | .process.user = {"uid": 1000, "gid": 1000} | .process.args = ["sh", "-c", "echo owner=$(stat -c %u:%g $(tty)); sleep 1000"]'
  runc_owner=$(console_owner cons-c rc_)
  rh_owner=$(console_owner cons-h rh)
  echo "runc $runc_owner runhv $rh_owner"
  [ "$rh_owner" = "owner=1000:5" ]
  [ "$rh_owner" = "$runc_owner" ]
  # an exec'd process's stdio belongs to its user too
  run rh exec --user 1001:1001 cons-h sh -c 'stat -L -c %u /proc/self/fd/1 </dev/null'
  echo "$output"
  [ "$output" = 1001 ]
}

@test "in a user namespace a bind source only the host's root can reach is mounted, as runc" {
  chown -R 100000:100000 "$BUNDLE/rootfs"
  config '.linux.namespaces += [{"type": "user"}] | .linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}] | .linux.gidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]'
  config '.mounts |= map(select(.type != "cgroup"))'
  mkdir -p "$TEST_DIR/private/dir/sub" && echo secret-dir >"$TEST_DIR/private/dir/sub/f" && echo secret-file >"$TEST_DIR/private/file"
  chmod 700 "$TEST_DIR/private"
  config '.mounts += [{"destination": "/data", "type": "bind", "source": "'"$TEST_DIR/private/dir"'", "options": ["rbind", "ro"]}, {"destination": "/one", "type": "bind", "source": "'"$TEST_DIR/private/file"'", "options": ["bind"]}]'
  config '.process.args = ["sh", "-c", "cat /data/sub/f /one; touch /data/x 2>&1"]'
  both
  [ "$rh_rc" -ne 0 ] # touch fails: read-only
  [ "${rh_out%%$'\n'*}" = secret-dir ]
  [[ "$rh_out" == *secret-file* ]]
  [[ "$rh_out" == *"Read-only file system"* ]]
  [ "$rh_out" = "$runc_out" ]
}

@test "--no-pivot detaches the host's /proc and /sys: a nested user namespace cannot mount procfs, as runc" {
  # a nested user namespace needs CAP_SETFCAP to map its root
  config '.process.capabilities |= with_entries(select(.key != "ambient" and .key != "inheritable") | .value += ["CAP_SETFCAP"])'
  config '.mounts |= map(select(.type != "cgroup"))'
  # the tmpfs shows that the nested namespace can mount at all, so only the
  # visibility rule can refuse the procfs
  config '.process.args = ["sh", "-c", "mkdir -p /tmp/p; unshare -Urmpf sh -c \"mount -t tmpfs t /tmp/p && echo tmpfs-ok; mount -t proc proc /tmp/p 2>&1 && echo ESCAPED\"; echo done"]'
  runc_out=$(rc_ run --no-pivot --bundle "$BUNDLE" np-c </dev/null 2>&1)
  rh_out=$(rh run --no-pivot --bundle "$BUNDLE" np-h </dev/null 2>&1)
  echo "runc: $runc_out"
  echo "runhv: $rh_out"
  [[ "$rh_out" == tmpfs-ok*done ]]
  [[ "$rh_out" != *ESCAPED* ]]
  [ "$rh_out" = "$runc_out" ]
  # and the container itself still has its own /proc and /sys
  config '.process.args = ["sh", "-c", "test -r /proc/self/status && test -d /sys/kernel && echo own"]'
  run rh run --no-pivot --bundle "$BUNDLE" np-h2
  [ "$output" = own ]
}

# With "/" made (r)shared, the mount that holds the rootfs is shared too, and
# pivot_root refuses a new root bound from it (EINVAL): runc makes that one
# mount private first. Every propagation must run, under both, with the same
# propagation on the container's root.
@test "rootfsPropagation shared, rshared, slave and private all run, as under runc" {
  local p
  for p in rshared shared rslave slave rprivate private; do
    config ".linux.rootfsPropagation = \"$p\" | .process.args = [\"awk\", \"\$5 == \\\"/\\\" { print \$7 }\", \"/proc/self/mountinfo\"]"
    both
    [ "$runc_rc" -eq 0 ] || fail "$p: runc: $runc_out"
    [ "$rh_rc" -eq 0 ] || fail "$p: runhv: $rh_out"
    [ "$rh_out" = "$runc_out" ] || fail "$p: runhv's root is '$rh_out', runc's '$runc_out'"
  done
}

# containerd's rootfs is a mount point of its own (the snapshot), shared
# when the host's mounts are: the mount to make private is that one, not
# "/" (runhv read every mount point as "/", so pivot_root failed and the
# container's mounts reached the host through the shared snapshot).
@test "rootfsPropagation with the rootfs a shared mount point of its own runs as under runc, and nothing reaches the host" {
  local p
  mount --bind "$BUNDLE/rootfs" "$BUNDLE/rootfs"
  mount --make-shared "$BUNDLE/rootfs"
  for p in rshared rslave private; do
    config ".linux.rootfsPropagation = \"$p\" | .process.args = [\"awk\", \"\$5 == \\\"/\\\" { print \$7 }\", \"/proc/self/mountinfo\"]"
    both
    [ "$(grep -c " $BUNDLE/rootfs" /proc/self/mountinfo)" -eq 1 ] ||
      { umount -R "$BUNDLE/rootfs"; fail "$p: mounts reached the host"; }
    [ "$runc_rc" -eq 0 ] || { umount "$BUNDLE/rootfs"; fail "$p: runc: $runc_out"; }
    [ "$rh_rc" -eq 0 ] || { umount "$BUNDLE/rootfs"; fail "$p: runhv: $rh_out"; }
    [ "${rh_out//[0-9]/}" = "${runc_out//[0-9]/}" ] || { umount "$BUNDLE/rootfs"; fail "$p: runhv's root is '$rh_out', runc's '$runc_out'"; }
  done
  umount "$BUNDLE/rootfs"
}

# runc works in the bundle directory, so a relative bind source names a path
# in the bundle, wherever the caller stands (runhv bound the caller's cwd:
# from / that was the host's root).
@test "a bind mount's relative source is relative to the bundle, not the caller's cwd" {
  config '.process.args = ["ls", "/mnt"] | .mounts += [{destination: "/mnt", type: "bind", source: ".", options: ["rbind", "ro"]}]'
  cd /
  both
  [ "$runc_rc" -eq 0 ] || fail "runc: $runc_out"
  [ "$rh_rc" -eq 0 ] || fail "runhv: $rh_out"
  [ "$rh_out" = "$runc_out" ] || fail "runhv lists '$rh_out', runc '$runc_out'"
  [[ "$rh_out" == *config.json* ]] || fail "$rh_out"
}

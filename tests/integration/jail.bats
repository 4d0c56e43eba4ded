#!/usr/bin/env bats
# The VMM's jail (src/lib/uvm/jail.c, docs/hypervisor.md (Security model)), read from the host side
# of real VMs under TCG: QEMU's ids, capabilities, namespaces, root, cgroup;
# the escape probe run through the same jail; 9p ownership and what guest
# root cannot leave on the host; nothing left after delete.

load helpers

CG_PARENT=runhv-jail-test

setup() {
  setup_bundle
  [[ -f "$GUEST_DIR/initramfs.cpio" ]] || fail "no guest artifacts in $GUEST_DIR: run scripts/provision-guest.sh"
  [[ -x "${RUNHV_JAIL_PROBE:-}" ]] || fail "RUNHV_JAIL_PROBE (tests/lib/jail-probe.c) is not built"
  # guest root may change owners and modes (the default spec keeps only 3 caps)
  config '.process.capabilities = ({} | .bounding = ["CAP_CHOWN","CAP_DAC_OVERRIDE","CAP_FOWNER","CAP_FSETID",
    "CAP_MKNOD","CAP_SETUID","CAP_SETGID","CAP_KILL"] | .effective = .bounding | .permitted = .bounding)'
}

teardown() {
  [[ -n "${LISTENER:-}" ]] && kill "$LISTENER" 2>/dev/null
  teardown_bundle
  [[ -n "${BUNDLE2:-}" ]] && rm -rf "$BUNDLE2"
  local d
  for d in /sys/fs/cgroup/*/"$CG_PARENT"; do
    [[ -d "$d" ]] && rmdir "$d" 2>/dev/null
  done
  return 0
}

qemu_of() {
  pgrep -f "runhv-uvm-$1," | head -1
}

# Every hierarchy's directory of the VM's cgroup.
vm_cgroups() {
  ls -d /sys/fs/cgroup/*/"$1"/runhv-vm-"$2" 2>/dev/null
}

no_vm_cgroup() {
  [[ -z "$(vm_cgroups "$1" "$2")" ]]
}

@test "QEMU runs as root of its own user namespace on an unprivileged range, no host capabilities, new namespaces" {
  rhd run -d --isolation=hypervisor --bundle "$BUNDLE" jq1
  local q
  q=$(qemu_of jq1)
  [ -n "$q" ]
  # ids: in-namespace root is host uid/gid >= 2^30, 65536 ids wide
  local uid gid
  uid=$(awk '/^Uid:/ { print $2 }' /proc/$q/status)
  gid=$(awk '/^Gid:/ { print $2 }' /proc/$q/status)
  [ "$uid" -ge 1073741824 ]
  [ "$gid" -ge 1073741824 ]
  read -r inside outside count < /proc/$q/uid_map
  [ "$inside" = 0 ]
  [ "$outside" = "$uid" ]
  [ "$count" = 65536 ]
  read -r inside outside count < /proc/$q/gid_map
  [ "$inside" = 0 ]
  [ "$outside" = "$gid" ]
  [ "$count" = 65536 ]
  [ "$(cat /proc/$q/setgroups)" = deny ]
  # capabilities: only chown, dac_override, dac_read_search, fowner, and
  # those only over its user namespace
  grep -qx $'CapBnd:\t000000000000000f' /proc/$q/status
  grep -qx $'CapEff:\t000000000000000f' /proc/$q/status
  grep -qx $'CapAmb:\t0000000000000000' /proc/$q/status
  grep -qx $'NoNewPrivs:\t1' /proc/$q/status
  grep -qx $'Seccomp:\t2' /proc/$q/status
  # the jail's filter and QEMU's own -sandbox
  [ "$(awk '/^Seccomp_filters:/ { print $2 }' /proc/$q/status)" -ge 2 ]
  # every namespace is its own
  local ns
  for ns in user pid ipc uts mnt net cgroup; do
    [ "$(readlink /proc/$q/ns/$ns)" != "$(readlink /proc/self/ns/$ns)" ] || fail "QEMU shares the host's $ns namespace"
  done
  # the network namespace holds a loopback only
  run nsenter -t "$q" -n ip -o link
  [ "${#lines[@]}" -eq 1 ]
  [[ "${lines[0]}" == *": lo:"* ]]
  # the root: kernel, initramfs, the shared tree, /usr read-only, 2 devices
  local root=/proc/$q/root
  [ -f "$root/kernel" ]
  [ -f "$root/initrd" ]
  [ -x "$root/vmm" ]
  [ -d "$root/shared/jq1/rootfs/bin" ]
  [ ! -e "$root/etc/shadow" ]
  [ ! -e "$root/etc/passwd" ]
  [ ! -e "$root/home" ]
  [ ! -e "$root/root" ]
  [ ! -e "$root/run" ]
  [ ! -e "$root/var" ]
  [ ! -e "$root/tmp" ]
  [ ! -e "$root/sys" ]
  [ "$(ls "$root/dev" | tr '\n' ' ')" = "null urandom " ]
  [ "$(ls "$root/proc/1/root/shared")" = jq1 ]
  # its view of the shared tree is idmapped, nosuid, nodev; the root is ro
  grep -E ' /shared [^ ]*nosuid,nodev[^ ]*,idmapped' /proc/$q/mountinfo
  grep -E '^[0-9]+ [0-9]+ [^ ]+ / / ro,' /proc/$q/mountinfo
  # the VM's cgroup, named after it: QEMU alone in `vmm` with memory and
  # pids limits, the supervisor and a stand-in (exec --detach) in
  # `supervisor`
  grep -qx "[0-9]*:memory:/runhv/runhv-vm-jq1/vmm" /proc/$q/cgroup || fail "$(cat /proc/$q/cgroup)"
  grep -qx "[0-9]*:pids:/runhv/runhv-vm-jq1/vmm" /proc/$q/cgroup
  local mem_mb sup standin
  mem_mb=$(sed -n 's/.*-m \([0-9]*\)M.*/\1/p' <(tr '\0' ' ' < /proc/$q/cmdline))
  [ "$(cat /sys/fs/cgroup/memory/runhv/runhv-vm-jq1/vmm/memory.limit_in_bytes)" -eq $(((mem_mb + 384) * 1024 * 1024)) ]
  [ "$(cat /sys/fs/cgroup/pids/runhv/runhv-vm-jq1/vmm/pids.max)" = 512 ]
  [ "$(cat /sys/fs/cgroup/pids/runhv/runhv-vm-jq1/vmm/cgroup.procs)" = "$q" ]
  sup=$(rh state jq1 | jq -r .pid)
  grep -qx "[0-9]*:memory:/runhv/runhv-vm-jq1/supervisor" /proc/$sup/cgroup || fail "supervisor: $(cat /proc/$sup/cgroup)"
  rhd exec -d --pid-file "$TEST_DIR/standin.pid" jq1 sleep 100
  standin=$(cat "$TEST_DIR/standin.pid")
  grep -qx "[0-9]*:memory:/runhv/runhv-vm-jq1/supervisor" /proc/$standin/cgroup || fail "stand-in: $(cat /proc/$standin/cgroup)"
  grep -qx "[0-9]*:pids:/runhv/runhv-vm-jq1/supervisor" /proc/$standin/cgroup
  # gone with the VM: no cgroup, no mount, no jail directory
  rh delete -f jq1
  wait_for 100 no_vm_cgroup runhv jq1 || fail "cgroup left: $(vm_cgroups runhv jq1)"
  [[ ! -e "$ROOT/jq1" ]]
  if grep -q "$ROOT/jq1" /proc/self/mountinfo; then fail "mount left"; fi
  if pgrep -f "runhv-uvm-jq1," >/dev/null; then fail "QEMU left"; fi
}

@test "the VM's cgroup goes under the container's cgroupsPath parent, and goes when QEMU is killed" {
  config ".linux.cgroupsPath = \"/$CG_PARENT/ctr\""
  rhd run -d --isolation=hypervisor --bundle "$BUNDLE" jq2
  local q
  q=$(qemu_of jq2)
  [ -n "$q" ]
  grep -qx "[0-9]*:memory:/$CG_PARENT/runhv-vm-jq2/vmm" /proc/$q/cgroup
  [ -d "/sys/fs/cgroup/pids/$CG_PARENT/runhv-vm-jq2" ]
  kill -9 "$q"
  wait_for 100 no_vm_cgroup "$CG_PARENT" jq2 || fail "cgroup left: $(vm_cgroups "$CG_PARENT" jq2)"
  wait_status() { [ "$(rh state jq2 | jq -r .status)" = stopped ]; }
  wait_for 100 wait_status
  rh delete -f jq2
  [[ ! -e "$ROOT/jq2" ]]
}

@test "guest root's chown shows in the guest; setuid, setgid and device nodes leave nothing live on the host" {
  config '.process.args = ["sleep", "1000"]'
  rhd run -d --isolation=hypervisor --bundle "$BUNDLE" jq3
  [ -z "$(find "$BUNDLE/rootfs" -xdev -perm /6000 -o -xdev \( -type c -o -type b \) -print)" ]
  run rh exec jq3 sh -c 'echo x > /own; chown 1234:1234 /own && ls -n /own;
    mkdir /owndir && chown 77:88 /owndir && ls -nd /owndir;
    echo more >> /etc/hostname && echo write-root-owned-ok; touch /bin/busybox && echo touch-ok'
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == *" 1234 "*" 1234 "*/own ]]
  [[ "${lines[1]}" == *" 77 "*" 88 "*/owndir ]]
  [ "${lines[2]}" = write-root-owned-ok ]
  [ "${lines[3]}" = touch-ok ]
  # on the host: the guest's ids, unchanged
  [ "$(stat -c %u:%g "$BUNDLE/rootfs/own")" = 1234:1234 ]
  [ "$(stat -c %u:%g "$BUNDLE/rootfs/owndir")" = 77:88 ]
  run rh exec jq3 sh -c 'cp /bin/busybox /suid; chmod u+s /suid; echo "u+s=$?"; chmod g+s /suid; echo "g+s=$?";
    chmod 4755 /own; echo "4755=$?"; mkdir -m 2755 /sgid; echo "mkdir-sgid=$?";
    mknod /nullish c 1 3; echo "mknod-c=$?"; mknod /loopish b 7 0; echo "mknod-b=$?";
    chown 0:0 /suid; chmod 0755 /suid; echo "plain-chmod=$?"'
  [[ "$output" == *"plain-chmod=0"* ]]
  [[ "$output" != *"u+s=0"* ]]
  [[ "$output" != *"g+s=0"* ]]
  [[ "$output" != *"4755=0"* ]]
  [[ "$output" != *"mknod-c=0"* ]]
  [[ "$output" != *"mknod-b=0"* ]]
  # nothing setuid/setgid and no device node on the host, whatever the guest said
  run find "$BUNDLE/rootfs" -xdev \( -perm /6000 -o -type c -o -type b \) -print
  [ -z "$output" ]
  [ "$(stat -c %a "$BUNDLE/rootfs/suid")" = 755 ]
  rh delete -f jq3
  wait_for 100 no_vm_cgroup runhv jq3
}

@test "an overlayfs rootfs (as containerd mounts it) is writable and chown-able by guest root through the jail" {
  # the bundle's rootfs becomes an overlay: the assets as the lower layer
  local ov="$TEST_DIR/ov"
  mkdir -p "$ov/lower" "$ov/snap/fs" "$ov/snap/work"
  cp -a "$BUNDLE/rootfs/." "$ov/lower/"
  mount -t overlay overlay -o "lowerdir=$ov/lower,upperdir=$ov/snap/fs,workdir=$ov/snap/work" "$BUNDLE/rootfs"
  config '.process.args = ["sleep", "1000"]'
  rhd run -d --isolation=hypervisor --bundle "$BUNDLE" jq7 || { umount "$BUNDLE/rootfs"; false; }
  run rh exec jq7 sh -c 'echo new > /made; chown 4321:4321 /made && ls -n /made; echo more >> /etc/hostname && echo copy-up-ok;
    grep " / " /proc/mounts | head -1'
  rh delete -f jq7
  umount "$BUNDLE/rootfs"
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == *" 4321 "*" 4321 "*/made ]]
  [ "${lines[1]}" = copy-up-ok ]
  # in the upper layer on the host, with the guest's ids; the lower is untouched
  [ "$(stat -c %u:%g "$ov/snap/fs/made")" = 4321:4321 ]
  [ "$(stat -c %u:%g "$ov/snap/fs/etc/hostname")" = "$(stat -c %u:%g "$ov/lower/etc/hostname")" ]
  grep -q more "$ov/snap/fs/etc/hostname"
  ! grep -q more "$ov/lower/etc/hostname"
}

@test "a pod's joined containers (a plain rootfs and an overlay one) are writable and chown-able by guest root" {
  config '.process.args = ["sleep", "1000"]'
  rhd run -d --isolation=hypervisor --bundle "$BUNDLE" jpod
  # a second bundle on a plain directory, a third on an overlay, both
  # joining jpod's VM after QEMU started
  local b2="$TEST_DIR/b2" b3="$TEST_DIR/b3" ov="$TEST_DIR/ov3"
  mkdir -p "$b2" "$b3/rootfs" "$ov/lower" "$ov/snap/fs" "$ov/snap/work"
  cp -a "$BUNDLE/rootfs" "$b2/rootfs"
  cp -a "$BUNDLE/rootfs/." "$ov/lower/"
  mount -t overlay overlay -o "lowerdir=$ov/lower,upperdir=$ov/snap/fs,workdir=$ov/snap/work" "$b3/rootfs"
  for b in "$b2" "$b3"; do
    jq '.annotations["io.runhv.vm"] = "jpod"' "$BUNDLE/config.json" >"$b/config.json"
  done
  rhd run -d --bundle "$b2" jplain || { umount "$b3/rootfs"; false; }
  rhd run -d --bundle "$b3" jover || { umount "$b3/rootfs"; false; }
  local out2 out3
  out2=$(rh exec jplain sh -c 'echo new > /made; chown 4321:4321 /made && ls -n /made; echo more >> /etc/hostname && echo write-ok' 2>&1) || true
  out3=$(rh exec jover sh -c 'echo new > /made; chown 4321:4321 /made && ls -n /made; echo more >> /etc/hostname && echo write-ok; rm /etc/passwd && echo rm-ok' 2>&1) || true
  rh delete -f jover
  rh delete -f jplain
  rh delete -f jpod
  umount "$b3/rootfs"
  echo "plain: $out2"
  echo "overlay: $out3"
  [[ "$out2" == *" 4321 "*" 4321 "*"/made"*write-ok* ]]
  [[ "$out3" == *" 4321 "*" 4321 "*"/made"*write-ok*rm-ok* ]]
  # on the host, the guest's ids (its root is host root through the idmap)
  [ "$(stat -c %u:%g "$b2/rootfs/made")" = 4321:4321 ]
  [ "$(stat -c %u:%g "$b2/rootfs/etc/hostname")" = 0:0 ]
  [ "$(stat -c %u:%g "$ov/snap/fs/made")" = 4321:4321 ]
  grep -q more "$ov/snap/fs/etc/hostname"
  ! grep -q more "$ov/lower/etc/hostname"
  # the removal is an overlay whiteout in the upper layer; the lower keeps it
  [ "$(stat -c %F:%t:%T "$ov/snap/fs/etc/passwd")" = "character special file:0:0" ]
  [ -s "$ov/lower/etc/passwd" ]
}

# A listener on loopback (TCP and UDP) that records what reaches it.
start_listener() {
  local port=$1 log=$2
  python3 -c '
import socket, sys, select
port, log = int(sys.argv[1]), sys.argv[2]
t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(("127.0.0.1", port)); t.listen(8)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", port))
open(log, "a").write("ready\n")
while True:
    r, _, _ = select.select([t, u], [], [])
    for s in r:
        if s is t:
            c, a = t.accept(); open(log, "a").write("tcp from %s\n" % a[0]); c.close()
        else:
            d, a = u.recvfrom(100); open(log, "a").write("udp from %s\n" % a[0])
' "$port" "$log" &
  LISTENER=$!
  wait_for 50 grep -q ready "$log"
}

@test "the probe, exec'd by the same jail in QEMU's place, fails every escape; outside the jail it does not" {
  # another VM, whose rootfs the probe goes for
  BUNDLE2=$(mktemp -d /tmp/runhv-jail-other.XXXXXX)
  cp -a "$BUNDLE/." "$BUNDLE2/"
  rhd run -d --isolation=hypervisor --bundle "$BUNDLE2" jq-other
  local oq port=$((20000 + RANDOM % 20000)) log="$TEST_DIR/listener.log"
  oq=$(qemu_of jq-other)
  [ -n "$oq" ]
  start_listener "$port" "$log"
  local args="read:$BUNDLE2/rootfs/etc/passwd read:/proc/$oq/root/shared/jq-other/rootfs/etc/passwd"
  args+=" read:$ROOT/jq-other/shared/jq-other/rootfs/etc/passwd tcp:127.0.0.1:$port udp:127.0.0.1:$port"
  # control: the same attempts from the host succeed (the probe can tell)
  run env RUNHV_TEST_PROBE_ARGS="$args" "$RUNHV_JAIL_PROBE"
  [[ "$output" == *"read /etc/shadow: OPEN"* ]]
  [[ "$output" == *"read $BUNDLE2/rootfs/etc/passwd: OPEN"* ]]
  [[ "$output" == *"read /proc/$oq/root/shared/jq-other/rootfs/etc/passwd: OPEN"* ]]
  [[ "$output" == *"tcp 127.0.0.1:$port: OPEN"* ]]
  wait_for 50 grep -q "tcp from" "$log"
  : > "$log"
  # jailed: every attempt fails, nothing reaches the listener
  run env RUNHV_TEST_VMM_PROBE="$RUNHV_JAIL_PROBE" RUNHV_TEST_PROBE_ARGS="$args" \
    "$RUNHV" --root "$ROOT" run -d --isolation=hypervisor --bundle "$BUNDLE" jq-probe </dev/null
  [ "$status" -ne 0 ]
  run cat "$ROOT/vm-logs/jq-probe.vmm.log"
  echo "$output"
  [[ "${lines[0]}" == "jail-probe: uid 0, pid 1" ]]
  [ "$(grep -c ': blocked (' <<<"$output")" -eq 7 ]
  ! grep -q ': OPEN' <<<"$output"
  sleep 0.5
  [ ! -s "$log" ]
  # the failed create leaves no cgroup; the other VM is untouched
  wait_for 100 no_vm_cgroup runhv jq-probe
  [ "$(rh state jq-other | jq -r .status)" = running ]
  rh delete -f jq-other
  wait_for 100 no_vm_cgroup runhv jq-other
}

@test "RUNHV_TEST_VMM_PROBE must be a root-owned file only root can write" {
  local p="$TEST_DIR/probe"
  cp "$RUNHV_JAIL_PROBE" "$p"
  chmod 777 "$p"
  run env RUNHV_TEST_VMM_PROBE="$p" "$RUNHV" --root "$ROOT" run -d --isolation=hypervisor --bundle "$BUNDLE" jq5 </dev/null
  [ "$status" -ne 0 ]
  [[ "$output" == *"RUNHV_TEST_VMM_PROBE=\`$p\` must be an absolute path to a root-owned executable"* ]]
  no_vm_cgroup runhv jq5
}

@test "shared_fs = virtiofs is refused with the fix" {
  printf '[vm]\nshared_fs = "virtiofs"\n' > "$TEST_DIR/runhv.toml"
  run env RUNHV_CONFIG="$TEST_DIR/runhv.toml" "$RUNHV" --root "$ROOT" run -d --isolation=hypervisor --bundle "$BUNDLE" jq6 </dev/null
  [ "$status" -ne 0 ]
  [[ "$output" == *'shared_fs = "virtiofs" is not supported; remove it (9p is used)'* ]]
}

#!/usr/bin/env bats
# Hypervisor isolation, with real VMs under QEMU's TCG (KVM here cannot boot
# a stock kernel): the lifecycle, the isolation demo as assertions, resource
# mapping seen from inside the guest, conversion, and faults.

load helpers

setup() {
  setup_bundle
  [[ -f "$GUEST_DIR/initramfs.cpio" ]] || fail "no guest artifacts in $GUEST_DIR: run scripts/provision-guest.sh"
}
teardown() {
  [[ -z "${HVNET_NS:-}" ]] || ip netns del "$HVNET_NS" 2>/dev/null || true
  teardown_bundle
}

wait_status() {
  wait_for 200 bash -c "[ \"\$('$RUNHV' --root '$ROOT' state $1 2>/dev/null | jq -r .status)\" = $2 ]"
}

@test "run --isolation=hypervisor: output, exit status and the VM's own kernel" {
  config '.process.args = ["sh", "-c", "uname -r; cat /proc/sys/kernel/random/boot_id; echo to-stderr >&2; exit 42"]'
  run rh run --isolation=hypervisor --bundle "$BUNDLE" hv1
  [ "$status" -eq 42 ]
  [ "${lines[0]}" = "$(cat "$GUEST_DIR/kernel-release")" ]
  [ "${lines[0]}" != "$(uname -r)" ]
  [ "${lines[1]}" != "$(cat /proc/sys/kernel/random/boot_id)" ]
  [[ "$output" == *to-stderr* ]]
  assert_no_vm_leaks hv1
}

@test "isolation chosen by annotation and by runhv.toml; the flag wins over both" {
  config '.annotations = {"io.runhv.isolation": "hypervisor"}'
  rhd create --bundle "$BUNDLE" iso1
  [ "$(rh state iso1 | jq -r .isolation)" = hypervisor ]
  rh delete iso1
  printf 'SandboxIsolation = 1\n' > "$TEST_DIR/runhv.toml"
  config 'del(.annotations)'
  RUNHV_CONFIG="$TEST_DIR/runhv.toml" rhd create --bundle "$BUNDLE" iso2
  [ "$(rh state iso2 | jq -r .isolation)" = hypervisor ]
  rh delete iso2
  config '.annotations = {"io.runhv.isolation": "hypervisor"}'
  RUNHV_CONFIG="$TEST_DIR/runhv.toml" rhd create --isolation=process --bundle "$BUNDLE" iso3
  [ "$(rh state iso3 | jq -r .isolation)" = process ]
  rh delete iso3
  assert_no_vm_leaks iso1
  assert_no_vm_leaks iso2
}

@test "lifecycle: create, state, start, exec, ps, pause, resume, update, kill, delete" {
  config '.process.args = ["sh", "-c", "echo started > /tmp/started; while :; do sleep 0.2; done"]
    | .mounts += [{destination: "/mnt/bundle", type: "bind", source: ".", options: ["rbind", "ro"]}]'
  rhd create --isolation=hypervisor --pid-file "$TEST_DIR/life.pid" --bundle "$BUNDLE" life
  run rh state life
  echo "$output" | jq -e '.status == "created" and .isolation == "hypervisor" and .pid > 0 and .vmmPid > 0'
  vmm=$(echo "$output" | jq -r .vmmPid)
  # one pid for callers: --pid-file's is state's, the supervisor that
  # forwards signals and exits with the container's status; the VMM is
  # vmmPid, and ps shows it by the container's id
  [ "$(cat "$TEST_DIR/life.pid")" = "$(echo "$output" | jq -r .pid)" ] || fail "pid file $(cat "$TEST_DIR/life.pid"): $output"
  [ "$(cat /proc/"$(echo "$output" | jq -r .pid)"/comm)" = runhv-vmsup ] || fail "$output"
  [[ "$(cat /proc/$vmm/cmdline | tr '\0' ' ')" == *"runhv-uvm-life"* ]]
  [ ! -e "$BUNDLE/rootfs/tmp/started" ]
  rhd start life
  [ "$(status_of life)" = running ]
  # writes land in the bundle, as with process isolation
  wait_for 100 test -e "$BUNDLE/rootfs/tmp/started"
  run rh exec life sh -c 'echo in-guest; cat /proc/1/cmdline | tr "\0" " "; exit 5'
  [ "$status" -eq 5 ]
  [ "${lines[0]}" = in-guest ]
  [[ "${lines[1]}" == "sh -c echo started"* ]]
  # a relative bind source is the bundle's, shared into the VM
  run rh exec life ls /mnt/bundle
  [[ "$output" == *config.json* ]] || fail "relative bind in the guest: $output"
  run rh ps life
  [[ "${lines[0]}" == *PID*CMD* ]]
  [[ "$output" == *"while :"* ]]
  run rh ps --format json life
  echo "$output" | jq -e 'length >= 1'
  # ps(1) arguments cannot apply to guest processes; host fds cannot cross
  run rh ps life -o pid,comm
  [ "$status" -ne 0 ] || fail "ps arguments were accepted and ignored: $output"
  [[ "$output" == *"ps: arguments for ps(1) (\`-o\` ...) cannot apply to a VM container"* ]] || fail "$output"
  run rh exec --preserve-fds 1 life true 3</dev/null
  [ "$status" -ne 0 ] || fail "--preserve-fds was accepted and ignored: $output"
  [[ "$output" == *"--preserve-fds 1: host file descriptors cannot be passed into a VM"* ]] || fail "$output"
  rh pause life
  [ "$(status_of life)" = paused ]
  run rh exec life cat /sys/fs/cgroup/cgroup.freeze
  rh resume life
  [ "$(status_of life)" = running ]
  rh update --memory 96m --cpu-quota 50000 --cpu-period 100000 --pids-limit 40 life
  run rh exec life sh -c 'cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max /sys/fs/cgroup/pids.max'
  [ "${lines[0]}" = $((96 * 1024 * 1024)) ]
  [ "${lines[1]}" = "50000 100000" ]
  [ "${lines[2]}" = 40 ]
  # beyond the VM's size: refused, naming it, and nothing changes in the guest
  local vm_mb
  vm_mb=$(rh exec life awk '/^MemTotal/ { print int($2 / 1024) }' /proc/meminfo)
  run rh update --memory 4g life
  [ "$status" -ne 0 ] || fail "a 4 GiB limit on a VM of ${vm_mb} MiB was accepted"
  [[ "$output" == *"a memory limit of 4096 MiB is more than the "*" MiB of the container's VM"* ]] || fail "$output"
  run rh update --cpu-quota 800000 --cpu-period 100000 life
  [ "$status" -ne 0 ] || fail "8 CPUs of quota on a 1-vCPU VM were accepted"
  [[ "$output" == *"is more than the 1 vCPU of the container's VM"* ]] || fail "$output"
  run rh exec life sh -c 'cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max'
  [ "${lines[0]}" = $((96 * 1024 * 1024)) ] || fail "$output"
  [ "${lines[1]}" = "50000 100000" ] || fail "$output"
  # runc's stats layout, read from the guest's cgroup v2 files as runc reads v2
  run rh events --stats life
  [ "$status" -eq 0 ] || fail "$output"
  jq -e --argjson mem $((96 * 1024 * 1024)) '.type == "stats" and .id == "life"
    and (.data | keys_unsorted) == ["cpu","cpuset","memory","pids","blkio","hugetlb","intel_rdt","network_interfaces"]
    and .data.memory.usage.limit == $mem and .data.memory.usage.usage > 0 and .data.pids.limit == 40
    and .data.pids.current >= 2 and .data.cpu.usage.total > 0 and .data.cpu.throttling.periods > 0
    and (.data.memory.raw | has("anon") and has("file") and has("inactive_file"))
    and (.data.memory.cache // 0) == .data.memory.raw.file
    and (.data.cpu.usage | has("percpu") | not)' <<<"$output" >/dev/null || fail "$output"
  run rh delete life
  [ "$status" -ne 0 ]
  [[ "$output" == *"is running: stop it first"* ]]
  rh kill life KILL
  wait_status life stopped
  run rh state life
  echo "$output" | jq -e '.status == "stopped" and .pid == 0 and .exitStatus == 137'
  # a stopped container has no processes, as runc's ps says (no VM to ask)
  run rh ps life
  [ "$status" -eq 0 ] || fail "ps of a stopped VM container: $output"
  [ "${#lines[@]}" -eq 1 ] && [[ "${lines[0]}" == *PID*CMD* ]] || fail "$output"
  rh delete life
  assert_no_vm_leaks life
}

@test "exec: --detach with a pid file, --tty, signals and the exit status" {
  rhd run --detach --isolation=hypervisor --bundle "$BUNDLE" ex
  run rhd exec --detach --pid-file "$TEST_DIR/epid" ex sh -c 'trap "exit 9" TERM; while :; do sleep 0.1; done'
  [ "$status" -eq 0 ]
  proxy=$(cat "$TEST_DIR/epid")
  # the pid file names a host process that stands for the guest process
  kill -0 "$proxy"
  kill -TERM "$proxy"
  wait_for 100 bash -c "! kill -0 $proxy 2>/dev/null"
  run script -qec "'$RUNHV' --root '$ROOT' exec -t ex sh -c 'tty; test -t 0 && echo tty-in-vm'" /dev/null
  [ "$status" -eq 0 ]
  [[ "$output" == *"/dev/pts/"* && "$output" == *tty-in-vm* ]]
  run bash -c "echo via-stdin | '$RUNHV' --root '$ROOT' exec ex sh -c 'read x; echo got \$x'"
  [ "$output" = "got via-stdin" ]
  rh delete --force ex
  assert_no_vm_leaks ex
}

# CVE-2019-5736 inside the VM: each exec puts a process run from the agent's
# binary into the container.  The agent makes that binary immutable at boot
# (instead of a sealed copy per spawn), so what the probe holds through
# /proc/PID/exe refuses writes, whoever still runs it.  The probe has CAP_SYS_PTRACE, which lets it
# past PR_SET_DUMPABLE, so the binary's own protection is what holds.
@test "exec: the container cannot write the agent's binary through /proc/PID/exe (CVE-2019-5736)" {
  cc -static -O2 -o "$BUNDLE/rootfs/exe-probe" "$RUNHV_SOURCE_DIR/tests/lib/exe-probe.c" ||
    fail "cannot build the static probe (gcc and libc6-dev are needed)"
  config '.process.args = ["/exe-probe", "/report"]
    | .process.capabilities |= with_entries(.value += ["CAP_SYS_PTRACE"])'
  rhd run --detach --isolation=hypervisor --bundle "$BUNDLE" vcve
  wait_for 200 grep -q '^READY' "$BUNDLE/rootfs/report" || fail "the probe did not start"
  local i
  for ((i = 0; i < 30; i++)); do
    run rhd exec vcve true
    [ "$status" -eq 0 ] || fail "exec: $output"
    grep -q '^FOREIGN' "$BUNDLE/rootfs/report" && break
  done
  grep -q '^FOREIGN' "$BUNDLE/rootfs/report" || fail "the probe never saw a joining process: $(cat "$BUNDLE/rootfs/report")"
  wait_for 200 grep -q '^AFTER' "$BUNDLE/rootfs/report" || fail "no write after the process exited: $(cat "$BUNDLE/rootfs/report")"
  if grep -q 'wrote' "$BUNDLE/rootfs/report"; then fail "a write reached the agent's binary: $(cat "$BUNDLE/rootfs/report")"; fi
  # refused as immutable (EPERM), not only as the running agent's text
  # (ETXTBSY, which kernels since 6.11 no longer give for executables)
  if grep '^AFTER' "$BUNDLE/rootfs/report" | grep -qv 'errno=1$'; then
    fail "the agent's binary is not immutable: $(cat "$BUNDLE/rootfs/report")"
  fi
  # and it is the agent's own binary, not a sealed copy made for each exec
  if grep '^FOREIGN' "$BUNDLE/rootfs/report" | grep -q 'memfd'; then
    fail "the exec ran from a copy of the agent: $(cat "$BUNDLE/rootfs/report")"
  fi
  # and the VM still works: the next exec runs the unchanged agent
  run rhd exec vcve echo still-fine
  [ "$output" = still-fine ]
  rh delete --force vcve
  assert_no_vm_leaks vcve
}

@test "stdin relay and a terminal through --console-socket" {
  config '.process.args = ["sh", "-c", "read line; echo got:$line"]'
  run bash -c "echo hello-vm | '$RUNHV' --root '$ROOT' run --isolation=hypervisor --bundle '$BUNDLE' io1"
  [ "$status" -eq 0 ]
  [ "$output" = got:hello-vm ]
  config '.process.terminal = true | .process.args = ["sh", "-c", "tty; echo typed-in-vm; sleep 1000"]'
  /usr/bin/python3 "$RUNHV_SOURCE_DIR/tests/lib/console-socket.py" "$TEST_DIR/c.sock" "$TEST_DIR/c.out" &
  srv=$!
  wait_for 50 test -S "$TEST_DIR/c.sock"
  rhd create --isolation=hypervisor --bundle "$BUNDLE" --console-socket "$TEST_DIR/c.sock" io2
  wait_for 50 grep -q "tty=True" "$TEST_DIR/c.out"
  rhd start io2
  wait_for 100 grep -q typed-in-vm "$TEST_DIR/c.out"
  grep -q "^/dev/pts/0" "$TEST_DIR/c.out"
  rh delete --force io2
  kill $srv 2>/dev/null || true
  assert_no_vm_leaks io2
}

@test "VM size from annotations (and the io.microsoft aliases), seen inside the guest" {
  config '.annotations = {"io.runhv.virtualmachine.computetopology.memory.sizeinmb": "384", "io.microsoft.virtualmachine.computetopology.processor.count": "2", "io.microsoft.container.storage.qos.bandwidthmaximum": "104857600", "io.runhv.container.storage.qos.iopsmaximum": "1000"}'
  # storage QoS throttles the shared filesystem device: read off the VMM
  # of a container that keeps running, so the check cannot be skipped
  config '.process.args = ["sleep", "1000"]'
  rhd run --detach --isolation=hypervisor --bundle "$BUNDLE" size1
  vmm=$(rh state size1 | jq -r .vmmPid)
  [ "$vmm" -gt 0 ]
  tr '\0' ' ' < /proc/$vmm/cmdline | grep -q "throttling.bps-total=104857600,throttling.iops-total=1000"
  rh delete --force size1
  config '.process.args = ["sh", "-c", "nproc; grep MemTotal /proc/meminfo"]'
  run rh run --isolation=hypervisor --bundle "$BUNDLE" size2
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = 2 ]
  mem_kb=$(echo "${lines[1]}" | awk '{print $2}')
  # the guest kernel keeps ~46 MiB of the VM's memory for itself
  [ "$mem_kb" -gt $((300 * 1024)) ]
  [ "$mem_kb" -le $((384 * 1024)) ]
}

@test "VM size from runhv.toml, and derived from the container's limits, which apply inside" {
  printf 'VmMemorySizeInMb = 320\nVmProcessorCount = 2\n' > "$TEST_DIR/runhv.toml"
  # The VM's size is what the guest was given (present CPUs), not how many
  # secondary CPUs TCG managed to start on a loaded host (online ones).
  config '.process.args = ["sh", "-c", "cat /sys/devices/system/cpu/present; grep MemTotal /proc/meminfo; cat /sys/devices/system/cpu/online"]'
  run env RUNHV_CONFIG="$TEST_DIR/runhv.toml" "$RUNHV" --root "$ROOT" run --isolation=hypervisor --bundle "$BUNDLE" cfg1
  [ "$status" -eq 0 ] || fail "run cfg1: $output"
  [ "${lines[0]}" = 0-1 ] || fail "cfg1 present CPUs: $output"
  mem_kb=$(echo "${lines[1]}" | awk '{print $2}')
  [ "$mem_kb" -gt $((240 * 1024)) ] && [ "$mem_kb" -le $((320 * 1024)) ] || fail "cfg1 memory: $output"
  # no annotation, no config: 2 vCPUs from a 1.5-CPU quota, memory = limit + headroom
  config '.linux.resources = {"memory": {"limit": 134217728}, "cpu": {"quota": 150000, "period": 100000}}'
  config '.process.args = ["sh", "-c", "cat /sys/devices/system/cpu/present; grep MemTotal /proc/meminfo; cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max"]'
  run rh run --isolation=hypervisor --bundle "$BUNDLE" lim1
  [ "$status" -eq 0 ] || fail "run lim1: $output"
  [ "${lines[0]}" = 0-1 ] || fail "lim1 present CPUs: $output"
  mem_kb=$(echo "${lines[1]}" | awk '{print $2}')
  [ "$mem_kb" -gt $((128 * 1024)) ] || fail "lim1 memory: $output"
  [ "${lines[2]}" = 134217728 ] && [ "${lines[3]}" = "150000 100000" ] || fail "lim1 limits inside: $output"
}

@test "invalid VM sizes are clear errors and leave nothing" {
  for ann in '"io.runhv.virtualmachine.computetopology.memory.sizeinmb": "lots"' \
             '"io.runhv.virtualmachine.computetopology.processor.count": "0"' \
             '"io.microsoft.virtualmachine.computetopology.processor.count": "4096"' \
             '"io.runhv.virtualmachine.computetopology.memory.sizeinmb": "999999999"'; do
    config ".annotations = {$ann}"
    run rhd create --isolation=hypervisor --bundle "$BUNDLE" bad1
    [ "$status" -ne 0 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ "$output" == *annotations.io.*"computetopology"* ]]
    [[ "$output" == *"not a number"* || "$output" == *"not allowed"* || "$output" == *"more than this host has"* ]]
    assert_no_vm_leaks bad1
  done
}

# A VM has its own kernel: a namespace the spec leaves out (the host's) or a
# path to a host process's namespace cannot be honoured, and is refused
# before any VM boots rather than silently replaced by a new one.
@test "host namespaces and namespace paths are refused for a VM container, naming the field" {
  local ns
  for ns in network pid ipc uts mount; do
    config ".linux.namespaces |= map(select(.type != \"$ns\")) | .process.args = [\"true\"]
      | if \"$ns\" == \"uts\" then del(.hostname) else . end
      | if \"$ns\" == \"mount\" then del(.linux.maskedPaths, .linux.readonlyPaths, .mounts) else . end"
    run rh run --isolation=hypervisor --bundle "$BUNDLE" hostns
    [ "$status" -ne 0 ] || fail "no $ns namespace was accepted"
    [[ "$output" == *"linux.namespaces: no \`$ns\` namespace means the host's, which a VM container cannot share"* ]] ||
      fail "$ns: $output"
    [ "$(echo "$output" | wc -l)" -eq 1 ] || fail "$output"
    # process isolation shares the host's, as runc does
    if [ "$ns" != mount ]; then
      run rh run --bundle "$BUNDLE" hostns-p
      [ "$status" -eq 0 ] || fail "process isolation without $ns: $output"
    fi
    (cd "$BUNDLE" && rm -f config.json && "$RUNHV" spec)
    config '.process.terminal = false | .root.readonly = false'
  done
  config ".linux.namespaces |= map(if .type == \"ipc\" then .path = \"/proc/$$/ns/ipc\" else . end) | .process.args = [\"true\"]"
  run rh run --isolation=hypervisor --bundle "$BUNDLE" hostns
  [ "$status" -ne 0 ] || fail "a host ipc namespace path was accepted"
  [[ "$output" == *"path: \`/proc/$$/ns/ipc\` is a host namespace, which a VM container cannot join"* ]] || fail "$output"
  run rh state hostns
  [ "$status" -ne 0 ] || fail "state left behind: $output"
  assert_no_vm_leaks hostns
}

# A network namespace prepared as CNI leaves one (made here, with both ends
# of a veth inside it: no packet leaves it): the VM takes the interface over
# through a tap, with tc redirecting between the two while the VM boots.
# create returns only once the redirections exist; when tc fails half-way
# (the tap's redirection, after eth0's was made), create fails naming it,
# and no VM, tap or qdisc is left.
@test "a VM in a prepared network namespace: redirected before create returns; a failing tc leaves nothing" {
  HVNET_NS="runhv-hvnet-$$"
  local ns=$HVNET_NS
  ip netns add "$ns"
  ip -n "$ns" link add eth0 type veth peer name eth0p
  ip -n "$ns" addr add 10.99.0.2/24 dev eth0
  ip -n "$ns" link set eth0 up
  config ".linux.namespaces |= map(if .type == \"network\" then .path = \"/var/run/netns/$ns\" else . end)
    | .process.args = [\"sh\", \"-c\", \"ip -4 addr show eth0; sleep 1000\"]"

  rhd create --isolation=hypervisor --bundle "$BUNDLE" hvnet1
  tc -n "$ns" filter show dev eth0 ingress | grep -q "Egress Redirect to device tap0_runhv" ||
    fail "eth0's traffic is not redirected to the VM's tap once create returned"
  tc -n "$ns" filter show dev tap0_runhv ingress | grep -q "Egress Redirect to device eth0" ||
    fail "the tap's traffic is not redirected to eth0 once create returned"
  rh start hvnet1
  wait_for 100 bash -c "'$RUNHV' --root '$ROOT' exec hvnet1 ip -4 addr show eth0 | grep -q 10.99.0.2/24" ||
    fail "the guest's eth0 did not take the pod's address"
  rh delete --force hvnet1
  wait_for 100 bash -c "! ip -n '$ns' link show tap0_runhv 2>/dev/null" || fail "the tap outlived the VM"
  assert_no_vm_leaks hvnet1

  # tc failing for the tap's redirection only, in a mount namespace of this
  # test's own: eth0's qdisc and filter are made, and must be undone
  cp "$(command -v tc)" "$TEST_DIR/tc.real"
  # It also notes who ran it and what it holds: the pod network's setup is
  # an exec'd helper, and tc gets /dev/null for stdio and nothing else of
  # its caller's.  Its descriptors are read first thing, by a command
  # substitution: besides them the shell holds its script and that pipe.
  cat >"$TEST_DIR/tc" <<EOF
#!/bin/sh
fds=\$(ls -l /proc/\$\$/fd | awk '/ -> / {print "fd", \$(NF-2), \$NF}')
echo "call \$*|\$(tr '\\0' ' ' </proc/\$PPID/cmdline)" >>"$TEST_DIR/tc.log"
echo "\$fds" >>"$TEST_DIR/tc.log"
case "\$*" in *tap0_runhv*) exit 2 ;; esac
exec "$TEST_DIR/tc.real" "\$@"
EOF
  chmod +x "$TEST_DIR/tc"
  run unshare -m sh -c "mount --bind '$TEST_DIR/tc' /usr/sbin/tc && exec '$RUNHV' --root '$ROOT' create --isolation=hypervisor --bundle '$BUNDLE' hvnet2 </dev/null"
  [ "$status" -ne 0 ] || fail "create succeeded without the redirections"
  [[ "$output" == *"pod network: \`tc filter add dev eth0\` failed"* ]] || fail "$output"
  grep -q '^call filter add dev eth0 .*|runhv-podnet __vm-podnet $' "$TEST_DIR/tc.log" ||
    fail "the redirections were not made by the exec'd setup helper: $(cat "$TEST_DIR/tc.log")"
  # every tc, the setup's and the clean-up's: fds 0-2 /dev/null, no other but the script's and the pipe's
  run awk '/^fd / { if (($2 <= 2 && $3 != "/dev/null") || ($2 > 2 && $3 != "/usr/sbin/tc" && $3 !~ /^pipe:/)) print "tc holds fd " $2 " -> " $3 }' "$TEST_DIR/tc.log"
  [ -z "$output" ] || fail "$output"
  [ "$(grep -c '^fd [0-9]* pipe:' "$TEST_DIR/tc.log")" -eq "$(grep -c '^call ' "$TEST_DIR/tc.log")" ] ||
    fail "not one pipe per tc: $(cat "$TEST_DIR/tc.log")"
  [ "$(grep -c '^call ' "$TEST_DIR/tc.log")" -ge 2 ] || fail "tc ran $(grep -c '^call ' "$TEST_DIR/tc.log") times"
  [ -z "$(tc -n "$ns" qdisc show dev eth0 ingress)" ] || fail "a qdisc was left on eth0: $(tc -n "$ns" qdisc show dev eth0 ingress)"
  # QEMU, which holds the tap, died with the VM's supervisor before create returned
  ! pgrep -f 'runhv-uvm-hvnet2[, ]' || fail "the VMM of hvnet2 outlived the failed create"
  wait_for 100 bash -c "! ip -n '$ns' link show tap0_runhv 2>/dev/null" || fail "the tap was left"
  rm -f "$ROOT"/vm-logs/hvnet2.* # kept for a failed create's diagnosis
  assert_no_vm_leaks hvnet2
}

# linux.devices nodes and linux.resources.devices rules hold alike in both
# isolations: the host's devices controller (v1 here) for a process
# container, the guest kernel's BPF device program for a VM container.  A
# device the VM's kernel lacks (a host disk) is refused, naming it.
@test "linux.devices and device rules: the same in both isolations; a device the VM lacks is refused" {
  local iso
  config '.process.args = ["sh", "-c", "(exec 3<>/dev/fuse) 2>/dev/null && echo fuse-open || echo fuse-denied; (echo x >/dev/kmsg) 2>/dev/null && echo kmsg-open || echo kmsg-denied; echo >/dev/null && echo null-ok; ls -l /dev/fuse | cut -c1"]
    | .linux.devices = [{path: "/dev/kmsg", type: "c", major: 1, minor: 11, fileMode: 438},
                        {path: "/dev/fuse", type: "c", major: 10, minor: 229, fileMode: 438}]
    | .linux.resources.devices = [{allow: false, access: "rwm"},
                                  {allow: true, type: "c", major: 10, minor: 229, access: "rw"}]'
  for iso in process hypervisor; do
    run rh run --isolation=$iso --bundle "$BUNDLE" dev-$iso
    [ "$status" -eq 0 ] || fail "$iso: $output"
    [ "$(echo "$output" | tr '\n' ' ')" = "fuse-open kmsg-denied null-ok c " ] || fail "$iso: $output"
  done
  config '.linux.devices += [{path: "/dev/hostdisk", type: "b", major: 8, minor: 0}]'
  run rhd create --isolation=hypervisor --bundle "$BUNDLE" dev-disk
  [ "$status" -ne 0 ] || fail "a host disk was accepted in a VM"
  [[ "$output" == *'linux.devices `/dev/hostdisk` (b 8:0): the VM'"'"'s kernel has no such device'* ]] || fail "$output"
  [ -z "$(rh list -q)" ] || fail "left: $(rh list -q)"
}

# Mounts are made in config.json's order in both isolations: a tmpfs over
# an earlier bind hides it, a bind under an earlier tmpfs shows.
@test "a bind with shared propagation is refused in a VM, naming the mount; process isolation runs it" {
  mkdir -p "$TEST_DIR/sh"
  jq --arg d "$TEST_DIR/sh" '.process.args = ["true"]
    | .mounts += [{destination: "/sh", type: "bind", source: $d, options: ["rbind", "rshared"]}]' \
    "$BUNDLE/config.json" > "$BUNDLE/c.json" && mv "$BUNDLE/c.json" "$BUNDLE/config.json"
  run rh run --isolation=hypervisor --bundle "$BUNDLE" shp
  [ "$status" -ne 0 ] || fail "accepted"
  [[ "$output" == *'(`/sh`): shared propagation: a mount made inside a VM cannot reach the host; use rslave or private, or process isolation'* ]] ||
    fail "$output"
  [ -z "$(rh list -q)" ] || fail "left: $(rh list -q)"
  run rh run --bundle "$BUNDLE" shp-process
  [ "$status" -eq 0 ] || fail "process: $output"
}

@test "mounts are made in config.json order, the same in both isolations" {
  local iso want
  mkdir -p "$TEST_DIR/hd"
  echo from-host > "$TEST_DIR/hd/f"
  jq --arg hd "$TEST_DIR/hd" '.process.args = ["sh", "-c", "ls /m | wc -l; cat /n/sub/f; awk \"{print \\$5}\" /proc/self/mountinfo"]
    | .mounts += [{destination: "/m", type: "bind", source: $hd, options: ["rbind"]},
                  {destination: "/m", type: "tmpfs", source: "tmpfs"},
                  {destination: "/n", type: "tmpfs", source: "tmpfs"},
                  {destination: "/n/sub", type: "bind", source: $hd, options: ["rbind", "ro"]}]' \
    "$BUNDLE/config.json" > "$BUNDLE/c.json" && mv "$BUNDLE/c.json" "$BUNDLE/config.json"
  want=$(jq -r '.mounts[].destination' "$BUNDLE/config.json")
  for iso in process hypervisor; do
    run rh run --isolation=$iso --bundle "$BUNDLE" order-$iso
    [ "$status" -eq 0 ] || fail "$iso: $output"
    [ "${lines[0]}" = 0 ] || fail "$iso: the bind at /m shows through the tmpfs mounted after it"
    [ "${lines[1]}" = from-host ] || fail "$iso: ${lines[1]}"
    # the config's mounts appear in mountinfo in the config's order
    [ "$(printf '%s\n' "${lines[@]:2}" | grep -Fx -f <(echo "$want"))" = "$want" ] ||
      fail "$iso: order $(printf '%s\n' "${lines[@]:2}" | grep -Fx -f <(echo "$want") | tr '\n' ' ')"
  done
}

@test "conversion: a created container moves to a VM and back; a running one is refused" {
  rhd create --bundle "$BUNDLE" conv
  [ "$(rh state conv | jq -r .isolation)" = process ]
  rhd update --isolation=hypervisor conv
  run rh state conv
  echo "$output" | jq -e '.isolation == "hypervisor" and .status == "created"'
  rh diag list | grep -q "conv@vm.*VirtualMachine"
  rhd start conv
  run rh update --isolation=process conv
  [ "$status" -ne 0 ]
  [[ "$output" == *"container \`conv\` is running: only a created or stopped container can change isolation"* ]]
  rh kill conv KILL
  wait_status conv stopped
  rhd update --isolation=process conv
  run rh state conv
  echo "$output" | jq -e '.isolation == "process" and .status == "created"'
  rh delete conv
  assert_no_vm_leaks conv
}

@test "diag list and diag events show the VM and its container" {
  rhd run --detach --isolation=hypervisor --bundle "$BUNDLE" dg
  run rh diag list --format json
  vmm=$(rh state dg | jq -r .vmmPid)
  echo "$output" | jq -e '.[] | select(.id == "dg@vm") | .type == "VirtualMachine" and .state == "running" and .pid == '"$vmm"
  echo "$output" | jq -e '.[] | select(.id == "dg") | .type == "Container" and .owner == "dg@vm" and .isolation == "hypervisor"'
  rh kill dg KILL
  wait_status dg stopped
  run rh diag events
  for ev in vm-started container-created container-started container-exited vm-stopped; do
    echo "$output" | grep "\"id\":\"dg\"" | grep -q "\"type\":\"$ev\"" || fail "no $ev event"
  done
  echo "$output" | grep '"type":"container-exited"' | grep '"id":"dg"' | jq -e '.exitStatus == 137 and .time'
  rh delete dg
  assert_no_vm_leaks dg
}

@test "the isolation demo, as assertions" {
  run env RUNHV="$RUNHV" RUNHV_DEMO_ROOT="$ROOT/demo" bash "$RUNHV_SOURCE_DIR/scripts/demo.sh"
  echo "$output" | tail -20 >&3
  [ "$status" -eq 0 ]
  [[ "$output" == *"marker-hypervisor-isolated: no such process on the host"* ]]
  [[ "$output" == *"every check passed"* ]]
  ! pgrep -f "runhv-uvm-demo-" >/dev/null
}

@test "fault: the VMM is killed; the container stops with status 255 and delete cleans up" {
  rhd run --detach --isolation=hypervisor --bundle "$BUNDLE" f1
  vmm=$(rh state f1 | jq -r .vmmPid)
  kill -KILL "$vmm"
  wait_status f1 stopped
  run rh state f1
  echo "$output" | jq -e '.exitStatus == 255'
  rh diag events | grep '"id":"f1"' | grep -q vm-stopped
  rh delete f1
  assert_no_vm_leaks f1
}

@test "fault: a guest kernel panic stops the container with status 255" {
  # unmask /proc/sysrq-trigger so the container can panic its own kernel
  config '.linux.readonlyPaths = [] | .linux.maskedPaths = [] | .process.args = ["sh", "-c", "echo c > /proc/sysrq-trigger; sleep 100"]'
  run rh run --isolation=hypervisor --bundle "$BUNDLE" f2
  [ "$status" -eq 255 ]
  assert_no_vm_leaks f2
}

@test "fault: an agent that never answers is a bounded error naming the console log" {
  # a guest whose /init is not the agent: busybox's init never speaks
  mkdir -p "$TEST_DIR/guest/modules"
  cp "$GUEST_DIR/kernel-release" "$TEST_DIR/guest/"
  : > "$TEST_DIR/guest/modules/load-order"
  /usr/bin/python3 "$RUNHV_SOURCE_DIR/scripts/build-initramfs.py" "$TEST_DIR/mute.cpio" "$(command -v busybox)" "$TEST_DIR/guest"
  printf '[vm]\ninitrd = "%s"\nkernel = "%s"\nboot_timeout_ms = 5000\n' "$TEST_DIR/mute.cpio" "$GUEST_DIR/vmlinux" > "$TEST_DIR/runhv.toml"
  start=$(date +%s)
  run env RUNHV_CONFIG="$TEST_DIR/runhv.toml" "$RUNHV" --root "$ROOT" create --isolation=hypervisor --bundle "$BUNDLE" f3 </dev/null
  end=$(date +%s)
  [ "$status" -ne 0 ]
  [[ "$output" == *"the utility VM's agent did not answer within 5 s (see the guest console log \`$ROOT/vm-logs/f3.console.log\`)"* ]]
  [ -s "$ROOT/vm-logs/f3.console.log" ]
  [ $((end - start)) -lt 60 ]
  rm -f "$ROOT"/vm-logs/f3.*
  assert_no_vm_leaks f3
}

@test "missing kernel, initramfs or QEMU: the error says which and how to provision it" {
  printf '[vm]\nkernel = "/nonexistent/vmlinux"\n' > "$TEST_DIR/k.toml"
  run env RUNHV_CONFIG="$TEST_DIR/k.toml" "$RUNHV" --root "$ROOT" create --isolation=hypervisor --bundle "$BUNDLE" m1 </dev/null
  [[ "$output" == *"guest kernel \`/nonexistent/vmlinux\` is missing (provision it with \`make guest\`"* ]]
  printf '[vm]\ninitrd = "/nonexistent/initramfs.cpio"\n' > "$TEST_DIR/i.toml"
  run env RUNHV_CONFIG="$TEST_DIR/i.toml" "$RUNHV" --root "$ROOT" create --isolation=hypervisor --bundle "$BUNDLE" m2 </dev/null
  [[ "$output" == *"initramfs \`/nonexistent/initramfs.cpio\` is missing (build it with \`make guest\`"* ]]
  printf '[vm]\nqemu = "/nonexistent/qemu"\n' > "$TEST_DIR/q.toml"
  run env RUNHV_CONFIG="$TEST_DIR/q.toml" "$RUNHV" --root "$ROOT" create --isolation=hypervisor --bundle "$BUNDLE" m3 </dev/null
  [[ "$output" == *"QEMU (qemu-system-x86_64) is not installed (apt-get install qemu-system-x86"* ]]
  for id in m1 m2 m3; do assert_no_vm_leaks $id; done
}

@test "a client sending garbage to the VM supervisor is refused; the VM keeps running" {
  rhd run --detach --isolation=hypervisor --bundle "$BUNDLE" g1
  /usr/bin/python3 - "$ROOT/g1/vm.sock" <<'P'
import socket, struct, sys
def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(sys.argv[1])
    return s
for junk in (b"hello", b"\x00" * 16, struct.pack(">IBBHII", 0x52485641, 1, 1, 0, 1, 999999) , struct.pack(">IBBHII", 0x52485641, 1, 1, 0, 1, 5) + b"{nope"):
    s = conn()
    s.send(junk)
    s.settimeout(5)
    try:
        s.recv(65536)
    except OSError:
        pass
    s.close()
P
  [ "$(status_of g1)" = running ]
  run rh exec g1 echo still-here
  [ "$output" = still-here ]
  rh delete --force g1
  assert_no_vm_leaks g1
}

@test "podman drives hypervisor isolation with --annotation io.runhv.isolation=hypervisor" {
  pmdir=$(mktemp -d /tmp/runhv-podman-hv.XXXXXX)
  printf '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\n' > "$pmdir/containers.conf"
  pm() { CONTAINERS_CONF="$pmdir/containers.conf" podman --root "$pmdir/storage" --runroot "$pmdir/run" --runtime "$RUNHV" --cgroup-manager cgroupfs --events-backend file --storage-driver vfs "$@"; }
  pm load -i "$RUNHV_BUILD_DIR/test-assets/busybox.tar" >/dev/null
  run pm run --rm --network none --annotation io.runhv.isolation=hypervisor localhost/runhv-test/busybox sh -c 'uname -r; exit 3'
  [ "$status" -eq 3 ]
  [ "${lines[0]}" = "$(cat "$GUEST_DIR/kernel-release")" ]
  pm run -d --name vmx --network none --annotation io.runhv.isolation=hypervisor localhost/runhv-test/busybox sleep 1000
  run pm exec vmx uname -r
  [ "$output" = "$(cat "$GUEST_DIR/kernel-release")" ]
  # podman top: the container's processes as the host sees them are its
  # VM (QEMU alone), never the host's; ps(1) options run ps in the guest
  run pm top vmx pid args
  [ "$status" -eq 0 ] || fail "top: $output"
  [ "${#lines[@]}" -eq 2 ] || fail "podman top lists more than the VM: $output"
  [[ "${lines[1]}" == *"/vmm -name runhv-uvm-"* ]] || fail "$output"
  run pm top vmx -ef
  [ "$status" -eq 0 ] || fail "top -ef: $output"
  [[ "$output" == *"sleep 1000"* ]] || fail "top -ef: $output"
  pm rm -f -t 0 vmx
  pm system reset -f >/dev/null 2>&1 || true
  rm -rf "$pmdir"
  if pgrep -f "runhv-uvm-" >/dev/null; then fail "a VM is left"; fi
}

#!/usr/bin/env bats
# The seed's central path, end to end: a RuntimeClass's handler
# (runhv-process, runhv-hypervisor, from `runhv config containerd`) → the
# CRI of a private Debian containerd → containerd-shim-runhv-v1 → the pod,
# driven the way kubelet drives it (tests/lib/cri/cri.py speaks runtime.v1).
# Pods get a CNI network (bridge + host-local) and must answer HTTP at their
# pod IP with either isolation.  The shim under test is the sanitizer build;
# its ASan reports land in files checked at the end.

load helpers
bats_require_minimum_version 1.5.0
source "$RUNHV_SOURCE_DIR/tests/lib/containerd-cri.sh"

SHIM_ROOT=/run/runhv
MEM_MB=384

setup_file() {
  : "${RUNHV_SHIM:?RUNHV_SHIM must point at containerd-shim-runhv-v1}"
  [[ -f "$GUEST_DIR/initramfs.cpio" ]] || { echo "no guest artifacts in $GUEST_DIR: run scripts/provision-guest.sh" >&2; return 1; }
  export CRI_TEST_DIR=$(mktemp -d /tmp/runhv-shim-cri.XXXXXX)
  export ASAN_DIR="$CRI_TEST_DIR.asan"
  mkdir -p "$CRI_TEST_DIR/bin" "$CRI_TEST_DIR/etc" "$ASAN_DIR"
  ln -s "$RUNHV_SHIM" "$CRI_TEST_DIR/bin/containerd-shim-runhv-v1"
  # the node's handlers exactly as an operator installs them, plus one whose
  # options file is missing (the seed's troubleshooting case)
  "$RUNHV" config containerd --sizes 1vp512mb --output-dir "$CRI_TEST_DIR/etc" > "$CRI_TEST_DIR/snippet.toml"
  cat >> "$CRI_TEST_DIR/snippet.toml" <<EOF
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runhv-broken]
  runtime_type = "io.containerd.runhv.v1"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runhv-broken.options]
    ConfigPath = "$CRI_TEST_DIR/etc/missing.toml"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runhv-seed]
  runtime_type = "io.containerd.runhv.v1"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runhv-seed.options]
    Debug = true
    DebugType = 2
    SandboxIsolation = 1
EOF
  ASAN_OPTIONS="detect_leaks=1:log_path=$ASAN_DIR/report" cri_start "$CRI_TEST_DIR" "$CRI_TEST_DIR/bin" "$CRI_TEST_DIR/snippet.toml"
}

teardown_file() {
  local reports rc=0
  # containerd's log (the shims write theirs into it) outlives the run, for a failure
  cp "$CRI_LOG" "$RUNHV_BUILD_DIR/meson-logs/shim-cri-containerd.log" 2>/dev/null || true
  cri_stop "$CRI_TEST_DIR" || rc=1
  reports=$(cat "$ASAN_DIR"/report* 2>/dev/null)
  rm -rf "$ASAN_DIR"
  [[ -z "$reports" ]] || { echo "ASan/UBSan reports from the shim:" >&2; echo "$reports" >&2; return 1; }
  return $rc
}

pod_json() {
  local name=$1
  shift
  cri_pod_config "$name" "$name-uid" | jq "$@"
}

# cri with bats' `run` and a file for what the detached daemons inherit
state_of() { cri inspect "$1" | jq -r .status.state; }
pod_ip() { cri inspectp "$1" | jq -r .status.network.ip; }
vmm_of() { pgrep -f "runhv-uvm-$1[, ]"; }
# the serving shims of pod $1 (runhv-shim; `shim start` runs under the
# same command line for a moment)
shims_of() { pgrep -f "containerd-shim-runhv-v1 .*-id $1( |$)" | xargs -r ps -o comm= -p | grep -cx runhv-shim; }

# Start pod $1 with handler $2 (jq arguments after it edit the pod's
# config) and containers web (httpd on 8080) and side
# (sleep); ids in $CRI_TEST_DIR.<name>.{pod,web,side}
start_pod() {
  local name=$1 handler=$2
  shift 2
  [[ $# -gt 0 ]] || set -- .
  pod_json "$name" "$@" > "$CRI_TEST_DIR/$name.pod.json"
  run cri runp --runtime "$handler" "$CRI_TEST_DIR/$name.pod.json"
  [ "$status" -eq 0 ] || fail "runp $name: $output"
  echo "$output" > "$CRI_TEST_DIR/$name.pod"
  local c
  for c in web side; do
    if [[ $c == web ]]; then
      cri_container_config web "$CRI_BUSYBOX_IMAGE" sh -c "echo hello-$name; echo to-stderr >&2; exec httpd -f -p 8080 -h /etc"
    else
      cri_container_config side "$CRI_BUSYBOX_IMAGE" sleep 1000
    fi > "$CRI_TEST_DIR/$name.$c.json"
    run cri create "$(cat "$CRI_TEST_DIR/$name.pod")" "$CRI_TEST_DIR/$name.$c.json" "$CRI_TEST_DIR/$name.pod.json"
    [ "$status" -eq 0 ] || fail "create $name/$c: $output"
    echo "$output" > "$CRI_TEST_DIR/$name.$c"
    run cri start "$output"
    [ "$status" -eq 0 ] || fail "start $name/$c: $output"
  done
}

id_of() { cat "$CRI_TEST_DIR/$1"; }

# RunPodSandbox of $CRI_TEST_DIR/NAME.pod.json on HANDLER: its id in $pod.
runp_on() {
  pod=$(cri runp --runtime "$2" "$CRI_TEST_DIR/$1.pod.json" 2>&1) || fail "runp $1 on $2: $pod"
}

# CreateContainer of CONFIG in $pod, made from NAME.pod.json: its id in $c.
create_in() {
  c=$(cri create "$pod" "$1" "$CRI_TEST_DIR/$2.pod.json" 2>&1) || fail "create $1 in $2: $c"
}

# A directory of the test's that is a shared mount of its own, as kubelet
# makes its pods' hostPath parents: print its path.
shared_mount_dir() {
  local d=$CRI_TEST_DIR/$1
  mkdir -p "$d" && mount --bind "$d" "$d" && mount --make-shared "$d" && echo "$d"
}

@test "runhv-process pod: two containers, one shim, exec, logs, stats, HTTP at the pod IP" {
  start_pod pp runhv-process
  local pod web side
  pod=$(id_of pp.pod) web=$(id_of pp.web) side=$(id_of pp.side)
  [ "$(state_of "$web")" = CONTAINER_RUNNING ]
  [ "$(state_of "$side")" = CONTAINER_RUNNING ]
  cri inspectp "$pod" | jq -e '.status.state == "SANDBOX_READY" and .status.runtimeHandler == "runhv-process"'
  # the pod's containers are served by the sandbox's shim, and no other
  [ "$(shims_of "$pod")" -eq 1 ]
  [ "$(pgrep -x runhv-shim | xargs -r ps -o args= -p | grep -c -- "-address $CRI_DIR/")" -eq 1 ]
  # process isolation: the host's kernel
  run cri exec-sync "$side" -- cat /proc/sys/kernel/random/boot_id
  [ "$status" -eq 0 ]
  [ "$output" = "$(cat /proc/sys/kernel/random/boot_id)" ]
  run cri exec-sync "$web" -- sh -c 'echo out-line; echo err-line >&2; exit 3'
  [ "$status" -eq 3 ]
  [[ "$output" == *out-line* ]]
  # runhv sees every container of the pod and says how each is isolated
  run "$RUNHV" --root $SHIM_ROOT diag list --format json
  echo "$output" | jq -e --arg p "$pod" --arg w "$web" --arg s "$side" \
    '[.[] | select(.id == $p or .id == $w or .id == $s) | select(.isolation == "process" and .owner == "containerd")] | length == 3'
  wait_for 50 bash -c "source '$RUNHV_SOURCE_DIR/tests/lib/containerd-cri.sh'; cri logs '$web' 2>/dev/null | grep -qx hello-pp"
  run cri stats "$web"
  echo "$output" | jq -e '(.stats[0].memory.workingSetBytes.value | tonumber) > 0'
  local ip
  ip=$(pod_ip "$pod")
  [[ "$ip" == 10.88.* ]]
  wait_for 50 cri_http_get -o /dev/null "http://$ip:8080/hostname"
  run cri_http_get "http://$ip:8080/hostname"
  [ "$output" = pp ]
}

@test "runhv-hypervisor pod: both containers in one VM sized by the pod's annotations; HTTP at the pod IP" {
  start_pod ph runhv-hypervisor --arg m "$MEM_MB" '.annotations = {
      "io.runhv.virtualmachine.computetopology.memory.sizeinmb": $m,
      "io.microsoft.virtualmachine.computetopology.processor.count": "2"}'
  local pod web side
  pod=$(id_of ph.pod) web=$(id_of ph.web) side=$(id_of ph.side)
  [ "$(state_of "$web")" = CONTAINER_RUNNING ]
  [ "$(state_of "$side")" = CONTAINER_RUNNING ]
  [ "$(shims_of "$pod")" -eq 1 ]
  # one VMM for the whole pod
  [ "$(vmm_of "$pod" | wc -l)" -eq 1 ]
  [ -z "$(vmm_of "$web")" ]
  # the pod's shim hosts its VM: QEMU is its child, and while an exec
  # runs in the VM no supervisor or host stand-in is (only QEMU and the
  # jail's cgroup reaper are the shim's children)
  local shim vmm kids
  shim=$(pgrep -f "containerd-shim-runhv-v1 .*-id $pod( |$)" | xargs -r ps -o pid=,comm= -p | awk '$2 == "runhv-shim" { print $1 }')
  vmm=$(vmm_of "$pod")
  [ "$(ps -o ppid= -p "$vmm" | tr -d ' ')" = "$shim" ] || fail "QEMU's parent is not the shim $shim: $(ps -o ppid=,args= -p "$vmm")"
  # an exec that runs until the test ends it, so the check below cannot
  # come after it on a slow host
  cri exec-sync "$side" -- sleep 4242 >/dev/null &
  local bg=$!
  wait_for 100 bash -c "'$RUNHV' --root $SHIM_ROOT exec '$side' sh -c 'ps | grep -c \"[s]leep 4242\"' | grep -qx 1" ||
    fail "the exec'd sleep never ran"
  kids=$(ps -o comm= --ppid "$shim" | sort | tr '\n' ' ')
  [[ "$kids" != *runhv-vmsup* && "$kids" != *runhv-vmproxy* ]] || fail "the shim's children: $kids"
  [ "$(ps -o comm= --ppid "$shim" | grep -cv '^sh$')" -eq 1 ] || fail "the shim's children: $kids"
  "$RUNHV" --root $SHIM_ROOT exec "$side" sh -c 'kill $(ps | awk "/[s]leep 4242/ { print \$1 }")'
  wait "$bg" || true # ExecSync reports the signal that ended the sleep
  # the CLI reaches the VM through the shim's session: state, and an exec
  # whose status is the process's
  [ "$("$RUNHV" --root $SHIM_ROOT state "$side" | jq -r .status)" = running ]
  run "$RUNHV" --root $SHIM_ROOT exec "$side" sh -c 'exit 7'
  [ "$status" -eq 7 ]
  # both containers see the same guest kernel, not the host's
  local b1 b2
  b1=$(cri exec-sync "$web" -- cat /proc/sys/kernel/random/boot_id)
  b2=$(cri exec-sync "$side" -- cat /proc/sys/kernel/random/boot_id)
  [ "$b1" = "$b2" ]
  [ "$b1" != "$(cat /proc/sys/kernel/random/boot_id)" ]
  run cri exec-sync "$side" -- uname -r
  [ "$output" = "$(cat "$GUEST_DIR/kernel-release")" ]
  # the sizing annotations (runhv's and the seed's io.microsoft spelling)
  # reached the VM through the handler's pod_annotations
  run cri exec-sync "$side" -- nproc
  [ "$output" = 2 ]
  local kb
  kb=$(cri exec-sync "$side" -- awk '/^MemTotal/ { print $2 }' /proc/meminfo)
  [ "$kb" -gt $((MEM_MB * 1024 * 3 / 4)) ]
  [ "$kb" -le $((MEM_MB * 1024)) ]
  # diag list: one VirtualMachine for the pod, its containers inside it
  run "$RUNHV" --root $SHIM_ROOT diag list --format json
  echo "$output" | jq -e --arg p "$pod" --arg w "$web" --arg s "$side" '
    [.[] | select(.id == $p or .id == $w or .id == $s) | select(.isolation == "hypervisor")] | length == 3'
  run "$RUNHV" --root $SHIM_ROOT diag list
  [[ "$output" == *VirtualMachine* ]]
  # the guest has the pod's IP; the host reaches the server in the VM
  local ip
  ip=$(pod_ip "$pod")
  [[ "$ip" == 10.88.* ]]
  run cri exec-sync "$side" -- ip -4 -o addr show eth0
  [[ "$output" == *"$ip/16"* ]] || fail "eth0 in the VM: $output"
  wait_for 100 cri_http_get -o /dev/null "http://$ip:8080/hostname"
  run cri_http_get "http://$ip:8080/hostname"
  [ "$output" = ph ]
  # logs through the CRI, written by the shim from the guest's stdout
  wait_for 50 bash -c "source '$RUNHV_SOURCE_DIR/tests/lib/containerd-cri.sh'; cri logs '$web' 2>/dev/null | grep -qx hello-ph"
  run cri stats "$side"
  echo "$output" | jq -e '(.stats[0].memory.workingSetBytes.value | tonumber) > 0'
}

@test "a container the OOM killer ends is OOMKilled in the CRI, in both pods (the guest's OOM for the VM)" {
  local p id
  for p in pp ph; do
    # a 64 MiB buffer against a 32 MiB limit
    cri_container_config oom "$CRI_BUSYBOX_IMAGE" dd if=/dev/zero of=/dev/null bs=64M count=1 |
      jq '.linux.resources.memory_limit_in_bytes = 33554432' > "$CRI_TEST_DIR/$p.oom.json"
    id=$(cri create "$(id_of $p.pod)" "$CRI_TEST_DIR/$p.oom.json" "$CRI_TEST_DIR/$p.pod.json")
    cri start "$id"
    wait_for 100 bash -c "source '$RUNHV_SOURCE_DIR/tests/lib/containerd-cri.sh'; [ \"\$(cri inspect '$id' | jq -r .status.state)\" = CONTAINER_EXITED ]"
    run cri inspect "$id"
    echo "$output" | jq -e '.status.exitCode == 137 and .status.reason == "OOMKilled"'
    run cri rm "$id"
    [ "$status" -eq 0 ]
  done
  # the pods live on
  run cri exec-sync "$(id_of ph.side)" -- true
  [ "$status" -eq 0 ]
}

# kubelet's shareProcessNamespace and pod sysctls: a pod's containers join
# the sandbox's PID, IPC and UTS namespaces, on the host for runc-style pods
# and inside the guest for a VM pod (where the pause process is the VM's).
@test "pod namespaces: with a shared PID namespace pause is PID 1, and the pod's sysctls and hostname hold, in both isolations" {
  local handler name pod c
  for handler in runhv-process runhv-hypervisor; do
    name=ns-${handler#runhv-}
    pod_json "$name" '.linux = {security_context: {namespace_options: {pid: "POD"}},
      sysctls: {"kernel.shm_rmid_forced": "1", "kernel.msgmax": "4096"}}' > "$CRI_TEST_DIR/$name.pod.json"
    runp_on "$name" "$handler"
    cri_container_config app "$CRI_BUSYBOX_IMAGE" sleep 1000 |
      jq '.linux = {security_context: {namespace_options: {pid: "POD"}}}' > "$CRI_TEST_DIR/$name.app.json"
    create_in "$CRI_TEST_DIR/$name.app.json" "$name"
    run cri start "$c"
    [ "$status" -eq 0 ] || fail "$handler: start: $output"
    run cri exec-sync "$c" -- sh -c 'tr "\0" " " </proc/1/cmdline; echo; cat /proc/sys/kernel/shm_rmid_forced /proc/sys/kernel/msgmax; hostname; ps -o comm= | grep -c sleep'
    [ "$status" -eq 0 ] || fail "$handler: $output"
    [[ "${lines[0]}" == *pause* ]] || fail "$handler: PID 1 is ${lines[0]}, not the pod's pause"
    [ "${lines[1]}" = 1 ] || fail "$handler: kernel.shm_rmid_forced is ${lines[1]}: the pod's IPC namespace is not shared"
    [ "${lines[2]}" = 4096 ] || fail "$handler: kernel.msgmax is ${lines[2]}"
    [ "${lines[3]}" = "$name" ] || fail "$handler: hostname ${lines[3]}"
    [ "${lines[4]}" = 1 ] || fail "$handler: $output"
    cri stopp "$pod" >/dev/null
    cri rmp "$pod" >/dev/null
  done
}

# kubelet stops a container right after starting it (a failed probe, a
# rollout): the SIGTERM must reach the program, which exits 0 from its trap,
# not be lost to an init still at default dispositions (which the kernel
# drops for a PID 1) and end in the SIGKILL after the grace period (137).
@test "StopContainer right after StartContainer delivers SIGTERM, 10 times in a row, in both isolations" {
  local handler name pod c i code
  for handler in runhv-process runhv-hypervisor; do
    name=stop-${handler#runhv-}
    pod_json "$name" . > "$CRI_TEST_DIR/$name.pod.json"
    runp_on "$name" "$handler"
    for i in $(seq 10); do
      cri_container_config "t$i" "$CRI_BUSYBOX_IMAGE" sh -c 'trap "exit 0" TERM; while :; do sleep 0.05; done' \
        > "$CRI_TEST_DIR/$name.t.json"
      create_in "$CRI_TEST_DIR/$name.t.json" "$name"
      cri start "$c" >/dev/null || fail "$handler: start $i"
      cri stop -t 60 "$c" >/dev/null || fail "$handler: stop $i"
      code=$(cri inspect "$c" | jq -r .status.exitCode)
      [ "$code" = 0 ] || fail "$handler, attempt $i: exit code $code (the SIGTERM was lost; SIGKILL ended it)"
      cri rm "$c" >/dev/null
    done
    cri stopp "$pod" >/dev/null
    cri rmp "$pod" >/dev/null
  done
}

# kubelet names a pod cgroup (cgroup_parent) and reads the pod's use from
# it (ListPodSandboxStats): a VM pod's host processes, QEMU included, live
# under it, so a busy loop in the guest shows up as the pod's CPU, as it
# does for a runc pod.  A hostPath whose propagation is HostToContainer
# (rslave) sees a mount the host makes after the pod started.
@test "pod cgroup, statsp and HostToContainer propagation: the same in both isolations" {
  local handler name pod c parent hp before after vmm d sup
  hp=$(shared_mount_dir hostpath)
  for handler in runhv-process runhv-hypervisor; do
    name=cg-${handler#runhv-}
    parent=/runhv-cri-$name
    pod_json "$name" --arg p "$parent" '.linux = {cgroup_parent: $p}' > "$CRI_TEST_DIR/$name.pod.json"
    runp_on "$name" "$handler"
    cri_container_config busy "$CRI_BUSYBOX_IMAGE" sh -c 'while :; do :; done' |
      jq --arg hp "$hp" '.mounts = [{container_path: "/hp", host_path: $hp, propagation: "PROPAGATION_HOST_TO_CONTAINER"}]' \
      > "$CRI_TEST_DIR/$name.c.json"
    create_in "$CRI_TEST_DIR/$name.c.json" "$name"
    run cri start "$c"
    [ "$status" -eq 0 ] || fail "$handler: start: $output"
    if [ "$handler" = runhv-hypervisor ]; then
      # the VM's host process, QEMU, is under the pod's cgroup (in
      # runhv-vm-ID/vmm); the shim that hosts it stays where containerd
      # put it, as a runc pod's shim does
      vmm=$(vmm_of "$pod")
      grep -qx "[0-9]*:memory:$parent/runhv-vm-$pod/vmm" /proc/$vmm/cgroup || fail "QEMU: $(cat /proc/$vmm/cgroup)"
      d=/sys/fs/cgroup/cpuacct$parent/runhv-vm-$pod
      sup=$(find "$d" -name cgroup.procs -exec cat {} + | sort -u | tr '\n' ' ')
      [ "$sup" = "$vmm " ] || fail "processes under $d: $sup (QEMU is $vmm)"
    fi
    run cri statsp "$pod"
    [ "$status" -eq 0 ] || fail "$handler: statsp: $output"
    before=$(echo "$output" | jq -r '.stats[0].linux.cpu.usageCoreNanoSeconds.value')
    sleep 3
    run cri statsp "$pod"
    [ "$status" -eq 0 ] || fail "$handler: statsp: $output"
    after=$(echo "$output" | jq -r '.stats[0].linux.cpu.usageCoreNanoSeconds.value')
    # a busy loop for 3 s on a 2-CPU host: well over 0.8 s of CPU
    [ $((after - before)) -gt 800000000 ] || fail "$handler: the pod used $((after - before)) ns of CPU in 3 s of a busy loop"
    echo "$output" | jq -e '(.stats[0].linux.memory.workingSetBytes.value | tonumber) > 0' >/dev/null ||
      fail "$handler: memory: $output"
    cri stop -t 1 "$c" >/dev/null
    cri rm "$c" >/dev/null
    # the propagation, with a waiting container
    cri_container_config hp "$CRI_BUSYBOX_IMAGE" sleep 1000 |
      jq --arg hp "$hp" '.mounts = [{container_path: "/hp", host_path: $hp, propagation: "PROPAGATION_HOST_TO_CONTAINER"}]' \
      > "$CRI_TEST_DIR/$name.hp.json"
    create_in "$CRI_TEST_DIR/$name.hp.json" "$name"
    cri start "$c" >/dev/null || fail "$handler: start"
    mkdir -p "$hp/sub-$name"
    mount -t tmpfs -o size=1m none "$hp/sub-$name"
    echo "mounted-later" > "$hp/sub-$name/file"
    run cri exec-sync "$c" -- cat "/hp/sub-$name/file"
    umount "$hp/sub-$name"
    [ "$status" -eq 0 ] || fail "$handler: a mount made after start did not reach the rslave container: $output"
    [ "$output" = mounted-later ] || fail "$handler: $output"
    cri stopp "$pod" >/dev/null
    cri rmp "$pod" >/dev/null
    # nothing left under the pod cgroup (kubelet removes the pod cgroup)
    wait_for 100 bash -c "! compgen -G '/sys/fs/cgroup/*$parent/*/' >/dev/null" ||
      fail "$handler: left under $parent: $(compgen -G "/sys/fs/cgroup/*$parent/*/")"
    for d in /sys/fs/cgroup/*$parent; do rmdir "$d" || fail "$handler: $d"; done
  done
  umount "$hp"
}

# containerd turns a Bidirectional mount into an rshared bind and an rshared
# rootfs: runc-style pods get both; a mount made in a VM's guest can never
# reach the host, so a VM pod refuses it, naming the mount, not silently.
@test "Bidirectional propagation: a process pod runs it (an rshared rootfs); a VM pod refuses it, naming the mount" {
  local handler name pod c hp
  hp=$(shared_mount_dir bidir)
  for handler in runhv-process runhv-hypervisor; do
    name=bd-${handler#runhv-}
    pod_json "$name" . > "$CRI_TEST_DIR/$name.pod.json"
    runp_on "$name" "$handler"
    cri_container_config bd "$CRI_BUSYBOX_IMAGE" sleep 1000 |
      jq --arg hp "$hp" '.mounts = [{container_path: "/bd", host_path: $hp, propagation: "PROPAGATION_BIDIRECTIONAL"}]' \
      > "$CRI_TEST_DIR/$name.c.json"
    create_in "$CRI_TEST_DIR/$name.c.json" "$name"
    run cri start "$c"
    if [ "$handler" = runhv-process ]; then
      [ "$status" -eq 0 ] || fail "$handler: start: $output"
      # the bind is shared with the host's mount (the root's propagation is
      # runc 1.1's, checked against runc in runc-mounts.bats)
      run cri exec-sync "$c" -- grep " /bd " /proc/self/mountinfo
      [[ "$output" == *shared:* ]] || fail "$handler: /bd is not shared: $output"
    else
      [ "$status" -ne 0 ] || fail "$handler: a Bidirectional mount was accepted in a VM"
      [[ "$output" == *'(`/bd`): shared propagation: a mount made inside a VM cannot reach the host'* ]] || fail "$output"
    fi
    cri rm -f "$c" >/dev/null
    cri stopp "$pod" >/dev/null
    cri rmp "$pod" >/dev/null
  done
  umount "$hp"
}

# A VM cannot share the host's namespaces: a hostNetwork/hostIPC/hostPID pod
# on the VM handler fails at once, naming the namespace, leaving nothing.
@test "a VM pod asking for a host namespace is refused, naming it; process isolation runs it" {
  local ns before
  before=$(ls $SHIM_ROOT 2>/dev/null | sort)
  for ns in network ipc pid; do
    # kubelet gives a host-network pod no hostname (runc refuses one too)
    pod_json "host-$ns" --arg ns "$ns" '.linux = {security_context: {namespace_options: {($ns): "NODE"}}}
      | if $ns == "network" then del(.hostname) else . end' > "$CRI_TEST_DIR/host-$ns.pod.json"
    run cri runp --runtime runhv-hypervisor "$CRI_TEST_DIR/host-$ns.pod.json"
    [ "$status" -ne 0 ] || { cri stopp "$output"; cri rmp "$output"; fail "host $ns accepted for a VM pod"; }
    [[ "$output" == *"no \`$ns\` namespace means the host's, which a VM container cannot share"* ]] || fail "$ns: $output"
  done
  [ "$(ls $SHIM_ROOT 2>/dev/null | sort)" = "$before" ] || fail "state left behind"
  run cri runp --runtime runhv-process "$CRI_TEST_DIR/host-ipc.pod.json"
  [ "$status" -eq 0 ] || fail "process isolation refused hostIPC: $output"
  cri stopp "$output" >/dev/null
  cri rmp "$output" >/dev/null
}

@test "a container created in a VM-isolated pod but never started is removed cleanly" {
  local pod id
  pod=$(id_of ph.pod)
  cri_container_config never "$CRI_BUSYBOX_IMAGE" sleep 1000 > "$CRI_TEST_DIR/never.json"
  run cri create "$pod" "$CRI_TEST_DIR/never.json" "$CRI_TEST_DIR/ph.pod.json"
  [ "$status" -eq 0 ]
  id=$output
  [ "$(state_of "$id")" = CONTAINER_CREATED ]
  # the CRI makes the task only at StartContainer: a containerd container
  # and its snapshot, nothing in the VM yet
  [ ! -e "$SHIM_ROOT/$id" ]
  cri_ctr containers ls -q | grep -qx "$id"
  cri_ctr snapshots ls | grep -q "^$id "
  run cri rm "$id"
  [ "$status" -eq 0 ]
  if cri_ctr containers ls -q | grep -qx "$id"; then return 1; fi
  if cri_ctr snapshots ls | grep -q "^$id "; then return 1; fi
  [ ! -e "$SHIM_ROOT/$id" ]
  if grep -q "/$id/rootfs " /proc/self/mountinfo; then return 1; fi
  # the pod's VM and its other containers are untouched
  [ "$(vmm_of "$pod" | wc -l)" -eq 1 ]
  run cri exec-sync "$(id_of ph.side)" -- true
  [ "$status" -eq 0 ]
}

@test "containerd restarts while both pods run: the shims are reconnected and the pods keep running" {
  local vmm
  vmm=$(vmm_of "$(id_of ph.pod)")
  cri_containerd_restart "$CRI_DIR"
  [ "$(state_of "$(id_of pp.web)")" = CONTAINER_RUNNING ]
  [ "$(state_of "$(id_of ph.web)")" = CONTAINER_RUNNING ]
  [ "$(vmm_of "$(id_of ph.pod)")" = "$vmm" ]
  run cri exec-sync "$(id_of ph.side)" -- echo still-here
  [ "$output" = still-here ]
  run cri exec-sync "$(id_of pp.side)" -- echo still-here
  [ "$output" = still-here ]
  run cri_http_get "http://$(pod_ip "$(id_of ph.pod)"):8080/hostname"
  [ "$output" = ph ]
}

@test "runhv diag check verifies the node: handlers in containerd's config, guest, accelerator, running VMs" {
  run env RUNHV_CONTAINERD_CONFIG="$CRI_CONFIG" "$RUNHV" --root $SHIM_ROOT diag check
  [[ "$output" == *"✓ containerd $CRI_CONFIG: handler runhv-hypervisor"* ]]
  [[ "$output" == *"✓ containerd $CRI_CONFIG: handler runhv-process"* ]]
  [[ "$output" == *"✓ containerd $CRI_CONFIG: 1 sized runhv-hypervisor-* handler"* ]]
  [[ "$output" =~ ✓\ compute\ systems\ under\ /run/runhv:\ [1-9][0-9]*\ running\ utility\ VM ]]
  [[ "$output" == *"✓ guest kernel: $GUEST_DIR/vmlinux"* ]]
  [[ "$output" == *"✓ accelerator: "* ]]
  # a node without the handlers: each missing one is a ✗ with its fix
  printf 'version = 2\n' > "$CRI_TEST_DIR/bare.toml"
  run env RUNHV_CONTAINERD_CONFIG="$CRI_TEST_DIR/bare.toml" "$RUNHV" --root $SHIM_ROOT diag check
  [ "$status" -ne 0 ]
  [[ "$output" == *"✗ containerd $CRI_TEST_DIR/bare.toml: handler runhv-hypervisor is missing — fix: add it with \`runhv config containerd\`"* ]]
  [[ "$output" == *"✗ containerd $CRI_TEST_DIR/bare.toml: handler runhv-process is missing"* ]]
  [ "${lines[-1]}" = "Some checks failed." ]
  # and one whose guest kernel is gone
  mkdir -p "$CRI_TEST_DIR/noguest"
  run env RUNHV_GUEST_DIR="$CRI_TEST_DIR/noguest" RUNHV_CONTAINERD_CONFIG="$CRI_CONFIG" "$RUNHV" --root $SHIM_ROOT diag check
  [ "$status" -ne 0 ]
  [[ "$output" == *"✗ hypervisor isolation: guest kernel \`$CRI_TEST_DIR/noguest/vmlinux\` is missing (provision it with \`make guest\`"* ]]
}

@test "an unknown handler and a missing options file fail clearly, leaving nothing" {
  # State directories are named by 64-hex sandbox ids, so "nothing left" is a
  # comparison of the whole listing, not a search for the pod's name.
  local before
  before=$(ls -A "$SHIM_ROOT" "$SHIM_ROOT/vm-logs" 2>&1)
  pod_json bad1 . > "$CRI_TEST_DIR/bad1.json"
  run cri runp --runtime runhv-nosuch "$CRI_TEST_DIR/bad1.json"
  [ "$status" -ne 0 ]
  [[ "$output" == *'no runtime for "runhv-nosuch" is configured'* ]]
  pod_json bad2 . > "$CRI_TEST_DIR/bad2.json"
  run cri runp --runtime runhv-broken "$CRI_TEST_DIR/bad2.json"
  [ "$status" -ne 0 ]
  [[ "$output" == *"$CRI_TEST_DIR/etc/missing.toml"* ]]
  [[ "$output" == *"runhv config containerd"* ]]
  run cri pods -q --name 'bad[12]'
  [ -z "$output" ]
  diff <(echo "$before") <(ls -A "$SHIM_ROOT" "$SHIM_ROOT/vm-logs" 2>&1)
}

@test "a handler written as the seed teaches (SandboxIsolation in its options) is loud, not silently process-isolated" {
  # containerd keeps only ConfigPath of a custom runtime's options
  run env RUNHV_CONTAINERD_CONFIG="$CRI_CONFIG" "$RUNHV" --root $SHIM_ROOT diag check
  [ "$status" -ne 0 ]
  [[ "$output" == *"✗ containerd $CRI_CONFIG: handler runhv-seed: options key \`SandboxIsolation\` is dropped by containerd (it passes a custom runtime only ConfigPath) — fix: move the key into the handler's runhv TOML file"* ]]
  [[ "$output" == *"handler runhv-seed: options key \`DebugType\` is dropped"* ]]
  [[ "$output" != *"handler runhv-hypervisor: options key"* ]]
  # and the shim says so at pod start
  local pod
  pod_json seed . > "$CRI_TEST_DIR/seed.json"
  pod=$(cri runp --runtime runhv-seed "$CRI_TEST_DIR/seed.json")
  grep -q "reached the shim without ConfigPath: containerd passes a custom runtime only ConfigPath" "$CRI_LOG"
  cri stopp "$pod"
  cri rmp "$pod"
}

@test "the VMM is killed: containerd gets the task exits with a non-zero status" {
  local pod web
  pod=$(id_of ph.pod) web=$(id_of ph.web)
  kill -KILL $(vmm_of "$pod")
  wait_for 100 bash -c "source '$RUNHV_SOURCE_DIR/tests/lib/containerd-cri.sh'; [ \"\$(cri inspect '$web' | jq -r .status.state)\" = CONTAINER_EXITED ]"
  run cri inspect "$web"
  echo "$output" | jq -e '.status.exitCode != 0'
}

@test "stopping and removing both pods leaves no VM, shim, mount, cgroup, tap device or state" {
  local p
  for p in pp ph; do
    run cri stopp "$(id_of $p.pod)"
    [ "$status" -eq 0 ]
    run cri rmp "$(id_of $p.pod)"
    [ "$status" -eq 0 ]
  done
  run cri pods -q
  [ -z "$output" ]
  wait_for 100 cri_no_leaks || fail "left behind: $(cri_leaks)"
  for p in pp.pod pp.web pp.side ph.pod ph.web ph.side; do
    local id
    id=$(id_of $p)
    [[ ! -e "$SHIM_ROOT/$id" ]] || fail "runhv state of $p left behind"
    [[ -z "$(vmm_of "$id")" ]] || fail "a VMM of $p is still running"
    [[ ! -e "$SHIM_ROOT/vm-logs/$id.console.log" ]] || fail "console log of $p left behind"
    ! compgen -G "/sys/fs/cgroup/*/k8s.io/$id" >/dev/null || fail "cgroup of $p left behind"
  done
  run cri_netns_exec ip -o link show type tun
  [ -z "$output" ]
  run cri_netns_exec ip -o link show type veth
  [ -z "$output" ]
}

#!/usr/bin/env bats
# The CRI test harness (tests/lib/containerd-cri.sh, tests/lib/cri/cri.py)
# proven with containerd's own runc handler: a private containerd with its
# CRI plugin, in a network namespace made for it, runs a pod the way kubelet
# would (RunPodSandbox → CreateContainer → StartContainer → … → Remove) and
# leaves nothing behind.

load helpers
source "$RUNHV_SOURCE_DIR/tests/lib/containerd-cri.sh"

setup_file() {
  export CRI_TEST_DIR=$(mktemp -d /tmp/runhv-cri.XXXXXX)
  # the pod's cgroup parent, as kubelet's cgroupfs driver would give it
  export CG_TOP="runhv-cri-test-$$"
  ls /var/run/netns > "$CRI_TEST_DIR.netns-before" 2>/dev/null || true
  cri_start "$CRI_TEST_DIR"
}

teardown_file() {
  cri_stop "$CRI_TEST_DIR"
  local rc=$?
  local d
  for d in /sys/fs/cgroup/*/"$CG_TOP"; do
    [[ -d "$d" ]] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
  rm -f "$CRI_TEST_DIR".*
  return $rc
}

POD_HOSTNAME=cri-demo

pod_json() {
  cri_pod_config cri-demo cri-demo-uid-1 | jq --arg cg "/$CG_TOP/podcri-demo-uid-1" --arg h "$POD_HOSTNAME" \
    '.hostname = $h | .labels = {app: "cri-demo"} | .linux.cgroup_parent = $cg'
}

pod_id() { cat "$CRI_TEST_DIR.pod"; }
ctr_id() { cat "$CRI_TEST_DIR.ctr"; }

@test "the private containerd serves CRI runtime.v1, runtime and network ready" {
  run cri version
  [ "$status" -eq 0 ]
  [[ "$output" == *"RuntimeName:  containerd"* ]]
  [[ "$output" == *"RuntimeApiVersion:  v1"* ]]
  run cri status
  [ "$status" -eq 0 ]
  echo "$output" | jq -e '[.status.conditions[] | select(.status)] | length == 2'
  run cri images -q
  [ "${#lines[@]}" -eq 2 ]
  # the CNI bridge (made at the first pod) is never on the host
  run ip link show runhvcni0
  [ "$status" -ne 0 ]
}

@test "RunPodSandbox with handler runc: a ready sandbox with a pod IP" {
  pod_json > "$CRI_TEST_DIR.pod.json"
  run cri runp --runtime runc "$CRI_TEST_DIR.pod.json"
  [ "$status" -eq 0 ]
  [[ "$output" =~ ^[0-9a-f]{64}$ ]]
  echo "$output" > "$CRI_TEST_DIR.pod"
  run cri inspectp "$(pod_id)"
  [ "$status" -eq 0 ]
  echo "$output" | jq -e '.status.state == "SANDBOX_READY" and .status.runtimeHandler == "runc"'
  echo "$output" | jq -e '.status.network.ip | startswith("10.88.")'
  echo "$output" | jq -r .status.network.ip > "$CRI_TEST_DIR.ip"
  # the sandbox runs our /pause, restricted to containerd's own oom_score_adj
  echo "$output" | jq -e '.info.info.runtimeSpec.process.args == ["/pause"]'
  echo "$output" | jq -e '.info.info.runtimeSpec.process.oomScoreAdj >= 0'
  local netns
  netns=$(echo "$output" | jq -r '.info.info.runtimeSpec.linux.namespaces[] | select(.type == "network") | .path')
  [[ "$netns" == "$CRI_DIR/state/"* ]]
  echo "$netns" > "$CRI_TEST_DIR.podnetns"
  run cri pods -q
  [ "$output" = "$(pod_id)" ]
  # the CNI bridge is in the test's namespace, not on the host
  cri_netns_exec ip link show runhvcni0 >/dev/null
  run ip link show runhvcni0
  [ "$status" -ne 0 ]
}

@test "CreateContainer and StartContainer: the container runs in the pod" {
  cri_container_config web "$CRI_BUSYBOX_IMAGE" \
    sh -c 'echo hello-cri; echo to-stderr >&2; exec httpd -f -p 8080 -h /' > "$CRI_TEST_DIR.ctr.json"
  run cri create "$(pod_id)" "$CRI_TEST_DIR.ctr.json" "$CRI_TEST_DIR.pod.json"
  [ "$status" -eq 0 ]
  [[ "$output" =~ ^[0-9a-f]{64}$ ]]
  echo "$output" > "$CRI_TEST_DIR.ctr"
  run cri inspect "$(ctr_id)"
  echo "$output" | jq -e '.status.state == "CONTAINER_CREATED"'
  run cri start "$(ctr_id)"
  [ "$status" -eq 0 ]
  run cri inspect "$(ctr_id)"
  echo "$output" | jq -e '.status.state == "CONTAINER_RUNNING" and .status.startedAt != "0"'
  echo "$output" | jq -e '.status.image.image == "'"$CRI_BUSYBOX_IMAGE"'"'
  echo "$output" | jq -e --arg cg "/$CG_TOP/podcri-demo-uid-1/$(ctr_id)" '.info.info.runtimeSpec.linux.cgroupsPath == $cg'
  run cri ps -q --pod "$(pod_id)"
  [ "$output" = "$(ctr_id)" ]
  [ -d "/sys/fs/cgroup/memory/$CG_TOP/podcri-demo-uid-1/$(ctr_id)" ]
}

@test "ExecSync: stdout, stderr and the exit code come back" {
  run cri exec-sync "$(ctr_id)" -- sh -c 'echo out-line; echo err-line >&2; exit 3'
  [ "$status" -eq 3 ]
  [[ "$output" == *out-line* ]]
  run bash -c "source '$RUNHV_SOURCE_DIR/tests/lib/containerd-cri.sh'; cri exec-sync '$(ctr_id)' -- sh -c 'echo out-line; echo err-line >&2' 2>/dev/null"
  [ "$status" -eq 0 ]
  [ "$output" = out-line ]
  run cri exec-sync "$(ctr_id)" -- hostname
  [ "$output" = "$POD_HOSTNAME" ]
  # the exec'd process shares the pod's network namespace
  run cri exec-sync "$(ctr_id)" -- ip -4 -o addr show eth0
  [[ "$output" == *"$(cat "$CRI_TEST_DIR.ip")/16"* ]]
  run cri exec-sync "$(ctr_id)" -- sh -c 'exit 0'
  [ "$status" -eq 0 ]
}

@test "logs: the container's CRI log file holds its stdout and stderr" {
  wait_for 50 bash -c "source '$RUNHV_SOURCE_DIR/tests/lib/containerd-cri.sh'; cri logs '$(ctr_id)' 2>/dev/null | grep -qx hello-cri"
  run cri logs --stream stdout "$(ctr_id)"
  [ "$output" = hello-cri ]
  run bash -c "source '$RUNHV_SOURCE_DIR/tests/lib/containerd-cri.sh'; cri logs --stream stderr '$(ctr_id)' 2>&1"
  [ "$output" = to-stderr ]
  local log
  log=$(cri inspect "$(ctr_id)" | jq -r .status.logPath)
  [ "$log" = "$CRI_DIR/pod-logs/cri-demo-uid-1/web/0.log" ]
  grep -Eq '^[0-9T:.-]+Z stdout F hello-cri$' "$log"
}

@test "the pod IP answers HTTP on 8080 from the test's network namespace" {
  local ip
  ip=$(cat "$CRI_TEST_DIR.ip")
  wait_for 50 cri_http_get -o /dev/null "http://$ip:8080/etc/hostname"
  run cri_http_get "http://$ip:8080/etc/hostname"
  [ "$status" -eq 0 ]
  [ "$output" = "$POD_HOSTNAME" ]
}

@test "ContainerStats reports CPU and memory of the running container" {
  run cri stats "$(ctr_id)"
  [ "$status" -eq 0 ]
  echo "$output" | jq -e '.stats[0].attributes.id == "'"$(ctr_id)"'"'
  echo "$output" | jq -e '(.stats[0].cpu.usageCoreNanoSeconds.value | tonumber) > 0'
  echo "$output" | jq -e '(.stats[0].memory.workingSetBytes.value | tonumber) > 0'
}

@test "StopPodSandbox stops the pod; RemovePodSandbox leaves nothing behind" {
  run cri stopp "$(pod_id)"
  [ "$status" -eq 0 ]
  run cri inspectp "$(pod_id)"
  echo "$output" | jq -e '.status.state == "SANDBOX_NOTREADY"'
  run cri inspect "$(ctr_id)"
  echo "$output" | jq -e '.status.state == "CONTAINER_EXITED"'
  run cri ps -q
  [ -z "$output" ]

  run cri rmp "$(pod_id)"
  [ "$status" -eq 0 ]
  run cri pods -q
  [ -z "$output" ]
  run cri ps -a -q
  [ -z "$output" ]
  run cri inspect "$(ctr_id)"
  [ "$status" -ne 0 ]
  [[ "$output" == *NOT_FOUND* ]]
  # containerd: no task, no container; no shim, no process, no mount
  run cri_ctr tasks ls -q
  [ -z "$output" ]
  run cri_ctr containers ls -q
  [ -z "$output" ]
  wait_for 100 cri_no_leaks || fail "left behind: $(cri_leaks)"
  # the pod's network namespace is gone, and no other appeared but ours
  [ ! -e "$(cat "$CRI_TEST_DIR.podnetns")" ]
  [ -z "$(ls "$CRI_DIR/state/io.containerd.grpc.v1.cri/netns" 2>/dev/null)" ]
  run bash -c "comm -13 <(sort '$CRI_TEST_DIR.netns-before') <(ls /var/run/netns | sort)"
  [ "$output" = "$CRI_NETNS" ]
  # its veth is gone from our namespace and its IP back in the pool
  run cri_netns_exec ip -o link show type veth
  [ -z "$output" ]
  run bash -c "ls '$CRI_DIR/cni-ipam/runhv-cri' | grep -c '^10\.'"
  [ "$output" = 0 ]
  # no cgroup of the container or the sandbox
  local cg
  for cg in /sys/fs/cgroup/*/"$CG_TOP"/podcri-demo-uid-1/*/; do
    [[ -d "$cg" ]] && fail "cgroup $cg left behind"
  done
  true
}

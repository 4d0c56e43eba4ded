#!/usr/bin/env bats
# The cluster operator's path (docs/kubernetes.md, "Node installer"): the
# node installer image from `make images`, loaded by real podman and run
# privileged the way its DaemonSet runs it, against a scratch directory that
# stands in for the node's root (mounted at /host; --node-prefix says where
# the node sees it).  The scratch root holds an operator's containerd config;
# a private containerd then starts from the config the installer produced
# and runs a runhv-process and a runhv-hypervisor pod through the CRI with
# the installed shim and guest kernel.  There is no kube-apiserver on this
# machine: the node label goes to tests/lib/fake-kube-apiserver.py, a FAKE
# that answers only the installer's PATCH, over HTTPS with a test CA.

load helpers
bats_require_minimum_version 1.5.0
source "$RUNHV_SOURCE_DIR/tests/lib/containerd-cri.sh"

VERSION=$("$RUNHV" --version | awk '{ print $3; exit }')
IMAGE=docker.io/runhv/runhv-node-installer:$VERSION
NODE=node-a

setup_file() {
  [[ -f "$GUEST_DIR/initramfs.cpio" ]] || { echo "no guest artifacts in $GUEST_DIR: run scripts/provision-guest.sh" >&2; return 1; }
  export T ROOT CRI_TEST_DIR
  T=$(mktemp -d /tmp/runhv-node-installer.XXXXXX)
  chmod 755 "$T"
  ROOT=$T/node
  CRI_TEST_DIR=$T/cri
  # the release binaries, as `make images` packs them
  RUNHV_GUEST_DIR=$GUEST_DIR bash "$RUNHV_SOURCE_DIR/scripts/make-images.sh" "$RUNHV_SOURCE_DIR/build" "$T/img" >/dev/null
  mkdir -p "$T/conf" "$T/certs" "$T/sa"
  printf '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\n' >"$T/conf/containers.conf"
  pm load -i "$T/img/runhv-node-installer.oci.tar" >/dev/null
  # the fake API server and the pod's service account (token, CA)
  bash "$RUNHV_SOURCE_DIR/scripts/make-webhook-certs.sh" "$T/certs" >/dev/null
  cp "$T/certs/ca.pem" "$T/sa/ca.crt"
  echo "test-token-$RANDOM$RANDOM" >"$T/sa/token"
  /usr/bin/python3 "$RUNHV_SOURCE_DIR/tests/lib/fake-kube-apiserver.py" --cert "$T/certs/tls.crt" \
    --key "$T/certs/tls.key" --token-file "$T/sa/token" --node "$NODE" --port-file "$T/api.port" \
    --log "$T/api.log" </dev/null >"$T/api.out" 2>&1 3>&- &
  echo $! >"$T/api.pid"
  local i
  for ((i = 0; i < 100; i++)); do [[ -s "$T/api.port" ]] && break; sleep 0.1; done
  [[ -s "$T/api.port" ]] || { echo "the fake API server did not start: $(cat "$T/api.out")" >&2; return 1; }
  # the node: an operator's containerd config (private to this test's
  # containerd, plus a handler of the operator's own), nothing of runhv
  mkdir -p "$ROOT/etc/containerd" "$ROOT/usr/local/bin" "$ROOT/usr/local/share" "$ROOT/usr/bin"
  node_glibc "$ROOT"
  cri_write_config "$CRI_TEST_DIR"
  {
    cat "$CRI_TEST_DIR/config.toml"
    printf '\n# the operator'"'"'s own handler\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.operator-runc]\n'
    printf '  runtime_type = "io.containerd.runc.v2"\n'
  } >"$ROOT/etc/containerd/config.toml"
  cp "$ROOT/etc/containerd/config.toml" "$T/operator.toml"
  listing >"$T/before"
}

teardown_file() {
  local rc=0
  if [[ -d "$CRI_TEST_DIR" ]]; then cri_stop "$CRI_TEST_DIR" || rc=1; fi
  [[ -f "$T/api.pid" ]] && kill "$(cat "$T/api.pid")" 2>/dev/null
  pm rm -a -f >/dev/null 2>&1 || true
  pm system reset -f >/dev/null 2>&1 || true
  rm -rf "$T"
  return $rc
}

# podman with runc: runhv refuses podman --privileged's device modes (see
# the report), and crun does not run on this host's hybrid cgroups
pm() {
  CONTAINERS_CONF="$T/conf/containers.conf" podman --root "$T/storage" --runroot "$T/run" --runtime /usr/sbin/runc \
    --cgroup-manager cgroupfs --events-backend file --storage-driver vfs "$@"
}

# The installer as its DaemonSet runs it: privileged, the node's root at
# /host, NODE_NAME and the service account; host network for the fake API
# server on loopback.
installer() {
  pm run --rm --privileged --network host -v "$ROOT:/host" -v "$T/sa:/var/run/secrets/kubernetes.io/serviceaccount:ro" \
    -e KUBERNETES_SERVICE_HOST=127.0.0.1 -e "KUBERNETES_SERVICE_PORT=$(cat "$T/api.port")" -e "NODE_NAME=$NODE" \
    "$IMAGE" "$@" --node-prefix "$ROOT" --no-restart
}

# The node's glibc (its loader and libc: what the payload does not bring);
# the installer runs the installed runhv on the node before it changes it.
node_glibc() {
  install -D -m 755 "$(readlink -f /lib64/ld-linux-x86-64.so.2)" "$1/lib64/ld-linux-x86-64.so.2"
  install -D -m 644 "$(readlink -f /lib/x86_64-linux-gnu/libc.so.6)" "$1/lib/x86_64-linux-gnu/libc.so.6"
}

# Everything on the scratch node: names, types, modes, owners, sizes, link
# targets, contents (and file mtimes with `mtimes`)
listing() {
  (
    cd "$ROOT" || exit 1
    if [[ "${1:-}" == mtimes ]]; then
      find . ! -type d -printf '%p %y %m %U:%G %s %l %T@\n' | LC_ALL=C sort
    fi
    find . -printf '%p %y %m %U:%G %s %l\n' | LC_ALL=C sort
    find . -type f -exec sha256sum {} + | LC_ALL=C sort -k2
  )
}

fresh_listing() { (cd "$ROOT" && find . -printf '%p %y %m %s %l\n' | LC_ALL=C sort); }

api_requests() { jq -c '{path, content_type, authorized, labels: .body.metadata.labels}' "$T/api.log"; }

@test "install: payload, links, handler files and containerd's handlers on the node; the operator's config kept; node labelled" {
  run installer install
  [ "$status" -eq 0 ] || fail "$output"
  # no QEMU on the scratch node: said once, with the fix, and not fatal
  [ "$(grep -c 'WARNING: the node has no qemu-system-x86_64.*apt-get install qemu-system-x86' <<<"$output")" -eq 1 ]
  [[ "$output" == *"installed runhv $VERSION into /opt/runhv"* ]]
  [ "$(grep -c '^containerd was NOT restarted (--no-restart): restart it' <<<"$output")" -eq 1 ]
  [[ "$output" == *"labelled node $NODE runhv.io/node=true"* ]]
  # the payload, runnable on the node
  [ -x "$ROOT/opt/runhv/bin/runhv" ]
  [ "$(readlink "$ROOT/usr/local/bin/containerd-shim-runhv-v1")" = "$ROOT/opt/runhv/bin/containerd-shim-runhv-v1" ]
  [ "$(readlink "$ROOT/usr/local/bin/runhv")" = "$ROOT/opt/runhv/bin/runhv" ]
  [ "$(readlink "$ROOT/usr/local/share/runhv")" = "$ROOT/opt/runhv/share/runhv" ]
  run "$ROOT/usr/local/bin/runhv" --version
  [[ "$output" == "runhv version $VERSION"* ]]
  cmp "$ROOT/opt/runhv/share/runhv/vmlinux" "$GUEST_DIR/vmlinux"
  # its libraries come from the payload, not the host's
  run env LD_DEBUG=libs "$ROOT/opt/runhv/bin/containerd-shim-runhv-v1" --version
  [[ "$output" == *"calling init: $ROOT/opt/runhv/bin/../lib/libjansson.so.4"* ]]
  # the handler files name the installed kernel
  grep -qx "kernel = \"$ROOT/opt/runhv/share/runhv/vmlinux\"" "$ROOT/opt/runhv/etc/runhv-hypervisor.toml"
  # containerd's config: the operator's bytes, then runhv's block
  local cfg=$ROOT/etc/containerd/config.toml
  cmp <(head -c "$(stat -c %s "$T/operator.toml")" "$cfg") "$T/operator.toml"
  grep -q "ConfigPath = \"$ROOT/opt/runhv/etc/runhv-process.toml\"" "$cfg"
  grep -qx '# END runhv handlers' "$cfg"
  # the fake API server got one authorized merge patch setting the label
  [ "$(api_requests)" = '{"path":"/api/v1/nodes/'$NODE'","content_type":"application/merge-patch+json","authorized":true,"labels":{"runhv.io/node":"true"}}' ]
}

@test "containerd started from the installed config runs a runhv-process and a runhv-hypervisor pod" {
  CRI_CONFIG_FILE="$ROOT/etc/containerd/config.toml" cri_start "$CRI_TEST_DIR" "$ROOT/usr/local/bin"
  local handler pod ctr boot
  for handler in runhv-process runhv-hypervisor; do
    cri_pod_config "p-$handler" | jq '.annotations = {"io.runhv.virtualmachine.computetopology.memory.sizeinmb": "384"}' \
      >"$T/$handler.pod.json"
    run cri runp --runtime "$handler" "$T/$handler.pod.json"
    [ "$status" -eq 0 ] || fail "runp $handler: $output"
    pod=$output
    cri_container_config c "$CRI_BUSYBOX_IMAGE" sleep 1000 >"$T/$handler.c.json"
    run cri create "$pod" "$T/$handler.c.json" "$T/$handler.pod.json"
    [ "$status" -eq 0 ] || fail "create $handler: $output"
    ctr=$output
    run cri start "$ctr"
    [ "$status" -eq 0 ] || fail "start $handler: $output"
    # the installed shim serves it
    pgrep -f "containerd-shim-runhv-v1 .*-id $pod( |\$)" | xargs -r -I{} readlink /proc/{}/exe |
      grep -qx "$ROOT/opt/runhv/bin/containerd-shim-runhv-v1" || fail "pod $handler is not served by the installed shim"
    boot=$(cri exec-sync "$ctr" -- cat /proc/sys/kernel/random/boot_id)
    if [[ $handler == runhv-process ]]; then
      [ "$boot" = "$(cat /proc/sys/kernel/random/boot_id)" ]
    else
      # a utility VM: its own kernel, the installed one
      [ -n "$boot" ]
      [ "$boot" != "$(cat /proc/sys/kernel/random/boot_id)" ]
      run cri exec-sync "$ctr" -- uname -r
      [ "$output" = "$(cat "$ROOT/opt/runhv/share/runhv/kernel-release")" ]
    fi
    cri stopp "$pod" >/dev/null
    cri rmp "$pod" >/dev/null
  done
  wait_for 100 cri_no_leaks || fail "left behind: $(cri_leaks)"
  # (errexit would stop cri_stop half-way: run it whole)
  run cri_stop "$CRI_TEST_DIR"
  [ "$status" -eq 0 ] || fail "cri_stop: $output"
}

@test "a second install changes nothing on the node" {
  listing mtimes >"$T/installed"
  run installer install
  [ "$status" -eq 0 ] || fail "$output"
  [[ "$output" == *"runhv $VERSION is already installed on this node: nothing changed"* ]]
  [[ "$output" != *"NOT restarted"* ]]
  listing mtimes >"$T/again"
  diff "$T/installed" "$T/again"
}

@test "an install with other --sizes swaps the handlers in one step; installing as before gives the same node back" {
  listing >"$T/installed"
  run installer install --sizes 1vp512mb
  [ "$status" -eq 0 ] || fail "$output"
  [[ "$output" == *"installed runhv $VERSION into /opt/runhv"* ]]
  grep -q '^SandboxIsolation = 1$' "$ROOT/opt/runhv/etc/runhv-hypervisor-1vp512mb.toml"
  grep -q '^VmMemorySizeInMb = 512$' "$ROOT/opt/runhv/etc/runhv-hypervisor-1vp512mb.toml"
  grep -q '^\[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runhv-hypervisor-1vp512mb\]$' "$ROOT/etc/containerd/config.toml"
  [ "$(grep -c '^# BEGIN runhv handlers' "$ROOT/etc/containerd/config.toml")" -eq 1 ]
  # no staging directory left
  [ -z "$(find "$ROOT/opt" -maxdepth 1 -name '.runhv-new-*')" ]
  run installer install
  [ "$status" -eq 0 ] || fail "$output"
  diff "$T/installed" <(listing)
}

@test "install refuses, leaving the node as it was: someone else's file where a link goes, no containerd config, a runhv handler of the operator's (undone), no usable glibc, no NODE_NAME" {
  listing mtimes >"$T/pre"
  # a fresh node beside the installed one
  mv "$ROOT" "$T/node.installed"
  mkdir -p "$ROOT/usr/local/bin" "$ROOT/etc/containerd"
  cp "$T/operator.toml" "$ROOT/etc/containerd/config.toml"
  echo '#!/bin/sh' >"$ROOT/usr/local/bin/runhv"
  chmod 755 "$ROOT/usr/local/bin/runhv"
  fresh_listing >"$T/fresh"
  run installer install
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == "runhv-node-installer: install: /usr/local/bin/runhv already exists on the node and is not the installer's link (remove it"* ]]
  diff "$T/fresh" <(fresh_listing)
  rm "$ROOT/usr/local/bin/runhv" "$ROOT/etc/containerd/config.toml"
  fresh_listing >"$T/fresh"
  run installer install
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == "runhv-node-installer: install: containerd config /etc/containerd/config.toml on the node (write containerd's defaults there first: containerd config default > /etc/containerd/config.toml"* ]]
  diff "$T/fresh" <(fresh_listing)
  # a config containerd's handlers cannot go into (a runhv handler of the
  # operator's own): found after the files are in place, and undone
  node_glibc "$ROOT"
  {
    cat "$T/operator.toml"
    printf '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runhv-process]\n  runtime_type = "io.containerd.runc.v2"\n'
  } >"$ROOT/etc/containerd/config.toml"
  fresh_listing >"$T/fresh"
  run installer install
  [ "$status" -eq 1 ]
  [[ "${lines[-1]}" == "runhv-node-installer: install: install failed and was undone (the node is as it was): /etc/containerd/config.toml:"*": handler runhv-process is defined outside runhv's block; remove it there"* ]] || fail "$output"
  diff "$T/fresh" <(fresh_listing)
  rm -r "$ROOT/lib" "$ROOT/lib64"
  # a node whose glibc the binaries cannot use (here: none at all)
  cp "$T/operator.toml" "$ROOT/etc/containerd/config.toml"
  fresh_listing >"$T/fresh"
  run installer install
  [ "$status" -eq 1 ]
  [ "${lines[-1]}" = "runhv-node-installer: install: runhv does not run on this node (runhv --version: exec: No such file or directory): the node needs an x86_64 glibc at least as new as Debian 12's (2.36)" ]
  diff "$T/fresh" <(fresh_listing)
  # outside a pod (no NODE_NAME, no service account): refused before any change
  node_glibc "$ROOT"
  fresh_listing >"$T/fresh"
  run pm run --rm --privileged --network host -v "$ROOT:/host" "$IMAGE" install --node-prefix "$ROOT" --no-restart
  [ "$status" -eq 1 ]
  [ "$output" = "runhv-node-installer: install: NODE_NAME \`\` is not a node name (the DaemonSet sets it from spec.nodeName; outside Kubernetes pass --no-label)" ]
  diff "$T/fresh" <(fresh_listing)
  rm -rf "$ROOT"
  mv "$T/node.installed" "$ROOT"
  diff "$T/pre" <(listing mtimes)
}

@test "uninstall gives the node root back as it was; the fake API server saw the label set, then removed" {
  run installer uninstall
  [ "$status" -eq 0 ] || fail "$output"
  [[ "$output" == *"removed label runhv.io/node from node $NODE"* ]]
  [[ "$output" == *"uninstalled runhv from this node"* ]]
  [ "$(grep -c '^containerd was NOT restarted (--no-restart): restart it' <<<"$output")" -eq 1 ]
  listing >"$T/after"
  diff "$T/before" "$T/after"
  cmp "$T/operator.toml" "$ROOT/etc/containerd/config.toml"
  run api_requests
  [ "${lines[0]}" = '{"path":"/api/v1/nodes/'$NODE'","content_type":"application/merge-patch+json","authorized":true,"labels":{"runhv.io/node":"true"}}' ]
  [ "${lines[-1]}" = '{"path":"/api/v1/nodes/'$NODE'","content_type":"application/merge-patch+json","authorized":true,"labels":{"runhv.io/node":null}}' ]
  # a second uninstall has nothing to do
  run installer uninstall
  [ "$status" -eq 0 ]
  [[ "$output" == *"runhv is not installed on this node: nothing changed"* ]]
  diff "$T/before" <(listing)
}

@test "the DaemonSet's run: installs, waits, and uninstalls on SIGTERM (the DaemonSet's deletion)" {
  pm run -d --name inst --privileged --network host -v "$ROOT:/host" \
    -v "$T/sa:/var/run/secrets/kubernetes.io/serviceaccount:ro" -e KUBERNETES_SERVICE_HOST=127.0.0.1 \
    -e "KUBERNETES_SERVICE_PORT=$(cat "$T/api.port")" -e "NODE_NAME=$NODE" "$IMAGE" run --node-prefix "$ROOT" --no-restart >/dev/null
  wait_for 100 bash -c "$(declare -f pm); T='$T'; pm logs inst 2>&1 | grep -q 'waiting for SIGTERM'" || fail "$(pm logs inst 2>&1)"
  [ -x "$ROOT/opt/runhv/bin/runhv" ]
  pm stop -t 60 inst >/dev/null
  run pm logs inst
  [[ "$output" == *"uninstalled runhv from this node"* ]] || fail "$output"
  pm rm inst >/dev/null
  diff "$T/before" <(listing)
  run api_requests
  [ "${lines[-1]}" = '{"path":"/api/v1/nodes/'$NODE'","content_type":"application/merge-patch+json","authorized":true,"labels":{"runhv.io/node":null}}' ]
}

@test "a containerd config behind a symlink (resolved in the node's root) stays a symlink; its target gets the block" {
  local node=$T/node2
  mkdir -p "$node/etc/containerd" "$node/etc/k8s" "$node/usr/local/bin" "$node/usr/local/share"
  node_glibc "$node"
  cp "$T/operator.toml" "$node/etc/k8s/containerd.toml"
  # absolute: it means the node's /etc/k8s, not the installer's
  ln -s /etc/k8s/containerd.toml "$node/etc/containerd/config.toml"
  ROOT=$node listing >"$T/before2"
  ROOT=$node run installer install
  [ "$status" -eq 0 ] || fail "$output"
  [ "$(readlink "$node/etc/containerd/config.toml")" = /etc/k8s/containerd.toml ]
  grep -qx '# END runhv handlers' "$node/etc/k8s/containerd.toml"
  ROOT=$node run installer uninstall
  [ "$status" -eq 0 ] || fail "$output"
  diff "$T/before2" <(ROOT=$node listing)
}

@test "without --no-restart: systemctl restart containerd runs in PID 1's mount namespace, once per change, and a failure says so" {
  # The DaemonSet's PID 1 is the node's init (hostPID); the node's
  # containerd is not restarted by a test.  Here the pod has its own PID
  # namespace, so PID 1 is the installer, and its mount namespace holds a
  # stand-in systemctl (static busybox) that records each call.
  local node=$T/node3 calls=$T/fake/calls
  mkdir -p "$node/etc/containerd" "$node/usr/local/bin" "$node/usr/local/share" "$T/fake"
  node_glibc "$node"
  cp "$T/operator.toml" "$node/etc/containerd/config.toml"
  printf '#!/bin/busybox sh\necho "$*" >>/fake/calls\n[ ! -e /fake/fail ] || exit 3\n' >"$T/fake/systemctl"
  chmod 755 "$T/fake/systemctl"
  ROOT=$node listing >"$T/before3"
  restarting() {
    pm run --rm --privileged --network host -v "$node:/host" -v "$T/fake:/fake" \
      -v "$T/fake/systemctl:/usr/bin/systemctl:ro" -v /bin/busybox:/bin/busybox:ro \
      "$IMAGE" "$@" --node-prefix "$node" --no-label
  }
  run restarting install
  [ "$status" -eq 0 ] || fail "$output"
  [[ "$output" == *$'\nrestarted containerd\n'* ]]
  [ "$(cat "$calls")" = "restart containerd" ]
  # nothing changed: no restart
  run restarting install
  [ "$status" -eq 0 ] || fail "$output"
  [[ "$output" != *"restarted containerd"* ]]
  [ "$(wc -l <"$calls")" -eq 1 ]
  run restarting uninstall
  [ "$status" -eq 0 ] || fail "$output"
  [[ "$output" == *"restarted containerd"* ]]
  [ "$(wc -l <"$calls")" -eq 2 ]
  diff "$T/before3" <(ROOT=$node listing)
  # a restart that fails: one line, and the node keeps what was installed
  touch "$T/fake/fail"
  run restarting install
  [ "$status" -eq 1 ]
  [ "${lines[-1]}" = "runhv-node-installer: install: runhv is installed but not active: \`systemctl restart containerd\` on the node failed (status 3): see \`journalctl -u containerd\` on the node" ]
  rm "$T/fake/fail"
  run restarting uninstall
  [ "$status" -eq 0 ] || fail "$output"
  diff "$T/before3" <(ROOT=$node listing)
}

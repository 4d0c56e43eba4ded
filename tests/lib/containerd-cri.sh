# A private containerd with its CRI plugin enabled, for tests (source me).
#
#   cri_start DIR [PATH_DIRS] [SNIPPET.toml]
#       DIR        a fresh directory (made if missing) that holds everything:
#                  config, root, state, sockets, CNI config and IPAM state,
#                  runc's state, logs.  cri_stop removes it.
#       PATH_DIRS  directories (colon-separated) put first on containerd's
#                  PATH: containerd finds `containerd-shim-<name>-<version>`
#                  there (e.g. containerd-shim-runhv-v1 for
#                  runtime_type io.containerd.runhv.v1), and shims inherit it.
#       SNIPPET    a TOML file appended to the config (or $CRI_CONFIG_SNIPPET):
#                  extra runtime handlers, i.e. only tables below
#                  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.<name>].
#                  `@DIR@` in it is replaced by DIR.
#     With $CRI_CONFIG_FILE set, that file is containerd's whole config
#     instead (the snippet is not used): a config some installer wrote,
#     made from `cri_write_config DIR` so that it is still private to DIR.
#     Starts containerd in a network namespace made for it (runhv-cri-<pid>),
#     waits until the CRI serves with runtime and network ready, imports the
#     test images (pause, busybox) into namespace k8s.io and exports:
#       CRI_DIR CRI_NETNS CRI_ADDRESS (the grpc socket, for ctr)
#       CRI_ENDPOINT (unix://…, for cri.py) CRI_CONFIG CRI_LOG
#       CRI_PAUSE_IMAGE CRI_BUSYBOX_IMAGE
#   cri_write_config DIR
#       Writes the config cri_start would use into DIR/config.toml (and the
#       CNI config into DIR), for a test to start from.
#   cri_stop DIR
#       Stops and removes every pod through the CRI, stops containerd, then
#       finds and cleans what is left (tasks, shims and their processes,
#       mounts under DIR), deletes the network namespace and DIR.  Returns 1
#       (after cleaning) if anything had been left behind.
#   cri ARGS...               tests/lib/cri/cri.py against this containerd
#   cri_ctr ARGS...           ctr against this containerd, namespace k8s.io
#   cri_netns_exec CMD...     run a client in containerd's network namespace
#                             (where the CNI bridge is and pod IPs answer)
#   cri_http_get URL          curl from that namespace (never through a proxy)
#   cri_containerd_kill DIR   SIGKILL containerd only (its shims keep running)
#   cri_containerd_restart DIR  start it again with the same config and wait
#   cri_pod_config NAME [UID] / cri_container_config NAME IMAGE [ARGS...]
#                             minimal crictl-style JSON configs on stdout
#   cri_leaks DIR             print what containerd left (nothing: clean);
#                             shims exit shortly after their last task is
#                             deleted, so poll it: wait_for 50 cri_no_leaks
#   cri_no_leaks [DIR]        succeeds when cri_leaks prints nothing
#
# Environment (optional): CRI_ASSETS (where make-cri-images.sh builds the
# images; default $RUNHV_BUILD_DIR/test-assets, else DIR/images),
# CRI_SNAPSHOTTER (overlayfs), CRI_SUBNET (10.88.0.0/16), CRI_LOG_LEVEL
# (info), CRI_START_TIMEOUT (seconds, 30).
#
# Fixed by containerd 1.6 and shared with any other containerd on the host:
# /run/containerd/s (shim sockets, named by a hash of address, namespace
# and id) and /run/containerd/fifo (task I/O fifos).  Pod network
# namespaces go under DIR (netns_mounts_under_state_dir), not /var/run/netns.
#
# containerd runs with `nsenter --net` (not `ip netns exec`): it must stay in
# the host's mount namespace, or its snapshot mounts, pod netns pins and the
# shims' mounts would be invisible to the tests (and to leak checks).

CRI_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CRI_PY="$CRI_LIB_DIR/cri/cri.py"
CRI_PAUSE_IMAGE=localhost/runhv-test/pause:latest
CRI_BUSYBOX_IMAGE=localhost/runhv-test/busybox:latest

_cri_err() { echo "containerd-cri: $*" >&2; }

cri() {
  /usr/bin/python3 "$CRI_PY" --endpoint "unix://${CRI_DIR:?cri_start first}/containerd.sock" "$@"
}

cri_ctr() {
  ctr --address "${CRI_DIR:?cri_start first}/containerd.sock" -n k8s.io "$@"
}

cri_netns_exec() {
  ip netns exec "${CRI_NETNS:?cri_start first}" "$@"
}

cri_http_get() {
  cri_netns_exec curl --noproxy '*' -sS --max-time "${CRI_HTTP_TIMEOUT:-5}" "$@"
}

cri_pod_config() {
  local name=$1 uid=${2:-$1-uid}
  jq -n --arg name "$name" --arg uid "$uid" --arg logdir "${CRI_DIR:?}/pod-logs/$uid" '{
    metadata: {name: $name, namespace: "default", uid: $uid, attempt: 0},
    hostname: $name,
    log_directory: $logdir,
    linux: {}
  }'
}

cri_container_config() {
  local name=$1 image=$2
  shift 2
  # `--`: jq would take options such as `-c` out of the arguments
  jq -n --arg name "$name" --arg image "$image" '{
    metadata: {name: $name, attempt: 0},
    image: {image: $image},
    command: $ARGS.positional,
    log_path: ($name + "/0.log"),
    linux: {}
  }' --args -- "$@"
}

# containerd's config: only what differs from its defaults for this host
# and for a private instance; `containerd config dump` shows the result.
_cri_write_config() {
  local dir=$1 snippet=$2 level=${CRI_LOG_LEVEL:-info} snap=${CRI_SNAPSHOTTER:-overlayfs}
  if [[ -n "${CRI_CONFIG_FILE:-}" ]]; then
    cp "$CRI_CONFIG_FILE" "$dir/config.toml" || return 1
    snippet=
  else
  cat > "$dir/config.toml" <<EOF
version = 2
root = "$dir/root"
state = "$dir/state"
disabled_plugins = []
required_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = "$dir/containerd.sock"

[ttrpc]
  address = "$dir/containerd.sock.ttrpc"

[debug]
  level = "$level"

[plugins."io.containerd.internal.v1.opt"]
  path = "$dir/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$CRI_PAUSE_IMAGE"
  # no CAP_SYS_RESOURCE here: CRI sandboxes ask for oom_score_adj -998
  restrict_oom_score_adj = true
  # no AppArmor on this host; never try to load cri-containerd's profile
  disable_apparmor = true
  # pod netns pins under DIR/state/io.containerd.grpc.v1.cri/netns
  netns_mounts_under_state_dir = true
  # the exec/attach streaming server, on the private namespace's loopback
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"

[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = "$dir/cni-conf"
  max_conf_num = 1

[plugins."io.containerd.grpc.v1.cri".containerd]
  snapshotter = "$snap"
  default_runtime_name = "runc"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  BinaryName = "runc"
  Root = "$dir/runc"
  SystemdCgroup = false
EOF
  fi
  if [[ -n "$snippet" ]]; then
    [[ -r "$snippet" ]] || { _cri_err "config snippet $snippet not readable"; return 1; }
    {
      echo
      echo "# ---- appended from $snippet"
      sed -e "s|@DIR@|$dir|g" "$snippet"
    } >> "$dir/config.toml"
  fi

  mkdir -p "$dir/cni-conf" "$dir/cni-ipam"
  cat > "$dir/cni-conf/10-runhv-cri.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "runhv-cri",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "runhvcni0",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "${CRI_SUBNET:-10.88.0.0/16}"}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": "$dir/cni-ipam"
      }
    }
  ]
}
EOF
}

_cri_launch() {
  local dir=$1
  local path
  path=$(cat "$dir/path")
  # nsenter execs containerd (no fork for a net namespace), so $! is its
  # pid; fd 3 is bats' output, which a background daemon must not hold.
  # (in a subshell: no bats shell reports its kill as a job's death)
  (PATH="$path" nsenter --net="/var/run/netns/$(cat "$dir/netns")" \
    containerd --config "$dir/config.toml" >> "$dir/containerd.log" 2>&1 < /dev/null 3>&- &
  echo $! > "$dir/containerd.pid")
}

_cri_wait_ready() {
  local dir=$1 tries=$((${CRI_START_TIMEOUT:-30} * 10)) i out
  for ((i = 0; i < tries; i++)); do
    if ! kill -0 "$(cat "$dir/containerd.pid")" 2>/dev/null; then
      _cri_err "containerd exited; its log ($dir/containerd.log) ends:"
      tail -20 "$dir/containerd.log" >&2
      return 1
    fi
    if out=$(CRI_DIR=$dir cri --timeout 2 status 2>/dev/null) &&
      jq -e '[.status.conditions[] | select(.status)] | length >= 2' <<< "$out" >/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  _cri_err "the CRI did not become ready in ${CRI_START_TIMEOUT:-30}s; last status: ${out:-none}; log ends:"
  tail -20 "$dir/containerd.log" >&2
  return 1
}

cri_write_config() {
  local dir=${1:?usage: cri_write_config DIR}
  mkdir -p "$dir" && CRI_CONFIG_FILE= _cri_write_config "$(cd "$dir" && pwd)" ""
}

cri_start() {
  local dir=${1:?usage: cri_start DIR [PATH_DIRS] [SNIPPET.toml]} extra=${2:-} snippet=${3:-${CRI_CONFIG_SNIPPET:-}}
  mkdir -p "$dir" || return 1
  dir=$(cd "$dir" && pwd)
  chmod 755 "$dir"
  [[ ! -e "$dir/containerd.pid" ]] || { _cri_err "$dir already holds a containerd (cri_stop it first)"; return 1; }

  local assets=${CRI_ASSETS:-}
  if [[ -z "$assets" ]]; then
    if [[ -n "${RUNHV_BUILD_DIR:-}" ]]; then assets=$RUNHV_BUILD_DIR/test-assets; else assets=$dir/images; fi
  fi
  bash "$CRI_LIB_DIR/make-cri-images.sh" "$assets" || { _cri_err "building the test images failed"; return 1; }

  local ns="runhv-cri-$$"
  [[ -e "/var/run/netns/$ns" ]] && ns="runhv-cri-$$-$RANDOM"
  ip netns add "$ns" || { _cri_err "ip netns add $ns failed"; return 1; }
  echo "$ns" > "$dir/netns"
  ip netns exec "$ns" ip link set lo up

  local path=$PATH
  [[ -n "$extra" ]] && path="$extra:$PATH"
  echo "$path" > "$dir/path"
  _cri_write_config "$dir" "$snippet" || return 1

  export CRI_DIR=$dir CRI_NETNS=$ns CRI_ADDRESS=$dir/containerd.sock CRI_ENDPOINT=unix://$dir/containerd.sock
  export CRI_CONFIG=$dir/config.toml CRI_LOG=$dir/containerd.log CRI_PAUSE_IMAGE CRI_BUSYBOX_IMAGE

  _cri_launch "$dir"
  _cri_wait_ready "$dir" || return 1

  local tar
  for tar in "$assets/pause.tar" "$assets/busybox.tar"; do
    cri_ctr images import --snapshotter "${CRI_SNAPSHOTTER:-overlayfs}" "$tar" > "$dir/import.log" 2>&1 ||
      { _cri_err "importing $tar failed:"; cat "$dir/import.log" >&2; return 1; }
  done
  # the CRI learns about imported images from containerd's events
  local i
  for ((i = 0; i < 100; i++)); do
    cri inspecti "$CRI_PAUSE_IMAGE" > /dev/null 2>&1 && cri inspecti "$CRI_BUSYBOX_IMAGE" > /dev/null 2>&1 && return 0
    sleep 0.1
  done
  _cri_err "the CRI does not list the imported images"
  return 1
}

cri_containerd_kill() {
  local dir=${1:-$CRI_DIR} pid
  pid=$(cat "$dir/containerd.pid" 2>/dev/null) || return 0
  kill -KILL "$pid" 2>/dev/null
  while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  return 0
}

cri_containerd_restart() {
  local dir=${1:-$CRI_DIR}
  cri_containerd_kill "$dir"
  _cri_launch "$dir"
  _cri_wait_ready "$dir"
}

# Processes started for this containerd: its shims (they carry
# `-address DIR/containerd.sock`) and their descendants (containers, VMMs).
_cri_procs() {
  local dir=$1 p cmd
  local -a shims=()
  for p in /proc/[0-9]*; do
    cmd=$(tr '\0' ' ' 2>/dev/null < "$p/cmdline") || continue
    [[ "$cmd " == *" -address $dir/containerd.sock "* ]] && shims+=("${p#/proc/}")
  done
  [[ ${#shims[@]} -gt 0 ]] || return 0
  ps -eo pid=,ppid= | awk -v roots="${shims[*]}" '
    BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) keep[r[i]] = 1 }
    { parent[$1] = $2 }
    END {
      for (p in parent) {
        q = p
        for (depth = 0; depth < 64 && q > 1; depth++) {
          if (q in keep) { print p; break }
          q = parent[q]
        }
      }
    }'
}

_cri_mounts() {
  # mount points under DIR, deepest first
  awk -v d="$1/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | awk '{ print length, $0 }' |
    sort -rn | cut -d' ' -f2-
}

cri_leaks() {
  local dir=${1:-$CRI_DIR} p cmd
  for p in $(_cri_procs "$dir"); do
    cmd=$(tr '\0' ' ' 2>/dev/null < "/proc/$p/cmdline") && echo "process $p: $cmd"
  done
  _cri_mounts "$dir" | sed 's/^/mount /'
  return 0
}

cri_no_leaks() {
  [[ -z "$(cri_leaks "${1:-$CRI_DIR}")" ]]
}

cri_stop() {
  local dir=${1:?usage: cri_stop DIR}
  [[ -d "$dir" ]] || return 0
  dir=$(cd "$dir" && pwd)
  local leftovers=0 pid ns p m

  pid=$(cat "$dir/containerd.pid" 2>/dev/null)
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    CRI_DIR=$dir cri --timeout 60 rmp --all > /dev/null 2>"$dir/stop.err" ||
      { _cri_err "removing the pods failed: $(cat "$dir/stop.err")"; leftovers=1; }
    # non-CRI tasks and containers in k8s.io (ctr run by a test)
    local t
    for t in $(CRI_DIR=$dir cri_ctr tasks ls -q 2>/dev/null); do
      _cri_err "task $t left behind"
      leftovers=1
      CRI_DIR=$dir cri_ctr tasks kill -s KILL "$t" > /dev/null 2>&1
      CRI_DIR=$dir cri_ctr tasks rm -f "$t" > /dev/null 2>&1
    done
    for t in $(CRI_DIR=$dir cri_ctr containers ls -q 2>/dev/null); do
      CRI_DIR=$dir cri_ctr containers rm "$t" > /dev/null 2>&1
    done
    kill -TERM "$pid" 2>/dev/null
    local i
    for ((i = 0; i < 100; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
  fi

  # shims exit on their own shortly after their last task is deleted
  for ((p = 0; p < 50; p++)); do
    [[ -z "$(_cri_procs "$dir")" ]] && break
    sleep 0.1
  done
  for p in $(_cri_procs "$dir"); do
    _cri_err "leftover process $p: $(tr '\0' ' ' 2>/dev/null < "/proc/$p/cmdline")"
    leftovers=1
    kill -KILL "$p" 2>/dev/null
  done
  for ((p = 0; p < 50; p++)); do
    [[ -z "$(_cri_procs "$dir")" ]] && break
    sleep 0.1
  done

  while read -r m; do
    [[ -n "$m" ]] || continue
    _cri_err "leftover mount $m"
    leftovers=1
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
  done < <(_cri_mounts "$dir")

  ns=$(cat "$dir/netns" 2>/dev/null)
  [[ -n "$ns" ]] && ip netns del "$ns" 2>/dev/null

  if [[ -n "$(_cri_mounts "$dir")" ]]; then
    _cri_err "mounts remain under $dir; not removing it"
    return 1
  fi
  [[ "${CRI_KEEP_DIR:-}" == 1 ]] || rm -rf --one-file-system "$dir"
  [[ "${CRI_DIR:-}" == "$dir" ]] && unset CRI_DIR CRI_NETNS CRI_ADDRESS CRI_ENDPOINT CRI_CONFIG CRI_LOG
  return $leftovers
}

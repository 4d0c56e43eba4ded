# A private containerd (CRI plugin off) for the suites that drive it with
# ctr (source me; the CRI suites use containerd-cri.sh instead).
#
#   ctd_setup        CTD_DIR (exported) holds config, root, state, socket, log;
#                    starts containerd and imports the test busybox image.
#   ctd_start        (re)start containerd with $CTD_DIR/bin first on PATH (a
#                    shim found there) and ASan reports into $CTD_DIR/asan.
#   ctd_teardown [NAME]
#                    kill and remove every task and container, stop
#                    containerd, unmount whatever a failed test left under
#                    CTD_DIR, keep its log as meson-logs/NAME.log, remove
#                    CTD_DIR; fails, printing them, if ASan or UBSan reported
#                    anything (from a shim, or runhv run by one).
#   c ARGS...        ctr against it.

c() { ctr --address "$CTD_DIR/containerd.sock" "$@"; }

ctd_setup() {
  export CTD_DIR
  CTD_DIR=$(mktemp -d /tmp/runhv-ctd.XXXXXX)
  mkdir -p "$CTD_DIR/bin" "$CTD_DIR/asan"
  containerd config default > "$CTD_DIR/config.toml"
  sed -i -e "s|^root = .*|root = \"$CTD_DIR/root\"|" -e "s|^state = .*|state = \"$CTD_DIR/state\"|" \
    -e "s|address = \"/run/containerd/containerd.sock\"|address = \"$CTD_DIR/containerd.sock\"|" \
    -e 's|^\(\s*\)disabled_plugins = .*|\1disabled_plugins = ["io.containerd.grpc.v1.cri"]|' \
    "$CTD_DIR/config.toml"
  ctd_start || return 1
  c images import "$RUNHV_BUILD_DIR/test-assets/busybox.tar" >/dev/null
}

ctd_start() {
  # in a subshell, so that no bats shell reports its death as a job's
  (PATH="$CTD_DIR/bin:$PATH" ASAN_OPTIONS="detect_leaks=1:log_path=$CTD_DIR/asan/report" \
    containerd --config "$CTD_DIR/config.toml" >> "$CTD_DIR/log" 2>&1 < /dev/null 3>&- &
  echo $! > "$CTD_DIR/pid")
  local i
  for i in $(seq 100); do
    c version >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "containerd did not start: $(tail -5 "$CTD_DIR/log")" >&2
  return 1
}

ctd_teardown() {
  local t pid i
  for t in $(c task ls -q 2>/dev/null); do c task kill -s KILL "$t" >/dev/null 2>&1; done
  for t in $(c task ls -q 2>/dev/null); do c task rm -f "$t" >/dev/null 2>&1; done
  for t in $(c containers ls -q 2>/dev/null); do c containers rm "$t" >/dev/null 2>&1; done
  pid=$(cat "$CTD_DIR/pid" 2>/dev/null)
  if [[ -n "$pid" ]]; then
    kill "$pid" 2>/dev/null
    for i in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
  fi
  awk -v d="$CTD_DIR/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l
  [[ -n "${1:-}" ]] && cp "$CTD_DIR/log" "$RUNHV_BUILD_DIR/meson-logs/$1.log" 2>/dev/null
  local reports
  reports=$(cat "$CTD_DIR"/asan/report* 2>/dev/null)
  rm -rf "$CTD_DIR"
  [[ -z "$reports" ]] || { echo "ASan/UBSan reports:" >&2; echo "$reports" >&2; return 1; }
}

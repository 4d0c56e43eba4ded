#!/usr/bin/env bats
# The runc-compatible CLI surface: lifecycle verbs, state, list, ps, kill.

load helpers

setup() { setup_bundle; }
teardown() { teardown_bundle; }

@test "version and help" {
  run "$RUNHV" --version
  [ "$status" -eq 0 ]
  [[ "$output" == *"runhv version"* ]]
  [[ "$output" == *"spec: 1."* ]]
  run "$RUNHV" --help
  [ "$status" -eq 0 ]
  [[ "$output" == *"create"* && "$output" == *"diag"* ]]
}

@test "spec writes a config that runhv accepts and refuses to overwrite" {
  run bash -c "cd '$BUNDLE' && '$RUNHV' spec"
  [ "$status" -ne 0 ]
  [[ "$output" == *"already exists"* ]]
  jq -e '.ociVersion and .process.args and .linux.namespaces' "$BUNDLE/config.json"
}

@test "create leaves the container waiting; start releases it" {
  run rhd create --bundle "$BUNDLE" --pid-file "$TEST_DIR/pid" c1
  [ "$status" -eq 0 ]
  [ "$(status_of c1)" = created ]
  pid=$(pid_of c1)
  [ "$(cat "$TEST_DIR/pid")" = "$pid" ]
  # the init has not exec'd sleep yet: it is still runhv's sealed copy
  [[ "$(readlink /proc/$pid/exe)" == *memfd:runhv* ]]
  run rhd start c1
  [ "$status" -eq 0 ]
  # /proc/PID/exe of a process in another mount namespace reads as its own path
  wait_for 50 bash -c "[ \"\$(readlink /proc/$pid/exe)\" = /bin/busybox ]"
  [ "$(status_of c1)" = running ]
  run rhd start c1
  [ "$status" -ne 0 ]
  [[ "$output" == *"is running, not created"* ]]
}

@test "state prints the OCI state document" {
  rhd create --bundle "$BUNDLE" c2
  run rh state c2
  [ "$status" -eq 0 ]
  echo "$output" | jq -e '.ociVersion and .id == "c2" and .status == "created" and (.pid > 0) and .bundle == "'"$BUNDLE"'"'
  echo "$output" | jq -e '.isolation == "process" and .type == "Container"'
}

@test "kill delivers the signal; the container stops" {
  rhd run --detach --bundle "$BUNDLE" c3
  [ "$(status_of c3)" = running ]
  run rh kill c3 KILL
  [ "$status" -eq 0 ]
  wait_for 100 bash -c "[ \"\$('$RUNHV' --root '$ROOT' state c3 | jq -r .status)\" = stopped ]"
  run rh kill c3 TERM
  [ "$status" -ne 0 ]
  [[ "$output" == *"not running"* ]]
  run rh kill c3 NOSUCHSIGNAL
  [ "$status" -ne 0 ]
}

@test "kill --all signals every process in the container" {
  config '.process.args = ["sh", "-c", "sleep 1000 & sleep 1000 & wait"]'
  rhd run --detach --bundle "$BUNDLE" c4
  wait_for 50 bash -c "[ \$('$RUNHV' --root '$ROOT' ps --format json c4 | jq length) -ge 3 ]"
  run rh kill --all c4 9
  [ "$status" -eq 0 ]
  wait_for 100 bash -c "[ \"\$('$RUNHV' --root '$ROOT' state c4 | jq -r .status)\" = stopped ]"
}

@test "delete refuses a running container without --force, then cleans everything" {
  rhd run --detach --bundle "$BUNDLE" c5
  run rh delete c5
  [ "$status" -ne 0 ]
  [[ "$output" == *"is running: stop it first or use \`delete --force\`"* ]]
  [ "$(status_of c5)" = running ]
  run rh delete --force c5
  [ "$status" -eq 0 ]
  assert_no_leaks c5
}

@test "delete of a created or stopped container needs no --force" {
  rhd create --bundle "$BUNDLE" c6
  run rh delete c6
  [ "$status" -eq 0 ]
  assert_no_leaks c6
  config '.process.args = ["true"]'
  rhd run --detach --bundle "$BUNDLE" c7
  wait_for 100 bash -c "[ \"\$('$RUNHV' --root '$ROOT' state c7 | jq -r .status)\" = stopped ]"
  run rh delete c7
  [ "$status" -eq 0 ]
  assert_no_leaks c7
}

@test "list shows containers as a table and as json" {
  rhd create --bundle "$BUNDLE" l1
  rhd run --detach --bundle "$BUNDLE" l2
  run rh list
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == *ID*PID*STATUS*ISOLATION*BUNDLE* ]]
  [[ "$output" == *"l1"*created* ]]
  [[ "$output" == *"l2"*running* ]]
  run rh list --format json
  echo "$output" | jq -e 'length == 2 and (map(.id) | sort) == ["l1", "l2"]'
  run rh list -q
  [ "${lines[0]}" = l1 ]
  run rh list --format yaml
  [ "$status" -ne 0 ]
}

@test "ps lists the container's processes" {
  config '.process.args = ["sh", "-c", "sleep 1000 & exec sleep 999"]'
  rhd run --detach --bundle "$BUNDLE" p1
  wait_for 50 bash -c "[ \$('$RUNHV' --root '$ROOT' ps --format json p1 | jq length) -eq 2 ]"
  run rh ps --format json p1
  init=$(pid_of p1)
  echo "$output" | jq -e "index($init) != null"
  run rh ps p1
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == *PID* ]]
  [[ "$output" == *"sleep 999"* && "$output" == *"sleep 1000"* ]]
}

@test "run in the foreground returns the exit status and relays stdio" {
  config '.process.args = ["sh", "-c", "read x; echo got:$x; echo err >&2; exit 42"]'
  run bash -c "echo hello | '$RUNHV' --root '$ROOT' run --bundle '$BUNDLE' fg1"
  [ "$status" -eq 42 ]
  [[ "$output" == *"got:hello"* ]]
  [[ "$output" == *"err"* ]]
  assert_no_leaks fg1
}

@test "run in the foreground forwards signals; death by signal is 128+N" {
  config '.process.args = ["sh", "-c", "trap \"echo term; exit 7\" TERM; while :; do sleep 0.1; done"]'
  "$RUNHV" --root "$ROOT" run --bundle "$BUNDLE" fg2 > "$TEST_DIR/out" &
  runpid=$!
  wait_for 100 bash -c "[ \"\$('$RUNHV' --root '$ROOT' state fg2 2>/dev/null | jq -r .status)\" = running ]"
  kill -TERM $runpid
  wait $runpid && st=0 || st=$?
  [ "$st" -eq 7 ]
  grep -q term "$TEST_DIR/out"
  config '.process.args = ["sleep", "1000"]'
  "$RUNHV" --root "$ROOT" run --bundle "$BUNDLE" fg3 > /dev/null &
  runpid=$!
  wait_for 100 bash -c "[ \"\$('$RUNHV' --root '$ROOT' state fg3 2>/dev/null | jq -r .status)\" = running ]"
  kill -KILL "$(pid_of fg3)"
  wait $runpid && st=0 || st=$?
  [ "$st" -eq 137 ]
}

@test "run -t without a console socket relays a terminal" {
  config '.process.terminal = true | .process.args = ["sh", "-c", "tty; test -t 0 && echo is-a-tty"]'
  run script -qec "'$RUNHV' --root '$ROOT' run --bundle '$BUNDLE' tty1" /dev/null
  [ "$status" -eq 0 ]
  [[ "$output" == *"/dev/pts/0"* ]]
  [[ "$output" == *"is-a-tty"* ]]
}

@test "pause and resume freeze the container" {
  config '.process.args = ["sh", "-c", "i=0; while :; do i=$((i+1)); echo $i > /tmp/count; sleep 0.05; done"]'
  rhd run --detach --bundle "$BUNDLE" pz
  wait_for 50 test -s "$BUNDLE/rootfs/tmp/count"
  run rh pause pz
  [ "$status" -eq 0 ]
  [ "$(status_of pz)" = paused ]
  grep -q FROZEN /sys/fs/cgroup/freezer/runhv/pz/freezer.state
  a=$(cat "$BUNDLE/rootfs/tmp/count"); sleep 0.5; b=$(cat "$BUNDLE/rootfs/tmp/count")
  [ "$a" = "$b" ]
  run rh pause pz
  [ "$status" -ne 0 ]
  run rh resume pz
  [ "$status" -eq 0 ]
  [ "$(status_of pz)" = running ]
  wait_for 50 bash -c "[ \"\$(cat '$BUNDLE/rootfs/tmp/count')\" != '$b' ]"
  run rh delete --force pz
  assert_no_leaks pz
}

@test "exec runs a second process in the container" {
  config '.hostname = "exec-host"'
  rhd run --detach --bundle "$BUNDLE" e1
  run rh exec e1 hostname
  [ "$status" -eq 0 ]
  [ "$output" = exec-host ]
  run rh exec --env FOO=bar --cwd /tmp e1 sh -c 'echo $FOO $(pwd) $$'
  [ "$status" -eq 0 ]
  [[ "$output" == "bar /tmp "* ]]
  # its pid is in the container's pid namespace
  [ "$(echo "$output" | awk '{print $3}')" -gt 1 ]
  run rh exec e1 sh -c 'exit 3'
  [ "$status" -eq 3 ]
  run rh exec --user 65534:65534 e1 id -u
  [ "$output" = 65534 ]
  run rh exec e1 no-such-command
  [ "$status" -ne 0 ]
  [[ "$output" == *"executable \`no-such-command\` not found"* ]]
}

@test "exec --detach --pid-file and exec --process" {
  rhd run --detach --bundle "$BUNDLE" e2
  run rhd exec --detach --pid-file "$TEST_DIR/epid" e2 sleep 500
  [ "$status" -eq 0 ]
  epid=$(cat "$TEST_DIR/epid")
  [ -d /proc/$epid ]
  [ "$(readlink /proc/$epid/ns/pid)" = "$(readlink /proc/$(pid_of e2)/ns/pid)" ]
  cat > "$TEST_DIR/proc.json" <<'J'
{"args": ["sh", "-c", "echo from-process-json $A"], "env": ["A=1", "PATH=/bin"], "cwd": "/", "user": {"uid": 0, "gid": 0}}
J
  run rh exec --process "$TEST_DIR/proc.json" e2
  [ "$status" -eq 0 ]
  [ "$output" = "from-process-json 1" ]
}

@test "exec --tty with a foreground relay" {
  rhd run --detach --bundle "$BUNDLE" e3
  run script -qec "'$RUNHV' --root '$ROOT' exec -t e3 sh -c 'test -t 1 && echo tty-ok'" /dev/null
  [ "$status" -eq 0 ]
  [[ "$output" == *"tty-ok"* ]]
}

# A process that joins the container runs from a sealed copy of runhv: what
# the container can open through /proc/PID/exe is that copy, not the host's
# binary.  The probe has CAP_SYS_PTRACE, which lets it past PR_SET_DUMPABLE,
# so the sealed copy is what holds.
@test "exec: the container cannot write runhv's binary through /proc/PID/exe (CVE-2019-5736)" {
  cc -static -O2 -o "$BUNDLE/rootfs/exe-probe" "$RUNHV_SOURCE_DIR/tests/lib/exe-probe.c" ||
    fail "cannot build the static probe (gcc and libc6-dev are needed)"
  # a copy: a broken defence spoils this test's binary, not the build's
  cp "$RUNHV" "$TEST_DIR/runhv"
  local sum
  sum=$(sha256sum < "$TEST_DIR/runhv")
  config '.process.args = ["/exe-probe", "/report"]
    | .process.capabilities |= with_entries(.value += ["CAP_SYS_PTRACE"])'
  "$TEST_DIR/runhv" --root "$ROOT" run --detach --bundle "$BUNDLE" cve1 </dev/null >"$TEST_DIR/run.log" 2>&1 3>&- ||
    fail "run: $(cat "$TEST_DIR/run.log")"
  wait_for 100 grep -q '^READY' "$BUNDLE/rootfs/report" || fail "the probe did not start"
  # each exec is one chance for the probe to catch the joining process
  local i
  for ((i = 0; i < 30; i++)); do
    run "$TEST_DIR/runhv" --root "$ROOT" exec cve1 true
    [ "$status" -eq 0 ] || fail "exec: $output"
    grep -q '^FOREIGN' "$BUNDLE/rootfs/report" && break
  done
  assert_exe_unreachable "$TEST_DIR/runhv" "$BUNDLE/rootfs/report" "$sum"
  rh delete --force cve1
}

@test "update changes cgroup limits of a running container" {
  rhd run --detach --bundle "$BUNDLE" u1
  run rh update --memory 200m --cpu-quota 20000 --cpu-period 100000 --pids-limit 50 u1
  [ "$status" -eq 0 ]
  [ "$(cat /sys/fs/cgroup/memory/runhv/u1/memory.limit_in_bytes)" = $((200 * 1024 * 1024)) ]
  [ "$(cat /sys/fs/cgroup/cpu/runhv/u1/cpu.cfs_quota_us)" = 20000 ]
  [ "$(cat /sys/fs/cgroup/pids/runhv/u1/pids.max)" = 50 ]
  echo '{"memory": {"limit": 314572800}, "cpu": {"shares": 256}}' | rh update -r - u1
  [ "$(cat /sys/fs/cgroup/memory/runhv/u1/memory.limit_in_bytes)" = 314572800 ]
  [ "$(cat /sys/fs/cgroup/cpu/runhv/u1/cpu.shares)" = 256 ]
  # the stored config follows
  run rh update --memory 1 u1
  [ "$status" -ne 0 ]
  [[ "$output" == *"memory.limit: 1 bytes is not a usable limit"* ]]
}

@test "features describes the runtime" {
  run "$RUNHV" features
  [ "$status" -eq 0 ]
  echo "$output" | jq -e '.ociVersionMax and (.hooks | index("createRuntime")) and (.linux.namespaces | index("user"))'
  echo "$output" | jq -e '(.linux.capabilities | index("CAP_SYS_ADMIN")) and .linux.seccomp.enabled and .linux.cgroup.v1 and .linux.cgroup.v2'
  echo "$output" | jq -e '.annotations["io.runhv.isolation"] == "process,hypervisor"'
}

@test "diag list keeps its columns with 64-character CRI ids: truncated like crictl, whole with --no-trunc" {
  local long=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
  rhd run --detach --bundle "$BUNDLE" "$long"
  rhd run --detach --bundle "$BUNDLE" short-name
  run rh diag list
  [ "$status" -eq 0 ]
  [[ "$output" == *"0123456789abc  "*Container* ]]
  [[ "$output" != *0123456789abcd* ]]
  # every row's TYPE starts where the header's does
  local col
  col=$(awk 'NR == 1 { print index($0, "TYPE") }' <<< "$output")
  awk -v c="$col" 'NR > 1 && substr($0, c, 9) != "Container" { exit 1 }' <<< "$output" || fail "misaligned: $output"
  run rh diag list --no-trunc
  [[ "$output" == *"$long  "*Container* ]]
  col=$(awk 'NR == 1 { print index($0, "TYPE") }' <<< "$output")
  awk -v c="$col" 'NR > 1 && substr($0, c, 9) != "Container" { exit 1 }' <<< "$output" || fail "misaligned: $output"
  [[ "$output" == *short-name*Container* ]]
}

@test "diag list shows each compute system (the hcsdiag list of the seed)" {
  rhd run --detach --bundle "$BUNDLE" d1
  run rh diag list
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == *ID*TYPE*OWNER*STATE*"HOST PID"*ISOLATION* ]]
  [[ "$output" == *d1*Container*running*process* ]]
  run rh diag list --format json
  pid=$(pid_of d1)
  echo "$output" | jq -e '.[0].id == "d1" and .[0].type == "Container" and .[0].state == "running" and .[0].pid == '"$pid"' and .[0].isolation == "process"'
  run rh diag events
  [[ "$output" == *'"type":"container-created"'*'"id":"d1"'* ]]
  [[ "$output" == *'"type":"container-started"'* ]]
}

@test "config containerd --install: one marked block in the operator's config, idempotent, undone by --uninstall" {
  local cfg="$TEST_DIR/config.toml" etc="$TEST_DIR/etc"
  containerd config default > "$cfg"
  # the operator's own change, which the install must keep
  sed -i 's/SystemdCgroup = false/SystemdCgroup = true/' "$cfg"
  cp "$cfg" "$TEST_DIR/orig.toml"
  run "$RUNHV" config containerd --sizes 1vp2gb --output-dir "$etc" --install "$cfg"
  [ "$status" -eq 0 ]
  [ "$output" = "installed runhv's handlers into $cfg: restart containerd" ]
  # only lines appended, and real containerd accepts the result
  [ "$(head -c "$(stat -c %s "$TEST_DIR/orig.toml")" "$cfg" | cmp - "$TEST_DIR/orig.toml" && echo same)" = same ]
  run containerd --config "$cfg" config dump
  [ "$status" -eq 0 ] || fail "containerd rejects it: $output"
  [[ "$output" == *'runtimes.runhv-hypervisor-1vp2gb.options]'* ]]
  [[ "$output" == *"SystemdCgroup = true"* ]]
  [ -f "$etc/runhv-hypervisor-1vp2gb.toml" ]
  # a second install changes nothing; other sizes replace the block
  cp "$cfg" "$TEST_DIR/once.toml"
  run "$RUNHV" config containerd --sizes 1vp2gb --output-dir "$etc" --install "$cfg"
  [ "$output" = "$cfg already holds these runhv handlers: unchanged" ]
  cmp "$cfg" "$TEST_DIR/once.toml"
  "$RUNHV" config containerd --sizes 2vp4gb --output-dir "$etc" --install "$cfg"
  [ "$(grep -c '^# BEGIN runhv handlers' "$cfg")" = 1 ]
  grep -q 'runtimes.runhv-hypervisor-2vp4gb]' "$cfg"
  run grep -c 'runtimes.runhv-hypervisor-1vp2gb]' "$cfg"
  [ "$output" = 0 ]
  # uninstall gives back the operator's bytes exactly
  run "$RUNHV" config containerd --uninstall "$cfg"
  [ "$output" = "removed runhv's handlers from $cfg: restart containerd" ]
  cmp "$cfg" "$TEST_DIR/orig.toml"
  run "$RUNHV" config containerd --uninstall "$cfg"
  [ "$output" = "$cfg holds no runhv handlers: unchanged" ]
}

@test "config containerd --install refuses what it would break, and writes nothing" {
  local cfg="$TEST_DIR/config.toml"
  # a runhv handler the operator wrote by hand (the old `>> config.toml`)
  { containerd config default; "$RUNHV" config containerd --output-dir "$TEST_DIR/etc"; } > "$cfg"
  cp "$cfg" "$TEST_DIR/orig.toml"
  run "$RUNHV" config containerd --output-dir "$TEST_DIR/etc" --install "$cfg"
  [ "$status" -ne 0 ]
  [[ "$output" == *"$cfg:"[0-9]*": handler runhv-process is defined outside runhv's block; remove it there"* ]]
  cmp "$cfg" "$TEST_DIR/orig.toml"
  # a version 1 config
  printf '[plugins.cri]\n' > "$cfg"
  run "$RUNHV" config containerd --output-dir "$TEST_DIR/etc" --install "$cfg"
  [ "$status" -ne 0 ]
  [[ "$output" == *"not a version 2 config"*"containerd config migrate"* ]]
  [ "$(cat "$cfg")" = "[plugins.cri]" ]
  # a block cut short by hand
  printf 'version = 2\n# BEGIN runhv handlers (runhv config containerd --install; remove with --uninstall)\n' > "$cfg"
  run "$RUNHV" config containerd --uninstall "$cfg"
  [ "$status" -ne 0 ]
  [[ "$output" == *"unterminated or there are two; fix the file by hand"* ]]
}

#!/usr/bin/env bats
# config.json features, each observed from inside the container.

load helpers

setup() { setup_bundle; }
teardown() { teardown_bundle; }

# Run the container in the foreground with args $@, capturing its output.
inside() {
  local args
  args=$(printf '%s\n' "$@" | jq -R . | jq -s .)
  config ".process.args = $args"
  run rh run --bundle "$BUNDLE" "f$RANDOM"
}

@test "namespaces: pid, uts, ipc, mount, net and cgroup are new" {
  # `spec` lists a cgroup namespace only on a v2 host, as runc's does
  config '.hostname = "inside" | .linux.namespaces |= (map(select(.type != "cgroup")) + [{"type": "cgroup"}])'
  inside sh -c 'echo $$; hostname; readlink /proc/self/ns/net /proc/self/ns/ipc /proc/self/ns/mnt /proc/self/ns/cgroup; cat /proc/self/cgroup'
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = 1 ]
  [ "${lines[1]}" = inside ]
  [ "${lines[2]}" != "$(readlink /proc/self/ns/net)" ]
  [ "${lines[3]}" != "$(readlink /proc/self/ns/ipc)" ]
  [ "${lines[4]}" != "$(readlink /proc/self/ns/mnt)" ]
  [ "${lines[5]}" != "$(readlink /proc/self/ns/cgroup)" ]
  # inside its cgroup namespace the container's cgroup is the root
  [[ "$output" == *"memory:/"$'\n'* || "$output" == *"memory:/" ]]
}

@test "namespaces: join a network namespace by path" {
  ip netns add runhv-test-$$ 
  config '(.linux.namespaces[] | select(.type == "network")) |= {type: "network", path: "/var/run/netns/runhv-test-'$$'"}'
  inside readlink /proc/self/ns/net
  ns=$(ip netns exec runhv-test-$$ readlink /proc/self/ns/net)
  ip netns del runhv-test-$$
  [ "$status" -eq 0 ]
  [ "$output" = "$ns" ]
}

@test "namespaces: user namespace with uid and gid mappings" {
  chown -R 100000:100000 "$BUNDLE/rootfs"
  config '.linux.namespaces += [{"type": "user"}] | .linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}] | .linux.gidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]'
  config '.process.args = ["sh", "-c", "id -u; cat /proc/self/uid_map; touch /tmp/made-by-root; sleep 1000"]'
  rhd run --detach --bundle "$BUNDLE" userns1
  wait_for 50 test -e "$BUNDLE/rootfs/tmp/made-by-root"
  pid=$(pid_of userns1)
  # root inside is 100000 outside
  [ "$(stat -c %u "$BUNDLE/rootfs/tmp/made-by-root")" = 100000 ]
  grep -q "0 *100000 *65536" /proc/$pid/uid_map
  [ "$(awk '/^Uid:/ {print $2}' /proc/$pid/status)" = 100000 ]
}

@test "rootfs readonly, masked and readonly paths" {
  config '.root.readonly = true'
  config '.linux.maskedPaths += ["/proc/keys"]'
  inside sh -c 'touch /x 2>&1; echo rc=$?; cat /proc/keys | wc -c; echo 1 > /proc/sys/kernel/ostype 2>&1; echo rc2=$?'
  [[ "$output" == *"Read-only file system"* ]]
  [[ "$output" == *"rc=1"* ]]
  [[ "${lines[2]}" == "0" ]]   # /proc/keys masked: reads as /dev/null
  [[ "$output" == *"rc2=1"* ]]
}

@test "mounts: bind (ro), tmpfs with options, propagation" {
  mkdir -p "$TEST_DIR/shared"
  echo from-host > "$TEST_DIR/shared/file"
  config '.mounts += [{"destination": "/data", "type": "bind", "source": "'"$TEST_DIR/shared"'", "options": ["rbind", "ro"]}, {"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m", "mode=700", "nosuid"]}, {"destination": "/etc/hostname", "type": "bind", "source": "'"$TEST_DIR/shared/file"'", "options": ["bind"]}]'
  inside sh -c 'cat /data/file; touch /data/new 2>&1; echo rc=$?; grep " /scratch " /proc/self/mounts; stat -c %a /scratch; cat /etc/hostname'
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = from-host ]
  [[ "$output" == *"rc=1"* ]]
  [[ "$output" == *"tmpfs /scratch tmpfs rw,nosuid"*"size=1024k"* ]]
  [[ "$output" == *$'\n700\n'* ]]
  [ ! -e "$TEST_DIR/shared/new" ]
  # and the host did not get the container's mounts
  ! grep -q "/scratch" /proc/self/mountinfo
}

@test "mounts: a symlink in the rootfs cannot redirect a mount to the host" {
  ln -s /tmp "$BUNDLE/rootfs/escape"
  mkdir -p "$TEST_DIR/src"
  config '.mounts += [{"destination": "/escape/owned", "type": "tmpfs", "source": "tmpfs"}]'
  inside sh -c 'grep -c " /tmp/owned " /proc/self/mounts'
  [ "$status" -eq 0 ]
  [ "$output" = 1 ]
  [ ! -e /tmp/owned ]
}

@test "devices: defaults and linux.devices" {
  config '.linux.devices = [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438, "uid": 0, "gid": 0}] | .linux.resources.devices += [{"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rwm"}]'
  inside sh -c 'ls -l /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty /dev/fuse | cut -c1'; 
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | grep -c '^c')" -eq 7 ]
  inside sh -c 'head -c 4 /dev/zero | wc -c; readlink /dev/fd; readlink /dev/ptmx; echo x > /dev/null && echo null-ok'
  [ "${lines[0]}" = 4 ]
  [ "${lines[1]}" = /proc/self/fd ]
  [ "${lines[2]}" = pts/ptmx ]
  [ "${lines[3]}" = null-ok ]
}

@test "devices cgroup denies what is not allowed" {
  config '.linux.devices = [{"path": "/dev/loop-denied", "type": "b", "major": 7, "minor": 0}]'
  inside sh -c 'head -c 1 /dev/loop-denied 2>&1; echo rc=$?'
  [[ "$output" == *"Operation not permitted"* ]]
}

@test "process: env, cwd, user, additional gids, umask" {
  config '.process.env = ["FOO=bar", "PATH=/bin:/usr/bin"] | .process.cwd = "/tmp" | .process.user = {"uid": 1000, "gid": 1001, "additionalGids": [1002, 1003], "umask": 63}'
  inside sh -c 'echo $FOO; pwd; id -u; id -g; id -G; umask'
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = bar ]
  [ "${lines[1]}" = /tmp ]
  [ "${lines[2]}" = 1000 ]
  [ "${lines[3]}" = 1001 ]
  [ "${lines[4]}" = "1001 1002 1003" ]
  [ "${lines[5]}" = 0077 ]
}

@test "capabilities: all five sets, and no_new_privs" {
  # as a non-root user the sets after exec are exactly the ambient ones
  config '.process.user = {"uid": 1000, "gid": 1000} | .process.capabilities = {"bounding": ["CAP_KILL", "CAP_NET_RAW", "CAP_CHOWN"], "effective": ["CAP_KILL", "CAP_CHOWN"], "permitted": ["CAP_KILL", "CAP_CHOWN"], "inheritable": ["CAP_KILL"], "ambient": ["CAP_KILL"]} | .process.noNewPrivileges = true'
  inside sh -c 'grep -E "^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs)" /proc/self/status'
  [ "$status" -eq 0 ]
  # CAP_CHOWN=0, CAP_KILL=5, CAP_NET_RAW=13
  [[ "$output" == *"CapInh:	0000000000000020"* ]]
  [[ "$output" == *"CapBnd:	0000000000002021"* ]]
  [[ "$output" == *"CapAmb:	0000000000000020"* ]]
  [[ "$output" == *"NoNewPrivs:	1"* ]]
  [[ "$output" == *"CapPrm:	0000000000000020"* ]]
  [[ "$output" == *"CapEff:	0000000000000020"* ]]
}

@test "capabilities: asking for one the host withholds is a clear error" {
  config '.process.capabilities.bounding += ["CAP_SYS_RESOURCE"] | .process.capabilities.effective += ["CAP_SYS_RESOURCE"] | .process.capabilities.permitted += ["CAP_SYS_RESOURCE"]'
  if grep -q '^CapBnd:.*' /proc/self/status && capsh --has-p=cap_sys_resource 2>/dev/null; then
    skip "this host grants CAP_SYS_RESOURCE"
  fi
  inside true
  [ "$status" -ne 0 ]
  [[ "$output" == *"CAP_SYS_RESOURCE is not in runhv's own bounding set"* ]]
  [ "${#lines[@]}" -eq 1 ]
}

@test "rlimits and oomScoreAdj" {
  config '.process.rlimits = [{"type": "RLIMIT_NOFILE", "soft": 123, "hard": 456}, {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}] | .process.oomScoreAdj = 500'
  inside sh -c 'ulimit -n; ulimit -Hn; cat /proc/self/oom_score_adj'
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = 123 ]
  [ "${lines[1]}" = 456 ]
  [ "${lines[2]}" = 500 ]
}

@test "oomScoreAdj below the current value explains CAP_SYS_RESOURCE" {
  if capsh --has-p=cap_sys_resource 2>/dev/null; then skip "this host grants CAP_SYS_RESOURCE"; fi
  config '.process.oomScoreAdj = -998'
  inside true
  [ "$status" -ne 0 ]
  [[ "$output" == *"process.oomScoreAdj: -998"*"CAP_SYS_RESOURCE"*"restrict_oom_score_adj"* ]]
  assert_no_leaks none
}

@test "sysctl inside the container's namespaces" {
  config '.linux.sysctl = {"net.ipv4.ip_forward": "1", "kernel.shmmax": "12345678"}'
  inside sh -c 'cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax'
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = 1 ]
  [ "${lines[1]}" = 12345678 ]
  [ "$(cat /proc/sys/kernel/shmmax)" != 12345678 ]
}

@test "seccomp: a denied syscall returns the configured errno" {
  config '.linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}'
  inside sh -c 'mkdir /tmp/blocked 2>&1; echo rc=$?; touch /tmp/allowed && echo touch-ok'
  [[ "$output" == *"Permission denied"* ]]
  [[ "$output" == *"rc=1"* ]]
  [[ "$output" == *"touch-ok"* ]]
}

@test "seccomp: argument filters and kill action" {
  # personality(0xffffffff) is a query; deny only that exact argument
  config '.linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_KILL_PROCESS"}, {"names": ["uname"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_NE"}]}]}'
  inside sh -c 'uname -s; echo $$'
  # sh gets its own pid via getpid only when asked: $$ in the shell uses getpid -> killed
  [ "$status" -ne 0 ]
  [[ "$output" == *"Operation not permitted"* || "$status" -eq 159 ]]
}

@test "hooks: all six kinds run at their moments with the state on stdin" {
  log="$TEST_DIR/hooks.log"
  for k in prestart createRuntime createContainer startContainer poststart poststop; do
    cat > "$TEST_DIR/hook-$k" <<H
#!/bin/sh
read -r state
echo "$k \$(echo "\$state" | sed -n 's/.*"status":"\([a-z]*\)".*/\1/p') \$(readlink /proc/self/ns/mnt)" >> $log
H
    chmod +x "$TEST_DIR/hook-$k"
  done
  # the startContainer hook runs inside the container: give it the same path there
  mkdir -p "$BUNDLE/rootfs$TEST_DIR"
  cp "$TEST_DIR/hook-startContainer" "$BUNDLE/rootfs$TEST_DIR/"
  sed -i "s|>> $log|>> /hooklog|" "$BUNDLE/rootfs$TEST_DIR/hook-startContainer"
  hooks=$(jq -n --arg d "$TEST_DIR" '{prestart: [{path: ($d + "/hook-prestart")}], createRuntime: [{path: ($d + "/hook-createRuntime")}], createContainer: [{path: ($d + "/hook-createContainer")}], startContainer: [{path: ($d + "/hook-startContainer")}], poststart: [{path: ($d + "/hook-poststart")}], poststop: [{path: ($d + "/hook-poststop")}]}')
  config ".hooks = $hooks | .process.args = [\"true\"]"
  rhd create --bundle "$BUNDLE" h1
  grep -q "^prestart creating" "$log"
  grep -q "^createRuntime creating" "$log"
  grep -q "^createContainer created" "$log"
  if grep -q "^poststart" "$log"; then return 1; fi
  host_mnt=$(readlink /proc/self/ns/mnt)
  # runtime-namespace hooks see the host's mount ns, createContainer the container's
  grep "^createRuntime" "$log" | grep -qF "$host_mnt"
  if grep "^createContainer" "$log" | grep -qF "$host_mnt"; then return 1; fi
  rhd start h1
  wait_for 50 grep -q "^poststart running" "$log"
  wait_for 50 test -s "$BUNDLE/rootfs/hooklog"
  grep -q "^startContainer created" "$BUNDLE/rootfs/hooklog"
  wait_for 100 bash -c "[ \"\$('$RUNHV' --root '$ROOT' state h1 | jq -r .status)\" = stopped ]"
  rh delete h1
  grep -q "^poststop stopped" "$log"
}

@test "hooks: a failing createRuntime hook fails create and leaves nothing" {
  printf '#!/bin/sh\necho "hook says no" >&2\nexit 3\n' > "$TEST_DIR/bad-hook"
  chmod +x "$TEST_DIR/bad-hook"
  config '.hooks = {"createRuntime": [{"path": "'"$TEST_DIR/bad-hook"'"}]}'
  run rhd create --bundle "$BUNDLE" h2
  [ "$status" -ne 0 ]
  [[ "$output" == *"hooks.createRuntime[0]"*"exited with status 3: hook says no"* ]]
  assert_no_leaks h2
}

@test "hooks: a hook past its timeout is killed" {
  printf '#!/bin/sh\nsleep 100\n' > "$TEST_DIR/slow-hook"
  chmod +x "$TEST_DIR/slow-hook"
  config '.hooks = {"prestart": [{"path": "'"$TEST_DIR/slow-hook"'", "timeout": 1}]}'
  run rhd create --bundle "$BUNDLE" h3
  [ "$status" -ne 0 ]
  [[ "$output" == *"did not finish within its 1 s timeout"* ]]
  assert_no_leaks h3
}

@test "terminal via --console-socket: the master arrives on the socket" {
  config '.process.terminal = true | .process.args = ["sh", "-c", "tty; echo typed-into-the-pty; sleep 1000"]'
  /usr/bin/python3 "$RUNHV_SOURCE_DIR/tests/lib/console-socket.py" "$TEST_DIR/console.sock" "$TEST_DIR/console.out" &
  srv=$!
  wait_for 50 test -S "$TEST_DIR/console.sock"
  run rhd create --bundle "$BUNDLE" --console-socket "$TEST_DIR/console.sock" t1
  [ "$status" -eq 0 ]
  wait_for 50 grep -q "received /dev/pts/.* tty=True" "$TEST_DIR/console.out"
  rhd start t1
  wait_for 50 grep -q typed-into-the-pty "$TEST_DIR/console.out"
  grep -q "^/dev/pts/0" "$TEST_DIR/console.out"
  rh delete --force t1
  kill $srv 2>/dev/null || true
}

@test "terminal without a console socket is refused up front" {
  config '.process.terminal = true'
  run rhd create --bundle "$BUNDLE" t2
  [ "$status" -ne 0 ]
  [[ "$output" == *"no --console-socket was given"* ]]
  assert_no_leaks t2
}

@test "preserve-fds passes extra descriptors" {
  config '.process.args = ["sh", "-c", "cat <&3"]'
  echo through-fd-3 > "$TEST_DIR/fd3"
  run bash -c "'$RUNHV' --root '$ROOT' run --preserve-fds 1 --bundle '$BUNDLE' pf1 3<'$TEST_DIR/fd3'"
  [ "$status" -eq 0 ]
  [ "$output" = through-fd-3 ]
  run bash -c "'$RUNHV' --root '$ROOT' run --bundle '$BUNDLE' pf2 3<'$TEST_DIR/fd3'"
  [ "$status" -ne 0 ]
}

@test "no-pivot runs with chroot instead of pivot_root" {
  inside true
  config '.process.args = ["sh", "-c", "ls / | head -3"]'
  run rh run --no-pivot --bundle "$BUNDLE" np1
  [ "$status" -eq 0 ]
  [[ "$output" == *bin* ]]
}

@test "the runtime binary cannot be overwritten from inside (CVE-2019-5736)" {
  # The classic attack: the container's entrypoint is #!/proc/self/exe, so
  # executing it runs the runtime's own binary inside the container; that
  # process then tries to open its executable for writing.
  cat > "$BUNDLE/rootfs/bin/evil" <<'E'
#!/proc/self/exe
E
  chmod +x "$BUNDLE/rootfs/bin/evil"
  cat > "$BUNDLE/rootfs/bin/attack" <<'A'
#!/bin/sh
/bin/evil &
sleep 0.5
for p in /proc/[0-9]*; do
  exe=$(readlink $p/exe 2>/dev/null)
  case "$exe" in *runhv*|*memfd*)
    if sh -c "echo pwned >> $p/exe" 2>/dev/null; then echo "WROTE $exe"; else echo "blocked $exe"; fi ;;
  esac
done
echo done
A
  chmod +x "$BUNDLE/rootfs/bin/attack"
  before=$(sha256sum "$RUNHV" | cut -d' ' -f1)
  config '.process.args = ["/bin/attack"]'
  run rh run --bundle "$BUNDLE" cve1
  after=$(sha256sum "$RUNHV" | cut -d' ' -f1)
  [ "$before" = "$after" ]
  [[ "$output" != *WROTE* ]]
}

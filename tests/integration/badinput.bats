#!/usr/bin/env bats
# Bad input: one clear line naming the field and the fix, and nothing left
# behind (no process, mount, cgroup or state directory).

load helpers

setup() { setup_bundle; }
teardown() { teardown_bundle; }

# create must fail with a one-line message containing $1, leaving nothing.
create_fails_with() {
  local id=bad$RANDOM
  run rhd create --bundle "$BUNDLE" "$id"
  echo "$output" >&3
  [ "$status" -ne 0 ] || fail "create succeeded"
  [[ "$output" == *"$1"* ]] || fail "message lacks: $1"
  [ "${#lines[@]}" -eq 1 ] || fail "more than one line"
  assert_no_leaks "$id"
}

@test "malformed config.json reports line and column" {
  printf '{\n  "ociVersion": "1.0.2",\n  "process": {"args": ["sh"]\n  "root": {}\n}\n' > "$BUNDLE/config.json"
  create_fails_with "config.json: invalid JSON at line 4, column"
}

@test "no config.json at all" {
  rm "$BUNDLE/config.json"
  create_fails_with "config.json: not found in bundle"
}

@test "missing ociVersion" {
  config 'del(.ociVersion)'
  create_fails_with "ociVersion: missing"
}

@test "missing process.args" {
  config 'del(.process.args)'
  create_fails_with "process.args: missing or empty"
}

@test "unknown namespace" {
  config '.linux.namespaces += [{"type": "galaxy"}]'
  create_fails_with "unknown namespace \`galaxy\`"
}

@test "unknown capability" {
  config '.process.capabilities.bounding += ["CAP_TIME_TRAVEL"]'
  create_fails_with "unknown capability \`CAP_TIME_TRAVEL\`"
}

@test "negative memory limit" {
  config '.linux.resources.memory = {"limit": -42}'
  create_fails_with "linux.resources.memory.limit: -42"
}

@test "absurd cpu quota and shares" {
  config '.linux.resources.cpu = {"quota": 10}'
  create_fails_with "linux.resources.cpu.quota: 10 is out of range"
  config '.linux.resources.cpu = {"shares": 99999999}'
  create_fails_with "linux.resources.cpu.shares: 99999999 is out of range"
}

@test "cpus the host does not have" {
  config '.linux.resources.cpu = {"cpus": "0-4095"}'
  create_fails_with "linux.resources.cpu.cpus: \`0-4095\` is not available here (this host offers CPUs"
}

@test "negative pids limit" {
  config '.linux.resources.pids = {"limit": -7}'
  create_fails_with "linux.resources.pids.limit: -7 is negative"
}

@test "rootfs that does not exist" {
  config '.root.path = "no-such-rootfs"'
  create_fails_with "root.path: rootfs \`$BUNDLE/no-such-rootfs\` is not usable"
}

@test "command not in the image" {
  config '.process.args = ["/no/such/binary"]'
  create_fails_with "executable \`/no/such/binary\` not found"
}

@test "duplicate container id" {
  rhd create --bundle "$BUNDLE" dup
  pid=$(pid_of dup)
  run rhd create --bundle "$BUNDLE" dup
  [ "$status" -ne 0 ]
  [[ "$output" == *"container \`dup\` already exists"* ]]
  # the first one is untouched
  [ "$(pid_of dup)" = "$pid" ]
  [ "$(status_of dup)" = created ]
}

@test "ids with /, .., or control characters" {
  for id in "a/b" ".." "x..y" $'tab\there' $'nl\nx' "@vm"; do
    run rhd create --bundle "$BUNDLE" "$id"
    [ "$status" -ne 0 ] || fail "id '$id' accepted"
    [[ "$output" == *"container id"* ]] || fail "no id error for '$id': $output"
  done
  [ -z "$(ls -A "$ROOT" 2>/dev/null | grep -v events.jsonl)" ]
  # and the other verbs refuse them too
  run rh state "../../etc"
  [ "$status" -ne 0 ]
  [[ "$output" == *"must not contain \`..\`"* ]]
}

@test "start on a container that is not created" {
  run rh start ghost
  [ "$status" -ne 0 ]
  [[ "$output" == *"container \`ghost\` does not exist"* ]]
  config '.process.args = ["true"]'
  rhd run --detach --bundle "$BUNDLE" once
  wait_for 100 bash -c "[ \"\$('$RUNHV' --root '$ROOT' state once | jq -r .status)\" = stopped ]"
  run rh start once
  [ "$status" -ne 0 ]
  [[ "$output" == *"container \`once\` is stopped, not created"* ]]
}

@test "delete of a running container without --force" {
  rhd run --detach --bundle "$BUNDLE" busy
  run rh delete busy
  [ "$status" -ne 0 ]
  [[ "$output" == *"container \`busy\` is running: stop it first or use \`delete --force\`"* ]]
  [ "${#lines[@]}" -eq 1 ]
}

@test "unknown io.runhv.isolation value" {
  config '.annotations = {"io.runhv.isolation": "sandbox"}'
  create_fails_with "annotations.io.runhv.isolation: unknown isolation \`sandbox\` (use process or hypervisor)"
  run rhd create --isolation=vm2 --bundle "$BUNDLE" iso2
  [ "$status" -ne 0 ]
  [[ "$output" == *"--isolation: unknown isolation \`vm2\`"* ]]
}

@test "a broken runhv.toml names the file, line and key" {
  printf 'SandboxIsolation = 7\n' > "$TEST_DIR/runhv.toml"
  run "$RUNHV" --root "$ROOT" --config "$TEST_DIR/runhv.toml" create --bundle "$BUNDLE" cfg1 </dev/null
  [ "$status" -ne 0 ]
  [[ "$output" == *"$TEST_DIR/runhv.toml:1:"*"SandboxIsolation = 7 is out of range (0 to 1)"* ]]
  printf 'SandboxIsolaton = 1\n' > "$TEST_DIR/runhv.toml"
  run "$RUNHV" --root "$ROOT" --config "$TEST_DIR/runhv.toml" create --bundle "$BUNDLE" cfg2 </dev/null
  [[ "$output" == *"unknown key \`SandboxIsolaton\`"* ]]
  # the seed's DebugType (hcsshim's debug transports) is refused, not ignored
  printf 'Debug = true\nDebugType = 2\n' > "$TEST_DIR/runhv.toml"
  run "$RUNHV" --root "$ROOT" --config "$TEST_DIR/runhv.toml" create --bundle "$BUNDLE" cfg3 </dev/null
  [ "$status" -ne 0 ]
  [[ "$output" == *"$TEST_DIR/runhv.toml:2:"*"DebugType = 2 is not supported"*"remove DebugType and set Debug = true"* ]]
  [ ! -e "$ROOT/cfg3" ]
  assert_no_leaks cfg1
  assert_no_leaks cfg2
}

@test "a mount that fails cleans up the cgroup and the process" {
  config '.mounts += [{"destination": "/x", "type": "nosuchfs", "source": "none"}]'
  create_fails_with "mounts[/x]: mount nosuchfs"
}

@test "a missing user namespace for id mappings" {
  config '.linux.uidMappings = [{"containerID": 0, "hostID": 1000, "size": 1}]'
  create_fails_with "id mappings need a user namespace"
}

@test "a hostname without a uts namespace" {
  config 'del(.linux.namespaces[] | select(.type == "uts"))'
  create_fails_with "hostname: setting it needs a uts namespace"
}

@test "a namespace path that does not exist" {
  config '.linux.namespaces |= map(if .type == "network" then .path = "/var/run/netns/nonexistent" else . end)'
  create_fails_with "linux.namespaces: open network namespace \`/var/run/netns/nonexistent\`"
}

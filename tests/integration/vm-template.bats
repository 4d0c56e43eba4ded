#!/usr/bin/env bats
# VM templates (docs/hypervisor.md, "VM templates"): a VM starts from a
# saved VM made once per make of VM, and still gets what is its own: boot
# id, entropy, the host's time.  Templates live in one host-wide directory;
# each test uses a VM size no other test uses, so its template is its own.

load helpers

TEMPLATES=/run/runhv/vm-templates

setup() {
  setup_bundle
  config '.process.args = ["sh", "-c", "cat /proc/sys/kernel/random/boot_id; head -c 16 /dev/urandom | od -An -tx1 | tr -d \" \\n\"; echo; date +%s"]'
}
teardown() { teardown_bundle; }

# The template of VMs of $1 MiB: its name (the key file names the size).
template_of() {
  grep -l -x -e "arg ${1}M" "$TEMPLATES"/*.key 2>/dev/null | sed 's|.*/||; s|\.key$||'
}

# Remove the templates of VMs of $1 MiB (only this test's).
forget_template() {
  local t
  for t in $(template_of "$1"); do rm -f "$TEMPLATES/$t.key" "$TEMPLATES/$t.state" "$TEMPLATES/$t.mem"; done
}

sized() {
  printf 'VmMemorySizeInMb = %s\n%s' "$1" "${2:-}" > "$TEST_DIR/runhv.toml"
}

rhc() {
  RUNHV_CONFIG="$TEST_DIR/runhv.toml" "$RUNHV" --root "$ROOT" "$@"
}

# QEMU's log of a VM, for a failure's message.
vmm_log() {
  cat "$ROOT/vm-logs/$1.vmm.log" 2>/dev/null
}

boot_of() {
  rh diag events | jq -r --arg id "$1" 'select(.type == "vm-started" and .id == $id) | .boot'
}

@test "a VM starts from a template made once; each VM gets its own boot id, entropy and the host's time" {
  forget_template 232
  sized 232
  run rhc run --isolation=hypervisor --bundle "$BUNDLE" t1
  [ "$status" -eq 0 ] || fail "t1: $output; QEMU: $(vmm_log t1)"
  out1=("${lines[@]}")
  [ "$(boot_of t1)" = template ] || fail "t1 started $(boot_of t1)"
  name=$(template_of 232)
  [ -n "$name" ] || fail "no template of 232 MiB VMs in $TEMPLATES"
  ino=$(stat -c %i "$TEMPLATES/$name.state")
  for f in state mem; do
    [ "$(stat -c '%a %U' "$TEMPLATES/$name.$f")" = "400 root" ] || fail "template's $f: $(stat -c '%a %U' "$TEMPLATES/$name.$f")"
  done
  [ "$(stat -c '%a %U' "$TEMPLATES")" = "700 root" ]
  # The template's clock stopped when it was saved: let it fall behind by
  # more than the check below allows, so that a VM that kept it fails.
  sleep 5
  run rhc run --isolation=hypervisor --bundle "$BUNDLE" t2
  [ "$status" -eq 0 ] || fail "t2: $output; QEMU: $(vmm_log t2)"
  out2=("${lines[@]}")
  now=$(date +%s)
  [ "$(boot_of t2)" = template ]
  [ "$(stat -c %i "$TEMPLATES/$name.state")" = "$ino" ] || fail "the template was made again"
  # What a template's guest drew before it was saved is every VM's; what
  # a VM draws after its hello is its own.
  [[ "${out1[0]}" =~ ^[0-9a-f-]{36}$ ]] || fail "boot id: ${out1[0]}"
  [ "${out1[0]}" != "${out2[0]}" ] || fail "two VMs of one template share the boot id ${out1[0]}"
  [[ "${out1[1]}" =~ ^[0-9a-f]{32}$ ]] || fail "urandom: ${out1[1]}"
  [ "${out1[1]}" != "${out2[1]}" ] || fail "two VMs of one template read the same random bytes ${out1[1]}"
  # The guest's clock is the host's, not where the template's stopped.
  [ $((now - out2[2])) -le 3 ] && [ $((out2[2] - now)) -le 1 ] || fail "guest time ${out2[2]}, host $now"
}

@test "a restored VM's QEMU holds no descriptor of its template; the crng is seeded before the container runs" {
  forget_template 240
  sized 240
  cc -static -O2 -o "$BUNDLE/rootfs/crng-probe" "$RUNHV_SOURCE_DIR/tests/lib/crng-probe.c" ||
    fail "cannot build the static probe (gcc and libc6-dev are needed)"
  config '.process.args = ["/crng-probe"]'
  run rhc run --isolation=hypervisor --bundle "$BUNDLE" c0
  [ "$status" -eq 0 ] && [ "$output" = "crng ready" ] || fail "probe: $output"
  run rhc run --isolation=hypervisor --bundle "$BUNDLE" c1
  [ "$status" -eq 0 ] && [ "$output" = "crng ready" ] || fail "probe: $output"
  [ "$(boot_of c1)" = template ]
  config '.process.args = ["sleep", "1000"]'
  rhc run --detach --isolation=hypervisor --bundle "$BUNDLE" c2 </dev/null >/dev/null 2>&1
  [ "$(boot_of c2)" = template ]
  vmm=$(rh state c2 | jq -r .vmmPid)
  [ -d "/proc/$vmm/fd" ]
  for fd in /proc/"$vmm"/fd/*; do
    [[ "$(readlink "$fd")" != *vm-templates* ]] || fail "QEMU holds $(readlink "$fd")"
  done
  rh delete -f c2
}

@test "[vm] template = false boots each VM, and no template is made" {
  forget_template 236
  sized 236 $'[vm]\ntemplate = false\n'
  run rhc run --isolation=hypervisor --bundle "$BUNDLE" cold1
  [ "$status" -eq 0 ] || fail "cold1: $output"
  [ "$(boot_of cold1)" = cold ]
  [ -z "$(template_of 236)" ] || fail "a template was made: $(template_of 236)"
  run rhc run --isolation=hypervisor --bundle "$BUNDLE" cold2
  [ "$status" -eq 0 ]
  [ "$(boot_of cold2)" = cold ]
  sized 236 $'[vm]\ntemplate = "yes"\n'
  run rhc run --isolation=hypervisor --bundle "$BUNDLE" cold3
  [ "$status" -ne 0 ] && [[ "$output" == *"template"* ]] || fail "template = \"yes\" was accepted: $output"
}

@test "a template no VM can start from is a one-line error, is removed, and the next VM makes it anew" {
  forget_template 244
  sized 244
  run rhc run --isolation=hypervisor --bundle "$BUNDLE" b1
  [ "$status" -eq 0 ] || fail "b1: $output"
  name=$(template_of 244)
  [ -n "$name" ]
  truncate -s 4096 "$TEMPLATES/$name.state"
  run rhc run --isolation=hypervisor --bundle "$BUNDLE" b2
  [ "$status" -ne 0 ] || fail "a truncated template started a VM: $output"
  [[ "$output" == *"did not start from its template, which is now removed"*"template = false"* ]] || fail "error: $output"
  [ ! -e "$TEMPLATES/$name.state" ] || fail "the broken template is still there"
  rh delete -f b2 2>/dev/null || true
  assert_no_vm_leaks b2
  run rhc run --isolation=hypervisor --bundle "$BUNDLE" b3
  [ "$status" -eq 0 ] || fail "b3: $output"
  [ "$(boot_of b3)" = template ]
  [ -s "$TEMPLATES/$name.state" ]
}

@test "a VM with a network device starts from a template too, with the pod's MAC and address" {
  local ns="runhv-tpl-$$"
  ip netns add "$ns"
  ip -n "$ns" link add eth0 type veth peer name eth0p
  ip -n "$ns" addr add 10.99.0.2/24 dev eth0
  ip -n "$ns" link set eth0 up
  mac=$(ip -n "$ns" -j link show eth0 | jq -r '.[0].address')
  config ".linux.namespaces |= map(if .type == \"network\" then .path = \"/var/run/netns/$ns\" else . end)
    | .process.args = [\"sh\", \"-c\", \"cat /sys/class/net/eth0/address; ip -4 addr show eth0 | grep -c 10.99.0.2/24\"]"
  for id in n1 n2; do
    run rh run --isolation=hypervisor --bundle "$BUNDLE" $id
    [ "$status" -eq 0 ] || { ip netns del "$ns"; fail "$id: $output"; }
    [ "${lines[0]}" = "$mac" ] && [ "${lines[1]}" = 1 ] || { ip netns del "$ns"; fail "$id's NIC: $output (the pod's MAC is $mac)"; }
    [ "$(boot_of $id)" = template ] || { ip netns del "$ns"; fail "$id started $(boot_of $id)"; }
  done
  ip netns del "$ns"
}

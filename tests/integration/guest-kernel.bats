#!/usr/bin/env bats
# The utility VM's kernels: the lean one built from guest/kernel.config is the
# default and gives a container what it expects (entropy at once, bridges and
# veth pairs in a privileged container, poweroff that ends QEMU); Debian's
# generic kernel stays a working fallback chosen with `[vm] kernel`.

load helpers

setup() {
  setup_bundle
  [[ -f "$GUEST_DIR/vmlinux" && -f "$GUEST_DIR/generic/vmlinux" ]] ||
    fail "no guest kernels in $GUEST_DIR: run scripts/provision-guest.sh"
}
teardown() { teardown_bundle; }

@test "the default kernel is the lean one, and diag check says so and that the initramfs matches it" {
  run rh diag check
  [[ "$output" == *"guest kernel: $GUEST_DIR/vmlinux ($(cat "$GUEST_DIR/kernel-release")): runhv's lean kernel"* ]] ||
    fail "diag check: $output"
  [[ "$output" == *"initramfs: $GUEST_DIR/initramfs.cpio, modules for $(cat "$GUEST_DIR/kernel-release") (matches the kernel)"* ]] ||
    fail "diag check: $output"
  config '.process.args = ["uname", "-r"]'
  run rh run --isolation=hypervisor --bundle "$BUNDLE" lean1
  [ "$status" -eq 0 ] && [ "$output" = "$(cat "$GUEST_DIR/kernel-release")" ] || fail "uname in the VM: $output"
  [[ "$output" == *-runhv ]]
}

@test "a container's first getrandom() does not wait: the guest's crng is seeded before it starts" {
  cc -static -O2 -o "$BUNDLE/rootfs/crng-probe" "$RUNHV_SOURCE_DIR/tests/lib/crng-probe.c" ||
    fail "cannot build the static probe (gcc and libc6-dev are needed)"
  config '.process.args = ["/crng-probe"]'
  run rh run --isolation=hypervisor --bundle "$BUNDLE" crng1
  [ "$status" -eq 0 ] && [ "$output" = "crng ready" ] || fail "probe: $output"
  # (This VM, like any without [vm] template = false, started from a VM
  # template.)  The seed came from QEMU's virtio-rng while the kernel booted, not from
  # the agent waiting for jitter: the console (all of it, with Debug) says
  # "crng init done" before "Run /init".
  # A VM booted, not started from a template (whose boot's console is the
  # template's own; vm-template.bats checks a VM from one).
  printf 'Debug = true\n[vm]\ntemplate = false\n' > "$TEST_DIR/runhv.toml"
  config '.process.args = ["sleep", "1000"]'
  env RUNHV_CONFIG="$TEST_DIR/runhv.toml" "$RUNHV" --root "$ROOT" run --detach --isolation=hypervisor \
    --bundle "$BUNDLE" crng2 </dev/null >/dev/null 2>&1
  [ "$(rh state crng2 | jq -r .status)" = running ] || fail "crng2 is not running"
  log="$ROOT/vm-logs/crng2.console.log"
  crng=$(grep -n "random: crng init done" "$log" | head -1 | cut -d: -f1)
  init=$(grep -n "Run /init as init process" "$log" | head -1 | cut -d: -f1)
  [[ -n "$crng" && -n "$init" ]] && [ "$crng" -lt "$init" ] || fail "crng at line ${crng:-none}, /init at ${init:-none} of $log"
  run rh exec crng2 cat /sys/class/misc/hw_random/rng_current
  [[ "$output" == virtio_rng.* ]] || fail "hwrng in the VM: $output"
  rh delete -f crng2
}

@test "the lean kernel takes its APIC timer clock from the command line, and its timers keep time" {
  # lapic_timer_khz=1000000 (guest/kernel-patches) replaces the 100 ms
  # calibration: the local APIC clock event's mult is then exactly 1 GHz /
  # 16 (the APIC divisor) in ns, 2^shift / 16, where a calibrated one is
  # off by a few parts per million.  And a 3 s sleep in the guest, timed
  # on the host between a line printed before and one after it, is not
  # shorter on the host: the guest's clock does not run fast.  (TCG may
  # stretch it by any amount on a busy host; no upper bound is asserted.)
  config '.linux.maskedPaths = [] | .process.args = ["sh", "-c",
    "grep -A8 \"Clock Event Device: lapic\" /proc/timer_list | grep -E \"mult|shift\" | head -2; echo before; sleep 3; echo after"]'
  rh run --isolation=hypervisor --bundle "$BUNDLE" ticks > "$TEST_DIR/ticks.out" &
  local runner=$! t0 t1 mult shift
  wait_for 600 grep -qx before "$TEST_DIR/ticks.out" || fail "no line from the guest: $(cat "$TEST_DIR/ticks.out")"
  t0=$(date +%s%N)
  wait_for 600 grep -qx after "$TEST_DIR/ticks.out" || fail "no second line: $(cat "$TEST_DIR/ticks.out")"
  t1=$(date +%s%N)
  wait "$runner"
  mult=$(awk '/mult:/ { print $2 }' "$TEST_DIR/ticks.out")
  shift=$(awk '/shift:/ { print $2 }' "$TEST_DIR/ticks.out")
  [[ -n "$mult" && -n "$shift" ]] || fail "no lapic clock event in the guest: $(cat "$TEST_DIR/ticks.out")"
  [ "$mult" -eq $(((1 << shift) / 16)) ] || fail "lapic mult $mult (shift $shift): the APIC timer was calibrated, not given"
  local ms=$(((t1 - t0) / 1000000))
  [ "$ms" -ge 2700 ] || fail "a 3 s sleep in the guest took only $ms ms on the host"
}

@test "an idle guest stops its tick: high-resolution timers, and few timer interrupts while it sleeps" {
  # QEMU's CPU under TCG gets ARAT (vmm.c): without it the guest keeps a
  # periodic 250 Hz tick (nohz_mode 0), about 750 local timer interrupts in
  # a 3 s sleep; tickless, a handful.  The switch comes once the kernel
  # registers its TSC clocksource, 1 s after boot (its refinement timer):
  # the container waits for the switch (up to 60 s) before it counts.
  config '.linux.maskedPaths = [] | .process.args = ["sh", "-c",
    "i=0; while ! grep -q \"nohz_mode *: 2\" /proc/timer_list && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done; grep -m1 nohz_mode /proc/timer_list; a=$(awk \"/LOC:/ { print \\$2 }\" /proc/interrupts); sleep 3; b=$(awk \"/LOC:/ { print \\$2 }\" /proc/interrupts); echo loc $((b - a))"]'
  run rh run --isolation=hypervisor --bundle "$BUNDLE" tickless
  [ "$status" -eq 0 ] || fail "$output"
  [[ "${lines[0]}" == *"nohz_mode"*": 2" ]] || fail "the guest's tick is not high-resolution tickless: $output"
  local loc=${lines[1]#loc }
  [ "$loc" -lt 100 ] || fail "$loc local timer interrupts in a 3 s idle sleep: the tick did not stop ($output)"
}

@test "a privileged VM container builds a bridge and a veth pair on it" {
  config '.process.capabilities = {"bounding": ["CAP_NET_ADMIN", "CAP_NET_RAW"], "effective": ["CAP_NET_ADMIN", "CAP_NET_RAW"], "permitted": ["CAP_NET_ADMIN", "CAP_NET_RAW"]}'
  # busybox's ip ignores "peer name": the kernel names the peer veth0
  config '.process.args = ["sh", "-c", "brctl addbr br0 && ip link add v0 type veth && brctl addif br0 v0 && ip link set br0 up && ip link set v0 up && basename $(readlink /sys/class/net/v0/master) && [ $(cat /sys/class/net/v0/iflink) = $(cat /sys/class/net/veth0/ifindex) ] && echo paired"]'
  run rh run --isolation=hypervisor --bundle "$BUNDLE" br1
  [ "$status" -eq 0 ] || fail "bridge in the VM: $output"
  [ "${lines[0]}" = "br0" ] && [ "${lines[1]}" = "paired" ] || fail "bridge in the VM: $output"
}

@test "the generic kernel still boots as the fallback, with the initramfs beside it" {
  printf '[vm]\nkernel = "%s"\n' "$GUEST_DIR/generic/vmlinux" > "$TEST_DIR/runhv.toml"
  run env RUNHV_CONFIG="$TEST_DIR/runhv.toml" "$RUNHV" --root "$ROOT" diag check
  [[ "$output" == *"guest kernel: $GUEST_DIR/generic/vmlinux ("*"): Debian's generic kernel"* ]] || fail "diag: $output"
  [[ "$output" == *"initramfs: $GUEST_DIR/generic/initramfs.cpio"*"(matches the kernel)"* ]] || fail "diag: $output"
  config '.process.args = ["uname", "-r"]'
  run env RUNHV_CONFIG="$TEST_DIR/runhv.toml" "$RUNHV" --root "$ROOT" run --isolation=hypervisor --bundle "$BUNDLE" gen1
  [ "$status" -eq 0 ] && [ "${lines[0]}" = "$(cat "$GUEST_DIR/generic/kernel-release")" ] || fail "generic: $output"
  run rh state gen1
  [ "$status" -ne 0 ] || fail "gen1 left state behind: $output"
}

@test "the accelerator probe's verdict is kept per kernel: switching kernels does not probe again" {
  printf '[vm]\nkernel = "%s"\n' "$GUEST_DIR/generic/vmlinux" > "$TEST_DIR/generic.toml"
  env RUNHV_CONFIG="$TEST_DIR/generic.toml" "$RUNHV" --root "$ROOT" diag check >/dev/null 2>&1 || true
  rh diag check >/dev/null 2>&1 || true
  run env RUNHV_CONFIG="$TEST_DIR/generic.toml" "$RUNHV" --root "$ROOT" diag check
  [[ "$output" == *"accelerator: "*"(cached)"* ]] || fail "diag after switching back: $output"
  run rh diag check
  [[ "$output" == *"accelerator: "*"(cached)"* ]] || fail "diag: $output"
}

@test "a lean kernel and an initramfs built for another kernel: diag check says they do not match" {
  printf '[vm]\nkernel = "%s"\ninitrd = "%s"\n' "$GUEST_DIR/vmlinux" "$GUEST_DIR/generic/initramfs.cpio" > "$TEST_DIR/runhv.toml"
  run env RUNHV_CONFIG="$TEST_DIR/runhv.toml" "$RUNHV" --root "$ROOT" diag check
  [ "$status" -ne 0 ]
  [[ "$output" == *"(does NOT match the kernel)"*"make guest"* ]] || fail "diag: $output"
}

# The host here has no LSM; Debian's generic guest kernel has AppArmor, so a
# VM is where runhv's apply path runs for real: the label is written to the
# guest's /proc/self/attr/apparmor/exec before execve, as runc writes it.
# A profile the guest never loaded fails at that write, which proves the
# write happens; the lean kernel has no LSM and refuses the label up front.
@test "apparmorProfile and exec --apparmor are applied by a guest kernel with AppArmor, refused by one without" {
  printf '[vm]\nkernel = "%s"\n' "$GUEST_DIR/generic/vmlinux" > "$TEST_DIR/runhv.toml"
  config '.process.args = ["sh", "-c", "cat /proc/self/attr/current; sleep 1000"] | .process.apparmorProfile = "unconfined"'
  env RUNHV_CONFIG="$TEST_DIR/runhv.toml" "$RUNHV" --root "$ROOT" run -d --isolation=hypervisor --bundle "$BUNDLE" aa1 \
    </dev/null >"$TEST_DIR/aa1.out" 2>&1 || fail "$(cat "$TEST_DIR/aa1.out")"
  wait_for 100 grep -q unconfined "$TEST_DIR/aa1.out" || fail "$(cat "$TEST_DIR/aa1.out")"
  run env RUNHV_CONFIG="$TEST_DIR/runhv.toml" "$RUNHV" --root "$ROOT" exec --apparmor unconfined aa1 cat /proc/self/attr/current
  [ "$status" -eq 0 ] && [ "$output" = unconfined ] || fail "exec: $output"
  run env RUNHV_CONFIG="$TEST_DIR/runhv.toml" "$RUNHV" --root "$ROOT" exec --apparmor runhv-never-loaded aa1 true
  [ "$status" -ne 0 ] || fail "exec with a profile the guest never loaded succeeded: $output"
  [[ "$output" == *"exec runhv-never-loaded"*"/proc/self/attr/apparmor/exec"* ]] || fail "exec: $output"
  rh delete --force aa1
  config '.process.args = ["true"] | .process.apparmorProfile = "runhv-never-loaded"'
  run env RUNHV_CONFIG="$TEST_DIR/runhv.toml" "$RUNHV" --root "$ROOT" run --isolation=hypervisor --bundle "$BUNDLE" aa2
  [ "$status" -ne 0 ] || fail "a profile the guest never loaded was accepted: $output"
  [[ "$output" == *"process.apparmorProfile: write \`exec runhv-never-loaded\`"* ]] || fail "$output"
  run rh state aa2
  [ "$status" -ne 0 ] || fail "aa2 left state behind: $output"
  # the lean kernel has no LSM: refused, naming the field
  config '.process.args = ["true"] | .process.apparmorProfile = "unconfined"'
  run rh run --isolation=hypervisor --bundle "$BUNDLE" aa3
  [ "$status" -ne 0 ] || fail "the lean kernel accepted an AppArmor profile: $output"
  [[ "$output" == *"process.apparmorProfile: \`unconfined\` cannot be applied"* ]] || fail "$output"
  [ "$(echo "$output" | wc -l)" -eq 1 ] || fail "$output"
}

#!/usr/bin/env bash
# The isolation demo (the seed's "Isolation Demo"): a process-isolated and a
# hypervisor-isolated container side by side, each running a long process
# with a marker name, and what the host can see of each.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
runhv=${RUNHV:-$src/build/src/cli/runhv}
root=${RUNHV_DEMO_ROOT:-/run/runhv-demo}
work=$(mktemp -d /tmp/runhv-demo.XXXXXX)
chmod 755 "$work"
cleanup() {
  "$runhv" --root "$root" delete --force demo-process >/dev/null 2>&1 || true
  "$runhv" --root "$root" delete --force demo-hypervisor >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
ok() { printf '  \033[32m\xe2\x9c\x93\033[0m %s\n' "$*"; }
bad() { printf '  \033[31m\xe2\x9c\x97\033[0m %s\n' "$*"; failed=1; }
failed=0

# One bundle per container, each with its own marker: a long-running script
# whose name no host process has.
bundle() {
  local name=$1 marker=$2
  bash "$src/tests/lib/make-rootfs.sh" "$work/$name/rootfs"
  printf '#!/bin/sh\nwhile :; do sleep 1; done\n' > "$work/$name/rootfs/bin/$marker"
  chmod 755 "$work/$name/rootfs/bin/$marker"
  (cd "$work/$name" && "$runhv" spec)
  jq --arg m "/bin/$marker" --arg h "$name" \
    '.process.terminal = false | .process.args = [$m] | .hostname = $h | .root.readonly = false' \
    "$work/$name/config.json" > "$work/c" && mv "$work/c" "$work/$name/config.json"
}
bundle demo-process marker-process-isolated
bundle demo-hypervisor marker-hypervisor-isolated

say "1. Start a process-isolated container (namespaces + cgroups on the host kernel)"
"$runhv" --root "$root" run --detach --bundle "$work/demo-process" demo-process </dev/null >/dev/null
"$runhv" --root "$root" state demo-process | jq -c '{id, status, isolation, pid}'

say "2. Start a hypervisor-isolated container (its own utility VM and kernel)"
t0=$(date +%s.%N)
"$runhv" --root "$root" run --detach --isolation=hypervisor --bundle "$work/demo-hypervisor" demo-hypervisor </dev/null >/dev/null
t1=$(date +%s.%N)
"$runhv" --root "$root" state demo-hypervisor | jq -c '{id, status, isolation, pid, vmmPid}'
printf '  (VM booted and container running in %.1f s)\n' "$(echo "$t1 - $t0" | bc)"

say "3. What the host sees (the seed's get-process): the process container's marker, not the VM's"
if pgrep -af marker-process-isolated; then ok "the process-isolated container's marker runs on the host kernel"; else bad "marker-process-isolated not found on the host"; fi
if pgrep -af marker-hypervisor-isolated; then bad "marker-hypervisor-isolated is visible on the host"; else ok "marker-hypervisor-isolated: no such process on the host"; fi

say "4. Instead the host sees the VM's VMM process (the seed's vmwp.exe)"
if pgrep -af "runhv-uvm-demo-hypervisor" | cut -c1-120; then ok "one VMM process for the VM"; else bad "no VMM process"; fi

say "5. Inside each container (the seed's docker top): both markers run there"
"$runhv" --root "$root" ps demo-hypervisor

say "6. Kernel and boot id, host vs. inside each container"
host_kernel=$(uname -r); host_boot=$(cat /proc/sys/kernel/random/boot_id)
p_kernel=$("$runhv" --root "$root" exec demo-process uname -r)
p_boot=$("$runhv" --root "$root" exec demo-process cat /proc/sys/kernel/random/boot_id)
v_kernel=$("$runhv" --root "$root" exec demo-hypervisor uname -r)
v_boot=$("$runhv" --root "$root" exec demo-hypervisor cat /proc/sys/kernel/random/boot_id)
printf '  %-22s %-24s %s\n' "" "kernel" "boot id" "host" "$host_kernel" "$host_boot" \
  "process container" "$p_kernel" "$p_boot" "hypervisor container" "$v_kernel" "$v_boot"
[[ "$p_kernel" == "$host_kernel" && "$p_boot" == "$host_boot" ]] && ok "the process container shares the host's kernel" || bad "the process container should share the host's kernel"
[[ "$v_kernel" != "$host_kernel" || "$v_boot" != "$host_boot" ]] && [[ "$v_boot" != "$host_boot" ]] && ok "the hypervisor container has its own kernel (different boot id)" || bad "the hypervisor container should have its own kernel"

say "7. runhv diag list (the seed's hcsdiag list): each compute system, its type and isolation"
"$runhv" --root "$root" diag list

say "8. runhv diag events (the seed's Hyper-V-Worker log)"
tail -n 4 "$root/events.jsonl" | jq -c '{time, type, id}'

if [[ $failed -eq 0 ]]; then say "Isolation demo: every check passed."; else say "Isolation demo: some checks FAILED."; fi
exit $failed

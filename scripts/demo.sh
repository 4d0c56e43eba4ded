#!/usr/bin/env bash
# The isolation demo (the seed's "Isolation Demo"): containers side by side,
# each running a long process with a marker name, and what the host can see.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
runhv=${RUNHV:-$src/build/src/cli/runhv}
root=/run/runhv-demo
work=$(mktemp -d /tmp/runhv-demo.XXXXXX)
cleanup() {
  "$runhv" --root "$root" delete --force demo-process >/dev/null 2>&1 || true
  "$runhv" --root "$root" delete --force demo-hypervisor >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

say() { printf '\n\033[1m%s\033[0m\n' "$*"; }

bash "$src/tests/lib/make-rootfs.sh" "$work/process/rootfs"
(cd "$work/process" && "$runhv" spec)
# The marker is a long-running script under a name no host process has.
printf '#!/bin/sh\nwhile :; do sleep 1; done\n' > "$work/process/rootfs/bin/marker-process-isolated"
chmod 755 "$work/process/rootfs/bin/marker-process-isolated"
jq '.process.terminal = false | .process.args = ["/bin/marker-process-isolated"] | .hostname = "demo-process"' \
  "$work/process/config.json" > "$work/c" && mv "$work/c" "$work/process/config.json"

say "1. A process-isolated container (namespaces + cgroups on the host kernel)"
"$runhv" --root "$root" run --detach --bundle "$work/process" demo-process </dev/null >/dev/null
"$runhv" --root "$root" state demo-process | jq -c '{id, status, isolation, pid}'

say "2. From the host, the process-isolated container's process is visible:"
pgrep -a -f marker-process-isolated || echo "(not found)"

if "$runhv" features | jq -e '.annotations["io.runhv.hypervisor.available"] == "true"' >/dev/null 2>&1; then
  source "$src/scripts/demo-hypervisor.sh"
else
  say "(hypervisor isolation is not provisioned on this machine: run scripts/provision-guest.sh)"
fi

say "runhv diag list: every compute system, its type and isolation"
"$runhv" --root "$root" diag list

#!/usr/bin/env bash
# `make bench`: every benchmark in bench/, one after the other (never two at
# once: they measure the same CPUs), each side by side with its peer as
# docs/performance.md describes. Name some to run only those:
#   bash bench/run.sh process webhook
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
all=(process hypervisor shim webhook)
names=("$@")
[[ ${#names[@]} -gt 0 ]] || names=("${all[@]}")
failed=0
for n in "${names[@]}"; do
  [[ -f "$here/$n.sh" ]] || { echo "bench: no benchmark \`$n\` (have: ${all[*]} hypervisor-compare shim-compare)" >&2; exit 2; }
  echo "=== bench/$n.sh"
  bash "$here/$n.sh" || { echo "bench/$n.sh failed" >&2; failed=1; }
done
exit $failed

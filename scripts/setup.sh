#!/usr/bin/env bash
# The README's first command, for a fresh Debian 12 machine: install what is
# needed, build, provision the guest kernel and initramfs for hypervisor
# isolation, install, and run the isolation demo.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $(id -u) -ne 0 ]]; then
  exec sudo -E bash "$0" "$@"
fi
bash scripts/install-deps.sh
make -s all
bash scripts/provision-guest.sh
make -s install >/dev/null
exec bash scripts/demo.sh

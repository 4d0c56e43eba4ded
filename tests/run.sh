#!/usr/bin/env bash
# The whole test suite, from a clean clone: installs what is missing, builds
# the release and the ASan+UBSan builds, prepares the test images, runs every
# unit and integration test under the sanitizer build, and ends with one line:
# "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."

if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null; then exec sudo -E bash "$0" "$@"; fi
  echo "tests/run.sh: the tests create containers, cgroups and VMs: run as root" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

fail_setup() {
  echo "tests/run.sh: $1" >&2
  echo "0 passed, 1 failed"
  exit 1
}

bash scripts/install-deps.sh || fail_setup "installing dependencies failed"
make -s all asan >/tmp/runhv-build.log 2>&1 || { tail -30 /tmp/runhv-build.log >&2; fail_setup "the build failed"; }
bash scripts/provision-guest.sh >/tmp/runhv-guest.log 2>&1 || { tail -20 /tmp/runhv-guest.log >&2; fail_setup "provisioning the guest kernel and initramfs failed"; }
bash tests/lib/prepare-assets.sh build-asan/test-assets || fail_setup "preparing test assets failed"

suite_args=()
[[ $# -gt 0 ]] && suite_args=("$@")
meson test -C build-asan --print-errorlogs --num-processes 2 "${suite_args[@]}" >/tmp/runhv-meson-test.log 2>&1
tail -5 /tmp/runhv-meson-test.log >&2 || true
/usr/bin/python3 tests/lib/summarize.py build-asan/meson-logs/testlog.json

#!/usr/bin/env bash
# The whole test suite, from a clean clone: installs what is missing, builds
# the release and the ASan+UBSan builds, the guest kernels and initramfs,
# prepares the test images, runs every unit and integration test under the
# sanitizer build, and ends with one line: "N passed, N failed".
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
# The lean guest kernel is most of a fresh machine's set-up (about 13 minutes
# on 2 CPUs, a copy from the cache after that): it builds at the lowest CPU
# priority while runhv builds and the suites that boot no VM run.
nice -n 19 bash scripts/build-guest-kernel.sh build/guest >/tmp/runhv-kernel.log 2>&1 &
kernel_pid=$!
trap 'kill $kernel_pid 2>/dev/null' EXIT
make -s all asan >/tmp/runhv-build.log 2>&1 || { tail -30 /tmp/runhv-build.log >&2; fail_setup "the build failed"; }
bash tests/lib/prepare-assets.sh build-asan/test-assets || fail_setup "preparing test assets failed"

if [[ $# -gt 0 ]]; then
  # named suites or tests: everything first, then exactly what was asked
  wait $kernel_pid || { tail -20 /tmp/runhv-kernel.log >&2; fail_setup "building the guest kernel failed"; }
  trap - EXIT
  bash scripts/provision-guest.sh >/tmp/runhv-guest.log 2>&1 || { tail -20 /tmp/runhv-guest.log >&2; fail_setup "provisioning the guest kernels and initramfs failed"; }
  meson test -C build-asan --print-errorlogs --num-processes 2 --logbase testlog "$@" >/tmp/runhv-meson-test.log 2>&1
  tail -5 /tmp/runhv-meson-test.log >&2 || true
  exec /usr/bin/python3 tests/lib/summarize.py build-asan/meson-logs/testlog.json
fi

# Suites that boot no VM, beside the kernel build; then, with the guest
# ready, the ones that do (tests/meson.build puts those in suite "vm").
meson test -C build-asan --print-errorlogs --num-processes 2 --no-suite vm --logbase testlog-host \
  >/tmp/runhv-meson-test.log 2>&1
wait $kernel_pid || { tail -20 /tmp/runhv-kernel.log >&2; fail_setup "building the guest kernel failed"; }
trap - EXIT
bash scripts/provision-guest.sh >/tmp/runhv-guest.log 2>&1 || { tail -20 /tmp/runhv-guest.log >&2; fail_setup "provisioning the guest kernels and initramfs failed"; }
meson test -C build-asan --print-errorlogs --num-processes 2 --suite vm --logbase testlog-vm \
  >>/tmp/runhv-meson-test.log 2>&1
tail -5 /tmp/runhv-meson-test.log >&2 || true
/usr/bin/python3 tests/lib/summarize.py build-asan/meson-logs/testlog-host.json build-asan/meson-logs/testlog-vm.json

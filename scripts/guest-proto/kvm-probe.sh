#!/usr/bin/env bash
# Probe whether KVM can actually boot the guest kernel on this host.
#
# Usage: kvm-probe.sh [GUEST_DIR] [TIMEOUT_S]     exit 0 = KVM usable, 1 = not
#
# /dev/kvm existing proves little: on this host (a nested hypervisor) KVM
# opens fine but the guest kernel spins forever before its first earlyprintk
# byte with the default CPU model, and -cpu host makes QEMU abort on an MSR
# write. So boot the real vmlinux under KVM with no initramfs and
#   earlyprintk=ttyS0 panic=-1 root=/dev/nonexistent
# With -no-reboot, a healthy boot runs all initcalls, panics on the missing
# root fs ("VFS: Unable to mount root fs"), reboots and QEMU exits on its own.
# Verdicts: exited + panic line on serial = usable; "KVM internal error" on
# stderr, QEMU dying, or no exit within TIMEOUT_S = unusable.
# Cache the answer per host boot (/proc/sys/kernel/random/boot_id) + QEMU
# version + kernel release rather than probing at every container start.
set -euo pipefail
guest=${1:-/tmp/runhv-guest}
timeout_s=${2:-3}
qemu=${QEMU:-qemu-system-x86_64}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [[ ! -r /dev/kvm || ! -w /dev/kvm ]]; then
    echo "kvm-probe: /dev/kvm not accessible"; exit 1
fi

start=$(date +%s%N)
rc=0
timeout --kill-after=1 "$timeout_s" "$qemu" \
    -nodefaults -no-user-config -display none \
    -M microvm,acpi=on -accel kvm -m 128M -smp 1 \
    -kernel "$guest/vmlinux" \
    -append "earlyprintk=ttyS0 console=ttyS0 panic=-1 root=/dev/nonexistent loglevel=1" \
    -serial "file:$tmp/serial" -no-reboot \
    >"$tmp/stdout" 2>"$tmp/stderr" || rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))

if grep -q "KVM internal error" "$tmp/stderr"; then
    echo "kvm-probe: UNUSABLE: KVM internal error after ${ms} ms"; exit 1
elif [[ $rc == 124 || $rc == 137 ]]; then
    echo "kvm-probe: UNUSABLE: guest did not finish booting within ${timeout_s}s" \
         "($(wc -c <"$tmp/serial") serial bytes)"
    exit 1
elif [[ $rc != 0 ]]; then
    echo "kvm-probe: UNUSABLE: qemu exited $rc after ${ms} ms: $(head -c 300 "$tmp/stderr" | tr '\n' ' ')"
    exit 1
elif grep -q "Kernel panic - not syncing" "$tmp/serial"; then
    echo "kvm-probe: usable: kernel reached root mount (expected panic) in ${ms} ms"; exit 0
else
    echo "kvm-probe: UNUSABLE: qemu exited after ${ms} ms without the expected panic"; exit 1
fi

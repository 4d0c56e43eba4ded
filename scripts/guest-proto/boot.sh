#!/usr/bin/env bash
# QEMU options are comma-separated on purpose:
# shellcheck disable=SC2054
# Boot the prototype utility VM: QEMU microvm, TCG, PVH vmlinux + busybox initramfs.
#
# Usage: boot.sh            (all knobs are environment variables, defaults below)
#   GUEST=/tmp/runhv-guest       output of scripts/provision-guest-kernel.sh
#   INITRD=$WORK/initramfs.cpio  from build-initramfs.sh (.cpio or .cpio.gz)
#   WORK=/tmp/runhv-proto        where initramfs/run dirs live
#   ID=$$                        VM id: name runhv-uvm-$ID, run dir $WORK/run-$ID
#   SHARE=$WORK/share            host directory shared as tag "rootfs"
#   FS=9p|virtiofs|none          how the share is exported (default 9p)
#   SECMODEL=none                9p security_model (none|mapped-xattr|passthrough)
#   ACPI=on|off                  microvm ACPI (this kernel needs on, see notes)
#   ACCEL=tcg                    tcg | tcg-multi | tcg-single | kvm
#   TCG_OPTS=                    extra -accel tcg options (e.g. tb-size=64)
#   CPU=                         -cpu model (default: QEMU's qemu64; "max" boots ~0.2 s slower)
#   TSC_KHZ=                     host TSC kHz for tsc_early_khz= (default: measured)
#   MACHINE_EXTRA=               extra microvm properties (e.g. pit=off)
#   MEM=128M SMP=1
#   RUNAS=user                   QEMU -runas (setuid after setup; forces the
#                                sandbox's elevateprivileges=allow)
#   SANDBOX=on|off               QEMU seccomp sandbox (-sandbox on,$SANDBOX_OPTS)
#   TAP=name [MAC=..]            attach an existing tap device as virtio-net
#   APPEND=...                   replaces the default kernel command line tail
#   APPEND_EXTRA=...             appended to the kernel command line
#   AGENT_SOCK=path              unix socket that the HOST listens on; QEMU
#                                connects to it. If unset, boot.sh runs a small
#                                listener itself and saves what arrives to
#                                $RUN/agent.log.
#   EXEC=1                       exec QEMU (for bench.py), else run and report
#   DRY_RUN=1                    print the QEMU command line and exit
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
WORK=${WORK:-/tmp/runhv-proto}
GUEST=${GUEST:-/tmp/runhv-guest}
INITRD=${INITRD:-$WORK/initramfs.cpio}
ID=${ID:-$$}
SHARE=${SHARE:-$WORK/share}
FS=${FS:-9p}
SECMODEL=${SECMODEL:-none}
ACPI=${ACPI:-on}
ACCEL=${ACCEL:-tcg}
MEM=${MEM:-128M}
SMP=${SMP:-1}
SANDBOX=${SANDBOX:-on}
QEMU=${QEMU:-qemu-system-x86_64}
VIRTIOFSD=${VIRTIOFSD:-/usr/lib/qemu/virtiofsd}
PORT_NAME=org.runhv.agent.0
RUN=$WORK/run-$ID

# Host TSC frequency. Under TCG the guest TSC *is* the host TSC; microvm has
# no HPET/PM timer, and the guest's PIT calibration of the TSC fails in ~1/3
# of boots here, after which the kernel hangs. tsc_early_khz= skips it.
if [[ -z ${TSC_KHZ:-} ]]; then
    if [[ ! -x $WORK/tsc-khz || $here/tsc-khz.c -nt $WORK/tsc-khz ]]; then
        mkdir -p "$WORK"
        cc -O2 -o "$WORK/tsc-khz" "$here/tsc-khz.c" 2>/dev/null || true
    fi
    if [[ -x $WORK/tsc-khz ]]; then
        TSC_KHZ=$("$WORK/tsc-khz")
    else   # fallback: cpu MHz is the TSC rate on constant_tsc/tsc_known_freq hosts
        TSC_KHZ=$(awk -F: '/^cpu MHz/ {printf "%d", $2 * 1000; exit}' /proc/cpuinfo)
    fi
fi

# Kernel command line (medians of 15 interleaved boots, docs/notes-guest-boot.md):
#   cryptomgr.notests   -0.4 s: skips the crypto self-tests run at late_initcall
#   quiet               -0.07 s: console bytes are emulated 8250 writes
#   tsc_early_khz=      required for reliable boots (see above)
#   panic=-1            reboot at once on panic; with -no-reboot QEMU exits
#   rdinit=/init        run /init from the initramfs (the default, made explicit)
# (The one console line left, "PCI: Fatal: No config space access function
# found", is harmless: microvm has no PCI bus; pci=off does not silence it.)
DEFAULT_APPEND="console=ttyS0 quiet panic=-1 rdinit=/init cryptomgr.notests tsc_early_khz=$TSC_KHZ"
APPEND=${APPEND:-$DEFAULT_APPEND}
APPEND="$APPEND runhv.fs=$FS runhv.port=$PORT_NAME${APPEND_EXTRA:+ $APPEND_EXTRA}"

mkdir -p "$RUN" "$SHARE"
rm -f "$RUN"/{console.log,agent.log,agent.sock,agent.sock.ready,qmp.sock,vfs.sock,qemu.pid,exec-time}

case $ACCEL in
    tcg)        accel=(-accel "tcg${TCG_OPTS:+,$TCG_OPTS}") ;;
    tcg-multi)  accel=(-accel "tcg,thread=multi${TCG_OPTS:+,$TCG_OPTS}") ;;
    tcg-single) accel=(-accel "tcg,thread=single${TCG_OPTS:+,$TCG_OPTS}") ;;
    kvm)        accel=(-accel kvm) ;;
    *) echo "bad ACCEL=$ACCEL" >&2; exit 1 ;;
esac

machine="microvm,acpi=$ACPI${MACHINE_EXTRA:+,$MACHINE_EXTRA}"
args=(
    -name "runhv-uvm-$ID,process=runhv-uvm-$ID"
    -nodefaults -no-user-config -nographic
    -M "$machine"
    "${accel[@]}"
    -m "$MEM" -smp "$SMP"
    -kernel "$GUEST/vmlinux" -initrd "$INITRD" -append "$APPEND"
    -serial "file:$RUN/console.log"
    -device virtio-serial-device,max_ports=2
    -chardev "socket,id=agent,path=${AGENT_SOCK:-$RUN/agent.sock},server=off"
    -device "virtserialport,chardev=agent,name=$PORT_NAME"
    -qmp "unix:$RUN/qmp.sock,server=on,wait=off"
    -no-reboot
    -device pvpanic -action panic=exit-failure
    -pidfile "$RUN/qemu.pid"
)
if [[ -n ${TAP:-} ]]; then
    # Existing tap device (created by the runtime: ip tuntap add NAME mode tap).
    # runhv itself should rather open /dev/net/tun and pass the fd:
    #   -netdev tap,id=net0,fd=N  (then QEMU needs no CAP_NET_ADMIN).
    args+=(-netdev "tap,id=net0,ifname=$TAP,script=no,downscript=no,vhost=off"
           -device "virtio-net-device,netdev=net0,mac=${MAC:-52:54:00:12:34:56}")
fi
[[ -n ${CPU:-} ]] && args+=(-cpu "$CPU")
[[ -n ${RUNAS:-} ]] && args+=(-runas "$RUNAS")     # drop to this user after init
# seccomp: all four deny options work here (TCG, 9p, virtio-fs, -smp 2,
# thread=multi). With RUNAS, elevateprivileges must be allow: the filter is
# installed before -runas' setgid/setuid, and both deny and children make QEMU
# die of SIGSYS there. (Better: drop privileges before exec'ing QEMU.)
if [[ -z ${SANDBOX_OPTS:-} ]]; then
    if [[ -n ${RUNAS:-} ]]; then ep=allow; else ep=deny; fi
    SANDBOX_OPTS="obsolete=deny,elevateprivileges=$ep,spawn=deny,resourcecontrol=deny"
fi
if [[ $SANDBOX == on ]]; then
    args+=(-sandbox "on,$SANDBOX_OPTS")
fi

case $FS in
    9p)
        args+=(-fsdev "local,id=fs0,path=$SHARE,security_model=$SECMODEL"
               -device virtio-9p-device,fsdev=fs0,mount_tag=rootfs) ;;
    virtiofs)
        # vhost-user needs guest RAM in shareable memory, and vhost-user-fs
        # needs a VIRTIO 1.0 (non-legacy) virtio-mmio transport.
        args+=(-object "memory-backend-memfd,id=mem,size=$MEM,share=on"
               -machine memory-backend=mem
               -global virtio-mmio.force-legacy=false
               -chardev "socket,id=vfs,path=$RUN/vfs.sock"
               -device vhost-user-fs-device,chardev=vfs,tag=rootfs) ;;
    none) ;;
    *) echo "bad FS=$FS" >&2; exit 1 ;;
esac

if [[ ${DRY_RUN:-0} == 1 ]]; then
    printf '%q ' "$QEMU" "${args[@]}"; echo
    exit 0
fi

if [[ $FS == virtiofs ]]; then
    # C virtiofsd from QEMU 7.2; it exits when QEMU disconnects.
    "$VIRTIOFSD" --socket-path="$RUN/vfs.sock" -o source="$SHARE" -o cache=auto \
        -o sandbox=namespace -o log_level=warn 2>"$RUN/virtiofsd.log" &
    for _ in $(seq 200); do [[ -S $RUN/vfs.sock ]] && break; sleep 0.01; done
    [[ -S $RUN/vfs.sock ]] || { echo "virtiofsd did not start" >&2; cat "$RUN/virtiofsd.log" >&2; exit 1; }
fi

if [[ ${EXEC:-0} == 1 ]]; then
    date +%s.%N >"$RUN/exec-time"
    exec "$QEMU" "${args[@]}"
fi

listener=""
if [[ -z ${AGENT_SOCK:-} ]]; then
    # Host side of the agent channel: listen, accept QEMU, log until EOF.
    python3 - "$RUN/agent.sock" "$RUN/agent.log" <<'EOF' &
import socket, sys, os
path, log = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path); s.listen(1)
open(path + ".ready", "w").close()
c, _ = s.accept()
with open(log, "wb", buffering=0) as f:
    while True:
        b = c.recv(65536)
        if not b:
            f.write(b"[host: EOF on agent socket]\n"); break
        f.write(b)
EOF
    listener=$!
    for _ in $(seq 200); do [[ -e $RUN/agent.sock.ready ]] && break; sleep 0.01; done
fi

start=$(date +%s.%N)
rc=0
"$QEMU" "${args[@]}" || rc=$?
end=$(date +%s.%N)
if [[ -n $listener ]]; then wait "$listener" 2>/dev/null || true; fi
rm -f "$RUN/agent.sock" "$RUN/agent.sock.ready"
# Exit code: 0 = guest poweroff/reboot or QMP quit, 1 = guest panic (pvpanic).
echo "--- qemu exit code $rc after $(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.3f", b - a}') s"
echo "--- console ($RUN/console.log):"; cat "$RUN/console.log" 2>/dev/null || true
echo "--- agent channel ($RUN/agent.log):"; cat "$RUN/agent.log" 2>/dev/null || true
exit "$rc"

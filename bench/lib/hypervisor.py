#!/usr/bin/env python3
"""Hypervisor isolation with each guest kernel, side by side in one run:
  (1) a bare QEMU boot of the same kernel and initramfs with the very
      command line runhv uses (read from a live VM), timed from exec to the
      agent's first answer and on to QEMU's exit after poweroff;
  (2) `runhv run --isolation=hypervisor` of a container printing a line:
      to its first output line and to runhv's exit;
  (3) the same container with process isolation.
Each kernel's VMs start from a VM template; "lean-cold" boots every VM of
the lean kernel ([vm] template = false), the previous design.  Interleaved runs, medians and ratios.
Then, per column, the host memory of one idle VM container (PSS of every
host process it has, and where QEMU's goes) and of 8 started at once."""
import json
import os
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

from procmem import descendants, pss_kib
from qemu_smaps import breakdown, guest_ram_file_kib

runhv, bundle, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
root = tempfile.mkdtemp(prefix="runhv-bench-root-")
confdir = tempfile.mkdtemp(prefix="runhv-bench-conf-")
guest = os.environ.get("RUNHV_GUEST_DIR") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../build/guest")
share = tempfile.mkdtemp(prefix="runhv-bench-share-")
# The agent's protocol version (src/lib/proto/agent-proto.h): an agent
# refuses frames of another version, and would then never power off.
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../src/lib/proto/agent-proto.h")) as f:
    PROTO_VERSION = int(next(l.split()[2] for l in f if l.startswith("#define AGENT_PROTO_VERSION ")))
qemu = subprocess.run(["sh", "-c", "command -v qemu-system-x86_64"], capture_output=True, text=True).stdout.strip()

# Each kernel through runhv.toml, as an operator chooses it.  BEFORE_GUEST
# (a directory with vmlinux, initramfs.cpio and kernel-release, e.g. the
# previous lean kernel with the previous agent) adds a third column, "before".
# Each kernel starts its VMs from a VM template (the default, docs/
# hypervisor.md "VM templates"); "lean-cold" boots every VM of the lean
# kernel instead ([vm] template = false).
kernels = {}
guests = [("generic", os.path.join(guest, "generic"), True), ("lean", guest, True), ("lean-cold", guest, False)]
if os.environ.get("BEFORE_GUEST"):
    guests.append(("before", os.environ["BEFORE_GUEST"], False))
for name, d, template in guests:
    toml = os.path.join(confdir, f"runhv-{name}.toml")
    with open(toml, "w") as f:
        f.write(f'[vm]\nkernel = "{d}/vmlinux"\ninitrd = "{d}/initramfs.cpio"\ntemplate = {str(template).lower()}\n')
    kernels[name] = {"dir": d, "toml": toml, "release": open(f"{d}/kernel-release").read().strip()}


def kernel_env(kernel):
    """runhv's environment with that kernel's runhv.toml (None: the default)."""
    env = dict(os.environ)
    if kernel:
        env["RUNHV_CONFIG"] = kernels[kernel]["toml"]
    return env


def rh(kernel, *args, **kw):
    return subprocess.run([runhv, "--root", root, *args], env=kernel_env(kernel), **kw)


bundle_sleep = tempfile.mkdtemp(prefix="runhv-bench-sleep-")
subprocess.run(["cp", "-a", bundle + "/.", bundle_sleep], check=True)
cfg = json.load(open(bundle_sleep + "/config.json"))
cfg["process"]["args"] = ["sleep", "100000"]
json.dump(cfg, open(bundle_sleep + "/config.json", "w"))

def vm_argv(kernel):
    """The command line runhv gives QEMU, from a live VM."""
    # a file, not a pipe: the detached container keeps its stderr open
    with tempfile.TemporaryFile() as err:
        r = rh(kernel, "run", "--detach", "--isolation=hypervisor", "--bundle", bundle_sleep, "probe",
               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        if r.returncode != 0:
            err.seek(0)
            sys.exit(f"bench: a VM with the {kernel} kernel did not start: {err.read().decode().strip()}")
    # state's pid is the supervisor; QEMU is vmmPid
    vmm = json.loads(rh(kernel, "state", "probe", capture_output=True, check=True).stdout)["vmmPid"]
    argv = [a.decode() for a in open(f"/proc/{vmm}/cmdline", "rb").read().split(b"\0")[:-1]]
    rh(kernel, "delete", "--force", "probe", check=True)
    return argv


def bare_boot(kernel):
    # runhv's QEMU runs in a jail (docs/hypervisor.md): its paths are the jail's.
    d = kernels[kernel]["dir"]
    jail_paths = {"/vmm": qemu, "/kernel": f"{d}/vmlinux", "/initrd": f"{d}/initramfs.cpio"}
    a, b = socket.socketpair()
    args = []
    argv = kernels[kernel]["argv"]
    # A VM from a template: its RAM file, monitor and deferred load go, for
    # a boot.  The console log's fd: a file here.
    drop = {i for i, x in enumerate(argv[1:], 1)
            if x.startswith(("memory-backend-file,id=ram", "memory-backend=ram", "socket,id=qmp", "chardev=qmp"))
            or argv[i - 1] in ("-incoming", "-add-fd")}
    drop |= {i - 1 for i in drop}
    for i, x in enumerate(argv):
        if i in drop:
            continue
        x = jail_paths.get(x, x)
        if x.startswith("file,id=con,path="):
            x = "file,id=con,path=/dev/null"
        if x.startswith("socket,id=agent,fd="):
            x = "socket,id=agent,fd=%d" % b.fileno()
        elif x.startswith("local,id=fs0,path="):
            x = "local,id=fs0,path=" + share + "," + x.split(",", 3)[3]
        elif x.startswith("file:"):
            x = "file:/dev/null"
        args.append(x)
    t0 = time.monotonic()
    p = subprocess.Popen(args, pass_fds=[b.fileno()], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    b.close()
    hello = json.dumps({"op": "hello", "version": PROTO_VERSION}).encode()
    a.sendall(struct.pack(">IBBHII", 0x52485641, PROTO_VERSION, 1, 0, 1, len(hello)) + hello)
    buf = b""
    while len(buf) < 16 or len(buf) < 16 + struct.unpack(">IBBHII", buf[:16])[5]:
        d = a.recv(65536)
        if not d:
            raise SystemExit(f"bare boot ({kernel}): the agent did not answer")
        buf += d
    t_hello = time.monotonic() - t0
    bye = json.dumps({"op": "shutdown"}).encode()
    a.sendall(struct.pack(">IBBHII", 0x52485641, PROTO_VERSION, 1, 0, 2, len(bye)) + bye)
    p.wait()
    return t_hello, time.monotonic() - t0


def timed(kernel, *args):
    """Seconds to the first output line and to runhv's exit."""
    t0 = time.monotonic()
    p = subprocess.Popen([runhv, "--root", root, *args], env=kernel_env(kernel), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         stdin=subprocess.DEVNULL)
    line = p.stdout.readline()
    t_line = time.monotonic() - t0
    rest = p.stdout.read()
    p.wait()
    if b"a line" not in line:
        raise SystemExit(f"bench: {' '.join(args)} printed {line + rest!r}")
    return t_line, time.monotonic() - t0


for k in kernels:
    kernels[k]["argv"] = vm_argv(k)
    for key in ("hello", "bare", "line", "run"):
        kernels[k][key] = []
proc = []
for i in range(runs):
    for k in kernels:
        h, t = bare_boot(k)
        kernels[k]["hello"].append(h)
        kernels[k]["bare"].append(t)
        line, total = timed(k, "run", "--isolation=hypervisor", "--bundle", bundle, f"hv{i}")
        kernels[k]["line"].append(line)
        kernels[k]["run"].append(total)
    proc.append(timed(None, "run", "--bundle", bundle, f"pr{i}")[1])

med = statistics.median
fmt = lambda v: f"{med(v):7.3f} ({min(v):.3f}-{max(v):.3f})"
g, l = kernels["generic"], kernels["lean"]
print(f"\nstart-up, {runs} interleaved runs each: median (min-max), seconds")
print(f"  {'':48s}" + "".join(f" {k + ' ' + v['release']:>26s}" for k, v in kernels.items()) + "  lean/lean-cold")
rows = [("(1) bare QEMU boot to the agent's answer", "hello"),
        ("(1') bare QEMU boot, answer and poweroff", "bare"),
        ("(2) runhv run --isolation=hypervisor: first line", "line"),
        ("(2') runhv run --isolation=hypervisor: exit", "run")]
for name, key in rows:
    print(f"  {name:48s}" + "".join(f" {fmt(v[key]):>26s}" for v in kernels.values())
          + f"  {med(l[key]) / med(kernels['lean-cold'][key]):.3f}")
print(f"  {'(3) runhv run (process isolation)':48s} {fmt(proc):>26s}")
for k in kernels:
    print(f"  {k}: ratio (2')/(1') = {med(kernels[k]['run']) / med(kernels[k]['bare']):.3f} (goal <= 1.10), "
          f"(2')/(3) = {med(kernels[k]['run']) / med(proc):.1f}")


def host_pss(container):
    """PSS of the container's host processes, and all of a template VM's
    guest RAM memfd, which PSS counts only as far as QEMU has mapped it."""
    sup = json.loads(open(f"{root}/{container}/state.json").read())["pid"]
    pids = descendants(sup)
    extra = 0
    for p in pids:
        whole, mapped = guest_ram_file_kib(p)
        extra += whole - mapped
    return sum(pss_kib(p) for p in pids) + extra, pids


print("\nhost memory of one idle hypervisor-isolated container (PSS, MiB), after 5 s idle")
for k in kernels:
    rh(k, "run", "--detach", "--isolation=hypervisor", "--bundle", bundle_sleep, "idle", stdin=subprocess.DEVNULL,
       stdout=subprocess.DEVNULL, check=True)
    time.sleep(5)
    kib, pids = host_pss("idle")
    vmm = json.loads(rh(k, "state", "idle", capture_output=True, check=True).stdout)["vmmPid"]
    argv = open(f"/proc/{vmm}/cmdline", "rb").read().split(b"\0")
    ram = int(argv[argv.index(b"-m") + 1].rstrip(b"M"))
    accel = argv[argv.index(b"-accel") + 1].decode()
    tb = int(accel.split("tb-size=")[1].split(",")[0]) if "tb-size=" in accel else 0
    parts = breakdown(vmm, ram, tb)
    kernels[k]["pss"] = kib
    print(f"  {k:9s} {kib / 1024:6.1f} in {len(pids)} processes (guest RAM {ram} MiB, tb-size {tb} MiB); QEMU: " +
          ", ".join(f"{n} {v / 1024:.1f}" for n, v in parts.items()) +
          f"; supervisor and the rest {(kib - sum(parts.values())) / 1024:.1f}")
    rh(k, "delete", "--force", "idle", check=True)
print(f"  lean/generic = {l['pss'] / g['pss']:.3f}, lean/lean-cold = {l['pss'] / kernels['lean-cold']['pss']:.3f}")

# The RuntimeClass overhead (src/cli/config-kubernetes.c) as a line in the
# VM's size: idle lean VMs of 256 MiB and 1 GiB, from their templates as a
# pod's VM is.
fit = {}
for mb in (256, 1024):
    toml = os.path.join(confdir, f"runhv-lean-{mb}.toml")
    with open(toml, "w") as f:
        f.write(f'VmMemorySizeInMb = {mb}\n[vm]\nkernel = "{l["dir"]}/vmlinux"\n')
    env = dict(os.environ, RUNHV_CONFIG=toml)
    subprocess.run([runhv, "--root", root, "run", "--detach", "--isolation=hypervisor", "--bundle", bundle_sleep,
                    f"size{mb}"], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, check=True)
    time.sleep(5)
    fit[mb] = host_pss(f"size{mb}")[0] / 1024
    subprocess.run([runhv, "--root", root, "delete", "--force", f"size{mb}"], check=True)
per_gib = (fit[1024] - fit[256]) / 0.75
print(f"  lean, idle at 256 MiB: {fit[256]:.1f}, at 1024 MiB: {fit[1024]:.1f}: "
      f"overhead = {fit[256] - per_gib / 4:.1f} MiB + {per_gib:.1f} MiB per GiB of VM memory")

for k in kernels:
    env = kernel_env(k)
    t0 = time.monotonic()
    procs = [subprocess.Popen([runhv, "--root", root, "run", "--detach", "--isolation=hypervisor", "--bundle",
                               bundle_sleep, f"eight{i}"], env=env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for i in range(8)]
    for p in procs:
        p.wait()
    t8 = time.monotonic() - t0
    states = [json.loads(rh(k, "state", f"eight{i}", capture_output=True).stdout or b'{}').get("status")
              for i in range(8)]
    time.sleep(3)
    total = sum(host_pss(f"eight{i}")[0] for i in range(8) if states[i] == "running")
    print(f"{k}: 8 started at once: {states.count('running')}/8 running after {t8:.1f} s; "
          f"{total / 1024:.1f} MiB PSS in all ({total / 1024 / 8:.1f} MiB each)")
    for i in range(8):
        rh(k, "delete", "--force", f"eight{i}", stderr=subprocess.DEVNULL)
subprocess.run(["rm", "-rf", root, share, bundle_sleep, confdir])

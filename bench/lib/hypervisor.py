#!/usr/bin/env python3
"""Hypervisor isolation, side by side with its floor, in one run:
  (1) a bare QEMU boot of the same kernel and initramfs with the very
      command line runhv uses (read from a live VM), timed from exec to the
      agent's first answer and on to QEMU's exit after poweroff;
  (2) `runhv run --isolation=hypervisor` of a container printing a line;
  (3) the same container with process isolation.
Interleaved runs, medians and ratios.  Then the host memory of one idle
VM container (PSS of every host process it has) and of 8 started at once."""
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

runhv, bundle, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
root = tempfile.mkdtemp(prefix="runhv-bench-root-")


def rh(*args, **kw):
    return subprocess.run([runhv, "--root", root, *args], **kw)


# The command line runhv gives QEMU, from a live VM.
rh("run", "--detach", "--isolation=hypervisor", "--bundle", bundle, "probe", stdin=subprocess.DEVNULL,
   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
vmm = json.loads(rh("state", "probe", capture_output=True, check=True).stdout)["pid"]
argv = open(f"/proc/{vmm}/cmdline", "rb").read().split(b"\0")[:-1]
argv = [a.decode() for a in argv]
rh("delete", "--force", "probe", check=True)

share = tempfile.mkdtemp(prefix="runhv-bench-share-")


# runhv's QEMU runs in a jail (docs/hypervisor.md): its paths are the jail's.
guest = os.environ.get("RUNHV_GUEST_DIR") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../build/guest")
jail_paths = {"/vmm": subprocess.run(["sh", "-c", "command -v qemu-system-x86_64"], capture_output=True,
                                     text=True).stdout.strip(),
              "/kernel": os.path.join(guest, "vmlinux"), "/initrd": os.path.join(guest, "initramfs.cpio")}


def bare_boot():
    a, b = socket.socketpair()
    args = []
    skip = False
    for x in argv:
        if skip:
            skip = False
            continue
        if x == "-add-fd":  # the console log's fd: a file here
            skip = True
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
    hello = json.dumps({"op": "hello", "version": 1}).encode()
    a.sendall(struct.pack(">IBBHII", 0x52485641, 1, 1, 0, 1, len(hello)) + hello)
    buf = b""
    while len(buf) < 16 or len(buf) < 16 + struct.unpack(">IBBHII", buf[:16])[5]:
        d = a.recv(65536)
        if not d:
            raise SystemExit("bare boot: the agent did not answer")
        buf += d
    t_hello = time.monotonic() - t0
    bye = json.dumps({"op": "shutdown"}).encode()
    a.sendall(struct.pack(">IBBHII", 0x52485641, 1, 1, 0, 2, len(bye)) + bye)
    p.wait()
    return t_hello, time.monotonic() - t0


def timed(*args):
    t0 = time.monotonic()
    r = rh(*args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    if b"a line" not in r.stdout:
        raise SystemExit(f"bench: {' '.join(args)} printed {r.stdout!r}")
    return time.monotonic() - t0


bare_hello, bare_total, hv, proc = [], [], [], []
for i in range(runs):
    h, t = bare_boot()
    bare_hello.append(h)
    bare_total.append(t)
    hv.append(timed("run", "--isolation=hypervisor", "--bundle", bundle, f"hv{i}"))
    proc.append(timed("run", "--bundle", bundle, f"pr{i}"))

med = statistics.median
print(f"\nstart-up, {runs} interleaved runs each (median, min-max, seconds)")
rows = [("(1) bare QEMU boot to the agent's answer", bare_hello),
        ("(1') bare QEMU boot, answer and poweroff", bare_total),
        ("(2) runhv run --isolation=hypervisor", hv),
        ("(3) runhv run (process isolation)", proc)]
for name, v in rows:
    print(f"  {name:44s} {med(v):7.3f}  ({min(v):.3f}-{max(v):.3f})")
print(f"  ratio (2)/(1') = {med(hv) / med(bare_total):.3f}   goal: <= 1.15")
print(f"  ratio (2)/(3)  = {med(hv) / med(proc):.1f}")

# Memory of one idle VM container: the supervisor (what `run -d` leaves as
# the container's host process) and everything under it.
def host_pss(container):
    sup = json.loads(open(f"{root}/{container}/state.json").read())["pid"]
    pids = descendants(sup)
    return sum(pss_kib(p) for p in pids), len(pids)

bundle_sleep = tempfile.mkdtemp(prefix="runhv-bench-sleep-")
subprocess.run(["cp", "-a", bundle + "/.", bundle_sleep], check=True)
cfg = json.load(open(bundle_sleep + "/config.json"))
cfg["process"]["args"] = ["sleep", "100000"]
json.dump(cfg, open(bundle_sleep + "/config.json", "w"))
rh("run", "--detach", "--isolation=hypervisor", "--bundle", bundle_sleep, "idle", stdin=subprocess.DEVNULL,
   stdout=subprocess.DEVNULL, check=True)
time.sleep(3)
kib, n = host_pss("idle")
print(f"\nhost memory of one idle hypervisor-isolated container: {kib / 1024:.1f} MiB PSS over {n} host processes")
rh("delete", "--force", "idle", check=True)

t0 = time.monotonic()
procs = [subprocess.Popen([runhv, "--root", root, "run", "--detach", "--isolation=hypervisor", "--bundle", bundle_sleep,
                           f"eight{i}"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
         for i in range(8)]
fails = [p.wait() for p in procs]
t8 = time.monotonic() - t0
states = [json.loads(rh("state", f"eight{i}", capture_output=True).stdout or b'{}').get("status") for i in range(8)]
time.sleep(3)
total = sum(host_pss(f"eight{i}")[0] for i in range(8) if states[i] == "running")
print(f"8 started at once: {states.count('running')}/8 running after {t8:.1f} s; "
      f"{total / 1024:.1f} MiB PSS in all ({total / 1024 / 8:.1f} MiB each)")
for i in range(8):
    rh("delete", "--force", f"eight{i}", stderr=subprocess.DEVNULL)
subprocess.run(["rm", "-rf", root, share, bundle_sleep])

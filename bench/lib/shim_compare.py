#!/usr/bin/python3
"""A VM pod through the shim, the previous design (handler
runhv-hypervisor-before) beside this build's (runhv-hypervisor), interleaved:
pod start, ExecSync latency, and the host processes of an idle pod (the
shim and everything under it) with their PSS.

usage: shim_compare.py ENDPOINT BUSYBOX_IMAGE"""
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "lib", "cri"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cri  # noqa: E402
from cri_pods import remove_pod, run_pod  # noqa: E402
from procmem import descendants, pss_kib  # noqa: E402

HANDLERS = {"before": "runhv-hypervisor-before", "after": "runhv-hypervisor"}
RUNS = int(os.environ.get("RUNS", "5"))
EXECS = 5
endpoint, busybox = sys.argv[1:3]
c = cri.Client(endpoint, 300)
count = [0]


def shim_of(pod):
    """The serving shim of the pod (its comm is runhv-shim in both designs)."""
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            args = open(f"/proc/{p}/cmdline", "rb").read().split(b"\0")
            comm = open(f"/proc/{p}/comm").read().strip()
        except OSError:
            continue
        if comm == "runhv-shim" and b"-id" in args and pod.encode() in args:
            return int(p)
    raise SystemExit(f"bench: no shim for pod {pod}")


def start_pod(handler):
    count[0] += 1
    return run_pod(c, handler, "c%d" % count[0], busybox)


def exec_latency(cid):
    t = []
    for _ in range(EXECS):
        t0 = time.monotonic()
        r = c.rt("ExecSync", container_id=cid, cmd=["true"], timeout=60)
        if r.exit_code != 0:
            raise SystemExit(f"bench: ExecSync true exited {r.exit_code}")
        t.append(time.monotonic() - t0)
    return statistics.median(t)


def host_side(pod):
    time.sleep(3)  # idle
    pids = descendants(shim_of(pod))
    return sum(pss_kib(p) for p in pids), len(pids)


res = {k: {"start": [], "exec": [], "pss": [], "procs": []} for k in HANDLERS}
for h in HANDLERS.values():  # warm-up: image, page cache
    remove_pod(c, start_pod(h)[1])
for i in range(RUNS):
    for k in (("before", "after") if i % 2 == 0 else ("after", "before")):
        t, pod, cid = start_pod(HANDLERS[k])
        res[k]["start"].append(t)
        res[k]["exec"].append(exec_latency(cid))
        pss, n = host_side(pod)
        res[k]["pss"].append(pss)
        res[k]["procs"].append(n)
        remove_pod(c, pod)

med = statistics.median
print(f"\nVM pod through the CRI, {RUNS} interleaved runs each (median, min-max)")
print("  %-8s %14s %22s %16s %10s" % ("", "pod start s", "ExecSync true ms", "idle PSS MiB", "processes"))
for k in HANDLERS:
    r = res[k]
    print("  %-8s %6.3f (%.3f-%.3f) %8.1f (%.1f-%.1f) %8.1f (%.1f-%.1f) %10d" % (
        k, med(r["start"]), min(r["start"]), max(r["start"]), 1000 * med(r["exec"]), 1000 * min(r["exec"]),
        1000 * max(r["exec"]), med(r["pss"]) / 1024, min(r["pss"]) / 1024, max(r["pss"]) / 1024, med(r["procs"])))
b, a = res["before"], res["after"]
print("  after/before: start %.3f, exec %.3f, idle PSS %.3f   (goal: start and PSS <= 1.05)" % (
    med(a["start"]) / med(b["start"]), med(a["exec"]) / med(b["exec"]), med(a["pss"]) / med(b["pss"])))
print("  (processes: the shim and everything under it, idle; an exec adds a stand-in before, nothing after)")

#!/usr/bin/python3
"""Pod start latency through containerd's CRI, the way kubelet starts a pod:
RunPodSandbox → CreateContainer → StartContainer, timed until
ContainerStatus says RUNNING.  For each handler (runc, runhv-process,
runhv-hypervisor) in one run, interleaved: RUNS single pods, then batches
of 4 and 8 pods started at once (threads, one gRPC channel), each pod
removed before the next round.

usage: shim.py ENDPOINT PAUSE_IMAGE BUSYBOX_IMAGE OUT.json"""

import json
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "lib", "cri"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import cri  # noqa: E402
from cri_pods import remove_pod, run_pod  # noqa: E402

HANDLERS = ["runc", "runhv-process", "runhv-hypervisor", "runhv-hypervisor-generic", "runhv-hypervisor-cold"]
RUNS = int(os.environ.get("RUNS", "5"))
BATCHES = [int(n) for n in os.environ.get("BATCHES", "4,8").split(",") if n]

endpoint, pause, busybox, out = sys.argv[1:5]
c = cri.Client(endpoint, 300)
counter = [0]
lock = threading.Lock()


def start_pod(handler):
    with lock:
        counter[0] += 1
        name = "b%d" % counter[0]
    t, pod, _ = run_pod(c, handler, name, busybox)
    return t, pod


def remove(pod):
    remove_pod(c, pod)


def batch(handler, n):
    results = [None] * n

    def one(i):
        results[i] = start_pod(handler)
    t0 = time.monotonic()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - t0
    for r in results:
        if r is None:
            raise SystemExit("bench: a pod of %s failed to start" % handler)
    for _, pod in results:
        remove(pod)
    return wall, [r[0] for r in results]


res = {h: {"single": [], "batch": {}} for h in HANDLERS}
# one warm-up each: image unpacking, the CNI plugin's first run, page cache
for h in HANDLERS:
    remove(start_pod(h)[1])
for _ in range(RUNS):
    for h in HANDLERS:
        t, pod = start_pod(h)
        remove(pod)
        res[h]["single"].append(t)
for n in BATCHES:
    for h in HANDLERS:
        wall, each = batch(h, n)
        res[h]["batch"][str(n)] = {"wall": wall, "each": each}

json.dump(res, open(out, "w"), indent=1)

base = statistics.median(res["runc"]["single"])
print("\nPod start through the CRI (RunPodSandbox → container RUNNING), %d runs each" % RUNS)
print("  %-24s %10s %9s %9s %14s" % ("handler", "median s", "min", "max", "ratio to runc"))
for h in HANDLERS:
    s = res[h]["single"]
    print("  %-24s %10.3f %9.3f %9.3f %14.2f" % (h, statistics.median(s), min(s), max(s),
                                                 statistics.median(s) / base))
for n in BATCHES:
    print("\n%d pods started at once: wall time until all run, and each pod's own latency" % n)
    print("  %-24s %10s %12s %12s" % ("handler", "wall s", "median s", "max s"))
    for h in HANDLERS:
        b = res[h]["batch"][str(n)]
        print("  %-24s %10.3f %12.3f %12.3f" % (h, b["wall"], statistics.median(b["each"]), max(b["each"])))

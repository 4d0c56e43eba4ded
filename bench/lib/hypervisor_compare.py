#!/usr/bin/env python3
"""Old and new runhv side by side: interleaved `run --isolation=hypervisor`
of a container printing a line, then the host PSS of one idle VM container
(the supervisor and every process under it)."""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from procmem import descendants, pss_kib

old, new, bundle, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
roots = {b: tempfile.mkdtemp(prefix="runhv-cmp-root-") for b in (old, new)}


def rh(binary, *args, **kw):
    return subprocess.run([binary, "--root", roots[binary], *args], **kw)


def timed(binary, name):
    t0 = time.monotonic()
    r = rh(binary, "run", "--isolation=hypervisor", "--bundle", bundle, name, stdout=subprocess.PIPE,
           stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    if b"a line" not in r.stdout:
        raise SystemExit(f"bench: {binary} printed {r.stdout!r} {r.stderr!r}")
    return time.monotonic() - t0


times = {old: [], new: []}
# Names differ between the two: the old design's cgroup reaper, still at
# work, would remove the VM cgroups of a create of the same name made a
# moment later (fixed in the new one, which waits for them to go).
tag = {old: "o", new: "n"}
timed(new, "warm")  # page cache, the accelerator probe
for i in range(runs):
    for b in ((old, new) if i % 2 == 0 else (new, old)):
        times[b].append(timed(b, f"{tag[b]}{i}"))

med = statistics.median
print(f"\nstart-up, {runs} interleaved runs each (median, min-max, seconds)")
for label, b in (("before", old), ("after", new)):
    v = times[b]
    print(f"  {label:7s} {med(v):7.3f}  ({min(v):.3f}-{max(v):.3f})")
print(f"  after/before = {med(times[new]) / med(times[old]):.3f}   (goal: <= 1.05)")

sleepy = tempfile.mkdtemp(prefix="runhv-cmp-sleep-")
subprocess.run(["cp", "-a", bundle + "/.", sleepy], check=True)
cfg = json.load(open(sleepy + "/config.json"))
cfg["process"]["args"] = ["sleep", "100000"]
json.dump(cfg, open(sleepy + "/config.json", "w"))
pss = {}
for label, b in (("before", old), ("after", new)):
    vals = []
    for k in range(3):
        name = f"idle{tag[b]}{k}"
        rh(b, "run", "--detach", "--isolation=hypervisor", "--bundle", sleepy, name, stdin=subprocess.DEVNULL,
           stdout=subprocess.DEVNULL, check=True)
        time.sleep(3)
        sup = json.load(open(f"{roots[b]}/{name}/state.json"))["pid"]
        pids = descendants(sup)
        vals.append((sum(pss_kib(p) for p in pids), len(pids)))
        rh(b, "delete", "--force", name, check=True)
    pss[label] = med(v for v, _ in vals)
    print(f"idle VM container, {label}: {pss[label] / 1024:.1f} MiB PSS (median of 3) over {vals[0][1]} host processes")
print(f"  after/before = {pss['after'] / pss['before']:.3f}   (goal: <= 1.05)")
subprocess.run(["rm", "-rf", sleepy, *roots.values()])

#!/usr/bin/python3
"""Boot-time benchmark for the guest prototype (throwaway).

Usage: bench.py [-n RUNS] VARIANT...
  VARIANT is NAME or NAME:KEY=VAL;KEY=VAL  (environment for boot.sh, e.g.
  "gz:INITRD=/tmp/runhv-proto/initramfs.cpio.gz").

For each run: listen on the agent unix socket (the host side), start boot.sh
with EXEC=1 (boot.sh records the wall-clock time right before exec'ing QEMU),
accept QEMU's connection, and time:
  exec->marker  wall time from QEMU exec to the RUNHV-READY line on the socket
  exec->eof     ... to EOF on the socket (guest powered off, QEMU exited)
  exec->exit    ... to QEMU's process exit
  cpu           QEMU's user+sys CPU seconds for the whole run
plus the guest's own /proc/uptime at init start and at the marker.
"""
import os, socket, subprocess, sys, time, statistics, re, json

HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.environ.get("WORK", "/tmp/runhv-proto")


def run_once(name, env_extra, idx, timeout=float(os.environ.get("BENCH_TIMEOUT", "30"))):
    vid = f"b{os.getpid()}-{idx}"
    run = os.path.join(WORK, f"run-{vid}")
    os.makedirs(run, exist_ok=True)
    sock_path = os.path.join(run, "host-agent.sock")
    if os.path.exists(sock_path):
        os.unlink(sock_path)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(sock_path)
    srv.listen(1)
    srv.settimeout(timeout)
    env = dict(os.environ, EXEC="1", ID=vid, AGENT_SOCK=sock_path, WORK=WORK)
    env.update(env_extra)
    t_start = time.time()
    p = subprocess.Popen([os.path.join(HERE, "boot.sh")], env=env,
                         stdout=subprocess.DEVNULL, stderr=open(os.path.join(run, "qemu.stderr"), "wb"))
    res = {"variant": name, "ok": False}
    buf = b""
    t_marker = t_eof = None
    try:
        conn, _ = srv.accept()
        conn.settimeout(timeout)
        while True:
            b = conn.recv(65536)
            now = time.time()
            if not b:
                t_eof = now
                break
            buf += b
            if t_marker is None and b"RUNHV-READY" in buf and b"\n" in buf.split(b"RUNHV-READY", 1)[1]:
                t_marker = now
        conn.close()
    except socket.timeout:
        res["error"] = "timeout"
    # Reap with wait4 to get QEMU's CPU time (user+sys): less sensitive to
    # steal time on this (virtual) host than wall time.
    deadline = t_start + max(1.0, timeout)
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            p.returncode = os.waitstatus_to_exitcode(status)
            res["cpu"] = ru.ru_utime + ru.ru_stime
            break
        if time.time() > deadline:
            p.kill()
            p.wait()
            res["error"] = "qemu did not exit"
            break
        time.sleep(0.002)
    t_exit = time.time()
    srv.close()
    os.unlink(sock_path)
    try:
        t_exec = float(open(os.path.join(run, "exec-time")).read())
    except (OSError, ValueError):
        t_exec = t_start
    res["rc"] = p.returncode
    res["launch_overhead"] = t_exec - t_start
    if t_marker is not None:
        res["ok"] = True
        res["exec_to_marker"] = t_marker - t_exec
        m = re.search(rb"t_init=([\d.]+) t_mods=([\d.]+) t_mnt=([\d.]+) t_ready=([\d.]+)", buf)
        if m:
            res.update(up_init=float(m[1]), up_mods=float(m[2]), up_mnt=float(m[3]), up_ready=float(m[4]))
        res["marker"] = buf.decode(errors="replace").strip().splitlines()[0]
    if t_eof is not None:
        res["exec_to_eof"] = t_eof - t_exec
    res["exec_to_exit"] = t_exit - t_exec
    if res["ok"] and res.get("rc") == 0 and "error" not in res:
        subprocess.run(["rm", "-rf", run])
    else:
        res["run_dir"] = run
    return res


def main(argv):
    n = 5
    if len(argv) >= 2 and argv[0] == "-n":
        n = int(argv[1])
        argv = argv[2:]
    keys = ["exec_to_marker", "up_init", "up_mods", "up_mnt", "up_ready", "exec_to_eof", "exec_to_exit", "cpu"]
    print("%-28s %3s " % ("variant", "ok") + " ".join("%9s" % k.replace("exec_to_", "x>")[:9] for k in keys))
    variants = []
    for spec in argv:
        name, _, envs = spec.partition(":")
        env = {}
        for kv in filter(None, envs.split(";")):
            k, _, v = kv.partition("=")
            env[k] = v
        variants.append((name, env))
    # Interleave the variants run by run so that drift in host load (this host
    # is itself a VM with noisy neighbours) hits all variants alike.
    allres = {name: [] for name, _ in variants}
    for i in range(n):
        for j, (name, env) in enumerate(variants):
            allres[name].append(run_once(name, env, i * 100 + j))
    with open(os.path.join(WORK, "bench.jsonl"), "a") as f:
        for name, _ in variants:
            for r in allres[name]:
                f.write(json.dumps(r) + "\n")
    for name, _ in variants:
        results = allres[name]
        ok = [r for r in results if r["ok"]]
        med = {}
        for k in keys:
            vals = [r[k] for r in ok if k in r]
            med[k] = statistics.median(vals) if vals else float("nan")
        print("%-28s %d/%d " % (name[:28], len(ok), n) + " ".join("%9.3f" % med[k] for k in keys), flush=True)
        for r in results:
            if not r["ok"] or r.get("error"):
                print("   failed:", {k: r.get(k) for k in ("error", "rc", "run_dir")}, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])

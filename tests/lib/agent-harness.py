#!/usr/bin/env python3
"""Boot the real utility VM (kernel + initramfs with runhv-agent) under QEMU
and play a hostile host: malformed, oversized and nonsensical frames, each
followed by a valid request that must still be answered.  Prints TAP-ish
lines; exits non-zero on the first failure."""
import json
import os
import socket
import struct
import subprocess
import sys
import time

guest = sys.argv[1]
work = sys.argv[2]
MAGIC = 0x52485641
# The version this tree's agent speaks, from the one header both ends build from.
VERSION = next(int(line.split()[2]) for line in open(os.path.join(os.path.dirname(__file__), "..", "..", "src", "lib",
                                                                  "proto", "agent-proto.h"))
               if line.startswith("#define AGENT_PROTO_VERSION "))


def frame(t, i, payload, magic=MAGIC, ver=VERSION, flags=0, length=None):
    n = len(payload) if length is None else length
    return struct.pack(">IBBHII", magic, ver, t, flags, i, n) + payload


class Agent:
    def __init__(self):
        a, b = socket.socketpair()
        os.makedirs(work + "/shared", exist_ok=True)
        khz = 0
        for line in open("/proc/cpuinfo"):
            if line.startswith("cpu MHz"):
                khz = int(float(line.split(":")[1]) * 1000)
                break
        args = ["qemu-system-x86_64", "-nodefaults", "-no-user-config", "-nographic", "-M", "microvm,acpi=on",
                "-accel", "tcg", "-m", "256M", "-kernel", guest + "/vmlinux", "-initrd", guest + "/initramfs.cpio",
                "-append", f"console=ttyS0 quiet panic=-1 rdinit=/init cryptomgr.notests lapic_timer_khz=1000000 tsc_early_khz={khz} "
                           "runhv.fs=9p runhv.port=org.runhv.agent.0",
                "-serial", "file:" + work + "/console.log", "-device", "virtio-serial-device,max_ports=2",
                "-chardev", "socket,id=agent,fd=%d" % b.fileno(),
                "-device", "virtserialport,chardev=agent,name=org.runhv.agent.0", "-no-reboot",
                "-fsdev", "local,id=fs0,path=" + work + "/shared,security_model=none",
                "-device", "virtio-9p-device,fsdev=fs0,mount_tag=rootfs"]
        self.p = subprocess.Popen(args, pass_fds=[b.fileno()], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        b.close()
        self.s = a
        self.s.settimeout(60)
        self.buf = b""
        self.rid = 100

    def send(self, data):
        self.s.sendall(data)

    def recv(self):
        while True:
            if len(self.buf) >= 16:
                m, v, t, f, i, n = struct.unpack(">IBBHII", self.buf[:16])
                if len(self.buf) >= 16 + n:
                    p = self.buf[16:16 + n]
                    self.buf = self.buf[16 + n:]
                    return t, i, p
            d = self.s.recv(65536)
            if not d:
                raise SystemExit("not ok - the agent closed the channel")
            self.buf += d

    def call(self, req):
        self.rid += 1
        self.send(frame(1, self.rid, json.dumps(req).encode()))
        while True:
            t, i, p = self.recv()
            if t == 2 and i == self.rid:
                return json.loads(p)

    def close(self):
        try:
            self.send(frame(1, 1, json.dumps({"op": "shutdown"}).encode()))
        except OSError:
            pass
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


n = 0


def check(cond, what):
    global n
    n += 1
    if cond:
        print(f"ok {n} - {what}")
    else:
        print(f"not ok {n} - {what}")
        sys.exit(1)


a = Agent()
r = a.call({"op": "hello", "version": VERSION})
check(r.get("ok") and r.get("version") == VERSION, "the agent answers hello")

# Each hostile input is followed by a valid hello that must still be answered.
hostile = {
    "unknown op": frame(1, 5, json.dumps({"op": "format-disk"}).encode()),
    "not JSON": frame(1, 6, b"{not json"),
    "JSON but not an object": frame(1, 7, b"[1,2,3]"),
    "a bad id (path traversal)": frame(1, 8, json.dumps({"op": "start", "id": "../../etc"}).encode()),
    "create with a relative rootfs": frame(1, 9, json.dumps({"op": "create", "id": "x", "spec": {}, "rootfs": "r"}).encode()),
    "data for a stream nobody owns": frame(4, 999, b"junk"),
    "a frame type only the agent sends": frame(3, 0, json.dumps({"event": "exit", "id": "x", "status": 1}).encode()),
    # A VM's hello was answered: it can no longer become a VM template, and
    # a pod network that is not one is refused before anything is set.
    "a template's hello after a VM's": frame(1, 10, json.dumps({"op": "hello", "version": VERSION,
                                                                "template": True}).encode()),
    "a pod network with a shell's characters": frame(1, 11, json.dumps({"op": "hello", "version": VERSION,
                                                                         "net": "10.0.0.2/24,-,aa:bb:cc:dd:ee:ff,1500;reboot"}).encode()),
}
for what, data in hostile.items():
    a.send(data)
    if what.startswith(("unknown", "not JSON", "JSON but", "a bad id", "create with", "a template's", "a pod network")):
        t, i, p = a.recv()
        resp = json.loads(p)
        check(t == 2 and resp.get("ok") is False and "\n" not in resp.get("error", ""),
              f"{what}: refused with one line ({resp.get('error', '')[:70]})")
    r = a.call({"op": "hello", "version": VERSION})
    check(r.get("ok"), f"after {what}, the agent still serves")

# Framing errors: a declared payload over the limit, a bad magic, a wrong
# version.  The agent must neither allocate the payload nor die.
for what, data in {
    "a 2 GiB length": frame(4, 1, b"", length=0x7FFFFFFF),
    "a bad magic": frame(1, 1, b"{}", magic=0x41414141),
    "protocol version 9": frame(1, 1, b"{}", ver=9),
    "reserved flags set": frame(1, 1, b"{}", flags=1),
}.items():
    a.send(data)
    if what == "protocol version 9":
        # answered at once, in the agent's own framing, so that a host of
        # another version fails naming both versions instead of timing out
        t, i, p = a.recv()
        resp = json.loads(p)
        check(t == 2 and i == 0 and "version 9 is not supported" in resp.get("error", ""),
              f"{what}: the agent says so at once ({resp.get('error', '')[:60]})")
    time.sleep(0.3)
    r = a.call({"op": "hello", "version": VERSION})
    check(r.get("ok"), f"after {what}, the agent drops its buffer and still serves")
check(a.p.poll() is None, "QEMU is still running: the guest did not crash")
r = a.call({"op": "shutdown"})
check(r.get("ok") and r.get("synced") is True, "shutdown is answered `synced`, the guest's writes back on the host")
# runhv's host then kills QEMU; nobody does here: the guest's own poweroff
# (ACPI S5 on microvm,acpi=on) must end QEMU with 0.
try:
    a.p.wait(10)
except subprocess.TimeoutExpired:
    a.p.kill()
    a.p.wait()
check(a.p.returncode == 0, "then the guest powers itself off: QEMU exits with 0")
print(f"1..{n}")

#!/usr/bin/env python3
"""Build the utility VM's initramfs: runhv-agent as /init, the kernel modules
it loads, and the few directories and nodes PID 1 needs before it mounts
devtmpfs.  Writes a newc cpio directly (no root, no mknod, reproducible),
and beside it OUT.kernel-release naming the modules' kernel."""
import os
import stat
import sys


def newc(name, mode, data=b"", rdev=(0, 0), ino=[1]):
    ino[0] += 1
    name_b = name.encode() + b"\0"
    hdr = "070701" + "".join("%08X" % v for v in (
        ino[0], mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(name_b), 0))
    out = hdr.encode() + name_b
    out += b"\0" * ((4 - len(out) % 4) % 4)
    out += data
    out += b"\0" * ((4 - len(data) % 4) % 4)
    return out


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: build-initramfs.py OUT.cpio AGENT GUEST_DIR")
    out, agent, guest = sys.argv[1:]
    mods = os.path.join(guest, "modules")
    release = open(os.path.join(guest, "kernel-release")).read().strip()
    parts = []
    for d in ("dev", "proc", "sys", "run", "tmp", "lib", "lib/modules", "etc"):
        parts.append(newc(d, stat.S_IFDIR | 0o755))
    parts.append(newc("dev/console", stat.S_IFCHR | 0o600, rdev=(5, 1)))
    parts.append(newc("dev/null", stat.S_IFCHR | 0o666, rdev=(1, 3)))
    with open(agent, "rb") as f:
        parts.append(newc("init", stat.S_IFREG | 0o755, f.read()))
    order = open(os.path.join(mods, "load-order")).read().split()
    for name in order:
        with open(os.path.join(mods, name), "rb") as f:
            parts.append(newc("lib/modules/" + name, stat.S_IFREG | 0o644, f.read()))
    parts.append(newc("lib/modules/load-order", stat.S_IFREG | 0o644, ("\n".join(order) + "\n").encode()))
    parts.append(newc("etc/kernel-release", stat.S_IFREG | 0o644, (release + "\n").encode()))
    parts.append(newc("TRAILER!!!", 0))
    tmp = out + ".tmp"
    with open(tmp, "wb") as f:
        for p in parts:
            f.write(p)
    os.replace(tmp, out)
    with open(out + ".kernel-release.tmp", "w") as f:
        f.write(release + "\n")
    os.replace(out + ".kernel-release.tmp", out + ".kernel-release")


if __name__ == "__main__":
    main()

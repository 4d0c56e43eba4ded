#!/usr/bin/env python3
"""A console-socket receiver as containerd and conmon implement it: accept
one connection, receive the pty master by SCM_RIGHTS, report its name, then
hold the master open and copy what the container writes to `out`, as the
real receivers do (closing the master would hang up the container)."""
import array
import os
import socket
import sys

path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(1)
c, _ = s.accept()
fds = array.array("i")
msg, anc, _, _ = c.recvmsg(4096, socket.CMSG_LEN(fds.itemsize))
for level, kind, data in anc:
    if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
        fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
with open(out, "w", buffering=1) as f:
    if not fds:
        f.write("no fd received\n")
        sys.exit(1)
    f.write(f"received {msg.decode(errors='replace')} tty={os.isatty(fds[0])}\n")
    while True:
        try:
            data = os.read(fds[0], 4096)
        except OSError:
            break
        if not data:
            break
        f.write(data.decode(errors="replace"))

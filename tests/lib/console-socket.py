#!/usr/bin/env python3
"""A console-socket receiver as containerd and conmon implement it: accept
one connection, receive the pty master by SCM_RIGHTS, report its name."""
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
with open(out, "w") as f:
    if fds:
        f.write(f"received {msg.decode(errors='replace')} fd={fds[0]} tty={os.isatty(fds[0])}\n")
    else:
        f.write("no fd received\n")

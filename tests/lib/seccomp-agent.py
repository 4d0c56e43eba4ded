#!/usr/bin/env python3
"""A minimal seccomp agent (runc's listenerPath protocol) for the tests.

seccomp-agent.py SOCKET OUT ERRNO [COUNT]: listens on SOCKET and accepts
COUNT (default 1) runtime connections; each brings a notify listener fd by
SCM_RIGHTS with the container's state JSON, written to OUT.1, OUT.2, ...
Then it answers one notification on the last listener with -ERRNO.
"""
import array
import fcntl
import os
import socket
import struct
import sys

# x86_64: struct seccomp_notif is 80 bytes, struct seccomp_notif_resp 24.
NOTIF_RECV = (3 << 30) | (80 << 16) | (ord("!") << 8) | 0
NOTIF_SEND = (3 << 30) | (24 << 16) | (ord("!") << 8) | 1


def receive(srv, out):
    conn, _ = srv.accept()
    fds = array.array("i")
    msg, anc, _, _ = conn.recvmsg(65536, socket.CMSG_SPACE(4 * fds.itemsize))
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
    conn.close()
    with open(out + ".tmp", "wb") as f:
        f.write(msg)
    os.rename(out + ".tmp", out)
    if len(fds) != 1:
        sys.exit("expected one fd, got %d" % len(fds))
    return fds[0]


def main():
    path, out, err = sys.argv[1], sys.argv[2], int(sys.argv[3])
    count = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(count)
    for i in range(1, count + 1):
        fd = receive(srv, "%s.%d" % (out, i))
    buf = bytearray(80)
    fcntl.ioctl(fd, NOTIF_RECV, buf)
    notif_id = struct.unpack_from("=Q", buf, 0)[0]
    resp = bytearray(struct.pack("=QqiI", notif_id, 0, -err, 0))
    fcntl.ioctl(fd, NOTIF_SEND, resp)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""A slow-sender ("slowloris") client for runhv-webhook's tests, loopback
only: CONNECTIONS TLS connections from SOURCE, each declaring a 3 MB
review and then dripping one byte per INTERVAL seconds for DURATION
seconds. Prints "open N" once the connections are made (those the server
refused are not counted), then "alive N" after each round of bytes: how
many connections the server still accepts bytes on."""
import argparse
import socket
import ssl
import time

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--source", default="127.0.0.2")
ap.add_argument("--connections", type=int, default=25)
ap.add_argument("--interval", type=float, default=1.0)
ap.add_argument("--duration", type=float, default=12.0)
ap.add_argument("--ca", required=True)
a = ap.parse_args()
assert a.source.startswith("127."), "loopback only"

ctx = ssl.create_default_context(cafile=a.ca)
conns = []
for _ in range(a.connections):
    s = socket.socket()
    s.bind((a.source, 0))
    s.settimeout(5)
    try:
        s.connect(("127.0.0.1", a.port))
        t = ctx.wrap_socket(s, server_hostname="localhost")
        t.sendall(b"POST /mutate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 3000000\r\n\r\n")
        conns.append(t)
    except OSError:
        s.close()  # refused at accept or in the handshake: the per-client bound
print("open", len(conns), flush=True)
end = time.monotonic() + a.duration
while time.monotonic() < end:
    alive = 0
    for t in conns:
        try:
            t.send(b" ")
            alive += 1
        except OSError:
            pass
    print("alive", alive, flush=True)
    time.sleep(a.interval)

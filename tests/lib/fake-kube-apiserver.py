#!/usr/bin/env python3
"""A FAKE Kubernetes API server for tests/integration/node-installer.bats.

This machine has no kube-apiserver (and no network to fetch one), so the
node installer's one API call -- PATCH /api/v1/nodes/NAME with a JSON merge
patch of metadata.labels, bearer token, HTTPS checked against the service
account's CA -- is answered by this stand-in.  It implements exactly that
call: the token must match, the content type must be
application/merge-patch+json, the node must exist; labels are merged (null
removes one) and the node object is returned, as the real server does.
Every request is appended to --log as one JSON line, so the test can say
what the installer sent.  Not a Kubernetes conformance test.

usage: fake-kube-apiserver.py --cert C --key K --token-file T --node NAME
                              --port-file F --log L
"""
import argparse
import http.server
import json
import ssl
import threading


def main():
    ap = argparse.ArgumentParser()
    for a in ("--cert", "--key", "--token-file", "--node", "--port-file", "--log"):
        ap.add_argument(a, required=True)
    a = ap.parse_args()
    token = open(a.token_file).read().strip()
    nodes = {a.node: {}}
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def answer(self, code, obj):
            body = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True

        def status(self, code, reason, message):
            self.answer(code, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                               "reason": reason, "message": message, "code": code})

        def do_PATCH(self):
            n = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(n)
            entry = {"method": "PATCH", "path": self.path,
                     "content_type": self.headers.get("Content-Type"),
                     "authorized": self.headers.get("Authorization") == "Bearer " + token}
            try:
                entry["body"] = json.loads(raw)
            except ValueError:
                entry["body"] = None
            with lock, open(a.log, "a") as log:
                log.write(json.dumps(entry, sort_keys=True) + "\n")
            if not entry["authorized"]:
                return self.status(401, "Unauthorized", "Unauthorized")
            if entry["content_type"] != "application/merge-patch+json":
                return self.status(415, "UnsupportedMediaType", "unsupported patch type")
            prefix = "/api/v1/nodes/"
            name = self.path[len(prefix):] if self.path.startswith(prefix) else None
            if name not in nodes:
                return self.status(404, "NotFound", 'nodes "%s" not found' % name)
            patch = (entry["body"] or {}).get("metadata", {}).get("labels", {})
            with lock:
                for k, v in patch.items():
                    if v is None:
                        nodes[name].pop(k, None)
                    else:
                        nodes[name][k] = v
                labels = dict(nodes[name])
            self.answer(200, {"kind": "Node", "apiVersion": "v1",
                              "metadata": {"name": name, "labels": labels}})

        def do_GET(self):
            self.status(405, "MethodNotAllowed", "the fake API server only takes PATCH")

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    with open(a.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.replace(a.port_file + ".tmp", a.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()

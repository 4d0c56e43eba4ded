#!/usr/bin/env python3
"""Fail when a source file includes a header of a layer above its own.

The library's layers, lowest first, are the directories of src/lib (see
docs/architecture.md); a file may include its own layer's headers and those
of the layers below.  The programs (src/cli, src/shim, src/agent,
src/webhook, src/installer) sit on top and reach the backends only through
the runtime: they may not include a header of the process or uvm layers.
Usage: layer-check.py SRC_DIR; prints each offence and exits 1, or prints
"layers: N files, no upward include" and exits 0."""
import os
import re
import sys

LAYERS = ["core", "oci", "proto", "backend", "process", "uvm", "runtime"]
PROGRAMS = {"cli", "shim", "agent", "webhook", "installer"}
# what a program may not reach into
BEHIND_THE_RUNTIME = {"backend", "process", "uvm"}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


TOP = set()  # headers at src/lib itself: the runtime layer's
LIB_HEADERS = set()  # every header's name under src/lib


def layer_of_header(name):
    head = name.split("/", 1)[0] if "/" in name else None
    if head in LAYERS or head == "k8s":
        return head
    if name in TOP:
        return "runtime"
    return None


def main(src):
    bad, files = [], 0
    lib = os.path.join(src, "lib")
    TOP.update(n for n in os.listdir(lib) if n.endswith(".h"))
    for _, _, names in os.walk(lib):
        LIB_HEADERS.update(n for n in names if n.endswith(".h"))
    for root, _, names in os.walk(src):
        for n in names:
            if not n.endswith((".c", ".h")):
                continue
            path = os.path.join(root, n)
            rel = os.path.relpath(path, src)
            parts = rel.split(os.sep)
            files += 1
            text = open(path, encoding="utf-8", errors="replace").read()
            if parts[0] == "lib":
                own = parts[1] if len(parts) > 2 else "runtime"
                if own == "k8s":
                    allowed = {"core", "k8s"}
                else:
                    allowed = set(LAYERS[: LAYERS.index(own) + 1])
                for inc in INCLUDE.findall(text):
                    L = layer_of_header(inc)
                    if "/" not in inc and L is None and os.path.exists(os.path.join(root, inc)):
                        continue  # a private header beside the file
                    if L is None and os.path.basename(inc) not in LIB_HEADERS:
                        continue  # generated (protobuf-c, runhv-config.h) or a system header
                    if L is None:
                        bad.append(f"{rel}: includes \"{inc}\", which names no layer (write \"LAYER/{inc}\")")
                    elif L not in allowed:
                        bad.append(f"{rel}: layer {own} includes \"{inc}\" from layer {L}, above it")
            elif parts[0] in PROGRAMS:
                for inc in INCLUDE.findall(text):
                    L = layer_of_header(inc)
                    if L in BEHIND_THE_RUNTIME:
                        bad.append(f"{rel}: the {parts[0]} program includes \"{inc}\": go through runtime.h")
    for b in bad:
        print(b)
    if bad:
        print(f"layers: {len(bad)} upward or unlayered include(s) in {files} files")
        return 1
    print(f"layers: {files} files, no upward include")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "src"))

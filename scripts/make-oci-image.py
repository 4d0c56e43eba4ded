#!/usr/bin/env python3
"""Pack a rootfs directory into an image tarball that `podman load`,
`ctr images import` and registry tools (skopeo copy oci-archive:) accept:
an OCI image layout with a docker-archive manifest.json beside it.
Standard library only. Reproducible: the same rootfs and arguments give
the same bytes, hence the same digests (every mtime is --created, owners
are root, entries are sorted, gzip carries no name or time)."""
import argparse
import gzip
import hashlib
import io
import json
import os
import tarfile
import time


def add_bytes(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def layer_tar(rootfs, mtime):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for dirpath, dirnames, filenames in os.walk(rootfs):
            dirnames.sort()
            for name in sorted(dirnames) + sorted(filenames):
                full = os.path.join(dirpath, name)
                arc = os.path.relpath(full, rootfs)
                info = t.gettarinfo(full, arc)
                info.mtime = mtime
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                info.pax_headers = {}
                if info.isreg():
                    with open(full, "rb") as f:
                        t.addfile(info, f)
                else:
                    t.addfile(info)
    return buf.getvalue()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("rootfs")
    ap.add_argument("output")
    ap.add_argument("--name", default="localhost/runhv-test/busybox:latest")
    ap.add_argument("--cmd", default="sh", help="the image's Cmd (one word)")
    ap.add_argument("--entrypoint", help="the image's Entrypoint, as a JSON list")
    ap.add_argument("--user", help="the image's User, e.g. 65532:65532")
    ap.add_argument("--label", action="append", default=[], help="KEY=VALUE, repeatable")
    ap.add_argument("--created", type=int, default=0, help="seconds since the epoch (SOURCE_DATE_EPOCH)")
    a = ap.parse_args()

    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(a.created))
    layer = layer_tar(a.rootfs, a.created)
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    gz = gzip.compress(layer, mtime=0)
    layer_digest = hashlib.sha256(gz).hexdigest()
    cfg = {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], "WorkingDir": "/"}
    if a.entrypoint:
        cfg["Entrypoint"] = json.loads(a.entrypoint)
    else:
        cfg["Cmd"] = [a.cmd]
    if a.user:
        cfg["User"] = a.user
    labels = dict(kv.split("=", 1) for kv in a.label)
    if labels:
        cfg["Labels"] = labels
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": created,
        "config": cfg,
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": created, "created_by": "runhv scripts/make-oci-image.py"}],
    }
    config_bytes = json.dumps(config, sort_keys=True).encode()
    config_digest = hashlib.sha256(config_bytes).hexdigest()
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": "sha256:" + config_digest, "size": len(config_bytes)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": "sha256:" + layer_digest, "size": len(gz)}],
    }
    if labels:
        manifest["annotations"] = labels
    manifest_bytes = json.dumps(manifest, sort_keys=True).encode()
    manifest_digest = hashlib.sha256(manifest_bytes).hexdigest()
    index = {
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": "sha256:" + manifest_digest, "size": len(manifest_bytes),
                       "annotations": {"org.opencontainers.image.ref.name": a.name.rsplit(":", 1)[-1],
                                       "io.containerd.image.name": a.name}}],
    }
    docker_manifest = [{"Config": "blobs/sha256/" + config_digest,
                        "RepoTags": [a.name],
                        "Layers": ["blobs/sha256/" + layer_digest]}]
    tmp = a.output + ".tmp"
    with tarfile.open(tmp, "w") as t:
        add_bytes(t, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        add_bytes(t, "index.json", json.dumps(index).encode())
        add_bytes(t, "manifest.json", json.dumps(docker_manifest).encode())
        add_bytes(t, "blobs/sha256/" + config_digest, config_bytes)
        add_bytes(t, "blobs/sha256/" + layer_digest, gz)
        add_bytes(t, "blobs/sha256/" + manifest_digest, manifest_bytes)
    os.replace(tmp, a.output)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""A small CRI client for runhv's tests, speaking runtime.v1 to containerd's
CRI socket (there is no crictl here).  Subcommands and JSON files follow
crictl closely:

  cri.py [--endpoint unix:///path/containerd.sock] [--timeout S] COMMAND ...
    version | status | images | inspecti IMAGE | rmi IMAGE
    runp [--runtime HANDLER] POD.json              prints the pod id
    create POD_ID CONTAINER.json POD.json          prints the container id
    start ID... | stop [-t S] ID... | rm [-f] ID...
    stopp POD_ID... | rmp [-f] [-a] [POD_ID...]
    inspectp POD_ID | inspect ID                   JSON (camelCase, like crictl)
    pods [-q] [--name RE] [--state S] [--label K=V] [-o json]
    ps [-a] [-q] [--pod ID] [--name RE] [--state S] [-o json]
    exec-sync [-t S] ID -- CMD...                  the command's stdout/stderr
                                                   and exit code
    logs [--tail N] [--stream stdout|stderr] ID    the CRI log file's messages
    stats [ID...] | update [--memory B ...] ID

A JSON argument is a file, `-` for stdin, or inline text starting with `{`.
The endpoint also comes from $CONTAINER_RUNTIME_ENDPOINT (as for crictl).

Needs Debian's python3-grpcio and python3-protobuf: run it with
/usr/bin/python3.  The message classes are built at run time from api.proto
beside this file: a FileDescriptorSet made by protoc-c (protobuf-c-compiler,
which the build needs anyway), protoc, or grpc_tools, cached under
$RUNHV_CRI_CACHE (default ~/.cache/runhv-cri)."""

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

PROG = "cri.py"
HERE = os.path.dirname(os.path.abspath(__file__))
PROTO = os.path.join(HERE, "api.proto")
PKG = "runtime.v1"


class CriError(Exception):
    pass


def die(msg, code=1):
    print("%s: %s" % (PROG, msg), file=sys.stderr)
    sys.exit(code)


try:
    import grpc
    from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory
except ImportError as e:  # pragma: no cover - environment problem
    die("%s: run me with /usr/bin/python3 (Debian's python3-grpcio and python3-protobuf); %s is %s"
        % (e, "this interpreter", sys.executable))


# ---------------------------------------------------------------- messages


def cache_dir():
    d = os.environ.get("RUNHV_CRI_CACHE")
    if d:
        return d
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    d = os.path.join(base, "runhv-cri")
    try:
        os.makedirs(d, exist_ok=True)
        if os.access(d, os.W_OK):
            return d
    except OSError:
        pass
    return os.path.join(tempfile.gettempdir(), "runhv-cri-cache-%d" % os.getuid())


def descriptor_set():
    """The FileDescriptorSet of api.proto, compiled once per content hash."""
    with open(PROTO, "rb") as f:
        src = f.read()
    d = cache_dir()
    os.makedirs(d, exist_ok=True)
    out = os.path.join(d, "api-%s.pb" % hashlib.sha256(src).hexdigest()[:16])
    if os.path.exists(out):
        with open(out, "rb") as f:
            return f.read()
    tmp = "%s.%d.tmp" % (out, os.getpid())
    tried = []
    for compiler in ("protoc-c", "protoc"):
        exe = shutil.which(compiler)
        if not exe:
            tried.append("%s: not installed" % compiler)
            continue
        r = subprocess.run([exe, "-I" + HERE, "--descriptor_set_out=" + tmp, PROTO],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if r.returncode == 0:
            break
        tried.append("%s: %s" % (compiler, r.stdout.decode(errors="replace").strip()))
    else:
        try:
            from grpc_tools import protoc  # python3-grpc-tools
            if protoc.main(["protoc", "-I" + HERE, "--descriptor_set_out=" + tmp, PROTO]) != 0:
                tried.append("grpc_tools.protoc failed")
                raise ImportError
        except ImportError:
            raise CriError("cannot compile %s (%s): install protobuf-c-compiler" % (PROTO, "; ".join(tried)))
    os.replace(tmp, out)
    with open(out, "rb") as f:
        return f.read()


class Api:
    def __init__(self):
        fds = descriptor_pb2.FileDescriptorSet()
        fds.ParseFromString(descriptor_set())
        self.pool = descriptor_pool.DescriptorPool()
        for fd in fds.file:
            self.pool.Add(fd)
        self.factory = message_factory.MessageFactory(self.pool)
        self.classes = {}

    def cls(self, name):
        if name not in self.classes:
            desc = self.pool.FindMessageTypeByName(PKG + "." + name)
            get = getattr(message_factory, "GetMessageClass", None)
            self.classes[name] = get(desc) if get else self.factory.GetPrototype(desc)
        return self.classes[name]

    def new(self, name, **kw):
        return self.cls(name)(**kw)

    def enum_value(self, enum, name):
        return self.pool.FindEnumTypeByName(PKG + "." + enum).values_by_name[name].number

    def method(self, service, name):
        sd = self.pool.FindServiceByName(PKG + "." + service)
        m = sd.methods_by_name[name]
        return m.input_type.name, m.output_type.name


# ---------------------------------------------------------------- client


class Client:
    def __init__(self, endpoint, timeout):
        self.endpoint = endpoint
        self.timeout = timeout
        self.api = Api()
        if endpoint.startswith("unix://"):
            path = endpoint[len("unix://"):]
        elif endpoint.startswith("unix:"):
            path = endpoint[len("unix:"):]
        elif endpoint.startswith("/"):
            path = endpoint
        else:
            raise CriError("endpoint %r: only unix sockets are supported (unix:///path/containerd.sock)" % endpoint)
        if not os.path.exists(path):
            raise CriError("no CRI socket at %s (is containerd running, with this --endpoint?)" % path)
        self.path = path
        self.channel = grpc.insecure_channel("unix:" + path, options=[
            ("grpc.max_receive_message_length", 16 << 20), ("grpc.max_send_message_length", 16 << 20)])
        self.stubs = {}

    def call(self, service, name, req=None, deadline=None, **kw):
        in_name, out_name = self.api.method(service, name)
        if req is None:
            req = self.api.new(in_name, **kw)
        key = (service, name)
        if key not in self.stubs:
            self.stubs[key] = self.channel.unary_unary(
                "/%s.%s/%s" % (PKG, service, name),
                request_serializer=lambda m: m.SerializeToString(),
                response_deserializer=self.api.cls(out_name).FromString)
        try:
            return self.stubs[key](req, timeout=deadline or self.timeout)
        except grpc.RpcError as e:
            code = e.code()
            details = e.details() or ""
            hint = ""
            if code == grpc.StatusCode.UNAVAILABLE:
                hint = " (cannot reach the CRI at %s: is containerd running?)" % self.endpoint
            elif code == grpc.StatusCode.UNIMPLEMENTED:
                hint = " (the server does not serve %s.%s: is containerd's CRI plugin enabled?)" % (PKG, service)
            elif code == grpc.StatusCode.DEADLINE_EXCEEDED:
                hint = " (no answer within %gs: raise --timeout?)" % (deadline or self.timeout)
            raise CriError("%s: %s: %s%s" % (name, code.name, details, hint))

    def rt(self, name, req=None, **kw):
        return self.call("RuntimeService", name, req, **kw)

    def img(self, name, req=None, **kw):
        return self.call("ImageService", name, req, **kw)


# ---------------------------------------------------------------- helpers


def load_json(arg):
    try:
        if arg == "-":
            return json.load(sys.stdin)
        if arg.lstrip().startswith("{"):
            return json.loads(arg)
        with open(arg) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise CriError("reading %s: %s" % (arg if len(arg) < 60 else "JSON argument", e))


def parse_msg(api, name, arg):
    data = load_json(arg) if isinstance(arg, str) else arg
    msg = api.new(name)
    try:
        json_format.ParseDict(data, msg)
    except json_format.ParseError as e:
        raise CriError("%s is not a valid %s: %s" % (arg if isinstance(arg, str) and len(arg) < 60 else "JSON",
                                                     name, e))
    return msg


def to_dict(msg):
    return json_format.MessageToDict(msg, including_default_value_fields=True)


def info_dict(info):
    out = {}
    for k, v in info.items():
        try:
            out[k] = json.loads(v)
        except ValueError:
            out[k] = v
    return out


def dump(obj):
    print(json.dumps(obj, indent=2, sort_keys=False))


def age(ns):
    if not ns:
        return "-"
    s = max(0, int(time.time() - ns / 1e9))
    for unit, n in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= n:
            return "%d%s ago" % (s // n, unit)
    return "%ds ago" % s


def table(rows, header):
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    for r in [header] + rows:
        print("   ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())


def short(i):
    return i[:13]


# ---------------------------------------------------------------- commands


def cmd_version(c, a):
    r = c.rt("Version", version="v1")
    print("Version:  %s" % r.version)
    print("RuntimeName:  %s" % r.runtime_name)
    print("RuntimeVersion:  %s" % r.runtime_version)
    print("RuntimeApiVersion:  %s" % r.runtime_api_version)


def cmd_status(c, a):
    r = c.rt("Status", verbose=True)
    d = {"status": to_dict(r.status)}
    if r.info:
        d["info"] = info_dict(r.info)
    dump(d)


def cmd_runp(c, a):
    cfg = parse_msg(c.api, "PodSandboxConfig", a.config)
    r = c.rt("RunPodSandbox", config=cfg, runtime_handler=a.runtime or "")
    print(r.pod_sandbox_id)


def cmd_create(c, a):
    ccfg = parse_msg(c.api, "ContainerConfig", a.container_config)
    pcfg = parse_msg(c.api, "PodSandboxConfig", a.pod_config)
    r = c.rt("CreateContainer", pod_sandbox_id=a.pod_id, config=ccfg, sandbox_config=pcfg)
    print(r.container_id)


def cmd_start(c, a):
    for i in a.ids:
        c.rt("StartContainer", container_id=i)
        print(i)


def cmd_stop(c, a):
    for i in a.ids:
        c.rt("StopContainer", container_id=i, timeout=a.time)
        print(i)


def cmd_rm(c, a):
    ids = list(a.ids)
    if a.all:
        ids += [x.id for x in c.rt("ListContainers").containers]
    if not ids:
        raise CriError("rm: no container id given")
    for i in ids:
        if a.force:
            c.rt("StopContainer", container_id=i, timeout=0)
        c.rt("RemoveContainer", container_id=i)
        print(i)


def cmd_stopp(c, a):
    for i in a.ids:
        c.rt("StopPodSandbox", pod_sandbox_id=i)
        print("Stopped sandbox %s" % i)


def cmd_rmp(c, a):
    ids = list(a.ids)
    if a.all:
        ids += [x.id for x in c.rt("ListPodSandbox").items]
    elif not ids:
        raise CriError("rmp: no pod id given (or --all)")
    errors = []
    for i in ids:
        try:
            if a.force or a.all:
                c.rt("StopPodSandbox", pod_sandbox_id=i)
            c.rt("RemovePodSandbox", pod_sandbox_id=i)
            print("Removed sandbox %s" % i)
        except CriError as e:
            errors.append(str(e))
    if errors:
        raise CriError("; ".join(errors))


def cmd_inspectp(c, a):
    r = c.rt("PodSandboxStatus", pod_sandbox_id=a.id, verbose=True)
    dump({"status": to_dict(r.status), "info": info_dict(r.info)})


def cmd_inspect(c, a):
    r = c.rt("ContainerStatus", container_id=a.id, verbose=True)
    dump({"status": to_dict(r.status), "info": info_dict(r.info)})


def cmd_pods(c, a):
    flt = c.api.new("PodSandboxFilter")
    if a.id:
        flt.id = a.id
    if a.state:
        st = {"ready": "SANDBOX_READY", "notready": "SANDBOX_NOTREADY"}.get(a.state.lower(), a.state.upper())
        flt.state.state = c.api.enum_value("PodSandboxState", st)
    for kv in a.label or []:
        k, _, v = kv.partition("=")
        flt.label_selector[k] = v
    items = list(c.rt("ListPodSandbox", filter=flt).items)
    if a.name:
        items = [p for p in items if re.search(a.name, p.metadata.name)]
    items.sort(key=lambda p: -p.created_at)
    if a.quiet:
        for p in items:
            print(p.id)
    elif a.output == "json":
        dump({"items": [to_dict(p) for p in items]})
    else:
        state = c.api.pool.FindEnumTypeByName(PKG + ".PodSandboxState").values_by_number
        table([[short(p.id), age(p.created_at), state[p.state].name, p.metadata.name, p.metadata.namespace,
                p.metadata.attempt, p.runtime_handler or "(default)"] for p in items],
              ["POD ID", "CREATED", "STATE", "NAME", "NAMESPACE", "ATTEMPT", "RUNTIME"])


def cmd_ps(c, a):
    flt = c.api.new("ContainerFilter")
    if a.id:
        flt.id = a.id
    if a.pod:
        flt.pod_sandbox_id = a.pod
    st = a.state
    if not st and not a.all:
        st = "running"
    if st:
        name = {"created": "CONTAINER_CREATED", "running": "CONTAINER_RUNNING", "exited": "CONTAINER_EXITED",
                "unknown": "CONTAINER_UNKNOWN"}.get(st.lower(), st.upper())
        flt.state.state = c.api.enum_value("ContainerState", name)
    items = list(c.rt("ListContainers", filter=flt).containers)
    if a.name:
        items = [x for x in items if re.search(a.name, x.metadata.name)]
    items.sort(key=lambda x: -x.created_at)
    if a.quiet:
        for x in items:
            print(x.id)
    elif a.output == "json":
        dump({"containers": [to_dict(x) for x in items]})
    else:
        state = c.api.pool.FindEnumTypeByName(PKG + ".ContainerState").values_by_number
        table([[short(x.id), x.image.image, age(x.created_at), state[x.state].name, x.metadata.name,
                x.metadata.attempt, short(x.pod_sandbox_id)] for x in items],
              ["CONTAINER", "IMAGE", "CREATED", "STATE", "NAME", "ATTEMPT", "POD ID"])


def cmd_exec_sync(c, a):
    cmd = list(a.cmd)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        raise CriError("exec-sync: no command given (exec-sync ID -- CMD ...)")
    t = a.exec_timeout or 0
    # the call's own deadline must outlast the command's timeout
    req = c.api.new("ExecSyncRequest", container_id=a.id, cmd=cmd, timeout=t)
    r = c.call("RuntimeService", "ExecSync", req, deadline=max(c.timeout, t + 10))
    sys.stdout.buffer.write(r.stdout)
    sys.stdout.buffer.flush()
    sys.stderr.buffer.write(r.stderr)
    sys.stderr.buffer.flush()
    sys.exit(min(r.exit_code, 255) if r.exit_code >= 0 else 255)


def parse_cri_log(path, stream=None):
    """(stream, text) pieces of a CRI log file: each line is
    `<RFC3339Nano> <stdout|stderr> <P|F> <message>`; P (partial) joins the
    next piece of the same stream without a newline."""
    out = []
    with open(path, "rb") as f:
        for raw in f:
            line = raw.rstrip(b"\n")
            parts = line.split(b" ", 3)
            if len(parts) < 3:
                continue  # not a CRI log line
            st, tag = parts[1].decode(), parts[2]
            msg = parts[3] if len(parts) > 3 else b""
            if stream and st != stream:
                continue
            out.append((st, msg if tag == b"P" else msg + b"\n"))
    return out


def cmd_logs(c, a):
    r = c.rt("ContainerStatus", container_id=a.id)
    path = r.status.log_path
    if not path:
        raise CriError("container %s has no log file: give the pod config a log_directory and the container "
                       "config a log_path" % a.id)
    if not os.path.exists(path):
        raise CriError("container %s: log file %s does not exist (yet)" % (a.id, path))
    pieces = parse_cri_log(path, a.stream)
    if a.tail is not None and a.tail >= 0:
        # whole lines only: count pieces that end a line
        ends = [i for i, (_, m) in enumerate(pieces) if m.endswith(b"\n")]
        if len(ends) > a.tail:
            start = ends[len(ends) - a.tail - 1] + 1 if a.tail > 0 else len(pieces)
            pieces = pieces[start:]
    for st, msg in pieces:
        out = sys.stderr.buffer if st == "stderr" else sys.stdout.buffer
        out.write(msg)
    sys.stdout.buffer.flush()
    sys.stderr.buffer.flush()


def dump_stats(c, ids, one, id_field, listing):
    if ids:
        out = [to_dict(c.rt(one, **{id_field: i}).stats) for i in ids]
    else:
        out = [to_dict(s) for s in c.rt(listing).stats]
    dump({"stats": out})


def cmd_stats(c, a):
    dump_stats(c, a.ids, "ContainerStats", "container_id", "ListContainerStats")


def cmd_statsp(c, a):
    dump_stats(c, a.ids, "PodSandboxStats", "pod_sandbox_id", "ListPodSandboxStats")


def cmd_update(c, a):
    res = c.api.new("LinuxContainerResources")
    for field in ("cpu_period", "cpu_quota", "cpu_shares", "memory", "cpuset_cpus", "cpuset_mems"):
        v = getattr(a, field)
        if v is not None:
            setattr(res, "memory_limit_in_bytes" if field == "memory" else field, v)
    for i in a.ids:
        c.rt("UpdateContainerResources", container_id=i, linux=res)
        print(i)


def cmd_images(c, a):
    imgs = c.img("ListImages").images
    if a.quiet:
        for im in imgs:
            print(im.id)
    elif a.output == "json":
        dump({"images": [to_dict(im) for im in imgs]})
    else:
        rows = []
        for im in imgs:
            for tag in im.repo_tags or ["<none>:<none>"]:
                repo, _, t = tag.rpartition(":")
                rows.append([repo, t, short(im.id.replace("sha256:", "")), im.size])
        table(rows, ["IMAGE", "TAG", "IMAGE ID", "SIZE"])


def cmd_inspecti(c, a):
    r = c.img("ImageStatus", image=c.api.new("ImageSpec", image=a.image), verbose=True)
    if not r.HasField("image"):
        raise CriError("no such image %s" % a.image)
    dump({"status": to_dict(r.image), "info": info_dict(r.info)})


def cmd_rmi(c, a):
    for i in a.images:
        c.img("RemoveImage", image=c.api.new("ImageSpec", image=i))
        print("Deleted: %s" % i)


def main(argv=None):
    ap = argparse.ArgumentParser(prog=PROG, description="CRI (runtime.v1) client for runhv's tests")
    ap.add_argument("--endpoint", "-r", default=os.environ.get("CONTAINER_RUNTIME_ENDPOINT",
                                                             "unix:///run/containerd/containerd.sock"))
    ap.add_argument("--timeout", type=float, default=float(os.environ.get("RUNHV_CRI_TIMEOUT", "120")),
                    help="seconds each call may take (default 120)")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def add(name, fn, aliases=(), help=None):
        p = sub.add_parser(name, aliases=list(aliases), help=help)
        p.set_defaults(fn=fn)
        return p

    add("version", cmd_version, help="runtime name and version")
    add("status", cmd_status, help="runtime conditions (RuntimeReady, NetworkReady)")
    p = add("runp", cmd_runp, help="run a pod sandbox, print its id")
    p.add_argument("--runtime", "-r", help="the runtime handler (containerd's runtimes.<name>)")
    p.add_argument("config")
    p = add("create", cmd_create, help="create a container in a pod, print its id")
    p.add_argument("pod_id")
    p.add_argument("container_config")
    p.add_argument("pod_config")
    p = add("start", cmd_start)
    p.add_argument("ids", nargs="+")
    p = add("stop", cmd_stop)
    p.add_argument("--time", "-t", type=int, default=10, help="grace period in seconds")
    p.add_argument("ids", nargs="+")
    p = add("rm", cmd_rm)
    p.add_argument("--force", "-f", action="store_true", help="stop it first")
    p.add_argument("--all", "-a", action="store_true")
    p.add_argument("ids", nargs="*")
    p = add("stopp", cmd_stopp)
    p.add_argument("ids", nargs="+")
    p = add("rmp", cmd_rmp)
    p.add_argument("--force", "-f", action="store_true", help="stop it first")
    p.add_argument("--all", "-a", action="store_true", help="stop and remove every pod")
    p.add_argument("ids", nargs="*")
    p = add("inspectp", cmd_inspectp)
    p.add_argument("id")
    p = add("inspect", cmd_inspect)
    p.add_argument("id")
    p = add("pods", cmd_pods)
    p.add_argument("--quiet", "-q", action="store_true")
    p.add_argument("--id")
    p.add_argument("--name")
    p.add_argument("--state", "-s")
    p.add_argument("--label", action="append")
    p.add_argument("--output", "-o", choices=["table", "json"], default="table")
    p = add("ps", cmd_ps)
    p.add_argument("--all", "-a", action="store_true")
    p.add_argument("--quiet", "-q", action="store_true")
    p.add_argument("--id")
    p.add_argument("--pod", "-p")
    p.add_argument("--name")
    p.add_argument("--state", "-s")
    p.add_argument("--output", "-o", choices=["table", "json"], default="table")
    p = add("exec-sync", cmd_exec_sync, aliases=["exec"], help="run a command in a container, synchronously")
    p.add_argument("--exec-timeout", "-t", type=int, default=0, help="seconds (0: none)")
    p.add_argument("--sync", "-s", action="store_true", help="accepted for crictl compatibility")
    p.add_argument("id")
    p.add_argument("cmd", nargs=argparse.REMAINDER)
    p = add("logs", cmd_logs)
    p.add_argument("--tail", type=int)
    p.add_argument("--stream", choices=["stdout", "stderr"])
    p.add_argument("id")
    p = add("stats", cmd_stats)
    p.add_argument("ids", nargs="*")
    p = add("statsp", cmd_statsp)
    p.add_argument("ids", nargs="*")
    p = add("update", cmd_update)
    p.add_argument("--cpu-period", type=int)
    p.add_argument("--cpu-quota", type=int)
    p.add_argument("--cpu-shares", type=int)
    p.add_argument("--memory", type=int, help="bytes")
    p.add_argument("--cpuset-cpus")
    p.add_argument("--cpuset-mems")
    p.add_argument("ids", nargs="+")
    p = add("images", cmd_images, aliases=["img"])
    p.add_argument("--quiet", "-q", action="store_true")
    p.add_argument("--output", "-o", choices=["table", "json"], default="table")
    p = add("inspecti", cmd_inspecti)
    p.add_argument("image")
    p = add("rmi", cmd_rmi)
    p.add_argument("images", nargs="+")

    a = ap.parse_args(argv)
    try:
        client = Client(a.endpoint, a.timeout)
        a.fn(client, a)
    except CriError as e:
        die(str(e))
    except BrokenPipeError:
        sys.exit(1)


if __name__ == "__main__":
    main()

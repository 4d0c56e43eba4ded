#!/usr/bin/python3
"""Checks runhv-webhook's answers for the bats suite (Debian's python3-jsonpatch
and python3-yaml: run with /usr/bin/python3).

  check.py review FIXTURE RESPONSE CLASS   the answer to FIXTURE is right
  check.py manifests DIR CONTAINERD_SNIPPET CA_FILE SIZE...
Exit status 0 when right; otherwise one line on stderr says what is wrong."""
import base64
import copy
import json
import os
import re
import sys

import jsonpatch
import yaml

ANNOTATION = "runhv-runtimeclass-mutating-webhook"


def fail(msg):
    sys.stderr.write(msg + "\n")
    sys.exit(1)


def check_review(fixture, response, klass):
    with open(fixture) as f:
        req = json.load(f)
    with open(response) as f:
        resp = json.load(f)
    name = os.path.basename(fixture)
    if resp.get("apiVersion") != "admission.k8s.io/v1" or resp.get("kind") != "AdmissionReview":
        fail(f"{name}: response apiVersion/kind wrong: {resp.get('apiVersion')} {resp.get('kind')}")
    r = resp.get("response")
    if not isinstance(r, dict):
        fail(f"{name}: no response object")
    if r.get("uid") != req["request"]["uid"]:
        fail(f"{name}: uid {r.get('uid')!r} does not echo {req['request']['uid']!r}")
    if r.get("allowed") is not True:
        fail(f"{name}: allowed is {r.get('allowed')!r}")
    if name.startswith("skip-"):
        if "patch" in r or "patchType" in r:
            fail(f"{name}: a skipped pod got a patch")
        return
    if not name.startswith("mutate-"):
        fail(f"{name}: fixture name says neither mutate- nor skip-")
    if r.get("patchType") != "JSONPatch":
        fail(f"{name}: patchType is {r.get('patchType')!r}")
    ops = json.loads(base64.b64decode(r["patch"], validate=True))
    pod = req["request"]["object"]
    patched = jsonpatch.JsonPatch(ops).apply(pod)  # raises on an invalid patch
    if patched["spec"].get("runtimeClassName") != klass:
        fail(f"{name}: runtimeClassName after the patch is {patched['spec'].get('runtimeClassName')!r}")
    ann = patched.get("metadata", {}).get("annotations")
    if not isinstance(ann, dict) or ann.get(ANNOTATION) != "mutated":
        fail(f"{name}: annotation {ANNOTATION} missing after the patch: {ann!r}")
    # Nothing else changed: every other annotation and field is as sent.
    before = copy.deepcopy(pod)
    after = copy.deepcopy(patched)
    after["spec"].pop("runtimeClassName")
    before["spec"].pop("runtimeClassName", None)
    after["metadata"]["annotations"].pop(ANNOTATION)
    before_ann = (before.get("metadata") or {}).get("annotations") or {}
    before_ann.pop(ANNOTATION, None)
    if after["metadata"]["annotations"] != before_ann:
        fail(f"{name}: other annotations changed: {after['metadata']['annotations']!r} != {before_ann!r}")
    after["metadata"].pop("annotations")
    if "metadata" in before:
        before["metadata"].pop("annotations", None)
        if after["metadata"] != before["metadata"]:
            fail(f"{name}: metadata changed beyond the annotation")
    elif after["metadata"] != {}:
        fail(f"{name}: metadata created with more than the annotation")
    after.pop("metadata")
    before.pop("metadata", None)
    if after != before:
        fail(f"{name}: the patch changed more than runtimeClassName and the annotation")


def handlers_of(snippet):
    with open(snippet) as f:
        text = f.read()
    return re.findall(r'^\[plugins\."io\.containerd\.grpc\.v1\.cri"\.containerd\.runtimes\.([A-Za-z0-9_.-]+)\]$',
                      text, re.M)


def expect(cond, msg):
    if not cond:
        fail(msg)


def check_manifests(directory, snippet, ca_file, sizes):
    with open(os.path.join(directory, "runtimeclasses.yaml")) as f:
        classes = [d for d in yaml.safe_load_all(f) if d is not None]
    with open(os.path.join(directory, "webhook.yaml")) as f:
        objs = [d for d in yaml.safe_load_all(f) if d is not None]
    handlers = handlers_of(snippet)
    want = ["runhv-process", "runhv-hypervisor"] + ["runhv-hypervisor-" + s for s in sizes]
    expect(handlers == want, f"containerd handlers {handlers} != {want}")
    names = []
    for rc in classes:
        expect(rc.get("apiVersion") == "node.k8s.io/v1", f"RuntimeClass apiVersion {rc.get('apiVersion')}")
        expect(rc.get("kind") == "RuntimeClass", f"kind {rc.get('kind')} in runtimeclasses.yaml")
        name = rc["metadata"]["name"]
        names.append(rc["handler"])
        expect(rc["handler"] == name, f"{name}: handler {rc['handler']} differs from its name")
        sched = rc.get("scheduling", {})
        expect(sched.get("nodeSelector") == {"runhv.io/node": "true"}, f"{name}: nodeSelector {sched.get('nodeSelector')}")
        tol = sched.get("tolerations")
        expect(isinstance(tol, list) and tol and tol[0].get("key") == "runhv.io/node", f"{name}: tolerations {tol}")
        if name == "runhv-process":
            expect("overhead" not in rc, "runhv-process has a VM overhead")
        else:
            pf = rc.get("overhead", {}).get("podFixed", {})
            # docs/kubernetes.md: 69 MiB + 17 MiB per GiB of the VM (2 GiB
            # for the unsized class), from bench/hypervisor.sh
            size = name[len("runhv-hypervisor-"):] if name != "runhv-hypervisor" else "1vp2gb"
            m = re.fullmatch(r"(\d+)vp(\d+)(gb|mb)", size)
            vm_mb = int(m.group(2)) * (1024 if m.group(3) == "gb" else 1)
            want = f"{69 + (17 * vm_mb + 1023) // 1024}Mi"
            expect(pf.get("memory") == want and pf.get("cpu") == "250m", f"{name}: overhead {pf}, want memory {want}")
    expect(names == handlers, f"RuntimeClass handlers {names} != containerd's {handlers}")

    kinds = [(o["apiVersion"], o["kind"]) for o in objs]
    expect(kinds == [("v1", "Namespace"), ("v1", "ServiceAccount"), ("v1", "Service"), ("apps/v1", "Deployment"),
                     ("policy/v1", "PodDisruptionBudget"),
                     ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration")], f"webhook.yaml objects {kinds}")
    ns, sa, svc, dep, pdb, mwc = objs
    # highly available, so that failurePolicy: Fail is practical
    expect(dep["spec"]["replicas"] == 2, "webhook replicas")
    expect(dep["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0, "rollout may take every replica away")
    expect(pdb["spec"]["minAvailable"] == 1 and pdb["spec"]["selector"] == dep["spec"]["selector"],
           f"PodDisruptionBudget {pdb['spec']}")
    anti = dep["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
    term = anti["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]
    expect(term["topologyKey"] == "kubernetes.io/hostname"
           and term["labelSelector"] == dep["spec"]["selector"], f"anti-affinity {term}")
    expect(ns["metadata"]["name"] == "runhv-system", "namespace name")
    for o in (sa, svc, dep, pdb):
        expect(o["metadata"]["namespace"] == "runhv-system", f"{o['kind']} namespace")
    port = svc["spec"]["ports"][0]
    expect(port["port"] == 443 and port["targetPort"] == "https", f"Service ports {port}")
    expect(svc["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"], "Service selector != Deployment's")
    tmpl = dep["spec"]["template"]
    expect(tmpl["metadata"]["labels"].get("runhv.io/isolation") == "process", "webhook pods not process-isolated")
    pspec = tmpl["spec"]
    expect(pspec["serviceAccountName"] == sa["metadata"]["name"], "Deployment service account")
    expect(pspec["securityContext"]["runAsNonRoot"] is True, "pod runAsNonRoot")
    expect(pspec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", "pod seccompProfile")
    c = pspec["containers"][0]
    sc = c["securityContext"]
    expect(sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False, f"container sc {sc}")
    expect(sc["capabilities"]["drop"] == ["ALL"], "capabilities not dropped")
    expect(sc["seccompProfile"]["type"] == "RuntimeDefault", "container seccompProfile")
    args = c["args"]
    for flag in ("--tls-cert-file", "--tls-private-key-file", "--runtime-class", "--listen"):
        expect(flag in args, f"webhook args lack {flag}: {args}")
    expect(args[args.index("--runtime-class") + 1] == "runhv-hypervisor", "webhook runtime class")
    expect(args[args.index("--listen") + 1].endswith(":8443"), "webhook port")
    expect(c["ports"][0]["containerPort"] == 8443 and c["ports"][0]["name"] == "https", "container port")
    mount = c["volumeMounts"][0]
    vol = [v for v in pspec["volumes"] if v["name"] == mount["name"]][0]
    expect(vol["secret"]["secretName"] == "runhv-webhook-tls", "TLS secret volume")
    expect(args[args.index("--tls-cert-file") + 1].startswith(mount["mountPath"] + "/"), "cert not in the mounted secret")
    expect(c["readinessProbe"]["httpGet"]["path"] == "/readyz", "readiness probe")
    expect(c["livenessProbe"]["httpGet"]["path"] == "/healthz", "liveness probe")

    expect(len(mwc["webhooks"]) == 1, "one webhook")
    w = mwc["webhooks"][0]
    expect(w["admissionReviewVersions"] == ["v1"], "admissionReviewVersions")
    expect(w["sideEffects"] == "None", "sideEffects")
    expect(w["failurePolicy"] == "Ignore", "failurePolicy")
    cc = w["clientConfig"]
    expect(cc["service"] == {"name": svc["metadata"]["name"], "namespace": "runhv-system", "path": "/mutate",
                             "port": 443}, f"clientConfig.service {cc['service']}")
    with open(ca_file, "rb") as f:
        expect(base64.b64decode(cc["caBundle"], validate=True) == f.read(), "caBundle is not the CA file")
    expect(w["rules"] == [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"],
                           "scope": "Namespaced"}], f"rules {w['rules']}")
    nsel = w["namespaceSelector"]["matchExpressions"][0]
    expect(nsel["key"] == "kubernetes.io/metadata.name" and nsel["operator"] == "NotIn"
           and {"kube-system", "runhv-system"} <= set(nsel["values"]), f"namespaceSelector {nsel}")
    osel = w["objectSelector"]["matchExpressions"][0]
    expect(osel == {"key": "runhv.io/isolation", "operator": "NotIn", "values": ["process"]}, f"objectSelector {osel}")
    check_installer(directory, sizes, classes)


def check_installer(directory, sizes, classes):
    """node-installer.yaml: a privileged DaemonSet that may patch nodes and
    nothing else, installing the handlers the RuntimeClasses name and
    setting the label they select."""
    with open(os.path.join(directory, "node-installer.yaml")) as f:
        objs = [d for d in yaml.safe_load_all(f) if d is not None]
    kinds = [(o["apiVersion"], o["kind"]) for o in objs]
    expect(kinds == [("v1", "Namespace"), ("v1", "ServiceAccount"), ("rbac.authorization.k8s.io/v1", "ClusterRole"),
                     ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"), ("apps/v1", "DaemonSet")],
           f"node-installer.yaml objects {kinds}")
    ns, sa, role, binding, ds = objs
    name = ns["metadata"]["name"]
    expect(name == "runhv-node-installer", "installer namespace name")
    expect(ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged",
           "installer namespace does not admit privileged pods")
    for o in (sa, ds):
        expect(o["metadata"]["namespace"] == name, f"{o['kind']} namespace")
    expect(role["rules"] == [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "patch"]}],
           f"ClusterRole rules {role['rules']}")
    expect(binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                  "name": role["metadata"]["name"]}, f"roleRef {binding['roleRef']}")
    expect(binding["subjects"] == [{"kind": "ServiceAccount", "name": sa["metadata"]["name"], "namespace": name}],
           f"subjects {binding['subjects']}")
    spec = ds["spec"]
    tmpl = spec["template"]
    expect(spec["selector"]["matchLabels"].items() <= tmpl["metadata"]["labels"].items(), "DaemonSet selector")
    pspec = tmpl["spec"]
    expect(pspec["serviceAccountName"] == sa["metadata"]["name"], "DaemonSet service account")
    expect(pspec["hostPID"] is True, "no hostPID: the installer cannot restart the node's containerd")
    expect(pspec["terminationGracePeriodSeconds"] >= 60, "too short a grace period to uninstall")
    expect(pspec["nodeSelector"] == {"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"},
           f"nodeSelector {pspec['nodeSelector']}")
    expect(pspec["tolerations"] == [{"operator": "Exists"}], f"tolerations {pspec['tolerations']}")
    c = pspec["containers"][0]
    expect(c["securityContext"] == {"privileged": True}, f"installer securityContext {c['securityContext']}")
    expect(c["image"].startswith("runhv/runhv-node-installer:"), f"installer image {c['image']}")
    args = c["args"]
    expect(args[0] == "run" and args[args.index("--host-root") + 1] == "/host", f"installer args {args}")
    selector = classes[0]["scheduling"]["nodeSelector"]
    expect(args[args.index("--node-label") + 1] == "%s=%s" % next(iter(selector.items())),
           f"installer label {args} != the RuntimeClasses' nodeSelector {selector}")
    if sizes:
        expect(args[args.index("--sizes") + 1] == ",".join(sizes), f"installer --sizes {args}")
    else:
        expect("--sizes" not in args, f"installer --sizes {args}")
    expect(c["env"] == [{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
           f"installer env {c['env']}")
    mount = c["volumeMounts"][0]
    vol = [v for v in pspec["volumes"] if v["name"] == mount["name"]][0]
    expect(mount["mountPath"] == "/host" and vol["hostPath"] == {"path": "/", "type": "Directory"},
           f"node root mount {mount} {vol}")


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "review":
        check_review(sys.argv[2], sys.argv[3], sys.argv[4])
    elif len(sys.argv) >= 5 and sys.argv[1] == "manifests":
        check_manifests(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
    else:
        fail(__doc__)


main()

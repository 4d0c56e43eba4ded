"""A pod the way kubelet starts one, for the CRI benchmarks."""
import time


def run_pod(c, handler, name, busybox):
    """RunPodSandbox → CreateContainer (sleep) → StartContainer, timed until
    ContainerStatus says RUNNING: (seconds, pod id, container id)."""
    api = c.api
    msg = lambda type_name, **kw: api.cls(type_name)(**kw)  # noqa: E731
    t0 = time.monotonic()
    pcfg = msg("PodSandboxConfig", metadata=msg("PodSandboxMetadata", name=name, namespace="bench", uid=name + "-uid"),
               hostname=name, log_directory="/tmp/runhv-bench-logs/" + name)
    pod = c.rt("RunPodSandbox", config=pcfg, runtime_handler=handler).pod_sandbox_id
    ccfg = msg("ContainerConfig", metadata=msg("ContainerMetadata", name="main"),
               image=msg("ImageSpec", image=busybox), command=["sleep", "1000"], log_path="main.log")
    cid = c.rt("CreateContainer", pod_sandbox_id=pod, config=ccfg, sandbox_config=pcfg).container_id
    c.rt("StartContainer", container_id=cid)
    running = api.enum_value("ContainerState", "CONTAINER_RUNNING")
    while c.rt("ContainerStatus", container_id=cid).status.state != running:
        time.sleep(0.005)
    return time.monotonic() - t0, pod, cid


def remove_pod(c, pod):
    c.rt("StopPodSandbox", pod_sandbox_id=pod)
    c.rt("RemovePodSandbox", pod_sandbox_id=pod)

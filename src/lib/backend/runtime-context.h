/* The caller's choices every runtime call and every backend sees: where
   the registry lives, how cgroups are named, which runhv.toml applies.  */
#ifndef RUNHV_RUNTIME_CONTEXT_H
#define RUNHV_RUNTIME_CONTEXT_H

#include <stdbool.h>

struct runhv_config;
struct backend_ops;

struct runtime_context
{
  char *root;                  /* --root */
  bool systemd_cgroup;         /* --systemd-cgroup: cgroupsPath is slice:prefix:name */
  const char *config_path;     /* runhv.toml to use, NULL for the default lookup */
  const char *cgroup_root;     /* NULL = /sys/fs/cgroup; a fake tree in tests */
  struct runhv_config *config; /* loaded on first use */
  /* The caller hosts the VMs it creates (the containerd shim): each is a
     session of this process (uvm/session.h) whose loop the caller runs
     (runtime_vms_*), rather than an exec'd supervisor, and waits for VM
     processes through runtime_process_handle, not host pids.  */
  bool host_vms;
  /* NULL in every program.  Set, every container runs under this backend
     whatever its isolation: the one seam through which the lifecycle's
     unit tests drive runtime.c with a fake (tests/unit/test_runtime.c).  */
  const struct backend_ops *backend;
};

#endif

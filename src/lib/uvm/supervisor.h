/* A VM's configuration as create hands it to the host of its session
   (session.h), and the VM supervisor: the exec'd program that hosts a
   session for runhv's CLI and podman, one process per utility VM.  It is
   QEMU's parent, forwards the signals it gets to the container and exits
   with the container's exit status, so that a caller waiting on it
   (podman's conmon, `runhv run`) sees the container's exit as with a
   process.  containerd's shim hosts its VMs' sessions itself.  */
#ifndef RUNHV_UVM_SUPERVISOR_H
#define RUNHV_UVM_SUPERVISOR_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "uvm/host.h"
#include "uvm/sizing.h"

/* Exit status of a container whose VM died under it (VMM killed, guest
   kernel panic, agent lost).  */
#define UVM_EXIT_VM_DIED 255

struct uvm_bind
{
  size_t index; /* of the mount in config.json */
  char *host;   /* host path */
  char *shared; /* path under the shared directory (host side) */
  bool file;
};

struct supervisor_config
{
  const char *runtime_root; /* for events */
  const char *id;
  const char *state_dir;
  const char *console_log; /* kept after a failed create: errors name it */
  const char *vmm_log;
  const char *rootfs; /* host path of the container's rootfs */
  json_t *guest_spec; /* config.json as the guest gets it */
  struct uvm_bind *binds;
  size_t n_binds;
  struct uvm_sizing sizing;
  const struct uvm_artifacts *art;
  const char *accel;
  const char *shared_fs;
  long tsc_khz;
  bool tsc_reliable;
  int64_t boot_timeout_ms;
  bool terminal;
  const char *console_socket;
  int console_receiver;
  int tap_fd;             /* the pod network's tap, or -1 */
  const char *mac;        /* the pod's MAC, for the guest's NIC */
  const char *net_config; /* the pod's IP/PREFIX,GATEWAY,MAC,MTU for the agent's hello */
  int report_fd; /* SYNC_BOOTED (value: VMM pid, fd: its pidfd), then SYNC_READY (value: VMM pid, text: JSON) or
                    SYNC_ERROR */
  int stdio[3];  /* the container's stdio as its host holds it (-1: none); a hosted session owns them */
  bool debug;
  const char *cgroup_parent; /* the VMM's parent cgroup (jail.h), NULL = /runhv */
  int64_t jail_id_base;      /* [vm] jail_id_base, 0 = default */
  bool template;             /* [vm] template: start from a VM template where one can be (template.h) */
};

/* The exec'd supervisor's life: it hosts the VM's session (session.h)
   and exits with the container's status.  */
void supervisor_main (const struct supervisor_config *cfg) __attribute__ ((noreturn));

/* After setup: no_new_privs, only the capabilities a running VM's host
   side uses, a seccomp filter (supervisor-confine.c says which).  */
int supervisor_confine (runhv_error_t *err);
/* The same filter, no capabilities at all: a host stand-in (proxy.c).  */
int proxy_confine (runhv_error_t *err);

/* create's one byte on the report socket once the supervisor's pid is on
   record; a supervisor that gets EOF instead exits having done nothing.  */
#define SUPERVISOR_GO "G"

/* The hidden argument that makes runhv or the shim the VM supervisor.  */
#define UVM_SUPERVISOR_ARGV1 "__vm-supervisor"
/* fork and exec the supervisor (supervisor-spawn.c says which descriptors
   it gets); stdio[i] < 0 passes the caller's own fd i.  */
pid_t supervisor_spawn (const struct supervisor_config *cfg, const int stdio[3], runhv_error_t *err);
/* main () of runhv and of the shim call this when argv[1] is
   UVM_SUPERVISOR_ARGV1, before anything else.  */
void supervisor_exec_main (void) __attribute__ ((noreturn));

#endif

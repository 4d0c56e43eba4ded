/* One QEMU process per utility VM (the seed's vmwp.exe), named so that ps
   shows runhv-uvm-<id>.  */
#ifndef RUNHV_UVM_VMM_H
#define RUNHV_UVM_VMM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/error.h"
#include "uvm/host.h"

/* A VM template's NIC's MAC, locally administered; no VM keeps it.  */
#define UVM_TEMPLATE_MAC "02:72:68:76:00:00"

struct uvm_launch
{
  const char *id;
  const struct uvm_artifacts *art;
  const char *accel; /* kvm | tcg */
  int64_t memory_mb, cpus;
  const char *shared_dir; /* exported to the guest with tag "rootfs" */
  const char *shared_fs;  /* 9p (the only one the jail serves) */
  uint64_t qos_bps, qos_iops;
  int agent_fd; /* our end stays with us; this one goes to QEMU */
  const char *console_log;
  const char *vmm_log;
  long tsc_khz;
  bool tsc_reliable;
  int tap_fd; /* -1 = no network */
  const char *mac;
  bool template_nic; /* no tap: a VM template's NIC (template.h) */
  bool debug;
  /* A VM template (template.h).  memory_file: guest RAM is the file on
     memory_fd, mapped shared (a template's memory, or a VM's copy of it),
     so that a template's devices and CPUs are saved without its RAM.
     restore: the VM starts where the template's guest stood, from the
     device state on restore_fd, once told to through its monitor (its
     RAM already is the template's).  qmp: a QMP monitor on qmp_fd, through
     which a template's maker saves it and a VM loading one is started.  */
  bool memory_file;
  int memory_fd;
  bool restore;
  int restore_fd;
  int memory_src_fd; /* with restore: the template's memory, which the jail copies into memory_fd */
  bool qmp;
  int qmp_fd;
  /* The jail (jail.h).  NULL/0 = defaults: the cgroup under /runhv, host
     ids from UVM_JAIL_DEFAULT_ID_BASE.  */
  const char *cgroup_parent; /* parent cgroup path, e.g. from uvm_jail_cgroup_parent */
  int64_t jail_id_base;      /* first host id of the per-VM ranges */
  /* The caller stays in its own cgroup rather than join the VM's (a shim
     hosting the VM's session: containerd put it where it is).  */
  bool caller_stays_out;
};

/* The command line (for tests and the debug log); NULL-terminated, freed
   with strv_free.  Fds are referred to by the numbers the child gets.  */
char **uvm_vmm_argv (const struct uvm_launch *l);
/* Start QEMU in its jail (jail.h): its own user, pid, ipc, uts, net, mount
   and cgroup namespaces, a pivot_root'ed per-VM root, its own cgroup,
   no_new_privs, seccomp, death with its parent.  alive_fd: as
   uvm_jail_spawn's.  */
int uvm_vmm_spawn (const struct uvm_launch *l, pid_t *pid, int *alive_fd, runhv_error_t *err);

/* Once the guest is up: reclaim the pages QEMU needed only to start, the
   kernel and initramfs it keeps mapped and its start-up code (vmm.c says
   why), and read QEMU's, the kernel's and the initramfs' files (art) back
   into the page cache.  pidfd: QEMU's, opened while it surely was (by its
   parent, before reaping it), or -1 to open one by pid.  A hint; the
   caller needs CAP_SYS_NICE and may ignore a failure.  */
int uvm_vmm_reclaim_startup (pid_t vmm, int pidfd, const struct uvm_artifacts *art, runhv_error_t *err);
/* One line of /proc/PID/maps: whether it maps the jail's kernel or
   initramfs, or a private read-only file mapping (QEMU's code, its
   libraries'), and its range (vmm-maps.c).  */
bool uvm_vmm_startup_mapping (const char *line, unsigned long *lo, unsigned long *hi);

#endif

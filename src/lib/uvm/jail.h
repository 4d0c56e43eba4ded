/* The VMM's jail (Firecracker's jailer, as a function): QEMU starts as root
   of its own user namespace mapped onto an unprivileged per-VM host range,
   in new pid/ipc/uts/net/mount/cgroup namespaces, pivoted into a per-VM
   root that holds only the kernel, the initramfs, the shared tree (through
   an idmapped mount), a few device nodes and /usr read-only, in its own
   cgroup with memory and pids limits, with no_new_privs and a seccomp
   filter under QEMU's own -sandbox.  See docs/hypervisor.md (Security model).  */
#ifndef RUNHV_UVM_JAIL_H
#define RUNHV_UVM_JAIL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/error.h"
#include "uvm/vmm.h"

/* Paths inside the jail that QEMU's command line refers to.  */
#define UVM_JAIL_VMM "/vmm"
#define UVM_JAIL_KERNEL "/kernel"
#define UVM_JAIL_INITRD "/initrd"
#define UVM_JAIL_SHARED "/shared"

/* Fds the jailed process gets, whatever it is (QEMU or the test probe).  */
#define UVM_JAIL_AGENT_FD 3
#define UVM_JAIL_TAP_FD 4
#define UVM_JAIL_CONSOLE_FD 5
#define UVM_JAIL_ALIVE_FD 6   /* held until the VMM exits: its cgroup goes then */
#define UVM_JAIL_RESTORE_FD 7 /* a template's migration stream (template.h) */
#define UVM_JAIL_RESTORE_FD_STR "7"
#define UVM_JAIL_QMP_FD 8    /* QMP monitor: a template's maker, a VM loading a template */
#define UVM_JAIL_MEMORY_FD 9 /* guest RAM as a file: a template's, or a VM's copy of one */
#define UVM_JAIL_LAST_FD UVM_JAIL_MEMORY_FD

/* Host ids: VM ranges start at base (default below), each 65536 ids wide, at
   slot hash(id) mod UVM_JAIL_SLOTS.  */
#define UVM_JAIL_DEFAULT_ID_BASE 1073741824LL /* 2^30 */
#define UVM_JAIL_ID_RANGE 65536
#define UVM_JAIL_SLOTS 4096

/* What the VMM's cgroup gets on top of guest memory (see docs/hypervisor.md (Security model) for
   the measurement), and its pids limit.  */
#define UVM_JAIL_MEMORY_OVERHEAD_MB 384
#define UVM_JAIL_TB_SIZE_MB_STR "24" /* TCG's translation cache, part of the overhead */
#define UVM_JAIL_PIDS_MAX 512

/* The first host uid/gid of the VM's range.  */
int64_t uvm_jail_id_base (const char *id, int64_t configured_base);

/* The parent cgroup for a VM from its container's OCI cgroupsPath (its
   parent directory; systemd "slice:prefix:name" gives the slice), or NULL
   when cgroups_path is NULL/empty.  The result is in a static buffer (the
   initializers that call it cannot own memory).  */
const char *uvm_jail_cgroup_parent (const char *cgroups_path, bool systemd);

/* The VM's cgroup path (relative to each hierarchy's root).  */
char *uvm_jail_cgroup_path (const struct uvm_launch *l);

/* Fork the jail and exec argv[0] (bound at UVM_JAIL_VMM) in it; argv
   refers to the UVM_JAIL_* paths and fds.  With $RUNHV_TEST_VMM_PROBE set
   (see docs/hypervisor.md (Security model)) the jail execs that probe instead, same jail.
   *alive_fd (when not NULL) gets the descriptor whose closing, with QEMU
   gone, lets the jail's reaper remove the VM's cgroups; else it stays open
   until the caller exits.  */
int uvm_jail_spawn (const struct uvm_launch *l, char *const *argv, pid_t *pid, int *alive_fd, runhv_error_t *err);

/* Mount `src` at `dst` (under the shared tree, in the supervisor's mount
   namespace) as the running VMM must see it: idmapped into its user
   namespace `userns` (an fd on /proc/<vmm>/ns/user), or for an overlay, re-mounted on idmapped layers (staged
   under `layers`, removed after).  The mount reaches QEMU by propagation,
   idmapping included: a pod's later containers.  */
int uvm_jail_share (int userns, int64_t base, const char *src, const char *dst, const char *layers, runhv_error_t *err);

#endif

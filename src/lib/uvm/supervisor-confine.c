/* What the VM supervisor keeps once QEMU runs.  After boot it relays
   bytes, answers runhv commands, signals QEMU (a uid of the jail's range:
   CAP_KILL), binds joined containers' rootfs into the VM's shared tree and
   takes them down again (CAP_SYS_ADMIN, in its own mount namespace;
   CAP_SETUID/CAP_SETGID for the fs ids an overlay is mounted with), and
   reaches their sources wherever they are (CAP_DAC_OVERRIDE,
   CAP_DAC_READ_SEARCH).  Everything else goes: the other capabilities
   from every set, new privileges, and the system calls a relay never makes
   (exec, new namespaces, module, key, bpf, perf and ptrace calls).  */
#include "uvm/supervisor.h"

#include <errno.h>
#include <sched.h>
#include <linux/capability.h>
#include <seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/banned.h"

/* setuid/setgid only for setfsuid/setfsgid: a joined container's overlay
   is mounted with the fs ids of the VM's range (jail.c); the filter below
   refuses every other id change.  */
#define KEPT_CAPS                                                                                                      \
  ((1ULL << CAP_KILL) | (1ULL << CAP_SYS_ADMIN) | (1ULL << CAP_DAC_OVERRIDE) | (1ULL << CAP_DAC_READ_SEARCH)           \
   | (1ULL << CAP_SETUID) | (1ULL << CAP_SETGID))

/* Permitted, never effective but while a joined container's overlay is
   mounted (jail.c, mount_overlay_as): the overlay's upper layer is written
   with its mounter's credentials.  */
#define OVERLAY_CAPS ((1ULL << CAP_CHOWN) | (1ULL << CAP_FOWNER) | (1ULL << CAP_FSETID) | (1ULL << CAP_MKNOD))

static int
drop_capabilities (uint64_t effective, uint64_t permitted, runhv_error_t *err)
{
  struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
  struct __user_cap_data_struct d[2] = { { 0 } };
  for (int c = 0; c <= 63; c++)
    if (!((permitted >> c) & 1) && prctl (PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
      return runhv_make_error (err, errno, "drop capability %d from the bounding set", c);
  if (prctl (PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
    return runhv_make_error (err, errno, "clear the ambient capabilities");
  d[0].effective = (uint32_t)effective;
  d[1].effective = (uint32_t)(effective >> 32);
  d[0].permitted = (uint32_t)permitted;
  d[1].permitted = (uint32_t)(permitted >> 32);
  if (syscall (SYS_capset, &h, d) < 0)
    return runhv_make_error (err, errno, "drop capabilities");
  return 0;
}

static int
load_filter (runhv_error_t *err)
{
  static const char *const denied[] = { "execve",
                                        "execveat",
                                        "unshare",
                                        "setns",
                                        "ptrace",
                                        "process_vm_writev",
                                        "bpf",
                                        "perf_event_open",
                                        "userfaultfd",
                                        "keyctl",
                                        "add_key",
                                        "request_key",
                                        "kexec_load",
                                        "kexec_file_load",
                                        "init_module",
                                        "finit_module",
                                        "delete_module",
                                        "reboot",
                                        "swapon",
                                        "swapoff",
                                        "acct",
                                        "syslog",
                                        "pivot_root",
                                        "chroot",
                                        "open_by_handle_at",
                                        "quotactl",
                                        "setuid",
                                        "setgid",
                                        "setreuid",
                                        "setregid",
                                        "setresuid",
                                        "setresgid",
                                        "setgroups",
                                        "mknod",
                                        "mknodat" };
  scmp_filter_ctx ctx = seccomp_init (SCMP_ACT_ALLOW);
  int rc = 0;
  if (ctx == NULL)
    return runhv_error (err, "seccomp_init failed");
  for (size_t i = 0; rc == 0 && i < sizeof (denied) / sizeof (denied[0]); i++)
    {
      int nr = seccomp_syscall_resolve_name (denied[i]);
      if (nr != __NR_SCMP_ERROR)
        rc = seccomp_rule_add (ctx, SCMP_ACT_ERRNO (EPERM), nr, 0);
    }
  /* no new namespaces through clone either (one rule per flag: rules
     for one call are alternatives); clone3 hides its flags in memory */
  {
    static const unsigned long ns[]
      = { CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWCGROUP };
    for (size_t i = 0; rc == 0 && i < sizeof (ns) / sizeof (ns[0]); i++)
      rc = seccomp_rule_add (ctx, SCMP_ACT_ERRNO (EPERM), SCMP_SYS (clone), 1,
                             SCMP_A0 (SCMP_CMP_MASKED_EQ, ns[i], ns[i]));
  }
  if (rc == 0)
    rc = seccomp_rule_add (ctx, SCMP_ACT_ERRNO (ENOSYS), SCMP_SYS (clone3), 0);
  if (rc == 0)
    rc = seccomp_load (ctx);
  seccomp_release (ctx);
  if (rc < 0)
    return runhv_make_error (err, -rc, "load the VM supervisor's seccomp filter");
  return 0;
}

static int
confine (uint64_t effective, uint64_t permitted, runhv_error_t *err)
{
  if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return runhv_make_error (err, errno, "set no_new_privs");
  if (drop_capabilities (effective, permitted, err) < 0)
    return -1;
  return load_filter (err);
}

int
supervisor_confine (runhv_error_t *err)
{
  return confine (KEPT_CAPS, KEPT_CAPS | OVERLAY_CAPS, err);
}

/* A host stand-in, once its process runs, only talks to the supervisor's
   socket and writes its exit record, both root's own: no capability.  */
int
proxy_confine (runhv_error_t *err)
{
  return confine (0, 0, err);
}

/* The webhook confines itself before it serves: it parses hostile bodies
   from the network, and all it ever needs afterwards is to read its
   certificate files, answer on sockets and log.  No new privileges, no
   capabilities (bar binding a port below 1024 when asked to), and a
   seccomp filter that refuses what an exploited parser would reach for
   first: exec, mounts and namespaces, tracing other processes, kernel
   modules, BPF and keyrings.  */
#include <errno.h>
#include <linux/capability.h>
#include <seccomp.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>

#include "webhook.h"
#include "core/util.h"
#include "core/banned.h"

static int
drop_capabilities (bool keep_bind, runhv_error_t *err)
{
  cap_t caps = cap_init (); /* all clear */
  cap_value_t bind[] = { CAP_NET_BIND_SERVICE };
  int ret = 0;
  if (caps == NULL)
    return runhv_make_error (err, errno, "cap_init");
  /* The bounding set goes too where we may drop it (as root).  */
  for (cap_value_t c = 0; c <= CAP_LAST_CAP; c++)
    if ((!keep_bind || c != CAP_NET_BIND_SERVICE) && prctl (PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EPERM
        && errno != EINVAL)
      {
        ret = runhv_make_error (err, errno, "drop capability %d from the bounding set", (int)c);
        goto out;
      }
  if (keep_bind
      && (cap_set_flag (caps, CAP_PERMITTED, 1, bind, CAP_SET) < 0
          || cap_set_flag (caps, CAP_EFFECTIVE, 1, bind, CAP_SET) < 0))
    {
      ret = runhv_make_error (err, errno, "cap_set_flag");
      goto out;
    }
  if (cap_set_proc (caps) < 0)
    ret = runhv_make_error (err, errno, "drop capabilities");
out:
  cap_free (caps);
  return ret;
}

static int
install_seccomp (runhv_error_t *err)
{
  static const char *const denied[] = {
    "execve",
    "execveat",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "unshare",
    "setns",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "init_module",
    "finit_module",
    "delete_module",
    "kexec_load",
    "kexec_file_load",
    "bpf",
    "perf_event_open",
    "keyctl",
    "add_key",
    "request_key",
    "userfaultfd",
    "open_by_handle_at",
    "reboot",
    "swapon",
    "swapoff",
    "acct",
    "iopl",
    "ioperm",
    "fsopen",
    "fsmount",
    "move_mount",
    "open_tree",
  };
  scmp_filter_ctx ctx = seccomp_init (SCMP_ACT_ALLOW);
#ifdef __SANITIZE_ADDRESS__
  /* LeakSanitizer stops the threads with ptrace to scan them at exit: the
     sanitizer build the tests run keeps ptrace; the release build denies it.  */
  const char *spare = "ptrace";
#else
  const char *spare = NULL;
#endif
  int ret = 0, rc;
  if (ctx == NULL)
    return runhv_error (err, "seccomp_init failed");
  for (size_t i = 0; i < sizeof (denied) / sizeof (denied[0]); i++)
    {
      int nr = seccomp_syscall_resolve_name (denied[i]);
      if (spare != NULL && strcmp (denied[i], spare) == 0)
        continue;
      if (nr == __NR_SCMP_ERROR)
        continue; /* not on this architecture */
      if ((rc = seccomp_rule_add (ctx, SCMP_ACT_ERRNO (EPERM), nr, 0)) < 0)
        {
          ret = runhv_make_error (err, -rc, "seccomp: deny %s", denied[i]);
          goto out;
        }
    }
  if ((rc = seccomp_load (ctx)) < 0)
    ret = runhv_make_error (err, -rc, "seccomp_load");
out:
  seccomp_release (ctx);
  return ret;
}

int
webhook_confine (bool keep_bind, runhv_error_t *err)
{
  if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return runhv_make_error (err, errno, "no_new_privs");
  if (drop_capabilities (keep_bind, err) < 0)
    return -1;
  return install_seccomp (err);
}

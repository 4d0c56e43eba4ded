#include "process/security.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "core/util.h"
#include "core/banned.h"

int
security_last_cap (void)
{
  static int last = -1;
  cleanup_free char *buf = NULL;
  int64_t v;
  if (last >= 0)
    return last;
  if (read_file ("/proc/sys/kernel/cap_last_cap", 64, &buf, NULL, NULL) == 0)
    {
      buf[strcspn (buf, "\n")] = '\0';
      if (parse_int64 (buf, &v) == 0 && v > 0 && v < 64)
        return last = (int)v;
    }
  return last = CAP_LAST_CAP;
}

json_t *
security_capability_names (void)
{
  json_t *caps = json_array ();
  for (int c = 0; c <= security_last_cap (); c++)
    {
      char *n = cap_to_name (c);
      if (n == NULL)
        continue;
      for (char *q = n; *q; q++)
        if (*q >= 'a' && *q <= 'z')
          *q = (char)(*q - 'a' + 'A');
      json_array_append_new (caps, json_string (n));
      cap_free (n);
    }
  return caps;
}

static const char *
rlimit_name (int resource)
{
  static const char *const names[] = {
    [RLIMIT_CPU] = "RLIMIT_CPU",           [RLIMIT_FSIZE] = "RLIMIT_FSIZE",
    [RLIMIT_DATA] = "RLIMIT_DATA",         [RLIMIT_STACK] = "RLIMIT_STACK",
    [RLIMIT_CORE] = "RLIMIT_CORE",         [RLIMIT_RSS] = "RLIMIT_RSS",
    [RLIMIT_NPROC] = "RLIMIT_NPROC",       [RLIMIT_NOFILE] = "RLIMIT_NOFILE",
    [RLIMIT_MEMLOCK] = "RLIMIT_MEMLOCK",   [RLIMIT_AS] = "RLIMIT_AS",
    [RLIMIT_LOCKS] = "RLIMIT_LOCKS",       [RLIMIT_SIGPENDING] = "RLIMIT_SIGPENDING",
    [RLIMIT_MSGQUEUE] = "RLIMIT_MSGQUEUE", [RLIMIT_NICE] = "RLIMIT_NICE",
    [RLIMIT_RTPRIO] = "RLIMIT_RTPRIO",     [RLIMIT_RTTIME] = "RLIMIT_RTTIME",
  };
  if (resource >= 0 && (size_t)resource < sizeof (names) / sizeof (names[0]) && names[resource])
    return names[resource];
  return "rlimit";
}

int
security_set_rlimits (const struct oci_process *p, runhv_error_t *err)
{
  for (size_t i = 0; i < p->n_rlimits; i++)
    {
      struct rlimit rl = { .rlim_cur = p->rlimits[i].soft, .rlim_max = p->rlimits[i].hard };
      if (setrlimit (p->rlimits[i].resource, &rl) < 0)
        {
          int e = errno;
          struct rlimit cur;
          if (e == EPERM && getrlimit (p->rlimits[i].resource, &cur) == 0 && rl.rlim_max > cur.rlim_max)
            return runhv_error (err,
                                "process.rlimits: %s hard limit %llu is above the %llu that runhv itself has, and "
                                "raising it needs CAP_SYS_RESOURCE, which this host withholds (lower it to %llu)",
                                rlimit_name (p->rlimits[i].resource), (unsigned long long)rl.rlim_max,
                                (unsigned long long)cur.rlim_max, (unsigned long long)cur.rlim_max);
          return runhv_make_error (err, e, "process.rlimits: set %s", rlimit_name (p->rlimits[i].resource));
        }
    }
  return 0;
}

int
security_set_oom_score_adj (const struct oci_process *p, runhv_error_t *err)
{
  char buf[16];
  cleanup_close int fd = -1;
  if (!p->has_oom_score_adj)
    return 0;
  fd = open ("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return runhv_make_error (err, errno, "process.oomScoreAdj: open /proc/self/oom_score_adj");
  snprintf (buf, sizeof (buf), "%d", p->oom_score_adj);
  if (write_all (fd, buf, strlen (buf)) < 0)
    {
      int e = errno;
      if (e == EACCES || e == EPERM)
        {
          cleanup_free char *cur = NULL;
          if (read_file ("/proc/self/oom_score_adj", 64, &cur, NULL, NULL) == 0)
            cur[strcspn (cur, "\n")] = '\0';
          return runhv_error (err,
                              "process.oomScoreAdj: %d is below the current %s and lowering it needs "
                              "CAP_SYS_RESOURCE, which this host withholds (use a value >= %s; for containerd's CRI "
                              "set restrict_oom_score_adj = true)",
                              p->oom_score_adj, cur ? cur : "value", cur ? cur : "it");
        }
      return runhv_make_error (err, e, "process.oomScoreAdj: write %d", p->oom_score_adj);
    }
  return 0;
}

/* ---- LSM labels (AppArmor, SELinux) ---------------------------------- */

/* As runc decides it: the securityfs directory and the module's switch.  */
static bool
apparmor_enabled (void)
{
  cleanup_free char *buf = NULL;
  if (access ("/sys/kernel/security/apparmor", F_OK) < 0)
    return false;
  return read_file ("/sys/module/apparmor/parameters/enabled", 64, &buf, NULL, NULL) == 0 && buf[0] == 'Y';
}

static bool
selinux_enabled (void)
{
  struct statfs sfs;
  return statfs ("/sys/fs/selinux", &sfs) == 0 && sfs.f_type == SELINUX_MAGIC;
}

int
security_check_labels (const struct oci_process *p, const char *mount_label, runhv_error_t *err)
{
  /* Accepting a label the host cannot enforce would run the container
     unconfined while the caller believes otherwise.  */
  if (p->apparmor_profile && p->apparmor_profile[0] && !apparmor_enabled ())
    return runhv_error (err,
                        "process.apparmorProfile: `%s` cannot be applied, this kernel has no AppArmor (remove "
                        "apparmorProfile, or run on a host with AppArmor enabled; in a VM, on a guest kernel "
                        "with it: `[vm] kernel` = the generic one)",
                        p->apparmor_profile);
  if (p->selinux_label && p->selinux_label[0] && !selinux_enabled ())
    return runhv_error (err,
                        "process.selinuxLabel: `%s` cannot be applied, this host has no SELinux (remove selinuxLabel, "
                        "or run on a host with SELinux enabled)",
                        p->selinux_label);
  if (mount_label && mount_label[0] && !selinux_enabled ())
    return runhv_error (err,
                        "linux.mountLabel: `%s` cannot be applied, this host has no SELinux (remove mountLabel, or "
                        "run on a host with SELinux enabled)",
                        mount_label);
  return 0;
}

static int
write_attr (const char *path, const char *value, const char *what, runhv_error_t *err)
{
  cleanup_close int fd = open (path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return runhv_make_error (err, errno, "%s: open `%s`", what, path);
  if (write_all (fd, value, strlen (value)) < 0)
    return runhv_make_error (err, errno, "%s: write `%s` to `%s`", what, value, path);
  return 0;
}

int
security_set_exec_labels (const struct oci_process *p, runhv_error_t *err)
{
  if (p->apparmor_profile && p->apparmor_profile[0])
    {
      /* The LSM-stacking path first, the old shared file otherwise.  */
      const char *path = access ("/proc/self/attr/apparmor/exec", F_OK) == 0 ? "/proc/self/attr/apparmor/exec"
                                                                             : "/proc/self/attr/exec";
      cleanup_free char *cmd = xasprintf ("exec %s", p->apparmor_profile);
      if (write_attr (path, cmd, "process.apparmorProfile", err) < 0)
        return -1;
    }
  if (p->selinux_label && p->selinux_label[0]
      && write_attr ("/proc/self/attr/exec", p->selinux_label, "process.selinuxLabel", err) < 0)
    return -1;
  return 0;
}

static int
name_cap (int c, char *buf, size_t size)
{
  char *n = cap_to_name (c);
  if (n == NULL)
    return snprintf (buf, size, "%d", c);
  snprintf (buf, size, "%s", n);
  for (char *q = buf; *q; q++)
    if (*q >= 'a' && *q <= 'z')
      *q = (char)(*q - 'a' + 'A');
  cap_free (n);
  return 0;
}

int
security_check_caps (const struct oci_process *p, runhv_error_t *err)
{
  int last = security_last_cap ();
  uint64_t wanted = p->cap_effective | p->cap_permitted | p->cap_ambient | p->cap_inheritable | p->cap_bounding;
  if (!p->has_capabilities)
    return 0;
  /* A capability runhv itself lacks cannot be handed on: say so before
     anything is created.  */
  for (int c = 0; c <= last; c++)
    if (((wanted & (p->cap_effective | p->cap_permitted | p->cap_ambient)) >> c) & 1)
      if (prctl (PR_CAPBSET_READ, c, 0, 0, 0) != 1)
        {
          char name[64];
          name_cap (c, name, sizeof (name));
          return runhv_error (err,
                              "process.capabilities: %s is not in runhv's own bounding set (this host withholds "
                              "it); remove it from the spec",
                              name);
        }
  return 0;
}

int
security_switch_user_and_caps (const struct oci_process *p, runhv_error_t *err)
{
  int last = security_last_cap ();
  struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
  struct __user_cap_data_struct data[2];
  uint64_t mask = last >= 63 ? ~0ULL : ((1ULL << (last + 1)) - 1);
  uint64_t bounding = p->cap_bounding & mask, eff = p->cap_effective & mask, perm = p->cap_permitted & mask;
  uint64_t inh = p->cap_inheritable & mask, amb = p->cap_ambient & mask;

  if (p->has_capabilities)
    {
      for (int c = 0; c <= last; c++)
        if (!((bounding >> c) & 1) && prctl (PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
          return runhv_make_error (err, errno, "drop capability %d from the bounding set", c);
    }

  if (p->n_additional_gids > 0)
    {
      if (setgroups (p->n_additional_gids, (const gid_t *)p->additional_gids) < 0)
        return runhv_make_error (err, errno, "process.user.additionalGids: setgroups");
    }
  else if (setgroups (0, NULL) < 0 && errno != EPERM)
    return runhv_make_error (err, errno, "setgroups");
  if (setresgid (p->gid, p->gid, p->gid) < 0)
    return runhv_make_error (err, errno, "process.user.gid: setgid %u (is it mapped in the user namespace?)", p->gid);
  if (prctl (PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
    return runhv_make_error (err, errno, "prctl(PR_SET_KEEPCAPS)");
  if (setresuid (p->uid, p->uid, p->uid) < 0)
    return runhv_make_error (err, errno, "process.user.uid: setuid %u (is it mapped in the user namespace?)", p->uid);
  if (prctl (PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
    return runhv_make_error (err, errno, "prctl(PR_SET_KEEPCAPS)");

  if (!p->has_capabilities)
    return 0;
  memset (data, 0, sizeof (data));
  data[0].effective = (uint32_t)eff;
  data[1].effective = (uint32_t)(eff >> 32);
  data[0].permitted = (uint32_t)perm;
  data[1].permitted = (uint32_t)(perm >> 32);
  data[0].inheritable = (uint32_t)inh;
  data[1].inheritable = (uint32_t)(inh >> 32);
  if (capset (&hdr, data) < 0)
    return runhv_make_error (err, errno, "process.capabilities: capset (effective must be within permitted)");
  if (prctl (PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
    return runhv_make_error (err, errno, "clear ambient capabilities");
  /* The kernel raises an ambient capability only if it is permitted and
     inheritable; like runc, one that is not is skipped rather than fatal
     (runc's own `spec` lists ambient caps without inheritable ones).  */
  for (int c = 0; c <= last; c++)
    if (((amb & perm & inh) >> c) & 1)
      if (prctl (PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
        {
          char name[64];
          name_cap (c, name, sizeof (name));
          return runhv_make_error (err, errno, "process.capabilities.ambient: raise %s", name);
        }
  return 0;
}

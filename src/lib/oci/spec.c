#include "oci/spec.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/limits.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/capability.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include "core/json.h"
#include "core/util.h"
#include "core/banned.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif

/* Limits that keep a hostile config.json from exhausting the runtime.  */
#define MAX_CONFIG_SIZE (16u << 20)
#define MAX_LIST 65536

static const struct
{
  const char *name;
  const char *proc;
  int flag;
} namespaces[] = {
  { "pid", "pid", CLONE_NEWPID },          { "network", "net", CLONE_NEWNET }, { "mount", "mnt", CLONE_NEWNS },
  { "ipc", "ipc", CLONE_NEWIPC },          { "uts", "uts", CLONE_NEWUTS },     { "user", "user", CLONE_NEWUSER },
  { "cgroup", "cgroup", CLONE_NEWCGROUP }, { "time", "time", CLONE_NEWTIME },
};

int
oci_namespace_from_name (const char *name)
{
  for (size_t i = 0; i < sizeof (namespaces) / sizeof (namespaces[0]); i++)
    if (strcmp (namespaces[i].name, name) == 0)
      return namespaces[i].flag;
  return -1;
}

const char *
oci_namespace_name (int flag)
{
  for (size_t i = 0; i < sizeof (namespaces) / sizeof (namespaces[0]); i++)
    if (namespaces[i].flag == flag)
      return namespaces[i].name;
  return NULL;
}

const char *
oci_namespace_proc_name (int flag)
{
  for (size_t i = 0; i < sizeof (namespaces) / sizeof (namespaces[0]); i++)
    if (namespaces[i].flag == flag)
      return namespaces[i].proc;
  return NULL;
}

int
oci_capability_from_name (const char *name)
{
  cap_value_t v;
  if (strncasecmp (name, "CAP_", 4) != 0)
    return -1;
  for (const char *p = name; *p; p++)
    if (!isalnum ((unsigned char)*p) && *p != '_')
      return -1;
  if (cap_from_name (name, &v) < 0)
    return -1;
  if (v < 0 || v > 63)
    return -1;
  return v;
}

static const struct
{
  const char *name;
  int resource;
} rlimits[] = {
  { "RLIMIT_AS", RLIMIT_AS },
  { "RLIMIT_CORE", RLIMIT_CORE },
  { "RLIMIT_CPU", RLIMIT_CPU },
  { "RLIMIT_DATA", RLIMIT_DATA },
  { "RLIMIT_FSIZE", RLIMIT_FSIZE },
  { "RLIMIT_LOCKS", RLIMIT_LOCKS },
  { "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK },
  { "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE },
  { "RLIMIT_NICE", RLIMIT_NICE },
  { "RLIMIT_NOFILE", RLIMIT_NOFILE },
  { "RLIMIT_NPROC", RLIMIT_NPROC },
  { "RLIMIT_RSS", RLIMIT_RSS },
  { "RLIMIT_RTPRIO", RLIMIT_RTPRIO },
  { "RLIMIT_RTTIME", RLIMIT_RTTIME },
  { "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING },
  { "RLIMIT_STACK", RLIMIT_STACK },
};

int
oci_rlimit_from_name (const char *name)
{
  for (size_t i = 0; i < sizeof (rlimits) / sizeof (rlimits[0]); i++)
    if (strcmp (rlimits[i].name, name) == 0)
      return rlimits[i].resource;
  return -1;
}

/* ---- mount options -------------------------------------------------- */

static const struct
{
  const char *name;
  bool clear;
  unsigned long flag;
} mount_flags[] = {
  { "defaults", false, 0 },
  { "ro", false, MS_RDONLY },
  { "rw", true, MS_RDONLY },
  { "suid", true, MS_NOSUID },
  { "nosuid", false, MS_NOSUID },
  { "dev", true, MS_NODEV },
  { "nodev", false, MS_NODEV },
  { "exec", true, MS_NOEXEC },
  { "noexec", false, MS_NOEXEC },
  { "sync", false, MS_SYNCHRONOUS },
  { "async", true, MS_SYNCHRONOUS },
  { "dirsync", false, MS_DIRSYNC },
  { "remount", false, MS_REMOUNT },
  { "mand", false, MS_MANDLOCK },
  { "nomand", true, MS_MANDLOCK },
  { "atime", true, MS_NOATIME },
  { "noatime", false, MS_NOATIME },
  { "diratime", true, MS_NODIRATIME },
  { "nodiratime", false, MS_NODIRATIME },
  { "relatime", false, MS_RELATIME },
  { "norelatime", true, MS_RELATIME },
  { "strictatime", false, MS_STRICTATIME },
  { "nostrictatime", true, MS_STRICTATIME },
  { "nosymfollow", false, MS_NOSYMFOLLOW },
  { "symfollow", true, MS_NOSYMFOLLOW },
};

static const struct
{
  const char *name;
  unsigned long flag;
} propagation_flags[] = {
  { "private", MS_PRIVATE },       { "rprivate", MS_PRIVATE | MS_REC },
  { "shared", MS_SHARED },         { "rshared", MS_SHARED | MS_REC },
  { "slave", MS_SLAVE },           { "rslave", MS_SLAVE | MS_REC },
  { "unbindable", MS_UNBINDABLE }, { "runbindable", MS_UNBINDABLE | MS_REC },
};

/* The recursive options (runc 1.1's), applied with mount_setattr and
   AT_RECURSIVE to the mount and everything under it.  */
static const struct
{
  const char *name;
  bool clear;
  uint64_t attr;
} rec_attr_flags[] = {
  { "rro", false, MOUNT_ATTR_RDONLY },
  { "rrw", true, MOUNT_ATTR_RDONLY },
  { "rnosuid", false, MOUNT_ATTR_NOSUID },
  { "rsuid", true, MOUNT_ATTR_NOSUID },
  { "rnodev", false, MOUNT_ATTR_NODEV },
  { "rdev", true, MOUNT_ATTR_NODEV },
  { "rnoexec", false, MOUNT_ATTR_NOEXEC },
  { "rexec", true, MOUNT_ATTR_NOEXEC },
  { "rnodiratime", false, MOUNT_ATTR_NODIRATIME },
  { "rdiratime", true, MOUNT_ATTR_NODIRATIME },
  { "rrelatime", false, MOUNT_ATTR_RELATIME },
  { "rnorelatime", true, MOUNT_ATTR_RELATIME },
  { "rnoatime", false, MOUNT_ATTR_NOATIME },
  { "ratime", true, MOUNT_ATTR_NOATIME },
  { "rstrictatime", false, MOUNT_ATTR_STRICTATIME },
  { "rnostrictatime", true, MOUNT_ATTR_STRICTATIME },
  { "rnosymfollow", false, MOUNT_ATTR_NOSYMFOLLOW },
  { "rsymfollow", true, MOUNT_ATTR_NOSYMFOLLOW },
};

static bool
rec_attr_option (struct oci_mount *m, const char *o)
{
  for (size_t k = 0; k < sizeof (rec_attr_flags) / sizeof (rec_attr_flags[0]); k++)
    if (strcmp (rec_attr_flags[k].name, o) == 0)
      {
        /* The later of rro and rrw wins, as for ro and rw.  */
        if (rec_attr_flags[k].clear)
          {
            m->rec_attr_clr |= rec_attr_flags[k].attr;
            m->rec_attr_set &= ~rec_attr_flags[k].attr;
          }
        else
          {
            m->rec_attr_set |= rec_attr_flags[k].attr;
            m->rec_attr_clr &= ~rec_attr_flags[k].attr;
            /* An atime mode is a value in a field: mount_setattr wants the
               whole field cleared to set it (MOUNT_ATTR_RELATIME is 0).  */
            if ((rec_attr_flags[k].attr & MOUNT_ATTR__ATIME) == rec_attr_flags[k].attr)
              m->rec_attr_clr |= MOUNT_ATTR__ATIME;
          }
        return true;
      }
  return false;
}

static int
compare_strings (const void *a, const void *b)
{
  return strcmp (*(char *const *)a, *(char *const *)b);
}

char **
oci_mount_option_names (void)
{
  char **names = NULL;
  size_t n = 0;
  strv_append (&names, "bind");
  strv_append (&names, "rbind");
  strv_append (&names, "tmpcopyup");
  for (size_t k = 0; k < sizeof (mount_flags) / sizeof (mount_flags[0]); k++)
    strv_append (&names, mount_flags[k].name);
  for (size_t k = 0; k < sizeof (propagation_flags) / sizeof (propagation_flags[0]); k++)
    strv_append (&names, propagation_flags[k].name);
  for (size_t k = 0; k < sizeof (rec_attr_flags) / sizeof (rec_attr_flags[0]); k++)
    strv_append (&names, rec_attr_flags[k].name);
  while (names[n])
    n++;
  qsort (names, n, sizeof (*names), compare_strings);
  return names;
}

static int
propagation_from_name (const char *name, unsigned long *out)
{
  for (size_t i = 0; i < sizeof (propagation_flags) / sizeof (propagation_flags[0]); i++)
    if (strcmp (propagation_flags[i].name, name) == 0)
      {
        *out = propagation_flags[i].flag;
        return 0;
      }
  return -1;
}

int
oci_mount_parse_options (struct oci_mount *m, runhv_error_t *err)
{
  size_t datalen = 0;
  cleanup_free char *data = NULL;

  m->flags = 0;
  m->propagation = 0;
  m->rec_attr_set = m->rec_attr_clr = 0;
  m->bind = m->type != NULL && strcmp (m->type, "bind") == 0;
  for (size_t i = 0; m->options != NULL && m->options[i] != NULL; i++)
    {
      const char *o = m->options[i];
      bool known = false;
      unsigned long prop;

      if (strcmp (o, "bind") == 0)
        {
          m->bind = true;
          continue;
        }
      if (strcmp (o, "rbind") == 0)
        {
          m->bind = true;
          m->flags |= MS_REC;
          continue;
        }
      if (propagation_from_name (o, &prop) == 0)
        {
          m->propagation = prop;
          continue;
        }
      if (strcmp (o, "tmpcopyup") == 0)
        continue; /* podman's hint for tmpfs; contents are not copied up here */
      if (rec_attr_option (m, o))
        continue;
      if (strcmp (o, "idmap") == 0 || strcmp (o, "ridmap") == 0)
        return runhv_error (err, "mounts[%s]: option `%s` is not supported by runhv (remove it)", m->destination, o);
      for (size_t k = 0; k < sizeof (mount_flags) / sizeof (mount_flags[0]); k++)
        if (strcmp (mount_flags[k].name, o) == 0)
          {
            if (mount_flags[k].clear)
              m->flags &= ~mount_flags[k].flag;
            else
              m->flags |= mount_flags[k].flag;
            known = true;
            break;
          }
      if (known)
        continue;
      /* Anything else is filesystem data ("mode=755", "size=65536k", ...).  */
      {
        size_t l = strlen (o);
        data = xrealloc (data, datalen + l + 2);
        if (datalen > 0)
          data[datalen++] = ',';
        memcpy (data + datalen, o, l + 1);
        datalen += l;
      }
    }
  free (m->data);
  m->data = steal_ptr (&data);
  return 0;
}

/* ---- process -------------------------------------------------------- */

static int
parse_cap_set (json_t *caps, const char *where, const char *key, uint64_t *out, runhv_error_t *err)
{
  cleanup_strv char **names = NULL;
  *out = 0;
  if (jget_strv (caps, where, key, false, &names, err) < 0)
    return -1;
  for (size_t i = 0; names != NULL && names[i] != NULL; i++)
    {
      int c = oci_capability_from_name (names[i]);
      if (c < 0)
        {
          cleanup_free char *p = jpath_index (where, key, i);
          return runhv_error (err, "%s: unknown capability `%s` (use a name like CAP_NET_BIND_SERVICE)", p, names[i]);
        }
      *out |= 1ULL << c;
    }
  return 0;
}

void
oci_process_free (struct oci_process *p)
{
  if (p == NULL)
    return;
  free (p->additional_gids);
  strv_free (p->args);
  strv_free (p->env);
  free (p->cwd);
  free (p->rlimits);
  free (p->apparmor_profile);
  free (p->selinux_label);
  if (p->json)
    json_decref (p->json);
  free (p);
}

static bool
env_valid (const char *e)
{
  const char *eq = strchr (e, '=');
  return eq != NULL && eq != e;
}

/* process.user: ids, umask and the supplementary groups.  */
static int
parse_process_user (json_t *obj, const char *where, struct oci_process *p, runhv_error_t *err)
{
  json_t *user = NULL, *gids = NULL, *e;
  cleanup_free char *uwhere = jpath (where, "user");
  size_t i;

  if (jget_object (obj, where, "user", false, &user, err) < 0)
    return -1;
  if (jget_uint32 (user, uwhere, "uid", &p->uid, NULL, err) < 0
      || jget_uint32 (user, uwhere, "gid", &p->gid, NULL, err) < 0
      || jget_uint32 (user, uwhere, "umask", &p->umask, &p->has_umask, err) < 0)
    return -1;
  if (p->has_umask && p->umask > 0777)
    {
      runhv_error (err, "%s.umask: %u is not a file mode (use 0 to 511, e.g. 18 for 022)", uwhere, p->umask);
      return -1;
    }
  if (jget_array (user, uwhere, "additionalGids", false, &gids, err) < 0)
    return -1;
  if (gids != NULL)
    {
      if (json_array_size (gids) > MAX_LIST)
        {
          runhv_error (err, "%s.additionalGids: too many entries", uwhere);
          return -1;
        }
      p->additional_gids = xmalloc0 ((json_array_size (gids) + 1) * sizeof (uint32_t));
      json_array_foreach (gids, i, e)
      {
        if (!json_is_integer (e) || json_integer_value (e) < 0 || json_integer_value (e) > UINT32_MAX)
          {
            runhv_error (err, "%s.additionalGids[%zu]: expected a gid (0 to 4294967295)", uwhere, i);
            return -1;
          }
        p->additional_gids[p->n_additional_gids++] = (uint32_t)json_integer_value (e);
      }
    }
  return 0;
}

/* process.rlimits: known names, soft <= hard, each resource once.  */
static int
parse_process_rlimits (json_t *obj, const char *where, struct oci_process *p, runhv_error_t *err)
{
  json_t *rl = NULL, *e;
  size_t i;

  if (jget_array (obj, where, "rlimits", false, &rl, err) < 0)
    return -1;
  if (rl != NULL)
    {
      if (json_array_size (rl) > 64)
        {
          runhv_error (err, "%s.rlimits: too many entries", where);
          return -1;
        }
      p->rlimits = xmalloc0 ((json_array_size (rl) + 1) * sizeof (struct oci_rlimit));
      json_array_foreach (rl, i, e)
      {
        cleanup_free char *w = jpath_index (where, "rlimits", i);
        cleanup_free char *type = NULL;
        struct oci_rlimit *r = &p->rlimits[p->n_rlimits];
        if (!json_is_object (e))
          {
            runhv_error (err, "%s: expected an object", w);
            return -1;
          }
        if (jget_string (e, w, "type", true, &type, err) < 0 || jget_uint64 (e, w, "soft", &r->soft, NULL, err) < 0
            || jget_uint64 (e, w, "hard", &r->hard, NULL, err) < 0)
          return -1;
        r->resource = oci_rlimit_from_name (type);
        if (r->resource < 0)
          {
            runhv_error (err, "%s.type: unknown rlimit `%s` (use a name like RLIMIT_NOFILE)", w, type);
            return -1;
          }
        if (r->soft > r->hard)
          {
            runhv_error (err, "%s: soft limit %llu is above the hard limit %llu (lower soft or raise hard)", w,
                         (unsigned long long)r->soft, (unsigned long long)r->hard);
            return -1;
          }
        for (size_t k = 0; k < p->n_rlimits; k++)
          if (p->rlimits[k].resource == r->resource)
            {
              runhv_error (err, "%s.type: `%s` is given twice", w, type);
              return -1;
            }
        p->n_rlimits++;
      }
    }
  return 0;
}

int
oci_process_parse (json_t *obj, const char *where, struct oci_process **out, runhv_error_t *err)
{
  struct oci_process *p = xmalloc0 (sizeof (*p));
  json_t *caps = NULL, *cs = NULL;
  p->json = json_incref (obj);
  cleanup_free char *cwhere = jpath (where, "capabilities");
  size_t i;
  bool have;
  int64_t oom = 0;

  if (jget_bool (obj, where, "terminal", &p->terminal, NULL, err) < 0)
    goto fail;
  if (jget_object (obj, where, "consoleSize", false, &cs, err) < 0)
    goto fail;
  if (cs != NULL)
    {
      cleanup_free char *w = jpath (where, "consoleSize");
      uint32_t h = 0, wd = 0;
      if (jget_uint32 (cs, w, "height", &h, NULL, err) < 0 || jget_uint32 (cs, w, "width", &wd, NULL, err) < 0)
        goto fail;
      p->console_height = h > 0xffff ? 0xffff : h;
      p->console_width = wd > 0xffff ? 0xffff : wd;
    }
  if (parse_process_user (obj, where, p, err) < 0)
    goto fail;
  if (jget_strv (obj, where, "args", false, &p->args, err) < 0)
    goto fail;
  if (p->args == NULL || p->args[0] == NULL || p->args[0][0] == '\0')
    {
      cleanup_free char *w = jpath (where, "args");
      runhv_error (err, "%s: missing or empty (give the command to run, e.g. [\"sh\"])", w);
      goto fail;
    }
  if (jget_strv (obj, where, "env", false, &p->env, err) < 0)
    goto fail;
  for (i = 0; p->env != NULL && p->env[i] != NULL; i++)
    if (!env_valid (p->env[i]))
      {
        cleanup_free char *w = jpath_index (where, "env", i);
        runhv_error (err, "%s: `%s` is not of the form NAME=value", w, p->env[i]);
        goto fail;
      }
  if (jget_string (obj, where, "cwd", false, &p->cwd, err) < 0)
    goto fail;
  if (p->cwd == NULL)
    p->cwd = xstrdup ("/");
  if (p->cwd[0] != '/')
    {
      cleanup_free char *w = jpath (where, "cwd");
      runhv_error (err, "%s: `%s` must be an absolute path", w, p->cwd);
      goto fail;
    }
  if (jget_object (obj, where, "capabilities", false, &caps, err) < 0)
    goto fail;
  if (caps != NULL)
    {
      p->has_capabilities = true;
      if (parse_cap_set (caps, cwhere, "bounding", &p->cap_bounding, err) < 0
          || parse_cap_set (caps, cwhere, "effective", &p->cap_effective, err) < 0
          || parse_cap_set (caps, cwhere, "inheritable", &p->cap_inheritable, err) < 0
          || parse_cap_set (caps, cwhere, "permitted", &p->cap_permitted, err) < 0
          || parse_cap_set (caps, cwhere, "ambient", &p->cap_ambient, err) < 0)
        goto fail;
    }
  if (parse_process_rlimits (obj, where, p, err) < 0)
    goto fail;
  if (jget_bool (obj, where, "noNewPrivileges", &p->no_new_privileges, NULL, err) < 0)
    goto fail;
  if (jget_int64 (obj, where, "oomScoreAdj", &oom, &have, err) < 0)
    goto fail;
  if (have)
    {
      if (oom < -1000 || oom > 1000)
        {
          cleanup_free char *w = jpath (where, "oomScoreAdj");
          runhv_error (err, "%s: %lld is out of range (use -1000 to 1000)", w, (long long)oom);
          goto fail;
        }
      p->has_oom_score_adj = true;
      p->oom_score_adj = (int)oom;
    }
  if (jget_string (obj, where, "apparmorProfile", false, &p->apparmor_profile, err) < 0
      || jget_string (obj, where, "selinuxLabel", false, &p->selinux_label, err) < 0)
    goto fail;
  *out = p;
  return 0;
fail:
  oci_process_free (p);
  return -1;
}

/* ---- resources ------------------------------------------------------ */

static int
parse_throttle (json_t *bio, const char *where, const char *key, struct oci_throttle_device **out, size_t *n,
                runhv_error_t *err)
{
  json_t *arr = NULL, *e;
  size_t i;
  if (jget_array (bio, where, key, false, &arr, err) < 0)
    return -1;
  if (arr == NULL)
    return 0;
  if (json_array_size (arr) > 1024)
    return runhv_error (err, "%s.%s: too many entries", where, key);
  *out = xmalloc0 ((json_array_size (arr) + 1) * sizeof (**out));
  json_array_foreach (arr, i, e)
  {
    cleanup_free char *w = jpath_index (where, key, i);
    struct oci_throttle_device *d = &(*out)[*n];
    if (jget_int64 (e, w, "major", &d->major, NULL, err) < 0 || jget_int64 (e, w, "minor", &d->minor, NULL, err) < 0
        || jget_uint64 (e, w, "rate", &d->rate, NULL, err) < 0)
      return -1;
    if (d->major < 0 || d->minor < 0)
      return runhv_error (err, "%s: major and minor must be non-negative", w);
    (*n)++;
  }
  return 0;
}

static int
parse_weight_devices (json_t *bio, const char *where, struct oci_resources *r, runhv_error_t *err)
{
  json_t *arr = NULL, *e;
  size_t i;
  if (jget_array (bio, where, "weightDevice", false, &arr, err) < 0)
    return -1;
  if (arr == NULL)
    return 0;
  if (json_array_size (arr) > 1024)
    return runhv_error (err, "%s.weightDevice: too many entries", where);
  r->weight_devices = xmalloc0 ((json_array_size (arr) + 1) * sizeof (*r->weight_devices));
  json_array_foreach (arr, i, e)
  {
    cleanup_free char *w = jpath_index (where, "weightDevice", i);
    struct oci_weight_device *d = &r->weight_devices[r->n_weight_devices];
    uint64_t weight = 0, leaf = 0;
    if (jget_int64 (e, w, "major", &d->major, NULL, err) < 0 || jget_int64 (e, w, "minor", &d->minor, NULL, err) < 0
        || jget_uint64 (e, w, "weight", &weight, NULL, err) < 0
        || jget_uint64 (e, w, "leafWeight", &leaf, NULL, err) < 0)
      return -1;
    if (d->major < 0 || d->minor < 0)
      return runhv_error (err, "%s: major and minor must be non-negative", w);
    if (weight != 0 && (weight < 10 || weight > 1000))
      return runhv_error (err, "%s.weight: %llu is out of range (10 to 1000)", w, (unsigned long long)weight);
    /* Leaf weights were CFQ's, which left the kernel in 5.0.  */
    if (leaf != 0)
      return runhv_error (err, "%s.leafWeight: no current kernel has leaf weights (CFQ is gone); remove it", w);
    d->weight = (uint16_t)weight;
    r->n_weight_devices++;
  }
  return 0;
}

static int
parse_network (json_t *net, const char *where, struct oci_resources *r, runhv_error_t *err)
{
  json_t *arr = NULL, *e;
  uint64_t id = 0;
  size_t i;
  if (jget_uint64 (net, where, "classID", &id, &r->has_net_class_id, err) < 0
      || jget_array (net, where, "priorities", false, &arr, err) < 0)
    return -1;
  if (id > UINT32_MAX)
    return runhv_error (err, "%s.classID: %llu does not fit in 32 bits", where, (unsigned long long)id);
  r->net_class_id = (uint32_t)id;
  if (arr == NULL)
    return 0;
  if (json_array_size (arr) > 1024)
    return runhv_error (err, "%s.priorities: too many entries", where);
  r->net_priorities = xmalloc0 ((json_array_size (arr) + 1) * sizeof (*r->net_priorities));
  json_array_foreach (arr, i, e)
  {
    cleanup_free char *w = jpath_index (where, "priorities", i);
    struct oci_net_priority *p = &r->net_priorities[r->n_net_priorities];
    uint64_t prio = 0;
    if (jget_string (e, w, "name", true, &p->name, err) < 0 || jget_uint64 (e, w, "priority", &prio, NULL, err) < 0)
      return -1;
    r->n_net_priorities++;
    if (p->name[0] == '\0' || strpbrk (p->name, " \n/") != NULL)
      return runhv_error (err, "%s.name: `%s` is not an interface name", w, p->name);
    if (prio > UINT32_MAX)
      return runhv_error (err, "%s.priority: %llu does not fit in 32 bits", w, (unsigned long long)prio);
    p->priority = (uint32_t)prio;
  }
  return 0;
}

static int
parse_hugepages (json_t *arr, const char *where, struct oci_resources *r, runhv_error_t *err)
{
  json_t *e;
  size_t i;
  if (json_array_size (arr) > 64)
    return runhv_error (err, "%s.hugepageLimits: too many entries", where);
  r->hugepage_limits = xmalloc0 ((json_array_size (arr) + 1) * sizeof (*r->hugepage_limits));
  json_array_foreach (arr, i, e)
  {
    cleanup_free char *w = jpath_index (where, "hugepageLimits", i);
    struct oci_hugepage_limit *h = &r->hugepage_limits[r->n_hugepage_limits];
    const char *p;
    if (jget_string (e, w, "pageSize", true, &h->page_size, err) < 0
        || jget_uint64 (e, w, "limit", &h->limit, NULL, err) < 0)
      return -1;
    r->n_hugepage_limits++;
    /* "2MB", "1GB", "64KB": it names a control file.  */
    for (p = h->page_size; isdigit ((unsigned char)*p); p++)
      ;
    if (p == h->page_size || (strcmp (p, "KB") != 0 && strcmp (p, "MB") != 0 && strcmp (p, "GB") != 0))
      return runhv_error (err, "%s.pageSize: `%s` is not a page size (use a form like \"2MB\")", w, h->page_size);
  }
  return 0;
}

/* A cpuset list: "0-3,5,7-8".  */
static bool
cpuset_list_valid (const char *s)
{
  const char *p = s;
  if (*p == '\0')
    return true;
  while (*p)
    {
      if (!isdigit ((unsigned char)*p))
        return false;
      while (isdigit ((unsigned char)*p))
        p++;
      if (*p == '-')
        {
          p++;
          if (!isdigit ((unsigned char)*p))
            return false;
          while (isdigit ((unsigned char)*p))
            p++;
        }
      if (*p == ',')
        {
          p++;
          if (*p == '\0')
            return false;
        }
      else if (*p != '\0')
        return false;
    }
  return true;
}

void
oci_resources_free (struct oci_resources *r)
{
  if (r == NULL)
    return;
  free (r->cpu_cpus);
  free (r->cpu_mems);
  free (r->throttle_read_bps);
  free (r->throttle_write_bps);
  free (r->throttle_read_iops);
  free (r->throttle_write_iops);
  free (r->weight_devices);
  free (r->devices);
  for (size_t i = 0; i < r->n_net_priorities; i++)
    free (r->net_priorities[i].name);
  free (r->net_priorities);
  for (size_t i = 0; i < r->n_hugepage_limits; i++)
    free (r->hugepage_limits[i].page_size);
  free (r->hugepage_limits);
  strv_free (r->unified_keys);
  strv_free (r->unified_values);
  free (r);
}

/* linux.resources.memory: limits in bytes, swap at least the limit. */
static int
parse_memory (json_t *mem, const char *where, struct oci_resources *r, runhv_error_t *err)
{
  cleanup_free char *mw = jpath (where, "memory");

  if (mem != NULL)
    {
      if (jget_int64 (mem, mw, "limit", &r->memory_limit, &r->has_memory_limit, err) < 0
          || jget_int64 (mem, mw, "reservation", &r->memory_reservation, &r->has_memory_reservation, err) < 0
          || jget_int64 (mem, mw, "swap", &r->memory_swap, &r->has_memory_swap, err) < 0
          || jget_uint64 (mem, mw, "swappiness", &r->memory_swappiness, &r->has_memory_swappiness, err) < 0
          || jget_bool (mem, mw, "disableOOMKiller", &r->disable_oom_killer, NULL, err) < 0)
        return -1;
      if (r->has_memory_limit && (r->memory_limit < -1 || (r->memory_limit >= 0 && r->memory_limit < 4096)))
        {
          runhv_error (err, "%s.limit: %lld bytes is not a usable limit (use -1 for none, or at least 4096)", mw,
                       (long long)r->memory_limit);
          return -1;
        }
      if (r->has_memory_reservation && r->memory_reservation < -1)
        {
          runhv_error (err, "%s.reservation: %lld is negative (use -1 for none)", mw, (long long)r->memory_reservation);
          return -1;
        }
      if (r->has_memory_swap && r->memory_swap < -1)
        {
          runhv_error (err, "%s.swap: %lld is negative (use -1 for unlimited)", mw, (long long)r->memory_swap);
          return -1;
        }
      if (r->has_memory_swap && r->has_memory_limit && r->memory_swap > 0 && r->memory_limit > 0
          && r->memory_swap < r->memory_limit)
        {
          runhv_error (err, "%s.swap: %lld is below the memory limit %lld (swap is memory+swap; raise it)", mw,
                       (long long)r->memory_swap, (long long)r->memory_limit);
          return -1;
        }
      if (r->has_memory_swappiness && r->memory_swappiness > 100)
        {
          runhv_error (err, "%s.swappiness: %llu is out of range (0 to 100)", mw,
                       (unsigned long long)r->memory_swappiness);
          return -1;
        }
    }
  return 0;
}

/* linux.resources.cpu: shares, CFS and realtime bandwidth, cpusets. */
static int
parse_cpu (json_t *cpu, const char *where, struct oci_resources *r, runhv_error_t *err)
{
  cleanup_free char *cw = jpath (where, "cpu");

  if (cpu != NULL)
    {
      if (jget_uint64 (cpu, cw, "shares", &r->cpu_shares, &r->has_cpu_shares, err) < 0
          || jget_int64 (cpu, cw, "quota", &r->cpu_quota, &r->has_cpu_quota, err) < 0
          || jget_uint64 (cpu, cw, "period", &r->cpu_period, &r->has_cpu_period, err) < 0
          || jget_string (cpu, cw, "cpus", false, &r->cpu_cpus, err) < 0
          || jget_string (cpu, cw, "mems", false, &r->cpu_mems, err) < 0
          || jget_int64 (cpu, cw, "realtimeRuntime", &r->cpu_rt_runtime, &r->has_cpu_rt_runtime, err) < 0
          || jget_uint64 (cpu, cw, "realtimePeriod", &r->cpu_rt_period, &r->has_cpu_rt_period, err) < 0)
        return -1;
      if (r->has_cpu_shares && r->cpu_shares != 0 && (r->cpu_shares < 2 || r->cpu_shares > 262144))
        {
          runhv_error (err, "%s.shares: %llu is out of range (2 to 262144)", cw, (unsigned long long)r->cpu_shares);
          return -1;
        }
      if (r->has_cpu_quota && r->cpu_quota != -1 && r->cpu_quota != 0 && r->cpu_quota < 1000)
        {
          runhv_error (err, "%s.quota: %lld is out of range (-1 for none, or at least 1000 microseconds)", cw,
                       (long long)r->cpu_quota);
          return -1;
        }
      if (r->has_cpu_period && r->cpu_period != 0 && (r->cpu_period < 1000 || r->cpu_period > 1000000))
        {
          runhv_error (err, "%s.period: %llu is out of range (1000 to 1000000 microseconds)", cw,
                       (unsigned long long)r->cpu_period);
          return -1;
        }
      if (r->cpu_cpus != NULL && !cpuset_list_valid (r->cpu_cpus))
        {
          runhv_error (err, "%s.cpus: `%s` is not a CPU list (use a form like \"0-3,5\")", cw, r->cpu_cpus);
          return -1;
        }
      if (r->cpu_mems != NULL && !cpuset_list_valid (r->cpu_mems))
        {
          runhv_error (err, "%s.mems: `%s` is not a node list (use a form like \"0\")", cw, r->cpu_mems);
          return -1;
        }
    }
  return 0;
}

/* linux.resources.blockIO: weights and per-device throttles. */
static int
parse_block_io (json_t *bio, const char *where, struct oci_resources *r, runhv_error_t *err)
{
  cleanup_free char *bw = jpath (where, "blockIO");

  if (bio != NULL)
    {
      uint64_t w = 0;
      if (jget_uint64 (bio, bw, "weight", &w, &r->has_blkio_weight, err) < 0)
        return -1;
      if (r->has_blkio_weight && w != 0 && (w < 10 || w > 1000))
        {
          runhv_error (err, "%s.weight: %llu is out of range (10 to 1000)", bw, (unsigned long long)w);
          return -1;
        }
      r->blkio_weight = (uint16_t)w;
      {
        uint64_t leaf = 0;
        if (jget_uint64 (bio, bw, "leafWeight", &leaf, NULL, err) < 0)
          return -1;
        if (leaf != 0)
          {
            runhv_error (err, "%s.leafWeight: no current kernel has leaf weights (CFQ is gone); remove it", bw);
            return -1;
          }
      }
      if (parse_weight_devices (bio, bw, r, err) < 0)
        return -1;
      if (parse_throttle (bio, bw, "throttleReadBpsDevice", &r->throttle_read_bps, &r->n_throttle_read_bps, err) < 0
          || parse_throttle (bio, bw, "throttleWriteBpsDevice", &r->throttle_write_bps, &r->n_throttle_write_bps, err)
               < 0
          || parse_throttle (bio, bw, "throttleReadIOPSDevice", &r->throttle_read_iops, &r->n_throttle_read_iops, err)
               < 0
          || parse_throttle (bio, bw, "throttleWriteIOPSDevice", &r->throttle_write_iops, &r->n_throttle_write_iops,
                             err)
               < 0)
        return -1;
    }
  return 0;
}

/* linux.resources.devices: the device cgroup's allow/deny rules. */
static int
parse_device_rules (json_t *dev, const char *where, struct oci_resources *r, runhv_error_t *err)
{
  json_t *e;
  size_t i;

  if (dev != NULL)
    {
      if (json_array_size (dev) > 4096)
        {
          runhv_error (err, "%s.devices: too many entries", where);
          return -1;
        }
      r->devices = xmalloc0 ((json_array_size (dev) + 1) * sizeof (*r->devices));
      json_array_foreach (dev, i, e)
      {
        cleanup_free char *w = jpath_index (where, "devices", i);
        cleanup_free char *type = NULL, *access = NULL;
        struct oci_device_rule *d = &r->devices[r->n_devices];
        bool have_major = false, have_minor = false;
        if (!json_is_object (e))
          {
            runhv_error (err, "%s: expected an object", w);
            return -1;
          }
        if (jget_bool (e, w, "allow", &d->allow, NULL, err) < 0 || jget_string (e, w, "type", false, &type, err) < 0
            || jget_string (e, w, "access", false, &access, err) < 0
            || jget_int64 (e, w, "major", &d->major, &have_major, err) < 0
            || jget_int64 (e, w, "minor", &d->minor, &have_minor, err) < 0)
          return -1;
        if (!have_major)
          d->major = -1;
        if (!have_minor)
          d->minor = -1;
        d->type = type == NULL ? 'a' : type[0];
        if (type != NULL && (strlen (type) != 1 || strchr ("acb", type[0]) == NULL))
          {
            runhv_error (err, "%s.type: `%s` is not a device type (use a, c or b)", w, type);
            return -1;
          }
        if (access == NULL)
          access = xstrdup ("rwm");
        if (strlen (access) > 3 || strspn (access, "rwm") != strlen (access))
          {
            runhv_error (err, "%s.access: `%s` is not an access mode (use letters from rwm)", w, access);
            return -1;
          }
        snprintf (d->access, sizeof (d->access), "%s", access);
        r->n_devices++;
      }
    }
  return 0;
}

int
oci_resources_parse (json_t *obj, const char *where, struct oci_resources **out, runhv_error_t *err)
{
  struct oci_resources *r = xmalloc0 (sizeof (*r));
  json_t *mem = NULL, *cpu = NULL, *pids = NULL, *bio = NULL, *dev = NULL, *uni = NULL, *net = NULL, *huge = NULL;
  cleanup_free char *pw = jpath (where, "pids");

  if (jget_object (obj, where, "memory", false, &mem, err) < 0 || jget_object (obj, where, "cpu", false, &cpu, err) < 0
      || jget_object (obj, where, "pids", false, &pids, err) < 0
      || jget_object (obj, where, "blockIO", false, &bio, err) < 0
      || jget_array (obj, where, "devices", false, &dev, err) < 0
      || jget_object (obj, where, "unified", false, &uni, err) < 0
      || jget_object (obj, where, "network", false, &net, err) < 0
      || jget_array (obj, where, "hugepageLimits", false, &huge, err) < 0)
    goto fail;
  if (net != NULL)
    {
      cleanup_free char *nw = jpath (where, "network");
      if (parse_network (net, nw, r, err) < 0)
        goto fail;
    }
  if (huge != NULL && parse_hugepages (huge, where, r, err) < 0)
    goto fail;

  if (parse_memory (mem, where, r, err) < 0)
    goto fail;
  if (parse_cpu (cpu, where, r, err) < 0)
    goto fail;
  if (pids != NULL)
    {
      if (jget_int64 (pids, pw, "limit", &r->pids_limit, &r->has_pids_limit, err) < 0)
        goto fail;
      if (r->has_pids_limit && r->pids_limit < -1)
        {
          runhv_error (err, "%s.limit: %lld is negative (use -1 for none)", pw, (long long)r->pids_limit);
          goto fail;
        }
    }
  if (parse_block_io (bio, where, r, err) < 0)
    goto fail;
  if (parse_device_rules (dev, where, r, err) < 0)
    goto fail;
  if (uni != NULL)
    {
      const char *k;
      json_t *v;
      cleanup_free char *uw = jpath (where, "unified");
      json_object_foreach (uni, k, v)
      {
        if (!json_is_string (v))
          {
            runhv_error (err, "%s.%s: expected a string", uw, k);
            goto fail;
          }
        if (strchr (k, '/') != NULL || k[0] == '.' || strchr (k, '.') == NULL)
          {
            runhv_error (err, "%s: `%s` is not a cgroup v2 file name", uw, k);
            goto fail;
          }
        strv_append (&r->unified_keys, k);
        strv_append (&r->unified_values, json_string_value (v));
      }
    }
  *out = r;
  return 0;
fail:
  oci_resources_free (r);
  return -1;
}

void
oci_resources_merge (struct oci_resources *b, const struct oci_resources *u)
{
#define MERGE(flag, field)                                                                                             \
  if (u->flag)                                                                                                         \
    {                                                                                                                  \
      b->flag = true;                                                                                                  \
      b->field = u->field;                                                                                             \
    }
  MERGE (has_memory_limit, memory_limit);
  MERGE (has_memory_reservation, memory_reservation);
  MERGE (has_memory_swap, memory_swap);
  MERGE (has_memory_swappiness, memory_swappiness);
  MERGE (has_cpu_shares, cpu_shares);
  MERGE (has_cpu_quota, cpu_quota);
  MERGE (has_cpu_period, cpu_period);
  MERGE (has_cpu_rt_runtime, cpu_rt_runtime);
  MERGE (has_cpu_rt_period, cpu_rt_period);
  MERGE (has_pids_limit, pids_limit);
  MERGE (has_blkio_weight, blkio_weight);
#undef MERGE
  if (u->cpu_cpus != NULL)
    {
      free (b->cpu_cpus);
      b->cpu_cpus = xstrdup (u->cpu_cpus);
    }
  if (u->cpu_mems != NULL)
    {
      free (b->cpu_mems);
      b->cpu_mems = xstrdup (u->cpu_mems);
    }
  if (u->n_weight_devices > 0)
    {
      free (b->weight_devices);
      b->weight_devices = xmalloc0 (u->n_weight_devices * sizeof (*b->weight_devices));
      memcpy (b->weight_devices, u->weight_devices, u->n_weight_devices * sizeof (*b->weight_devices));
      b->n_weight_devices = u->n_weight_devices;
    }
}

static json_t *
throttle_to_json (const struct oci_throttle_device *d, size_t n)
{
  json_t *a = json_array ();
  for (size_t i = 0; i < n; i++)
    json_array_append_new (a, json_pack ("{s:I,s:I,s:I}", "major", (json_int_t)d[i].major, "minor",
                                         (json_int_t)d[i].minor, "rate", (json_int_t)d[i].rate));
  return a;
}

json_t *
oci_resources_to_json (const struct oci_resources *r)
{
  json_t *o = json_object (), *mem = json_object (), *cpu = json_object (), *pids = json_object ();
  json_t *bio = json_object (), *dev = json_array ();
  if (r->has_memory_limit)
    json_object_set_new (mem, "limit", json_integer (r->memory_limit));
  if (r->has_memory_reservation)
    json_object_set_new (mem, "reservation", json_integer (r->memory_reservation));
  if (r->has_memory_swap)
    json_object_set_new (mem, "swap", json_integer (r->memory_swap));
  if (r->has_memory_swappiness)
    json_object_set_new (mem, "swappiness", json_integer ((json_int_t)r->memory_swappiness));
  if (r->disable_oom_killer)
    json_object_set_new (mem, "disableOOMKiller", json_true ());
  if (r->has_cpu_shares)
    json_object_set_new (cpu, "shares", json_integer ((json_int_t)r->cpu_shares));
  if (r->has_cpu_quota)
    json_object_set_new (cpu, "quota", json_integer (r->cpu_quota));
  if (r->has_cpu_period)
    json_object_set_new (cpu, "period", json_integer ((json_int_t)r->cpu_period));
  if (r->has_cpu_rt_runtime)
    json_object_set_new (cpu, "realtimeRuntime", json_integer (r->cpu_rt_runtime));
  if (r->has_cpu_rt_period)
    json_object_set_new (cpu, "realtimePeriod", json_integer ((json_int_t)r->cpu_rt_period));
  if (r->cpu_cpus)
    json_object_set_new (cpu, "cpus", json_string (r->cpu_cpus));
  if (r->cpu_mems)
    json_object_set_new (cpu, "mems", json_string (r->cpu_mems));
  if (r->has_pids_limit)
    json_object_set_new (pids, "limit", json_integer (r->pids_limit));
  if (r->has_blkio_weight)
    json_object_set_new (bio, "weight", json_integer (r->blkio_weight));
  if (r->n_throttle_read_bps)
    json_object_set_new (bio, "throttleReadBpsDevice", throttle_to_json (r->throttle_read_bps, r->n_throttle_read_bps));
  if (r->n_throttle_write_bps)
    json_object_set_new (bio, "throttleWriteBpsDevice",
                         throttle_to_json (r->throttle_write_bps, r->n_throttle_write_bps));
  if (r->n_throttle_read_iops)
    json_object_set_new (bio, "throttleReadIOPSDevice",
                         throttle_to_json (r->throttle_read_iops, r->n_throttle_read_iops));
  if (r->n_throttle_write_iops)
    json_object_set_new (bio, "throttleWriteIOPSDevice",
                         throttle_to_json (r->throttle_write_iops, r->n_throttle_write_iops));
  if (r->n_weight_devices)
    {
      json_t *a = json_array ();
      for (size_t i = 0; i < r->n_weight_devices; i++)
        json_array_append_new (a, json_pack ("{s:I,s:I,s:i}", "major", (json_int_t)r->weight_devices[i].major, "minor",
                                             (json_int_t)r->weight_devices[i].minor, "weight",
                                             (int)r->weight_devices[i].weight));
      json_object_set_new (bio, "weightDevice", a);
    }
  for (size_t i = 0; i < r->n_devices; i++)
    {
      json_t *d = json_pack ("{s:b,s:s#,s:s}", "allow", r->devices[i].allow, "type", &r->devices[i].type, (size_t)1,
                             "access", r->devices[i].access);
      if (r->devices[i].major >= 0)
        json_object_set_new (d, "major", json_integer (r->devices[i].major));
      if (r->devices[i].minor >= 0)
        json_object_set_new (d, "minor", json_integer (r->devices[i].minor));
      json_array_append_new (dev, d);
    }
  json_object_set_new (o, "memory", mem);
  json_object_set_new (o, "cpu", cpu);
  json_object_set_new (o, "pids", pids);
  json_object_set_new (o, "blockIO", bio);
  json_object_set_new (o, "devices", dev);
  if (r->has_net_class_id || r->n_net_priorities)
    {
      json_t *net = json_object ();
      if (r->has_net_class_id)
        json_object_set_new (net, "classID", json_integer (r->net_class_id));
      if (r->n_net_priorities)
        {
          json_t *a = json_array ();
          for (size_t i = 0; i < r->n_net_priorities; i++)
            json_array_append_new (a, json_pack ("{s:s,s:I}", "name", r->net_priorities[i].name, "priority",
                                                 (json_int_t)r->net_priorities[i].priority));
          json_object_set_new (net, "priorities", a);
        }
      json_object_set_new (o, "network", net);
    }
  if (r->n_hugepage_limits)
    {
      json_t *a = json_array ();
      for (size_t i = 0; i < r->n_hugepage_limits; i++)
        json_array_append_new (a, json_pack ("{s:s,s:I}", "pageSize", r->hugepage_limits[i].page_size, "limit",
                                             (json_int_t)r->hugepage_limits[i].limit));
      json_object_set_new (o, "hugepageLimits", a);
    }
  if (r->unified_keys != NULL)
    {
      json_t *u = json_object ();
      for (size_t i = 0; r->unified_keys[i] != NULL; i++)
        json_object_set_new (u, r->unified_keys[i], json_string (r->unified_values[i]));
      json_object_set_new (o, "unified", u);
    }
  return o;
}

/* ---- seccomp -------------------------------------------------------- */

static int
seccomp_action_from_name (const char *name, uint32_t errno_ret, bool have_errno, uint32_t *out)
{
  if (strcmp (name, "SCMP_ACT_KILL") == 0 || strcmp (name, "SCMP_ACT_KILL_THREAD") == 0)
    *out = SCMP_ACT_KILL_THREAD;
  else if (strcmp (name, "SCMP_ACT_KILL_PROCESS") == 0)
    *out = SCMP_ACT_KILL_PROCESS;
  else if (strcmp (name, "SCMP_ACT_TRAP") == 0)
    *out = SCMP_ACT_TRAP;
  else if (strcmp (name, "SCMP_ACT_ERRNO") == 0)
    *out = SCMP_ACT_ERRNO (have_errno ? errno_ret : EPERM);
  else if (strcmp (name, "SCMP_ACT_TRACE") == 0)
    *out = SCMP_ACT_TRACE (have_errno ? errno_ret : EPERM);
  else if (strcmp (name, "SCMP_ACT_ALLOW") == 0)
    *out = SCMP_ACT_ALLOW;
  else if (strcmp (name, "SCMP_ACT_LOG") == 0)
    *out = SCMP_ACT_LOG;
  else if (strcmp (name, "SCMP_ACT_NOTIFY") == 0)
    *out = SCMP_ACT_NOTIFY;
  else
    return -1;
  return 0;
}

static int
seccomp_op_from_name (const char *name)
{
  static const struct
  {
    const char *n;
    int op;
  } ops[] = {
    { "SCMP_CMP_NE", SCMP_CMP_NE },
    { "SCMP_CMP_LT", SCMP_CMP_LT },
    { "SCMP_CMP_LE", SCMP_CMP_LE },
    { "SCMP_CMP_EQ", SCMP_CMP_EQ },
    { "SCMP_CMP_GE", SCMP_CMP_GE },
    { "SCMP_CMP_GT", SCMP_CMP_GT },
    { "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ },
  };
  for (size_t i = 0; i < sizeof (ops) / sizeof (ops[0]); i++)
    if (strcmp (ops[i].n, name) == 0)
      return ops[i].op;
  return -1;
}

static void
seccomp_free (struct oci_seccomp *s)
{
  if (s == NULL)
    return;
  strv_free (s->architectures);
  strv_free (s->flags);
  free (s->listener_path);
  free (s->listener_metadata);
  for (size_t i = 0; i < s->n_rules; i++)
    {
      strv_free (s->rules[i].names);
      free (s->rules[i].args);
    }
  free (s->rules);
  free (s);
}

/* seccomp.syscalls: each rule's names, action and argument comparisons;
   marks s->notify when a rule sends syscalls to a listener.  */
static int
parse_seccomp_syscalls (json_t *sys, const char *where, struct oci_seccomp *s, runhv_error_t *err)
{
  json_t *e;
  size_t i;

  if (sys != NULL)
    {
      if (json_array_size (sys) > MAX_LIST)
        {
          runhv_error (err, "%s.syscalls: too many entries", where);
          return -1;
        }
      s->rules = xmalloc0 ((json_array_size (sys) + 1) * sizeof (*s->rules));
      json_array_foreach (sys, i, e)
      {
        cleanup_free char *w = jpath_index (where, "syscalls", i);
        cleanup_free char *act = NULL;
        struct oci_seccomp_rule *r = &s->rules[s->n_rules];
        uint32_t eret = 0;
        bool have_eret = false;
        json_t *args = NULL, *a;
        size_t k;
        if (!json_is_object (e))
          {
            runhv_error (err, "%s: expected an object", w);
            return -1;
          }
        s->n_rules++;
        if (jget_strv (e, w, "names", true, &r->names, err) < 0 || jget_string (e, w, "action", true, &act, err) < 0
            || jget_uint32 (e, w, "errnoRet", &eret, &have_eret, err) < 0
            || jget_array (e, w, "args", false, &args, err) < 0)
          return -1;
        if (seccomp_action_from_name (act, eret, have_eret, &r->action) < 0)
          {
            runhv_error (err, "%s.action: unknown action `%s`", w, act);
            return -1;
          }
        if (r->action == SCMP_ACT_NOTIFY)
          {
            s->notify = true;
            /* runhv writes and sends the listener fd after loading the
               filter, before any agent holds it (runc refuses write too). */
            for (k = 0; r->names[k] != NULL; k++)
              if (strcmp (r->names[k], "write") == 0 || strcmp (r->names[k], "sendmsg") == 0)
                {
                  runhv_error (err,
                               "%s.action: SCMP_ACT_NOTIFY cannot be used for `%s`, which runhv itself calls after "
                               "loading the filter (use another action for it)",
                               w, r->names[k]);
                  return -1;
                }
          }
        if (args != NULL)
          {
            if (json_array_size (args) > 6)
              {
                runhv_error (err, "%s.args: a syscall has at most 6 arguments", w);
                return -1;
              }
            r->args = xmalloc0 ((json_array_size (args) + 1) * sizeof (*r->args));
            json_array_foreach (args, k, a)
            {
              cleanup_free char *aw = jpath_index (w, "args", k);
              cleanup_free char *op = NULL;
              struct oci_seccomp_arg *sa = &r->args[r->n_args];
              uint32_t idx = 0;
              if (jget_uint32 (a, aw, "index", &idx, NULL, err) < 0
                  || jget_uint64 (a, aw, "value", &sa->value, NULL, err) < 0
                  || jget_uint64 (a, aw, "valueTwo", &sa->value_two, NULL, err) < 0
                  || jget_string (a, aw, "op", true, &op, err) < 0)
                return -1;
              if (idx > 5)
                {
                  runhv_error (err, "%s.index: %u is out of range (0 to 5)", aw, idx);
                  return -1;
                }
              sa->index = idx;
              sa->op = seccomp_op_from_name (op);
              if (sa->op < 0)
                {
                  runhv_error (err, "%s.op: unknown operator `%s` (use SCMP_CMP_EQ, ...)", aw, op);
                  return -1;
                }
              r->n_args++;
            }
          }
      }
    }
  return 0;
}

static int
parse_seccomp (json_t *obj, const char *where, struct oci_seccomp **out, runhv_error_t *err)
{
  struct oci_seccomp *s = xmalloc0 (sizeof (*s));
  cleanup_free char *defact = NULL;
  json_t *sys = NULL;
  uint32_t def_errno = 0;
  bool have_def_errno = false;
  size_t i;

  if (jget_string (obj, where, "defaultAction", true, &defact, err) < 0
      || jget_uint32 (obj, where, "defaultErrnoRet", &def_errno, &have_def_errno, err) < 0
      || jget_strv (obj, where, "architectures", false, &s->architectures, err) < 0
      || jget_strv (obj, where, "flags", false, &s->flags, err) < 0
      || jget_string (obj, where, "listenerPath", false, &s->listener_path, err) < 0
      || jget_string (obj, where, "listenerMetadata", false, &s->listener_metadata, err) < 0
      || jget_array (obj, where, "syscalls", false, &sys, err) < 0)
    goto fail;
  if (seccomp_action_from_name (defact, def_errno, have_def_errno, &s->default_action) < 0)
    {
      runhv_error (err, "%s.defaultAction: unknown action `%s` (use SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, ...)", where,
                   defact);
      goto fail;
    }
  /* As in runc: the default would send runhv's own last syscalls, and
     the container's every one, to the agent.  */
  if (s->default_action == SCMP_ACT_NOTIFY)
    {
      runhv_error (err, "%s.defaultAction: SCMP_ACT_NOTIFY cannot be the default action (use it in syscalls[])", where);
      goto fail;
    }
  if (s->listener_path != NULL && s->listener_path[0] != '/')
    {
      runhv_error (err, "%s.listenerPath: `%s` must be an absolute path", where, s->listener_path);
      goto fail;
    }
  for (i = 0; s->architectures != NULL && s->architectures[i] != NULL; i++)
    {
      const char *a = s->architectures[i];
      if (strncmp (a, "SCMP_ARCH_", 10) != 0 || seccomp_arch_resolve_name (a + 10) == 0)
        {
          char lower[64];
          size_t k;
          for (k = 0; a[k] && k + 1 < sizeof (lower); k++)
            lower[k] = (char)tolower ((unsigned char)a[k]);
          lower[k] = '\0';
          if (strncmp (a, "SCMP_ARCH_", 10) != 0 || seccomp_arch_resolve_name (lower + 10) == 0)
            {
              cleanup_free char *w = jpath_index (where, "architectures", i);
              runhv_error (err, "%s: unknown architecture `%s` (use a name like SCMP_ARCH_X86_64)", w, a);
              goto fail;
            }
        }
    }
  for (i = 0; s->flags != NULL && s->flags[i] != NULL; i++)
    if (strcmp (s->flags[i], "SECCOMP_FILTER_FLAG_LOG") != 0
        && strcmp (s->flags[i], "SECCOMP_FILTER_FLAG_SPEC_ALLOW") != 0
        && strcmp (s->flags[i], "SECCOMP_FILTER_FLAG_TSYNC") != 0)
      {
        cleanup_free char *w = jpath_index (where, "flags", i);
        runhv_error (err, "%s: unsupported flag `%s`", w, s->flags[i]);
        goto fail;
      }
  if (parse_seccomp_syscalls (sys, where, s, err) < 0)
    goto fail;
  if (s->notify && s->listener_path == NULL)
    {
      runhv_error (err, "%s.listenerPath: SCMP_ACT_NOTIFY needs a listenerPath to send the listener fd to (add it)",
                   where);
      goto fail;
    }
  *out = s;
  return 0;
fail:
  seccomp_free (s);
  return -1;
}

/* ---- the whole spec ------------------------------------------------- */

void
oci_spec_free (struct oci_spec *spec)
{
  if (spec == NULL)
    return;
  free (spec->oci_version);
  oci_process_free (spec->process);
  free (spec->root_path);
  free (spec->hostname);
  free (spec->domainname);
  for (size_t i = 0; i < spec->n_mounts; i++)
    {
      free (spec->mounts[i].destination);
      free (spec->mounts[i].type);
      free (spec->mounts[i].source);
      free (spec->mounts[i].data);
      strv_free (spec->mounts[i].options);
    }
  free (spec->mounts);
  for (int k = 0; k < OCI_HOOK_KINDS; k++)
    {
      for (size_t i = 0; i < spec->n_hooks[k]; i++)
        {
          free (spec->hooks[k][i].path);
          strv_free (spec->hooks[k][i].args);
          strv_free (spec->hooks[k][i].env);
        }
      free (spec->hooks[k]);
    }
  if (spec->annotations)
    json_decref (spec->annotations);
  for (size_t i = 0; i < spec->n_namespaces; i++)
    free (spec->namespaces[i].path);
  free (spec->namespaces);
  free (spec->uid_mappings);
  free (spec->gid_mappings);
  for (size_t i = 0; i < spec->n_devices; i++)
    free (spec->devices[i].path);
  free (spec->devices);
  free (spec->cgroups_path);
  oci_resources_free (spec->resources);
  strv_free (spec->sysctl_keys);
  strv_free (spec->sysctl_values);
  seccomp_free (spec->seccomp);
  strv_free (spec->masked_paths);
  strv_free (spec->readonly_paths);
  free (spec->mount_label);
  if (spec->json)
    json_decref (spec->json);
  free (spec);
}

static const char *const hook_keys[OCI_HOOK_KINDS] = {
  "prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop",
};

static int
parse_hooks (json_t *hooks, struct oci_spec *s, runhv_error_t *err)
{
  for (int k = 0; k < OCI_HOOK_KINDS; k++)
    {
      json_t *arr = NULL, *e;
      size_t i;
      cleanup_free char *where = jpath ("hooks", hook_keys[k]);
      if (jget_array (hooks, "hooks", hook_keys[k], false, &arr, err) < 0)
        return -1;
      if (arr == NULL)
        continue;
      if (json_array_size (arr) > 1024)
        return runhv_error (err, "%s: too many hooks", where);
      s->hooks[k] = xmalloc0 ((json_array_size (arr) + 1) * sizeof (struct oci_hook));
      json_array_foreach (arr, i, e)
      {
        cleanup_free char *w = jpath_index ("hooks", hook_keys[k], i);
        struct oci_hook *h = &s->hooks[k][s->n_hooks[k]];
        int64_t timeout = 0;
        bool have_timeout = false;
        s->n_hooks[k]++;
        if (!json_is_object (e))
          return runhv_error (err, "%s: expected an object", w);
        if (jget_string (e, w, "path", true, &h->path, err) < 0 || jget_strv (e, w, "args", false, &h->args, err) < 0
            || jget_strv (e, w, "env", false, &h->env, err) < 0
            || jget_int64 (e, w, "timeout", &timeout, &have_timeout, err) < 0)
          return -1;
        if (h->path[0] != '/')
          return runhv_error (err, "%s.path: `%s` must be an absolute path", w, h->path);
        if (have_timeout && (timeout <= 0 || timeout > 86400))
          return runhv_error (err, "%s.timeout: %lld is out of range (1 to 86400 seconds)", w, (long long)timeout);
        h->timeout = (int)timeout;
      }
    }
  return 0;
}

static int
parse_mounts (json_t *arr, struct oci_spec *s, runhv_error_t *err)
{
  json_t *e;
  size_t i;
  if (json_array_size (arr) > 4096)
    return runhv_error (err, "mounts: too many entries");
  s->mounts = xmalloc0 ((json_array_size (arr) + 1) * sizeof (struct oci_mount));
  json_array_foreach (arr, i, e)
  {
    cleanup_free char *w = jpath_index ("", "mounts", i);
    struct oci_mount *m = &s->mounts[s->n_mounts];
    s->n_mounts++;
    if (!json_is_object (e))
      return runhv_error (err, "%s: expected an object", w);
    if (jget_string (e, w, "destination", true, &m->destination, err) < 0
        || jget_string (e, w, "type", false, &m->type, err) < 0
        || jget_string (e, w, "source", false, &m->source, err) < 0
        || jget_strv (e, w, "options", false, &m->options, err) < 0)
      return -1;
    if (m->destination[0] == '\0')
      return runhv_error (err, "%s.destination: empty", w);
    if (strlen (m->destination) >= PATH_MAX)
      return runhv_error (err, "%s.destination: too long", w);
    if (oci_mount_parse_options (m, err) < 0)
      return -1;
    if (m->type == NULL && !m->bind)
      return runhv_error (err, "%s.type: missing (give a filesystem type, or the option \"bind\")", w);
    if (m->bind && (m->source == NULL || m->source[0] == '\0'))
      return runhv_error (err, "%s.source: a bind mount needs a source path", w);
  }
  return 0;
}

static int
parse_id_mappings (json_t *lin, const char *key, struct oci_id_map **out, size_t *n, runhv_error_t *err)
{
  json_t *arr = NULL, *e;
  size_t i;
  if (jget_array (lin, "linux", key, false, &arr, err) < 0)
    return -1;
  if (arr == NULL)
    return 0;
  if (json_array_size (arr) > 340)
    return runhv_error (err, "linux.%s: at most 340 ranges are allowed by the kernel", key);
  *out = xmalloc0 ((json_array_size (arr) + 1) * sizeof (**out));
  json_array_foreach (arr, i, e)
  {
    cleanup_free char *w = jpath_index ("linux", key, i);
    struct oci_id_map *m = &(*out)[*n];
    if (jget_uint32 (e, w, "containerID", &m->container_id, NULL, err) < 0
        || jget_uint32 (e, w, "hostID", &m->host_id, NULL, err) < 0
        || jget_uint32 (e, w, "size", &m->size, NULL, err) < 0)
      return -1;
    if (m->size == 0)
      return runhv_error (err, "%s.size: must be at least 1", w);
    if ((uint64_t)m->container_id + m->size > (1ULL << 32) || (uint64_t)m->host_id + m->size > (1ULL << 32))
      return runhv_error (err, "%s: the range overflows 32-bit ids", w);
    (*n)++;
  }
  return 0;
}

/* sysctls that belong to a namespace the container owns.  */
static int
check_sysctl (const struct oci_spec *s, const char *key, runhv_error_t *err)
{
  if (strstr (key, "..") != NULL || key[0] == '/' || key[0] == '.' || strchr (key, '/') != NULL || strlen (key) > 256)
    return runhv_error (err, "linux.sysctl: `%s` is not a sysctl name", key);
  if (strcmp (key, "kernel.msgmax") == 0 || strcmp (key, "kernel.msgmnb") == 0 || strcmp (key, "kernel.msgmni") == 0
      || strcmp (key, "kernel.sem") == 0 || strcmp (key, "kernel.shmall") == 0 || strcmp (key, "kernel.shmmax") == 0
      || strcmp (key, "kernel.shmmni") == 0 || strcmp (key, "kernel.shm_rmid_forced") == 0
      || strncmp (key, "fs.mqueue.", 10) == 0)
    {
      if (!oci_spec_has_namespace (s, CLONE_NEWIPC, NULL))
        return runhv_error (err, "linux.sysctl: `%s` needs an ipc namespace (add {\"type\":\"ipc\"})", key);
      return 0;
    }
  if (strcmp (key, "kernel.hostname") == 0 || strcmp (key, "kernel.domainname") == 0)
    {
      if (!oci_spec_has_namespace (s, CLONE_NEWUTS, NULL))
        return runhv_error (err, "linux.sysctl: `%s` needs a uts namespace", key);
      return 0;
    }
  if (strncmp (key, "net.", 4) == 0)
    {
      if (!oci_spec_has_namespace (s, CLONE_NEWNET, NULL))
        return runhv_error (err, "linux.sysctl: `%s` needs a network namespace", key);
      return 0;
    }
  return runhv_error (err, "linux.sysctl: `%s` is not namespaced and would change the host (remove it)", key);
}

static int
parse_linux (json_t *lin, struct oci_spec *s, runhv_error_t *err)
{
  json_t *arr = NULL, *e, *obj = NULL;
  size_t i;
  cleanup_free char *prop = NULL;
  int seen = 0;

  if (jget_array (lin, "linux", "namespaces", false, &arr, err) < 0)
    return -1;
  if (arr != NULL)
    {
      if (json_array_size (arr) > 16)
        return runhv_error (err, "linux.namespaces: too many entries");
      s->namespaces = xmalloc0 ((json_array_size (arr) + 1) * sizeof (*s->namespaces));
      json_array_foreach (arr, i, e)
      {
        cleanup_free char *w = jpath_index ("linux", "namespaces", i);
        cleanup_free char *type = NULL;
        struct oci_namespace *ns = &s->namespaces[s->n_namespaces];
        if (jget_string (e, w, "type", true, &type, err) < 0 || jget_string (e, w, "path", false, &ns->path, err) < 0)
          return -1;
        s->n_namespaces++;
        ns->type = oci_namespace_from_name (type);
        if (ns->type < 0)
          return runhv_error (err,
                              "%s.type: unknown namespace `%s` (use pid, network, mount, ipc, uts, user, cgroup or "
                              "time)",
                              w, type);
        if (seen & ns->type)
          return runhv_error (err, "%s.type: namespace `%s` is listed twice", w, type);
        seen |= ns->type;
        if (ns->path != NULL && ns->path[0] != '/')
          return runhv_error (err, "%s.path: `%s` must be an absolute path", w, ns->path);
      }
    }
  if (parse_id_mappings (lin, "uidMappings", &s->uid_mappings, &s->n_uid_mappings, err) < 0
      || parse_id_mappings (lin, "gidMappings", &s->gid_mappings, &s->n_gid_mappings, err) < 0)
    return -1;
  if ((s->n_uid_mappings || s->n_gid_mappings) && !(seen & CLONE_NEWUSER))
    return runhv_error (err, "linux.uidMappings: id mappings need a user namespace (add {\"type\":\"user\"})");
  {
    const char *upath = NULL;
    if (oci_spec_has_namespace (s, CLONE_NEWUSER, &upath) && upath == NULL
        && (s->n_uid_mappings == 0 || s->n_gid_mappings == 0))
      return runhv_error (err, "linux.uidMappings: a new user namespace needs uidMappings and gidMappings");
  }

  if (jget_array (lin, "linux", "devices", false, &arr, err) < 0)
    return -1;
  if (arr != NULL)
    {
      if (json_array_size (arr) > 4096)
        return runhv_error (err, "linux.devices: too many entries");
      s->devices = xmalloc0 ((json_array_size (arr) + 1) * sizeof (*s->devices));
      json_array_foreach (arr, i, e)
      {
        cleanup_free char *w = jpath_index ("linux", "devices", i);
        cleanup_free char *type = NULL;
        struct oci_device *d = &s->devices[s->n_devices];
        bool have_major = false, have_minor = false;
        s->n_devices++;
        if (jget_string (e, w, "path", true, &d->path, err) < 0 || jget_string (e, w, "type", true, &type, err) < 0
            || jget_int64 (e, w, "major", &d->major, &have_major, err) < 0
            || jget_int64 (e, w, "minor", &d->minor, &have_minor, err) < 0
            || jget_uint32 (e, w, "fileMode", &d->file_mode, &d->has_file_mode, err) < 0
            || jget_uint32 (e, w, "uid", &d->uid, &d->has_uid, err) < 0
            || jget_uint32 (e, w, "gid", &d->gid, &d->has_gid, err) < 0)
          return -1;
        if (d->path[0] != '/' || strncmp (d->path, "/dev/", 5) != 0)
          return runhv_error (err, "%s.path: `%s` must be an absolute path under /dev", w, d->path);
        if (strlen (type) != 1 || strchr ("cubp", type[0]) == NULL)
          return runhv_error (err, "%s.type: `%s` is not a device type (use c, b, u or p)", w, type);
        d->type = type[0];
        if (d->type != 'p' && (!have_major || !have_minor))
          return runhv_error (err, "%s: a `%c` device needs major and minor", w, d->type);
        if (d->major < 0 || d->minor < 0 || d->major > 4095 || d->minor > 1048575)
          return runhv_error (err, "%s: major/minor out of range", w);
        if (d->has_file_mode)
          {
            /* podman (for --privileged) passes the type bits with the
               permissions, e.g. 020666 for a character device, and runc
               accepts them: keep the permissions, and accept only the
               type bits of the declared type.  */
            uint32_t ftype = d->file_mode & S_IFMT;
            uint32_t want = d->type == 'b' ? S_IFBLK : d->type == 'p' ? S_IFIFO : S_IFCHR;
            if ((d->file_mode & ~(uint32_t)(S_IFMT | 07777)) != 0 || (ftype != 0 && ftype != want))
              return runhv_error (err, "%s.fileMode: %u is not a permission mode (or the mode of a `%c` device)", w,
                                  d->file_mode, d->type);
            d->file_mode &= 07777;
          }
      }
    }
  if (jget_string (lin, "linux", "cgroupsPath", false, &s->cgroups_path, err) < 0)
    return -1;
  if (s->cgroups_path != NULL && strstr (s->cgroups_path, "..") != NULL)
    return runhv_error (err, "linux.cgroupsPath: `%s` must not contain `..`", s->cgroups_path);
  if (jget_object (lin, "linux", "resources", false, &obj, err) < 0)
    return -1;
  if (obj != NULL && oci_resources_parse (obj, "linux.resources", &s->resources, err) < 0)
    return -1;
  if (jget_object (lin, "linux", "sysctl", false, &obj, err) < 0)
    return -1;
  if (obj != NULL)
    {
      const char *k;
      json_t *v;
      json_object_foreach (obj, k, v)
      {
        if (!json_is_string (v))
          return runhv_error (err, "linux.sysctl.%s: expected a string", k);
        if (check_sysctl (s, k, err) < 0)
          return -1;
        strv_append (&s->sysctl_keys, k);
        strv_append (&s->sysctl_values, json_string_value (v));
      }
    }
  if (jget_object (lin, "linux", "seccomp", false, &obj, err) < 0)
    return -1;
  if (obj != NULL && parse_seccomp (obj, "linux.seccomp", &s->seccomp, err) < 0)
    return -1;
  if (jget_string (lin, "linux", "rootfsPropagation", false, &prop, err) < 0)
    return -1;
  if (prop != NULL && propagation_from_name (prop, &s->rootfs_propagation) < 0)
    return runhv_error (err,
                        "linux.rootfsPropagation: unknown value `%s` (use private, rprivate, shared, rshared, "
                        "slave, rslave, unbindable or runbindable)",
                        prop);
  if (jget_strv (lin, "linux", "maskedPaths", false, &s->masked_paths, err) < 0
      || jget_strv (lin, "linux", "readonlyPaths", false, &s->readonly_paths, err) < 0
      || jget_string (lin, "linux", "mountLabel", false, &s->mount_label, err) < 0)
    return -1;
  for (i = 0; s->masked_paths != NULL && s->masked_paths[i]; i++)
    if (s->masked_paths[i][0] != '/')
      return runhv_error (err, "linux.maskedPaths[%zu]: `%s` must be absolute", i, s->masked_paths[i]);
  for (i = 0; s->readonly_paths != NULL && s->readonly_paths[i]; i++)
    if (s->readonly_paths[i][0] != '/')
      return runhv_error (err, "linux.readonlyPaths[%zu]: `%s` must be absolute", i, s->readonly_paths[i]);
  return 0;
}

/* Without a mount namespace of its own the container shares the runtime's
   (the spec: an unlisted namespace is inherited).  runc then still makes its
   mounts, devices and /dev/console bind there, which changes the host's
   mount table and outlives the container; runhv only chroots and refuses
   what would need a mount.  Masking is refused as runc refuses it.  */
static int
check_without_mount_namespace (const struct oci_spec *s, runhv_error_t *err)
{
  static const char fix[] = "add {\"type\": \"mount\"} to linux.namespaces, or remove it";
  if (oci_spec_has_namespace (s, CLONE_NEWNS, NULL))
    return 0;
  if ((s->masked_paths && s->masked_paths[0]) || (s->readonly_paths && s->readonly_paths[0]))
    return runhv_error (err, "linux.%s: masking paths needs a private mount namespace (%s)",
                        s->masked_paths && s->masked_paths[0] ? "maskedPaths" : "readonlyPaths", fix);
  if (s->n_mounts > 0)
    return runhv_error (err,
                        "mounts: without a mount namespace they would be made in the host's and outlive the "
                        "container (%s)",
                        fix);
  if (s->n_devices > 0)
    return runhv_error (err,
                        "linux.devices: without a mount namespace they cannot be made for the container alone "
                        "(%s)",
                        fix);
  if (s->root_readonly)
    return runhv_error (err,
                        "root.readonly: without a mount namespace the rootfs cannot be made read-only for the "
                        "container alone (%s)",
                        fix);
  if (s->rootfs_propagation != 0)
    return runhv_error (err,
                        "linux.rootfsPropagation: without a mount namespace it would change the host's "
                        "mounts (%s)",
                        fix);
  return 0;
}

int
oci_spec_parse_json (json_t *root, const char *what, struct oci_spec **out, runhv_error_t *err)
{
  struct oci_spec *s = xmalloc0 (sizeof (*s));
  json_t *obj = NULL;
  size_t i;
  (void)what;

  s->json = json_incref (root);
  if (!json_is_object (root))
    {
      runhv_error (err, "the document is not a JSON object");
      goto fail;
    }
  if (jget_string (root, "", "ociVersion", false, &s->oci_version, err) < 0)
    goto fail;
  if (s->oci_version == NULL)
    {
      runhv_error (err, "ociVersion: missing (add \"ociVersion\": \"%s\")", OCI_VERSION);
      goto fail;
    }
  if (strncmp (s->oci_version, "1.", 2) != 0)
    {
      runhv_error (err, "ociVersion: `%s` is not supported (runhv implements 1.x; use \"%s\")", s->oci_version,
                   OCI_VERSION);
      goto fail;
    }
  if (jget_object (root, "", "root", false, &obj, err) < 0)
    goto fail;
  if (obj == NULL)
    {
      runhv_error (err, "root: missing (add \"root\": {\"path\": \"rootfs\"})");
      goto fail;
    }
  if (jget_string (obj, "root", "path", true, &s->root_path, err) < 0
      || jget_bool (obj, "root", "readonly", &s->root_readonly, NULL, err) < 0)
    goto fail;
  if (jget_object (root, "", "process", false, &obj, err) < 0)
    goto fail;
  if (obj == NULL)
    {
      runhv_error (err, "process: missing (add a process with args, e.g. {\"args\": [\"sh\"], \"cwd\": \"/\"})");
      goto fail;
    }
  if (oci_process_parse (obj, "process", &s->process, err) < 0)
    goto fail;
  if (jget_string (root, "", "hostname", false, &s->hostname, err) < 0
      || jget_string (root, "", "domainname", false, &s->domainname, err) < 0)
    goto fail;
  if (s->hostname != NULL && strlen (s->hostname) > 64)
    {
      runhv_error (err, "hostname: longer than 64 characters");
      goto fail;
    }
  if (jget_array (root, "", "mounts", false, &obj, err) < 0)
    goto fail;
  if (obj != NULL && parse_mounts (obj, s, err) < 0)
    goto fail;
  if (jget_object (root, "", "hooks", false, &obj, err) < 0)
    goto fail;
  if (obj != NULL && parse_hooks (obj, s, err) < 0)
    goto fail;
  if (jget_object (root, "", "annotations", false, &obj, err) < 0)
    goto fail;
  s->annotations = obj != NULL ? json_incref (obj) : json_object ();
  {
    const char *k;
    json_t *v;
    json_object_foreach (s->annotations, k, v) if (!json_is_string (v))
    {
      runhv_error (err, "annotations.%s: expected a string value", k);
      goto fail;
    }
  }
  if (jget_object (root, "", "linux", false, &obj, err) < 0)
    goto fail;
  if (obj != NULL && parse_linux (obj, s, err) < 0)
    goto fail;
  if ((s->hostname != NULL && s->hostname[0] != '\0') && !oci_spec_has_namespace (s, CLONE_NEWUTS, NULL))
    {
      runhv_error (err, "hostname: setting it needs a uts namespace (add {\"type\":\"uts\"} to linux.namespaces)");
      goto fail;
    }
  if (check_without_mount_namespace (s, err) < 0)
    goto fail;
  for (i = 0; i < s->n_mounts; i++)
    if (s->mounts[i].type != NULL && strcmp (s->mounts[i].type, "cgroup") == 0 && s->mounts[i].bind)
      {
        runhv_error (err, "mounts[%zu]: a cgroup mount cannot be a bind mount", i);
        goto fail;
      }
  *out = s;
  return 0;
fail:
  oci_spec_free (s);
  return -1;
}

int
oci_spec_parse_buffer (const char *buf, size_t len, const char *what, struct oci_spec **out, runhv_error_t *err)
{
  cleanup_json json_t *root = NULL;
  if (json_load_buffer (buf, len, what, &root, err) < 0)
    return -1;
  if (oci_spec_parse_json (root, what, out, err) < 0)
    return runhv_error_wrap (err, "%s", what);
  return 0;
}

/* A bind mount's relative source is relative to the bundle, as runc reads
   it (it works in the bundle directory), never to wherever the caller
   happens to be: made absolute here, in the parsed mounts and in the JSON
   that is handed on (to a VM's guest, to hooks).  */
static int
resolve_bind_sources (struct oci_spec *s, const char *bundle, runhv_error_t *err)
{
  cleanup_free char *dir = NULL;
  json_t *mounts = json_object_get (s->json, "mounts");
  for (size_t i = 0; i < s->n_mounts; i++)
    {
      struct oci_mount *m = &s->mounts[i];
      char *abs;
      if (!m->bind || m->source == NULL || m->source[0] == '/')
        continue;
      if (dir == NULL && (dir = realpath (bundle ? bundle : ".", NULL)) == NULL)
        {
          return runhv_make_error (err, errno, "mounts[%zu].source: resolve the bundle `%s`", i, bundle ? bundle : ".");
        }
      abs = strcmp (m->source, ".") == 0 ? xstrdup (dir) : xasprintf ("%s/%s", dir, m->source);
      free (m->source);
      m->source = abs;
      json_object_set_new (json_array_get (mounts, i), "source", json_string (abs));
    }
  return 0;
}

int
oci_spec_load (const char *bundle, struct oci_spec **out, runhv_error_t *err)
{
  cleanup_free char *path = xasprintf ("%s/config.json", bundle ? bundle : ".");
  cleanup_free char *buf = NULL;
  size_t len = 0;
  if (read_file (path, MAX_CONFIG_SIZE, &buf, &len, err) < 0)
    {
      if ((*err)->status == ENOENT)
        {
          runhv_error_release (err);
          return runhv_error (err, "config.json: not found in bundle `%s` (create one with `runhv spec`)",
                              bundle ? bundle : ".");
        }
      return -1;
    }
  if (oci_spec_parse_buffer (buf, len, "config.json", out, err) < 0)
    return -1;
  if (resolve_bind_sources (*out, bundle, err) < 0)
    {
      oci_spec_free (*out);
      *out = NULL;
      return -1;
    }
  return 0;
}

bool
oci_spec_has_namespace (const struct oci_spec *s, int type, const char **path)
{
  for (size_t i = 0; i < s->n_namespaces; i++)
    if (s->namespaces[i].type == type)
      {
        if (path)
          *path = s->namespaces[i].path;
        return true;
      }
  return false;
}

const char *
oci_spec_annotation (const struct oci_spec *s, const char *key)
{
  json_t *v;
  if (s->annotations == NULL)
    return NULL;
  v = json_object_get (s->annotations, key);
  return json_is_string (v) ? json_string_value (v) : NULL;
}

int
oci_annotation_count (const struct oci_spec *spec, const char *key, const char *alias, uint64_t max, const char *unit,
                      uint64_t *out, bool *present, runhv_error_t *err)
{
  const char *name = key, *v = oci_spec_annotation (spec, key);
  uint64_t n;
  if (v == NULL && alias != NULL)
    {
      v = oci_spec_annotation (spec, alias);
      name = alias;
    }
  *present = v != NULL;
  if (v == NULL)
    return 0;
  if (parse_uint64 (v, &n) < 0)
    return runhv_error (err, "annotations.%s: `%s` is not a number (give %s as a positive integer)", name, v, unit);
  if (n == 0)
    return runhv_error (err, "annotations.%s: 0 is not allowed (give at least 1 %s, or remove it)", name, unit);
  if (max > 0 && n > max)
    return runhv_error (err, "annotations.%s: %llu %s is more than this host has (%llu)", name, (unsigned long long)n,
                        unit, (unsigned long long)max);
  *out = n;
  return 0;
}

const char *
oci_spec_pod_sandbox (const struct oci_spec *s)
{
  const char *type = oci_spec_annotation (s, "io.kubernetes.cri.container-type");
  if (type == NULL || strcmp (type, "container") != 0)
    return NULL;
  return oci_spec_annotation (s, "io.kubernetes.cri.sandbox-id");
}

char *
oci_default_spec_json (bool rootless, bool cgroupns)
{
  const char *caps = "\"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\"";
  /* As runc: a cgroup namespace only where the host is cgroup v2, so a
     caller that adds its own on a v1 host does not list it twice.  */
  const char *cgns = cgroupns ? ", { \"type\": \"cgroup\" }" : "";
  const char *userns = rootless ? ",\n      { \"type\": \"user\" }" : "";
  cleanup_free char *maps = NULL;
  if (rootless)
    maps = xasprintf (",\n    \"uidMappings\": [ { \"containerID\": 0, \"hostID\": %u, \"size\": 1 } ],\n"
                      "    \"gidMappings\": [ { \"containerID\": 0, \"hostID\": %u, \"size\": 1 } ]",
                      (unsigned)getuid (), (unsigned)getgid ());
  return xasprintf (
    "{\n"
    "  \"ociVersion\": \"" OCI_VERSION "\",\n"
    "  \"process\": {\n"
    "    \"terminal\": true,\n"
    "    \"user\": { \"uid\": 0, \"gid\": 0 },\n"
    "    \"args\": [ \"sh\" ],\n"
    "    \"env\": [ \"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\", \"TERM=xterm\" ],\n"
    "    \"cwd\": \"/\",\n"
    "    \"capabilities\": {\n"
    "      \"bounding\": [ %s ],\n"
    "      \"effective\": [ %s ],\n"
    "      \"permitted\": [ %s ],\n"
    "      \"ambient\": [ %s ]\n"
    "    },\n"
    "    \"rlimits\": [ { \"type\": \"RLIMIT_NOFILE\", \"hard\": 1024, \"soft\": 1024 } ],\n"
    "    \"noNewPrivileges\": true\n"
    "  },\n"
    "  \"root\": { \"path\": \"rootfs\", \"readonly\": true },\n"
    "  \"hostname\": \"runhv\",\n"
    "  \"mounts\": [\n"
    "    { \"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\" },\n"
    "    { \"destination\": \"/dev\", \"type\": \"tmpfs\", \"source\": \"tmpfs\",\n"
    "      \"options\": [ \"nosuid\", \"strictatime\", \"mode=755\", \"size=65536k\" ] },\n"
    "    { \"destination\": \"/dev/pts\", \"type\": \"devpts\", \"source\": \"devpts\",\n"
    "      \"options\": [ \"nosuid\", \"noexec\", \"newinstance\", \"ptmxmode=0666\", \"mode=0620\"%s ] },\n"
    "    { \"destination\": \"/dev/shm\", \"type\": \"tmpfs\", \"source\": \"shm\",\n"
    "      \"options\": [ \"nosuid\", \"noexec\", \"nodev\", \"mode=1777\", \"size=65536k\" ] },\n"
    "    { \"destination\": \"/dev/mqueue\", \"type\": \"mqueue\", \"source\": \"mqueue\",\n"
    "      \"options\": [ \"nosuid\", \"noexec\", \"nodev\" ] },\n"
    "    { \"destination\": \"/sys\", \"type\": \"%s\", \"source\": \"%s\",\n"
    "      \"options\": [ \"nosuid\", \"noexec\", \"nodev\", \"ro\"%s ] },\n"
    "    { \"destination\": \"/sys/fs/cgroup\", \"type\": \"cgroup\", \"source\": \"cgroup\",\n"
    "      \"options\": [ \"nosuid\", \"noexec\", \"nodev\", \"relatime\", \"ro\" ] }\n"
    "  ],\n"
    "  \"linux\": {\n"
    "    \"resources\": { \"devices\": [ { \"allow\": false, \"access\": \"rwm\" } ] },\n"
    "    \"namespaces\": [\n"
    "      { \"type\": \"pid\" }, { \"type\": \"network\" }, { \"type\": \"ipc\" },\n"
    "      { \"type\": \"uts\" }, { \"type\": \"mount\" }%s%s\n"
    "    ]%s,\n"
    "    \"maskedPaths\": [ \"/proc/acpi\", \"/proc/asound\", \"/proc/kcore\", \"/proc/keys\",\n"
    "      \"/proc/latency_stats\", \"/proc/timer_list\", \"/proc/timer_stats\", \"/proc/sched_debug\",\n"
    "      \"/sys/firmware\", \"/proc/scsi\" ],\n"
    "    \"readonlyPaths\": [ \"/proc/bus\", \"/proc/fs\", \"/proc/irq\", \"/proc/sys\",\n"
    "      \"/proc/sysrq-trigger\" ]\n"
    "  }\n"
    "}\n",
    caps, caps, caps, caps, rootless ? "" : ", \"gid=5\"", rootless ? "none" : "sysfs", rootless ? "/sys" : "sysfs",
    rootless ? ", \"rbind\"" : "", cgns, userns, maps ? maps : "");
}

#include "process/cgroup.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "process/cgroup-internal.h"
#include "core/json.h"
#include "core/util.h"
#include "core/banned.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

uint64_t
cgroup_shares_to_weight (uint64_t shares)
{
  /* The mapping runc and crun use, so a Kubernetes CPU request gives the
     same weight whatever runtime the node has.  */
  if (shares == 0)
    return 0;
  if (shares < 2)
    shares = 2;
  if (shares > 262144)
    shares = 262144;
  return 1 + ((shares - 2) * 9999) / 262142;
}

uint64_t
cgroup_blkio_to_io_weight (uint64_t weight)
{
  if (weight == 0)
    return 0;
  return 1 + (weight - 10) * 9999 / 990;
}

/* "machine.slice:libpod:abc" → /machine.slice/libpod-abc.scope; nested
   slices "a-b.slice" expand to /a.slice/a-b.slice as systemd lays them out. */
static char *
systemd_to_path (const char *spec)
{
  const char *c1 = strchr (spec, ':');
  const char *c2 = c1 ? strchr (c1 + 1, ':') : NULL;
  cleanup_free char *slice = NULL, *prefix = NULL, *slice_path = NULL;
  const char *name;
  if (c1 == NULL || c2 == NULL)
    return NULL;
  slice = xstrndup (spec, (size_t)(c1 - spec));
  prefix = xstrndup (c1 + 1, (size_t)(c2 - c1 - 1));
  name = c2 + 1;
  if (slice[0] == '\0')
    {
      free (slice);
      slice = xstrdup ("system.slice");
    }
  slice_path = xstrdup ("");
  {
    /* each '-' in "a-b-c.slice" opens one more level */
    size_t len = strlen (slice);
    const char *suffix = ".slice";
    if (len > 6 && strcmp (slice + len - 6, suffix) == 0)
      {
        for (size_t i = 0; i < len - 6; i++)
          if (slice[i] == '-')
            {
              char *n = xasprintf ("%s/%.*s.slice", slice_path, (int)i, slice);
              free (slice_path);
              slice_path = n;
            }
      }
    {
      char *n = xasprintf ("%s/%s", slice_path, slice);
      free (slice_path);
      slice_path = n;
    }
  }
  if (prefix[0] == '\0')
    return xasprintf ("%s/%s.scope", slice_path, name);
  return xasprintf ("%s/%s-%s.scope", slice_path, prefix, name);
}

char *
cgroup_path_from_spec (const char *cgroups_path, const char *id, bool systemd)
{
  if (cgroups_path == NULL || cgroups_path[0] == '\0')
    return xasprintf ("/runhv/%s", id);
  if (systemd || (cgroups_path[0] != '/' && strchr (cgroups_path, ':') != NULL))
    {
      char *p = systemd_to_path (cgroups_path);
      if (p != NULL)
        return p;
    }
  return xstrdup (cgroups_path);
}

void
cgroup_manager_free (struct cgroup_manager *m)
{
  if (m == NULL)
    return;
  for (size_t i = 0; i < m->n_h; i++)
    {
      free (m->h[i].name);
      free (m->h[i].mountpoint);
      free (m->h[i].path);
    }
  free (m->h);
  free (m->root);
  free (m);
}

static void
add_hierarchy (struct cgroup_manager *m, const char *name, const char *mountpoint, const char *path)
{
  m->h = xrealloc (m->h, (m->n_h + 1) * sizeof (*m->h));
  m->h[m->n_h].name = xstrdup (name);
  m->h[m->n_h].mountpoint = xstrdup (mountpoint);
  m->h[m->n_h].path = xstrdup (path);
  m->n_h++;
}

/* Our own cgroup in a hierarchy, from /proc/self/cgroup ("4:memory:/x").  */
static char *
own_cgroup (const char *name)
{
  cleanup_free char *buf = NULL;
  char *line, *next;
  if (read_file ("/proc/self/cgroup", 0, &buf, NULL, NULL) < 0)
    return xstrdup ("/");
  for (line = buf; line && *line; line = next)
    {
      char *c1, *c2;
      next = strchr (line, '\n');
      if (next)
        *next++ = '\0';
      c1 = strchr (line, ':');
      c2 = c1 ? strchr (c1 + 1, ':') : NULL;
      if (c2 == NULL)
        continue;
      *c2 = '\0';
      if (strcmp (c1 + 1, name) == 0)
        return xstrdup (c2 + 1);
    }
  return xstrdup ("/");
}

static char *
join_path (const char *base, const char *rel)
{
  size_t bl = strlen (base);
  if (bl > 0 && base[bl - 1] == '/')
    bl--;
  return xasprintf ("%.*s/%s", (int)bl, base, rel[0] == '/' ? rel + 1 : rel);
}

/* A hierarchy's path for this container: absolute as given, or relative to
   the cgroup the runtime itself is in (runc's rule).  */
static char *
resolve_in (const char *hierarchy, const char *path)
{
  cleanup_free char *own = NULL;
  if (path[0] == '/')
    return xstrdup (path);
  own = own_cgroup (hierarchy);
  return join_path (own, path);
}

/* The super options of a v1 mount name its controllers ("rw,cpu,cpuacct"):
   keep those, drop the mount flags.  */
static char *
controllers_from_superopts (char *opts)
{
  char *ctrls = NULL, *o, *next;
  for (o = opts; o != NULL; o = next)
    {
      next = strchr (o, ',');
      if (next)
        *next++ = '\0';
      if (strcmp (o, "rw") == 0 || strcmp (o, "ro") == 0 || strncmp (o, "release_agent", 13) == 0
          || strcmp (o, "clone_children") == 0 || strcmp (o, "noprefix") == 0 || strcmp (o, "xattr") == 0
          || strcmp (o, "cpuset_v2_mode") == 0 || o[0] == '\0')
        continue;
      if (ctrls == NULL)
        ctrls = xstrdup (o);
      else
        {
          char *n = xasprintf ("%s,%s", ctrls, o);
          free (ctrls);
          ctrls = n;
        }
    }
  return ctrls;
}

/* The v1 hierarchies (and, in hybrid mode, the unified one) mounted under
   root, from mountinfo: "id parent maj:min root mountpoint opts [tags] -
   fstype source superopts".  */
static int
discover_v1 (struct cgroup_manager *m, const char *path, runhv_error_t *err)
{
  cleanup_free char *buf = NULL;
  char *cursor, *mnt, *fstype, *super;
  size_t rootlen = strlen (m->root);
  if (read_file ("/proc/self/mountinfo", 0, &buf, NULL, err) < 0)
    return -1;
  for (cursor = buf; mountinfo_next (&cursor, &mnt, &fstype, &super);)
    {
      if (strncmp (mnt, m->root, rootlen) != 0 || mnt[rootlen] != '/')
        continue;
      if (strcmp (fstype, "cgroup") == 0)
        {
          cleanup_free char *ctrls = controllers_from_superopts (super);
          cleanup_free char *full = NULL;
          if (ctrls == NULL)
            continue;
          full = resolve_in (ctrls, path);
          add_hierarchy (m, ctrls, mnt, full);
        }
      else if (strcmp (fstype, "cgroup2") == 0)
        {
          cleanup_free char *full = resolve_in ("", path);
          add_hierarchy (m, "", mnt, full);
        }
    }
  if (m->n_h == 0)
    return runhv_error (err, "no cgroup hierarchy is mounted under `%s` (mount cgroupfs there)", m->root);
  return 0;
}

int
cgroup_manager_new (const char *root, const char *cgroups_path, const char *id, bool systemd,
                    struct cgroup_manager **out, runhv_error_t *err)
{
  struct cgroup_manager *m = xmalloc0 (sizeof (*m));
  cleanup_free char *path = cgroup_path_from_spec (cgroups_path, id, systemd);
  struct statfs sfs;

  m->root = xstrdup (root ? root : "/sys/fs/cgroup");
  m->fake = root != NULL && strcmp (root, "/sys/fs/cgroup") != 0;
  if (m->fake)
    {
      /* A test tree is always unified: v1 is exercised on the real host.  */
      m->mode = CGROUP_MODE_V2;
    }
  else
    {
      if (statfs (m->root, &sfs) < 0)
        {
          int e = errno;
          cgroup_manager_free (m);
          return runhv_make_error (err, e, "statfs `%s` (is cgroupfs mounted?)", root ? root : "/sys/fs/cgroup");
        }
      m->mode = sfs.f_type == CGROUP2_SUPER_MAGIC ? CGROUP_MODE_V2 : CGROUP_MODE_V1;
    }
  if (m->mode == CGROUP_MODE_V2)
    {
      cleanup_free char *full = NULL, *own = NULL;
      if (path[0] == '/')
        full = xstrdup (path);
      else
        {
          own = m->fake ? xstrdup ("/") : own_cgroup ("");
          full = join_path (own, path);
        }
      add_hierarchy (m, "", m->root, full);
    }
  else if (discover_v1 (m, path, err) < 0)
    {
      cgroup_manager_free (m);
      return -1;
    }
  *out = m;
  return 0;
}

json_t *
cgroup_manager_to_json (const struct cgroup_manager *m)
{
  json_t *j = json_object (), *a = json_array ();
  json_object_set_new (j, "mode", json_integer (m->mode));
  json_object_set_new (j, "root", json_string (m->root));
  json_object_set_new (j, "fake", json_boolean (m->fake));
  for (size_t i = 0; i < m->n_h; i++)
    json_array_append_new (
      a, json_pack ("{s:s,s:s,s:s}", "name", m->h[i].name, "mountpoint", m->h[i].mountpoint, "path", m->h[i].path));
  json_object_set_new (j, "hierarchies", a);
  return j;
}

int
cgroup_manager_from_json (json_t *j, struct cgroup_manager **out, runhv_error_t *err)
{
  struct cgroup_manager *m = xmalloc0 (sizeof (*m));
  json_t *a, *e;
  size_t i;
  int64_t mode = 0;
  if (jget_int64 (j, "cgroups", "mode", &mode, NULL, err) < 0
      || jget_string (j, "cgroups", "root", true, &m->root, err) < 0
      || jget_bool (j, "cgroups", "fake", &m->fake, NULL, err) < 0)
    {
      cgroup_manager_free (m);
      return -1;
    }
  m->mode = mode == 2 ? CGROUP_MODE_V2 : CGROUP_MODE_V1;
  a = json_object_get (j, "hierarchies");
  json_array_foreach (a, i, e)
  {
    const char *n = json_string_value (json_object_get (e, "name"));
    const char *mp = json_string_value (json_object_get (e, "mountpoint"));
    const char *p = json_string_value (json_object_get (e, "path"));
    if (n == NULL || mp == NULL || p == NULL)
      {
        cgroup_manager_free (m);
        return runhv_error (err, "state: malformed cgroup record");
      }
    add_hierarchy (m, n, mp, p);
  }
  *out = m;
  return 0;
}

char *
cgroup_host_dir (const struct cgroup_manager *m, size_t i)
{
  return join_path (m->h[i].mountpoint, m->h[i].path);
}

int
cgroup_open_dir (const struct cgroup_manager *m, size_t i, runhv_error_t *err)
{
  cleanup_free char *dir = cgroup_host_dir (m, i);
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return runhv_make_error (err, errno, "open cgroup `%s`", dir);
  return fd;
}

int
cgroup_write (const struct cgroup_manager *m, int dirfd, const char *file, const char *value, const char *field,
              runhv_error_t *err)
{
  cleanup_close int fd = openat (dirfd, file, O_WRONLY | O_TRUNC | O_CLOEXEC | (m->fake ? O_CREAT : 0), 0644);
  if (fd < 0)
    return runhv_make_error (err, errno, "%s%sopen cgroup file `%s`", field ? field : "", field ? ": " : "", file);
  if (write_all (fd, value, strlen (value)) < 0)
    {
      int e = errno;
      if (e == EBUSY && strncmp (file, "memory.", 7) == 0)
        return runhv_make_error (err, e, "%s%swrite `%s` to `%s` (the container already uses more than that)",
                                 field ? field : "", field ? ": " : "", value, file);
      return runhv_make_error (err, e, "%s%swrite `%s` to `%s`", field ? field : "", field ? ": " : "", value, file);
    }
  return 0;
}

int
cgroup_write_u64 (const struct cgroup_manager *m, int dirfd, const char *file, uint64_t v, const char *field,
                  runhv_error_t *err)
{
  char buf[32];
  snprintf (buf, sizeof (buf), "%llu", (unsigned long long)v);
  return cgroup_write (m, dirfd, file, buf, field, err);
}

int
cgroup_write_i64 (const struct cgroup_manager *m, int dirfd, const char *file, int64_t v, const char *field,
                  runhv_error_t *err)
{
  char buf[32];
  snprintf (buf, sizeof (buf), "%lld", (long long)v);
  return cgroup_write (m, dirfd, file, buf, field, err);
}

int
cgroup_weight_device_error (const struct oci_weight_device *d, runhv_error_t *err)
{
  int e = (*err)->status;
  if (e != EOPNOTSUPP && e != ENODEV && e != EINVAL)
    return -1;
  runhv_error_release (err);
  if (e == EOPNOTSUPP)
    return runhv_make_error (
      err, e,
      "linux.resources.blockIO.weightDevice: device %lld:%lld does not use the BFQ I/O scheduler "
      "(echo bfq > /sys/dev/block/%lld:%lld/queue/scheduler, or remove it)",
      (long long)d->major, (long long)d->minor, (long long)d->major, (long long)d->minor);
  return runhv_make_error (err, e,
                           "linux.resources.blockIO.weightDevice: device %lld:%lld is not a block device here (remove "
                           "it)",
                           (long long)d->major, (long long)d->minor);
}

int
cgroup_read_u64 (int dirfd, const char *file, uint64_t *out)
{
  cleanup_free char *buf = NULL;
  char *end;
  if (read_file_at (dirfd, file, 4096, &buf, NULL, NULL) < 0)
    return -1;
  if (strncmp (buf, "max", 3) == 0)
    {
      *out = UINT64_MAX;
      return 0;
    }
  errno = 0;
  *out = strtoull (buf, &end, 10);
  if (errno != 0 || end == buf)
    return -1;
  return 0;
}

int
cgroup_wait_for (int dirfd, const char *file, const char *needle, runhv_error_t *err)
{
  /* The freezer settles asynchronously: poll quickly, then less so.  */
  for (int attempt = 0; attempt < 5000; attempt++)
    {
      cleanup_free char *v = NULL;
      if (read_file_at (dirfd, file, 4096, &v, NULL, err) < 0)
        return -1;
      if (strstr (v, needle) != NULL)
        return 0;
      usleep (attempt < 100 ? 100 : 1000);
    }
  return runhv_error (err, "the cgroup's %s did not reach `%s` in time", file, needle);
}

int
cgroup_v1_find (const struct cgroup_manager *m, const char *controller)
{
  size_t cl = strlen (controller);
  for (size_t i = 0; i < m->n_h; i++)
    {
      const char *n = m->h[i].name;
      while (n && *n)
        {
          const char *c = strchr (n, ',');
          size_t l = c ? (size_t)(c - n) : strlen (n);
          if (l == cl && strncmp (n, controller, l) == 0)
            return (int)i;
          n = c ? c + 1 : NULL;
        }
    }
  return -1;
}

int
cgroup_check_unfrozen (const struct cgroup_manager *m, runhv_error_t *err)
{
  int i = m->mode == CGROUP_MODE_V2 ? 0 : cgroup_v1_find (m, "freezer");
  cleanup_free char *dir = NULL;
  if (i < 0 || m->fake)
    return 0;
  /* The nearest directory that exists: a new cgroup starts as frozen as
     its parent (v1 FREEZING/FROZEN; v2 "frozen 1" in cgroup.events).  */
  dir = cgroup_host_dir (m, (size_t)i);
  for (;;)
    {
      cleanup_free char *v = NULL;
      cleanup_close int dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      char *slash;
      if (dfd >= 0)
        {
          bool frozen;
          if (m->mode == CGROUP_MODE_V2)
            frozen = read_file_at (dfd, "cgroup.events", 4096, &v, NULL, NULL) == 0 && strstr (v, "frozen 1") != NULL;
          else
            frozen = read_file_at (dfd, "freezer.state", 64, &v, NULL, NULL) == 0 && strncmp (v, "THAWED", 6) != 0;
          if (frozen)
            return runhv_make_error (err, EBUSY,
                                     "container's cgroup unexpectedly frozen (`%s` is frozen: thaw it, or use another "
                                     "cgroupsPath)",
                                     dir);
          return 0;
        }
      slash = strrchr (dir, '/');
      if (errno != ENOENT || slash == NULL || (size_t)(slash - dir) <= strlen (m->h[i].mountpoint))
        return 0;
      *slash = '\0';
    }
}

int
cgroup_create (struct cgroup_manager *m, runhv_error_t *err)
{
  for (size_t i = 0; i < m->n_h; i++)
    {
      cleanup_free char *dir = cgroup_host_dir (m, i);
      if (mkdir_p (dir, 0755, err) < 0)
        return runhv_error_wrap (err, "create cgroup");
      if (m->mode == CGROUP_MODE_V1 && cgroup_v1_prepare_dir (m, i, err) < 0)
        return -1;
    }
  if (m->mode == CGROUP_MODE_V2 && cgroup_v2_enable_controllers (m, err) < 0)
    return -1;
  return 0;
}

int
cgroup_enter (struct cgroup_manager *m, pid_t pid, runhv_error_t *err)
{
  char buf[32];
  snprintf (buf, sizeof (buf), "%d", (int)pid);
  for (size_t i = 0; i < m->n_h; i++)
    {
      cleanup_close int dfd = cgroup_open_dir (m, i, err);
      if (dfd < 0)
        return -1;
      if (cgroup_write (m, dfd, "cgroup.procs", buf, NULL, err) < 0)
        return runhv_error_wrap (err, "join cgroup `%s` of hierarchy `%s`", m->h[i].path,
                                 m->h[i].name[0] ? m->h[i].name : "unified");
    }
  return 0;
}

/* Whether hierarchy name "cpu,cpuacct" carries one of the controllers in
   the comma-separated list (of len bytes).  */
static bool
hierarchy_has_any (const char *name, const char *list, size_t len)
{
  const char *p = list, *end = list + len;
  while (p < end)
    {
      const char *c = memchr (p, ',', (size_t)(end - p));
      size_t l = c ? (size_t)(c - p) : (size_t)(end - p);
      cleanup_free char *one = xstrndup (p, l);
      struct cgroup_manager probe = { .h = &(struct cgroup_hierarchy){ .name = (char *)name }, .n_h = 1 };
      if (cgroup_v1_find (&probe, one) == 0)
        return true;
      p += l + 1;
    }
  return false;
}

int
cgroup_manager_sub (const struct cgroup_manager *m, char *const *subs, struct cgroup_manager **out, runhv_error_t *err)
{
  struct cgroup_manager *n = xmalloc0 (sizeof (*n));
  n->mode = m->mode;
  n->root = xstrdup (m->root);
  n->fake = m->fake;
  for (size_t i = 0; i < m->n_h; i++)
    add_hierarchy (n, m->h[i].name, m->h[i].mountpoint, m->h[i].path);
  for (size_t k = 0; subs != NULL && subs[k] != NULL; k++)
    {
      const char *colon = strchr (subs[k], ':');
      const char *path = colon ? colon + 1 : subs[k];
      bool matched = false;
      while (*path == '/')
        path++;
      /* runc: a sub-cgroup, never a way out of the container's own.  */
      for (const char *c = path; c != NULL; c = strchr (c, '/') ? strchr (c, '/') + 1 : NULL)
        if (strncmp (c, "..", 2) == 0 && (c[2] == '/' || c[2] == '\0'))
          {
            cgroup_manager_free (n);
            return runhv_error (err, "exec --cgroup `%s`: %s is not a sub-cgroup path (remove the `..`)", subs[k],
                                path);
          }
      if (*path == '\0')
        {
          cgroup_manager_free (n);
          return runhv_error (err, "exec --cgroup `%s`: no sub-cgroup path given (use [controller:]path)", subs[k]);
        }
      if (colon != NULL && m->mode == CGROUP_MODE_V2)
        {
          cgroup_manager_free (n);
          return runhv_error (err, "exec --cgroup `%s`: cgroup v2 has one hierarchy (drop the `controller:` prefix)",
                              subs[k]);
        }
      for (size_t i = 0; i < n->n_h; i++)
        {
          if (colon != NULL && !hierarchy_has_any (n->h[i].name, subs[k], (size_t)(colon - subs[k])))
            continue;
          free (n->h[i].path);
          n->h[i].path = join_path (m->h[i].path, path);
          matched = true;
        }
      if (!matched)
        {
          cgroup_manager_free (n);
          return runhv_error (err, "exec --cgroup `%s`: no cgroup hierarchy on this host has that controller", subs[k]);
        }
    }
  *out = n;
  return 0;
}

int
cgroup_apply (struct cgroup_manager *m, const struct oci_resources *r, runhv_error_t *err)
{
  if (r == NULL)
    return 0;
  return m->mode == CGROUP_MODE_V2 ? cgroup_v2_apply (m, r, err) : cgroup_v1_apply (m, r, err);
}

int
cgroup_freeze (struct cgroup_manager *m, bool frozen, runhv_error_t *err)
{
  return m->mode == CGROUP_MODE_V2 ? cgroup_v2_freeze (m, frozen, err) : cgroup_v1_freeze (m, frozen, err);
}

bool
cgroup_is_frozen (struct cgroup_manager *m)
{
  return m->mode == CGROUP_MODE_V2 ? cgroup_v2_is_frozen (m) : cgroup_v1_is_frozen (m);
}

int
cgroup_stats (struct cgroup_manager *m, struct container_stats *s, runhv_error_t *err)
{
  memset (s, 0, sizeof (*s));
  return m->mode == CGROUP_MODE_V2 ? cgroup_v2_stats (m, s, err) : cgroup_v1_stats (m, s, err);
}

int
cgroup_oom_watch (struct cgroup_manager *m, runhv_error_t *err)
{
  cleanup_close int dfd = -1;
  int i = m->mode == CGROUP_MODE_V2 ? 0 : cgroup_v1_find (m, "memory");
  if (i < 0 || (size_t)i >= m->n_h)
    return runhv_make_error (err, ENOENT, "no memory cgroup to watch for OOM kills");
  dfd = cgroup_open_dir (m, (size_t)i, err);
  if (dfd < 0)
    return -1;
  if (m->mode == CGROUP_MODE_V2)
    {
      /* memory.events is modified (and notifies) when oom_kill changes.  */
      cleanup_free char *path = xasprintf ("/proc/self/fd/%d/memory.events", dfd);
      int fd = inotify_init1 (IN_CLOEXEC | IN_NONBLOCK);
      if (fd < 0)
        return runhv_make_error (err, errno, "inotify_init1");
      if (inotify_add_watch (fd, path, IN_MODIFY) < 0)
        {
          int e = errno;
          close (fd);
          return runhv_make_error (err, e, "watch memory.events of the container's cgroup");
        }
      return fd;
    }
  {
    /* v1: an eventfd registered on memory.oom_control through
       cgroup.event_control; the kernel keeps its own reference to the
       control file.  */
    cleanup_close int ctl = openat (dfd, "memory.oom_control", O_RDONLY | O_CLOEXEC);
    cleanup_free char *line = NULL;
    int efd;
    if (ctl < 0)
      return runhv_make_error (err, errno, "open memory.oom_control");
    efd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (efd < 0)
      return runhv_make_error (err, errno, "eventfd");
    line = xasprintf ("%d %d", efd, ctl);
    if (cgroup_write (m, dfd, "cgroup.event_control", line, "OOM notification", err) < 0)
      {
        close (efd);
        return -1;
      }
    return efd;
  }
}

void
cgroup_oom_watch_drain (int fd)
{
  char buf[4096];
  while (read (fd, buf, sizeof (buf)) > 0)
    ;
}

/* The hierarchy whose cgroup.procs lists the container's processes.  */
static int
procs_hierarchy (const struct cgroup_manager *m)
{
  int i;
  if (m->mode == CGROUP_MODE_V2)
    return 0;
  i = cgroup_v1_find (m, "pids");
  if (i < 0)
    i = cgroup_v1_find (m, "memory");
  if (i < 0)
    i = cgroup_v1_find (m, "freezer");
  return i < 0 ? 0 : i;
}

int
cgroup_pids (struct cgroup_manager *m, pid_t **pids, size_t *n, runhv_error_t *err)
{
  cleanup_close int dfd = -1;
  cleanup_free char *buf = NULL;
  char *line, *next;
  size_t cap = 16;
  *n = 0;
  *pids = xmalloc0 (cap * sizeof (pid_t));
  dfd = cgroup_open_dir (m, (size_t)procs_hierarchy (m), err);
  if (dfd < 0)
    {
      free (*pids);
      *pids = NULL;
      return -1;
    }
  if (read_file_at (dfd, "cgroup.procs", 0, &buf, NULL, err) < 0)
    {
      free (*pids);
      *pids = NULL;
      return -1;
    }
  for (line = buf; line && *line; line = next)
    {
      int64_t v;
      next = strchr (line, '\n');
      if (next)
        *next++ = '\0';
      if (parse_int64 (line, &v) < 0 || v <= 0)
        continue;
      if (*n == cap)
        {
          cap *= 2;
          *pids = xrealloc (*pids, cap * sizeof (pid_t));
        }
      (*pids)[(*n)++] = (pid_t)v;
    }
  return 0;
}

int
cgroup_signal_all (struct cgroup_manager *m, int sig, runhv_error_t *err)
{
  cleanup_free pid_t *pids = NULL;
  size_t n = 0;
  if (cgroup_pids (m, &pids, &n, err) < 0)
    return -1;
  for (size_t i = 0; i < n; i++)
    if (kill (pids[i], sig) < 0 && errno != ESRCH)
      return runhv_make_error (err, errno, "signal process %d", (int)pids[i]);
  return 0;
}

/* Thaw and SIGKILL everything in the cgroup at dfd and in every cgroup
   below it: processes in sub-cgroups keep those busy, and a frozen one
   cannot die (a v1 child frozen by itself stays so when its parent thaws). */
static void
kill_subtree (const struct cgroup_manager *m, int dfd, int depth)
{
  cleanup_free char *procs = NULL;
  cleanup_dir DIR *d = NULL;
  struct dirent *de;
  int fd;
  if (depth > 64)
    return;
  if (m->mode == CGROUP_MODE_V2)
    {
      /* cgroup.kill (5.14) takes the whole subtree, frozen or not.  */
      if (depth == 0 && write_file_at (dfd, "cgroup.kill", "1", 1, NULL) == 0)
        return;
      write_file_at (dfd, "cgroup.freeze", "0", 1, NULL);
    }
  else if (faccessat (dfd, "freezer.state", F_OK, 0) == 0)
    write_file_at (dfd, "freezer.state", "THAWED", 6, NULL);
  if (read_file_at (dfd, "cgroup.procs", 0, &procs, NULL, NULL) == 0)
    for (char *line = procs, *next; line && *line; line = next)
      {
        int64_t v;
        next = strchr (line, '\n');
        if (next)
          *next++ = '\0';
        if (parse_int64 (line, &v) == 0 && v > 0)
          kill ((pid_t)v, SIGKILL);
      }
  fd = openat (dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || (d = fdopendir (fd)) == NULL)
    {
      if (fd >= 0)
        close (fd);
      return;
    }
  while ((de = readdir (d)) != NULL)
    {
      cleanup_close int sub = -1;
      if (de->d_type != DT_DIR || strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      sub = openat (dirfd (d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub >= 0)
        kill_subtree (m, sub, depth + 1);
    }
}

/* rmdir the cgroups below dfd, deepest first (cgroupfs refuses to remove a
   cgroup that has children); errno of the first failure.  */
static int
rmdir_children (int dfd, int depth)
{
  cleanup_dir DIR *d = NULL;
  struct dirent *de;
  int fd;
  if (depth > 64)
    {
      errno = ELOOP;
      return -1;
    }
  fd = openat (dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || (d = fdopendir (fd)) == NULL)
    {
      if (fd >= 0)
        close (fd);
      return -1;
    }
  while ((de = readdir (d)) != NULL)
    {
      cleanup_close int sub = -1;
      if (de->d_type != DT_DIR || strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      sub = openat (dirfd (d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub < 0 || rmdir_children (sub, depth + 1) < 0
          || (unlinkat (dirfd (d), de->d_name, AT_REMOVEDIR) < 0 && errno != ENOENT))
        return -1;
    }
  return 0;
}

/* Remove one hierarchy's cgroup with its sub-cgroups (a container may make
   its own, e.g. systemd or a nested runtime inside it).  */
static int
rmdir_tree (const char *dir)
{
  cleanup_close int dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return errno == ENOENT ? 0 : -1;
  if (rmdir_children (dfd, 0) < 0)
    return -1;
  if (rmdir (dir) < 0 && errno != ENOENT)
    return -1;
  return 0;
}

void
cgroup_kill_tree (struct cgroup_manager *m)
{
  if (m->fake)
    return;
  for (size_t i = 0; i < m->n_h; i++)
    {
      cleanup_free char *dir = cgroup_host_dir (m, i);
      cleanup_close int dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (dfd >= 0)
        kill_subtree (m, dfd, 0);
    }
}

int
cgroup_destroy (struct cgroup_manager *m, bool kill_all, runhv_error_t *err)
{
  struct timespec start, now;
  clock_gettime (CLOCK_MONOTONIC, &start);
  for (size_t i = m->n_h; i-- > 0;)
    {
      cleanup_free char *dir = cgroup_host_dir (m, i);
      for (int attempt = 0;; attempt++)
        {
          if (m->fake)
            {
              if (rm_rf (dir, err) < 0)
                return -1;
              break;
            }
          if (rmdir_tree (dir) == 0)
            break;
          if (errno != EBUSY)
            return runhv_make_error (err, errno, "remove cgroup `%s`", dir);
          if (kill_all)
            cgroup_kill_tree (m);
          clock_gettime (CLOCK_MONOTONIC, &now);
          if (now.tv_sec - start.tv_sec > 5)
            return runhv_make_error (err, EBUSY, "remove cgroup `%s` (processes are still in it)", dir);
          usleep (attempt < 10 ? 1000 : 10000);
        }
    }
  return 0;
}

#include "process/rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"
#include "core/banned.h"

#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif

static int
openat2_in_root (int rootfd, const char *path, int flags)
{
  struct open_how how = {
    .flags = (uint64_t)flags | O_CLOEXEC,
    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
  };
  int fd;
  while (*path == '/')
    path++;
  if (*path == '\0')
    path = ".";
  do
    fd = (int)syscall (SYS_openat2, rootfd, path, &how, sizeof (how));
  while (fd < 0 && errno == EAGAIN);
  return fd;
}

int
rootfs_open_in_root (int rootfd, const char *path, bool create_dir, bool create_file, runhv_error_t *err)
{
  int fd = openat2_in_root (rootfd, path, O_PATH);
  cleanup_free char *parent = NULL;
  const char *base;
  cleanup_close int pfd = -1;

  if (fd >= 0 || errno != ENOENT || (!create_dir && !create_file))
    {
      if (fd < 0)
        return runhv_make_error (err, errno, "open `%s` in the rootfs", path);
      return fd;
    }
  /* Create the missing leaf after making sure its parent exists (inside the
     root: a symlink in the path cannot lead out).  */
  parent = xstrdup (path);
  {
    char *slash;
    size_t l = strlen (parent);
    while (l > 1 && parent[l - 1] == '/')
      parent[--l] = '\0';
    slash = strrchr (parent, '/');
    if (slash == NULL)
      {
        base = path;
        free (parent);
        parent = xstrdup ("/");
      }
    else
      {
        base = path + (slash - parent) + 1;
        if (slash == parent)
          slash[1] = '\0';
        else
          *slash = '\0';
      }
  }
  pfd = rootfs_open_in_root (rootfd, parent, true, false, err);
  if (pfd < 0)
    return -1;
  {
    cleanup_close int dirfd2 = -1;
    char name[NAME_MAX + 1];
    size_t bl = strcspn (base, "/");
    if (bl == 0 || bl > NAME_MAX)
      return runhv_error (err, "open `%s` in the rootfs: bad path", path);
    memcpy (name, base, bl);
    name[bl] = '\0';
    if (strcmp (name, "..") == 0 || strcmp (name, ".") == 0)
      return runhv_error (err, "open `%s` in the rootfs: `..` is not allowed here", path);
    /* O_PATH fds cannot be used with mkdirat: reopen as a directory.  */
    {
      char proc[64];
      snprintf (proc, sizeof (proc), "/proc/self/fd/%d", pfd);
      dirfd2 = open (proc, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (dirfd2 < 0)
        return runhv_make_error (err, errno, "open the parent of `%s` in the rootfs", path);
    }
    if (create_file)
      {
        int f = openat (dirfd2, name, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0644);
        if (f < 0 && errno != EEXIST)
          return runhv_make_error (err, errno, "create `%s` in the rootfs", path);
        if (f >= 0)
          close (f);
      }
    else if (mkdirat (dirfd2, name, 0755) < 0 && errno != EEXIST)
      return runhv_make_error (err, errno, "create directory `%s` in the rootfs", path);
  }
  fd = openat2_in_root (rootfd, path, O_PATH);
  if (fd < 0)
    return runhv_make_error (err, errno, "open `%s` in the rootfs", path);
  return fd;
}

static char *
fd_path (int fd)
{
  return xasprintf ("/proc/self/fd/%d", fd);
}

/* Flags a remount must keep: the kernel refuses to clear them on a mount
   that came from a less privileged or locked source.  */
static unsigned long
locked_flags (const char *path)
{
  struct statvfs sv;
  unsigned long f = 0;
  if (statvfs (path, &sv) < 0)
    return 0;
  if (sv.f_flag & ST_NOSUID)
    f |= MS_NOSUID;
  if (sv.f_flag & ST_NODEV)
    f |= MS_NODEV;
  if (sv.f_flag & ST_NOEXEC)
    f |= MS_NOEXEC;
  return f;
}

static int
remount_bind (const char *target, unsigned long flags, bool keep_locked, runhv_error_t *err)
{
  unsigned long f = (flags & ~(MS_REC | MS_REMOUNT | MS_BIND)) | MS_BIND | MS_REMOUNT;
  if (keep_locked)
    f |= locked_flags (target);
  if (mount (NULL, target, NULL, f, NULL) < 0)
    {
      /* Retry keeping the source's locked flags (user namespaces).  */
      if (errno == EPERM && !keep_locked)
        return remount_bind (target, flags, true, err);
      return runhv_make_error (err, errno, "remount `%s`", target);
    }
  return 0;
}

static int
mount_cgroup_v1 (const struct cgroup_manager *cg, const struct oci_mount *m, const char *top, runhv_error_t *err)
{
  cleanup_close int dirfd2 = open (top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd2 < 0)
    return runhv_make_error (err, errno, "mounts[%s]: open", m->destination);
  for (size_t i = 0; i < cg->n_h; i++)
    {
      const char *name = cg->h[i].name;
      cleanup_free char *sub = NULL, *src = NULL;
      if (strncmp (name, "name=", 5) == 0)
        name += 5;
      if (name[0] == '\0')
        name = "unified";
      if (mkdirat (dirfd2, name, 0755) < 0 && errno != EEXIST)
        return runhv_make_error (err, errno, "mounts[%s]: create `%s`", m->destination, name);
      sub = xasprintf ("%s/%s", top, name);
      src = cgroup_host_dir (cg, i);
      if (mount (src, sub, NULL, MS_BIND | MS_REC, NULL) < 0)
        return runhv_make_error (err, errno, "mounts[%s]: bind cgroup `%s`", m->destination, src);
      if (remount_bind (sub, m->flags | MS_NOSUID | MS_NODEV | MS_NOEXEC, false, err) < 0)
        return -1;
      /* "cpu,cpuacct" is also reachable as cpu and cpuacct.  */
      if (strchr (name, ',') != NULL)
        {
          cleanup_free char *copy = xstrdup (name);
          char *save = copy, *c;
          while ((c = strsep (&save, ",")) != NULL)
            if (symlinkat (name, dirfd2, c) < 0 && errno != EEXIST)
              return runhv_make_error (err, errno, "mounts[%s]: link `%s`", m->destination, c);
        }
    }
  return 0;
}

static int
mount_cgroup_fs (struct rootfs_context *ctx, int rootfd, const struct oci_mount *m, int target_fd, runhv_error_t *err)
{
  const struct cgroup_manager *cg = ctx->cgroups;
  cleanup_free char *target = fd_path (target_fd), *top = NULL;
  cleanup_close int topfd = -1;

  if (cg == NULL)
    return 0;
  if (cg->mode == CGROUP_MODE_V2)
    {
      cleanup_free char *src = NULL;
      if (ctx->cgroupns)
        {
          if (mount ("cgroup2", target, "cgroup2", m->flags, NULL) == 0)
            return 0;
          if (errno != EPERM && errno != EBUSY)
            return runhv_make_error (err, errno, "mounts[%s]: mount cgroup2", m->destination);
        }
      src = cgroup_host_dir (cg, 0);
      if (mount (src, target, NULL, MS_BIND | MS_REC, NULL) < 0)
        return runhv_make_error (err, errno, "mounts[%s]: bind cgroup `%s`", m->destination, src);
      topfd = rootfs_open_in_root (rootfd, m->destination, false, false, err);
      if (topfd < 0)
        return -1;
      top = fd_path (topfd);
      if (remount_bind (top, m->flags, false, err) < 0)
        return runhv_error_wrap (err, "mounts[%s]", m->destination);
      return 0;
    }
  /* v1: a tmpfs holding one directory per hierarchy, as runc lays it out. */
  if (mount ("tmpfs", target, "tmpfs", m->flags & ~MS_RDONLY, "mode=755") < 0)
    return runhv_make_error (err, errno, "mounts[%s]: mount tmpfs for cgroups", m->destination);
  /* target_fd names the directory under the new tmpfs: look the path up
     again to land on top of it.  */
  topfd = rootfs_open_in_root (rootfd, m->destination, false, false, err);
  if (topfd < 0)
    return -1;
  top = fd_path (topfd);
  if (mount_cgroup_v1 (cg, m, top, err) < 0)
    return -1;
  if ((m->flags & MS_RDONLY) && remount_bind (top, m->flags, false, err) < 0)
    return runhv_error_wrap (err, "mounts[%s]", m->destination);
  return 0;
}

static bool
has_data_opt (const char *data, const char *opt)
{
  size_t ol = strlen (opt);
  for (const char *p = data; p && *p;)
    {
      if (strncmp (p, opt, ol) == 0 && (p[ol] == ',' || p[ol] == '\0'))
        return true;
      p = strchr (p, ',');
      if (p)
        p++;
    }
  return false;
}

static char *
without_data_opt (const char *data, const char *opt)
{
  char *r = xstrdup ("");
  size_t ol = strlen (opt);
  for (const char *p = data; p && *p;)
    {
      const char *c = strchr (p, ',');
      size_t l = c ? (size_t)(c - p) : strlen (p);
      if (!(l == ol && strncmp (p, opt, ol) == 0))
        {
          char *n = xasprintf ("%s%s%.*s", r, r[0] ? "," : "", (int)l, p);
          free (r);
          r = n;
        }
      p = c ? c + 1 : NULL;
    }
  return r;
}

/* linux.mountLabel as SELinux's context= option, as runc adds it: not on
   proc, sysfs and mqueue, which SELinux labels itself.  (security.c has
   refused a label on a host without SELinux.)  */
static char *
with_mount_label (const char *label, const char *type, const char *data)
{
  if (label == NULL || label[0] == '\0' || strcmp (type, "proc") == 0 || strcmp (type, "sysfs") == 0
      || strcmp (type, "mqueue") == 0)
    return data ? xstrdup (data) : NULL;
  return xasprintf ("%s%scontext=\"%s\"", data ? data : "", data && data[0] ? "," : "", label);
}

/* rro, rnosuid, ...: on the mount and every mount under it.  runc 1.1
   applies them to bind mounts only and ignores them elsewhere; here they
   hold for every type.  */
static int
set_rec_attr (const struct oci_mount *m, const char *target, runhv_error_t *err)
{
  struct mount_attr attr = { .attr_set = m->rec_attr_set, .attr_clr = m->rec_attr_clr };
  if (m->rec_attr_set == 0 && m->rec_attr_clr == 0)
    return 0;
  if (mount_setattr (AT_FDCWD, target, AT_RECURSIVE, &attr, sizeof (attr)) < 0)
    {
      if (errno == ENOSYS)
        return runhv_error (err,
                            "mounts[%s]: recursive options (rro, rnosuid, ...) need mount_setattr, Linux 5.12 "
                            "or later (use the non-recursive ones)",
                            m->destination);
      return runhv_make_error (err, errno, "mounts[%s]: set recursive options", m->destination);
    }
  return 0;
}

/* After a mount on /proc/self/fd/N, the fd still names the directory under
   the new mount: look the path up again to reach the mount itself.  */
static int
reopen_target (int rootfd, const struct oci_mount *m, int *tfd, char **target, runhv_error_t *err)
{
  int fd = rootfs_open_in_root (rootfd, m->destination, false, false, err);
  if (fd < 0)
    return runhv_error_wrap (err, "mounts[%s]", m->destination);
  close (*tfd);
  *tfd = fd;
  free (*target);
  *target = fd_path (fd);
  return 0;
}

/* "/dev", also written "/dev/" or "//dev".  */
static bool
is_dev (const char *destination)
{
  const char *p = destination;
  while (*p == '/')
    p++;
  if (strncmp (p, "dev", 3) != 0)
    return false;
  for (p += 3; *p == '/'; p++)
    ;
  return *p == '\0';
}

/* Mounted writable and made read-only in rootfs_finalize, as runc does:
   devices, /dev/pts and the /dev symlinks are still to be made in /dev,
   and a tmpfs may still be written to by what follows.  */
static bool
read_only_later (const struct oci_mount *m)
{
  return (m->flags & MS_RDONLY) && !m->bind && m->type != NULL
         && (strcmp (m->type, "tmpfs") == 0 || is_dev (m->destination));
}

int
rootfs_open_bind_sources (const struct oci_spec *s, int **out, runhv_error_t *err)
{
  int *fds = xmalloc0 ((s->n_mounts + 1) * sizeof (*fds));
  for (size_t i = 0; i < s->n_mounts; i++)
    fds[i] = -1;
  for (size_t i = 0; i < s->n_mounts; i++)
    {
      const struct oci_mount *m = &s->mounts[i];
      if (!m->bind || (m->type != NULL && strcmp (m->type, "cgroup") == 0))
        continue;
      fds[i] = open_tree (AT_FDCWD, m->source,
                          OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | ((m->flags & MS_REC) ? AT_RECURSIVE : 0));
      if (fds[i] < 0)
        {
          int e = errno;
          rootfs_close_bind_sources (s, fds);
          return runhv_make_error (err, e, "mounts[%s]: open bind source `%s`", m->destination, m->source);
        }
    }
  *out = fds;
  return 0;
}

void
rootfs_close_bind_sources (const struct oci_spec *s, int *fds)
{
  if (fds == NULL)
    return;
  for (size_t i = 0; i < s->n_mounts; i++)
    if (fds[i] >= 0)
      close (fds[i]);
  free (fds);
}

static int
bind_source (int source_fd, const struct oci_mount *m, int target_fd, const char *target, runhv_error_t *err)
{
  if (source_fd >= 0)
    {
      /* By the target's fd: move_mount refuses a /proc/self/fd path.  */
      if (move_mount (source_fd, "", target_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
        return runhv_make_error (err, errno, "mounts[%s]: bind `%s`", m->destination, m->source);
      return 0;
    }
  if (mount (m->source, target, NULL, MS_BIND | (m->flags & MS_REC), NULL) < 0)
    return runhv_make_error (err, errno, "mounts[%s]: bind `%s`", m->destination, m->source);
  return 0;
}

static int
do_mount (struct rootfs_context *ctx, int rootfd, size_t index, runhv_error_t *err)
{
  const struct oci_mount *m = &ctx->spec->mounts[index];
  int source_fd = ctx->bind_fds ? ctx->bind_fds[index] : -1;
  cleanup_close int tfd = -1;
  cleanup_free char *target = NULL;
  const char *type = m->type;
  bool is_file = false;

  if (m->bind)
    {
      struct stat st;
      if (source_fd >= 0 ? fstat (source_fd, &st) == 0 : stat (m->source, &st) == 0)
        is_file = !S_ISDIR (st.st_mode);
    }

  tfd = rootfs_open_in_root (rootfd, m->destination, !is_file, is_file, err);
  if (tfd < 0)
    return runhv_error_wrap (err, "mounts[%s]", m->destination);
  target = fd_path (tfd);

  if (type != NULL && strcmp (type, "cgroup") == 0)
    {
      if (mount_cgroup_fs (ctx, rootfd, m, tfd, err) < 0 || reopen_target (rootfd, m, &tfd, &target, err) < 0)
        return -1;
      return set_rec_attr (m, target, err);
    }

  if (m->bind)
    {
      if (bind_source (source_fd, m, tfd, target, err) < 0)
        return -1;
      if (reopen_target (rootfd, m, &tfd, &target, err) < 0)
        return -1;
      if ((m->flags & ~(MS_REC | MS_REMOUNT)) != 0 && remount_bind (target, m->flags, false, err) < 0)
        return runhv_error_wrap (err, "mounts[%s]", m->destination);
    }
  else
    {
      unsigned long flags = m->flags & ~MS_REC & ~(read_only_later (m) ? MS_RDONLY : 0);
      cleanup_free char *data = with_mount_label (ctx->spec->mount_label, type, m->data);
      if (mount (m->source ? m->source : type, target, type, flags, data) < 0)
        {
          int e = errno;
          /* Inside a user namespace some filesystems cannot be mounted
             fresh; fall back as runc does.  */
          if (strcmp (type, "devpts") == 0 && e == EINVAL && has_data_opt (m->data, "gid=5"))
            {
              cleanup_free char *d = without_data_opt (m->data, "gid=5");
              if (mount (m->source ? m->source : type, target, type, flags, d) == 0)
                goto mounted;
              e = errno;
            }
          if ((strcmp (type, "sysfs") == 0 || strcmp (type, "mqueue") == 0) && (e == EPERM || e == EACCES))
            {
              const char *host = strcmp (type, "sysfs") == 0 ? "/sys" : "/dev/mqueue";
              if (mount (host, target, NULL, MS_BIND | MS_REC, NULL) == 0)
                {
                  if (reopen_target (rootfd, m, &tfd, &target, err) < 0 || remount_bind (target, flags, true, err) < 0)
                    return -1;
                  goto propagation;
                }
            }
          return runhv_make_error (err, e, "mounts[%s]: mount %s `%s`%s%s%s", m->destination, type,
                                   m->source ? m->source : type, m->data ? " (options " : "", m->data ? m->data : "",
                                   m->data ? ")" : "");
        }
    mounted:
      if (reopen_target (rootfd, m, &tfd, &target, err) < 0)
        return -1;
    }
propagation:
  if (m->propagation != 0 && mount (NULL, target, NULL, m->propagation, NULL) < 0)
    return runhv_make_error (err, errno, "mounts[%s]: set propagation", m->destination);
  return set_rec_attr (m, target, err);
}

static const struct
{
  const char *name;
  unsigned major, minor;
} default_devices[] = {
  { "null", 1, 3 }, { "zero", 1, 5 }, { "full", 1, 7 }, { "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 },
};

static int
make_device (struct rootfs_context *ctx, int rootfd, const char *path, char type, unsigned long major,
             unsigned long minor, mode_t perm, uid_t uid, gid_t gid, runhv_error_t *err)
{
  cleanup_close int pfd = -1, dfd = -1;
  cleanup_free char *parent = xstrdup (path), *hostpath = NULL;
  char *slash = strrchr (parent, '/');
  const char *name = slash ? slash + 1 : path;
  mode_t kind = type == 'b' ? S_IFBLK : type == 'p' ? S_IFIFO : S_IFCHR;
  char proc[64];

  if (slash)
    *slash = '\0';
  pfd = rootfs_open_in_root (rootfd, parent[0] ? parent : "/", true, false, err);
  if (pfd < 0)
    return -1;
  snprintf (proc, sizeof (proc), "/proc/self/fd/%d", pfd);
  dfd = open (proc, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return runhv_make_error (err, errno, "open `%s`", parent);
  if (!ctx->userns || type == 'p')
    {
      (void)unlinkat (dfd, name, 0);
      if (mknodat (dfd, name, kind | (perm & 07777), makedev (major, minor)) < 0)
        return runhv_make_error (err, errno, "mknod `%s`", path);
      if (fchmodat (dfd, name, perm & 07777, 0) < 0)
        return runhv_make_error (err, errno, "chmod `%s`", path);
      if (fchownat (dfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
        return runhv_make_error (err, errno, "chown `%s`", path);
      return 0;
    }
  /* No mknod in a user namespace: bind the host's node instead.  */
  hostpath = xasprintf ("/dev/%s", path + 5);
  {
    int f = openat (dfd, name, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
    cleanup_close int tfd = -1;
    cleanup_free char *target = NULL;
    if (f < 0 && errno != EEXIST)
      return runhv_make_error (err, errno, "create `%s`", path);
    if (f >= 0)
      close (f);
    tfd = rootfs_open_in_root (rootfd, path, false, false, err);
    if (tfd < 0)
      return -1;
    target = fd_path (tfd);
    if (mount (hostpath, target, NULL, MS_BIND, NULL) < 0)
      return runhv_make_error (err, errno, "bind device `%s`", hostpath);
  }
  return 0;
}

static int
create_devices (struct rootfs_context *ctx, int rootfd, runhv_error_t *err)
{
  const struct oci_spec *s = ctx->spec;
  static const struct
  {
    const char *target, *link;
  } links[] = {
    { "/proc/self/fd", "/dev/fd" },       { "/proc/self/fd/0", "/dev/stdin" }, { "/proc/self/fd/1", "/dev/stdout" },
    { "/proc/self/fd/2", "/dev/stderr" }, { "pts/ptmx", "/dev/ptmx" },
  };
  bool dev_is_mount = false;
  for (size_t i = 0; i < s->n_mounts; i++)
    if (is_dev (s->mounts[i].destination))
      dev_is_mount = true;

  if (dev_is_mount)
    {
      for (size_t i = 0; i < sizeof (default_devices) / sizeof (default_devices[0]); i++)
        {
          cleanup_free char *p = xasprintf ("/dev/%s", default_devices[i].name);
          bool overridden = false;
          for (size_t k = 0; k < s->n_devices; k++)
            if (strcmp (s->devices[k].path, p) == 0)
              overridden = true;
          if (overridden)
            continue;
          if (make_device (ctx, rootfd, p, 'c', default_devices[i].major, default_devices[i].minor, 0666, 0, 0, err)
              < 0)
            return -1;
        }
      for (size_t i = 0; i < sizeof (links) / sizeof (links[0]); i++)
        {
          cleanup_close int dfd = -1;
          cleanup_close int pfd = rootfs_open_in_root (rootfd, "/dev", true, false, err);
          char proc[64];
          if (pfd < 0)
            return -1;
          snprintf (proc, sizeof (proc), "/proc/self/fd/%d", pfd);
          dfd = open (proc, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
          if (dfd < 0)
            return runhv_make_error (err, errno, "open /dev in the rootfs");
          if (symlinkat (links[i].target, dfd, links[i].link + 5) < 0 && errno != EEXIST)
            return runhv_make_error (err, errno, "create symlink `%s`", links[i].link);
        }
    }
  for (size_t i = 0; i < s->n_devices; i++)
    {
      const struct oci_device *d = &s->devices[i];
      if (make_device (ctx, rootfd, d->path, d->type == 'u' ? 'c' : d->type, (unsigned long)d->major,
                       (unsigned long)d->minor, d->has_file_mode ? d->file_mode : 0666, d->has_uid ? d->uid : 0,
                       d->has_gid ? d->gid : 0, err)
          < 0)
        return runhv_error_wrap (err, "linux.devices[%zu]", i);
    }
  return 0;
}

/* The mount that holds `path` (the longest mount point above it), in this
   mount namespace, and whether it is shared.  */
static int
parent_mount (const char *path, char **point, bool *shared, runhv_error_t *err)
{
  cleanup_free char *buf = NULL;
  struct mountinfo_entry e;
  size_t best = 0;
  *point = NULL;
  *shared = false;
  if (read_file ("/proc/self/mountinfo", 0, &buf, NULL, err) < 0)
    return -1;
  for (char *cursor = buf; mountinfo_next_entry (&cursor, &e);)
    {
      size_t len = strlen (e.point);
      if (!(strcmp (e.point, "/") == 0
            || (strncmp (path, e.point, len) == 0 && (path[len] == '/' || path[len] == '\0'))))
        continue;
      if (strcmp (e.point, "/") == 0)
        len = 1;
      /* the last of equally long ones is the mount on top */
      if (len >= best)
        {
          best = len;
          free (*point);
          *point = xstrdup (e.point);
          *shared = e.shared;
        }
    }
  return 0;
}

int
rootfs_prepare (struct rootfs_context *ctx, runhv_error_t *err)
{
  const struct oci_spec *s = ctx->spec;
  unsigned long prop = s->rootfs_propagation ? s->rootfs_propagation : (MS_SLAVE | MS_REC);
  cleanup_close int rootfd = -1;

  /* Keep the container's mounts from propagating back to the host.  */
  if (mount (NULL, "/", NULL, prop, NULL) < 0)
    return runhv_make_error (err, errno, "linux.rootfsPropagation: set propagation of /");
  /* As runc: with "/" (r)shared, the mount holding the rootfs is shared
     too; a bind of it would join its peer group, which pivot_root refuses
     (EINVAL), and would show up in the host's namespace.  Make that one
     mount private; the rest keep the propagation asked for.  */
  {
    cleanup_free char *parent = NULL, *real = realpath (ctx->rootfs, NULL);
    bool shared = false;
    if (parent_mount (real ? real : ctx->rootfs, &parent, &shared, err) < 0)
      return -1;
    if (shared && mount (NULL, parent, NULL, MS_PRIVATE, NULL) < 0)
      return runhv_make_error (err, errno, "linux.rootfsPropagation: make `%s`, which holds the rootfs, private",
                               parent);
  }
  /* Make the rootfs a mount point of its own (pivot_root needs one).  */
  if (mount (ctx->rootfs, ctx->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
    return runhv_make_error (err, errno, "root.path: bind the rootfs `%s`", ctx->rootfs);
  rootfd = open (ctx->rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0)
    return runhv_make_error (err, errno, "root.path: open `%s`", ctx->rootfs);
  for (size_t i = 0; i < s->n_mounts; i++)
    if (do_mount (ctx, rootfd, i, err) < 0)
      return -1;
  return create_devices (ctx, rootfd, err);
}

static int
chroot_cwd (runhv_error_t *err)
{
  if (chroot (".") < 0)
    return runhv_make_error (err, errno, "chroot into the rootfs");
  if (chdir ("/") < 0)
    return runhv_make_error (err, errno, "chdir /");
  return 0;
}

/* --no-pivot leaves the old root's mounts in the namespace, under the
   chroot.  The kernel lets a user namespace mount a fresh procfs or sysfs
   only where a full one is already visible in its mount namespace; the
   host's /proc and /sys, still mounted down there, would satisfy that and
   hand a nested user namespace in the container an unmasked procfs.
   Detach every full proc and sysfs mount outside the rootfs first (or,
   where it is locked, as in a user namespace, cover it with a tmpfs), as
   runc 1.1.5 does.  */
static int
detach_host_proc_sys (const char *rootfs, runhv_error_t *err)
{
  cleanup_free char *buf = NULL;
  cleanup_strv char **points = NULL;
  char *cursor, *root, *point, *fstype, *super;
  size_t rl = strlen (rootfs);

  if (read_file ("/proc/self/mountinfo", 0, &buf, NULL, err) < 0)
    return -1;
  for (cursor = buf; mountinfo_next_root (&cursor, &root, &point, &fstype, &super);)
    if (strcmp (root, "/") == 0 && (strcmp (fstype, "proc") == 0 || strcmp (fstype, "sysfs") == 0)
        && !(strncmp (point, rootfs, rl) == 0 && (point[rl] == '/' || point[rl] == '\0')))
      strv_append (&points, point);
  for (size_t i = 0; points && points[i]; i++)
    {
      /* keep the unmount from reaching the host */
      if (mount (NULL, points[i], NULL, MS_SLAVE | MS_REC, NULL) < 0)
        {
          if (errno == ENOENT)
            continue; /* under one detached already */
          return runhv_make_error (err, errno, "--no-pivot: make `%s` a slave", points[i]);
        }
      if (umount2 (points[i], MNT_DETACH) == 0)
        continue;
      if (errno != EINVAL && errno != EPERM)
        return runhv_make_error (err, errno, "--no-pivot: unmount the host's `%s`", points[i]);
      if (mount ("tmpfs", points[i], "tmpfs", 0, NULL) < 0)
        return runhv_make_error (err, errno, "--no-pivot: cover the host's `%s`", points[i]);
    }
  return 0;
}

int
rootfs_pivot (struct rootfs_context *ctx, runhv_error_t *err)
{
  cleanup_close int oldroot = -1, newroot = -1;
  if (ctx->no_pivot)
    {
      /* --no-pivot: for rootfs on a ramfs, where pivot_root is refused.  */
      if (chdir (ctx->rootfs) < 0)
        return runhv_make_error (err, errno, "chdir to the rootfs");
      if (detach_host_proc_sys (ctx->rootfs, err) < 0)
        return -1;
      if (mount (ctx->rootfs, "/", NULL, MS_MOVE, NULL) < 0)
        return runhv_make_error (err, errno, "move the rootfs to / (--no-pivot)");
      return chroot_cwd (err);
    }
  oldroot = open ("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (oldroot < 0)
    return runhv_make_error (err, errno, "open /");
  newroot = open (ctx->rootfs, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (newroot < 0)
    return runhv_make_error (err, errno, "open the rootfs");
  if (fchdir (newroot) < 0)
    return runhv_make_error (err, errno, "chdir to the rootfs");
  /* pivot_root(".", ".") stacks the old root under the new one; unmount it
     from there without needing a directory for it in the image.  */
  if (syscall (SYS_pivot_root, ".", ".") < 0)
    return runhv_make_error (err, errno, "pivot_root (use --no-pivot if the rootfs is on a ramfs)");
  if (fchdir (oldroot) < 0)
    return runhv_make_error (err, errno, "chdir to the old root");
  if (mount (NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
    return runhv_make_error (err, errno, "make the old root a slave");
  if (umount2 (".", MNT_DETACH) < 0)
    return runhv_make_error (err, errno, "unmount the old root");
  if (chdir ("/") < 0)
    return runhv_make_error (err, errno, "chdir /");
  return 0;
}

int
rootfs_chroot (struct rootfs_context *ctx, runhv_error_t *err)
{
  if (chdir (ctx->rootfs) < 0)
    return runhv_make_error (err, errno, "chdir to the rootfs `%s`", ctx->rootfs);
  return chroot_cwd (err);
}

static int
mask_path (const char *path, runhv_error_t *err)
{
  struct stat st;
  if (lstat (path, &st) < 0)
    return errno == ENOENT ? 0 : runhv_make_error (err, errno, "linux.maskedPaths: stat `%s`", path);
  if (S_ISDIR (st.st_mode))
    {
      if (mount ("tmpfs", path, "tmpfs", MS_RDONLY, "size=0k") < 0)
        return runhv_make_error (err, errno, "linux.maskedPaths: mask `%s`", path);
      return 0;
    }
  if (mount ("/dev/null", path, NULL, MS_BIND, NULL) < 0)
    {
      if (errno == ENOENT)
        return 0;
      return runhv_make_error (err, errno, "linux.maskedPaths: mask `%s`", path);
    }
  return 0;
}

static int
readonly_path (const char *path, runhv_error_t *err)
{
  if (mount (path, path, NULL, MS_BIND | MS_REC, NULL) < 0)
    {
      if (errno == ENOENT)
        return 0;
      return runhv_make_error (err, errno, "linux.readonlyPaths: bind `%s`", path);
    }
  if (remount_bind (path, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, true, err) < 0)
    return runhv_error_wrap (err, "linux.readonlyPaths");
  return 0;
}

int
rootfs_finalize (struct rootfs_context *ctx, runhv_error_t *err)
{
  const struct oci_spec *s = ctx->spec;
  for (size_t i = 0; i < s->n_mounts; i++)
    if (read_only_later (&s->mounts[i]) && remount_bind (s->mounts[i].destination, s->mounts[i].flags, false, err) < 0)
      return runhv_error_wrap (err, "mounts[%s]: make it read-only", s->mounts[i].destination);
  for (size_t i = 0; s->readonly_paths && s->readonly_paths[i]; i++)
    if (readonly_path (s->readonly_paths[i], err) < 0)
      return -1;
  for (size_t i = 0; s->masked_paths && s->masked_paths[i]; i++)
    if (mask_path (s->masked_paths[i], err) < 0)
      return -1;
  if (s->root_readonly && remount_bind ("/", MS_RDONLY, false, err) < 0)
    return runhv_error_wrap (err, "root.readonly");
  return 0;
}

#include "uvm/jail.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "process/cgroup.h"
#include "uvm/template.h"
#include "core/log.h"
#include "core/sync.h"
#include "core/util.h"
#include "core/banned.h"

#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif

/* Bits of the bounding set QEMU keeps, all of them scoped to its own user
   namespace: the 9p server (security_model=none) creates files as the
   guest's users and changes their owner and mode.  */
static const int kept_caps[]
  = { 0 /* CAP_CHOWN */, 1 /* CAP_DAC_OVERRIDE */, 2 /* CAP_DAC_READ_SEARCH */, 3 /* CAP_FOWNER */ };

int64_t
uvm_jail_id_base (const char *id, int64_t configured_base)
{
  uint32_t h = 2166136261u; /* FNV-1a */
  for (const unsigned char *p = (const unsigned char *)id; *p; p++)
    h = (h ^ *p) * 16777619u;
  return (configured_base > 0 ? configured_base : UVM_JAIL_DEFAULT_ID_BASE)
         + (int64_t)(h % UVM_JAIL_SLOTS) * UVM_JAIL_ID_RANGE;
}

const char *
uvm_jail_cgroup_parent (const char *cgroups_path, bool systemd)
{
  static char buf[4096];
  cleanup_free char *full = NULL;
  char *slash;
  if (cgroups_path == NULL || cgroups_path[0] == '\0')
    return NULL;
  full = cgroup_path_from_spec (cgroups_path, "vm", systemd);
  slash = strrchr (full, '/');
  if (slash == NULL || slash == full)
    return NULL;
  *slash = '\0';
  snprintf (buf, sizeof (buf), "%s", full);
  return buf;
}

char *
uvm_jail_cgroup_path (const struct uvm_launch *l)
{
  const char *parent = l->cgroup_parent && l->cgroup_parent[0] ? l->cgroup_parent : "/runhv";
  return xasprintf ("%s%s/runhv-vm-%s", parent[0] == '/' ? "" : "/", parent, l->id);
}

/* --- the jail's root, built in the supervisor's mount namespace ------- */

static int
bind_file (const char *src, const char *root, const char *name, unsigned long extra, runhv_error_t *err)
{
  cleanup_free char *dst = xasprintf ("%s/%s", root, name);
  int fd = open (dst, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0)
    return runhv_make_error (err, errno, "jail: create `%s`", dst);
  close (fd);
  if (mount (src, dst, NULL, MS_BIND, NULL) < 0)
    return runhv_make_error (err, errno, "jail: bind `%s` into the VMM's root", src);
  if (mount (NULL, dst, NULL, MS_BIND | MS_REMOUNT | MS_NOSUID | extra, NULL) < 0)
    return runhv_make_error (err, errno, "jail: remount `%s`", dst);
  return 0;
}

/* /lib, /lib64, /bin ... as the host has them: the symlinks of a merged
   /usr, or read-only binds.  */
static int
mirror_top (const char *root, const char *name, runhv_error_t *err)
{
  cleanup_free char *host = xasprintf ("/%s", name), *dst = xasprintf ("%s/%s", root, name);
  char target[4096];
  struct stat st;
  ssize_t n;
  if (lstat (host, &st) < 0)
    return 0;
  if (S_ISLNK (st.st_mode))
    {
      n = readlink (host, target, sizeof (target) - 1);
      if (n < 0)
        return runhv_make_error (err, errno, "jail: readlink `%s`", host);
      target[n] = '\0';
      if (symlink (target, dst) < 0)
        return runhv_make_error (err, errno, "jail: symlink `%s`", dst);
      return 0;
    }
  if (!S_ISDIR (st.st_mode))
    return 0;
  if (mkdir (dst, 0755) < 0 || mount (host, dst, NULL, MS_BIND, NULL) < 0
      || mount (NULL, dst, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0)
    return runhv_make_error (err, errno, "jail: bind `%s` read-only", host);
  return 0;
}

static int
build_root (const char *root, const struct uvm_launch *l, const char *exe, runhv_error_t *err)
{
  static const char *const tops[] = { "usr", "lib", "lib64", "lib32", "libx32", "bin", "sbin" };
  static const char *const dirs[] = { "proc", "dev", "etc", "shared", ".layers" };
  if (mount ("runhv-jail", root, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755,size=64k,nr_inodes=256") < 0)
    return runhv_make_error (err, errno, "jail: mount a tmpfs on `%s`", root);
  for (size_t i = 0; i < sizeof (dirs) / sizeof (dirs[0]); i++)
    {
      cleanup_free char *d = xasprintf ("%s/%s", root, dirs[i]);
      if (mkdir (d, 0755) < 0)
        return runhv_make_error (err, errno, "jail: mkdir `%s`", d);
    }
  /* The VMM is dynamically linked: /usr read-only (no /etc, no /home, no
     /run, no /var, no /proc of the host).  */
  for (size_t i = 0; i < sizeof (tops) / sizeof (tops[0]); i++)
    if (mirror_top (root, tops[i], err) < 0)
      return -1;
  if (access ("/etc/ld.so.cache", R_OK) == 0
      && bind_file ("/etc/ld.so.cache", root, "etc/ld.so.cache", MS_RDONLY | MS_NODEV | MS_NOEXEC, err) < 0)
    return -1;
  if (bind_file (exe, root, UVM_JAIL_VMM + 1, MS_RDONLY | MS_NODEV, err) < 0
      || bind_file (l->art->kernel, root, UVM_JAIL_KERNEL + 1, MS_RDONLY | MS_NODEV | MS_NOEXEC, err) < 0
      || bind_file (l->art->initrd, root, UVM_JAIL_INITRD + 1, MS_RDONLY | MS_NODEV | MS_NOEXEC, err) < 0
      || bind_file ("/dev/null", root, "dev/null", MS_NOEXEC, err) < 0
      || bind_file ("/dev/urandom", root, "dev/urandom", MS_NOEXEC, err) < 0)
    return -1;
  if (l->accel != NULL && strcmp (l->accel, "kvm") == 0 && bind_file ("/dev/kvm", root, "dev/kvm", MS_NOEXEC, err) < 0)
    return -1;
  return 0;
}

/* The shared tree becomes a mount of its own in a peer group, so that what
   the supervisor binds under it later (a pod's next containers) propagates
   to the VMM's view of it.  */
static int
share_tree (const char *shared, runhv_error_t *err)
{
  if (mount (shared, shared, NULL, MS_BIND | MS_REC, NULL) < 0)
    return runhv_make_error (err, errno, "jail: bind `%s` onto itself", shared);
  if (mount (NULL, shared, NULL, MS_SHARED | MS_REC, NULL) < 0)
    return runhv_make_error (err, errno, "jail: make `%s` a shared mount", shared);
  return 0;
}

/* The shared tree as the VMM sees it: host ids 0..65535 appear as the VM's
   user namespace's 0..65535, so QEMU's in-namespace root owns what host
   root owns there and the guest's chown lands on disk unchanged.  Each
   mount of the tree is cloned and idmapped on its own; overlayfs (a
   containerd snapshot), which cannot be idmapped, is mounted again on
   idmapped clones of its layers.  Runs in the jail's mount namespace, as
   host root.  */
static int
idmap_clone (const char *src, int userns, bool recursive, runhv_error_t *err)
{
  struct mount_attr attr = { 0 };
  int tree
    = (int)syscall (SYS_open_tree, AT_FDCWD, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0));
  if (tree < 0)
    return runhv_make_error (err, errno, "jail: clone the mount `%s`", src);
  attr.attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
  attr.userns_fd = (uint64_t)userns;
  if (syscall (SYS_mount_setattr, tree, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr, sizeof (attr)) < 0)
    {
      int e = errno;
      close (tree);
      return runhv_make_error (err, e,
                               "jail: idmap the mount `%s` for the VMM (its filesystem must support idmapped "
                               "mounts: ext4, xfs, btrfs, tmpfs; overlayfs through its layers)",
                               src);
    }
  return tree;
}

static int
attach (int tree, const char *dst, runhv_error_t *err)
{
  int r = (int)syscall (SYS_move_mount, tree, "", AT_FDCWD, dst, MOVE_MOUNT_F_EMPTY_PATH);
  int e = errno;
  close (tree);
  if (r < 0)
    return runhv_make_error (err, e, "jail: attach a mount at `%s`", dst);
  return 0;
}

/* The value of key= in overlayfs's super options (a copy), or NULL.  */
static char *
ovl_option (const char *opts, const char *key)
{
  size_t kl = strlen (key);
  for (const char *o = opts; o && *o;)
    {
      const char *c = strchr (o, ',');
      size_t l = c ? (size_t)(c - o) : strlen (o);
      if (l > kl && strncmp (o, key, kl) == 0 && o[kl] == '=')
        return xstrndup (o + kl + 1, l - kl - 1);
      o = c ? c + 1 : NULL;
    }
  return NULL;
}

/* overlayfs works on its layers with the credentials of whoever mounted
   it.  Through idmapped layers host uid 0 maps to nothing (EOVERFLOW, and
   the overlay falls back to read-only), so mount it with the filesystem
   ids of the user namespace's root (host `base`), capabilities kept.  */
static int
mount_overlay_as (int64_t base, const char *dst, const char *data)
{
  struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
  struct __user_cap_data_struct caps[2], all[2];
  int r, e;
  if (syscall (SYS_capget, &h, caps) < 0)
    return -1;
  setfsgid ((gid_t)base);
  setfsuid ((uid_t)base);
  /* the fsuid change dropped the file capabilities from the effective
     set: raise them again, and every permitted one (a confined
     supervisor keeps chown, fowner, fsetid and mknod permitted only):
     overlayfs works on its upper layer with the mounter's credentials, so
     the guest's chown and whiteouts need them there */
  memcpy (all, caps, sizeof (all));
  all[0].effective = all[0].permitted;
  all[1].effective = all[1].permitted;
  if (syscall (SYS_capset, &h, all) < 0)
    r = -1;
  else
    r = mount ("overlay", dst, "overlay", MS_NOSUID | MS_NODEV, data);
  e = errno;
  setfsuid (0);
  setfsgid (0);
  syscall (SYS_capset, &h, caps);
  errno = e;
  return r;
}

static int
remount_overlay (const char *opts, const char *dst, const char *layers, int userns, int64_t base, int *nlayer,
                 runhv_error_t *err)
{
  cleanup_free char *lower = ovl_option (opts, "lowerdir"), *upper = ovl_option (opts, "upperdir");
  cleanup_free char *work = ovl_option (opts, "workdir"), *data = NULL, *newlower = xstrdup ("");
  char *tok, *colon;
  int first = *nlayer;
  if (lower == NULL || strchr (lower, '\\') || (upper && strchr (upper, '\\')) || (work && strchr (work, '\\')))
    return runhv_error (err, "jail: the overlay at `%s` has layers this jail cannot read back (lowerdir=%s)", dst,
                        lower ? lower : "?");
  for (tok = lower; tok != NULL; tok = colon ? colon + 1 : NULL)
    {
      cleanup_free char *l = xasprintf ("%s/%d", layers, (*nlayer)++);
      char *n;
      int t;
      colon = strchr (tok, ':');
      if (colon)
        *colon = '\0';
      if (mkdir (l, 0700) < 0)
        return runhv_make_error (err, errno, "jail: mkdir `%s`", l);
      t = idmap_clone (tok, userns, false, err);
      if (t < 0 || attach (t, l, err) < 0)
        return -1;
      n = xasprintf ("%s%s%s", newlower, *newlower ? ":" : "", l);
      free (newlower);
      newlower = n;
    }
  if (upper != NULL && work != NULL)
    {
      /* overlayfs wants upper and work dirs on one mount: clone their
         common parent directory once */
      cleanup_free char *common = xstrdup (upper), *u = xasprintf ("%s/%d", layers, (*nlayer)++);
      size_t cl;
      int t;
      for (;;)
        {
          char *sl = strrchr (common, '/');
          if (sl == NULL || sl == common)
            return runhv_error (err, "jail: the overlay at `%s` has upper and work dirs with no common parent", dst);
          *sl = '\0';
          cl = strlen (common);
          if (strncmp (work, common, cl) == 0 && work[cl] == '/')
            break;
        }
      if (mkdir (u, 0700) < 0)
        return runhv_make_error (err, errno, "jail: mkdir `%s`", u);
      t = idmap_clone (common, userns, false, err);
      if (t < 0 || attach (t, u, err) < 0)
        return -1;
      /* index=off: the host's overlay holds the same upper and work dirs;
         only the VM uses the rootfs while it runs.  */
      data = xasprintf ("lowerdir=%s,upperdir=%s%s,workdir=%s%s,index=off", newlower, u, upper + cl, u, work + cl);
    }
  else
    data = xasprintf ("lowerdir=%s", newlower);
  if (mount_overlay_as (base, dst, data) < 0)
    return runhv_make_error (err, errno, "jail: mount the rootfs overlay at `%s` on idmapped layers", dst);
  /* The overlay holds its layers: their mounts go, so the VMM sees none. */
  for (int i = first; i < *nlayer; i++)
    {
      cleanup_free char *l = xasprintf ("%s/%d", layers, i);
      umount2 (l, MNT_DETACH);
    }
  return 0;
}

static int
mount_shared (const char *shared, const char *root, int userns, int64_t base, runhv_error_t *err)
{
  cleanup_free char *dst = xasprintf ("%s%s", root, UVM_JAIL_SHARED), *layers = xasprintf ("%s/.layers", root);
  cleanup_free char *buf = NULL, *prefix = xasprintf ("%s/", shared);
  size_t plen = strlen (prefix);
  cleanup_strv char **seen = xmalloc0 (sizeof (char *));
  char *cursor, *point, *fstype, *super;
  int t, nlayer = 0;
  /* the top of the tree first; it stays a slave of the supervisor's (the
     clone of a slave is a slave of the same master), so what is bound
     there later reaches the VMM */
  t = idmap_clone (shared, userns, false, err);
  if (t < 0 || attach (t, dst, err) < 0)
    return -1;
  if (read_file_at (proc_self_dir (), "mountinfo", 0, &buf, NULL, err) < 0)
    return -1;
  for (cursor = buf; mountinfo_next (&cursor, &point, &fstype, &super);)
    {
      /* the supervisor's first binds are listed twice: under the tree
         share_tree() stacked onto itself, and in it; a path is one mount */
      if (strncmp (point, prefix, plen) != 0 || strv_contains (seen, point))
        continue;
      strv_append (&seen, point);
      {
        cleanup_free char *target = xasprintf ("%s/%s", dst, point + plen);
        if (strcmp (fstype, "overlay") == 0)
          {
            if (remount_overlay (super, target, layers, userns, base, &nlayer, err) < 0)
              return -1;
          }
        else
          {
            t = idmap_clone (point, userns, false, err);
            if (t < 0 || attach (t, target, err) < 0)
              return -1;
          }
      }
    }
  for (int i = 0; i < nlayer; i++)
    {
      cleanup_free char *l = xasprintf ("%s/%d", layers, i);
      rmdir (l);
    }
  rmdir (layers);
  return 0;
}

/* A user namespace mapped onto the VM's range, held by an fd: a child
   makes it and waits while we write its maps, then goes.  */
static int
make_userns (int64_t base, runhv_error_t *err)
{
  cleanup_close int hold_r = -1, hold_w = -1;
  int p[2], fd = -1;
  char map[64];
  pid_t h;
  if (pipe2 (p, O_CLOEXEC) < 0)
    return runhv_make_error (err, errno, "jail: pipe");
  hold_r = p[0];
  hold_w = p[1];
  h = (pid_t)syscall (SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, 0);
  if (h < 0)
    return runhv_make_error (err, errno, "jail: create the VMM's user namespace");
  if (h == 0)
    {
      char c;
      close (p[1]);
      if (read (p[0], &c, 1) < 0)
        _exit (1);
      _exit (0);
    }
  close (hold_r);
  hold_r = -1;
  snprintf (map, sizeof (map), "0 %lld %d\n", (long long)base, UVM_JAIL_ID_RANGE);
  {
    cleanup_free char *sg = xasprintf ("/proc/%d/setgroups", (int)h);
    cleanup_free char *um = xasprintf ("/proc/%d/uid_map", (int)h);
    cleanup_free char *gm = xasprintf ("/proc/%d/gid_map", (int)h);
    cleanup_free char *ns = xasprintf ("/proc/%d/ns/user", (int)h);
    if (write_file (sg, "deny", 4, err) < 0 || write_file (um, map, strlen (map), err) < 0
        || write_file (gm, map, strlen (map), err) < 0)
      runhv_error_wrap (err, "jail: map the VMM's user namespace onto host ids %lld-%lld", (long long)base,
                        (long long)base + UVM_JAIL_ID_RANGE - 1);
    else
      {
        fd = open (ns, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
          runhv_make_error (err, errno, "jail: open `%s`", ns);
      }
  }
  close (hold_w);
  hold_w = -1;
  waitpid (h, NULL, 0);
  return fd;
}

/* --- the VM's cgroups and who removes them ------------------------------- */

/* The VM's cgroup holds every host process of the VM, so the pod cgroup
   it sits under (and the RuntimeClass overhead kubelet adds to it) binds
   them all: QEMU alone in `vmm`, with the limits sized from the VM, and
   the supervisor with its host stand-ins in `supervisor`.  */
struct vm_cgroups
{
  struct cgroup_manager *vmm, *sup;
};

static void
vm_cgroups_free (struct vm_cgroups *c)
{
  cgroup_manager_free (c->vmm);
  cgroup_manager_free (c->sup);
  c->vmm = c->sup = NULL;
}

/* Every directory of the VM's cgroups, in the order they can be removed:
   `vmm` and `supervisor` in each hierarchy, then the VM's own.  */
static char **
vm_cgroup_dirs (const struct vm_cgroups *c)
{
  char **dirs = xmalloc0 (sizeof (char *));
  for (size_t k = 0; k < 3; k++)
    for (size_t i = c->vmm->n_h; i-- > 0;)
      {
        cleanup_free char *d = cgroup_host_dir (k == 1 ? c->sup : c->vmm, i);
        char *slash = strrchr (d, '/');
        if (k == 2 && slash == NULL)
          continue;
        if (k == 2)
          *slash = '\0'; /* the VM's own: vmm's parent */
        strv_append (&dirs, d);
      }
  return dirs;
}

/* Remove what make_cgroups made (before any reaper runs): the children
   as cgroups (whatever is in them killed), then what is left, the VM's own
   directories.  */
static void
vm_cgroups_destroy (struct vm_cgroups *c)
{
  struct cgroup_manager *kids[] = { c->vmm, c->sup };
  cleanup_strv char **dirs = NULL;
  for (size_t k = 0; k < 2; k++)
    if (kids[k] != NULL)
      {
        runhv_error_t ignored = NULL;
        cgroup_destroy (kids[k], true, &ignored);
        runhv_error_release (&ignored);
      }
  if (c->vmm == NULL || c->sup == NULL)
    return;
  dirs = vm_cgroup_dirs (c);
  for (size_t i = 0; dirs[i] != NULL; i++)
    rmdir (dirs[i]); /* the children's are gone already */
}

static int
make_cgroups (const struct uvm_launch *l, struct vm_cgroups *out, runhv_error_t *err)
{
  cleanup_free char *path = uvm_jail_cgroup_path (l);
  cleanup_free char *vmm_path = xasprintf ("%s/vmm", path), *sup_path = xasprintf ("%s/supervisor", path);
  struct oci_resources r = { 0 };
  if (cgroup_manager_new (NULL, vmm_path, l->id, false, &out->vmm, err) < 0)
    return -1;
  if (cgroup_manager_new (NULL, sup_path, l->id, false, &out->sup, err) < 0)
    {
      vm_cgroups_free (out);
      return -1;
    }
  {
    /* A container of the same id that was just deleted leaves its VM's
       cgroups to its reaper, which removes them a moment later: made
       again meanwhile, they would go under the new VM.  Wait for them to
       go (a reaper gives up after 30 s; after 10 a leftover is reused).  */
    cleanup_strv char **dirs = vm_cgroup_dirs (out);
    size_t n = 0;
    while (dirs[n] != NULL)
      n++;
    for (int waited = 0; n > 0 && waited < 10000 && access (dirs[n - 1], F_OK) == 0; waited += 20)
      usleep (20000);
  }
  r.has_memory_limit = true;
  r.memory_limit = (l->memory_mb + UVM_JAIL_MEMORY_OVERHEAD_MB) * 1024 * 1024;
  r.memory_swap = -1;
  r.has_pids_limit = true;
  r.pids_limit = UVM_JAIL_PIDS_MAX;
  if (cgroup_create (out->vmm, err) < 0 || cgroup_apply (out->vmm, &r, err) < 0 || cgroup_create (out->sup, err) < 0)
    {
      vm_cgroups_destroy (out);
      vm_cgroups_free (out);
      return runhv_error_wrap (err, "jail: the VM's cgroup `%s`", path);
    }
  return 0;
}

/* The cgroups go when the VMM and the supervisor do, however either ends:
   a small exec'd helper holds the read end of a pipe whose only writers
   are those two, and removes the cgroup directories at EOF, all in one
   rmdir (children first; a stand-in still running delays it, not
   forever): one exec rather than one per directory, since a create of
   the same id waits for it.  The shell's own `read` waits for the EOF (a
   `cat` was a second process of 0.3 MiB for each VM).  */
static const char reaper_script[]
  = "while read -r _; do :; done; n=0; while :; do rmdir \"$@\" 2>/dev/null; left=0; for d in \"$@\"; do "
    "[ -d \"$d\" ] && left=1; done; [ $left = 0 ] && exit 0; n=$((n+1)); [ $n -lt 600 ] || exit 1; sleep 0.05; done";

static int
start_reaper (const struct vm_cgroups *cg, int alive_r, runhv_error_t *err)
{
  cleanup_strv char **argv = xmalloc0 (sizeof (char *)), **dirs = NULL;
  pid_t p;
  strv_append (&argv, "/bin/sh");
  strv_append (&argv, "-c");
  strv_append (&argv, reaper_script);
  strv_append (&argv, "runhv-jail-reaper");
  dirs = vm_cgroup_dirs (cg);
  for (size_t i = 0; dirs[i] != NULL; i++)
    strv_append (&argv, dirs[i]);
  p = fork ();
  if (p < 0)
    return runhv_make_error (err, errno, "jail: fork the cgroup reaper");
  if (p == 0)
    {
      static char *const envp[] = { (char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
      int null = open ("/dev/null", O_RDWR | O_CLOEXEC);
      sigset_t none;
      sigemptyset (&none);
      sigprocmask (SIG_SETMASK, &none, NULL);
      if (null < 0 || dup2 (alive_r, 0) < 0 || dup2 (null, 1) < 0 || dup2 (null, 2) < 0)
        _exit (126);
      syscall (SYS_close_range, 3, ~0U, 0);
      setsid ();
      execve ("/bin/sh", argv, envp);
      _exit (127);
    }
  return 0;
}

/* --- the child ------------------------------------------------------------ */

struct child_args
{
  const char *root, *exe;
  int userns;   /* made and mapped by the parent */
  int64_t base; /* its root's host uid/gid */
  const struct uvm_launch *l;
  char *const *argv;
  char *const *envp;
  int sync;                                                 /* go byte in; SYNC_ERROR out on failure */
  int src[UVM_JAIL_LAST_FD + 1], dst[UVM_JAIL_LAST_FD + 1]; /* fds to place */
  size_t nfds;
};

static void __attribute__ ((noreturn)) child_fail (int sync, int e, const char *what)
{
  runhv_error_t err = NULL;
  runhv_make_error (&err, e, "%s%s", strncmp (what, "jail: ", 6) == 0 ? "" : "jail: ", what);
  sync_fail (sync, &err);
}

static int
load_seccomp (void)
{
  /* QEMU's -sandbox comes on top of this (filters stack); this one holds
     what its blocklist does not: no setuid/setgid bits and no device nodes
     through 9p, no xattrs (no file capabilities), no mount API, no new
     namespaces, no keyrings, no bpf, perf or ptrace.  */
  struct mode_rule
  {
    const char *name;
    unsigned int arg;
  };
  static const struct mode_rule modes[]
    = { { "chmod", 1 }, { "fchmod", 1 }, { "fchmodat", 2 }, { "fchmodat2", 2 }, { "open", 2 },   { "openat", 3 },
        { "creat", 1 }, { "mkdir", 1 },  { "mkdirat", 2 },  { "mknod", 1 },     { "mknodat", 2 } };
  static const char *const eperm[] = { "mount",
                                       "umount2",
                                       "pivot_root",
                                       "unshare",
                                       "setns",
                                       "open_tree",
                                       "move_mount",
                                       "fsopen",
                                       "fsconfig",
                                       "fsmount",
                                       "fspick",
                                       "mount_setattr",
                                       "keyctl",
                                       "add_key",
                                       "request_key",
                                       "bpf",
                                       "perf_event_open",
                                       "userfaultfd",
                                       "ptrace",
                                       "process_vm_writev",
                                       "kexec_load",
                                       "kexec_file_load",
                                       "init_module",
                                       "finit_module",
                                       "delete_module",
                                       "quotactl",
                                       "swapon",
                                       "swapoff",
                                       "reboot",
                                       "acct",
                                       "syslog",
                                       "lookup_dcookie",
                                       "name_to_handle_at",
                                       "open_by_handle_at" };
  static const char *const enotsup[] = { "setxattr", "lsetxattr", "fsetxattr", "setxattrat" };
  scmp_filter_ctx ctx = seccomp_init (SCMP_ACT_ALLOW);
  int rc = 0;
  if (ctx == NULL)
    return -ENOMEM;
  for (size_t i = 0; rc == 0 && i < sizeof (modes) / sizeof (modes[0]); i++)
    {
      int nr = seccomp_syscall_resolve_name (modes[i].name);
      unsigned int a = modes[i].arg;
      if (nr == __NR_SCMP_ERROR)
        continue;
      rc = seccomp_rule_add (ctx, SCMP_ACT_ERRNO (EPERM), nr, 1, SCMP_CMP (a, SCMP_CMP_MASKED_EQ, S_ISUID, S_ISUID));
      if (rc == 0)
        rc = seccomp_rule_add (ctx, SCMP_ACT_ERRNO (EPERM), nr, 1, SCMP_CMP (a, SCMP_CMP_MASKED_EQ, S_ISGID, S_ISGID));
      if (rc == 0 && strncmp (modes[i].name, "mknod", 5) == 0)
        {
          rc = seccomp_rule_add (ctx, SCMP_ACT_ERRNO (EPERM), nr, 1, SCMP_CMP (a, SCMP_CMP_MASKED_EQ, S_IFMT, S_IFCHR));
          if (rc == 0)
            rc = seccomp_rule_add (ctx, SCMP_ACT_ERRNO (EPERM), nr, 1,
                                   SCMP_CMP (a, SCMP_CMP_MASKED_EQ, S_IFMT, S_IFBLK));
        }
    }
  for (size_t i = 0; rc == 0 && i < sizeof (eperm) / sizeof (eperm[0]); i++)
    {
      int nr = seccomp_syscall_resolve_name (eperm[i]);
      if (nr != __NR_SCMP_ERROR)
        rc = seccomp_rule_add (ctx, SCMP_ACT_ERRNO (EPERM), nr, 0);
    }
  for (size_t i = 0; rc == 0 && i < sizeof (enotsup) / sizeof (enotsup[0]); i++)
    {
      int nr = seccomp_syscall_resolve_name (enotsup[i]);
      if (nr != __NR_SCMP_ERROR)
        rc = seccomp_rule_add (ctx, SCMP_ACT_ERRNO (EOPNOTSUPP), nr, 0);
    }
  /* openat2 carries its mode in a struct no filter can read.  */
  if (rc == 0 && seccomp_syscall_resolve_name ("openat2") != __NR_SCMP_ERROR)
    rc = seccomp_rule_add (ctx, SCMP_ACT_ERRNO (ENOSYS), seccomp_syscall_resolve_name ("openat2"), 0);
  /* clone/clone3 with namespace flags: QEMU makes threads only.  */
  if (rc == 0)
    rc = seccomp_rule_add (ctx, SCMP_ACT_ERRNO (EPERM), SCMP_SYS (clone), 1,
                           SCMP_A0 (SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER));
  if (rc == 0)
    rc = seccomp_rule_add (ctx, SCMP_ACT_ERRNO (ENOSYS), SCMP_SYS (clone3), 0);
  if (rc == 0)
    rc = seccomp_load (ctx);
  seccomp_release (ctx);
  return rc;
}

static void __attribute__ ((noreturn)) jail_child (struct child_args *a)
{
  char go;
  int hi[UVM_JAIL_LAST_FD + 1];
  /* Still host root, in new pid/mount/ipc/uts/net namespaces owned by the
     host's user namespace (the VMM gets no capability over them).  */
  if (read (a->sync, &go, 1) != 1)
    _exit (126);
  if (mount (NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) < 0)
    child_fail (a->sync, errno, "make the jail's mounts slaves of the supervisor's");
  if (unshare (CLONE_NEWCGROUP) < 0)
    child_fail (a->sync, errno, "unshare the cgroup namespace");
  {
    runhv_error_t e = NULL;
    /* In the VM's cgroup now: a VM from a template gets its RAM here, so
       that it is charged to the VM and its limit.  */
    if ((a->l->restore && uvm_template_fill_memory (a->l->memory_src_fd, a->l->memory_fd, &e) < 0)
        || build_root (a->root, a->l, a->exe, &e) < 0
        || mount_shared (a->l->shared_dir, a->root, a->userns, a->base, &e) < 0)
      child_fail (a->sync, e->status, e->msg);
  }
  if (chdir (a->root) < 0)
    child_fail (a->sync, errno, "enter the jail's root");
  if (mount ("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
    child_fail (a->sync, errno, "mount the jail's /proc");
  if (syscall (SYS_pivot_root, ".", ".") < 0 || umount2 (".", MNT_DETACH) < 0 || chdir ("/") < 0)
    child_fail (a->sync, errno, "pivot_root into the jail");
  if (mount (NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
    child_fail (a->sync, errno, "remount the jail's root read-only");
  if (sethostname ("runhv-vmm", 9) < 0)
    child_fail (a->sync, errno, "sethostname");
  if (setns (a->userns, CLONE_NEWUSER) < 0)
    child_fail (a->sync, errno, "enter the VMM's user namespace");
  /* Root of the new user namespace: host uid/gid = the VM's base.  */
  if (setresgid (0, 0, 0) < 0 || setresuid (0, 0, 0) < 0)
    child_fail (a->sync, errno, "setresuid to the user namespace's root");
  prctl (PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0); /* after the uid change, which clears it */
  /* Fds: first out of the way, then into place; the rest close at exec. */
  for (size_t i = 0; i < a->nfds; i++)
    {
      hi[i] = fcntl (a->src[i], F_DUPFD_CLOEXEC, 64);
      if (hi[i] < 0)
        child_fail (a->sync, errno, "dup an fd for the VMM");
    }
  for (size_t i = 0; i < a->nfds; i++)
    if (dup2 (hi[i], a->dst[i]) < 0)
      child_fail (a->sync, errno, "place an fd for the VMM");
  syscall (SYS_close_range, UVM_JAIL_LAST_FD + 1, ~0U, CLOSE_RANGE_CLOEXEC);
  {
    sigset_t none;
    sigemptyset (&none);
    sigprocmask (SIG_SETMASK, &none, NULL);
  }
  for (int c = 0; c <= 63; c++)
    {
      bool keep = false;
      for (size_t k = 0; k < sizeof (kept_caps) / sizeof (kept_caps[0]); k++)
        keep = keep || kept_caps[k] == c;
      if (!keep && prctl (PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
        child_fail (a->sync, errno, "drop a capability from the bounding set");
    }
  prctl (PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    child_fail (a->sync, errno, "set no_new_privs");
  {
    int rc = load_seccomp ();
    if (rc < 0)
      child_fail (a->sync, -rc, "load the jail's seccomp filter");
  }
  execve (UVM_JAIL_VMM, a->argv, a->envp);
  child_fail (a->sync, errno, "exec the VMM in its jail");
}

/* EOF: the child exec'd.  Otherwise the error it reports.  */
static int
child_report (int sync, bool *exec_done, runhv_error_t *err)
{
  struct sync_msg m;
  *exec_done = false;
  if (sync_recv (sync, &m) < 0)
    {
      if (errno != 0)
        return runhv_make_error (err, errno, "jail: read the VMM's setup status");
      *exec_done = true;
      return 0;
    }
  if (m.type == SYNC_ERROR)
    return sync_msg_error (&m, err);
  if (m.fd >= 0)
    close (m.fd);
  return 0;
}

/* --- the parent ------------------------------------------------------------ */

/* $RUNHV_TEST_VMM_PROBE: the runhv process's own environment (host root's),
   never a bundle's; and only a root-owned file nobody else can write.  */
static int
test_probe (const char **probe, runhv_error_t *err)
{
  const char *p = getenv ("RUNHV_TEST_VMM_PROBE");
  struct stat st;
  *probe = NULL;
  if (p == NULL || p[0] == '\0')
    return 0;
  if (p[0] != '/' || stat (p, &st) < 0 || !S_ISREG (st.st_mode) || st.st_uid != 0 || (st.st_mode & 022) != 0)
    return runhv_error (err,
                        "RUNHV_TEST_VMM_PROBE=`%s` must be an absolute path to a root-owned executable that only root "
                        "can write (unset it to run QEMU)",
                        p);
  *probe = p;
  return 0;
}

/* The VMM's stdout/stderr (its log), the console log, and /dev/null for
   its stdin; the caller owns and closes them.  */
static int
open_vmm_outputs (const struct uvm_launch *l, int *logfd, int *confd, int *null, runhv_error_t *err)
{
  *logfd = open (l->vmm_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (*logfd < 0)
    return runhv_make_error (err, errno, "open `%s`", l->vmm_log);
  *confd = open (l->console_log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  if (*confd < 0)
    return runhv_make_error (err, errno, "open `%s`", l->console_log);
  *null = open ("/dev/null", O_RDWR | O_CLOEXEC);
  if (*null < 0)
    return runhv_make_error (err, errno, "open /dev/null");
  return 0;
}

/* The cloned child waits for us: put it in its cgroup, let it set up the
   jail, and wait for its word that the VMM was exec'd.  */
static int
release_vmm_setup (struct cgroup_manager *cg, pid_t child, int sync_p, runhv_error_t *err)
{
  bool exec_done = false;
  if (cgroup_enter (cg, child, err) < 0)
    return -1;
  if (write (sync_p, "g", 1) != 1)
    return runhv_make_error (err, errno, "jail: start the VMM's setup");
  if (child_report (sync_p, &exec_done, err) < 0)
    return -1;
  if (!exec_done)
    return runhv_error (err, "jail: the VMM's setup sent an unexpected message");
  return 0;
}

int
uvm_jail_spawn (const struct uvm_launch *l, char *const *argv, pid_t *pid, int *alive_fd, runhv_error_t *err)
{
  cleanup_free char *state = xstrdup (l->shared_dir);
  cleanup_free char *root = NULL;
  cleanup_close int logfd = -1, confd = -1, null = -1, userns = -1;
  cleanup_close int alive_r = -1, alive_w = -1, sync_p = -1, sync_c = -1;
  struct vm_cgroups cg = { 0 };
  const char *probe = NULL;
  int64_t base = uvm_jail_id_base (l->id, l->jail_id_base);
  char *probe_env[4] = { NULL };
  char *qemu_env[1] = { NULL };
  struct child_args a = { 0 };
  gid_t saved_groups[256], kvm_group;
  int n_saved, ngroups = 0;
  pid_t child;
  char *slash;
  bool reaper = false;

  if (test_probe (&probe, err) < 0)
    return -1;
  slash = strrchr (state, '/');
  if (slash == NULL || slash == state)
    return runhv_error (err, "jail: the shared directory `%s` must be an absolute path below a state directory",
                        l->shared_dir);
  *slash = '\0';
  root = xasprintf ("%s/jail", state);

  if (open_vmm_outputs (l, &logfd, &confd, &null, err) < 0)
    return -1;
  if (share_tree (l->shared_dir, err) < 0 || mkdir_p (root, 0755, err) < 0)
    return -1;
  userns = make_userns (base, err);
  if (userns < 0)
    return -1;
  if (make_cgroups (l, &cg, err) < 0)
    return -1;
  {
    int p[2], s[2];
    if (pipe2 (p, O_CLOEXEC) < 0 || socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, s) < 0)
      {
        runhv_make_error (err, errno, "jail: pipe");
        goto fail_cgroup;
      }
    alive_r = p[0];
    alive_w = p[1];
    sync_p = s[0];
    sync_c = s[1];
  }
  if (start_reaper (&cg, alive_r, err) < 0)
    goto fail_cgroup;
  reaper = true;
  close (alive_r);
  alive_r = -1;
  /* The supervisor joins the VM's cgroup now that the reaper, which must
     not be in it to remove it, runs.  */
  if (!l->caller_stays_out && cgroup_enter (cg.sup, getpid (), err) < 0)
    goto fail_cgroup;

  a.root = root;
  a.exe = probe ? probe : l->art->qemu;
  a.userns = userns;
  a.base = base;
  a.l = l;
  a.sync = sync_c;
  a.argv = argv;
  if (probe)
    {
      const char *args = getenv ("RUNHV_TEST_PROBE_ARGS");
      probe_env[0] = (char *)"ASAN_OPTIONS=detect_leaks=0";
      probe_env[1] = args ? xasprintf ("RUNHV_TEST_PROBE_ARGS=%s", args) : NULL;
      a.envp = probe_env;
    }
  else
    a.envp = qemu_env;
  {
    int src[] = { null,
                  logfd,
                  logfd,
                  l->agent_fd,
                  l->tap_fd,
                  confd,
                  alive_w,
                  l->restore ? l->restore_fd : -1,
                  l->qmp ? l->qmp_fd : -1,
                  l->memory_file ? l->memory_fd : -1 };
    int dst[] = { 0,
                  1,
                  2,
                  UVM_JAIL_AGENT_FD,
                  UVM_JAIL_TAP_FD,
                  UVM_JAIL_CONSOLE_FD,
                  UVM_JAIL_ALIVE_FD,
                  UVM_JAIL_RESTORE_FD,
                  UVM_JAIL_QMP_FD,
                  UVM_JAIL_MEMORY_FD };
    for (size_t i = 0; i < sizeof (src) / sizeof (src[0]); i++)
      if (src[i] >= 0)
        {
          a.src[a.nfds] = src[i];
          a.dst[a.nfds++] = dst[i];
        }
  }

  /* Supplementary groups cross into the user namespace as they are (and
     setgroups is denied there): the VMM keeps only /dev/kvm's group.  */
  n_saved = getgroups (256, saved_groups);
  {
    struct stat st;
    if (l->accel != NULL && strcmp (l->accel, "kvm") == 0 && stat ("/dev/kvm", &st) == 0)
      {
        kvm_group = st.st_gid;
        ngroups = 1;
      }
  }
  if (n_saved < 0 || setgroups ((size_t)ngroups, &kvm_group) < 0)
    {
      runhv_make_error (err, errno, "jail: set the VMM's supplementary groups");
      goto fail_cgroup;
    }
  child = (pid_t)syscall (SYS_clone, CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET | SIGCHLD,
                          NULL, NULL, NULL, 0);
  if (child == 0)
    jail_child (&a);
  {
    int e = errno;
    if (setgroups ((size_t)n_saved, saved_groups) < 0)
      log_warning ("jail: restore the supervisor's groups: %s", strerror (errno));
    errno = e;
  }
  free (probe_env[1]);
  if (child < 0)
    {
      runhv_make_error (err, errno, "jail: clone the VMM into new namespaces");
      goto fail_cgroup; /* the reaper sees EOF when alive_w closes */
    }
  close (sync_c);
  sync_c = -1;
  if (release_vmm_setup (cg.vmm, child, sync_p, err) < 0)
    goto fail_child;
  vm_cgroups_free (&cg);
  *pid = child;
  /* Held until the caller's session ends (or, close-on-exec, until the
     supervisor exits): the reaper waits for it as for QEMU.  */
  if (alive_fd != NULL)
    *alive_fd = alive_w;
  alive_w = -1;
  return 0;

fail_child:
  kill (child, SIGKILL);
  waitpid (child, NULL, 0);
  vm_cgroups_free (&cg);
  return -1;
fail_cgroup:
  if (!reaper)
    vm_cgroups_destroy (&cg);
  vm_cgroups_free (&cg);
  return -1;
}

/* The mount at `src` in our mount namespace, if it is an overlay: a copy of
   its super options, else NULL.  */
static char *
overlay_options_at (const char *src)
{
  cleanup_free char *buf = NULL;
  char *cursor, *point, *fstype, *super, *found = NULL;
  if (read_file_at (proc_self_dir (), "mountinfo", 0, &buf, NULL, NULL) < 0)
    return NULL;
  for (cursor = buf; mountinfo_next (&cursor, &point, &fstype, &super);)
    if (strcmp (point, src) == 0)
      {
        /* the last mount at a path is the one seen there */
        free (found);
        found = strcmp (fstype, "overlay") == 0 ? xstrdup (super) : NULL;
      }
  return found;
}

int
uvm_jail_share (int userns, int64_t base, const char *src, const char *dst, const char *layers, runhv_error_t *err)
{
  cleanup_free char *opts = overlay_options_at (src);
  int nlayer = 0, r, t;
  if (opts == NULL)
    {
      t = idmap_clone (src, userns, false, err);
      return t < 0 ? -1 : attach (t, dst, err);
    }
  if (mkdir (layers, 0700) < 0 && errno != EEXIST)
    return runhv_make_error (err, errno, "jail: mkdir `%s`", layers);
  r = remount_overlay (opts, dst, layers, userns, base, &nlayer, err);
  for (int i = 0; i < nlayer; i++)
    {
      cleanup_free char *l = xasprintf ("%s/%d", layers, i);
      umount2 (l, MNT_DETACH);
      rmdir (l);
    }
  rmdir (layers);
  return r;
}

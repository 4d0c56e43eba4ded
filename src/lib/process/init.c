#include "process/init.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "oci/hooks.h"
#include "core/json.h"
#include "process/rootfs.h"
#include "process/seccomp-filter.h"
#include "process/security.h"
#include "core/sync.h"
#include "core/terminal.h"
#include "core/util.h"
#include "core/banned.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

pid_t
clone_like_fork (unsigned long flags)
{
  /* A null stack makes the child continue on a copy of ours, as with fork. */
  return (pid_t)syscall (SYS_clone, flags | SIGCHLD, 0, NULL, NULL, 0);
}

static int
join_namespace (const char *path, int type, runhv_error_t *err)
{
  cleanup_close int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return runhv_make_error (err, errno, "linux.namespaces: open %s namespace `%s`", oci_namespace_name (type), path);
  if (setns (fd, type) < 0)
    return runhv_make_error (err, errno, "linux.namespaces: join %s namespace `%s`", oci_namespace_name (type), path);
  return 0;
}

/* Put the given fds on 0, 1 and 2 (the agent passes pipes it relays).  */
static int
install_stdio (const int *stdio, runhv_error_t *err)
{
  if (stdio == NULL)
    return 0;
  for (int i = 0; i < 3; i++)
    if (stdio[i] >= 0 && stdio[i] != i && dup2 (stdio[i], i) < 0)
      return runhv_make_error (err, errno, "set up stdio");
  for (int i = 0; i < 3; i++)
    if (stdio[i] > 2)
      close (stdio[i]);
  return 0;
}

static void
reset_signals (void)
{
  sigset_t all;
  sigemptyset (&all);
  for (int s = 1; s < NSIG; s++)
    if (s != SIGKILL && s != SIGSTOP)
      signal (s, SIG_DFL);
  sigprocmask (SIG_SETMASK, &all, NULL);
}

static char **
env_with_defaults (char *const *env)
{
  char **e = strv_dup (env);
  bool have_path = false, have_home = false;
  for (size_t i = 0; e[i]; i++)
    {
      if (strncmp (e[i], "PATH=", 5) == 0)
        have_path = true;
      if (strncmp (e[i], "HOME=", 5) == 0)
        have_home = true;
    }
  if (!have_path)
    strv_append (&e, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  if (!have_home)
    strv_append (&e, "HOME=/");
  return e;
}

/* Give the process's user its stdio (the pty made for it as root, a pipe
   or file handed in), as runc does: only the owner changes, the group is
   kept (devpts' gid=5); /dev/null is left alone, and so is what cannot be
   changed (an owner or group unmapped in the user namespace, a read-only
   /dev): the process can still use what it was given.  */
static int
fix_stdio_owner (uid_t uid, runhv_error_t *err)
{
  struct stat null;
  bool have_null = stat ("/dev/null", &null) == 0;
  for (int fd = 0; fd < 3; fd++)
    {
      struct stat st;
      if (fstat (fd, &st) < 0)
        {
          if (errno == EBADF)
            continue;
          return runhv_make_error (err, errno, "fstat stdio %d", fd);
        }
      if (st.st_uid == uid || (have_null && S_ISCHR (st.st_mode) && st.st_rdev == null.st_rdev))
        continue;
      if (fchown (fd, uid, st.st_gid) < 0 && errno != EINVAL && errno != EPERM && errno != EROFS)
        return runhv_make_error (err, errno, "process.user.uid: give stdio %d to uid %u", fd, (unsigned)uid);
    }
  return 0;
}

/* The environment with its defaults and the command's path in it.  */
static int
find_command (const struct oci_process *p, char ***env, char **exe, runhv_error_t *err)
{
  *env = env_with_defaults (p->env);
  *exe = find_in_path (p->args[0], *env);
  if (*exe == NULL)
    return runhv_error (err, "process.args[0]: executable `%s` not found in the container's $PATH (check the image)",
                        p->args[0]);
  return 0;
}

/* Shared by the container init and exec'd processes: everything between
   "inside the container" and execve that can fail and still be reported,
   in runc's order: seccomp (before the user switch without no_new_privs,
   which it then needs; else last), user and capabilities, no_new_privs.
   *listener is the seccomp notify fd, or -1.  */
static int
become_process (const struct oci_process *p, const struct oci_spec *spec, int preserve_fds, bool set_rlimits,
                int *listener, runhv_error_t *err)
{
  struct seccomp_filter *filter = NULL; /* the process execs or exits with it */
  bool cwd_done = false;

  *listener = -1;
  if (seccomp_filter_build (spec->seccomp, &filter, err) < 0)
    return -1;
  if (set_rlimits && security_set_rlimits (p, err) < 0)
    return -1;
  if (p->has_umask)
    umask (p->umask);
  else
    umask (0022);
  if (chdir (p->cwd) == 0)
    cwd_done = true;
  if (security_set_exec_labels (p, err) < 0 || fix_stdio_owner (p->uid, err) < 0)
    return -1;
  if (!p->no_new_privileges && seccomp_filter_load (filter, listener, err) < 0)
    return -1;
  if (security_switch_user_and_caps (p, err) < 0)
    return -1;
  if (!cwd_done && chdir (p->cwd) < 0)
    return runhv_make_error (err, errno, "process.cwd: chdir to `%s`", p->cwd);
  if (p->no_new_privileges && prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return runhv_make_error (err, errno, "process.noNewPrivileges");
  /* Before the filter, which may not know close_range (it answers ENOSYS
     for syscalls newer than the profile).  */
  syscall (SYS_close_range, 3 + preserve_fds, ~0U, CLOSE_RANGE_CLOEXEC);
  if (p->no_new_privileges && seccomp_filter_load (filter, listener, err) < 0)
    return -1;
  return 0;
}

static void
finish_and_exec (int sock, const struct oci_process *p, const struct oci_spec *spec, int preserve_fds)
{
  runhv_error_t err = NULL;
  cleanup_strv char **env = NULL;
  cleanup_free char *exe = NULL;
  int listener = -1;

  if (find_command (p, &env, &exe, &err) < 0)
    sync_fail (sock, &err);
  if (become_process (p, spec, preserve_fds, true, &listener, &err) < 0)
    sync_fail (sock, &err);
  if (listener >= 0)
    {
      if (sync_send (sock, SYNC_SECCOMP, 0, NULL, listener) < 0)
        _exit (1);
      close (listener);
    }
  reset_signals ();
  execve (exe, p->args, env);
  runhv_make_error (&err, errno, "exec `%s`", exe);
  sync_fail (sock, &err);
}

/* The container's hostname, domain name and sysctls, once its own /proc
   and namespaces are in place.  */
static int
set_names_and_sysctls (const struct oci_spec *s, runhv_error_t *err)
{
  if (s->hostname && s->hostname[0] && sethostname (s->hostname, strlen (s->hostname)) < 0)
    {
      runhv_make_error (err, errno, "hostname: set `%s`", s->hostname);
      return -1;
    }
  if (s->domainname && s->domainname[0] && setdomainname (s->domainname, strlen (s->domainname)) < 0)
    {
      runhv_make_error (err, errno, "domainname: set `%s`", s->domainname);
      return -1;
    }
  for (size_t i = 0; s->sysctl_keys && s->sysctl_keys[i]; i++)
    {
      cleanup_free char *path = xasprintf ("/proc/sys/%s", s->sysctl_keys[i]);
      for (char *c = path + 10; *c; c++)
        if (*c == '.')
          *c = '/';
      if (write_file (path, s->sysctl_values[i], strlen (s->sysctl_values[i]), err) < 0)
        {
          runhv_error_wrap (err, "linux.sysctl.%s", s->sysctl_keys[i]);
          return -1;
        }
    }
  return 0;
}

/* Created: wait here until `start` opens the FIFO.  Nobody reads our
   errors any more, so they go to the container's stderr.  The write end
   stays open, close-on-exec, so `start` sees it close at the execve itself:
   it returns only once the container's program runs (a signal sent before,
   to a PID 1 still at default dispositions, would be lost).  */
static int
wait_for_start (int fifo, int proc_fd)
{
  char proc[64];
  int w;
  snprintf (proc, sizeof (proc), "%sself/fd/%d", proc_fd >= 0 ? "" : "/proc/", fifo);
  w = openat (proc_fd >= 0 ? proc_fd : AT_FDCWD, proc, O_WRONLY | O_CLOEXEC);
  if (w < 0)
    {
      dprintf (2, "runhv: open the exec fifo: %s\n", strerror (errno));
      return -1;
    }
  if (write_all (w, "0", 1) < 0)
    return -1;
  return 0;
}

static void
init_stage2 (const struct init_config *cfg, int new_flags, int fifo_fd, int *bind_fds)
{
  const struct oci_spec *s = cfg->spec;
  const struct oci_process *p = s->process;
  int sock = cfg->sync_fd;
  runhv_error_t err = NULL;
  cleanup_close int fifo = fifo_fd;
  cleanup_strv char **env = NULL;
  cleanup_free char *exe = NULL;
  pid_t host_pid = 0;
  /* Without one, the container shares the runtime's mount namespace and is
     only chrooted (spec.c refuses what would need a mount).  */
  bool mountns = oci_spec_has_namespace (s, CLONE_NEWNS, NULL);
  cleanup_close int proc_fd = -1;
  struct rootfs_context rctx = {
    .spec = s,
    .rootfs = cfg->rootfs,
    .cgroups = cfg->cgroups,
    .userns = (new_flags & CLONE_NEWUSER) != 0 || oci_spec_has_namespace (s, CLONE_NEWUSER, NULL),
    .cgroupns = (new_flags & CLONE_NEWCGROUP) != 0,
    .no_pivot = cfg->no_pivot,
    .bind_fds = bind_fds,
  };

  /* Die with the runtime while the container is still being created.  */
  prctl (PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (sync_send (sock, SYNC_PID, 0, NULL, -1) < 0)
    _exit (1);
  if (install_stdio (cfg->stdio, &err) < 0)
    sync_fail (sock, &err);
  if (setsid () < 0)
    {
      runhv_make_error (&err, errno, "setsid");
      sync_fail (sock, &err);
    }
  if (mountns && rootfs_prepare (&rctx, &err) < 0)
    sync_fail (sock, &err);
  rootfs_close_bind_sources (s, bind_fds);
  rctx.bind_fds = NULL;
  if (cfg->has_hooks)
    {
      struct sync_msg m;
      /* The parent runs prestart/createRuntime and tells us our pid as the
         host sees it, which the hooks' state must carry.  */
      if (sync_send (sock, SYNC_HOOKS, 0, NULL, -1) < 0)
        _exit (1);
      if (sync_recv (sock, &m) < 0 || m.type != SYNC_HOOKS_ACK)
        {
          runhv_error (&err, "the runtime did not answer the hooks request");
          sync_fail (sock, &err);
        }
      host_pid = m.value;
    }
  if (s->n_hooks[OCI_HOOK_CREATE_CONTAINER] > 0)
    {
      cleanup_json json_t *st = oci_state_json (cfg->id, "created", host_pid, cfg->bundle, s->annotations);
      cleanup_free char *text = json_dumps (st, JSON_COMPACT);
      if (hooks_run (s, OCI_HOOK_CREATE_CONTAINER, text, &err) < 0)
        sync_fail (sock, &err);
    }
  /* A chroot without a mount namespace has no /proc of its own: keep the
     runtime's to reopen the FIFO through (closed at exec).  */
  if (!mountns)
    {
      proc_fd = open ("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (proc_fd < 0)
        {
          runhv_make_error (&err, errno, "open /proc");
          sync_fail (sock, &err);
        }
    }
  if (mountns ? rootfs_pivot (&rctx, &err) < 0 : rootfs_chroot (&rctx, &err) < 0)
    sync_fail (sock, &err);
  if (set_names_and_sysctls (s, &err) < 0)
    sync_fail (sock, &err);
  if (p->terminal)
    {
      cleanup_close int master = -1;
      /* /dev/console is bound only in a mount namespace of our own.  */
      if (terminal_setup_in_container (p->console_height, p->console_width, mountns, &master, &err) < 0)
        sync_fail (sock, &err);
      if (sync_send (sock, SYNC_CONSOLE, 0, NULL, master) < 0)
        _exit (1);
    }
  if (mountns && rootfs_finalize (&rctx, &err) < 0)
    sync_fail (sock, &err);
  if (security_set_oom_score_adj (p, &err) < 0)
    sync_fail (sock, &err);
  /* rlimits now, so that a limit the host cannot grant fails create.  */
  if (security_set_rlimits (p, &err) < 0)
    sync_fail (sock, &err);
  /* Fail create, not start, when the command is missing; and look it up
     before the filter, like everything that need not come after it.  */
  if (find_command (p, &env, &exe, &err) < 0)
    sync_fail (sock, &err);
  /* Seccomp now, as runc does: `start` only releases the process, and the
     startContainer hooks run under the filter (the spec has them run in
     the container after start, just before the user's process).  */
  {
    int listener = -1;
    if (become_process (p, s, cfg->preserve_fds, false, &listener, &err) < 0)
      sync_fail (sock, &err);
    if (listener >= 0)
      {
        if (sync_send (sock, SYNC_SECCOMP, 0, NULL, listener) < 0)
          _exit (1);
        close (listener);
      }
  }
  prctl (PR_SET_PDEATHSIG, 0, 0, 0, 0);
  if (sync_send (sock, SYNC_READY, 0, NULL, -1) < 0)
    _exit (1);
  close (sock);

  if (wait_for_start (fifo, proc_fd) < 0)
    _exit (127);
  if (s->n_hooks[OCI_HOOK_START_CONTAINER] > 0)
    {
      cleanup_json json_t *st = oci_state_json (cfg->id, "created", host_pid, cfg->bundle, s->annotations);
      cleanup_free char *text = json_dumps (st, JSON_COMPACT);
      if (hooks_run (s, OCI_HOOK_START_CONTAINER, text, &err) < 0)
        {
          dprintf (2, "runhv: %s\n", err->msg);
          _exit (127);
        }
    }
  reset_signals ();
  execve (exe, p->args, env);
  /* Nobody is listening any more (start has returned): the container's own
     stderr is the only place left to say it.  */
  dprintf (2, "runhv: exec `%s`: %s\n", exe, strerror (errno));
  _exit (127);
}

void
init_stage1 (const struct init_config *cfg)
{
  const struct oci_spec *s = cfg->spec;
  int sock = cfg->sync_fd;
  runhv_error_t err = NULL;
  int new_flags = 0;
  const char *userns_path = NULL;
  bool userns = oci_spec_has_namespace (s, CLONE_NEWUSER, &userns_path);
  int *bind_fds = NULL;
  pid_t child;
  int fifo;

  /* Processes that run runhv's code inside the container's namespaces must
     not be reachable through /proc by what runs there.  */
  prctl (PR_SET_DUMPABLE, 0, 0, 0, 0);
  if (sync_expect (sock, SYNC_GO, &err) < 0)
    sync_fail (sock, &err);
  /* Opened while still the host's root: the state directory is closed to
     the container's (mapped) root.  */
  fifo = open (cfg->fifo_path, O_PATH | O_CLOEXEC);
  if (fifo < 0)
    {
      runhv_make_error (&err, errno, "open `%s`", cfg->fifo_path);
      sync_fail (sock, &err);
    }
  /* Namespaces owned by the host are joined while we are still privileged. */
  for (size_t i = 0; i < s->n_namespaces; i++)
    {
      const struct oci_namespace *ns = &s->namespaces[i];
      if (ns->type == CLONE_NEWUSER)
        continue;
      if (ns->path != NULL)
        {
          if (join_namespace (ns->path, ns->type, &err) < 0)
            sync_fail (sock, &err);
        }
      else
        new_flags |= ns->type;
    }
  /* In a user namespace the container's root may not reach a source that
     the host's root can (a 0700 directory on the way): take a copy of each
     bind source now, as runc passes its mount sources in.  */
  if (userns && rootfs_open_bind_sources (s, &bind_fds, &err) < 0)
    sync_fail (sock, &err);
  if (userns)
    {
      if (userns_path != NULL)
        {
          if (join_namespace (userns_path, CLONE_NEWUSER, &err) < 0)
            sync_fail (sock, &err);
        }
      else
        {
          if (unshare (CLONE_NEWUSER) < 0)
            {
              runhv_make_error (&err, errno, "linux.namespaces: create a user namespace");
              sync_fail (sock, &err);
            }
          if (sync_send (sock, SYNC_USERMAP, 0, NULL, -1) < 0 || sync_expect (sock, SYNC_USERMAP_ACK, &err) < 0)
            sync_fail (sock, &err);
          new_flags |= CLONE_NEWUSER;
        }
      if (setresgid (0, 0, 0) < 0 || setresuid (0, 0, 0) < 0)
        {
          runhv_make_error (&err, errno, "linux.uidMappings: become root in the user namespace (map container id 0)");
          sync_fail (sock, &err);
        }
      prctl (PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
  if (unshare (new_flags & ~CLONE_NEWUSER) < 0)
    {
      runhv_make_error (&err, errno, "linux.namespaces: create namespaces");
      sync_fail (sock, &err);
    }
  child = clone_like_fork (CLONE_PARENT);
  if (child < 0)
    {
      runhv_make_error (&err, errno, "clone the container process");
      sync_fail (sock, &err);
    }
  if (child == 0)
    {
      init_stage2 (cfg, new_flags, fifo, bind_fds);
      _exit (1);
    }
  _exit (0);
}

void
exec_stage1 (const struct exec_config *cfg)
{
  static const int order[] = { CLONE_NEWUSER, CLONE_NEWNS,  CLONE_NEWPID,    CLONE_NEWNET,
                               CLONE_NEWIPC,  CLONE_NEWUTS, CLONE_NEWCGROUP, CLONE_NEWTIME };
  int sock = cfg->sync_fd;
  runhv_error_t err = NULL;
  pid_t child;

  prctl (PR_SET_DUMPABLE, 0, 0, 0, 0);
  if (sync_expect (sock, SYNC_GO, &err) < 0)
    sync_fail (sock, &err);
  /* Open every namespace first: once in the container's mount namespace,
     its /proc no longer shows the target by its host pid.  Then join the
     user namespace first, as it owns the others.  Namespaces the container
     shares with us are skipped (setns into our own user namespace is
     refused).  */
  int fds[sizeof (order) / sizeof (order[0])];
  /* A container without a mount namespace of its own is only chrooted:
     take its root now and chroot into it after joining the rest.  */
  cleanup_close int chroot_fd = -1;
  for (size_t i = 0; i < sizeof (order) / sizeof (order[0]); i++)
    {
      const char *name = oci_namespace_proc_name (order[i]);
      char path[64], self[64];
      struct stat a, b;
      fds[i] = -1;
      snprintf (path, sizeof (path), "/proc/%d/ns/%s", (int)cfg->target, name);
      snprintf (self, sizeof (self), "/proc/self/ns/%s", name);
      if (stat (path, &a) < 0)
        {
          if (errno == ENOENT && access ("/proc/self/ns/time", F_OK) < 0 && order[i] == CLONE_NEWTIME)
            continue;
          runhv_make_error (&err, errno, "open the container's %s namespace (is it still running?)", name);
          sync_fail (sock, &err);
        }
      if (stat (self, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev)
        {
          if (order[i] == CLONE_NEWNS)
            {
              snprintf (path, sizeof (path), "/proc/%d/root", (int)cfg->target);
              chroot_fd = open (path, O_PATH | O_DIRECTORY | O_CLOEXEC);
              if (chroot_fd < 0)
                {
                  runhv_make_error (&err, errno, "open the container's root (is it still running?)");
                  sync_fail (sock, &err);
                }
            }
          continue;
        }
      fds[i] = open (path, O_RDONLY | O_CLOEXEC);
      if (fds[i] < 0)
        {
          runhv_make_error (&err, errno, "open the container's %s namespace", name);
          sync_fail (sock, &err);
        }
    }
  for (size_t i = 0; i < sizeof (order) / sizeof (order[0]); i++)
    {
      if (fds[i] < 0)
        continue;
      if (setns (fds[i], order[i]) < 0)
        {
          runhv_make_error (&err, errno, "join the container's %s namespace", oci_namespace_proc_name (order[i]));
          sync_fail (sock, &err);
        }
      close (fds[i]);
      if (order[i] == CLONE_NEWUSER && (setresgid (0, 0, 0) < 0 || setresuid (0, 0, 0) < 0))
        {
          runhv_make_error (&err, errno, "become root in the container's user namespace");
          sync_fail (sock, &err);
        }
    }
  if (chroot_fd >= 0 && (fchdir (chroot_fd) < 0 || chroot (".") < 0))
    {
      runhv_make_error (&err, errno, "chroot into the container's root");
      sync_fail (sock, &err);
    }
  child = clone_like_fork (CLONE_PARENT);
  if (child < 0)
    {
      runhv_make_error (&err, errno, "clone the exec process");
      sync_fail (sock, &err);
    }
  if (child == 0)
    {
      const struct oci_process *p = cfg->process;
      prctl (PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
      if (sync_send (sock, SYNC_PID, 0, NULL, -1) < 0)
        _exit (1);
      if (install_stdio (cfg->stdio, &err) < 0)
        sync_fail (sock, &err);
      if (chdir ("/") < 0)
        {
          runhv_make_error (&err, errno, "chdir to the container's root");
          sync_fail (sock, &err);
        }
      if (p->terminal)
        {
          cleanup_close int master = -1;
          if (setsid () < 0)
            {
              runhv_make_error (&err, errno, "setsid");
              sync_fail (sock, &err);
            }
          if (terminal_setup_in_container (p->console_height, p->console_width, false, &master, &err) < 0)
            sync_fail (sock, &err);
          if (sync_send (sock, SYNC_CONSOLE, 0, NULL, master) < 0)
            _exit (1);
        }
      prctl (PR_SET_PDEATHSIG, 0, 0, 0, 0);
      /* The socket is close-on-exec: EOF tells the runtime exec worked. */
      finish_and_exec (sock, p, cfg->spec, cfg->preserve_fds);
    }
  _exit (0);
}

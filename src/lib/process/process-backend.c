/* The process backend: the container is a process tree on this kernel, in
   its own namespaces and cgroup (the seed's Windows Server container).  */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend/backend.h"
#include "oci/hooks.h"
#include "process/init.h"
#include "core/json.h"
#include "core/log.h"
#include "backend/runtime-context.h"
#include "process/seccomp-filter.h"
#include "process/security.h"
#include "process/storage-qos.h"
#include "core/sync.h"
#include "core/terminal.h"
#include "core/util.h"
#include "core/banned.h"

static char *
fifo_path (struct runtime_context *ctx, const char *id)
{
  return xasprintf ("%s/%s/exec.fifo", ctx->root, id);
}

static int
pidfd_open_checked (pid_t pid, uint64_t start)
{
  int fd = (int)syscall (SYS_pidfd_open, pid, 0);
  if (fd < 0)
    return -1;
  /* The pidfd pins the process: if it is still the one we started, it
     stays so for as long as we hold the fd.  */
  if (!pid_alive (pid, start))
    {
      close (fd);
      errno = ESRCH;
      return -1;
    }
  return fd;
}

static int
load_cgroups (struct runtime_context *ctx, struct container *c, struct cgroup_manager **out, runhv_error_t *err)
{
  json_t *j = c->state->backend ? json_object_get (c->state->backend, "cgroups") : NULL;
  (void)ctx;
  if (j == NULL)
    {
      *out = NULL;
      return 0;
    }
  return cgroup_manager_from_json (j, out, err);
}

static int
write_id_map (pid_t pid, const char *file, const struct oci_id_map *m, size_t n, runhv_error_t *err)
{
  cleanup_free char *path = xasprintf ("/proc/%d/%s", (int)pid, file);
  cleanup_free char *buf = xstrdup ("");
  for (size_t i = 0; i < n; i++)
    {
      char *next = xasprintf ("%s%u %u %u\n", buf, m[i].container_id, m[i].host_id, m[i].size);
      free (buf);
      buf = next;
    }
  if (write_file (path, buf, strlen (buf), err) < 0)
    return runhv_error_wrap (err, "linux.%s", strcmp (file, "uid_map") == 0 ? "uidMappings" : "gidMappings");
  return 0;
}

static uid_t
host_root_uid (const struct oci_id_map *m, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (m[i].container_id == 0)
      return m[i].host_id;
  return 0;
}

static void
kill_and_reap (pid_t pid)
{
  if (pid <= 0)
    return;
  kill (pid, SIGKILL);
  while (waitpid (pid, NULL, 0) < 0 && errno == EINTR)
    ;
}

/* Process `pid` loaded a filter with SCMP_ACT_NOTIFY: hand its listener
   to the agent at linux.seccomp.listenerPath, as runc does, with the state
   of a container that is being created (pid: its init) or, for an exec,
   running (pid: the container's init, st->pid).  */
static int
send_listener (const struct oci_spec *spec, const struct container_state *st, bool exec, pid_t pid, int listener,
               runhv_error_t *err)
{
  cleanup_close int fd = listener;
  cleanup_json json_t *sj = NULL;
  if (fd < 0 || spec->seccomp == NULL || spec->seccomp->listener_path == NULL)
    return runhv_error (err, "protocol error: an unexpected seccomp listener from the container process");
  sj = oci_state_json (st->id, exec ? "running" : "creating", exec ? st->pid : pid, st->bundle, st->annotations);
  return seccomp_send_listener (spec->seccomp, pid, sj, fd, err);
}

/* The socket to the forked stages: [0] ours, told each message's sender
   (SO_PASSCRED: that is how stage 2 reports its pid as we see it), [1]
   theirs.  */
static int
stage_socketpair (int sv[2], runhv_error_t *err)
{
  int one = 1;
  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    return runhv_make_error (err, errno, "socketpair");
  setsockopt (sv[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof (one));
  return 0;
}

/* Create's side of the conversation with the init, message by message,
   until it says it is ready: id maps, its pid, the prestart and
   createRuntime hooks, a seccomp listener, the terminal.  *stage1 is -1
   once reaped and *init set once known, for the caller to clean up.  */
static int
follow_init_setup (struct container *c, const struct create_options *o, int sock, pid_t *stage1, pid_t *init,
                   runhv_error_t *err)
{
  struct container_state *st = c->state;
  const struct oci_spec *spec = c->spec;
  bool got_console = !spec->process->terminal;

  for (;;)
    {
      struct sync_msg m;
      if (sync_recv (sock, &m) < 0)
        {
          if (errno == 0)
            runhv_error (err, "the container process exited during setup");
          else
            runhv_make_error (err, errno, "read from the container process");
          return -1;
        }
      switch (m.type)
        {
        case SYNC_USERMAP:
          if (write_id_map (*stage1, "uid_map", spec->uid_mappings, spec->n_uid_mappings, err) < 0
              || write_id_map (*stage1, "gid_map", spec->gid_mappings, spec->n_gid_mappings, err) < 0)
            return -1;
          if (sync_send (sock, SYNC_USERMAP_ACK, 0, NULL, -1) < 0)
            {
              runhv_make_error (err, errno, "talk to the container process");
              return -1;
            }
          break;
        case SYNC_PID:
          *init = m.sender;
          if (*init <= 0)
            {
              runhv_error (err, "the container process did not say who it is");
              return -1;
            }
          while (waitpid (*stage1, NULL, 0) < 0 && errno == EINTR)
            ;
          *stage1 = -1;
          /* No save of its pid here (a save costs create ~0.5 ms): it
             dies with us until it is ready (PR_SET_PDEATHSIG), and after
             that it sits in the cgroup on record, which `delete --force`
             empties with SIGKILL.  */
          break;
        case SYNC_HOOKS:
          {
            cleanup_json json_t *sj = oci_state_json (st->id, "creating", *init, st->bundle, st->annotations);
            cleanup_free char *text = json_dumps (sj, JSON_COMPACT);
            if (hooks_run (spec, OCI_HOOK_PRESTART, text, err) < 0
                || hooks_run (spec, OCI_HOOK_CREATE_RUNTIME, text, err) < 0)
              return -1;
            if (sync_send (sock, SYNC_HOOKS_ACK, *init, NULL, -1) < 0)
              {
                runhv_make_error (err, errno, "talk to the container process");
                return -1;
              }
          }
          break;
        case SYNC_SECCOMP:
          if (send_listener (spec, st, false, *init, m.fd, err) < 0)
            return -1;
          break;
        case SYNC_CONSOLE:
          {
            cleanup_close int master = m.fd;
            if (master < 0)
              {
                runhv_error (err, "the container process sent no terminal");
                return -1;
              }
            if (terminal_hand_over (o->console_receiver, o->console_socket, master, err) < 0)
              return -1;
            got_console = true;
          }
          break;
        case SYNC_READY:
          if (!got_console)
            {
              runhv_error (err, "the container process did not set up its terminal");
              return -1;
            }
          return 0;
        case SYNC_ERROR:
          sync_msg_error (&m, err);
          return -1;
        default:
          if (m.fd >= 0)
            close (m.fd);
          runhv_error (err, "protocol error: unexpected message %d from the container process", m.type);
          return -1;
        }
    }
}

/* The FIFO `start` opens to let the init exec the process.  Writable by
   anyone (the state directory is private): the init opens it after
   switching to process.user, as runc's does (mode 0622 there too).  chmod,
   because mkfifo's mode goes through our umask.  */
static int
make_exec_fifo (const struct oci_spec *spec, const char *fifo, runhv_error_t *err)
{
  if (mkfifo (fifo, 0622) < 0 || chmod (fifo, 0622) < 0)
    return runhv_make_error (err, errno, "create `%s`", fifo);
  if (spec->n_uid_mappings > 0
      && chown (fifo, host_root_uid (spec->uid_mappings, spec->n_uid_mappings),
                host_root_uid (spec->gid_mappings, spec->n_gid_mappings))
           < 0)
    return runhv_make_error (err, errno, "chown `%s`", fifo);
  return 0;
}

static int
process_create (struct runtime_context *ctx, struct container *c, const struct create_options *o, runhv_error_t *err)
{
  struct container_state *st = c->state;
  const struct oci_spec *spec = c->spec;
  struct cgroup_manager *cg = NULL;
  cleanup_free char *fifo = fifo_path (ctx, st->id);
  cleanup_close_pair int sv[2] = { -1, -1 };
  pid_t stage1 = -1, init = -1;
  int ret = -1;
  bool hooks;
  struct init_config icfg;

  hooks = spec->n_hooks[OCI_HOOK_PRESTART] || spec->n_hooks[OCI_HOOK_CREATE_RUNTIME]
          || spec->n_hooks[OCI_HOOK_CREATE_CONTAINER] || spec->n_hooks[OCI_HOOK_START_CONTAINER];

  if (spec->process->terminal && o->console_socket == NULL && o->console_receiver < 0)
    return runhv_error (err, "process.terminal is true but no --console-socket was given (pass one, or set "
                             "terminal to false)");
  if (security_check_caps (spec->process, err) < 0 || security_check_labels (spec->process, spec->mount_label, err) < 0)
    return -1;

  if (cgroup_manager_new (ctx->cgroup_root, spec->cgroups_path, st->id, ctx->systemd_cgroup, &cg, err) < 0)
    return -1;
  /* Before anything exists, so the refusal leaves nothing (runc makes the
     same check only after placing the init, and hangs on a frozen parent). */
  if (cgroup_check_unfrozen (cg, err) < 0)
    {
      cgroup_manager_free (cg);
      return -1;
    }
  /* the cgroup on record before it exists (runtime_create says why) */
  if (st->backend == NULL)
    st->backend = json_object ();
  json_object_set_new (st->backend, "cgroups", cgroup_manager_to_json (cg));
  if (container_save (ctx, c, err) < 0)
    goto out;
  if (cgroup_create (cg, err) < 0)
    goto out;
  if (spec->resources != NULL && cgroup_apply (cg, spec->resources, err) < 0)
    goto out;
  if (process_storage_qos (spec, st->rootfs, cg, err) < 0)
    goto out;
  if (make_exec_fifo (spec, fifo, err) < 0)
    goto out;
  if (stage_socketpair (sv, err) < 0)
    goto out;

  icfg = (struct init_config){
    .spec = spec,
    .id = st->id,
    .bundle = st->bundle,
    .rootfs = st->rootfs,
    .fifo_path = fifo,
    .sync_fd = sv[1],
    .preserve_fds = o->preserve_fds,
    .no_pivot = o->no_pivot,
    .has_hooks = hooks,
    .cgroups = cg,
    .stdio = o->stdio,
  };
  /* the init outlives create: it must not hold the lock */
  stage1 = init_spawn (&icfg, o->lock_fd, err);
  if (stage1 < 0)
    goto out;
  close (sv[1]);
  sv[1] = -1;

  if (cgroup_enter (cg, stage1, err) < 0 || sync_send (sv[0], SYNC_GO, 0, NULL, -1) < 0)
    {
      if (err && *err == NULL)
        runhv_make_error (err, errno, "talk to the container process");
      goto out;
    }
  if (follow_init_setup (c, o, sv[0], &stage1, &init, err) < 0)
    goto out;
  st->pid = init;
  st->pid_start = pid_start_time (init);
  st->cgroup_path = xstrdup (cg->h[0].path);
  if (st->backend == NULL)
    st->backend = json_object ();
  json_object_set_new (st->backend, "cgroups", cgroup_manager_to_json (cg));
  ret = 0;
out:
  if (ret < 0)
    {
      runhv_error_t ignored = NULL;
      kill_and_reap (init);
      kill_and_reap (stage1);
      unlink (fifo);
      if (cg != NULL && cgroup_destroy (cg, true, &ignored) < 0)
        {
          log_warning ("cleanup: %s", ignored->msg);
          runhv_error_release (&ignored);
        }
    }
  cgroup_manager_free (cg);
  return ret;
}

static enum container_status
process_status (struct runtime_context *ctx, struct container *c)
{
  struct container_state *st = c->state;
  cleanup_free char *fifo = NULL;
  struct cgroup_manager *cg = NULL;
  runhv_error_t ignored = NULL;
  bool frozen = false;

  if (!pid_alive (st->pid, st->pid_start))
    return STATUS_STOPPED;
  fifo = fifo_path (ctx, st->id);
  if (access (fifo, F_OK) == 0)
    return STATUS_CREATED;
  if (load_cgroups (ctx, c, &cg, &ignored) < 0)
    runhv_error_release (&ignored);
  else if (cg != NULL)
    {
      frozen = cgroup_is_frozen (cg);
      cgroup_manager_free (cg);
    }
  return frozen ? STATUS_PAUSED : STATUS_RUNNING;
}

static int
process_start (struct runtime_context *ctx, struct container *c, runhv_error_t *err)
{
  struct container_state *st = c->state;
  cleanup_free char *fifo = fifo_path (ctx, st->id);
  cleanup_close int fd = -1, pidfd = -1;
  char byte;

  /* Watch the init before opening the FIFO: opening it releases the init,
     which may exec and exit before we look.  */
  pidfd = pidfd_open_checked (st->pid, st->pid_start);
  if (pidfd < 0)
    return runhv_error (err, "container `%s` exited before it was started", st->id);
  fd = open (fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    return runhv_make_error (err, errno, "open `%s`", fifo);
  for (;;)
    {
      struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = pidfd, .events = POLLIN } };
      ssize_t n;
      if (poll (p, 2, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          return runhv_make_error (err, errno, "wait for the container process");
        }
      if (p[0].revents & POLLIN)
        {
          n = read (fd, &byte, 1);
          if (n == 1)
            break;
          if (n < 0 && errno == EAGAIN)
            continue;
        }
      if (p[1].revents & POLLIN)
        return runhv_error (err, "container `%s` exited before it was started", st->id);
      if (p[0].revents & POLLHUP)
        usleep (1000); /* no writer yet: the init is about to open it */
    }
  unlink (fifo);
  /* Released.  The init holds the FIFO's write end until its execve closes
     it (or it dies): wait for that, so that whoever signals the container
     once start returns reaches its program, not the init.  */
  for (;;)
    {
      struct pollfd p = { .fd = fd, .events = POLLIN };
      ssize_t n;
      if (poll (&p, 1, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          return runhv_make_error (err, errno, "wait for the container process to exec");
        }
      n = read (fd, &byte, 1);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
        break;
    }
  return 0;
}

static int
process_kill (struct runtime_context *ctx, struct container *c, int sig, bool all, runhv_error_t *err)
{
  struct container_state *st = c->state;
  cleanup_close int pidfd = -1;
  if (all)
    {
      struct cgroup_manager *cg = NULL;
      int r;
      if (load_cgroups (ctx, c, &cg, err) < 0)
        return -1;
      if (cg == NULL)
        return runhv_error (err, "container `%s` has no cgroup to signal", st->id);
      r = cgroup_signal_all (cg, sig, err);
      cgroup_manager_free (cg);
      return r;
    }
  pidfd = pidfd_open_checked (st->pid, st->pid_start);
  if (pidfd < 0)
    return runhv_error (err, "container `%s` is not running", st->id);
  if (syscall (SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0)
    return runhv_make_error (err, errno, "send signal %d to container `%s`", sig, st->id);
  return 0;
}

static int
process_destroy (struct runtime_context *ctx, struct container *c, runhv_error_t *err)
{
  struct container_state *st = c->state;
  struct cgroup_manager *cg = NULL;
  cleanup_close int pidfd = pidfd_open_checked (st->pid, st->pid_start);
  int ret = 0;

  if (load_cgroups (ctx, c, &cg, err) < 0)
    return -1;
  if (pidfd >= 0)
    {
      /* A frozen process cannot die, and the init of a pid namespace lingers
         until every process in it is gone, sub-cgroups included: thaw and
         kill the whole tree, not just the init.  */
      if (cg != NULL)
        cgroup_kill_tree (cg);
      syscall (SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
      {
        struct pollfd p = { .fd = pidfd, .events = POLLIN };
        if (poll (&p, 1, 10000) == 0)
          log_warning ("container `%s`: its process did not exit within 10 s of SIGKILL", st->id);
      }
      /* Reap it if it is our child (run in the foreground).  */
      waitpid (st->pid, NULL, WNOHANG);
    }
  if (cg != NULL)
    {
      ret = cgroup_destroy (cg, true, err);
      cgroup_manager_free (cg);
    }
  return ret;
}

static int
process_exec (struct runtime_context *ctx, struct container *c, const struct exec_options *o, struct process_handle *h,
              runhv_error_t *err)
{
  struct container_state *st = c->state;
  struct cgroup_manager *cg = NULL;
  cleanup_close_pair int sv[2] = { -1, -1 };
  pid_t stage1 = -1, child = -1;
  int ret = -1;
  struct exec_config ecfg;
  bool got_console = !o->process->terminal;

  if (o->process->terminal && o->console_socket == NULL && o->console_receiver < 0)
    return runhv_error (err, "--tty needs a terminal receiver (pass --console-socket, or run in the foreground)");
  if (security_check_caps (o->process, err) < 0 || security_check_labels (o->process, NULL, err) < 0)
    return -1;
  if (load_cgroups (ctx, c, &cg, err) < 0)
    return -1;
  if (o->cgroup_subs != NULL)
    {
      struct cgroup_manager *sub = NULL;
      if (cg == NULL)
        return runhv_error (err, "exec --cgroup: container `%s` has no cgroup", st->id);
      if (cgroup_manager_sub (cg, o->cgroup_subs, &sub, err) < 0)
        {
          cgroup_manager_free (cg);
          return -1;
        }
      cgroup_manager_free (cg);
      cg = sub;
    }
  if (stage_socketpair (sv, err) < 0)
    goto out;
  ecfg = (struct exec_config){
    .process = o->process,
    .spec = c->spec,
    .target = st->pid,
    .sync_fd = sv[1],
    .preserve_fds = o->preserve_fds,
    .tty = o->process->terminal,
    .stdio = o->stdio,
  };
  stage1 = exec_spawn (&ecfg, c->lock_fd, err);
  if (stage1 < 0)
    goto out;
  close (sv[1]);
  sv[1] = -1;
  if (cg != NULL && cgroup_enter (cg, stage1, err) < 0)
    {
      if (o->cgroup_subs != NULL)
        runhv_error_wrap (err, "exec --cgroup (the sub-cgroup must exist)");
      goto out;
    }
  if (sync_send (sv[0], SYNC_GO, 0, NULL, -1) < 0)
    {
      if (*err == NULL)
        runhv_make_error (err, errno, "talk to the exec process");
      goto out;
    }
  for (;;)
    {
      struct sync_msg m;
      if (sync_recv (sv[0], &m) < 0)
        {
          if (errno != 0)
            {
              runhv_make_error (err, errno, "read from the exec process");
              goto out;
            }
          /* EOF: the socket closed on a successful execve.  */
          if (child <= 0)
            {
              runhv_error (err, "the exec process exited during setup");
              goto out;
            }
          break;
        }
      if (m.type == SYNC_PID)
        {
          child = m.sender;
          while (waitpid (stage1, NULL, 0) < 0 && errno == EINTR)
            ;
          stage1 = -1;
        }
      else if (m.type == SYNC_SECCOMP)
        {
          if (send_listener (c->spec, c->state, true, child, m.fd, err) < 0)
            goto out;
        }
      else if (m.type == SYNC_CONSOLE)
        {
          cleanup_close int master = m.fd;
          if (master < 0 || terminal_hand_over (o->console_receiver, o->console_socket, master, err) < 0)
            goto out;
          got_console = true;
        }
      else if (m.type == SYNC_ERROR)
        {
          sync_msg_error (&m, err);
          goto out;
        }
      else
        {
          if (m.fd >= 0)
            close (m.fd);
          runhv_error (err, "protocol error: unexpected message %d from the exec process", m.type);
          goto out;
        }
    }
  if (!got_console)
    {
      runhv_error (err, "the exec process did not set up its terminal");
      goto out;
    }
  if (process_handle_for_child (h, child, err) < 0)
    goto out;
  ret = 0;
out:
  if (ret < 0)
    {
      kill_and_reap (child);
      kill_and_reap (stage1);
    }
  cgroup_manager_free (cg);
  return ret;
}

static int
process_ps (struct runtime_context *ctx, struct container *c, pid_t **pids, size_t *n, runhv_error_t *err)
{
  struct cgroup_manager *cg = NULL;
  int r;
  if (load_cgroups (ctx, c, &cg, err) < 0)
    return -1;
  if (cg == NULL)
    {
      *pids = NULL;
      *n = 0;
      return 0;
    }
  r = cgroup_pids (cg, pids, n, err);
  cgroup_manager_free (cg);
  return r;
}

static int
with_cgroups (struct runtime_context *ctx, struct container *c, int op, const struct oci_resources *r,
              struct container_stats *s, runhv_error_t *err)
{
  struct cgroup_manager *cg = NULL;
  int ret;
  if (load_cgroups (ctx, c, &cg, err) < 0)
    return -1;
  if (cg == NULL)
    return runhv_error (err, "container `%s` has no cgroup", c->state->id);
  switch (op)
    {
    case 0:
      ret = cgroup_freeze (cg, true, err);
      break;
    case 1:
      ret = cgroup_freeze (cg, false, err);
      break;
    case 2:
      ret = cgroup_apply (cg, r, err);
      break;
    default:
      ret = cgroup_stats (cg, s, err);
      break;
    }
  cgroup_manager_free (cg);
  return ret;
}

static int
process_pause (struct runtime_context *ctx, struct container *c, runhv_error_t *err)
{
  return with_cgroups (ctx, c, 0, NULL, NULL, err);
}

static int
process_resume (struct runtime_context *ctx, struct container *c, runhv_error_t *err)
{
  return with_cgroups (ctx, c, 1, NULL, NULL, err);
}

static int
process_update (struct runtime_context *ctx, struct container *c, const struct oci_resources *r, runhv_error_t *err)
{
  return with_cgroups (ctx, c, 2, r, NULL, err);
}

static int
process_stats (struct runtime_context *ctx, struct container *c, struct container_stats *s, runhv_error_t *err)
{
  return with_cgroups (ctx, c, 3, NULL, s, err);
}

static int
process_oom_watch (struct runtime_context *ctx, struct container *c, runhv_error_t *err)
{
  struct cgroup_manager *cg = NULL;
  int fd;
  if (load_cgroups (ctx, c, &cg, err) < 0)
    return -1;
  if (cg == NULL)
    return runhv_error (err, "container `%s` has no cgroup", c->state->id);
  fd = cgroup_oom_watch (cg, err);
  cgroup_manager_free (cg);
  return fd;
}

struct pid_priv
{
  pid_t pid;
  uint64_t start;
};

static int
pid_handle_signal (struct process_handle *h, int sig, runhv_error_t *err)
{
  if (syscall (SYS_pidfd_send_signal, h->wait_fd, sig, NULL, 0) < 0 && errno != ESRCH)
    return runhv_make_error (err, errno, "send signal %d to process %d", sig, (int)h->pid);
  return 0;
}

static int
pid_handle_reap (struct process_handle *h, int *exit_status, runhv_error_t *err)
{
  int status = 0;
  pid_t r;
  do
    r = waitpid (h->pid, &status, 0);
  while (r < 0 && errno == EINTR);
  if (r < 0)
    return runhv_make_error (err, errno, "wait for process %d (is runhv its parent?)", (int)h->pid);
  *exit_status = WIFSIGNALED (status) ? 128 + WTERMSIG (status) : WEXITSTATUS (status);
  return 0;
}

static void
pid_handle_release (struct process_handle *h)
{
  if (h->wait_fd >= 0)
    close (h->wait_fd);
  h->wait_fd = -1;
}

int
process_handle_for_child (struct process_handle *h, pid_t pid, runhv_error_t *err)
{
  memset (h, 0, sizeof (*h));
  h->pid = pid;
  h->wait_fd = (int)syscall (SYS_pidfd_open, pid, 0);
  if (h->wait_fd < 0)
    return runhv_make_error (err, errno, "watch process %d", (int)pid);
  h->signal = pid_handle_signal;
  h->reap = pid_handle_reap;
  h->release = pid_handle_release;
  return 0;
}

static int
process_attach (struct runtime_context *ctx, struct container *c, struct process_handle *h, runhv_error_t *err)
{
  (void)ctx;
  return process_handle_for_child (h, c->state->pid, err);
}

const struct backend_ops process_backend = {
  .name = "process",
  .create = process_create,
  .start = process_start,
  .status = process_status,
  .kill = process_kill,
  .destroy = process_destroy,
  .exec = process_exec,
  .ps = process_ps,
  .pause = process_pause,
  .resume = process_resume,
  .update = process_update,
  .stats = process_stats,
  .oom_watch = process_oom_watch,
  .attach = process_attach,
};

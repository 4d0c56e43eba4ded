/* The runtime layer: ids, the registry, locking, isolation choice, hooks
   and lifecycle rules shared by every backend.  */
#include "runtime.h"
#include "runtime-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "process/cgroup.h"
#include "core/events.h"
#include "oci/hooks.h"
#include "core/json.h"
#include "core/log.h"
#include "core/terminal.h"
#include "core/util.h"
#include "uvm/session.h"
#include "core/banned.h"

int
runtime_context_init (struct runtime_context *ctx, const char *root, runhv_error_t *err)
{
  memset (ctx, 0, sizeof (*ctx));
  if (root == NULL)
    root = RUNHV_DEFAULT_ROOT;
  if (root[0] != '/')
    {
      char cwd[PATH_MAX];
      if (getcwd (cwd, sizeof (cwd)) == NULL)
        return runhv_make_error (err, errno, "getcwd");
      ctx->root = xasprintf ("%s/%s", cwd, root);
    }
  else
    ctx->root = xstrdup (root);
  return 0;
}

void
runtime_context_release (struct runtime_context *ctx)
{
  free (ctx->root);
  runhv_config_free (ctx->config);
  memset (ctx, 0, sizeof (*ctx));
}

int
runtime_select_isolation (const char *flag, const struct oci_spec *spec, const struct runhv_config *cfg,
                          enum isolation *out, runhv_error_t *err)
{
  const char *ann = spec != NULL ? oci_spec_annotation (spec, "io.runhv.isolation") : NULL;
  if (flag != NULL)
    return isolation_from_name (flag, "--isolation", out, err);
  if (ann != NULL)
    return isolation_from_name (ann, "annotations.io.runhv.isolation", out, err);
  if (cfg != NULL)
    {
      *out = cfg->sandbox_isolation == ISOLATION_HYPERVISOR ? ISOLATION_HYPERVISOR : ISOLATION_PROCESS;
      return 0;
    }
  *out = ISOLATION_PROCESS;
  return 0;
}

static const struct backend_ops *
backend_for (const struct runtime_context *ctx, const char *isolation)
{
  if (ctx->backend != NULL)
    return ctx->backend;
  if (isolation != NULL && strcmp (isolation, "hypervisor") == 0)
    return &hypervisor_backend;
  return &process_backend;
}

void
container_free (struct container *c)
{
  if (c == NULL)
    return;
  container_state_free (c->state);
  oci_spec_free (c->spec);
  if (c->lock_fd >= 0)
    close (c->lock_fd);
  free (c);
}

/* A container's lock.  A process hosting VMs (the shim) keeps their loops
   running while it waits: the holder may be a runhv command waiting for an
   answer from one of those VMs, which only this process can give.  */
static int
lock_container (struct runtime_context *ctx, const char *id, runhv_error_t *err)
{
  if (!ctx->host_vms)
    return state_lock (ctx->root, id, err);
  for (;;)
    {
      int fd = state_try_lock (ctx->root, id, err);
      if (fd >= 0 || (*err)->status != EWOULDBLOCK)
        return fd;
      runhv_error_release (err);
      uvm_sessions_run (20);
    }
}

int
container_open (struct runtime_context *ctx, const char *id, struct container **out, runhv_error_t *err)
{
  struct container *c = xmalloc0 (sizeof (*c));
  c->lock_fd = -1;
  if (state_validate_id (id, err) < 0)
    goto fail;
  c->lock_fd = lock_container (ctx, id, err);
  if (c->lock_fd < 0)
    goto fail;
  if (state_load (ctx->root, id, &c->state, err) < 0)
    goto fail;
  if (c->state->config != NULL && oci_spec_parse_json (c->state->config, "state", &c->spec, err) < 0)
    goto fail;
  c->ops = backend_for (ctx, c->state->isolation);
  *out = c;
  return 0;
fail:
  container_free (c);
  return -1;
}

enum container_status
container_status (struct runtime_context *ctx, struct container *c)
{
  if (c->state->pid <= 0)
    /* create holds the state's lock while it runs: a record still marked
       creating that we could open is one whose create died.  */
    return c->state->started || c->state->creating ? STATUS_STOPPED : STATUS_CREATING;
  return c->ops->status (ctx, c);
}

/* Who asked: the seed's hcsdiag shows the owner of each compute system.
   Our caller's name tells it (containerd's shims, podman's conmon).  */
static char *
guess_owner (void)
{
  cleanup_free char *comm = NULL, *path = xasprintf ("/proc/%d/comm", (int)getppid ());
  struct passwd *pw;
  if (read_file (path, 64, &comm, NULL, NULL) == 0)
    {
      comm[strcspn (comm, "\n")] = '\0';
      if (strncmp (comm, "containerd", 10) == 0)
        return xstrdup ("containerd");
      if (strcmp (comm, "conmon") == 0 || strcmp (comm, "podman") == 0)
        return xstrdup ("podman");
    }
  pw = getpwuid (getuid ());
  return xstrdup (pw && pw->pw_name ? pw->pw_name : "root");
}

static int
write_pid_file (const char *path, pid_t pid, runhv_error_t *err)
{
  char buf[32];
  cleanup_free char *abs = NULL;
  if (path == NULL)
    return 0;
  snprintf (buf, sizeof (buf), "%d", (int)pid);
  if (write_file_atomic (path, buf, strlen (buf), 0644, err) < 0)
    return runhv_error_wrap (err, "--pid-file");
  return 0;
}

static void
run_hooks_warn (struct container *c, enum oci_hook_kind kind, const char *status)
{
  runhv_error_t err = NULL;
  cleanup_json json_t *sj = NULL;
  cleanup_free char *text = NULL;
  if (c->spec == NULL || c->spec->n_hooks[kind] == 0)
    return;
  sj = oci_state_json (c->state->id, status, c->state->pid, c->state->bundle, c->state->annotations);
  text = json_dumps (sj, JSON_COMPACT);
  if (hooks_run (c->spec, kind, text, &err) < 0)
    {
      log_warning ("%s", err->msg);
      runhv_error_release (&err);
    }
}

/* A container of a pod whose sandbox runs in a VM runs in that VM: the
   CRI marks a pod's containers with its sandbox's id; `io.runhv.vm` asks
   for the same by hand.  *join is the sandbox to join, or NULL.  */
static int
pod_vm (struct runtime_context *ctx, const struct oci_spec *spec, const char *flag, enum isolation *iso, char **join,
        runhv_error_t *err)
{
  const char *sandbox = oci_spec_pod_sandbox (spec), *by_hand = oci_spec_annotation (spec, "io.runhv.vm");
  struct container_state *ss = NULL;
  if (by_hand != NULL)
    sandbox = by_hand;
  if (sandbox == NULL)
    return 0;
  if (state_load (ctx->root, sandbox, &ss, err) < 0)
    {
      if (by_hand == NULL)
        {
          /* a sandbox runhv does not run (another runtime's): no VM to join */
          runhv_error_release (err);
          return 0;
        }
      return runhv_error_wrap (err, "annotations.io.runhv.vm");
    }
  if (strcmp (ss->isolation, "hypervisor") == 0)
    {
      if (flag != NULL && *iso != ISOLATION_HYPERVISOR)
        {
          container_state_free (ss);
          return runhv_error (err,
                              "--isolation=process: the pod's sandbox `%s` runs in a VM, and so must its "
                              "containers",
                              sandbox);
        }
      *iso = ISOLATION_HYPERVISOR;
      *join = xstrdup (sandbox);
    }
  else if (by_hand != NULL)
    {
      container_state_free (ss);
      return runhv_error (err, "annotations.io.runhv.vm: `%s` does not run in a VM", sandbox);
    }
  container_state_free (ss);
  return 0;
}

int
runtime_create (struct runtime_context *ctx, const char *id, const struct create_options *o, pid_t *pid,
                runhv_error_t *err)
{
  struct runhv_config *cfg = NULL;
  struct oci_spec *spec = NULL;
  struct container *c = NULL;
  cleanup_free char *bundle = NULL, *rootfs = NULL, *rootfs_in = NULL;
  enum isolation iso;
  struct create_options opts = *o;
  char ts[64];
  int ret = -1;
  bool dir_created = false;
  cleanup_free char *join = NULL;

  if (state_validate_id (id, err) < 0)
    return -1;
  bundle = realpath (o->bundle ? o->bundle : ".", NULL);
  if (bundle == NULL)
    return runhv_make_error (err, errno, "--bundle: `%s` is not usable (give the bundle directory)",
                             o->bundle ? o->bundle : ".");
  if (oci_spec_load (bundle, &spec, err) < 0)
    return -1;
  if (runtime_config (ctx, &cfg, err) < 0)
    goto out;
  if (runtime_select_isolation (o->isolation, spec, cfg, &iso, err) < 0)
    goto out;
  if (pod_vm (ctx, spec, o->isolation, &iso, &join, err) < 0)
    goto out;
  rootfs_in = spec->root_path[0] == '/' ? xstrdup (spec->root_path) : xasprintf ("%s/%s", bundle, spec->root_path);
  rootfs = realpath (rootfs_in, NULL);
  if (rootfs == NULL)
    {
      runhv_make_error (err, errno, "root.path: rootfs `%s` is not usable (create it or fix root.path)", rootfs_in);
      goto out;
    }
  {
    struct stat stbuf, host_root;
    if (stat (rootfs, &stbuf) < 0 || !S_ISDIR (stbuf.st_mode))
      {
        runhv_error (err, "root.path: rootfs `%s` is not a directory", rootfs);
        goto out;
      }
    /* The host's own root as the image (by path, symlink or a bind mount of
       it): runc gets as far as pivot_root (EBUSY); say so before anything
       is created.  */
    if (stat ("/", &host_root) == 0 && stbuf.st_dev == host_root.st_dev && stbuf.st_ino == host_root.st_ino)
      {
        runhv_error (err,
                     "root.path: `%s` is the host's / (a container needs a root of its own: point root.path at the "
                     "image's directory)",
                     rootfs_in);
        goto out;
      }
  }
  if (state_dir_create (ctx->root, id, err) < 0)
    goto out;
  dir_created = true;

  c = xmalloc0 (sizeof (*c));
  c->lock_fd = lock_container (ctx, id, err);
  if (c->lock_fd < 0)
    goto out;
  c->spec = spec;
  spec = NULL;
  c->ops = backend_for (ctx, isolation_name (iso));
  c->state = xmalloc0 (sizeof (*c->state));
  c->state->id = xstrdup (id);
  c->state->type = xstrdup (COMPUTE_TYPE_CONTAINER);
  c->state->isolation = xstrdup (isolation_name (iso));
  c->state->owner = o->owner ? xstrdup (o->owner) : guess_owner ();
  c->state->bundle = xstrdup (bundle);
  c->state->rootfs = xstrdup (rootfs);
  format_rfc3339_now (ts, sizeof (ts));
  c->state->created = xstrdup (ts);
  c->state->systemd_cgroup = ctx->systemd_cgroup;
  c->state->annotations = json_incref (c->spec->annotations);
  c->state->config = json_incref (c->spec->json);
  c->state->backend = json_object ();
  if (join != NULL)
    {
      /* A pod's next container: it runs in the VM its sandbox made.  */
      c->state->parent = xasprintf ("%s@vm", join);
      json_object_set_new (c->state->backend, "vm_of", json_string (join));
    }
  opts.lock_fd = c->lock_fd;

  /* On record before anything exists (backends save again as they make
     cgroups and processes): a create killed at any instant leaves a
     container that `list` shows and `delete --force` removes.  */
  c->state->creating = true;
  if (container_save (ctx, c, err) < 0)
    goto out;
  log_debug ("create `%s` with %s isolation", id, c->state->isolation);
  if (c->ops->create (ctx, c, &opts, err) < 0)
    {
      runhv_error_wrap (err, "create container `%s`", id);
      goto out;
    }
  c->state->creating = false;
  if (container_save (ctx, c, err) < 0 || write_pid_file (o->pid_file, c->state->pid, err) < 0)
    {
      runhv_error_t ignored = NULL;
      if (c->ops->destroy (ctx, c, &ignored) < 0)
        runhv_error_release (&ignored);
      goto out;
    }
  events_record (ctx->root, "container-created", id, c->state->isolation, c->state->pid, NULL);
  if (pid != NULL)
    *pid = c->state->pid;
  ret = 0;
out:
  if (ret < 0 && dir_created)
    {
      runhv_error_t ignored = NULL;
      if (state_remove (ctx->root, id, &ignored) < 0)
        runhv_error_release (&ignored);
    }
  container_free (c);
  oci_spec_free (spec);
  return ret;
}

/* Open the container (its lock held) and read its status.  */
static int
open_with_status (struct runtime_context *ctx, const char *id, struct container **c, enum container_status *s,
                  runhv_error_t *err)
{
  if (container_open (ctx, id, c, err) < 0)
    return -1;
  *s = container_status (ctx, *c);
  return 0;
}

int
runtime_start (struct runtime_context *ctx, const char *id, runhv_error_t *err)
{
  struct container *c = NULL;
  enum container_status s;
  int ret = -1;
  if (open_with_status (ctx, id, &c, &s, err) < 0)
    return -1;
  if (s != STATUS_CREATED)
    {
      runhv_error (err, "container `%s` is %s, not created (only a created container can be started)", id,
                   container_status_name (s));
      goto out;
    }
  if (c->ops->start (ctx, c, err) < 0)
    {
      runhv_error_wrap (err, "start container `%s`", id);
      goto out;
    }
  c->state->started = true;
  if (container_save (ctx, c, err) < 0)
    goto out;
  events_record (ctx->root, "container-started", id, c->state->isolation, c->state->pid, NULL);
  run_hooks_warn (c, OCI_HOOK_POSTSTART, "running");
  ret = 0;
out:
  container_free (c);
  return ret;
}

static json_t *
state_document (struct runtime_context *ctx, struct container *c)
{
  enum container_status s = container_status (ctx, c);
  /* One pid for callers, the one --pid-file holds: the process that
     forwards signals to the container and exits with its status (for a VM,
     its supervisor or a host stand-in).  The VMM's, which signals would
     not reach the container through, is vmmPid.  */
  json_t *j = oci_state_json (c->state->id, container_status_name (s), s == STATUS_STOPPED ? 0 : c->state->pid,
                              c->state->bundle, c->state->annotations);
  if (s == STATUS_STOPPED)
    json_object_set_new (j, "pid", json_integer (0));
  else if (c->ops->vmm_pid != NULL)
    json_object_set_new (j, "vmmPid", json_integer (c->ops->vmm_pid (ctx, c)));
  json_object_set_new (j, "rootfs", json_string (c->state->rootfs ? c->state->rootfs : ""));
  json_object_set_new (j, "created", json_string (c->state->created ? c->state->created : ""));
  json_object_set_new (j, "owner", json_string (c->state->owner ? c->state->owner : ""));
  json_object_set_new (j, "isolation", json_string (c->state->isolation));
  json_object_set_new (j, "type", json_string (c->state->type));
  if (c->state->has_exit_status)
    json_object_set_new (j, "exitStatus", json_integer (c->state->exit_status));
  if (!json_object_get (j, "annotations"))
    json_object_set_new (j, "annotations", json_object ());
  return j;
}

int
runtime_state (struct runtime_context *ctx, const char *id, json_t **out, runhv_error_t *err)
{
  struct container *c = NULL;
  if (container_open (ctx, id, &c, err) < 0)
    return -1;
  if (container_status (ctx, c) == STATUS_UNKNOWN)
    {
      runhv_error (err,
                   "container `%s`: its VM supervisor (pid %d) is alive but does not answer; try again, or "
                   "remove it with `runhv delete --force %s`",
                   id, (int)c->state->pid, id);
      container_free (c);
      return -1;
    }
  *out = state_document (ctx, c);
  container_free (c);
  return 0;
}

int
runtime_kill (struct runtime_context *ctx, const char *id, int sig, bool all, runhv_error_t *err)
{
  struct container *c = NULL;
  enum container_status s;
  int ret = -1;
  /* Signal 0 sends nothing and only asks whether the init is alive.  */
  if (sig < 0 || sig >= NSIG)
    return runhv_error (err, "signal %d is not valid", sig);
  if (open_with_status (ctx, id, &c, &s, err) < 0)
    return -1;
  if (s == STATUS_STOPPED || s == STATUS_CREATING)
    {
      runhv_error (err, "container `%s` is not running", id);
      goto out;
    }
  ret = c->ops->kill (ctx, c, sig, all, err);
out:
  container_free (c);
  return ret;
}

int
runtime_delete (struct runtime_context *ctx, const char *id, bool force, runhv_error_t *err)
{
  struct container *c = NULL;
  enum container_status s;
  int ret = -1;
  if (container_open (ctx, id, &c, err) < 0)
    {
      /* With --force, a container that is not there is already deleted
         (runc's rule, which containerd's and podman's cleanup rely on);
         a directory without a readable state is what a crash mid-create
         leaves, and goes too.  */
      cleanup_free char *dir = NULL;
      struct stat stbuf;
      if (!force || state_validate_id (id, NULL) < 0)
        return -1;
      dir = state_dir_path (ctx->root, id);
      if (stat (dir, &stbuf) < 0)
        {
          if ((*err)->status != ENOENT)
            return -1;
          runhv_error_release (err);
          hypervisor_forget_logs (ctx, id);
          return 0;
        }
      log_warning ("removing `%s`, which has no readable state (%s)", dir, (*err)->msg);
      runhv_error_release (err);
      return state_remove (ctx->root, id, err);
    }
  s = container_status (ctx, c);
  if ((s == STATUS_RUNNING || s == STATUS_PAUSED || s == STATUS_UNKNOWN) && !force)
    {
      runhv_error (err, "container `%s` is %s: stop it first or use `delete --force`", id, container_status_name (s));
      goto out;
    }
  if (c->ops->destroy (ctx, c, err) < 0)
    {
      runhv_error_wrap (err, "delete container `%s`", id);
      goto out;
    }
  if (s != STATUS_CREATING)
    events_record (ctx->root, "container-deleted", id, c->state->isolation, c->state->pid, NULL);
  run_hooks_warn (c, OCI_HOOK_POSTSTOP, "stopped");
  if (state_remove (ctx->root, id, err) < 0)
    goto out;
  ret = 0;
out:
  container_free (c);
  return ret;
}

/* An array of what fn appends for every container in the registry, each
   opened (and locked) in turn; VMs are compute systems of their
   containers, not containers.  */
static int
collect_containers (struct runtime_context *ctx, void (*fn) (struct runtime_context *, struct container *, json_t *),
                    json_t **out, runhv_error_t *err)
{
  cleanup_strv char **ids = NULL;
  json_t *arr;
  if (state_list (ctx->root, &ids, err) < 0)
    return -1;
  arr = json_array ();
  for (size_t i = 0; ids[i]; i++)
    {
      struct container *c = NULL;
      runhv_error_t ignored = NULL;
      if (strchr (ids[i], '@') != NULL)
        continue;
      if (container_open (ctx, ids[i], &c, &ignored) < 0)
        {
          runhv_error_release (&ignored); /* being created or deleted right now */
          continue;
        }
      fn (ctx, c, arr);
      container_free (c);
    }
  *out = arr;
  return 0;
}

static void
list_one (struct runtime_context *ctx, struct container *c, json_t *arr)
{
  json_array_append_new (arr, state_document (ctx, c));
}

int
runtime_list (struct runtime_context *ctx, json_t **out, runhv_error_t *err)
{
  return collect_containers (ctx, list_one, out, err);
}

int
runtime_ps_detail (struct runtime_context *ctx, const char *id, json_t **out, runhv_error_t *err)
{
  struct container *c = NULL;
  int ret = 0;
  *out = NULL;
  if (container_open (ctx, id, &c, err) < 0)
    return -1;
  /* A stopped container has no processes, as runc's ps says, whether or
     not a VM is left to ask.  */
  if (c->ops->ps_detail != NULL && container_status (ctx, c) == STATUS_STOPPED)
    *out = json_array ();
  else if (c->ops->ps_detail != NULL)
    ret = c->ops->ps_detail (ctx, c, out, err);
  container_free (c);
  return ret;
}

int
runtime_exec_template (struct runtime_context *ctx, const char *id, json_t **out, runhv_error_t *err)
{
  struct container *c = NULL;
  json_t *p;
  if (container_open (ctx, id, &c, err) < 0)
    return -1;
  p = json_object_get (c->state->config, "process");
  *out = json_is_object (p) ? json_deep_copy (p) : json_object ();
  /* What is specific to the container's first process does not carry over. */
  json_object_del (*out, "terminal");
  json_object_del (*out, "consoleSize");
  container_free (c);
  return 0;
}

int
runtime_kill_exec (struct runtime_context *ctx, const char *id, const char *exec_ref, int sig, runhv_error_t *err)
{
  struct container *c = NULL;
  int ret;
  if (container_open (ctx, id, &c, err) < 0)
    return -1;
  if (c->ops->kill_exec == NULL || exec_ref == NULL || exec_ref[0] == '\0')
    ret = runhv_error (err, "container `%s`: the process is a host process, signal it by pid", id);
  else
    ret = c->ops->kill_exec (ctx, c, exec_ref, sig, err);
  container_free (c);
  return ret;
}

int
runtime_oom_watch (struct runtime_context *ctx, const char *id, runhv_error_t *err)
{
  struct container *c = NULL;
  int ret;
  if (container_open (ctx, id, &c, err) < 0)
    return -1;
  if (c->ops->oom_watch == NULL)
    ret = runhv_make_error (err, ENOTSUP, "container `%s`: its OOM kills cannot be watched from the host", id);
  else
    ret = c->ops->oom_watch (ctx, c, err);
  container_free (c);
  return ret;
}

void
runtime_oom_watch_drain (int fd)
{
  cgroup_oom_watch_drain (fd);
}

int
runtime_host_pid (struct runtime_context *ctx, const char *id, pid_t *pid, char **isolation, runhv_error_t *err)
{
  struct container *c = NULL;
  if (container_open (ctx, id, &c, err) < 0)
    return -1;
  *pid = c->state->pid;
  *isolation = xstrdup (c->state->isolation);
  container_free (c);
  return 0;
}

int
runtime_process_handle (struct runtime_context *ctx, const char *id, struct process_handle *h, runhv_error_t *err)
{
  struct container *c = NULL;
  int ret;
  if (container_open (ctx, id, &c, err) < 0)
    return -1;
  ret = c->ops->attach (ctx, c, h, err);
  container_free (c);
  return ret;
}

size_t
runtime_vms_pollfds (struct pollfd *p, size_t max)
{
  return uvm_sessions_pollfds (p, max);
}

void
runtime_vms_dispatch (const struct pollfd *p, size_t n)
{
  uvm_sessions_dispatch (p, n);
}

bool
runtime_vms_child_exited (pid_t pid, int wstatus)
{
  return uvm_sessions_child_exited (pid, wstatus);
}

void
runtime_vms_end_all (void)
{
  uvm_sessions_end_all ();
}

int
runtime_ps (struct runtime_context *ctx, const char *id, pid_t **pids, size_t *n, runhv_error_t *err)
{
  struct container *c = NULL;
  int ret;
  if (container_open (ctx, id, &c, err) < 0)
    return -1;
  if (container_status (ctx, c) == STATUS_STOPPED)
    {
      *pids = NULL;
      *n = 0;
      ret = 0;
    }
  else
    ret = c->ops->ps (ctx, c, pids, n, err);
  container_free (c);
  return ret;
}

static int
pause_resume (struct runtime_context *ctx, const char *id, bool pause, runhv_error_t *err)
{
  struct container *c = NULL;
  enum container_status s;
  int ret = -1;
  if (open_with_status (ctx, id, &c, &s, err) < 0)
    return -1;
  if (pause && s != STATUS_RUNNING)
    runhv_error (err, "container `%s` is %s, not running (only a running container can be paused)", id,
                 container_status_name (s));
  else if (!pause && s != STATUS_PAUSED)
    runhv_error (err, "container `%s` is %s, not paused", id, container_status_name (s));
  else
    {
      ret = pause ? c->ops->pause (ctx, c, err) : c->ops->resume (ctx, c, err);
      if (ret == 0)
        events_record (ctx->root, pause ? "container-paused" : "container-resumed", id, c->state->isolation,
                       c->state->pid, NULL);
    }
  container_free (c);
  return ret;
}

int
runtime_pause (struct runtime_context *ctx, const char *id, runhv_error_t *err)
{
  return pause_resume (ctx, id, true, err);
}

int
runtime_resume (struct runtime_context *ctx, const char *id, runhv_error_t *err)
{
  return pause_resume (ctx, id, false, err);
}

int
runtime_update (struct runtime_context *ctx, const char *id, const struct oci_resources *r, runhv_error_t *err)
{
  struct container *c = NULL;
  enum container_status s;
  int ret = -1;
  if (open_with_status (ctx, id, &c, &s, err) < 0)
    return -1;
  if (s == STATUS_STOPPED || s == STATUS_CREATING)
    {
      runhv_error (err, "container `%s` is %s: only a created, running or paused container can be updated", id,
                   container_status_name (s));
      goto out;
    }
  if (c->ops->update (ctx, c, r, err) < 0)
    {
      runhv_error_wrap (err, "update container `%s`", id);
      goto out;
    }
  /* Keep the stored config in step, so later reads see the new limits.  */
  {
    json_t *lin = json_object_get (c->state->config, "linux");
    if (lin == NULL)
      {
        lin = json_object ();
        json_object_set_new (c->state->config, "linux", lin);
      }
    if (c->spec->resources == NULL)
      c->spec->resources = xmalloc0 (sizeof (*c->spec->resources));
    oci_resources_merge (c->spec->resources, r);
    json_object_set_new (lin, "resources", oci_resources_to_json (c->spec->resources));
  }
  ret = container_save (ctx, c, err);
out:
  container_free (c);
  return ret;
}

int
runtime_stats (struct runtime_context *ctx, const char *id, struct container_stats *s, runhv_error_t *err)
{
  struct container *c = NULL;
  int ret;
  if (container_open (ctx, id, &c, err) < 0)
    return -1;
  ret = c->ops->stats (ctx, c, s, err);
  container_free (c);
  return ret;
}

/* ---- waiting in the foreground ------------------------------------- */

struct relay
{
  int master; /* pty master or -1 */
  struct terminal_saved saved;
  bool stdin_open;
};

static void
relay_copy (int from, int to, bool *open_flag)
{
  char buf[8192];
  ssize_t n = read (from, buf, sizeof (buf));
  if (n <= 0)
    {
      if (n == 0 || (errno != EAGAIN && errno != EINTR))
        *open_flag = false;
      return;
    }
  (void)write_all (to, buf, (size_t)n);
}
/* What a foreground wait passes on to the process: every signal but
   those that cannot be caught or that mean runhv itself faulted.  */
static void
forwarded_signals (sigset_t *mask)
{
  sigfillset (mask);
  sigdelset (mask, SIGKILL);
  sigdelset (mask, SIGSTOP);
  sigdelset (mask, SIGSEGV);
  sigdelset (mask, SIGBUS);
  sigdelset (mask, SIGILL);
  sigdelset (mask, SIGFPE);
}

/* Wait for h, forwarding the signals we get and relaying a terminal.  */
static int
foreground_wait (struct process_handle *h, struct relay *r, int *exit_status, runhv_error_t *err)
{
  sigset_t mask, old;
  cleanup_close int sfd = -1;
  bool master_open = r->master >= 0;

  forwarded_signals (&mask);
  sigprocmask (SIG_BLOCK, &mask, &old);
  sfd = signalfd (-1, &mask, SFD_CLOEXEC);
  if (sfd < 0)
    {
      sigprocmask (SIG_SETMASK, &old, NULL);
      return runhv_make_error (err, errno, "signalfd");
    }
  if (master_open)
    {
      struct winsize ws;
      terminal_make_raw (0, &r->saved);
      if (ioctl (0, TIOCGWINSZ, &ws) == 0)
        ioctl (r->master, TIOCSWINSZ, &ws);
    }
  for (;;)
    {
      struct pollfd p[4] = {
        { .fd = sfd, .events = POLLIN },
        { .fd = h->wait_fd, .events = POLLIN },
        { .fd = master_open ? r->master : -1, .events = POLLIN },
        { .fd = master_open && r->stdin_open ? 0 : -1, .events = POLLIN },
      };
      if (poll (p, 4, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          break;
        }
      if (p[0].revents & POLLIN)
        {
          struct signalfd_siginfo si;
          if (read (sfd, &si, sizeof (si)) == sizeof (si))
            {
              if (si.ssi_signo == SIGWINCH && master_open)
                {
                  struct winsize ws;
                  if (ioctl (0, TIOCGWINSZ, &ws) == 0)
                    ioctl (r->master, TIOCSWINSZ, &ws);
                }
              else if (si.ssi_signo != SIGCHLD && si.ssi_signo != SIGURG && si.ssi_signo != SIGWINCH)
                {
                  runhv_error_t ignored = NULL;
                  if (h->signal (h, (int)si.ssi_signo, &ignored) < 0)
                    runhv_error_release (&ignored);
                }
            }
        }
      if (master_open && (p[2].revents & (POLLIN | POLLHUP | POLLERR)))
        relay_copy (r->master, 1, &master_open);
      if (master_open && r->stdin_open && (p[3].revents & (POLLIN | POLLHUP)))
        relay_copy (0, r->master, &r->stdin_open);
      if (p[1].revents & POLLIN)
        {
          /* Drain what the terminal still holds.  */
          while (master_open)
            {
              struct pollfd q = { .fd = r->master, .events = POLLIN };
              if (poll (&q, 1, 0) <= 0 || !(q.revents & POLLIN))
                break;
              relay_copy (r->master, 1, &master_open);
            }
          break;
        }
    }
  if (r->master >= 0)
    terminal_restore (0, &r->saved);
  sigprocmask (SIG_SETMASK, &old, NULL);
  return h->reap (h, exit_status, err);
}

/* What a foreground run or exec holds until it returns.  */
static void
foreground_release (struct process_handle *h, struct relay *r, struct container *c)
{
  process_handle_release (h);
  if (r->master >= 0)
    close (r->master);
  container_free (c);
}

int
runtime_run (struct runtime_context *ctx, const char *id, const struct create_options *o, bool detach, bool keep,
             int *exit_status, runhv_error_t *err)
{
  struct create_options opts = *o;
  cleanup_close_pair int sv[2] = { -1, -1 };
  struct container *c = NULL;
  struct process_handle h = { .wait_fd = -1 };
  struct relay r = { .master = -1, .stdin_open = true };
  int ret = -1;

  *exit_status = 0;
  if (!detach && o->console_socket == NULL)
    {
      if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return runhv_make_error (err, errno, "socketpair");
      opts.console_receiver = sv[0];
    }
  if (runtime_create (ctx, id, &opts, NULL, err) < 0)
    goto out;
  if (container_open (ctx, id, &c, err) < 0)
    goto out;
  if (!detach && c->spec->process->terminal && o->console_socket == NULL)
    {
      if (terminal_receive_master (sv[1], &r.master, err) < 0)
        goto fail_delete;
    }
  if (!detach && c->ops->attach (ctx, c, &h, err) < 0)
    goto fail_delete;
  /* start takes the lock itself */
  close (c->lock_fd);
  c->lock_fd = -1;
  if (runtime_start (ctx, id, err) < 0)
    goto fail_delete;
  if (detach)
    {
      ret = 0;
      goto out;
    }
  if (foreground_wait (&h, &r, exit_status, err) < 0)
    goto out;
  events_record (ctx->root, "container-exited", id, c->state->isolation, c->state->pid, exit_status);
  ret = 0;
  if (!keep)
    {
      container_free (c);
      c = NULL;
      ret = runtime_delete (ctx, id, true, err);
    }
  goto out;
fail_delete:
  {
    runhv_error_t ignored = NULL;
    container_free (c);
    c = NULL;
    if (runtime_delete (ctx, id, true, &ignored) < 0)
      runhv_error_release (&ignored);
  }
out:
  foreground_release (&h, &r, c);
  return ret;
}

int
runtime_exec (struct runtime_context *ctx, const char *id, struct exec_options *o, int *result, runhv_error_t *err)
{
  struct container *c = NULL;
  enum container_status s;
  struct process_handle h = { .wait_fd = -1 };
  struct relay r = { .master = -1, .stdin_open = true };
  cleanup_close_pair int sv[2] = { -1, -1 };
  int ret = -1;
  bool detach = result == NULL || o->detach;
  struct exec_options opts = *o;
  sigset_t forwarded, saved;

  /* A signal that comes while the process starts waits (blocked) and is
     passed on once it runs, rather than end runhv and leave it behind.  */
  forwarded_signals (&forwarded);
  if (!detach)
    sigprocmask (SIG_BLOCK, &forwarded, &saved);
  if (open_with_status (ctx, id, &c, &s, err) < 0)
    {
      if (!detach)
        sigprocmask (SIG_SETMASK, &saved, NULL);
      return -1;
    }
  if (s == STATUS_PAUSED && !o->ignore_paused)
    {
      /* runc's words, which callers match on */
      runhv_error (err, "cannot exec in a paused container (use --ignore-paused to override)");
      goto out;
    }
  if (s != STATUS_RUNNING && s != STATUS_CREATED && s != STATUS_PAUSED)
    {
      runhv_error (err, "container `%s` is %s: exec needs a running container", id, container_status_name (s));
      goto out;
    }
  if (strcmp (c->state->isolation, "hypervisor") == 0 && o->cgroup_subs != NULL)
    {
      runhv_error (err, "exec --cgroup is not supported with hypervisor isolation (the container's cgroups are "
                        "inside its VM); drop it");
      goto out;
    }
  if (strcmp (c->state->isolation, "hypervisor") == 0 && s == STATUS_PAUSED)
    {
      runhv_error (err, "exec --ignore-paused is not supported with hypervisor isolation (resume the container "
                        "first)");
      goto out;
    }
  if (s == STATUS_PAUSED)
    {
      /* The process will sit frozen until `resume`, which needs the lock.  */
      close (c->lock_fd);
      c->lock_fd = -1;
    }
  if (o->process->terminal && o->console_socket == NULL && o->console_receiver < 0)
    {
      if (detach)
        {
          runhv_error (err, "--tty with --detach needs --console-socket");
          goto out;
        }
      if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        {
          runhv_make_error (err, errno, "socketpair");
          goto out;
        }
      opts.console_receiver = sv[0];
    }
  if (c->ops->exec (ctx, c, &opts, &h, err) < 0)
    {
      runhv_error_wrap (err, "exec in container `%s`", id);
      goto out;
    }
  o->pid = h.pid;
  if (write_pid_file (o->pid_file, h.pid, err) < 0)
    {
      runhv_error_t ignored = NULL;
      h.signal (&h, SIGKILL, &ignored);
      runhv_error_release (&ignored);
      goto out;
    }
  if (detach)
    {
      if (o->handle != NULL)
        {
          *o->handle = h;
          h = (struct process_handle){ .wait_fd = -1 };
        }
      ret = 0;
      goto out;
    }
  /* Let other commands (kill, ps, exec) in while this one waits.  */
  close (c->lock_fd);
  c->lock_fd = -1;
  if (sv[1] >= 0)
    {
      if (terminal_receive_master (sv[1], &r.master, err) < 0)
        goto out;
    }
  if (foreground_wait (&h, &r, result, err) < 0)
    goto out;
  ret = 0;
out:
  foreground_release (&h, &r, c);
  if (!detach)
    sigprocmask (SIG_SETMASK, &saved, NULL);
  return ret;
}

int
runtime_convert (struct runtime_context *ctx, const char *id, const char *isolation, runhv_error_t *err)
{
  struct container *c = NULL;
  enum container_status s;
  enum isolation iso;
  struct create_options o = { .console_receiver = -1, .stdio = { -1, -1, -1 } };
  cleanup_free char *bundle = NULL;
  int ret = -1;

  if (isolation_from_name (isolation, "--isolation", &iso, err) < 0)
    return -1;
  if (open_with_status (ctx, id, &c, &s, err) < 0)
    return -1;
  if (s == STATUS_RUNNING || s == STATUS_PAUSED)
    {
      runhv_error (err,
                   "container `%s` is %s: only a created or stopped container can change isolation (stop it "
                   "first)",
                   id, container_status_name (s));
      goto out;
    }
  if (strcmp (c->state->isolation, isolation_name (iso)) == 0)
    {
      ret = 0;
      goto out;
    }
  /* Re-create it, waiting for start, under the other backend.  */
  bundle = xstrdup (c->state->bundle);
  if (c->ops->destroy (ctx, c, err) < 0)
    goto out;
  container_free (c);
  c = NULL;
  if (state_remove (ctx->root, id, err) < 0)
    goto out;
  o.bundle = bundle;
  o.isolation = isolation_name (iso);
  ret = runtime_create (ctx, id, &o, NULL, err);
  if (ret == 0)
    events_record (ctx->root, "container-converted", id, isolation_name (iso), 0, NULL);
out:
  container_free (c);
  return ret;
}

static json_t *
compute_system (const char *id, const char *type, const char *owner, const char *state, pid_t pid,
                const char *isolation)
{
  return json_pack ("{s:s,s:s,s:s,s:s,s:I,s:s}", "id", id, "type", type, "owner", owner ? owner : "", "state", state,
                    "pid", (json_int_t)pid, "isolation", isolation);
}

/* hcsdiag's rows: a process container is one compute system; a VM
   container is its VM (the VMM's host pid) and the container inside it;
   a pod's later containers are owned by the VM they joined.  */
static void
diag_one (struct runtime_context *ctx, struct container *c, json_t *arr)
{
  enum container_status s = container_status (ctx, c);
  const char *id = c->state->id, *status = container_status_name (s);
  bool stopped = s == STATUS_STOPPED;

  if (strcmp (c->state->isolation, "hypervisor") != 0)
    {
      json_array_append_new (arr, compute_system (id, c->state->type, c->state->owner, status,
                                                  stopped ? 0 : c->state->pid, c->state->isolation));
      return;
    }
  if (c->state->parent == NULL)
    {
      json_t *vm = c->state->backend ? json_object_get (c->state->backend, "vm") : NULL;
      cleanup_free char *vmid = xasprintf ("%s@vm", id);
      pid_t vmpid = vm ? (pid_t)json_integer_value (json_object_get (vm, "pid")) : 0;
      json_array_append_new (arr, compute_system (vmid, COMPUTE_TYPE_VM, c->state->owner,
                                                  stopped ? "stopped" : "running", stopped ? 0 : vmpid, "hypervisor"));
      json_array_append_new (arr, compute_system (id, COMPUTE_TYPE_CONTAINER, vmid, status, 0, "hypervisor"));
      return;
    }
  json_array_append_new (arr, compute_system (id, COMPUTE_TYPE_CONTAINER, c->state->parent, status, 0, "hypervisor"));
}

int
runtime_diag_list (struct runtime_context *ctx, json_t **out, runhv_error_t *err)
{
  return collect_containers (ctx, diag_one, out, err);
}

/* The hypervisor backend: each container in its own utility VM (the seed's
   Hyper-V container).  The host side is the VM's session (session.c),
   hosted by this process when runtime_context.host_vms says so (the shim:
   calls go straight into it), else by an exec'd supervisor (supervisor.c)
   that everything here talks to over <state>/vm.sock.  */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend/backend.h"
#include "core/events.h"
#include "oci/hooks.h"
#include "core/json.h"
#include "uvm/podnet.h"
#include "process/cgroup.h"
#include "core/log.h"
#include "uvm/vmm.h"
#include "backend/runtime-context.h"
#include "uvm/proxy.h"
#include "uvm/session-channel.h"
#include "uvm/session.h"
#include "uvm/supervisor.h"
#include "uvm/jail.h"
#include "core/sync.h"
#include "core/terminal.h"
#include "core/util.h"
#include "core/banned.h"

static char *
state_dir (struct runtime_context *ctx, struct container *c)
{
  return state_dir_path (ctx->root, c->state->id);
}

/* A container that joined another's VM (a pod's next container) names it. */
static const char *
vm_owner (struct container *c)
{
  json_t *b = c->state->backend;
  const char *owner = b ? json_string_value (json_object_get (b, "vm_of")) : NULL;
  return owner ? owner : c->state->id;
}

static bool
joined (struct container *c)
{
  return strcmp (vm_owner (c), c->state->id) != 0;
}

/* The record of the VM the container runs in, its own or, for a pod's
   later container, its sandbox's: a new reference to its "vm" object (NULL
   when the VM has not reported yet) and the host pid of the container
   that made it (its supervisor), when owner_pid is given.  */
static int
vm_record (struct runtime_context *ctx, struct container *c, json_t **vm, pid_t *owner_pid, runhv_error_t *err)
{
  struct container_state *owner = NULL;
  const struct container_state *st = c->state;
  if (joined (c))
    {
      if (state_load (ctx->root, vm_owner (c), &owner, err) < 0)
        return runhv_error_wrap (err, "the VM of `%s`", vm_owner (c));
      st = owner;
    }
  *vm = json_incref (st->backend ? json_object_get (st->backend, "vm") : NULL);
  if (owner_pid != NULL)
    *owner_pid = st->pid;
  container_state_free (owner);
  return 0;
}

/* vCPUs a VM record says its VM has (1 when it says nothing).  */
static int64_t
vm_cpus (json_t *vm)
{
  return json_integer_value (json_object_get (vm, "cpus")) > 0 ? json_integer_value (json_object_get (vm, "cpus")) : 1;
}

/* The state directory of the container's VM: where its session listens.  */
static char *
vm_dir (struct runtime_context *ctx, struct container *c)
{
  return state_dir_path (ctx->root, vm_owner (c));
}

/* A pod's later containers bring rootfs mounts made after the session's
   mount namespace copied the host's mounts (containerd's snapshot, mounted
   by the shim at create), which a private mount namespace would never see.
   The sandbox's state dir holds a shared mount, which the session's
   namespace takes as a slave: what is bound under it on the host appears
   there too.  */
static char *
propagate_dir (struct runtime_context *ctx, const char *vm_id)
{
  cleanup_free char *sdir = state_dir_path (ctx->root, vm_id);
  return xasprintf ("%s/propagate", sdir);
}

static int
propagate_setup (const char *dir, runhv_error_t *err)
{
  if (mkdir_p (dir, 0700, err) < 0)
    return -1;
  if (mount (dir, dir, NULL, MS_BIND, NULL) < 0)
    return runhv_make_error (err, errno, "bind `%s` onto itself", dir);
  if (mount (NULL, dir, NULL, MS_SHARED, NULL) < 0)
    {
      int e = errno;
      umount2 (dir, MNT_DETACH);
      return runhv_make_error (err, e, "make `%s` a shared mount", dir);
    }
  return 0;
}

static void
propagate_teardown (const char *path)
{
  if (umount2 (path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
    log_warning ("unmount `%s`: %s", path, strerror (errno));
  rmdir (path);
}

/* Logs of a VM live beside the state, not in it: a failed create removes
   its state directory, and its error points at these.  */
static char *
vm_log (struct runtime_context *ctx, const char *id, const char *what)
{
  cleanup_free char *dir = xasprintf ("%s/vm-logs", ctx->root);
  mkdir_p (dir, 0700, NULL);
  return xasprintf ("%s/%s.%s.log", dir, id, what);
}

static bool
bind_mount_of (json_t *m)
{
  json_t *opts = json_object_get (m, "options"), *o;
  size_t i;
  if (json_is_string (json_object_get (m, "type"))
      && strcmp (json_string_value (json_object_get (m, "type")), "bind") == 0)
    return true;
  json_array_foreach (opts, i, o) if (json_is_string (o)
                                      && (strcmp (json_string_value (o), "bind") == 0
                                          || strcmp (json_string_value (o), "rbind") == 0)) return true;
  return false;
}

/* config.json as the guest must see it: host paths become shared paths,
   host-only settings go.  */
static json_t *
guest_spec (const struct oci_spec *spec, const struct uvm_sizing *sz, const char *sdir, const char *id,
            struct uvm_bind **binds, size_t *nbinds)
{
  json_t *g = json_deep_copy (spec->json);
  json_t *lin = json_object_get (g, "linux"), *mounts = json_object_get (g, "mounts"), *m;
  size_t i;

  json_object_del (g, "hooks"); /* host hooks run on the host */
  /* which VM to join is the host's business: inside, the container is
     just a container */
  if (json_is_object (json_object_get (g, "annotations")))
    {
      json_t *ann = json_object_get (g, "annotations");
      json_object_del (ann, "io.runhv.vm");
      /* storage QoS is the VMM's (it throttles the shared filesystem):
         inside, the rootfs is that share, on no disk to throttle again */
      json_object_del (ann, OCI_ANN_QOS_BPS);
      json_object_del (ann, OCI_ANN_QOS_IOPS);
      json_object_del (ann, OCI_ANN_MS_QOS_BPS);
      json_object_del (ann, OCI_ANN_MS_QOS_IOPS);
    }
  if (json_is_object (lin))
    {
      json_t *res = uvm_guest_resources (spec, sz);
      json_object_del (lin, "cgroupsPath");
      if (res != NULL)
        json_object_set_new (lin, "resources", res);
    }
  json_array_foreach (mounts, i, m)
  {
    const char *src = json_string_value (json_object_get (m, "source"));
    struct stat st;
    struct uvm_bind *b;
    if (!bind_mount_of (m) || src == NULL || src[0] != '/')
      continue;
    *binds = xrealloc (*binds, (*nbinds + 1) * sizeof (**binds));
    b = &(*binds)[(*nbinds)++];
    b->host = xstrdup (src);
    b->file = stat (src, &st) == 0 && !S_ISDIR (st.st_mode);
    b->index = i;
    b->shared = xasprintf ("%s/shared/%s/mounts/%zu", sdir, id, i);
    {
      cleanup_free char *gsrc = xasprintf ("/run/shared/%s/mounts/%zu", id, i);
      json_object_set_new (m, "source", json_string (gsrc));
    }
  }
  return g;
}

/* Whether `path` is /proc/PID/ns/TYPE for one of pids.  */
static bool
names_ns_of (const char *path, const char *type, const pid_t *pids, size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      char want[64];
      if (pids[i] <= 0)
        continue;
      snprintf (want, sizeof (want), "/proc/%d/ns/%s", (int)pids[i], type);
      if (strcmp (path, want) == 0)
        return true;
    }
  return false;
}

/* The namespaces of the guest spec g, as a VM can honour them.  A VM has
   its own kernel, so it cannot share a host namespace: a namespace left
   out of the spec (the runtime's: the host's) or a path naming a host
   process's is refused, never silently replaced by a new one.  Two paths
   do mean something inside: the network namespace the caller prepared
   (CNI's, podman's), which the VM's own network stands for (its interface
   moves into the VM through a tap), and, for a pod's later containers, the
   sandbox's namespaces, which containerd names by the sandbox's host pid
   (its supervisor's or its VMM's; a hosted VM's is its VMM's): they become "container:SANDBOX" and
   the agent joins that container's namespace in the guest, as runc's pod
   containers join the pause process's on the host.  */
static int
guest_namespaces (struct runtime_context *ctx, struct container *c, json_t *g, runhv_error_t *err)
{
  static const char *const required[] = { "network", "pid", "ipc", "uts", "mount" };
  json_t *ns = json_object_get (json_object_get (g, "linux"), "namespaces"), *e;
  pid_t sandbox[2] = { 0, 0 };
  size_t i;

  if (joined (c))
    {
      cleanup_json json_t *vm = NULL;
      if (vm_record (ctx, c, &vm, &sandbox[0], err) < 0)
        return -1;
      sandbox[1] = (pid_t)json_integer_value (json_object_get (vm, "pid"));
    }
  for (size_t r = 0; r < sizeof (required) / sizeof (required[0]); r++)
    {
      bool listed = false;
      json_array_foreach (ns, i, e) if (json_is_string (json_object_get (e, "type"))
                                        && strcmp (json_string_value (json_object_get (e, "type")), required[r]) == 0)
        listed
        = true;
      if (!listed)
        return runhv_error (err,
                            "linux.namespaces: no `%s` namespace means the host's, which a VM container cannot share "
                            "(it runs on its own kernel); add {\"type\": \"%s\"} or use process isolation",
                            required[r], required[r]);
    }
  for (i = 0; i < json_array_size (ns);)
    {
      const char *type, *path;
      e = json_array_get (ns, i);
      type = json_string_value (json_object_get (e, "type"));
      path = json_string_value (json_object_get (e, "path"));
      if (type == NULL || path == NULL)
        {
          i++;
          continue;
        }
      if (strcmp (type, "network") == 0)
        {
          json_array_remove (ns, i);
          continue;
        }
      if ((strcmp (type, "pid") == 0 || strcmp (type, "ipc") == 0 || strcmp (type, "uts") == 0)
          && names_ns_of (path, type, sandbox, 2))
        {
          cleanup_free char *in_guest = xasprintf ("container:%s", vm_owner (c));
          json_object_set_new (e, "path", json_string (in_guest));
          i++;
          continue;
        }
      return runhv_error (err,
                          "linux.namespaces[%zu].path: `%s` is a host namespace, which a VM container cannot join (it "
                          "runs on its own kernel); remove the path, or use process isolation",
                          i, path);
    }
  return 0;
}

static void
binds_free (struct uvm_bind *b, size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      free (b[i].host);
      free (b[i].shared);
    }
  free (b);
}

/* ---- VMs this process hosts (runtime_context.host_vms: the shim) ----- */

static pid_t hv_vmm_pid (struct runtime_context *ctx, struct container *c);

/* The session of the container's VM when this process hosts it.  */
static struct uvm_session *
hosted_session (struct runtime_context *ctx, struct container *c)
{
  cleanup_free char *sdir = vm_dir (ctx, c);
  return uvm_session_hosted (sdir);
}

/* Who runs a container's VM, from its record and this process's sessions.
   Only VM_HOST_OWN's pid may be signalled for the container.  */
enum vm_host
{
  VM_HOST_HERE,      /* a session of this process (a shim's pod) */
  VM_HOST_GONE_HERE, /* this process hosted it and freed its session: it ended
                        with its sandbox, which containerd may delete first;
                        the recorded pid is ours */
  VM_HOST_ELSEWHERE, /* a process that lives on (another shim); its pid is
                        recorded, and never signalled for the VM */
  VM_HOST_OWN,       /* its own supervisor or stand-in, whose pid is the
                        container's */
};

static enum vm_host
vm_host_of (struct runtime_context *ctx, struct container *c, struct uvm_session **hs)
{
  json_t *b = c->state->backend;
  *hs = hosted_session (ctx, c);
  if (*hs != NULL)
    return VM_HOST_HERE;
  if (c->state->pid == getpid ())
    return VM_HOST_GONE_HERE;
  if (b != NULL && json_is_true (json_object_get (b, "hosted")))
    return VM_HOST_ELSEWHERE;
  return VM_HOST_OWN;
}

/* A process's stdio as its VM's session takes it: copies (the caller's
   own for -1), or with a terminal the slave of a new pty whose master
   goes to whoever asked.  */
static int
vm_stdio (bool terminal, const int stdio[3], int console_receiver, const char *console_socket, int fds[3], size_t *n,
          runhv_error_t *err)
{
  if (terminal)
    {
      fds[0] = terminal_open_relay (console_receiver, console_socket, err);
      *n = 1;
      return fds[0] < 0 ? -1 : 0;
    }
  for (int i = 0; i < 3; i++)
    {
      fds[i] = fcntl (stdio[i] >= 0 ? stdio[i] : i, F_DUPFD_CLOEXEC, 3);
      if (fds[i] < 0)
        {
          int e = errno;
          for (int k = 0; k < i; k++)
            close (fds[k]);
          return runhv_make_error (err, e, "the container's stdio");
        }
    }
  *n = 3;
  return 0;
}

/* A VM process its caller waits on with no host process standing for it
   (a hosted VM's, or a foreground `runhv exec`'s): where its VM's session
   is and how the session knows it.  */
struct vm_process
{
  char *sdir, *id, *exec_id;
};

static void
vm_process_handle (struct process_handle *h, pid_t shown_pid, int wait_fd, const char *sdir, const char *id,
                   const char *exec_id, int (*signal_fn) (struct process_handle *, int, runhv_error_t *),
                   int (*reap_fn) (struct process_handle *, int *, runhv_error_t *),
                   void (*release_fn) (struct process_handle *))
{
  struct vm_process *w = xmalloc0 (sizeof (*w));
  w->sdir = xstrdup (sdir);
  w->id = xstrdup (id);
  w->exec_id = exec_id ? xstrdup (exec_id) : NULL;
  memset (h, 0, sizeof (*h));
  /* The host pid a caller shows for it: the VM it runs in.  */
  h->pid = shown_pid;
  h->wait_fd = wait_fd;
  h->signal = signal_fn;
  h->reap = reap_fn;
  h->release = release_fn;
  h->priv = w;
}

static void
vm_process_drop (struct process_handle *h)
{
  struct vm_process *w = h->priv;
  if (h->wait_fd >= 0)
    close (h->wait_fd);
  h->wait_fd = -1;
  if (w == NULL)
    return;
  free (w->sdir);
  free (w->id);
  free (w->exec_id);
  free (w);
  h->priv = NULL;
}

static json_t *
vm_process_kill (const struct vm_process *w, int sig)
{
  json_t *req = json_pack ("{s:s,s:s,s:i}", "op", "kill", "id", w->id, "signal", sig);
  if (w->exec_id)
    json_object_set_new (req, "exec_id", json_string (w->exec_id));
  return req;
}

/* A hosted VM's process: an eventfd the session fires at its exit.  */
static int
hosted_signal (struct process_handle *h, int sig, runhv_error_t *err)
{
  struct vm_process *w = h->priv;
  struct uvm_session *s = uvm_session_hosted (w->sdir);
  json_t *req;
  int r;
  if (s == NULL)
    return runhv_make_error (err, ESRCH, "the VM of `%s` is gone", w->id);
  req = vm_process_kill (w, sig);
  r = uvm_session_call (s, req, NULL, 0, UVM_REQUEST_TIMEOUT_MS, NULL, err);
  json_decref (req);
  return r;
}

static int
hosted_reap (struct process_handle *h, int *exit_status, runhv_error_t *err)
{
  struct vm_process *w = h->priv;
  struct uvm_session *s = uvm_session_hosted (w->sdir);
  uint64_t ticks;
  if (read (h->wait_fd, &ticks, sizeof (ticks)) < 0 && errno != EAGAIN)
    return runhv_make_error (err, errno, "read the exit of `%s`", w->exec_id ? w->exec_id : w->id);
  if (s == NULL)
    {
      *exit_status = UVM_EXIT_VM_DIED; /* its VM went, and it with it */
      return 0;
    }
  if (!uvm_session_exit_status (s, w->id, w->exec_id, exit_status))
    return runhv_make_error (err, EAGAIN, "`%s` has not exited yet", w->exec_id ? w->exec_id : w->id);
  return 0;
}

static void
hosted_release (struct process_handle *h)
{
  struct vm_process *w = h->priv;
  struct uvm_session *s = w ? uvm_session_hosted (w->sdir) : NULL;
  if (s != NULL)
    uvm_session_forget (s, w->id, w->exec_id);
  vm_process_drop (h);
}

static int
hosted_handle (struct uvm_session *s, const char *sdir, const char *id, const char *exec_id, struct process_handle *h,
               runhv_error_t *err)
{
  int fd = uvm_session_exit_fd (s, id, exec_id, err);
  if (fd < 0)
    return -1;
  vm_process_handle (h, uvm_session_vmm_pid (s), fd, sdir, id, exec_id, hosted_signal, hosted_reap, hosted_release);
  return 0;
}

/* ---- a foreground exec: its caller waits on the session's connection -- */

/* `runhv exec` in the foreground needs no host pid: it holds its
   connection to the VM's session, whose exit event it waits for, and
   passes signals on by request.  */
static int
conn_signal (struct process_handle *h, int sig, runhv_error_t *err)
{
  json_t *resp = NULL;
  json_t *req = vm_process_kill (h->priv, sig);
  int r = uvm_request (((struct vm_process *)h->priv)->sdir, req, &resp, err);
  json_decref (req);
  json_decref (resp);
  return r;
}

static int
conn_reap (struct process_handle *h, int *exit_status, runhv_error_t *err)
{
  json_t *ev = NULL;
  runhv_error_t lost = NULL;
  if (uvm_client_event (h->wait_fd, &ev, &lost) < 0)
    {
      /* The session went before it said: its VM went, and the process
         with it.  */
      runhv_error_release (&lost);
      *exit_status = UVM_EXIT_VM_DIED;
      return 0;
    }
  *exit_status = (int)json_integer_value (json_object_get (ev, "status"));
  json_decref (ev);
  (void)err;
  return 0;
}

static int
exec_attached (struct runtime_context *ctx, struct container *c, const char *sdir, const char *exec_id,
               const struct exec_options *o, struct process_handle *h, runhv_error_t *err)
{
  int fds[3];
  size_t n = 0;
  json_t *req, *resp = NULL;
  int conn = uvm_client_connect (sdir, err), r;
  if (conn < 0)
    return -1;
  if (vm_stdio (o->process->terminal, o->stdio, o->console_receiver, o->console_socket, fds, &n, err) < 0)
    {
      close (conn);
      return -1;
    }
  req = json_pack ("{s:s,s:s,s:s,s:O,s:b}", "op", "exec", "id", c->state->id, "exec_id", exec_id, "process",
                   o->process->json, "terminal", o->process->terminal);
  r = uvm_client_call (conn, req, fds, n, &resp, err);
  json_decref (req);
  json_decref (resp);
  /* The session holds its copies now.  */
  for (size_t i = 0; i < n; i++)
    close (fds[i]);
  if (r < 0)
    {
      close (conn);
      return -1;
    }
  vm_process_handle (h, hv_vmm_pid (ctx, c), conn, sdir, c->state->id, exec_id, conn_signal, conn_reap,
                     vm_process_drop);
  return 0;
}

/* ---- host proxies: a host process stands for a process in the VM ----- */

/* A stand-in is one of the VM's host processes: it joins the supervisor
   in the VM's cgroup (jail.c), under the pod's, before it does anything.  */
static int
enter_vm_cgroup (struct runtime_context *ctx, struct container *c, pid_t proxy, runhv_error_t *err)
{
  cleanup_json json_t *vm = NULL;
  cleanup_free char *path = NULL;
  struct cgroup_manager *cg = NULL;
  const char *vm_cgroup;
  int r;
  if (vm_record (ctx, c, &vm, NULL, err) < 0)
    return -1;
  vm_cgroup = json_string_value (json_object_get (vm, "cgroup"));
  if (vm_cgroup == NULL)
    return 0; /* a VM made by a runhv that did not record it */
  path = xasprintf ("%s/supervisor", vm_cgroup);
  if (cgroup_manager_new (NULL, path, c->state->id, false, &cg, err) < 0)
    return -1;
  r = cgroup_enter (cg, proxy, err);
  cgroup_manager_free (cg);
  return r < 0 ? runhv_error_wrap (err, "the host stand-in into the VM's cgroup `%s`", path) : 0;
}

/* Exec a proxy (proxy.c); the handle is on it once the guest process
   exists.  */
static int
spawn_proxy (struct runtime_context *ctx, struct container *c, struct uvm_proxy_args *a, struct process_handle *h,
             pid_t *guest_pid, runhv_error_t *err)
{
  int sv[2];
  pid_t proxy;
  struct sync_msg m;
  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    return runhv_make_error (err, errno, "socketpair");
  proxy = uvm_proxy_spawn (a, sv[1], err);
  close (sv[1]);
  if (proxy < 0)
    {
      close (sv[0]);
      return -1;
    }
  if (enter_vm_cgroup (ctx, c, proxy, err) < 0)
    {
      close (sv[0]);
      kill (proxy, SIGKILL);
      waitpid (proxy, NULL, 0);
      return -1;
    }
  if (sync_recv (sv[0], &m) < 0)
    {
      close (sv[0]);
      waitpid (proxy, NULL, 0);
      return runhv_error (err, "the host proxy died before the process started in the VM");
    }
  close (sv[0]);
  if (m.type == SYNC_ERROR)
    {
      waitpid (proxy, NULL, 0);
      return sync_msg_error (&m, err);
    }
  if (guest_pid)
    *guest_pid = m.value;
  if (h == NULL)
    return (int)proxy;
  return process_handle_for_child (h, proxy, err) < 0 ? -1 : (int)proxy;
}

static int destroy_joined (struct runtime_context *ctx, struct container *c);

/* A pod's next container joins the VM its sandbox made: the VM's
   supervisor shares the rootfs in and the agent creates it there; on the
   host a proxy process stands for its process.  */
/* The listener would be made in the guest, and listenerPath is a host
   socket the agent inside the VM cannot reach.  */
static int
refuse_seccomp_notify (const struct oci_spec *spec, runhv_error_t *err)
{
  if (spec->seccomp != NULL && (spec->seccomp->listener_path != NULL || spec->seccomp->notify))
    return runhv_error (err, "linux.seccomp.listenerPath: seccomp notify is not supported with hypervisor isolation "
                             "(the filter is loaded inside the VM); use process isolation or remove it");
  return 0;
}

/* Host descriptors cannot cross into the guest: only stdio is relayed.  */
static int
refuse_preserve_fds (int n, runhv_error_t *err)
{
  if (n > 0)
    return runhv_error (err,
                        "--preserve-fds %d: host file descriptors cannot be passed into a VM (hypervisor isolation "
                        "relays stdio only); drop the flag, or use process isolation",
                        n);
  return 0;
}

static int
hv_create_joined (struct runtime_context *ctx, struct container *c, const struct create_options *o, runhv_error_t *err)
{
  struct container_state *st = c->state;
  const struct oci_spec *spec = c->spec;
  cleanup_free char *vdir = vm_dir (ctx, c), *exit_file = xasprintf ("%s/%s/exit.json", ctx->root, st->id);
  cleanup_free char *proot = NULL;
  struct uvm_sizing sz = { .cpus = 1, .cpu_quota_scale = 1.0 };
  struct uvm_bind *binds = NULL;
  size_t nbinds = 0;
  json_t *gspec, *bj = json_array ();
  struct uvm_proxy_args a;
  pid_t guest = 0;
  struct uvm_session *hs;
  /* the pid on record: a stand-in's, or ours when this process hosts the VM */
  int host_pid, ret = -1;

  {
    cleanup_json json_t *vm = NULL;
    if (vm_record (ctx, c, &vm, NULL, err) < 0)
      {
        json_decref (bj);
        return -1;
      }
    sz.cpus = vm_cpus (vm);
  }
  {
    cleanup_free char *pdir = propagate_dir (ctx, vm_owner (c));
    proot = xasprintf ("%s/%s", pdir, st->id);
    if (mkdir_p (proot, 0700, err) < 0 || mount (st->rootfs, proot, NULL, MS_BIND | MS_REC, NULL) < 0)
      {
        if (*err == NULL)
          runhv_make_error (err, errno, "share the rootfs `%s` with the VM of `%s`", st->rootfs, vm_owner (c));
        rmdir (proot);
        json_decref (bj);
        return -1;
      }
  }
  gspec = guest_spec (spec, &sz, vdir, st->id, &binds, &nbinds);
  if (guest_namespaces (ctx, c, gspec, err) < 0)
    {
      json_decref (gspec);
      json_decref (bj);
      binds_free (binds, nbinds);
      propagate_teardown (proot);
      return -1;
    }
  for (size_t i = 0; i < nbinds; i++)
    json_array_append_new (bj, json_pack ("{s:s,s:I,s:b}", "host", binds[i].host, "index", (json_int_t)binds[i].index,
                                          "file", binds[i].file));
  a = (struct uvm_proxy_args){
    .vm_dir = vdir,
    .id = st->id,
    .request = json_pack ("{s:s,s:s,s:o,s:s,s:o,s:b}", "op", "create", "id", st->id, "spec", gspec, "rootfs_host",
                          proot, "binds", bj, "terminal", spec->process->terminal),
    .terminal = spec->process->terminal,
    .stdio = o->stdio,
    .console_socket = o->console_socket,
    .console_receiver = o->console_receiver,
    .exit_file = exit_file,
  };
  hs = uvm_session_hosted (vdir);
  if (ctx->host_vms && hs == NULL)
    {
      runhv_error (err, "the VM of `%s` is not hosted by this process (a pod's containers share its shim)",
                   vm_owner (c));
      host_pid = -1;
    }
  else if (hs != NULL)
    {
      /* No stand-in: this process waits for it through the session.  */
      int fds[3];
      size_t n = 0;
      json_t *resp = NULL;
      host_pid = -1;
      if (vm_stdio (a.terminal, o->stdio, o->console_receiver, o->console_socket, fds, &n, err) == 0
          && uvm_session_call (hs, a.request, fds, n, 60000, &resp, err) == 0)
        {
          guest = (pid_t)json_integer_value (json_object_get (resp, "pid"));
          json_decref (resp);
          host_pid = getpid ();
          json_object_set_new (st->backend, "hosted", json_true ());
        }
    }
  else
    host_pid = spawn_proxy (ctx, c, &a, NULL, &guest, err);
  json_decref (a.request);
  binds_free (binds, nbinds);
  if (host_pid < 0)
    {
      propagate_teardown (proot);
      return runhv_error_wrap (err, "in the VM of `%s`", vm_owner (c));
    }
  st->pid = host_pid;
  st->pid_start = pid_start_time (host_pid);
  json_object_set_new (st->backend, "guest_pid", json_integer (guest));
  if (spec->n_hooks[OCI_HOOK_PRESTART] || spec->n_hooks[OCI_HOOK_CREATE_RUNTIME])
    {
      cleanup_json json_t *sj = oci_state_json (st->id, "creating", host_pid, st->bundle, st->annotations);
      cleanup_free char *text = json_dumps (sj, JSON_COMPACT);
      if (hooks_run (spec, OCI_HOOK_PRESTART, text, err) < 0
          || hooks_run (spec, OCI_HOOK_CREATE_RUNTIME, text, err) < 0)
        {
          destroy_joined (ctx, c);
          return -1;
        }
    }
  ret = 0;
  return ret;
}

/* What a VM cannot do for this spec, said before anything is made.  */
static int
check_vm_spec (const struct oci_spec *spec, const struct create_options *o, runhv_error_t *err)
{
  if (refuse_seccomp_notify (spec, err) < 0)
    return -1;
  if (spec->n_hooks[OCI_HOOK_CREATE_CONTAINER] || spec->n_hooks[OCI_HOOK_START_CONTAINER])
    return runhv_error (err,
                        "hooks.%s: not supported with hypervisor isolation (they would run inside the VM, where "
                        "their paths do not exist); remove them or use process isolation",
                        spec->n_hooks[OCI_HOOK_CREATE_CONTAINER] ? "createContainer" : "startContainer");
  if (spec->process->terminal && o->console_socket == NULL && o->console_receiver < 0)
    return runhv_error (err, "process.terminal is true but no --console-socket was given (pass one, or set "
                             "terminal to false)");
  /* A mount made inside the guest exists only in its kernel: a bind whose
     propagation promises the host would see it (containerd's
     Bidirectional) would silently not.  */
  for (size_t i = 0; i < spec->n_mounts; i++)
    if (spec->mounts[i].bind && (spec->mounts[i].propagation & MS_SHARED))
      return runhv_error (err,
                          "mounts[%zu] (`%s`): shared propagation: a mount made inside a VM cannot reach the host; "
                          "use rslave or private, or process isolation",
                          i, spec->mounts[i].destination);
  return 0;
}

/* A network namespace prepared by the caller (CNI for a CRI pod, podman):
   the VM takes over its interface through a tap, recorded for delete.  */
static int
join_pod_network (const struct oci_spec *spec, struct container_state *st, struct podnet *net, char **net_config,
                  runhv_error_t *err)
{
  const char *netns = NULL;
  if (oci_spec_has_namespace (spec, CLONE_NEWNET, &netns) && netns != NULL)
    {
      if (podnet_setup (netns, net, err) < 0)
        return -1;
      *net_config = podnet_guest_config (net);
      if (st->backend == NULL)
        st->backend = json_object ();
      json_object_set_new (
        st->backend, "net",
        json_pack ("{s:s,s:s,s:s,s:i}", "netns", netns, "ifname", net->ifname, "ip", net->ip, "prefix", net->prefix));
    }
  return 0;
}

/* What the VM's host reported once it ran (the VMM's pid, the VM's size
   and cgroup): kept in the backend's record.  */
static void
record_vm_info (struct container_state *st, pid_t vmm, json_t *reported, const char *why)
{
  json_t *info = json_is_object (reported) ? json_deep_copy (reported) : json_object ();
  json_object_set_new (info, "pid", json_integer (vmm));
  json_object_set_new (info, "pid_start", json_integer ((json_int_t)pid_start_time (vmm)));
  json_object_set_new (info, "accel_reason", json_string (why));
  if (st->backend == NULL)
    st->backend = json_object ();
  json_object_set_new (st->backend, "vm", info);
}

/* Host hooks see the supervisor as the container's process.  */
static int
run_host_create_hooks (struct container *c, pid_t sup, runhv_error_t *err)
{
  struct container_state *st = c->state;
  const struct oci_spec *spec = c->spec;
  if (spec->n_hooks[OCI_HOOK_PRESTART] || spec->n_hooks[OCI_HOOK_CREATE_RUNTIME])
    {
      cleanup_json json_t *sj = oci_state_json (st->id, "creating", sup, st->bundle, st->annotations);
      cleanup_free char *text = json_dumps (sj, JSON_COMPACT);
      if (hooks_run (spec, OCI_HOOK_PRESTART, text, err) < 0
          || hooks_run (spec, OCI_HOOK_CREATE_RUNTIME, text, err) < 0)
        return -1;
    }
  return 0;
}

/* QEMU dies with its supervisor (PDEATHSIG), its mounts with the
   supervisor's mount namespace.  One that reported the failure stops its
   VM itself and records it (vm-stopped): give it time.  When QEMU's pid is
   known (vmm_pidfd), create returns only once QEMU is gone too, and with
   it the pod's tap.  */
static void
stop_failed_supervisor (pid_t sup, bool stops_itself, int vmm_pidfd)
{
  cleanup_close int pidfd = (int)syscall (SYS_pidfd_open, sup, 0);
  struct pollfd p = { .fd = pidfd, .events = POLLIN };
  if (!stops_itself || pidfd < 0 || poll (&p, 1, 10000) <= 0)
    kill (sup, SIGKILL);
  waitpid (sup, NULL, 0);
  if (vmm_pidfd >= 0)
    {
      struct pollfd q = { .fd = vmm_pidfd, .events = POLLIN };
      if (poll (&q, 1, 10000) <= 0)
        log_warning ("the VMM outlived its supervisor by 10 s");
    }
}

/* The guest is up (the supervisor says so while the guest creates the
   container): the pages QEMU needed only to start (its kernel and
   initramfs, its start-up code) go back to the host (vmm.c).  An
   optimisation only: a failure is logged.  */
static void
reclaim_startup (pid_t vmm, int pidfd, const struct uvm_artifacts *art)
{
  runhv_error_t err = NULL;
  if (vmm > 0 && uvm_vmm_reclaim_startup (vmm, pidfd, art, &err) < 0)
    {
      log_debug ("%s", err->msg);
      runhv_error_release (&err);
    }
}

/* The VM's create in this process: the session boots it here and this
   process's loop runs it from now on.  */
static int
create_hosted (struct runtime_context *ctx, struct container *c, struct supervisor_config *scfg,
               const struct create_options *o, struct podnet *net, const char *why, runhv_error_t *err)
{
  struct container_state *st = c->state;
  struct uvm_session *hs = NULL;
  size_t n = 0;
  for (int i = 0; i < 3; i++)
    scfg->stdio[i] = -1;
  if (!scfg->terminal && vm_stdio (false, o->stdio, -1, NULL, scfg->stdio, &n, err) < 0)
    return -1;
  /* On record before the VM exists: a shim killed while it boots leaves a
     container that `delete --force` removes (QEMU dies with its parent,
     the shared tree with its mount namespace).  */
  st->pid = getpid ();
  st->pid_start = pid_start_time (st->pid);
  json_object_set_new (st->backend, "hosted", json_true ());
  if (container_save (ctx, c, err) < 0)
    {
      for (int i = 0; i < 3; i++)
        if (scfg->stdio[i] >= 0)
          close (scfg->stdio[i]);
      return -1;
    }
  if (uvm_session_open (scfg, true, NULL, &hs, err) < 0)
    return -1;
  record_vm_info (st, uvm_session_vmm_pid (hs), uvm_session_info (hs), why);
  if (podnet_finish (net, err) < 0 || run_host_create_hooks (c, uvm_session_vmm_pid (hs), err) < 0)
    {
      uvm_session_free (hs);
      return -1;
    }
  return 0;
}

static int
hv_create (struct runtime_context *ctx, struct container *c, const struct create_options *o, runhv_error_t *err)
{
  struct container_state *st = c->state;
  const struct oci_spec *spec = c->spec;
  struct runhv_config *cfg = NULL;
  struct uvm_artifacts art = { 0 };
  struct uvm_sizing sz;
  struct uvm_bind *binds = NULL;
  size_t nbinds = 0;
  cleanup_free char *accel = NULL, *why = NULL, *sdir = state_dir (ctx, c);
  cleanup_free char *console_log = vm_log (ctx, st->id, "console"), *vmm_log = vm_log (ctx, st->id, "vmm");
  cleanup_json json_t *gspec = NULL;
  cleanup_close_pair int sv[2] = { -1, -1 };
  cleanup_close int vmm_pidfd = -1;
  int ret = -1;
  pid_t sup = -1;
  bool sup_stops_itself = false;
  struct podnet net = { .tap_fd = -1, .setup_sock = -1 };
  cleanup_free char *net_config = NULL, *pdir = NULL;

  if (refuse_preserve_fds (o->preserve_fds, err) < 0 || check_vm_spec (spec, o, err) < 0)
    return -1;
  if (joined (c))
    return hv_create_joined (ctx, c, o, err);
  if (runtime_config (ctx, &cfg, err) < 0 || uvm_artifacts_find (cfg, &art, err) < 0)
    return -1;
  if (uvm_sizing_compute (spec, cfg, uvm_host_cpus (), uvm_host_memory_mb (), &sz, err) < 0)
    goto out;
  if (uvm_accel_resolve (cfg, &art, UVM_PROBE_CACHE_DIR, &accel, &why, err) < 0)
    goto out;
  log_debug ("container `%s`: %lld MiB (%s), %lld vCPUs (%s), %s: %s", st->id, (long long)sz.memory_mb,
             sz.memory_source, (long long)sz.cpus, sz.cpus_source, accel, why);
  gspec = guest_spec (spec, &sz, sdir, st->id, &binds, &nbinds);
  if (guest_namespaces (ctx, c, gspec, err) < 0)
    goto out;
  if (join_pod_network (spec, st, &net, &net_config, err) < 0)
    goto out;
  pdir = propagate_dir (ctx, st->id);
  if (propagate_setup (pdir, err) < 0)
    goto out;
  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    {
      runhv_make_error (err, errno, "socketpair");
      goto out;
    }
  {
    bool tsc_reliable = false;
    long tsc_khz = uvm_host_tsc_khz (UVM_PROBE_CACHE_DIR, &tsc_reliable);
    struct supervisor_config scfg = {
      .runtime_root = ctx->root,
      .id = st->id,
      .state_dir = sdir,
      .console_log = console_log,
      .vmm_log = vmm_log,
      .rootfs = st->rootfs,
      .guest_spec = gspec,
      .binds = binds,
      .n_binds = nbinds,
      .sizing = sz,
      .art = &art,
      .accel = accel,
      .shared_fs = cfg->shared_fs ? cfg->shared_fs : "9p",
      .tsc_khz = tsc_khz,
      .tsc_reliable = tsc_reliable,
      .boot_timeout_ms = cfg->boot_timeout_ms > 0 ? cfg->boot_timeout_ms : 30000,
      .terminal = spec->process->terminal,
      .console_socket = o->console_socket,
      .console_receiver = o->console_receiver,
      .tap_fd = net.tap_fd,
      .mac = net.tap_fd >= 0 ? net.mac : NULL,
      .net_config = net_config,
      .report_fd = sv[1],
      .debug = cfg->debug || log_get_level () >= LOG_LEVEL_DEBUG,
      .cgroup_parent = uvm_jail_cgroup_parent (spec->cgroups_path, ctx->systemd_cgroup),
      .jail_id_base = cfg->jail_id_base,
      .template = cfg->vm_template,
    };
    if (ctx->host_vms)
      {
        ret = create_hosted (ctx, c, &scfg, o, &net, why, err);
        goto out;
      }
    /* The container's stdio is the supervisor's: a caller passes its
       FIFOs or its own.  */
    sup = supervisor_spawn (&scfg, o->stdio, err);
    if (sup < 0)
      goto out;
  }
  /* On record before it does anything (runtime_create says why): it
     waits for our go, and stops the VM by itself if we die before it is
     ready.  */
  st->pid = sup;
  st->pid_start = pid_start_time (sup);
  if (container_save (ctx, c, err) < 0 || send (sv[0], SUPERVISOR_GO, 1, MSG_NOSIGNAL) != 1)
    {
      if (*err == NULL)
        runhv_make_error (err, errno, "start the VM supervisor");
      kill (sup, SIGKILL);
      waitpid (sup, NULL, 0);
      goto out;
    }
  close (sv[1]);
  sv[1] = -1;
  if (net.tap_fd >= 0)
    {
      close (net.tap_fd); /* the supervisor has it */
      net.tap_fd = -1;
    }
  {
    struct pollfd p = { .fd = sv[0], .events = POLLIN };
    struct sync_msg m;
    int64_t timeout = (cfg->boot_timeout_ms > 0 ? cfg->boot_timeout_ms : 30000) + 90000;
    int64_t deadline = monotonic_ms () + timeout;
    /* SYNC_BOOTED comes first, with a pidfd of QEMU's, while the guest
       creates the container; then SYNC_READY or SYNC_ERROR.  */
    do
      {
        int64_t left = deadline - monotonic_ms ();
        if (left <= 0 || poll (&p, 1, (int)left) <= 0)
          {
            runhv_error (err, "the VM supervisor did not report within %lld s (see `%s`)", (long long)timeout / 1000,
                         console_log);
            goto out;
          }
        if (sync_recv (sv[0], &m) < 0)
          {
            runhv_error (err, "the VM supervisor died while starting the VM (see `%s`)", vmm_log);
            goto out;
          }
        if (m.type == SYNC_BOOTED)
          {
            if (vmm_pidfd >= 0)
              close (vmm_pidfd);
            vmm_pidfd = m.fd;
            reclaim_startup ((pid_t)m.value, vmm_pidfd, &art);
          }
      }
    while (m.type == SYNC_BOOTED);
    if (m.type == SYNC_ERROR)
      {
        sync_msg_error (&m, err);
        sup_stops_itself = true;
        goto out;
      }
    st->pid = sup;
    st->pid_start = pid_start_time (sup);
    {
      json_t *reported = NULL;
      runhv_error_t ignored = NULL;
      if (json_load_buffer (m.text, strlen (m.text), "supervisor", &reported, &ignored) < 0)
        runhv_error_release (&ignored);
      record_vm_info (st, m.value, reported, why);
      json_decref (reported);
    }
  }
  if (podnet_finish (&net, err) < 0 || run_host_create_hooks (c, sup, err) < 0)
    goto out;
  ret = 0;
out:
  if (net.tap_fd >= 0)
    close (net.tap_fd);
  /* the redirections' maker gone before they are undone */
  podnet_finish (&net, NULL);
  if (ret < 0 && net.ifname[0] != '\0')
    {
      const char *netns = NULL;
      oci_spec_has_namespace (spec, CLONE_NEWNET, &netns);
      if (netns)
        podnet_teardown (netns, net.ifname);
    }
  if (ret < 0 && pdir != NULL)
    propagate_teardown (pdir);
  if (ret < 0 && sup > 0)
    stop_failed_supervisor (sup, sup_stops_itself, vmm_pidfd);
  binds_free (binds, nbinds);
  uvm_artifacts_release (&art);
  return ret;
}

static int
call_timeout (struct runtime_context *ctx, struct container *c, json_t *req, int timeout_ms, json_t **resp,
              runhv_error_t *err)
{
  cleanup_free char *sdir = vm_dir (ctx, c);
  json_t *r = NULL;
  int ret;
  struct uvm_session *hs = uvm_session_hosted (sdir);
  json_object_set_new (req, "id", json_string (c->state->id));
  if (hs != NULL)
    ret = uvm_session_call (hs, req, NULL, 0, timeout_ms, &r, err);
  else
    ret = uvm_request_timeout (sdir, req, timeout_ms, &r, err);
  json_decref (req);
  if (resp)
    *resp = r;
  else if (r)
    json_decref (r);
  return ret;
}

static int
call (struct runtime_context *ctx, struct container *c, json_t *req, json_t **resp, runhv_error_t *err)
{
  return call_timeout (ctx, c, req, UVM_REQUEST_TIMEOUT_MS, resp, err);
}

/* A supervisor killed outright (SIGKILL, the OOM killer) wrote no exit
   record and no vm-stopped event: whoever first sees it gone does, once,
   so that state, events and diag agree on how the VM ended.  */
static void
record_lost_supervisor (struct runtime_context *ctx, struct container *c, const char *exit_path)
{
  cleanup_json json_t *j = json_pack ("{s:i,s:s}", "status", UVM_EXIT_VM_DIED, "reason", "supervisor-killed");
  cleanup_free char *text = json_dumps (j, JSON_COMPACT);
  int st = UVM_EXIT_VM_DIED;
  int fd = open (exit_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    return; /* someone else recorded it, or the state is going */
  if (write_all (fd, text, strlen (text)) < 0)
    log_warning ("write `%s`: %s", exit_path, strerror (errno));
  close (fd);
  c->state->has_exit_status = true;
  c->state->exit_status = st;
  if (json_is_true (json_object_get (c->state->backend, "hosted")))
    log_warning ("container `%s`: the shim that hosted its VM (pid %d) was killed; exit status %d", c->state->id,
                 (int)c->state->pid, st);
  else
    log_warning ("container `%s`: its VM supervisor was killed; exit status %d", c->state->id, st);
  events_record (ctx->root, "vm-stopped", c->state->id, "hypervisor", c->state->pid, NULL);
  events_record (ctx->root, "container-exited", c->state->id, "hypervisor", 0, &st);
}

/* How the container ended, once the host of its VM recorded it: the
   supervisor or a stand-in as it exits, a hosted session when the
   container or its VM ends (its host, a shim, lives on).  */
static bool
exit_recorded (struct runtime_context *ctx, struct container *c)
{
  cleanup_free char *path = xasprintf ("%s/%s/exit.json", ctx->root, c->state->id);
  cleanup_json json_t *j = NULL;
  if (json_load_path (path, "exit.json", 4096, &j, NULL) < 0)
    return false;
  c->state->has_exit_status = true;
  c->state->exit_status = (int)json_integer_value (json_object_get (j, "status"));
  return true;
}

static enum container_status
hv_status (struct runtime_context *ctx, struct container *c)
{
  json_t *resp = NULL;
  runhv_error_t err = NULL;
  const char *s;
  enum container_status r = STATUS_STOPPED;
  if (exit_recorded (ctx, c))
    return STATUS_STOPPED;
  if (!pid_alive (c->state->pid, c->state->pid_start))
    {
      cleanup_free char *path = xasprintf ("%s/%s/exit.json", ctx->root, c->state->id);
      /* Not even an exit record: its host was killed outright.  */
      if (!joined (c))
        record_lost_supervisor (ctx, c, path);
      return STATUS_STOPPED;
    }
  /* A busy supervisor may make us wait a little; a dead one is seen above
     (and again here, when it died during the call).  */
  for (int attempt = 0;; attempt++)
    {
      if (call_timeout (ctx, c, json_pack ("{s:s}", "op", "state"), 2500, &resp, &err) == 0)
        break;
      log_debug ("container `%s`: state: %s", c->state->id, err->msg);
      runhv_error_release (&err);
      if (!pid_alive (c->state->pid, c->state->pid_start))
        return hv_status (ctx, c);
      if (attempt == 1)
        return STATUS_UNKNOWN;
      usleep (100000);
    }
  s = json_string_value (json_object_get (resp, "status"));
  if (s && strcmp (s, "created") == 0)
    r = STATUS_CREATED;
  else if (s && strcmp (s, "running") == 0)
    r = STATUS_RUNNING;
  else if (s && strcmp (s, "paused") == 0)
    r = STATUS_PAUSED;
  json_decref (resp);
  return r;
}

static pid_t
hv_vmm_pid (struct runtime_context *ctx, struct container *c)
{
  cleanup_json json_t *vm = NULL;
  runhv_error_t ignored = NULL;
  pid_t pid;
  if (vm_record (ctx, c, &vm, NULL, &ignored) < 0)
    {
      runhv_error_release (&ignored);
      return 0;
    }
  pid = (pid_t)json_integer_value (json_object_get (vm, "pid"));
  if (pid > 0 && pid_alive (pid, (uint64_t)json_integer_value (json_object_get (vm, "pid_start"))))
    return pid;
  return 0;
}

static int
hv_start (struct runtime_context *ctx, struct container *c, runhv_error_t *err)
{
  return call (ctx, c, json_pack ("{s:s}", "op", "start"), NULL, err);
}

static int
hv_kill (struct runtime_context *ctx, struct container *c, int sig, bool all, runhv_error_t *err)
{
  return call (ctx, c, json_pack ("{s:s,s:i,s:b}", "op", "kill", "signal", sig, "all", all), NULL, err);
}

static void
remove_logs (struct runtime_context *ctx, const char *id)
{
  cleanup_free char *a = vm_log (ctx, id, "console"), *b = vm_log (ctx, id, "vmm");
  unlink (a);
  unlink (b);
}

void
hypervisor_forget_logs (struct runtime_context *ctx, const char *id)
{
  cleanup_free char *dir = xasprintf ("%s/vm-logs", ctx->root);
  cleanup_free char *a = xasprintf ("%s/%s.console.log", dir, id), *b = xasprintf ("%s/%s.vmm.log", dir, id);
  unlink (a);
  unlink (b);
}

/* Wait up to timeout_ms for the host of the container's VM to record its
   end (a host that lives on: a shim).  */
static bool
wait_exit_record (struct runtime_context *ctx, struct container *c, int timeout_ms)
{
  for (int waited = 0; waited < timeout_ms; waited += 50)
    {
      if (exit_recorded (ctx, c))
        return true;
      usleep (50000);
    }
  return exit_recorded (ctx, c);
}

static int
destroy_joined (struct runtime_context *ctx, struct container *c)
{
  struct container_state *st = c->state;
  runhv_error_t ignored = NULL;
  struct uvm_session *hs = NULL;
  enum vm_host host = vm_host_of (ctx, c, &hs);
  int pidfd = -1, status;
  if (host == VM_HOST_HERE)
    {
      if (!uvm_session_exit_status (hs, st->id, NULL, &status))
        {
          if (call (ctx, c, json_pack ("{s:s,s:i}", "op", "kill", "signal", SIGKILL), NULL, &ignored) < 0)
            runhv_error_release (&ignored);
          uvm_session_wait (hs, st->id, NULL, 10000);
        }
    }
  else if (host == VM_HOST_ELSEWHERE)
    {
      /* Its pid is its host's, which lives on: its end is on record (a
         host that died took the VM with it).  */
      if (pid_alive (st->pid, st->pid_start) && !exit_recorded (ctx, c))
        {
          if (call (ctx, c, json_pack ("{s:s,s:i}", "op", "kill", "signal", SIGKILL), NULL, &ignored) < 0)
            runhv_error_release (&ignored);
          wait_exit_record (ctx, c, 10000);
        }
    }
  else if (host == VM_HOST_OWN && pid_alive (st->pid, st->pid_start))
    pidfd = (int)syscall (SYS_pidfd_open, st->pid, 0);
  if (pidfd >= 0)
    {
      struct pollfd p = { .fd = pidfd, .events = POLLIN };
      if (call (ctx, c, json_pack ("{s:s,s:i}", "op", "kill", "signal", SIGKILL), NULL, &ignored) < 0)
        runhv_error_release (&ignored);
      if (poll (&p, 1, 10000) == 0)
        syscall (SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
      close (pidfd);
      waitpid (st->pid, NULL, WNOHANG);
    }
  /* The VM forgets it and drops its shared rootfs; a VM already gone has
     nothing left to forget.  */
  if (call (ctx, c, json_pack ("{s:s}", "op", "delete"), NULL, &ignored) < 0)
    runhv_error_release (&ignored);
  {
    cleanup_free char *pdir = propagate_dir (ctx, vm_owner (c)), *proot = xasprintf ("%s/%s", pdir, st->id);
    propagate_teardown (proot);
  }
  return 0;
}

static void
podnet_release (struct container_state *st)
{
  json_t *net = st->backend ? json_object_get (st->backend, "net") : NULL;
  if (net)
    podnet_teardown (json_string_value (json_object_get (net, "netns")),
                     json_string_value (json_object_get (net, "ifname")));
}

/* A VM another process hosts (`runhv delete --force` of a shim's pod): it
   is asked to stop, then its VMM killed; its host is never signalled.  */
static void
stop_hosted_elsewhere (struct runtime_context *ctx, struct container *c)
{
  runhv_error_t ignored = NULL;
  if (call_timeout (ctx, c, json_pack ("{s:s}", "op", "shutdown"), 5000, NULL, &ignored) < 0)
    runhv_error_release (&ignored);
  if (!wait_exit_record (ctx, c, 10000))
    {
      pid_t vmm = hv_vmm_pid (ctx, c);
      log_warning ("container `%s`: its VM's host did not stop it within 10 s; killing its VMM", c->state->id);
      if (vmm > 0)
        kill (vmm, SIGKILL);
      wait_exit_record (ctx, c, 5000);
    }
}

/* The supervisor asked to stop (none when its create died while the VM
   booted: nobody will talk to it), then killed if it does not.  */
static void
stop_supervisor (struct runtime_context *ctx, struct container *c)
{
  struct container_state *st = c->state;
  cleanup_close int pidfd = (int)syscall (SYS_pidfd_open, st->pid, 0);
  runhv_error_t ignored = NULL;
  int grace_ms = 10000;
  if (st->creating)
    grace_ms = 0;
  else if (call_timeout (ctx, c, json_pack ("{s:s}", "op", "shutdown"), 5000, NULL, &ignored) < 0
           && !exit_recorded (ctx, c))
    {
      /* A supervisor that cannot take the request will not stop by
         itself: no grace.  (One that recorded the end is stopping
         already, and answers no more.)  */
      log_warning ("container `%s`: %s; killing its VM supervisor", st->id, ignored->msg);
      grace_ms = 0;
    }
  runhv_error_release (&ignored);
  if (pidfd >= 0)
    {
      struct pollfd p = { .fd = pidfd, .events = POLLIN };
      if (poll (&p, 1, grace_ms) == 0)
        {
          if (grace_ms > 0)
            log_warning ("container `%s`: the VM supervisor did not stop within 10 s; killing it", st->id);
          syscall (SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
          poll (&p, 1, 5000);
        }
    }
  waitpid (st->pid, NULL, WNOHANG);
}

static int
hv_destroy (struct runtime_context *ctx, struct container *c, runhv_error_t *err)
{
  struct container_state *st = c->state;
  cleanup_free char *pdir = NULL;
  struct uvm_session *hs = NULL;
  enum vm_host host;
  (void)err;
  if (joined (c))
    return destroy_joined (ctx, c);
  host = vm_host_of (ctx, c, &hs);
  if (host == VM_HOST_HERE)
    uvm_session_free (hs); /* the VM ends, its host (us) stays */
  else if (host == VM_HOST_GONE_HERE)
    ; /* never signal ourselves */
  else if (st->pid <= 0 || !pid_alive (st->pid, st->pid_start))
    waitpid (st->pid, NULL, WNOHANG);
  else if (host == VM_HOST_ELSEWHERE)
    stop_hosted_elsewhere (ctx, c);
  else
    stop_supervisor (ctx, c);
  pdir = propagate_dir (ctx, st->id);
  remove_logs (ctx, st->id);
  propagate_teardown (pdir);
  podnet_release (st);
  return 0;
}

static int
hv_ps (struct runtime_context *ctx, struct container *c, pid_t **pids, size_t *n, runhv_error_t *err)
{
  json_t *resp = NULL, *arr, *v;
  size_t i;
  if (call (ctx, c, json_pack ("{s:s}", "op", "ps"), &resp, err) < 0)
    return -1;
  arr = json_object_get (resp, "pids");
  *n = 0;
  *pids = xmalloc0 ((json_array_size (arr) + 1) * sizeof (pid_t));
  json_array_foreach (arr, i, v) (*pids)[(*n)++] = (pid_t)json_integer_value (v);
  json_decref (resp);
  return 0;
}

static int
hv_ps_detail (struct runtime_context *ctx, struct container *c, json_t **out, runhv_error_t *err)
{
  json_t *resp = NULL;
  if (call (ctx, c, json_pack ("{s:s}", "op", "ps"), &resp, err) < 0)
    return -1;
  *out = json_incref (json_object_get (resp, "processes"));
  if (*out == NULL)
    *out = json_array ();
  json_decref (resp);
  return 0;
}

static int
hv_pause (struct runtime_context *ctx, struct container *c, runhv_error_t *err)
{
  return call (ctx, c, json_pack ("{s:s}", "op", "pause"), NULL, err);
}

static int
hv_resume (struct runtime_context *ctx, struct container *c, runhv_error_t *err)
{
  return call (ctx, c, json_pack ("{s:s}", "op", "resume"), NULL, err);
}

/* The size the container's VM booted with (its sandbox's, for a pod's
   later container).  */
static void
vm_size (struct runtime_context *ctx, struct container *c, int64_t *memory_mb, int64_t *cpus)
{
  cleanup_json json_t *vm = NULL;
  runhv_error_t ignored = NULL;
  if (vm_record (ctx, c, &vm, NULL, &ignored) < 0)
    runhv_error_release (&ignored);
  *memory_mb = json_integer_value (json_object_get (vm, "memory_mb"));
  *cpus = vm_cpus (vm);
}

static int
hv_update (struct runtime_context *ctx, struct container *c, const struct oci_resources *r, runhv_error_t *err)
{
  struct uvm_sizing sz = { .cpus = 1, .cpu_quota_scale = 1.0 };
  struct oci_spec tmp = *c->spec;
  struct oci_resources merged = { 0 };
  int64_t memory_mb = 0;
  json_t *res;

  vm_size (ctx, c, &memory_mb, &sz.cpus);
  {
    struct runhv_config *cfg = NULL;
    runhv_error_t ignored = NULL;
    if (runtime_config (ctx, &cfg, &ignored) == 0 && cfg->scale_cpu_limits)
      sz.cpu_quota_scale = (double)sz.cpus / (double)uvm_host_cpus ();
    runhv_error_release (&ignored);
  }
  /* A VM's memory and vCPUs are fixed when it boots: a limit above them
     would be set in the guest and mean nothing, so it is refused.  */
  if (r->has_memory_limit && r->memory_limit > 0 && memory_mb > 0 && r->memory_limit > memory_mb * 1024 * 1024)
    return runhv_error (err,
                        "update: a memory limit of %lld MiB is more than the %lld MiB of the container's VM (its size "
                        "is fixed at boot: recreate the container, or its pod, with a larger VM)",
                        (long long)(r->memory_limit / (1024 * 1024)), (long long)memory_mb);
  if (r->has_cpu_quota && r->cpu_quota > 0)
    {
      int64_t period = r->has_cpu_period && r->cpu_period > 0 ? (int64_t)r->cpu_period : 100000;
      if ((double)r->cpu_quota * sz.cpu_quota_scale > (double)(period * sz.cpus))
        return runhv_error (err,
                            "update: a CPU quota of %lld per %lld us is more than the %lld vCPU%s of the container's "
                            "VM (its size is fixed at boot: recreate the container, or its pod, with more vCPUs)",
                            (long long)r->cpu_quota, (long long)period, (long long)sz.cpus, sz.cpus == 1 ? "" : "s");
    }
  merged = *r;
  tmp.resources = &merged;
  res = uvm_guest_resources (&tmp, &sz);
  return call (ctx, c, json_pack ("{s:s,s:o}", "op", "update", "resources", res), NULL, err);
}

static int
hv_stats (struct runtime_context *ctx, struct container *c, struct container_stats *s, runhv_error_t *err)
{
  json_t *r = NULL;
  int ret;
  if (call (ctx, c, json_pack ("{s:s}", "op", "stats"), &r, err) < 0)
    return -1;
  /* Guest bytes: decoded strictly, arrays bounded.  */
  ret = container_stats_from_json (json_object_get (r, "stats"), s, err);
  json_decref (r);
  return ret;
}

static int
hv_attach (struct runtime_context *ctx, struct container *c, struct process_handle *h, runhv_error_t *err)
{
  cleanup_free char *sdir = vm_dir (ctx, c);
  struct uvm_session *hs = uvm_session_hosted (sdir);
  if (hs != NULL)
    return hosted_handle (hs, sdir, c->state->id, NULL, h, err);
  /* The supervisor forwards the signals it gets and exits with the
     container's status: waiting on it is waiting on the container.  */
  return process_handle_for_child (h, c->state->pid, err);
}

static int
hv_exec (struct runtime_context *ctx, struct container *c, const struct exec_options *o, struct process_handle *h,
         runhv_error_t *err)
{
  cleanup_free char *sdir = vm_dir (ctx, c);
  char exec_id[32];
  uint64_t rnd = 0;
  struct uvm_proxy_args a;
  struct uvm_session *hs;
  int r;

  if (o->process->terminal && o->console_socket == NULL && o->console_receiver < 0)
    return runhv_error (err, "--tty needs a terminal receiver (pass --console-socket, or run in the foreground)");
  if (refuse_preserve_fds (o->preserve_fds, err) < 0)
    return -1;
  if (getrandom (&rnd, sizeof (rnd), 0) < 0)
    rnd = (uint64_t)getpid () * 2654435761u;
  snprintf (exec_id, sizeof (exec_id), "exec-%016llx", (unsigned long long)rnd);
  hs = uvm_session_hosted (sdir);
  if (hs != NULL)
    {
      /* No stand-in: the caller waits for it through the session.  */
      int fds[3];
      size_t n = 0;
      json_t *req;
      if (vm_stdio (o->process->terminal, o->stdio, o->console_receiver, o->console_socket, fds, &n, err) < 0)
        return -1;
      req = json_pack ("{s:s,s:s,s:s,s:O,s:b}", "op", "exec", "id", c->state->id, "exec_id", exec_id, "process",
                       o->process->json, "terminal", o->process->terminal);
      r = uvm_session_call (hs, req, fds, n, UVM_REQUEST_TIMEOUT_MS, NULL, err);
      json_decref (req);
      if (r < 0 || hosted_handle (hs, sdir, c->state->id, exec_id, h, err) < 0)
        return -1;
      if (o->exec_ref != NULL)
        snprintf (o->exec_ref, RUNHV_EXEC_REF_MAX, "%s", exec_id);
      return 0;
    }
  if (!o->detach && o->pid_file == NULL && h != NULL)
    {
      /* Nobody needs a host pid for it: no stand-in.  */
      if (exec_attached (ctx, c, sdir, exec_id, o, h, err) < 0)
        return -1;
      if (o->exec_ref != NULL)
        snprintf (o->exec_ref, RUNHV_EXEC_REF_MAX, "%s", exec_id);
      return 0;
    }
  a = (struct uvm_proxy_args){
    .vm_dir = sdir,
    .id = c->state->id,
    .exec_id = exec_id,
    .request = json_pack ("{s:s,s:s,s:s,s:O,s:b}", "op", "exec", "id", c->state->id, "exec_id", exec_id, "process",
                          o->process->json, "terminal", o->process->terminal),
    .terminal = o->process->terminal,
    .stdio = o->stdio,
    .console_socket = o->console_socket,
    .console_receiver = o->console_receiver,
  };
  r = spawn_proxy (ctx, c, &a, h, NULL, err);
  json_decref (a.request);
  if (r >= 0 && o->exec_ref != NULL)
    snprintf (o->exec_ref, RUNHV_EXEC_REF_MAX, "%s", exec_id);
  return r < 0 ? -1 : 0;
}

static int
hv_kill_exec (struct runtime_context *ctx, struct container *c, const char *exec_ref, int sig, runhv_error_t *err)
{
  return call (ctx, c, json_pack ("{s:s,s:s,s:i}", "op", "kill", "exec_id", exec_ref, "signal", sig), NULL, err);
}

/* The guest's kernel counts the container's OOM kills and the host cannot
   watch its cgroup: an fd that ticks every second, on which the caller
   reads the count through stats (one agent round trip), so that a process
   the OOM killer ends while the container lives on is still reported.  */
static int
hv_oom_watch (struct runtime_context *ctx, struct container *c, runhv_error_t *err)
{
  struct itimerspec every_second = { .it_interval = { .tv_sec = 1 }, .it_value = { .tv_sec = 1 } };
  int fd = timerfd_create (CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  (void)ctx;
  (void)c;
  if (fd < 0)
    return runhv_make_error (err, errno, "timerfd_create");
  if (timerfd_settime (fd, 0, &every_second, NULL) < 0)
    {
      int e = errno;
      close (fd);
      return runhv_make_error (err, e, "timerfd_settime");
    }
  return fd;
}

const struct backend_ops hypervisor_backend = {
  .name = "hypervisor",
  .create = hv_create,
  .start = hv_start,
  .status = hv_status,
  .kill = hv_kill,
  .destroy = hv_destroy,
  .exec = hv_exec,
  .ps = hv_ps,
  .pause = hv_pause,
  .resume = hv_resume,
  .update = hv_update,
  .stats = hv_stats,
  .attach = hv_attach,
  .kill_exec = hv_kill_exec,
  .vmm_pid = hv_vmm_pid,
  .oom_watch = hv_oom_watch,
  .ps_detail = hv_ps_detail,
};

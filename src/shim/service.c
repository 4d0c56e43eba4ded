/* containerd.task.v2.Task, served for every task of one pod.  Each task is
   a runhv container made through the runtime library, with the isolation
   its handler's runhv.toml (or its annotation) asks for.  A process
   container's processes are the shim's children (waitpid gives their exit
   status); a VM pod's VM is hosted in the shim itself (its session runs in
   the shim's loop, QEMU is the shim's child) and its processes' exits come
   from that session, with no host process standing for them.  The shim
   relays stdin and terminals between containerd's FIFOs and the
   processes.

   One thread: calls that take long (a VM boot in Create) hold the others
   back, which containerd tolerates since it drives one task's lifecycle at
   a time; Wait is answered later, when the process exits.  */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroups_v1_metrics.pb-c.h"
#include "cgroups_v2_metrics.pb-c.h"
#include "events_task.pb-c.h"
#include "core/json.h"
#include "core/log.h"
#include "runhv-config.h"
#include "runtimeoptions.pb-c.h"
#include "shim.h"
#include "shim.pb-c.h"
#include "core/terminal.h"
#include "proto/ttrpc.h"
#include "core/util.h"
#include "core/banned.h"

#define TYPE_PREFIX "containerd.events."
/* The JSON payloads containerd sends in Any values.  */
#define SPEC_PROCESS_URL "types.containerd.io/opencontainers/runtime-spec/1/Process"
#define SPEC_RESOURCES_URL "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources"
#define MAX_JSON_ANY (1u << 20)

/* ---- tables ---------------------------------------------------------- */

static struct shim_task *
task_find (struct shim *s, const char *id)
{
  for (struct shim_task *t = s->tasks; t; t = t->next)
    if (strcmp (t->id, id) == 0)
      return t;
  return NULL;
}

static struct shim_process *
process_find (struct shim_task *t, const char *exec_id)
{
  if (exec_id == NULL || exec_id[0] == '\0')
    return t->init;
  for (struct shim_process *p = t->execs; p; p = p->next)
    if (strcmp (p->exec_id, exec_id) == 0)
      return p;
  return NULL;
}

/* Answer NOT_FOUND and return NULL when the task or process is unknown. */
static struct shim_process *
lookup (struct shim *s, struct ttrpc_call *call, const char *id, const char *exec_id, struct shim_task **tp)
{
  struct shim_task *t = task_find (s, id ? id : "");
  struct shim_process *p;
  if (t == NULL)
    {
      ttrpc_call_fail (call, TTRPC_NOT_FOUND, "task `%s` not found", id ? id : "");
      return NULL;
    }
  p = process_find (t, exec_id);
  if (p == NULL)
    {
      ttrpc_call_fail (call, TTRPC_NOT_FOUND, "process `%s` of task `%s` not found", exec_id ? exec_id : "", t->id);
      return NULL;
    }
  if (tp)
    *tp = t;
  return p;
}

static struct shim_process *
process_new (struct shim_task *t, const char *exec_id, const char *in, const char *out, const char *errp, bool terminal)
{
  struct shim_process *p = xmalloc0 (sizeof (*p));
  p->task = t;
  p->exec_id = exec_id ? xstrdup (exec_id) : NULL;
  p->stdin_path = xstrdup (in ? in : "");
  p->stdout_path = xstrdup (out ? out : "");
  p->stderr_path = xstrdup (errp ? errp : "");
  p->terminal = terminal;
  p->io.stdin_fifo = p->io.stdin_pipe = p->io.stdout_fd = p->io.stderr_fd = p->io.master = -1;
  p->io.child[0] = p->io.child[1] = p->io.child[2] = -1;
  p->io.console_sock[0] = p->io.console_sock[1] = -1;
  p->vm.wait_fd = -1;
  return p;
}

static void
answer_waiters (struct shim_process *p)
{
  while (p->waiters)
    {
      struct shim_waiter *w = p->waiters;
      Containerd__Task__V2__WaitResponse r = CONTAINERD__TASK__V2__WAIT_RESPONSE__INIT;
      Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
      runhv_error_t err = NULL;
      p->waiters = w->next;
      if (p->status == SHIM_PROC_STOPPED)
        {
          ttrpc_timestamp_set (&ts, &p->exited_at);
          r.exit_status = (uint32_t)p->exit_status;
          r.exited_at = &ts;
          if (ttrpc_call_reply (w->call, &r.base, &err) < 0)
            {
              log_error ("Wait: %s", err->msg);
              runhv_error_release (&err);
            }
        }
      else
        ttrpc_call_fail (w->call, TTRPC_NOT_FOUND, "process was deleted before it exited");
      free (w);
    }
}

static void
process_free (struct shim_process *p)
{
  if (p == NULL)
    return;
  answer_waiters (p);
  shim_io_close (&p->io);
  process_handle_release (&p->vm);
  oci_process_free (p->spec);
  free (p->exec_id);
  free (p->stdin_path);
  free (p->stdout_path);
  free (p->stderr_path);
  free (p);
}

static void
task_free (struct shim_task *t)
{
  while (t->execs)
    {
      struct shim_process *p = t->execs;
      t->execs = p->next;
      process_free (p);
    }
  process_free (t->init);
  if (t->oom_fd >= 0)
    close (t->oom_fd);
  shim_rootfs_unmount (&t->mounted);
  runtime_context_release (&t->ctx);
  free (t->id);
  free (t->bundle);
  free (t->isolation);
  free (t->config_path);
  free (t);
}

static void
task_unlink (struct shim *s, struct shim_task *t)
{
  for (struct shim_task **pp = &s->tasks; *pp; pp = &(*pp)->next)
    if (*pp == t)
      {
        *pp = t->next;
        return;
      }
}

void
shim_free_tasks (struct shim *s)
{
  while (s->tasks)
    {
      struct shim_task *t = s->tasks;
      s->tasks = t->next;
      task_free (t);
    }
}

/* ---- events ---------------------------------------------------------- */

static void
publish (struct shim *s, const char *topic, const char *name, const ProtobufCMessage *msg)
{
  cleanup_free char *url = xasprintf (TYPE_PREFIX "%s", name);
  shim_publish (s->pub, topic, url, msg);
}

/* ---- stdio relays ---------------------------------------------------- */

/* Where stdin goes: the pipe, or the terminal.  */
static int
stdin_target (struct shim_process *p)
{
  return p->terminal ? p->io.master : p->io.stdin_pipe;
}

static void
stdin_finish (struct shim_process *p)
{
  if (p->io.stdin_fifo >= 0)
    close (p->io.stdin_fifo);
  p->io.stdin_fifo = -1;
  p->in_len = p->in_off = 0;
  /* EOF reaches a pipe reader by closing the pipe; a terminal has no such
     thing, the process reads on until it exits.  */
  if (p->io.stdin_pipe >= 0)
    close (p->io.stdin_pipe);
  p->io.stdin_pipe = -1;
  p->stdin_closing = false;
}

size_t
shim_relay_pollfds (struct shim *s, struct pollfd *pfd, struct shim_process **who, size_t max)
{
  size_t n = 0;
  for (struct shim_task *t = s->tasks; t; t = t->next)
    {
      if (t->oom_fd >= 0 && n < max)
        {
          pfd[n] = (struct pollfd){ .fd = t->oom_fd, .events = POLLIN };
          who[n++] = t->init;
        }
      for (struct shim_process *p = t->init; p; p = (p == t->init ? t->execs : p->next))
        {
          if (n + 3 > max)
            return n;
          if (p->in_vm && p->status != SHIM_PROC_STOPPED && p->vm.wait_fd >= 0)
            {
              pfd[n] = (struct pollfd){ .fd = p->vm.wait_fd, .events = POLLIN };
              who[n++] = p;
            }
          if (p->in_len > p->in_off && stdin_target (p) >= 0)
            {
              pfd[n] = (struct pollfd){ .fd = stdin_target (p), .events = POLLOUT };
              who[n++] = p;
            }
          else if (p->io.stdin_fifo >= 0 && stdin_target (p) >= 0)
            {
              pfd[n] = (struct pollfd){ .fd = p->io.stdin_fifo, .events = POLLIN };
              who[n++] = p;
            }
          if (p->io.master >= 0 && !p->master_eof)
            {
              if (p->out_len > p->out_off && p->io.stdout_fd >= 0)
                pfd[n] = (struct pollfd){ .fd = p->io.stdout_fd, .events = POLLOUT };
              else
                pfd[n] = (struct pollfd){ .fd = p->io.master, .events = POLLIN };
              who[n++] = p;
            }
        }
    }
  return n;
}

static void
relay_stdin (struct shim_process *p, short revents, int fd)
{
  if (fd == p->io.stdin_fifo)
    {
      ssize_t r = read (fd, p->in_buf, sizeof (p->in_buf));
      if (r > 0)
        {
          p->in_off = 0;
          p->in_len = (size_t)r;
        }
      else if (r == 0 && (revents & POLLHUP))
        stdin_finish (p);
      else if (r < 0 && errno != EAGAIN && errno != EINTR)
        stdin_finish (p);
      return;
    }
  {
    ssize_t w = write (fd, p->in_buf + p->in_off, p->in_len - p->in_off);
    if (w > 0)
      p->in_off += (size_t)w;
    else if (w < 0 && errno != EAGAIN && errno != EINTR)
      {
        /* the process no longer reads its stdin */
        p->in_len = p->in_off = 0;
        stdin_finish (p);
        return;
      }
    if (p->in_off == p->in_len)
      {
        p->in_len = p->in_off = 0;
        if (p->stdin_closing)
          stdin_finish (p);
      }
  }
}

static void
relay_terminal (struct shim_process *p, int fd)
{
  if (fd == p->io.master)
    {
      ssize_t r = read (fd, p->out_buf, sizeof (p->out_buf));
      if (r > 0)
        {
          p->out_off = 0;
          p->out_len = (size_t)r;
          if (p->io.stdout_fd < 0)
            p->out_len = 0; /* nobody reads the output */
        }
      else if (r == 0 || (errno != EAGAIN && errno != EINTR))
        p->master_eof = true; /* EIO: every slave is closed */
      return;
    }
  {
    ssize_t w = write (fd, p->out_buf + p->out_off, p->out_len - p->out_off);
    if (w > 0)
      p->out_off += (size_t)w;
    else if (w < 0 && errno != EAGAIN && errno != EINTR)
      p->out_len = p->out_off = 0; /* containerd's reader is gone */
    if (p->out_off == p->out_len)
      p->out_len = p->out_off = 0;
  }
}

static void report_oom (struct shim *s, struct shim_task *t);
static void vm_process_exited (struct shim *s, struct shim_process *p);

void
shim_relay_handle (struct shim *s, struct pollfd *pfd, struct shim_process **who, size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      struct shim_process *p = who[i];
      if (pfd[i].revents == 0)
        continue;
      if (pfd[i].fd == p->task->oom_fd)
        {
          /* v1 notifies when the cgroup goes under OOM, a moment before
             the killer's victim is counted: give the count up to 200 ms.  */
          uint64_t before = p->task->oom_kills;
          /* A VM's watch ticks every second: one look at its count.  */
          int patience = strcmp (p->task->isolation, "hypervisor") == 0 ? 1 : 20;
          runtime_oom_watch_drain (pfd[i].fd);
          for (int tries = 0; tries < patience && p->task->oom_kills == before; tries++)
            {
              report_oom (s, p->task);
              if (p->task->oom_kills == before)
                nanosleep (&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
            }
        }
      else if (p->in_vm && pfd[i].fd == p->vm.wait_fd)
        vm_process_exited (s, p);
      else if (pfd[i].fd == p->io.stdin_fifo
               || (pfd[i].fd == stdin_target (p) && (pfd[i].events & POLLOUT) && p->in_len > p->in_off))
        relay_stdin (p, pfd[i].revents, pfd[i].fd);
      else if (pfd[i].fd == p->io.master || pfd[i].fd == p->io.stdout_fd)
        relay_terminal (p, pfd[i].fd);
    }
}

/* What the terminal still holds when its process exits goes out before
   the exit is reported, as `ctr run -t` prints it after the exit.  */
static void
drain_terminal (struct shim_process *p)
{
  struct timespec start, now;
  if (p->io.master < 0 || p->io.stdout_fd < 0)
    return;
  clock_gettime (CLOCK_MONOTONIC, &start);
  for (;;)
    {
      struct pollfd pf;
      clock_gettime (CLOCK_MONOTONIC, &now);
      if (now.tv_sec - start.tv_sec >= 2)
        return;
      if (p->out_len > p->out_off)
        pf = (struct pollfd){ .fd = p->io.stdout_fd, .events = POLLOUT };
      else if (!p->master_eof)
        pf = (struct pollfd){ .fd = p->io.master, .events = POLLIN };
      else
        return;
      if (poll (&pf, 1, pf.fd == p->io.master ? 50 : 500) <= 0)
        return;
      relay_terminal (p, pf.fd);
    }
}

/* ---- exits ----------------------------------------------------------- */

/* OOM kills as the cgroup counts them (the guest's, for a VM), read when a
   process died of SIGKILL: containerd marks the container OOMKilled when
   /tasks/oom comes before its exit, which is what kubelet reports.  */
static int
oom_kills (struct shim_task *t, uint64_t *count)
{
  cleanup_container_stats struct container_stats st = { 0 };
  runhv_error_t err = NULL;
  if (runtime_stats (&t->ctx, t->id, &st, &err) < 0)
    {
      log_debug ("task %s: no OOM count: %s", t->id, err->msg);
      runhv_error_release (&err);
      return -1;
    }
  *count = st.oom_kills;
  return 0;
}

static void
report_oom (struct shim *s, struct shim_task *t)
{
  Containerd__Events__TaskOOM ev = CONTAINERD__EVENTS__TASK_OOM__INIT;
  uint64_t now;
  if (oom_kills (t, &now) < 0 || now <= t->oom_kills)
    return;
  t->oom_kills = now;
  log_info ("task %s: the kernel's OOM killer ended a process (%llu OOM kills in its cgroup)", t->id,
            (unsigned long long)now);
  ev.container_id = t->id;
  publish (s, "/tasks/oom", "TaskOOM", &ev.base);
}

/* exit_status as a shell has it: 128+N for signal N.  */
static void
process_exited (struct shim *s, struct shim_process *p, int exit_status)
{
  Containerd__Events__TaskExit ev = CONTAINERD__EVENTS__TASK_EXIT__INIT;
  Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;

  p->status = SHIM_PROC_STOPPED;
  p->exit_status = exit_status;
  clock_gettime (CLOCK_REALTIME, &p->exited_at);
  drain_terminal (p);
  shim_io_close (&p->io);
  if (p->exec_id == NULL && p->exit_status == 255 && strcmp (p->task->isolation, "hypervisor") == 0)
    log_warning ("task %s: its VM ended with status 255 (the VM died? see `runhv diag list` and the VM logs "
                 "under " SHIM_RUNTIME_ROOT "/vm-logs)",
                 p->task->id);
  log_info ("task %s%s%s (%s isolation) exited with status %d", p->task->id, p->exec_id ? " exec " : "",
            p->exec_id ? p->exec_id : "", p->task->isolation, p->exit_status);
  if (p->exit_status == 128 + SIGKILL)
    report_oom (s, p->task);
  ev.container_id = p->task->id;
  ev.id = p->exec_id ? p->exec_id : p->task->id;
  ev.pid = (uint32_t)p->pid;
  ev.exit_status = (uint32_t)p->exit_status;
  ttrpc_timestamp_set (&ts, &p->exited_at);
  ev.exited_at = &ts;
  publish (s, "/tasks/exit", "TaskExit", &ev.base);
  answer_waiters (p);
}

static int
exit_status_of (int wstatus)
{
  return WIFEXITED (wstatus) ? WEXITSTATUS (wstatus) : 128 + WTERMSIG (wstatus);
}

/* A process in a hosted VM ended: its session says with which status.  */
static void
vm_process_exited (struct shim *s, struct shim_process *p)
{
  runhv_error_t err = NULL;
  int status = 0;
  if (p->vm.reap (&p->vm, &status, &err) < 0)
    {
      if (err->status == EAGAIN)
        {
          runhv_error_release (&err);
          return; /* not yet */
        }
      log_warning ("task %s: %s", p->task->id, err->msg);
      runhv_error_release (&err);
      status = 255;
    }
  process_exited (s, p, status);
}

static struct shim_process *
process_by_pid (struct shim *s, pid_t pid)
{
  for (struct shim_task *t = s->tasks; t; t = t->next)
    for (struct shim_process *p = t->init; p; p = (p == t->init ? t->execs : p->next))
      if (!p->in_vm && p->pid == pid && p->status != SHIM_PROC_STOPPED)
        return p;
  return NULL;
}

void
shim_reap (struct shim *s)
{
  for (;;)
    {
      int st;
      pid_t pid = waitpid (-1, &st, WNOHANG);
      struct shim_process *p;
      if (pid <= 0)
        return;
      if (runtime_vms_child_exited (pid, st))
        continue; /* a hosted VM's QEMU: its session takes it */
      p = process_by_pid (s, pid);
      if (p)
        process_exited (s, p, exit_status_of (st));
      /* else an orphan of a container that re-parented to us (we are a
         subreaper): reaping it is all it needs */
    }
}

/* Wait (briefly) for a process that is being killed, so Delete can give
   its status.  */
static void
reap_now (struct shim *s, struct shim_process *p, int timeout_ms)
{
  if (p->in_vm)
    {
      struct pollfd pf = { .fd = p->vm.wait_fd, .events = POLLIN };
      if (p->status != SHIM_PROC_STOPPED && pf.fd >= 0 && poll (&pf, 1, 0) > 0)
        vm_process_exited (s, p);
      return;
    }
  for (int waited = 0; p->status != SHIM_PROC_STOPPED && p->pid > 0; waited += 10)
    {
      int st;
      pid_t r = waitpid (p->pid, &st, WNOHANG);
      if (r == p->pid)
        {
          process_exited (s, p, exit_status_of (st));
          return;
        }
      if (r < 0 || waited >= timeout_ms)
        return;
      usleep (10000);
    }
}

/* ---- helpers --------------------------------------------------------- */

static void
fail_error (struct ttrpc_call *call, runhv_error_t *err)
{
  log_error ("%s: %s", ttrpc_call_method (call), (*err)->msg);
  ttrpc_call_fail_error (call, err);
}

static void
reply (struct ttrpc_call *call, const ProtobufCMessage *msg)
{
  runhv_error_t err = NULL;
  if (ttrpc_call_reply (call, msg, &err) < 0)
    {
      log_error ("%s: %s", ttrpc_call_method (call), err->msg);
      runhv_error_release (&err);
    }
}

/* A JSON document carried in an Any (exec process, resources).  */
static int
any_json (const Google__Protobuf__Any *any, const char *what, json_t **out, runhv_error_t *err)
{
  if (any == NULL || any->value.len == 0)
    return runhv_error (err, "%s: missing", what);
  if (any->value.len > MAX_JSON_ANY)
    return runhv_error (err, "%s: %zu bytes is over the %u byte limit", what, any->value.len, MAX_JSON_ANY);
  return json_load_buffer ((const char *)any->value.data, any->value.len, what, out, err);
}

/* Runtime options: runtimeoptions.v1.Options names the handler's
   runhv.toml (ConfigPath in containerd's runtime options).  */
static int
options_config_path (const Google__Protobuf__Any *any, char **config_path, runhv_error_t *err)
{
  Runtimeoptions__V1__Options *o;
  const char *url;
  *config_path = NULL;
  if (any == NULL || any->type_url == NULL || any->type_url[0] == '\0')
    return 0;
  url = strrchr (any->type_url, '/');
  url = url ? url + 1 : any->type_url;
  if (strcmp (url, "runtimeoptions.v1.Options") != 0)
    {
      log_info ("runtime options of type `%s` are ignored (runhv reads runtimeoptions.v1.Options: set "
                "ConfigPath in the handler's options)",
                any->type_url);
      return 0;
    }
  o = runtimeoptions__v1__options__unpack (NULL, any->value.len, any->value.data);
  if (o == NULL)
    return runhv_error (err, "runtime options: malformed runtimeoptions.v1.Options");
  if (o->config_path != NULL && o->config_path[0] != '\0')
    {
      struct stat st;
      if (stat (o->config_path, &st) < 0)
        {
          runhv_make_error (err, errno,
                            "runtime options: ConfigPath `%s` cannot be read (create it, e.g. with `runhv config "
                            "containerd`, or fix the handler's options)",
                            o->config_path);
          runtimeoptions__v1__options__free_unpacked (o, NULL);
          return -1;
        }
      *config_path = xstrdup (o->config_path);
    }
  else
    /* The handler has an options table (containerd sends none otherwise)
       but no ConfigPath in it: whatever else it held, containerd dropped.
       The seed's `SandboxIsolation = 1` lands here and would silently give
       the node's default isolation.  */
    log_warning ("the runtime handler's options reached the shim without ConfigPath: containerd passes a custom "
                 "runtime only ConfigPath and drops every other key (e.g. SandboxIsolation), so this pod follows "
                 "/etc/runhv/runhv.toml or the built-in defaults; fix: put the keys in a runhv TOML file named by "
                 "ConfigPath (`runhv config containerd`), and see `runhv diag check`");
  runtimeoptions__v1__options__free_unpacked (o, NULL);
  return 0;
}

/* The container's init (or supervisor, or proxy) as the runtime recorded
   it: the pid the shim waits for.  */
static int
task_host_pid (struct shim_task *t, pid_t *pid, runhv_error_t *err)
{
  char *isolation = NULL;
  if (runtime_host_pid (&t->ctx, t->id, pid, &isolation, err) < 0)
    return -1;
  free (t->isolation);
  t->isolation = isolation;
  return 0;
}

static int
receive_master (struct shim_process *p, runhv_error_t *err)
{
  if (terminal_receive_master (p->io.console_sock[0], &p->io.master, err) < 0)
    return -1;
  set_nonblock (p->io.master, true);
  if (p->io.stdout_fd >= 0)
    set_nonblock (p->io.stdout_fd, true);
  return 0;
}

/* ---- methods --------------------------------------------------------- */

static int
m_create (struct ttrpc_call *call, const ProtobufCMessage *msg, void *data, runhv_error_t *err)
{
  struct shim *s = data;
  const Containerd__Task__V2__CreateTaskRequest *r = (const void *)msg;
  Containerd__Task__V2__CreateTaskResponse resp = CONTAINERD__TASK__V2__CREATE_TASK_RESPONSE__INIT;
  Containerd__Events__TaskCreate ev = CONTAINERD__EVENTS__TASK_CREATE__INIT;
  struct shim_task *t;
  struct shim_process *p;
  struct create_options o = { .console_receiver = -1, .owner = "containerd" };
  bool created = false;

  if (r->id == NULL || r->id[0] == '\0' || r->bundle == NULL || r->bundle[0] != '/')
    {
      ttrpc_call_fail (call, TTRPC_INVALID_ARGUMENT, "Create: id and an absolute bundle path are required");
      return 0;
    }
  if (task_find (s, r->id))
    {
      ttrpc_call_fail (call, TTRPC_ALREADY_EXISTS, "task `%s` already exists", r->id);
      return 0;
    }
  if (r->checkpoint != NULL && r->checkpoint[0] != '\0')
    {
      ttrpc_call_fail (call, TTRPC_UNIMPLEMENTED, "Create: restoring a checkpoint is not supported by runhv");
      return 0;
    }
  t = xmalloc0 (sizeof (*t));
  t->id = xstrdup (r->id);
  t->bundle = xstrdup (r->bundle);
  t->isolation = xstrdup ("unknown");
  t->oom_fd = -1;
  if (runtime_context_init (&t->ctx, SHIM_RUNTIME_ROOT, err) < 0)
    {
      free (t->id);
      free (t->bundle);
      free (t->isolation);
      free (t);
      fail_error (call, err);
      return 0;
    }
  /* A VM made here is hosted here: no supervisor, no stand-ins.  */
  t->ctx.host_vms = true;
  p = t->init = process_new (t, NULL, r->stdin, r->stdout, r->stderr, r->terminal);
  if (options_config_path (r->options, &t->config_path, err) < 0)
    goto fail;
  t->ctx.config_path = t->config_path;
  if (shim_rootfs_mount (r->bundle, r->rootfs, r->n_rootfs, &t->mounted, err) < 0)
    goto fail;
  if (shim_io_open (r->stdin, r->stdout, r->stderr, r->terminal, &p->io, err) < 0)
    goto fail;
  o.bundle = r->bundle;
  o.console_receiver = r->terminal ? p->io.console_sock[1] : -1;
  for (int i = 0; i < 3; i++)
    o.stdio[i] = p->io.child[i];
  if (runtime_create (&t->ctx, r->id, &o, NULL, err) < 0)
    goto fail;
  created = true;
  if (r->terminal && receive_master (p, err) < 0)
    goto fail;
  if (task_host_pid (t, &p->pid, err) < 0)
    goto fail;
  if (strcmp (t->isolation, "hypervisor") == 0)
    {
      if (runtime_process_handle (&t->ctx, t->id, &p->vm, err) < 0)
        goto fail;
      p->in_vm = true;
      p->pid = p->vm.pid;
    }
  shim_io_created (&p->io);
  p->status = SHIM_PROC_CREATED;
  t->next = s->tasks;
  s->tasks = t;
  {
    /* A process-isolated container's memory cgroup notifies; a VM's count
       is polled every second (the guest's kernel holds it).  */
    runhv_error_t werr = NULL;
    t->oom_fd = runtime_oom_watch (&t->ctx, t->id, &werr);
    if (t->oom_fd < 0)
      {
        log_warning ("task %s: OOM kills will be seen only at exits: %s", t->id, werr->msg);
        runhv_error_release (&werr);
      }
  }
  log_info ("task %s created with %s isolation (host pid %d%s%s)", t->id, t->isolation, (int)p->pid,
            t->config_path ? ", config " : "", t->config_path ? t->config_path : "");

  ev.container_id = t->id;
  ev.bundle = t->bundle;
  ev.n_rootfs = r->n_rootfs;
  ev.rootfs = r->rootfs;
  ev.io = NULL;
  ev.pid = (uint32_t)p->pid;
  publish (s, "/tasks/create", "TaskCreate", &ev.base);
  resp.pid = (uint32_t)p->pid;
  reply (call, &resp.base);
  return 0;

fail:
  if (created)
    {
      runhv_error_t ignored = NULL;
      if (runtime_delete (&t->ctx, r->id, true, &ignored) < 0)
        runhv_error_release (&ignored);
    }
  fail_error (call, err);
  task_free (t);
  /* whatever create forked and then gave up on, through the one reaper
     that hands a hosted VM's QEMU to its session */
  shim_reap (s);
  return 0;
}

static int
start_exec (struct shim *s, struct shim_task *t, struct shim_process *p, runhv_error_t *err)
{
  struct exec_options o = { .process = p->spec, .console_receiver = -1, .detach = true, .exec_ref = p->exec_ref };
  bool in_vm = strcmp (t->isolation, "hypervisor") == 0;
  if (in_vm)
    o.handle = &p->vm;
  if (shim_io_open (p->stdin_path, p->stdout_path, p->stderr_path, p->terminal, &p->io, err) < 0)
    return -1;
  o.console_receiver = p->terminal ? p->io.console_sock[1] : -1;
  for (int i = 0; i < 3; i++)
    o.stdio[i] = p->io.child[i];
  if (runtime_exec (&t->ctx, t->id, &o, NULL, err) < 0 || (p->terminal && receive_master (p, err) < 0))
    {
      if (in_vm && p->vm.signal != NULL)
        {
          runhv_error_t ignored = NULL;
          if (p->vm.signal (&p->vm, SIGKILL, &ignored) < 0)
            runhv_error_release (&ignored);
          process_handle_release (&p->vm);
        }
      else if (o.pid > 0)
        {
          kill (o.pid, SIGKILL);
          waitpid (o.pid, NULL, 0);
        }
      shim_io_close (&p->io);
      return -1;
    }
  p->in_vm = in_vm;
  p->pid = o.pid;
  shim_io_created (&p->io);
  (void)s;
  return 0;
}

static int
m_start (struct ttrpc_call *call, const ProtobufCMessage *msg, void *data, runhv_error_t *err)
{
  struct shim *s = data;
  const Containerd__Task__V2__StartRequest *r = (const void *)msg;
  Containerd__Task__V2__StartResponse resp = CONTAINERD__TASK__V2__START_RESPONSE__INIT;
  struct shim_task *t;
  struct shim_process *p = lookup (s, call, r->id, r->exec_id, &t);
  if (p == NULL)
    return 0;
  if (p->status != SHIM_PROC_CREATED)
    {
      ttrpc_call_fail (call, TTRPC_FAILED_PRECONDITION, "process `%s` is %s, not created",
                       p->exec_id ? p->exec_id : t->id, p->status == SHIM_PROC_RUNNING ? "running" : "stopped");
      return 0;
    }
  if (p->exec_id == NULL)
    {
      Containerd__Events__TaskStart ev = CONTAINERD__EVENTS__TASK_START__INIT;
      if (runtime_start (&t->ctx, t->id, err) < 0)
        {
          fail_error (call, err);
          return 0;
        }
      p->status = SHIM_PROC_RUNNING;
      ev.container_id = t->id;
      ev.pid = (uint32_t)p->pid;
      publish (s, "/tasks/start", "TaskStart", &ev.base);
    }
  else
    {
      Containerd__Events__TaskExecStarted ev = CONTAINERD__EVENTS__TASK_EXEC_STARTED__INIT;
      if (start_exec (s, t, p, err) < 0)
        {
          fail_error (call, err);
          return 0;
        }
      p->status = SHIM_PROC_RUNNING;
      ev.container_id = t->id;
      ev.exec_id = p->exec_id;
      ev.pid = (uint32_t)p->pid;
      publish (s, "/tasks/exec-started", "TaskExecStarted", &ev.base);
    }
  resp.pid = (uint32_t)p->pid;
  reply (call, &resp.base);
  return 0;
}

static void
exit_reply (struct shim_process *p, Containerd__Task__V2__DeleteResponse *resp, Google__Protobuf__Timestamp *ts)
{
  resp->pid = (uint32_t)p->pid;
  resp->exit_status = (uint32_t)p->exit_status;
  ttrpc_timestamp_set (ts, &p->exited_at);
  resp->exited_at = ts;
}

static int
m_delete (struct ttrpc_call *call, const ProtobufCMessage *msg, void *data, runhv_error_t *err)
{
  struct shim *s = data;
  const Containerd__Task__V2__DeleteRequest *r = (const void *)msg;
  Containerd__Task__V2__DeleteResponse resp = CONTAINERD__TASK__V2__DELETE_RESPONSE__INIT;
  Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
  struct shim_task *t;
  struct shim_process *p = lookup (s, call, r->id, r->exec_id, &t);
  if (p == NULL)
    return 0;
  if (p->status == SHIM_PROC_RUNNING)
    {
      ttrpc_call_fail (call, TTRPC_FAILED_PRECONDITION, "process `%s` is running: kill it first",
                       p->exec_id ? p->exec_id : t->id);
      return 0;
    }
  if (p->exec_id != NULL)
    {
      for (struct shim_process **pp = &t->execs; *pp; pp = &(*pp)->next)
        if (*pp == p)
          {
            *pp = p->next;
            break;
          }
      if (p->status == SHIM_PROC_CREATED)
        clock_gettime (CLOCK_REALTIME, &p->exited_at);
      exit_reply (p, &resp, &ts);
      reply (call, &resp.base);
      process_free (p);
      return 0;
    }
  /* The container itself: a created one is killed, then every host
     resource goes (cgroup, VM, state).  */
  if (runtime_delete (&t->ctx, t->id, true, err) < 0)
    {
      fail_error (call, err);
      return 0;
    }
  if (p->status == SHIM_PROC_CREATED)
    {
      reap_now (s, p, 5000);
      if (p->status != SHIM_PROC_STOPPED)
        {
          p->status = SHIM_PROC_STOPPED;
          p->exit_status = 128 + SIGKILL;
          clock_gettime (CLOCK_REALTIME, &p->exited_at);
        }
    }
  shim_rootfs_unmount (&t->mounted);
  {
    Containerd__Events__TaskDelete ev = CONTAINERD__EVENTS__TASK_DELETE__INIT;
    ev.container_id = t->id;
    ev.pid = (uint32_t)p->pid;
    ev.exit_status = (uint32_t)p->exit_status;
    ev.exited_at = &ts;
    exit_reply (p, &resp, &ts);
    publish (s, "/tasks/delete", "TaskDelete", &ev.base);
  }
  reply (call, &resp.base);
  log_info ("task %s deleted", t->id);
  task_unlink (s, t);
  task_free (t);
  return 0;
}

static int
m_state (struct ttrpc_call *call, const ProtobufCMessage *msg, void *data, runhv_error_t *err)
{
  struct shim *s = data;
  const Containerd__Task__V2__StateRequest *r = (const void *)msg;
  Containerd__Task__V2__StateResponse resp = CONTAINERD__TASK__V2__STATE_RESPONSE__INIT;
  Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
  struct shim_task *t;
  struct shim_process *p = lookup (s, call, r->id, r->exec_id, &t);
  if (p == NULL)
    return 0;
  resp.id = p->exec_id ? p->exec_id : t->id;
  resp.exec_id = p->exec_id ? p->exec_id : (char *)"";
  resp.bundle = t->bundle;
  resp.pid = (uint32_t)p->pid;
  resp.stdin = p->stdin_path;
  resp.stdout = p->stdout_path;
  resp.stderr = p->stderr_path;
  resp.terminal = p->terminal;
  switch (p->status)
    {
    case SHIM_PROC_CREATED:
      resp.status = CONTAINERD__V1__TYPES__STATUS__CREATED;
      break;
    case SHIM_PROC_RUNNING:
      resp.status = t->paused ? CONTAINERD__V1__TYPES__STATUS__PAUSED : CONTAINERD__V1__TYPES__STATUS__RUNNING;
      break;
    case SHIM_PROC_STOPPED:
      resp.status = CONTAINERD__V1__TYPES__STATUS__STOPPED;
      resp.exit_status = (uint32_t)p->exit_status;
      ttrpc_timestamp_set (&ts, &p->exited_at);
      resp.exited_at = &ts;
      break;
    }
  reply (call, &resp.base);
  return 0;
}

static int
m_pids (struct ttrpc_call *call, const ProtobufCMessage *msg, void *data, runhv_error_t *err)
{
  struct shim *s = data;
  const Containerd__Task__V2__PidsRequest *r = (const void *)msg;
  Containerd__Task__V2__PidsResponse resp = CONTAINERD__TASK__V2__PIDS_RESPONSE__INIT;
  struct shim_task *t;
  cleanup_free pid_t *pids = NULL;
  size_t n = 0;
  Containerd__V1__Types__ProcessInfo *infos;
  Containerd__V1__Types__ProcessInfo **ptrs;
  if (lookup (s, call, r->id, NULL, &t) == NULL)
    return 0;
  if (runtime_ps (&t->ctx, t->id, &pids, &n, err) < 0)
    {
      fail_error (call, err);
      return 0;
    }
  infos = xmalloc0 ((n + 1) * sizeof (*infos));
  ptrs = xmalloc0 ((n + 1) * sizeof (*ptrs));
  for (size_t i = 0; i < n; i++)
    {
      infos[i] = (Containerd__V1__Types__ProcessInfo)CONTAINERD__V1__TYPES__PROCESS_INFO__INIT;
      infos[i].pid = (uint32_t)pids[i];
      ptrs[i] = &infos[i];
    }
  resp.n_processes = n;
  resp.processes = ptrs;
  reply (call, &resp.base);
  free (infos);
  free (ptrs);
  return 0;
}

static int
m_pause_resume (struct ttrpc_call *call, const char *id, bool pause, struct shim *s, runhv_error_t *err)
{
  struct shim_task *t;
  if (lookup (s, call, id, NULL, &t) == NULL)
    return 0;
  if ((pause ? runtime_pause (&t->ctx, t->id, err) : runtime_resume (&t->ctx, t->id, err)) < 0)
    {
      fail_error (call, err);
      return 0;
    }
  t->paused = pause;
  if (pause)
    {
      Containerd__Events__TaskPaused ev = CONTAINERD__EVENTS__TASK_PAUSED__INIT;
      ev.container_id = t->id;
      publish (s, "/tasks/paused", "TaskPaused", &ev.base);
    }
  else
    {
      Containerd__Events__TaskResumed ev = CONTAINERD__EVENTS__TASK_RESUMED__INIT;
      ev.container_id = t->id;
      publish (s, "/tasks/resumed", "TaskResumed", &ev.base);
    }
  reply (call, NULL);
  return 0;
}

static int
m_pause (struct ttrpc_call *call, const ProtobufCMessage *msg, void *data, runhv_error_t *err)
{
  return m_pause_resume (call, ((const Containerd__Task__V2__PauseRequest *)(const void *)msg)->id, true, data, err);
}

static int
m_resume (struct ttrpc_call *call, const ProtobufCMessage *msg, void *data, runhv_error_t *err)
{
  return m_pause_resume (call, ((const Containerd__Task__V2__ResumeRequest *)(const void *)msg)->id, false, data, err);
}

static int
m_checkpoint (struct ttrpc_call *call, const ProtobufCMessage *msg, void *data, runhv_error_t *err)
{
  (void)msg;
  (void)data;
  ttrpc_call_fail (call, TTRPC_UNIMPLEMENTED, "checkpoint is not supported by runhv");
  return 0;
}

static int
m_kill (struct ttrpc_call *call, const ProtobufCMessage *msg, void *data, runhv_error_t *err)
{
  struct shim *s = data;
  const Containerd__Task__V2__KillRequest *r = (const void *)msg;
  struct shim_task *t;
  struct shim_process *p = lookup (s, call, r->id, r->exec_id, &t);
  int sig = (int)r->signal;
  if (p == NULL)
    return 0;
  if (r->signal == 0 || r->signal >= (uint32_t)_NSIG)
    {
      ttrpc_call_fail (call, TTRPC_INVALID_ARGUMENT, "Kill: signal %u is not a signal", r->signal);
      return 0;
    }
  if (p->status == SHIM_PROC_STOPPED)
    {
      /* containerd's WithProcessKill (the CRI's stop and exit handling)
         sends KILL to all after the init is gone and takes NotFound as
         done; what is left of the container goes at Delete.  */
      if (r->all && p->exec_id == NULL && runtime_kill (&t->ctx, t->id, sig, true, err) < 0)
        runhv_error_release (err);
      ttrpc_call_fail (call, TTRPC_NOT_FOUND, "process already finished");
      return 0;
    }
  if (p->exec_id == NULL)
    {
      if (runtime_kill (&t->ctx, t->id, sig, r->all, err) < 0)
        {
          fail_error (call, err);
          return 0;
        }
    }
  else if (p->status == SHIM_PROC_CREATED)
    {
      ttrpc_call_fail (call, TTRPC_FAILED_PRECONDITION, "exec `%s` has not started", p->exec_id);
      return 0;
    }
  else if (p->exec_ref[0] != '\0' && (p->in_vm || sig == SIGKILL || sig == SIGSTOP))
    {
      /* in a hosted VM through its session; else the proxy passes on
         what it can catch, but not these */
      if (runtime_kill_exec (&t->ctx, t->id, p->exec_ref, sig, err) < 0)
        {
          fail_error (call, err);
          return 0;
        }
    }
  else if (kill (p->pid, sig) < 0)
    {
      runhv_make_error (err, errno, "kill exec `%s` (pid %d)", p->exec_id, (int)p->pid);
      fail_error (call, err);
      return 0;
    }
  reply (call, NULL);
  return 0;
}

static int
m_exec (struct ttrpc_call *call, const ProtobufCMessage *msg, void *data, runhv_error_t *err)
{
  struct shim *s = data;
  const Containerd__Task__V2__ExecProcessRequest *r = (const void *)msg;
  Containerd__Events__TaskExecAdded ev = CONTAINERD__EVENTS__TASK_EXEC_ADDED__INIT;
  struct shim_task *t;
  struct shim_process *p;
  cleanup_json json_t *j = NULL;
  struct oci_process *proc = NULL;

  if (lookup (s, call, r->id, NULL, &t) == NULL)
    return 0;
  if (r->exec_id == NULL || r->exec_id[0] == '\0' || state_validate_id (r->exec_id, NULL) < 0)
    {
      ttrpc_call_fail (call, TTRPC_INVALID_ARGUMENT, "Exec: exec_id `%s` is not a valid id",
                       r->exec_id ? r->exec_id : "");
      return 0;
    }
  if (process_find (t, r->exec_id) != NULL)
    {
      ttrpc_call_fail (call, TTRPC_ALREADY_EXISTS, "exec `%s` already exists in task `%s`", r->exec_id, t->id);
      return 0;
    }
  if (t->init->status == SHIM_PROC_STOPPED)
    {
      ttrpc_call_fail (call, TTRPC_FAILED_PRECONDITION, "task `%s` has exited: cannot exec in it", t->id);
      return 0;
    }
  if (any_json (r->spec, "Exec: spec", &j, err) < 0 || oci_process_parse (j, "Exec: spec", &proc, err) < 0)
    {
      ttrpc_call_fail (call, TTRPC_INVALID_ARGUMENT, "%s", (*err)->msg);
      runhv_error_release (err);
      return 0;
    }
  if (proc->terminal != r->terminal)
    proc->terminal = r->terminal;
  p = process_new (t, r->exec_id, r->stdin, r->stdout, r->stderr, r->terminal);
  p->spec = proc;
  p->status = SHIM_PROC_CREATED;
  p->next = t->execs;
  t->execs = p;
  ev.container_id = t->id;
  ev.exec_id = p->exec_id;
  publish (s, "/tasks/exec-added", "TaskExecAdded", &ev.base);
  reply (call, NULL);
  return 0;
}

static int
m_resize_pty (struct ttrpc_call *call, const ProtobufCMessage *msg, void *data, runhv_error_t *err)
{
  struct shim *s = data;
  const Containerd__Task__V2__ResizePtyRequest *r = (const void *)msg;
  struct shim_process *p = lookup (s, call, r->id, r->exec_id, NULL);
  if (p == NULL)
    return 0;
  if (p->io.master < 0)
    {
      ttrpc_call_fail (call, TTRPC_FAILED_PRECONDITION, "process has no terminal");
      return 0;
    }
  if (r->width > 65535 || r->height > 65535)
    {
      ttrpc_call_fail (call, TTRPC_INVALID_ARGUMENT, "ResizePty: %ux%u is not a terminal size", r->width, r->height);
      return 0;
    }
  if (terminal_set_size (p->io.master, r->height, r->width) < 0)
    {
      runhv_make_error (err, errno, "ResizePty: set the terminal size to %ux%u", r->width, r->height);
      fail_error (call, err);
      return 0;
    }
  reply (call, NULL);
  return 0;
}

static int
m_close_io (struct ttrpc_call *call, const ProtobufCMessage *msg, void *data, runhv_error_t *err)
{
  struct shim *s = data;
  const Containerd__Task__V2__CloseIORequest *r = (const void *)msg;
  struct shim_process *p = lookup (s, call, r->id, r->exec_id, NULL);
  if (p == NULL)
    return 0;
  if (r->stdin)
    {
      /* Read what containerd already wrote, then close.  */
      if (p->io.stdin_fifo >= 0 && p->in_len == p->in_off)
        {
          ssize_t n = read (p->io.stdin_fifo, p->in_buf, sizeof (p->in_buf));
          if (n > 0)
            {
              p->in_off = 0;
              p->in_len = (size_t)n;
            }
        }
      if (p->in_len > p->in_off)
        {
          if (p->io.stdin_fifo >= 0)
            close (p->io.stdin_fifo);
          p->io.stdin_fifo = -1;
          p->stdin_closing = true;
        }
      else
        stdin_finish (p);
    }
  reply (call, NULL);
  return 0;
}

static int
m_update (struct ttrpc_call *call, const ProtobufCMessage *msg, void *data, runhv_error_t *err)
{
  struct shim *s = data;
  const Containerd__Task__V2__UpdateTaskRequest *r = (const void *)msg;
  struct shim_task *t;
  cleanup_json json_t *j = NULL;
  struct oci_resources *res = NULL;
  if (lookup (s, call, r->id, NULL, &t) == NULL)
    return 0;
  if (any_json (r->resources, "Update: resources", &j, err) < 0
      || oci_resources_parse (j, "Update: resources", &res, err) < 0)
    {
      ttrpc_call_fail (call, TTRPC_INVALID_ARGUMENT, "%s", (*err)->msg);
      runhv_error_release (err);
      return 0;
    }
  if (runtime_update (&t->ctx, t->id, res, err) < 0)
    fail_error (call, err);
  else
    reply (call, NULL);
  oci_resources_free (res);
  return 0;
}

static int
m_wait (struct ttrpc_call *call, const ProtobufCMessage *msg, void *data, runhv_error_t *err)
{
  struct shim *s = data;
  const Containerd__Task__V2__WaitRequest *r = (const void *)msg;
  struct shim_process *p = lookup (s, call, r->id, r->exec_id, NULL);
  struct shim_waiter *w;
  if (p == NULL)
    return 0;
  w = xmalloc0 (sizeof (*w));
  w->call = call;
  w->next = p->waiters;
  p->waiters = w;
  if (p->status == SHIM_PROC_STOPPED)
    answer_waiters (p);
  return TTRPC_DEFER;
}

static bool
host_cgroup_v2 (void)
{
  return access ("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0;
}

static int
m_stats (struct ttrpc_call *call, const ProtobufCMessage *msg, void *data, runhv_error_t *err)
{
  struct shim *s = data;
  const Containerd__Task__V2__StatsRequest *r = (const void *)msg;
  Containerd__Task__V2__StatsResponse resp = CONTAINERD__TASK__V2__STATS_RESPONSE__INIT;
  Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
  cleanup_container_stats struct container_stats st = { 0 };
  struct shim_task *t;
  int ret;
  if (lookup (s, call, r->id, NULL, &t) == NULL)
    return 0;
  if (runtime_stats (&t->ctx, t->id, &st, err) < 0)
    {
      fail_error (call, err);
      return 0;
    }
  /* containerd decodes the type its own host uses.  */
  if (host_cgroup_v2 ())
    {
      Io__Containerd__Cgroups__V2__Metrics m = IO__CONTAINERD__CGROUPS__V2__METRICS__INIT;
      Io__Containerd__Cgroups__V2__PidsStat pids = IO__CONTAINERD__CGROUPS__V2__PIDS_STAT__INIT;
      Io__Containerd__Cgroups__V2__CPUStat cpu = IO__CONTAINERD__CGROUPS__V2__CPUSTAT__INIT;
      Io__Containerd__Cgroups__V2__MemoryStat mem = IO__CONTAINERD__CGROUPS__V2__MEMORY_STAT__INIT;
      pids.current = st.pids.current;
      pids.limit = st.pids.limit;
      cpu.usage_usec = st.cpu.total / 1000;
      cpu.user_usec = st.cpu.user / 1000;
      cpu.system_usec = st.cpu.kernel / 1000;
      cpu.nr_periods = st.cpu.periods;
      cpu.nr_throttled = st.cpu.throttled_periods;
      cpu.throttled_usec = st.cpu.throttled_time / 1000;
      mem.usage = st.memory.usage.usage;
      mem.usage_limit = st.memory.usage.limit;
      /* v2 counts swap alone; container_stats counts it as v1's memsw.  */
      if (st.memory.swap.usage >= st.memory.usage.usage)
        mem.swap_usage = st.memory.swap.usage - st.memory.usage.usage;
      mem.file = st.memory.cache;
      mem.anon = container_stats_raw (&st, "anon");
      /* kubelet's working set is usage less inactive file pages.  */
      mem.inactive_file = container_stats_raw (&st, "inactive_file");
      m.pids = &pids;
      m.cpu = &cpu;
      m.memory = &mem;
      ret = ttrpc_any_pack (&any, "io.containerd.cgroups.v2.Metrics", &m.base, err);
    }
  else
    {
      Io__Containerd__Cgroups__V1__Metrics m = IO__CONTAINERD__CGROUPS__V1__METRICS__INIT;
      Io__Containerd__Cgroups__V1__PidsStat pids = IO__CONTAINERD__CGROUPS__V1__PIDS_STAT__INIT;
      Io__Containerd__Cgroups__V1__CPUStat cpu = IO__CONTAINERD__CGROUPS__V1__CPUSTAT__INIT;
      Io__Containerd__Cgroups__V1__CPUUsage usage = IO__CONTAINERD__CGROUPS__V1__CPUUSAGE__INIT;
      Io__Containerd__Cgroups__V1__Throttle thr = IO__CONTAINERD__CGROUPS__V1__THROTTLE__INIT;
      Io__Containerd__Cgroups__V1__MemoryStat mem = IO__CONTAINERD__CGROUPS__V1__MEMORY_STAT__INIT;
      Io__Containerd__Cgroups__V1__MemoryEntry mu = IO__CONTAINERD__CGROUPS__V1__MEMORY_ENTRY__INIT;
      Io__Containerd__Cgroups__V1__MemoryEntry sw = IO__CONTAINERD__CGROUPS__V1__MEMORY_ENTRY__INIT;
      pids.current = st.pids.current;
      pids.limit = st.pids.limit;
      usage.total = st.cpu.total;
      usage.user = st.cpu.user;
      usage.kernel = st.cpu.kernel;
      usage.n_per_cpu = st.cpu.n_percpu;
      usage.per_cpu = st.cpu.percpu;
      thr.periods = st.cpu.periods;
      thr.throttled_periods = st.cpu.throttled_periods;
      thr.throttled_time = st.cpu.throttled_time;
      cpu.usage = &usage;
      cpu.throttling = &thr;
      mu.usage = st.memory.usage.usage;
      mu.limit = st.memory.usage.limit;
      mu.max = st.memory.usage.max;
      mu.failcnt = st.memory.usage.failcnt;
      sw.usage = st.memory.swap.usage;
      sw.limit = st.memory.swap.limit;
      sw.max = st.memory.swap.max;
      sw.failcnt = st.memory.swap.failcnt;
      mem.cache = st.memory.cache;
      mem.rss = container_stats_raw (&st, "rss");
      mem.total_inactive_file = container_stats_raw (&st, "total_inactive_file");
      mem.inactive_file = container_stats_raw (&st, "inactive_file");
      mem.usage = &mu;
      mem.swap = &sw;
      m.pids = &pids;
      m.cpu = &cpu;
      m.memory = &mem;
      ret = ttrpc_any_pack (&any, "io.containerd.cgroups.v1.Metrics", &m.base, err);
    }
  if (ret < 0)
    {
      fail_error (call, err);
      return 0;
    }
  resp.stats = &any;
  reply (call, &resp.base);
  ttrpc_any_release (&any);
  return 0;
}

static int
m_connect (struct ttrpc_call *call, const ProtobufCMessage *msg, void *data, runhv_error_t *err)
{
  struct shim *s = data;
  const Containerd__Task__V2__ConnectRequest *r = (const void *)msg;
  Containerd__Task__V2__ConnectResponse resp = CONTAINERD__TASK__V2__CONNECT_RESPONSE__INIT;
  struct shim_task *t = task_find (s, r->id ? r->id : "");
  resp.shim_pid = (uint32_t)getpid ();
  resp.task_pid = t && t->init ? (uint32_t)t->init->pid : 0;
  resp.version = (char *)"runhv " RUNHV_VERSION;
  reply (call, &resp.base);
  return 0;
}

static int
m_shutdown (struct ttrpc_call *call, const ProtobufCMessage *msg, void *data, runhv_error_t *err)
{
  struct shim *s = data;
  const Containerd__Task__V2__ShutdownRequest *r = (const void *)msg;
  /* A pod's shim serves its other tasks on.  */
  if (s->tasks != NULL && !r->now)
    {
      reply (call, NULL);
      return 0;
    }
  s->quit = true;
  reply (call, NULL);
  return 0;
}

static const struct ttrpc_method task_methods[] = {
  { "State", m_state },       { "Create", m_create }, { "Start", m_start },          { "Delete", m_delete },
  { "Pids", m_pids },         { "Pause", m_pause },   { "Resume", m_resume },        { "Checkpoint", m_checkpoint },
  { "Kill", m_kill },         { "Exec", m_exec },     { "ResizePty", m_resize_pty }, { "CloseIO", m_close_io },
  { "Update", m_update },     { "Wait", m_wait },     { "Stats", m_stats },          { "Connect", m_connect },
  { "Shutdown", m_shutdown },
};

int
shim_service_register (struct shim *s, runhv_error_t *err)
{
  return ttrpc_server_register (s->server, &containerd__task__v2__task__descriptor, task_methods,
                                sizeof (task_methods) / sizeof (task_methods[0]), s, err);
}

/* The agent's service loop: requests from the host run through the runtime
   library; stdio of containers and exec'd processes is relayed as streams;
   exits are reported as events once their output has drained.  */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proto/agent-proto.h"
#include "agent.h"
#include "core/json.h"
#include "core/log.h"
#include "runtime.h"
#include "core/terminal.h"
#include "core/util.h"
#include "core/banned.h"

#define MAX_STREAMS (3 * MAX_PROCS + 16)
#define MAX_PROCS 1024
/* Stop reading container output while this much waits for the host.  */
#define OUTPUT_HIGH_WATER (4u << 20)
/* How long an exited process's output may still drain before its exit is
   reported (a detached grandchild can hold a pipe open for ever).  */
#define DRAIN_MS 1000

struct stream
{
  uint32_t id;
  int fd;
  bool from_guest; /* stdout, stderr, terminal: read fd, send DATA */
  bool to_guest;   /* stdin, terminal: DATA from the host written to fd */
  bool read_open;
  bool write_closed;
  bool close_after_drain;
  bool paused;     /* the host asked XOFF: leave the source unread */
  bool asked_xoff; /* we asked the host to stop sending its input */
  uint8_t *pending;
  size_t npending;
  int proc;
};

struct proc
{
  bool used;
  char id[1100];
  char exec_id[1100]; /* "" for the container's own process */
  pid_t pid;
  bool exited, reported;
  int status;
  struct timespec exited_at;
};

struct agent
{
  struct runtime_context ctx;
  struct agent_boot *boot;
  bool hello_done; /* a VM's own hello: it is no template any more */
  int port;
  struct frame_reader in;
  struct outq out;
  struct stream streams[MAX_STREAMS];
  size_t nstreams;
  struct proc procs[MAX_PROCS];
  bool shutdown;
};

static long
ms_since (const struct timespec *t)
{
  struct timespec now;
  clock_gettime (CLOCK_MONOTONIC, &now);
  return (now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000;
}

static struct stream *
stream_find (struct agent *a, uint32_t id)
{
  for (size_t i = 0; i < a->nstreams; i++)
    if (a->streams[i].id == id)
      return &a->streams[i];
  return NULL;
}

static void
stream_remove (struct agent *a, struct stream *s)
{
  if (s->fd >= 0)
    close (s->fd);
  free (s->pending);
  *s = a->streams[--a->nstreams];
}

static int
stream_add (struct agent *a, uint32_t id, int fd, bool from, bool to, int proc, runhv_error_t *err)
{
  struct stream *s;
  if (stream_find (a, id) != NULL)
    return runhv_error (err, "stream %u is already in use", id);
  if (a->nstreams == MAX_STREAMS)
    return runhv_error (err, "too many streams (at most %d)", MAX_STREAMS);
  set_nonblock (fd, true);
  s = &a->streams[a->nstreams++];
  memset (s, 0, sizeof (*s));
  s->id = id;
  s->fd = fd;
  s->from_guest = from;
  s->to_guest = to;
  s->read_open = from;
  s->proc = proc;
  return 0;
}

static int
proc_alloc (struct agent *a, const char *id, const char *exec_id, runhv_error_t *err)
{
  for (int i = 0; i < MAX_PROCS; i++)
    if (a->procs[i].used && strcmp (a->procs[i].id, id) == 0 && strcmp (a->procs[i].exec_id, exec_id) == 0)
      return runhv_error (err, "process `%s%s%s` already exists", id, exec_id[0] ? "/" : "", exec_id);
  for (int i = 0; i < MAX_PROCS; i++)
    if (!a->procs[i].used)
      {
        memset (&a->procs[i], 0, sizeof (a->procs[i]));
        a->procs[i].used = true;
        snprintf (a->procs[i].id, sizeof (a->procs[i].id), "%s", id);
        snprintf (a->procs[i].exec_id, sizeof (a->procs[i].exec_id), "%s", exec_id);
        return i;
      }
  return runhv_error (err, "too many processes (at most %d)", MAX_PROCS);
}

static void
proc_release (struct agent *a, int i)
{
  for (size_t k = 0; k < a->nstreams;)
    if (a->streams[k].proc == i)
      stream_remove (a, &a->streams[k]);
    else
      k++;
  a->procs[i].used = false;
}

/* Pipes (or a terminal) for a process, from the request's "stdio".  Fills
   stdio[3] with the child's ends; the agent keeps the other ends as
   streams.  */
struct io_setup
{
  int child[3];
  int sock[2]; /* terminal: where the runtime hands us the pty master */
  uint32_t tty_stream;
};

static void
io_release (struct io_setup *io)
{
  for (int i = 0; i < 3; i++)
    if (io->child[i] >= 0)
      close (io->child[i]);
  for (int i = 0; i < 2; i++)
    if (io->sock[i] >= 0)
      close (io->sock[i]);
}

static int
io_prepare (struct agent *a, json_t *stdio, int proc, struct io_setup *io, runhv_error_t *err)
{
  static const char *const names[] = { "stdin", "stdout", "stderr" };
  io->child[0] = io->child[1] = io->child[2] = -1;
  io->sock[0] = io->sock[1] = -1;
  io->tty_stream = 0;
  if (json_object_get (stdio, "terminal"))
    {
      io->tty_stream = (uint32_t)json_integer_value (json_object_get (stdio, "terminal"));
      if (stream_find (a, io->tty_stream))
        return runhv_error (err, "stream %u is already in use", io->tty_stream);
      if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, io->sock) < 0)
        return runhv_make_error (err, errno, "socketpair");
      return 0;
    }
  for (int i = 0; i < 3; i++)
    {
      json_t *v = json_object_get (stdio, names[i]);
      int p[2];
      if (v == NULL)
        {
          io->child[i] = open ("/dev/null", O_RDWR | O_CLOEXEC);
          continue;
        }
      if (pipe2 (p, O_CLOEXEC) < 0)
        return runhv_make_error (err, errno, "pipe");
      if (i == 0)
        {
          io->child[0] = p[0];
          if (stream_add (a, (uint32_t)json_integer_value (v), p[1], false, true, proc, err) < 0)
            {
              close (p[1]);
              return -1;
            }
        }
      else
        {
          io->child[i] = p[1];
          if (stream_add (a, (uint32_t)json_integer_value (v), p[0], true, false, proc, err) < 0)
            {
              close (p[0]);
              return -1;
            }
        }
    }
  return 0;
}

static int
io_take_terminal (struct agent *a, struct io_setup *io, int proc, runhv_error_t *err)
{
  int master = -1;
  if (io->tty_stream == 0)
    return 0;
  if (terminal_receive_master (io->sock[1], &master, err) < 0)
    return -1;
  if (stream_add (a, io->tty_stream, master, true, true, proc, err) < 0)
    {
      close (master);
      return -1;
    }
  return 0;
}

static void
send_response (struct agent *a, uint32_t id, json_t *resp)
{
  runhv_error_t err = NULL;
  if (outq_push_json (&a->out, FRAME_RESPONSE, id, resp, &err) < 0)
    {
      log_error ("%s", err->msg);
      runhv_error_release (&err);
    }
  json_decref (resp);
}

/* linux.devices name devices by number, and numbers are the kernel's: the
   node made in the container is this VM's device of that number.  One the
   VM's kernel has no driver for (a host disk, a GPU) would be a node that
   fails at open; refuse it, naming it, before anything is made.  */
static bool
guest_has_major (const char *devices, char type, int64_t major)
{
  const char *section = strstr (devices, type == 'b' ? "Block devices:" : "Character devices:");
  const char *line = section ? strchr (section, '\n') : NULL;
  while (line != NULL && line[1] != '\0' && line[1] != '\n')
    {
      char *end;
      long long m = strtoll (line + 1, &end, 10);
      if (end != line + 1 && m == major)
        return true;
      line = strchr (line + 1, '\n');
    }
  return false;
}

static int
check_guest_devices (json_t *spec, runhv_error_t *err)
{
  json_t *devs = json_object_get (json_object_get (spec, "linux"), "devices"), *d;
  cleanup_free char *known = NULL;
  size_t i;
  if (json_array_size (devs) == 0)
    return 0;
  if (read_file ("/proc/devices", 64 << 10, &known, NULL, err) < 0)
    return -1;
  json_array_foreach (devs, i, d)
  {
    const char *type = json_string_value (json_object_get (d, "type"));
    const char *path = json_string_value (json_object_get (d, "path"));
    json_int_t major = json_integer_value (json_object_get (d, "major"));
    if (type == NULL || path == NULL || type[0] == 'p')
      continue; /* a FIFO has no driver; malformed entries fail in create */
    if (!guest_has_major (known, type[0], major))
      return runhv_error (err,
                          "linux.devices `%s` (%c %lld:%lld): the VM's kernel has no such device; host devices are "
                          "not passed into a VM (remove it, or use process isolation)",
                          path, type[0], (long long)major,
                          (long long)json_integer_value (json_object_get (d, "minor")));
  }
  return 0;
}

/* A pod's later container shares its sandbox's pid, ipc or uts namespace:
   the host names it "container:SANDBOX" (a host path means nothing here);
   this VM's own container of that id stands for it.  */
static int
resolve_pod_namespaces (struct agent *a, json_t *spec, runhv_error_t *err)
{
  json_t *ns = json_object_get (json_object_get (spec, "linux"), "namespaces"), *e;
  size_t i;
  json_array_foreach (ns, i, e)
  {
    const char *path = json_string_value (json_object_get (e, "path"));
    const char *type = json_string_value (json_object_get (e, "type"));
    cleanup_json json_t *st = NULL;
    cleanup_free char *guest = NULL;
    pid_t pid;
    if (path == NULL)
      continue;
    if (strncmp (path, "container:", 10) != 0 || type == NULL
        || (strcmp (type, "pid") != 0 && strcmp (type, "ipc") != 0 && strcmp (type, "uts") != 0))
      return runhv_error (err, "linux.namespaces[%zu].path: `%.128s` is not a namespace of this VM", i, path);
    if (state_validate_id (path + 10, err) < 0 || runtime_state (&a->ctx, path + 10, &st, err) < 0)
      return runhv_error_wrap (err, "linux.namespaces[%zu]: the pod's `%s` namespace", i, type);
    pid = (pid_t)json_integer_value (json_object_get (st, "pid"));
    if (pid <= 0)
      return runhv_error (err, "linux.namespaces[%zu]: container `%s`, whose %s namespace it shares, is not running", i,
                          path + 10, type);
    guest = xasprintf ("/proc/%d/ns/%s", (int)pid, type);
    json_object_set_new (e, "path", json_string (guest));
  }
  return 0;
}

/* hello: a template's (answer, and do nothing that is a VM's own: the
   guest stands here in every VM made from it), or a VM's, which finishes
   the boot with its entropy, time, network and shared filesystem first.  The boot
   id, which the kernel makes at its first read, is read only then, so
   each VM of a template gets its own.  */
static int
op_hello (struct agent *a, json_t *req, json_t **resp, runhv_error_t *err)
{
  struct utsname u;
  cleanup_free char *boot_id = NULL;
  unsigned char seed[AGENT_HELLO_SEED_BYTES];
  size_t seed_len = 0;
  struct timespec now, *nowp = NULL;
  json_t *rt = json_object_get (req, "realtime");

  if (json_is_true (json_object_get (req, "template")))
    {
      if (a->hello_done)
        return runhv_error (err, "hello: this VM has booted for its host; it cannot become a template");
      *resp = json_pack ("{s:b,s:i}", "ok", 1, "version", AGENT_PROTO_VERSION);
      return 0;
    }
  if (json_object_get (req, "seed") != NULL)
    seed_len = proto_hello_seed (req, seed);
  if (rt != NULL)
    {
      now.tv_sec = (time_t)json_integer_value (json_array_get (rt, 0));
      now.tv_nsec = (long)json_integer_value (json_array_get (rt, 1));
      nowp = &now;
    }
  if (agent_finish_boot (a->boot, seed, seed_len, nowp, json_string_value (json_object_get (req, "net")), err) < 0)
    return -1;
  explicit_bzero (seed, sizeof (seed));
  a->hello_done = true;
  uname (&u);
  if (read_file ("/proc/sys/kernel/random/boot_id", 64, &boot_id, NULL, NULL) == 0)
    boot_id[strcspn (boot_id, "\n")] = '\0';
  *resp = json_pack ("{s:b,s:i,s:s,s:s,s:i}", "ok", 1, "version", AGENT_PROTO_VERSION, "kernel", u.release, "boot_id",
                     boot_id ? boot_id : "", "cpus", (int)sysconf (_SC_NPROCESSORS_ONLN));
  return 0;
}

static int
op_create (struct agent *a, json_t *req, json_t **resp, runhv_error_t *err)
{
  const char *id = json_string_value (json_object_get (req, "id"));
  json_t *spec = json_deep_copy (json_object_get (req, "spec"));
  cleanup_free char *bundle = xasprintf ("%s/bundles/%s", AGENT_RUNTIME_ROOT, id);
  cleanup_free char *cfg = xasprintf ("%s/config.json", bundle);
  cleanup_free char *text = NULL;
  struct create_options o = { .console_receiver = -1, .lock_fd = -1, .isolation = "process", .owner = "runhv-agent" };
  struct io_setup io;
  int p, ret = -1;
  json_t *root, *proc;

  p = proc_alloc (a, id, "", err);
  if (p < 0)
    {
      json_decref (spec);
      return -1;
    }
  root = json_object_get (spec, "root");
  if (!json_is_object (root))
    {
      root = json_object ();
      json_object_set_new (spec, "root", root);
    }
  json_object_set (root, "path", json_object_get (req, "rootfs"));
  if (resolve_pod_namespaces (a, spec, err) < 0 || check_guest_devices (spec, err) < 0)
    {
      json_decref (spec);
      proc_release (a, p);
      return -1;
    }
  proc = json_object_get (spec, "process");
  if (json_is_object (proc))
    json_object_set_new (proc, "terminal", json_boolean (json_object_get (json_object_get (req, "stdio"), "terminal")));
  text = json_dumps (spec, JSON_INDENT (1));
  json_decref (spec);
  if (mkdir_p (bundle, 0700, err) < 0 || write_file_atomic (cfg, text, strlen (text), 0600, err) < 0)
    goto out;
  if (io_prepare (a, json_object_get (req, "stdio"), p, &io, err) < 0)
    goto out_io;
  o.bundle = bundle;
  o.console_receiver = io.sock[0];
  memcpy (o.stdio, io.child, sizeof (o.stdio));
  if (runtime_create (&a->ctx, id, &o, &a->procs[p].pid, err) < 0)
    {
      /* The host's runtime says "create container `id`" itself.  */
      cleanup_free char *prefix = xasprintf ("create container `%s`: ", id);
      if (strncmp ((*err)->msg, prefix, strlen (prefix)) == 0)
        memmove ((*err)->msg, (*err)->msg + strlen (prefix), strlen ((*err)->msg) - strlen (prefix) + 1);
      goto out_io;
    }
  if (io_take_terminal (a, &io, p, err) < 0)
    goto out_io;
  *resp = json_pack ("{s:b,s:i}", "ok", 1, "pid", a->procs[p].pid);
  ret = 0;
out_io:
  io_release (&io);
out:
  if (ret < 0)
    {
      runhv_error_t ignored = NULL;
      proc_release (a, p);
      if (rm_rf (bundle, &ignored) < 0)
        runhv_error_release (&ignored);
    }
  return ret;
}

static int
op_exec (struct agent *a, json_t *req, json_t **resp, runhv_error_t *err)
{
  const char *id = json_string_value (json_object_get (req, "id"));
  const char *exec_id = json_string_value (json_object_get (req, "exec_id"));
  json_t *pj = json_deep_copy (json_object_get (req, "process"));
  struct oci_process *proc = NULL;
  struct exec_options o = { .console_receiver = -1, .detach = true };
  struct io_setup io;
  int p, ret = -1;

  json_object_set_new (pj, "terminal", json_boolean (json_object_get (json_object_get (req, "stdio"), "terminal")));
  if (oci_process_parse (pj, "process", &proc, err) < 0)
    {
      json_decref (pj);
      return -1;
    }
  json_decref (pj);
  p = proc_alloc (a, id, exec_id, err);
  if (p < 0)
    {
      oci_process_free (proc);
      return -1;
    }
  if (io_prepare (a, json_object_get (req, "stdio"), p, &io, err) < 0)
    goto out;
  o.process = proc;
  o.console_receiver = io.sock[0];
  memcpy (o.stdio, io.child, sizeof (o.stdio));
  if (runtime_exec (&a->ctx, id, &o, NULL, err) < 0)
    goto out;
  if (io_take_terminal (a, &io, p, err) < 0)
    goto out;
  a->procs[p].pid = o.pid;
  *resp = json_pack ("{s:b,s:i}", "ok", 1, "pid", o.pid);
  ret = 0;
out:
  io_release (&io);
  if (ret < 0)
    proc_release (a, p);
  oci_process_free (proc);
  return ret;
}

static int
op_kill (struct agent *a, json_t *req, runhv_error_t *err)
{
  const char *id = json_string_value (json_object_get (req, "id"));
  const char *exec_id = json_string_value (json_object_get (req, "exec_id"));
  int sig = (int)json_integer_value (json_object_get (req, "signal"));
  if (exec_id != NULL)
    {
      for (int i = 0; i < MAX_PROCS; i++)
        if (a->procs[i].used && strcmp (a->procs[i].id, id) == 0 && strcmp (a->procs[i].exec_id, exec_id) == 0)
          {
            if (a->procs[i].exited)
              return runhv_error (err, "process `%s` of `%s` is not running", exec_id, id);
            if (kill (a->procs[i].pid, sig) < 0)
              return runhv_make_error (err, errno, "signal process `%s`", exec_id);
            return 0;
          }
      return runhv_error (err, "no process `%s` in container `%s`", exec_id, id);
    }
  return runtime_kill (&a->ctx, id, sig, json_is_true (json_object_get (req, "all")), err);
}

static void
handle_request (struct agent *a, uint32_t rid, json_t *req)
{
  runhv_error_t err = NULL;
  enum agent_op op;
  json_t *resp = NULL;
  int r = 0;
  const char *id;

  if (proto_validate_request (req, &op, &err) < 0)
    {
      send_response (a, rid, proto_error (err));
      runhv_error_release (&err);
      return;
    }
  id = json_string_value (json_object_get (req, "id"));
  switch (op)
    {
    case OP_HELLO:
      r = op_hello (a, req, &resp, &err);
      break;
    case OP_CREATE:
      r = op_create (a, req, &resp, &err);
      break;
    case OP_START:
      r = runtime_start (&a->ctx, id, &err);
      break;
    case OP_KILL:
      r = op_kill (a, req, &err);
      break;
    case OP_EXEC:
      r = op_exec (a, req, &resp, &err);
      break;
    case OP_PS:
      {
        cleanup_free pid_t *pids = NULL;
        size_t n = 0;
        r = runtime_ps (&a->ctx, id, &pids, &n, &err);
        if (r == 0)
          {
            json_t *arr = json_array (), *procs = json_array ();
            for (size_t i = 0; i < n; i++)
              {
                cleanup_free char *path = xasprintf ("/proc/%d/cmdline", (int)pids[i]), *cmd = NULL;
                size_t len = 0;
                json_array_append_new (arr, json_integer (pids[i]));
                if (read_file (path, 4096, &cmd, &len, NULL) < 0)
                  continue;
                for (size_t k = 0; k + 1 < len; k++)
                  if (cmd[k] == '\0')
                    cmd[k] = ' ';
                json_array_append_new (procs, json_pack ("{s:i,s:s}", "pid", (int)pids[i], "cmd", cmd));
              }
            resp = json_pack ("{s:b,s:o,s:o}", "ok", 1, "pids", arr, "processes", procs);
          }
      }
      break;
    case OP_PAUSE:
      r = runtime_pause (&a->ctx, id, &err);
      break;
    case OP_RESUME:
      r = runtime_resume (&a->ctx, id, &err);
      break;
    case OP_UPDATE:
      {
        struct oci_resources *res = NULL;
        r = oci_resources_parse (json_object_get (req, "resources"), "resources", &res, &err);
        if (r == 0)
          r = runtime_update (&a->ctx, id, res, &err);
        oci_resources_free (res);
      }
      break;
    case OP_STATS:
      {
        cleanup_container_stats struct container_stats s = { 0 };
        r = runtime_stats (&a->ctx, id, &s, &err);
        if (r == 0)
          resp = json_pack ("{s:b,s:o}", "ok", 1, "stats", container_stats_to_json (&s));
      }
      break;
    case OP_RESIZE:
      {
        struct stream *s = stream_find (a, (uint32_t)json_integer_value (json_object_get (req, "stream")));
        struct winsize ws = { .ws_row = (unsigned short)json_integer_value (json_object_get (req, "rows")),
                              .ws_col = (unsigned short)json_integer_value (json_object_get (req, "cols")) };
        if (s == NULL || !(s->from_guest && s->to_guest))
          r = runhv_error (&err, "resize: stream %lld is not a terminal",
                           (long long)json_integer_value (json_object_get (req, "stream")));
        else if (ioctl (s->fd, TIOCSWINSZ, &ws) < 0)
          r = runhv_make_error (&err, errno, "resize the terminal");
      }
      break;
    case OP_DELETE:
      {
        cleanup_free char *bundle = xasprintf ("%s/bundles/%s", AGENT_RUNTIME_ROOT, id);
        runhv_error_t ignored = NULL;
        r = runtime_delete (&a->ctx, id, true, &err);
        if (r == 0)
          {
            for (int i = 0; i < MAX_PROCS; i++)
              if (a->procs[i].used && strcmp (a->procs[i].id, id) == 0)
                proc_release (a, i);
            if (rm_rf (bundle, &ignored) < 0)
              runhv_error_release (&ignored);
          }
      }
      break;
    case OP_SHUTDOWN:
      /* Written back before the answer: the host may stop the VM as soon
         as it reads `synced` (a guest's own poweroff is 40 ms of emulated
         shutdown under TCG); the poweroff follows all the same.  */
      sync ();
      a->shutdown = true;
      resp = json_pack ("{s:b,s:b}", "ok", 1, "synced", 1);
      break;
    }
  if (r < 0)
    {
      log_debug ("%s failed: %s", proto_op_name (op), err ? err->msg : "?");
      if (resp)
        json_decref (resp);
      resp = proto_error (err);
    }
  else if (resp == NULL)
    resp = proto_ok ();
  send_response (a, rid, resp);
  runhv_error_release (&err);
}

static int
handle_frame (struct agent *a, struct frame *f, runhv_error_t *err)
{
  switch (f->type)
    {
    case FRAME_REQUEST:
      {
        json_t *req = NULL;
        runhv_error_t perr = NULL;
        if (proto_json (f, &req, &perr) < 0)
          {
            send_response (a, f->id, proto_error (perr));
            runhv_error_release (&perr);
            return 0;
          }
        handle_request (a, f->id, req);
        json_decref (req);
        return 0;
      }
    case FRAME_XOFF:
    case FRAME_XON:
      {
        struct stream *s = stream_find (a, f->id);
        if (s != NULL && s->from_guest)
          s->paused = f->type == FRAME_XOFF;
        return 0;
      }
    case FRAME_DATA:
    case FRAME_CLOSE:
      {
        struct stream *s = stream_find (a, f->id);
        if (s == NULL || !s->to_guest || s->write_closed)
          return 0; /* the process is gone: drop its input */
        if (f->type == FRAME_CLOSE)
          {
            s->close_after_drain = true;
            return 0;
          }
        if (s->npending + f->len > (16u << 20))
          return runhv_error (err, "stream %u: the host sent more than 16 MiB the process did not read", f->id);
        s->pending = xrealloc (s->pending, s->npending + f->len);
        memcpy (s->pending + s->npending, f->payload, f->len);
        s->npending += f->len;
        if (s->npending > STREAM_HIGH_WATER && !s->asked_xoff)
          {
            /* a slow reader in here: the host holds the rest */
            outq_push (&a->out, FRAME_XOFF, s->id, NULL, 0, NULL);
            s->asked_xoff = true;
          }
        return 0;
      }
    default:
      /* Responses and events flow the other way: note it, serve on.  */
      log_warning ("agent protocol: ignoring a frame of type %u from the host", f->type);
      return 0;
    }
}

static void
reap_children (struct agent *a)
{
  for (;;)
    {
      int status;
      pid_t pid = waitpid (-1, &status, WNOHANG);
      if (pid <= 0)
        return;
      for (int i = 0; i < MAX_PROCS; i++)
        if (a->procs[i].used && a->procs[i].pid == pid && !a->procs[i].exited)
          {
            a->procs[i].exited = true;
            a->procs[i].status = WIFSIGNALED (status) ? 128 + WTERMSIG (status) : WEXITSTATUS (status);
            clock_gettime (CLOCK_MONOTONIC, &a->procs[i].exited_at);
          }
    }
}

static void
report_exits (struct agent *a)
{
  for (int i = 0; i < MAX_PROCS; i++)
    {
      struct proc *p = &a->procs[i];
      bool open_output = false;
      runhv_error_t err = NULL;
      json_t *ev;
      if (!p->used || !p->exited || p->reported)
        continue;
      for (size_t k = 0; k < a->nstreams; k++)
        if (a->streams[k].proc == i && a->streams[k].read_open)
          open_output = true;
      if (open_output && ms_since (&p->exited_at) < DRAIN_MS)
        continue;
      /* Streams first, then the exit: the host sees all output before it. */
      for (size_t k = 0; k < a->nstreams;)
        if (a->streams[k].proc == i)
          {
            if (a->streams[k].from_guest)
              outq_push (&a->out, FRAME_CLOSE, a->streams[k].id, NULL, 0, NULL);
            stream_remove (a, &a->streams[k]);
          }
        else
          k++;
      ev = json_pack ("{s:s,s:s,s:i}", "event", "exit", "id", p->id, "status", p->status);
      if (p->exec_id[0])
        json_object_set_new (ev, "exec_id", json_string (p->exec_id));
      if (outq_push_json (&a->out, FRAME_EVENT, 0, ev, &err) < 0)
        runhv_error_release (&err);
      json_decref (ev);
      p->reported = true;
      if (p->exec_id[0])
        p->used = false; /* the container's own record stays until delete */
    }
}

/* Frames from the host: each is handled in turn.  A bad frame is answered
   and dropped here, never returned, so the agent serves on.  */
static void
serve_host_frames (struct agent *a, int port)
{
  runhv_error_t err = NULL;
  uint8_t buf[65536];
  ssize_t r = read (port, buf, sizeof (buf));
  struct frame f;
  int got;
  if (r > 0)
    frame_reader_feed (&a->in, buf, (size_t)r);
  while ((got = frame_reader_next (&a->in, &f, &err)) == 1)
    if (handle_frame (a, &f, &err) < 0)
      break;
  if (got < 0 || err != NULL)
    {
      /* A byte stream cannot be resynchronised after a bad
         frame: drop what is buffered, say why, serve on.  */
      log_error ("%s; dropping %zu buffered bytes", err->msg, a->in.len - a->in.consumed);
      /* Tell the host at once, in this side's framing: a
         host of another protocol version then fails its
         call naming both versions, instead of timing out.  */
      send_response (a, 0, proto_error (err));
      runhv_error_release (&err);
      frame_reader_release (&a->in);
      frame_reader_init (&a->in);
    }
}

/* One stream's turn: write what the host sent for it, read what it has
   for the host (end of file becomes a CLOSE frame).  */
static void
pump_stream (struct agent *a, struct stream *s, short revents)
{
  if (revents & POLLOUT)
    {
      ssize_t w = write (s->fd, s->pending, s->npending);
      if (w > 0)
        {
          memmove (s->pending, s->pending + w, s->npending - (size_t)w);
          s->npending -= (size_t)w;
          if (s->asked_xoff && s->npending < STREAM_LOW_WATER)
            {
              outq_push (&a->out, FRAME_XON, s->id, NULL, 0, NULL);
              s->asked_xoff = false;
            }
        }
      else if (w < 0 && errno != EAGAIN && errno != EINTR)
        {
          s->npending = 0;
          s->write_closed = true;
        }
    }
  if (revents & (POLLIN | POLLHUP | POLLERR))
    {
      uint8_t buf[65536];
      ssize_t r = read (s->fd, buf, sizeof (buf));
      if (r > 0)
        outq_push (&a->out, FRAME_DATA, s->id, buf, (size_t)r, NULL);
      else if (r == 0 || (errno != EAGAIN && errno != EINTR))
        {
          s->read_open = false;
          if (!s->to_guest)
            {
              outq_push (&a->out, FRAME_CLOSE, s->id, NULL, 0, NULL);
            }
        }
    }
}

/* Streams whose work is done: stdin EOF once what was queued is written,
   output once the process closed it.  */
static void
drop_finished_streams (struct agent *a)
{
  for (size_t i = 0; i < a->nstreams;)
    {
      struct stream *s = &a->streams[i];
      if (s->to_guest && s->close_after_drain && s->npending == 0 && !s->from_guest)
        {
          stream_remove (a, s);
          continue;
        }
      if (!s->read_open && !s->to_guest)
        {
          stream_remove (a, s);
          continue;
        }
      i++;
    }
}

int
agent_serve (struct agent_boot *b, int port, runhv_error_t *err)
{
  struct agent *a = xmalloc0 (sizeof (*a));
  a->boot = b;
  cleanup_close int sfd = -1;
  sigset_t mask;
  int ret = -1;

  if (runtime_context_init (&a->ctx, AGENT_RUNTIME_ROOT, err) < 0)
    {
      free (a);
      return -1;
    }
  a->port = port;
  frame_reader_init (&a->in);
  outq_init (&a->out);
  sigemptyset (&mask);
  sigaddset (&mask, SIGCHLD);
  sigprocmask (SIG_BLOCK, &mask, NULL);
  sfd = signalfd (-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0)
    {
      runhv_make_error (err, errno, "signalfd");
      goto out;
    }
  while (!a->shutdown || !outq_empty (&a->out))
    {
      struct pollfd pfd[2 + MAX_STREAMS];
      int map[2 + MAX_STREAMS];
      int n = 0, timeout = -1;

      pfd[n] = (struct pollfd){ .fd = port, .events = POLLIN | (outq_empty (&a->out) ? 0 : POLLOUT) };
      map[n++] = -1;
      pfd[n] = (struct pollfd){ .fd = sfd, .events = POLLIN };
      map[n++] = -2;
      for (size_t i = 0; i < a->nstreams; i++)
        {
          struct stream *s = &a->streams[i];
          short ev = 0;
          if (s->read_open && !s->paused && outq_pending (&a->out) < OUTPUT_HIGH_WATER)
            ev |= POLLIN;
          if (s->to_guest && !s->write_closed && s->npending > 0)
            ev |= POLLOUT;
          if (ev == 0)
            continue;
          pfd[n] = (struct pollfd){ .fd = s->fd, .events = ev };
          map[n++] = (int)i;
        }
      for (int i = 0; i < MAX_PROCS; i++)
        if (a->procs[i].used && a->procs[i].exited && !a->procs[i].reported)
          timeout = 50;
      if (poll (pfd, (nfds_t)n, timeout) < 0 && errno != EINTR)
        {
          runhv_make_error (err, errno, "poll");
          goto out;
        }
      for (int i = 0; i < n; i++)
        {
          if (pfd[i].revents == 0)
            continue;
          if (map[i] == -1)
            {
              if (pfd[i].revents & POLLOUT)
                outq_flush (&a->out, port);
              if (pfd[i].revents & POLLIN)
                serve_host_frames (a, port);
              /* POLLHUP: the host end is not connected; virtio-serial
                 keeps the port, so wait for it to come back.  */
              if ((pfd[i].revents & POLLHUP) && !(pfd[i].revents & POLLIN))
                usleep (20000);
            }
          else if (map[i] == -2)
            {
              struct signalfd_siginfo si;
              while (read (sfd, &si, sizeof (si)) == sizeof (si))
                ;
              reap_children (a);
            }
          else
            pump_stream (a, &a->streams[map[i]], pfd[i].revents);
        }
      drop_finished_streams (a);
      reap_children (a);
      report_exits (a);
      if (!outq_empty (&a->out))
        outq_flush (&a->out, port);
    }
  ret = 0;
out:
  frame_reader_release (&a->in);
  outq_release (&a->out);
  runtime_context_release (&a->ctx);
  free (a);
  return ret;
}

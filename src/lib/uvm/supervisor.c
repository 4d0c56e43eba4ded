#include "uvm/supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <dirent.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proto/agent-proto.h"
#include "core/events.h"
#include "uvm/jail.h"
#include "core/json.h"
#include "core/log.h"
#include "uvm/stream-writer.h"
#include "core/sync.h"
#include "core/terminal.h"
#include "core/util.h"
#include "uvm/vmm.h"
#include "core/banned.h"

/* Documented limits (docs/hypervisor.md), enforced with errors: clients
   are runhv commands and the host stand-ins of exec'd processes, each
   holding one connection; a process has up to three streams.  */
#define MAX_CLIENTS 4096
#define MAX_SSTREAMS (3 * 1024)
/* What a pollfd slot of the main loop stands for.  */
#define KIND_CLIENT 0x100000
#define KIND_STREAM 0x200000           /* its input is readable */
#define KIND_STREAM_OUT 0x400000       /* its reader takes more output */
#define MAX_PENDING (MAX_CLIENTS + 64) /* one request per client, and our own */
#define CLIENT_MSG_MAX (256u << 10)
#define STREAM_STDIN 1
#define STREAM_STDOUT 2
#define STREAM_STDERR 3

enum sup_status
{
  SUP_CREATED,
  SUP_RUNNING,
  SUP_PAUSED,
  SUP_STOPPED,
};

struct client
{
  bool used;
  int fd;
  char exec_id[256]; /* the exec whose exit this client waits for */
};

struct sstream
{
  uint32_t id;
  int out_fd;             /* guest output goes here, -1 = none */
  int in_fd;              /* read and sent to the guest, -1 = none */
  bool own;               /* fds to close with the stream */
  struct stream_writer w; /* out_fd's buffer: a slow reader never blocks us */
  bool paused;            /* the agent asked XOFF: leave in_fd unread */
  bool asked_xoff;        /* we asked the agent to stop this output */
  bool close_pending;     /* the output ended: close once w is written */
  int vc;                 /* the container whose process it belongs to, -1 = gone, output draining */
  char exec_id[128];      /* or "" for the container's own process */
  struct winsize ws;      /* a terminal's last size, passed on when it changes */
};

/* A container in this VM: the one the VM was made for (vc 0, the pod's
   sandbox) and those that joined it later.  */
struct vcontainer
{
  bool used;
  char id[1100];
  enum sup_status status;
  int exit_status;
  pid_t guest_pid;
  int waiter; /* the client (a host proxy) waiting for its exit, or -1 */
};

#define MAX_VC 32

struct pending
{
  bool used;
  uint32_t rid;
  int client;
  uint32_t client_rid;
  enum agent_op op;
  int vc;
  char exec_id[128];
  bool create; /* a joined container's create: forget it if refused */
};

struct sup
{
  const struct supervisor_config *cfg;
  int agent;
  struct frame_reader in;
  struct outq out;
  pid_t qemu;
  int listen_fd, sfd;
  struct client *clients; /* grown on demand, up to MAX_CLIENTS */
  int nclients;
  struct sstream *streams; /* grown on demand, up to MAX_SSTREAMS */
  size_t streams_cap;
  size_t nstreams;
  struct pending pending[MAX_PENDING];
  uint32_t next_rid, next_sid;
  struct vcontainer vc[MAX_VC];
  int exit_status;
  const char *exit_reason;
  int tty;          /* host pty slave of the container's terminal, or -1 */
  bool booting;     /* create waits for our report: it may die meanwhile */
  bool caller_gone; /* and did: nobody will use this VM */
  bool vm_started;  /* the vm-started event is on record */
  int vmm_userns;   /* QEMU's user namespace, for a pod's later mounts */
  struct winsize ws;
};

static long
ms_now (void)
{
  struct timespec t;
  clock_gettime (CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static const char *
status_name (enum sup_status s)
{
  static const char *const n[] = { "created", "running", "paused", "stopped" };
  return n[s];
}

/* ---- client sockets ------------------------------------------------- */

static int
socket_at (const char *dir, int *dirfd_out, struct sockaddr_un *addr, runhv_error_t *err)
{
  /* State directories can be deeper than sun_path allows: go through an
     fd on the directory.  */
  int dfd = open (dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return runhv_make_error (err, errno, "open `%s`", dir);
  memset (addr, 0, sizeof (*addr));
  addr->sun_family = AF_UNIX;
  snprintf (addr->sun_path, sizeof (addr->sun_path), "/proc/self/fd/%d/vm.sock", dfd);
  *dirfd_out = dfd;
  return 0;
}

int
uvm_client_connect (const char *state_dir, runhv_error_t *err)
{
  struct sockaddr_un addr;
  cleanup_close int dfd = -1;
  int fd;
  if (socket_at (state_dir, &dfd, &addr, err) < 0)
    return -1;
  fd = socket (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return runhv_make_error (err, errno, "socket");
  if (connect (fd, (struct sockaddr *)&addr, sizeof (addr)) < 0)
    {
      int e = errno;
      close (fd);
      return runhv_make_error (err, e, "connect to the VM supervisor of `%s` (is its VM running?)", state_dir);
    }
  return fd;
}

static int
msg_send (int fd, uint8_t type, uint32_t id, json_t *j, const int *fds, size_t nfds, runhv_error_t *err)
{
  cleanup_free char *text = json_dumps (j, JSON_COMPACT);
  size_t len = text ? strlen (text) : 0;
  cleanup_free uint8_t *buf = NULL;
  if (text == NULL || len + AGENT_PROTO_HEADER > CLIENT_MSG_MAX)
    return runhv_error (err, "supervisor protocol: message too large");
  buf = xmalloc0 (AGENT_PROTO_HEADER + len);
  frame_header_encode (buf, type, id, (uint32_t)len);
  memcpy (buf + AGENT_PROTO_HEADER, text, len);
  if (fd_send (fd, buf, AGENT_PROTO_HEADER + len, fds, nfds) < 0)
    return runhv_make_error (err, errno, "supervisor protocol: send");
  return 0;
}

/* One message: a frame; fds attached are returned (up to 3).  */
static int
msg_recv (int fd, struct frame *f, uint8_t **payload, int *fds, size_t *nfds, runhv_error_t *err)
{
  cleanup_free uint8_t *buf = xmalloc0 (CLIENT_MSG_MAX);
  struct frame_reader r;
  ssize_t n;
  int got;
  *payload = NULL;
  n = fd_recv (fd, buf, CLIENT_MSG_MAX, fds, fds ? 3 : 0, nfds, NULL);
  if (n < 0 && errno == EMSGSIZE)
    return runhv_error (err, "supervisor protocol: message over %u bytes", CLIENT_MSG_MAX);
  if (n < 0)
    return runhv_make_error (err, errno, "supervisor protocol: receive");
  if (n == 0)
    return runhv_make_error (err, EPIPE, "supervisor protocol: the peer went away");
  frame_reader_init (&r);
  frame_reader_feed (&r, buf, (size_t)n);
  got = frame_reader_next (&r, f, err);
  if (got <= 0)
    {
      frame_reader_release (&r);
      return got == 0 ? runhv_error (err, "supervisor protocol: truncated message") : -1;
    }
  *payload = xmalloc0 (f->len + 1);
  memcpy (*payload, f->payload, f->len);
  f->payload = *payload;
  frame_reader_release (&r);
  return 0;
}

int
uvm_client_call (int fd, json_t *req, const int *fds, size_t nfds, json_t **resp, runhv_error_t *err)
{
  struct frame f;
  cleanup_free uint8_t *payload = NULL;
  if (msg_send (fd, FRAME_REQUEST, 1, req, fds, nfds, err) < 0)
    return -1;
  for (;;)
    {
      free (payload);
      payload = NULL;
      if (msg_recv (fd, &f, &payload, NULL, NULL, err) < 0)
        return -1;
      if (f.type == FRAME_RESPONSE)
        break;
    }
  if (proto_json (&f, resp, err) < 0)
    return -1;
  if (proto_check_response (*resp, err) < 0)
    {
      json_decref (*resp);
      *resp = NULL;
      return -1;
    }
  return 0;
}

int
uvm_client_event (int fd, json_t **ev, runhv_error_t *err)
{
  struct frame f;
  cleanup_free uint8_t *payload = NULL;
  for (;;)
    {
      free (payload);
      payload = NULL;
      if (msg_recv (fd, &f, &payload, NULL, NULL, err) < 0)
        return -1;
      if (f.type == FRAME_EVENT)
        return proto_json (&f, ev, err);
    }
}

int
uvm_request_timeout (const char *state_dir, json_t *req, int timeout_ms, json_t **resp, runhv_error_t *err)
{
  cleanup_close int fd = uvm_client_connect (state_dir, err);
  struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
  if (fd < 0)
    return -1;
  /* Control requests are answered by the supervisor itself, whatever its
     streams do: one that does not answer in time is stuck, and the caller
     must hear so rather than hang with it.  */
  if (setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof (tv)) < 0
      || setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof (tv)) < 0)
    return runhv_make_error (err, errno, "set a timeout on the supervisor connection");
  if (uvm_client_call (fd, req, NULL, 0, resp, err) < 0)
    {
      if ((*err)->status == EAGAIN || (*err)->status == EWOULDBLOCK)
        {
          runhv_error_release (err);
          return runhv_make_error (err, ETIMEDOUT, "the VM supervisor of `%s` did not answer within %d ms", state_dir,
                                   timeout_ms);
        }
      return -1;
    }
  return 0;
}

int
uvm_request (const char *state_dir, json_t *req, json_t **resp, runhv_error_t *err)
{
  return uvm_request_timeout (state_dir, req, UVM_REQUEST_TIMEOUT_MS, resp, err);
}

/* ---- the supervisor ------------------------------------------------- */

static void
sup_exit_file (struct sup *s)
{
  cleanup_free char *path = xasprintf ("%s/exit.json", s->cfg->state_dir);
  cleanup_json json_t *j = json_pack ("{s:i,s:s}", "status", s->exit_status, "reason", s->exit_reason);
  cleanup_free char *text = json_dumps (j, JSON_COMPACT);
  runhv_error_t err = NULL;
  if (write_file_atomic (path, text, strlen (text), 0600, &err) < 0)
    {
      log_warning ("%s", err->msg);
      runhv_error_release (&err);
    }
}

static struct sstream *
sstream_find (struct sup *s, uint32_t id)
{
  for (size_t i = 0; i < s->nstreams; i++)
    if (s->streams[i].id == id)
      return &s->streams[i];
  return NULL;
}

static void
sstream_remove (struct sup *s, struct sstream *st)
{
  stream_writer_release (&st->w);
  if (st->own)
    {
      if (st->out_fd >= 0)
        close (st->out_fd);
      if (st->in_fd >= 0 && st->in_fd != st->out_fd)
        close (st->in_fd);
    }
  *st = s->streams[--s->nstreams];
}

/* EOF of a process's output: pass it on by closing our copies (a stream
   whose fd is shared with input keeps it).  */
static void
sstream_end_output (struct sstream *st)
{
  st->close_pending = false;
  if (!st->own || st->in_fd >= 0 || st->out_fd < 0)
    return;
  stream_writer_release (&st->w);
  close (st->out_fd);
  st->out_fd = -1;
}

static struct sstream *
sstream_add (struct sup *s, uint32_t id, int out_fd, int in_fd, bool own, int vc, const char *exec_id)
{
  struct sstream *st;
  if (s->nstreams == MAX_SSTREAMS)
    return NULL;
  if (s->nstreams == s->streams_cap)
    {
      s->streams_cap = s->streams_cap ? 2 * s->streams_cap : 16;
      s->streams = xrealloc (s->streams, s->streams_cap * sizeof (*s->streams));
    }
  st = &s->streams[s->nstreams++];
  *st = (struct sstream){ .id = id, .out_fd = out_fd, .in_fd = in_fd, .own = own, .vc = vc };
  stream_writer_init (&st->w, out_fd);
  snprintf (st->exec_id, sizeof (st->exec_id), "%s", exec_id ? exec_id : "");
  return st;
}

/* The streams of one process go when it has exited; output its reader
   has not taken yet is still written, then the stream goes.  */
static void
streams_drop (struct sup *s, int vc, const char *exec_id)
{
  for (size_t k = 0; k < s->nstreams;)
    {
      struct sstream *st = &s->streams[k];
      if (st->vc != vc || strcmp (st->exec_id, exec_id ? exec_id : "") != 0)
        {
          k++;
          continue;
        }
      if (stream_writer_pending (&st->w) == 0)
        {
          sstream_remove (s, st);
          continue;
        }
      if (st->own && st->in_fd >= 0 && st->in_fd != st->out_fd)
        close (st->in_fd);
      st->in_fd = -1;
      st->vc = -1;
      st->close_pending = true;
      k++;
    }
}

/* Send a flow-control frame about one of the guest's streams.  */
static void
sstream_flow (struct sup *s, struct sstream *st, uint8_t type)
{
  st->asked_xoff = type == FRAME_XOFF;
  outq_push (&s->out, type, st->id, NULL, 0, NULL);
}

/* The reader took more (or went away): ask the guest for more output,
   finish an ended stream, forget a drained one.  */
static void
sstream_writable (struct sup *s, struct sstream *st)
{
  stream_writer_flush (&st->w);
  if (st->asked_xoff && stream_writer_pending (&st->w) < STREAM_LOW_WATER && st->vc >= 0)
    sstream_flow (s, st, FRAME_XON);
  if (stream_writer_pending (&st->w) > 0)
    return;
  if (st->vc < 0)
    sstream_remove (s, st);
  else if (st->close_pending)
    sstream_end_output (st);
}

static int
vc_find (struct sup *s, const char *id)
{
  for (int i = 0; i < MAX_VC; i++)
    if (s->vc[i].used && strcmp (s->vc[i].id, id) == 0)
      return i;
  return -1;
}

static int
vc_add (struct sup *s, const char *id)
{
  for (int i = 0; i < MAX_VC; i++)
    if (!s->vc[i].used)
      {
        memset (&s->vc[i], 0, sizeof (s->vc[i]));
        s->vc[i].used = true;
        s->vc[i].waiter = -1;
        s->vc[i].status = SUP_CREATED;
        snprintf (s->vc[i].id, sizeof (s->vc[i].id), "%s", id);
        return i;
      }
  return -1;
}

static uint32_t
agent_send (struct sup *s, json_t *req, int client, uint32_t client_rid, enum agent_op op, int vc, const char *exec_id,
            bool create)
{
  uint32_t rid = ++s->next_rid;
  runhv_error_t err = NULL;
  if (outq_push_json (&s->out, FRAME_REQUEST, rid, req, &err) < 0)
    {
      log_warning ("%s", err->msg);
      runhv_error_release (&err);
      return 0;
    }
  for (int i = 0; i < MAX_PENDING; i++)
    if (!s->pending[i].used)
      {
        s->pending[i] = (struct pending){
          .used = true, .rid = rid, .client = client, .client_rid = client_rid, .op = op, .vc = vc, .create = create
        };
        snprintf (s->pending[i].exec_id, sizeof (s->pending[i].exec_id), "%s", exec_id ? exec_id : "");
        break;
      }
  return rid;
}

static void
client_close (struct sup *s, int i)
{
  if (!s->clients[i].used)
    return;
  close (s->clients[i].fd);
  s->clients[i].used = false;
  for (int k = 0; k < MAX_PENDING; k++)
    if (s->pending[k].used && s->pending[k].client == i)
      s->pending[k].client = -1;
  for (int k = 0; k < MAX_VC; k++)
    if (s->vc[k].used && s->vc[k].waiter == i)
      s->vc[k].waiter = -1;
  /* A process's streams write to the fds that client passed: they stay
     while the process may still be running.  */
}

static void
client_reply (struct sup *s, int i, uint32_t rid, json_t *resp)
{
  runhv_error_t err = NULL;
  if (i < 0 || !s->clients[i].used)
    return;
  if (msg_send (s->clients[i].fd, FRAME_RESPONSE, rid, resp, NULL, 0, &err) < 0)
    {
      runhv_error_release (&err);
      client_close (s, i);
    }
}

static void
client_event (struct sup *s, int i, const char *id, const char *exec_id, int status)
{
  runhv_error_t err = NULL;
  cleanup_json json_t *ev = json_pack ("{s:s,s:s,s:i}", "event", "exit", "id", id, "status", status);
  if (exec_id && exec_id[0])
    json_object_set_new (ev, "exec_id", json_string (exec_id));
  if (i < 0 || !s->clients[i].used)
    return;
  if (msg_send (s->clients[i].fd, FRAME_EVENT, 0, ev, NULL, 0, &err) < 0)
    runhv_error_release (&err);
}

static void
exec_exited (struct sup *s, int vc, const char *exec_id, int status)
{
  for (int i = 0; i < s->nclients; i++)
    if (s->clients[i].used && strcmp (s->clients[i].exec_id, exec_id) == 0)
      {
        client_event (s, i, s->vc[vc].id, exec_id, status);
        s->clients[i].exec_id[0] = '\0';
      }
  streams_drop (s, vc, exec_id);
}

static void
container_exited (struct sup *s, int vc, int status)
{
  s->vc[vc].status = SUP_STOPPED;
  s->vc[vc].exit_status = status;
  client_event (s, s->vc[vc].waiter, s->vc[vc].id, NULL, status);
  streams_drop (s, vc, "");
  events_record (s->cfg->runtime_root, "container-exited", s->vc[vc].id, "hypervisor", 0, &status);
}

static void sup_finish (struct sup *s, int status, const char *reason) __attribute__ ((noreturn));

/* The last output of the VM's processes reaches readers that still take
   it; one that takes nothing for idle_ms loses the rest, as a reader that
   never reads would have lost it anyway.  */
static void
streams_drain (struct sup *s, int idle_ms)
{
  for (;;)
    {
      cleanup_free struct pollfd *p = xmalloc0 ((s->nstreams + 1) * sizeof (*p));
      cleanup_free uint32_t *sid = xmalloc0 ((s->nstreams + 1) * sizeof (*sid));
      int n = 0, r;
      for (size_t i = 0; i < s->nstreams; i++)
        if (stream_writer_pending (&s->streams[i].w) > 0)
          {
            p[n] = (struct pollfd){ .fd = s->streams[i].w.wfd, .events = POLLOUT };
            sid[n++] = s->streams[i].id;
          }
      if (n == 0)
        return;
      r = poll (p, (nfds_t)n, idle_ms);
      if (r < 0 && errno != EINTR)
        return;
      if (r == 0)
        return;
      for (int i = 0; i < n; i++)
        if (p[i].revents)
          {
            struct sstream *st = sstream_find (s, sid[i]);
            if (st != NULL && !stream_writer_flush (&st->w))
              sstream_remove (s, st);
          }
    }
}

/* The VM's end: stop QEMU (politely, then not), record why, and leave with
   the sandbox container's exit status.  Everything else in the VM ends with
   it: their waiters hear 137.  */
static void
sup_finish (struct sup *s, int status, const char *reason)
{
  int qstatus = 0;
  for (int i = 0; i < s->nclients; i++)
    if (s->clients[i].used && s->clients[i].exec_id[0])
      {
        client_event (s, i, s->cfg->id, s->clients[i].exec_id, 137);
        s->clients[i].exec_id[0] = '\0';
      }
  for (int k = 1; k < MAX_VC; k++)
    if (s->vc[k].used && s->vc[k].status != SUP_STOPPED)
      container_exited (s, k, reason && strcmp (reason, "container-exited") == 0 ? 137 : UVM_EXIT_VM_DIED);
  s->exit_status = status;
  s->exit_reason = reason;
  s->vc[0].status = SUP_STOPPED;
  sup_exit_file (s);
  if (s->qemu > 0)
    {
      long deadline = ms_now () + 5000;
      cleanup_json json_t *req = json_pack ("{s:s}", "op", "shutdown");
      set_nonblock (s->agent, false);
      outq_push_json (&s->out, FRAME_REQUEST, ++s->next_rid, req, NULL);
      outq_flush (&s->out, s->agent);
      for (;;)
        {
          pid_t r = waitpid (s->qemu, &qstatus, WNOHANG);
          if (r == s->qemu)
            break;
          if (ms_now () > deadline)
            {
              kill (s->qemu, SIGKILL);
              waitpid (s->qemu, &qstatus, 0);
              break;
            }
          usleep (10000);
        }
      events_record (s->cfg->runtime_root, "vm-stopped", s->cfg->id, "hypervisor", s->qemu, NULL);
    }
  streams_drain (s, reason && strcmp (reason, "deleted") == 0 ? 1000 : 10000);
  for (int i = 0; i < s->nclients; i++)
    client_close (s, i);
  _exit (status);
}

static void
vm_died (struct sup *s, int wstatus)
{
  const char *reason;
  if (WIFSIGNALED (wstatus))
    reason = "vmm-killed";
  else if (WEXITSTATUS (wstatus) == 1)
    reason = "guest-panic"; /* -action panic=exit-failure */
  else if (WEXITSTATUS (wstatus) == 0)
    reason = "vm-poweroff";
  else
    reason = "vmm-failed";
  log_warning ("container `%s`: its utility VM stopped (%s); exit status %d", s->cfg->id, reason, UVM_EXIT_VM_DIED);
  events_record (s->cfg->runtime_root, "vm-stopped", s->cfg->id, "hypervisor", s->qemu, NULL);
  s->qemu = 0;
  {
    int st = UVM_EXIT_VM_DIED;
    events_record (s->cfg->runtime_root, "container-exited", s->cfg->id, "hypervisor", 0, &st);
  }
  sup_finish (s, UVM_EXIT_VM_DIED, reason);
}

static void
reap (struct sup *s)
{
  for (;;)
    {
      int st;
      pid_t p = waitpid (-1, &st, WNOHANG);
      if (p <= 0)
        return;
      if (p == s->qemu)
        vm_died (s, st);
    }
}

static void
handle_agent_event (struct sup *s, json_t *ev)
{
  runhv_error_t err = NULL;
  const char *exec_id, *id;
  int status, vc;
  if (proto_validate_event (ev, &err) < 0)
    {
      log_warning ("ignoring a bad event from the agent: %s", err->msg);
      runhv_error_release (&err);
      return;
    }
  if (strcmp (json_string_value (json_object_get (ev, "event")), "exit") != 0)
    return;
  id = json_string_value (json_object_get (ev, "id"));
  exec_id = json_string_value (json_object_get (ev, "exec_id"));
  status = (int)json_integer_value (json_object_get (ev, "status"));
  vc = vc_find (s, id);
  if (vc < 0)
    return;
  if (exec_id != NULL)
    {
      exec_exited (s, vc, exec_id, status);
      return;
    }
  if (vc > 0)
    {
      container_exited (s, vc, status);
      return;
    }
  /* The VM's own container (the pod's sandbox): the VM goes with it.  Its
     output was relayed before this event, which the agent sends last.  */
  events_record (s->cfg->runtime_root, "container-exited", s->cfg->id, "hypervisor", 0, &status);
  sup_finish (s, status, "container-exited");
}

static void
unshare_container (struct sup *s, const char *id)
{
  /* Drop the binds a joined container's rootfs and mounts came in by.  */
  cleanup_free char *dir = xasprintf ("%s/shared/%s", s->cfg->state_dir, id);
  runhv_error_t ignored = NULL;
  umount2 (dir, MNT_DETACH);
  {
    cleanup_free char *root = xasprintf ("%s/rootfs", dir), *mounts = xasprintf ("%s/mounts", dir);
    umount2 (root, MNT_DETACH);
    /* bind targets under mounts/ */
    {
      cleanup_dir DIR *d = opendir (mounts);
      struct dirent *de;
      while (d && (de = readdir (d)) != NULL)
        {
          cleanup_free char *t = NULL;
          if (de->d_name[0] == '.')
            continue;
          t = xasprintf ("%s/%s", mounts, de->d_name);
          umount2 (t, MNT_DETACH);
        }
    }
  }
  if (rm_rf (dir, &ignored) < 0)
    runhv_error_release (&ignored);
}

static void
handle_agent_frame (struct sup *s, struct frame *f)
{
  json_t *j = NULL;
  runhv_error_t err = NULL;
  switch (f->type)
    {
    case FRAME_DATA:
      {
        /* Buffered and written as the reader takes it; past the high
           mark the guest stops reading the process's output, so a reader
           that sleeps holds up only its own process.  */
        struct sstream *st = sstream_find (s, f->id);
        if (st == NULL || st->out_fd < 0)
          return;
        stream_writer_push (&st->w, f->payload, f->len);
        if (!st->asked_xoff && st->vc >= 0 && stream_writer_pending (&st->w) > STREAM_HIGH_WATER)
          sstream_flow (s, st, FRAME_XOFF);
        /* The push writes what the reader takes at once: a frame still in
           flight after an XOFF can drain the buffer here, and then no
           POLLOUT is ever awaited again, so the XON must be sent now or
           the guest waits for it for ever.  */
        else if (st->asked_xoff && st->vc >= 0 && stream_writer_pending (&st->w) < STREAM_LOW_WATER)
          sstream_flow (s, st, FRAME_XON);
        return;
      }
    case FRAME_CLOSE:
      {
        struct sstream *st = sstream_find (s, f->id);
        if (st == NULL)
          return;
        if (stream_writer_pending (&st->w) > 0)
          st->close_pending = true;
        else
          sstream_end_output (st);
        return;
      }
    case FRAME_XOFF:
    case FRAME_XON:
      {
        /* The process reads its stdin slower than we send it.  */
        struct sstream *st = sstream_find (s, f->id);
        if (st != NULL)
          st->paused = f->type == FRAME_XOFF;
        return;
      }
    case FRAME_RESPONSE:
    case FRAME_EVENT:
      if (proto_json (f, &j, &err) < 0)
        {
          log_warning ("ignoring a bad message from the agent: %s", err->msg);
          runhv_error_release (&err);
          return;
        }
      if (f->type == FRAME_EVENT)
        {
          handle_agent_event (s, j);
          json_decref (j);
          return;
        }
      for (int i = 0; i < MAX_PENDING; i++)
        if (s->pending[i].used && s->pending[i].rid == f->id)
          {
            struct pending p = s->pending[i];
            bool ok = json_is_true (json_object_get (j, "ok"));
            s->pending[i].used = false;
            if (p.vc >= 0 && s->vc[p.vc].used)
              {
                struct vcontainer *v = &s->vc[p.vc];
                if (ok && p.op == OP_START)
                  v->status = SUP_RUNNING;
                else if (ok && p.op == OP_PAUSE)
                  v->status = SUP_PAUSED;
                else if (ok && p.op == OP_RESUME)
                  v->status = SUP_RUNNING;
                else if (ok && p.op == OP_CREATE)
                  v->guest_pid = (pid_t)json_integer_value (json_object_get (j, "pid"));
                else if (!ok && p.create)
                  {
                    /* a refused create leaves nothing of it */
                    streams_drop (s, p.vc, "");
                    unshare_container (s, v->id);
                    v->used = false;
                  }
                else if (ok && p.op == OP_DELETE)
                  {
                    streams_drop (s, p.vc, "");
                    unshare_container (s, v->id);
                    v->used = false;
                  }
              }
            if (!ok && p.op == OP_EXEC && p.vc >= 0)
              {
                for (int c = 0; c < s->nclients; c++)
                  if (s->clients[c].used && strcmp (s->clients[c].exec_id, p.exec_id) == 0)
                    s->clients[c].exec_id[0] = '\0';
                streams_drop (s, p.vc, p.exec_id);
              }
            client_reply (s, p.client, p.client_rid, j);
            break;
          }
      json_decref (j);
      return;
    default:
      return;
    }
}

/* Streams for a process whose stdio fds a client passed.  */
static int
streams_room (struct sup *s, runhv_error_t *err)
{
  if (s->nstreams + 3 > MAX_SSTREAMS)
    return runhv_error (err,
                        "this VM already relays %d streams (at most %d: three per process); wait for some "
                        "processes to end",
                        (int)s->nstreams, MAX_SSTREAMS);
  return 0;
}

static json_t *
streams_from_fds (struct sup *s, bool tty, const int *fds, int vc, const char *exec_id)
{
  json_t *stdio = json_object ();
  if (tty)
    {
      uint32_t id = s->next_sid++;
      sstream_add (s, id, fds[0], fds[0], true, vc, exec_id);
      json_object_set_new (stdio, "terminal", json_integer (id));
    }
  else
    {
      uint32_t in = s->next_sid++, out = s->next_sid++, er = s->next_sid++;
      sstream_add (s, in, -1, fds[0], true, vc, exec_id);
      sstream_add (s, out, fds[1], -1, true, vc, exec_id);
      sstream_add (s, er, fds[2], -1, true, vc, exec_id);
      json_object_set_new (stdio, "stdin", json_integer (in));
      json_object_set_new (stdio, "stdout", json_integer (out));
      json_object_set_new (stdio, "stderr", json_integer (er));
    }
  return stdio;
}

/* One of a joined container's mounts into the shared tree, as the jailed
   QEMU must see it: idmapped into its user namespace (an overlay re-mounted
   on idmapped layers), so guest root owns what host root owns.  A source
   whose filesystem cannot be idmapped is bound as it is, and said so: the
   guest then reads it but cannot write root's files there.  */
static int
share_mount (struct sup *s, const char *id, const char *src, const char *dst, runhv_error_t *err)
{
  cleanup_free char *layers = xasprintf ("%s/layers-%s", s->cfg->state_dir, id);
  runhv_error_t why = NULL;
  if (s->vmm_userns < 0)
    runhv_error (&why, "the VMM's user namespace is unknown");
  else if (uvm_jail_share (s->vmm_userns, uvm_jail_id_base (s->cfg->id, s->cfg->jail_id_base), src, dst, layers, &why)
           == 0)
    return 0;
  log_warning ("container `%s`: `%s` goes into the VM without idmapping (%s); guest root cannot write root's "
               "files there",
               id, src, why->msg);
  runhv_error_release (&why);
  if (mount (src, dst, NULL, MS_BIND | MS_REC, NULL) < 0)
    return runhv_make_error (err, errno, "share `%s` with the VM", src);
  return 0;
}

/* Bind a joined container's rootfs and mount sources into the shared tree,
   in our mount namespace, where only QEMU sees them.  */
static int
share_container (struct sup *s, const char *id, json_t *req, runhv_error_t *err)
{
  const char *rootfs = json_string_value (json_object_get (req, "rootfs_host"));
  json_t *binds = json_object_get (req, "binds"), *b;
  cleanup_free char *base = xasprintf ("%s/shared/%s", s->cfg->state_dir, id);
  cleanup_free char *root = xasprintf ("%s/rootfs", base);
  size_t i;
  if (rootfs == NULL || rootfs[0] != '/')
    return runhv_error (err, "create: `rootfs_host` must be an absolute path");
  if (mkdir_p (root, 0755, err) < 0)
    return -1;
  if (share_mount (s, id, rootfs, root, err) < 0)
    return -1;
  json_array_foreach (binds, i, b)
  {
    const char *host = json_string_value (json_object_get (b, "host"));
    int64_t n = json_integer_value (json_object_get (b, "index"));
    bool file = json_is_true (json_object_get (b, "file"));
    cleanup_free char *dst = xasprintf ("%s/mounts/%lld", base, (long long)n);
    if (host == NULL || host[0] != '/' || n < 0 || n > 4096)
      return runhv_error (err, "create: malformed bind #%zu", i);
    if (file)
      {
        cleanup_free char *parent = xasprintf ("%s/mounts", base);
        int fd;
        if (mkdir_p (parent, 0755, err) < 0)
          return -1;
        fd = open (dst, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        if (fd >= 0)
          close (fd);
      }
    else if (mkdir_p (dst, 0755, err) < 0)
      return -1;
    if (share_mount (s, id, host, dst, err) < 0)
      return runhv_error_wrap (err, "mounts");
  }
  return 0;
}

static void
client_request (struct sup *s, int ci)
{
  struct frame f;
  cleanup_free uint8_t *payload = NULL;
  int fds[3];
  size_t nfds = 0;
  runhv_error_t err = NULL;
  cleanup_json json_t *req = NULL;
  enum agent_op op;
  const char *name, *id;
  int vc;

  if (msg_recv (s->clients[ci].fd, &f, &payload, fds, &nfds, &err) < 0)
    {
      runhv_error_release (&err);
      for (size_t i = 0; i < nfds; i++)
        close (fds[i]);
      client_close (s, ci);
      return;
    }
  if (f.type != FRAME_REQUEST || proto_json (&f, &req, &err) < 0)
    goto refuse;
  name = json_string_value (json_object_get (req, "op"));
  if (name == NULL)
    name = "";
  id = json_string_value (json_object_get (req, "id"));
  if (id == NULL)
    {
      id = s->cfg->id;
      json_object_set_new (req, "id", json_string (id));
    }
  vc = vc_find (s, id);
  if (strcmp (name, "state") == 0)
    {
      cleanup_json json_t *r = NULL;
      if (vc < 0)
        {
          runhv_make_error (&err, ENOENT, "no container `%s` in this VM", id);
          goto refuse;
        }
      r = json_pack ("{s:b,s:s,s:i,s:i,s:i}", "ok", 1, "status", status_name (s->vc[vc].status), "vm_pid", (int)s->qemu,
                     "guest_pid", (int)s->vc[vc].guest_pid, "exit_status", s->vc[vc].exit_status);
      client_reply (s, ci, f.id, r);
      goto drop_fds;
    }
  if (strcmp (name, "shutdown") == 0)
    {
      cleanup_json json_t *r = proto_ok ();
      client_reply (s, ci, f.id, r);
      sup_finish (s, s->vc[0].status == SUP_STOPPED ? s->exit_status : 137, "deleted");
    }
  if (strcmp (name, "create") == 0)
    {
      /* A container joining this VM (a pod's next container).  */
      bool tty = json_is_true (json_object_get (req, "terminal"));
      cleanup_free char *guest_root = NULL;
      json_t *areq;
      if (vc >= 0)
        {
          runhv_make_error (&err, EEXIST, "container `%s` already exists in this VM", id);
          goto refuse;
        }
      if ((tty && nfds != 1) || (!tty && nfds != 3))
        {
          runhv_error (&err, "create: pass %s", tty ? "one terminal fd" : "three stdio fds");
          goto refuse;
        }
      if (streams_room (s, &err) < 0)
        goto refuse;
      if (!json_is_object (json_object_get (req, "spec")))
        {
          runhv_error (&err, "create: `spec` must be an object");
          goto refuse;
        }
      {
        enum agent_op dummy;
        cleanup_json json_t *probe = json_pack ("{s:s,s:s,s:{},s:s}", "op", "start", "id", id, "spec", "rootfs", "/");
        if (proto_validate_request (probe, &dummy, &err) < 0)
          goto refuse;
      }
      vc = vc_add (s, id);
      if (vc < 0)
        {
          runhv_error (&err, "too many containers in this VM (at most %d)", MAX_VC);
          goto refuse;
        }
      if (share_container (s, id, req, &err) < 0)
        {
          unshare_container (s, id);
          s->vc[vc].used = false;
          goto refuse;
        }
      guest_root = xasprintf ("/run/shared/%s/rootfs", id);
      areq = json_pack ("{s:s,s:s,s:O,s:s,s:o}", "op", "create", "id", id, "spec", json_object_get (req, "spec"),
                        "rootfs", guest_root, "stdio", streams_from_fds (s, tty, fds, vc, ""));
      nfds = 0; /* the streams own them now */
      s->vc[vc].waiter = ci;
      agent_send (s, areq, ci, f.id, OP_CREATE, vc, NULL, true);
      json_decref (areq);
      return;
    }
  if (vc < 0)
    {
      runhv_make_error (&err, ENOENT, "no container `%s` in this VM", id);
      goto refuse;
    }
  if (strcmp (name, "delete") == 0 && vc == 0)
    {
      runhv_error (&err, "delete: `%s` is the VM's own container; use shutdown", id);
      goto refuse;
    }
  /* Everything else goes to the agent.  */
  if (proto_validate_request (req, &op, &err) < 0 || op == OP_CREATE || op == OP_HELLO || op == OP_SHUTDOWN)
    {
      if (err == NULL)
        runhv_error (&err, "op `%s` is not for clients", name);
      goto refuse;
    }
  if (op == OP_EXEC)
    {
      const char *exec_id = json_string_value (json_object_get (req, "exec_id"));
      bool tty = json_is_true (json_object_get (req, "terminal"));
      json_object_del (req, "terminal");
      if ((tty && nfds != 1) || (!tty && nfds != 3))
        {
          runhv_error (&err, "exec: pass %s", tty ? "one terminal fd" : "three stdio fds");
          goto refuse;
        }
      if (streams_room (s, &err) < 0)
        goto refuse;
      json_object_set_new (req, "stdio", streams_from_fds (s, tty, fds, vc, exec_id));
      snprintf (s->clients[ci].exec_id, sizeof (s->clients[ci].exec_id), "%s", exec_id);
      nfds = 0;
      agent_send (s, req, ci, f.id, op, vc, exec_id, false);
      return;
    }
  agent_send (s, req, ci, f.id, op, vc, NULL, false);
  goto drop_fds;
refuse:
  {
    cleanup_json json_t *r = proto_error (err);
    runhv_error_release (&err);
    client_reply (s, ci, f.id, r);
  }
drop_fds:
  for (size_t i = 0; i < nfds; i++)
    close (fds[i]);
}

/* A synchronous call during boot, before the main loop runs.  */
static int
agent_call (struct sup *s, json_t *req, long timeout_ms, json_t **resp, runhv_error_t *err)
{
  uint32_t rid = ++s->next_rid;
  long deadline = ms_now () + timeout_ms;
  if (outq_push_json (&s->out, FRAME_REQUEST, rid, req, err) < 0)
    return -1;
  for (;;)
    {
      /* create waiting for our report is the third: it hangs up if it is
         killed, and then this VM is nobody's (runtime_create).  */
      struct pollfd p[3] = { { .fd = s->agent, .events = POLLIN | (outq_empty (&s->out) ? 0 : POLLOUT) },
                             { .fd = s->sfd, .events = POLLIN },
                             { .fd = s->booting ? s->cfg->report_fd : -1, .events = 0 } };
      long left = deadline - ms_now ();
      if (left <= 0)
        return runhv_error (err, "the utility VM's agent did not answer within %ld s (see the guest console log `%s`)",
                            timeout_ms / 1000, s->cfg->console_log);
      if (poll (p, 3, (int)left) < 0 && errno != EINTR)
        return runhv_make_error (err, errno, "poll");
      if (p[2].revents & (POLLHUP | POLLERR))
        {
          s->caller_gone = true;
          return runhv_error (err, "create went away while the VM booted");
        }
      if (p[1].revents & POLLIN)
        {
          struct signalfd_siginfo si;
          while (read (s->sfd, &si, sizeof (si)) == sizeof (si))
            ;
          {
            int st;
            if (s->qemu > 0 && waitpid (s->qemu, &st, WNOHANG) == s->qemu)
              {
                s->qemu = 0;
                return runhv_error (
                  err, "the VMM exited during boot (%s %d; see `%s` and `%s`)", WIFSIGNALED (st) ? "signal" : "status",
                  WIFSIGNALED (st) ? WTERMSIG (st) : WEXITSTATUS (st), s->cfg->vmm_log, s->cfg->console_log);
              }
          }
        }
      if (p[0].revents & POLLOUT)
        outq_flush (&s->out, s->agent);
      if (p[0].revents & (POLLIN | POLLHUP))
        {
          uint8_t buf[65536];
          ssize_t n = read (s->agent, buf, sizeof (buf));
          struct frame f;
          int got;
          if (n == 0)
            return runhv_error (err, "the VMM closed the agent channel during boot (see `%s`)", s->cfg->console_log);
          if (n > 0)
            frame_reader_feed (&s->in, buf, (size_t)n);
          while ((got = frame_reader_next (&s->in, &f, err)) == 1)
            {
              if (f.type == FRAME_RESPONSE && f.id == rid)
                {
                  if (proto_json (&f, resp, err) < 0)
                    return -1;
                  return proto_check_response (*resp, err);
                }
              handle_agent_frame (s, &f);
            }
          if (got < 0)
            return -1;
        }
    }
}

static int
setup_shared (const struct supervisor_config *cfg, runhv_error_t *err)
{
  cleanup_free char *shared = xasprintf ("%s/shared", cfg->state_dir);
  cleanup_free char *cdir = xasprintf ("%s/%s", shared, cfg->id);
  cleanup_free char *root = xasprintf ("%s/rootfs", cdir);
  /* Our own mount namespace: the shared tree exists for QEMU only, and
     disappears with us whatever way we end.  */
  if (unshare (CLONE_NEWNS) < 0)
    return runhv_make_error (err, errno, "unshare the supervisor's mount namespace");
  if (mount (NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) < 0)
    return runhv_make_error (err, errno, "make / a slave");
  /* Never mkdir -p here: a `delete --force` that ran after create died
     removed the state directory, which must stay gone.  */
  {
    const char *dirs[] = { shared, cdir, root };
    for (int i = 0; i < 3; i++)
      if (mkdir (dirs[i], 0755) < 0 && errno != EEXIST)
        return runhv_make_error (err, errno, "create `%s`", dirs[i]);
  }
  if (mount (cfg->rootfs, root, NULL, MS_BIND | MS_REC, NULL) < 0)
    return runhv_make_error (err, errno, "share the rootfs `%s` with the VM", cfg->rootfs);
  for (size_t i = 0; i < cfg->n_binds; i++)
    {
      const struct uvm_bind *b = &cfg->binds[i];
      if (b->file)
        {
          cleanup_free char *parent = xstrdup (b->shared);
          int fd;
          *strrchr (parent, '/') = '\0';
          if (mkdir_p (parent, 0755, err) < 0)
            return -1;
          fd = open (b->shared, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
          if (fd >= 0)
            close (fd);
        }
      else if (mkdir_p (b->shared, 0755, err) < 0)
        return -1;
      if (mount (b->host, b->shared, NULL, MS_BIND | MS_REC, NULL) < 0)
        return runhv_make_error (err, errno, "mounts: share `%s` with the VM", b->host);
    }
  return 0;
}

static int
setup_terminal (struct sup *s, runhv_error_t *err)
{
  const struct supervisor_config *cfg = s->cfg;
  s->tty = -1;
  if (!cfg->terminal)
    return 0;
  s->tty = terminal_open_relay (cfg->console_receiver, cfg->console_socket, err);
  return s->tty < 0 ? -1 : 0;
}

static int
listen_clients (struct sup *s, runhv_error_t *err)
{
  struct sockaddr_un addr;
  cleanup_close int dfd = -1;
  if (socket_at (s->cfg->state_dir, &dfd, &addr, err) < 0)
    return -1;
  s->listen_fd = socket (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (s->listen_fd < 0)
    return runhv_make_error (err, errno, "socket");
  unlinkat (dfd, "vm.sock", 0);
  if (bind (s->listen_fd, (struct sockaddr *)&addr, sizeof (addr)) < 0 || listen (s->listen_fd, 16) < 0)
    return runhv_make_error (err, errno, "listen on `%s/vm.sock`", s->cfg->state_dir);
  return 0;
}

/* podman top (psgo) lists the processes of the /proc it finds in the
   mount namespace of the container's pid, the supervisor's: the host's
   /proc, every process on the host.  Over it goes the procfs of QEMU's
   pid namespace, so that a VM container's processes, as the host sees
   them, are its VM (and `ps` arguments run ps in the guest).  A procfs
   shows the pid namespace of the task that mounts it: a child enters
   QEMU's, and its child, a member of it, mounts in our mount namespace
   (a slave of the host's: nothing propagates back).  We read ourselves
   through proc_self_dir from then on.  */
static int
show_vm_as_proc (struct sup *s, runhv_error_t *err)
{
  cleanup_free char *path = xasprintf ("/proc/%d/ns/pid", (int)s->qemu);
  cleanup_close int pidns = open (path, O_RDONLY | O_CLOEXEC);
  int status;
  pid_t child;
  if (pidns < 0)
    return runhv_make_error (err, errno, "open the VMM's pid namespace");
  if (proc_self_dir () < 0)
    return runhv_make_error (err, errno, "open /proc/self");
  child = fork ();
  if (child < 0)
    return runhv_make_error (err, errno, "fork");
  if (child == 0)
    {
      pid_t member;
      if (setns (pidns, CLONE_NEWPID) < 0)
        _exit (1);
      member = fork ();
      if (member == 0)
        _exit (mount ("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0 ? 2 : 0);
      if (member < 0 || waitpid (member, &status, 0) < 0 || !WIFEXITED (status))
        _exit (3);
      _exit (WEXITSTATUS (status));
    }
  if (waitpid (child, &status, 0) < 0 || !WIFEXITED (status) || WEXITSTATUS (status) != 0)
    return runhv_error (err, "mount the VM's procfs over the supervisor's /proc (step %d failed)",
                        WIFEXITED (status) ? WEXITSTATUS (status) : -1);
  return 0;
}

static void
boot_and_create (struct sup *s)
{
  const struct supervisor_config *cfg = s->cfg;
  runhv_error_t err = NULL;
  int sv[2];
  cleanup_free char *shared = xasprintf ("%s/shared", cfg->state_dir);
  cleanup_json json_t *resp = NULL;
  struct uvm_launch l;

  s->booting = true;
  if (setup_shared (cfg, &err) < 0 || listen_clients (s, &err) < 0 || setup_terminal (s, &err) < 0)
    goto fail;
  {
    /* A create killed before QEMU exists: start nothing.  */
    struct pollfd p = { .fd = cfg->report_fd, .events = 0 };
    if (poll (&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR)))
      {
        s->caller_gone = true;
        runhv_error (&err, "create went away before the VM started");
        goto fail;
      }
  }
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    {
      runhv_make_error (&err, errno, "socketpair");
      goto fail;
    }
  s->agent = sv[0];
  l = (struct uvm_launch){
    .id = cfg->id,
    .art = cfg->art,
    .accel = cfg->accel,
    .memory_mb = cfg->sizing.memory_mb,
    .cpus = cfg->sizing.cpus,
    .shared_dir = shared,
    .shared_fs = cfg->shared_fs,
    .qos_bps = cfg->sizing.qos_bps,
    .qos_iops = cfg->sizing.qos_iops,
    .agent_fd = sv[1],
    .console_log = cfg->console_log,
    .vmm_log = cfg->vmm_log,
    .tsc_khz = cfg->tsc_khz,
    .tsc_reliable = cfg->tsc_reliable,
    .tap_fd = cfg->tap_fd,
    .mac = cfg->mac,
    .net_cmdline = cfg->net_cmdline,
    .debug = cfg->debug,
    .cgroup_parent = cfg->cgroup_parent,
    .jail_id_base = cfg->jail_id_base,
  };
  if (uvm_vmm_spawn (&l, &s->qemu, &err) < 0)
    goto fail;
  {
    /* Taken now: once confined we could not open another process's
       namespace.  */
    cleanup_free char *ns = xasprintf ("/proc/%d/ns/user", (int)s->qemu);
    s->vmm_userns = open (ns, O_RDONLY | O_CLOEXEC);
  }
  if (show_vm_as_proc (s, &err) < 0)
    goto fail;
  close (sv[1]);
  /* QEMU holds the tap now: it goes when QEMU does.  */
  if (cfg->tap_fd >= 0)
    close (cfg->tap_fd);
  set_nonblock (s->agent, true);
  {
    cleanup_json json_t *hello = json_pack ("{s:s,s:i}", "op", "hello", "version", AGENT_PROTO_VERSION);
    if (agent_call (s, hello, cfg->boot_timeout_ms, &resp, &err) < 0)
      goto fail;
    events_record (cfg->runtime_root, "vm-started", cfg->id, "hypervisor", s->qemu, NULL);
    s->vm_started = true;
    json_decref (resp);
    resp = NULL;
  }
  {
    cleanup_free char *guest_root = xasprintf ("/run/shared/%s/rootfs", cfg->id);
    cleanup_json json_t *create = NULL;
    json_t *stdio;
    if (cfg->terminal)
      stdio = json_pack ("{s:i}", "terminal", STREAM_STDIN);
    else
      stdio = json_pack ("{s:i,s:i,s:i}", "stdin", STREAM_STDIN, "stdout", STREAM_STDOUT, "stderr", STREAM_STDERR);
    create = json_pack ("{s:s,s:s,s:O,s:s,s:o}", "op", "create", "id", cfg->id, "spec", cfg->guest_spec, "rootfs",
                        guest_root, "stdio", stdio);
    if (agent_call (s, create, 60000, &resp, &err) < 0)
      goto fail;
    s->vc[0].guest_pid = (pid_t)json_integer_value (json_object_get (resp, "pid"));
  }
  if (cfg->terminal)
    sstream_add (s, STREAM_STDIN, s->tty, s->tty, false, 0, NULL);
  else
    {
      sstream_add (s, STREAM_STDIN, -1, 0, false, 0, NULL);
      sstream_add (s, STREAM_STDOUT, 1, -1, false, 0, NULL);
      sstream_add (s, STREAM_STDERR, 2, -1, false, 0, NULL);
    }
  s->next_sid = 16;
  if (supervisor_confine (&err) < 0)
    goto fail;
  {
    cleanup_free char *cgroup = uvm_jail_cgroup_path (&l);
    cleanup_json json_t *info = json_pack ("{s:i,s:s,s:I,s:I,s:s,s:s,s:s}", "guest_pid", (int)s->vc[0].guest_pid,
                                           "accel", cfg->accel, "memory_mb", (json_int_t)cfg->sizing.memory_mb, "cpus",
                                           (json_int_t)cfg->sizing.cpus, "memory_source", cfg->sizing.memory_source,
                                           "cpus_source", cfg->sizing.cpus_source, "cgroup", cgroup);
    cleanup_free char *text = json_dumps (info, JSON_COMPACT);
    sync_send (cfg->report_fd, SYNC_READY, s->qemu, text, -1);
    close (cfg->report_fd);
    s->booting = false;
  }
  return;
fail:
  sync_send_error (cfg->report_fd, err);
  if (s->qemu > 0)
    {
      kill (s->qemu, SIGKILL);
      waitpid (s->qemu, NULL, 0);
    }
  if (s->vm_started)
    events_record (cfg->runtime_root, "vm-stopped", cfg->id, "hypervisor", s->qemu, NULL);
  if (s->caller_gone)
    {
      /* create's record of this container stays for `delete --force`
         (its state directory is gone if that already ran): say why it
         stopped.  */
      log_warning ("container `%s`: %s; VM stopped", cfg->id, err->msg);
      s->exit_status = UVM_EXIT_VM_DIED;
      s->exit_reason = "create-killed";
      sup_exit_file (s);
    }
  _exit (1);
}

/* Whoever holds a terminal's master resizes it; the guest's pty must
   follow.  A pty reports no resize to the slave's holder, so look.  */
static void
check_winsize (struct sup *s)
{
  for (size_t i = 0; i < s->nstreams; i++)
    {
      struct sstream *st = &s->streams[i];
      struct winsize ws;
      if (st->in_fd < 0 || st->in_fd != st->out_fd || !isatty (st->in_fd) || ioctl (st->in_fd, TIOCGWINSZ, &ws) < 0)
        continue;
      if (ws.ws_row == st->ws.ws_row && ws.ws_col == st->ws.ws_col)
        continue;
      st->ws = ws;
      {
        cleanup_json json_t *req = json_pack ("{s:s,s:i,s:i,s:i}", "op", "resize", "stream", (int)st->id, "rows",
                                              ws.ws_row, "cols", ws.ws_col);
        agent_send (s, req, -1, 0, OP_RESIZE, -1, NULL, false);
      }
    }
}

/* Frames from the agent.  Its channel closing means QEMU is going: the
   VM is reaped and the supervisor finishes.  */
static void
serve_agent_input (struct sup *s)
{
  const struct supervisor_config *cfg = s->cfg;
  uint8_t buf[65536];
  ssize_t r = read (s->agent, buf, sizeof (buf));
  struct frame f;
  runhv_error_t err = NULL;
  int got;
  if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
    {
      /* QEMU is going: its exit is reaped below.  */
      int st = 0;
      if (s->qemu > 0 && waitpid (s->qemu, &st, 0) == s->qemu)
        vm_died (s, st);
      sup_finish (s, UVM_EXIT_VM_DIED, "agent-lost");
    }
  if (r > 0)
    frame_reader_feed (&s->in, buf, (size_t)r);
  while ((got = frame_reader_next (&s->in, &f, &err)) == 1)
    handle_agent_frame (s, &f);
  if (got < 0)
    {
      log_error ("container `%s`: %s; stopping its VM", cfg->id, err->msg);
      runhv_error_release (&err);
      sup_finish (s, UVM_EXIT_VM_DIED, "agent-protocol-error");
    }
}

/* Signals: SIGCHLD reaps, the rest go to the container's init in the VM
   while it runs.  */
static void
forward_signals (struct sup *s)
{
  const struct supervisor_config *cfg = s->cfg;
  struct signalfd_siginfo si;
  while (read (s->sfd, &si, sizeof (si)) == sizeof (si))
    {
      if (si.ssi_signo == SIGCHLD)
        reap (s);
      else if (s->vc[0].status != SUP_STOPPED)
        {
          cleanup_json json_t *req
            = json_pack ("{s:s,s:s,s:i}", "op", "kill", "id", cfg->id, "signal", (int)si.ssi_signo);
          agent_send (s, req, -1, 0, OP_KILL, 0, NULL, false);
        }
    }
}

/* A runhv command or an exec'd process connects; past MAX_CLIENTS it is
   told why it is refused.  */
static void
accept_client (struct sup *s)
{
  const struct supervisor_config *cfg = s->cfg;
  int c = accept4 (s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
  int slot = -1;
  if (c < 0)
    return;
  for (int k = 0; k < s->nclients; k++)
    if (!s->clients[k].used)
      {
        slot = k;
        break;
      }
  if (slot < 0 && s->nclients < MAX_CLIENTS)
    {
      s->clients = xrealloc (s->clients, (size_t)(s->nclients + 1) * sizeof (*s->clients));
      slot = s->nclients++;
    }
  if (slot < 0)
    {
      /* Say why rather than hang up: a silent close read as
         "the VM is gone" once.  */
      runhv_error_t full = NULL;
      cleanup_json json_t *r = NULL;
      runhv_error (&full,
                   "the VM supervisor of `%s` serves at most %d connections (runhv commands and "
                   "exec'd processes); wait for some to end",
                   cfg->id, MAX_CLIENTS);
      r = proto_error (full);
      runhv_error_release (&full);
      msg_send (c, FRAME_RESPONSE, 1, r, NULL, 0, NULL);
      close (c);
      return;
    }
  s->clients[slot] = (struct client){ .used = true, .fd = c };
}

/* Input for a stream (a process's stdin on the host side) goes to the
   agent; its end becomes a CLOSE frame.  */
static void
read_stream_input (struct sup *s, uint32_t id)
{
  struct sstream *st = sstream_find (s, id);
  uint8_t buf[65536];
  ssize_t r;
  if (st == NULL || st->in_fd < 0 || st->paused)
    return;
  r = read (st->in_fd, buf, sizeof (buf));
  if (r > 0)
    outq_push (&s->out, FRAME_DATA, st->id, buf, (size_t)r, NULL);
  else if (r == 0 || (errno != EAGAIN && errno != EINTR))
    {
      outq_push (&s->out, FRAME_CLOSE, st->id, NULL, 0, NULL);
      if (st->in_fd == st->out_fd)
        st->in_fd = -1;
      else
        {
          if (st->own)
            close (st->in_fd);
          st->in_fd = -1;
        }
    }
}

void
supervisor_main (const struct supervisor_config *cfg)
{
  struct sup *s = xmalloc0 (sizeof (*s));
  sigset_t mask;
  static const int forwarded[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT, SIGTSTP };

  {
    /* Only what the config hands over: a shim's sockets must close when
       the shim dies, not live on in its VM.  */
    const int keep[] = { cfg->report_fd, cfg->tap_fd, cfg->console_receiver, log_get_fd () };
    close_fds_except (keep, sizeof (keep) / sizeof (keep[0]));
  }
  s->cfg = cfg;
  s->qemu = -1;
  s->listen_fd = -1;
  s->tty = -1;
  s->vmm_userns = -1;
  vc_add (s, cfg->id); /* vc 0: the VM's own container */
  frame_reader_init (&s->in);
  outq_init (&s->out);
  log_set_ident ("runhv-vm-supervisor");
  {
    /* One descriptor per client and stream: take what the host allows.  */
    struct rlimit rl;
    if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max)
      {
        rl.rlim_cur = rl.rlim_max;
        setrlimit (RLIMIT_NOFILE, &rl);
      }
  }
  prctl (PR_SET_NAME, "runhv-vmsup", 0, 0, 0);
  /* Signals from the terminal are the caller's to forward, not ours.  */
  setsid ();
  sigemptyset (&mask);
  sigaddset (&mask, SIGCHLD);
  for (size_t i = 0; i < sizeof (forwarded) / sizeof (forwarded[0]); i++)
    sigaddset (&mask, forwarded[i]);
  sigprocmask (SIG_BLOCK, &mask, NULL);
  s->sfd = signalfd (-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  signal (SIGPIPE, SIG_IGN);

  boot_and_create (s);

  for (;;)
    {
      size_t cap = 4 + (size_t)s->nclients + 2 * s->nstreams;
      cleanup_free struct pollfd *p = xmalloc0 (cap * sizeof (*p));
      cleanup_free int *kind = xmalloc0 (cap * sizeof (*kind));
      /* Streams by id: handling one event may drop streams and move the
         others in s->streams.  */
      cleanup_free uint32_t *sid = xmalloc0 (cap * sizeof (*sid));
      int n = 0;
      p[n] = (struct pollfd){ .fd = s->agent, .events = POLLIN | (outq_empty (&s->out) ? 0 : POLLOUT) };
      kind[n++] = -1;
      p[n] = (struct pollfd){ .fd = s->sfd, .events = POLLIN };
      kind[n++] = -2;
      p[n] = (struct pollfd){ .fd = s->listen_fd, .events = POLLIN };
      kind[n++] = -3;
      for (int i = 0; i < s->nclients; i++)
        if (s->clients[i].used)
          {
            p[n] = (struct pollfd){ .fd = s->clients[i].fd, .events = POLLIN };
            kind[n++] = KIND_CLIENT + i;
          }
      for (size_t i = 0; i < s->nstreams; i++)
        {
          struct sstream *st = &s->streams[i];
          if (st->in_fd >= 0 && !st->paused && outq_pending (&s->out) < (4u << 20))
            {
              p[n] = (struct pollfd){ .fd = st->in_fd, .events = POLLIN };
              sid[n] = st->id;
              kind[n++] = KIND_STREAM;
            }
          if (stream_writer_pending (&st->w) > 0)
            {
              p[n] = (struct pollfd){ .fd = st->w.wfd, .events = POLLOUT };
              sid[n] = st->id;
              kind[n++] = KIND_STREAM_OUT;
            }
        }
      if (poll (p, (nfds_t)n, 250) < 0 && errno != EINTR)
        break;
      check_winsize (s);
      for (int i = 0; i < n; i++)
        {
          if (p[i].revents == 0)
            continue;
          if (kind[i] == -1)
            {
              if (p[i].revents & POLLOUT)
                outq_flush (&s->out, s->agent);
              if (p[i].revents & (POLLIN | POLLHUP | POLLERR))
                serve_agent_input (s);
            }
          else if (kind[i] == -2)
            forward_signals (s);
          else if (kind[i] == -3)
            accept_client (s);
          else if (kind[i] == KIND_STREAM_OUT)
            {
              struct sstream *st = sstream_find (s, sid[i]);
              if (st != NULL)
                sstream_writable (s, st);
            }
          else if (kind[i] == KIND_STREAM)
            read_stream_input (s, sid[i]);
          else if (kind[i] >= KIND_CLIENT)
            client_request (s, kind[i] - KIND_CLIENT);
        }
      if (!outq_empty (&s->out))
        outq_flush (&s->out, s->agent);
    }
  sup_finish (s, UVM_EXIT_VM_DIED, "supervisor-error");
}

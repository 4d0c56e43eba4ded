/* The VM session (session.h): one object holds everything of a VM's host
   side and its event loop; the supervisor program and the shim host it.  */
#include "uvm/session.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <dirent.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/random.h>
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
#include "oci/state.h"
#include "uvm/session-channel.h"
#include "uvm/stream-writer.h"
#include "uvm/template.h"
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
/* What a pollfd slot of the loop stands for.  */
#define KIND_AGENT (-1)
#define KIND_LISTEN (-3)
#define KIND_CLIENT 0x100000
#define KIND_STREAM 0x200000           /* its input is readable */
#define KIND_STREAM_OUT 0x400000       /* its reader takes more output */
#define MAX_PENDING (MAX_CLIENTS + 64) /* one request per client, and our own */
#define STREAM_STDIN 1
#define STREAM_STDOUT 2
#define STREAM_STDERR 3
/* The host process itself as a client (uvm_session_call).  */
#define LOCAL_CLIENT (-2)

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

/* A hosted session's process exit, as the host waits for it.  */
struct exit_watch
{
  char *id;
  char *exec_id; /* "" for the container's own process */
  int efd;
  bool done;
  int status;
};

struct uvm_session
{
  struct uvm_session *next; /* the hosted sessions of this process */
  bool hosted;
  char *runtime_root, *id, *state_dir, *console_log, *vmm_log;
  char *boot_why; /* why the VM booted rather than start from a template, or how its template came */
  int64_t jail_id_base;
  int report_fd; /* the supervisor's caller, while it boots: -1 when hosted */
  int agent;
  struct frame_reader in;
  struct outq out;
  pid_t qemu;
  bool qemu_reaped; /* by the host (uvm_session_child_exited) */
  int qemu_status;
  int listen_fd;
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
  bool ended;
  int tty;          /* host pty slave of the container's terminal, or -1 */
  bool booting;     /* create waits for our report: it may die meanwhile */
  bool caller_gone; /* and did: nobody will use this VM */
  bool vm_started;  /* the vm-started event is on record */
  int vmm_userns;   /* QEMU's user namespace, for a pod's later mounts */
  int host_mntns;   /* hosted: the host's mount namespace, -1 otherwise */
  int vm_mntns;     /* hosted: the one holding the shared tree */
  int alive_fd;     /* the jail's reaper removes the VM's cgroups once closed */
  json_t *info;
  /* what the last uvm_session_pollfds filled, for dispatch */
  int *pkind;
  uint32_t *psid;
  size_t pcap, pn;
  size_t host_n; /* how many of a host's slots are ours (uvm_sessions_pollfds) */
  /* uvm_session_call: the request in flight and its answer */
  uint32_t local_rid;
  json_t *local_resp;
  struct exit_watch *watches;
  size_t nwatches;
};

static struct uvm_session *hosted_sessions;

static const char *
status_name (enum sup_status s)
{
  static const char *const n[] = { "created", "running", "paused", "stopped" };
  return n[s];
}

static void
write_exit_record (const char *dir, int status, const char *reason)
{
  cleanup_free char *path = xasprintf ("%s/exit.json", dir);
  cleanup_json json_t *j = json_pack ("{s:i,s:s}", "status", status, "reason", reason);
  cleanup_free char *text = json_dumps (j, JSON_COMPACT);
  runhv_error_t err = NULL;
  if (write_file_atomic (path, text, strlen (text), 0600, &err) < 0)
    {
      log_warning ("%s", err->msg);
      runhv_error_release (&err);
    }
}

/* ---- the mount namespace of the shared tree ---------------------------- */

/* A hosted session's shared tree lives in a mount namespace of its own,
   which the host enters only to change that tree: the host's mounts stay
   the host's, and the tree goes with the session.  No-ops for the
   supervisor, whose own namespace it is.  */
static int
enter_vm_ns (struct uvm_session *s, runhv_error_t *err)
{
  if (s->host_mntns < 0 || s->vm_mntns < 0)
    return 0;
  if (setns (s->vm_mntns, CLONE_NEWNS) < 0)
    return runhv_make_error (err, errno, "enter the mount namespace of the VM of `%s`", s->id);
  return 0;
}

static void
leave_vm_ns (struct uvm_session *s)
{
  if (s->host_mntns < 0)
    return;
  if (setns (s->host_mntns, CLONE_NEWNS) < 0)
    {
      /* Every later mount of the host would land in the VM's namespace. */
      log_error ("return to the host's mount namespace: %s", strerror (errno));
      abort ();
    }
}

/* ---- exits the host waits for ------------------------------------------ */

static struct exit_watch *
watch_find (struct uvm_session *s, const char *id, const char *exec_id)
{
  for (size_t i = 0; i < s->nwatches; i++)
    if (strcmp (s->watches[i].id, id) == 0 && strcmp (s->watches[i].exec_id, exec_id ? exec_id : "") == 0)
      return &s->watches[i];
  return NULL;
}

static void
watch_add (struct uvm_session *s, const char *id, const char *exec_id)
{
  struct exit_watch *w;
  if (!s->hosted || watch_find (s, id, exec_id) != NULL)
    return;
  s->watches = xrealloc (s->watches, (s->nwatches + 1) * sizeof (*s->watches));
  w = &s->watches[s->nwatches++];
  *w = (struct exit_watch){ .id = xstrdup (id), .exec_id = xstrdup (exec_id ? exec_id : "") };
  w->efd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
}

static void
watch_fire (struct uvm_session *s, const char *id, const char *exec_id, int status)
{
  struct exit_watch *w = watch_find (s, id, exec_id);
  uint64_t one = 1;
  if (w == NULL || w->done)
    return;
  w->done = true;
  w->status = status;
  if (w->efd >= 0 && write (w->efd, &one, sizeof (one)) < 0)
    log_warning ("eventfd: %s", strerror (errno));
}

static void
watch_remove (struct uvm_session *s, struct exit_watch *w)
{
  free (w->id);
  free (w->exec_id);
  if (w->efd >= 0)
    close (w->efd);
  *w = s->watches[--s->nwatches];
}

/* ---- streams ---------------------------------------------------------- */

static struct sstream *
sstream_find (struct uvm_session *s, uint32_t id)
{
  for (size_t i = 0; i < s->nstreams; i++)
    if (s->streams[i].id == id)
      return &s->streams[i];
  return NULL;
}

static void
sstream_remove (struct uvm_session *s, struct sstream *st)
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
sstream_add (struct uvm_session *s, uint32_t id, int out_fd, int in_fd, bool own, int vc, const char *exec_id)
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
streams_drop (struct uvm_session *s, int vc, const char *exec_id)
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
sstream_flow (struct uvm_session *s, struct sstream *st, uint8_t type)
{
  st->asked_xoff = type == FRAME_XOFF;
  outq_push (&s->out, type, st->id, NULL, 0, NULL);
}

/* The reader took more (or went away): ask the guest for more output,
   finish an ended stream, forget a drained one.  */
static void
sstream_writable (struct uvm_session *s, struct sstream *st)
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

/* ---- containers and clients ------------------------------------------- */

static int
vc_find (struct uvm_session *s, const char *id)
{
  for (int i = 0; i < MAX_VC; i++)
    if (s->vc[i].used && strcmp (s->vc[i].id, id) == 0)
      return i;
  return -1;
}

static int
vc_add (struct uvm_session *s, const char *id)
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
agent_send (struct uvm_session *s, json_t *req, int client, uint32_t client_rid, enum agent_op op, int vc,
            const char *exec_id, bool create)
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
client_close (struct uvm_session *s, int i)
{
  if (i < 0 || !s->clients[i].used)
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
client_reply (struct uvm_session *s, int i, uint32_t rid, json_t *resp)
{
  runhv_error_t err = NULL;
  if (i == LOCAL_CLIENT)
    {
      if (rid == s->local_rid && s->local_resp == NULL)
        s->local_resp = json_incref (resp);
      return;
    }
  if (i < 0 || !s->clients[i].used)
    return;
  if (session_msg_send (s->clients[i].fd, FRAME_RESPONSE, rid, resp, NULL, 0, &err) < 0)
    {
      runhv_error_release (&err);
      client_close (s, i);
    }
}

static void
client_event (struct uvm_session *s, int i, const char *id, const char *exec_id, int status)
{
  runhv_error_t err = NULL;
  cleanup_json json_t *ev = NULL;
  if (i < 0 || !s->clients[i].used)
    return;
  ev = json_pack ("{s:s,s:s,s:i}", "event", "exit", "id", id, "status", status);
  if (exec_id && exec_id[0])
    json_object_set_new (ev, "exec_id", json_string (exec_id));
  if (session_msg_send (s->clients[i].fd, FRAME_EVENT, 0, ev, NULL, 0, &err) < 0)
    runhv_error_release (&err);
}

static void
exec_exited (struct uvm_session *s, int vc, const char *exec_id, int status)
{
  for (int i = 0; i < s->nclients; i++)
    if (s->clients[i].used && strcmp (s->clients[i].exec_id, exec_id) == 0)
      {
        client_event (s, i, s->vc[vc].id, exec_id, status);
        s->clients[i].exec_id[0] = '\0';
      }
  watch_fire (s, s->vc[vc].id, exec_id, status);
  streams_drop (s, vc, exec_id);
}

static void
container_exited (struct uvm_session *s, int vc, int status)
{
  s->vc[vc].status = SUP_STOPPED;
  s->vc[vc].exit_status = status;
  client_event (s, s->vc[vc].waiter, s->vc[vc].id, NULL, status);
  streams_drop (s, vc, "");
  events_record (s->runtime_root, "container-exited", s->vc[vc].id, "hypervisor", 0, &status);
  if (vc > 0)
    {
      /* What `state` reads once nobody answers for the container: its
         state directory, when it still has one.  */
      cleanup_free char *dir = state_dir_path (s->runtime_root, s->vc[vc].id);
      struct stat sb;
      if (stat (dir, &sb) == 0)
        write_exit_record (dir, status, "container-exited");
    }
  watch_fire (s, s->vc[vc].id, NULL, status);
}

/* The last output of the VM's processes reaches readers that still take
   it; one that takes nothing for idle_ms loses the rest, as a reader that
   never reads would have lost it anyway.  */
static void
streams_drain (struct uvm_session *s, int idle_ms)
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

/* QEMU's exit status: waited for here, or already reaped by the host.  */
static bool
qemu_wait (struct uvm_session *s, bool block, int *wstatus)
{
  if (s->qemu <= 0)
    return false;
  if (!s->qemu_reaped)
    {
      pid_t r = waitpid (s->qemu, &s->qemu_status, block ? 0 : WNOHANG);
      if (r != s->qemu)
        return false;
      s->qemu_reaped = true;
    }
  *wstatus = s->qemu_status;
  return true;
}

/* One read of the agent's channel into its frame reader.  False when the
   channel is closed or failed: QEMU, which holds the other end, is going.  */
static bool
agent_read (struct uvm_session *s)
{
  uint8_t buf[65536];
  ssize_t n = read (s->agent, buf, sizeof (buf));
  if (n > 0)
    frame_reader_feed (&s->in, buf, (size_t)n);
  return n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR));
}

/* The agent writes the guest's data back through the shared filesystems
   and says `synced`: QEMU is then killed at once.  The guest has no disk
   of its own, and its poweroff would be 40 ms of emulated shutdown under
   TCG for nothing.  A VM whose agent does not say so (lost, stuck, or
   older) gets 5 s to power off, then is killed.  Frames other than the
   answer are dropped: the VM's processes are gone or going.  */
static void
stop_vmm (struct uvm_session *s, int *qstatus)
{
  long deadline = monotonic_ms () + 5000;
  cleanup_close int pidfd = (int)syscall (SYS_pidfd_open, s->qemu, 0);
  cleanup_json json_t *req = json_pack ("{s:s}", "op", "shutdown");
  bool listening = s->agent >= 0, synced = false;
  uint32_t rid = ++s->next_rid;

  if (listening)
    {
      set_nonblock (s->agent, true);
      if (outq_push_json (&s->out, FRAME_REQUEST, rid, req, NULL) < 0)
        listening = false;
      else
        outq_flush (&s->out, s->agent);
    }
  for (;;)
    {
      long left = deadline - monotonic_ms ();
      struct pollfd p[2]
        = { { .fd = listening ? s->agent : -1, .events = POLLIN | (outq_empty (&s->out) ? 0 : POLLOUT) },
            { .fd = pidfd, .events = POLLIN } };
      errno = 0;
      if (qemu_wait (s, false, qstatus))
        return;
      /* Reaped behind our back (a host's waitpid (-1)): it is gone.  */
      if (errno == ECHILD)
        return;
      if (synced || left <= 0)
        {
          /* By the pidfd where there is one: the pid may be another
             process's by now if someone else reaped QEMU.  */
          if (pidfd >= 0)
            syscall (SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
          else
            kill (s->qemu, SIGKILL);
          qemu_wait (s, true, qstatus);
          return;
        }
      /* No pidfd (an old kernel): look again every 10 ms.  */
      if (poll (p, 2, pidfd < 0 && left > 10 ? 10 : (int)left) < 0 && errno != EINTR)
        listening = false;
      if (p[0].revents & POLLOUT)
        outq_flush (&s->out, s->agent);
      if (p[0].revents & (POLLIN | POLLHUP | POLLERR))
        {
          struct frame f;
          runhv_error_t ignored = NULL;
          int got;
          listening = agent_read (s);
          while (listening && (got = frame_reader_next (&s->in, &f, &ignored)) != 0)
            {
              cleanup_json json_t *resp = NULL;
              if (got < 0)
                listening = false;
              else if (f.type == FRAME_RESPONSE && f.id == rid && proto_json (&f, &resp, &ignored) == 0)
                synced = json_is_true (json_object_get (resp, "synced"));
              runhv_error_release (&ignored);
            }
        }
    }
}

void
uvm_session_end (struct uvm_session *s, int status, const char *reason)
{
  int qstatus = 0;
  if (s->ended)
    return;
  for (int i = 0; i < s->nclients; i++)
    if (s->clients[i].used && s->clients[i].exec_id[0])
      {
        client_event (s, i, s->id, s->clients[i].exec_id, 137);
        s->clients[i].exec_id[0] = '\0';
      }
  for (int k = 1; k < MAX_VC; k++)
    if (s->vc[k].used && s->vc[k].status != SUP_STOPPED)
      container_exited (s, k, reason && strcmp (reason, "container-exited") == 0 ? 137 : UVM_EXIT_VM_DIED);
  s->exit_status = status;
  s->exit_reason = reason;
  s->vc[0].status = SUP_STOPPED;
  s->vc[0].exit_status = status;
  write_exit_record (s->state_dir, status, reason);
  if (s->qemu > 0)
    {
      stop_vmm (s, &qstatus);
      events_record (s->runtime_root, "vm-stopped", s->id, "hypervisor", s->qemu, NULL);
      s->qemu = 0;
    }
  streams_drain (s, reason && strcmp (reason, "deleted") == 0 ? 1000 : 10000);
  /* Output a reader never took is dropped with its streams.  */
  while (s->nstreams > 0)
    sstream_remove (s, &s->streams[0]);
  for (int i = 0; i < s->nclients; i++)
    client_close (s, i);
  if (s->listen_fd >= 0)
    {
      cleanup_free char *sock = xasprintf ("%s/vm.sock", s->state_dir);
      close (s->listen_fd);
      s->listen_fd = -1;
      unlink (sock);
    }
  if (s->agent >= 0)
    close (s->agent);
  s->agent = -1;
  for (size_t i = 0; i < s->nwatches; i++)
    watch_fire (s, s->watches[i].id, s->watches[i].exec_id,
                s->watches[i].exec_id[0] ? 137 : (strcmp (s->watches[i].id, s->id) == 0 ? status : 137));
  s->ended = true;
}

void
uvm_session_signal (struct uvm_session *s, int sig)
{
  cleanup_json json_t *req = NULL;
  if (s->ended || s->vc[0].status == SUP_STOPPED)
    return;
  req = json_pack ("{s:s,s:s,s:i}", "op", "kill", "id", s->id, "signal", sig);
  agent_send (s, req, -1, 0, OP_KILL, 0, NULL, false);
}

bool
uvm_session_ended (const struct uvm_session *s, int *status)
{
  if (s->ended && status)
    *status = s->exit_status;
  return s->ended;
}

static void
vm_died (struct uvm_session *s, int wstatus)
{
  const char *reason;
  int st = UVM_EXIT_VM_DIED;
  if (WIFSIGNALED (wstatus))
    reason = "vmm-killed";
  else if (WEXITSTATUS (wstatus) == 1)
    reason = "guest-panic"; /* -action panic=exit-failure */
  else if (WEXITSTATUS (wstatus) == 0)
    reason = "vm-poweroff";
  else
    reason = "vmm-failed";
  log_warning ("container `%s`: its utility VM stopped (%s); exit status %d", s->id, reason, UVM_EXIT_VM_DIED);
  events_record (s->runtime_root, "vm-stopped", s->id, "hypervisor", s->qemu, NULL);
  s->qemu = 0;
  events_record (s->runtime_root, "container-exited", s->id, "hypervisor", 0, &st);
  uvm_session_end (s, UVM_EXIT_VM_DIED, reason);
}

bool
uvm_session_child_exited (struct uvm_session *s, pid_t pid, int wstatus)
{
  if (s->qemu <= 0 || pid != s->qemu)
    return false;
  s->qemu_reaped = true;
  s->qemu_status = wstatus;
  if (!s->booting)
    vm_died (s, wstatus);
  return true;
}

/* ---- the agent's frames ------------------------------------------------- */

static void
handle_agent_event (struct uvm_session *s, json_t *ev)
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
  events_record (s->runtime_root, "container-exited", s->id, "hypervisor", 0, &status);
  uvm_session_end (s, status, "container-exited");
}

static void
unshare_container (struct uvm_session *s, const char *id)
{
  /* Drop the binds a joined container's rootfs and mounts came in by.  */
  cleanup_free char *dir = xasprintf ("%s/shared/%s", s->state_dir, id);
  runhv_error_t ignored = NULL;
  if (enter_vm_ns (s, &ignored) < 0)
    {
      log_warning ("%s", ignored->msg);
      runhv_error_release (&ignored);
      return;
    }
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
  leave_vm_ns (s);
}

/* A joined container leaves the VM: refused at create (nobody waits for
   it then), or deleted (whoever still waits hears 137).  */
static void
forget_container (struct uvm_session *s, int vc, bool refused)
{
  struct vcontainer *v = &s->vc[vc];
  struct exit_watch *w = watch_find (s, v->id, NULL);
  streams_drop (s, vc, "");
  unshare_container (s, v->id);
  if (refused && w != NULL)
    watch_remove (s, w);
  else if (v->status != SUP_STOPPED)
    watch_fire (s, v->id, NULL, 137);
  v->used = false;
}

static void
agent_response (struct uvm_session *s, struct frame *f, json_t *j)
{
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
              forget_container (s, p.vc, true); /* a refused create leaves nothing of it */
            else if (ok && p.op == OP_DELETE)
              forget_container (s, p.vc, false);
          }
        if (!ok && p.op == OP_EXEC && p.vc >= 0)
          {
            for (int c = 0; c < s->nclients; c++)
              if (s->clients[c].used && strcmp (s->clients[c].exec_id, p.exec_id) == 0)
                s->clients[c].exec_id[0] = '\0';
            if (p.client == LOCAL_CLIENT)
              {
                struct exit_watch *w = watch_find (s, s->vc[p.vc].id, p.exec_id);
                if (w)
                  watch_remove (s, w);
              }
            streams_drop (s, p.vc, p.exec_id);
          }
        client_reply (s, p.client, p.client_rid, j);
        return;
      }
}

static void
handle_agent_frame (struct uvm_session *s, struct frame *f)
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
        handle_agent_event (s, j);
      else
        agent_response (s, f, j);
      json_decref (j);
      return;
    default:
      return;
    }
}

/* ---- requests ----------------------------------------------------------- */

/* Streams for a process whose stdio fds a client passed.  */
static int
streams_room (struct uvm_session *s, runhv_error_t *err)
{
  if (s->nstreams + 3 > MAX_SSTREAMS)
    return runhv_error (err,
                        "this VM already relays %d streams (at most %d: three per process); wait for some "
                        "processes to end",
                        (int)s->nstreams, MAX_SSTREAMS);
  return 0;
}

static json_t *
streams_from_fds (struct uvm_session *s, bool tty, const int *fds, int vc, const char *exec_id)
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
share_mount (struct uvm_session *s, const char *id, const char *src, const char *dst, runhv_error_t *err)
{
  cleanup_free char *layers = xasprintf ("%s/layers-%s", s->state_dir, id);
  runhv_error_t why = NULL;
  if (s->vmm_userns < 0)
    runhv_error (&why, "the VMM's user namespace is unknown");
  else if (uvm_jail_share (s->vmm_userns, uvm_jail_id_base (s->id, s->jail_id_base), src, dst, layers, &why) == 0)
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
   in the VM's mount namespace, where only QEMU sees them.  */
static int
share_container_in_ns (struct uvm_session *s, const char *id, json_t *req, runhv_error_t *err)
{
  const char *rootfs = json_string_value (json_object_get (req, "rootfs_host"));
  json_t *binds = json_object_get (req, "binds"), *b;
  cleanup_free char *base = xasprintf ("%s/shared/%s", s->state_dir, id);
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

static int
share_container (struct uvm_session *s, const char *id, json_t *req, runhv_error_t *err)
{
  int r;
  if (enter_vm_ns (s, err) < 0)
    return -1;
  r = share_container_in_ns (s, id, req, err);
  leave_vm_ns (s);
  return r;
}

/* A client's request (or the host's own, ci LOCAL_CLIENT): answered at
   once, or sent on to the agent and answered when it has.  fds belong to
   us.  */
static void
handle_request (struct uvm_session *s, int ci, uint32_t rid, json_t *req, int *fds, size_t nfds)
{
  runhv_error_t err = NULL;
  enum agent_op op;
  const char *name, *id;
  int vc;

  name = json_string_value (json_object_get (req, "op"));
  if (name == NULL)
    name = "";
  id = json_string_value (json_object_get (req, "id"));
  if (id == NULL)
    {
      id = s->id;
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
      client_reply (s, ci, rid, r);
      goto drop_fds;
    }
  if (s->ended)
    {
      runhv_make_error (&err, ESRCH, "the VM of `%s` has stopped", s->id);
      goto refuse;
    }
  if (strcmp (name, "shutdown") == 0)
    {
      cleanup_json json_t *r = proto_ok ();
      client_reply (s, ci, rid, r);
      uvm_session_end (s, s->vc[0].status == SUP_STOPPED ? s->exit_status : 137, "deleted");
      goto drop_fds;
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
      watch_add (s, id, NULL);
      guest_root = xasprintf ("/run/shared/%s/rootfs", id);
      areq = json_pack ("{s:s,s:s,s:O,s:s,s:o}", "op", "create", "id", id, "spec", json_object_get (req, "spec"),
                        "rootfs", guest_root, "stdio", streams_from_fds (s, tty, fds, vc, ""));
      nfds = 0; /* the streams own them now */
      s->vc[vc].waiter = ci >= 0 ? ci : -1;
      agent_send (s, areq, ci, rid, OP_CREATE, vc, NULL, true);
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
      if (ci == LOCAL_CLIENT)
        watch_add (s, id, exec_id);
      else
        snprintf (s->clients[ci].exec_id, sizeof (s->clients[ci].exec_id), "%s", exec_id);
      nfds = 0;
      agent_send (s, req, ci, rid, op, vc, exec_id, false);
      return;
    }
  agent_send (s, req, ci, rid, op, vc, NULL, false);
  goto drop_fds;
refuse:
  {
    cleanup_json json_t *r = proto_error (err);
    runhv_error_release (&err);
    client_reply (s, ci, rid, r);
  }
drop_fds:
  for (size_t i = 0; i < nfds; i++)
    close (fds[i]);
}

static void
client_request (struct uvm_session *s, int ci)
{
  struct frame f;
  cleanup_free uint8_t *payload = NULL;
  int fds[3];
  size_t nfds = 0;
  runhv_error_t err = NULL;
  cleanup_json json_t *req = NULL;

  if (session_msg_recv (s->clients[ci].fd, &f, &payload, fds, &nfds, &err) < 0)
    {
      runhv_error_release (&err);
      for (size_t i = 0; i < nfds; i++)
        close (fds[i]);
      client_close (s, ci);
      return;
    }
  if (f.type != FRAME_REQUEST || proto_json (&f, &req, &err) < 0)
    {
      cleanup_json json_t *r = NULL;
      if (err == NULL)
        runhv_error (&err, "supervisor protocol: expected a request");
      r = proto_error (err);
      runhv_error_release (&err);
      client_reply (s, ci, f.id, r);
      for (size_t i = 0; i < nfds; i++)
        close (fds[i]);
      return;
    }
  handle_request (s, ci, f.id, req, fds, nfds);
}

/* ---- boot ------------------------------------------------------------- */

/* A synchronous call during boot, before the loop runs: sent, then waited
   for (the host may do its own work in between).  */
static int
agent_call_send (struct uvm_session *s, json_t *req, uint32_t *rid, runhv_error_t *err)
{
  *rid = ++s->next_rid;
  if (outq_push_json (&s->out, FRAME_REQUEST, *rid, req, err) < 0)
    return -1;
  outq_flush (&s->out, s->agent);
  return 0;
}

/* The last line QEMU wrote to its log (what it said as it failed), or
   NULL.  */
static char *
last_line_of (const char *path)
{
  cleanup_free char *buf = NULL;
  size_t len = 0;
  char *end, *start;
  if (path == NULL || read_file (path, 1 << 16, &buf, &len, NULL) < 0 || len == 0)
    return NULL;
  end = buf + len;
  while (end > buf && (end[-1] == '\n' || end[-1] == '\r'))
    end--;
  *end = '\0';
  start = strrchr (buf, '\n');
  start = start ? start + 1 : buf;
  return *start ? xstrdup (start) : NULL;
}

static int
agent_call_wait (struct uvm_session *s, uint32_t rid, long timeout_ms, json_t **resp, runhv_error_t *err)
{
  long deadline = monotonic_ms () + timeout_ms;
  for (;;)
    {
      /* create waiting for our report is the second: it hangs up if it is
         killed, and then this VM is nobody's (runtime_create).  */
      struct pollfd p[2] = { { .fd = s->agent, .events = POLLIN | (outq_empty (&s->out) ? 0 : POLLOUT) },
                             { .fd = s->booting ? s->report_fd : -1, .events = 0 } };
      long left = deadline - monotonic_ms ();
      if (left <= 0)
        return runhv_error (err, "the utility VM's agent did not answer within %ld s (see the guest console log `%s`)",
                            timeout_ms / 1000, s->console_log);
      if (poll (p, 2, (int)left) < 0 && errno != EINTR)
        return runhv_make_error (err, errno, "poll");
      if (p[1].revents & (POLLHUP | POLLERR))
        {
          s->caller_gone = true;
          return runhv_error (err, "create went away while the VM booted");
        }
      if (p[0].revents & POLLOUT)
        outq_flush (&s->out, s->agent);
      if (p[0].revents & (POLLIN | POLLHUP | POLLERR))
        {
          struct frame f;
          int got;
          if (!agent_read (s))
            {
              /* QEMU is gone: it held the other end.  */
              int st;
              if (qemu_wait (s, true, &st))
                {
                  s->qemu = 0;
                  cleanup_free char *said = last_line_of (s->vmm_log);
                  return runhv_error (err, "the VMM exited during boot (%s %d%s%.200s; see `%s` and `%s`)",
                                      WIFSIGNALED (st) ? "signal" : "status",
                                      WIFSIGNALED (st) ? WTERMSIG (st) : WEXITSTATUS (st), said ? ": " : "",
                                      said ? said : "", s->vmm_log, s->console_log);
                }
              return runhv_error (err, "the VMM closed the agent channel during boot (see `%s`)", s->console_log);
            }
          while ((got = frame_reader_next (&s->in, &f, err)) == 1)
            {
              if (f.type == FRAME_RESPONSE && f.id == rid)
                {
                  if (proto_json (&f, resp, err) < 0)
                    return -1;
                  return proto_check_response (*resp, err);
                }
              handle_agent_frame (s, &f);
              /* A frame that ended the session (the VM's own container
                 said to have exited, from a hostile guest) ends the boot. */
              if (s->ended)
                return runhv_error (err, "the utility VM's agent ended the VM before it answered (see `%s`)",
                                    s->console_log);
            }
          if (got < 0)
            return -1;
        }
    }
}

static int
agent_call (struct uvm_session *s, json_t *req, long timeout_ms, json_t **resp, runhv_error_t *err)
{
  uint32_t rid;
  if (agent_call_send (s, req, &rid, err) < 0)
    return -1;
  return agent_call_wait (s, rid, timeout_ms, resp, err);
}

/* The shared tree: the rootfs and every bind source, bound where QEMU
   serves them from, in a mount namespace of the VM's own (a slave of the
   host's) that disappears with the session whatever way it ends.  */
static int
setup_shared (struct uvm_session *s, const struct supervisor_config *cfg, runhv_error_t *err)
{
  cleanup_free char *shared = xasprintf ("%s/shared", cfg->state_dir);
  cleanup_free char *cdir = xasprintf ("%s/%s", shared, cfg->id);
  cleanup_free char *root = xasprintf ("%s/rootfs", cdir);
  if (s->hosted)
    {
      s->host_mntns = open ("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
      if (s->host_mntns < 0)
        return runhv_make_error (err, errno, "open the host's mount namespace");
    }
  if (unshare (CLONE_NEWNS) < 0)
    return runhv_make_error (err, errno, "unshare a mount namespace for the VM");
  if (s->hosted)
    {
      s->vm_mntns = open ("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
      if (s->vm_mntns < 0)
        return runhv_make_error (err, errno, "open the VM's mount namespace");
    }
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
listen_clients (struct uvm_session *s, runhv_error_t *err)
{
  struct sockaddr_un addr;
  cleanup_close int dfd = -1;
  if (session_socket_at (s->state_dir, &dfd, &addr, err) < 0)
    return -1;
  s->listen_fd = socket (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (s->listen_fd < 0)
    return runhv_make_error (err, errno, "socket");
  unlinkat (dfd, "vm.sock", 0);
  if (bind (s->listen_fd, (struct sockaddr *)&addr, sizeof (addr)) < 0 || listen (s->listen_fd, 16) < 0)
    return runhv_make_error (err, errno, "listen on `%s/vm.sock`", s->state_dir);
  return 0;
}

/* The guest answered and creates its container: the host's own work for
   this VM goes on meanwhile, on another host CPU.  What QEMU needed only
   to start (vmm.c) can go now: a hosted session's process asks for it
   itself; a supervisor, which may not (CAP_SYS_NICE), tells the runtime
   that started it.  That is an optimisation only: a failure is logged.  */
static int
vm_booted (struct uvm_session *s, const struct supervisor_config *cfg, uvm_session_booted_fn on_booted,
           runhv_error_t *err)
{
  runhv_error_t ignored = NULL;
  if (!s->hosted)
    {
      /* QEMU is our child and not reaped: this pidfd is surely its, and
         the runtime holds QEMU by it, never by a pid that may be reused.  */
      cleanup_close int pidfd = (int)syscall (SYS_pidfd_open, s->qemu, 0);
      sync_send (s->report_fd, SYNC_BOOTED, (int)s->qemu, NULL, pidfd);
    }
  else if (uvm_vmm_reclaim_startup (s->qemu, -1, cfg->art, &ignored) < 0)
    {
      log_debug ("%s", ignored->msg);
      runhv_error_release (&ignored);
    }
  return on_booted != NULL ? on_booted (s->qemu, err) : 0;
}

/* Start from a VM template where this VM can (template.h), making it
   first when there is none; else boot, and say why in the VM's info.  A
   template that cannot be made is no reason to fail a VM: it boots.  The
   launch gets the template's state, a copy of its memory and a monitor,
   whose host end is *qmp; the caller closes all three.  */
static int
choose_template (struct uvm_session *s, const struct supervisor_config *cfg, struct uvm_launch *l,
                 struct uvm_template_files *files, int *qmp, runhv_error_t *err)
{
  runhv_error_t terr = NULL;
  bool made = false;
  int sv[2];
  if (!cfg->template)
    {
      s->boot_why = xstrdup ("[vm] template = false");
      return 0;
    }
  if (uvm_template_open (l, UVM_TEMPLATE_DIR, cfg->boot_timeout_ms, &made, files, &terr) < 0)
    {
      log_warning ("container `%s`: its VM boots without a template: %s", cfg->id, terr->msg);
      s->boot_why = xasprintf ("no template: %s", terr->msg);
      runhv_error_release (&terr);
      return 0;
    }
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    return runhv_make_error (err, errno, "socketpair");
  if (made)
    s->boot_why = xstrdup ("its template was made for it");
  *qmp = sv[0];
  l->restore = l->memory_file = l->qmp = true;
  l->restore_fd = files->state_fd;
  l->memory_fd = files->memory_fd;
  l->memory_src_fd = files->memory_src_fd;
  l->qmp_fd = sv[1];
  return 0;
}

/* The VM's hello: the rest of its boot is its own (agent_finish_boot):
   fresh entropy for its crng, which a VM from a template shares with the
   template until then, the host's time, where the template's clock
   stopped, and the pod's network (its NIC has the template's MAC).  */
static json_t *
vm_hello (const char *net)
{
  unsigned char seed[AGENT_HELLO_SEED_BYTES];
  char hex[2 * AGENT_HELLO_SEED_BYTES + 1];
  struct timespec now;
  json_t *hello;
  if (getrandom (seed, sizeof (seed), 0) != (ssize_t)sizeof (seed))
    return NULL;
  for (size_t i = 0; i < sizeof (seed); i++)
    snprintf (hex + 2 * i, 3, "%02x", seed[i]);
  clock_gettime (CLOCK_REALTIME, &now);
  hello = json_pack ("{s:s,s:i,s:s,s:[I,I]}", "op", "hello", "version", AGENT_PROTO_VERSION, "seed", hex, "realtime",
                     (json_int_t)now.tv_sec, (json_int_t)now.tv_nsec);
  explicit_bzero (seed, sizeof (seed));
  explicit_bzero (hex, sizeof (hex));
  if (net != NULL)
    json_object_set_new (hello, "net", json_string (net));
  return hello;
}

static int
boot (struct uvm_session *s, const struct supervisor_config *cfg, uvm_session_booted_fn on_booted, runhv_error_t *err)
{
  int sv[2];
  cleanup_free char *shared = xasprintf ("%s/shared", cfg->state_dir);
  cleanup_json json_t *resp = NULL;
  struct uvm_launch l;
  struct uvm_template_files files = { .state_fd = -1, .memory_fd = -1, .memory_src_fd = -1 };
  cleanup_close int qmp = -1;
  int r;

  s->booting = true;
  r = setup_shared (s, cfg, err);
  if (r == 0 && cfg->terminal)
    {
      s->tty = terminal_open_relay (cfg->console_receiver, cfg->console_socket, err);
      r = s->tty < 0 ? -1 : 0;
    }
  if (r < 0 || listen_clients (s, err) < 0)
    return -1;
  {
    /* A create killed before QEMU exists: start nothing.  */
    struct pollfd p = { .fd = s->report_fd, .events = 0 };
    if (s->report_fd >= 0 && poll (&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR)))
      {
        s->caller_gone = true;
        return runhv_error (err, "create went away before the VM started");
      }
  }
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    return runhv_make_error (err, errno, "socketpair");
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
    .debug = cfg->debug,
    .cgroup_parent = cfg->cgroup_parent,
    .jail_id_base = cfg->jail_id_base,
    /* A shim stays where containerd put it, as runc's does.  */
    .caller_stays_out = s->hosted,
  };
  r = choose_template (s, cfg, &l, &files, &qmp, err);
  if (r == 0)
    r = uvm_vmm_spawn (&l, &s->qemu, &s->alive_fd, err);
  close (sv[1]);
  /* QEMU holds its copies now.  */
  {
    int held[] = { files.state_fd, files.memory_fd, files.memory_src_fd, l.qmp ? l.qmp_fd : -1 };
    for (size_t i = 0; i < sizeof (held) / sizeof (held[0]); i++)
      if (held[i] >= 0)
        close (held[i]);
  }
  if (r == 0 && l.restore && uvm_template_start (qmp, cfg->boot_timeout_ms, err) < 0)
    {
      uvm_template_discard (&l, UVM_TEMPLATE_DIR);
      return -1;
    }
  if (r < 0)
    return -1;
  /* QEMU holds the tap now: it goes when QEMU does (a hosted session's
     caller closes its own).  */
  if (!s->hosted && cfg->tap_fd >= 0)
    close (cfg->tap_fd);
  {
    /* Taken now: once confined the supervisor could not open another
       process's namespace.  */
    cleanup_free char *ns = xasprintf ("/proc/%d/ns/user", (int)s->qemu);
    s->vmm_userns = open (ns, O_RDONLY | O_CLOEXEC);
  }
  /* The shared tree is in place and QEMU has its copy: the host goes back
     to its own mounts.  */
  leave_vm_ns (s);
  set_nonblock (s->agent, true);
  {
    cleanup_json json_t *hello = vm_hello (cfg->net_config);
    if (hello == NULL)
      return runhv_make_error (err, errno, "getrandom: the VM's seed");
    if (agent_call (s, hello, cfg->boot_timeout_ms, &resp, err) < 0)
      {
        if (l.restore && !s->caller_gone)
          {
            /* A template no VM starts from is no use: the next VM makes
               it anew.  (A create that went away says nothing of it.)  */
            uvm_template_discard (&l, UVM_TEMPLATE_DIR);
            runhv_error_wrap (err, "the VM did not start from its template, which is now removed (the next VM "
                                   "makes it anew; [vm] template = false boots each VM instead)");
          }
        return -1;
      }
    events_record_boot (cfg->runtime_root, "vm-started", cfg->id, "hypervisor", s->qemu, NULL,
                        l.restore ? "template" : "cold");
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
    uint32_t rid;
    create = json_pack ("{s:s,s:s,s:O,s:s,s:o}", "op", "create", "id", cfg->id, "spec", cfg->guest_spec, "rootfs",
                        guest_root, "stdio", stdio);
    if (agent_call_send (s, create, &rid, err) < 0)
      return -1;
    if (vm_booted (s, cfg, on_booted, err) < 0 || agent_call_wait (s, rid, 60000, &resp, err) < 0)
      return -1;
    s->vc[0].guest_pid = (pid_t)json_integer_value (json_object_get (resp, "pid"));
  }
  /* The container's stdio: the supervisor's own 0, 1 and 2, or the
     descriptors a hosted session was given (and now owns).  */
  if (cfg->terminal)
    sstream_add (s, STREAM_STDIN, s->tty, s->tty, false, 0, NULL);
  else
    {
      sstream_add (s, STREAM_STDIN, -1, cfg->stdio[0], s->hosted, 0, NULL);
      sstream_add (s, STREAM_STDOUT, cfg->stdio[1], -1, s->hosted, 0, NULL);
      sstream_add (s, STREAM_STDERR, cfg->stdio[2], -1, s->hosted, 0, NULL);
    }
  s->next_sid = 16;
  {
    cleanup_free char *cgroup = uvm_jail_cgroup_path (&l);
    s->info
      = json_pack ("{s:i,s:s,s:I,s:I,s:s,s:s,s:s,s:b,s:s,s:s*}", "guest_pid", (int)s->vc[0].guest_pid, "accel",
                   cfg->accel, "memory_mb", (json_int_t)cfg->sizing.memory_mb, "cpus", (json_int_t)cfg->sizing.cpus,
                   "memory_source", cfg->sizing.memory_source, "cpus_source", cfg->sizing.cpus_source, "cgroup", cgroup,
                   "hosted", s->hosted, "boot", l.restore ? "template" : "cold", "boot_why", s->boot_why);
  }
  s->booting = false;
  return 0;
}

static void
boot_failed (struct uvm_session *s, runhv_error_t reason)
{
  leave_vm_ns (s);
  if (s->qemu > 0)
    {
      int st;
      kill (s->qemu, SIGKILL);
      qemu_wait (s, true, &st);
    }
  if (s->vm_started)
    events_record (s->runtime_root, "vm-stopped", s->id, "hypervisor", s->qemu, NULL);
  s->qemu = 0;
  if (s->caller_gone)
    {
      /* create's record of this container stays for `delete --force`
         (its state directory is gone if that already ran): say why it
         stopped.  */
      log_warning ("container `%s`: %s; VM stopped", s->id, reason->msg);
      write_exit_record (s->state_dir, UVM_EXIT_VM_DIED, "create-killed");
    }
  s->ended = true;
}

int
uvm_session_open (const struct supervisor_config *cfg, bool hosted, uvm_session_booted_fn on_booted,
                  struct uvm_session **out, runhv_error_t *err)
{
  struct uvm_session *s = xmalloc0 (sizeof (*s));
  s->hosted = hosted;
  s->runtime_root = xstrdup (cfg->runtime_root);
  s->id = xstrdup (cfg->id);
  s->state_dir = xstrdup (cfg->state_dir);
  s->console_log = xstrdup (cfg->console_log);
  s->vmm_log = xstrdup (cfg->vmm_log);
  s->jail_id_base = cfg->jail_id_base;
  s->report_fd = hosted ? -1 : cfg->report_fd;
  s->agent = s->listen_fd = s->tty = s->vmm_userns = s->host_mntns = s->vm_mntns = s->alive_fd = -1;
  s->qemu = -1;
  vc_add (s, cfg->id); /* vc 0: the VM's own container */
  watch_add (s, cfg->id, NULL);
  frame_reader_init (&s->in);
  outq_init (&s->out);
  if (boot (s, cfg, on_booted, err) < 0)
    {
      boot_failed (s, *err);
      if (hosted)
        for (int i = 0; i < 3; i++)
          if (cfg->stdio[i] >= 0)
            close (cfg->stdio[i]);
      uvm_session_free (s);
      return -1;
    }
  if (hosted)
    {
      s->next = hosted_sessions;
      hosted_sessions = s;
    }
  *out = s;
  return 0;
}

pid_t
uvm_session_vmm_pid (const struct uvm_session *s)
{
  return s->qemu > 0 ? s->qemu : 0;
}

json_t *
uvm_session_info (const struct uvm_session *s)
{
  return s->info;
}

void
uvm_session_free (struct uvm_session *s)
{
  if (s == NULL)
    return;
  if (!s->ended)
    uvm_session_end (s, 137, "deleted");
  for (struct uvm_session **pp = &hosted_sessions; *pp; pp = &(*pp)->next)
    if (*pp == s)
      {
        *pp = s->next;
        break;
      }
  while (s->nstreams > 0)
    sstream_remove (s, &s->streams[0]);
  while (s->nwatches > 0)
    watch_remove (s, &s->watches[0]);
  if (s->host_mntns >= 0 && s->vm_mntns >= 0)
    {
      /* The jail's reaper was born in the VM's namespace and holds it
         until it is done: the tree goes now, not then.  */
      cleanup_free char *shared = xasprintf ("%s/shared", s->state_dir);
      runhv_error_t ignored = NULL;
      if (enter_vm_ns (s, &ignored) == 0)
        {
          umount2 (shared, MNT_DETACH);
          leave_vm_ns (s);
        }
      runhv_error_release (&ignored);
    }
  {
    const int fds[] = { s->agent, s->listen_fd, s->tty, s->vmm_userns, s->host_mntns, s->vm_mntns, s->alive_fd };
    for (size_t i = 0; i < sizeof (fds) / sizeof (fds[0]); i++)
      if (fds[i] >= 0)
        close (fds[i]);
  }
  json_decref (s->info);
  json_decref (s->local_resp);
  frame_reader_release (&s->in);
  outq_release (&s->out);
  free (s->clients);
  free (s->streams);
  free (s->watches);
  free (s->pkind);
  free (s->psid);
  free (s->runtime_root);
  free (s->boot_why);
  free (s->id);
  free (s->state_dir);
  free (s->console_log);
  free (s->vmm_log);
  free (s);
}

/* ---- the loop ----------------------------------------------------------- */

/* Whoever holds a terminal's master resizes it; the guest's pty must
   follow.  A pty reports no resize to the slave's holder, so look.  */
static void
check_winsize (struct uvm_session *s)
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
   VM is reaped and the session ends.  */
static void
serve_agent_input (struct uvm_session *s)
{
  struct frame f;
  runhv_error_t err = NULL;
  int got;
  if (!agent_read (s))
    {
      int st = 0;
      if (qemu_wait (s, true, &st))
        vm_died (s, st);
      else
        uvm_session_end (s, UVM_EXIT_VM_DIED, "agent-lost");
      return;
    }
  while (!s->ended && (got = frame_reader_next (&s->in, &f, &err)) == 1)
    handle_agent_frame (s, &f);
  if (!s->ended && got < 0)
    {
      log_error ("container `%s`: %s; stopping its VM", s->id, err->msg);
      runhv_error_release (&err);
      uvm_session_end (s, UVM_EXIT_VM_DIED, "agent-protocol-error");
    }
}

/* A runhv command or an exec'd process connects; past MAX_CLIENTS it is
   told why it is refused.  */
static void
accept_client (struct uvm_session *s)
{
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
                   s->id, MAX_CLIENTS);
      r = proto_error (full);
      runhv_error_release (&full);
      session_msg_send (c, FRAME_RESPONSE, 1, r, NULL, 0, NULL);
      close (c);
      return;
    }
  s->clients[slot] = (struct client){ .used = true, .fd = c };
}

/* Input for a stream (a process's stdin on the host side) goes to the
   agent; its end becomes a CLOSE frame.  */
static void
read_stream_input (struct uvm_session *s, uint32_t id)
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

static void
poll_slot (struct uvm_session *s, struct pollfd *p, size_t max, size_t *n, int fd, short events, int kind, uint32_t sid)
{
  if (*n >= s->pcap)
    {
      s->pcap = s->pcap ? 2 * s->pcap : 64;
      s->pkind = xrealloc (s->pkind, s->pcap * sizeof (*s->pkind));
      s->psid = xrealloc (s->psid, s->pcap * sizeof (*s->psid));
    }
  if (*n < max)
    p[*n] = (struct pollfd){ .fd = fd, .events = events };
  s->pkind[*n] = kind;
  s->psid[*n] = sid;
  (*n)++;
}

size_t
uvm_session_pollfds (struct uvm_session *s, struct pollfd *p, size_t max)
{
  size_t n = 0;
  if (s->ended)
    return s->pn = 0;
  poll_slot (s, p, max, &n, s->agent, POLLIN | (outq_empty (&s->out) ? 0 : POLLOUT), KIND_AGENT, 0);
  poll_slot (s, p, max, &n, s->listen_fd, POLLIN, KIND_LISTEN, 0);
  for (int i = 0; i < s->nclients; i++)
    if (s->clients[i].used)
      poll_slot (s, p, max, &n, s->clients[i].fd, POLLIN, KIND_CLIENT + i, 0);
  for (size_t i = 0; i < s->nstreams; i++)
    {
      struct sstream *st = &s->streams[i];
      /* Streams by id: handling one event may drop streams and move the
         others in s->streams.  */
      if (st->in_fd >= 0 && !st->paused && outq_pending (&s->out) < (4u << 20))
        poll_slot (s, p, max, &n, st->in_fd, POLLIN, KIND_STREAM, st->id);
      if (stream_writer_pending (&st->w) > 0)
        poll_slot (s, p, max, &n, st->w.wfd, POLLOUT, KIND_STREAM_OUT, st->id);
    }
  s->pn = n < max ? n : max;
  return n;
}

void
uvm_session_dispatch (struct uvm_session *s, const struct pollfd *p, size_t n)
{
  if (s->ended)
    return;
  if (n > s->pn)
    n = s->pn;
  check_winsize (s);
  for (size_t i = 0; i < n && !s->ended; i++)
    {
      int kind = s->pkind[i];
      if (p[i].revents == 0)
        continue;
      if (kind == KIND_AGENT)
        {
          if (p[i].revents & POLLOUT)
            outq_flush (&s->out, s->agent);
          if (p[i].revents & (POLLIN | POLLHUP | POLLERR))
            serve_agent_input (s);
        }
      else if (kind == KIND_LISTEN)
        accept_client (s);
      else if (kind == KIND_STREAM_OUT)
        {
          struct sstream *st = sstream_find (s, s->psid[i]);
          if (st != NULL)
            sstream_writable (s, st);
        }
      else if (kind == KIND_STREAM)
        read_stream_input (s, s->psid[i]);
      else if (kind >= KIND_CLIENT)
        client_request (s, kind - KIND_CLIENT);
    }
  s->pn = 0;
  if (!s->ended && !outq_empty (&s->out))
    outq_flush (&s->out, s->agent);
}

/* One turn of the loop, for a host that waits on the session alone.  */
static int
pump (struct uvm_session *s, long timeout_ms)
{
  size_t cap = uvm_session_pollfds (s, NULL, 0);
  cleanup_free struct pollfd *p = xmalloc0 ((cap + 1) * sizeof (*p));
  cap = uvm_session_pollfds (s, p, cap);
  if (poll (p, (nfds_t)cap, (int)timeout_ms) < 0 && errno != EINTR)
    return -1;
  uvm_session_dispatch (s, p, cap);
  return 0;
}

int
uvm_session_wait (struct uvm_session *s, const char *id, const char *exec_id, int timeout_ms)
{
  long deadline = monotonic_ms () + timeout_ms;
  int status = 0;
  while (!uvm_session_exit_status (s, id, exec_id, &status) && !s->ended)
    {
      long left = deadline - monotonic_ms ();
      if (left <= 0 || pump (s, left) < 0)
        {
          s->pn = 0;
          return -1;
        }
    }
  s->pn = 0;
  return 0;
}

int
uvm_session_call (struct uvm_session *s, json_t *req, const int *fds, size_t nfds, int timeout_ms, json_t **resp,
                  runhv_error_t *err)
{
  long deadline = monotonic_ms () + timeout_ms;
  int owned[3] = { -1, -1, -1 };
  json_t *r;
  if (nfds > 3)
    return runhv_error (err, "a request passes at most 3 descriptors");
  for (size_t i = 0; i < nfds; i++)
    owned[i] = fds[i];
  s->local_rid++;
  json_decref (s->local_resp);
  s->local_resp = NULL;
  handle_request (s, LOCAL_CLIENT, s->local_rid, req, owned, nfds);
  while (s->local_resp == NULL)
    {
      long left = deadline - monotonic_ms ();
      if (s->ended)
        return runhv_make_error (err, ESRCH, "the VM of `%s` stopped", s->id);
      if (left <= 0)
        return runhv_make_error (err, ETIMEDOUT, "the VM of `%s` did not answer within %d ms", s->id, timeout_ms);
      if (pump (s, left) < 0)
        return runhv_make_error (err, errno, "poll");
    }
  /* What the host's loop last polled for is stale now.  */
  s->pn = 0;
  r = s->local_resp;
  s->local_resp = NULL;
  if (proto_check_response (r, err) < 0)
    {
      json_decref (r);
      return -1;
    }
  if (resp)
    *resp = r;
  else
    json_decref (r);
  return 0;
}

int
uvm_session_exit_fd (struct uvm_session *s, const char *id, const char *exec_id, runhv_error_t *err)
{
  struct exit_watch *w = watch_find (s, id, exec_id);
  int fd;
  if (w == NULL || w->efd < 0)
    return runhv_make_error (err, ENOENT, "no process `%s` of `%s` is watched in this VM", exec_id ? exec_id : "init",
                             id);
  fd = fcntl (w->efd, F_DUPFD_CLOEXEC, 3);
  if (fd < 0)
    return runhv_make_error (err, errno, "dup");
  return fd;
}

bool
uvm_session_exit_status (struct uvm_session *s, const char *id, const char *exec_id, int *status)
{
  struct exit_watch *w = watch_find (s, id, exec_id);
  if (w == NULL || !w->done)
    return false;
  *status = w->status;
  return true;
}

void
uvm_session_forget (struct uvm_session *s, const char *id, const char *exec_id)
{
  struct exit_watch *w = watch_find (s, id, exec_id);
  if (w != NULL)
    watch_remove (s, w);
}

/* ---- the sessions this process hosts ---------------------------------- */

struct uvm_session *
uvm_session_hosted (const char *state_dir)
{
  for (struct uvm_session *s = hosted_sessions; s; s = s->next)
    if (strcmp (s->state_dir, state_dir) == 0)
      return s;
  return NULL;
}

size_t
uvm_sessions_pollfds (struct pollfd *p, size_t max)
{
  size_t n = 0;
  for (struct uvm_session *s = hosted_sessions; s; s = s->next)
    {
      size_t room = p && n < max ? max - n : 0;
      size_t k = uvm_session_pollfds (s, p ? p + n : NULL, room);
      s->host_n = k < room ? k : room;
      n += p ? s->host_n : k; /* without p: how many it takes */
    }
  return n;
}

void
uvm_sessions_dispatch (const struct pollfd *p, size_t n)
{
  size_t off = 0;
  /* Dispatching never frees a session: the list stands still.  */
  for (struct uvm_session *s = hosted_sessions; s && off < n; s = s->next)
    {
      size_t k = s->host_n;
      uvm_session_dispatch (s, p + off, k);
      s->host_n = 0;
      off += k;
    }
}

void
uvm_sessions_run (int timeout_ms)
{
  size_t cap = uvm_sessions_pollfds (NULL, 0);
  cleanup_free struct pollfd *p = xmalloc0 ((cap + 1) * sizeof (*p));
  cap = uvm_sessions_pollfds (p, cap);
  if (poll (p, (nfds_t)cap, timeout_ms) < 0 && errno != EINTR)
    return;
  uvm_sessions_dispatch (p, cap);
}

bool
uvm_sessions_child_exited (pid_t pid, int wstatus)
{
  for (struct uvm_session *s = hosted_sessions; s; s = s->next)
    if (uvm_session_child_exited (s, pid, wstatus))
      return true;
  return false;
}

void
uvm_sessions_end_all (void)
{
  while (hosted_sessions)
    uvm_session_free (hosted_sessions);
}

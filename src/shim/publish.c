/* Task events to containerd.  containerd gives its shims a ttrpc address
   ($TTRPC_ADDRESS) serving containerd.services.events.ttrpc.v1.Events;
   every event is an Envelope (time, namespace, topic, Any) sent with
   Forward.  Events are sent in order; one that cannot be delivered (the
   daemon restarting) stays queued with those after it and is retried from
   the main loop, so a TaskExit is not lost to a containerd restart.
   Without $TTRPC_ADDRESS, the fallback containerd defines: its publish
   binary (`containerd --address GRPC publish --topic T --namespace NS`,
   the event's Any on stdin), one process per event.  */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "events_ttrpc.pb-c.h"
#include "core/log.h"
#include "shim.h"
#include "proto/ttrpc.h"
#include "core/util.h"
#include "core/banned.h"

#define EVENTS_SERVICE "containerd.services.events.ttrpc.v1.Events"
#define QUEUE_MAX 1024
#define SEND_TIMEOUT_MS 5000

struct queued_event
{
  char *topic;
  Google__Protobuf__Any any;
  struct timespec when;
};

struct shim_publisher
{
  char *address;                       /* containerd's ttrpc socket, or NULL */
  char *publish_binary, *grpc_address; /* the fallback, or NULL */
  char *ns;
  struct ttrpc_client *client;
  struct queued_event q[QUEUE_MAX];
  size_t head, len;
  size_t dropped;
};

struct shim_publisher *
shim_publisher_new (const char *ttrpc_address, const char *publish_binary, const char *grpc_address, const char *ns)
{
  struct shim_publisher *p = xmalloc0 (sizeof (*p));
  p->address = ttrpc_address && ttrpc_address[0] ? xstrdup (ttrpc_address) : NULL;
  p->ns = xstrdup (ns ? ns : "default");
  if (p->address == NULL && publish_binary && publish_binary[0] && grpc_address && grpc_address[0])
    {
      p->publish_binary = xstrdup (publish_binary);
      p->grpc_address = xstrdup (grpc_address);
      log_info ("TTRPC_ADDRESS is not set: task events go through `%s publish`", publish_binary);
    }
  else if (p->address == NULL)
    log_warning ("TTRPC_ADDRESS is not set and there is no -publish-binary: task events are not published (run "
                 "the shim from containerd)");
  return p;
}

static void
event_release (struct queued_event *e)
{
  free (e->topic);
  e->topic = NULL;
  ttrpc_any_release (&e->any);
}

void
shim_publisher_free (struct shim_publisher *p)
{
  if (p == NULL)
    return;
  while (p->len > 0)
    {
      event_release (&p->q[p->head]);
      p->head = (p->head + 1) % QUEUE_MAX;
      p->len--;
    }
  if (p->client)
    ttrpc_client_free (p->client);
  free (p->address);
  free (p->publish_binary);
  free (p->grpc_address);
  free (p->ns);
  free (p);
}

static int
send_one (struct shim_publisher *p, struct queued_event *e, runhv_error_t *err)
{
  Containerd__Services__Events__Ttrpc__V1__ForwardRequest req
    = CONTAINERD__SERVICES__EVENTS__TTRPC__V1__FORWARD_REQUEST__INIT;
  Containerd__Services__Events__Ttrpc__V1__Envelope env = CONTAINERD__SERVICES__EVENTS__TTRPC__V1__ENVELOPE__INIT;
  Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;

  if (p->client == NULL && ttrpc_client_connect (p->address, &p->client, err) < 0)
    return -1;
  ttrpc_timestamp_set (&ts, &e->when);
  env.timestamp = &ts;
  env.namespace_ = p->ns;
  env.topic = e->topic;
  env.event = &e->any;
  req.envelope = &env;
  if (ttrpc_client_call (p->client, EVENTS_SERVICE, "Forward", p->ns, &req.base, NULL, NULL, SEND_TIMEOUT_MS, err) < 0)
    {
      /* A refusal is the event's fault: drop it.  A broken connection is
         containerd's: reconnect next time and keep the event.  */
      int code = ttrpc_client_last_code (p->client);
      if (code != TTRPC_OK)
        return 1;
      ttrpc_client_free (p->client);
      p->client = NULL;
      return -1;
    }
  return 0;
}

/* The publish binary with the event's Any on its stdin: 0 sent, -1 to
   retry (containerd away), 1 refused.  */
static int
exec_publish (struct shim_publisher *p, struct queued_event *e, runhv_error_t *err)
{
  size_t len = google__protobuf__any__get_packed_size (&e->any);
  cleanup_free uint8_t *buf = xmalloc0 (len ? len : 1);
  int fds[2], st = 0;
  pid_t pid;
  google__protobuf__any__pack (&e->any, buf);
  pid = fork_with_pipe (fds, err);
  if (pid < 0)
    return -1;
  if (pid == 0)
    {
      int null = open ("/dev/null", O_WRONLY | O_CLOEXEC);
      sigset_t none;
      sigemptyset (&none);
      sigprocmask (SIG_SETMASK, &none, NULL); /* the shim blocks SIGCHLD and TERM for its signalfd */
      dup2 (fds[0], 0);
      if (null >= 0)
        dup2 (null, 1);
      execl (p->publish_binary, p->publish_binary, "--address", p->grpc_address, "publish", "--topic", e->topic,
             "--namespace", p->ns, (char *)NULL);
      _exit (127);
    }
  close (fds[0]);
  if (write_all (fds[1], buf, len) != (ssize_t)len)
    log_debug ("publish %s: writing to `%s`: %s", e->topic, p->publish_binary, strerror (errno));
  close (fds[1]);
  /* Ours to wait for: the main loop's reaper only runs between events.  */
  while (waitpid (pid, &st, 0) < 0 && errno == EINTR)
    ;
  if (WIFEXITED (st) && WEXITSTATUS (st) == 0)
    return 0;
  runhv_error (err, "`%s publish` %s %d", p->publish_binary, WIFEXITED (st) ? "exited with" : "was killed by",
               WIFEXITED (st) ? WEXITSTATUS (st) : WTERMSIG (st));
  return WIFEXITED (st) && WEXITSTATUS (st) == 127 ? 1 : -1;
}

bool
shim_publisher_flush (struct shim_publisher *p)
{
  if (p->address == NULL && p->publish_binary == NULL)
    {
      while (p->len > 0)
        {
          event_release (&p->q[p->head]);
          p->head = (p->head + 1) % QUEUE_MAX;
          p->len--;
        }
      return false;
    }
  while (p->len > 0)
    {
      struct queued_event *e = &p->q[p->head];
      runhv_error_t err = NULL;
      int r = p->address ? send_one (p, e, &err) : exec_publish (p, e, &err);
      if (r < 0)
        {
          log_debug ("publish %s: %s (will retry)", e->topic, err ? err->msg : "failed");
          runhv_error_release (&err);
          return true;
        }
      if (r > 0)
        log_warning ("publish %s: %s (event dropped)", e->topic, err ? err->msg : "refused");
      runhv_error_release (&err);
      event_release (e);
      p->head = (p->head + 1) % QUEUE_MAX;
      p->len--;
    }
  return false;
}

size_t
shim_publisher_pending (const struct shim_publisher *p)
{
  return p->len;
}

void
shim_publish (struct shim_publisher *p, const char *topic, const char *type_url, const ProtobufCMessage *msg)
{
  struct queued_event *e;
  runhv_error_t err = NULL;
  if (p->len == QUEUE_MAX)
    {
      /* containerd has been away for a long time: the oldest goes */
      event_release (&p->q[p->head]);
      p->head = (p->head + 1) % QUEUE_MAX;
      p->len--;
      if (p->dropped++ == 0)
        log_warning ("containerd is not taking events: dropping the oldest");
    }
  e = &p->q[(p->head + p->len) % QUEUE_MAX];
  memset (e, 0, sizeof (*e));
  e->any = (Google__Protobuf__Any)GOOGLE__PROTOBUF__ANY__INIT;
  if (ttrpc_any_pack (&e->any, type_url, msg, &err) < 0)
    {
      log_error ("publish %s: %s", topic, err->msg);
      runhv_error_release (&err);
      return;
    }
  e->topic = xstrdup (topic);
  clock_gettime (CLOCK_REALTIME, &e->when);
  p->len++;
  log_debug ("event %s", topic);
  shim_publisher_flush (p);
}

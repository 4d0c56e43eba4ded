/* Task events to containerd.  containerd gives its shims a ttrpc address
   ($TTRPC_ADDRESS) serving containerd.services.events.ttrpc.v1.Events;
   every event is an Envelope (time, namespace, topic, Any) sent with
   Forward.  Events are sent in order; one that cannot be delivered (the
   daemon restarting) stays queued with those after it and is retried from
   the main loop, so a TaskExit is not lost to a containerd restart.  */
#include <errno.h>
#include <string.h>

#include "events_ttrpc.pb-c.h"
#include "log.h"
#include "shim.h"
#include "ttrpc.h"
#include "util.h"
#include "banned.h"

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
  char *address;
  char *ns;
  struct ttrpc_client *client;
  struct queued_event q[QUEUE_MAX];
  size_t head, len;
  size_t dropped;
};

struct shim_publisher *
shim_publisher_new (const char *ttrpc_address, const char *ns)
{
  struct shim_publisher *p = xmalloc0 (sizeof (*p));
  p->address = ttrpc_address && ttrpc_address[0] ? xstrdup (ttrpc_address) : NULL;
  p->ns = xstrdup (ns ? ns : "default");
  if (p->address == NULL)
    log_warning ("TTRPC_ADDRESS is not set: task events are not published (run the shim from containerd)");
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

bool
shim_publisher_flush (struct shim_publisher *p)
{
  if (p->address == NULL)
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
      int r = send_one (p, e, &err);
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

/* ttrpc server and client on protobuf-c (see ttrpc.h and
   docs/shim.md, "Protocol facts").  Written from the wire format, not from
   containerd's Go code: 10-byte big-endian headers, ttrpc.Request and
   ttrpc.Response envelopes, google.rpc.Status for errors.  */
#include "proto/ttrpc.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "google_rpc_status.pb-c.h"
#include "core/log.h"
#include "core/util.h"
#include "core/banned.h"

/* Server limits: a peer that sends faster than it reads stops being read
   once this much output waits for it; a peer that keeps this many calls
   open (Wait, say) gets RESOURCE_EXHAUSTED for more.  */
#define TTRPC_OUT_HIGH (16u << 20)
#define TTRPC_MAX_CALLS_PER_CONN 4096
#define TTRPC_MAX_CONNS 1024
#define TTRPC_MAX_STATUS_MESSAGE 4096
#define TTRPC_READ_CHUNK 65536

/* ---- status codes ---------------------------------------------------- */

static const char *const code_names[] = {
  "OK",       "Canceled",        "Unknown",          "InvalidArgument",   "DeadlineExceeded",
  "NotFound", "AlreadyExists",   "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
  "Aborted",  "OutOfRange",      "Unimplemented",    "Internal",          "Unavailable",
  "DataLoss", "Unauthenticated",
};

const char *
ttrpc_code_name (int code)
{
  static __thread char buf[32];
  if (code >= 0 && (size_t)code < sizeof (code_names) / sizeof (code_names[0]))
    return code_names[code];
  snprintf (buf, sizeof (buf), "Code(%d)", code);
  return buf;
}

int
ttrpc_code_from_errno (int errnum)
{
  switch (errnum)
    {
    case ENOENT:
    case ESRCH:
      return TTRPC_NOT_FOUND;
    case EEXIST:
      return TTRPC_ALREADY_EXISTS;
    case EINVAL:
    case E2BIG:
    case ENAMETOOLONG:
      return TTRPC_INVALID_ARGUMENT;
    case ENOTSUP:
    case ENOSYS:
      return TTRPC_UNIMPLEMENTED;
    case EPERM:
    case EACCES:
      return TTRPC_PERMISSION_DENIED;
    case EBUSY:
      return TTRPC_FAILED_PRECONDITION;
    case ETIMEDOUT:
      return TTRPC_DEADLINE_EXCEEDED;
    case ECANCELED:
      return TTRPC_CANCELLED;
    case ENOMEM:
    case ENOSPC:
    case EMSGSIZE:
      return TTRPC_RESOURCE_EXHAUSTED;
    case EAGAIN:
    case ECONNREFUSED:
      return TTRPC_UNAVAILABLE;
    default:
      return TTRPC_UNKNOWN;
    }
}

int
ttrpc_code_to_errno (int code)
{
  switch (code)
    {
    case TTRPC_OK:
      return 0;
    case TTRPC_CANCELLED:
      return ECANCELED;
    case TTRPC_INVALID_ARGUMENT:
    case TTRPC_OUT_OF_RANGE:
      return EINVAL;
    case TTRPC_DEADLINE_EXCEEDED:
      return ETIMEDOUT;
    case TTRPC_NOT_FOUND:
      return ENOENT;
    case TTRPC_ALREADY_EXISTS:
      return EEXIST;
    case TTRPC_PERMISSION_DENIED:
    case TTRPC_UNAUTHENTICATED:
      return EPERM;
    case TTRPC_RESOURCE_EXHAUSTED:
      return ENOSPC;
    case TTRPC_FAILED_PRECONDITION:
    case TTRPC_ABORTED:
      return EBUSY;
    case TTRPC_UNIMPLEMENTED:
      return ENOTSUP;
    case TTRPC_UNAVAILABLE:
      return EAGAIN;
    default:
      return EIO;
    }
}

/* ---- framing --------------------------------------------------------- */

static void
put_be32 (uint8_t *p, uint32_t v)
{
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static uint32_t
get_be32 (const uint8_t *p)
{
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

void
ttrpc_header_pack (const struct ttrpc_header *h, uint8_t out[TTRPC_HEADER_LEN])
{
  put_be32 (out, h->length);
  put_be32 (out + 4, h->stream_id);
  out[8] = h->type;
  out[9] = h->flags;
}

void
ttrpc_header_unpack (const uint8_t in[TTRPC_HEADER_LEN], struct ttrpc_header *h)
{
  h->length = get_be32 (in);
  h->stream_id = get_be32 (in + 4);
  h->type = in[8];
  h->flags = in[9];
}

void
ttrpc_reader_init (struct ttrpc_reader *r)
{
  memset (r, 0, sizeof (*r));
}

void
ttrpc_reader_release (struct ttrpc_reader *r)
{
  free (r->body);
  ttrpc_reader_init (r);
}

int
ttrpc_reader_feed (struct ttrpc_reader *r, const uint8_t *data, size_t len, size_t *used, struct ttrpc_header *h,
                   uint8_t **body)
{
  size_t off = 0;
  *body = NULL;
  while (off < len)
    {
      size_t n;
      if (r->skip > 0)
        {
          n = len - off < r->skip ? len - off : r->skip;
          r->skip -= (uint32_t)n;
          off += n;
          continue;
        }
      if (r->hdr_len < TTRPC_HEADER_LEN)
        {
          n = TTRPC_HEADER_LEN - r->hdr_len;
          if (n > len - off)
            n = len - off;
          memcpy (r->hdr + r->hdr_len, data + off, n);
          r->hdr_len += n;
          off += n;
          if (r->hdr_len < TTRPC_HEADER_LEN)
            break;
          /* The header is judged before a byte of the body is kept.  */
          ttrpc_header_unpack (r->hdr, &r->h);
          if (r->h.length > TTRPC_MAX_MESSAGE)
            {
              *h = r->h;
              r->skip = r->h.length;
              r->hdr_len = 0;
              *used = off;
              return TTRPC_READ_OVERSIZED;
            }
          r->body_len = 0;
          r->body = r->h.length > 0 ? xmalloc0 (r->h.length) : NULL;
        }
      n = r->h.length - r->body_len;
      if (n > len - off)
        n = len - off;
      if (n > 0)
        {
          memcpy (r->body + r->body_len, data + off, n);
          r->body_len += n;
          off += n;
        }
      if (r->body_len == r->h.length)
        {
          *h = r->h;
          *body = steal_ptr (&r->body);
          r->hdr_len = 0;
          r->body_len = 0;
          *used = off;
          return TTRPC_READ_FRAME;
        }
    }
  *used = off;
  return TTRPC_READ_MORE;
}

int
ttrpc_frame_pack (uint32_t stream_id, uint8_t type, const ProtobufCMessage *msg, uint8_t **out, size_t *len,
                  runhv_error_t *err)
{
  size_t size = msg != NULL ? protobuf_c_message_get_packed_size (msg) : 0;
  struct ttrpc_header h = { .stream_id = stream_id, .type = type };
  uint8_t *buf;
  if (size > TTRPC_MAX_MESSAGE)
    return runhv_make_error (err, EMSGSIZE, "ttrpc message of %zu bytes is over the %u byte limit", size,
                             TTRPC_MAX_MESSAGE);
  h.length = (uint32_t)size;
  buf = xmalloc0 (TTRPC_HEADER_LEN + size);
  ttrpc_header_pack (&h, buf);
  if (size > 0 && protobuf_c_message_pack (msg, buf + TTRPC_HEADER_LEN) != size)
    {
      free (buf);
      return runhv_make_error (err, EIO, "pack ttrpc message `%s`", msg->descriptor->name);
    }
  *out = buf;
  *len = TTRPC_HEADER_LEN + size;
  return 0;
}

/* Either message of the wire, by its descriptor; `what` names it.  */
static int
message_decode (const ProtobufCMessageDescriptor *d, const char *what, const uint8_t *buf, size_t len,
                ProtobufCMessage **out, runhv_error_t *err)
{
  ProtobufCMessage *m = protobuf_c_message_unpack (d, NULL, len, buf);
  if (m == NULL)
    return runhv_make_error (err, EINVAL, "malformed ttrpc %s of %zu bytes", what, len);
  *out = m;
  return 0;
}

int
ttrpc_request_decode (const uint8_t *buf, size_t len, Ttrpc__Request **out, runhv_error_t *err)
{
  return message_decode (&ttrpc__request__descriptor, "request", buf, len, (ProtobufCMessage **)out, err);
}

int
ttrpc_response_decode (const uint8_t *buf, size_t len, Ttrpc__Response **out, runhv_error_t *err)
{
  return message_decode (&ttrpc__response__descriptor, "response", buf, len, (ProtobufCMessage **)out, err);
}

/* ---- addresses ------------------------------------------------------- */

static int
unix_addr (const char *address, struct sockaddr_un *sa, const char **path, runhv_error_t *err)
{
  const char *p = address;
  if (strncmp (p, "unix://", 7) == 0)
    p += 7;
  if (*p == '\0')
    return runhv_make_error (err, EINVAL, "empty ttrpc address `%s`", address);
  if (strlen (p) >= sizeof (sa->sun_path))
    return runhv_make_error (err, ENAMETOOLONG, "ttrpc socket path `%s` is longer than %zu bytes", p,
                             sizeof (sa->sun_path) - 1);
  memset (sa, 0, sizeof (*sa));
  sa->sun_family = AF_UNIX;
  memcpy (sa->sun_path, p, strlen (p) + 1);
  *path = p;
  return 0;
}

/* A stream socket for the address, resolved into sa and path.  */
static int
unix_socket (const char *address, struct sockaddr_un *sa, const char **path, runhv_error_t *err)
{
  int s;
  if (unix_addr (address, sa, path, err) < 0)
    return -1;
  s = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0)
    return runhv_make_error (err, errno, "socket for `%s`", *path);
  return s;
}

int
ttrpc_listen (const char *address, int *fd, runhv_error_t *err)
{
  struct sockaddr_un sa;
  const char *path;
  cleanup_close int s = unix_socket (address, &sa, &path, err);
  cleanup_free char *dir = NULL;
  char *slash;
  if (s < 0)
    return -1;
  dir = xstrdup (path);
  slash = strrchr (dir, '/');
  if (slash != NULL && slash != dir)
    {
      *slash = '\0';
      if (mkdir_p (dir, 0700, err) < 0)
        return -1;
    }
  if (bind (s, (struct sockaddr *)&sa, sizeof (sa)) < 0)
    return runhv_make_error (err, errno, "bind `%s`", path);
  if (chmod (path, 0600) < 0 || listen (s, SOMAXCONN) < 0)
    {
      int e = errno;
      unlink (path);
      return runhv_make_error (err, e, "listen on `%s`", path);
    }
  *fd = steal_fd (&s);
  return 0;
}

int
ttrpc_dial (const char *address, int *fd, runhv_error_t *err)
{
  struct sockaddr_un sa;
  const char *path;
  cleanup_close int s = unix_socket (address, &sa, &path, err);
  if (s < 0)
    return -1;
  while (connect (s, (struct sockaddr *)&sa, sizeof (sa)) < 0)
    if (errno != EINTR)
      return runhv_make_error (err, errno, "connect to ttrpc socket `%s`", path);
  *fd = steal_fd (&s);
  return 0;
}

/* ---- server ---------------------------------------------------------- */

enum watch_kind
{
  WATCH_LISTENER = 1,
  WATCH_CONN = 2,
};

struct ttrpc_listener
{
  enum watch_kind kind; /* first: epoll data points here */
  int fd;
  struct ttrpc_listener *next;
};

struct ttrpc_conn
{
  enum watch_kind kind; /* first */
  int fd;
  struct ttrpc_server *s;
  struct ttrpc_conn *prev, *next;
  struct ttrpc_reader reader;
  uint8_t *out;
  size_t out_len, out_off, out_cap;
  struct ttrpc_call *calls; /* outstanding calls */
  size_t n_calls;
  uint32_t events; /* what epoll watches now */
  bool dead;       /* EOF, error or protocol violation: reaped by process() */
};

struct ttrpc_service
{
  const ProtobufCServiceDescriptor *desc;
  ttrpc_handler_fn *handlers; /* by method index, NULL: unimplemented */
  void *data;
};

struct ttrpc_server
{
  int epfd;
  struct ttrpc_listener *listeners;
  struct ttrpc_conn *conns;
  size_t n_conns;
  struct ttrpc_service *services;
  size_t n_services;
  /* the call whose handler runs now, and whether it has been answered */
  struct ttrpc_call *running;
  bool running_answered;
};

struct ttrpc_call
{
  struct ttrpc_conn *conn; /* NULL once the peer is gone */
  struct ttrpc_call *prev, *next;
  uint32_t stream_id;
  Ttrpc__Request *req;
  ProtobufCMessage *msg;
  const ProtobufCMethodDescriptor *method;
  struct ttrpc_server *server; /* for the answered flag only; NULL after free */
};

int
ttrpc_server_new (struct ttrpc_server **out, runhv_error_t *err)
{
  struct ttrpc_server *s;
  int epfd = epoll_create1 (EPOLL_CLOEXEC);
  if (epfd < 0)
    return runhv_make_error (err, errno, "epoll_create1");
  s = xmalloc0 (sizeof (*s));
  s->epfd = epfd;
  *out = s;
  return 0;
}

/* Take node out of the doubly linked list that head starts (calls of a
   connection, connections of a server).  */
#define UNLINK(head, node)                                                                                             \
  do                                                                                                                   \
    {                                                                                                                  \
      if ((node)->prev != NULL)                                                                                        \
        (node)->prev->next = (node)->next;                                                                             \
      else                                                                                                             \
        (head) = (node)->next;                                                                                         \
      if ((node)->next != NULL)                                                                                        \
        (node)->next->prev = (node)->prev;                                                                             \
    }                                                                                                                  \
  while (0)

static void
call_unlink (struct ttrpc_call *call)
{
  struct ttrpc_conn *c = call->conn;
  if (c == NULL)
    return;
  UNLINK (c->calls, call);
  c->n_calls--;
  call->conn = NULL;
  call->prev = call->next = NULL;
}

static void
call_free (struct ttrpc_call *call)
{
  if (call == NULL)
    return;
  call_unlink (call);
  if (call->server != NULL && call->server->running == call)
    {
      call->server->running_answered = true;
      call->server->running = NULL;
    }
  if (call->msg != NULL)
    protobuf_c_message_free_unpacked (call->msg, NULL);
  if (call->req != NULL)
    ttrpc__request__free_unpacked (call->req, NULL);
  free (call);
}

static void
conn_free (struct ttrpc_conn *c)
{
  /* Calls held by handlers outlive the connection: they only forget it.  */
  while (c->calls != NULL)
    {
      struct ttrpc_call *call = c->calls;
      call_unlink (call);
      call->server = NULL;
    }
  if (c->fd >= 0)
    {
      epoll_ctl (c->s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
      close (c->fd);
    }
  ttrpc_reader_release (&c->reader);
  free (c->out);
  free (c);
}

void
ttrpc_server_free (struct ttrpc_server *s)
{
  if (s == NULL)
    return;
  while (s->listeners != NULL)
    {
      struct ttrpc_listener *l = s->listeners;
      s->listeners = l->next;
      close (l->fd);
      free (l);
    }
  while (s->conns != NULL)
    {
      struct ttrpc_conn *c = s->conns;
      s->conns = c->next;
      conn_free (c);
    }
  for (size_t i = 0; i < s->n_services; i++)
    free (s->services[i].handlers);
  free (s->services);
  close (s->epfd);
  free (s);
}

int
ttrpc_server_register (struct ttrpc_server *s, const ProtobufCServiceDescriptor *service,
                       const struct ttrpc_method *methods, size_t n_methods, void *data, runhv_error_t *err)
{
  struct ttrpc_service *svc;
  cleanup_free ttrpc_handler_fn *handlers = NULL;
  for (size_t i = 0; i < s->n_services; i++)
    if (strcmp (s->services[i].desc->name, service->name) == 0)
      return runhv_make_error (err, EEXIST, "ttrpc service `%s` registered twice", service->name);
  handlers = xmalloc0 (sizeof (*handlers) * (service->n_methods > 0 ? service->n_methods : 1));
  for (size_t i = 0; i < n_methods; i++)
    {
      const ProtobufCMethodDescriptor *m = protobuf_c_service_descriptor_get_method_by_name (service, methods[i].name);
      if (m == NULL)
        return runhv_make_error (err, EINVAL, "ttrpc service `%s` has no method `%s`", service->name, methods[i].name);
      handlers[m - service->methods] = methods[i].handler;
    }
  s->services = xrealloc (s->services, sizeof (*s->services) * (s->n_services + 1));
  svc = &s->services[s->n_services++];
  svc->desc = service;
  svc->handlers = steal_ptr (&handlers);
  svc->data = data;
  return 0;
}

int
ttrpc_server_fd (const struct ttrpc_server *s)
{
  return s->epfd;
}

size_t
ttrpc_server_connections (const struct ttrpc_server *s)
{
  return s->n_conns;
}

/* fd, close-on-exec and non-blocking, in the server's epoll set for
   input, with `what` (a listener or a connection) as its data.  */
/* A new watch record of `size` bytes (a listener or a connection, both
   starting with kind and fd) for fd, which is made close-on-exec and
   non-blocking and put in the server's epoll set; NULL on error.  */
static void *
watch_new (struct ttrpc_server *s, int fd, size_t size, enum watch_kind kind, const char *name, runhv_error_t *err)
{
  struct ttrpc_listener *w = xmalloc0 (size);
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = w };
  w->kind = kind;
  w->fd = fd;
  if (set_cloexec (fd, true) < 0 || set_nonblock (fd, true) < 0 || epoll_ctl (s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
    {
      runhv_make_error (err, errno, "watch ttrpc %s fd %d", name, fd);
      free (w);
      return NULL;
    }
  return w;
}

int
ttrpc_server_add_listener (struct ttrpc_server *s, int fd, runhv_error_t *err)
{
  struct ttrpc_listener *l = watch_new (s, fd, sizeof (*l), WATCH_LISTENER, "listener", err);
  if (l == NULL)
    return -1;
  l->next = s->listeners;
  s->listeners = l;
  return 0;
}

int
ttrpc_server_add_conn (struct ttrpc_server *s, int fd, runhv_error_t *err)
{
  struct ttrpc_conn *c = watch_new (s, fd, sizeof (*c), WATCH_CONN, "connection", err);
  if (c == NULL)
    return -1;
  c->s = s;
  c->events = EPOLLIN;
  ttrpc_reader_init (&c->reader);
  c->next = s->conns;
  if (s->conns != NULL)
    s->conns->prev = c;
  s->conns = c;
  s->n_conns++;
  return 0;
}

static void
conn_update_events (struct ttrpc_conn *c)
{
  struct epoll_event ev = { 0 };
  size_t pending = c->out_len - c->out_off;
  uint32_t want = 0;
  if (c->dead)
    return;
  if (pending < TTRPC_OUT_HIGH)
    want |= EPOLLIN;
  if (pending > 0)
    want |= EPOLLOUT;
  if (want == c->events)
    return;
  ev.events = want;
  ev.data.ptr = c;
  if (epoll_ctl (c->s->epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
    {
      log_warning ("ttrpc: watch connection fd %d: %s", c->fd, strerror (errno));
      c->dead = true;
      return;
    }
  c->events = want;
}

/* Write what the socket takes now.  */
static void
conn_flush (struct ttrpc_conn *c)
{
  while (!c->dead && c->out_off < c->out_len)
    {
      ssize_t n = send (c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          if (errno == EAGAIN || errno == EWOULDBLOCK)
            break;
          log_debug ("ttrpc: write to connection fd %d: %s", c->fd, strerror (errno));
          c->dead = true;
          return;
        }
      c->out_off += (size_t)n;
    }
  if (c->out_off == c->out_len)
    c->out_off = c->out_len = 0;
  else if (c->out_off > c->out_cap / 2)
    {
      memmove (c->out, c->out + c->out_off, c->out_len - c->out_off);
      c->out_len -= c->out_off;
      c->out_off = 0;
    }
  conn_update_events (c);
}

static void
conn_queue (struct ttrpc_conn *c, const uint8_t *frame, size_t len)
{
  if (c == NULL || c->dead)
    return;
  if (c->out_len + len > c->out_cap)
    {
      size_t cap = c->out_cap > 0 ? c->out_cap : 4096;
      while (cap < c->out_len + len)
        cap *= 2;
      c->out = xrealloc (c->out, cap);
      c->out_cap = cap;
    }
  memcpy (c->out + c->out_len, frame, len);
  c->out_len += len;
  conn_flush (c);
}

/* Answer a stream: payload (already packed) or a status.  */
static void
conn_respond (struct ttrpc_conn *c, uint32_t stream_id, int code, const char *message, const uint8_t *payload,
              size_t payload_len)
{
  Ttrpc__Response resp = TTRPC__RESPONSE__INIT;
  Google__Rpc__Status st = GOOGLE__RPC__STATUS__INIT;
  cleanup_free uint8_t *frame = NULL;
  cleanup_free char *msg = NULL;
  runhv_error_t err = NULL;
  size_t len;
  int ret;
  if (c == NULL || c->dead)
    return;
  st.code = code;
  if (message != NULL)
    {
      msg = xstrndup (message, TTRPC_MAX_STATUS_MESSAGE);
      st.message = msg;
    }
  /* Like ttrpc's Go server, success carries an empty status too.  */
  resp.status = &st;
  if (code == TTRPC_OK && payload_len > 0)
    {
      resp.payload.data = (uint8_t *)payload;
      resp.payload.len = payload_len;
    }
  if (ttrpc_frame_pack (stream_id, TTRPC_TYPE_RESPONSE, &resp.base, &frame, &len, &err) < 0)
    {
      /* Only a payload near the limit can do this: say so instead.  */
      st.code = TTRPC_RESOURCE_EXHAUSTED;
      st.message = err->msg;
      resp.payload.data = NULL;
      resp.payload.len = 0;
      ret = ttrpc_frame_pack (stream_id, TTRPC_TYPE_RESPONSE, &resp.base, &frame, &len, NULL);
      runhv_error_release (&err);
      if (ret < 0)
        {
          c->dead = true;
          return;
        }
    }
  conn_queue (c, frame, len);
}

static void conn_respond_status (struct ttrpc_conn *c, uint32_t stream_id, int code, const char *fmt, ...)
  RUNHV_PRINTF (4, 5);

static void
conn_respond_status (struct ttrpc_conn *c, uint32_t stream_id, int code, const char *fmt, ...)
{
  cleanup_free char *msg = NULL;
  va_list ap;
  va_start (ap, fmt);
  msg = xvasprintf (fmt, ap);
  va_end (ap);
  conn_respond (c, stream_id, code, msg, NULL, 0);
}

const char *
ttrpc_call_method (const struct ttrpc_call *call)
{
  return call->req->method;
}

const char *
ttrpc_call_metadata (const struct ttrpc_call *call, const char *key)
{
  for (size_t i = 0; i < call->req->n_metadata; i++)
    {
      const Ttrpc__KeyValue *kv = call->req->metadata[i];
      if (kv != NULL && kv->key != NULL && strcasecmp (kv->key, key) == 0)
        return kv->value;
    }
  return NULL;
}

const char *
ttrpc_call_namespace (const struct ttrpc_call *call)
{
  return ttrpc_call_metadata (call, TTRPC_NAMESPACE_KEY);
}

uint32_t
ttrpc_call_stream_id (const struct ttrpc_call *call)
{
  return call->stream_id;
}

bool
ttrpc_call_peer_gone (const struct ttrpc_call *call)
{
  return call->conn == NULL || call->conn->dead;
}

int
ttrpc_call_reply (struct ttrpc_call *call, const ProtobufCMessage *resp, runhv_error_t *err)
{
  const ProtobufCMessageDescriptor *want = call->method->output;
  cleanup_free uint8_t *payload = NULL;
  size_t size = 0;
  int ret = 0;
  if (resp == NULL ? strcmp (want->name, "google.protobuf.Empty") != 0 : resp->descriptor != want)
    {
      ret = runhv_make_error (err, EINVAL, "ttrpc %s/%s answered with `%s`, not `%s`", call->req->service,
                              call->req->method, resp != NULL ? resp->descriptor->name : "nothing", want->name);
      conn_respond (call->conn, call->stream_id, TTRPC_INTERNAL, "shim answered with the wrong message type", NULL, 0);
      call_free (call);
      return ret;
    }
  if (resp != NULL)
    size = protobuf_c_message_get_packed_size (resp);
  if (size > TTRPC_MAX_MESSAGE)
    {
      ret = runhv_make_error (err, EMSGSIZE, "ttrpc %s/%s answer of %zu bytes is over the %u byte limit",
                              call->req->service, call->req->method, size, TTRPC_MAX_MESSAGE);
      conn_respond_status (call->conn, call->stream_id, TTRPC_RESOURCE_EXHAUSTED,
                           "answer of %zu bytes is over the %u byte limit", size, TTRPC_MAX_MESSAGE);
      call_free (call);
      return ret;
    }
  if (size > 0)
    {
      payload = xmalloc0 (size);
      protobuf_c_message_pack (resp, payload);
    }
  conn_respond (call->conn, call->stream_id, TTRPC_OK, NULL, payload, size);
  call_free (call);
  return 0;
}

void
ttrpc_call_fail (struct ttrpc_call *call, int code, const char *fmt, ...)
{
  cleanup_free char *msg = NULL;
  va_list ap;
  va_start (ap, fmt);
  msg = xvasprintf (fmt, ap);
  va_end (ap);
  if (code == TTRPC_OK)
    code = TTRPC_UNKNOWN; /* a failure never reads as success */
  conn_respond (call->conn, call->stream_id, code, msg, NULL, 0);
  call_free (call);
}

void
ttrpc_call_fail_error (struct ttrpc_call *call, runhv_error_t *err)
{
  int code = TTRPC_UNKNOWN;
  const char *msg = "unknown error";
  if (err != NULL && *err != NULL)
    {
      code = ttrpc_code_from_errno ((*err)->status);
      if ((*err)->msg != NULL)
        msg = (*err)->msg;
    }
  conn_respond (call->conn, call->stream_id, code, msg, NULL, 0);
  call_free (call);
  if (err != NULL)
    runhv_error_release (err);
}

static const struct ttrpc_service *
find_service (const struct ttrpc_server *s, const char *name)
{
  for (size_t i = 0; i < s->n_services; i++)
    if (strcmp (s->services[i].desc->name, name) == 0)
      return &s->services[i];
  return NULL;
}

/* One request frame: decode, resolve, run the handler.  body is taken.  */
static void
conn_dispatch (struct ttrpc_conn *c, const struct ttrpc_header *h, uint8_t *body_in)
{
  struct ttrpc_server *s = c->s;
  cleanup_free uint8_t *body = body_in;
  Ttrpc__Request *req = NULL;
  const struct ttrpc_service *svc;
  const ProtobufCMethodDescriptor *m;
  ttrpc_handler_fn handler;
  struct ttrpc_call *call;
  runhv_error_t err = NULL;
  int ret;

  if (h->type != TTRPC_TYPE_REQUEST)
    return; /* ignored for compatibility, as ttrpc does */
  if (ttrpc_request_decode (body, h->length, &req, &err) < 0)
    {
      conn_respond_status (c, h->stream_id, TTRPC_INVALID_ARGUMENT, "unmarshal request error: %s", err->msg);
      runhv_error_release (&err);
      return;
    }
  if (h->stream_id % 2 != 1)
    {
      conn_respond_status (c, h->stream_id, TTRPC_INVALID_ARGUMENT,
                           "StreamID must be odd for client initiated streams");
      goto out;
    }
  svc = find_service (s, req->service);
  if (svc == NULL)
    {
      conn_respond_status (c, h->stream_id, TTRPC_UNIMPLEMENTED, "service %s", req->service);
      goto out;
    }
  m = protobuf_c_service_descriptor_get_method_by_name (svc->desc, req->method);
  handler = m != NULL ? svc->handlers[m - svc->desc->methods] : NULL;
  if (handler == NULL)
    {
      conn_respond_status (c, h->stream_id, TTRPC_UNIMPLEMENTED, "method %s", req->method);
      goto out;
    }
  if (c->n_calls >= TTRPC_MAX_CALLS_PER_CONN)
    {
      conn_respond_status (c, h->stream_id, TTRPC_RESOURCE_EXHAUSTED, "more than %d calls outstanding",
                           TTRPC_MAX_CALLS_PER_CONN);
      goto out;
    }

  call = xmalloc0 (sizeof (*call));
  call->stream_id = h->stream_id;
  call->method = m;
  call->req = steal_ptr (&req);
  call->msg = protobuf_c_message_unpack (m->input, NULL, call->req->payload.len, call->req->payload.data);
  if (call->msg == NULL)
    {
      conn_respond_status (c, h->stream_id, TTRPC_INTERNAL, "ttrpc: error unmarshalling payload: malformed %s",
                           m->input->name);
      call_free (call);
      goto out;
    }
  call->conn = c;
  call->server = s;
  call->next = c->calls;
  if (c->calls != NULL)
    c->calls->prev = call;
  c->calls = call;
  c->n_calls++;

  s->running = call;
  s->running_answered = false;
  ret = handler (call, call->msg, svc->data, &err);
  if (s->running_answered)
    {
      if (ret < 0)
        {
          log_warning ("ttrpc: %s/%s failed after answering: %s", svc->desc->name, m->name,
                       err != NULL ? err->msg : "unknown error");
          runhv_error_release (&err);
        }
    }
  else
    {
      s->running = NULL;
      if (ret < 0)
        ttrpc_call_fail_error (call, &err);
      else if (ret != TTRPC_DEFER)
        {
          log_error ("ttrpc: %s/%s returned without answering", svc->desc->name, m->name);
          ttrpc_call_fail (call, TTRPC_INTERNAL, "%s/%s returned without answering", svc->desc->name, m->name);
        }
    }
  s->running = NULL;

out:
  if (req != NULL)
    ttrpc__request__free_unpacked (req, NULL);
}

static void
conn_read (struct ttrpc_conn *c)
{
  uint8_t buf[TTRPC_READ_CHUNK];
  ssize_t n;
  size_t off = 0;
  do
    n = recv (c->fd, buf, sizeof (buf), MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    {
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        return;
      if (errno != ECONNRESET)
        log_debug ("ttrpc: read from connection fd %d: %s", c->fd, strerror (errno));
      c->dead = true;
      return;
    }
  if (n == 0)
    {
      c->dead = true; /* the client went away: its answers go nowhere */
      return;
    }
  while (off < (size_t)n && !c->dead)
    {
      struct ttrpc_header h;
      uint8_t *body = NULL;
      size_t used = 0;
      int r = ttrpc_reader_feed (&c->reader, buf + off, (size_t)n - off, &used, &h, &body);
      off += used;
      if (r == TTRPC_READ_OVERSIZED)
        conn_respond_status (c, h.stream_id, TTRPC_RESOURCE_EXHAUSTED,
                             "message length %u exceed maximum message size of %u", h.length, TTRPC_MAX_MESSAGE);
      else if (r == TTRPC_READ_FRAME)
        conn_dispatch (c, &h, body);
    }
}

static void
server_accept (struct ttrpc_server *s, struct ttrpc_listener *l)
{
  struct ucred cred;
  socklen_t len = sizeof (cred);
  runhv_error_t err = NULL;
  int fd = accept4 (l->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (fd < 0)
    {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
        log_warning ("ttrpc: accept: %s", strerror (errno));
      return;
    }
  if (getsockopt (fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
    {
      log_warning ("ttrpc: peer credentials: %s", strerror (errno));
      close (fd);
      return;
    }
  if (cred.uid != geteuid () || cred.gid != getegid ())
    {
      log_warning ("ttrpc: refused a connection from uid %u gid %u (pid %d): not our user", (unsigned)cred.uid,
                   (unsigned)cred.gid, (int)cred.pid);
      close (fd);
      return;
    }
  if (s->n_conns >= TTRPC_MAX_CONNS)
    {
      log_warning ("ttrpc: refused a connection: %d connections already open", TTRPC_MAX_CONNS);
      close (fd);
      return;
    }
  if (ttrpc_server_add_conn (s, fd, &err) < 0)
    {
      log_warning ("ttrpc: %s", err->msg);
      runhv_error_release (&err);
      close (fd);
    }
}

static void
server_reap (struct ttrpc_server *s)
{
  struct ttrpc_conn *c = s->conns;
  while (c != NULL)
    {
      struct ttrpc_conn *next = c->next;
      if (c->dead)
        {
          UNLINK (s->conns, c);
          s->n_conns--;
          conn_free (c);
        }
      c = next;
    }
}

int
ttrpc_server_process (struct ttrpc_server *s, int timeout_ms, runhv_error_t *err)
{
  struct epoll_event evs[32];
  int n;
  do
    n = epoll_wait (s->epfd, evs, 32, timeout_ms);
  while (n < 0 && errno == EINTR && timeout_ms == 0);
  if (n < 0)
    {
      if (errno == EINTR)
        return 0;
      return runhv_make_error (err, errno, "wait for ttrpc connections");
    }
  for (int i = 0; i < n; i++)
    {
      enum watch_kind kind = *(enum watch_kind *)evs[i].data.ptr;
      if (kind == WATCH_LISTENER)
        {
          server_accept (s, evs[i].data.ptr);
          continue;
        }
      struct ttrpc_conn *c = evs[i].data.ptr;
      if (c->dead)
        continue;
      if (evs[i].events & EPOLLOUT)
        conn_flush (c);
      if (!c->dead && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        conn_read (c);
    }
  server_reap (s);
  return 0;
}

static int64_t
now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
remaining_ms (int64_t deadline)
{
  int64_t left;
  if (deadline < 0)
    return -1;
  left = deadline - now_ms ();
  return left > 0 ? (int)(left > 1000000 ? 1000000 : left) : 0;
}

int
ttrpc_server_flush (struct ttrpc_server *s, int timeout_ms, runhv_error_t *err)
{
  int64_t deadline = timeout_ms < 0 ? -1 : now_ms () + timeout_ms;
  for (;;)
    {
      size_t pending = 0, n = 0, i = 0;
      cleanup_free struct pollfd *fds = NULL;
      for (struct ttrpc_conn *c = s->conns; c != NULL; c = c->next)
        {
          if (!c->dead)
            conn_flush (c);
          if (!c->dead && c->out_len > c->out_off)
            pending++;
        }
      if (pending == 0)
        break;
      if (remaining_ms (deadline) == 0)
        return runhv_make_error (err, ETIMEDOUT, "flush ttrpc answers: %zu connections still not written", pending);
      fds = xmalloc0 (sizeof (*fds) * pending);
      for (struct ttrpc_conn *c = s->conns; c != NULL && i < pending; c = c->next)
        if (!c->dead && c->out_len > c->out_off)
          {
            fds[i].fd = c->fd;
            fds[i].events = POLLOUT;
            i++;
          }
      n = i;
      if (poll (fds, n, remaining_ms (deadline)) < 0 && errno != EINTR)
        return runhv_make_error (err, errno, "flush ttrpc answers");
    }
  server_reap (s);
  return 0;
}

/* ---- client ---------------------------------------------------------- */

struct ttrpc_client
{
  int fd;
  uint32_t next_id;
  struct ttrpc_reader reader;
  uint8_t *in; /* bytes read but not yet fed */
  size_t in_off, in_len;
  int last_code;
};

struct ttrpc_client *
ttrpc_client_new (int fd)
{
  struct ttrpc_client *c = xmalloc0 (sizeof (*c));
  c->fd = fd;
  c->next_id = 1;
  c->in = xmalloc0 (TTRPC_READ_CHUNK);
  ttrpc_reader_init (&c->reader);
  return c;
}

void
ttrpc_client_free (struct ttrpc_client *c)
{
  if (c == NULL)
    return;
  if (c->fd >= 0)
    close (c->fd);
  ttrpc_reader_release (&c->reader);
  free (c->in);
  free (c);
}

int
ttrpc_client_connect (const char *address, struct ttrpc_client **out, runhv_error_t *err)
{
  int fd;
  if (ttrpc_dial (address, &fd, err) < 0)
    return -1;
  *out = ttrpc_client_new (fd);
  return 0;
}

int
ttrpc_client_last_code (const struct ttrpc_client *c)
{
  return c->last_code;
}

static int
client_wait (struct ttrpc_client *c, short events, int64_t deadline, const char *what, runhv_error_t *err)
{
  struct pollfd p = { .fd = c->fd, .events = events };
  int n;
  do
    n = poll (&p, 1, remaining_ms (deadline));
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return runhv_make_error (err, errno, "%s", what);
  if (n == 0)
    return runhv_make_error (err, ETIMEDOUT, "%s", what);
  return 0;
}

static int
client_send (struct ttrpc_client *c, const uint8_t *buf, size_t len, int64_t deadline, const char *what,
             runhv_error_t *err)
{
  size_t off = 0;
  while (off < len)
    {
      ssize_t n = send (c->fd, buf + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          if (errno != EAGAIN && errno != EWOULDBLOCK)
            return runhv_make_error (err, errno, "%s: send", what);
          if (client_wait (c, POLLOUT, deadline, what, err) < 0)
            return -1;
          continue;
        }
      off += (size_t)n;
    }
  return 0;
}

/* Read frames until the response to stream_id; *body is taken.  */
static int
client_recv (struct ttrpc_client *c, uint32_t stream_id, int64_t deadline, const char *what, uint8_t **body,
             uint32_t *len, runhv_error_t *err)
{
  for (;;)
    {
      while (c->in_off < c->in_len)
        {
          struct ttrpc_header h;
          uint8_t *b = NULL;
          size_t used = 0;
          int r = ttrpc_reader_feed (&c->reader, c->in + c->in_off, c->in_len - c->in_off, &used, &h, &b);
          c->in_off += used;
          if (r == TTRPC_READ_OVERSIZED && h.stream_id == stream_id)
            return runhv_make_error (err, EMSGSIZE, "%s: answer of %u bytes is over the %u byte limit", what, h.length,
                                     TTRPC_MAX_MESSAGE);
          if (r != TTRPC_READ_FRAME)
            continue;
          if (h.type != TTRPC_TYPE_RESPONSE || h.stream_id != stream_id)
            {
              free (b); /* an answer to an abandoned call, or nothing we know */
              continue;
            }
          *body = b;
          *len = h.length;
          return 0;
        }
      c->in_off = c->in_len = 0;
      for (;;)
        {
          ssize_t n = recv (c->fd, c->in, TTRPC_READ_CHUNK, MSG_DONTWAIT);
          if (n > 0)
            {
              c->in_len = (size_t)n;
              break;
            }
          if (n == 0)
            return runhv_make_error (err, EPIPE, "%s: connection closed before the answer", what);
          if (errno == EINTR)
            continue;
          if (errno != EAGAIN && errno != EWOULDBLOCK)
            return runhv_make_error (err, errno, "%s: receive", what);
          if (client_wait (c, POLLIN, deadline, what, err) < 0)
            return -1;
        }
    }
}

int
ttrpc_client_call (struct ttrpc_client *c, const char *service, const char *method, const char *ns,
                   const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
                   int timeout_ms, runhv_error_t *err)
{
  Ttrpc__Request r = TTRPC__REQUEST__INIT;
  Ttrpc__KeyValue kv = TTRPC__KEY_VALUE__INIT;
  Ttrpc__KeyValue *md[1] = { &kv };
  Ttrpc__Response *answer = NULL;
  cleanup_free uint8_t *payload = NULL, *frame = NULL, *body = NULL;
  cleanup_free char *what = xasprintf ("%s/%s", service, method);
  int64_t deadline = timeout_ms < 0 ? -1 : now_ms () + timeout_ms;
  uint32_t stream_id, body_len = 0;
  size_t size = 0, frame_len;
  int ret = -1;

  c->last_code = TTRPC_OK;
  if (resp != NULL)
    *resp = NULL;
  if (c->next_id > UINT32_MAX - 2)
    return runhv_make_error (err, EOVERFLOW, "%s: stream ids exhausted, reconnect", what);
  stream_id = c->next_id;
  c->next_id += 2;

  if (req != NULL)
    size = protobuf_c_message_get_packed_size (req);
  if (size > 0)
    {
      payload = xmalloc0 (size);
      protobuf_c_message_pack (req, payload);
    }
  r.service = (char *)service;
  r.method = (char *)method;
  r.payload.data = payload;
  r.payload.len = size;
  if (timeout_ms > 0)
    r.timeout_nano = (int64_t)timeout_ms * 1000000;
  if (ns != NULL)
    {
      kv.key = (char *)TTRPC_NAMESPACE_KEY;
      kv.value = (char *)ns;
      r.metadata = md;
      r.n_metadata = 1;
    }
  if (ttrpc_frame_pack (stream_id, TTRPC_TYPE_REQUEST, &r.base, &frame, &frame_len, err) < 0)
    return runhv_error_wrap (err, "%s", what);
  if (client_send (c, frame, frame_len, deadline, what, err) < 0)
    return -1;
  if (client_recv (c, stream_id, deadline, what, &body, &body_len, err) < 0)
    return -1;
  if (ttrpc_response_decode (body, body_len, &answer, err) < 0)
    return runhv_error_wrap (err, "%s", what);
  if (answer->status != NULL && answer->status->code != TTRPC_OK)
    {
      c->last_code = answer->status->code;
      ret = runhv_error (err, "%s: %s: %s", what, ttrpc_code_name (answer->status->code),
                         answer->status->message != NULL ? answer->status->message : "");
      if (err != NULL && *err != NULL)
        (*err)->status = ttrpc_code_to_errno (answer->status->code);
      goto out;
    }
  if (resp != NULL && resp_desc != NULL)
    {
      *resp = protobuf_c_message_unpack (resp_desc, NULL, answer->payload.len, answer->payload.data);
      if (*resp == NULL)
        {
          ret = runhv_make_error (err, EINVAL, "%s: malformed `%s` in the answer", what, resp_desc->name);
          goto out;
        }
    }
  ret = 0;
out:
  ttrpc__response__free_unpacked (answer, NULL);
  return ret;
}

/* ---- helpers --------------------------------------------------------- */

int
ttrpc_any_pack (Google__Protobuf__Any *any, const char *type_url, const ProtobufCMessage *msg, runhv_error_t *err)
{
  size_t size = msg != NULL ? protobuf_c_message_get_packed_size (msg) : 0;
  if (size > TTRPC_MAX_MESSAGE)
    return runhv_make_error (err, EMSGSIZE, "`%s` of %zu bytes is over the %u byte limit", type_url, size,
                             TTRPC_MAX_MESSAGE);
  any->type_url = xstrdup (type_url);
  any->value.len = size;
  any->value.data = size > 0 ? xmalloc0 (size) : NULL;
  if (size > 0)
    protobuf_c_message_pack (msg, any->value.data);
  return 0;
}

void
ttrpc_any_release (Google__Protobuf__Any *any)
{
  if (any == NULL)
    return;
  if (any->type_url != NULL && any->type_url != protobuf_c_empty_string)
    free (any->type_url);
  free (any->value.data);
  any->type_url = (char *)protobuf_c_empty_string;
  any->value.data = NULL;
  any->value.len = 0;
}

void
ttrpc_timestamp_set (Google__Protobuf__Timestamp *ts, const struct timespec *t)
{
  ts->seconds = (int64_t)t->tv_sec;
  ts->nanos = (int32_t)t->tv_nsec;
}

void
ttrpc_timestamp_now (Google__Protobuf__Timestamp *ts)
{
  struct timespec t;
  clock_gettime (CLOCK_REALTIME, &t);
  ttrpc_timestamp_set (ts, &t);
}

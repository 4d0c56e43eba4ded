#include "proto/agent-proto.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/json.h"
#include "oci/state.h"
#include "core/util.h"
#include "core/banned.h"

static void
put32 (uint8_t *p, uint32_t v)
{
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static uint32_t
get32 (const uint8_t *p)
{
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

void
frame_header_encode (uint8_t out[AGENT_PROTO_HEADER], uint8_t type, uint32_t id, uint32_t len)
{
  put32 (out, AGENT_PROTO_MAGIC);
  out[4] = AGENT_PROTO_VERSION;
  out[5] = type;
  out[6] = 0;
  out[7] = 0;
  put32 (out + 8, id);
  put32 (out + 12, len);
}

void
frame_reader_init (struct frame_reader *r)
{
  memset (r, 0, sizeof (*r));
}

void
frame_reader_release (struct frame_reader *r)
{
  free (r->buf);
  memset (r, 0, sizeof (*r));
}

void
frame_reader_feed (struct frame_reader *r, const void *data, size_t n)
{
  if (n == 0)
    return; /* nothing to add, and r->buf may still be NULL */
  if (r->consumed > 0)
    {
      memmove (r->buf, r->buf + r->consumed, r->len - r->consumed);
      r->len -= r->consumed;
      r->consumed = 0;
    }
  if (r->len + n > r->cap)
    {
      size_t cap = r->cap ? r->cap : 4096;
      while (cap < r->len + n)
        cap *= 2;
      r->buf = xrealloc (r->buf, cap);
      r->cap = cap;
    }
  memcpy (r->buf + r->len, data, n);
  r->len += n;
}

int
frame_reader_next (struct frame_reader *r, struct frame *f, runhv_error_t *err)
{
  size_t avail = r->len - r->consumed;
  const uint8_t *h;
  uint32_t len, id;
  uint8_t type;

  if (avail < AGENT_PROTO_HEADER)
    return 0;
  h = r->buf + r->consumed;
  /* Judge the header as soon as it is complete: a bad length is refused
     before a single payload byte is buffered.  */
  if (get32 (h) != AGENT_PROTO_MAGIC)
    return runhv_error (err, "agent protocol: bad magic 0x%08x (not a runhv agent peer)", get32 (h));
  if (h[4] != AGENT_PROTO_VERSION)
    return runhv_error (err,
                        "agent protocol: version %u is not supported (this side speaks %u): the guest initramfs "
                        "and the host binaries come from different runhv builds; re-run scripts/provision-guest.sh",
                        h[4], AGENT_PROTO_VERSION);
  type = h[5];
  if (type < FRAME_REQUEST || type > FRAME_XON)
    return runhv_error (err, "agent protocol: unknown frame type %u", type);
  if (h[6] != 0 || h[7] != 0)
    return runhv_error (err, "agent protocol: reserved flags are set");
  id = get32 (h + 8);
  len = get32 (h + 12);
  if (len > AGENT_PROTO_MAX_PAYLOAD)
    return runhv_error (err, "agent protocol: frame of %u bytes is over the %u byte limit", len,
                        AGENT_PROTO_MAX_PAYLOAD);
  if ((type == FRAME_CLOSE || type == FRAME_XOFF || type == FRAME_XON) && len != 0)
    return runhv_error (err, "agent protocol: a close, xoff or xon frame carries no payload");
  if ((type == FRAME_DATA || type == FRAME_CLOSE || type == FRAME_XOFF || type == FRAME_XON) && id == 0)
    return runhv_error (err, "agent protocol: stream id 0 is reserved");
  if (avail < AGENT_PROTO_HEADER + (size_t)len)
    return 0;
  f->type = type;
  f->id = id;
  f->len = len;
  f->payload = (uint8_t *)h + AGENT_PROTO_HEADER;
  r->consumed += AGENT_PROTO_HEADER + len;
  return 1;
}

void
outq_init (struct outq *q)
{
  memset (q, 0, sizeof (*q));
}

void
outq_release (struct outq *q)
{
  free (q->buf);
  memset (q, 0, sizeof (*q));
}

bool
outq_empty (const struct outq *q)
{
  return q->off >= q->len;
}

size_t
outq_pending (const struct outq *q)
{
  return q->len - q->off;
}

int
outq_push (struct outq *q, uint8_t type, uint32_t id, const void *payload, size_t len, runhv_error_t *err)
{
  size_t need;
  if (len > AGENT_PROTO_MAX_PAYLOAD)
    return runhv_error (err, "agent protocol: refusing to send %zu bytes in one frame", len);
  if (q->off > 0 && q->off == q->len)
    q->off = q->len = 0;
  need = q->len + AGENT_PROTO_HEADER + len;
  if (need > q->cap)
    {
      size_t cap = q->cap ? q->cap : 4096;
      if (q->off > 0)
        {
          memmove (q->buf, q->buf + q->off, q->len - q->off);
          q->len -= q->off;
          q->off = 0;
          need = q->len + AGENT_PROTO_HEADER + len;
        }
      while (cap < need)
        cap *= 2;
      q->buf = xrealloc (q->buf, cap);
      q->cap = cap;
    }
  frame_header_encode (q->buf + q->len, type, id, (uint32_t)len);
  if (len > 0)
    memcpy (q->buf + q->len + AGENT_PROTO_HEADER, payload, len);
  q->len += AGENT_PROTO_HEADER + len;
  return 0;
}

int
outq_push_json (struct outq *q, uint8_t type, uint32_t id, json_t *j, runhv_error_t *err)
{
  cleanup_free char *text = json_dumps (j, JSON_COMPACT);
  if (text == NULL)
    return runhv_error (err, "agent protocol: cannot serialize a message");
  return outq_push (q, type, id, text, strlen (text), err);
}

int
outq_flush (struct outq *q, int fd)
{
  while (q->off < q->len)
    {
      ssize_t n = write (fd, q->buf + q->off, q->len - q->off);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          if (errno == EAGAIN)
            return 0;
          return -1;
        }
      q->off += (size_t)n;
    }
  q->off = q->len = 0;
  return 0;
}

int
proto_json (const struct frame *f, json_t **out, runhv_error_t *err)
{
  json_t *j;
  json_error_t je;
  j = json_loadb ((const char *)f->payload, f->len, JSON_REJECT_DUPLICATES, &je);
  if (j == NULL)
    return runhv_error (err, "agent protocol: invalid JSON in a frame at column %d: %s", je.column, je.text);
  if (!json_is_object (j))
    {
      json_decref (j);
      return runhv_error (err, "agent protocol: a message must be a JSON object");
    }
  *out = j;
  return 0;
}

static const char *const op_names[] = {
  [OP_HELLO] = "hello",       [OP_CREATE] = "create", [OP_START] = "start",   [OP_KILL] = "kill",
  [OP_EXEC] = "exec",         [OP_PS] = "ps",         [OP_PAUSE] = "pause",   [OP_RESUME] = "resume",
  [OP_UPDATE] = "update",     [OP_STATS] = "stats",   [OP_RESIZE] = "resize", [OP_DELETE] = "delete",
  [OP_SHUTDOWN] = "shutdown",
};

const char *
proto_op_name (enum agent_op op)
{
  if ((size_t)op < sizeof (op_names) / sizeof (op_names[0]) && op_names[op])
    return op_names[op];
  return "?";
}

static int
need_id (json_t *req, const char *key, bool required, runhv_error_t *err)
{
  json_t *v = json_object_get (req, key);
  if (v == NULL)
    return required ? runhv_error (err, "agent protocol: `%s` is missing", key) : 0;
  if (!json_is_string (v))
    return runhv_error (err, "agent protocol: `%s` must be a string", key);
  if (state_validate_id (json_string_value (v), err) < 0)
    return runhv_error_wrap (err, "agent protocol: `%s`", key);
  return 0;
}

static int
need_uint (json_t *req, const char *key, bool required, uint64_t lo, uint64_t hi, runhv_error_t *err)
{
  json_t *v = json_object_get (req, key);
  if (v == NULL)
    return required ? runhv_error (err, "agent protocol: `%s` is missing", key) : 0;
  if (!json_is_integer (v) || json_integer_value (v) < 0 || (uint64_t)json_integer_value (v) < lo
      || (uint64_t)json_integer_value (v) > hi)
    return runhv_error (err, "agent protocol: `%s` must be an integer from %llu to %llu", key, (unsigned long long)lo,
                        (unsigned long long)hi);
  return 0;
}

static int
need_object (json_t *req, const char *key, runhv_error_t *err)
{
  json_t *v = json_object_get (req, key);
  if (!json_is_object (v))
    return runhv_error (err, "agent protocol: `%s` must be an object", key);
  return 0;
}

static int
check_stdio (json_t *req, runhv_error_t *err)
{
  json_t *s = json_object_get (req, "stdio"), *v;
  const char *k;
  if (s == NULL)
    return 0;
  if (!json_is_object (s))
    return runhv_error (err, "agent protocol: `stdio` must be an object");
  json_object_foreach (s, k, v)
  {
    if (strcmp (k, "stdin") != 0 && strcmp (k, "stdout") != 0 && strcmp (k, "stderr") != 0
        && strcmp (k, "terminal") != 0)
      return runhv_error (err, "agent protocol: unknown stdio stream `%s`", k);
    if (!json_is_integer (v) || json_integer_value (v) <= 0 || json_integer_value (v) > UINT32_MAX)
      return runhv_error (err, "agent protocol: stdio.%s must be a stream id (1 to 4294967295)", k);
  }
  if (json_object_get (s, "terminal") && (json_object_get (s, "stdout") || json_object_get (s, "stderr")))
    return runhv_error (err, "agent protocol: a terminal replaces stdout and stderr");
  return 0;
}

size_t
proto_hello_seed (json_t *req, unsigned char out[AGENT_HELLO_SEED_BYTES])
{
  const char *hex = json_string_value (json_object_get (req, "seed"));
  if (hex == NULL || strlen (hex) != 2 * AGENT_HELLO_SEED_BYTES)
    return 0;
  for (size_t i = 0; i < AGENT_HELLO_SEED_BYTES; i++)
    {
      int hi = hex_digit_value ((unsigned char)hex[2 * i]), lo = hex_digit_value ((unsigned char)hex[2 * i + 1]);
      if (hi < 0 || lo < 0)
        return 0;
      out[i] = (unsigned char)(hi << 4 | lo);
    }
  return AGENT_HELLO_SEED_BYTES;
}

/* hello: version; template (bool); seed (64 hex digits);
   realtime ([seconds, nanoseconds] since the epoch); net (the pod's
   IP/PREFIX,GATEWAY,MAC,MTU; the agent parses it whole).  */
static int
check_hello (json_t *req, runhv_error_t *err)
{
  json_t *t = json_object_get (req, "template"), *rt = json_object_get (req, "realtime"),
         *net = json_object_get (req, "net");
  unsigned char seed[AGENT_HELLO_SEED_BYTES];
  if (need_uint (req, "version", true, 1, 255, err) < 0)
    return -1;
  if (t != NULL && !json_is_boolean (t))
    return runhv_error (err, "agent protocol: `template` must be true or false");
  if (json_object_get (req, "seed") != NULL && proto_hello_seed (req, seed) != AGENT_HELLO_SEED_BYTES)
    return runhv_error (err, "agent protocol: `seed` must be %d hex digits", 2 * AGENT_HELLO_SEED_BYTES);
  if (rt != NULL
      && (!json_is_array (rt) || json_array_size (rt) != 2 || !json_is_integer (json_array_get (rt, 0))
          || !json_is_integer (json_array_get (rt, 1)) || json_integer_value (json_array_get (rt, 0)) < 0
          || json_integer_value (json_array_get (rt, 0)) > (json_int_t)1 << 40
          || json_integer_value (json_array_get (rt, 1)) < 0
          || json_integer_value (json_array_get (rt, 1)) > 999999999))
    return runhv_error (err, "agent protocol: `realtime` must be [seconds, nanoseconds] since the epoch");
  if (net != NULL
      && (!json_is_string (net) || json_string_length (net) == 0 || json_string_length (net) > 128
          || strspn (json_string_value (net), "0123456789abcdefABCDEF.:/,-") != json_string_length (net)))
    return runhv_error (err, "agent protocol: `net` must be IP/PREFIX,GATEWAY,MAC,MTU");
  if (json_is_true (t) && (json_object_get (req, "seed") != NULL || rt != NULL || net != NULL))
    return runhv_error (err, "agent protocol: a template's hello carries no seed, time or network (they are each VM's "
                             "own)");
  return 0;
}

int
proto_validate_request (json_t *req, enum agent_op *op, runhv_error_t *err)
{
  json_t *o = json_object_get (req, "op");
  const char *name;
  size_t i;
  if (!json_is_string (o))
    return runhv_error (err, "agent protocol: a request needs a string `op`");
  name = json_string_value (o);
  for (i = 1; i < sizeof (op_names) / sizeof (op_names[0]); i++)
    if (op_names[i] && strcmp (op_names[i], name) == 0)
      break;
  if (i == sizeof (op_names) / sizeof (op_names[0]))
    return runhv_error (err, "agent protocol: unknown op `%.64s`", name);
  *op = (enum agent_op)i;
  switch (*op)
    {
    case OP_HELLO:
      return check_hello (req, err);
    case OP_CREATE:
      {
        json_t *rootfs = json_object_get (req, "rootfs");
        if (need_id (req, "id", true, err) < 0 || need_object (req, "spec", err) < 0 || check_stdio (req, err) < 0)
          return -1;
        if (!json_is_string (rootfs) || json_string_value (rootfs)[0] != '/'
            || strstr (json_string_value (rootfs), "..") != NULL || json_string_length (rootfs) > 4096)
          return runhv_error (err, "agent protocol: `rootfs` must be an absolute path without `..`");
        return 0;
      }
    case OP_EXEC:
      if (need_id (req, "id", true, err) < 0 || need_id (req, "exec_id", true, err) < 0
          || need_object (req, "process", err) < 0 || check_stdio (req, err) < 0)
        return -1;
      return 0;
    case OP_KILL:
      if (need_id (req, "id", true, err) < 0 || need_id (req, "exec_id", false, err) < 0
          || need_uint (req, "signal", true, 0, 64, err) < 0)
        return -1;
      if (json_object_get (req, "all") && !json_is_boolean (json_object_get (req, "all")))
        return runhv_error (err, "agent protocol: `all` must be true or false");
      return 0;
    case OP_UPDATE:
      if (need_id (req, "id", true, err) < 0 || need_object (req, "resources", err) < 0)
        return -1;
      return 0;
    case OP_RESIZE:
      if (need_uint (req, "stream", true, 1, UINT32_MAX, err) < 0 || need_uint (req, "rows", true, 0, 65535, err) < 0
          || need_uint (req, "cols", true, 0, 65535, err) < 0)
        return -1;
      return 0;
    case OP_START:
    case OP_PS:
    case OP_PAUSE:
    case OP_RESUME:
    case OP_STATS:
    case OP_DELETE:
      return need_id (req, "id", true, err);
    case OP_SHUTDOWN:
      return 0;
    }
  return runhv_error (err, "agent protocol: unknown op");
}

int
proto_validate_event (json_t *ev, runhv_error_t *err)
{
  json_t *e = json_object_get (ev, "event");
  if (!json_is_string (e))
    return runhv_error (err, "agent protocol: an event needs a string `event`");
  if (strcmp (json_string_value (e), "exit") == 0)
    {
      if (need_id (ev, "id", true, err) < 0 || need_id (ev, "exec_id", false, err) < 0
          || need_uint (ev, "status", true, 0, 255, err) < 0)
        return -1;
      return 0;
    }
  if (strcmp (json_string_value (e), "oom") == 0)
    return need_id (ev, "id", true, err);
  return runhv_error (err, "agent protocol: unknown event `%.64s`", json_string_value (e));
}

json_t *
proto_ok (void)
{
  return json_pack ("{s:b}", "ok", 1);
}

json_t *
proto_error (const runhv_error_t err)
{
  return json_pack ("{s:b,s:s,s:i}", "ok", 0, "error", err && err->msg ? err->msg : "failed", "errno",
                    err ? err->status : 0);
}

int
proto_check_response (json_t *resp, runhv_error_t *err)
{
  json_t *ok = json_object_get (resp, "ok");
  const char *msg;
  if (json_is_true (ok))
    return 0;
  msg = json_string_value (json_object_get (resp, "error"));
  runhv_make_error (err, 0, "%.4000s", msg ? msg : "the agent refused the request");
  (*err)->status = (int)json_integer_value (json_object_get (resp, "errno"));
  return -1;
}

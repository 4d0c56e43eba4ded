/* ttrpc: framing bounds, the wire bytes of the messages containerd reads,
   a real task message round trip, and the server and client talking over a
   socketpair and a unix socket (deferred answers, errors, timeouts).  */
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "cgroups_v1_metrics.pb-c.h"
#include "events_task.pb-c.h"
#include "events_ttrpc.pb-c.h"
#include "google_rpc_status.pb-c.h"
#include "runtimeoptions.pb-c.h"
#include "shim.pb-c.h"
#include "proto/ttrpc.h"
#include "core/util.h"

#define TASK_SERVICE "containerd.task.v2.Task"

static void
assert_bytes (const uint8_t *got, size_t got_len, const uint8_t *want, size_t want_len)
{
  assert_int_equal (got_len, want_len);
  assert_memory_equal (got, want, want_len);
}

static void
assert_packs_to (const ProtobufCMessage *m, const uint8_t *want, size_t want_len)
{
  size_t n = protobuf_c_message_get_packed_size (m);
  cleanup_free uint8_t *buf = xmalloc0 (n + 1);
  assert_int_equal (protobuf_c_message_pack (m, buf), n);
  assert_bytes (buf, n, want, want_len);
}

/* ---- framing ---------------------------------------------------------- */

static void
test_header (void **state)
{
  struct ttrpc_header h = { .length = 0x01020304, .stream_id = 0x0a0b0c0d, .type = 2, .flags = 0x80 }, back;
  uint8_t b[TTRPC_HEADER_LEN];
  static const uint8_t want[] = { 1, 2, 3, 4, 0x0a, 0x0b, 0x0c, 0x0d, 2, 0x80 };
  (void)state;
  ttrpc_header_pack (&h, b);
  assert_bytes (b, sizeof (b), want, sizeof (want));
  ttrpc_header_unpack (b, &back);
  assert_int_equal (back.length, h.length);
  assert_int_equal (back.stream_id, h.stream_id);
  assert_int_equal (back.type, h.type);
  assert_int_equal (back.flags, h.flags);
}

static void
test_reader_bounds (void **state)
{
  struct ttrpc_reader r;
  struct ttrpc_header h = { 0 }, hdr = { .length = TTRPC_MAX_MESSAGE + 1, .stream_id = 7, .type = 1 };
  uint8_t raw[TTRPC_HEADER_LEN + 3];
  uint8_t junk[4096];
  uint8_t *body = NULL;
  size_t used = 0, skipped = 0;
  (void)state;

  ttrpc_reader_init (&r);
  /* An oversized header is refused as soon as its 10 bytes are in, before
     anything is allocated for the body.  */
  ttrpc_header_pack (&hdr, raw);
  assert_int_equal (ttrpc_reader_feed (&r, raw, 9, &used, &h, &body), TTRPC_READ_MORE);
  assert_int_equal (used, 9);
  assert_int_equal (ttrpc_reader_feed (&r, raw + 9, 1, &used, &h, &body), TTRPC_READ_OVERSIZED);
  assert_int_equal (used, 1);
  assert_int_equal (h.stream_id, 7);
  assert_int_equal (h.length, TTRPC_MAX_MESSAGE + 1);
  assert_null (body);
  assert_null (r.body);
  /* Its body is dropped as it arrives ...  */
  memset (junk, 0xff, sizeof (junk));
  while (skipped < TTRPC_MAX_MESSAGE + 1)
    {
      size_t n = TTRPC_MAX_MESSAGE + 1 - skipped < sizeof (junk) ? TTRPC_MAX_MESSAGE + 1 - skipped : sizeof (junk);
      assert_int_equal (ttrpc_reader_feed (&r, junk, n, &used, &h, &body), TTRPC_READ_MORE);
      assert_int_equal (used, n);
      assert_null (r.body);
      skipped += n;
    }
  /* ... and the next frame reads normally, byte by byte.  */
  hdr.length = 3;
  hdr.stream_id = 9;
  ttrpc_header_pack (&hdr, raw);
  memcpy (raw + TTRPC_HEADER_LEN, "abc", 3);
  for (size_t i = 0; i < sizeof (raw) - 1; i++)
    {
      assert_int_equal (ttrpc_reader_feed (&r, raw + i, 1, &used, &h, &body), TTRPC_READ_MORE);
      assert_int_equal (used, 1);
    }
  assert_int_equal (ttrpc_reader_feed (&r, raw + sizeof (raw) - 1, 1, &used, &h, &body), TTRPC_READ_FRAME);
  assert_int_equal (h.stream_id, 9);
  assert_int_equal (h.length, 3);
  assert_memory_equal (body, "abc", 3);
  free (body);
  ttrpc_reader_release (&r);
}

static void
test_reader_limits_and_splits (void **state)
{
  struct ttrpc_reader r;
  struct ttrpc_header h = { 0 }, hdr = { .length = TTRPC_MAX_MESSAGE, .stream_id = 1, .type = 1 };
  uint8_t raw[2 * TTRPC_HEADER_LEN + 2];
  uint8_t *body = NULL;
  size_t used = 0;
  (void)state;

  /* Exactly the limit is allowed.  */
  ttrpc_reader_init (&r);
  ttrpc_header_pack (&hdr, raw);
  assert_int_equal (ttrpc_reader_feed (&r, raw, TTRPC_HEADER_LEN, &used, &h, &body), TTRPC_READ_MORE);
  assert_non_null (r.body);
  ttrpc_reader_release (&r);

  /* Two frames in one buffer: the reader stops after the first; a frame with
     an empty body completes with its header.  */
  ttrpc_reader_init (&r);
  hdr.length = 0;
  hdr.stream_id = 3;
  ttrpc_header_pack (&hdr, raw);
  hdr.length = 2;
  hdr.stream_id = 5;
  ttrpc_header_pack (&hdr, raw + TTRPC_HEADER_LEN);
  raw[2 * TTRPC_HEADER_LEN] = 'h';
  raw[2 * TTRPC_HEADER_LEN + 1] = 'i';
  assert_int_equal (ttrpc_reader_feed (&r, raw, sizeof (raw), &used, &h, &body), TTRPC_READ_FRAME);
  assert_int_equal (used, TTRPC_HEADER_LEN);
  assert_int_equal (h.stream_id, 3);
  assert_int_equal (h.length, 0);
  assert_null (body);
  assert_int_equal (ttrpc_reader_feed (&r, raw + used, sizeof (raw) - used, &used, &h, &body), TTRPC_READ_FRAME);
  assert_int_equal (used, TTRPC_HEADER_LEN + 2);
  assert_int_equal (h.stream_id, 5);
  assert_memory_equal (body, "hi", 2);
  free (body);
  ttrpc_reader_release (&r);
}

/* ---- wire bytes containerd reads --------------------------------------- */

static void
test_wire_bytes (void **state)
{
  Ttrpc__Request req = TTRPC__REQUEST__INIT;
  Ttrpc__Response resp = TTRPC__RESPONSE__INIT;
  Google__Rpc__Status st = GOOGLE__RPC__STATUS__INIT;
  Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT, ts2 = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
  Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
  Containerd__Services__Events__Ttrpc__V1__Envelope env = CONTAINERD__SERVICES__EVENTS__TTRPC__V1__ENVELOPE__INIT;
  Containerd__Services__Events__Ttrpc__V1__ForwardRequest fwd
    = CONTAINERD__SERVICES__EVENTS__TTRPC__V1__FORWARD_REQUEST__INIT;
  Containerd__Task__V2__DeleteResponse del = CONTAINERD__TASK__V2__DELETE_RESPONSE__INIT;
  Containerd__Events__TaskExit exit_ev = CONTAINERD__EVENTS__TASK_EXIT__INIT;
  Runtimeoptions__V1__Options opts = RUNTIMEOPTIONS__V1__OPTIONS__INIT;
  Io__Containerd__Cgroups__V1__Metrics m = IO__CONTAINERD__CGROUPS__V1__METRICS__INIT;
  Io__Containerd__Cgroups__V1__PidsStat pids = IO__CONTAINERD__CGROUPS__V1__PIDS_STAT__INIT;
  (void)state;

  req.service = (char *)"s";
  req.method = (char *)"m";
  req.timeout_nano = 1;
  assert_packs_to (&req.base, (const uint8_t[]){ 0x0a, 1, 's', 0x12, 1, 'm', 0x20, 1 }, 8);

  st.code = TTRPC_NOT_FOUND;
  st.message = (char *)"x";
  resp.status = &st;
  assert_packs_to (&resp.base, (const uint8_t[]){ 0x0a, 5, 0x08, 5, 0x12, 1, 'x' }, 7);

  ts.seconds = 1;
  any.type_url = (char *)"x";
  env.timestamp = &ts;
  env.namespace_ = (char *)"n";
  env.topic = (char *)"/t";
  env.event = &any;
  fwd.envelope = &env;
  assert_packs_to (
    &fwd.base, (const uint8_t[]){ 0x0a, 16, 0x0a, 2, 0x08, 1, 0x12, 1, 'n', 0x1a, 2, '/', 't', 0x22, 3, 0x0a, 1, 'x' },
    18);

  ts2.seconds = 2;
  del.pid = 7;
  del.exit_status = 137;
  del.exited_at = &ts2;
  assert_packs_to (&del.base, (const uint8_t[]){ 0x08, 7, 0x10, 0x89, 0x01, 0x1a, 2, 0x08, 2 }, 9);

  exit_ev.container_id = (char *)"c";
  exit_ev.id = (char *)"c";
  exit_ev.pid = 3;
  exit_ev.exit_status = 1;
  exit_ev.exited_at = &ts2;
  assert_packs_to (&exit_ev.base, (const uint8_t[]){ 0x0a, 1, 'c', 0x12, 1, 'c', 0x18, 3, 0x20, 1, 0x2a, 2, 0x08, 2 },
                   14);

  opts.type_url = (char *)"t";
  opts.config_path = (char *)"/p";
  assert_packs_to (&opts.base, (const uint8_t[]){ 0x0a, 1, 't', 0x12, 2, '/', 'p' }, 7);

  pids.current = 3;
  pids.limit = 4;
  m.pids = &pids;
  assert_packs_to (&m.base, (const uint8_t[]){ 0x12, 4, 0x08, 3, 0x10, 4 }, 6);

  /* The full names containerd uses as type URLs.  */
  assert_string_equal (containerd__events__task_exit__descriptor.name, "containerd.events.TaskExit");
  assert_string_equal (runtimeoptions__v1__options__descriptor.name, "runtimeoptions.v1.Options");
  assert_string_equal (io__containerd__cgroups__v1__metrics__descriptor.name, "io.containerd.cgroups.v1.Metrics");
  assert_string_equal (containerd__task__v2__task__descriptor.name, TASK_SERVICE);
  assert_string_equal (containerd__services__events__ttrpc__v1__events__descriptor.name,
                       "containerd.services.events.ttrpc.v1.Events");
}

/* A CreateTaskRequest with snapshot mounts and runtime options, through a
   request frame and back, as the shim receives it.  */
static void
test_create_roundtrip (void **state)
{
  Containerd__Types__Mount m1 = CONTAINERD__TYPES__MOUNT__INIT, m2 = CONTAINERD__TYPES__MOUNT__INIT;
  Containerd__Types__Mount *mounts[] = { &m1, &m2 };
  char *ovl_opts[] = { (char *)"index=off", (char *)"workdir=/w", (char *)"upperdir=/u", (char *)"lowerdir=/l1:/l2" };
  char *bind_opts[] = { (char *)"rbind", (char *)"ro" };
  Containerd__Task__V2__CreateTaskRequest create = CONTAINERD__TASK__V2__CREATE_TASK_REQUEST__INIT, *back;
  Runtimeoptions__V1__Options opts = RUNTIMEOPTIONS__V1__OPTIONS__INIT, *opts_back;
  Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
  Ttrpc__Request req = TTRPC__REQUEST__INIT, *req_back = NULL;
  Ttrpc__KeyValue kv = TTRPC__KEY_VALUE__INIT, *md[] = { &kv };
  struct ttrpc_reader r;
  struct ttrpc_header h;
  runhv_error_t err = NULL;
  cleanup_free uint8_t *payload = NULL, *frame = NULL;
  uint8_t *body = NULL;
  size_t frame_len = 0, used = 0;
  (void)state;

  m1.type = (char *)"overlay";
  m1.source = (char *)"overlay";
  m1.n_options = 4;
  m1.options = ovl_opts;
  m2.type = (char *)"bind";
  m2.source = (char *)"/var/lib/x";
  m2.target = (char *)"/data";
  m2.n_options = 2;
  m2.options = bind_opts;
  opts.config_path = (char *)"/etc/runhv/runhv-hypervisor.toml";
  assert_int_equal (ttrpc_any_pack (&any, "runtimeoptions.v1.Options", &opts.base, &err), 0);
  create.id = (char *)"c1";
  create.bundle = (char *)"/run/containerd/io.containerd.runtime.v2.task/k8s.io/c1";
  create.n_rootfs = 2;
  create.rootfs = mounts;
  create.terminal = 1;
  create.stdin = (char *)"/run/fifo/in";
  create.stdout = (char *)"/run/fifo/out";
  create.options = &any;

  payload = xmalloc0 (protobuf_c_message_get_packed_size (&create.base));
  req.payload.len = protobuf_c_message_pack (&create.base, payload);
  req.payload.data = payload;
  req.service = (char *)TASK_SERVICE;
  req.method = (char *)"Create";
  kv.key = (char *)TTRPC_NAMESPACE_KEY;
  kv.value = (char *)"k8s.io";
  req.metadata = md;
  req.n_metadata = 1;
  assert_int_equal (ttrpc_frame_pack (41, TTRPC_TYPE_REQUEST, &req.base, &frame, &frame_len, &err), 0);
  ttrpc_any_release (&any);

  ttrpc_reader_init (&r);
  assert_int_equal (ttrpc_reader_feed (&r, frame, frame_len, &used, &h, &body), TTRPC_READ_FRAME);
  assert_int_equal (used, frame_len);
  assert_int_equal (h.type, TTRPC_TYPE_REQUEST);
  assert_int_equal (h.stream_id, 41);
  assert_int_equal (ttrpc_request_decode (body, h.length, &req_back, &err), 0);
  free (body);
  ttrpc_reader_release (&r);
  assert_string_equal (req_back->service, TASK_SERVICE);
  assert_string_equal (req_back->method, "Create");
  assert_int_equal (req_back->n_metadata, 1);
  assert_string_equal (req_back->metadata[0]->value, "k8s.io");

  back = containerd__task__v2__create_task_request__unpack (NULL, req_back->payload.len, req_back->payload.data);
  assert_non_null (back);
  assert_string_equal (back->id, "c1");
  assert_string_equal (back->bundle, create.bundle);
  assert_int_equal (back->n_rootfs, 2);
  assert_string_equal (back->rootfs[0]->type, "overlay");
  assert_int_equal (back->rootfs[0]->n_options, 4);
  assert_string_equal (back->rootfs[0]->options[3], "lowerdir=/l1:/l2");
  assert_string_equal (back->rootfs[1]->target, "/data");
  assert_string_equal (back->rootfs[1]->options[1], "ro");
  assert_true (back->terminal);
  assert_string_equal (back->stdin, "/run/fifo/in");
  assert_string_equal (back->stderr, "");
  assert_non_null (back->options);
  assert_string_equal (back->options->type_url, "runtimeoptions.v1.Options");
  opts_back = runtimeoptions__v1__options__unpack (NULL, back->options->value.len, back->options->value.data);
  assert_non_null (opts_back);
  assert_string_equal (opts_back->config_path, "/etc/runhv/runhv-hypervisor.toml");
  assert_string_equal (opts_back->type_url, "");
  runtimeoptions__v1__options__free_unpacked (opts_back, NULL);
  containerd__task__v2__create_task_request__free_unpacked (back, NULL);
  ttrpc__request__free_unpacked (req_back, NULL);

  /* Garbage does not decode.  */
  assert_int_equal (ttrpc_request_decode ((const uint8_t *)"\x0a\xff\xff", 3, &req_back, &err), -1);
  assert_non_null (err);
  runhv_error_release (&err);
}

/* ---- a task service for the server tests -------------------------------- */

struct fake_shim
{
  struct ttrpc_call *waiting; /* a deferred Wait */
  char ns[64];
  int creates;
};

static int
h_create (struct ttrpc_call *call, const ProtobufCMessage *msg, void *data, runhv_error_t *err)
{
  const Containerd__Task__V2__CreateTaskRequest *req = (const void *)msg;
  struct fake_shim *fs = data;
  Containerd__Task__V2__CreateTaskResponse resp = CONTAINERD__TASK__V2__CREATE_TASK_RESPONSE__INIT;
  const char *ns = ttrpc_call_namespace (call);
  if (ns == NULL)
    {
      ttrpc_call_fail (call, TTRPC_INVALID_ARGUMENT, "no namespace");
      return 0;
    }
  snprintf (fs->ns, sizeof (fs->ns), "%s", ns);
  if (strcmp (req->id, "exists") == 0)
    return runhv_make_error (err, EEXIST, "container `%s`", req->id);
  if (req->n_rootfs != 1 || strcmp (req->rootfs[0]->type, "overlay") != 0)
    {
      ttrpc_call_fail (call, TTRPC_FAILED_PRECONDITION, "rootfs not received");
      return 0;
    }
  fs->creates++;
  resp.pid = 4242;
  return ttrpc_call_reply (call, &resp.base, err);
}

static int
h_state (struct ttrpc_call *call, const ProtobufCMessage *msg, void *data, runhv_error_t *err)
{
  const Containerd__Task__V2__StateRequest *req = (const void *)msg;
  ttrpc_call_fail (call, TTRPC_NOT_FOUND, "container `%s` not found", req->id);
  return 0;
}

static int
h_wait (struct ttrpc_call *call, const ProtobufCMessage *msg, void *data, runhv_error_t *err)
{
  struct fake_shim *fs = data;
  if (fs->waiting != NULL)
    {
      ttrpc_call_fail (call, TTRPC_FAILED_PRECONDITION, "one waiter only");
      return 0;
    }
  fs->waiting = call;
  return TTRPC_DEFER;
}

static int
h_kill (struct ttrpc_call *call, const ProtobufCMessage *msg, void *data, runhv_error_t *err)
{
  struct fake_shim *fs = data;
  Containerd__Task__V2__WaitResponse w = CONTAINERD__TASK__V2__WAIT_RESPONSE__INIT;
  Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
  const Containerd__Task__V2__KillRequest *req = (const void *)msg;
  if (fs->waiting != NULL)
    {
      struct ttrpc_call *waiter = steal_ptr (&fs->waiting);
      ttrpc_timestamp_now (&ts);
      w.exit_status = 128 + req->signal;
      w.exited_at = &ts;
      if (ttrpc_call_reply (waiter, &w.base, err) < 0)
        return -1;
    }
  return ttrpc_call_reply (call, NULL, err); /* google.protobuf.Empty */
}

static int
h_pause_wrong_type (struct ttrpc_call *call, const ProtobufCMessage *msg, void *data, runhv_error_t *err)
{
  Containerd__Task__V2__StartResponse wrong = CONTAINERD__TASK__V2__START_RESPONSE__INIT;
  return ttrpc_call_reply (call, &wrong.base, err); /* Pause answers Empty */
}

static int
h_resume_forgets (struct ttrpc_call *call, const ProtobufCMessage *msg, void *data, runhv_error_t *err)
{
  return 0; /* neither answers nor defers: the server answers Internal */
}

static const struct ttrpc_method fake_methods[] = {
  { "Create", h_create },          { "State", h_state },           { "Wait", h_wait }, { "Kill", h_kill },
  { "Pause", h_pause_wrong_type }, { "Resume", h_resume_forgets },
};

static struct ttrpc_server *
fake_server (struct fake_shim *fs)
{
  struct ttrpc_server *s = NULL;
  runhv_error_t err = NULL;
  assert_int_equal (ttrpc_server_new (&s, &err), 0);
  assert_int_equal (ttrpc_server_register (s, &containerd__task__v2__task__descriptor, fake_methods,
                                           sizeof (fake_methods) / sizeof (fake_methods[0]), fs, &err),
                    0);
  return s;
}

static void
test_register_checks (void **state)
{
  struct ttrpc_server *s = NULL;
  runhv_error_t err = NULL;
  static const struct ttrpc_method typo[] = { { "Creat", h_create } };
  (void)state;
  assert_int_equal (ttrpc_server_new (&s, &err), 0);
  assert_int_equal (ttrpc_server_register (s, &containerd__task__v2__task__descriptor, typo, 1, NULL, &err), -1);
  assert_non_null (strstr (err->msg, "no method `Creat`"));
  runhv_error_release (&err);
  assert_int_equal (ttrpc_server_register (s, &containerd__task__v2__task__descriptor, fake_methods, 1, NULL, &err), 0);
  assert_int_equal (ttrpc_server_register (s, &containerd__task__v2__task__descriptor, fake_methods, 1, NULL, &err),
                    -1);
  runhv_error_release (&err);
  ttrpc_server_free (s);
  ttrpc_server_free (NULL);
}

/* Raw frames on a socketpair, driven by hand in one thread.  */

static void
send_request (int fd, uint32_t id, const char *service, const char *method, const ProtobufCMessage *msg)
{
  Ttrpc__Request req = TTRPC__REQUEST__INIT;
  Ttrpc__KeyValue kv = TTRPC__KEY_VALUE__INIT, *md[] = { &kv };
  cleanup_free uint8_t *payload = NULL, *frame = NULL;
  size_t len = 0;
  runhv_error_t err = NULL;
  if (msg != NULL)
    {
      payload = xmalloc0 (protobuf_c_message_get_packed_size (msg) + 1);
      req.payload.len = protobuf_c_message_pack (msg, payload);
      req.payload.data = payload;
    }
  req.service = (char *)service;
  req.method = (char *)method;
  kv.key = (char *)"Containerd-Namespace-TTRPC"; /* keys compare case-insensitively */
  kv.value = (char *)"default";
  req.metadata = md;
  req.n_metadata = 1;
  assert_int_equal (ttrpc_frame_pack (id, TTRPC_TYPE_REQUEST, &req.base, &frame, &len, &err), 0);
  assert_int_equal (write_all (fd, frame, len), (ssize_t)len);
}

static void
pump (struct ttrpc_server *s, int times)
{
  runhv_error_t err = NULL;
  for (int i = 0; i < times; i++)
    assert_int_equal (ttrpc_server_process (s, 0, &err), 0);
}

/* Read one response frame (the socket must have one).  */
static Ttrpc__Response *
read_response (int fd, struct ttrpc_reader *r, uint32_t *stream_id)
{
  uint8_t byte;
  struct ttrpc_header h;
  uint8_t *body = NULL;
  size_t used;
  runhv_error_t err = NULL;
  Ttrpc__Response *resp = NULL;
  struct pollfd p = { .fd = fd, .events = POLLIN };
  for (;;)
    {
      assert_true (poll (&p, 1, 2000) == 1);
      assert_int_equal (read (fd, &byte, 1), 1);
      int got = ttrpc_reader_feed (r, &byte, 1, &used, &h, &body);
      if (got == TTRPC_READ_FRAME)
        break;
    }
  assert_int_equal (h.type, TTRPC_TYPE_RESPONSE);
  *stream_id = h.stream_id;
  assert_int_equal (ttrpc_response_decode (body, h.length, &resp, &err), 0);
  free (body);
  return resp;
}

/* Let the server run until an answer is waiting on fd.  */
static void
pump_until_readable (struct ttrpc_server *s, int fd)
{
  struct pollfd p = { .fd = fd, .events = POLLIN };
  for (int i = 0; i < 1000; i++)
    {
      if (poll (&p, 1, 0) == 1)
        return;
      pump (s, 1);
    }
  fail_msg ("no answer from the server");
}

static int
status_code (const Ttrpc__Response *resp)
{
  return resp->status != NULL ? resp->status->code : 0;
}

static void
test_server_raw_frames (void **state)
{
  struct fake_shim fs = { 0 };
  struct ttrpc_server *s = fake_server (&fs);
  struct ttrpc_reader r;
  int sv[2];
  uint32_t id = 0;
  runhv_error_t err = NULL;
  Ttrpc__Response *resp;
  Containerd__Task__V2__WaitRequest wait = CONTAINERD__TASK__V2__WAIT_REQUEST__INIT;
  Containerd__Task__V2__KillRequest kill_req = CONTAINERD__TASK__V2__KILL_REQUEST__INIT;
  Containerd__Task__V2__WaitResponse *wr;
  struct ttrpc_header big = { .length = TTRPC_MAX_MESSAGE + 100, .stream_id = 11, .type = 1 };
  uint8_t hdr[TTRPC_HEADER_LEN];
  static uint8_t junk[65536];
  size_t sent = 0;
  (void)state;

  assert_int_equal (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  assert_int_equal (ttrpc_server_add_conn (s, sv[0], &err), 0);
  assert_int_equal (ttrpc_server_connections (s), 1);
  ttrpc_reader_init (&r);

  /* Wait is deferred; Kill, sent after it on the same connection, answers
     both: the answers come back out of order, each on its stream.  */
  wait.id = (char *)"c1";
  send_request (sv[1], 1, TASK_SERVICE, "Wait", &wait.base);
  pump (s, 2);
  assert_non_null (fs.waiting);
  assert_string_equal (ttrpc_call_method (fs.waiting), "Wait");
  assert_string_equal (ttrpc_call_namespace (fs.waiting), "default");
  assert_int_equal (ttrpc_call_stream_id (fs.waiting), 1);
  assert_false (ttrpc_call_peer_gone (fs.waiting));
  kill_req.id = (char *)"c1";
  kill_req.signal = 9;
  send_request (sv[1], 3, TASK_SERVICE, "Kill", &kill_req.base);
  pump (s, 2);
  assert_null (fs.waiting);
  resp = read_response (sv[1], &r, &id);
  assert_int_equal (id, 1);
  assert_int_equal (status_code (resp), 0);
  wr = containerd__task__v2__wait_response__unpack (NULL, resp->payload.len, resp->payload.data);
  assert_non_null (wr);
  assert_int_equal (wr->exit_status, 137);
  assert_non_null (wr->exited_at);
  assert_true (wr->exited_at->seconds > 1600000000);
  containerd__task__v2__wait_response__free_unpacked (wr, NULL);
  ttrpc__response__free_unpacked (resp, NULL);
  resp = read_response (sv[1], &r, &id);
  assert_int_equal (id, 3);
  assert_int_equal (status_code (resp), 0);
  assert_int_equal (resp->payload.len, 0);
  ttrpc__response__free_unpacked (resp, NULL);

  /* Errors, each answered on its own stream, the connection kept.  */
  send_request (sv[1], 4, TASK_SERVICE, "Kill", &kill_req.base); /* even id */
  send_request (sv[1], 5, "containerd.task.v3.Task", "Kill", &kill_req.base);
  send_request (sv[1], 7, TASK_SERVICE, "Checkpoint", NULL); /* not registered */
  send_request (sv[1], 9, TASK_SERVICE, "Pause", NULL);      /* wrong answer type */
  send_request (sv[1], 13, TASK_SERVICE, "Resume", NULL);    /* forgets to answer */
  pump (s, 4);
  resp = read_response (sv[1], &r, &id);
  assert_int_equal (id, 4);
  assert_int_equal (status_code (resp), TTRPC_INVALID_ARGUMENT);
  ttrpc__response__free_unpacked (resp, NULL);
  resp = read_response (sv[1], &r, &id);
  assert_int_equal (id, 5);
  assert_int_equal (status_code (resp), TTRPC_UNIMPLEMENTED);
  assert_string_equal (resp->status->message, "service containerd.task.v3.Task");
  ttrpc__response__free_unpacked (resp, NULL);
  resp = read_response (sv[1], &r, &id);
  assert_int_equal (id, 7);
  assert_int_equal (status_code (resp), TTRPC_UNIMPLEMENTED);
  assert_string_equal (resp->status->message, "method Checkpoint");
  ttrpc__response__free_unpacked (resp, NULL);
  resp = read_response (sv[1], &r, &id);
  assert_int_equal (id, 9);
  assert_int_equal (status_code (resp), TTRPC_INTERNAL);
  ttrpc__response__free_unpacked (resp, NULL);
  resp = read_response (sv[1], &r, &id);
  assert_int_equal (id, 13);
  assert_int_equal (status_code (resp), TTRPC_INTERNAL);
  ttrpc__response__free_unpacked (resp, NULL);

  /* A request payload that is not the method's message.  */
  {
    Ttrpc__Request req = TTRPC__REQUEST__INIT;
    cleanup_free uint8_t *frame = NULL;
    size_t len;
    req.service = (char *)TASK_SERVICE;
    req.method = (char *)"Kill";
    req.payload.data = (uint8_t *)"\x0a\x7f";
    req.payload.len = 2;
    assert_int_equal (ttrpc_frame_pack (15, TTRPC_TYPE_REQUEST, &req.base, &frame, &len, &err), 0);
    assert_int_equal (write_all (sv[1], frame, len), (ssize_t)len);
    pump (s, 2);
    resp = read_response (sv[1], &r, &id);
    assert_int_equal (id, 15);
    assert_int_equal (status_code (resp), TTRPC_INTERNAL);
    ttrpc__response__free_unpacked (resp, NULL);
  }

  /* An oversized message: answered RESOURCE_EXHAUSTED at once, its body
     skipped as it streams in, and the connection still serves.  */
  ttrpc_header_pack (&big, hdr);
  assert_int_equal (write_all (sv[1], hdr, sizeof (hdr)), (ssize_t)sizeof (hdr));
  pump (s, 1);
  resp = read_response (sv[1], &r, &id);
  assert_int_equal (id, 11);
  assert_int_equal (status_code (resp), TTRPC_RESOURCE_EXHAUSTED);
  ttrpc__response__free_unpacked (resp, NULL);
  assert_int_equal (set_nonblock (sv[1], true), 0);
  while (sent < big.length)
    {
      size_t n = big.length - sent < sizeof (junk) ? big.length - sent : sizeof (junk);
      ssize_t w = write (sv[1], junk, n);
      if (w < 0)
        {
          assert_int_equal (errno, EAGAIN);
          pump (s, 1);
          continue;
        }
      sent += (size_t)w;
    }
  /* Let the server swallow the tail, or the next request would block on a
     full socket buffer.  */
  for (int i = 0; i < 100000; i++)
    {
      int outq = 0;
      assert_int_equal (ioctl (sv[1], SIOCOUTQ, &outq), 0);
      if (outq == 0)
        break;
      pump (s, 1);
    }
  assert_int_equal (set_nonblock (sv[1], false), 0);
  send_request (sv[1], 17, TASK_SERVICE, "State", &wait.base);
  pump_until_readable (s, sv[1]);
  resp = read_response (sv[1], &r, &id);
  assert_int_equal (id, 17);
  assert_int_equal (status_code (resp), TTRPC_NOT_FOUND);
  assert_string_equal (resp->status->message, "container `c1` not found");
  ttrpc__response__free_unpacked (resp, NULL);

  /* The peer goes away while a call is deferred: the call stays valid, says
     so, and answering it is harmless.  */
  send_request (sv[1], 19, TASK_SERVICE, "Wait", &wait.base);
  pump (s, 2);
  assert_non_null (fs.waiting);
  close (sv[1]);
  pump (s, 2);
  assert_int_equal (ttrpc_server_connections (s), 0);
  assert_true (ttrpc_call_peer_gone (fs.waiting));
  ttrpc_call_fail (steal_ptr (&fs.waiting), TTRPC_UNAVAILABLE, "gone");

  ttrpc_reader_release (&r);
  ttrpc_server_free (s);
}

/* A deferred call still held when the server is freed must stay answerable.  */
static void
test_server_free_with_deferred (void **state)
{
  struct fake_shim fs = { 0 };
  struct ttrpc_server *s = fake_server (&fs);
  Containerd__Task__V2__WaitRequest wait = CONTAINERD__TASK__V2__WAIT_REQUEST__INIT;
  runhv_error_t err = NULL;
  int sv[2];
  (void)state;
  assert_int_equal (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  assert_int_equal (ttrpc_server_add_conn (s, sv[0], &err), 0);
  send_request (sv[1], 1, TASK_SERVICE, "Wait", &wait.base);
  pump (s, 2);
  assert_non_null (fs.waiting);
  ttrpc_server_free (s);
  assert_true (ttrpc_call_peer_gone (fs.waiting));
  assert_int_equal (ttrpc_call_reply (steal_ptr (&fs.waiting), NULL, &err), -1); /* Wait answers WaitResponse */
  runhv_error_release (&err);
  close (sv[1]);
}

/* The blocking client against the server in a child process.  */

static pid_t
serve_in_child (int listen_fd, int conn_fd, int parent_fd)
{
  pid_t pid = fork ();
  assert_true (pid >= 0);
  if (pid == 0)
    {
      /* The parent's end must not stay open here too, or its close would
         never reach the server.  */
      if (parent_fd >= 0)
        close (parent_fd);
      struct fake_shim fs = { 0 };
      struct ttrpc_server *s = fake_server (&fs);
      runhv_error_t err = NULL;
      bool had_conn = false;
      if (listen_fd >= 0 && ttrpc_server_add_listener (s, listen_fd, &err) < 0)
        _exit (2);
      if (conn_fd >= 0 && ttrpc_server_add_conn (s, conn_fd, &err) < 0)
        _exit (2);
      alarm (20);
      for (;;)
        {
          if (ttrpc_server_process (s, 100, &err) < 0)
            _exit (3);
          if (ttrpc_server_connections (s) > 0)
            had_conn = true;
          else if (had_conn)
            break;
        }
      if (fs.waiting != NULL)
        ttrpc_call_fail (fs.waiting, TTRPC_UNAVAILABLE, "shutting down");
      ttrpc_server_free (s);
      _exit (fs.creates == 1 && strcmp (fs.ns, "k8s.io") == 0 ? 0 : 4);
    }
  return pid;
}

static void
client_calls (struct ttrpc_client *c)
{
  Containerd__Types__Mount m = CONTAINERD__TYPES__MOUNT__INIT, *mounts[] = { &m };
  Containerd__Task__V2__CreateTaskRequest create = CONTAINERD__TASK__V2__CREATE_TASK_REQUEST__INIT;
  Containerd__Task__V2__CreateTaskResponse *created = NULL;
  Containerd__Task__V2__StateRequest st = CONTAINERD__TASK__V2__STATE_REQUEST__INIT;
  Containerd__Task__V2__WaitRequest wait = CONTAINERD__TASK__V2__WAIT_REQUEST__INIT;
  Containerd__Task__V2__StateResponse *state_resp = NULL;
  runhv_error_t err = NULL;

  m.type = (char *)"overlay";
  create.id = (char *)"c1";
  create.n_rootfs = 1;
  create.rootfs = mounts;
  assert_int_equal (ttrpc_client_call (c, TASK_SERVICE, "Create", "k8s.io", &create.base,
                                       &containerd__task__v2__create_task_response__descriptor,
                                       (ProtobufCMessage **)&created, 5000, &err),
                    0);
  assert_int_equal (created->pid, 4242);
  containerd__task__v2__create_task_response__free_unpacked (created, NULL);

  /* A handler's runhv error travels with its errno's code.  */
  create.id = (char *)"exists";
  assert_int_equal (ttrpc_client_call (c, TASK_SERVICE, "Create", "k8s.io", &create.base, NULL, NULL, 5000, &err), -1);
  assert_int_equal (ttrpc_client_last_code (c), TTRPC_ALREADY_EXISTS);
  assert_int_equal (err->status, EEXIST);
  assert_non_null (strstr (err->msg, "containerd.task.v2.Task/Create: AlreadyExists: container `exists`"));
  runhv_error_release (&err);

  st.id = (char *)"nope";
  assert_int_equal (ttrpc_client_call (c, TASK_SERVICE, "State", "k8s.io", &st.base,
                                       &containerd__task__v2__state_response__descriptor,
                                       (ProtobufCMessage **)&state_resp, 5000, &err),
                    -1);
  assert_null (state_resp);
  assert_int_equal (ttrpc_client_last_code (c), TTRPC_NOT_FOUND);
  assert_int_equal (err->status, ENOENT);
  assert_non_null (strstr (err->msg, "NotFound: container `nope` not found"));
  runhv_error_release (&err);

  assert_int_equal (ttrpc_client_call (c, TASK_SERVICE, "Shutdown", NULL, NULL, NULL, NULL, 5000, &err), -1);
  assert_int_equal (ttrpc_client_last_code (c), TTRPC_UNIMPLEMENTED);
  runhv_error_release (&err);

  /* Nothing answers a Wait until Kill: the call times out.  */
  assert_int_equal (ttrpc_client_call (c, TASK_SERVICE, "Wait", "k8s.io", &wait.base, NULL, NULL, 200, &err), -1);
  assert_int_equal (err->status, ETIMEDOUT);
  runhv_error_release (&err);
}

static void
reap_child (pid_t pid)
{
  int status = 0;
  assert_int_equal (waitpid (pid, &status, 0), pid);
  if (!WIFEXITED (status))
    fail_msg ("child status %#x", status);
  assert_int_equal (WEXITSTATUS (status), 0);
}

static void
test_client_server_socketpair (void **state)
{
  int sv[2];
  pid_t pid;
  struct ttrpc_client *c;
  (void)state;
  assert_int_equal (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  pid = serve_in_child (-1, sv[0], sv[1]);
  close (sv[0]);
  c = ttrpc_client_new (sv[1]);
  client_calls (c);
  ttrpc_client_free (c);
  reap_child (pid);
}

static void
test_client_server_unix_socket (void **state)
{
  char dir[] = "/tmp/test-ttrpc-XXXXXX";
  cleanup_free char *path = NULL, *address = NULL;
  struct ttrpc_client *c = NULL;
  runhv_error_t err = NULL;
  int lfd = -1, again = -1;
  pid_t pid;
  (void)state;
  assert_non_null (mkdtemp (dir));
  path = xasprintf ("%s/s/sock", dir);
  address = xasprintf ("unix://%s", path);
  assert_int_equal (ttrpc_listen (address, &lfd, &err), 0);
  /* A second shim for the same address finds it taken.  */
  assert_int_equal (ttrpc_listen (address, &again, &err), -1);
  assert_int_equal (err->status, EADDRINUSE);
  runhv_error_release (&err);
  pid = serve_in_child (lfd, -1, -1);
  close (lfd);
  assert_int_equal (ttrpc_client_connect (address, &c, &err), 0);
  client_calls (c);
  ttrpc_client_free (c);
  reap_child (pid);
  unlink (path);
  assert_int_equal (ttrpc_client_connect (path, &c, &err), -1); /* plain path, nobody there */
  runhv_error_release (&err);
  assert_int_equal (rm_rf (dir, &err), 0);
}

static void
test_codes_and_helpers (void **state)
{
  Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
  Containerd__Events__TaskOOM oom = CONTAINERD__EVENTS__TASK_OOM__INIT;
  runhv_error_t err = NULL;
  (void)state;
  assert_int_equal (ttrpc_code_from_errno (ENOENT), TTRPC_NOT_FOUND);
  assert_int_equal (ttrpc_code_from_errno (EEXIST), TTRPC_ALREADY_EXISTS);
  assert_int_equal (ttrpc_code_from_errno (EINVAL), TTRPC_INVALID_ARGUMENT);
  assert_int_equal (ttrpc_code_from_errno (ENOTSUP), TTRPC_UNIMPLEMENTED);
  assert_int_equal (ttrpc_code_from_errno (EBUSY), TTRPC_FAILED_PRECONDITION);
  assert_int_equal (ttrpc_code_from_errno (0), TTRPC_UNKNOWN);
  for (int code = 0; code <= 16; code++)
    if (code != TTRPC_OK && code != TTRPC_UNKNOWN && code != TTRPC_INTERNAL && code != TTRPC_DATA_LOSS
        && code != TTRPC_OUT_OF_RANGE && code != TTRPC_ABORTED && code != TTRPC_UNAUTHENTICATED)
      assert_int_equal (ttrpc_code_from_errno (ttrpc_code_to_errno (code)), code);
  assert_string_equal (ttrpc_code_name (TTRPC_FAILED_PRECONDITION), "FailedPrecondition");
  assert_string_equal (ttrpc_code_name (99), "Code(99)");

  oom.container_id = (char *)"c1";
  assert_int_equal (ttrpc_any_pack (&any, "containerd.events.TaskOOM", &oom.base, &err), 0);
  assert_string_equal (any.type_url, "containerd.events.TaskOOM");
  assert_int_equal (any.value.len, 4);
  assert_memory_equal (any.value.data,
                       "\x0a\x02"
                       "c1",
                       4);
  ttrpc_any_release (&any);
  ttrpc_any_release (&any); /* twice is harmless */
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_header),
    cmocka_unit_test (test_reader_bounds),
    cmocka_unit_test (test_reader_limits_and_splits),
    cmocka_unit_test (test_wire_bytes),
    cmocka_unit_test (test_create_roundtrip),
    cmocka_unit_test (test_register_checks),
    cmocka_unit_test (test_server_raw_frames),
    cmocka_unit_test (test_server_free_with_deferred),
    cmocka_unit_test (test_client_server_socketpair),
    cmocka_unit_test (test_client_server_unix_socket),
    cmocka_unit_test (test_codes_and_helpers),
  };
  signal (SIGPIPE, SIG_IGN);
  return cmocka_run_group_tests_name ("ttrpc", tests, NULL, NULL);
}

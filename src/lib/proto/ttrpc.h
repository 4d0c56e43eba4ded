/* ttrpc, containerd's RPC protocol: protobuf messages in length-prefixed
   frames over a unix socket (docs/shim.md has the wire facts and
   where they come from).  Two halves:

   - a single-threaded server the shim drives from its own poll loop: one
     epoll fd (ttrpc_server_fd) to wait on, ttrpc_server_process to run what
     is ready.  Methods are registered against a protoc-c service descriptor,
     so requests arrive decoded and replies are checked against the method's
     output type.  A handler answers at once or keeps the call and answers
     later (Wait);
   - a blocking client (ttrpc_client_call) for the shim's own calls to
     containerd, i.e. publishing events.

   Bounds: a frame header is judged before its body is buffered; a body larger
   than TTRPC_MAX_MESSAGE is skipped as it arrives and answered with
   RESOURCE_EXHAUSTED, as containerd's ttrpc does.  Every fd is O_CLOEXEC.  */
#ifndef RUNHV_TTRPC_H
#define RUNHV_TTRPC_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/error.h"
#include "google/protobuf/any.pb-c.h"
#include "google/protobuf/timestamp.pb-c.h"
#include "ttrpc.pb-c.h"

#define TTRPC_HEADER_LEN 10
#define TTRPC_MAX_MESSAGE (4u << 20)
/* The metadata key containerd puts the namespace under.  */
#define TTRPC_NAMESPACE_KEY "containerd-namespace-ttrpc"

enum ttrpc_msg_type
{
  TTRPC_TYPE_REQUEST = 1,
  TTRPC_TYPE_RESPONSE = 2,
  TTRPC_TYPE_DATA = 3, /* streaming (newer ttrpc); ignored, as unknown types are */
};

/* google.rpc.Code, the status codes ttrpc answers with.  containerd maps
   them back with errdefs.FromGRPC: INVALID_ARGUMENT, NOT_FOUND,
   ALREADY_EXISTS, FAILED_PRECONDITION, UNAVAILABLE, UNIMPLEMENTED, CANCELLED
   and DEADLINE_EXCEEDED keep their meaning, anything else is "unknown".  */
enum ttrpc_code
{
  TTRPC_OK = 0,
  TTRPC_CANCELLED = 1,
  TTRPC_UNKNOWN = 2,
  TTRPC_INVALID_ARGUMENT = 3,
  TTRPC_DEADLINE_EXCEEDED = 4,
  TTRPC_NOT_FOUND = 5,
  TTRPC_ALREADY_EXISTS = 6,
  TTRPC_PERMISSION_DENIED = 7,
  TTRPC_RESOURCE_EXHAUSTED = 8,
  TTRPC_FAILED_PRECONDITION = 9,
  TTRPC_ABORTED = 10,
  TTRPC_OUT_OF_RANGE = 11,
  TTRPC_UNIMPLEMENTED = 12,
  TTRPC_INTERNAL = 13,
  TTRPC_UNAVAILABLE = 14,
  TTRPC_DATA_LOSS = 15,
  TTRPC_UNAUTHENTICATED = 16,
};

/* "NotFound", ... as gRPC spells them; "Code(N)" for others.  */
const char *ttrpc_code_name (int code);
/* ENOENT → NOT_FOUND, EEXIST → ALREADY_EXISTS, EINVAL → INVALID_ARGUMENT,
   ENOTSUP/ENOSYS → UNIMPLEMENTED, EPERM/EACCES → PERMISSION_DENIED,
   EBUSY → FAILED_PRECONDITION, ETIMEDOUT → DEADLINE_EXCEEDED,
   ECANCELED → CANCELLED, ENOMEM/ENOSPC → RESOURCE_EXHAUSTED,
   EAGAIN/ECONNREFUSED → UNAVAILABLE, anything else (and 0) → UNKNOWN.  */
int ttrpc_code_from_errno (int errnum);
/* The reverse, for a client turning a status into runhv_error_t.  */
int ttrpc_code_to_errno (int code);

/* ---- framing -------------------------------------------------------- */

struct ttrpc_header
{
  uint32_t length; /* payload bytes, the header excluded */
  uint32_t stream_id;
  uint8_t type;
  uint8_t flags;
};

void ttrpc_header_pack (const struct ttrpc_header *h, uint8_t out[TTRPC_HEADER_LEN]);
void ttrpc_header_unpack (const uint8_t in[TTRPC_HEADER_LEN], struct ttrpc_header *h);

/* Incoming bytes → frames, holding at most one header and one body of at
   most TTRPC_MAX_MESSAGE bytes.  */
struct ttrpc_reader
{
  uint8_t hdr[TTRPC_HEADER_LEN];
  size_t hdr_len;        /* header bytes held */
  struct ttrpc_header h; /* valid once hdr_len == TTRPC_HEADER_LEN */
  uint8_t *body;         /* h.length bytes, allocated when the header is judged */
  size_t body_len;       /* body bytes held */
  uint32_t skip;         /* bytes of an oversized body still to drop */
};

enum ttrpc_read
{
  TTRPC_READ_MORE = 0,      /* all of data consumed, no frame finished */
  TTRPC_READ_FRAME = 1,     /* *h and *body hold a frame */
  TTRPC_READ_OVERSIZED = 2, /* *h announced more than TTRPC_MAX_MESSAGE:
                               its body is being skipped, answer the stream */
};

void ttrpc_reader_init (struct ttrpc_reader *r);
void ttrpc_reader_release (struct ttrpc_reader *r);
/* Consume bytes from data, stopping at the end of a frame: *used says how
   many were taken (call again with the rest).  On TTRPC_READ_FRAME *body is
   the caller's to free (NULL when the length is 0).  Never fails: a bad
   header is a matter for the caller (type, stream id).  */
int ttrpc_reader_feed (struct ttrpc_reader *r, const uint8_t *data, size_t len, size_t *used, struct ttrpc_header *h,
                       uint8_t **body);

/* Header + packed message in one malloc'd buffer.  A message larger than
   TTRPC_MAX_MESSAGE fails with EMSGSIZE.  msg NULL: empty payload.  */
int ttrpc_frame_pack (uint32_t stream_id, uint8_t type, const ProtobufCMessage *msg, uint8_t **out, size_t *len,
                      runhv_error_t *err);
/* A request frame's payload → ttrpc.Request (free with
   ttrpc__request__free_unpacked (r, NULL)).  Service and method must be set.  */
int ttrpc_request_decode (const uint8_t *buf, size_t len, Ttrpc__Request **out, runhv_error_t *err);
/* A response frame's payload → ttrpc.Response.  */
int ttrpc_response_decode (const uint8_t *buf, size_t len, Ttrpc__Response **out, runhv_error_t *err);

/* ---- server --------------------------------------------------------- */

struct ttrpc_server;
struct ttrpc_call; /* one request being answered */

/* Returned by a handler that keeps the call to answer it later.  */
#define TTRPC_DEFER 1

/* req is the request decoded with the method's input descriptor; it belongs
   to the call and lives until the call is answered.  A handler either
   - answers (ttrpc_call_reply / ttrpc_call_fail*) and returns 0,
   - returns TTRPC_DEFER and answers later, from anywhere in the same thread
     (the call stays valid until answered, even if the peer goes away), or
   - returns -1 with *err set: the call is answered with
     ttrpc_code_from_errno (err->status) and err's message.  For an exact
     code (NOT_FOUND for an unknown id, FAILED_PRECONDITION for a wrong
     state) use ttrpc_call_fail and return 0.  */
typedef int (*ttrpc_handler_fn) (struct ttrpc_call *call, const ProtobufCMessage *req, void *data, runhv_error_t *err);

struct ttrpc_method
{
  const char *name; /* as in the service descriptor: "Create" */
  ttrpc_handler_fn handler;
};

int ttrpc_server_new (struct ttrpc_server **out, runhv_error_t *err);
/* Closes every listener and connection.  Calls still held by a handler stay
   valid and must still be answered (the answer goes nowhere).  */
void ttrpc_server_free (struct ttrpc_server *s);
/* Serve methods of a protoc-c service (e.g. &containerd__task__v2__task__descriptor,
   whose ->name "containerd.task.v2.Task" is what clients call).  A name that
   is not in the descriptor is an error; methods not listed answer
   UNIMPLEMENTED, as do unknown services.  data is passed to every handler.  */
int ttrpc_server_register (struct ttrpc_server *s, const ProtobufCServiceDescriptor *service,
                           const struct ttrpc_method *methods, size_t n_methods, void *data, runhv_error_t *err);
/* Adopt a listening socket (the one `start` hands the daemon) or a
   connected one (tests, socketpair).  Accepted peers must have our
   effective uid and gid (SO_PEERCRED), as containerd's shims require.  */
int ttrpc_server_add_listener (struct ttrpc_server *s, int fd, runhv_error_t *err);
int ttrpc_server_add_conn (struct ttrpc_server *s, int fd, runhv_error_t *err);
/* An epoll fd, readable whenever ttrpc_server_process has work.  */
int ttrpc_server_fd (const struct ttrpc_server *s);
/* Accept, read, dispatch and write whatever is ready, waiting up to
   timeout_ms (0: do not wait, -1: wait for something).  A misbehaving peer
   only loses its connection; -1 means the server itself failed.  */
int ttrpc_server_process (struct ttrpc_server *s, int timeout_ms, runhv_error_t *err);
/* Write out every queued answer (before exiting after Shutdown), giving up
   after timeout_ms.  */
int ttrpc_server_flush (struct ttrpc_server *s, int timeout_ms, runhv_error_t *err);
size_t ttrpc_server_connections (const struct ttrpc_server *s);

/* Listen on a unix socket: "unix:///run/containerd/s/<hash>" or a plain
   path; the socket is made 0600, its directory created (0700) if missing.
   EADDRINUSE is returned as such so the caller can probe the live shim.  */
int ttrpc_listen (const char *address, int *fd, runhv_error_t *err);
/* Connect (blocking, O_CLOEXEC) to "unix://PATH" or PATH.  */
int ttrpc_dial (const char *address, int *fd, runhv_error_t *err);

const char *ttrpc_call_method (const struct ttrpc_call *call);
/* The first value of a metadata key (compared case-insensitively, as ttrpc
   lower-cases keys), NULL when absent.  */
const char *ttrpc_call_metadata (const struct ttrpc_call *call, const char *key);
/* Shorthand for the containerd namespace, NULL when absent.  */
const char *ttrpc_call_namespace (const struct ttrpc_call *call);
uint32_t ttrpc_call_stream_id (const struct ttrpc_call *call);
/* True once the connection the call came on is gone: the answer will be
   dropped, so a deferred call can be answered (freed) right away.  */
bool ttrpc_call_peer_gone (const struct ttrpc_call *call);

/* Each of these answers and frees the call.  ttrpc_call_reply checks resp
   against the method's output descriptor (NULL is accepted for
   google.protobuf.Empty); a mismatch or a reply over TTRPC_MAX_MESSAGE
   answers INTERNAL / RESOURCE_EXHAUSTED instead and returns -1 so the bug
   can be logged.  A write that fails because the peer left is not an
   error: the connection is dropped on the next ttrpc_server_process.  */
int ttrpc_call_reply (struct ttrpc_call *call, const ProtobufCMessage *resp, runhv_error_t *err);
void ttrpc_call_fail (struct ttrpc_call *call, int code, const char *fmt, ...) RUNHV_PRINTF (3, 4);
/* Code from (*err)->status via ttrpc_code_from_errno, message from
   (*err)->msg; *err is released.  */
void ttrpc_call_fail_error (struct ttrpc_call *call, runhv_error_t *err);

/* ---- client --------------------------------------------------------- */

struct ttrpc_client; /* one connection: odd stream ids, 1, 3, 5, ... */

int ttrpc_client_connect (const char *address, struct ttrpc_client **out, runhv_error_t *err);
/* Adopt a connected socket.  */
struct ttrpc_client *ttrpc_client_new (int fd);
void ttrpc_client_free (struct ttrpc_client *c);
/* One blocking call.  ns, when not NULL, travels as the
   containerd-namespace-ttrpc metadata; timeout_ms (-1: none) bounds the
   whole call and is sent as the request's timeout_nano.  On success *resp
   is decoded with resp_desc (free with protobuf_c_message_free_unpacked);
   resp may be NULL to ignore the answer.  A non-OK status fails with
   "SERVICE/METHOD: CODE: message", err->status = ttrpc_code_to_errno (code);
   ETIMEDOUT on timeout.  After a timeout or a broken connection the client
   must be freed.  */
int ttrpc_client_call (struct ttrpc_client *c, const char *service, const char *method, const char *ns,
                       const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
                       ProtobufCMessage **resp, int timeout_ms, runhv_error_t *err);
/* The status code of the last failed call (TTRPC_OK when it succeeded or
   failed locally).  */
int ttrpc_client_last_code (const struct ttrpc_client *c);

/* ---- helpers for messages containerd reads -------------------------- */

/* Fill a google.protobuf.Any: type_url copied, value = msg packed (events:
   "containerd.events.TaskExit", stats: "io.containerd.cgroups.v1.Metrics").
   Free the two with ttrpc_any_release.  */
int ttrpc_any_pack (Google__Protobuf__Any *any, const char *type_url, const ProtobufCMessage *msg, runhv_error_t *err);
void ttrpc_any_release (Google__Protobuf__Any *any);
/* A CLOCK_REALTIME time as a Timestamp (exited_at, Envelope.timestamp).  */
void ttrpc_timestamp_set (Google__Protobuf__Timestamp *ts, const struct timespec *t);
void ttrpc_timestamp_now (Google__Protobuf__Timestamp *ts);

#endif

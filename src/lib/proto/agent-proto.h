/* The host<->guest agent protocol (docs/agent-protocol.md): frames with a
   16-byte big-endian header, JSON objects for requests, responses and
   events, raw bytes for stdio streams.  Both the agent and the host side
   decode with the same reader, which rejects anything malformed or larger
   than AGENT_PROTO_MAX_PAYLOAD without reading it.  */
#ifndef RUNHV_AGENT_PROTO_H
#define RUNHV_AGENT_PROTO_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define AGENT_PROTO_MAGIC 0x52485641u /* "RHVA" */
#define AGENT_PROTO_VERSION 3
#define AGENT_PROTO_HEADER 16
#define AGENT_PROTO_MAX_PAYLOAD (1u << 20)
#define AGENT_PORT_NAME "org.runhv.agent.0"

enum frame_type
{
  FRAME_REQUEST = 1,  /* id: request id, payload: JSON {"op": ...} */
  FRAME_RESPONSE = 2, /* id: the request's id, payload: JSON */
  FRAME_EVENT = 3,    /* id: 0, payload: JSON {"event": ...} */
  FRAME_DATA = 4,     /* id: stream id, payload: bytes */
  FRAME_CLOSE = 5,    /* id: stream id, no payload: end of stream */
  /* Flow control, either way: the receiver of a stream's DATA asks the
     sender to stop reading its source (XOFF) and to go on (XON), so one
     stalled reader never stalls the channel.  Bytes already in flight
     still arrive: the receiver's buffer absorbs them.  */
  FRAME_XOFF = 6, /* id: stream id, no payload */
  FRAME_XON = 7,  /* id: stream id, no payload */
};
/* A receiver asks XOFF above the high mark and XON below the low one.  */
#define STREAM_HIGH_WATER (1u << 20)
#define STREAM_LOW_WATER (256u << 10)

struct frame
{
  uint8_t type;
  uint32_t id;
  uint32_t len;
  uint8_t *payload; /* owned by the reader until the next call */
};

/* Incoming bytes → frames.  */
struct frame_reader
{
  uint8_t *buf;
  size_t len, cap, consumed;
};

void frame_reader_init (struct frame_reader *r);
void frame_reader_release (struct frame_reader *r);
void frame_reader_feed (struct frame_reader *r, const void *data, size_t n);
/* 1: a frame is in *f; 0: need more bytes; -1: protocol error (the
   connection must be dropped).  */
int frame_reader_next (struct frame_reader *r, struct frame *f, runhv_error_t *err);

/* Outgoing frames, queued so a full peer never blocks the sender.  */
struct outq
{
  uint8_t *buf;
  size_t len, cap, off;
};

void outq_init (struct outq *q);
void outq_release (struct outq *q);
int outq_push (struct outq *q, uint8_t type, uint32_t id, const void *payload, size_t len, runhv_error_t *err);
int outq_push_json (struct outq *q, uint8_t type, uint32_t id, json_t *j, runhv_error_t *err);
bool outq_empty (const struct outq *q);
size_t outq_pending (const struct outq *q);
/* Write what the fd takes now; 0 or -1 (errno) on a broken peer.  */
int outq_flush (struct outq *q, int fd);

void frame_header_encode (uint8_t out[AGENT_PROTO_HEADER], uint8_t type, uint32_t id, uint32_t len);

/* A JSON payload: an object, UTF-8, at most AGENT_PROTO_MAX_PAYLOAD.  */
int proto_json (const struct frame *f, json_t **out, runhv_error_t *err);

/* Request validation, shared by both ends: the op is known and each field
   has its type and bounds.  */
enum agent_op
{
  OP_HELLO = 1,
  OP_CREATE,
  OP_START,
  OP_KILL,
  OP_EXEC,
  OP_PS,
  OP_PAUSE,
  OP_RESUME,
  OP_UPDATE,
  OP_STATS,
  OP_RESIZE,
  OP_DELETE,
  OP_SHUTDOWN,
};
int proto_validate_request (json_t *req, enum agent_op *op, runhv_error_t *err);
/* hello's `seed` (validated), decoded into out: its length, 0 if none.  */
#define AGENT_HELLO_SEED_BYTES 32
size_t proto_hello_seed (json_t *req, unsigned char out[AGENT_HELLO_SEED_BYTES]);
const char *proto_op_name (enum agent_op op);
int proto_validate_event (json_t *ev, runhv_error_t *err);

/* Responses.  */
json_t *proto_ok (void);
json_t *proto_error (const runhv_error_t err);
/* An error response back into an error; 0 when it was ok.  */
int proto_check_response (json_t *resp, runhv_error_t *err);

#endif

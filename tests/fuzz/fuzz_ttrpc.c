/* libFuzzer entry for ttrpc as the shim reads it: the input is what a peer
   writes on the shim's socket.  A real ttrpc server with task methods
   registered (one answering at once, one failing, one deferring like Wait)
   takes it through framing, Request decoding, method lookup and payload
   decoding; whatever it answers is read back through the client's frame
   reader and Response decoder.  The same bytes also go straight to the
   response decoder, as the shim's publisher reads containerd's answers.
   Every input must end in answers or a dropped connection, never a crash,
   a leak or a hang.  */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shim.pb-c.h"
#include "proto/ttrpc.h"
#include "core/util.h"
#include "core/banned.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static struct ttrpc_call *deferred;

static int
h_state (struct ttrpc_call *call, const ProtobufCMessage *msg, void *data, runhv_error_t *err)
{
  const Containerd__Task__V2__StateRequest *r = (const void *)msg;
  Containerd__Task__V2__StateResponse resp = CONTAINERD__TASK__V2__STATE_RESPONSE__INIT;
  (void)data;
  resp.id = r->id;
  resp.exec_id = r->exec_id;
  return ttrpc_call_reply (call, &resp.base, err);
}

static int
h_create (struct ttrpc_call *call, const ProtobufCMessage *msg, void *data, runhv_error_t *err)
{
  const Containerd__Task__V2__CreateTaskRequest *r = (const void *)msg;
  size_t total = 0;
  (void)data;
  (void)call;
  for (size_t i = 0; i < r->n_rootfs; i++)
    total += strlen (r->rootfs[i]->type ? r->rootfs[i]->type : "") + r->rootfs[i]->n_options;
  return runhv_error (err, "create `%s`: refused (%zu)", r->id ? r->id : "", total);
}

static int
h_wait (struct ttrpc_call *call, const ProtobufCMessage *msg, void *data, runhv_error_t *err)
{
  (void)msg;
  (void)data;
  (void)err;
  if (deferred != NULL)
    {
      ttrpc_call_fail (call, TTRPC_FAILED_PRECONDITION, "one wait at a time");
      return 0;
    }
  deferred = call;
  return TTRPC_DEFER;
}

static int
h_kill (struct ttrpc_call *call, const ProtobufCMessage *msg, void *data, runhv_error_t *err)
{
  Containerd__Task__V2__WaitResponse w = CONTAINERD__TASK__V2__WAIT_RESPONSE__INIT;
  (void)msg;
  (void)data;
  if (deferred != NULL)
    {
      struct ttrpc_call *d = deferred;
      runhv_error_t ignored = NULL;
      deferred = NULL;
      w.exit_status = 137;
      if (ttrpc_call_reply (d, &w.base, &ignored) < 0)
        runhv_error_release (&ignored);
    }
  return ttrpc_call_reply (call, NULL, err);
}

static const struct ttrpc_method methods[] = {
  { "State", h_state },
  { "Create", h_create },
  { "Wait", h_wait },
  { "Kill", h_kill },
};

static void
read_answers (int fd, struct ttrpc_reader *r)
{
  uint8_t buf[4096];
  ssize_t n;
  while ((n = read (fd, buf, sizeof (buf))) > 0)
    {
      size_t off = 0;
      while (off < (size_t)n)
        {
          struct ttrpc_header h;
          uint8_t *body = NULL;
          size_t used = 0;
          int got = ttrpc_reader_feed (r, buf + off, (size_t)n - off, &used, &h, &body);
          off += used;
          if (got == TTRPC_READ_FRAME)
            {
              Ttrpc__Response *resp = NULL;
              runhv_error_t err = NULL;
              if (h.type != TTRPC_TYPE_RESPONSE)
                abort (); /* the server only ever answers */
              if (ttrpc_response_decode (body, h.length, &resp, &err) < 0)
                abort (); /* and what it answers decodes */
              ttrpc__response__free_unpacked (resp, NULL);
              free (body);
            }
        }
    }
}

static void
decode_as_response (const uint8_t *data, size_t size)
{
  struct ttrpc_reader r;
  size_t off = 0;
  ttrpc_reader_init (&r);
  while (off < size)
    {
      struct ttrpc_header h;
      uint8_t *body = NULL;
      size_t used = 0;
      int got = ttrpc_reader_feed (&r, data + off, size - off, &used, &h, &body);
      off += used;
      if (got == TTRPC_READ_FRAME)
        {
          Ttrpc__Response *resp = NULL;
          runhv_error_t err = NULL;
          if (ttrpc_response_decode (body, h.length, &resp, &err) < 0)
            runhv_error_release (&err);
          else
            ttrpc__response__free_unpacked (resp, NULL);
          free (body);
        }
      if (used == 0 && got == TTRPC_READ_MORE)
        break;
    }
  ttrpc_reader_release (&r);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct ttrpc_server *s = NULL;
  struct ttrpc_reader r;
  runhv_error_t err = NULL;
  int sv[2];
  size_t sent = 0;

  decode_as_response (data, size);

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
    abort ();
  if (ttrpc_server_new (&s, &err) < 0
      || ttrpc_server_register (s, &containerd__task__v2__task__descriptor, methods,
                                sizeof (methods) / sizeof (methods[0]), NULL, &err)
           < 0
      || ttrpc_server_add_conn (s, sv[0], &err) < 0)
    abort ();
  ttrpc_reader_init (&r);
  /* The peer writes everything and hangs up; the server must finish with
     the connection closed, however the bytes were cut.  */
  for (int round = 0; round < 10000 && ttrpc_server_connections (s) > 0; round++)
    {
      if (sent < size)
        {
          ssize_t n = send (sv[1], data + sent, size - sent, MSG_NOSIGNAL);
          if (n > 0)
            sent += (size_t)n;
          if (sent == size)
            shutdown (sv[1], SHUT_WR);
        }
      else if (size == 0 && round == 0)
        shutdown (sv[1], SHUT_WR);
      if (ttrpc_server_process (s, 0, &err) < 0)
        abort ();
      read_answers (sv[1], &r);
    }
  if (ttrpc_server_connections (s) > 0)
    abort (); /* a hang: the peer hung up long ago */
  if (deferred != NULL)
    {
      ttrpc_call_fail (deferred, TTRPC_UNAVAILABLE, "shutting down");
      deferred = NULL;
    }
  ttrpc_server_free (s);
  ttrpc_reader_release (&r);
  close (sv[1]);
  return 0;
}

/* Both ends of <state>/vm.sock (session-channel.h).  */
#include "uvm/session-channel.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/json.h"
#include "core/util.h"
#include "core/banned.h"

/* ---- client sockets ------------------------------------------------- */

int
session_socket_at (const char *dir, int *dirfd_out, struct sockaddr_un *addr, runhv_error_t *err)
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
  if (session_socket_at (state_dir, &dfd, &addr, err) < 0)
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

int
session_msg_send (int fd, uint8_t type, uint32_t id, json_t *j, const int *fds, size_t nfds, runhv_error_t *err)
{
  cleanup_free char *text = json_dumps (j, JSON_COMPACT);
  size_t len = text ? strlen (text) : 0;
  cleanup_free uint8_t *buf = NULL;
  if (text == NULL || len + AGENT_PROTO_HEADER > SESSION_MSG_MAX)
    return runhv_error (err, "supervisor protocol: message too large");
  buf = xmalloc0 (AGENT_PROTO_HEADER + len);
  frame_header_encode (buf, type, id, (uint32_t)len);
  memcpy (buf + AGENT_PROTO_HEADER, text, len);
  if (fd_send (fd, buf, AGENT_PROTO_HEADER + len, fds, nfds) < 0)
    return runhv_make_error (err, errno, "supervisor protocol: send");
  return 0;
}

int
session_msg_recv (int fd, struct frame *f, uint8_t **payload, int *fds, size_t *nfds, runhv_error_t *err)
{
  cleanup_free uint8_t *buf = xmalloc0 (SESSION_MSG_MAX);
  struct frame_reader r;
  ssize_t n;
  int got;
  *payload = NULL;
  n = fd_recv (fd, buf, SESSION_MSG_MAX, fds, fds ? 3 : 0, nfds, NULL);
  if (n < 0 && errno == EMSGSIZE)
    return runhv_error (err, "supervisor protocol: message over %u bytes", SESSION_MSG_MAX);
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
  if (session_msg_send (fd, FRAME_REQUEST, 1, req, fds, nfds, err) < 0)
    return -1;
  for (;;)
    {
      free (payload);
      payload = NULL;
      if (session_msg_recv (fd, &f, &payload, NULL, NULL, err) < 0)
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
      if (session_msg_recv (fd, &f, &payload, NULL, NULL, err) < 0)
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

/* <state>/vm.sock, the channel between a VM session and its clients (runhv
   commands, host stand-ins): SOCK_SEQPACKET messages, each one agent-proto
   frame with a JSON payload, a request's stdio fds attached to it.  Both
   ends are here.  */
#ifndef RUNHV_UVM_SESSION_CHANNEL_H
#define RUNHV_UVM_SESSION_CHANNEL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/un.h>

#include "core/error.h"
#include "proto/agent-proto.h"

#define SESSION_MSG_MAX (256u << 10)

/* vm.sock of a state directory, reached through an fd on the directory:
   state directories can be deeper than sun_path allows.  */
int session_socket_at (const char *dir, int *dirfd_out, struct sockaddr_un *addr, runhv_error_t *err);
int session_msg_send (int fd, uint8_t type, uint32_t id, json_t *j, const int *fds, size_t nfds, runhv_error_t *err);
/* One message: a frame, its payload in *payload (the caller frees it) and
   the fds attached (up to 3, when fds is not NULL).  */
int session_msg_recv (int fd, struct frame *f, uint8_t **payload, int *fds, size_t *nfds, runhv_error_t *err);

/* Client side (runhv commands, exec proxies): one request, one response.
   fds (may be NULL) travel with the request.  */
int uvm_client_connect (const char *state_dir, runhv_error_t *err);
int uvm_client_call (int fd, json_t *req, const int *fds, size_t nfds, json_t **resp, runhv_error_t *err);
/* A whole call on a fresh connection, answered within
   UVM_REQUEST_TIMEOUT_MS or failed with ETIMEDOUT.  */
#define UVM_REQUEST_TIMEOUT_MS 30000
int uvm_request (const char *state_dir, json_t *req, json_t **resp, runhv_error_t *err);
int uvm_request_timeout (const char *state_dir, json_t *req, int timeout_ms, json_t **resp, runhv_error_t *err);
/* Wait for the next event on a connection (an exec's exit).  */
int uvm_client_event (int fd, json_t **ev, runhv_error_t *err);

#endif

/* Messages between the runtime and the processes it forks (stage 1 joins
   namespaces, stage 2 becomes the container).  One SOCK_SEQPACKET datagram
   each; the sender's pid comes from SO_PASSCRED, translated by the kernel
   into the parent's pid namespace.  */
#ifndef RUNHV_SYNC_H
#define RUNHV_SYNC_H

#include <stdint.h>
#include <sys/types.h>

#include "core/error.h"

enum sync_type
{
  SYNC_GO = 1,      /* parent → stage 1: cgroup joined, go on */
  SYNC_USERMAP,     /* stage 1 → parent: write my uid/gid maps */
  SYNC_USERMAP_ACK, /* parent → stage 1 */
  SYNC_PID,         /* stage 2 → parent: here I am (pid from credentials) */
  SYNC_HOOKS,       /* stage 2 → parent: run prestart/createRuntime hooks */
  SYNC_HOOKS_ACK,   /* parent → stage 2 */
  SYNC_CONSOLE,     /* stage 2 → parent: pty master attached */
  SYNC_READY,       /* stage 2 → parent: created, waiting for start */
  SYNC_ERROR,       /* any → parent: {errno, message}, then exit */
  SYNC_SECCOMP,     /* stage 2 or exec → parent: the seccomp notify listener */
  SYNC_BOOTED,      /* VM supervisor → runtime: the guest answered (value: QEMU's pid); a report follows */
};

struct sync_msg
{
  int32_t type;
  int32_t value;
  pid_t sender; /* from SCM_CREDENTIALS, 0 when absent */
  int fd;       /* attached fd or -1 */
  char text[4000];
};

int sync_send (int sock, int type, int value, const char *text, int fd);
/* Returns 0, or -1 with errno (0 when the peer closed the socket).  */
int sync_recv (int sock, struct sync_msg *msg);
/* A child's error travels as SYNC_ERROR {errno, message}: these two are
   its only encoder and decoder.  Report err (EINVAL and "unknown error"
   when there is none); -1 with errno when the socket is gone.  */
int sync_send_error (int sock, const runhv_error_t err);
/* In a child: report an error and exit.  */
void sync_fail (int sock, runhv_error_t *err) __attribute__ ((noreturn));
/* In the parent: the error a SYNC_ERROR message carries, as the child made
   it (its errno and message).  Closes any fd that came with it; returns -1. */
int sync_msg_error (struct sync_msg *m, runhv_error_t *err);
int sync_expect (int sock, int type, runhv_error_t *err);

#endif

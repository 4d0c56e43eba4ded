/* runhv — one error type, carried up unchanged (style rule 1 and 2). */
#ifndef RUNHV_ERROR_H
#define RUNHV_ERROR_H

#include <stdarg.h>

struct runhv_error_s
{
  int status; /* errno-like cause, 0 when none applies */
  char *msg;  /* one line: what failed, which field, and the fix */
};
typedef struct runhv_error_s *runhv_error_t;

#define RUNHV_PRINTF(a, b) __attribute__ ((format (printf, a, b)))

/* Set *err and return -1, so callers can `return runhv_make_error (...)`.
   When status != 0, ": strerror(status)" is appended.  */
int runhv_make_error (runhv_error_t *err, int status, const char *fmt, ...) RUNHV_PRINTF (3, 4);
/* Same, without the strerror suffix, for errors that already say everything.  */
int runhv_error (runhv_error_t *err, const char *fmt, ...) RUNHV_PRINTF (2, 3);
/* Prepend context at a layer boundary: "create container `x`: <old msg>".  */
int runhv_error_wrap (runhv_error_t *err, const char *fmt, ...) RUNHV_PRINTF (2, 3);
void runhv_error_release (runhv_error_t *err);
/* Move an error out of a forked child: encode/decode {errno,msg} for a socket.  */
int runhv_error_send (int fd, int status, const char *msg);
int runhv_error_recv (int fd, runhv_error_t *err); /* 0 = peer reported success */

#endif

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
/* A forked child's error reaches its parent as sync.h's SYNC_ERROR
   (sync_fail in the child, sync_msg_error in the parent).  */

#endif

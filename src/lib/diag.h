/* runhv diag check: the seed's verification script, one ✓/✗ line per
   check, each failure with its fix.  */
#ifndef RUNHV_DIAG_H
#define RUNHV_DIAG_H

#include <stdio.h>

#include "runtime.h"

/* Returns 0 when every check passed, 1 when one failed.  */
int diag_check_run (struct runtime_context *ctx, FILE *out, runhv_error_t *err);

#endif

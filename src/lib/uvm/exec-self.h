/* Helpers (the VM supervisor and the host stand-in of a process in a VM,
   which outlive their caller; a VM pod's network setup, which runs while
   its caller boots the VM) are the caller's own binary exec'd with a hidden
   role argument: a fresh address space, a clean environment and exactly
   the descriptors given, never a fork of library code that keeps its
   caller's memory, threads, locks and sockets.  Their configuration travels
   as JSON in a sealed memfd.  */
#ifndef RUNHV_UVM_EXEC_SELF_H
#define RUNHV_UVM_EXEC_SELF_H

#include <jansson.h>
#include <sys/types.h>

#include "core/error.h"

/* Descriptors of every exec'd helper: its stdio at 0-2, then these, then
   its own extras from EXEC_SELF_FIRST_EXTRA on.  */
#define EXEC_SELF_REPORT_FD 3 /* sync.h messages back to the caller */
#define EXEC_SELF_CONFIG_FD 4 /* its configuration: JSON in a sealed memfd */
#define EXEC_SELF_FIRST_EXTRA 5
#define EXEC_SELF_MAX_EXTRA 3

/* fork and exec /proc/self/exe with argv {name, role}, a clean environment
   and only these descriptors: stdio (NULL: /dev/null; stdio[i] < 0: the
   caller's own i), `report`, `config` in a sealed memfd, and extra[k] at
   EXEC_SELF_FIRST_EXTRA + k (< 0: that one stays closed).  */
pid_t exec_self (const char *name, const char *role, json_t *config, const int *stdio, int report, const int *extra,
                 int nextra, runhv_error_t *err);
/* The exec'd side, first thing: names the process in logs, resets the
   signal dispositions an exec keeps, and returns its configuration.
   Anyone who runs the role by hand is told it is internal, and the
   process exits 2.  */
json_t *exec_self_start (const char *ident, const char *role);
/* The roles are dispatched by a constructor in exec-self.c, before the
   program's main (): a role runs and never returns.  */

#endif

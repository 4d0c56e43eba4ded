/* Helpers that outlive their caller (the VM supervisor, the host stand-in
   of a process in a VM) are the caller's own binary exec'd with a hidden
   role argument: a fresh address space, a clean environment and exactly
   the descriptors given, never a fork of library code that keeps its
   caller's memory, threads, locks and sockets.  Their configuration travels
   as JSON in a sealed memfd.  */
#ifndef RUNHV_UVM_EXEC_SELF_H
#define RUNHV_UVM_EXEC_SELF_H

#include <jansson.h>
#include <sys/types.h>

#include "error.h"

#define EXEC_SELF_MAX_FDS 8

/* fork, put fds[i] at descriptor i (fds[i] < 0: i stays closed), close
   every other descriptor, exec /proc/self/exe with argv {name, role}.  */
pid_t exec_self (const char *name, const char *role, const int *fds, int nfds, runhv_error_t *err);
/* A sealed memfd holding j.  */
int exec_self_config_fd (json_t *j, runhv_error_t *err);
/* The exec'd side, first thing: names the process in logs, resets the
   signal dispositions an exec keeps, and returns the JSON in the sealed
   memfd at config_fd (closed after).  Anyone who runs the role by hand is
   told it is internal, and the process exits 2.  */
json_t *exec_self_start (const char *ident, const char *role, int config_fd);
/* Called first by main () of runhv and of the shim: runs a role and does
   not return when argv names one.  */
void exec_self_dispatch (int argc, char **argv);

#endif

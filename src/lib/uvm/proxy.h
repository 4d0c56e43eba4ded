/* The host stand-in of a process in a VM: a host pid whose exit status and
   signals are the guest process's, for callers whose contract needs one
   (conmon's `exec --detach --pid-file`, a pod's joined container waited on
   by its caller).  An exec'd program (exec-self.h), not a fork.  */
#ifndef RUNHV_UVM_PROXY_H
#define RUNHV_UVM_PROXY_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "core/error.h"

#define UVM_PROXY_ARGV1 "__vm-proxy"

struct uvm_proxy_args
{
  const char *vm_dir;
  const char *id;
  const char *exec_id; /* NULL: the container's own process */
  json_t *request;     /* create or exec, sent with the stdio fds */
  bool terminal;
  const int *stdio; /* -1 = our own */
  const char *console_socket;
  int console_receiver;
  const char *exit_file; /* where a container's exit status is left */
};

/* It reports on `report` (sync.h): SYNC_READY with the guest pid, or
   SYNC_ERROR.  */
pid_t uvm_proxy_spawn (const struct uvm_proxy_args *a, int report, runhv_error_t *err);
void uvm_proxy_exec_main (void) __attribute__ ((noreturn));

#endif

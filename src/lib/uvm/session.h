/* A VM's host side as one object, a session: QEMU in its jail, the agent
   channel, the container's stdio and every exec's streams relayed without
   blocking, the clients of <state>/vm.sock, and one non-blocking event
   loop over all of them.  Two hosts run it:

   - the VM supervisor (supervisor.c), exec'd by runhv for the CLI and
     podman: a process of its own, confined once the VM runs, whose exit
     status is the container's, as a caller that waits for a pid expects;
   - the containerd shim, through runtime.h (a "hosted" session): the
     shim's own event loop drives the session's descriptors, exits are
     heard on eventfds, and no process stands for the VM or its processes
     on the host but QEMU.

   Both serve vm.sock, so `runhv state|exec|kill|ps` reach a VM whichever
   process hosts it.  */
#ifndef RUNHV_UVM_SESSION_H
#define RUNHV_UVM_SESSION_H

#include <jansson.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/types.h>

#include "core/error.h"
#include "uvm/supervisor.h"

struct uvm_session;

/* Called once the guest answered, while it creates the container (the
   supervisor confines itself then).  */
typedef int (*uvm_session_booted_fn) (pid_t vmm, runhv_error_t *err);

/* Boot the VM and create its container (not started).  hosted: the
   session lives in the calling process, which keeps its own mount
   namespace, cgroup, signals and privileges; else the caller is the
   exec'd supervisor, which the session takes over (its mount namespace
   becomes the VM's).  on_booted may be NULL.  On failure nothing the
   session made is left.  */
int uvm_session_open (const struct supervisor_config *cfg, bool hosted, uvm_session_booted_fn on_booted,
                      struct uvm_session **out, runhv_error_t *err);
/* After uvm_session_end (or a failed open), and at once for a hosted one:
   what is left goes (the VM is ended first if it still runs).  */
void uvm_session_free (struct uvm_session *s);

pid_t uvm_session_vmm_pid (const struct uvm_session *s);
/* What create records of the VM: guest_pid, accel, size, cgroup.  */
json_t *uvm_session_info (const struct uvm_session *s);

/* The event loop, driven by its host: the descriptors to watch (fills at
   most max; returns how many it has, so a first call with max 0 sizes the
   array), then the same array after poll.  */
size_t uvm_session_pollfds (struct uvm_session *s, struct pollfd *p, size_t max);
void uvm_session_dispatch (struct uvm_session *s, const struct pollfd *p, size_t n);
/* A child of the host exited: the session's if it was QEMU (true).  */
bool uvm_session_child_exited (struct uvm_session *s, pid_t pid, int wstatus);
/* Stop the VM (politely, then not) and record why; its processes' waiters
   hear the given status (the container) or 137 (the rest).  */
void uvm_session_end (struct uvm_session *s, int status, const char *reason);
bool uvm_session_ended (const struct uvm_session *s, int *status);
/* Send a signal to the container's own process (the supervisor passes on
   the ones it gets).  */
void uvm_session_signal (struct uvm_session *s, int sig);

/* A request as a vm.sock client sends it (docs/hypervisor.md), from the
   host process itself: answered when the agent has answered, the loop
   running meanwhile, or failed with ETIMEDOUT after timeout_ms.  fds (a
   create's or an exec's stdio) belong to the session from the call on.  */
int uvm_session_call (struct uvm_session *s, json_t *req, const int *fds, size_t nfds, int timeout_ms, json_t **resp,
                      runhv_error_t *err);

/* Exits of a hosted session's processes: for the container `id`'s own
   process (exec_id NULL) or for an exec the host made through
   uvm_session_call, an eventfd (the caller's) that polls readable once it
   has exited; then its status (128+N for signal N).  */
int uvm_session_exit_fd (struct uvm_session *s, const char *id, const char *exec_id, runhv_error_t *err);
bool uvm_session_exit_status (struct uvm_session *s, const char *id, const char *exec_id, int *status);
void uvm_session_forget (struct uvm_session *s, const char *id, const char *exec_id);
/* Run the loop until that process has exited or the VM has ended (0), or
   timeout_ms has passed (-1).  */
int uvm_session_wait (struct uvm_session *s, const char *id, const char *exec_id, int timeout_ms);

/* The sessions this process hosts, by the state directory of their VM's
   container (NULL: none here).  */
struct uvm_session *uvm_session_hosted (const char *state_dir);
/* All of them at once, for a host loop (as uvm_session_pollfds and
   uvm_session_dispatch, over every hosted session in turn).  */
size_t uvm_sessions_pollfds (struct pollfd *p, size_t max);
void uvm_sessions_dispatch (const struct pollfd *p, size_t n);
bool uvm_sessions_child_exited (pid_t pid, int wstatus);
/* One turn of every hosted session's loop, for a host that must wait for
   something else (a lock) without leaving its VMs unserved.  */
void uvm_sessions_run (int timeout_ms);
/* The host is going: every hosted VM ends (137) and is freed.  */
void uvm_sessions_end_all (void);

#endif

/* The compute-system interface.  A container runs under one backend:
   "process" (namespaces and cgroups on this kernel) or "hypervisor" (in its
   own utility VM).  The runtime layer (runtime.c) owns the registry, ids,
   locking and isolation choice; a backend owns processes, cgroups and VMs. */
#ifndef RUNHV_BACKEND_H
#define RUNHV_BACKEND_H

#include <stdbool.h>
#include <sys/types.h>

#include "core/config.h"
#include "core/error.h"
#include "oci/spec.h"
#include "oci/state.h"
#include "core/stats.h"

enum container_status
{
  STATUS_CREATING = 0,
  STATUS_CREATED,
  STATUS_RUNNING,
  STATUS_PAUSED,
  STATUS_STOPPED,
  /* Its manager (a VM supervisor) is alive but does not answer: never
     reported as stopped, which would let a plain delete kill it.  */
  STATUS_UNKNOWN,
};

struct runtime_context;

struct container
{
  struct container_state *state;
  struct oci_spec *spec; /* from state->config */
  const struct backend_ops *ops;
  int lock_fd;
};

struct create_options
{
  const char *bundle;
  const char *pid_file;
  const char *console_socket;
  int console_receiver; /* instead of console_socket: a socket fd we read */
  int preserve_fds;
  bool no_pivot;
  const char *isolation; /* --isolation, NULL when not given */
  const char *owner;
  int lock_fd;  /* set by the runtime: children must not keep it */
  int stdio[3]; /* the container's stdin/stdout/stderr; -1 = inherit ours */
};

struct exec_options
{
  struct oci_process *process; /* complete: args, env, user, caps, ... */
  const char *pid_file;
  const char *console_socket;
  int console_receiver;
  bool detach;
  int preserve_fds;
  int stdio[3]; /* -1 = inherit ours */
  /* runc's --cgroup: "[controller[,controller]:]path" entries naming an
     existing sub-cgroup of the container's to put the process in.  */
  char *const *cgroup_subs;
  bool ignore_paused; /* exec into a paused container (the process waits frozen) */
  pid_t pid;          /* out: the process's pid (host pid for process isolation) */
  /* out, when not NULL: where the VM knows the process by (at least
     RUNHV_EXEC_REF_MAX bytes), for runtime_kill_exec; "" for a host one.  */
  char *exec_ref;
  /* out, when not NULL and detached: the process to wait on, which the
     caller releases (process_handle_release).  */
  struct process_handle *handle;
};

#define RUNHV_EXEC_REF_MAX 40

/* A process the caller may wait on: the container's own (run in the
   foreground) or an exec'd one.  */
struct process_handle
{
  pid_t pid;   /* host pid when there is one (process backend), else 0 */
  int wait_fd; /* readable once the process has exited */
  int (*signal) (struct process_handle *h, int sig, runhv_error_t *err);
  int (*reap) (struct process_handle *h, int *exit_status, runhv_error_t *err);
  void (*release) (struct process_handle *h);
  void *priv;
};

void process_handle_release (struct process_handle *h);
/* A handle on a host process that is our child (waitpid gives its status). */
int process_handle_for_child (struct process_handle *h, pid_t pid, runhv_error_t *err);

struct backend_ops
{
  const char *name;
  /* The state directory exists and state->config is set; fill state->pid
     and backend data.  On failure, leave nothing behind.  */
  int (*create) (struct runtime_context *ctx, struct container *c, const struct create_options *o, runhv_error_t *err);
  int (*start) (struct runtime_context *ctx, struct container *c, runhv_error_t *err);
  enum container_status (*status) (struct runtime_context *ctx, struct container *c);
  int (*kill) (struct runtime_context *ctx, struct container *c, int sig, bool all, runhv_error_t *err);
  /* Stop whatever runs (force) and release every host resource.  */
  int (*destroy) (struct runtime_context *ctx, struct container *c, runhv_error_t *err);
  int (*exec) (struct runtime_context *ctx, struct container *c, const struct exec_options *o, struct process_handle *h,
               runhv_error_t *err);
  int (*ps) (struct runtime_context *ctx, struct container *c, pid_t **pids, size_t *n, runhv_error_t *err);
  int (*pause) (struct runtime_context *ctx, struct container *c, runhv_error_t *err);
  int (*resume) (struct runtime_context *ctx, struct container *c, runhv_error_t *err);
  int (*update) (struct runtime_context *ctx, struct container *c, const struct oci_resources *r, runhv_error_t *err);
  int (*stats) (struct runtime_context *ctx, struct container *c, struct container_stats *s, runhv_error_t *err);
  /* The container's own process, for a caller that waits on it (run in the
     foreground: runhv is then its parent).  */
  int (*attach) (struct runtime_context *ctx, struct container *c, struct process_handle *h, runhv_error_t *err);
  /* Optional.  The host pid of the VMM the container runs in (`state`'s
     vmmPid), 0 when it is gone.  */
  pid_t (*vmm_pid) (struct runtime_context *ctx, struct container *c);
  /* Optional.  Signal an exec'd process that is not a host process (its
     host stand-in cannot pass on SIGKILL).  */
  int (*kill_exec) (struct runtime_context *ctx, struct container *c, const char *exec_ref, int sig,
                    runhv_error_t *err);
  /* Optional.  An fd that polls readable when the OOM killer acts in the
     container (cgroup_oom_watch); the count comes from stats.  */
  int (*oom_watch) (struct runtime_context *ctx, struct container *c, runhv_error_t *err);
  /* Optional.  [{pid, cmd}] when the processes are not the host's.  */
  int (*ps_detail) (struct runtime_context *ctx, struct container *c, json_t **out, runhv_error_t *err);
};

extern const struct backend_ops process_backend;
extern const struct backend_ops hypervisor_backend;
/* A failed VM create keeps its console and VMM logs (its error names
   them); `delete --force ID` of that id removes them.  */
void hypervisor_forget_logs (struct runtime_context *ctx, const char *id);

const char *container_status_name (enum container_status s);

/* The runhv.toml of ctx, loaded on first use and owned by ctx.  */
int runtime_config (struct runtime_context *ctx, struct runhv_config **out, runhv_error_t *err);
/* Write the container's record (its state, with the lock held).  */
int container_save (struct runtime_context *ctx, struct container *c, runhv_error_t *err);

#endif

/* The runtime as a library: every tool (runhv, the shim, the agent) goes
   through these calls and never around them.  */
#ifndef RUNHV_RUNTIME_H
#define RUNHV_RUNTIME_H

#include <jansson.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/types.h>

#include "backend/backend.h"
#include "core/config.h"
#include "core/error.h"
#include "backend/runtime-context.h"

#define RUNHV_DEFAULT_ROOT "/run/runhv"

int runtime_context_init (struct runtime_context *ctx, const char *root, runhv_error_t *err);
void runtime_context_release (struct runtime_context *ctx);

/* Isolation precedence: --isolation > annotation io.runhv.isolation >
   runhv.toml SandboxIsolation > process.  */
int runtime_select_isolation (const char *flag, const struct oci_spec *spec, const struct runhv_config *cfg,
                              enum isolation *out, runhv_error_t *err);

/* *pid (when not NULL) gets the container's pid as `state` shows it.  */
int runtime_create (struct runtime_context *ctx, const char *id, const struct create_options *o, pid_t *pid,
                    runhv_error_t *err);
int runtime_start (struct runtime_context *ctx, const char *id, runhv_error_t *err);
/* create + start (+ wait and delete unless detach).  Foreground: signals
   are forwarded and *exit_status is the container's (128+N for signal N). */
int runtime_run (struct runtime_context *ctx, const char *id, const struct create_options *o, bool detach, bool keep,
                 int *exit_status, runhv_error_t *err);
int runtime_state (struct runtime_context *ctx, const char *id, json_t **out, runhv_error_t *err);
int runtime_kill (struct runtime_context *ctx, const char *id, int sig, bool all, runhv_error_t *err);
int runtime_delete (struct runtime_context *ctx, const char *id, bool force, runhv_error_t *err);
int runtime_list (struct runtime_context *ctx, json_t **out, runhv_error_t *err);
int runtime_exec (struct runtime_context *ctx, const char *id, struct exec_options *o, int *result, runhv_error_t *err);
/* Signal a process exec'd with o->exec_ref set, by that reference.  */
int runtime_kill_exec (struct runtime_context *ctx, const char *id, const char *exec_ref, int sig, runhv_error_t *err);
/* The container's own process object, as a base for `exec` with args.  */
int runtime_exec_template (struct runtime_context *ctx, const char *id, json_t **out, runhv_error_t *err);
/* [{pid, cmd}] for containers whose processes are not the host's (in a
   VM); *out stays NULL for the others.  */
int runtime_ps_detail (struct runtime_context *ctx, const char *id, json_t **out, runhv_error_t *err);
int runtime_ps (struct runtime_context *ctx, const char *id, pid_t **pids, size_t *n, runhv_error_t *err);
/* The container's own process as a handle to wait on and signal (its
   init, a VM's supervisor, or for a VM this process hosts an fd its
   session fires at the exit); released with process_handle_release.  */
int runtime_process_handle (struct runtime_context *ctx, const char *id, struct process_handle *h, runhv_error_t *err);

/* VMs this process hosts (runtime_context.host_vms): their event loop runs
   in the caller's.  pollfds fills at most max and returns how many it
   needs (max 0 sizes the array); dispatch takes the same array after
   poll, before anything else uses the runtime.  */
size_t runtime_vms_pollfds (struct pollfd *p, size_t max);
void runtime_vms_dispatch (const struct pollfd *p, size_t n);
/* A child of the caller exited (waitpid): true when it was a hosted VM's
   VMM, which that VM's session now handles.  */
bool runtime_vms_child_exited (pid_t pid, int wstatus);
/* The caller is going: every VM it hosts ends.  */
void runtime_vms_end_all (void);
int runtime_pause (struct runtime_context *ctx, const char *id, runhv_error_t *err);
int runtime_resume (struct runtime_context *ctx, const char *id, runhv_error_t *err);
int runtime_update (struct runtime_context *ctx, const char *id, const struct oci_resources *r, runhv_error_t *err);
/* Set-Container -RuntimeType: only a created or stopped container.  */
int runtime_convert (struct runtime_context *ctx, const char *id, const char *isolation, runhv_error_t *err);
/* Fill s (zeroed by the caller); release it with container_stats_release.  */
int runtime_stats (struct runtime_context *ctx, const char *id, struct container_stats *s, runhv_error_t *err);
/* An fd that polls readable when the OOM killer acts in the container
   (process isolation; ENOTSUP where the host cannot see it, as in a VM).  */
int runtime_oom_watch (struct runtime_context *ctx, const char *id, runhv_error_t *err);
/* Consume what made the watch readable; the count is in runtime_stats.  */
void runtime_oom_watch_drain (int fd);
/* runc's `events`: a {"type","id","data"} line for the stats every
   interval_ms and one for each OOM kill, passed to emit, until the
   container is deleted; with once, one stats event.  */
int runtime_events (struct runtime_context *ctx, const char *id, unsigned interval_ms, bool once,
                    void (*emit) (const char *line, void *arg), void *arg, runhv_error_t *err);
/* hcsdiag list: every compute system with type, owner, state, host pid. */
int runtime_diag_list (struct runtime_context *ctx, json_t **out, runhv_error_t *err);

/* The host process the container's waiters watch as on record (its init;
   for a VM container the supervisor or host proxy) and the container's
   isolation ("process" or "hypervisor"; *isolation is the caller's).  */
int runtime_host_pid (struct runtime_context *ctx, const char *id, pid_t *pid, char **isolation, runhv_error_t *err);

/* What `features` reports of this build and host, beyond the spec's lists:
   the capabilities libcap names up to the kernel's last one, the seccomp
   support, and whether hypervisor isolation can start (its guest artifacts
   are found).  Release with runtime_features_release.  */
struct runtime_features
{
  json_t *capabilities; /* ["CAP_CHOWN", ...] */
  json_t *seccomp;      /* the OCI features' linux.seccomp object */
  bool hypervisor_available;
};
void runtime_features_get (struct runtime_context *ctx, struct runtime_features *out);
void runtime_features_release (struct runtime_features *f);

#endif

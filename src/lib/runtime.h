/* The runtime as a library: every tool (runhv, the shim, the agent) goes
   through these calls and never around them.  */
#ifndef RUNHV_RUNTIME_H
#define RUNHV_RUNTIME_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "backend.h"
#include "config.h"
#include "error.h"

#define RUNHV_DEFAULT_ROOT "/run/runhv"

struct runtime_context
{
  char *root;                  /* --root */
  bool systemd_cgroup;         /* --systemd-cgroup: cgroupsPath is slice:prefix:name */
  const char *config_path;     /* runhv.toml to use, NULL for the default lookup */
  const char *cgroup_root;     /* NULL = /sys/fs/cgroup; a fake tree in tests */
  struct runhv_config *config; /* loaded on first use */
  /* NULL in every program.  Set, every container runs under this backend
     whatever its isolation: the one seam through which the lifecycle's
     unit tests drive runtime.c with a fake (tests/unit/test_runtime.c).  */
  const struct backend_ops *backend;
};

int runtime_context_init (struct runtime_context *ctx, const char *root, runhv_error_t *err);
void runtime_context_release (struct runtime_context *ctx);
int runtime_config (struct runtime_context *ctx, struct runhv_config **out, runhv_error_t *err);

/* Isolation precedence: --isolation > annotation io.runhv.isolation >
   runhv.toml SandboxIsolation > process.  */
int runtime_select_isolation (const char *flag, const struct oci_spec *spec, const struct runhv_config *cfg,
                              enum isolation *out, runhv_error_t *err);

int runtime_create (struct runtime_context *ctx, const char *id, const struct create_options *o, runhv_error_t *err);
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

/* Open a container with its state locked; close with container_free.  */
int container_open (struct runtime_context *ctx, const char *id, struct container **out, runhv_error_t *err);
void container_free (struct container *c);
int container_save (struct runtime_context *ctx, struct container *c, runhv_error_t *err);
enum container_status container_status (struct runtime_context *ctx, struct container *c);

#endif

/* The compute-system registry: one directory per compute system under the
   runtime root (--root), holding state.json.  Both backends and every tool
   (CLI, shim, diag) read and write it through these functions only.  */
#ifndef RUNHV_OCI_STATE_H
#define RUNHV_OCI_STATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/error.h"

#define COMPUTE_TYPE_CONTAINER "Container"
#define COMPUTE_TYPE_VM "VirtualMachine"

struct container_state
{
  char *id;
  char *type;      /* Container | VirtualMachine */
  char *isolation; /* process | hypervisor */
  char *owner;     /* who created it (user name, or "containerd" / "podman" when known) */
  char *parent;    /* owning compute system ("<id>@vm") or NULL */
  char *bundle;    /* absolute */
  char *rootfs;    /* absolute */
  char *created;   /* RFC 3339 */
  pid_t pid;       /* container init (process) or VMM (hypervisor) on the host */
  uint64_t pid_start;
  char *cgroup_path;
  bool systemd_cgroup;
  bool started; /* start has released the process */
  /* Saved while create runs, so whatever instant create dies at, what it
     made is on record for `delete --force`; cleared when create is done.  */
  bool creating;
  bool has_exit_status;
  int exit_status; /* recorded when known (e.g. by the VM supervisor) */
  json_t *annotations;
  json_t *config;  /* the validated config.json, kept for update/delete/hooks */
  json_t *backend; /* backend-private data */
};

/* Container IDs: [A-Za-z0-9][A-Za-z0-9_.+-]*, at most 1024 bytes.  '@' is
   reserved for the VMs' "<id>@vm" names.  */
int state_validate_id (const char *id, runhv_error_t *err);

/* Create <root>/<id> exclusively (a duplicate ID is an error).  */
int state_dir_create (const char *root, const char *id, runhv_error_t *err);
char *state_dir_path (const char *root, const char *id);
int state_save (const char *root, const struct container_state *st, runhv_error_t *err);
/* ENOENT in err->status when the container does not exist.  */
int state_load (const char *root, const char *id, struct container_state **out, runhv_error_t *err);
int state_remove (const char *root, const char *id, runhv_error_t *err);
/* IDs of every compute system under root, sorted.  */
int state_list (const char *root, char ***ids, runhv_error_t *err);
/* flock the state directory; returns an fd to close to release.  */
int state_lock (const char *root, const char *id, runhv_error_t *err);
/* The same without waiting: EWOULDBLOCK while another holds it.  */
int state_try_lock (const char *root, const char *id, runhv_error_t *err);

void container_state_free (struct container_state *st);
json_t *container_state_to_json (const struct container_state *st);
int container_state_from_json (json_t *j, struct container_state **out, runhv_error_t *err);

#endif

/* cgroups for one container: v1 (one directory per mounted hierarchy, the
   layout of this host, hybrid included) and v2 (one directory in the unified
   tree, the layout inside the utility VM).  */
#ifndef RUNHV_CGROUP_H
#define RUNHV_CGROUP_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/error.h"
#include "oci/spec.h"
#include "core/stats.h"

enum cgroup_mode
{
  CGROUP_MODE_V1 = 1, /* legacy or hybrid */
  CGROUP_MODE_V2 = 2, /* unified only */
};

struct cgroup_hierarchy
{
  char *name;       /* "memory", "cpu,cpuacct", "name=systemd", "" for v2/unified */
  char *mountpoint; /* /sys/fs/cgroup/memory */
  char *path;       /* container cgroup relative to the mountpoint: /runhv/abc */
};

struct cgroup_manager
{
  enum cgroup_mode mode;
  char *root; /* /sys/fs/cgroup, or a fake tree in tests */
  bool fake;  /* a test tree: control files are created on write */
  struct cgroup_hierarchy *h;
  size_t n_h;
};

/* Detect the layout under root (NULL = /sys/fs/cgroup) and resolve the
   container's cgroup from spec's cgroupsPath (NULL = /runhv/<id>).  systemd
   style "slice:prefix:name" is mapped to /slice/prefix-name.scope.  */
int cgroup_manager_new (const char *root, const char *cgroups_path, const char *id, bool systemd,
                        struct cgroup_manager **out, runhv_error_t *err);
void cgroup_manager_free (struct cgroup_manager *m);
json_t *cgroup_manager_to_json (const struct cgroup_manager *m);
int cgroup_manager_from_json (json_t *j, struct cgroup_manager **out, runhv_error_t *err);

/* Fail when the container's cgroup, or the ancestor a new one would inherit
   from, is frozen: an init placed there could never report back.  */
int cgroup_check_unfrozen (const struct cgroup_manager *m, runhv_error_t *err);
int cgroup_create (struct cgroup_manager *m, runhv_error_t *err);
int cgroup_enter (struct cgroup_manager *m, pid_t pid, runhv_error_t *err);
/* A copy of m whose paths go down into the existing sub-cgroups that runc's
   `exec --cgroup` entries name: "path" for every hierarchy, or
   "ctrl[,ctrl]:path" for the hierarchies carrying those controllers (v1).  */
int cgroup_manager_sub (const struct cgroup_manager *m, char *const *subs, struct cgroup_manager **out,
                        runhv_error_t *err);
int cgroup_apply (struct cgroup_manager *m, const struct oci_resources *r, runhv_error_t *err);
/* Thaw and SIGKILL every process in the cgroup and its sub-cgroups.  */
void cgroup_kill_tree (struct cgroup_manager *m);
/* Remove the cgroup and its sub-cgroups; with kill, SIGKILL whatever is left first.  */
int cgroup_destroy (struct cgroup_manager *m, bool kill, runhv_error_t *err);
int cgroup_freeze (struct cgroup_manager *m, bool frozen, runhv_error_t *err);
bool cgroup_is_frozen (struct cgroup_manager *m);
int cgroup_pids (struct cgroup_manager *m, pid_t **pids, size_t *n, runhv_error_t *err);
int cgroup_signal_all (struct cgroup_manager *m, int sig, runhv_error_t *err);
/* Fill s (zeroed by the caller; release it with container_stats_release).  */
int cgroup_stats (struct cgroup_manager *m, struct container_stats *s, runhv_error_t *err);
/* An fd that polls readable when the container's memory cgroup reports an
   OOM (an eventfd on memory.oom_control for v1, an inotify watch on
   memory.events for v2); drain it with cgroup_oom_watch_drain and read the
   count with cgroup_stats.  */
int cgroup_oom_watch (struct cgroup_manager *m, runhv_error_t *err);
void cgroup_oom_watch_drain (int fd);
/* Host path of the directory that a process in the container sees as its
   cgroup root for hierarchy i (for bind-mounting into the container).  */
char *cgroup_host_dir (const struct cgroup_manager *m, size_t i);

/* Pure conversions, unit-tested.  */
uint64_t cgroup_shares_to_weight (uint64_t shares);
uint64_t cgroup_blkio_to_io_weight (uint64_t weight);
char *cgroup_path_from_spec (const char *cgroups_path, const char *id, bool systemd);
/* Statistics files, parsed as runc parses them.  */
uint64_t cgroup_kv (const char *buf, const char *key);
int cgroup_parse_cpu_list (const char *buf, uint16_t **out, size_t *n);
int cgroup_parse_u64_fields (const char *buf, uint64_t **out, size_t *n);
int cgroup_parse_usage_all (const char *buf, struct container_stats *s);
int cgroup_parse_memory_stat (const char *buf, struct container_stats *s);
int cgroup_parse_blkio (const char *buf, struct stats_blkio_list *l);
int cgroup_parse_io_stat (const char *buf, struct container_stats *s);
int cgroup_hugepage_name (const char *dirent_name, char *out, size_t size);

#endif

/* The OCI runtime spec (config.json) as typed C, parsed and validated up
   front so that every mistake is reported before anything is created.  */
#ifndef RUNHV_OCI_SPEC_H
#define RUNHV_OCI_SPEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/error.h"

#define OCI_VERSION "1.0.2"

struct oci_mount
{
  char *destination;
  char *type;
  char *source;
  char **options;
  /* derived from options */
  unsigned long flags;       /* MS_* to set */
  unsigned long propagation; /* MS_SHARED/SLAVE/PRIVATE/UNBINDABLE (|MS_REC) or 0 */
  bool bind;                 /* bind or rbind */
  /* rro, rnosuid, ...: MOUNT_ATTR_* for mount_setattr(AT_RECURSIVE) */
  uint64_t rec_attr_set, rec_attr_clr;
  char *data; /* the options the kernel parses itself */
};

struct oci_namespace
{
  int type; /* CLONE_NEW* */
  char *path;
};

struct oci_id_map
{
  uint32_t container_id, host_id, size;
};

struct oci_rlimit
{
  int resource;
  uint64_t soft, hard;
};

struct oci_device
{
  char *path;
  char type; /* c, u, b, p */
  int64_t major, minor;
  uint32_t file_mode, uid, gid;
  bool has_file_mode, has_uid, has_gid;
};

struct oci_device_rule
{
  bool allow;
  char type;            /* a, c, b */
  int64_t major, minor; /* -1 = wildcard */
  char access[4];
};

struct oci_hook
{
  char *path;
  char **args;
  char **env;
  int timeout; /* seconds, 0 = none */
};

enum oci_hook_kind
{
  OCI_HOOK_PRESTART = 0,
  OCI_HOOK_CREATE_RUNTIME,
  OCI_HOOK_CREATE_CONTAINER,
  OCI_HOOK_START_CONTAINER,
  OCI_HOOK_POSTSTART,
  OCI_HOOK_POSTSTOP,
  OCI_HOOK_KINDS
};

struct oci_throttle_device
{
  int64_t major, minor;
  uint64_t rate;
};

struct oci_weight_device
{
  int64_t major, minor;
  uint16_t weight;
};

struct oci_net_priority
{
  char *name; /* interface */
  uint32_t priority;
};

struct oci_hugepage_limit
{
  char *page_size; /* "2MB", as the hugetlb control files spell it */
  uint64_t limit;
};

/* All "has_" flags say the field was given; update merges only those.  */
struct oci_resources
{
  bool has_memory_limit, has_memory_reservation, has_memory_swap, has_memory_swappiness;
  int64_t memory_limit, memory_reservation, memory_swap; /* -1 = unlimited */
  uint64_t memory_swappiness;
  bool disable_oom_killer;

  bool has_cpu_shares, has_cpu_quota, has_cpu_period;
  uint64_t cpu_shares, cpu_period;
  int64_t cpu_quota; /* -1 = unlimited */
  char *cpu_cpus, *cpu_mems;
  bool has_cpu_rt_runtime, has_cpu_rt_period;
  int64_t cpu_rt_runtime;
  uint64_t cpu_rt_period;

  bool has_pids_limit;
  int64_t pids_limit; /* -1 or 0 = unlimited */

  bool has_blkio_weight;
  uint16_t blkio_weight;
  struct oci_throttle_device *throttle_read_bps, *throttle_write_bps, *throttle_read_iops, *throttle_write_iops;
  size_t n_throttle_read_bps, n_throttle_write_bps, n_throttle_read_iops, n_throttle_write_iops;
  struct oci_weight_device *weight_devices;
  size_t n_weight_devices;

  struct oci_device_rule *devices;
  size_t n_devices;

  bool has_net_class_id;
  uint32_t net_class_id;
  struct oci_net_priority *net_priorities;
  size_t n_net_priorities;
  struct oci_hugepage_limit *hugepage_limits;
  size_t n_hugepage_limits;

  /* cgroup v2 "unified" key → value */
  char **unified_keys, **unified_values;
};

struct oci_seccomp_arg
{
  unsigned int index;
  uint64_t value, value_two;
  int op; /* enum scmp_compare */
};

struct oci_seccomp_rule
{
  char **names;
  uint32_t action; /* SCMP_ACT_* */
  struct oci_seccomp_arg *args;
  size_t n_args;
};

struct oci_seccomp
{
  uint32_t default_action;
  char **architectures; /* SCMP_ARCH names as strings, validated */
  char **flags;
  struct oci_seccomp_rule *rules;
  size_t n_rules;
  /* SCMP_ACT_NOTIFY: the listener fd goes to this unix socket, with the
     state and the metadata (runc's seccomp agent protocol).  */
  char *listener_path, *listener_metadata;
  bool notify;
};

struct oci_process
{
  bool terminal;
  unsigned console_height, console_width;
  uint32_t uid, gid;
  bool has_umask;
  uint32_t umask;
  uint32_t *additional_gids;
  size_t n_additional_gids;
  char **args;
  char **env;
  char *cwd;
  bool has_capabilities;
  uint64_t cap_bounding, cap_effective, cap_inheritable, cap_permitted, cap_ambient;
  struct oci_rlimit *rlimits;
  size_t n_rlimits;
  bool no_new_privileges;
  bool has_oom_score_adj;
  int oom_score_adj;
  char *apparmor_profile, *selinux_label;
  json_t *json; /* the object it was parsed from (for passing it on) */
};

struct oci_spec
{
  char *oci_version;
  struct oci_process *process;
  char *root_path; /* as written (relative to the bundle or absolute) */
  bool root_readonly;
  char *hostname, *domainname;
  struct oci_mount *mounts;
  size_t n_mounts;
  struct oci_hook *hooks[OCI_HOOK_KINDS];
  size_t n_hooks[OCI_HOOK_KINDS];
  json_t *annotations; /* object of string → string, owned */

  struct oci_namespace *namespaces;
  size_t n_namespaces;
  struct oci_id_map *uid_mappings, *gid_mappings;
  size_t n_uid_mappings, n_gid_mappings;
  struct oci_device *devices;
  size_t n_devices;
  char *cgroups_path;
  struct oci_resources *resources;
  char **sysctl_keys, **sysctl_values;
  struct oci_seccomp *seccomp;
  unsigned long rootfs_propagation; /* 0 = default (rslave) */
  char **masked_paths, **readonly_paths;
  char *mount_label;

  json_t *json; /* the document as loaded, owned */
};

/* Load <bundle>/config.json (bundle may be NULL for the cwd).  */
int oci_spec_load (const char *bundle, struct oci_spec **out, runhv_error_t *err);
int oci_spec_parse_json (json_t *root, const char *what, struct oci_spec **out, runhv_error_t *err);
int oci_spec_parse_buffer (const char *buf, size_t len, const char *what, struct oci_spec **out, runhv_error_t *err);
void oci_spec_free (struct oci_spec *spec);

/* A process object (config.json "process" or `exec --process`).  */
int oci_process_parse (json_t *obj, const char *where, struct oci_process **out, runhv_error_t *err);
void oci_process_free (struct oci_process *p);

/* linux.resources or `update --resources`.  */
int oci_resources_parse (json_t *obj, const char *where, struct oci_resources **out, runhv_error_t *err);
void oci_resources_free (struct oci_resources *r);
/* Copy the fields present in `update` into `base`.  */
void oci_resources_merge (struct oci_resources *base, const struct oci_resources *update);
json_t *oci_resources_to_json (const struct oci_resources *r);

/* Helpers exposed for unit tests and for the exec/update CLI paths.  */
int oci_namespace_from_name (const char *name);       /* CLONE_NEW* or -1 */
const char *oci_namespace_name (int clone_flag);      /* "pid", ... */
const char *oci_namespace_proc_name (int clone_flag); /* "pid", "net", "mnt", ... */
int oci_capability_from_name (const char *name);      /* CAP_* or -1 */
int oci_rlimit_from_name (const char *name);          /* RLIMIT_* or -1 */
int oci_mount_parse_options (struct oci_mount *m, runhv_error_t *err);
/* Every mount option the parser knows, sorted (for `features`).  */
char **oci_mount_option_names (void);
bool oci_spec_has_namespace (const struct oci_spec *spec, int type, const char **path);
const char *oci_spec_annotation (const struct oci_spec *spec, const char *key);
/* An annotation (or its io.microsoft.* alias) as a positive integer of at
   most max (0: no bound); *present says whether either was given.  */
int oci_annotation_count (const struct oci_spec *spec, const char *key, const char *alias, uint64_t max,
                          const char *unit, uint64_t *out, bool *present, runhv_error_t *err);

/* The seed's storage QoS annotations: a VM's shared filesystem device, or
   a process-isolated container's rootfs disk (process/storage-qos.c).  */
#define OCI_ANN_QOS_BPS "io.runhv.container.storage.qos.bandwidthmaximum"
#define OCI_ANN_QOS_IOPS "io.runhv.container.storage.qos.iopsmaximum"
#define OCI_ANN_MS_QOS_BPS "io.microsoft.container.storage.qos.bandwidthmaximum"
#define OCI_ANN_MS_QOS_IOPS "io.microsoft.container.storage.qos.iopsmaximum"
/* The sandbox id of the pod a CRI container belongs to (annotations
   io.kubernetes.cri.container-type "container" and .sandbox-id), NULL for
   a sandbox or a container outside a pod.  */
const char *oci_spec_pod_sandbox (const struct oci_spec *spec);
/* cgroupns: list a cgroup namespace (runc does on cgroup v2 hosts only). */
char *oci_default_spec_json (bool rootless, bool cgroupns);

#endif

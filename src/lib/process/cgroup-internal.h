#ifndef RUNHV_CGROUP_INTERNAL_H
#define RUNHV_CGROUP_INTERNAL_H

#include "process/cgroup.h"

/* Open the container's directory in hierarchy i.  */
int cgroup_open_dir (const struct cgroup_manager *m, size_t i, runhv_error_t *err);
/* Write a control file; `field` names the spec field for the error.  */
int cgroup_write (const struct cgroup_manager *m, int dirfd, const char *file, const char *value, const char *field,
                  runhv_error_t *err);
int cgroup_write_u64 (const struct cgroup_manager *m, int dirfd, const char *file, uint64_t v, const char *field,
                      runhv_error_t *err);
int cgroup_write_i64 (const struct cgroup_manager *m, int dirfd, const char *file, int64_t v, const char *field,
                      runhv_error_t *err);
/* Reword a failed per-device weight write: the kernel refuses one for a
   device whose I/O scheduler has no weights.  */
int cgroup_weight_device_error (const struct oci_weight_device *d, runhv_error_t *err);
int cgroup_read_u64 (int dirfd, const char *file, uint64_t *out);
/* Wait until `file` contains `needle` (a freezer settling).  */
int cgroup_wait_for (int dirfd, const char *file, const char *needle, runhv_error_t *err);
/* Index of the v1 hierarchy carrying controller c, or -1.  */
int cgroup_v1_find (const struct cgroup_manager *m, const char *controller);

int cgroup_v1_apply (struct cgroup_manager *m, const struct oci_resources *r, runhv_error_t *err);
int cgroup_v1_freeze (struct cgroup_manager *m, bool frozen, runhv_error_t *err);
bool cgroup_v1_is_frozen (struct cgroup_manager *m);
int cgroup_v1_stats (struct cgroup_manager *m, struct container_stats *s, runhv_error_t *err);
int cgroup_v1_prepare_dir (struct cgroup_manager *m, size_t i, runhv_error_t *err);

int cgroup_v2_apply (struct cgroup_manager *m, const struct oci_resources *r, runhv_error_t *err);
int cgroup_v2_freeze (struct cgroup_manager *m, bool frozen, runhv_error_t *err);
bool cgroup_v2_is_frozen (struct cgroup_manager *m);
int cgroup_v2_stats (struct cgroup_manager *m, struct container_stats *s, runhv_error_t *err);
int cgroup_v2_enable_controllers (struct cgroup_manager *m, runhv_error_t *err);

#endif

/* Storage QoS annotations on a process-isolated container's rootfs disk.  */
#ifndef RUNHV_PROCESS_STORAGE_QOS_H
#define RUNHV_PROCESS_STORAGE_QOS_H

#include "process/cgroup.h"
#include "core/error.h"
#include "oci/spec.h"

/* Throttle the disk under rootfs as the spec's storage QoS annotations
   say (nothing when it has none); an error when there is no such disk.  */
int process_storage_qos (const struct oci_spec *spec, const char *rootfs, struct cgroup_manager *cg,
                         runhv_error_t *err);

#endif

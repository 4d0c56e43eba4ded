/* How big a utility VM is, and what its shared filesystem may use: the
   seed's resource table mapped to Linux.  */
#ifndef RUNHV_UVM_SIZING_H
#define RUNHV_UVM_SIZING_H

#include <stdint.h>

#include "core/config.h"
#include "core/error.h"
#include "oci/spec.h"

#define ANN_MEMORY "io.runhv.virtualmachine.computetopology.memory.sizeinmb"
#define ANN_CPUS "io.runhv.virtualmachine.computetopology.processor.count"
#define ANN_MS_MEMORY "io.microsoft.virtualmachine.computetopology.memory.sizeinmb"
#define ANN_MS_CPUS "io.microsoft.virtualmachine.computetopology.processor.count"
/* Pod totals containerd's CRI puts on the sandbox spec (kubelet >= 1.23). */
#define ANN_CRI_SANDBOX_MEMORY "io.kubernetes.cri.sandbox-memory"
#define ANN_CRI_SANDBOX_QUOTA "io.kubernetes.cri.sandbox-cpu-quota"
#define ANN_CRI_SANDBOX_PERIOD "io.kubernetes.cri.sandbox-cpu-period"

/* The guest kernel, the agent and page cache need room beyond the
   container's own limit: measured idle guest use is about 60 MiB.  */
#define UVM_MEMORY_HEADROOM_MB 96
#define UVM_MEMORY_MIN_MB 128
#define UVM_MEMORY_DEFAULT_MB 256
#define UVM_CPUS_DEFAULT 1

struct uvm_sizing
{
  int64_t memory_mb;
  int64_t cpus;
  const char *memory_source; /* annotation | config | pod | limits | default */
  const char *cpus_source;
  uint64_t qos_bps; /* 0 = unlimited */
  uint64_t qos_iops;
  /* ScaleCPULimitsToSandbox: factor applied to the container's CPU quota
     inside the guest, as vm_cpus / host_cpus (1.0 when off).  */
  double cpu_quota_scale;
};

int uvm_sizing_compute (const struct oci_spec *spec, const struct runhv_config *cfg, int64_t host_cpus,
                        int64_t host_memory_mb, struct uvm_sizing *out, runhv_error_t *err);
/* The resources the container gets inside the guest, after scaling.  */
json_t *uvm_guest_resources (const struct oci_spec *spec, const struct uvm_sizing *s);

#endif

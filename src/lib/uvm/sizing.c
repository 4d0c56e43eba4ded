#include "uvm/sizing.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "core/banned.h"

int
uvm_sizing_compute (const struct oci_spec *spec, const struct runhv_config *cfg, int64_t host_cpus,
                    int64_t host_memory_mb, struct uvm_sizing *out, runhv_error_t *err)
{
  uint64_t v;
  bool have;
  const struct oci_resources *r = spec->resources;

  memset (out, 0, sizeof (*out));
  out->cpu_quota_scale = 1.0;

  /* memory: annotation > runhv.toml > pod total > container limit > default */
  if (oci_annotation_count (spec, ANN_MEMORY, ANN_MS_MEMORY, (uint64_t)host_memory_mb, "MiB", &v, &have, err) < 0)
    return -1;
  if (have)
    {
      if (v < UVM_MEMORY_MIN_MB)
        return runhv_error (err, "annotations.%s: %llu MiB is too small for a utility VM (at least %d)", ANN_MEMORY,
                            (unsigned long long)v, UVM_MEMORY_MIN_MB);
      out->memory_mb = (int64_t)v;
      out->memory_source = "annotation";
    }
  else if (cfg != NULL && cfg->vm_memory_mb > 0)
    {
      if (cfg->vm_memory_mb > host_memory_mb)
        return runhv_error (err, "VmMemorySizeInMb = %lld is more than this host has (%lld MiB)",
                            (long long)cfg->vm_memory_mb, (long long)host_memory_mb);
      out->memory_mb = cfg->vm_memory_mb;
      out->memory_source = "config";
    }
  else
    {
      const char *pod = oci_spec_annotation (spec, ANN_CRI_SANDBOX_MEMORY);
      int64_t bytes = 0;
      if (pod != NULL && parse_int64 (pod, &bytes) == 0 && bytes > 0)
        {
          out->memory_mb = (bytes + (1 << 20) - 1) / (1 << 20) + UVM_MEMORY_HEADROOM_MB;
          out->memory_source = "pod";
        }
      else if (r != NULL && r->has_memory_limit && r->memory_limit > 0)
        {
          out->memory_mb = (r->memory_limit + (1 << 20) - 1) / (1 << 20) + UVM_MEMORY_HEADROOM_MB;
          out->memory_source = "limits";
        }
      else
        {
          out->memory_mb = UVM_MEMORY_DEFAULT_MB;
          out->memory_source = "default";
        }
      if (out->memory_mb < UVM_MEMORY_MIN_MB)
        out->memory_mb = UVM_MEMORY_MIN_MB;
      if (out->memory_mb > host_memory_mb)
        return runhv_error (err,
                            "the container's memory limit needs a %lld MiB utility VM, more than this host has "
                            "(%lld MiB); lower the limit or set %s",
                            (long long)out->memory_mb, (long long)host_memory_mb, ANN_MEMORY);
    }

  /* vCPUs: annotation > runhv.toml > pod quota > container quota > default */
  if (oci_annotation_count (spec, ANN_CPUS, ANN_MS_CPUS, (uint64_t)host_cpus, "processors", &v, &have, err) < 0)
    return -1;
  if (have)
    {
      out->cpus = (int64_t)v;
      out->cpus_source = "annotation";
    }
  else if (cfg != NULL && cfg->vm_cpus > 0)
    {
      if (cfg->vm_cpus > host_cpus)
        return runhv_error (err, "VmProcessorCount = %lld is more than this host has (%lld)", (long long)cfg->vm_cpus,
                            (long long)host_cpus);
      out->cpus = cfg->vm_cpus;
      out->cpus_source = "config";
    }
  else
    {
      const char *q = oci_spec_annotation (spec, ANN_CRI_SANDBOX_QUOTA);
      const char *p = oci_spec_annotation (spec, ANN_CRI_SANDBOX_PERIOD);
      int64_t quota = 0, period = 0;
      if (q != NULL && p != NULL && parse_int64 (q, &quota) == 0 && parse_int64 (p, &period) == 0 && quota > 0
          && period > 0)
        {
          out->cpus = (quota + period - 1) / period;
          out->cpus_source = "pod";
        }
      else if (r != NULL && r->has_cpu_quota && r->cpu_quota > 0)
        {
          int64_t per = r->has_cpu_period && r->cpu_period > 0 ? (int64_t)r->cpu_period : 100000;
          out->cpus = (r->cpu_quota + per - 1) / per;
          out->cpus_source = "limits";
        }
      else
        {
          out->cpus = UVM_CPUS_DEFAULT;
          out->cpus_source = "default";
        }
      if (out->cpus > host_cpus)
        out->cpus = host_cpus;
      if (out->cpus < 1)
        out->cpus = 1;
    }

  if (oci_annotation_count (spec, OCI_ANN_QOS_BPS, OCI_ANN_MS_QOS_BPS, 0, "bytes per second", &out->qos_bps, &have, err)
        < 0
      || oci_annotation_count (spec, OCI_ANN_QOS_IOPS, OCI_ANN_MS_QOS_IOPS, 0, "operations per second", &out->qos_iops,
                               &have, err)
           < 0)
    return -1;
  if (cfg != NULL && cfg->scale_cpu_limits && host_cpus > 0)
    out->cpu_quota_scale = (double)out->cpus / (double)host_cpus;
  return 0;
}

json_t *
uvm_guest_resources (const struct oci_spec *spec, const struct uvm_sizing *s)
{
  struct oci_resources copy;
  json_t *j;
  if (spec->resources == NULL)
    return NULL;
  copy = *spec->resources;
  if (copy.has_cpu_quota && copy.cpu_quota > 0)
    {
      int64_t period = copy.has_cpu_period && copy.cpu_period > 0 ? (int64_t)copy.cpu_period : 100000;
      double q = (double)copy.cpu_quota * s->cpu_quota_scale;
      /* Never ask the guest for more CPU time than it has vCPUs.  */
      if (q > (double)(period * s->cpus))
        q = (double)(period * s->cpus);
      if (q < 1000)
        q = 1000;
      copy.cpu_quota = (int64_t)q;
    }
  /* Device rules stay: device numbers are the kernel's, the same in the
     guest (1:3 is /dev/null there too), and the agent enforces them.  */
  copy.cpu_cpus = NULL; /* host CPU numbers; the VM has its own */
  copy.cpu_mems = NULL;
  j = oci_resources_to_json (&copy);
  return j;
}

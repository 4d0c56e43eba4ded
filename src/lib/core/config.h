/* runhv.toml: node-wide defaults, with the option names of the seed's
   containerd runhcs options (SandboxIsolation, VmMemorySizeInMb, ...).  */
#ifndef RUNHV_CONFIG_H
#define RUNHV_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define RUNHV_DEFAULT_CONFIG "/etc/runhv/runhv.toml"

enum isolation
{
  ISOLATION_PROCESS = 0,
  ISOLATION_HYPERVISOR = 1,
};

struct runhv_config
{
  char *path;            /* where it was read from, NULL for built-in defaults */
  int sandbox_isolation; /* SandboxIsolation: 0 process, 1 hypervisor */
  int64_t vm_memory_mb;  /* VmMemorySizeInMb, 0 = derive */
  int64_t vm_cpus;       /* VmProcessorCount, 0 = derive */
  bool scale_cpu_limits; /* ScaleCPULimitsToSandbox */
  bool debug;            /* Debug */
  /* [vm] */
  char *kernel;
  char *initrd;
  char *qemu;
  char *accelerator; /* auto | kvm | tcg */
  char *shared_fs;   /* 9p | virtiofs */
  char *virtiofsd;
  int64_t boot_timeout_ms;
  int64_t jail_id_base; /* first host uid/gid of the VMMs' ranges, 0 = default */
  bool vm_template;     /* [vm] template: VMs start from a saved VM (uvm/template.h) */
};

/* path NULL: $RUNHV_CONFIG, else /etc/runhv/runhv.toml when it exists, else
   built-in defaults.  A file that exists but is wrong is an error.  */
int runhv_config_load (const char *path, struct runhv_config **out, runhv_error_t *err);
int runhv_config_parse (const char *buf, size_t len, const char *what, struct runhv_config **out, runhv_error_t *err);
void runhv_config_free (struct runhv_config *c);

const char *isolation_name (enum isolation i);
int isolation_from_name (const char *name, const char *what, enum isolation *out, runhv_error_t *err);

#endif

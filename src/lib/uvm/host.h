/* Facts about this host that decide how a utility VM is started: where the
   guest kernel, initramfs and QEMU are, which accelerator works, the TSC
   frequency the guest needs on its command line.  */
#ifndef RUNHV_UVM_HOST_H
#define RUNHV_UVM_HOST_H

#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "core/error.h"

struct uvm_artifacts
{
  char *kernel;            /* uncompressed vmlinux (PVH) */
  char *initrd;            /* initramfs.cpio with runhv-agent */
  char *qemu;              /* qemu-system-x86_64 */
  char *virtiofsd;         /* only when shared_fs = virtiofs */
  char *kernel_release;    /* from kernel-release beside the kernel, may be NULL */
  char *initrd_release;    /* the modules' release recorded with the initramfs */
  const char *kernel_kind; /* which kernel this is, for diag check (static) */
};

/* Resolve and check each file; the error says which is missing and how to
   provision it.  */
int uvm_artifacts_find (const struct runhv_config *cfg, struct uvm_artifacts *out, runhv_error_t *err);
void uvm_artifacts_release (struct uvm_artifacts *a);
/* The directory searched when runhv.toml names no paths.  */
const char *uvm_default_guest_dir (void);

/* The KVM probe's verdict and the TSC rate hold for the host, whatever
   runtime root asks.  */
#define UVM_PROBE_CACHE_DIR "/run/runhv"

/* auto|kvm|tcg → "kvm" or "tcg".  auto picks KVM only when a probe boot of
   the guest kernel under KVM succeeds (cached per host boot).  `why` gets a
   line explaining the choice.  */
int uvm_accel_resolve (const struct runhv_config *cfg, const struct uvm_artifacts *a, const char *cache_dir,
                       char **accel, char **why, runhv_error_t *err);

/* The host TSC in kHz (the guest's tsc_early_khz=), 0 when unknown,
   cached in cache_dir (NULL: none) for this host boot.  *reliable says the
   host kernel itself keeps time with the TSC (its current clocksource), so
   the guest may trust it too.  */
long uvm_host_tsc_khz (const char *cache_dir, bool *reliable);
/* The host kernel's TSC rate from a perf mmap page, 0 when its clocksource
   is not the TSC (then uvm_host_tsc_khz times it).  */
long uvm_host_tsc_khz_from_perf (void);
int64_t uvm_host_memory_mb (void);
int64_t uvm_host_cpus (void);

#endif

/* VM templates (Kata's VM factory, Firecracker's snapshots): a utility VM
   booted once to the point where its agent waits for its host, its RAM a
   file, its devices and CPUs then saved with QEMU's migration to another;
   each later VM of the same make runs on a copy of that RAM and loads
   those devices instead of booting, and its agent finishes the boot with
   what is the VM's own: fresh entropy into the guest's crng, the host's
   time, its shared filesystem.  A template is specific to
   everything that shapes the guest (QEMU, kernel and initramfs files,
   memory, vCPUs, accelerator, command line, devices): its name is a hash
   of those, its key file spells them out.  docs/hypervisor.md ("VM
   templates") says what VMs of one template share and why that is safe. */
#ifndef RUNHV_UVM_TEMPLATE_H
#define RUNHV_UVM_TEMPLATE_H

#include <stdbool.h>

#include "core/error.h"
#include "uvm/host.h"
#include "uvm/vmm.h"

/* Where templates live: root's, in memory, gone at the host's reboot.  */
#define UVM_TEMPLATE_DIR UVM_PROBE_CACHE_DIR "/vm-templates"
/* Templates kept at once (each is the guest memory its boot touched,
   16-20 MiB of memory for the lean guest); the least recently used goes
   first.  */
#define UVM_TEMPLATE_MAX 8

/* What a VM loads from a template: its device state, read-only
   (restore_fd), and its memory (read-only) with an empty memfd of its
   size, which the VM's jail fills from it (uvm_template_fill_memory) and
   only this VM's QEMU will hold and write.  */
struct uvm_template_files
{
  int state_fd;
  int memory_fd;
  int memory_src_fd;
};

/* The template of VMs launched as `l` in `dir`, made first when there is
   none (*made: by this call); one maker per template at a time, the
   others wait for it.  Making boots a VM in the same jail as any other
   and waits at most timeout_ms for its agent and its save.  The caller
   closes the fds.  */
int uvm_template_open (const struct uvm_launch *l, const char *dir, long timeout_ms, bool *made,
                       struct uvm_template_files *out, runhv_error_t *err);

/* Copy the template's memory (src) into a VM's (dst, as long), data
   extents only, holes kept.  */
int uvm_template_fill_memory (int src, int dst, runhv_error_t *err);

/* A VM launched from a template waits (-incoming defer): allow RAM that
   is not in the stream (its memory file is) and start the load, through
   its QMP monitor (qmp_fd, the host's end).  The guest runs once loaded. */
int uvm_template_start (int qmp_fd, long timeout_ms, runhv_error_t *err);

/* A VM failed to start from the template of `l`: remove it, so that the
   next VM makes it anew.  */
void uvm_template_discard (const struct uvm_launch *l, const char *dir);

#endif

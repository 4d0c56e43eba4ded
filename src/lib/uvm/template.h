/* VM templates (Kata's VM factory, Firecracker's snapshots): a utility VM
   booted once to the point where its agent waits for its host, then saved
   with QEMU's migration to a file; each later VM of the same make loads
   that file instead of booting (`-incoming`), and its agent finishes the
   boot with what is the VM's own: fresh entropy into the guest's crng,
   the host's time, its shared filesystem.  A template is specific to
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
   16-20 MiB for the lean guest); the least recently used goes first.  */
#define UVM_TEMPLATE_MAX 8

/* Why a VM launched as `l` cannot start from a template (NULL: it can).
   A network device is the VM's own (its MAC is in the guest) and a
   template has none.  */
const char *uvm_template_unusable (const struct uvm_launch *l);

/* An fd open read-only on the template of VMs launched as `l` (their
   restore_fd), made first when there is none (*made: by this call), in
   `dir`; one maker per template at a time, the others wait for it.
   Making boots a VM in the same jail as any other and waits at most
   timeout_ms for its agent.  */
int uvm_template_open (const struct uvm_launch *l, const char *dir, long timeout_ms, bool *made, runhv_error_t *err);

/* A VM failed to start from the template of `l`: remove it, so that the
   next VM makes it anew.  */
void uvm_template_discard (const struct uvm_launch *l, const char *dir);

#endif

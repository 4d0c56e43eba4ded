/* runhv-agent: PID 1 of the utility VM and the guest end of the agent
   protocol.  It runs containers with the same library the host uses
   (process backend, cgroup v2), so a container inside the VM gets the same
   namespaces, limits and security settings as on the host.  */
#ifndef RUNHV_AGENT_H
#define RUNHV_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "core/error.h"

#define AGENT_SHARED_DIR "/run/shared"
#define AGENT_RUNTIME_ROOT "/run/runhv"

struct agent_boot
{
  char fs[16];    /* 9p | virtiofs | none */
  char port[128]; /* virtio-serial port name */
  bool finished;  /* a VM's hello finished the boot (network, shared filesystem) */
};

/* PID 1 duties: mounts, modules, the network; returns the fd of the host
   channel.  */
int agent_boot (struct agent_boot *b, runhv_error_t *err);
/* The rest of the boot, at the host's hello, which a VM template leaves
   to each VM made from it (uvm/template.h): seed (when seed_len > 0) the
   guest's crng afresh, set its clock (now, when not NULL); once, the pod
   network (net, when not NULL) and the shared filesystem.  */
int agent_finish_boot (struct agent_boot *b, const unsigned char *seed, size_t seed_len, const struct timespec *now,
                       const char *net, runhv_error_t *err);
/* The pod network (hello's `net`) on the VM's NIC.  */
int agent_configure_network (const char *spec, runhv_error_t *err);
/* Serve the host until it asks for shutdown.  */
int agent_serve (struct agent_boot *b, int port_fd, runhv_error_t *err);
void agent_poweroff (void) __attribute__ ((noreturn));

#endif

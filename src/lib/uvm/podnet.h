/* A VM-isolated pod's network: CNI set up a veth in the pod's network
   namespace; the VM gets a tap beside it, with all traffic redirected
   between the two by tc, and the guest's interface takes the pod's IP,
   MAC, MTU and gateway, so the pod is reachable at its IP as with process
   isolation.  */
#ifndef RUNHV_UVM_PODNET_H
#define RUNHV_UVM_PODNET_H

#include <net/if.h>
#include <sys/types.h>

#include "core/error.h"

#define PODNET_TAP "tap0_runhv"

struct podnet
{
  int tap_fd;
  char ifname[IFNAMSIZ];
  char mac[24];
  char ip[48];
  int prefix;
  char gateway[48]; /* "" when none */
  int mtu;
  /* The redirections, still being made when podnet_setup returns.  */
  pid_t setup_pid;
  int setup_sock;
};

/* In the network namespace at netns_path: returns with the tap (what QEMU
   needs) while the traffic's redirections are still being made, so they
   cost no time before the VM boots.  Nothing is left on failure.  */
int podnet_setup (const char *netns_path, struct podnet *out, runhv_error_t *err);
/* Wait for the redirections podnet_setup began (before the pod is said to
   be created; on any path, before podnet_teardown).  err NULL: only wait. */
int podnet_finish (struct podnet *n, runhv_error_t *err);
/* Undo the redirection (the tap goes with its last fd).  Tolerates a
   namespace that is already gone.  */
void podnet_teardown (const char *netns_path, const char *ifname);
/* "ip/prefix,gw,mac,mtu" for the agent's hello.  */
char *podnet_guest_config (const struct podnet *n);
/* The setup helper's hidden role (exec-self.h).  */
#define UVM_PODNET_ARGV1 "__vm-podnet"
void podnet_exec_main (void) __attribute__ ((noreturn));

#endif

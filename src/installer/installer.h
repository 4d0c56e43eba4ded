/* runhv-node-installer: puts runhv on a Kubernetes node from a privileged
   DaemonSet pod (the node's / mounted at --host-root), the way
   kata-deploy puts Kata Containers there.  */
#ifndef RUNHV_INSTALLER_H
#define RUNHV_INSTALLER_H

#include <stdbool.h>

#include "core/error.h"

/* The API server as a pod's service account sees it: its address from
   KUBERNETES_SERVICE_HOST/PORT, the token and the CA from the mounted
   service account directory.  */
struct kube_client
{
  char *host;   /* IP literal or name, as the environment gives it */
  char *port;   /* decimal */
  char *token;  /* bearer token, trailing newline removed */
  char *ca_pem; /* the CA, read at init: the labelling runs after chroot */
  size_t ca_len;
};

/* Read what the client needs; nothing is sent.  */
int kube_client_init (struct kube_client *c, const char *sa_dir, runhv_error_t *err);
void kube_client_release (struct kube_client *c);

/* Set label key=value on node (value NULL: remove the label) with a JSON
   merge patch, over HTTPS that checks the API server against the CA.
   Every call opens and closes its own connection.  */
int kube_label_node (const struct kube_client *c, const char *node, const char *key, const char *value,
                     runhv_error_t *err);

#endif

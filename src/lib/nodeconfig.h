/* Node configuration for containerd: the runtime handlers that map
   Kubernetes RuntimeClasses to runhv (the seed's runhcs-wcow-process and
   runhcs-wcow-hypervisor, with sized variants like ...-1vp2gb), and the
   runhv TOML file each one names through ConfigPath.  */
#ifndef RUNHV_NODECONFIG_H
#define RUNHV_NODECONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/error.h"

#define RUNHV_RUNTIME_TYPE "io.containerd.runhv.v1"
#define RUNHV_HANDLER_PROCESS "runhv-process"
#define RUNHV_HANDLER_HYPERVISOR "runhv-hypervisor"

struct vm_size
{
  char name[32]; /* "1vp2gb" */
  int64_t cpus;
  int64_t memory_mb;
};

/* "1vp2gb,2vp4gb,1vp512mb" → sizes.  */
int nodeconfig_parse_sizes (const char *list, struct vm_size **out, size_t *n, runhv_error_t *err);
/* Print the containerd snippet on out and write one runhv TOML per handler
   into dir (NULL: do not write).  */
int nodeconfig_containerd (const struct vm_size *sizes, size_t n, const char *dir, FILE *out, runhv_error_t *err);
/* The same for a node whose root is mounted elsewhere (the node
   installer): the TOML files are written into dir, the snippet names them
   under node_dir, and each one says `[vm] kernel = kernel` (NULL: no
   [vm] table, runhv's default guest directory).  */
int nodeconfig_containerd_node (const struct vm_size *sizes, size_t n, const char *dir, const char *node_dir,
                                const char *kernel, FILE *out, runhv_error_t *err);

/* Put the handlers (the snippet above, as text) into containerd's config
   at path as one marked block, replacing the block a previous install
   left and touching no other byte; NULL snippet removes the block.  The
   result must parse, be a version 2 config, and define no runhv handler
   outside the block.  *changed says whether the file was rewritten.  */
int nodeconfig_install (const char *path, const char *snippet, bool *changed, runhv_error_t *err);

#endif

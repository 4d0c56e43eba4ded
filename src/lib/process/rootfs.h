/* Everything the container init does to its mount namespace, in order:
   propagation, the rootfs bind, config.json mounts, devices, pivot_root,
   then masked/readonly paths.  Runs in the init (stage 2) only.  */
#ifndef RUNHV_ROOTFS_H
#define RUNHV_ROOTFS_H

#include <stdbool.h>

#include "process/cgroup.h"
#include "core/error.h"
#include "oci/spec.h"

struct rootfs_context
{
  const struct oci_spec *spec;
  const char *rootfs;                   /* absolute host path */
  const struct cgroup_manager *cgroups; /* may be NULL (no cgroup mount source) */
  bool userns;                          /* inside a new user namespace */
  bool cgroupns;                        /* inside a new cgroup namespace */
  bool no_pivot;
  const int *bind_fds; /* per mount: a detached copy of its bind source, or -1; may be NULL */
};

/* Before entering a user namespace, while still the host's root: copy the
   source tree of every bind mount (open_tree), so that a source only the
   host's root may reach can still be mounted from inside.  *out gets one
   fd per mount (-1 for those that are not binds); free with
   rootfs_close_bind_sources.  */
int rootfs_open_bind_sources (const struct oci_spec *spec, int **out, runhv_error_t *err);
void rootfs_close_bind_sources (const struct oci_spec *spec, int *fds);

/* Before pivot_root.  */
int rootfs_prepare (struct rootfs_context *ctx, runhv_error_t *err);
int rootfs_pivot (struct rootfs_context *ctx, runhv_error_t *err);
/* In place of the three steps when the container has no mount namespace of
   its own: chroot into the rootfs, mounting nothing.  */
int rootfs_chroot (struct rootfs_context *ctx, runhv_error_t *err);
/* After pivot_root (paths are now the container's).  */
int rootfs_finalize (struct rootfs_context *ctx, runhv_error_t *err);

/* Open (creating directories or a file as needed) `path` inside the tree
   rooted at rootfd, resolving symlinks as if rootfd were "/".  Returns an
   O_PATH fd.  */
int rootfs_open_in_root (int rootfd, const char *path, bool create_dir, bool create_file, runhv_error_t *err);

#endif

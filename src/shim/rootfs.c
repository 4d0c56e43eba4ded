/* The task's root filesystem as containerd hands it over: snapshot mounts
   (overlay, or a bind of a single layer) to make at <bundle>/rootfs, the
   way containerd's own shims do before creating the container.  The
   mounts are the snapshotter's, but their options still arrive over a
   socket: each goes through the same option parser as config.json's.  */
#include <errno.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "core/log.h"
#include "shim.h"
#include "oci/spec.h"
#include "core/util.h"
#include "core/banned.h"

static int
mount_one (const Containerd__Types__Mount *cm, const char *target, runhv_error_t *err)
{
  struct oci_mount m = { .destination = (char *)"rootfs", .type = cm->type, .source = cm->source };
  cleanup_strv char **opts = NULL;
  unsigned long flags;
  int ret;

  if (cm->type == NULL || cm->type[0] == '\0')
    return runhv_error (err, "rootfs: a mount without a type (the snapshotter's mounts are malformed)");
  if (cm->target != NULL && cm->target[0] != '\0')
    return runhv_error (err, "rootfs: mount target `%s` is not supported (runhv mounts the rootfs itself only)",
                        cm->target);
  for (size_t i = 0; i < cm->n_options; i++)
    strv_append (&opts, cm->options[i]);
  m.options = opts;
  if (oci_mount_parse_options (&m, err) < 0)
    return -1;
  flags = m.flags;
  if (m.bind)
    {
      /* a bind takes MS_RDONLY only on a remount */
      ret = mount (cm->source, target, NULL, MS_BIND | (flags & MS_REC), NULL);
      if (ret == 0 && (flags & ~MS_REC) != 0)
        ret = mount (NULL, target, NULL, MS_REMOUNT | MS_BIND | (flags & ~MS_REC), NULL);
      if (ret < 0)
        {
          int e = errno;
          umount2 (target, MNT_DETACH);
          errno = e;
        }
    }
  else
    ret = mount (cm->source, target, cm->type, flags, m.data);
  free (m.data);
  if (ret < 0)
    return runhv_make_error (err, errno, "rootfs: mount %s `%s` on `%s`", cm->type, cm->source ? cm->source : "",
                             target);
  return 0;
}

int
shim_rootfs_mount (const char *bundle, Containerd__Types__Mount **mounts, size_t n, char ***mounted, runhv_error_t *err)
{
  cleanup_free char *target = xasprintf ("%s/rootfs", bundle);
  *mounted = NULL;
  if (n == 0)
    return 0;
  if (mkdir (target, 0711) < 0 && errno != EEXIST)
    return runhv_make_error (err, errno, "mkdir `%s`", target);
  for (size_t i = 0; i < n; i++)
    {
      if (mount_one (mounts[i], target, err) < 0)
        {
          shim_rootfs_unmount (mounted);
          return -1;
        }
      strv_append (mounted, target);
    }
  return 0;
}

void
shim_rootfs_unmount (char ***mounted)
{
  size_t n = 0;
  if (*mounted == NULL)
    return;
  while ((*mounted)[n] != NULL)
    n++;
  while (n-- > 0)
    if (umount2 ((*mounted)[n], MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
      log_warning ("unmount `%s`: %s", (*mounted)[n], strerror (errno));
  strv_free (*mounted);
  *mounted = NULL;
}

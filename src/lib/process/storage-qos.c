/* The seed's storage QoS annotations for a process-isolated container.
   A VM puts them on its shared filesystem device (uvm/vmm.c); here they
   become block I/O throttles, in both directions, on the disk that holds
   the container's root filesystem: blkio.throttle.* on cgroup v1, io.max
   on v2.  A rootfs on no block device (tmpfs, a network filesystem) cannot
   be throttled, and the annotation is then refused, not ignored.  */
#include "process/storage-qos.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "core/util.h"
#include "core/banned.h"

/* For an overlay rootfs (containerd's snapshotters) the writes land on
   its upper directory: the device is that directory's.  */
static int
overlay_upper_dev (const char *rootfs, dev_t *dev, runhv_error_t *err)
{
  cleanup_free char *info = NULL;
  size_t len;
  char *cursor, *point, *fstype, *super;
  cleanup_free char *upper = NULL;
  if (read_file ("/proc/self/mountinfo", 0, &info, &len, err) < 0)
    return -1;
  cursor = info;
  while (mountinfo_next (&cursor, &point, &fstype, &super))
    {
      char *u;
      if (strcmp (point, rootfs) != 0 || strcmp (fstype, "overlay") != 0)
        continue;
      u = strstr (super, "upperdir=");
      if (u == NULL)
        continue;
      u += strlen ("upperdir=");
      free (upper);
      upper = xstrndup (u, strcspn (u, ","));
    }
  if (upper == NULL)
    return 0;
  {
    struct stat st;
    if (stat (upper, &st) < 0)
      return runhv_make_error (err, errno, "stat the rootfs's overlay upper directory `%s`", upper);
    *dev = st.st_dev;
  }
  return 0;
}

/* The whole disk behind dev: blk-throttle takes disks, not partitions.  */
static int
whole_disk (dev_t dev, const char *rootfs, const char *annotation, int64_t *major_out, int64_t *minor_out,
            runhv_error_t *err)
{
  cleanup_free char *sys = xasprintf ("/sys/dev/block/%u:%u", major (dev), minor (dev));
  cleanup_free char *part = xasprintf ("%s/partition", sys);
  char real[PATH_MAX];
  unsigned int maj, min;
  if (major (dev) == 0 || realpath (sys, real) == NULL)
    return runhv_error (err,
                        "annotations.%s: the container's rootfs `%s` is on no block device (device %u:%u), so its "
                        "storage cannot be throttled; remove the annotation or put the rootfs on a disk",
                        annotation, rootfs, major (dev), minor (dev));
  if (access (part, F_OK) == 0)
    {
      /* .../block/vda/vda1 -> .../block/vda */
      char *slash = strrchr (real, '/');
      if (slash != NULL)
        *slash = '\0';
    }
  {
    cleanup_free char *devfile = xasprintf ("%s/dev", real);
    cleanup_free char *text = NULL;
    size_t len;
    if (read_file (devfile, 64, &text, &len, err) < 0)
      return -1;
    if (sscanf (text, "%u:%u", &maj, &min) != 2)
      return runhv_error (err, "`%s`: `%s` is not MAJ:MIN", devfile, text);
  }
  *major_out = maj;
  *minor_out = min;
  return 0;
}

int
process_storage_qos (const struct oci_spec *spec, const char *rootfs, struct cgroup_manager *cg, runhv_error_t *err)
{
  uint64_t bps = 0, iops = 0;
  bool have_bps, have_iops;
  struct oci_throttle_device bps_dev, iops_dev;
  struct oci_resources r = { 0 };
  const char *named;
  struct stat st;
  dev_t dev;

  if (oci_annotation_count (spec, OCI_ANN_QOS_BPS, OCI_ANN_MS_QOS_BPS, 0, "bytes per second", &bps, &have_bps, err) < 0
      || oci_annotation_count (spec, OCI_ANN_QOS_IOPS, OCI_ANN_MS_QOS_IOPS, 0, "operations per second", &iops,
                               &have_iops, err)
           < 0)
    return -1;
  if (!have_bps && !have_iops)
    return 0;
  named = have_bps ? (oci_spec_annotation (spec, OCI_ANN_QOS_BPS) ? OCI_ANN_QOS_BPS : OCI_ANN_MS_QOS_BPS)
                   : (oci_spec_annotation (spec, OCI_ANN_QOS_IOPS) ? OCI_ANN_QOS_IOPS : OCI_ANN_MS_QOS_IOPS);
  if (stat (rootfs, &st) < 0)
    return runhv_make_error (err, errno, "stat the rootfs `%s`", rootfs);
  dev = st.st_dev;
  if (major (dev) == 0 && overlay_upper_dev (rootfs, &dev, err) < 0)
    return -1;
  if (whole_disk (dev, rootfs, named, &bps_dev.major, &bps_dev.minor, err) < 0)
    return -1;
  iops_dev = bps_dev;
  bps_dev.rate = bps;
  iops_dev.rate = iops;
  if (have_bps)
    {
      r.throttle_read_bps = r.throttle_write_bps = &bps_dev;
      r.n_throttle_read_bps = r.n_throttle_write_bps = 1;
    }
  if (have_iops)
    {
      r.throttle_read_iops = r.throttle_write_iops = &iops_dev;
      r.n_throttle_read_iops = r.n_throttle_write_iops = 1;
    }
  if (cgroup_apply (cg, &r, err) < 0)
    return runhv_error_wrap (err, "apply the storage QoS annotations (%s)", named);
  return 0;
}

/* cgroup v1: one directory per mounted hierarchy (this host's layout).  */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "process/cgroup-internal.h"
#include "process/cgroup-devices.h"
#include "core/util.h"
#include "core/banned.h"

static int
copy_if_empty (const char *dir, const char *parent, const char *file, runhv_error_t *err)
{
  cleanup_free char *cur = NULL, *pv = NULL;
  cleanup_free char *cpath = xasprintf ("%s/%s", dir, file), *ppath = xasprintf ("%s/%s", parent, file);
  if (read_file (cpath, 4096, &cur, NULL, NULL) < 0)
    return 0;
  if (cur[0] != '\n' && cur[0] != '\0')
    return 0;
  if (read_file (ppath, 4096, &pv, NULL, err) < 0)
    return -1;
  return write_file (cpath, pv, strlen (pv), err);
}

/* A new v1 cpuset cgroup starts with empty cpus and mems, and the kernel
   refuses tasks in it until both are set: copy them down from the parent
   at every level below the mountpoint.  */
int
cgroup_v1_prepare_dir (struct cgroup_manager *m, size_t i, runhv_error_t *err)
{
  const char *rel = m->h[i].path;
  size_t len = strlen (rel);
  if (cgroup_v1_find (m, "cpuset") != (int)i)
    return 0;
  for (size_t k = 1; k <= len; k++)
    {
      cleanup_free char *dir = NULL, *parent = NULL;
      if (k < len && rel[k] != '/')
        continue;
      dir = xasprintf ("%s%.*s", m->h[i].mountpoint, (int)k, rel);
      parent = xstrdup (dir);
      *strrchr (parent, '/') = '\0';
      if (copy_if_empty (dir, parent, "cpuset.cpus", err) < 0 || copy_if_empty (dir, parent, "cpuset.mems", err) < 0)
        return -1;
    }
  return 0;
}

static int
open_ctrl (struct cgroup_manager *m, const char *ctrl, runhv_error_t *err)
{
  int i = cgroup_v1_find (m, ctrl);
  if (i < 0)
    return -2; /* not mounted: nothing to apply */
  return cgroup_open_dir (m, (size_t)i, err);
}

static bool
file_exists_at (int dfd, const char *name)
{
  return faccessat (dfd, name, F_OK, 0) == 0;
}

static int
apply_memory (struct cgroup_manager *m, const struct oci_resources *r, runhv_error_t *err)
{
  cleanup_close int dfd = -1;
  bool has_swap_file;
  if (!r->has_memory_limit && !r->has_memory_reservation && !r->has_memory_swap && !r->has_memory_swappiness
      && !r->disable_oom_killer)
    return 0;
  dfd = open_ctrl (m, "memory", err);
  if (dfd == -2)
    return runhv_error (err, "linux.resources.memory: the memory cgroup controller is not mounted on this host");
  if (dfd < 0)
    return -1;
  has_swap_file = file_exists_at (dfd, "memory.memsw.limit_in_bytes");
  if (r->has_memory_limit)
    {
      int64_t limit = r->memory_limit == 0 ? -1 : r->memory_limit;
      /* memsw must stay >= limit at every moment: when raising the limit
         above the current memsw, move memsw first.  */
      if (has_swap_file && r->has_memory_swap && r->memory_swap != 0)
        {
          uint64_t cur_swap = 0;
          if (cgroup_read_u64 (dfd, "memory.memsw.limit_in_bytes", &cur_swap) == 0
              && (r->memory_swap == -1 || (uint64_t)r->memory_swap > cur_swap || limit == -1))
            {
              if (cgroup_write_i64 (m, dfd, "memory.memsw.limit_in_bytes", r->memory_swap,
                                    "linux.resources.memory.swap", err)
                  < 0)
                return -1;
              if (cgroup_write_i64 (m, dfd, "memory.limit_in_bytes", limit, "linux.resources.memory.limit", err) < 0)
                return -1;
              goto rest;
            }
        }
      if (cgroup_write_i64 (m, dfd, "memory.limit_in_bytes", limit, "linux.resources.memory.limit", err) < 0)
        return -1;
    }
  if (r->has_memory_swap && r->memory_swap != 0)
    {
      if (has_swap_file)
        {
          if (cgroup_write_i64 (m, dfd, "memory.memsw.limit_in_bytes", r->memory_swap, "linux.resources.memory.swap",
                                err)
              < 0)
            return -1;
        }
      /* Without swap accounting the kernel has no knob: runc ignores it too. */
    }
rest:
  if (r->has_memory_reservation && r->memory_reservation != 0
      && cgroup_write_i64 (m, dfd, "memory.soft_limit_in_bytes", r->memory_reservation,
                           "linux.resources.memory.reservation", err)
           < 0)
    return -1;
  if (r->has_memory_swappiness
      && cgroup_write_u64 (m, dfd, "memory.swappiness", r->memory_swappiness, "linux.resources.memory.swappiness", err)
           < 0)
    return -1;
  if (r->disable_oom_killer
      && cgroup_write (m, dfd, "memory.oom_control", "1", "linux.resources.memory.disableOOMKiller", err) < 0)
    return -1;
  return 0;
}

/* Real-time bandwidth needs CONFIG_RT_GROUP_SCHED, and a cgroup gets no
   more of it than its parent has: say which.  */
static int
rt_error (int dfd, const char *file, runhv_error_t *err)
{
  int e = (*err)->status;
  cleanup_free char *msg = xstrdup ((*err)->msg);
  runhv_error_release (err);
  if (faccessat (dfd, file, F_OK, 0) < 0)
    return runhv_make_error (err, e,
                             "%s (this kernel has no real-time group scheduling: remove the realtime "
                             "settings)",
                             msg);
  if (e == EINVAL)
    return runhv_make_error (err, e, "%s (the parent cgroup must grant at least this much cpu.rt_runtime_us)", msg);
  return runhv_make_error (err, e, "%s", msg);
}

static int
apply_cpu (struct cgroup_manager *m, const struct oci_resources *r, runhv_error_t *err)
{
  if (r->has_cpu_shares || r->has_cpu_period || r->has_cpu_quota || r->has_cpu_rt_runtime || r->has_cpu_rt_period)
    {
      cleanup_close int dfd = open_ctrl (m, "cpu", err);
      bool period_pending = false;
      if (dfd == -2)
        return runhv_error (err, "linux.resources.cpu: the cpu cgroup controller is not mounted on this host");
      if (dfd < 0)
        return -1;
      if (r->has_cpu_shares && r->cpu_shares != 0
          && cgroup_write_u64 (m, dfd, "cpu.shares", r->cpu_shares, "linux.resources.cpu.shares", err) < 0)
        return -1;
      /* runc's order: the period first; if the kernel refuses it because
         the current quota over the new period would exceed the parent's
         bandwidth, set the quota and then retry the period.  */
      if (r->has_cpu_period && r->cpu_period != 0
          && cgroup_write_u64 (m, dfd, "cpu.cfs_period_us", r->cpu_period, "linux.resources.cpu.period", err) < 0)
        {
          if ((*err)->status != EINVAL || !r->has_cpu_quota || r->cpu_quota == 0)
            return -1;
          runhv_error_release (err);
          period_pending = true;
        }
      if (r->has_cpu_quota && r->cpu_quota != 0
          && cgroup_write_i64 (m, dfd, "cpu.cfs_quota_us", r->cpu_quota, "linux.resources.cpu.quota", err) < 0)
        return -1;
      if (period_pending
          && cgroup_write_u64 (m, dfd, "cpu.cfs_period_us", r->cpu_period, "linux.resources.cpu.period", err) < 0)
        return -1;
      if (r->has_cpu_rt_period && r->cpu_rt_period != 0
          && cgroup_write_u64 (m, dfd, "cpu.rt_period_us", r->cpu_rt_period, "linux.resources.cpu.realtimePeriod", err)
               < 0)
        return rt_error (dfd, "cpu.rt_period_us", err);
      if (r->has_cpu_rt_runtime && r->cpu_rt_runtime != 0
          && cgroup_write_i64 (m, dfd, "cpu.rt_runtime_us", r->cpu_rt_runtime, "linux.resources.cpu.realtimeRuntime",
                               err)
               < 0)
        return rt_error (dfd, "cpu.rt_runtime_us", err);
    }
  if ((r->cpu_cpus && r->cpu_cpus[0]) || (r->cpu_mems && r->cpu_mems[0]))
    {
      cleanup_close int dfd = open_ctrl (m, "cpuset", err);
      if (dfd == -2)
        return runhv_error (err, "linux.resources.cpu.cpus: the cpuset cgroup controller is not mounted on this host");
      if (dfd < 0)
        return -1;
      if (r->cpu_cpus && r->cpu_cpus[0] && cgroup_write (m, dfd, "cpuset.cpus", r->cpu_cpus, NULL, err) < 0)
        {
          cleanup_free char *have = NULL;
          if (read_file_at (dfd, "../cpuset.effective_cpus", 256, &have, NULL, NULL) < 0
              && read_file_at (dfd, "../cpuset.cpus", 256, &have, NULL, NULL) < 0)
            have = xstrdup ("?");
          have[strcspn (have, "\n")] = '\0';
          runhv_error_release (err);
          return runhv_error (err, "linux.resources.cpu.cpus: `%s` is not available here (this host offers CPUs %s)",
                              r->cpu_cpus, have);
        }
      if (r->cpu_mems && r->cpu_mems[0]
          && cgroup_write (m, dfd, "cpuset.mems", r->cpu_mems, "linux.resources.cpu.mems", err) < 0)
        return -1;
    }
  return 0;
}

static int
apply_pids (struct cgroup_manager *m, const struct oci_resources *r, runhv_error_t *err)
{
  cleanup_close int dfd = -1;
  char buf[32];
  if (!r->has_pids_limit)
    return 0;
  dfd = open_ctrl (m, "pids", err);
  if (dfd == -2)
    return runhv_error (err, "linux.resources.pids: the pids cgroup controller is not mounted on this host");
  if (dfd < 0)
    return -1;
  if (r->pids_limit <= 0)
    snprintf (buf, sizeof (buf), "max");
  else
    snprintf (buf, sizeof (buf), "%lld", (long long)r->pids_limit);
  return cgroup_write (m, dfd, "pids.max", buf, "linux.resources.pids.limit", err);
}

static int
write_throttle (struct cgroup_manager *m, int dfd, const char *file, const struct oci_throttle_device *d, size_t n,
                runhv_error_t *err)
{
  for (size_t i = 0; i < n; i++)
    {
      char buf[96];
      snprintf (buf, sizeof (buf), "%lld:%lld %llu", (long long)d[i].major, (long long)d[i].minor,
                (unsigned long long)d[i].rate);
      if (cgroup_write (m, dfd, file, buf, "linux.resources.blockIO", err) < 0)
        return -1;
    }
  return 0;
}

static int
apply_blkio (struct cgroup_manager *m, const struct oci_resources *r, runhv_error_t *err)
{
  cleanup_close int dfd = -1;
  if (!r->has_blkio_weight && !r->n_throttle_read_bps && !r->n_throttle_write_bps && !r->n_throttle_read_iops
      && !r->n_throttle_write_iops && !r->n_weight_devices)
    return 0;
  dfd = open_ctrl (m, "blkio", err);
  if (dfd == -2)
    return runhv_error (err, "linux.resources.blockIO: the blkio cgroup controller is not mounted on this host");
  if (dfd < 0)
    return -1;
  if (r->has_blkio_weight && r->blkio_weight != 0)
    {
      const char *f = file_exists_at (dfd, "blkio.weight") ? "blkio.weight" : "blkio.bfq.weight";
      if (!file_exists_at (dfd, f))
        return runhv_error (err, "linux.resources.blockIO.weight: this kernel has no blkio weight (no CFQ/BFQ "
                                 "scheduler); remove the weight");
      if (cgroup_write_u64 (m, dfd, f, r->blkio_weight, "linux.resources.blockIO.weight", err) < 0)
        return -1;
    }
  for (size_t i = 0; i < r->n_weight_devices; i++)
    {
      const struct oci_weight_device *d = &r->weight_devices[i];
      /* CFQ's file, else BFQ's (which takes the same 10-1000 range).  */
      const char *f = file_exists_at (dfd, "blkio.weight_device") ? "blkio.weight_device" : "blkio.bfq.weight_device";
      char buf[96];
      if (d->weight == 0)
        continue;
      if (!file_exists_at (dfd, f))
        return runhv_error (err,
                            "linux.resources.blockIO.weightDevice: device %lld:%lld: this host has no per-device blkio "
                            "weight (neither blkio.weight_device nor blkio.bfq.weight_device: no CFQ or BFQ group "
                            "scheduling); remove it",
                            (long long)d->major, (long long)d->minor);
      snprintf (buf, sizeof (buf), "%lld:%lld %u", (long long)d->major, (long long)d->minor, (unsigned)d->weight);
      if (cgroup_write (m, dfd, f, buf, "linux.resources.blockIO.weightDevice", err) < 0)
        return cgroup_weight_device_error (d, err);
    }
  if (write_throttle (m, dfd, "blkio.throttle.read_bps_device", r->throttle_read_bps, r->n_throttle_read_bps, err) < 0
      || write_throttle (m, dfd, "blkio.throttle.write_bps_device", r->throttle_write_bps, r->n_throttle_write_bps, err)
           < 0
      || write_throttle (m, dfd, "blkio.throttle.read_iops_device", r->throttle_read_iops, r->n_throttle_read_iops, err)
           < 0
      || write_throttle (m, dfd, "blkio.throttle.write_iops_device", r->throttle_write_iops, r->n_throttle_write_iops,
                         err)
           < 0)
    return -1;
  return 0;
}

static void
format_rule (char *buf, size_t size, char type, int64_t major, int64_t minor, const char *access)
{
  char ma[24], mi[24];
  if (major < 0)
    snprintf (ma, sizeof (ma), "*");
  else
    snprintf (ma, sizeof (ma), "%lld", (long long)major);
  if (minor < 0)
    snprintf (mi, sizeof (mi), "*");
  else
    snprintf (mi, sizeof (mi), "%lld", (long long)minor);
  if (type == 'a')
    snprintf (buf, size, "a");
  else
    snprintf (buf, size, "%c %s:%s %s", type, ma, mi, access);
}

static int
apply_devices (struct cgroup_manager *m, const struct oci_resources *r, runhv_error_t *err)
{
  cleanup_close int dfd = -1;
  char buf[96];
  if (r->n_devices == 0)
    return 0;
  dfd = open_ctrl (m, "devices", err);
  if (dfd == -2)
    return 0; /* no devices controller: nothing to restrict with */
  if (dfd < 0)
    return -1;
  /* The spec's rules in order, then the devices every container gets.  */
  for (size_t i = 0; i < r->n_devices + cgroup_n_default_devices; i++)
    {
      const struct oci_device_rule *d = i < r->n_devices ? &r->devices[i] : &cgroup_default_devices[i - r->n_devices];
      format_rule (buf, sizeof (buf), d->type, d->major, d->minor, d->access);
      if (cgroup_write (m, dfd, d->allow ? "devices.allow" : "devices.deny", buf, "linux.resources.devices", err) < 0)
        return -1;
    }
  return 0;
}

/* net_cls, net_prio and hugetlb: often not mounted on v1 hosts (this
   project's own CI host has none of them), so their absence is named.  */
static int
open_named_ctrl (struct cgroup_manager *m, const char *ctrl, const char *field, runhv_error_t *err)
{
  int dfd = open_ctrl (m, ctrl, err);
  if (dfd == -2)
    return runhv_error (err, "%s: the %s cgroup controller is not mounted on this host (mount it, or remove %s)", field,
                        ctrl, field);
  return dfd;
}

static int
apply_network_hugetlb (struct cgroup_manager *m, const struct oci_resources *r, runhv_error_t *err)
{
  char buf[128];
  if (r->has_net_class_id)
    {
      cleanup_close int dfd = open_named_ctrl (m, "net_cls", "linux.resources.network.classID", err);
      if (dfd < 0
          || cgroup_write_u64 (m, dfd, "net_cls.classid", r->net_class_id, "linux.resources.network.classID", err) < 0)
        return -1;
    }
  if (r->n_net_priorities)
    {
      cleanup_close int dfd = open_named_ctrl (m, "net_prio", "linux.resources.network.priorities", err);
      if (dfd < 0)
        return -1;
      /* one "ifname prio" per write, as the kernel parses it */
      for (size_t i = 0; i < r->n_net_priorities; i++)
        {
          snprintf (buf, sizeof (buf), "%s %u", r->net_priorities[i].name, (unsigned)r->net_priorities[i].priority);
          if (cgroup_write (m, dfd, "net_prio.ifpriomap", buf, "linux.resources.network.priorities", err) < 0)
            return -1;
        }
    }
  if (r->n_hugepage_limits)
    {
      cleanup_close int dfd = open_named_ctrl (m, "hugetlb", "linux.resources.hugepageLimits", err);
      if (dfd < 0)
        return -1;
      for (size_t i = 0; i < r->n_hugepage_limits; i++)
        {
          const struct oci_hugepage_limit *h = &r->hugepage_limits[i];
          snprintf (buf, sizeof (buf), "hugetlb.%s.limit_in_bytes", h->page_size);
          if (!file_exists_at (dfd, buf))
            return runhv_error (err,
                                "linux.resources.hugepageLimits: this host has no %s huge pages (use a size "
                                "listed in /sys/kernel/mm/hugepages)",
                                h->page_size);
          if (cgroup_write_u64 (m, dfd, buf, h->limit, "linux.resources.hugepageLimits", err) < 0)
            return -1;
        }
    }
  return 0;
}

int
cgroup_v1_apply (struct cgroup_manager *m, const struct oci_resources *r, runhv_error_t *err)
{
  if (apply_memory (m, r, err) < 0 || apply_cpu (m, r, err) < 0 || apply_pids (m, r, err) < 0
      || apply_blkio (m, r, err) < 0 || apply_devices (m, r, err) < 0 || apply_network_hugetlb (m, r, err) < 0)
    return -1;
  if (r->unified_keys != NULL)
    return runhv_error (err, "linux.resources.unified: needs cgroup v2, and this host uses v1 (remove it)");
  return 0;
}

int
cgroup_v1_freeze (struct cgroup_manager *m, bool frozen, runhv_error_t *err)
{
  cleanup_close int dfd = open_ctrl (m, "freezer", err);
  if (dfd == -2)
    return runhv_error (err, "pause: the freezer cgroup controller is not mounted on this host");
  if (dfd < 0)
    return -1;
  if (cgroup_write (m, dfd, "freezer.state", frozen ? "FROZEN" : "THAWED", NULL, err) < 0)
    return -1;
  return cgroup_wait_for (dfd, "freezer.state", frozen ? "FROZEN" : "THAWED", err);
}

bool
cgroup_v1_is_frozen (struct cgroup_manager *m)
{
  cleanup_close int dfd = open_ctrl (m, "freezer", NULL);
  cleanup_free char *state = NULL;
  if (dfd < 0)
    return false;
  if (read_file_at (dfd, "freezer.state", 64, &state, NULL, NULL) < 0)
    return false;
  return strncmp (state, "FROZEN", 6) == 0 || strncmp (state, "FREEZING", 8) == 0;
}

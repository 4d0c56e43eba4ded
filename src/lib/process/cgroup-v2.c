/* cgroup v2: one directory in the unified tree (the utility VM's layout).  */
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

static const char *const wanted_controllers[] = { "cpuset", "cpu", "io", "memory", "pids", "hugetlb", NULL };

static bool
word_in (const char *list, const char *word)
{
  size_t wl = strlen (word);
  for (const char *p = list; p && *p;)
    {
      while (*p == ' ' || *p == '\n')
        p++;
      if (strncmp (p, word, wl) == 0 && (p[wl] == ' ' || p[wl] == '\n' || p[wl] == '\0'))
        return true;
      p = strpbrk (p, " \n");
    }
  return false;
}

/* Controllers must be enabled in every ancestor's subtree_control before
   the leaf gets their files.  */
int
cgroup_v2_enable_controllers (struct cgroup_manager *m, runhv_error_t *err)
{
  const char *rel = m->h[0].path;
  size_t len = strlen (rel);
  cleanup_free char *available = NULL;
  {
    cleanup_free char *f = xasprintf ("%s/cgroup.controllers", m->h[0].mountpoint);
    if (read_file (f, 4096, &available, NULL, err) < 0)
      return -1;
  }
  for (size_t k = 0; k < len; k++)
    {
      cleanup_free char *dir = NULL;
      cleanup_close int dfd = -1;
      if (k > 0 && rel[k] != '/')
        continue;
      if (k + 1 >= len)
        break; /* the leaf itself keeps no subtree_control */
      dir = xasprintf ("%s%.*s", m->h[0].mountpoint, (int)k, rel);
      dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (dfd < 0)
        return runhv_make_error (err, errno, "open cgroup `%s`", dir);
      for (size_t c = 0; wanted_controllers[c]; c++)
        {
          char buf[32];
          runhv_error_t ignored = NULL;
          if (!word_in (available, wanted_controllers[c]))
            continue;
          snprintf (buf, sizeof (buf), "+%s", wanted_controllers[c]);
          /* EBUSY/ENOTSUP for one controller must not block the others
             (e.g. cpuset on a root with threaded children).  */
          if (m->fake)
            {
              cleanup_free char *cur = NULL;
              cleanup_free char *n = NULL;
              if (read_file_at (dfd, "cgroup.subtree_control", 4096, &cur, NULL, NULL) < 0)
                cur = xstrdup ("");
              if (word_in (cur, wanted_controllers[c]))
                continue;
              n = xasprintf ("%s%s%s", cur, cur[0] ? " " : "", wanted_controllers[c]);
              if (cgroup_write (m, dfd, "cgroup.subtree_control", n, NULL, err) < 0)
                return -1;
              continue;
            }
          if (cgroup_write (m, dfd, "cgroup.subtree_control", buf, NULL, &ignored) < 0)
            runhv_error_release (&ignored);
        }
    }
  return 0;
}

int
cgroup_v2_apply (struct cgroup_manager *m, const struct oci_resources *r, runhv_error_t *err)
{
  cleanup_close int dfd = cgroup_open_dir (m, 0, err);
  char buf[128];
  if (dfd < 0)
    return -1;

  if (r->has_memory_limit)
    {
      if (r->memory_limit <= 0)
        snprintf (buf, sizeof (buf), "max");
      else
        snprintf (buf, sizeof (buf), "%lld", (long long)r->memory_limit);
      if (cgroup_write (m, dfd, "memory.max", buf, "linux.resources.memory.limit", err) < 0)
        return -1;
    }
  if (r->has_memory_reservation && r->memory_reservation != 0)
    {
      if (r->memory_reservation < 0)
        snprintf (buf, sizeof (buf), "0");
      else
        snprintf (buf, sizeof (buf), "%lld", (long long)r->memory_reservation);
      if (cgroup_write (m, dfd, "memory.low", buf, "linux.resources.memory.reservation", err) < 0)
        return -1;
    }
  if (r->has_memory_swap && r->memory_swap != 0)
    {
      /* v1's swap is memory+swap; v2's memory.swap.max is swap alone.  */
      if (r->memory_swap < 0 || !r->has_memory_limit || r->memory_limit <= 0)
        snprintf (buf, sizeof (buf), "max");
      else
        snprintf (buf, sizeof (buf), "%lld", (long long)(r->memory_swap - r->memory_limit));
      if (faccessat (dfd, "memory.swap.max", F_OK, 0) == 0 || m->fake)
        if (cgroup_write (m, dfd, "memory.swap.max", buf, "linux.resources.memory.swap", err) < 0)
          return -1;
    }
  if (r->has_cpu_shares && r->cpu_shares != 0
      && cgroup_write_u64 (m, dfd, "cpu.weight", cgroup_shares_to_weight (r->cpu_shares), "linux.resources.cpu.shares",
                           err)
           < 0)
    return -1;
  if (r->has_cpu_quota || r->has_cpu_period)
    {
      uint64_t period = r->has_cpu_period && r->cpu_period ? r->cpu_period : 100000;
      if (!r->has_cpu_quota || r->cpu_quota <= 0)
        snprintf (buf, sizeof (buf), "max %llu", (unsigned long long)period);
      else
        snprintf (buf, sizeof (buf), "%lld %llu", (long long)r->cpu_quota, (unsigned long long)period);
      if (cgroup_write (m, dfd, "cpu.max", buf, "linux.resources.cpu.quota", err) < 0)
        return -1;
    }
  if ((r->has_cpu_rt_runtime && r->cpu_rt_runtime != 0) || (r->has_cpu_rt_period && r->cpu_rt_period != 0))
    return runhv_error (err, "linux.resources.cpu.realtimeRuntime: cgroup v2 has no real-time CPU bandwidth "
                             "(remove realtimeRuntime and realtimePeriod)");
  if (r->cpu_cpus && r->cpu_cpus[0]
      && cgroup_write (m, dfd, "cpuset.cpus", r->cpu_cpus, "linux.resources.cpu.cpus", err) < 0)
    return -1;
  if (r->cpu_mems && r->cpu_mems[0]
      && cgroup_write (m, dfd, "cpuset.mems", r->cpu_mems, "linux.resources.cpu.mems", err) < 0)
    return -1;
  if (r->has_pids_limit)
    {
      if (r->pids_limit <= 0)
        snprintf (buf, sizeof (buf), "max");
      else
        snprintf (buf, sizeof (buf), "%lld", (long long)r->pids_limit);
      if (cgroup_write (m, dfd, "pids.max", buf, "linux.resources.pids.limit", err) < 0)
        return -1;
    }
  if (r->has_blkio_weight && r->blkio_weight != 0)
    {
      const char *f = faccessat (dfd, "io.weight", F_OK, 0) == 0 || m->fake ? "io.weight" : "io.bfq.weight";
      if (cgroup_write_u64 (m, dfd, f, cgroup_blkio_to_io_weight (r->blkio_weight), "linux.resources.blockIO.weight",
                            err)
          < 0)
        return -1;
    }
  for (size_t i = 0; i < r->n_weight_devices; i++)
    {
      const struct oci_weight_device *d = &r->weight_devices[i];
      bool bfq = faccessat (dfd, "io.bfq.weight", F_OK, 0) == 0;
      if (d->weight == 0)
        continue;
      if (!bfq && faccessat (dfd, "io.weight", F_OK, 0) < 0 && !m->fake)
        return runhv_error (err,
                            "linux.resources.blockIO.weightDevice: device %lld:%lld: this host has no per-device io "
                            "weight (neither io.weight nor io.bfq.weight); remove it",
                            (long long)d->major, (long long)d->minor);
      /* BFQ takes blkio's 10-1000 weights as they are; io.weight has its
         own 1-10000 range.  */
      snprintf (buf, sizeof (buf), "%lld:%lld %llu", (long long)d->major, (long long)d->minor,
                (unsigned long long)(bfq ? d->weight : cgroup_blkio_to_io_weight (d->weight)));
      if (cgroup_write (m, dfd, bfq ? "io.bfq.weight" : "io.weight", buf, "linux.resources.blockIO.weightDevice", err)
          < 0)
        return cgroup_weight_device_error (d, err);
    }
  {
    const struct
    {
      const struct oci_throttle_device *d;
      size_t n;
      const char *key;
    } t[] = {
      { r->throttle_read_bps, r->n_throttle_read_bps, "rbps" },
      { r->throttle_write_bps, r->n_throttle_write_bps, "wbps" },
      { r->throttle_read_iops, r->n_throttle_read_iops, "riops" },
      { r->throttle_write_iops, r->n_throttle_write_iops, "wiops" },
    };
    for (size_t k = 0; k < 4; k++)
      for (size_t i = 0; i < t[k].n; i++)
        {
          snprintf (buf, sizeof (buf), "%lld:%lld %s=%llu", (long long)t[k].d[i].major, (long long)t[k].d[i].minor,
                    t[k].key, (unsigned long long)t[k].d[i].rate);
          if (cgroup_write (m, dfd, "io.max", buf, "linux.resources.blockIO", err) < 0)
            return -1;
        }
  }
  if (r->has_net_class_id || r->n_net_priorities)
    return runhv_error (err, "linux.resources.network: cgroup v2 has no net_cls or net_prio controller (remove "
                             "classID and priorities)");
  for (size_t i = 0; i < r->n_hugepage_limits; i++)
    {
      const struct oci_hugepage_limit *h = &r->hugepage_limits[i];
      char file[64];
      snprintf (file, sizeof (file), "hugetlb.%s.max", h->page_size);
      if (!m->fake && faccessat (dfd, file, F_OK, 0) < 0)
        return runhv_error (err,
                            "linux.resources.hugepageLimits: no %s (this kernel has no hugetlb controller or no "
                            "%s huge pages; remove the limit)",
                            file, h->page_size);
      if (cgroup_write_u64 (m, dfd, file, h->limit, "linux.resources.hugepageLimits", err) < 0)
        return -1;
    }
  for (size_t i = 0; r->unified_keys != NULL && r->unified_keys[i] != NULL; i++)
    {
      cleanup_free char *field = xasprintf ("linux.resources.unified.%s", r->unified_keys[i]);
      if (cgroup_write (m, dfd, r->unified_keys[i], r->unified_values[i], field, err) < 0)
        return -1;
    }
  /* v2 has no devices.allow/deny files: the rules become a BPF device
     program on the directory, or a spec's deny-all would leave a container
     on a v2 host every host device; the utility VM's agent enforces a VM
     container's rules the same way (device numbers are the kernel's, the
     same in the guest).  A fake tree takes no program: only the rules are
     checked.  */
  if (m->fake)
    {
      cleanup_free struct bpf_insn *insns = NULL;
      size_t n_insns = 0;
      return cgroup_devices_program (r->devices, r->n_devices, &insns, &n_insns, err);
    }
  return cgroup_devices_apply_bpf (dfd, r->devices, r->n_devices, err);
}

int
cgroup_v2_freeze (struct cgroup_manager *m, bool frozen, runhv_error_t *err)
{
  cleanup_close int dfd = cgroup_open_dir (m, 0, err);
  if (dfd < 0)
    return -1;
  if (cgroup_write (m, dfd, "cgroup.freeze", frozen ? "1" : "0", NULL, err) < 0)
    return -1;
  if (m->fake)
    return 0;
  return cgroup_wait_for (dfd, "cgroup.events", frozen ? "frozen 1" : "frozen 0", err);
}

bool
cgroup_v2_is_frozen (struct cgroup_manager *m)
{
  cleanup_close int dfd = cgroup_open_dir (m, 0, NULL);
  cleanup_free char *v = NULL;
  if (dfd < 0)
    return false;
  if (read_file_at (dfd, "cgroup.freeze", 64, &v, NULL, NULL) < 0)
    return false;
  return v[0] == '1';
}

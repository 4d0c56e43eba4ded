/* A container's cgroup statistics, read as runc 1.1 reads them, into
   struct container_stats: v1 from each mounted hierarchy (this host), v2
   from the one unified directory (the guest).  A counter whose file is
   missing (a controller not mounted, a kernel without swap accounting) is
   zero, as in runc.  */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "process/cgroup-internal.h"
#include "core/util.h"
#include "core/banned.h"

/* Control files are small; memory.stat and the blkio tables of a machine
   with many disks are the largest.  */
#define STAT_FILE_MAX (256 * 1024)

uint64_t
cgroup_kv (const char *buf, const char *key)
{
  size_t kl = strlen (key);
  for (const char *p = buf; p && *p;)
    {
      if (strncmp (p, key, kl) == 0 && p[kl] == ' ')
        return strtoull (p + kl + 1, NULL, 10);
      p = strchr (p, '\n');
      if (p)
        p++;
    }
  return 0;
}

int
cgroup_parse_cpu_list (const char *buf, uint16_t **out, size_t *n)
{
  const char *p = buf;
  *out = NULL;
  *n = 0;
  while (*p && *p != '\n')
    {
      char *end;
      unsigned long lo = strtoul (p, &end, 10), hi = lo;
      if (end == p || lo > UINT16_MAX)
        goto bad;
      p = end;
      if (*p == '-')
        {
          hi = strtoul (p + 1, &end, 10);
          if (end == p + 1 || hi > UINT16_MAX || hi < lo)
            goto bad;
          p = end;
        }
      if (*n + (hi - lo + 1) > STATS_MAX_CPUS)
        goto bad;
      *out = xrealloc (*out, (*n + (hi - lo + 1)) * sizeof (**out));
      for (unsigned long i = lo; i <= hi; i++)
        (*out)[(*n)++] = (uint16_t)i;
      if (*p == ',')
        p++;
      else if (*p && *p != '\n')
        goto bad;
    }
  return 0;
bad:
  free (*out);
  *out = NULL;
  *n = 0;
  return -1;
}

int
cgroup_parse_u64_fields (const char *buf, uint64_t **out, size_t *n)
{
  const char *p = buf;
  *out = NULL;
  *n = 0;
  for (;;)
    {
      char *end;
      uint64_t v;
      while (*p == ' ' || *p == '\n' || *p == '\t')
        p++;
      if (*p == '\0')
        return 0;
      errno = 0;
      v = strtoull (p, &end, 10);
      if (end == p || errno != 0 || *n >= STATS_MAX_CPUS)
        {
          free (*out);
          *out = NULL;
          *n = 0;
          return -1;
        }
      *out = xrealloc (*out, (*n + 1) * sizeof (**out));
      (*out)[(*n)++] = v;
      p = end;
    }
}

/* cpuacct.usage_all: a "cpu user system" header, then one line per CPU.  */
int
cgroup_parse_usage_all (const char *buf, struct container_stats *s)
{
  const char *p = strchr (buf, '\n');
  while (p != NULL && *++p != '\0')
    {
      unsigned long long cpu, user, sys;
      if (sscanf (p, "%llu %llu %llu", &cpu, &user, &sys) == 3 && s->cpu.n_percpu_kernel < STATS_MAX_CPUS)
        {
          s->cpu.percpu_kernel
            = xrealloc (s->cpu.percpu_kernel, (s->cpu.n_percpu_kernel + 1) * sizeof (*s->cpu.percpu_kernel));
          s->cpu.percpu_user = xrealloc (s->cpu.percpu_user, (s->cpu.n_percpu_user + 1) * sizeof (*s->cpu.percpu_user));
          s->cpu.percpu_kernel[s->cpu.n_percpu_kernel++] = sys;
          s->cpu.percpu_user[s->cpu.n_percpu_user++] = user;
        }
      p = strchr (p, '\n');
    }
  return 0;
}

int
cgroup_parse_memory_stat (const char *buf, struct container_stats *s)
{
  for (const char *p = buf; p && *p;)
    {
      char name[STATS_MAX_NAME];
      unsigned long long v;
      if (sscanf (p, "%63s %llu", name, &v) == 2)
        container_stats_add_raw (s, name, v);
      p = strchr (p, '\n');
      if (p)
        p++;
    }
  return 0;
}

static void
blkio_append (struct stats_blkio_list *l, uint64_t major, uint64_t minor, const char *op, uint64_t value)
{
  if (l->n >= STATS_MAX_BLKIO)
    return;
  l->v = xrealloc (l->v, (l->n + 1) * sizeof (*l->v));
  l->v[l->n] = (struct stats_blkio_entry){ .major = major, .minor = minor, .value = value };
  snprintf (l->v[l->n].op, sizeof (l->v[l->n].op), "%s", op);
  l->n++;
}

/* v1 blkio tables: "MAJ:MIN Op value" or "MAJ:MIN value" lines, and a
   "Total value" line that runc skips.  */
int
cgroup_parse_blkio (const char *buf, struct stats_blkio_list *l)
{
  for (const char *p = buf; p && *p;)
    {
      unsigned long long major, minor, value;
      char op[16];
      if (sscanf (p, "%llu:%llu %15[A-Za-z] %llu", &major, &minor, op, &value) == 4)
        blkio_append (l, major, minor, op, value);
      else if (sscanf (p, "%llu:%llu %llu", &major, &minor, &value) == 3)
        blkio_append (l, major, minor, "", value);
      else if (strncmp (p, "Total ", 6) != 0 && *p != '\n')
        return -1;
      p = strchr (p, '\n');
      if (p)
        p++;
    }
  return 0;
}

/* v2 io.stat: "MAJ:MIN rbytes=N wbytes=N rios=N wios=N dbytes=N dios=N",
   mapped to v1's tables and names as runc maps them.  */
int
cgroup_parse_io_stat (const char *buf, struct container_stats *s)
{
  static const struct
  {
    const char *key, *op;
    enum stats_blkio_table table;
  } map[] = {
    { "rbytes=", "Read", STATS_IO_SERVICE_BYTES },
    { "wbytes=", "Write", STATS_IO_SERVICE_BYTES },
    { "rios=", "Read", STATS_IO_SERVICED },
    { "wios=", "Write", STATS_IO_SERVICED },
  };
  for (const char *p = buf; p && *p;)
    {
      unsigned long long major, minor;
      const char *eol = strchr (p, '\n');
      int used = 0;
      if (sscanf (p, "%llu:%llu%n", &major, &minor, &used) == 2)
        for (const char *f = p + used; f && (eol == NULL || f < eol);)
          {
            while (*f == ' ')
              f++;
            for (size_t i = 0; i < sizeof (map) / sizeof (map[0]); i++)
              if (strncmp (f, map[i].key, strlen (map[i].key)) == 0)
                blkio_append (&s->blkio[map[i].table], major, minor, map[i].op,
                              strtoull (f + strlen (map[i].key), NULL, 10));
            f = strchr (f, ' ');
          }
      p = eol ? eol + 1 : NULL;
    }
  return 0;
}

/* runc's page-size names: hugepages-2048kB is "2MB", hugepages-1048576kB "1GB".  */
int
cgroup_hugepage_name (const char *dirent_name, char *out, size_t size)
{
  static const char *const units[] = { "B", "KB", "MB", "GB", "TB", "PB" };
  unsigned long long kb;
  char tail[4];
  double v;
  size_t u = 0;
  if (sscanf (dirent_name, "hugepages-%llu%3s", &kb, tail) != 2 || strcmp (tail, "kB") != 0 || kb == 0)
    return -1;
  v = (double)kb * 1024;
  while (v >= 1024 && u + 1 < sizeof (units) / sizeof (units[0]))
    {
      v /= 1024;
      u++;
    }
  snprintf (out, size, "%g%s", v, units[u]);
  return 0;
}

static char **
hugepage_sizes (void)
{
  DIR *d = opendir ("/sys/kernel/mm/hugepages");
  struct dirent *e;
  char **v = NULL;
  if (d == NULL)
    return NULL;
  while ((e = readdir (d)) != NULL && strv_len (v) < STATS_MAX_HUGETLB)
    {
      char name[16];
      if (cgroup_hugepage_name (e->d_name, name, sizeof (name)) == 0)
        strv_append (&v, name);
    }
  closedir (d);
  return v;
}

static struct stats_hugetlb *
hugetlb_add (struct container_stats *s, const char *size)
{
  struct stats_hugetlb *h;
  s->hugetlb = xrealloc (s->hugetlb, (s->n_hugetlb + 1) * sizeof (*s->hugetlb));
  h = &s->hugetlb[s->n_hugetlb++];
  memset (h, 0, sizeof (*h));
  snprintf (h->page_size, sizeof (h->page_size), "%s", size);
  return h;
}

static char *
read_at (int dfd, const char *file)
{
  char *buf = NULL;
  if (read_file_at (dfd, file, STAT_FILE_MAX, &buf, NULL, NULL) < 0)
    return NULL;
  return buf;
}

/* ---- v1 --------------------------------------------------------------- */

static int
v1_dir (struct cgroup_manager *m, const char *ctrl)
{
  int i = cgroup_v1_find (m, ctrl);
  return i < 0 ? -1 : cgroup_open_dir (m, (size_t)i, NULL);
}

/* memory.X.usage_in_bytes and its siblings; absent (no swap accounting,
   no kmem) is a zero entry.  */
static void
v1_memory_entry (int dfd, const char *prefix, struct stats_memory_entry *e)
{
  char f[64];
  snprintf (f, sizeof (f), "%s.usage_in_bytes", prefix);
  if (cgroup_read_u64 (dfd, f, &e->usage) < 0)
    return;
  snprintf (f, sizeof (f), "%s.max_usage_in_bytes", prefix);
  cgroup_read_u64 (dfd, f, &e->max);
  snprintf (f, sizeof (f), "%s.failcnt", prefix);
  cgroup_read_u64 (dfd, f, &e->failcnt);
  snprintf (f, sizeof (f), "%s.limit_in_bytes", prefix);
  cgroup_read_u64 (dfd, f, &e->limit);
}

static void
v1_cpu (struct cgroup_manager *m, struct container_stats *s)
{
  cleanup_close int acct = v1_dir (m, "cpuacct"), cpu = v1_dir (m, "cpu");
  if (acct >= 0)
    {
      cleanup_free char *st = read_at (acct, "cpuacct.stat"), *percpu = read_at (acct, "cpuacct.usage_percpu");
      cleanup_free char *all = read_at (acct, "cpuacct.usage_all");
      long hz = sysconf (_SC_CLK_TCK);
      cgroup_read_u64 (acct, "cpuacct.usage", &s->cpu.total);
      if (st != NULL && hz > 0)
        {
          s->cpu.user = cgroup_kv (st, "user") * 1000000000ULL / (uint64_t)hz;
          s->cpu.kernel = cgroup_kv (st, "system") * 1000000000ULL / (uint64_t)hz;
        }
      if (percpu != NULL)
        cgroup_parse_u64_fields (percpu, &s->cpu.percpu, &s->cpu.n_percpu);
      if (all != NULL)
        cgroup_parse_usage_all (all, s);
    }
  if (cpu >= 0)
    {
      cleanup_free char *st = read_at (cpu, "cpu.stat");
      if (st != NULL)
        {
          s->cpu.periods = cgroup_kv (st, "nr_periods");
          s->cpu.throttled_periods = cgroup_kv (st, "nr_throttled");
          s->cpu.throttled_time = cgroup_kv (st, "throttled_time");
        }
    }
}

static void
v1_cpuset (struct cgroup_manager *m, struct container_stats *s)
{
  cleanup_close int dfd = v1_dir (m, "cpuset");
  cleanup_free char *cpus = NULL, *mems = NULL, *relax = NULL;
  int64_t level = 0;
  if (dfd < 0)
    return;
  if ((cpus = read_at (dfd, "cpuset.cpus")) != NULL)
    cgroup_parse_cpu_list (cpus, &s->cpuset.cpus, &s->cpuset.n_cpus);
  if ((mems = read_at (dfd, "cpuset.mems")) != NULL)
    cgroup_parse_cpu_list (mems, &s->cpuset.mems, &s->cpuset.n_mems);
  cgroup_read_u64 (dfd, "cpuset.cpu_exclusive", &s->cpuset.cpu_exclusive);
  cgroup_read_u64 (dfd, "cpuset.mem_hardwall", &s->cpuset.mem_hardwall);
  cgroup_read_u64 (dfd, "cpuset.mem_exclusive", &s->cpuset.mem_exclusive);
  cgroup_read_u64 (dfd, "cpuset.memory_migrate", &s->cpuset.memory_migrate);
  cgroup_read_u64 (dfd, "cpuset.memory_spread_page", &s->cpuset.memory_spread_page);
  cgroup_read_u64 (dfd, "cpuset.memory_spread_slab", &s->cpuset.memory_spread_slab);
  cgroup_read_u64 (dfd, "cpuset.memory_pressure", &s->cpuset.memory_pressure);
  cgroup_read_u64 (dfd, "cpuset.sched_load_balance", &s->cpuset.sched_load_balance);
  if ((relax = read_at (dfd, "cpuset.sched_relax_domain_level")) != NULL)
    {
      relax[strcspn (relax, "\n")] = '\0';
      if (parse_int64 (relax, &level) == 0)
        s->cpuset.sched_relax_domain_level = level;
    }
}

static void
v1_memory (struct cgroup_manager *m, struct container_stats *s)
{
  cleanup_close int dfd = v1_dir (m, "memory");
  cleanup_free char *st = NULL, *oom = NULL;
  if (dfd < 0)
    return;
  if ((st = read_at (dfd, "memory.stat")) != NULL)
    cgroup_parse_memory_stat (st, s);
  s->memory.cache = container_stats_raw (s, "cache");
  v1_memory_entry (dfd, "memory", &s->memory.usage);
  v1_memory_entry (dfd, "memory.memsw", &s->memory.swap);
  v1_memory_entry (dfd, "memory.kmem", &s->memory.kernel);
  v1_memory_entry (dfd, "memory.kmem.tcp", &s->memory.kernel_tcp);
  if ((oom = read_at (dfd, "memory.oom_control")) != NULL)
    s->oom_kills = cgroup_kv (oom, "oom_kill");
}

/* runc's order: BFQ's debug tables, BFQ's, CFQ's, then the throttle
   layer's (recursive, then not); the first group whose first file has
   entries wins, and its tables are read until one is empty.  */
static void
v1_blkio (struct cgroup_manager *m, struct container_stats *s)
{
  static const struct
  {
    const char *file;
    enum stats_blkio_table table;
  } groups[][8] = {
    { { "blkio.bfq.sectors_recursive", STATS_SECTORS },
      { "blkio.bfq.io_service_time_recursive", STATS_IO_SERVICE_TIME },
      { "blkio.bfq.io_wait_time_recursive", STATS_IO_WAIT_TIME },
      { "blkio.bfq.io_merged_recursive", STATS_IO_MERGED },
      { "blkio.bfq.io_queued_recursive", STATS_IO_QUEUED },
      { "blkio.bfq.time_recursive", STATS_IO_TIME },
      { "blkio.bfq.io_serviced_recursive", STATS_IO_SERVICED },
      { "blkio.bfq.io_service_bytes_recursive", STATS_IO_SERVICE_BYTES } },
    { { "blkio.bfq.io_serviced_recursive", STATS_IO_SERVICED },
      { "blkio.bfq.io_service_bytes_recursive", STATS_IO_SERVICE_BYTES } },
    { { "blkio.sectors_recursive", STATS_SECTORS },
      { "blkio.io_service_time_recursive", STATS_IO_SERVICE_TIME },
      { "blkio.io_wait_time_recursive", STATS_IO_WAIT_TIME },
      { "blkio.io_merged_recursive", STATS_IO_MERGED },
      { "blkio.io_queued_recursive", STATS_IO_QUEUED },
      { "blkio.time_recursive", STATS_IO_TIME },
      { "blkio.io_serviced_recursive", STATS_IO_SERVICED },
      { "blkio.io_service_bytes_recursive", STATS_IO_SERVICE_BYTES } },
    { { "blkio.throttle.io_serviced_recursive", STATS_IO_SERVICED },
      { "blkio.throttle.io_service_bytes_recursive", STATS_IO_SERVICE_BYTES } },
    { { "blkio.throttle.io_serviced", STATS_IO_SERVICED },
      { "blkio.throttle.io_service_bytes", STATS_IO_SERVICE_BYTES } },
  };
  cleanup_close int dfd = v1_dir (m, "blkio");
  if (dfd < 0)
    return;
  for (size_t g = 0; g < sizeof (groups) / sizeof (groups[0]); g++)
    for (size_t i = 0; i < 8 && groups[g][i].file != NULL; i++)
      {
        cleanup_free char *buf = read_at (dfd, groups[g][i].file);
        struct stats_blkio_list *l = &s->blkio[groups[g][i].table];
        if (buf == NULL || cgroup_parse_blkio (buf, l) < 0 || l->n == 0)
          {
            if (i == 0)
              break;
            return;
          }
        if (i + 1 == 8 || groups[g][i + 1].file == NULL)
          return;
      }
}

static void
v1_hugetlb (struct cgroup_manager *m, struct container_stats *s)
{
  cleanup_close int dfd = v1_dir (m, "hugetlb");
  char **sizes;
  if (dfd < 0)
    return;
  sizes = hugepage_sizes ();
  for (size_t i = 0; sizes && sizes[i]; i++)
    {
      struct stats_hugetlb *h = hugetlb_add (s, sizes[i]);
      char f[64];
      snprintf (f, sizeof (f), "hugetlb.%s.usage_in_bytes", sizes[i]);
      cgroup_read_u64 (dfd, f, &h->usage);
      snprintf (f, sizeof (f), "hugetlb.%s.max_usage_in_bytes", sizes[i]);
      cgroup_read_u64 (dfd, f, &h->max);
      snprintf (f, sizeof (f), "hugetlb.%s.failcnt", sizes[i]);
      cgroup_read_u64 (dfd, f, &h->failcnt);
    }
  strv_free (sizes);
}

int
cgroup_v1_stats (struct cgroup_manager *m, struct container_stats *s, runhv_error_t *err)
{
  int fd;
  (void)err;
  v1_cpu (m, s);
  v1_cpuset (m, s);
  v1_memory (m, s);
  if ((fd = v1_dir (m, "pids")) >= 0)
    {
      cleanup_close int dfd = fd;
      cgroup_read_u64 (dfd, "pids.current", &s->pids.current);
      cgroup_read_u64 (dfd, "pids.max", &s->pids.limit);
      if (s->pids.limit == UINT64_MAX)
        s->pids.limit = 0;
    }
  v1_blkio (m, s);
  v1_hugetlb (m, s);
  return 0;
}

/* ---- v2 --------------------------------------------------------------- */

int
cgroup_v2_stats (struct cgroup_manager *m, struct container_stats *s, runhv_error_t *err)
{
  cleanup_close int dfd = cgroup_open_dir (m, 0, err);
  cleanup_free char *cpu = NULL, *mem = NULL, *io = NULL, *ev = NULL;
  char **sizes;
  uint64_t swap = 0, swap_max = 0;
  if (dfd < 0)
    return -1;
  if (cgroup_read_u64 (dfd, "pids.current", &s->pids.current) == 0)
    {
      cgroup_read_u64 (dfd, "pids.max", &s->pids.limit);
      if (s->pids.limit == UINT64_MAX)
        s->pids.limit = 0;
    }
  if ((mem = read_at (dfd, "memory.stat")) != NULL)
    cgroup_parse_memory_stat (mem, s);
  s->memory.cache = container_stats_raw (s, "file");
  cgroup_read_u64 (dfd, "memory.current", &s->memory.usage.usage);
  cgroup_read_u64 (dfd, "memory.max", &s->memory.usage.limit);
  /* Not in runc 1.1, but in its layout: the peak the kernel keeps.  */
  cgroup_read_u64 (dfd, "memory.peak", &s->memory.usage.max);
  if (cgroup_read_u64 (dfd, "memory.swap.current", &swap) == 0)
    {
      /* As runc: v1's memsw counts memory too, so v2's swap is added to it.  */
      cgroup_read_u64 (dfd, "memory.swap.max", &swap_max);
      s->memory.swap.usage = swap + s->memory.usage.usage;
      s->memory.swap.limit
        = swap_max == UINT64_MAX || s->memory.usage.limit == UINT64_MAX ? UINT64_MAX : swap_max + s->memory.usage.limit;
    }
  if ((io = read_at (dfd, "io.stat")) != NULL)
    cgroup_parse_io_stat (io, s);
  if ((cpu = read_at (dfd, "cpu.stat")) != NULL)
    {
      s->cpu.total = cgroup_kv (cpu, "usage_usec") * 1000;
      s->cpu.user = cgroup_kv (cpu, "user_usec") * 1000;
      s->cpu.kernel = cgroup_kv (cpu, "system_usec") * 1000;
      s->cpu.periods = cgroup_kv (cpu, "nr_periods");
      s->cpu.throttled_periods = cgroup_kv (cpu, "nr_throttled");
      s->cpu.throttled_time = cgroup_kv (cpu, "throttled_usec") * 1000;
    }
  sizes = hugepage_sizes ();
  for (size_t i = 0; sizes && sizes[i]; i++)
    {
      char f[64];
      uint64_t usage;
      cleanup_free char *events = NULL;
      snprintf (f, sizeof (f), "hugetlb.%s.current", sizes[i]);
      if (cgroup_read_u64 (dfd, f, &usage) < 0)
        break; /* no hugetlb controller here */
      struct stats_hugetlb *h = hugetlb_add (s, sizes[i]);
      h->usage = usage;
      snprintf (f, sizeof (f), "hugetlb.%s.events", sizes[i]);
      if ((events = read_at (dfd, f)) != NULL)
        h->failcnt = cgroup_kv (events, "max");
    }
  strv_free (sizes);
  if ((ev = read_at (dfd, "memory.events")) != NULL)
    s->oom_kills = cgroup_kv (ev, "oom_kill");
  return 0;
}

/* Encodings of struct container_stats: the agent channel's (one encoder,
   one strict decoder, both ends) and runc's `events` text.  */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/stats.h"
#include "core/util.h"
#include "core/banned.h"

/* runc's JSON keys for the blkio tables, in enum order.  */
static const char *const blkio_keys[STATS_N_BLKIO] = {
  "ioServiceBytesRecursive", "ioServicedRecursive", "ioQueueRecursive", "ioServiceTimeRecursive",
  "ioWaitTimeRecursive",     "ioMergedRecursive",   "ioTimeRecursive",  "sectorsRecursive",
};

void
container_stats_release (struct container_stats *s)
{
  free (s->cpu.percpu);
  free (s->cpu.percpu_kernel);
  free (s->cpu.percpu_user);
  free (s->cpuset.cpus);
  free (s->cpuset.mems);
  free (s->memory.raw);
  for (size_t i = 0; i < STATS_N_BLKIO; i++)
    free (s->blkio[i].v);
  free (s->hugetlb);
  memset (s, 0, sizeof (*s));
}

static bool
name_ok (const char *name, const char *extra)
{
  size_t n = strlen (name);
  if (n == 0 || n >= STATS_MAX_NAME)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') || strchr (extra, name[i])))
      return false;
  return true;
}

uint64_t
container_stats_raw (const struct container_stats *s, const char *name)
{
  for (size_t i = 0; i < s->memory.n_raw; i++)
    if (strcmp (s->memory.raw[i].name, name) == 0)
      return s->memory.raw[i].value;
  return 0;
}

int
container_stats_add_raw (struct container_stats *s, const char *name, uint64_t value)
{
  size_t at = 0;
  if (!name_ok (name, "_") || s->memory.n_raw >= STATS_MAX_RAW)
    return -1;
  while (at < s->memory.n_raw && strcmp (s->memory.raw[at].name, name) < 0)
    at++;
  if (at < s->memory.n_raw && strcmp (s->memory.raw[at].name, name) == 0)
    {
      s->memory.raw[at].value = value;
      return 0;
    }
  s->memory.raw = xrealloc (s->memory.raw, (s->memory.n_raw + 1) * sizeof (*s->memory.raw));
  memmove (&s->memory.raw[at + 1], &s->memory.raw[at], (s->memory.n_raw - at) * sizeof (*s->memory.raw));
  snprintf (s->memory.raw[at].name, sizeof (s->memory.raw[at].name), "%s", name);
  s->memory.raw[at].value = value;
  s->memory.n_raw++;
  return 0;
}

/* ---- the agent channel ------------------------------------------------ */

static json_t *
wire_u64 (uint64_t v)
{
  if (v == UINT64_MAX)
    return json_integer (-1);
  return json_integer (v > INT64_MAX ? INT64_MAX : (json_int_t)v);
}

static json_t *
wire_array (const void *v, size_t n, size_t elem)
{
  json_t *a = json_array ();
  for (size_t i = 0; i < n; i++)
    json_array_append_new (a,
                           wire_u64 (elem == sizeof (uint16_t) ? ((const uint16_t *)v)[i] : ((const uint64_t *)v)[i]));
  return a;
}

static json_t *
wire_memory_entry (const struct stats_memory_entry *e)
{
  return json_pack ("{s:o,s:o,s:o,s:o}", "limit", wire_u64 (e->limit), "usage", wire_u64 (e->usage), "max",
                    wire_u64 (e->max), "failcnt", wire_u64 (e->failcnt));
}

json_t *
container_stats_to_json (const struct container_stats *s)
{
  json_t *raw = json_object (), *blkio = json_object (), *huge = json_object ();
  for (size_t i = 0; i < s->memory.n_raw; i++)
    json_object_set_new (raw, s->memory.raw[i].name, wire_u64 (s->memory.raw[i].value));
  for (size_t t = 0; t < STATS_N_BLKIO; t++)
    {
      json_t *a = json_array ();
      for (size_t i = 0; i < s->blkio[t].n; i++)
        {
          const struct stats_blkio_entry *e = &s->blkio[t].v[i];
          json_array_append_new (a, json_pack ("{s:o,s:o,s:s,s:o}", "major", wire_u64 (e->major), "minor",
                                               wire_u64 (e->minor), "op", e->op, "value", wire_u64 (e->value)));
        }
      json_object_set_new (blkio, blkio_keys[t], a);
    }
  for (size_t i = 0; i < s->n_hugetlb; i++)
    json_object_set_new (huge, s->hugetlb[i].page_size,
                         json_pack ("{s:o,s:o,s:o}", "usage", wire_u64 (s->hugetlb[i].usage), "max",
                                    wire_u64 (s->hugetlb[i].max), "failcnt", wire_u64 (s->hugetlb[i].failcnt)));
  return json_pack (
    "{s:{s:{s:o,s:o,s:o,s:o,s:o,s:o},s:{s:o,s:o,s:o}},"
    "s:{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:I},"
    "s:{s:o,s:o,s:o,s:o,s:o,s:o},s:{s:o,s:o},s:o,s:o,s:o}",
    "cpu", "usage", "total", wire_u64 (s->cpu.total), "kernel", wire_u64 (s->cpu.kernel), "user",
    wire_u64 (s->cpu.user), "percpu", wire_array (s->cpu.percpu, s->cpu.n_percpu, sizeof (uint64_t)), "percpu_kernel",
    wire_array (s->cpu.percpu_kernel, s->cpu.n_percpu_kernel, sizeof (uint64_t)), "percpu_user",
    wire_array (s->cpu.percpu_user, s->cpu.n_percpu_user, sizeof (uint64_t)), "throttling", "periods",
    wire_u64 (s->cpu.periods), "throttledPeriods", wire_u64 (s->cpu.throttled_periods), "throttledTime",
    wire_u64 (s->cpu.throttled_time), "cpuset", "cpus",
    wire_array (s->cpuset.cpus, s->cpuset.n_cpus, sizeof (uint16_t)), "mems",
    wire_array (s->cpuset.mems, s->cpuset.n_mems, sizeof (uint16_t)), "cpu_exclusive",
    wire_u64 (s->cpuset.cpu_exclusive), "mem_hardwall", wire_u64 (s->cpuset.mem_hardwall), "mem_exclusive",
    wire_u64 (s->cpuset.mem_exclusive), "memory_migrate", wire_u64 (s->cpuset.memory_migrate), "memory_spread_page",
    wire_u64 (s->cpuset.memory_spread_page), "memory_spread_slab", wire_u64 (s->cpuset.memory_spread_slab),
    "memory_pressure", wire_u64 (s->cpuset.memory_pressure), "sched_load_balance",
    wire_u64 (s->cpuset.sched_load_balance), "sched_relax_domain_level", (json_int_t)s->cpuset.sched_relax_domain_level,
    "memory", "cache", wire_u64 (s->memory.cache), "usage", wire_memory_entry (&s->memory.usage), "swap",
    wire_memory_entry (&s->memory.swap), "kernel", wire_memory_entry (&s->memory.kernel), "kernelTCP",
    wire_memory_entry (&s->memory.kernel_tcp), "raw", raw, "pids", "current", wire_u64 (s->pids.current), "limit",
    wire_u64 (s->pids.limit), "blkio", blkio, "hugetlb", huge, "oom_kills", wire_u64 (s->oom_kills));
}

/* The decoder: a missing field is 0 (an older or smaller peer), a field
   of the wrong type or out of range is an error naming it.  */
struct reader
{
  runhv_error_t *err;
  int failed;
};

static json_t *
rd_obj (struct reader *r, json_t *o, const char *key)
{
  json_t *v = json_object_get (o, key);
  if (v != NULL && !json_is_object (v) && !r->failed)
    r->failed = runhv_error (r->err, "agent stats: `%s` must be an object", key);
  return json_is_object (v) ? v : NULL;
}

static uint64_t
rd_u64_value (struct reader *r, json_t *v, const char *key)
{
  if (v == NULL)
    return 0;
  if (!json_is_integer (v) || json_integer_value (v) < -1)
    {
      if (!r->failed)
        r->failed = runhv_error (r->err, "agent stats: `%s` must be an unsigned integer", key);
      return 0;
    }
  return json_integer_value (v) == -1 ? UINT64_MAX : (uint64_t)json_integer_value (v);
}

static uint64_t
rd_u64 (struct reader *r, json_t *o, const char *key)
{
  return rd_u64_value (r, json_object_get (o, key), key);
}

static json_t *
rd_array (struct reader *r, json_t *o, const char *key, size_t max)
{
  json_t *v = json_object_get (o, key);
  if (v == NULL)
    return NULL;
  if ((!json_is_array (v) || json_array_size (v) > max) && !r->failed)
    r->failed = runhv_error (r->err, "agent stats: `%s` must be an array of at most %zu", key, max);
  return r->failed ? NULL : v;
}

/* An array of u64 (elem 8) or of CPU/node numbers (elem 2).  */
static void *
rd_numbers (struct reader *r, json_t *o, const char *key, size_t elem, size_t *n)
{
  json_t *a = rd_array (r, o, key, STATS_MAX_CPUS), *v;
  void *out;
  size_t i;
  *n = 0;
  if (a == NULL || json_array_size (a) == 0)
    return NULL;
  out = xmalloc0 (json_array_size (a) * elem);
  json_array_foreach (a, i, v)
  {
    uint64_t x = rd_u64_value (r, v, key);
    if (elem == sizeof (uint64_t))
      ((uint64_t *)out)[i] = x;
    else if (x > UINT16_MAX && !r->failed)
      r->failed = runhv_error (r->err, "agent stats: `%s` holds %" PRIu64 ", not a CPU or node number", key, x);
    else
      ((uint16_t *)out)[i] = (uint16_t)x;
  }
  *n = json_array_size (a);
  return out;
}

static void
rd_memory_entry (struct reader *r, json_t *mem, const char *key, struct stats_memory_entry *e)
{
  json_t *o = rd_obj (r, mem, key);
  e->limit = rd_u64 (r, o, "limit");
  e->usage = rd_u64 (r, o, "usage");
  e->max = rd_u64 (r, o, "max");
  e->failcnt = rd_u64 (r, o, "failcnt");
}

static void
rd_blkio (struct reader *r, json_t *blkio, enum stats_blkio_table t, struct stats_blkio_list *l)
{
  json_t *a = rd_array (r, blkio, blkio_keys[t], STATS_MAX_BLKIO), *e;
  size_t i;
  if (a == NULL || json_array_size (a) == 0)
    return;
  l->v = xmalloc0 ((json_array_size (a)) * sizeof (*l->v));
  l->n = json_array_size (a);
  json_array_foreach (a, i, e)
  {
    json_t *op = json_object_get (e, "op");
    if (!json_is_object (e)
        || (op != NULL
            && (!json_is_string (op) || json_string_length (op) >= sizeof (l->v[i].op)
                || (json_string_length (op) > 0 && !name_ok (json_string_value (op), "ABCDEFGHIJKLMNOPQRSTUVWXYZ")))))
      {
        if (!r->failed)
          r->failed = runhv_error (r->err, "agent stats: `%s` entries are {major, minor, op, value}", blkio_keys[t]);
        return;
      }
    l->v[i].major = rd_u64 (r, e, "major");
    l->v[i].minor = rd_u64 (r, e, "minor");
    l->v[i].value = rd_u64 (r, e, "value");
    if (op != NULL)
      snprintf (l->v[i].op, sizeof (l->v[i].op), "%s", json_string_value (op));
  }
}

static void
rd_memory (struct reader *r, json_t *mem, struct container_stats *s)
{
  json_t *raw = rd_obj (r, mem, "raw"), *v;
  const char *k;
  s->memory.cache = rd_u64 (r, mem, "cache");
  rd_memory_entry (r, mem, "usage", &s->memory.usage);
  rd_memory_entry (r, mem, "swap", &s->memory.swap);
  rd_memory_entry (r, mem, "kernel", &s->memory.kernel);
  rd_memory_entry (r, mem, "kernelTCP", &s->memory.kernel_tcp);
  json_object_foreach (raw, k, v)
  {
    uint64_t x = rd_u64_value (r, v, "memory.raw");
    if (r->failed)
      return;
    if (container_stats_add_raw (s, k, x) < 0)
      {
        r->failed = runhv_error (r->err, "agent stats: memory.raw has more than %d entries or a bad name `%.64s`",
                                 STATS_MAX_RAW, k);
        return;
      }
  }
}

static void
rd_hugetlb (struct reader *r, json_t *huge, struct container_stats *s)
{
  json_t *v;
  const char *k;
  if (json_object_size (huge) > STATS_MAX_HUGETLB)
    {
      r->failed = runhv_error (r->err, "agent stats: more than %d hugetlb page sizes", STATS_MAX_HUGETLB);
      return;
    }
  if (json_object_size (huge) == 0)
    return;
  s->hugetlb = xmalloc0 ((json_object_size (huge)) * sizeof (*s->hugetlb));
  json_object_foreach (huge, k, v)
  {
    struct stats_hugetlb *h = &s->hugetlb[s->n_hugetlb];
    if (!json_is_object (v) || strlen (k) >= sizeof (h->page_size) || !name_ok (k, "KMGTPB"))
      {
        r->failed = runhv_error (r->err, "agent stats: bad hugetlb entry `%.16s`", k);
        return;
      }
    snprintf (h->page_size, sizeof (h->page_size), "%s", k);
    h->usage = rd_u64 (r, v, "usage");
    h->max = rd_u64 (r, v, "max");
    h->failcnt = rd_u64 (r, v, "failcnt");
    s->n_hugetlb++;
  }
}

int
container_stats_from_json (json_t *j, struct container_stats *s, runhv_error_t *err)
{
  struct reader r = { .err = err };
  json_t *cpu, *usage, *thr, *cpuset, *mem, *pids, *blkio, *v;
  memset (s, 0, sizeof (*s));
  if (!json_is_object (j))
    return runhv_error (err, "agent stats: not an object");
  cpu = rd_obj (&r, j, "cpu");
  usage = rd_obj (&r, cpu, "usage");
  thr = rd_obj (&r, cpu, "throttling");
  s->cpu.total = rd_u64 (&r, usage, "total");
  s->cpu.kernel = rd_u64 (&r, usage, "kernel");
  s->cpu.user = rd_u64 (&r, usage, "user");
  s->cpu.percpu = rd_numbers (&r, usage, "percpu", sizeof (uint64_t), &s->cpu.n_percpu);
  s->cpu.percpu_kernel = rd_numbers (&r, usage, "percpu_kernel", sizeof (uint64_t), &s->cpu.n_percpu_kernel);
  s->cpu.percpu_user = rd_numbers (&r, usage, "percpu_user", sizeof (uint64_t), &s->cpu.n_percpu_user);
  s->cpu.periods = rd_u64 (&r, thr, "periods");
  s->cpu.throttled_periods = rd_u64 (&r, thr, "throttledPeriods");
  s->cpu.throttled_time = rd_u64 (&r, thr, "throttledTime");

  cpuset = rd_obj (&r, j, "cpuset");
  s->cpuset.cpus = rd_numbers (&r, cpuset, "cpus", sizeof (uint16_t), &s->cpuset.n_cpus);
  s->cpuset.mems = rd_numbers (&r, cpuset, "mems", sizeof (uint16_t), &s->cpuset.n_mems);
  s->cpuset.cpu_exclusive = rd_u64 (&r, cpuset, "cpu_exclusive");
  s->cpuset.mem_hardwall = rd_u64 (&r, cpuset, "mem_hardwall");
  s->cpuset.mem_exclusive = rd_u64 (&r, cpuset, "mem_exclusive");
  s->cpuset.memory_migrate = rd_u64 (&r, cpuset, "memory_migrate");
  s->cpuset.memory_spread_page = rd_u64 (&r, cpuset, "memory_spread_page");
  s->cpuset.memory_spread_slab = rd_u64 (&r, cpuset, "memory_spread_slab");
  s->cpuset.memory_pressure = rd_u64 (&r, cpuset, "memory_pressure");
  s->cpuset.sched_load_balance = rd_u64 (&r, cpuset, "sched_load_balance");
  v = json_object_get (cpuset, "sched_relax_domain_level");
  if (v != NULL && !json_is_integer (v) && !r.failed)
    r.failed = runhv_error (err, "agent stats: `sched_relax_domain_level` must be an integer");
  s->cpuset.sched_relax_domain_level = json_integer_value (v);

  mem = rd_obj (&r, j, "memory");
  if (!r.failed)
    rd_memory (&r, mem, s);
  pids = rd_obj (&r, j, "pids");
  s->pids.current = rd_u64 (&r, pids, "current");
  s->pids.limit = rd_u64 (&r, pids, "limit");
  blkio = rd_obj (&r, j, "blkio");
  for (size_t t = 0; t < STATS_N_BLKIO && !r.failed; t++)
    rd_blkio (&r, blkio, (enum stats_blkio_table)t, &s->blkio[t]);
  if (!r.failed)
    rd_hugetlb (&r, rd_obj (&r, j, "hugetlb"), s);
  s->oom_kills = rd_u64 (&r, j, "oom_kills");
  if (r.failed)
    {
      container_stats_release (s);
      return -1;
    }
  return 0;
}

/* ---- runc's text ------------------------------------------------------ */

/* A tiny JSON writer: Go's encoder prints unsigned 64-bit numbers, which
   jansson cannot.  */
struct text
{
  FILE *f;
  int depth;
  bool first[16];
};

static void
t_key (struct text *w, const char *key)
{
  if (!w->first[w->depth])
    fputc (',', w->f);
  w->first[w->depth] = false;
  if (key != NULL)
    {
      json_t *k = json_string (key);
      char *enc = k ? json_dumps (k, JSON_ENCODE_ANY) : NULL;
      fprintf (w->f, "%s:", enc ? enc : "\"\"");
      free (enc);
      json_decref (k);
    }
}

static void
t_open (struct text *w, const char *key, char c)
{
  t_key (w, key);
  fputc (c, w->f);
  w->first[++w->depth] = true;
}

static void
t_close (struct text *w, char c)
{
  w->depth--;
  fputc (c, w->f);
}

static void
t_u64 (struct text *w, const char *key, uint64_t v)
{
  t_key (w, key);
  fprintf (w->f, "%" PRIu64, v);
}

/* Go's omitempty: a zero number is left out.  */
static void
t_u64_omitempty (struct text *w, const char *key, uint64_t v)
{
  if (v != 0)
    t_u64 (w, key, v);
}

/* A Go []uint64 or []uint16, omitted when empty.  */
static void
t_array (struct text *w, const char *key, const void *v, size_t n, size_t elem)
{
  if (n == 0)
    return;
  t_open (w, key, '[');
  for (size_t i = 0; i < n; i++)
    t_u64 (w, NULL, elem == sizeof (uint16_t) ? ((const uint16_t *)v)[i] : ((const uint64_t *)v)[i]);
  t_close (w, ']');
}

static void
t_memory_entry (struct text *w, const char *key, const struct stats_memory_entry *e)
{
  t_open (w, key, '{');
  t_u64 (w, "limit", e->limit);
  t_u64_omitempty (w, "usage", e->usage);
  t_u64_omitempty (w, "max", e->max);
  t_u64 (w, "failcnt", e->failcnt);
  t_close (w, '}');
}

static void
t_string (struct text *w, const char *key, const char *v)
{
  t_key (w, key);
  json_t *s = json_string (v);
  char *enc = s ? json_dumps (s, JSON_ENCODE_ANY) : NULL;
  fputs (enc ? enc : "\"\"", w->f);
  free (enc);
  json_decref (s);
}

char *
container_stats_runc_json (const struct container_stats *s)
{
  struct text w = { .first = { true } };
  char *buf = NULL;
  size_t len = 0;
  w.f = open_memstream (&buf, &len);
  if (w.f == NULL)
    return NULL;
  t_open (&w, NULL, '{');

  t_open (&w, "cpu", '{');
  t_open (&w, "usage", '{');
  t_u64_omitempty (&w, "total", s->cpu.total);
  t_array (&w, "percpu", s->cpu.percpu, s->cpu.n_percpu, sizeof (uint64_t));
  t_array (&w, "percpu_kernel", s->cpu.percpu_kernel, s->cpu.n_percpu_kernel, sizeof (uint64_t));
  t_array (&w, "percpu_user", s->cpu.percpu_user, s->cpu.n_percpu_user, sizeof (uint64_t));
  t_u64 (&w, "kernel", s->cpu.kernel);
  t_u64 (&w, "user", s->cpu.user);
  t_close (&w, '}');
  t_open (&w, "throttling", '{');
  t_u64_omitempty (&w, "periods", s->cpu.periods);
  t_u64_omitempty (&w, "throttledPeriods", s->cpu.throttled_periods);
  t_u64_omitempty (&w, "throttledTime", s->cpu.throttled_time);
  t_close (&w, '}');
  t_close (&w, '}');

  t_open (&w, "cpuset", '{');
  t_array (&w, "cpus", s->cpuset.cpus, s->cpuset.n_cpus, sizeof (uint16_t));
  t_u64 (&w, "cpu_exclusive", s->cpuset.cpu_exclusive);
  t_array (&w, "mems", s->cpuset.mems, s->cpuset.n_mems, sizeof (uint16_t));
  t_u64 (&w, "mem_hardwall", s->cpuset.mem_hardwall);
  t_u64 (&w, "mem_exclusive", s->cpuset.mem_exclusive);
  t_u64 (&w, "memory_migrate", s->cpuset.memory_migrate);
  t_u64 (&w, "memory_spread_page", s->cpuset.memory_spread_page);
  t_u64 (&w, "memory_spread_slab", s->cpuset.memory_spread_slab);
  t_u64 (&w, "memory_pressure", s->cpuset.memory_pressure);
  t_u64 (&w, "sched_load_balance", s->cpuset.sched_load_balance);
  t_key (&w, "sched_relax_domain_level");
  fprintf (w.f, "%" PRId64, s->cpuset.sched_relax_domain_level);
  t_close (&w, '}');

  t_open (&w, "memory", '{');
  t_u64_omitempty (&w, "cache", s->memory.cache);
  t_memory_entry (&w, "usage", &s->memory.usage);
  t_memory_entry (&w, "swap", &s->memory.swap);
  t_memory_entry (&w, "kernel", &s->memory.kernel);
  t_memory_entry (&w, "kernelTCP", &s->memory.kernel_tcp);
  if (s->memory.n_raw > 0)
    {
      t_open (&w, "raw", '{');
      for (size_t i = 0; i < s->memory.n_raw; i++)
        t_u64 (&w, s->memory.raw[i].name, s->memory.raw[i].value);
      t_close (&w, '}');
    }
  t_close (&w, '}');

  t_open (&w, "pids", '{');
  t_u64_omitempty (&w, "current", s->pids.current);
  t_u64_omitempty (&w, "limit", s->pids.limit);
  t_close (&w, '}');

  t_open (&w, "blkio", '{');
  for (size_t t = 0; t < STATS_N_BLKIO; t++)
    {
      if (s->blkio[t].n == 0)
        continue;
      t_open (&w, blkio_keys[t], '[');
      for (size_t i = 0; i < s->blkio[t].n; i++)
        {
          const struct stats_blkio_entry *e = &s->blkio[t].v[i];
          t_open (&w, NULL, '{');
          t_u64_omitempty (&w, "major", e->major);
          t_u64_omitempty (&w, "minor", e->minor);
          if (e->op[0] != '\0')
            t_string (&w, "op", e->op);
          t_u64_omitempty (&w, "value", e->value);
          t_close (&w, '}');
        }
      t_close (&w, ']');
    }
  t_close (&w, '}');

  /* Go prints a map's keys sorted.  */
  t_open (&w, "hugetlb", '{');
  {
    bool done[STATS_MAX_HUGETLB] = { false };
    for (size_t k = 0; k < s->n_hugetlb && k < STATS_MAX_HUGETLB; k++)
      {
        size_t best = SIZE_MAX;
        for (size_t i = 0; i < s->n_hugetlb && i < STATS_MAX_HUGETLB; i++)
          if (!done[i] && (best == SIZE_MAX || strcmp (s->hugetlb[i].page_size, s->hugetlb[best].page_size) < 0))
            best = i;
        done[best] = true;
        t_open (&w, s->hugetlb[best].page_size, '{');
        t_u64_omitempty (&w, "usage", s->hugetlb[best].usage);
        t_u64_omitempty (&w, "max", s->hugetlb[best].max);
        t_u64 (&w, "failcnt", s->hugetlb[best].failcnt);
        t_close (&w, '}');
      }
  }
  t_close (&w, '}');

  /* runhv reads no Intel RDT and, as runc's events for an OCI bundle,
     no network interfaces.  */
  t_open (&w, "intel_rdt", '{');
  t_close (&w, '}');
  t_key (&w, "network_interfaces");
  fputs ("null", w.f);
  t_close (&w, '}');
  if (fclose (w.f) != 0)
    {
      free (buf);
      return NULL;
    }
  return buf;
}

/* A container's resource statistics, shaped like runc's types.Stats: what
   `runhv events` prints, what the guest agent reports for a VM container
   and what the shim turns into containerd's metrics.  The cgroup code
   fills it (v1 on the host, v2 in the guest); this file holds its only
   encodings: the agent-channel form (both ends) and runc's JSON text.  */
#ifndef RUNHV_STATS_H
#define RUNHV_STATS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* Bounds on what a (possibly hostile) peer may send, and what a parser
   keeps: far above any real machine or kernel.  */
#define STATS_MAX_CPUS 4096
#define STATS_MAX_RAW 256
#define STATS_MAX_BLKIO 1024
#define STATS_MAX_HUGETLB 8
#define STATS_MAX_NAME 64

/* runc's eight blkio tables, in its order.  */
enum stats_blkio_table
{
  STATS_IO_SERVICE_BYTES,
  STATS_IO_SERVICED,
  STATS_IO_QUEUED,
  STATS_IO_SERVICE_TIME,
  STATS_IO_WAIT_TIME,
  STATS_IO_MERGED,
  STATS_IO_TIME,
  STATS_SECTORS,
  STATS_N_BLKIO
};

struct stats_blkio_entry
{
  uint64_t major, minor, value;
  char op[16]; /* "Read", "Write", "Total", ...; "" when the file has none */
};

struct stats_blkio_list
{
  struct stats_blkio_entry *v;
  size_t n;
};

/* One memory counter set; a limit of UINT64_MAX is "no limit" (v2's "max").  */
struct stats_memory_entry
{
  uint64_t limit, usage, max, failcnt;
};

struct stats_kv
{
  char name[STATS_MAX_NAME];
  uint64_t value;
};

struct stats_hugetlb
{
  char page_size[16]; /* runc's names: "2MB", "1GB" */
  uint64_t usage, max, failcnt;
};

struct container_stats
{
  struct
  {
    uint64_t total, kernel, user; /* ns */
    uint64_t *percpu, *percpu_kernel, *percpu_user;
    size_t n_percpu, n_percpu_kernel, n_percpu_user;
    uint64_t periods, throttled_periods, throttled_time;
  } cpu;
  struct
  {
    uint16_t *cpus, *mems;
    size_t n_cpus, n_mems;
    uint64_t cpu_exclusive, mem_hardwall, mem_exclusive, memory_migrate, memory_spread_page, memory_spread_slab,
      memory_pressure, sched_load_balance;
    int64_t sched_relax_domain_level;
  } cpuset;
  struct
  {
    uint64_t cache;
    /* usage is memory alone; swap is memory+swap, as v1's memsw counts it
       (runc reports v2's the same way).  */
    struct stats_memory_entry usage, swap, kernel, kernel_tcp;
    struct stats_kv *raw; /* memory.stat, sorted by name */
    size_t n_raw;
  } memory;
  struct
  {
    uint64_t current, limit; /* limit 0: none */
  } pids;
  struct stats_blkio_list blkio[STATS_N_BLKIO];
  struct stats_hugetlb *hugetlb;
  size_t n_hugetlb;
  /* runhv's own: OOM kills in the cgroup (not part of runc's layout).  */
  uint64_t oom_kills;
};

void container_stats_release (struct container_stats *s);
#define cleanup_container_stats __attribute__ ((cleanup (container_stats_release)))

/* memory.stat's value for `name`, 0 when absent.  */
uint64_t container_stats_raw (const struct container_stats *s, const char *name);
/* Add a memory.stat pair, keeping raw sorted; refused past STATS_MAX_RAW
   or for a name that is not [a-z0-9_]{1,63}.  */
int container_stats_add_raw (struct container_stats *s, const char *name, uint64_t value);

/* The agent channel's form: every field, runc's key names, "oom_kills"
   beside them, and -1 for a u64 of UINT64_MAX (jansson's integers are
   signed).  from_json is the host's decoder of guest bytes: strict types,
   bounded arrays, names checked.  */
json_t *container_stats_to_json (const struct container_stats *s);
int container_stats_from_json (json_t *j, struct container_stats *s, runhv_error_t *err);

/* runc's `events` stats data, byte for byte as runc 1.1 encodes it (its
   field order, its omitempty rules, unsigned 64-bit numbers); caller frees.  */
char *container_stats_runc_json (const struct container_stats *s);

#endif

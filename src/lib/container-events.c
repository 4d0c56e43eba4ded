/* runc's `events`: the container's cgroup statistics every interval and
   its OOM kills, as JSON lines, until the container is deleted.  */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "runtime.h"
#include "util.h"
#include "banned.h"

/* runc's omitempty: a zero counter is left out.  */
static void
set_nonzero (json_t *o, const char *key, uint64_t v)
{
  if (v != 0)
    json_object_set_new (o, key, json_integer ((json_int_t)v));
}

json_t *
runtime_stats_json (const struct cgroup_stats *s)
{
  json_t *data = json_object (), *cpu = json_object (), *usage = json_object (), *thr = json_object ();
  json_t *mem = json_object (), *mu = json_object (), *pids = json_object ();

  /* Field for field runc's types.Stats, for what runhv reads; what it
     does not read (percpu, cpuset, blkio, memory.stat, ...) is absent
     rather than shown as zero.  */
  set_nonzero (usage, "total", s->cpu_usage_ns);
  json_object_set_new (usage, "kernel", json_integer ((json_int_t)s->cpu_system_ns));
  json_object_set_new (usage, "user", json_integer ((json_int_t)s->cpu_user_ns));
  json_object_set_new (cpu, "usage", usage);
  set_nonzero (thr, "periods", s->cpu_periods);
  set_nonzero (thr, "throttled_periods", s->cpu_throttled_periods);
  set_nonzero (thr, "throttled_time", s->cpu_throttled_ns);
  json_object_set_new (cpu, "throttling", thr);
  json_object_set_new (data, "cpu", cpu);
  json_object_set_new (mu, "limit", json_integer ((json_int_t)s->memory_limit));
  set_nonzero (mu, "usage", s->memory_usage);
  set_nonzero (mu, "max", s->memory_max_usage);
  json_object_set_new (mem, "usage", mu);
  json_object_set_new (data, "memory", mem);
  set_nonzero (pids, "current", s->pids_current);
  set_nonzero (pids, "limit", s->pids_limit);
  json_object_set_new (data, "pids", pids);
  return data;
}

static int
emit_event (const char *type, const char *id, json_t *data, void (*emit) (json_t *, void *), void *arg)
{
  json_t *e = json_pack ("{s:s,s:s}", "type", type, "id", id);
  if (e == NULL)
    {
      json_decref (data);
      return -1;
    }
  if (data != NULL)
    json_object_set_new (e, "data", data);
  emit (e, arg);
  json_decref (e);
  return 0;
}

static uint64_t
now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Whether `id` is still registered; an error other than "gone" is kept.  */
static int
still_there (struct runtime_context *ctx, const char *id, bool *there, runhv_error_t *err)
{
  struct container *c = NULL;
  *there = true;
  if (container_open (ctx, id, &c, err) == 0)
    {
      container_free (c);
      return 0;
    }
  if ((*err)->status != ENOENT)
    return -1;
  runhv_error_release (err);
  *there = false;
  return 0;
}

int
runtime_events (struct runtime_context *ctx, const char *id, unsigned interval_ms, bool once,
                void (*emit) (json_t *event, void *arg), void *arg, runhv_error_t *err)
{
  struct cgroup_stats st = { 0 };
  cleanup_close int oom = -1;
  uint64_t oom_seen, next;
  cleanup_json json_t *state = NULL;
  bool there;

  /* runc refuses a container that has already stopped.  */
  if (runtime_state (ctx, id, &state, err) < 0)
    return -1;
  if (strcmp (json_string_value (json_object_get (state, "status")) ?: "", "stopped") == 0)
    return runhv_error (err, "container `%s` is not running", id);
  if (runtime_stats (ctx, id, &st, err) < 0)
    return -1;
  if (once)
    return emit_event ("stats", id, runtime_stats_json (&st), emit, arg);
  oom_seen = st.oom_kills;
  /* Where the host cannot watch OOM kills (a VM), the count in the stats
     tells them, an interval late.  */
  oom = runtime_oom_watch (ctx, id, err);
  if (oom < 0)
    runhv_error_release (err);
  next = now_ms () + interval_ms;
  for (;;)
    {
      struct pollfd p = { .fd = oom, .events = POLLIN };
      uint64_t now = now_ms ();
      int r = poll (&p, oom >= 0 ? 1 : 0, next > now ? (int)(next - now) : 0);
      if (r < 0 && errno != EINTR)
        return runhv_make_error (err, errno, "events: poll");
      if (r > 0 && (p.revents & POLLIN))
        {
          char buf[64];
          while (read (oom, buf, sizeof (buf)) > 0)
            ;
          /* v1 also signals the eventfd when the cgroup is removed.  */
          if (still_there (ctx, id, &there, err) < 0)
            return -1;
          if (!there)
            return 0;
          emit_event ("oom", id, NULL, emit, arg);
          continue;
        }
      if (r > 0 && (p.revents & (POLLERR | POLLHUP | POLLNVAL)))
        oom = (close (oom), -1);
      if (now_ms () < next)
        continue;
      next += interval_ms;
      if (runtime_stats (ctx, id, &st, err) < 0)
        {
          /* runc's `events` ends, successfully, when the container is
             deleted.  */
          runhv_error_t ignored = NULL;
          if (still_there (ctx, id, &there, &ignored) < 0)
            runhv_error_release (&ignored);
          else if (!there)
            {
              runhv_error_release (err);
              return 0;
            }
          return -1;
        }
      if (oom < 0 && st.oom_kills > oom_seen)
        emit_event ("oom", id, NULL, emit, arg);
      oom_seen = st.oom_kills;
      emit_event ("stats", id, runtime_stats_json (&st), emit, arg);
    }
}

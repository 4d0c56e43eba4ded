/* runc's `events`: the container's cgroup statistics every interval and
   its OOM kills, as JSON lines, until the container is deleted.  */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/json.h"
#include "runtime.h"
#include "runtime-internal.h"
#include "core/util.h"
#include "core/banned.h"

/* One event line as runc's types.Event encodes it: {"type","id","data"},
   data left out when there is none.  */
static int
emit_event (const char *type, const char *id, const struct container_stats *st, void (*emit) (const char *, void *),
            void *arg)
{
  cleanup_json json_t *head = json_pack ("{s:s,s:s}", "type", type, "id", id);
  cleanup_free char *h = head ? json_dumps (head, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
  cleanup_free char *data = st ? container_stats_runc_json (st) : NULL;
  cleanup_free char *line = NULL;
  if (h == NULL || (st != NULL && data == NULL))
    return -1;
  if (data == NULL)
    {
      emit (h, arg);
      return 0;
    }
  h[strlen (h) - 1] = '\0'; /* drop the closing brace */
  line = xasprintf ("%s,\"data\":%s}", h, data);
  emit (line, arg);
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
                void (*emit) (const char *line, void *arg), void *arg, runhv_error_t *err)
{
  cleanup_container_stats struct container_stats st = { 0 };
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
    return emit_event ("stats", id, &st, emit, arg);
  oom_seen = st.oom_kills;
  /* Where there is no watch, the count in the stats tells, an interval
     late.  */
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
          runtime_oom_watch_drain (oom);
          /* v1 also signals the eventfd when the cgroup is removed.  */
          if (still_there (ctx, id, &there, err) < 0)
            return -1;
          if (!there)
            return 0;
          /* The watch says "look" (v2's memory.events also changes on
             high and max events, a VM's ticks): the count says whether the
             killer acted.  One v1 counts a moment late is seen at the next
             interval.  */
          container_stats_release (&st);
          if (runtime_stats (ctx, id, &st, err) < 0)
            return -1;
          if (st.oom_kills > oom_seen)
            emit_event ("oom", id, NULL, emit, arg);
          oom_seen = st.oom_kills;
          continue;
        }
      if (r > 0 && (p.revents & (POLLERR | POLLHUP | POLLNVAL)))
        oom = (close (oom), -1);
      if (now_ms () < next)
        continue;
      next += interval_ms;
      container_stats_release (&st);
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
      if (st.oom_kills > oom_seen)
        emit_event ("oom", id, NULL, emit, arg);
      oom_seen = st.oom_kills;
      emit_event ("stats", id, &st, emit, arg);
    }
}

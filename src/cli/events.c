/* runhv events [--stats] [--interval DURATION] ID: runc's event stream.  */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/util.h"
#include "core/banned.h"

/* Go's duration syntax as runc takes it: "5s", "500ms", "1m", "1m30s".  */
static int
parse_duration_ms (const char *s, uint64_t *out)
{
  static const struct
  {
    const char *unit;
    double ms;
  } units[] = { { "ms", 1 }, { "us", 0.001 }, { "ns", 0.000001 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 } };
  double total = 0;
  if (*s == '\0')
    return -1;
  while (*s)
    {
      char *end;
      double v = strtod (s, &end);
      size_t i;
      if (end == s || v < 0)
        return -1;
      s = end;
      for (i = 0; i < sizeof (units) / sizeof (units[0]); i++)
        if (strncmp (s, units[i].unit, strlen (units[i].unit)) == 0)
          break;
      if (i == sizeof (units) / sizeof (units[0]))
        return -1;
      total += v * units[i].ms;
      s += strlen (units[i].unit);
    }
  *out = (uint64_t)total;
  return 0;
}

static void
print_line (const char *line, void *arg)
{
  (void)arg;
  fputs (line, stdout);
  fputc ('\n', stdout);
  fflush (stdout);
}

int
cli_events (struct cli_global *g, int argc, char **argv, runhv_error_t *err)
{
  static const struct option opts[]
    = { { "stats", no_argument, NULL, 's' }, { "interval", required_argument, NULL, 'i' }, { NULL, 0, NULL, 0 } };
  uint64_t interval = 5000;
  bool once = false;
  const char *id;
  int c;
  while ((c = getopt_long (argc, argv, "+", opts, NULL)) != -1)
    {
      if (c == 's')
        once = true;
      else if (c == 'i')
        {
          if (parse_duration_ms (optarg, &interval) < 0 || interval == 0 || interval > 24ULL * 3600 * 1000)
            return runhv_error (err, "events: --interval `%s` is not a duration like 5s or 500ms", optarg);
        }
      else
        return cli_usage_error (err, "events", "unknown option");
    }
  if (cli_one_id (argc, argv, "events", &id, err) < 0)
    return -1;
  return runtime_events (&g->ctx, id, (unsigned)interval, once, print_line, NULL, err);
}

/* runhv diag: the seed's verification methods (hcsdiag list, the
   Hyper-V-Worker event log, the verification script).  */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "diag.h"
#include "events.h"
#include "json.h"
#include "util.h"
#include "banned.h"

static int
diag_list (struct cli_global *g, int argc, char **argv, runhv_error_t *err)
{
  static const struct option opts[] = { { "format", required_argument, NULL, 'f' }, { NULL, 0, NULL, 0 } };
  const char *format = "table";
  cleanup_json json_t *arr = NULL;
  json_t *e;
  size_t i;
  int c;
  while ((c = getopt_long (argc, argv, "+f:", opts, NULL)) != -1)
    {
      if (c == 'f')
        format = optarg;
      else
        return cli_usage_error (err, "diag", "unknown option");
    }
  if (strcmp (format, "table") != 0 && strcmp (format, "json") != 0)
    return cli_usage_error (err, "diag", "--format: unknown format `%s` (use table or json)", format);
  if (runtime_diag_list (&g->ctx, &arr, err) < 0)
    return -1;
  if (strcmp (format, "json") == 0)
    {
      cli_print_json (arr);
      return 0;
    }
  printf ("%-32s %-15s %-34s %-9s %-9s %s\n", "ID", "TYPE", "OWNER", "STATE", "HOST PID", "ISOLATION");
  json_array_foreach (arr, i, e) printf (
    "%-32s %-15s %-34s %-9s %-9lld %s\n", json_string_value (json_object_get (e, "id")),
    json_string_value (json_object_get (e, "type")), json_string_value (json_object_get (e, "owner")),
    json_string_value (json_object_get (e, "state")), (long long)json_integer_value (json_object_get (e, "pid")),
    json_string_value (json_object_get (e, "isolation")));
  return 0;
}

static int
diag_events (struct cli_global *g, int argc, char **argv, runhv_error_t *err)
{
  static const struct option opts[] = { { "follow", no_argument, NULL, 'F' }, { NULL, 0, NULL, 0 } };
  cleanup_free char *path = events_path (g->ctx.root);
  cleanup_file FILE *f = NULL;
  bool follow = false;
  char line[8192];
  int c;
  while ((c = getopt_long (argc, argv, "+F", opts, NULL)) != -1)
    {
      if (c == 'F')
        follow = true;
      else
        return cli_usage_error (err, "diag", "unknown option");
    }
  f = fopen (path, "re");
  if (f == NULL)
    {
      if (errno == ENOENT && !follow)
        return 0; /* nothing has happened yet */
      if (errno != ENOENT)
        return runhv_make_error (err, errno, "open `%s`", path);
    }
  for (;;)
    {
      while (f != NULL && fgets (line, sizeof (line), f) != NULL)
        fputs (line, stdout);
      if (!follow)
        break;
      fflush (stdout);
      usleep (200000);
      if (f == NULL)
        f = fopen (path, "re");
      else
        clearerr (f);
    }
  return 0;
}

int
cli_diag (struct cli_global *g, int argc, char **argv, runhv_error_t *err)
{
  if (argc < 2)
    return cli_usage_error (err, "diag", "missing subcommand (list, events or check)");
  optind = 0;
  if (strcmp (argv[1], "list") == 0)
    return diag_list (g, argc - 1, argv + 1, err);
  if (strcmp (argv[1], "events") == 0)
    return diag_events (g, argc - 1, argv + 1, err);
  if (strcmp (argv[1], "check") == 0)
    return diag_check_run (&g->ctx, stdout, err);
  return cli_usage_error (err, "diag", "unknown subcommand `%s` (use list, events or check)", argv[1]);
}

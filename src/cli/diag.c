/* runhv diag: the seed's verification methods (hcsdiag list, the
   Hyper-V-Worker event log, the verification script).  */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "diag.h"
#include "core/events.h"
#include "core/json.h"
#include "core/util.h"
#include "core/banned.h"

/* containerd's ids are 64 hex digits: shown as their first 13, like
   crictl, unless --no-trunc.  Names people chose are never cut, and a
   suffix such as a VM's `@vm` stays.  */
enum
{
  DIAG_ID_HEX = 64,
  DIAG_ID_SHOWN = 13,
};

static char *
diag_display_id (const char *id, bool no_trunc)
{
  size_t hex = strspn (id, "0123456789abcdef");
  if (no_trunc || hex < DIAG_ID_HEX || (id[hex] != '\0' && id[hex] != '@'))
    return xstrdup (id);
  return xasprintf ("%.*s%s", DIAG_ID_SHOWN, id, id + hex);
}

static const char *
diag_field (json_t *e, const char *key)
{
  const char *v = json_string_value (json_object_get (e, key));
  return v ? v : "";
}

static int
diag_list (struct cli_global *g, int argc, char **argv, runhv_error_t *err)
{
  static const struct option opts[]
    = { { "format", required_argument, NULL, 'f' }, { "no-trunc", no_argument, NULL, 'N' }, { NULL, 0, NULL, 0 } };
  static const char *const header[] = { "ID", "TYPE", "OWNER", "STATE", "HOST PID", "ISOLATION" };
  enum
  {
    COLUMNS = 6
  };
  const char *format = "table";
  cleanup_json json_t *arr = NULL;
  bool no_trunc = false;
  int width[COLUMNS];
  char ***cells = NULL;
  json_t *e;
  size_t i, n;
  int c;
  while ((c = getopt_long (argc, argv, "+f:", opts, NULL)) != -1)
    {
      if (c == 'f')
        format = optarg;
      else if (c == 'N')
        no_trunc = true;
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
  /* Columns as wide as their widest cell, so 64-character ids (with
     --no-trunc) and long owners do not shift the columns after them.  */
  n = json_array_size (arr);
  cells = xmalloc0 ((n + 1) * sizeof (*cells));
  cells[0] = xmalloc0 (COLUMNS * sizeof (char *));
  for (int k = 0; k < COLUMNS; k++)
    cells[0][k] = xstrdup (header[k]);
  json_array_foreach (arr, i, e)
  {
    char **row = cells[i + 1] = xmalloc0 (COLUMNS * sizeof (char *));
    row[0] = diag_display_id (diag_field (e, "id"), no_trunc);
    row[1] = xstrdup (diag_field (e, "type"));
    row[2] = diag_display_id (diag_field (e, "owner"), no_trunc);
    row[3] = xstrdup (diag_field (e, "state"));
    row[4] = xasprintf ("%lld", (long long)json_integer_value (json_object_get (e, "pid")));
    row[5] = xstrdup (diag_field (e, "isolation"));
  }
  for (int k = 0; k < COLUMNS; k++)
    {
      width[k] = 0;
      for (i = 0; i <= n; i++)
        if ((int)strlen (cells[i][k]) > width[k])
          width[k] = (int)strlen (cells[i][k]);
    }
  for (i = 0; i <= n; i++)
    {
      for (int k = 0; k < COLUMNS - 1; k++)
        printf ("%-*s  ", width[k], cells[i][k]);
      printf ("%s\n", cells[i][COLUMNS - 1]);
      for (int k = 0; k < COLUMNS; k++)
        free (cells[i][k]);
      free (cells[i]);
    }
  free (cells);
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

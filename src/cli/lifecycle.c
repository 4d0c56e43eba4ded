/* The verbs that take one container id and little else.  */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/json.h"
#include "core/util.h"
#include "core/banned.h"

static int
id_only (const char *verb, int argc, char **argv, const char **id, runhv_error_t *err)
{
  static const struct option opts[] = { { NULL, 0, NULL, 0 } };
  int c;
  while ((c = getopt_long (argc, argv, "+", opts, NULL)) != -1)
    return cli_usage_error (err, verb, "unknown option");
  return cli_one_id (argc, argv, verb, id, err);
}

int
cli_start (struct cli_global *g, int argc, char **argv, runhv_error_t *err)
{
  const char *id;
  if (id_only ("start", argc, argv, &id, err) < 0 || runtime_start (&g->ctx, id, err) < 0)
    return -1;
  return 0;
}

int
cli_pause (struct cli_global *g, int argc, char **argv, runhv_error_t *err)
{
  const char *id;
  if (id_only ("pause", argc, argv, &id, err) < 0 || runtime_pause (&g->ctx, id, err) < 0)
    return -1;
  return 0;
}

int
cli_resume (struct cli_global *g, int argc, char **argv, runhv_error_t *err)
{
  const char *id;
  if (id_only ("resume", argc, argv, &id, err) < 0 || runtime_resume (&g->ctx, id, err) < 0)
    return -1;
  return 0;
}

int
cli_state (struct cli_global *g, int argc, char **argv, runhv_error_t *err)
{
  const char *id;
  cleanup_json json_t *j = NULL;
  if (id_only ("state", argc, argv, &id, err) < 0 || runtime_state (&g->ctx, id, &j, err) < 0)
    return -1;
  cli_print_json (j);
  return 0;
}

int
cli_kill (struct cli_global *g, int argc, char **argv, runhv_error_t *err)
{
  static const struct option opts[] = { { "all", no_argument, NULL, 'a' }, { NULL, 0, NULL, 0 } };
  bool all = false;
  int c, sig = 15;
  const char *id;
  while ((c = getopt_long (argc, argv, "+a", opts, NULL)) != -1)
    {
      if (c == 'a')
        all = true;
      else
        return cli_usage_error (err, "kill", "unknown option");
    }
  if (argc - optind < 1)
    return cli_usage_error (err, "kill", "missing container id");
  if (argc - optind > 2)
    return cli_usage_error (err, "kill", "unexpected argument `%s`", argv[optind + 2]);
  id = argv[optind];
  if (argc - optind == 2 && cli_parse_signal (argv[optind + 1], &sig) < 0)
    return runhv_error (err, "kill: unknown signal `%s` (use a name like TERM or a number)", argv[optind + 1]);
  if (runtime_kill (&g->ctx, id, sig, all, err) < 0)
    return -1;
  return 0;
}

int
cli_delete (struct cli_global *g, int argc, char **argv, runhv_error_t *err)
{
  static const struct option opts[] = { { "force", no_argument, NULL, 'f' }, { NULL, 0, NULL, 0 } };
  bool force = false;
  int c;
  while ((c = getopt_long (argc, argv, "+f", opts, NULL)) != -1)
    {
      if (c == 'f')
        force = true;
      else
        return cli_usage_error (err, "delete", "unknown option");
    }
  if (argc - optind < 1)
    return cli_usage_error (err, "delete", "missing container id");
  for (int i = optind; i < argc; i++)
    if (runtime_delete (&g->ctx, argv[i], force, err) < 0)
      return -1;
  return 0;
}

int
cli_list (struct cli_global *g, int argc, char **argv, runhv_error_t *err)
{
  static const struct option opts[]
    = { { "format", required_argument, NULL, 'f' }, { "quiet", no_argument, NULL, 'q' }, { NULL, 0, NULL, 0 } };
  const char *format = "table";
  bool quiet = false;
  cleanup_json json_t *arr = NULL;
  json_t *e;
  size_t i;
  int c;
  while ((c = getopt_long (argc, argv, "+f:q", opts, NULL)) != -1)
    {
      if (c == 'f')
        format = optarg;
      else if (c == 'q')
        quiet = true;
      else
        return cli_usage_error (err, "list", "unknown option");
    }
  if (strcmp (format, "table") != 0 && strcmp (format, "json") != 0)
    return cli_usage_error (err, "list", "--format: unknown format `%s` (use table or json)", format);
  if (runtime_list (&g->ctx, &arr, err) < 0)
    return -1;
  if (strcmp (format, "json") == 0)
    {
      cli_print_json (arr);
      return 0;
    }
  if (!quiet)
    printf ("%-20s %-8s %-10s %-11s %-40s %-30s %s\n", "ID", "PID", "STATUS", "ISOLATION", "BUNDLE", "CREATED",
            "OWNER");
  json_array_foreach (arr, i, e)
  {
    const char *id = json_string_value (json_object_get (e, "id"));
    if (quiet)
      {
        printf ("%s\n", id);
        continue;
      }
    printf ("%-20s %-8lld %-10s %-11s %-40s %-30s %s\n", id, (long long)json_integer_value (json_object_get (e, "pid")),
            json_string_value (json_object_get (e, "status")), json_string_value (json_object_get (e, "isolation")),
            json_string_value (json_object_get (e, "bundle")), json_string_value (json_object_get (e, "created")),
            json_string_value (json_object_get (e, "owner")));
  }
  return 0;
}

int
cli_ps (struct cli_global *g, int argc, char **argv, runhv_error_t *err)
{
  static const struct option opts[] = { { "format", required_argument, NULL, 'f' }, { NULL, 0, NULL, 0 } };
  const char *format = "table";
  cleanup_free pid_t *pids = NULL;
  size_t n = 0;
  const char *id;
  int c;
  while ((c = getopt_long (argc, argv, "+f:", opts, NULL)) != -1)
    {
      if (c == 'f')
        format = optarg;
      else
        return cli_usage_error (err, "ps", "unknown option");
    }
  if (argc - optind < 1)
    return cli_usage_error (err, "ps", "missing container id");
  id = argv[optind];
  if (strcmp (format, "table") != 0 && strcmp (format, "json") != 0)
    return cli_usage_error (err, "ps", "--format: unknown format `%s` (use table or json)", format);
  if (runtime_ps (&g->ctx, id, &pids, &n, err) < 0)
    return -1;
  if (strcmp (format, "json") == 0)
    {
      cleanup_json json_t *a = json_array ();
      for (size_t i = 0; i < n; i++)
        json_array_append_new (a, json_integer (pids[i]));
      {
        char *s = json_dumps (a, JSON_COMPACT);
        printf ("%s\n", s ? s : "[]");
        free (s);
      }
      return 0;
    }
  /* In a VM the processes are the guest's: the agent describes them.  */
  {
    cleanup_json json_t *detail = NULL;
    json_t *e;
    size_t i;
    if (runtime_ps_detail (&g->ctx, id, &detail, err) < 0)
      return -1;
    if (detail != NULL && argc - optind > 1)
      return runhv_error (err,
                          "ps: arguments for ps(1) (`%s` ...) cannot apply to a VM container, whose processes are in "
                          "the guest; drop them, or run `runhv exec %s ps %s` inside it",
                          argv[optind + 1], id, argv[optind + 1]);
    if (detail != NULL)
      {
        printf ("%-8s %s\n", "PID", "CMD");
        json_array_foreach (detail, i, e)
          printf ("%-8lld %s\n", (long long)json_integer_value (json_object_get (e, "pid")),
                  json_string_value (json_object_get (e, "cmd")));
        return 0;
      }
  }
  /* Table: the host's ps(1) output restricted to the container's pids, as
     runc does; extra arguments go to ps.  */
  {
    cleanup_strv char **psargv = NULL;
    int pipefd[2];
    pid_t child;
    FILE *f;
    char line[4096];
    int pid_col = -1;
    bool header = true;
    strv_append (&psargv, "ps");
    if (argc - optind > 1)
      for (int i = optind + 1; i < argc; i++)
        strv_append (&psargv, argv[i]);
    else
      strv_append (&psargv, "-ef");
    if (pipe2 (pipefd, O_CLOEXEC) < 0)
      return runhv_make_error (err, errno, "ps: pipe");
    child = fork ();
    if (child < 0)
      return runhv_make_error (err, errno, "ps: fork");
    if (child == 0)
      {
        dup2 (pipefd[1], 1);
        execvp ("ps", psargv);
        _exit (127);
      }
    close (pipefd[1]);
    f = fdopen (pipefd[0], "r");
    while (f != NULL && fgets (line, sizeof (line), f) != NULL)
      {
        int col = 0;
        int64_t v = -1;
        for (char *p = line; *p;)
          {
            char *end;
            while (*p == ' ' || *p == '\t')
              p++;
            if (*p == '\0' || *p == '\n')
              break;
            end = p + strcspn (p, " \t\n");
            if (header && (size_t)(end - p) == 3 && strncmp (p, "PID", 3) == 0)
              pid_col = col;
            if (!header && col == pid_col)
              {
                cleanup_free char *tok = xstrndup (p, (size_t)(end - p));
                parse_int64 (tok, &v);
                break;
              }
            p = end;
            col++;
          }
        if (header)
          {
            fputs (line, stdout);
            header = false;
            continue;
          }
        for (size_t i = 0; i < n; i++)
          if (pids[i] == v)
            fputs (line, stdout);
      }
    if (f != NULL)
      fclose (f);
    else
      close (pipefd[0]);
    while (waitpid (child, NULL, 0) < 0 && errno == EINTR)
      ;
  }
  return 0;
}

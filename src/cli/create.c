/* create and run share their options.  */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/util.h"
#include "core/banned.h"

enum
{
  OPT_BUNDLE = 'b',
  OPT_DETACH = 'd',
  OPT_CONSOLE = 256,
  OPT_PIDFILE,
  OPT_NOPIVOT,
  OPT_NOKEYRING,
  OPT_PRESERVE,
  OPT_ISOLATION,
  OPT_KEEP,
  OPT_HELP,
};

static const struct option create_opts[] = {
  { "bundle", required_argument, NULL, OPT_BUNDLE },
  { "console-socket", required_argument, NULL, OPT_CONSOLE },
  { "pid-file", required_argument, NULL, OPT_PIDFILE },
  { "no-pivot", no_argument, NULL, OPT_NOPIVOT },
  { "no-new-keyring", no_argument, NULL, OPT_NOKEYRING },
  { "preserve-fds", required_argument, NULL, OPT_PRESERVE },
  { "isolation", required_argument, NULL, OPT_ISOLATION },
  { "detach", no_argument, NULL, OPT_DETACH },
  { "keep", no_argument, NULL, OPT_KEEP },
  { "help", no_argument, NULL, OPT_HELP },
  { NULL, 0, NULL, 0 },
};

static int
parse (const char *verb, int argc, char **argv, struct create_options *o, bool *detach, bool *keep, const char **id,
       runhv_error_t *err)
{
  int c;
  memset (o, 0, sizeof (*o));
  o->console_receiver = -1;
  o->lock_fd = -1;
  o->stdio[0] = o->stdio[1] = o->stdio[2] = -1;
  while ((c = getopt_long (argc, argv, "+b:d", create_opts, NULL)) != -1)
    {
      switch (c)
        {
        case OPT_BUNDLE:
          o->bundle = optarg;
          break;
        case OPT_CONSOLE:
          o->console_socket = optarg;
          break;
        case OPT_PIDFILE:
          o->pid_file = optarg;
          break;
        case OPT_NOPIVOT:
          o->no_pivot = true;
          break;
        case OPT_NOKEYRING:
          break; /* runhv never creates a session keyring */
        case OPT_PRESERVE:
          {
            int64_t n;
            if (parse_int64 (optarg, &n) < 0 || n < 0 || n > 65536)
              return cli_usage_error (err, verb, "--preserve-fds: `%s` is not a count", optarg);
            o->preserve_fds = (int)n;
          }
          break;
        case OPT_ISOLATION:
          o->isolation = optarg;
          break;
        case OPT_DETACH:
          if (detach == NULL)
            return cli_usage_error (err, verb, "--detach is for run");
          *detach = true;
          break;
        case OPT_KEEP:
          if (keep == NULL)
            return cli_usage_error (err, verb, "--keep is for run");
          *keep = true;
          break;
        case OPT_HELP:
          return cli_usage_error (err, verb, "help requested");
        default:
          return cli_usage_error (err, verb, "unknown option");
        }
    }
  if (o->isolation != NULL)
    {
      enum isolation iso;
      if (isolation_from_name (o->isolation, "--isolation", &iso, err) < 0)
        return -1;
    }
  return cli_one_id (argc, argv, verb, id, err);
}

int
cli_create (struct cli_global *g, int argc, char **argv, runhv_error_t *err)
{
  struct create_options o;
  const char *id = NULL;
  if (parse ("create", argc, argv, &o, NULL, NULL, &id, err) < 0)
    return -1;
  if (runtime_create (&g->ctx, id, &o, NULL, err) < 0)
    return -1;
  return 0;
}

int
cli_run (struct cli_global *g, int argc, char **argv, runhv_error_t *err)
{
  struct create_options o;
  const char *id = NULL;
  bool detach = false, keep = false;
  int status = 0;
  if (parse ("run", argc, argv, &o, &detach, &keep, &id, err) < 0)
    return -1;
  if (runtime_run (&g->ctx, id, &o, detach, keep, &status, err) < 0)
    return -1;
  return status;
}

/* runhv: an OCI runtime whose containers run either as processes on this
   kernel or each in its own utility VM.  */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "core/log.h"
#include "runhv-config.h"
#include "core/util.h"
#include "runtime.h"
#include "core/banned.h"

static const struct cli_verb verbs[] = {
  { "create", cli_create,
    "create [--bundle DIR] [--console-socket PATH] [--pid-file PATH] [--isolation process|hypervisor] ID" },
  { "start", cli_start, "start ID" },
  { "run", cli_run, "run [--bundle DIR] [--detach] [--keep] [--isolation process|hypervisor] ID" },
  { "state", cli_state, "state ID" },
  { "kill", cli_kill, "kill [--all] ID [SIGNAL]" },
  { "delete", cli_delete, "delete [--force] ID..." },
  { "list", cli_list, "list [--format table|json] [--quiet]" },
  { "exec", cli_exec,
    "exec [--process FILE | ID CMD...] [--tty] [--detach] [--env K=V] [--cwd DIR] [--user UID[:GID]] ID" },
  { "ps", cli_ps, "ps [--format table|json] ID [PS-ARGS...]" },
  { "events", cli_events, "events [--stats] [--interval DURATION] ID" },
  { "pause", cli_pause, "pause ID" },
  { "resume", cli_resume, "resume ID" },
  { "update", cli_update,
    "update [--resources FILE|-] [--memory N] [--cpu-quota N] ... | --isolation process|hypervisor ID" },
  { "features", cli_features, "features" },
  { "spec", cli_spec, "spec [--bundle DIR] [--rootless]" },
  { "diag", cli_diag, "diag list [--format table|json] | events [--follow] | check" },
  { "config", cli_config, "config containerd [--sizes 1vp2gb,...] [--output-dir DIR] | kubernetes ..." },
};

static void
usage (FILE *f)
{
  fprintf (f, "usage: runhv [--root DIR] [--log FILE] [--log-format text|json] [--debug] COMMAND ...\n\n"
              "An OCI runtime with two isolations: process (namespaces and cgroups) and\n"
              "hypervisor (each container in its own utility VM).\n\ncommands:\n");
  for (size_t i = 0; i < sizeof (verbs) / sizeof (verbs[0]); i++)
    fprintf (f, "  %s\n", verbs[i].usage);
  fprintf (f, "\nrunhv COMMAND --help shows a command's options.\n");
}

int
cli_usage_error (runhv_error_t *err, const char *verb, const char *fmt, ...)
{
  va_list ap;
  cleanup_free char *msg = NULL;
  const char *u = verb;
  va_start (ap, fmt);
  if (vasprintf (&msg, fmt, ap) < 0)
    msg = NULL;
  va_end (ap);
  for (size_t i = 0; i < sizeof (verbs) / sizeof (verbs[0]); i++)
    if (strcmp (verbs[i].name, verb) == 0)
      u = verbs[i].usage;
  return runhv_error (err, "%s: %s (usage: runhv %s)", verb, msg ? msg : "bad arguments", u);
}

int
cli_one_id (int argc, char **argv, const char *verb, const char **id, runhv_error_t *err)
{
  if (argc - optind < 1)
    return cli_usage_error (err, verb, "missing container id");
  if (argc - optind > 1)
    return cli_usage_error (err, verb, "unexpected argument `%s`", argv[optind + 1]);
  *id = argv[optind];
  return 0;
}

void
cli_print_json (json_t *j)
{
  char *s = json_dumps (j, JSON_INDENT (2) | JSON_PRESERVE_ORDER);
  if (s != NULL)
    {
      fputs (s, stdout);
      fputc ('\n', stdout);
      free (s);
    }
}

int
cli_parse_signal (const char *s, int *sig)
{
  int64_t n;
  if (parse_int64 (s, &n) == 0)
    {
      /* 0 is kill(2)'s liveness check, which runc's `kill ID 0` passes on.  */
      if (n < 0 || n >= NSIG)
        return -1;
      *sig = (int)n;
      return 0;
    }
  if (strncasecmp (s, "SIG", 3) == 0)
    s += 3;
  for (int i = 1; i < NSIG; i++)
    {
      const char *name = sigabbrev_np (i);
      if (name != NULL && strcasecmp (name, s) == 0)
        {
          *sig = i;
          return 0;
        }
    }
  if (strncasecmp (s, "RTMIN+", 6) == 0 && parse_int64 (s + 6, &n) == 0 && SIGRTMIN + n <= SIGRTMAX)
    {
      *sig = (int)(SIGRTMIN + n);
      return 0;
    }
  return -1;
}

int
main (int argc, char **argv)
{
  static const struct option opts[] = {
    { "root", required_argument, NULL, 'r' },
    { "log", required_argument, NULL, 'l' },
    { "log-format", required_argument, NULL, 'f' },
    { "debug", no_argument, NULL, 'd' },
    { "systemd-cgroup", no_argument, NULL, 's' },
    { "rootless", required_argument, NULL, 'R' },
    { "criu", required_argument, NULL, 'C' },
    { "config", required_argument, NULL, 'c' },
    { "cgroup-root", required_argument, NULL, 'G' },
    { "version", no_argument, NULL, 'v' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  struct cli_global g;
  runhv_error_t err = NULL;
  const char *root = NULL, *log_path = NULL;
  enum log_format fmt = LOG_FORMAT_TEXT;
  const struct cli_verb *verb = NULL;
  int c, ret;

  memset (&g, 0, sizeof (g));
  opterr = 0;
  while ((c = getopt_long (argc, argv, "+vh", opts, NULL)) != -1)
    {
      switch (c)
        {
        case 'r':
          root = optarg;
          break;
        case 'l':
          log_path = optarg;
          break;
        case 'f':
          if (strcmp (optarg, "json") == 0)
            fmt = LOG_FORMAT_JSON;
          else if (strcmp (optarg, "text") == 0)
            fmt = LOG_FORMAT_TEXT;
          else
            {
              fprintf (stderr, "runhv: --log-format: unknown format `%s` (use text or json)\n", optarg);
              return 1;
            }
          break;
        case 'd':
          g.debug = true;
          break;
        case 's':
          g.ctx.systemd_cgroup = true;
          break;
        case 'R':
        case 'C':
          break; /* accepted for runc compatibility */
        case 'c':
          g.ctx.config_path = optarg;
          break;
        case 'G':
          g.ctx.cgroup_root = optarg;
          break;
        case 'v':
          printf ("runhv version %s\ncommit: %s\nspec: %s\n", RUNHV_VERSION, RUNHV_COMMIT, OCI_VERSION);
          return 0;
        case 'h':
          usage (stdout);
          return 0;
        default:
          fprintf (stderr, "runhv: unknown global option `%s` (see runhv --help)\n", argv[optind - 1]);
          return 1;
        }
    }
  if (optind >= argc)
    {
      usage (stderr);
      return 1;
    }
  for (size_t i = 0; i < sizeof (verbs) / sizeof (verbs[0]); i++)
    if (strcmp (verbs[i].name, argv[optind]) == 0)
      verb = &verbs[i];
  if (verb == NULL)
    {
      fprintf (stderr, "runhv: unknown command `%s` (see runhv --help)\n", argv[optind]);
      return 1;
    }
  if (log_init (log_path, fmt, g.debug ? LOG_LEVEL_DEBUG : LOG_LEVEL_WARNING, &err) < 0)
    {
      fprintf (stderr, "runhv: %s\n", err->msg);
      return 1;
    }
  {
    const char *config_path = g.ctx.config_path, *cgroup_root = g.ctx.cgroup_root;
    bool systemd = g.ctx.systemd_cgroup;
    if (runtime_context_init (&g.ctx, root, &err) < 0)
      {
        log_error ("%s", err->msg);
        return 1;
      }
    g.ctx.config_path = config_path;
    g.ctx.cgroup_root = cgroup_root;
    g.ctx.systemd_cgroup = systemd;
  }
  /* Each verb parses its own options from its name on.  */
  argc -= optind;
  argv += optind;
  optind = 0;
  opterr = 1;
  ret = verb->fn (&g, argc, argv, &err);
  if (ret < 0)
    {
      log_error ("%s", err ? err->msg : "failed");
      ret = 1;
    }
  runhv_error_release (&err);
  runtime_context_release (&g.ctx);
  return ret;
}

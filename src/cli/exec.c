#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/json.h"
#include "core/util.h"
#include "core/banned.h"

enum
{
  OPT_CONSOLE = 256,
  OPT_PIDFILE,
  OPT_PRESERVE,
  OPT_LABEL,
  OPT_APPARMOR,
  OPT_NNP,
  OPT_CGROUP,
  OPT_IGNORE_PAUSED,
};

/* --user UID[:GID]: replaces the process's ids and its extra groups.  */
static int
set_user (json_t *proc, const char *spec, runhv_error_t *err)
{
  json_t *user = json_object_get (proc, "user");
  const char *colon = strchr (spec, ':');
  uint64_t uid, gid;
  cleanup_free char *u = colon ? xstrndup (spec, (size_t)(colon - spec)) : xstrdup (spec);
  if (parse_uint64 (u, &uid) < 0 || uid > UINT32_MAX
      || (colon && (parse_uint64 (colon + 1, &gid) < 0 || gid > UINT32_MAX)))
    return runhv_error (err, "exec: --user `%s` is not UID[:GID] (numbers)", spec);
  if (!json_is_object (user))
    {
      user = json_object ();
      json_object_set_new (proc, "user", user);
    }
  json_object_set_new (user, "uid", json_integer ((json_int_t)uid));
  json_object_set_new (user, "gid", json_integer (colon ? (json_int_t)gid : 0));
  json_object_del (user, "additionalGids");
  return 0;
}

/* The process to run: --process FILE, or the container's own process
   with the command line's arguments.  */
static int
exec_process_base (struct cli_global *g, const char *id, const char *process_file, bool tty, int argc, char **argv,
                   json_t **out, runhv_error_t *err)
{
  json_t *proc = NULL;

  if (process_file != NULL)
    {
      if (json_load_path (process_file, "--process", 4u << 20, &proc, err) < 0)
        return -1;
    }
  else
    {
      json_t *args = json_array ();
      if (argc - optind < 2)
        {
          json_decref (args);
          return cli_usage_error (err, "exec", "give a command to run or --process FILE");
        }
      if (runtime_exec_template (&g->ctx, id, &proc, err) < 0)
        {
          json_decref (args);
          return -1;
        }
      for (int i = optind + 1; i < argc; i++)
        json_array_append_new (args, json_string (argv[i]));
      json_object_set_new (proc, "args", args);
      json_object_set_new (proc, "terminal", json_boolean (tty));
    }
  *out = proc;
  return 0;
}

/* Append values to the array obj.key, made when it is not one yet.  */
static void
append_strings (json_t *obj, const char *key, char **values)
{
  json_t *a = json_object_get (obj, key);
  if (!json_is_array (a))
    {
      a = json_array ();
      json_object_set_new (obj, key, a);
    }
  for (size_t i = 0; values[i]; i++)
    json_array_append_new (a, json_string (values[i]));
}

/* --additional-gids replaces the process's supplementary groups.  */
static int
set_additional_gids (json_t *proc, char **gids, runhv_error_t *err)
{
  if (gids)
    {
      json_t *u = json_object_get (proc, "user"), *a = json_array ();
      for (size_t i = 0; gids[i]; i++)
        {
          uint64_t v;
          if (parse_uint64 (gids[i], &v) < 0 || v > UINT32_MAX)
            {
              json_decref (a);
              return runhv_error (err, "exec: --additional-gids `%s` is not a gid", gids[i]);
            }
          json_array_append_new (a, json_integer ((json_int_t)v));
        }
      if (!json_is_object (u))
        {
          u = json_pack ("{s:i,s:i}", "uid", 0, "gid", 0);
          json_object_set_new (proc, "user", u);
        }
      json_object_set_new (u, "additionalGids", a);
    }
  return 0;
}

/* --cap adds to every set the process has (bounding, effective, permitted,
   ambient, and inheritable for the ambient ones to hold).  */
static void
add_capabilities (json_t *proc, char **caps)
{
  if (caps)
    {
      json_t *cs = json_object_get (proc, "capabilities");
      if (!json_is_object (cs))
        {
          cs = json_object ();
          json_object_set_new (proc, "capabilities", cs);
        }
      /* ambient capabilities must also be inheritable */
      for (const char *const *set
           = (const char *const[]){ "bounding", "effective", "permitted", "ambient", "inheritable", NULL };
           *set; set++)
        append_strings (cs, *set, caps);
    }
}

int
cli_exec (struct cli_global *g, int argc, char **argv, runhv_error_t *err)
{
  static const struct option opts[] = {
    { "console-socket", required_argument, NULL, OPT_CONSOLE },
    { "cwd", required_argument, NULL, 'w' },
    { "env", required_argument, NULL, 'e' },
    { "tty", no_argument, NULL, 't' },
    { "user", required_argument, NULL, 'u' },
    { "additional-gids", required_argument, NULL, 'g' },
    { "process", required_argument, NULL, 'p' },
    { "detach", no_argument, NULL, 'd' },
    { "pid-file", required_argument, NULL, OPT_PIDFILE },
    { "process-label", required_argument, NULL, OPT_LABEL },
    { "apparmor", required_argument, NULL, OPT_APPARMOR },
    { "no-new-privs", no_argument, NULL, OPT_NNP },
    { "cap", required_argument, NULL, 'c' },
    { "preserve-fds", required_argument, NULL, OPT_PRESERVE },
    { "cgroup", required_argument, NULL, OPT_CGROUP },
    { "ignore-paused", no_argument, NULL, OPT_IGNORE_PAUSED },
    { NULL, 0, NULL, 0 },
  };
  const char *process_file = NULL, *cwd = NULL, *user = NULL, *id;
  cleanup_strv char **envs = NULL, **caps = NULL, **gids = NULL, **cgroups = NULL;
  bool tty = false, nnp = false;
  const char *label = NULL, *apparmor = NULL;
  struct exec_options o = { .console_receiver = -1, .stdio = { -1, -1, -1 } };
  cleanup_json json_t *proc = NULL;
  struct oci_process *p = NULL;
  int c, rc = 0, result = 0;

  while ((c = getopt_long (argc, argv, "+w:e:tu:g:p:dc:", opts, NULL)) != -1)
    {
      switch (c)
        {
        case OPT_CONSOLE:
          o.console_socket = optarg;
          break;
        case 'w':
          cwd = optarg;
          break;
        case 'e':
          strv_append (&envs, optarg);
          break;
        case 't':
          tty = true;
          break;
        case 'u':
          user = optarg;
          break;
        case 'g':
          strv_append (&gids, optarg);
          break;
        case 'p':
          process_file = optarg;
          break;
        case 'd':
          o.detach = true;
          break;
        case OPT_PIDFILE:
          o.pid_file = optarg;
          break;
        case OPT_NNP:
          nnp = true;
          break;
        case 'c':
          strv_append (&caps, optarg);
          break;
        case OPT_PRESERVE:
          {
            int64_t n;
            if (parse_int64 (optarg, &n) < 0 || n < 0 || n > 65536)
              return cli_usage_error (err, "exec", "--preserve-fds: `%s` is not a count", optarg);
            o.preserve_fds = (int)n;
          }
          break;
        case OPT_CGROUP:
          strv_append (&cgroups, optarg);
          break;
        case OPT_IGNORE_PAUSED:
          o.ignore_paused = true;
          break;
        case OPT_LABEL:
          label = optarg;
          break;
        case OPT_APPARMOR:
          apparmor = optarg;
          break;
        default:
          return cli_usage_error (err, "exec", "unknown option");
        }
    }
  if (argc - optind < 1)
    return cli_usage_error (err, "exec", "missing container id");
  id = argv[optind];
  if (exec_process_base (g, id, process_file, tty, argc, argv, &proc, err) < 0)
    return -1;
  if (tty)
    json_object_set_new (proc, "terminal", json_true ());
  if (cwd)
    json_object_set_new (proc, "cwd", json_string (cwd));
  if (envs)
    append_strings (proc, "env", envs);
  if (user)
    {
      if (set_user (proc, user, err) < 0)
        return -1;
    }
  if (set_additional_gids (proc, gids, err) < 0)
    return -1;
  if (nnp)
    json_object_set_new (proc, "noNewPrivileges", json_true ());
  /* Refused by the backend where the host has no such LSM.  */
  if (label)
    json_object_set_new (proc, "selinuxLabel", json_string (label));
  if (apparmor)
    json_object_set_new (proc, "apparmorProfile", json_string (apparmor));
  add_capabilities (proc, caps);
  if (oci_process_parse (proc, "process", &p, err) < 0)
    return -1;
  o.process = p;
  o.cgroup_subs = cgroups;
  rc = runtime_exec (&g->ctx, id, &o, o.detach ? NULL : &result, err);
  oci_process_free (p);
  if (rc < 0)
    return -1;
  return o.detach ? 0 : result;
}

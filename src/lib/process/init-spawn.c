/* How the library starts the processes that enter a container: not as a
   plain fork of its caller, but as a spawn of a sealed copy of the
   caller's binary (core/sealed.h says why) before it joins anything.  The
   stage-1 code then runs in that copy, from a configuration the parent
   wrote to a sealed memfd.  Every caller of the process backend, the runhv
   CLI, the containerd shim and the guest agent, gets this without doing
   anything: the copy is dispatched by a constructor in this file, before
   the caller's main () runs.  */
#include "process/init.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/json.h"
#include "core/sealed.h"
#include "core/sync.h"
#include "core/util.h"
#include "core/banned.h"

/* argv[1] of the sealed copy; argv[2] is its configuration's fd.  */
#define INIT_HELPER_ARGV1 "__container-init"

extern char **environ;

static void run_helper (json_t *j) __attribute__ ((noreturn));

static json_t *
stdio_to_json (const int *stdio)
{
  if (stdio == NULL)
    return json_null ();
  return json_pack ("[iii]", stdio[0], stdio[1], stdio[2]);
}

/* posix_spawn, not fork: the child shares our memory until its exec
   (vfork-like), so no page tables are copied for a process that execs at
   once; under TCG a fork of the agent cost a VM's create ~10 ms.  The
   descriptors the copy needs lose close-on-exec (a dup2 onto itself); the
   rest of ours, the lock among them, go away at the exec.  The binary is
   run through /proc/self/fd, as fexecve does.  */
static pid_t
spawn (json_t *config, int sync_fd, const int *stdio, int close_fd, runhv_error_t *err)
{
  cleanup_close int binary = -1, conf = -1;
  posix_spawn_file_actions_t fa;
  char path[32], fdarg[16];
  char *const argv[] = { (char *)"runhv", (char *)INIT_HELPER_ARGV1, fdarg, NULL };
  pid_t pid = -1;
  int r;

  binary = sealed_self_binary (err);
  if (binary < 0)
    return -1;
  conf = sealed_json_fd (config, err);
  if (conf < 0)
    return -1;
  snprintf (path, sizeof (path), "/proc/self/fd/%d", binary);
  snprintf (fdarg, sizeof (fdarg), "%d", conf);
  r = posix_spawn_file_actions_init (&fa);
  if (r == 0 && close_fd >= 0)
    r = posix_spawn_file_actions_addclose (&fa, close_fd);
  if (r == 0)
    r = posix_spawn_file_actions_adddup2 (&fa, conf, conf);
  if (r == 0)
    r = posix_spawn_file_actions_adddup2 (&fa, sync_fd, sync_fd);
  for (int i = 0; r == 0 && stdio != NULL && i < 3; i++)
    if (stdio[i] >= 0)
      r = posix_spawn_file_actions_adddup2 (&fa, stdio[i], stdio[i]);
  if (r == 0)
    r = posix_spawn (&pid, path, &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy (&fa);
  if (r != 0)
    return runhv_make_error (err, r, "execute the sealed copy of runhv to enter the container (through `%s`)", path);
  return pid;
}

pid_t
init_spawn (const struct init_config *cfg, int close_fd, runhv_error_t *err)
{
  cleanup_json json_t *j = json_pack (
    "{s:s, s:O, s:s, s:s, s:s, s:s, s:i, s:i, s:b, s:b, s:o, s:o}", "role", "create", "spec", cfg->spec->json, "id",
    cfg->id, "bundle", cfg->bundle, "rootfs", cfg->rootfs, "fifo", cfg->fifo_path, "sync", cfg->sync_fd, "preserve_fds",
    cfg->preserve_fds, "no_pivot", cfg->no_pivot, "has_hooks", cfg->has_hooks, "cgroups",
    cfg->cgroups ? cgroup_manager_to_json (cfg->cgroups) : json_null (), "stdio", stdio_to_json (cfg->stdio));
  if (j == NULL)
    return runhv_error (err, "encode the container process's configuration");
  return spawn (j, cfg->sync_fd, cfg->stdio, close_fd, err);
}

pid_t
exec_spawn (const struct exec_config *cfg, int close_fd, runhv_error_t *err)
{
  cleanup_json json_t *process = NULL;
  cleanup_json json_t *j = NULL;
  if (cfg->process->json == NULL)
    return runhv_error (err, "exec: the process was not parsed from JSON");
  /* A caller may have changed terminal after parsing (the shim takes it
     from the request): the copy must see what the parent will expect.  */
  process = json_deep_copy (cfg->process->json);
  if (process == NULL || json_object_set_new (process, "terminal", json_boolean (cfg->process->terminal)) < 0)
    return runhv_error (err, "encode the exec process's configuration");
  j = json_pack ("{s:s, s:O, s:O, s:i, s:i, s:i, s:b, s:o}", "role", "exec", "process", process, "spec",
                 cfg->spec->json, "target", (int)cfg->target, "sync", cfg->sync_fd, "preserve_fds", cfg->preserve_fds,
                 "tty", cfg->tty, "stdio", stdio_to_json (cfg->stdio));
  if (j == NULL)
    return runhv_error (err, "encode the exec process's configuration");
  return spawn (j, cfg->sync_fd, cfg->stdio, close_fd, err);
}

/* The sealed copy's side.  What was checked in the parent is not checked
   again; a failure before the sync socket is known goes to stderr.  */

static int
stdio_from_json (json_t *j, int out[3])
{
  if (json_is_null (j))
    return 0;
  if (!json_is_array (j) || json_array_size (j) != 3)
    return -1;
  for (int i = 0; i < 3; i++)
    out[i] = (int)json_integer_value (json_array_get (j, i));
  return 1;
}

static void
run_helper (json_t *j)
{
  runhv_error_t err = NULL;
  const char *role = json_string_value (json_object_get (j, "role"));
  int sock = (int)json_integer_value (json_object_get (j, "sync"));
  int stdio[3];
  int has_stdio = stdio_from_json (json_object_get (j, "stdio"), stdio);
  struct oci_spec *spec = NULL;

  if (role == NULL || sock <= 2 || has_stdio < 0)
    {
      fprintf (stderr, "runhv: %s: a configuration without role, sync or stdio\n", INIT_HELPER_ARGV1);
      _exit (2);
    }
  /* Closed at the container's exec again: the parent reads EOF as success. */
  fcntl (sock, F_SETFD, FD_CLOEXEC);
  if (oci_spec_parse_json (json_object_get (j, "spec"), "config", &spec, &err) < 0)
    sync_fail (sock, &err);
  if (strcmp (role, "create") == 0)
    {
      struct cgroup_manager *cg = NULL;
      json_t *cj = json_object_get (j, "cgroups");
      struct init_config cfg = {
        .spec = spec,
        .id = json_string_value (json_object_get (j, "id")),
        .bundle = json_string_value (json_object_get (j, "bundle")),
        .rootfs = json_string_value (json_object_get (j, "rootfs")),
        .fifo_path = json_string_value (json_object_get (j, "fifo")),
        .sync_fd = sock,
        .preserve_fds = (int)json_integer_value (json_object_get (j, "preserve_fds")),
        .no_pivot = json_is_true (json_object_get (j, "no_pivot")),
        .has_hooks = json_is_true (json_object_get (j, "has_hooks")),
        .stdio = has_stdio ? stdio : NULL,
      };
      if (!json_is_null (cj) && cgroup_manager_from_json (cj, &cg, &err) < 0)
        sync_fail (sock, &err);
      cfg.cgroups = cg;
      init_stage1 (&cfg);
    }
  if (strcmp (role, "exec") == 0)
    {
      struct oci_process *process = NULL;
      struct exec_config cfg;
      if (oci_process_parse (json_object_get (j, "process"), "process", &process, &err) < 0)
        sync_fail (sock, &err);
      cfg = (struct exec_config){
        .process = process,
        .spec = spec,
        .target = (pid_t)json_integer_value (json_object_get (j, "target")),
        .sync_fd = sock,
        .preserve_fds = (int)json_integer_value (json_object_get (j, "preserve_fds")),
        .tty = json_is_true (json_object_get (j, "tty")),
        .stdio = has_stdio ? stdio : NULL,
      };
      exec_stage1 (&cfg);
    }
  runhv_error (&err, "%s: unknown role `%s`", INIT_HELPER_ARGV1, role);
  sync_fail (sock, &err);
}

/* glibc passes constructors main ()'s arguments.  */
__attribute__ ((constructor)) static void
init_helper_dispatch (int argc, char **argv)
{
  runhv_error_t err = NULL;
  json_t *j;
  char *end = NULL;
  long fd;

  if (argc != 3 || argv == NULL || strcmp (argv[1], INIT_HELPER_ARGV1) != 0)
    return;
  errno = 0;
  fd = strtol (argv[2], &end, 10);
  if (errno != 0 || end == argv[2] || *end != '\0' || fd < 0 || fd > 65535)
    {
      fprintf (stderr, "runhv: %s: this is runhv's internal helper mode: runhv starts it itself\n", INIT_HELPER_ARGV1);
      _exit (2);
    }
  j = sealed_json_read ((int)fd, &err);
  if (j == NULL)
    {
      fprintf (stderr, "runhv: %s: %s\n", INIT_HELPER_ARGV1, err->msg);
      _exit (2);
    }
  run_helper (j);
}

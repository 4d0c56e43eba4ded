/* features and spec: what this runtime supports, and a starting config.  */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "cli.h"
#include "core/json.h"
#include "runhv-config.h"
#include "core/util.h"
#include "core/banned.h"

int
cli_features (struct cli_global *g, int argc, char **argv, runhv_error_t *err)
{
  cleanup_json json_t *f = json_object ();
  json_t *lin = json_object (), *ann = json_object ();
  struct runtime_features rf;
  /* From the parser itself, so the list cannot drift from what it accepts. */
  cleanup_strv char **mount_opts = oci_mount_option_names ();
  json_t *mo = json_array ();
  if (argc > 1)
    return cli_usage_error (err, "features", "unexpected argument `%s`", argv[1]);
  runtime_features_get (&g->ctx, &rf);
  for (size_t i = 0; mount_opts[i]; i++)
    json_array_append_new (mo, json_string (mount_opts[i]));
  json_object_set_new (f, "ociVersionMin", json_string ("1.0.0"));
  json_object_set_new (f, "ociVersionMax", json_string (OCI_VERSION));
  json_object_set_new (
    f, "hooks",
    json_pack ("[ssssss]", "prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"));
  json_object_set_new (f, "mountOptions", mo);
  json_object_set_new (lin, "namespaces",
                       json_pack ("[ssssssss]", "cgroup", "ipc", "mount", "network", "pid", "user", "uts", "time"));
  json_object_set_new (lin, "capabilities", json_incref (rf.capabilities));
  json_object_set_new (lin, "cgroup",
                       json_pack ("{s:b,s:b,s:b,s:b}", "v1", 1, "v2", 1, "systemd", 0, "systemdUser", 0));
  json_object_set_new (lin, "seccomp", json_incref (rf.seccomp));
  json_object_set_new (lin, "apparmor", json_pack ("{s:b}", "enabled", 0));
  json_object_set_new (lin, "selinux", json_pack ("{s:b}", "enabled", 0));
  json_object_set_new (f, "linux", lin);
  json_object_set_new (ann, "io.runhv.version", json_string (RUNHV_VERSION));
  json_object_set_new (ann, "io.runhv.isolation", json_string ("process,hypervisor"));
  json_object_set_new (ann, "io.runhv.hypervisor.available", json_string (rf.hypervisor_available ? "true" : "false"));
  json_object_set_new (f, "annotations", ann);
  runtime_features_release (&rf);
  cli_print_json (f);
  return 0;
}

int
cli_spec (struct cli_global *g, int argc, char **argv, runhv_error_t *err)
{
  static const struct option opts[]
    = { { "bundle", required_argument, NULL, 'b' }, { "rootless", no_argument, NULL, 'R' }, { NULL, 0, NULL, 0 } };
  const char *bundle = ".";
  bool rootless = false;
  cleanup_free char *text = NULL, *path = NULL;
  cleanup_close int fd = -1;
  int c;
  (void)g;
  while ((c = getopt_long (argc, argv, "+b:", opts, NULL)) != -1)
    {
      if (c == 'b')
        bundle = optarg;
      else if (c == 'R')
        rootless = true;
      else
        return cli_usage_error (err, "spec", "unknown option");
    }
  {
    struct statfs sfs;
    /* cgroup2's magic: only a unified host gets a cgroup namespace (runc). */
    bool unified = statfs ("/sys/fs/cgroup", &sfs) == 0 && sfs.f_type == 0x63677270;
    text = oci_default_spec_json (rootless, unified);
  }
  path = xasprintf ("%s/config.json", bundle);
  fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0)
    {
      if (errno == EEXIST)
        return runhv_error (err, "spec: `%s` already exists (remove it first)", path);
      return runhv_make_error (err, errno, "spec: create `%s`", path);
    }
  if (write_all (fd, text, strlen (text)) < 0)
    return runhv_make_error (err, errno, "spec: write `%s`", path);
  return 0;
}

/* features and spec: what this runtime supports, and a starting config.  */
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "cli.h"
#include "json.h"
#include "runhv-config.h"
#include "host.h"
#include "security.h"
#include "util.h"
#include "banned.h"

int
cli_features (struct cli_global *g, int argc, char **argv, runhv_error_t *err)
{
  cleanup_json json_t *f = json_object ();
  json_t *lin = json_object (), *caps = json_array (), *seccomp = json_object (), *ann = json_object ();
  /* From the parser itself, so the list cannot drift from what it accepts. */
  cleanup_strv char **mount_opts = oci_mount_option_names ();
  json_t *mo = json_array ();
  if (argc > 1)
    return cli_usage_error (err, "features", "unexpected argument `%s`", argv[1]);
  for (size_t i = 0; mount_opts[i]; i++)
    json_array_append_new (mo, json_string (mount_opts[i]));
  for (int c = 0; c <= security_last_cap (); c++)
    {
      char *n = cap_to_name (c);
      if (n)
        {
          for (char *q = n; *q; q++)
            if (*q >= 'a' && *q <= 'z')
              *q = (char)(*q - 'a' + 'A');
          json_array_append_new (caps, json_string (n));
          cap_free (n);
        }
    }
  json_object_set_new (f, "ociVersionMin", json_string ("1.0.0"));
  json_object_set_new (f, "ociVersionMax", json_string (OCI_VERSION));
  json_object_set_new (
    f, "hooks",
    json_pack ("[ssssss]", "prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"));
  json_object_set_new (f, "mountOptions", mo);
  json_object_set_new (lin, "namespaces",
                       json_pack ("[ssssssss]", "cgroup", "ipc", "mount", "network", "pid", "user", "uts", "time"));
  json_object_set_new (lin, "capabilities", caps);
  json_object_set_new (lin, "cgroup",
                       json_pack ("{s:b,s:b,s:b,s:b}", "v1", 1, "v2", 1, "systemd", 0, "systemdUser", 0));
  json_object_set_new (seccomp, "enabled", json_true ());
  json_object_set_new (seccomp, "actions",
                       json_pack ("[sssssssss]", "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL",
                                  "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY",
                                  "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"));
  json_object_set_new (seccomp, "operators",
                       json_pack ("[sssssss]", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE",
                                  "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"));
  json_object_set_new (seccomp, "archs", json_pack ("[sss]", "SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32"));
  json_object_set_new (lin, "seccomp", seccomp);
  json_object_set_new (lin, "apparmor", json_pack ("{s:b}", "enabled", 0));
  json_object_set_new (lin, "selinux", json_pack ("{s:b}", "enabled", 0));
  json_object_set_new (f, "linux", lin);
  json_object_set_new (ann, "io.runhv.version", json_string (RUNHV_VERSION));
  json_object_set_new (ann, "io.runhv.isolation", json_string ("process,hypervisor"));
  {
    struct runhv_config *cfg = NULL;
    struct uvm_artifacts art;
    runhv_error_t e = NULL;
    bool ok = runtime_config (&g->ctx, &cfg, &e) == 0 && uvm_artifacts_find (cfg, &art, &e) == 0;
    if (ok)
      uvm_artifacts_release (&art);
    runhv_error_release (&e);
    json_object_set_new (ann, "io.runhv.hypervisor.available", json_string (ok ? "true" : "false"));
  }
  json_object_set_new (f, "annotations", ann);
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

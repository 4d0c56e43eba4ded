#include "diag.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "uvm/host.h"
#include "uvm/template.h"
#include "core/json.h"
#include "runtime-internal.h"
#include "core/toml.h"
#include "core/util.h"
#include "core/banned.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

struct checker
{
  FILE *out;
  int failed;
};

static void
check (struct checker *c, bool ok, const char *what, const char *fix)
{
  fprintf (c->out, "%s %s%s%s\n", ok ? "\u2713" : "\u2717", what,
           ok || fix == NULL ? "" : " \u2014 fix: ", ok || fix == NULL ? "" : fix);
  if (!ok)
    c->failed++;
}

/* The utility VM's parts, the seed's "Hyper-V is enabled" check.  */
static void
check_hypervisor (struct checker *c, struct runtime_context *ctx, struct runhv_config *cfg)
{
  struct uvm_artifacts art;
  runhv_error_t e = NULL;
  cleanup_free char *accel = NULL, *why = NULL;

  if (uvm_artifacts_find (cfg, &art, &e) < 0)
    {
      check (c, false, e->msg, NULL);
      runhv_error_release (&e);
      return;
    }
  {
    cleanup_free char *w = xasprintf ("QEMU: %s", art.qemu);
    check (c, true, w, NULL);
  }
  {
    cleanup_free char *w = xasprintf ("guest kernel: %s (%s): %s", art.kernel,
                                      art.kernel_release ? art.kernel_release : "release unknown", art.kernel_kind);
    check (c, true, w, NULL);
  }
  {
    bool match = art.kernel_release && art.initrd_release && strcmp (art.kernel_release, art.initrd_release) == 0;
    cleanup_free char *w = xasprintf ("initramfs: %s, modules for %s%s", art.initrd,
                                      art.initrd_release ? art.initrd_release : "an unknown kernel",
                                      match ? " (matches the kernel)" : " (does NOT match the kernel)");
    check (c, match, w, "rebuild both with `make guest` (scripts/provision-guest.sh)");
  }
  if (uvm_accel_resolve (cfg, &art, UVM_PROBE_CACHE_DIR, &accel, &why, &e) < 0)
    {
      check (c, false, e->msg, NULL);
      runhv_error_release (&e);
    }
  else
    {
      cleanup_free char *w = xasprintf ("accelerator: %s (%s)", accel, why);
      check (c, true, w, NULL);
    }
  {
    size_t n = 0;
    cleanup_dir DIR *d = opendir (UVM_TEMPLATE_DIR);
    struct dirent *de;
    cleanup_free char *w = NULL;
    while (d != NULL && (de = readdir (d)) != NULL)
      {
        size_t len = strlen (de->d_name);
        if (len > 6 && strcmp (de->d_name + len - 6, ".state") == 0)
          n++;
      }
    if (cfg->vm_template)
      w = xasprintf ("VM templates: on, %zu kept in %s", n, UVM_TEMPLATE_DIR);
    else
      w = xasprintf ("VM templates: off ([vm] template = false): every VM boots");
    check (c, true, w, NULL);
  }
  uvm_artifacts_release (&art);
}

static void
check_vms (struct checker *c, struct runtime_context *ctx)
{
  cleanup_json json_t *list = NULL;
  runhv_error_t e = NULL;
  json_t *x;
  size_t i, vms = 0, procs = 0;
  if (runtime_diag_list (ctx, &list, &e) < 0)
    {
      check (c, false, e->msg, NULL);
      runhv_error_release (&e);
      return;
    }
  json_array_foreach (list, i, x)
  {
    const char *type = json_string_value (json_object_get (x, "type"));
    const char *state = json_string_value (json_object_get (x, "state"));
    if (type && strcmp (type, COMPUTE_TYPE_VM) == 0 && state && strcmp (state, "running") == 0)
      vms++;
    else if (type && strcmp (type, COMPUTE_TYPE_CONTAINER) == 0 && state && strcmp (state, "running") == 0
             && strcmp (json_string_value (json_object_get (x, "isolation")), "process") == 0)
      procs++;
  }
  {
    cleanup_free char *w = xasprintf ("compute systems under %s: %zu running utility VM%s, %zu running "
                                      "process-isolated container%s",
                                      ctx->root, vms, vms == 1 ? "" : "s", procs, procs == 1 ? "" : "s");
    check (c, true, w, NULL);
  }
}

/* containerd decodes a custom runtime's `options` table into
   runtimeoptions.v1.Options (TypeUrl, ConfigPath, matched without regard
   to case) and silently drops every other key: a handler written the way
   the seed and hcsshim teach (`SandboxIsolation = 1` in its options) would
   run its pods with the default isolation.  */
static void
check_handler_options (struct checker *c, const char *path, const char *name, const struct toml_value *rt)
{
  const struct toml_value *opts = toml_table_get (rt, "options");
  for (size_t i = 0; opts && i < toml_table_size (opts); i++)
    {
      const char *key = toml_table_key_at (opts, i);
      if (strcasecmp (key, "ConfigPath") == 0 || strcasecmp (key, "TypeUrl") == 0)
        continue;
      cleanup_free char *w = xasprintf ("containerd %s: handler %s: options key `%s` is dropped by containerd "
                                        "(it passes a custom runtime only ConfigPath)",
                                        path, name, key);
      check (c, false, w,
             "move the key into the handler's runhv TOML file and name that file with ConfigPath "
             "(`runhv config containerd` writes both), then restart containerd");
    }
}

/* containerd's runtime handlers for runhv (the seed's step 5).  */
static void
check_containerd (struct checker *c, const char *path)
{
  cleanup_free char *buf = NULL;
  size_t len = 0;
  struct toml_value *root = NULL;
  runhv_error_t e = NULL;
  const struct toml_value *runtimes;
  bool have_process = false, have_hyper = false;
  size_t sized = 0;
  if (read_file (path, 4u << 20, &buf, &len, &e) < 0)
    {
      runhv_error_release (&e);
      return; /* no containerd on this node: nothing to check */
    }
  if (toml_parse (buf, len, path, &root, &e) < 0)
    {
      check (c, false, e->msg, "fix the containerd config");
      runhv_error_release (&e);
      return;
    }
  runtimes = toml_get_path (
    root, (const char *const[]){ "plugins", "io.containerd.grpc.v1.cri", "containerd", "runtimes", NULL });
  for (size_t i = 0; runtimes && i < toml_table_size (runtimes); i++)
    {
      const char *name = toml_table_key_at (runtimes, i);
      const struct toml_value *rt = toml_table_value_at (runtimes, i);
      const char *type = toml_string (toml_table_get (rt, "runtime_type"));
      if (type == NULL || strcmp (type, "io.containerd.runhv.v1") != 0)
        continue;
      check_handler_options (c, path, name, rt);
      if (strcmp (name, "runhv-process") == 0)
        have_process = true;
      else if (strcmp (name, "runhv-hypervisor") == 0)
        have_hyper = true;
      else if (strncmp (name, "runhv-hypervisor-", 17) == 0)
        sized++;
    }
  {
    cleanup_free char *w
      = xasprintf ("containerd %s: handler runhv-hypervisor%s", path, have_hyper ? "" : " is missing");
    check (c, have_hyper, w, "add it with `runhv config containerd`, then restart containerd");
  }
  {
    cleanup_free char *w = xasprintf ("containerd %s: handler runhv-process%s%s", path,
                                      have_process ? "" : " is missing", sized ? "" : "");
    check (c, have_process, w, "add it with `runhv config containerd`, then restart containerd");
  }
  if (sized)
    {
      cleanup_free char *w
        = xasprintf ("containerd %s: %zu sized runhv-hypervisor-* handler%s", path, sized, sized == 1 ? "" : "s");
      check (c, true, w, NULL);
    }
  toml_free (root);
}

int
diag_check_run (struct runtime_context *ctx, FILE *out, runhv_error_t *err)
{
  struct checker c = { .out = out };
  struct runhv_config *cfg = NULL;
  struct statfs sfs;

  {
    runhv_error_t cerr = NULL;
    bool ok = runtime_config (ctx, &cfg, &cerr) == 0;
    cleanup_free char *what
      = xasprintf ("runhv config %s is valid%s%s", cfg && cfg->path ? cfg->path : "(built-in defaults)", ok ? "" : ": ",
                   ok ? "" : cerr->msg);
    check (&c, ok, what, "correct the file named above");
    runhv_error_release (&cerr);
  }
  if (statfs ("/sys/fs/cgroup", &sfs) == 0)
    {
      bool v2 = sfs.f_type == CGROUP2_SUPER_MAGIC;
      bool mem = v2 || access ("/sys/fs/cgroup/memory/memory.limit_in_bytes", F_OK) == 0;
      bool frz = v2 || access ("/sys/fs/cgroup/freezer", F_OK) == 0;
      check (&c, true, v2 ? "cgroups: v2 (unified)" : "cgroups: v1 (legacy or hybrid)", NULL);
      check (&c, mem, "cgroups: memory controller available", "mount the memory cgroup controller");
      check (&c, frz, "cgroups: freezer available (pause/resume)", "mount the freezer cgroup controller");
    }
  else
    check (&c, false, "cgroups: /sys/fs/cgroup is mounted", "mount cgroupfs on /sys/fs/cgroup");
  {
    cleanup_free char *what = xasprintf ("runtime root %s is writable", ctx->root);
    runhv_error_t e = NULL;
    bool ok = mkdir_p (ctx->root, 0700, &e) == 0 && access (ctx->root, W_OK) == 0;
    runhv_error_release (&e);
    check (&c, ok, what, "run as root or pass --root DIR");
  }
  {
    bool userns = access ("/proc/self/ns/user", F_OK) == 0;
    check (&c, userns, "kernel: namespaces available", "use a kernel with namespaces enabled");
  }
  if (cfg != NULL)
    check_hypervisor (&c, ctx, cfg);
  check_vms (&c, ctx);
  {
    const char *cd = getenv ("RUNHV_CONTAINERD_CONFIG");
    check_containerd (&c, cd && cd[0] ? cd : "/etc/containerd/config.toml");
  }
  fprintf (out, "%s\n", c.failed ? "Some checks failed." : "All checks passed.");
  (void)err;
  return c.failed ? 1 : 0;
}

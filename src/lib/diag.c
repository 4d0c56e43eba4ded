#include "diag.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "util.h"
#include "banned.h"

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
  fprintf (c->out, "%s %s%s%s\n", ok ? "\u2713" : "\u2717", what, ok || fix == NULL ? "" : " \u2014 fix: ",
           ok || fix == NULL ? "" : fix);
  if (!ok)
    c->failed++;
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
    cleanup_free char *what = xasprintf ("runhv config %s is valid%s%s", cfg && cfg->path ? cfg->path : "(built-in defaults)",
                                         ok ? "" : ": ", ok ? "" : cerr->msg);
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
  fprintf (out, "%s\n", c.failed ? "Some checks failed." : "All checks passed.");
  (void) err;
  return c.failed ? 1 : 0;
}

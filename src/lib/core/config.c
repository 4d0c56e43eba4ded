#include "core/config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/toml.h"
#include "core/util.h"
#include "core/banned.h"

#define MAX_CONFIG_SIZE (1u << 20)

const char *
isolation_name (enum isolation i)
{
  return i == ISOLATION_HYPERVISOR ? "hypervisor" : "process";
}

int
isolation_from_name (const char *name, const char *what, enum isolation *out, runhv_error_t *err)
{
  /* The seed's spellings are accepted too: docker's --isolation=hyperv and
     Set-Container's RuntimeType HyperV / Default.  */
  if (strcasecmp (name, "process") == 0 || strcasecmp (name, "default") == 0)
    *out = ISOLATION_PROCESS;
  else if (strcasecmp (name, "hypervisor") == 0 || strcasecmp (name, "hyperv") == 0 || strcasecmp (name, "vm") == 0)
    *out = ISOLATION_HYPERVISOR;
  else
    return runhv_error (err, "%s: unknown isolation `%s` (use process or hypervisor)", what, name);
  return 0;
}

void
runhv_config_free (struct runhv_config *c)
{
  if (c == NULL)
    return;
  free (c->path);
  free (c->kernel);
  free (c->initrd);
  free (c->qemu);
  free (c->accelerator);
  free (c->shared_fs);
  free (c->virtiofsd);
  free (c);
}

static struct runhv_config *
config_defaults (void)
{
  struct runhv_config *c = xmalloc0 (sizeof (*c));
  c->sandbox_isolation = ISOLATION_PROCESS;
  c->accelerator = xstrdup ("auto");
  c->shared_fs = xstrdup ("9p");
  c->boot_timeout_ms = 30000;
  c->vm_template = true;
  return c;
}

static int
get_int (const struct toml_value *t, const char *what, const char *key, int64_t lo, int64_t hi, int64_t *out,
         runhv_error_t *err)
{
  const struct toml_value *v = toml_table_get (t, key);
  int64_t x;
  if (v == NULL)
    return 0;
  if (toml_integer (v, &x) < 0)
    return runhv_error (err, "%s:%u:%u: %s must be an integer", what, toml_line (v), toml_column (v), key);
  if (x < lo || x > hi)
    return runhv_error (err, "%s:%u:%u: %s = %lld is out of range (%lld to %lld)", what, toml_line (v), toml_column (v),
                        key, (long long)x, (long long)lo, (long long)hi);
  *out = x;
  return 0;
}

static int
get_bool (const struct toml_value *t, const char *what, const char *key, bool *out, runhv_error_t *err)
{
  const struct toml_value *v = toml_table_get (t, key);
  if (v == NULL)
    return 0;
  if (toml_bool (v, out) < 0)
    return runhv_error (err, "%s:%u:%u: %s must be true or false", what, toml_line (v), toml_column (v), key);
  return 0;
}

static int
get_string (const struct toml_value *t, const char *what, const char *key, char **out, runhv_error_t *err)
{
  const struct toml_value *v = toml_table_get (t, key);
  const char *s;
  if (v == NULL)
    return 0;
  s = toml_string (v);
  if (s == NULL)
    return runhv_error (err, "%s:%u:%u: %s must be a string", what, toml_line (v), toml_column (v), key);
  free (*out);
  *out = xstrdup (s);
  return 0;
}

static const char *const top_keys[] = { "SandboxIsolation",
                                        "VmMemorySizeInMb",
                                        "VmProcessorCount",
                                        "ScaleCPULimitsToSandbox",
                                        "Debug",
                                        "DebugType",
                                        "vm",
                                        NULL };
static const char *const vm_keys[] = { "kernel",    "initrd",          "qemu",         "accelerator", "shared_fs",
                                       "virtiofsd", "boot_timeout_ms", "jail_id_base", "template",    NULL };

static int
check_keys (const struct toml_value *t, const char *const *known, const char *what, const char *table,
            runhv_error_t *err)
{
  for (size_t i = 0; i < toml_table_size (t); i++)
    {
      const char *k = toml_table_key_at (t, i);
      bool ok = false;
      for (size_t j = 0; known[j]; j++)
        if (strcmp (known[j], k) == 0)
          ok = true;
      if (!ok)
        {
          const struct toml_value *v = toml_table_value_at (t, i);
          return runhv_error (err,
                              "%s:%u:%u: unknown key `%s%s%s` (known: SandboxIsolation, VmMemorySizeInMb, "
                              "VmProcessorCount, ScaleCPULimitsToSandbox, Debug, and [vm] kernel, initrd, qemu, "
                              "accelerator, shared_fs, virtiofsd, boot_timeout_ms, jail_id_base, template)",
                              what, toml_line (v), toml_column (v), table ? table : "", table ? "." : "", k);
        }
    }
  return 0;
}

int
runhv_config_parse (const char *buf, size_t len, const char *what, struct runhv_config **out, runhv_error_t *err)
{
  struct toml_value *root = NULL;
  struct runhv_config *c = config_defaults ();
  const struct toml_value *vm;
  int64_t iso = 0, dbg_type = 0;
  int ret = -1;

  if (toml_parse (buf, len, what, &root, err) < 0)
    goto out;
  if (check_keys (root, top_keys, what, NULL, err) < 0)
    goto out;
  if (get_int (root, what, "SandboxIsolation", 0, 1, &iso, err) < 0
      || get_int (root, what, "VmMemorySizeInMb", 64, 1 << 20, &c->vm_memory_mb, err) < 0
      || get_int (root, what, "VmProcessorCount", 1, 512, &c->vm_cpus, err) < 0
      || get_bool (root, what, "ScaleCPULimitsToSandbox", &c->scale_cpu_limits, err) < 0
      || get_bool (root, what, "Debug", &c->debug, err) < 0
      || get_int (root, what, "DebugType", 0, 2, &dbg_type, err) < 0)
    goto out;
  if (dbg_type != 0)
    {
      /* hcsshim's debug transports (named pipe, file, ETW) have no
         meaning here: runhv's debug log goes where its other logs go.  */
      const struct toml_value *v = toml_table_get (root, "DebugType");
      runhv_error (err,
                   "%s:%u:%u: DebugType = %lld is not supported: runhv writes its debug log to its usual log "
                   "(containerd's log for the shim, --log for the CLI); remove DebugType and set Debug = true",
                   what, toml_line (v), toml_column (v), (long long)dbg_type);
      goto out;
    }
  c->sandbox_isolation = (int)iso;
  vm = toml_table_get (root, "vm");
  if (vm != NULL)
    {
      if (toml_type_of (vm) != TOML_TABLE)
        {
          runhv_error (err, "%s:%u:%u: vm must be a table ([vm])", what, toml_line (vm), toml_column (vm));
          goto out;
        }
      if (check_keys (vm, vm_keys, what, "vm", err) < 0)
        goto out;
      if (get_string (vm, what, "kernel", &c->kernel, err) < 0 || get_string (vm, what, "initrd", &c->initrd, err) < 0
          || get_string (vm, what, "qemu", &c->qemu, err) < 0
          || get_string (vm, what, "accelerator", &c->accelerator, err) < 0
          || get_string (vm, what, "shared_fs", &c->shared_fs, err) < 0
          || get_string (vm, what, "virtiofsd", &c->virtiofsd, err) < 0
          || get_int (vm, what, "boot_timeout_ms", 1000, 600000, &c->boot_timeout_ms, err) < 0
          /* per-VM ranges of 65536 ids, 4096 slots above it (jail.h) */
          || get_int (vm, what, "jail_id_base", 65536, 4294967295LL - 4096LL * 65536LL, &c->jail_id_base, err) < 0
          || get_bool (vm, what, "template", &c->vm_template, err) < 0)
        goto out;
      if (strcmp (c->accelerator, "auto") != 0 && strcmp (c->accelerator, "kvm") != 0
          && strcmp (c->accelerator, "tcg") != 0)
        {
          const struct toml_value *v = toml_table_get (vm, "accelerator");
          runhv_error (err, "%s:%u:%u: vm.accelerator = \"%s\" is not known (use auto, kvm or tcg)", what,
                       toml_line (v), toml_column (v), c->accelerator);
          goto out;
        }
      if (strcmp (c->shared_fs, "9p") != 0)
        {
          /* virtio-fs needs a virtiofsd per VM inside the VMM's jail and
             shared guest memory; it was never started, so it goes.  */
          const struct toml_value *v = toml_table_get (vm, "shared_fs");
          runhv_error (err, "%s:%u:%u: shared_fs = \"%s\" is not supported; remove it (9p is used)", what,
                       toml_line (v), toml_column (v), c->shared_fs);
          goto out;
        }
    }
  *out = c;
  c = NULL;
  ret = 0;
out:
  toml_free (root);
  runhv_config_free (c);
  return ret;
}

int
runhv_config_load (const char *path, struct runhv_config **out, runhv_error_t *err)
{
  cleanup_free char *buf = NULL;
  size_t len = 0;
  const char *env = getenv ("RUNHV_CONFIG");
  bool explicit_path = path != NULL || (env != NULL && env[0] != '\0');

  if (path == NULL)
    path = (env != NULL && env[0] != '\0') ? env : RUNHV_DEFAULT_CONFIG;
  if (read_file (path, MAX_CONFIG_SIZE, &buf, &len, err) < 0)
    {
      if ((*err)->status == ENOENT && !explicit_path)
        {
          runhv_error_release (err);
          *out = config_defaults ();
          return 0;
        }
      if ((*err)->status == ENOENT)
        {
          runhv_error_release (err);
          return runhv_make_error (err, ENOENT,
                                   "runhv config `%s` does not exist (create it, e.g. with `runhv config containerd`, "
                                   "or fix the path)",
                                   path);
        }
      return -1;
    }
  if (runhv_config_parse (buf, len, path, out, err) < 0)
    return -1;
  (*out)->path = xstrdup (path);
  return 0;
}

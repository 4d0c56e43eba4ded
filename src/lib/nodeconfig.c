#include "nodeconfig.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "banned.h"

int
nodeconfig_parse_sizes (const char *list, struct vm_size **out, size_t *n, runhv_error_t *err)
{
  cleanup_free char *copy = xstrdup (list ? list : "");
  char *save = copy, *tok;
  *out = NULL;
  *n = 0;
  while ((tok = strsep (&save, ",")) != NULL)
    {
      struct vm_size z = { 0 };
      char *p = tok, *end;
      unsigned long long cpus, mem;
      if (*tok == '\0')
        continue;
      cpus = strtoull (p, &end, 10);
      if (end == p || strncmp (end, "vp", 2) != 0)
        goto bad;
      p = end + 2;
      mem = strtoull (p, &end, 10);
      if (end == p)
        goto bad;
      if (strcmp (end, "gb") == 0)
        mem *= 1024;
      else if (strcmp (end, "mb") != 0)
        goto bad;
      if (cpus == 0 || cpus > 512 || mem < 128 || mem > (1ULL << 20))
        return runhv_error (err, "--sizes: `%s` is out of range (1 to 512 vCPUs, 128 MiB to 1 TiB)", tok);
      if (strlen (tok) >= sizeof (z.name))
        goto bad;
      snprintf (z.name, sizeof (z.name), "%s", tok);
      z.cpus = (int64_t)cpus;
      z.memory_mb = (int64_t)mem;
      for (size_t i = 0; i < *n; i++)
        if (strcmp ((*out)[i].name, z.name) == 0)
          return runhv_error (err, "--sizes: `%s` is given twice", tok);
      *out = xrealloc (*out, (*n + 1) * sizeof (**out));
      (*out)[(*n)++] = z;
      continue;
    bad:
      free (*out);
      *out = NULL;
      *n = 0;
      return runhv_error (err,
                          "--sizes: `%s` is not a size (use the seed's form: <vCPUs>vp<memory>gb or mb, e.g. "
                          "1vp2gb)",
                          tok);
    }
  return 0;
}

static int
write_toml (const char *dir, const char *handler, int isolation, const struct vm_size *z, runhv_error_t *err)
{
  cleanup_free char *path = xasprintf ("%s/%s.toml", dir, handler);
  cleanup_free char *text = NULL;
  if (z != NULL)
    text = xasprintf ("# runhv options for containerd handler %s (written by `runhv config containerd`)\n"
                      "SandboxIsolation = %d\nVmProcessorCount = %lld\nVmMemorySizeInMb = %lld\n"
                      "ScaleCPULimitsToSandbox = false\nDebug = false\n",
                      handler, isolation, (long long)z->cpus, (long long)z->memory_mb);
  else
    text = xasprintf ("# runhv options for containerd handler %s (written by `runhv config containerd`)\n"
                      "SandboxIsolation = %d\nScaleCPULimitsToSandbox = false\nDebug = false\n",
                      handler, isolation);
  if (mkdir_p (dir, 0755, err) < 0)
    return -1;
  return write_file_atomic (path, text, strlen (text), 0644, err);
}

static void
handler (FILE *out, const char *name, const char *dir)
{
  const char *base = "plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes";
  fprintf (out,
           "[%s.%s]\n"
           "  runtime_type = \"%s\"\n"
           "  # VM sizing and storage QoS annotations of the pod reach the shim (the seed's\n"
           "  # io.microsoft.* spellings too)\n"
           "  pod_annotations = [\"io.runhv.virtualmachine.*\", \"io.runhv.container.*\", "
           "\"io.microsoft.virtualmachine.*\", \"io.microsoft.container.*\"]\n"
           "  container_annotations = [\"io.runhv.container.*\", \"io.microsoft.container.*\"]\n"
           "  [%s.%s.options]\n"
           "    ConfigPath = \"%s/%s.toml\"\n\n",
           base, name, RUNHV_RUNTIME_TYPE, base, name, dir, name);
}

int
nodeconfig_containerd (const struct vm_size *sizes, size_t n, const char *dir, FILE *out, runhv_error_t *err)
{
  const char *where = dir ? dir : "/etc/runhv";
  fprintf (out, "# containerd runtime handlers for runhv (containerd config.toml, version = 2).\n"
                "# Kubernetes RuntimeClasses name these handlers; see `runhv config kubernetes`.\n"
                "# Restart containerd after adding them; check with `runhv diag check`.\n\n");
  handler (out, RUNHV_HANDLER_PROCESS, where);
  handler (out, RUNHV_HANDLER_HYPERVISOR, where);
  for (size_t i = 0; i < n; i++)
    {
      cleanup_free char *name = xasprintf ("%s-%s", RUNHV_HANDLER_HYPERVISOR, sizes[i].name);
      handler (out, name, where);
    }
  if (dir == NULL)
    return 0;
  if (write_toml (dir, RUNHV_HANDLER_PROCESS, 0, NULL, err) < 0
      || write_toml (dir, RUNHV_HANDLER_HYPERVISOR, 1, NULL, err) < 0)
    return -1;
  for (size_t i = 0; i < n; i++)
    {
      cleanup_free char *name = xasprintf ("%s-%s", RUNHV_HANDLER_HYPERVISOR, sizes[i].name);
      if (write_toml (dir, name, 1, &sizes[i], err) < 0)
        return -1;
    }
  return 0;
}

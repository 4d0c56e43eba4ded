#include "nodeconfig.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>

#include "core/toml.h"
#include "core/util.h"
#include "core/banned.h"

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
write_toml (const char *dir, const char *handler, int isolation, const struct vm_size *z, const char *kernel,
            runhv_error_t *err)
{
  cleanup_free char *path = xasprintf ("%s/%s.toml", dir, handler);
  cleanup_free char *text = NULL, *sized = NULL, *vm = NULL;
  if (z != NULL)
    sized
      = xasprintf ("VmProcessorCount = %lld\nVmMemorySizeInMb = %lld\n", (long long)z->cpus, (long long)z->memory_mb);
  if (kernel != NULL)
    {
      /* the initramfs is found beside the kernel (uvm_artifacts_find) */
      cleanup_free char *q = json_escape_string (kernel);
      vm = xasprintf ("\n[vm]\nkernel = %s\n", q);
    }
  text = xasprintf ("# runhv options for containerd handler %s (written by `runhv config containerd`)\n"
                    "SandboxIsolation = %d\n%sScaleCPULimitsToSandbox = false\nDebug = false\n%s",
                    handler, isolation, sized ? sized : "", vm ? vm : "");
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
  return nodeconfig_containerd_node (sizes, n, dir, dir, NULL, out, err);
}

int
nodeconfig_containerd_node (const struct vm_size *sizes, size_t n, const char *dir, const char *node_dir,
                            const char *kernel, FILE *out, runhv_error_t *err)
{
  const char *where = node_dir ? node_dir : "/etc/runhv";
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
  if (write_toml (dir, RUNHV_HANDLER_PROCESS, 0, NULL, kernel, err) < 0
      || write_toml (dir, RUNHV_HANDLER_HYPERVISOR, 1, NULL, kernel, err) < 0)
    return -1;
  for (size_t i = 0; i < n; i++)
    {
      cleanup_free char *name = xasprintf ("%s-%s", RUNHV_HANDLER_HYPERVISOR, sizes[i].name);
      if (write_toml (dir, name, 1, &sizes[i], kernel, err) < 0)
        return -1;
    }
  return 0;
}

#define BLOCK_BEGIN "# BEGIN runhv handlers (runhv config containerd --install; remove with --uninstall)\n"
#define BLOCK_END "# END runhv handlers\n"

/* The config without runhv's block: [0, *cut) + [*resume, len).  */
static int
find_block (const char *path, const char *buf, size_t len, size_t *cut, size_t *resume, runhv_error_t *err)
{
  const char *b = strstr (buf, BLOCK_BEGIN), *e;
  *cut = *resume = len;
  if (b == NULL)
    return 0;
  if (b != buf && b[-1] != '\n')
    return runhv_error (err, "%s: runhv's block marker is not at the start of a line; fix the file by hand", path);
  e = strstr (b, BLOCK_END);
  if (e == NULL || strstr (e + strlen (BLOCK_END), BLOCK_BEGIN) != NULL || strstr (b + 1, BLOCK_BEGIN) != NULL)
    return runhv_error (
      err, "%s: runhv's block is unterminated or there are two; fix the file by hand (one `%.*s` ... `%.*s`)", path,
      (int)strlen (BLOCK_BEGIN) - 1, BLOCK_BEGIN, (int)strlen (BLOCK_END) - 1, BLOCK_END);
  /* the blank line the install put before the block goes with it */
  *cut = (size_t)(b - buf);
  if (*cut > 0 && buf[*cut - 1] == '\n' && (*cut == 1 || buf[*cut - 2] == '\n'))
    (*cut)--;
  *resume = (size_t)(e - buf) + strlen (BLOCK_END);
  return 0;
}

/* The operator's part of the config: a version 2 config whose CRI
   runtimes hold no runhv handler (runhv's block would then define a table
   twice, and containerd would refuse to start).  */
static int
check_operator_part (const char *path, const char *text, size_t len, runhv_error_t *err)
{
  struct toml_value *root = NULL;
  const struct toml_value *runtimes;
  int64_t version = 0;
  if (toml_parse (text, len, path, &root, err) < 0)
    return -1;
  if (toml_integer (toml_table_get (root, "version"), &version) < 0 || version != 2)
    {
      toml_free (root);
      return runhv_error (err,
                          "%s: not a version 2 config (runhv's handlers are version 2 tables); convert it with "
                          "`containerd config migrate` or add `version = 2`",
                          path);
    }
  runtimes = toml_get_path (
    root, (const char *const[]){ "plugins", "io.containerd.grpc.v1.cri", "containerd", "runtimes", NULL });
  for (size_t i = 0; runtimes && i < toml_table_size (runtimes); i++)
    {
      const char *name = toml_table_key_at (runtimes, i);
      if (strcmp (name, RUNHV_HANDLER_PROCESS) == 0 || strcmp (name, RUNHV_HANDLER_HYPERVISOR) == 0
          || strncmp (name, RUNHV_HANDLER_HYPERVISOR "-", strlen (RUNHV_HANDLER_HYPERVISOR "-")) == 0)
        {
          unsigned line = toml_line (toml_table_value_at (runtimes, i));
          runhv_error (err,
                       "%s:%u: handler %s is defined outside runhv's block; remove it there (the install "
                       "manages runhv's handlers)",
                       path, line, name);
          toml_free (root);
          return -1;
        }
    }
  toml_free (root);
  return 0;
}

int
nodeconfig_install (const char *path, const char *snippet, bool *changed, runhv_error_t *err)
{
  cleanup_free char *buf = NULL, *out = NULL;
  size_t len = 0, cut, resume, n = 0;
  struct stat st;
  mode_t mode = 0644;
  FILE *f;

  *changed = false;
  if (stat (path, &st) == 0)
    {
      mode = st.st_mode & 07777;
      if (read_file (path, 16u << 20, &buf, &len, err) < 0)
        return -1;
    }
  else if (errno != ENOENT)
    return runhv_make_error (err, errno, "stat `%s`", path);
  else if (snippet == NULL)
    return 0; /* nothing installed, nothing to remove */
  else
    buf = xstrdup ("version = 2\n");
  if (buf == NULL)
    buf = xstrdup ("");
  len = strlen (buf);
  if (find_block (path, buf, len, &cut, &resume, err) < 0)
    return -1;
  {
    cleanup_free char *rest = xasprintf ("%.*s%s", (int)cut, buf, buf + resume);
    if (check_operator_part (path, rest, strlen (rest), err) < 0)
      return -1;
  }
  f = open_memstream (&out, &n);
  if (f == NULL)
    return runhv_make_error (err, errno, "open_memstream");
  fwrite (buf, 1, cut, f);
  if (snippet != NULL)
    {
      if (cut > 0 && buf[cut - 1] != '\n')
        fputc ('\n', f);
      fprintf (f, "%s%s%s%s", cut > 0 ? "\n" : "", BLOCK_BEGIN, snippet, BLOCK_END);
    }
  fputs (buf + resume, f);
  if (fclose (f) != 0)
    return runhv_make_error (err, errno, "compose `%s`", path);
  {
    struct toml_value *root = NULL;
    if (toml_parse (out, n, path, &root, err) < 0)
      return runhv_error_wrap (err, "the config with runhv's handlers would not parse; nothing was written");
    toml_free (root);
  }
  if (n == len && memcmp (out, buf, n) == 0)
    return 0;
  if (write_file_atomic (path, out, n, mode, err) < 0)
    return -1;
  *changed = true;
  return 0;
}

/* runhv config: generated node and cluster configuration.  */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "nodeconfig.h"
#include "core/util.h"
#include "core/banned.h"

/* runhv config containerd [--sizes LIST] [--output-dir DIR]
   [--install CONFIG | --uninstall CONFIG]: the snippet on stdout (or
   merged into containerd's config as one marked block, or that block
   taken out again), the TOML files it names written into DIR.  */
static int
config_containerd (int argc, char **argv, runhv_error_t *err)
{
  static const struct option opts[] = {
    { "sizes", required_argument, NULL, 's' },   { "output-dir", required_argument, NULL, 'o' },
    { "install", required_argument, NULL, 'i' }, { "uninstall", required_argument, NULL, 'u' },
    { "help", no_argument, NULL, 'h' },          { NULL, 0, NULL, 0 },
  };
  const char *sizes_arg = NULL, *dir = "/etc/runhv", *install = NULL, *uninstall = NULL;
  cleanup_free struct vm_size *sizes = NULL;
  cleanup_free char *snippet = NULL;
  bool dir_given = false, changed;
  size_t n = 0, snippet_len = 0;
  FILE *out = stdout;
  int c;

  optind = 1;
  while ((c = getopt_long (argc, argv, "+s:o:h", opts, NULL)) != -1)
    switch (c)
      {
      case 's':
        sizes_arg = optarg;
        break;
      case 'o':
        dir = optarg;
        dir_given = true;
        break;
      case 'i':
        install = optarg;
        break;
      case 'u':
        uninstall = optarg;
        break;
      case 'h':
        printf ("usage: runhv config containerd [--sizes 1vp2gb,2vp4gb] [--output-dir DIR]\n"
                "                               [--install CONFIG | --uninstall CONFIG]\n"
                "Print containerd's runtime handlers for runhv (runhv-process, runhv-hypervisor and one\n"
                "runhv-hypervisor-<size> per size) and write the runhv TOML file each one names into\n"
                "DIR (default /etc/runhv).  --install puts the handlers into containerd's CONFIG as one\n"
                "marked block instead (a second install with the same sizes changes nothing, other sizes\n"
                "replace the block; no other byte of CONFIG changes); --uninstall takes the block out.\n"
                "Restart containerd after either.\n");
        return 0;
      default:
        return cli_usage_error (err, "config containerd", "unknown option (see --help)");
      }
  if (optind != argc)
    return cli_usage_error (err, "config containerd", "unexpected argument `%s`", argv[optind]);
  if (dir[0] == '\0')
    return cli_usage_error (err, "config containerd", "--output-dir: empty path");
  if (install != NULL && uninstall != NULL)
    return cli_usage_error (err, "config containerd", "--install and --uninstall: give one");
  if (uninstall != NULL)
    {
      if (sizes_arg != NULL || dir_given)
        return cli_usage_error (err, "config containerd",
                                "--uninstall takes no --sizes or --output-dir (it removes the whole block)");
      if (nodeconfig_install (uninstall, NULL, &changed, err) < 0)
        return -1;
      printf (changed ? "removed runhv's handlers from %s: restart containerd\n"
                      : "%s holds no runhv handlers: unchanged\n",
              uninstall);
      return 0;
    }
  if (sizes_arg != NULL && nodeconfig_parse_sizes (sizes_arg, &sizes, &n, err) < 0)
    return -1;
  if (install != NULL)
    {
      out = open_memstream (&snippet, &snippet_len);
      if (out == NULL)
        return runhv_make_error (err, errno, "open_memstream");
    }
  if (nodeconfig_containerd (sizes, n, dir, out, err) < 0)
    {
      if (install != NULL)
        fclose (out);
      return -1;
    }
  if (install == NULL)
    return fflush (stdout) == 0 ? 0 : runhv_error (err, "writing the snippet to stdout failed");
  if (fclose (out) != 0)
    return runhv_make_error (err, errno, "compose the handlers");
  if (nodeconfig_install (install, snippet, &changed, err) < 0)
    return -1;
  printf (changed ? "installed runhv's handlers into %s: restart containerd\n"
                  : "%s already holds these runhv handlers: unchanged\n",
          install);
  return 0;
}

int
cli_config (struct cli_global *g, int argc, char **argv, runhv_error_t *err)
{
  (void)g;
  if (argc < 2)
    return cli_usage_error (err, "config", "missing subcommand (containerd or kubernetes)");
  if (strcmp (argv[1], "containerd") == 0)
    return config_containerd (argc - 1, argv + 1, err);
  if (strcmp (argv[1], "kubernetes") == 0)
    return cli_config_kubernetes (argc - 1, argv + 1, err);
  return cli_usage_error (err, "config", "unknown subcommand `%s` (use containerd or kubernetes)", argv[1]);
}

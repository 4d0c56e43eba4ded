/* runhv config: generated node and cluster configuration.  */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "nodeconfig.h"
#include "util.h"
#include "banned.h"

/* runhv config containerd [--sizes LIST] [--output-dir DIR]: the snippet
   on stdout, the TOML files it names written into DIR.  */
static int
config_containerd (int argc, char **argv, runhv_error_t *err)
{
  static const struct option opts[] = {
    { "sizes", required_argument, NULL, 's' },
    { "output-dir", required_argument, NULL, 'o' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  const char *sizes_arg = NULL, *dir = "/etc/runhv";
  cleanup_free struct vm_size *sizes = NULL;
  size_t n = 0;
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
        break;
      case 'h':
        printf ("usage: runhv config containerd [--sizes 1vp2gb,2vp4gb] [--output-dir DIR]\n"
                "Print containerd's runtime handlers for runhv (runhv-process, runhv-hypervisor and one\n"
                "runhv-hypervisor-<size> per size) and write the runhv TOML file each one names into\n"
                "DIR (default /etc/runhv).\n");
        return 0;
      default:
        return cli_usage_error (err, "config containerd", "unknown option (see --help)");
      }
  if (optind != argc)
    return cli_usage_error (err, "config containerd", "unexpected argument `%s`", argv[optind]);
  if (dir[0] == '\0')
    return cli_usage_error (err, "config containerd", "--output-dir: empty path");
  if (sizes_arg != NULL && nodeconfig_parse_sizes (sizes_arg, &sizes, &n, err) < 0)
    return -1;
  if (nodeconfig_containerd (sizes, n, dir, stdout, err) < 0)
    return -1;
  return fflush (stdout) == 0 ? 0 : runhv_error (err, "writing the snippet to stdout failed");
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

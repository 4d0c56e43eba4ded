/* runhv config: generated node and cluster configuration.  */
#include <string.h>

#include "cli.h"
#include "banned.h"

int
cli_config (struct cli_global *g, int argc, char **argv, runhv_error_t *err)
{
  (void)g;
  if (argc < 2)
    return cli_usage_error (err, "config", "missing subcommand (containerd or kubernetes)");
  return cli_usage_error (err, "config", "unknown subcommand `%s`", argv[1]);
}

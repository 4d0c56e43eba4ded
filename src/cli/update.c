#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/json.h"
#include "core/util.h"
#include "core/banned.h"

enum
{
  OPT_RESOURCES = 'r',
  OPT_BLKIO = 256,
  OPT_PERIOD,
  OPT_QUOTA,
  OPT_RT_PERIOD,
  OPT_RT_RUNTIME,
  OPT_SHARES,
  OPT_CPUS,
  OPT_MEMS,
  OPT_KMEM,
  OPT_KMEM_TCP,
  OPT_MEMORY,
  OPT_RESERVATION,
  OPT_SWAP,
  OPT_PIDS,
  OPT_L3,
  OPT_MEMBW,
  OPT_ISOLATION,
};

static int
set_int (json_t *obj, const char *key, const char *val, bool size, const char *flag, runhv_error_t *err)
{
  int64_t v;
  if (strcmp (val, "-1") == 0)
    v = -1;
  else if ((size ? parse_size (val, &v) : parse_int64 (val, &v)) < 0)
    return runhv_error (err, "update: %s `%s` is not a %s", flag, val, size ? "size (e.g. 512m)" : "number");
  json_object_set_new (obj, key, json_integer (v));
  return 0;
}

int
cli_update (struct cli_global *g, int argc, char **argv, runhv_error_t *err)
{
  static const struct option opts[] = {
    { "resources", required_argument, NULL, OPT_RESOURCES },
    { "blkio-weight", required_argument, NULL, OPT_BLKIO },
    { "cpu-period", required_argument, NULL, OPT_PERIOD },
    { "cpu-quota", required_argument, NULL, OPT_QUOTA },
    { "cpu-rt-period", required_argument, NULL, OPT_RT_PERIOD },
    { "cpu-rt-runtime", required_argument, NULL, OPT_RT_RUNTIME },
    { "cpu-share", required_argument, NULL, OPT_SHARES },
    { "cpuset-cpus", required_argument, NULL, OPT_CPUS },
    { "cpuset-mems", required_argument, NULL, OPT_MEMS },
    { "kernel-memory", required_argument, NULL, OPT_KMEM },
    { "kernel-memory-tcp", required_argument, NULL, OPT_KMEM_TCP },
    { "memory", required_argument, NULL, OPT_MEMORY },
    { "memory-reservation", required_argument, NULL, OPT_RESERVATION },
    { "memory-swap", required_argument, NULL, OPT_SWAP },
    { "pids-limit", required_argument, NULL, OPT_PIDS },
    { "l3-cache-schema", required_argument, NULL, OPT_L3 },
    { "mem-bw-schema", required_argument, NULL, OPT_MEMBW },
    { "isolation", required_argument, NULL, OPT_ISOLATION },
    { NULL, 0, NULL, 0 },
  };
  cleanup_json json_t *res = NULL;
  json_t *mem = json_object (), *cpu = json_object (), *pids = json_object (), *bio = json_object ();
  const char *resources_file = NULL, *isolation = NULL, *id;
  struct oci_resources *r = NULL;
  bool flags = false;
  int c, rc = -1;

  /* No "+": like runc, flags may follow the id (`update ID --memory 1g`).  */
  while ((c = getopt_long (argc, argv, "r:", opts, NULL)) != -1)
    {
      int x = 0;
      flags = flags || (c != OPT_RESOURCES && c != OPT_ISOLATION);
      switch (c)
        {
        case OPT_RESOURCES:
          resources_file = optarg;
          break;
        case OPT_ISOLATION:
          isolation = optarg;
          break;
        case OPT_BLKIO:
          x = set_int (bio, "weight", optarg, false, "--blkio-weight", err);
          break;
        case OPT_PERIOD:
          x = set_int (cpu, "period", optarg, false, "--cpu-period", err);
          break;
        case OPT_QUOTA:
          x = set_int (cpu, "quota", optarg, false, "--cpu-quota", err);
          break;
        case OPT_SHARES:
          x = set_int (cpu, "shares", optarg, false, "--cpu-share", err);
          break;
        case OPT_CPUS:
          json_object_set_new (cpu, "cpus", json_string (optarg));
          break;
        case OPT_MEMS:
          json_object_set_new (cpu, "mems", json_string (optarg));
          break;
        case OPT_MEMORY:
          x = set_int (mem, "limit", optarg, true, "--memory", err);
          break;
        case OPT_RESERVATION:
          x = set_int (mem, "reservation", optarg, true, "--memory-reservation", err);
          break;
        case OPT_SWAP:
          x = set_int (mem, "swap", optarg, true, "--memory-swap", err);
          break;
        case OPT_PIDS:
          x = set_int (pids, "limit", optarg, false, "--pids-limit", err);
          break;
        case OPT_RT_PERIOD:
          x = set_int (cpu, "realtimePeriod", optarg, false, "--cpu-rt-period", err);
          break;
        case OPT_RT_RUNTIME:
          x = set_int (cpu, "realtimeRuntime", optarg, false, "--cpu-rt-runtime", err);
          break;
        case OPT_KMEM:
        case OPT_KMEM_TCP:
        case OPT_L3:
        case OPT_MEMBW:
          /* Deprecated or not supported by the kernels runhv targets:
             refuse rather than pretend.  */
          x = runhv_error (err, "update: %s is not supported by runhv", argv[optind - 1]);
          break;
        default:
          x = cli_usage_error (err, "update", "unknown option");
          break;
        }
      if (x < 0)
        goto out;
    }
  if (cli_one_id (argc, argv, "update", &id, err) < 0)
    goto out;
  if (isolation != NULL)
    {
      if (flags || resources_file)
        {
          runhv_error (err, "update: --isolation converts the container and cannot be combined with resource flags");
          goto out;
        }
      rc = runtime_convert (&g->ctx, id, isolation, err);
      goto out;
    }
  if (resources_file != NULL)
    {
      if (strcmp (resources_file, "-") == 0)
        {
          cleanup_free char *buf = NULL;
          size_t len = 0;
          if (read_file ("/dev/stdin", 4u << 20, &buf, &len, err) < 0
              || json_load_buffer (buf, len, "--resources", &res, err) < 0)
            goto out;
        }
      else if (json_load_path (resources_file, "--resources", 4u << 20, &res, err) < 0)
        goto out;
    }
  else
    {
      if (!flags)
        {
          cli_usage_error (err, "update", "nothing to update (give --resources or a resource flag)");
          goto out;
        }
      res = json_object ();
    }
  if (json_object_size (mem))
    json_object_set (res, "memory", mem);
  if (json_object_size (cpu))
    json_object_set (res, "cpu", cpu);
  if (json_object_size (pids))
    json_object_set (res, "pids", pids);
  if (json_object_size (bio))
    json_object_set (res, "blockIO", bio);
  if (oci_resources_parse (res, "resources", &r, err) < 0)
    goto out;
  rc = runtime_update (&g->ctx, id, r, err);
out:
  json_decref (mem);
  json_decref (cpu);
  json_decref (pids);
  json_decref (bio);
  oci_resources_free (r);
  return rc < 0 ? -1 : 0;
}

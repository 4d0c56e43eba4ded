/* Starting a VM supervisor: create forks and at once execs the binary it
   runs from (runhv or the shim) with the hidden argument
   UVM_SUPERVISOR_ARGV1.  The supervisor therefore starts with a fresh
   address space and exactly the descriptors below, never with a copy of
   its caller's memory, locks, threads, sockets or stdio.

   Descriptors of the exec'd supervisor:
     0, 1, 2  the container's stdio (/dev/null for a terminal container)
     3        the report socket (sync.h: SYNC_READY or SYNC_ERROR)
     4        a sealed memfd holding the configuration as JSON
     5        the pod network's tap, when there is one
     6        the socket a console master is sent on (--console-socket as an fd) */
#include "uvm/supervisor.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "uvm/exec-self.h"
#include "core/json.h"
#include "core/log.h"
#include "core/sync.h"
#include "core/util.h"
#include "core/banned.h"

/* The exec'd supervisor's extra descriptors (exec-self.h has the rest).  */
#define FD_TAP EXEC_SELF_FIRST_EXTRA
#define FD_CONSOLE (EXEC_SELF_FIRST_EXTRA + 1)

static json_t *
nullable (const char *s)
{
  return s ? json_string (s) : json_null ();
}

static json_t *
config_to_json (const struct supervisor_config *c)
{
  const struct uvm_artifacts *a = c->art;
  json_t *binds = json_array ();
  for (size_t i = 0; i < c->n_binds; i++)
    json_array_append_new (binds, json_pack ("{s:I,s:s,s:s,s:b}", "index", (json_int_t)c->binds[i].index, "host",
                                             c->binds[i].host, "shared", c->binds[i].shared, "file", c->binds[i].file));
  return json_pack ("{s:o,s:o,s:o,s:o,s:o,s:o,s:O,s:o,"
                    "s:{s:I,s:I,s:o,s:o,s:I,s:I,s:f},"
                    "s:{s:o,s:o,s:o,s:o,s:o,s:o},"
                    "s:o,s:o,s:I,s:b,s:I,s:b,s:o,s:b,s:b,s:b,s:o,s:o,s:o,s:I,s:b,s:i}",
                    "runtime_root", nullable (c->runtime_root), "id", nullable (c->id), "state_dir",
                    nullable (c->state_dir), "console_log", nullable (c->console_log), "vmm_log", nullable (c->vmm_log),
                    "rootfs", nullable (c->rootfs), "guest_spec", c->guest_spec, "binds", binds,
                    /* sizing */
                    "sizing", "memory_mb", (json_int_t)c->sizing.memory_mb, "cpus", (json_int_t)c->sizing.cpus,
                    "memory_source", nullable (c->sizing.memory_source), "cpus_source",
                    nullable (c->sizing.cpus_source), "qos_bps", (json_int_t)c->sizing.qos_bps, "qos_iops",
                    (json_int_t)c->sizing.qos_iops, "cpu_quota_scale", c->sizing.cpu_quota_scale,
                    /* artifacts */
                    "art", "kernel", nullable (a->kernel), "initrd", nullable (a->initrd), "qemu", nullable (a->qemu),
                    "virtiofsd", nullable (a->virtiofsd), "kernel_release", nullable (a->kernel_release),
                    "initrd_release", nullable (a->initrd_release),
                    /* the rest */
                    "accel", nullable (c->accel), "shared_fs", nullable (c->shared_fs), "tsc_khz",
                    (json_int_t)c->tsc_khz, "tsc_reliable", c->tsc_reliable, "boot_timeout_ms",
                    (json_int_t)c->boot_timeout_ms, "terminal", c->terminal, "console_socket",
                    nullable (c->console_socket), "console_receiver", c->console_receiver >= 0, "tap", c->tap_fd >= 0,
                    "debug", c->debug, "mac", nullable (c->mac), "net_config", nullable (c->net_config),
                    "cgroup_parent", nullable (c->cgroup_parent), "jail_id_base", (json_int_t)c->jail_id_base,
                    "template", c->template, "log_level", (int)log_get_level ());
}

pid_t
supervisor_spawn (const struct supervisor_config *cfg, const int stdio[3], runhv_error_t *err)
{
  cleanup_json json_t *j = config_to_json (cfg);
  const int extra[] = { cfg->tap_fd, cfg->console_receiver };
  /* A terminal container's stdio is its pty: the caller's own stdio must
     not be held open by a process that outlives it, or
     `out=$(runhv create ...)` waits for the container to end.  */
  return exec_self ("runhv-vmsup", UVM_SUPERVISOR_ARGV1, j, cfg->terminal ? NULL : stdio, cfg->report_fd, extra, 2,
                    err);
}

/* ---- the exec'd side ---------------------------------------------------- */

static char *
str_or_null (json_t *o, const char *key)
{
  const char *s = json_string_value (json_object_get (o, key));
  return s ? xstrdup (s) : NULL;
}

static int
config_from_json (json_t *j, struct supervisor_config *c, runhv_error_t *err)
{
  static struct uvm_artifacts art;
  json_t *sz = json_object_get (j, "sizing"), *a = json_object_get (j, "art"), *binds = json_object_get (j, "binds");
  size_t i;
  json_t *b;
  if (!json_is_object (sz) || !json_is_object (a) || !json_is_array (binds)
      || !json_is_object (json_object_get (j, "guest_spec")))
    return runhv_error (err, "the VM supervisor's configuration is malformed");
  *c = (struct supervisor_config){ 0 };
  c->runtime_root = str_or_null (j, "runtime_root");
  c->id = str_or_null (j, "id");
  c->state_dir = str_or_null (j, "state_dir");
  c->console_log = str_or_null (j, "console_log");
  c->vmm_log = str_or_null (j, "vmm_log");
  c->rootfs = str_or_null (j, "rootfs");
  c->guest_spec = json_incref (json_object_get (j, "guest_spec"));
  c->n_binds = json_array_size (binds);
  c->binds = xmalloc0 ((c->n_binds + 1) * sizeof (*c->binds));
  json_array_foreach (binds, i, b)
  {
    c->binds[i].index = (size_t)json_integer_value (json_object_get (b, "index"));
    c->binds[i].host = str_or_null (b, "host");
    c->binds[i].shared = str_or_null (b, "shared");
    c->binds[i].file = json_is_true (json_object_get (b, "file"));
    if (c->binds[i].host == NULL || c->binds[i].shared == NULL)
      return runhv_error (err, "the VM supervisor's configuration is malformed (binds)");
  }
  c->sizing.memory_mb = json_integer_value (json_object_get (sz, "memory_mb"));
  c->sizing.cpus = json_integer_value (json_object_get (sz, "cpus"));
  c->sizing.memory_source = str_or_null (sz, "memory_source");
  c->sizing.cpus_source = str_or_null (sz, "cpus_source");
  c->sizing.qos_bps = (uint64_t)json_integer_value (json_object_get (sz, "qos_bps"));
  c->sizing.qos_iops = (uint64_t)json_integer_value (json_object_get (sz, "qos_iops"));
  c->sizing.cpu_quota_scale = json_number_value (json_object_get (sz, "cpu_quota_scale"));
  art.kernel = str_or_null (a, "kernel");
  art.initrd = str_or_null (a, "initrd");
  art.qemu = str_or_null (a, "qemu");
  art.virtiofsd = str_or_null (a, "virtiofsd");
  art.kernel_release = str_or_null (a, "kernel_release");
  art.initrd_release = str_or_null (a, "initrd_release");
  c->art = &art;
  c->accel = str_or_null (j, "accel");
  c->shared_fs = str_or_null (j, "shared_fs");
  c->tsc_khz = (long)json_integer_value (json_object_get (j, "tsc_khz"));
  c->tsc_reliable = json_is_true (json_object_get (j, "tsc_reliable"));
  c->boot_timeout_ms = json_integer_value (json_object_get (j, "boot_timeout_ms"));
  c->terminal = json_is_true (json_object_get (j, "terminal"));
  c->console_socket = str_or_null (j, "console_socket");
  c->console_receiver = json_is_true (json_object_get (j, "console_receiver")) ? FD_CONSOLE : -1;
  c->tap_fd = json_is_true (json_object_get (j, "tap")) ? FD_TAP : -1;
  c->mac = str_or_null (j, "mac");
  c->net_config = str_or_null (j, "net_config");
  c->report_fd = EXEC_SELF_REPORT_FD;
  for (int k = 0; k < 3; k++)
    c->stdio[k] = k; /* exec_self gave us the container's */
  c->debug = json_is_true (json_object_get (j, "debug"));
  c->cgroup_parent = str_or_null (j, "cgroup_parent");
  c->jail_id_base = json_integer_value (json_object_get (j, "jail_id_base"));
  c->template = json_is_true (json_object_get (j, "template"));
  if (c->id == NULL || c->state_dir == NULL || c->rootfs == NULL || c->accel == NULL || art.kernel == NULL
      || art.initrd == NULL || art.qemu == NULL || c->sizing.memory_mb <= 0 || c->sizing.cpus <= 0)
    return runhv_error (err, "the VM supervisor's configuration is malformed (a required field is missing)");
  log_set_level ((enum log_level)json_integer_value (json_object_get (j, "log_level")));
  return 0;
}

void
supervisor_exec_main (void)
{
  static struct supervisor_config cfg;
  runhv_error_t err = NULL;
  json_t *j = exec_self_start ("runhv-vm-supervisor", UVM_SUPERVISOR_ARGV1);

  if (config_from_json (j, &cfg, &err) < 0)
    sync_fail (EXEC_SELF_REPORT_FD, &err);
  json_decref (j);
  {
    char go = 0;
    if (TEMP_FAILURE_RETRY (recv (EXEC_SELF_REPORT_FD, &go, 1, 0)) != 1 || go != SUPERVISOR_GO[0])
      _exit (1); /* create died before it recorded us: leave no trace */
  }
  /* The VM's log keeps what the supervisor has to say; a terminal
     container's stderr is not ours to write to.  */
  if (log_init (cfg.vmm_log, LOG_FORMAT_TEXT, log_get_level (), &err) < 0)
    runhv_error_release (&err);
  log_set_stderr (!cfg.terminal);
  supervisor_main (&cfg);
}

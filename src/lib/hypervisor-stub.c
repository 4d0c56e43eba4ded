/* Hypervisor isolation lands with the utility VM backend; until then,
   choosing it is a clear error, never a silent fallback to a process.  */
#include "backend.h"

static int
unavailable (struct runtime_context *ctx, struct container *c, const struct create_options *o, runhv_error_t *err)
{
  (void) ctx;
  (void) c;
  (void) o;
  return runhv_error (err, "hypervisor isolation is not available in this build (use --isolation=process)");
}

static enum container_status
stopped (struct runtime_context *ctx, struct container *c)
{
  (void) ctx;
  (void) c;
  return STATUS_STOPPED;
}

static int
nothing (struct runtime_context *ctx, struct container *c, runhv_error_t *err)
{
  (void) ctx;
  (void) c;
  (void) err;
  return 0;
}

const struct backend_ops hypervisor_backend = {
  .name = "hypervisor",
  .create = unavailable,
  .status = stopped,
  .destroy = nothing,
};

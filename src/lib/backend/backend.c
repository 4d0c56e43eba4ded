/* What the runtime and every backend share beyond backend.h's types: the
   container record's save, the runtime's configuration, the names of the
   states.  Below the backends, so that they never call up into the
   runtime (docs/architecture.md).  */
#include "backend/backend.h"
#include "backend/runtime-context.h"
#include "core/banned.h"

const char *
container_status_name (enum container_status s)
{
  static const char *const names[] = { "creating", "created", "running", "paused", "stopped" };
  return (size_t)s < sizeof (names) / sizeof (names[0]) ? names[s] : "unknown";
}

void
process_handle_release (struct process_handle *h)
{
  if (h != NULL && h->release != NULL)
    h->release (h);
}

int
runtime_config (struct runtime_context *ctx, struct runhv_config **out, runhv_error_t *err)
{
  if (ctx->config == NULL && runhv_config_load (ctx->config_path, &ctx->config, err) < 0)
    return -1;
  *out = ctx->config;
  return 0;
}

int
container_save (struct runtime_context *ctx, struct container *c, runhv_error_t *err)
{
  return state_save (ctx->root, c->state, err);
}

/* What the runtime shares with its own files (container-events.c) and its
   backends, and not with front ends, which name containers by id through
   runtime.h: the container record, opened with its lock held and saved,
   and the runtime's configuration.  */
#ifndef RUNHV_RUNTIME_INTERNAL_H
#define RUNHV_RUNTIME_INTERNAL_H

#include "backend.h"
#include "config.h"
#include "error.h"
#include "runtime-context.h"

/* The runhv.toml of ctx, loaded on first use and owned by ctx.  */
int runtime_config (struct runtime_context *ctx, struct runhv_config **out, runhv_error_t *err);

/* Open a container with its state locked; close with container_free.  */
int container_open (struct runtime_context *ctx, const char *id, struct container **out, runhv_error_t *err);
void container_free (struct container *c);
int container_save (struct runtime_context *ctx, struct container *c, runhv_error_t *err);
enum container_status container_status (struct runtime_context *ctx, struct container *c);

#endif

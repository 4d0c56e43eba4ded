/* What the runtime shares with its own files (container-events.c) and its
   backends, and not with front ends, which name containers by id through
   runtime.h: the container record, opened with its lock held and saved,
   and the runtime's configuration.  */
#ifndef RUNHV_RUNTIME_INTERNAL_H
#define RUNHV_RUNTIME_INTERNAL_H

#include "backend/backend.h"
#include "core/config.h"
#include "core/error.h"
#include "backend/runtime-context.h"

/* Open a container with its state locked; close with container_free.  */
int container_open (struct runtime_context *ctx, const char *id, struct container **out, runhv_error_t *err);
void container_free (struct container *c);
enum container_status container_status (struct runtime_context *ctx, struct container *c);

#endif

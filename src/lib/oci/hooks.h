/* OCI hooks: run with the container state on stdin, bounded by their
   timeout, their output captured for the error message.  */
#ifndef RUNHV_HOOKS_H
#define RUNHV_HOOKS_H

#include <jansson.h>
#include <sys/types.h>

#include "core/error.h"
#include "oci/spec.h"

/* The state document the spec hands to hooks and prints for `state`.  */
json_t *oci_state_json (const char *id, const char *status, pid_t pid, const char *bundle, json_t *annotations);

int hooks_run (const struct oci_spec *spec, enum oci_hook_kind kind, const char *state_json, runhv_error_t *err);
const char *hooks_kind_name (enum oci_hook_kind kind);

#endif

/* The container's seccomp filter: built from linux.seccomp before exec,
   while errors can still be reported, and loaded as the very last step.  */
#ifndef RUNHV_SECCOMP_FILTER_H
#define RUNHV_SECCOMP_FILTER_H

#include <jansson.h>
#include <sys/types.h>

#include "core/error.h"
#include "oci/spec.h"

struct seccomp_filter;

/* *out stays NULL when the spec has no seccomp section.  */
int seccomp_filter_build (const struct oci_seccomp *s, struct seccomp_filter **out, runhv_error_t *err);
/* Load the filter into the calling thread; a NULL filter loads nothing.
 *listener is the SCMP_ACT_NOTIFY listener fd, or -1 without one.  */
int seccomp_filter_load (struct seccomp_filter *f, int *listener, runhv_error_t *err);
/* Hand the notify listener of process `pid` to linux.seccomp.listenerPath
   with the container's OCI state (runc's seccomp agent protocol).  */
int seccomp_send_listener (const struct oci_seccomp *s, pid_t pid, json_t *state, int listener, runhv_error_t *err);
void seccomp_filter_free (struct seccomp_filter *f);
/* The OCI features document's linux.seccomp: what a profile may use here. */
json_t *seccomp_features_json (void);

#endif

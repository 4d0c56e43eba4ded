/* The container's seccomp filter: built from linux.seccomp before exec,
   while errors can still be reported, and loaded as the very last step.  */
#ifndef RUNHV_SECCOMP_FILTER_H
#define RUNHV_SECCOMP_FILTER_H

#include "error.h"
#include "spec.h"

struct seccomp_filter;

/* *out stays NULL when the spec has no seccomp section.  */
int seccomp_filter_build (const struct oci_seccomp *s, struct seccomp_filter **out, runhv_error_t *err);
/* Load the filter into the calling thread; a NULL filter loads nothing.  */
int seccomp_filter_load (struct seccomp_filter *f, runhv_error_t *err);
void seccomp_filter_free (struct seccomp_filter *f);

#endif

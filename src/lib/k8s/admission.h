/* Kubernetes AdmissionReview (admission.k8s.io/v1) for runhv-webhook: parse a
   review, decide whether the pod gets hypervisor isolation, and build the
   response with its JSONPatch.  No network and no global state, so the fuzz
   target and the unit tests drive exactly what the server runs.  */
#ifndef RUNHV_K8S_ADMISSION_H
#define RUNHV_K8S_ADMISSION_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

/* The API server's own limit on a request body (3 MiB): anything larger
   cannot be a review it sent.  */
#define ADMISSION_MAX_BODY (3 * 1024 * 1024)

#define ADMISSION_API_VERSION "admission.k8s.io/v1"
#define ADMISSION_MUTATED_ANNOTATION "runhv-runtimeclass-mutating-webhook"
#define ADMISSION_ISOLATION_LABEL "runhv.io/isolation"

/* Why a pod was left alone; the first rule that matches, in this order.  */
enum admission_skip
{
  ADMISSION_SKIP_NONE = 0,      /* mutated */
  ADMISSION_SKIP_KIND,          /* not a core/v1 Pod */
  ADMISSION_SKIP_OPERATION,     /* not CREATE */
  ADMISSION_SKIP_NAMESPACE,     /* --exclude-namespace */
  ADMISSION_SKIP_RUNTIME_CLASS, /* spec.runtimeClassName already set */
  ADMISSION_SKIP_LABEL,         /* runhv.io/isolation: process */
  ADMISSION_SKIP_HOST_NETWORK,
  ADMISSION_SKIP_HOST_PID,
  ADMISSION_SKIP_HOST_IPC,
  ADMISSION_SKIP_PRIVILEGED, /* any container, init or ephemeral */
  ADMISSION_SKIP_OS,         /* spec.os, nodeSelector or required affinity rule out linux */
  ADMISSION_SKIP__COUNT,
};

/* The metric label for a reason ("runtime_class_set", ...).  */
const char *admission_skip_name (enum admission_skip skip);

struct admission_config
{
  const char *runtime_class;       /* the class to set */
  char *const *exclude_namespaces; /* NULL-terminated, may be NULL */
};

struct admission_result
{
  char *uid;
  enum admission_skip skip;
  char *patch; /* JSONPatch text when mutated, else NULL */
};

/* Parse body as an AdmissionReview request and decide.  -1 with a one-line
   err (the HTTP 400 reason) when it is not a well-formed v1 review.  */
int admission_review (const char *body, size_t len, const struct admission_config *cfg, struct admission_result *out,
                      runhv_error_t *err);
/* The AdmissionReview response for r, as compact JSON; caller frees.  */
char *admission_response_json (const struct admission_result *r);
void admission_result_release (struct admission_result *r);

/* RFC 6901: "~" → "~0", "/" → "~1"; caller frees.  */
/* A Kubernetes name: a DNS-1123 label (dots false, at most 63) or
   subdomain (dots true, at most 253) of lower-case letters, digits, '-'
   (and '.'), starting and ending alphanumeric.  */
bool k8s_name_valid (const char *s, size_t max_len, bool dots);
char *json_pointer_escape (const char *token);
/* RFC 4648 base64 with padding; caller frees.  */
char *base64_encode (const void *data, size_t len);

#endif

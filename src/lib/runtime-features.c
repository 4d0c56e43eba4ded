/* The parts of `runhv features` that the libraries and the host decide. */
#include "runtime.h"

#include "uvm/host.h"
#include "runtime-internal.h"
#include "process/seccomp-filter.h"
#include "process/security.h"
#include "core/banned.h"

void
runtime_features_get (struct runtime_context *ctx, struct runtime_features *out)
{
  struct runhv_config *cfg = NULL;
  struct uvm_artifacts art;
  runhv_error_t ignored = NULL;

  out->capabilities = security_capability_names ();
  out->seccomp = seccomp_features_json ();
  /* Not being able to tell is an answer too: no.  */
  out->hypervisor_available
    = runtime_config (ctx, &cfg, &ignored) == 0 && uvm_artifacts_find (cfg, &art, &ignored) == 0;
  if (out->hypervisor_available)
    uvm_artifacts_release (&art);
  runhv_error_release (&ignored);
}

void
runtime_features_release (struct runtime_features *f)
{
  json_decref (f->capabilities);
  json_decref (f->seccomp);
  f->capabilities = f->seccomp = NULL;
}

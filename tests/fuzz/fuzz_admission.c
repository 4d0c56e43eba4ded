/* libFuzzer entry for runhv-webhook's AdmissionReview reader
   (admission_review), which sees every byte the network sends: no crash,
   no leak, every rejection one line, and every answer well-formed JSON that
   echoes the uid and carries a patch exactly when the pod was mutated.  */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "k8s/admission.h"
#include "core/util.h"
#include "core/banned.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static char *const excluded[] = { "legacy", "kube-system", NULL };

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const struct admission_config cfg = { .runtime_class = "runhv-hypervisor", .exclude_namespaces = excluded };
  struct admission_result r;
  runhv_error_t err = NULL;
  json_t *resp, *patch;
  char *text;

  if (admission_review ((const char *)data, size, &cfg, &r, &err) < 0)
    {
      if (err == NULL || err->msg == NULL || strchr (err->msg, '\n') != NULL)
        abort ();
      runhv_error_release (&err);
      return 0;
    }
  if (r.uid == NULL || r.uid[0] == '\0' || (r.skip == ADMISSION_SKIP_NONE) != (r.patch != NULL))
    abort ();
  text = admission_response_json (&r);
  resp = json_loads (text, 0, NULL);
  if (resp == NULL
      || strcmp (json_string_value (json_object_get (json_object_get (resp, "response"), "uid")), r.uid) != 0)
    abort ();
  if (r.patch != NULL)
    {
      patch = json_loads (r.patch, 0, NULL);
      if (!json_is_array (patch) || json_array_size (patch) != 2)
        abort ();
      json_decref (patch);
    }
  json_decref (resp);
  free (text);
  admission_result_release (&r);
  return 0;
}

/* libFuzzer entry for the config.json reader (oci_spec_parse_buffer), the
   parser that sees every byte of a bundle: no crash, no leak, and every
   rejection is one line.  A parsed spec must also survive what the runtime
   does with it next (resources to JSON and back).  */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oci/spec.h"
#include "core/util.h"
#include "core/banned.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct oci_spec *s = NULL;
  runhv_error_t err = NULL;
  if (oci_spec_parse_buffer ((const char *)data, size, "config.json", &s, &err) < 0)
    {
      if (err == NULL || err->msg == NULL || strchr (err->msg, '\n') != NULL)
        abort ();
      runhv_error_release (&err);
      return 0;
    }
  if (s->process == NULL || s->process->args == NULL || s->process->args[0] == NULL)
    abort ();
  if (s->resources != NULL)
    {
      json_t *j = oci_resources_to_json (s->resources);
      struct oci_resources *back = NULL;
      if (oci_resources_parse (j, "resources", &back, &err) < 0)
        abort (); /* what we wrote ourselves must read back */
      oci_resources_free (back);
      json_decref (j);
    }
  oci_spec_free (s);
  return 0;
}

/* libFuzzer entry for the agent protocol, as both ends read it: a byte
   stream cut into frames, JSON payloads, requests and events validated, statistics decoded.
   Every input must be accepted or refused without a crash, a leak or an
   allocation larger than the frame limit.  */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/agent-proto.h"
#include "core/stats.h"
#include "core/util.h"
#include "core/banned.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct frame_reader r;
  struct frame f;
  runhv_error_t err = NULL;
  int got;
  frame_reader_init (&r);
  /* in two pieces, as a socket may deliver it */
  frame_reader_feed (&r, data, size / 2);
  frame_reader_feed (&r, data + size / 2, size - size / 2);
  while ((got = frame_reader_next (&r, &f, &err)) == 1)
    {
      json_t *j = NULL;
      if (f.len > AGENT_PROTO_MAX_PAYLOAD)
        abort ();
      if (f.type != FRAME_REQUEST && f.type != FRAME_RESPONSE && f.type != FRAME_EVENT)
        continue;
      if (proto_json (&f, &j, &err) < 0)
        {
          runhv_error_release (&err);
          continue;
        }
      if (f.type == FRAME_REQUEST)
        {
          enum agent_op op;
          if (proto_validate_request (j, &op, &err) < 0)
            runhv_error_release (&err);
        }
      else if (f.type == FRAME_EVENT)
        {
          if (proto_validate_event (j, &err) < 0)
            runhv_error_release (&err);
        }
      else if (proto_check_response (j, &err) < 0)
        runhv_error_release (&err);
      else if (json_object_get (j, "stats") != NULL)
        {
          /* the host decodes a VM container's statistics from this */
          struct container_stats st;
          if (container_stats_from_json (json_object_get (j, "stats"), &st, &err) < 0)
            {
              if (err == NULL || strchr (err->msg, '\n') != NULL)
                abort ();
              runhv_error_release (&err);
            }
          else
            {
              char *text = container_stats_runc_json (&st);
              if (text == NULL)
                abort ();
              free (text);
              container_stats_release (&st);
            }
        }
      json_decref (j);
    }
  if (got < 0)
    {
      if (err == NULL || strchr (err->msg, '\n') != NULL)
        abort ();
      runhv_error_release (&err);
    }
  frame_reader_release (&r);
  return 0;
}

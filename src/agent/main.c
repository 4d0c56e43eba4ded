/* runhv-agent: /init of the utility VM's initramfs.  */
#include <stdio.h>
#include <unistd.h>

#include "agent.h"
#include "core/log.h"
#include "core/banned.h"

int
main (void)
{
  struct agent_boot b = { .finished = false };
  runhv_error_t err = NULL;
  int port;

  log_set_ident ("runhv-agent");
  log_init (NULL, LOG_FORMAT_TEXT, LOG_LEVEL_WARNING, &err);
  if (getpid () != 1)
    {
      fprintf (stderr, "runhv-agent: runs as PID 1 of the utility VM only\n");
      return 1;
    }
  port = agent_boot (&b, &err);
  if (port < 0)
    {
      log_error ("boot: %s", err->msg);
      agent_poweroff ();
    }
  if (agent_serve (&b, port, &err) < 0)
    log_error ("%s", err->msg);
  agent_poweroff ();
}

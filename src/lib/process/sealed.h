/* CVE-2019-5736: a container that can reach the runtime's binary through
   /proc/<pid>/exe of a runtime process inside it (or through #!/proc/self/exe)
   could overwrite it on the host.  Commands that put a process into a
   container first re-execute themselves from a sealed, read-only memfd copy. */
#ifndef RUNHV_SEALED_H
#define RUNHV_SEALED_H

#include <stdbool.h>

#include "error.h"

bool sealed_binary_is_sealed (void);
/* Returns only on failure.  */
int sealed_binary_reexec (char **argv, runhv_error_t *err);

#endif

/* Sealed memfds: copies that nobody, not even their creator, can change.

   CVE-2019-5736: a container that can reach the runtime's binary through
   /proc/<pid>/exe of a runtime process inside it (or through a
   #!/proc/self/exe script it makes the runtime exec) could overwrite that
   binary on the host.  Every process the library puts into a container is
   therefore exec'd from a sealed copy of the binary (process/init.c), so
   what the container can reach is the copy, which refuses writes.

   The same seals make a helper's configuration (JSON) something the helper
   can trust was written by its parent and not changed since.  */
#ifndef RUNHV_SEALED_H
#define RUNHV_SEALED_H

#include <jansson.h>

#include "core/error.h"

/* The running binary as a read-only descriptor nobody can change
   (close-on-exec), to exec through /proc/self/fd: a sealed memfd copy, or,
   when the binary cannot change already (a sealed memfd, or a file the
   kernel keeps immutable: the utility VM's agent marks its own so at
   boot), the binary itself; under TCG the copy cost each create and exec
   in a VM ~15 ms.  */
int sealed_self_binary (runhv_error_t *err);
/* j, encoded, in a sealed memfd (close-on-exec).  */
int sealed_json_fd (json_t *j, runhv_error_t *err);
/* The JSON in fd, a sealed memfd from sealed_json_fd; fd is closed.  A
   descriptor that is anything else is refused (someone ran a helper mode
   by hand).  */
json_t *sealed_json_read (int fd, runhv_error_t *err);

#endif

/* containerd-shim-runhv-v1: containerd's shim v2 for runtime_type
   io.containerd.runhv.v1.  One shim per pod (or per lone container); it
   serves containerd's task API over ttrpc and runs each container through
   the runtime library with the isolation its handler's runhv.toml asks
   for.  */
#ifndef RUNHV_SHIM_H
#define RUNHV_SHIM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "error.h"
#include "runtime.h"

struct shim_flags
{
  const char *namespace_;
  const char *address;        /* containerd's gRPC socket */
  const char *publish_binary; /* containerd, for `publish` */
  const char *id;
  const char *bundle;
  bool debug;
};

/* The runtime root the shim's containers live under: `runhv diag list`
   (default root) sees them.  */
#define SHIM_RUNTIME_ROOT "/run/runhv"

/* unix:///run/containerd/s/<sha256(address/namespace/group)>, the way
   containerd's own shims name their sockets.  */
char *shim_socket_path (const char *address, const char *ns, const char *group);
/* The pod a container belongs to (CRI's sandbox-id), else its own id.  */
char *shim_group_of (const char *bundle, const char *id);

int shim_cmd_start (const struct shim_flags *f, char **argv, runhv_error_t *err);
int shim_cmd_delete (const struct shim_flags *f, runhv_error_t *err);
int shim_serve (const struct shim_flags *f, int listen_fd, runhv_error_t *err);

/* I/O of a process: containerd's FIFOs (or nothing), opened for the
   container.  */
struct shim_io
{
  int stdin_fifo;   /* containerd's stdin FIFO, which the shim relays, or -1 */
  int stdin_pipe;   /* the shim's end of the container's stdin, or -1 */
  int stdout_fd, stderr_fd; /* containerd's FIFOs (or /dev/null) */
  int child[3];     /* what the process gets as 0, 1, 2 */
  bool terminal;
  int master;       /* with a terminal: the pty master, relayed to the FIFOs */
  int console_sock[2];
};

int shim_io_open (const char *in, const char *out, const char *errp, bool terminal, struct shim_io *io,
                  runhv_error_t *err);
/* After the process has its copies: keep only what the shim relays.  */
void shim_io_created (struct shim_io *io);
void shim_io_close (struct shim_io *io);

#endif

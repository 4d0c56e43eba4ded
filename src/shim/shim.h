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

#include "core/error.h"
#include <poll.h>
#include <protobuf-c/protobuf-c.h>

#include "mount.pb-c.h"
#include "runtime.h"
#include "oci/spec.h"

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
  int stdin_fifo;           /* containerd's stdin FIFO, which the shim relays, or -1 */
  int stdin_pipe;           /* the shim's end of the container's stdin, or -1 */
  int stdout_fd, stderr_fd; /* containerd's FIFOs (or /dev/null) */
  int child[3];             /* what the process gets as 0, 1, 2 */
  bool terminal;
  int master; /* with a terminal: the pty master, relayed to the FIFOs */
  int console_sock[2];
};

/* Where the process's output and input stand: the shim's relays.  */
int shim_io_open (const char *in, const char *out, const char *errp, bool terminal, struct shim_io *io,
                  runhv_error_t *err);
/* After the process has its copies: keep only what the shim relays.  */
void shim_io_created (struct shim_io *io);
void shim_io_close (struct shim_io *io);

/* ---- the serving shim (service.c) ---------------------------------- */

enum shim_proc_status
{
  SHIM_PROC_CREATED,
  SHIM_PROC_RUNNING,
  SHIM_PROC_STOPPED,
};

struct ttrpc_call;
struct shim_task;

struct shim_waiter
{
  struct shim_waiter *next;
  struct ttrpc_call *call;
};

/* A process containerd knows: a container's own (exec_id NULL) or an
   exec'd one.  */
struct shim_process
{
  struct shim_process *next;
  struct shim_task *task;
  char *exec_id;
  struct oci_process *spec; /* an exec's, until Start */
  pid_t pid;                /* the host process the shim waits for (a VM's: its VMM, shown only) */
  /* A process in a VM this shim hosts: no host process stands for it, its
     exit is heard on vm.wait_fd.  */
  bool in_vm;
  struct process_handle vm;
  char exec_ref[RUNHV_EXEC_REF_MAX];
  enum shim_proc_status status;
  int exit_status;
  struct timespec exited_at;
  char *stdin_path, *stdout_path, *stderr_path;
  bool terminal;
  struct shim_io io;
  bool stdin_closing; /* CloseIO: close once what is buffered is written */
  bool master_eof;
  uint8_t in_buf[8192];
  size_t in_len, in_off;
  uint8_t out_buf[16384];
  size_t out_len, out_off;
  struct shim_waiter *waiters;
};

struct shim_task
{
  struct shim_task *next;
  char *id, *bundle, *isolation;
  char *config_path; /* the handler's runhv.toml (runtime options) */
  struct runtime_context ctx;
  char **mounted; /* rootfs mounts the shim made, innermost last */
  bool paused;
  uint64_t oom_kills; /* OOM kills reported; a container's cgroup is new, so from 0 */
  int oom_fd;         /* runtime_oom_watch, -1 where the host cannot see OOMs */
  struct shim_process *init;
  struct shim_process *execs;
};

struct shim_publisher;

struct shim
{
  const struct shim_flags *flags;
  struct ttrpc_server *server;
  struct shim_task *tasks;
  struct shim_publisher *pub;
  int sigfd;
  bool quit;
  char *socket_path;
};

int shim_service_register (struct shim *s, runhv_error_t *err);
/* Reap exited children and settle their processes.  */
void shim_reap (struct shim *s);
/* Relay stdio and watch VM processes' exits: fill pollfds for what needs
   watching, then act on them. */
size_t shim_relay_pollfds (struct shim *s, struct pollfd *p, struct shim_process **who, size_t max);
void shim_relay_handle (struct shim *s, struct pollfd *p, struct shim_process **who, size_t n);
void shim_free_tasks (struct shim *s);

/* ---- events (publish.c) -------------------------------------------- */

/* Events go to containerd's ttrpc address ($TTRPC_ADDRESS) as
   containerd.services.events.ttrpc.v1.Events/Forward; ones that cannot be
   delivered yet (containerd restarting) wait in a bounded queue.  */
/* Events to $TTRPC_ADDRESS, else through containerd's publish binary
   (-publish-binary, with -address), else nowhere (with a warning).  */
struct shim_publisher *shim_publisher_new (const char *ttrpc_address, const char *publish_binary,
                                           const char *grpc_address, const char *ns);
void shim_publisher_free (struct shim_publisher *p);
/* Queue topic/event (type_url "containerd.events.<Name>") and try to send. */
void shim_publish (struct shim_publisher *p, const char *topic, const char *type_url, const ProtobufCMessage *msg);
/* Retry what is queued; true while something still waits.  */
bool shim_publisher_flush (struct shim_publisher *p);
size_t shim_publisher_pending (const struct shim_publisher *p);

/* ---- rootfs (rootfs.c) --------------------------------------------- */

/* Mount containerd's rootfs mounts on <bundle>/rootfs; *mounted lists the
   mount points for shim_rootfs_unmount.  Nothing stays mounted on error. */
int shim_rootfs_mount (const char *bundle, Containerd__Types__Mount **mounts, size_t n, char ***mounted,
                       runhv_error_t *err);
void shim_rootfs_unmount (char ***mounted);

#endif

/* `containerd-shim-runhv-v1 -id ID -bundle DIR delete`: containerd's
   cleanup of a task whose shim is gone (killed, crashed, or lost in a
   reboot).  Whatever the runtime still has of the container goes: its
   processes, VM, cgroup, state; then the rootfs mount.  containerd reads a
   DeleteResponse from stdout.  */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "core/log.h"
#include "shim.h"
#include "shim.pb-c.h"
#include "proto/ttrpc.h"
#include "core/util.h"
#include "core/banned.h"

int
shim_cmd_delete (const struct shim_flags *f, runhv_error_t *err)
{
  struct runtime_context ctx;
  Containerd__Task__V2__DeleteResponse resp = CONTAINERD__TASK__V2__DELETE_RESPONSE__INIT;
  Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
  cleanup_free char *bundle = f->bundle ? xstrdup (f->bundle) : getcwd (NULL, 0);
  cleanup_free char *rootfs = NULL;
  cleanup_free uint8_t *buf = NULL;
  size_t len;
  runhv_error_t derr = NULL;

  if (f->id == NULL || state_validate_id (f->id, err) < 0)
    return f->id == NULL ? runhv_error (err, "delete: -id is required") : -1;
  if (runtime_context_init (&ctx, SHIM_RUNTIME_ROOT, err) < 0)
    return -1;
  if (runtime_delete (&ctx, f->id, true, &derr) < 0)
    {
      /* Already gone is what delete is for.  */
      if (derr->status != ENOENT)
        log_warning ("delete %s: %s", f->id, derr->msg);
      runhv_error_release (&derr);
    }
  runtime_context_release (&ctx);
  if (bundle != NULL)
    {
      rootfs = xasprintf ("%s/rootfs", bundle);
      if (umount2 (rootfs, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
        log_warning ("unmount `%s`: %s", rootfs, strerror (errno));
    }
  ttrpc_timestamp_now (&ts);
  resp.exited_at = &ts;
  resp.exit_status = 128 + SIGKILL;
  len = protobuf_c_message_get_packed_size (&resp.base);
  buf = xmalloc0 (len + 1);
  protobuf_c_message_pack (&resp.base, buf);
  if (write_all (STDOUT_FILENO, buf, len) < 0)
    return runhv_make_error (err, errno, "write the delete response");
  return 0;
}

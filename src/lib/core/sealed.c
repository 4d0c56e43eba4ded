#include "core/sealed.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/json.h"
#include "core/util.h"
#include "core/banned.h"

#define REQUIRED_SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)
#define JSON_MAX (16u << 20)

/* Nothing can write it: sealed, or immutable (clearing FS_IMMUTABLE_FL
   takes CAP_LINUX_IMMUTABLE in the host's user namespace, which no
   container gets by default, and a path to the file, which the container
   has only through /proc/PID/exe of a non-dumpable process).  */
static bool
cannot_change (int fd)
{
  int seals = fcntl (fd, F_GET_SEALS);
  int flags = 0;
  if (seals >= 0 && (seals & REQUIRED_SEALS) == REQUIRED_SEALS)
    return true;
  return ioctl (fd, FS_IOC_GETFLAGS, &flags) == 0 && (flags & FS_IMMUTABLE_FL) != 0;
}

int
sealed_self_binary (runhv_error_t *err)
{
  cleanup_close int src = open ("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  cleanup_close int mfd = -1;
  struct stat st;
  off_t off = 0;

  if (src < 0)
    return runhv_make_error (err, errno, "open /proc/self/exe");
  if (cannot_change (src))
    return steal_fd (&src);
  if (fstat (src, &st) < 0)
    return runhv_make_error (err, errno, "stat /proc/self/exe");
  mfd = memfd_create ("runhv", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (mfd < 0)
    return runhv_make_error (err, errno, "memfd_create");
  while (off < st.st_size)
    {
      ssize_t n = sendfile (mfd, src, &off, (size_t)(st.st_size - off));
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return runhv_make_error (err, n < 0 ? errno : EIO, "copy the runhv binary into a sealed memfd");
    }
  if (fcntl (mfd, F_ADD_SEALS, REQUIRED_SEALS) < 0)
    return runhv_make_error (err, errno, "seal the runhv binary copy");
  return steal_fd (&mfd);
}

int
sealed_json_fd (json_t *j, runhv_error_t *err)
{
  cleanup_free char *text = j ? json_dumps (j, JSON_COMPACT) : NULL;
  cleanup_close int fd = -1;
  if (text == NULL)
    return runhv_error (err, "encode a helper's configuration");
  fd = memfd_create ("runhv-config", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0)
    return runhv_make_error (err, errno, "memfd_create");
  if (write_all (fd, text, strlen (text)) < 0 || fcntl (fd, F_ADD_SEALS, REQUIRED_SEALS) < 0)
    return runhv_make_error (err, errno, "write a helper's configuration");
  return steal_fd (&fd);
}

json_t *
sealed_json_read (int fd, runhv_error_t *err)
{
  cleanup_close int owned = fd;
  cleanup_free char *text = NULL;
  struct stat st;
  json_t *j = NULL;
  ssize_t n;
  int seals;

  /* Only our own spawns set this up; anyone else is told.  */
  if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode) || st.st_size <= 0 || (uint64_t)st.st_size > JSON_MAX
      || (seals = fcntl (fd, F_GET_SEALS)) < 0 || (seals & REQUIRED_SEALS) != REQUIRED_SEALS)
    {
      runhv_error (err, "this is runhv's internal helper mode: runhv starts it itself");
      return NULL;
    }
  text = xmalloc0 ((size_t)st.st_size + 1);
  n = pread (fd, text, (size_t)st.st_size, 0);
  if (n != st.st_size)
    {
      runhv_make_error (err, n < 0 ? errno : EIO, "read a helper's configuration");
      return NULL;
    }
  if (json_load_buffer (text, (size_t)n, "helper configuration", &j, err) < 0)
    return NULL;
  return j;
}

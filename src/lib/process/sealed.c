#include "sealed.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util.h"
#include "banned.h"

#define REQUIRED_SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

extern char **environ;

bool
sealed_binary_is_sealed (void)
{
  cleanup_close int fd = open ("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  int seals;
  if (fd < 0)
    return false;
  seals = fcntl (fd, F_GET_SEALS);
  return seals >= 0 && (seals & REQUIRED_SEALS) == REQUIRED_SEALS;
}

int
sealed_binary_reexec (char **argv, runhv_error_t *err)
{
  cleanup_close int src = open ("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  cleanup_close int mfd = -1;
  struct stat st;
  off_t off = 0;

  if (src < 0)
    return runhv_make_error (err, errno, "open /proc/self/exe");
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
  syscall (SYS_execveat, mfd, "", argv, environ, AT_EMPTY_PATH);
  return runhv_make_error (err, errno, "re-execute runhv from its sealed copy");
}

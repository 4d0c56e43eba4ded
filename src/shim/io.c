/* containerd's FIFOs for a process.  stdout and stderr go to the process
   directly; stdin is relayed by the shim through a pipe, because a FIFO
   read before containerd's writer opens it reads as EOF, and Linux reports
   POLLHUP on it only once a writer has come and gone.  With a terminal the
   shim holds the pty master and relays it to the FIFOs.  */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shim.h"
#include "core/util.h"
#include "core/banned.h"

static const char *
fifo_path (const char *path)
{
  if (strncmp (path, "fifo://", 7) == 0)
    return path + 7;
  return path;
}

static int
open_out (const char *path, int *out, runhv_error_t *err)
{
  const char *p;
  if (path == NULL || path[0] == '\0')
    {
      *out = open ("/dev/null", O_WRONLY | O_CLOEXEC);
      return *out < 0 ? runhv_make_error (err, errno, "open /dev/null") : 0;
    }
  if (strncmp (path, "file://", 7) == 0)
    {
      *out = open (path + 7, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
      return *out < 0 ? runhv_make_error (err, errno, "open `%s`", path + 7) : 0;
    }
  if (strstr (path, "://") != NULL && strncmp (path, "fifo://", 7) != 0)
    return runhv_error (err, "stdio `%s`: only FIFOs and file:// are supported", path);
  p = fifo_path (path);
  /* Read-write so the open cannot fail for want of a reader yet; the
     shim's copy is closed once the process has its own.  */
  *out = open (p, O_RDWR | O_CLOEXEC);
  return *out < 0 ? runhv_make_error (err, errno, "open the FIFO `%s`", p) : 0;
}

int
shim_io_open (const char *in, const char *out, const char *errp, bool terminal, struct shim_io *io, runhv_error_t *err)
{
  memset (io, 0, sizeof (*io));
  io->stdin_fifo = io->stdin_pipe = io->stdout_fd = io->stderr_fd = io->master = -1;
  io->child[0] = io->child[1] = io->child[2] = -1;
  io->console_sock[0] = io->console_sock[1] = -1;
  io->terminal = terminal;
  if (in != NULL && in[0] != '\0')
    {
      int p[2];
      io->stdin_fifo = open (fifo_path (in), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
      if (io->stdin_fifo < 0)
        {
          runhv_make_error (err, errno, "open the FIFO `%s`", in);
          goto fail;
        }
      if (!terminal)
        {
          if (pipe2 (p, O_CLOEXEC) < 0)
            {
              runhv_make_error (err, errno, "pipe");
              goto fail;
            }
          io->child[0] = p[0];
          io->stdin_pipe = p[1];
          set_nonblock (io->stdin_pipe, true);
        }
    }
  else
    io->child[0] = open ("/dev/null", O_RDONLY | O_CLOEXEC);
  if (open_out (out, &io->stdout_fd, err) < 0 || open_out (errp, &io->stderr_fd, err) < 0)
    goto fail;
  io->child[1] = io->stdout_fd;
  io->child[2] = io->stderr_fd;
  if (terminal && socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, io->console_sock) < 0)
    {
      runhv_make_error (err, errno, "socketpair");
      goto fail;
    }
  return 0;
fail:
  shim_io_close (io);
  return -1;
}

void
shim_io_created (struct shim_io *io)
{
  /* The process holds its stdio now.  A terminal's output reaches the
     FIFOs through the master, so those stay; otherwise only the stdin
     relay does.  */
  if (io->child[0] >= 0)
    close (io->child[0]);
  io->child[0] = -1;
  if (!io->terminal)
    {
      if (io->stdout_fd >= 0)
        close (io->stdout_fd);
      if (io->stderr_fd >= 0)
        close (io->stderr_fd);
      io->stdout_fd = io->stderr_fd = -1;
    }
  else if (io->stderr_fd >= 0)
    {
      close (io->stderr_fd);
      io->stderr_fd = -1;
    }
  io->child[1] = io->child[2] = -1;
  for (int i = 0; i < 2; i++)
    if (io->console_sock[i] >= 0)
      {
        close (io->console_sock[i]);
        io->console_sock[i] = -1;
      }
}

void
shim_io_close (struct shim_io *io)
{
  int *fds[] = { &io->stdin_fifo, &io->stdin_pipe,      &io->stdout_fd,       &io->stderr_fd,
                 &io->master,     &io->console_sock[0], &io->console_sock[1], &io->child[0] };
  for (size_t i = 0; i < sizeof (fds) / sizeof (fds[0]); i++)
    if (*fds[i] >= 0)
      {
        close (*fds[i]);
        *fds[i] = -1;
      }
}

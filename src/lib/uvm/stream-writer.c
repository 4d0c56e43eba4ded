#include "uvm/stream-writer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util.h"
#include "core/banned.h"

void
stream_writer_init (struct stream_writer *w, int fd)
{
  struct stat st;
  *w = (struct stream_writer){ .fd = fd, .wfd = fd };
  if (fd < 0 || fstat (fd, &st) < 0)
    return;
  if (S_ISSOCK (st.st_mode))
    w->sock = true;
  else if (S_ISFIFO (st.st_mode) || S_ISCHR (st.st_mode))
    {
      /* O_NONBLOCK on the given fd would change it for everyone sharing
         it (a shell's terminal): open the same pipe or tty anew.  */
      char path[64];
      int nfd;
      snprintf (path, sizeof (path), "fd/%d", fd);
      nfd = openat (proc_self_dir (), path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
      if (nfd >= 0)
        w->wfd = nfd;
    }
  /* A regular file never makes a writer wait for a reader.  */
}

void
stream_writer_release (struct stream_writer *w)
{
  if (w->wfd >= 0 && w->wfd != w->fd)
    close (w->wfd);
  free (w->buf);
  *w = (struct stream_writer){ .fd = -1, .wfd = -1 };
}

size_t
stream_writer_pending (const struct stream_writer *w)
{
  return w->len - w->off;
}

static ssize_t
write_some (struct stream_writer *w, const uint8_t *p, size_t n)
{
  if (w->sock)
    return send (w->wfd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
  return write (w->wfd, p, n);
}

bool
stream_writer_flush (struct stream_writer *w)
{
  while (!w->broken && w->off < w->len)
    {
      ssize_t r = write_some (w, w->buf + w->off, w->len - w->off);
      if (r > 0)
        w->off += (size_t)r;
      else if (r < 0 && errno == EINTR)
        continue;
      else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        break;
      else
        w->broken = true; /* nobody reads: drop, as a closed pipe would */
    }
  if (w->broken || w->off == w->len)
    w->len = w->off = 0;
  else if (w->off > (1u << 20))
    {
      memmove (w->buf, w->buf + w->off, w->len - w->off);
      w->len -= w->off;
      w->off = 0;
    }
  return !w->broken;
}

void
stream_writer_push (struct stream_writer *w, const void *data, size_t n)
{
  if (w->broken || w->wfd < 0)
    return;
  w->buf = xrealloc (w->buf, w->len + n);
  memcpy (w->buf + w->len, data, n);
  w->len += n;
  stream_writer_flush (w);
}

#include "sync.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util.h"
#include "banned.h"

struct wire
{
  int32_t type;
  int32_t value;
  char text[4000];
};

int
sync_send (int sock, int type, int value, const char *text, int fd)
{
  struct wire w = { .type = type, .value = value };
  struct msghdr msg = { 0 };
  struct iovec iov;
  size_t len = offsetof (struct wire, text);
  union
  {
    char buf[CMSG_SPACE (sizeof (int))];
    struct cmsghdr align;
  } u;

  if (text != NULL)
    {
      size_t tl = strlen (text);
      if (tl > sizeof (w.text) - 1)
        tl = sizeof (w.text) - 1;
      memcpy (w.text, text, tl);
      len += tl + 1;
    }
  iov.iov_base = &w;
  iov.iov_len = len;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (fd >= 0)
    {
      struct cmsghdr *c;
      memset (&u, 0, sizeof (u));
      msg.msg_control = u.buf;
      msg.msg_controllen = sizeof (u.buf);
      c = CMSG_FIRSTHDR (&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN (sizeof (int));
      memcpy (CMSG_DATA (c), &fd, sizeof (int));
    }
  return TEMP_FAILURE_RETRY (sendmsg (sock, &msg, MSG_NOSIGNAL)) < 0 ? -1 : 0;
}

int
sync_recv (int sock, struct sync_msg *m)
{
  struct wire w;
  struct msghdr msg = { 0 };
  struct iovec iov = { .iov_base = &w, .iov_len = sizeof (w) };
  union
  {
    char buf[CMSG_SPACE (sizeof (struct ucred)) + CMSG_SPACE (sizeof (int) * 4)];
    struct cmsghdr align;
  } u;
  ssize_t n;

  memset (m, 0, sizeof (*m));
  m->fd = -1;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = u.buf;
  msg.msg_controllen = sizeof (u.buf);
  n = TEMP_FAILURE_RETRY (recvmsg (sock, &msg, MSG_CMSG_CLOEXEC));
  if (n < 0)
    return -1;
  if (n == 0)
    {
      errno = 0;
      return -1;
    }
  for (struct cmsghdr *c = CMSG_FIRSTHDR (&msg); c != NULL; c = CMSG_NXTHDR (&msg, c))
    {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS)
        {
          struct ucred cr;
          memcpy (&cr, CMSG_DATA (c), sizeof (cr));
          m->sender = cr.pid;
        }
      else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
        {
          size_t nfds = (c->cmsg_len - CMSG_LEN (0)) / sizeof (int);
          int fds[4];
          if (nfds > 4)
            nfds = 4;
          memcpy (fds, CMSG_DATA (c), nfds * sizeof (int));
          for (size_t i = 0; i < nfds; i++)
            {
              if (m->fd < 0)
                m->fd = fds[i];
              else
                close (fds[i]);
            }
        }
    }
  if ((size_t)n < offsetof (struct wire, text))
    {
      if (m->fd >= 0)
        close (m->fd);
      m->fd = -1;
      errno = EPROTO;
      return -1;
    }
  m->type = w.type;
  m->value = w.value;
  if ((size_t)n > offsetof (struct wire, text))
    {
      size_t tl = (size_t)n - offsetof (struct wire, text);
      memcpy (m->text, w.text, tl);
      m->text[tl < sizeof (m->text) ? tl : sizeof (m->text) - 1] = '\0';
    }
  return 0;
}

void
sync_fail (int sock, runhv_error_t *err)
{
  sync_send (sock, SYNC_ERROR, (err && *err) ? (*err)->status : EINVAL, (err && *err) ? (*err)->msg : "unknown error",
             -1);
  _exit (1);
}

int
sync_expect (int sock, int type, runhv_error_t *err)
{
  struct sync_msg m;
  if (sync_recv (sock, &m) < 0)
    {
      if (errno == 0)
        return runhv_error (err, "the runtime went away");
      return runhv_make_error (err, errno, "read from the runtime");
    }
  if (m.fd >= 0)
    close (m.fd);
  if (m.type != type)
    return runhv_error (err, "protocol error: expected message %d, got %d", type, m.type);
  return 0;
}

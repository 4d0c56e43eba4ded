#include "core/sync.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "core/util.h"
#include "core/banned.h"

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
  size_t len = offsetof (struct wire, text);

  if (text != NULL)
    {
      size_t tl = strlen (text);
      if (tl > sizeof (w.text) - 1)
        tl = sizeof (w.text) - 1;
      memcpy (w.text, text, tl);
      len += tl + 1;
    }
  return fd_send (sock, &w, len, &fd, fd >= 0 ? 1 : 0);
}

int
sync_recv (int sock, struct sync_msg *m)
{
  struct wire w;
  ssize_t n;

  memset (m, 0, sizeof (*m));
  n = fd_recv (sock, &w, sizeof (w), &m->fd, 1, NULL, &m->sender);
  if (n < 0)
    return -1;
  if (n == 0)
    {
      errno = 0;
      return -1;
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

int
sync_send_error (int sock, const runhv_error_t err)
{
  return sync_send (sock, SYNC_ERROR, err ? err->status : EINVAL, err ? err->msg : "unknown error", -1);
}

void
sync_fail (int sock, runhv_error_t *err)
{
  sync_send_error (sock, err ? *err : NULL);
  _exit (1);
}

int
sync_msg_error (struct sync_msg *m, runhv_error_t *err)
{
  if (m->fd >= 0)
    close (m->fd);
  m->fd = -1;
  /* The message is the child's whole error, strerror included.  */
  runhv_make_error (err, 0, "%s", m->text);
  if (err != NULL && *err != NULL)
    (*err)->status = m->value;
  return -1;
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

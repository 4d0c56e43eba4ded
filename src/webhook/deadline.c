/* A whole-request deadline per connection.  libmicrohttpd's connection
   timeout counts idle time only, so a client that drips one byte every
   couple of seconds (into the TLS handshake, the headers or a 3 MiB body)
   never trips it and holds its connection for hours.  Here every
   connection gets a budget from its accept, renewed when a request is
   answered; the main thread sweeps once a second and shuts down the
   socket of any connection over budget, which libmicrohttpd then sees as
   a closed peer and cleans up in its own thread.

   The sweep holds a duplicate of each socket, closed only after
   libmicrohttpd reports the connection closed: shutdown() can therefore
   never reach a descriptor number that has been reused.  */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "webhook.h"
#include "core/log.h"
#include "core/util.h"
#include "core/banned.h"

struct deadline_conn
{
  struct deadline_conn *prev, *next;
  int fd; /* our duplicate of the connection's socket */
  uint64_t deadline_ns;
  bool cut;
};

static pthread_mutex_t deadline_lock = PTHREAD_MUTEX_INITIALIZER;
static struct deadline_conn *deadline_head;
static uint64_t deadline_budget_ns;

void
deadline_set_budget (uint64_t seconds)
{
  deadline_budget_ns = seconds * 1000000000ull;
}

void
deadline_notify_connection (void *cls, struct MHD_Connection *conn, void **socket_context,
                            enum MHD_ConnectionNotificationCode code)
{
  struct deadline_conn *e = *socket_context;
  (void)cls;
  if (code == MHD_CONNECTION_NOTIFY_STARTED)
    {
      const union MHD_ConnectionInfo *info = MHD_get_connection_info (conn, MHD_CONNECTION_INFO_CONNECTION_FD);
      e = xmalloc0 (sizeof *e);
      e->fd = info != NULL ? fcntl (info->connect_fd, F_DUPFD_CLOEXEC, 3) : -1;
      if (e->fd < 0)
        log_warning ("connection without a request deadline (duplicating its socket failed: %s)", strerror (errno));
      e->deadline_ns = monotonic_ns () + deadline_budget_ns;
      pthread_mutex_lock (&deadline_lock);
      e->next = deadline_head;
      if (deadline_head != NULL)
        deadline_head->prev = e;
      deadline_head = e;
      pthread_mutex_unlock (&deadline_lock);
      *socket_context = e;
      return;
    }
  if (code != MHD_CONNECTION_NOTIFY_CLOSED || e == NULL)
    return;
  pthread_mutex_lock (&deadline_lock);
  if (e->prev != NULL)
    e->prev->next = e->next;
  else
    deadline_head = e->next;
  if (e->next != NULL)
    e->next->prev = e->prev;
  pthread_mutex_unlock (&deadline_lock);
  if (e->fd >= 0)
    close (e->fd);
  free (e);
  *socket_context = NULL;
}

void
deadline_request_answered (struct MHD_Connection *conn)
{
  const union MHD_ConnectionInfo *info = MHD_get_connection_info (conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  struct deadline_conn *e = info != NULL ? info->socket_context : NULL;
  if (e == NULL)
    return;
  pthread_mutex_lock (&deadline_lock);
  e->deadline_ns = monotonic_ns () + deadline_budget_ns;
  pthread_mutex_unlock (&deadline_lock);
}

unsigned int
deadline_sweep (void)
{
  uint64_t now = monotonic_ns ();
  unsigned int cut = 0;
  pthread_mutex_lock (&deadline_lock);
  for (struct deadline_conn *e = deadline_head; e != NULL; e = e->next)
    if (!e->cut && e->fd >= 0 && now > e->deadline_ns)
      {
        shutdown (e->fd, SHUT_RDWR);
        e->cut = true;
        cut++;
      }
  pthread_mutex_unlock (&deadline_lock);
  return cut;
}

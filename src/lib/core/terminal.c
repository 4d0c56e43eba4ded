#include "core/terminal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/util.h"
#include "core/banned.h"

int
terminal_set_size (int fd, unsigned rows, unsigned cols)
{
  struct winsize ws = { .ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols };
  if (rows == 0 && cols == 0)
    return 0;
  return ioctl (fd, TIOCSWINSZ, &ws);
}

int
terminal_open_pty (int *master, int *slave, char *name, size_t name_size, runhv_error_t *err)
{
  cleanup_close int m = -1;
  int unlock = 0;

  m = open ("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (m < 0)
    return runhv_make_error (err, errno, "process.terminal: open /dev/ptmx (mount devpts on /dev/pts with ptmxmode)");
  if (ioctl (m, TIOCSPTLCK, &unlock) < 0)
    return runhv_make_error (err, errno, "process.terminal: unlock the pty");
  if (ptsname_r (m, name, name_size) != 0)
    return runhv_make_error (err, errno, "process.terminal: name the pty");
  *slave = open (name, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (*slave < 0)
    return runhv_make_error (err, errno, "process.terminal: open `%s`", name);
  *master = steal_fd (&m);
  return 0;
}

int
terminal_setup_in_container (unsigned rows, unsigned cols, bool bind_console, int *master, runhv_error_t *err)
{
  cleanup_close int m = -1, slave = -1;
  char name[64];

  if (terminal_open_pty (&m, &slave, name, sizeof (name), err) < 0)
    return -1;
  terminal_set_size (slave, rows, cols);
  if (bind_console)
    {
      int f = open ("/dev/console", O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
      if (f >= 0)
        {
          close (f);
          if (mount (name, "/dev/console", NULL, MS_BIND, NULL) < 0)
            return runhv_make_error (err, errno, "process.terminal: bind `%s` on /dev/console", name);
        }
    }
  if (ioctl (slave, TIOCSCTTY, 0) < 0)
    return runhv_make_error (err, errno, "process.terminal: make the pty the controlling terminal");
  for (int i = 0; i < 3; i++)
    if (dup2 (slave, i) < 0)
      return runhv_make_error (err, errno, "process.terminal: set up stdio");
  *master = steal_fd (&m);
  return 0;
}

static int
send_master (int sock, int master, runhv_error_t *err)
{
  char name[64] = "/dev/pts/ptmx";
  if (ptsname_r (master, name, sizeof (name)) != 0)
    snprintf (name, sizeof (name), "/dev/ptmx");
  if (fd_send (sock, name, strlen (name), &master, 1) < 0)
    return runhv_make_error (err, errno, "send the terminal through the console socket");
  return 0;
}

static int
send_master_to_path (const char *path, int master, runhv_error_t *err)
{
  cleanup_close int sock = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  if (sock < 0)
    return runhv_make_error (err, errno, "create a socket");
  if (strlen (path) >= sizeof (addr.sun_path))
    return runhv_error (err, "--console-socket: path `%s` is too long for a unix socket", path);
  memcpy (addr.sun_path, path, strlen (path) + 1);
  if (connect (sock, (struct sockaddr *)&addr, sizeof (addr)) < 0)
    return runhv_make_error (err, errno, "--console-socket: connect to `%s`", path);
  return send_master (sock, master, err);
}

int
terminal_hand_over (int receiver, const char *console_socket, int master, runhv_error_t *err)
{
  if (receiver >= 0)
    return send_master (receiver, master, err);
  if (console_socket != NULL)
    return send_master_to_path (console_socket, master, err);
  return runhv_error (err, "process.terminal is true but no --console-socket was given (pass one, or set terminal "
                           "to false)");
}

int
terminal_open_relay (int receiver, const char *console_socket, runhv_error_t *err)
{
  cleanup_close int master = -1, slave = -1;
  struct terminal_saved ignored;
  char name[64];

  if (terminal_open_pty (&master, &slave, name, sizeof (name), err) < 0)
    return -1;
  terminal_make_raw (slave, &ignored);
  if (terminal_hand_over (receiver, console_socket, master, err) < 0)
    return -1;
  return steal_fd (&slave);
}

int
terminal_receive_master (int sock, int *master, runhv_error_t *err)
{
  char name[128];
  struct pollfd p = { .fd = sock, .events = POLLIN };
  *master = -1;
  if (poll (&p, 1, 0) <= 0)
    return runhv_error (err, "no terminal came back from the container process");
  if (fd_recv (sock, name, sizeof (name), master, 1, NULL, NULL) < 0)
    return runhv_make_error (err, errno, "receive the terminal");
  if (*master < 0)
    return runhv_error (err, "no terminal came back from the container process");
  return 0;
}

int
terminal_make_raw (int fd, struct terminal_saved *saved)
{
  struct termios raw;
  saved->saved = false;
  if (!isatty (fd) || tcgetattr (fd, &saved->tio) < 0)
    return 0;
  saved->saved = true;
  raw = saved->tio;
  cfmakeraw (&raw);
  return tcsetattr (fd, TCSANOW, &raw);
}

void
terminal_restore (int fd, const struct terminal_saved *saved)
{
  if (saved->saved)
    tcsetattr (fd, TCSANOW, &saved->tio);
}

/* Pseudo-terminals for containers: created inside the container (so the
   pty belongs to its devpts), master handed out through a console socket. */
#ifndef RUNHV_TERMINAL_H
#define RUNHV_TERMINAL_H

#include <stdbool.h>
#include <termios.h>

#include "error.h"

/* In the container: open a pty, make the slave our controlling terminal and
   stdio, bind it on /dev/console when that exists; return the master.  */
int terminal_setup_in_container (unsigned rows, unsigned cols, bool bind_console, int *master, runhv_error_t *err);
/* Send the master to the socket at `path` (runc's console-socket contract:
   one SCM_RIGHTS message whose payload is the pty's name).  */
int terminal_send_to_socket (const char *path, int master, runhv_error_t *err);
int terminal_send_fd (int sock, int master, runhv_error_t *err);
int terminal_set_size (int fd, unsigned rows, unsigned cols);

struct terminal_saved
{
  bool saved;
  struct termios tio;
};
/* Raw mode for a foreground relay; restore afterwards.  */
int terminal_make_raw (int fd, struct terminal_saved *saved);
void terminal_restore (int fd, const struct terminal_saved *saved);

#endif

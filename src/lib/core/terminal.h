/* Pseudo-terminals: for a container, created inside it (so the pty belongs
   to its devpts) with the master handed out through a console socket; for a
   VM, created on the host and relayed to the guest's.  The runtime, the
   shim and the agent receive the master that was handed over.  */
#ifndef RUNHV_TERMINAL_H
#define RUNHV_TERMINAL_H

#include <stdbool.h>
#include <stddef.h>
#include <termios.h>

#include "core/error.h"

/* A new pty from /dev/ptmx: its master and its slave (both O_CLOEXEC, the
   slave not yet anyone's controlling terminal), and the slave's name.  */
int terminal_open_pty (int *master, int *slave, char *name, size_t name_size, runhv_error_t *err);
/* In the container: open a pty, make the slave our controlling terminal and
   stdio, bind it on /dev/console when that exists; return the master.  */
int terminal_setup_in_container (unsigned rows, unsigned cols, bool bind_console, int *master, runhv_error_t *err);
/* On the host, for a terminal the guest's pty drives: a pty whose master
   goes where terminal_hand_over sends it; returns its slave, in raw mode
   (the guest's line discipline is the one that counts).  */
int terminal_open_relay (int receiver, const char *console_socket, runhv_error_t *err);
/* Give the master to whoever asked: the receiver socket when there is one
   (>= 0), else the console socket at that path (runc's contract: one
   SCM_RIGHTS message whose payload is the pty's name).  */
int terminal_hand_over (int receiver, const char *console_socket, int master, runhv_error_t *err);
/* The master terminal_hand_over sent to `sock`, the receiver end: it is
   there already (sent before create or exec returned), so no wait.  */
int terminal_receive_master (int sock, int *master, runhv_error_t *err);
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

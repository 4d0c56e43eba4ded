#include "uvm/proxy.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "uvm/exec-self.h"
#include "core/json.h"
#include "core/log.h"
#include "uvm/session-channel.h"
#include "uvm/supervisor.h"
#include "core/sync.h"
#include "core/terminal.h"
#include "core/util.h"
#include "core/banned.h"

/* The exec'd proxy's one extra descriptor (exec-self.h has the rest).  */
#define FD_CONSOLE EXEC_SELF_FIRST_EXTRA

static void __attribute__ ((noreturn)) proxy_run (const struct uvm_proxy_args *a, int report)
{
  runhv_error_t err = NULL;
  cleanup_close int conn = -1;
  int fds[3];
  size_t nfds;
  json_t *resp = NULL;
  sigset_t mask;
  cleanup_close int sfd = -1;
  static const int forwarded[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGCONT };
  prctl (PR_SET_NAME, "runhv-vmproxy", 0, 0, 0);

  if (a->terminal)
    {
      /* Our pty: the master to whoever asked, the slave to the supervisor,
         which relays it to the guest's.  */
      fds[0] = terminal_open_relay (a->console_receiver, a->console_socket, &err);
      if (fds[0] < 0)
        sync_fail (report, &err);
      nfds = 1;
    }
  else
    {
      for (int i = 0; i < 3; i++)
        fds[i] = i;
      nfds = 3;
    }
  conn = uvm_client_connect (a->vm_dir, &err);
  /* Set up (its pty made and sent, the supervisor reached): from here it
     only talks to the supervisor and writes its exit record.  */
  if (conn < 0 || proxy_confine (&err) < 0)
    sync_fail (report, &err);
  if (uvm_client_call (conn, a->request, fds, nfds, &resp, &err) < 0)
    sync_fail (report, &err);
  sync_send (report, SYNC_READY, (int)json_integer_value (json_object_get (resp, "pid")), NULL, -1);
  json_decref (resp);
  close (report);
  /* The supervisor holds the process's stdio now: ours go, so that its
     reader sees EOF when the process ends, not when we do.  */
  if (a->terminal)
    close (fds[0]);
  else
    {
      int null = open ("/dev/null", O_RDWR | O_CLOEXEC);
      for (int i = 0; null >= 0 && i < 3; i++)
        dup2 (null, i);
      if (null > 2)
        close (null);
    }

  sigemptyset (&mask);
  for (size_t i = 0; i < sizeof (forwarded) / sizeof (forwarded[0]); i++)
    sigaddset (&mask, forwarded[i]);
  sigprocmask (SIG_BLOCK, &mask, NULL);
  sfd = signalfd (-1, &mask, SFD_CLOEXEC);
  for (;;)
    {
      struct pollfd p[2] = { { .fd = conn, .events = POLLIN }, { .fd = sfd, .events = POLLIN } };
      if (poll (p, 2, -1) < 0 && errno != EINTR)
        _exit (UVM_EXIT_VM_DIED);
      if (p[1].revents & POLLIN)
        {
          struct signalfd_siginfo si;
          if (read (sfd, &si, sizeof (si)) == sizeof (si))
            {
              json_t *r = NULL;
              runhv_error_t ignored = NULL;
              json_t *kreq = json_pack ("{s:s,s:s,s:i}", "op", "kill", "id", a->id, "signal", (int)si.ssi_signo);
              if (a->exec_id)
                json_object_set_new (kreq, "exec_id", json_string (a->exec_id));
              if (uvm_request (a->vm_dir, kreq, &r, &ignored) < 0)
                runhv_error_release (&ignored);
              json_decref (kreq);
              if (r)
                json_decref (r);
            }
        }
      if (p[0].revents & (POLLIN | POLLHUP))
        {
          json_t *ev = NULL;
          int status = UVM_EXIT_VM_DIED; /* the VM went away under it */
          if (uvm_client_event (conn, &ev, &err) == 0)
            {
              status = (int)json_integer_value (json_object_get (ev, "status"));
              json_decref (ev);
            }
          if (a->exit_file)
            {
              cleanup_json json_t *j = json_pack ("{s:i}", "status", status);
              cleanup_free char *text = json_dumps (j, JSON_COMPACT);
              write_file_atomic (a->exit_file, text, strlen (text), 0600, NULL);
            }
          _exit (status);
        }
    }
}

pid_t
uvm_proxy_spawn (const struct uvm_proxy_args *a, int report, runhv_error_t *err)
{
  cleanup_json json_t *j = json_pack (
    "{s:s,s:s,s:o,s:O,s:b,s:o,s:b,s:o}", "vm_dir", a->vm_dir, "id", a->id, "exec_id",
    a->exec_id ? json_string (a->exec_id) : json_null (), "request", a->request, "terminal", a->terminal,
    "console_socket", a->console_socket ? json_string (a->console_socket) : json_null (), "console_receiver",
    a->console_receiver >= 0, "exit_file", a->exit_file ? json_string (a->exit_file) : json_null ());
  /* a terminal process's stdio is the pty: the caller's stays with it */
  return exec_self ("runhv-vmproxy", UVM_PROXY_ARGV1, j, a->terminal ? NULL : a->stdio, report, &a->console_receiver, 1,
                    err);
}

void
uvm_proxy_exec_main (void)
{
  runhv_error_t err = NULL;
  json_t *j = exec_self_start ("runhv-vmproxy", UVM_PROXY_ARGV1);
  struct uvm_proxy_args a = { 0 };
  a.vm_dir = json_string_value (json_object_get (j, "vm_dir"));
  a.id = json_string_value (json_object_get (j, "id"));
  a.exec_id = json_string_value (json_object_get (j, "exec_id"));
  a.request = json_object_get (j, "request");
  a.terminal = json_is_true (json_object_get (j, "terminal"));
  a.console_socket = json_string_value (json_object_get (j, "console_socket"));
  a.console_receiver = json_is_true (json_object_get (j, "console_receiver")) ? FD_CONSOLE : -1;
  a.exit_file = json_string_value (json_object_get (j, "exit_file"));
  if (a.vm_dir == NULL || a.id == NULL || !json_is_object (a.request)
      || (a.terminal && a.console_socket == NULL && a.console_receiver < 0))
    {
      runhv_error (&err, "the proxy's configuration is malformed");
      sync_fail (EXEC_SELF_REPORT_FD, &err);
    }
  proxy_run (&a, EXEC_SELF_REPORT_FD);
}

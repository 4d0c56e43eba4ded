/* containerd-shim-runhv-v1: the thin command around the shim.  containerd
   runs it as `... -namespace NS -address ADDR -publish-binary BIN -id ID
   [-debug] start` (find or start the pod's shim, print its address),
   `... -bundle DIR delete` (clean up after a shim that died), and the
   started shim serves without a subcommand, its socket on fd 3.  Go's flag
   syntax: one or two dashes, value as the next word or after `=`.  */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/log.h"
#include "runhv-config.h"
#include "shim.h"
#include "proto/ttrpc.h"
#include "core/util.h"
#include "runtime.h"
#include "core/banned.h"

#define MAX_POLL 256

static void
usage (FILE *f)
{
  fputs ("usage: containerd-shim-runhv-v1 -namespace NS -address ADDR -id ID [-publish-binary BIN] [-bundle DIR]\n"
         "                                [-debug] [start | delete]\n"
         "containerd's shim v2 for runhv (runtime_type io.containerd.runhv.v1); containerd runs it.\n"
         "  start    find or start the pod's shim, print its ttrpc address\n"
         "  delete   remove a task whose shim is gone (run in the bundle directory)\n"
         "  -v       print the version\n",
         f);
}

static int
parse_flags (int argc, char **argv, struct shim_flags *f, const char **cmd, runhv_error_t *err)
{
  static const char *const valued[] = { "namespace", "address", "publish-binary", "id", "bundle", "socket" };
  *cmd = NULL;
  for (int i = 1; i < argc; i++)
    {
      const char *a = argv[i], *name, *eq;
      const char *value = NULL;
      size_t nlen;
      bool known = false;
      if (a[0] != '-')
        {
          if (*cmd != NULL)
            return runhv_error (err, "unexpected argument `%s` (one of start or delete)", a);
          *cmd = a;
          continue;
        }
      name = a + (a[1] == '-' ? 2 : 1);
      eq = strchr (name, '=');
      nlen = eq ? (size_t)(eq - name) : strlen (name);
      if ((nlen == 5 && strncmp (name, "debug", 5) == 0))
        {
          f->debug = eq == NULL || strcmp (eq + 1, "true") == 0;
          continue;
        }
      if ((nlen == 1 && name[0] == 'v') || (nlen == 7 && strncmp (name, "version", 7) == 0))
        {
          *cmd = "version";
          continue;
        }
      if ((nlen == 1 && name[0] == 'h') || (nlen == 4 && strncmp (name, "help", 4) == 0))
        {
          *cmd = "help";
          continue;
        }
      for (size_t k = 0; k < sizeof (valued) / sizeof (valued[0]); k++)
        if (strlen (valued[k]) == nlen && strncmp (valued[k], name, nlen) == 0)
          {
            known = true;
            if (eq)
              value = eq + 1;
            else if (i + 1 < argc)
              value = argv[++i];
            else
              return runhv_error (err, "flag -%s needs a value", valued[k]);
            switch (k)
              {
              case 0:
                f->namespace_ = value;
                break;
              case 1:
                f->address = value;
                break;
              case 2:
                f->publish_binary = value;
                break;
              case 3:
                f->id = value;
                break;
              case 4:
                f->bundle = value;
                break;
              default:
                break; /* -socket: newer containerd's hint, we name our own */
              }
          }
      if (!known)
        return runhv_error (err, "unknown flag `%s` (see -help)", a);
    }
  return 0;
}

/* containerd reads the shim's log from a FIFO named `log` in the bundle it
   started the shim in; without a reader (run by hand) logs go nowhere.  */
static void
open_log (bool debug)
{
  int fd = open ("log", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd >= 0)
    {
      set_nonblock (fd, false);
      dup2 (fd, STDERR_FILENO);
      close (fd);
    }
  log_set_ident ("containerd-shim-runhv-v1");
  log_set_level (debug ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
}

static char *
socket_path_of (int fd)
{
  struct sockaddr_un a;
  socklen_t len = sizeof (a);
  memset (&a, 0, sizeof (a));
  if (getsockname (fd, (struct sockaddr *)&a, &len) < 0 || a.sun_family != AF_UNIX || a.sun_path[0] == '\0')
    return NULL;
  return xstrndup (a.sun_path, sizeof (a.sun_path));
}

int
shim_serve (const struct shim_flags *f, int listen_fd, runhv_error_t *err)
{
  struct shim s = { .flags = f, .sigfd = -1 };
  sigset_t mask;
  int ret = -1;

  open_log (f->debug);
  /* Orphans of the containers come to us; their exits must not be lost. */
  prctl (PR_SET_CHILD_SUBREAPER, 1);
  /* ps shows what each process of a pod is: the shim (hosting a VM pod's
     VM) and QEMU (runhv-uvm-<id>), or a process pod's containers.  */
  prctl (PR_SET_NAME, "runhv-shim", 0, 0, 0);
  signal (SIGPIPE, SIG_IGN);
  sigemptyset (&mask);
  sigaddset (&mask, SIGCHLD);
  sigaddset (&mask, SIGTERM);
  sigaddset (&mask, SIGINT);
  sigprocmask (SIG_BLOCK, &mask, NULL);
  s.sigfd = signalfd (-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (s.sigfd < 0)
    return runhv_make_error (err, errno, "signalfd");
  s.socket_path = socket_path_of (listen_fd);
  s.pub = shim_publisher_new (getenv ("TTRPC_ADDRESS"), f->publish_binary, f->address, f->namespace_);
  if (ttrpc_server_new (&s.server, err) < 0 || shim_service_register (&s, err) < 0
      || ttrpc_server_add_listener (s.server, listen_fd, err) < 0)
    goto out;
  /* The bundle goes away with its task; nothing of ours is relative.  */
  if (chdir ("/") < 0)
    log_warning ("chdir /: %s", strerror (errno));
  log_info ("serving %s for namespace %s (runhv %s)", s.socket_path ? s.socket_path : "fd 3",
            f->namespace_ ? f->namespace_ : "?", RUNHV_VERSION);

  while (!s.quit)
    {
      /* ttrpc, signals, the relays, then the hosted VMs' sessions.  */
      size_t nvm = runtime_vms_pollfds (NULL, 0);
      cleanup_free struct pollfd *p = xmalloc0 ((MAX_POLL + nvm) * sizeof (*p));
      struct shim_process *who[MAX_POLL];
      size_t n;
      int timeout = shim_publisher_pending (s.pub) > 0 ? 1000 : -1;
      /* A VM terminal's size is looked at every 250 ms (ResizePty sets
         the host pty's, which the session passes on).  */
      if (nvm > 0 && (timeout < 0 || timeout > 250))
        timeout = 250;
      p[0] = (struct pollfd){ .fd = ttrpc_server_fd (s.server), .events = POLLIN };
      p[1] = (struct pollfd){ .fd = s.sigfd, .events = POLLIN };
      n = shim_relay_pollfds (&s, p + 2, who, MAX_POLL - 2);
      nvm = runtime_vms_pollfds (p + 2 + n, nvm);
      if (poll (p, n + 2 + nvm, timeout) < 0 && errno != EINTR)
        {
          runhv_make_error (err, errno, "poll");
          goto out;
        }
      /* First: any runtime call below may run a session's loop itself. */
      runtime_vms_dispatch (p + 2 + n, nvm);
      if (p[1].revents & POLLIN)
        {
          struct signalfd_siginfo si;
          bool term = false;
          while (read (s.sigfd, &si, sizeof (si)) == sizeof (si))
            if (si.ssi_signo != SIGCHLD)
              term = true;
          shim_reap (&s);
          if (term && s.tasks == NULL)
            s.quit = true;
        }
      shim_relay_handle (&s, p + 2, who, n);
      if (p[0].revents & POLLIN && ttrpc_server_process (s.server, 0, err) < 0)
        goto out;
      if (shim_publisher_pending (s.pub) > 0)
        shim_publisher_flush (s.pub);
    }
  {
    runhv_error_t ignored = NULL;
    if (ttrpc_server_flush (s.server, 2000, &ignored) < 0)
      runhv_error_release (&ignored);
  }
  shim_publisher_flush (s.pub);
  log_info ("shutting down");
  ret = 0;
out:
  if (s.socket_path)
    unlink (s.socket_path);
  free (s.socket_path);
  shim_free_tasks (&s);
  /* A VM still hosted here ends with us (QEMU would anyway: it dies with
     its parent), its end on record.  */
  runtime_vms_end_all ();
  if (s.server)
    ttrpc_server_free (s.server);
  shim_publisher_free (s.pub);
  if (s.sigfd >= 0)
    close (s.sigfd);
  return ret;
}

int
main (int argc, char **argv)
{
  struct shim_flags f = { 0 };
  const char *cmd = NULL;
  runhv_error_t err = NULL;
  int ret;

  /* (The library's exec'd helpers are dispatched before main: a shim
     hosts its VMs itself, but the binary stays one runhv can exec.)  */
  log_set_ident ("containerd-shim-runhv-v1");
  if (parse_flags (argc, argv, &f, &cmd, &err) < 0)
    {
      fprintf (stderr, "containerd-shim-runhv-v1: %s\n", err->msg);
      runhv_error_release (&err);
      return 2;
    }
  if (cmd != NULL && strcmp (cmd, "version") == 0)
    {
      printf ("containerd-shim-runhv-v1:\n  Version: %s\n  Revision: %s\n", RUNHV_VERSION, RUNHV_COMMIT);
      return 0;
    }
  if (cmd != NULL && strcmp (cmd, "help") == 0)
    {
      usage (stdout);
      return 0;
    }
  if (cmd == NULL)
    {
      struct stat st;
      if (fstat (3, &st) < 0 || !S_ISSOCK (st.st_mode))
        {
          fputs ("containerd-shim-runhv-v1: containerd runs this shim (`start` hands the serving shim its socket "
                 "as fd 3); see -help\n",
                 stderr);
          return 2;
        }
      ret = shim_serve (&f, 3, &err);
    }
  else if (strcmp (cmd, "start") == 0)
    ret = shim_cmd_start (&f, argv, &err);
  else if (strcmp (cmd, "delete") == 0)
    ret = shim_cmd_delete (&f, &err);
  else
    {
      fprintf (stderr, "containerd-shim-runhv-v1: unknown command `%s` (start or delete)\n", cmd);
      return 2;
    }
  if (ret < 0)
    {
      log_error ("%s", err->msg);
      fprintf (stderr, "containerd-shim-runhv-v1: %s\n", err->msg);
      runhv_error_release (&err);
      return 1;
    }
  return 0;
}

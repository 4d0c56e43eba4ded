/* The VM supervisor (supervisor.h): the exec'd program that hosts a VM's
   session (session.h) for runhv's CLI and podman.  A process of its own so
   that a caller waiting for a pid (conmon, `runhv run`) waits for the
   container: it exits with the container's status, forwards the signals it
   gets to it, and is confined once the VM runs.  */
#include "uvm/supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/json.h"
#include "core/log.h"
#include "core/sync.h"
#include "core/util.h"
#include "uvm/session.h"
#include "core/banned.h"

/* podman top (psgo) lists the processes of the /proc it finds in the
   mount namespace of the container's pid, the supervisor's: the host's
   /proc, every process on the host.  Over it goes the procfs of QEMU's
   pid namespace, so that a VM container's processes, as the host sees
   them, are its VM (and `ps` arguments run ps in the guest).  A procfs
   shows the pid namespace of the task that mounts it: a child enters
   QEMU's, and its child, a member of it, mounts in our mount namespace
   (a slave of the host's: nothing propagates back).  We read ourselves
   through proc_self_dir from then on.  */
static int
show_vm_as_proc (pid_t qemu, runhv_error_t *err)
{
  cleanup_free char *path = xasprintf ("/proc/%d/ns/pid", (int)qemu);
  cleanup_close int pidns = open (path, O_RDONLY | O_CLOEXEC);
  int status;
  pid_t child;
  if (pidns < 0)
    return runhv_make_error (err, errno, "open the VMM's pid namespace");
  if (proc_self_dir () < 0)
    return runhv_make_error (err, errno, "open /proc/self");
  child = fork ();
  if (child < 0)
    return runhv_make_error (err, errno, "fork");
  if (child == 0)
    {
      pid_t member;
      if (setns (pidns, CLONE_NEWPID) < 0)
        _exit (1);
      member = fork ();
      if (member == 0)
        _exit (mount ("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0 ? 2 : 0);
      if (member < 0 || waitpid (member, &status, 0) < 0 || !WIFEXITED (status))
        _exit (3);
      _exit (WEXITSTATUS (status));
    }
  if (waitpid (child, &status, 0) < 0 || !WIFEXITED (status) || WEXITSTATUS (status) != 0)
    return runhv_error (err, "mount the VM's procfs over the supervisor's /proc (step %d failed)",
                        WIFEXITED (status) ? WEXITSTATUS (status) : -1);
  return 0;
}

/* While the guest creates the container: nothing here needs the host's
   /proc or more than the kept capabilities from then on.  */
static int
confine_booted (pid_t vmm, runhv_error_t *err)
{
  if (show_vm_as_proc (vmm, err) < 0)
    return -1;
  return supervisor_confine (err);
}

static void __attribute__ ((noreturn)) fail_boot (const struct supervisor_config *cfg, runhv_error_t *err)
{
  sync_send_error (cfg->report_fd, *err);
  _exit (1);
}

void
supervisor_main (const struct supervisor_config *cfg)
{
  struct uvm_session *s = NULL;
  runhv_error_t err = NULL;
  sigset_t mask;
  int sfd, status = UVM_EXIT_VM_DIED;
  static const int forwarded[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT, SIGTSTP };

  {
    /* Only what the config hands over: a shim's sockets must close when
       the shim dies, not live on in its VM.  */
    const int keep[] = { cfg->report_fd, cfg->tap_fd, cfg->console_receiver, log_get_fd () };
    close_fds_except (keep, sizeof (keep) / sizeof (keep[0]));
  }
  log_set_ident ("runhv-vm-supervisor");
  {
    /* One descriptor per client and stream: take what the host allows.  */
    struct rlimit rl;
    if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max)
      {
        rl.rlim_cur = rl.rlim_max;
        setrlimit (RLIMIT_NOFILE, &rl);
      }
  }
  prctl (PR_SET_NAME, "runhv-vmsup", 0, 0, 0);
  /* Signals from the terminal are the caller's to forward, not ours.  */
  setsid ();
  sigemptyset (&mask);
  sigaddset (&mask, SIGCHLD);
  for (size_t i = 0; i < sizeof (forwarded) / sizeof (forwarded[0]); i++)
    sigaddset (&mask, forwarded[i]);
  sigprocmask (SIG_BLOCK, &mask, NULL);
  sfd = signalfd (-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  signal (SIGPIPE, SIG_IGN);

  if (uvm_session_open (cfg, false, confine_booted, &s, &err) < 0)
    fail_boot (cfg, &err);
  {
    cleanup_free char *text = json_dumps (uvm_session_info (s), JSON_COMPACT);
    sync_send (cfg->report_fd, SYNC_READY, uvm_session_vmm_pid (s), text, -1);
    close (cfg->report_fd);
  }

  while (!uvm_session_ended (s, &status))
    {
      size_t cap = 1 + uvm_session_pollfds (s, NULL, 0);
      cleanup_free struct pollfd *p = xmalloc0 (cap * sizeof (*p));
      size_t n;
      p[0] = (struct pollfd){ .fd = sfd, .events = POLLIN };
      n = uvm_session_pollfds (s, p + 1, cap - 1);
      /* A terminal's size is looked at every 250 ms.  */
      if (poll (p, (nfds_t)(n + 1), 250) < 0 && errno != EINTR)
        {
          uvm_session_end (s, UVM_EXIT_VM_DIED, "supervisor-error");
          break;
        }
      uvm_session_dispatch (s, p + 1, n);
      if (p[0].revents & POLLIN)
        {
          /* SIGCHLD reaps, the rest go to the container's init in the VM. */
          struct signalfd_siginfo si;
          while (read (sfd, &si, sizeof (si)) == sizeof (si))
            if (si.ssi_signo == SIGCHLD)
              {
                int st;
                pid_t pid;
                while ((pid = waitpid (-1, &st, WNOHANG)) > 0)
                  uvm_session_child_exited (s, pid, st);
              }
            else
              uvm_session_signal (s, (int)si.ssi_signo);
        }
    }
  uvm_session_ended (s, &status);
  _exit (status);
}

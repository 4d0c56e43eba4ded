#include "uvm/exec-self.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/json.h"
#include "core/log.h"
#include "uvm/podnet.h"
#include "uvm/proxy.h"
#include "core/sealed.h"
#include "uvm/supervisor.h"
#include "core/util.h"
#include "core/banned.h"

/* fork, put fds[i] at descriptor i (fds[i] < 0: i stays closed), close
   every other descriptor, exec.  */
static pid_t
spawn (const char *name, const char *role, const int *fds, int nfds, runhv_error_t *err)
{
  /* A clean environment: PATH, plus the test-only switches jail.c checks
     (and the sanitizers' options of a test build).  */
  static const char *const passed[]
    = { "RUNHV_TEST_VMM_PROBE", "RUNHV_TEST_PROBE_ARGS", "ASAN_OPTIONS", "UBSAN_OPTIONS" };
  enum
  {
    NPASSED = sizeof (passed) / sizeof (passed[0])
  };
  char *envbuf[NPASSED] = { NULL };
  char *envp[NPASSED + 2];
  char *const argv[] = { (char *)name, (char *)role, NULL };
  int hi[EXEC_SELF_FIRST_EXTRA + EXEC_SELF_MAX_EXTRA];
  size_t ne = 0;
  pid_t pid;

  envp[ne++] = (char *)"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (size_t i = 0; i < NPASSED; i++)
    {
      const char *v = getenv (passed[i]);
      if (v != NULL)
        envp[ne++] = envbuf[i] = xasprintf ("%s=%s", passed[i], v);
    }
  envp[ne] = NULL;

  pid = fork ();
  if (pid != 0)
    {
      int e = errno;
      for (size_t i = 0; i < NPASSED; i++)
        free (envbuf[i]);
      if (pid < 0)
        return runhv_make_error (err, e, "fork %s", name);
      return pid;
    }

  /* The child: only async-signal-safe calls until exec.  Move every
     source out of the way first, as a source may sit on a target.  */
  for (int i = 0; i < nfds; i++)
    {
      hi[i] = -1;
      if (fds[i] >= 0 && (hi[i] = fcntl (fds[i], F_DUPFD_CLOEXEC, 64)) < 0)
        _exit (127);
    }
  for (int i = 0; i < nfds; i++)
    {
      if (hi[i] >= 0)
        {
          if (dup2 (hi[i], i) < 0)
            _exit (127);
        }
      else
        close (i);
    }
  syscall (SYS_close_range, nfds, ~0U, 0);
  {
    sigset_t none;
    sigemptyset (&none);
    sigprocmask (SIG_SETMASK, &none, NULL);
  }
  execve ("/proc/self/exe", argv, envp);
  _exit (127);
}

pid_t
exec_self (const char *name, const char *role, json_t *config, const int *stdio, int report, const int *extra,
           int nextra, runhv_error_t *err)
{
  int fds[EXEC_SELF_FIRST_EXTRA + EXEC_SELF_MAX_EXTRA];
  cleanup_close int conf = -1, devnull = -1;
  if (nextra > EXEC_SELF_MAX_EXTRA)
    return runhv_error (err, "exec_self: %d extra descriptors, at most %d", nextra, EXEC_SELF_MAX_EXTRA);
  conf = sealed_json_fd (config, err);
  if (conf < 0)
    return -1;
  if (stdio == NULL && (devnull = open ("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
    return runhv_make_error (err, errno, "open /dev/null");
  for (int i = 0; i < 3; i++)
    fds[i] = stdio == NULL ? devnull : stdio[i] >= 0 ? stdio[i] : i;
  fds[EXEC_SELF_REPORT_FD] = report;
  fds[EXEC_SELF_CONFIG_FD] = conf;
  for (int k = 0; k < nextra; k++)
    fds[EXEC_SELF_FIRST_EXTRA + k] = extra[k];
  return spawn (name, role, fds, EXEC_SELF_FIRST_EXTRA + nextra, err);
}

json_t *
exec_self_start (const char *ident, const char *role)
{
  runhv_error_t err = NULL;
  json_t *j;
  log_set_ident (ident);
  /* Dispositions an exec keeps: SIGCHLD ignored would reap our children
     (QEMU) behind our back.  */
  for (int sig = 1; sig < NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP)
      signal (sig, SIG_DFL);
  j = sealed_json_read (EXEC_SELF_CONFIG_FD, &err);
  if (j == NULL)
    {
      fprintf (stderr, "runhv: %s: %s\n", role, err->msg);
      _exit (2);
    }
  return j;
}

/* Before the program's main (), as the container-entry copy is dispatched
   (process/init-spawn.c): any program that links the backend runs its
   helper roles without having to remember to ask.  glibc passes
   constructors main ()'s arguments.  */
__attribute__ ((constructor)) static void
exec_self_dispatch (int argc, char **argv)
{
  if (argc != 2 || argv == NULL)
    return;
  if (strcmp (argv[1], UVM_SUPERVISOR_ARGV1) == 0)
    supervisor_exec_main ();
  if (strcmp (argv[1], UVM_PROXY_ARGV1) == 0)
    uvm_proxy_exec_main ();
  if (strcmp (argv[1], UVM_PODNET_ARGV1) == 0)
    podnet_exec_main ();
}

/* The pod sandbox's /pause for runhv's CRI tests (tests/lib/make-cri-images.sh
 * builds it with `cc -static -O2`): holds the pod's namespaces, reaps the
 * zombies it inherits as the pod's PID 1, and exits 0 on SIGTERM or SIGINT. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void
on_stop (int sig)
{
  (void)sig;
  stop = 1;
}

static void
on_child (int sig)
{
  (void)sig;
  int saved = errno;
  while (waitpid (-1, NULL, WNOHANG) > 0)
    ;
  errno = saved;
}

int
main (int argc, char **argv)
{
  if (argc > 1 && (strcmp (argv[1], "-v") == 0 || strcmp (argv[1], "--version") == 0))
    {
      puts ("runhv-test pause 1");
      return 0;
    }
  if (getpid () != 1)
    fprintf (stderr, "pause: warning: not running as PID 1\n");

  struct sigaction sa;
  memset (&sa, 0, sizeof sa);
  sigemptyset (&sa.sa_mask);
  sa.sa_handler = on_stop;
  if (sigaction (SIGTERM, &sa, NULL) < 0 || sigaction (SIGINT, &sa, NULL) < 0)
    {
      perror ("pause: sigaction");
      return 1;
    }
  sa.sa_handler = on_child;
  sa.sa_flags = SA_NOCLDSTOP | SA_RESTART;
  if (sigaction (SIGCHLD, &sa, NULL) < 0)
    {
      perror ("pause: sigaction");
      return 1;
    }

  /* Block the signals we wait for, so none slips in between the check of
   * `stop` and the wait (sigsuspend unblocks them atomically). */
  sigset_t block, old;
  sigemptyset (&block);
  sigaddset (&block, SIGTERM);
  sigaddset (&block, SIGINT);
  sigaddset (&block, SIGCHLD);
  sigprocmask (SIG_BLOCK, &block, &old);
  while (!stop)
    sigsuspend (&old);
  on_child (SIGCHLD);
  return 0;
}

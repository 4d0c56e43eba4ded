/* The jail's own cost: fork→exec of a binary (the time until the exec has
   happened, seen by the parent as EOF on a close-on-exec pipe) with a plain
   fork+execve and through uvm_jail_spawn (namespaces, id maps, pivot_root,
   idmapped shared tree, cgroup, seccomp).  The binary is QEMU itself, with
   -version (it prints and exits), so QEMU's own start-up is not in the
   numbers; its stdout goes to the VMM log.
   Run as root:  jail-spawn <guest dir> [runs]  */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "uvm/jail.h"

#define QEMU "/usr/bin/qemu-system-x86_64"
#include "core/util.h"

static double
now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int
cmp (const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double
plain_spawn (void)
{
  int p[2];
  char c;
  double t0 = now_ms (), t1;
  pid_t pid;
  if (pipe2 (p, O_CLOEXEC) < 0)
    exit (1);
  pid = fork ();
  if (pid == 0)
    {
      char *argv[] = { (char *)QEMU, (char *)"-version", NULL };
      int null = open ("/dev/null", O_WRONLY);
      dup2 (null, 1);
      execv (argv[0], argv);
      _exit (127);
    }
  close (p[1]);
  if (read (p[0], &c, 1) != 0)
    exit (1);
  t1 = now_ms ();
  close (p[0]);
  waitpid (pid, NULL, 0);
  return t1 - t0;
}

static double
jail_spawn (const char *guest, int i)
{
  cleanup_free char *dir = xasprintf ("/tmp/runhv-jail-bench/%d", i);
  cleanup_free char *shared = xasprintf ("%s/shared", dir), *con = xasprintf ("%s/console.log", dir),
                    *vlog = xasprintf ("%s/vmm.log", dir), *id = xasprintf ("bench%d", i);
  cleanup_free char *kernel = xasprintf ("%s/vmlinux", guest), *initrd = xasprintf ("%s/initramfs.cpio", guest);
  struct uvm_artifacts art = { .kernel = kernel, .initrd = initrd, .qemu = (char *)QEMU };
  char *argv[] = { (char *)UVM_JAIL_VMM, (char *)"-version", NULL };
  runhv_error_t err = NULL;
  int sv[2];
  pid_t pid;
  double t0, t1;
  if (mkdir_p (shared, 0755, NULL) < 0 || socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    exit (1);
  {
    struct uvm_launch l = { .id = id,
                            .art = &art,
                            .accel = "tcg",
                            .memory_mb = 128,
                            .cpus = 1,
                            .shared_dir = shared,
                            .shared_fs = "9p",
                            .agent_fd = sv[1],
                            .console_log = con,
                            .vmm_log = vlog,
                            .tap_fd = -1 };
    t0 = now_ms ();
    if (uvm_jail_spawn (&l, argv, &pid, NULL, &err) < 0)
      {
        fprintf (stderr, "jail-spawn: %s\n", err->msg);
        exit (1);
      }
    t1 = now_ms ();
  }
  waitpid (pid, NULL, 0);
  close (sv[0]);
  close (sv[1]);
  return t1 - t0;
}

int
main (int argc, char **argv)
{
  int runs = argc > 2 ? atoi (argv[2]) : 20;
  double *a = calloc ((size_t)runs, sizeof (double)), *b = calloc ((size_t)runs, sizeof (double));
  if (argc < 2 || a == NULL || b == NULL)
    {
      fprintf (stderr, "usage: jail-spawn <guest dir> [runs]\n");
      return 2;
    }
  /* The supervisor's setting: a private mount namespace, slave of the host. */
  if (unshare (CLONE_NEWNS) < 0 || mount (NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) < 0)
    return 1;
  unsetenv ("RUNHV_TEST_VMM_PROBE");
  for (int i = 0; i < runs; i++)
    {
      a[i] = plain_spawn ();
      b[i] = jail_spawn (argv[1], i);
    }
  qsort (a, (size_t)runs, sizeof (double), cmp);
  qsort (b, (size_t)runs, sizeof (double), cmp);
  printf (
    "fork->exec, %d runs: plain median %.2f ms (min %.2f, max %.2f); jailed median %.2f ms (min %.2f, max %.2f)\n",
    runs, a[runs / 2], a[0], a[runs - 1], b[runs / 2], b[0], b[runs - 1]);
  free (a);
  free (b);
  return 0;
}

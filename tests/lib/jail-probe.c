/* Exec'd by the VMM's jail instead of QEMU ($RUNHV_TEST_VMM_PROBE), with
   QEMU's fds, namespaces, cgroup, no_new_privs and seccomp filter.  It tries
   to escape and prints one line per attempt: "<attempt>: blocked (<why>)" or
   "<attempt>: OPEN".  Attempts: read /etc/shadow, read through /proc/1/root,
   and those in $RUNHV_TEST_PROBE_ARGS, space-separated: read:<path>,
   tcp:<ipv4>:<port>, udp:<ipv4>:<port>.  Run outside the jail, the same
   attempts succeed: that is the test's control.  */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int
try_read (const char *path)
{
  char buf[64];
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  ssize_t n;
  if (fd < 0)
    return printf ("read %s: blocked (%s)\n", path, strerror (errno));
  n = read (fd, buf, sizeof (buf));
  close (fd);
  if (n < 0)
    return printf ("read %s: blocked (%s)\n", path, strerror (errno));
  return printf ("read %s: OPEN\n", path);
}

static int
try_net (const char *proto, const char *spec)
{
  char host[64];
  const char *colon = strrchr (spec, ':');
  struct sockaddr_in sa = { .sin_family = AF_INET };
  bool tcp = strcmp (proto, "tcp") == 0;
  int fd, rc;
  if (colon == NULL || (size_t)(colon - spec) >= sizeof (host))
    return printf ("%s %s: bad spec\n", proto, spec);
  memcpy (host, spec, (size_t)(colon - spec));
  host[colon - spec] = '\0';
  sa.sin_port = htons ((uint16_t)atoi (colon + 1));
  if (inet_pton (AF_INET, host, &sa.sin_addr) != 1)
    return printf ("%s %s: bad address\n", proto, spec);
  fd = socket (AF_INET, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return printf ("%s %s: blocked (socket: %s)\n", proto, spec, strerror (errno));
  if (tcp)
    rc = connect (fd, (struct sockaddr *)&sa, sizeof (sa));
  else
    rc = sendto (fd, "jail-probe\n", 11, 0, (struct sockaddr *)&sa, sizeof (sa)) == 11 ? 0 : -1;
  if (rc < 0)
    printf ("%s %s: blocked (%s)\n", proto, spec, strerror (errno));
  else
    {
      if (tcp && write (fd, "jail-probe\n", 11) < 0)
        printf ("%s %s: blocked (write: %s)\n", proto, spec, strerror (errno));
      else
        printf ("%s %s: OPEN\n", proto, spec);
    }
  close (fd);
  return 0;
}

int
main (void)
{
  const char *args = getenv ("RUNHV_TEST_PROBE_ARGS");
  char *copy, *tok, *save = NULL;
  setvbuf (stdout, NULL, _IOLBF, 0);
  printf ("jail-probe: uid %d, pid %d\n", (int)getuid (), (int)getpid ());
  try_read ("/etc/shadow");
  try_read ("/proc/1/root/etc/shadow");
  if (args == NULL)
    return 0;
  copy = strdup (args);
  for (tok = strtok_r (copy, " ", &save); tok != NULL; tok = strtok_r (NULL, " ", &save))
    {
      if (strncmp (tok, "read:", 5) == 0)
        try_read (tok + 5);
      else if (strncmp (tok, "tcp:", 4) == 0)
        try_net ("tcp", tok + 4);
      else if (strncmp (tok, "udp:", 4) == 0)
        try_net ("udp", tok + 4);
      else
        printf ("%s: unknown attempt\n", tok);
    }
  free (copy);
  return 0;
}

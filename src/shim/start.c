/* `containerd-shim-runhv-v1 start`: run by containerd in the bundle
   directory for each new task.  It finds or starts the long-running shim
   of the task's pod and prints only that shim's address.  */
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/json.h"
#include "shim.h"
#include "core/util.h"
#include "core/banned.h"

char *
shim_socket_path (const char *address, const char *ns, const char *group)
{
  cleanup_free char *joined = xasprintf ("%s/%s/%s", address, ns, group);
  unsigned char d[32];
  char hex[65];
  /* filepath.Join cleans the path: collapse a doubled slash as it would. */
  for (char *p = joined; *p; p++)
    while (p[0] == '/' && p[1] == '/')
      memmove (p, p + 1, strlen (p));
  gnutls_hash_fast (GNUTLS_DIG_SHA256, joined, strlen (joined), d);
  for (int i = 0; i < 32; i++)
    snprintf (hex + 2 * i, 3, "%02x", d[i]);
  return xasprintf ("/run/containerd/s/%s", hex);
}

char *
shim_group_of (const char *bundle, const char *id)
{
  struct oci_spec *spec = NULL;
  const char *sandbox;
  char *group;
  runhv_error_t err = NULL;
  if (oci_spec_load (bundle, &spec, &err) < 0)
    {
      /* Create will say what is wrong with it; the shim is its own then.  */
      runhv_error_release (&err);
      return xstrdup (id);
    }
  /* A pod's containers share their sandbox's shim, as containerd's own
     shims group them.  */
  sandbox = oci_spec_pod_sandbox (spec);
  group = xstrdup (sandbox != NULL && state_validate_id (sandbox, NULL) == 0 ? sandbox : id);
  oci_spec_free (spec);
  return group;
}

static int
try_connect (const char *path)
{
  struct sockaddr_un a = { .sun_family = AF_UNIX };
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  snprintf (a.sun_path, sizeof (a.sun_path), "%s", path);
  if (connect (fd, (struct sockaddr *)&a, sizeof (a)) < 0)
    {
      close (fd);
      return -1;
    }
  close (fd);
  return 0;
}

int
shim_cmd_start (const struct shim_flags *f, char **argv, runhv_error_t *err)
{
  cleanup_free char *bundle = getcwd (NULL, 0);
  cleanup_free char *group = NULL, *path = NULL, *addr = NULL;
  struct sockaddr_un a = { .sun_family = AF_UNIX };
  int lfd;
  pid_t pid;

  if (bundle == NULL)
    return runhv_make_error (err, errno, "getcwd");
  if (f->namespace_ == NULL || f->address == NULL || f->id == NULL)
    return runhv_error (err, "start: -namespace, -address and -id are required (containerd passes them)");
  group = shim_group_of (bundle, f->id);
  path = shim_socket_path (f->address, f->namespace_, group);
  addr = xasprintf ("unix://%s", path);
  /* The pod's shim may run already: then this task is its too.  */
  if (strcmp (group, f->id) != 0 && try_connect (path) == 0)
    goto done;
  if (mkdir_p ("/run/containerd/s", 0700, err) < 0)
    return -1;
  lfd = socket (AF_UNIX, SOCK_STREAM, 0);
  if (lfd < 0)
    return runhv_make_error (err, errno, "socket");
  if (strlen (path) >= sizeof (a.sun_path))
    return runhv_error (err, "start: socket path `%s` is too long", path);
  memcpy (a.sun_path, path, strlen (path) + 1);
  if (bind (lfd, (struct sockaddr *)&a, sizeof (a)) < 0)
    {
      int e = errno;
      close (lfd);
      if (e == EADDRINUSE && try_connect (path) == 0)
        goto done;
      if (e == EADDRINUSE)
        {
          /* a dead shim's socket: take its place */
          unlink (path);
          return shim_cmd_start (f, argv, err);
        }
      return runhv_make_error (err, e, "bind `%s`", path);
    }
  chmod (path, 0600);
  if (listen (lfd, 64) < 0)
    return runhv_make_error (err, errno, "listen `%s`", path);
  /* The long-running shim: the same binary without `start`, in its own
     session so it outlives containerd restarts, with the socket as fd 3. */
  pid = fork ();
  if (pid < 0)
    return runhv_make_error (err, errno, "fork");
  if (pid == 0)
    {
      char **args = NULL;
      int null = open ("/dev/null", O_RDWR);
      setsid ();
      dup2 (null, 0);
      dup2 (null, 1);
      /* stderr stays: containerd reads it until start's stdout closes, and
         the serving shim logs to the bundle's log FIFO anyway */
      dup2 (null, 2);
      if (lfd != 3)
        {
          dup2 (lfd, 3);
          close (lfd);
        }
      set_cloexec (3, false);
      /* argv[0] kept: `ps` and pgrep see containerd-shim-runhv-v1 */
      strv_append (&args, argv[0]);
      for (char **p = argv + 1; *p; p++)
        if (strcmp (*p, "start") != 0)
          strv_append (&args, *p);
      execv ("/proc/self/exe", args);
      _exit (127);
    }
  close (lfd);
  {
    char buf[32];
    snprintf (buf, sizeof (buf), "%d", (int)pid);
    write_file_atomic ("shim.pid", buf, strlen (buf), 0644, NULL);
  }
done:
  if (write_file_atomic ("address", addr, strlen (addr), 0644, err) < 0)
    return -1;
  fputs (addr, stdout);
  fflush (stdout);
  return 0;
}

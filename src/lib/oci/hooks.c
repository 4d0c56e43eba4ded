#include "oci/hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/util.h"
#include "core/banned.h"

json_t *
oci_state_json (const char *id, const char *status, pid_t pid, const char *bundle, json_t *annotations)
{
  json_t *j = json_object ();
  json_object_set_new (j, "ociVersion", json_string (OCI_VERSION));
  json_object_set_new (j, "id", json_string (id));
  json_object_set_new (j, "status", json_string (status));
  if (pid > 0)
    json_object_set_new (j, "pid", json_integer (pid));
  json_object_set_new (j, "bundle", json_string (bundle ? bundle : ""));
  if (annotations && json_object_size (annotations) > 0)
    json_object_set (j, "annotations", annotations);
  return j;
}

const char *
hooks_kind_name (enum oci_hook_kind kind)
{
  static const char *const names[]
    = { "prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop" };
  return kind < OCI_HOOK_KINDS ? names[kind] : "hook";
}

static int
run_one (const struct oci_hook *h, const char *kind, size_t index, const char *state, runhv_error_t *err)
{
  int in[2], out[2];
  pid_t pid;
  int status = 0, pidfd;
  char buf[4096];
  size_t got = 0;
  struct timespec start, now;
  bool timed_out = false;

  if (pipe2 (in, O_CLOEXEC) < 0)
    return runhv_make_error (err, errno, "hooks.%s[%zu]: pipe", kind, index);
  if (pipe2 (out, O_CLOEXEC) < 0)
    {
      close (in[0]);
      close (in[1]);
      return runhv_make_error (err, errno, "hooks.%s[%zu]: pipe", kind, index);
    }
  pid = fork ();
  if (pid < 0)
    {
      int e = errno;
      close (in[0]);
      close (in[1]);
      close (out[0]);
      close (out[1]);
      return runhv_make_error (err, e, "hooks.%s[%zu]: fork", kind, index);
    }
  if (pid == 0)
    {
      char *const default_args[] = { (char *)h->path, NULL };
      char *const empty_env[] = { NULL };
      sigset_t all;
      sigemptyset (&all);
      sigprocmask (SIG_SETMASK, &all, NULL);
      if (dup2 (in[0], 0) < 0 || dup2 (out[1], 1) < 0 || dup2 (out[1], 2) < 0)
        _exit (127);
      execve (h->path, h->args ? h->args : default_args, h->env ? h->env : empty_env);
      dprintf (2, "exec `%s`: %s", h->path, strerror (errno));
      _exit (127);
    }
  close (in[0]);
  close (out[1]);
  /* The hook may not read its stdin at all: never block on it.  */
  {
    struct sigaction sa = { .sa_handler = SIG_IGN }, old;
    sigaction (SIGPIPE, &sa, &old);
    set_nonblock (in[1], true);
    (void)!write (in[1], state, strlen (state));
    close (in[1]);
    sigaction (SIGPIPE, &old, NULL);
  }
  pidfd = (int)syscall (SYS_pidfd_open, pid, 0);
  clock_gettime (CLOCK_MONOTONIC, &start);
  {
    int outfd = out[0];
    for (;;)
      {
        struct pollfd p[2] = { { .fd = outfd, .events = POLLIN }, { .fd = pidfd, .events = POLLIN } };
        int timeout = -1, r;
        if (h->timeout > 0)
          {
            long elapsed;
            clock_gettime (CLOCK_MONOTONIC, &now);
            elapsed = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
            timeout = (int)(h->timeout * 1000L - elapsed);
            if (timeout <= 0)
              {
                timed_out = true;
                kill (pid, SIGKILL);
                break;
              }
          }
        if (outfd < 0 && pidfd < 0)
          break; /* no pidfd: waitpid below blocks until the hook ends */
        r = poll (p, 2, timeout);
        if (r < 0 && errno != EINTR)
          break;
        if (r <= 0)
          continue;
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR))
          {
            char scratch[512];
            ssize_t n;
            /* Keep draining once the buffer is full so the hook never blocks. */
            if (got < sizeof (buf) - 1)
              n = read (outfd, buf + got, sizeof (buf) - 1 - got);
            else
              n = read (outfd, scratch, sizeof (scratch));
            if (n > 0 && got < sizeof (buf) - 1 && n <= (ssize_t)(sizeof (buf) - 1 - got))
              got += (size_t)n;
            else if (n <= 0)
              outfd = -1;
          }
        if (p[1].revents & POLLIN)
          break;
      }
  }
  buf[got] = '\0';
  close (out[0]);
  if (pidfd >= 0)
    close (pidfd);
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (timed_out)
    return runhv_error (err, "hooks.%s[%zu]: `%s` did not finish within its %d s timeout", kind, index, h->path,
                        h->timeout);
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    {
      /* One line: the last line the hook printed.  */
      char *nl;
      while (got > 0 && (buf[got - 1] == '\n' || buf[got - 1] == ' '))
        buf[--got] = '\0';
      nl = strrchr (buf, '\n');
      if (WIFSIGNALED (status))
        return runhv_error (err, "hooks.%s[%zu]: `%s` was killed by signal %d%s%s", kind, index, h->path,
                            WTERMSIG (status), got ? ": " : "", nl ? nl + 1 : buf);
      return runhv_error (err, "hooks.%s[%zu]: `%s` exited with status %d%s%s", kind, index, h->path,
                          WEXITSTATUS (status), got ? ": " : "", nl ? nl + 1 : buf);
    }
  return 0;
}

int
hooks_run (const struct oci_spec *spec, enum oci_hook_kind kind, const char *state_json, runhv_error_t *err)
{
  for (size_t i = 0; i < spec->n_hooks[kind]; i++)
    if (run_one (&spec->hooks[kind][i], hooks_kind_name (kind), i, state_json, err) < 0)
      return -1;
  return 0;
}

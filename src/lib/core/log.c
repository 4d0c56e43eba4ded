#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/util.h"
#include "core/banned.h"

static int log_fd = -1;
static enum log_format log_fmt = LOG_FORMAT_TEXT;
static enum log_level log_lvl = LOG_LEVEL_WARNING;
static int log_stderr = 1;
static const char *log_ident = "runhv";

static const char *const level_names[] = { "error", "warning", "info", "debug" };

int
log_init (const char *path, enum log_format format, enum log_level level, runhv_error_t *err)
{
  log_fmt = format;
  log_lvl = level;
  if (path == NULL || path[0] == '\0')
    return 0;
  int fd = open (path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0)
    return runhv_make_error (err, errno, "open log file `%s` (check --log)", path);
  if (log_fd >= 0)
    close (log_fd);
  log_fd = fd;
  return 0;
}

void
log_set_level (enum log_level level)
{
  log_lvl = level;
}

enum log_level
log_get_level (void)
{
  return log_lvl;
}

void
log_set_stderr (int enabled)
{
  log_stderr = enabled;
}

void
log_set_ident (const char *ident)
{
  log_ident = ident;
}

int
log_get_fd (void)
{
  return log_fd;
}

static void
write_all_quiet (int fd, const char *buf, size_t len)
{
  while (len > 0)
    {
      ssize_t n = write (fd, buf, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return;
      buf += n;
      len -= (size_t)n;
    }
}

void
log_write (enum log_level level, const char *fmt, ...)
{
  va_list ap;
  cleanup_free char *msg = NULL;
  int saved = errno;

  if (level > log_lvl)
    return;
  va_start (ap, fmt);
  if (vasprintf (&msg, fmt, ap) < 0)
    msg = NULL;
  va_end (ap);
  if (msg == NULL)
    return;

  /* With a JSON log file (containerd, podman), stderr gets only errors.  */
  if (log_stderr && (log_fd < 0 || log_fmt == LOG_FORMAT_TEXT || level == LOG_LEVEL_ERROR))
    {
      cleanup_free char *full = NULL;
      if (asprintf (&full, "%s: %s%s%s\n", log_ident, level == LOG_LEVEL_ERROR ? "" : level_names[level],
                    level == LOG_LEVEL_ERROR ? "" : ": ", msg)
          >= 0)
        write_all_quiet (2, full, strlen (full));
    }

  if (log_fd >= 0)
    {
      char ts[64];
      cleanup_free char *line = NULL;
      int n;
      format_rfc3339_now (ts, sizeof (ts));
      if (log_fmt == LOG_FORMAT_JSON)
        {
          cleanup_free char *esc = json_escape_string (msg);
          n = asprintf (&line, "{\"level\":\"%s\",\"msg\":%s,\"time\":\"%s\"}\n", level_names[level],
                        esc != NULL ? esc : "\"\"", ts);
        }
      else
        n = asprintf (&line, "%s %s[%d] %s: %s\n", ts, log_ident, (int)getpid (), level_names[level], msg);
      if (n >= 0)
        write_all_quiet (log_fd, line, (size_t)n);
    }
  errno = saved;
}

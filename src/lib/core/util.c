#include "core/util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "core/banned.h"

static void __attribute__ ((noreturn)) oom (void)
{
  static const char msg[] = "runhv: out of memory\n";
  (void)!write (2, msg, sizeof (msg) - 1);
  abort ();
}

void *
xmalloc0 (size_t size)
{
  void *p = calloc (1, size ? size : 1);
  if (p == NULL)
    oom ();
  return p;
}

void *
xrealloc (void *p, size_t size)
{
  void *r = realloc (p, size ? size : 1);
  if (r == NULL)
    oom ();
  return r;
}

char *
xstrdup (const char *s)
{
  char *r;
  if (s == NULL)
    return NULL;
  r = strdup (s);
  if (r == NULL)
    oom ();
  return r;
}

char *
xstrndup (const char *s, size_t n)
{
  char *r = strndup (s, n);
  if (r == NULL)
    oom ();
  return r;
}

char *
xasprintf (const char *fmt, ...)
{
  va_list ap;
  char *r;
  va_start (ap, fmt);
  r = xvasprintf (fmt, ap);
  va_end (ap);
  return r;
}

char *
xvasprintf (const char *fmt, va_list ap)
{
  char *r = NULL;
  if (vasprintf (&r, fmt, ap) < 0)
    oom ();
  return r;
}

size_t
strv_len (char *const *v)
{
  size_t n = 0;
  while (v != NULL && v[n] != NULL)
    n++;
  return n;
}

void
strv_free (char **v)
{
  cleanup_strvp (&v);
}

char **
strv_dup (char *const *v)
{
  size_t n = strv_len (v);
  char **r = xmalloc0 ((n + 1) * sizeof (char *));
  for (size_t i = 0; i < n; i++)
    r[i] = xstrdup (v[i]);
  return r;
}

void
strv_append (char ***v, const char *s)
{
  size_t n = strv_len (*v);
  *v = xrealloc (*v, (n + 2) * sizeof (char *));
  (*v)[n] = xstrdup (s);
  (*v)[n + 1] = NULL;
}

bool
strv_contains (char *const *v, const char *s)
{
  for (size_t i = 0; v != NULL && v[i] != NULL; i++)
    if (strcmp (v[i], s) == 0)
      return true;
  return false;
}

int
hex_digit_value (int c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

int
parse_int64 (const char *s, int64_t *out)
{
  char *end;
  long long v;
  if (s == NULL || *s == '\0' || isspace ((unsigned char)*s))
    return -1;
  errno = 0;
  v = strtoll (s, &end, 10);
  if (errno != 0 || *end != '\0')
    return -1;
  *out = v;
  return 0;
}

int
parse_uint64 (const char *s, uint64_t *out)
{
  char *end;
  unsigned long long v;
  if (s == NULL || !isdigit ((unsigned char)*s))
    return -1;
  errno = 0;
  v = strtoull (s, &end, 10);
  if (errno != 0 || *end != '\0')
    return -1;
  *out = v;
  return 0;
}

int
parse_size (const char *s, int64_t *out)
{
  char *end;
  unsigned long long v;
  uint64_t mult = 1;
  if (s == NULL || !isdigit ((unsigned char)*s))
    return -1;
  errno = 0;
  v = strtoull (s, &end, 10);
  if (errno != 0)
    return -1;
  switch (tolower ((unsigned char)*end))
    {
    case '\0':
      break;
    case 'b':
      end++;
      break;
    case 'k':
      mult = 1ULL << 10;
      end++;
      break;
    case 'm':
      mult = 1ULL << 20;
      end++;
      break;
    case 'g':
      mult = 1ULL << 30;
      end++;
      break;
    case 't':
      mult = 1ULL << 40;
      end++;
      break;
    default:
      return -1;
    }
  if (mult > 1 && (*end == 'b' || *end == 'B' || *end == 'i'))
    {
      if (*end == 'i')
        end++;
      if (*end == 'b' || *end == 'B')
        end++;
    }
  if (*end != '\0')
    return -1;
  if (v > (uint64_t)INT64_MAX / mult)
    return -1;
  *out = (int64_t)(v * mult);
  return 0;
}

ssize_t
write_all (int fd, const void *buf, size_t len)
{
  const char *p = buf;
  size_t left = len;
  while (left > 0)
    {
      ssize_t n = write (fd, p, left);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return -1;
      p += n;
      left -= (size_t)n;
    }
  return (ssize_t)len;
}

ssize_t
read_all (int fd, void *buf, size_t len)
{
  char *p = buf;
  size_t got = 0;
  while (got < len)
    {
      ssize_t n = read (fd, p + got, len - got);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return -1;
      if (n == 0)
        break;
      got += (size_t)n;
    }
  return (ssize_t)got;
}

/* Room for max + 1 bytes: reading that extra byte is how a file over the
   limit shows, while one of exactly max bytes reads whole.  */
static int
read_fd_all (int fd, size_t max, char **out, size_t *len)
{
  size_t cap, n = 0;
  cleanup_free char *buf = NULL;
  if (max == 0)
    max = 64u << 20;
  cap = max < 4096 ? max + 1 : 4096;
  buf = xmalloc0 (cap + 1);
  for (;;)
    {
      ssize_t r;
      if (n == cap)
        {
          if (cap > max)
            {
              errno = EFBIG;
              return -1;
            }
          cap = cap * 2 > max ? max + 1 : cap * 2;
          buf = xrealloc (buf, cap + 1);
        }
      r = read (fd, buf + n, cap - n);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        return -1;
      if (r == 0)
        break;
      n += (size_t)r;
    }
  buf[n] = '\0';
  if (len)
    *len = n;
  *out = steal_ptr (&buf);
  return 0;
}

int
read_file_at (int dirfd, const char *name, size_t max, char **out, size_t *len, runhv_error_t *err)
{
  cleanup_close int fd = openat (dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return runhv_make_error (err, errno, "open `%s`", name);
  if (read_fd_all (fd, max, out, len) < 0)
    return runhv_make_error (err, errno, "read `%s`", name);
  return 0;
}

int
read_file (const char *path, size_t max, char **out, size_t *len, runhv_error_t *err)
{
  return read_file_at (AT_FDCWD, path, max, out, len, err);
}

int
write_file_at (int dirfd, const char *name, const char *data, size_t len, runhv_error_t *err)
{
  cleanup_close int fd = openat (dirfd, name, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return runhv_make_error (err, errno, "open `%s` for writing", name);
  if (write_all (fd, data, len) < 0)
    return runhv_make_error (err, errno, "write `%.*s` to `%s`", (int)(len > 64 ? 64 : len), data, name);
  return 0;
}

int
write_file (const char *path, const char *data, size_t len, runhv_error_t *err)
{
  return write_file_at (AT_FDCWD, path, data, len, err);
}

int
write_file_atomic (const char *path, const char *data, size_t len, mode_t mode, runhv_error_t *err)
{
  cleanup_free char *tmp = xasprintf ("%s.tmp.%d", path, (int)getpid ());
  cleanup_close int fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0)
    return runhv_make_error (err, errno, "create `%s`", tmp);
  if (write_all (fd, data, len) < 0)
    {
      int e = errno;
      unlink (tmp);
      return runhv_make_error (err, e, "write `%s`", tmp);
    }
  if (rename (tmp, path) < 0)
    {
      int e = errno;
      unlink (tmp);
      return runhv_make_error (err, e, "rename `%s` to `%s`", tmp, path);
    }
  return 0;
}

int
mkdir_p (const char *path, mode_t mode, runhv_error_t *err)
{
  cleanup_free char *p = xstrdup (path);
  for (char *s = p + 1; *s; s++)
    {
      if (*s != '/')
        continue;
      *s = '\0';
      if (mkdir (p, mode) < 0 && errno != EEXIST)
        return runhv_make_error (err, errno, "mkdir `%s`", p);
      *s = '/';
    }
  if (mkdir (p, mode) < 0 && errno != EEXIST)
    return runhv_make_error (err, errno, "mkdir `%s`", p);
  return 0;
}

static int
rm_rf_at (int parent, const char *name, int depth)
{
  struct stat st;
  if (depth > 64)
    {
      errno = ELOOP;
      return -1;
    }
  if (fstatat (parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return errno == ENOENT ? 0 : -1;
  if (!S_ISDIR (st.st_mode))
    return unlinkat (parent, name, 0) < 0 && errno != ENOENT ? -1 : 0;
  {
    int fd = openat (parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    cleanup_dir DIR *d = NULL;
    struct dirent *de;
    if (fd < 0)
      return -1;
    d = fdopendir (fd);
    if (d == NULL)
      {
        close (fd);
        return -1;
      }
    while ((de = readdir (d)) != NULL)
      {
        if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
          continue;
        if (rm_rf_at (dirfd (d), de->d_name, depth + 1) < 0)
          return -1;
      }
  }
  if (unlinkat (parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
    return -1;
  return 0;
}

int
rm_rf (const char *path, runhv_error_t *err)
{
  if (rm_rf_at (AT_FDCWD, path, 0) < 0)
    return runhv_make_error (err, errno, "remove `%s`", path);
  return 0;
}

int64_t
monotonic_ms (void)
{
  struct timespec t;
  clock_gettime (CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

uint64_t
pid_start_time (pid_t pid)
{
  char path[64], buf[1024];
  cleanup_close int fd = -1;
  ssize_t n;
  char *p;
  unsigned long long st = 0;

  if (pid <= 0)
    return 0;
  snprintf (path, sizeof (path), "/proc/%d/stat", (int)pid);
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 0;
  n = read_all (fd, buf, sizeof (buf) - 1);
  if (n <= 0)
    return 0;
  buf[n] = '\0';
  /* comm may contain spaces and parentheses: skip to the last ')'.  */
  p = strrchr (buf, ')');
  if (p == NULL)
    return 0;
  p += 2; /* now at field 3 (state) */
  if (*p == 'Z' || *p == 'X')
    return 0; /* a zombie is not running */
  for (int field = 3; field < 22 && p != NULL; field++)
    {
      p = strchr (p, ' ');
      if (p != NULL)
        p++;
    }
  if (p == NULL || sscanf (p, "%llu", &st) != 1)
    return 0;
  return st;
}

bool
pid_alive (pid_t pid, uint64_t start_time)
{
  uint64_t st = pid_start_time (pid);
  return st != 0 && (start_time == 0 || st == start_time);
}

void
format_rfc3339_now (char *buf, size_t size)
{
  struct timespec ts;
  struct tm tm;
  char base[32];
  clock_gettime (CLOCK_REALTIME, &ts);
  gmtime_r (&ts.tv_sec, &tm);
  strftime (base, sizeof (base), "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf (buf, size, "%s.%09ldZ", base, ts.tv_nsec);
}

char *
json_escape_string (const char *s)
{
  json_t *j = json_string (s);
  char *r;
  if (j == NULL)
    j = json_stringn (s, 0);
  r = json_dumps (j, JSON_ENCODE_ANY);
  json_decref (j);
  return r;
}

int
set_cloexec (int fd, bool on)
{
  int fl = fcntl (fd, F_GETFD);
  if (fl < 0)
    return -1;
  fl = on ? (fl | FD_CLOEXEC) : (fl & ~FD_CLOEXEC);
  return fcntl (fd, F_SETFD, fl);
}

int
set_nonblock (int fd, bool on)
{
  int fl = fcntl (fd, F_GETFL);
  if (fl < 0)
    return -1;
  fl = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
  return fcntl (fd, F_SETFL, fl);
}

int
fd_send (int sock, const void *data, size_t len, const int *fds, size_t nfds)
{
  struct msghdr msg = { 0 };
  struct iovec iov;
  char dummy = 0;
  union
  {
    char buf[CMSG_SPACE (sizeof (int) * FD_PASS_MAX)];
    struct cmsghdr align;
  } u;

  if (nfds > FD_PASS_MAX)
    {
      errno = EINVAL;
      return -1;
    }
  if (data == NULL || len == 0)
    {
      data = &dummy;
      len = 1;
    }
  iov.iov_base = (void *)data;
  iov.iov_len = len;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (nfds > 0)
    {
      struct cmsghdr *c;
      memset (&u, 0, sizeof (u));
      msg.msg_control = u.buf;
      msg.msg_controllen = CMSG_SPACE (sizeof (int) * nfds);
      c = CMSG_FIRSTHDR (&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN (sizeof (int) * nfds);
      memcpy (CMSG_DATA (c), fds, sizeof (int) * nfds);
    }
  return TEMP_FAILURE_RETRY (sendmsg (sock, &msg, MSG_NOSIGNAL)) < 0 ? -1 : 0;
}

ssize_t
fd_recv (int sock, void *data, size_t len, int *fds, size_t max_fds, size_t *nfds, pid_t *sender)
{
  struct msghdr msg = { 0 };
  struct iovec iov;
  char dummy;
  ssize_t n;
  size_t got = 0;
  union
  {
    char buf[CMSG_SPACE (sizeof (struct ucred)) + CMSG_SPACE (sizeof (int) * FD_PASS_MAX)];
    struct cmsghdr align;
  } u;

  for (size_t i = 0; i < max_fds; i++)
    fds[i] = -1;
  if (nfds != NULL)
    *nfds = 0;
  if (sender != NULL)
    *sender = 0;
  if (data == NULL || len == 0)
    {
      data = &dummy;
      len = 1;
    }
  iov.iov_base = data;
  iov.iov_len = len;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = u.buf;
  msg.msg_controllen = sizeof (u.buf);
  n = TEMP_FAILURE_RETRY (recvmsg (sock, &msg, MSG_CMSG_CLOEXEC));
  if (n < 0)
    return -1;
  for (struct cmsghdr *c = CMSG_FIRSTHDR (&msg); c != NULL; c = CMSG_NXTHDR (&msg, c))
    {
      if (c->cmsg_level != SOL_SOCKET)
        continue;
      if (c->cmsg_type == SCM_CREDENTIALS && sender != NULL)
        {
          struct ucred cr;
          memcpy (&cr, CMSG_DATA (c), sizeof (cr));
          *sender = cr.pid;
        }
      else if (c->cmsg_type == SCM_RIGHTS)
        {
          size_t k = (c->cmsg_len - CMSG_LEN (0)) / sizeof (int);
          int tmp[FD_PASS_MAX];
          if (k > FD_PASS_MAX)
            k = FD_PASS_MAX;
          memcpy (tmp, CMSG_DATA (c), k * sizeof (int));
          for (size_t i = 0; i < k; i++)
            {
              if (got < max_fds)
                fds[got++] = tmp[i];
              else
                close (tmp[i]); /* more than we asked for: never leak */
            }
        }
    }
  if (msg.msg_flags & MSG_TRUNC)
    {
      /* Part of the message is lost: nothing of it is worth keeping.  */
      for (size_t i = 0; i < got; i++)
        {
          close (fds[i]);
          fds[i] = -1;
        }
      errno = EMSGSIZE;
      return -1;
    }
  if (nfds != NULL)
    *nfds = got;
  return n;
}

char *
find_in_path (const char *cmd, char *const *env)
{
  const char *path = NULL;
  cleanup_free char *copy = NULL;
  char *saveptr = NULL, *dir;

  if (strchr (cmd, '/') != NULL)
    {
      struct stat st;
      if (stat (cmd, &st) == 0 && S_ISREG (st.st_mode) && (st.st_mode & 0111))
        return xstrdup (cmd);
      return NULL;
    }
  for (size_t i = 0; env != NULL && env[i] != NULL; i++)
    if (strncmp (env[i], "PATH=", 5) == 0)
      path = env[i] + 5;
  if (path == NULL)
    path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  copy = xstrdup (path);
  for (dir = copy; dir != NULL; dir = saveptr)
    {
      cleanup_free char *cand = NULL;
      struct stat st;
      saveptr = strchr (dir, ':');
      if (saveptr != NULL)
        *saveptr++ = '\0';
      cand = xasprintf ("%s/%s", *dir ? dir : ".", cmd);
      if (stat (cand, &st) == 0 && S_ISREG (st.st_mode) && (st.st_mode & 0111))
        return steal_ptr (&cand);
    }
  return NULL;
}

void
close_fds_except (const int *keep, size_t n)
{
  unsigned int sorted[16], lo = 3;
  size_t m = 0;
  for (size_t i = 0; i < n && m < 16; i++)
    if (keep[i] > 2)
      {
        size_t j = m++;
        while (j > 0 && sorted[j - 1] > (unsigned int)keep[i])
          {
            sorted[j] = sorted[j - 1];
            j--;
          }
        sorted[j] = (unsigned int)keep[i];
      }
  for (size_t i = 0; i < m; i++)
    {
      if (sorted[i] > lo)
        syscall (SYS_close_range, lo, sorted[i] - 1, 0);
      if (sorted[i] >= lo)
        lo = sorted[i] + 1;
    }
  syscall (SYS_close_range, lo, ~0U, 0);
}

/* "a\040b" in mountinfo → "a b".  */
static void
mountinfo_unescape (char *s)
{
  char *o = s;
  for (char *i = s; *i; i++)
    {
      if (i[0] == '\\' && i[1] >= '0' && i[1] <= '7' && i[2] >= '0' && i[2] <= '7' && i[3] >= '0' && i[3] <= '7')
        {
          *o++ = (char)((i[1] - '0') * 64 + (i[2] - '0') * 8 + (i[3] - '0'));
          i += 3;
        }
      else
        *o++ = *i;
    }
  *o = '\0';
}

/* One line of /proc/self/mountinfo, split in place: its mount point
   (unescaped), filesystem type and super options.  *cursor moves to the
   next line; false at the end.  Malformed lines are skipped.  */
bool
mountinfo_next (char **cursor, char **point, char **fstype, char **super)
{
  char *root;
  return mountinfo_next_root (cursor, &root, point, fstype, super);
}

bool
mountinfo_next_root (char **cursor, char **root, char **point, char **fstype, char **super)
{
  struct mountinfo_entry e;
  if (!mountinfo_next_entry (cursor, &e))
    return false;
  *root = e.root;
  *point = e.point;
  *fstype = e.fstype;
  *super = e.super;
  return true;
}

bool
mountinfo_next_entry (char **cursor, struct mountinfo_entry *e)
{
  while (*cursor != NULL && **cursor != '\0')
    {
      char *line = *cursor, *f[64];
      int nf = 0, dash = -1;
      *cursor = strchr (line, '\n');
      if (*cursor)
        *(*cursor)++ = '\0';
      for (char *c = line; c != NULL && nf < 64;)
        {
          f[nf++] = c;
          c = strchr (c, ' ');
          if (c)
            *c++ = '\0';
        }
      for (int i = 6; i < nf; i++)
        if (strcmp (f[i], "-") == 0)
          {
            dash = i;
            break;
          }
      if (dash < 0 || dash + 3 >= nf)
        continue;
      mountinfo_unescape (f[3]);
      mountinfo_unescape (f[4]);
      e->root = f[3];
      e->point = f[4];
      e->fstype = f[dash + 1];
      e->super = f[dash + 3];
      e->shared = false;
      for (int i = 6; i < dash; i++)
        if (strncmp (f[i], "shared:", 7) == 0)
          e->shared = true;
      return true;
    }
  return false;
}

pid_t
fork_with_pipe (int fds[2], runhv_error_t *err)
{
  pid_t pid;
  if (pipe2 (fds, O_CLOEXEC) < 0)
    return runhv_make_error (err, errno, "pipe");
  pid = fork ();
  if (pid < 0)
    {
      int e = errno;
      close (fds[0]);
      close (fds[1]);
      return runhv_make_error (err, e, "fork");
    }
  return pid;
}

int
proc_self_dir (void)
{
  static int fd = -1;
  static pid_t owner;
  if (fd >= 0 && owner == getpid ())
    return fd;
  if (fd >= 0)
    close (fd); /* a forked child's copy of its parent's */
  fd = open ("/proc/self", O_PATH | O_DIRECTORY | O_CLOEXEC);
  owner = getpid ();
  return fd;
}

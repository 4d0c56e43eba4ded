/* Directory trees from dirfds: copy the payload onto the node and tell
   whether the node already holds exactly that payload (a second install
   must change nothing).  Symlinks are copied as symlinks, never followed.  */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tree.h"
#include "core/util.h"
#include "core/banned.h"

#define TREE_MAX_DEPTH 32

static int
strcmp_ptr (const void *a, const void *b)
{
  return strcmp (*(char *const *)a, *(char *const *)b);
}

static int
sorted_names (int dfd, char ***out, runhv_error_t *err)
{
  int fd = openat (dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  cleanup_dir DIR *d = NULL;
  struct dirent *de;
  char **v = NULL;
  if (fd < 0)
    return runhv_make_error (err, errno, "open directory");
  d = fdopendir (fd);
  if (d == NULL)
    {
      close (fd);
      return runhv_make_error (err, errno, "read directory");
    }
  while ((de = readdir (d)) != NULL)
    if (strcmp (de->d_name, ".") != 0 && strcmp (de->d_name, "..") != 0)
      strv_append (&v, de->d_name);
  if (v != NULL)
    qsort (v, strv_len (v), sizeof (*v), strcmp_ptr);
  *out = v;
  return 0;
}

static int
copy_file (int src, int dst, const char *name, mode_t mode, runhv_error_t *err)
{
  cleanup_close int in = openat (src, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  cleanup_close int out = -1;
  char buf[65536];
  ssize_t n;
  if (in < 0)
    return runhv_make_error (err, errno, "open payload file `%s`", name);
  out = openat (dst, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (out < 0)
    return runhv_make_error (err, errno, "create `%s`", name);
  while ((n = read (in, buf, sizeof (buf))) > 0)
    if (write_all (out, buf, (size_t)n) < 0)
      return runhv_make_error (err, errno, "write `%s`", name);
  if (n < 0)
    return runhv_make_error (err, errno, "read payload file `%s`", name);
  /* after the write: the umask must not narrow the payload's modes */
  if (fchmod (out, mode & 07777) < 0)
    return runhv_make_error (err, errno, "chmod `%s`", name);
  return 0;
}

static int
copy_at (int src, int dst, int depth, runhv_error_t *err)
{
  cleanup_strv char **names = NULL;
  if (depth > TREE_MAX_DEPTH)
    return runhv_error (err, "payload tree deeper than %d levels", TREE_MAX_DEPTH);
  if (sorted_names (src, &names, err) < 0)
    return -1;
  for (char **p = names; p != NULL && *p != NULL; p++)
    {
      struct stat st;
      if (fstatat (src, *p, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return runhv_make_error (err, errno, "stat payload `%s`", *p);
      if (S_ISDIR (st.st_mode))
        {
          cleanup_close int s = -1, d = -1;
          if (mkdirat (dst, *p, 0700) < 0)
            return runhv_make_error (err, errno, "mkdir `%s`", *p);
          s = openat (src, *p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
          d = openat (dst, *p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
          if (s < 0 || d < 0)
            return runhv_make_error (err, errno, "open directory `%s`", *p);
          if (copy_at (s, d, depth + 1, err) < 0)
            return runhv_error_wrap (err, "%s", *p);
          if (fchmod (d, st.st_mode & 07777) < 0)
            return runhv_make_error (err, errno, "chmod `%s`", *p);
        }
      else if (S_ISREG (st.st_mode))
        {
          if (copy_file (src, dst, *p, st.st_mode, err) < 0)
            return -1;
        }
      else if (S_ISLNK (st.st_mode))
        {
          char target[4096];
          ssize_t n = readlinkat (src, *p, target, sizeof (target) - 1);
          if (n < 0)
            return runhv_make_error (err, errno, "readlink payload `%s`", *p);
          target[n] = '\0';
          if (symlinkat (target, dst, *p) < 0)
            return runhv_make_error (err, errno, "symlink `%s`", *p);
        }
      else
        return runhv_error (err, "payload `%s` is not a file, directory or symlink", *p);
    }
  return 0;
}

int
tree_copy (int src, int dst, runhv_error_t *err)
{
  return copy_at (src, dst, 0, err);
}

static bool
files_equal (int a, int b, const char *name)
{
  cleanup_close int fa = openat (a, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  cleanup_close int fb = openat (b, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  char ba[65536], bb[65536];
  if (fa < 0 || fb < 0)
    return false;
  for (;;)
    {
      ssize_t na = read_all (fa, ba, sizeof (ba)), nb = read_all (fb, bb, sizeof (bb));
      if (na < 0 || nb < 0 || na != nb || memcmp (ba, bb, (size_t)na) != 0)
        return false;
      if (na == 0)
        return true;
    }
}

static void
drop_name (char **v, const char *name)
{
  for (size_t i = 0; name != NULL && v != NULL && v[i] != NULL; i++)
    if (strcmp (v[i], name) == 0)
      {
        free (v[i]);
        memmove (&v[i], &v[i + 1], (strv_len (v) - i) * sizeof (char *));
        return;
      }
}

static bool
equal_at (int a, int b, const char *skip, int depth)
{
  cleanup_strv char **na = NULL, **nb = NULL;
  size_t la, lb;
  if (depth > TREE_MAX_DEPTH || sorted_names (a, &na, NULL) < 0 || sorted_names (b, &nb, NULL) < 0)
    return false;
  /* the bookkeeping file is the node's, not the payload's */
  drop_name (na, skip);
  drop_name (nb, skip);
  la = na ? strv_len (na) : 0;
  lb = nb ? strv_len (nb) : 0;
  if (la != lb)
    return false;
  for (size_t i = 0; i < la; i++)
    {
      struct stat sa, sb;
      if (strcmp (na[i], nb[i]) != 0 || fstatat (a, na[i], &sa, AT_SYMLINK_NOFOLLOW) < 0
          || fstatat (b, nb[i], &sb, AT_SYMLINK_NOFOLLOW) < 0 || sa.st_mode != sb.st_mode)
        return false;
      if (S_ISREG (sa.st_mode) && (sa.st_size != sb.st_size || !files_equal (a, b, na[i])))
        return false;
      if (S_ISLNK (sa.st_mode))
        {
          char ta[4096], tb[4096];
          ssize_t xa = readlinkat (a, na[i], ta, sizeof (ta)), xb = readlinkat (b, nb[i], tb, sizeof (tb));
          if (xa < 0 || xa != xb || memcmp (ta, tb, (size_t)xa) != 0)
            return false;
        }
      if (S_ISDIR (sa.st_mode))
        {
          cleanup_close int da = openat (a, na[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
          cleanup_close int db = openat (b, nb[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
          if (da < 0 || db < 0 || !equal_at (da, db, NULL, depth + 1))
            return false;
        }
    }
  return true;
}

bool
tree_equal (int a, int b, const char *skip)
{
  return equal_at (a, b, skip, 0);
}

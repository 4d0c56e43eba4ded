/* core/util.c: strict number parsing, string vectors, whole-file reads
   with a limit, and atomic replacement.  */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/util.h"

static void
test_parse_int64 (void **state)
{
  int64_t v = 7;
  (void)state;
  assert_int_equal (parse_int64 ("0", &v), 0);
  assert_int_equal (v, 0);
  assert_int_equal (parse_int64 ("-42", &v), 0);
  assert_int_equal (v, -42);
  assert_int_equal (parse_int64 ("9223372036854775807", &v), 0);
  assert_true (v == INT64_MAX);
  assert_int_equal (parse_int64 ("-9223372036854775808", &v), 0);
  assert_true (v == INT64_MIN);
  /* the whole string, or nothing: out stays as it was */
  v = 7;
  assert_int_equal (parse_int64 ("9223372036854775808", &v), -1);
  assert_int_equal (parse_int64 ("12abc", &v), -1);
  assert_int_equal (parse_int64 ("12 ", &v), -1);
  assert_int_equal (parse_int64 (" 12", &v), -1);
  assert_int_equal (parse_int64 ("", &v), -1);
  assert_int_equal (parse_int64 (NULL, &v), -1);
  assert_int_equal (v, 7);
}

static void
test_parse_uint64 (void **state)
{
  uint64_t v = 7;
  (void)state;
  assert_int_equal (parse_uint64 ("18446744073709551615", &v), 0);
  assert_true (v == UINT64_MAX);
  v = 7;
  /* strtoull would take "-1" as UINT64_MAX: a sign is refused outright */
  assert_int_equal (parse_uint64 ("-1", &v), -1);
  assert_int_equal (parse_uint64 ("+1", &v), -1);
  assert_int_equal (parse_uint64 (" 1", &v), -1);
  assert_int_equal (parse_uint64 ("18446744073709551616", &v), -1);
  assert_int_equal (parse_uint64 ("1x", &v), -1);
  assert_int_equal (parse_uint64 ("", &v), -1);
  assert_int_equal (v, 7);
}

static void
test_parse_size (void **state)
{
  static const struct
  {
    const char *text;
    int64_t bytes;
  } good[] = {
    { "0", 0 },
    { "1024", 1024 },
    { "10b", 10 },
    { "1k", 1024 },
    { "1K", 1024 },
    { "1kb", 1024 },
    { "1KiB", 1024 },
    { "512m", 512LL << 20 },
    { "2G", 2LL << 30 },
    { "1t", 1LL << 40 },
    { "8388607t", 8388607LL << 40 },
  };
  static const char *const bad[] = {
    "", "-1", "+1", "k", "1x", "1kk", "1 k", "1kib2", "1bb", "8388608t", "99999999999999999999",
  };
  int64_t v;
  (void)state;
  for (size_t i = 0; i < sizeof (good) / sizeof (good[0]); i++)
    {
      v = -1;
      if (parse_size (good[i].text, &v) < 0 || v != good[i].bytes)
        fail_msg ("parse_size (%s) gave %lld, not %lld", good[i].text, (long long)v, (long long)good[i].bytes);
    }
  for (size_t i = 0; i < sizeof (bad) / sizeof (bad[0]); i++)
    if (parse_size (bad[i], &v) == 0)
      fail_msg ("parse_size accepted `%s` as %lld", bad[i], (long long)v);
}

static void
test_strv (void **state)
{
  cleanup_strv char **v = NULL, **copy = NULL;
  char src[] = "abc";
  (void)state;
  assert_int_equal (strv_len (NULL), 0);
  assert_false (strv_contains (NULL, "a"));
  strv_free (NULL);
  strv_append (&v, src);
  strv_append (&v, "def");
  /* append copies: changing the source does not change the vector */
  src[0] = 'X';
  assert_int_equal (strv_len (v), 2);
  assert_string_equal (v[0], "abc");
  assert_null (v[2]);
  assert_true (strv_contains (v, "def"));
  assert_false (strv_contains (v, "de"));
  copy = strv_dup (v);
  assert_int_equal (strv_len (copy), 2);
  assert_true (copy[0] != v[0]);
  assert_string_equal (copy[1], "def");
  strv_free (strv_dup (NULL));
}

struct tmpdir
{
  char path[64];
};

static char *
tmp_file (struct tmpdir *d, const char *name, size_t size)
{
  char *p = xasprintf ("%s/%s", d->path, name);
  cleanup_free char *data = xmalloc0 (size + 1);
  runhv_error_t err = NULL;
  memset (data, 'x', size);
  if (write_file_atomic (p, data, size, 0644, &err) < 0)
    fail_msg ("%s", err->msg);
  return p;
}

static void
expect_read (const char *path, size_t max, size_t want_len)
{
  cleanup_free char *buf = NULL;
  size_t len = 0;
  runhv_error_t err = NULL;
  if (read_file (path, max, &buf, &len, &err) < 0)
    fail_msg ("read %s (max %zu): %s", path, max, err->msg);
  assert_int_equal (len, want_len);
  assert_int_equal (strlen (buf), want_len); /* NUL-terminated */
}

static void
expect_too_big (const char *path, size_t max)
{
  char *buf = NULL;
  runhv_error_t err = NULL;
  if (read_file (path, max, &buf, NULL, &err) == 0)
    fail_msg ("read %s with max %zu succeeded", path, max);
  assert_null (buf);
  assert_int_equal (err->status, EFBIG);
  assert_non_null (strstr (err->msg, path));
  runhv_error_release (&err);
}

static void
test_read_file_limits (void **state)
{
  struct tmpdir d = { "/tmp/runhv-util-XXXXXX" };
  cleanup_free char *small = NULL, *page = NULL, *big = NULL, *empty = NULL, *missing = NULL;
  char *buf = NULL;
  runhv_error_t err = NULL;
  (void)state;
  assert_non_null (mkdtemp (d.path));
  small = tmp_file (&d, "small", 100);
  page = tmp_file (&d, "page", 4096);
  big = tmp_file (&d, "big", 10000);
  empty = tmp_file (&d, "empty", 0);

  expect_read (empty, 10, 0);
  /* exactly max bytes is within the limit, one more is not */
  expect_read (small, 100, 100);
  expect_too_big (small, 99);
  /* a limit below the first read's size still holds */
  expect_too_big (small, 10);
  expect_read (page, 4096, 4096);
  expect_too_big (page, 4095);
  expect_read (big, 10000, 10000);
  expect_too_big (big, 9999);
  expect_too_big (big, 8192);
  /* 0 = the default limit (64 MiB) */
  expect_read (big, 0, 10000);

  missing = xasprintf ("%s/missing", d.path);
  assert_int_equal (read_file (missing, 0, &buf, NULL, &err), -1);
  assert_int_equal (err->status, ENOENT);
  assert_non_null (strstr (err->msg, "open `"));
  runhv_error_release (&err);
  assert_int_equal (rm_rf (d.path, &err), 0);
}

static void
test_write_file_atomic (void **state)
{
  struct tmpdir d = { "/tmp/runhv-util-XXXXXX" };
  cleanup_free char *path = NULL, *text = NULL, *nodir = NULL, *tmp = NULL;
  runhv_error_t err = NULL;
  struct stat st;
  int fd;
  mode_t old_mask = umask (022);
  (void)state;
  assert_non_null (mkdtemp (d.path));
  path = xasprintf ("%s/f", d.path);

  assert_int_equal (write_file_atomic (path, "old contents", 12, 0644, &err), 0);
  /* a reader that opened the old file keeps seeing it: it was replaced,
     not rewritten in place */
  fd = open (path, O_RDONLY | O_CLOEXEC);
  assert_true (fd >= 0);
  assert_int_equal (write_file_atomic (path, "new", 3, 0600, &err), 0);
  {
    char buf[32] = { 0 };
    assert_int_equal (read (fd, buf, sizeof (buf) - 1), 12);
    assert_string_equal (buf, "old contents");
    close (fd);
  }
  assert_int_equal (read_file (path, 0, &text, NULL, &err), 0);
  assert_string_equal (text, "new");
  assert_int_equal (stat (path, &st), 0);
  assert_int_equal (st.st_mode & 07777, 0600);
  /* no temporary left beside it */
  tmp = xasprintf ("%s.tmp.%d", path, (int)getpid ());
  assert_int_equal (access (tmp, F_OK), -1);

  /* a directory that does not exist: an error naming the file, nothing made */
  nodir = xasprintf ("%s/none/f", d.path);
  assert_int_equal (write_file_atomic (nodir, "x", 1, 0644, &err), -1);
  assert_int_equal (err->status, ENOENT);
  assert_non_null (strstr (err->msg, "none/f"));
  runhv_error_release (&err);

  /* a planted symlink at the temporary name is not followed */
  assert_int_equal (symlink ("/etc/passwd-should-not-be-written", tmp), 0);
  assert_int_equal (write_file_atomic (path, "x", 1, 0644, &err), -1);
  assert_int_equal (err->status, ELOOP);
  runhv_error_release (&err);
  unlink (tmp);

  umask (old_mask);
  assert_int_equal (rm_rf (d.path, &err), 0);
}

/* Whole mount points, escapes decoded, the shared flag from the optional
   fields (rootfs_prepare once read every mount point as "/").  */
static void
test_mountinfo_entry (void **state)
{
  char text[] = "36 25 0:31 / /tmp/a\\040b rw,relatime shared:7 master:1 - tmpfs tmpfs rw\n"
                "bad line\n"
                "40 36 8:1 /x /tmp/a\\040b/rootfs rw - ext4 /dev/sda1 rw,errors=remount-ro\n";
  char *cursor = text;
  struct mountinfo_entry e;
  (void)state;
  assert_true (mountinfo_next_entry (&cursor, &e));
  assert_string_equal (e.point, "/tmp/a b");
  assert_string_equal (e.root, "/");
  assert_string_equal (e.fstype, "tmpfs");
  assert_true (e.shared);
  assert_true (mountinfo_next_entry (&cursor, &e));
  assert_string_equal (e.point, "/tmp/a b/rootfs");
  assert_string_equal (e.root, "/x");
  assert_string_equal (e.super, "rw,errors=remount-ro");
  assert_false (e.shared);
  assert_false (mountinfo_next_entry (&cursor, &e));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_parse_int64),      cmocka_unit_test (test_parse_uint64),
    cmocka_unit_test (test_parse_size),       cmocka_unit_test (test_strv),
    cmocka_unit_test (test_read_file_limits), cmocka_unit_test (test_write_file_atomic),
    cmocka_unit_test (test_mountinfo_entry),
  };
  return cmocka_run_group_tests_name ("util", tests, NULL, NULL);
}

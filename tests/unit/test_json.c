/* core/json.c: the typed getters and the field paths their errors name,
   which is what a user reads when a config.json is wrong.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/json.h"
#include "core/util.h"

static json_t *
doc (const char *text)
{
  json_t *j = NULL;
  runhv_error_t err = NULL;
  if (json_load_buffer (text, strlen (text), "test", &j, &err) < 0)
    fail_msg ("%s", err->msg);
  return j;
}

static void
expect_msg (int ret, runhv_error_t *err, const char *msg)
{
  assert_int_equal (ret, -1);
  assert_non_null (*err);
  assert_string_equal ((*err)->msg, msg);
  runhv_error_release (err);
}

static void
test_paths (void **state)
{
  cleanup_free char *a = jpath ("", "root"), *b = jpath ("process", "user");
  cleanup_free char *c = jpath_index ("process", "args", 3), *d = jpath_index ("", "mounts", 0);
  (void)state;
  assert_string_equal (a, "root");
  assert_string_equal (b, "process.user");
  assert_string_equal (c, "process.args[3]");
  assert_string_equal (d, "mounts[0]");
}

static void
test_load_buffer (void **state)
{
  runhv_error_t err = NULL;
  json_t *j = NULL;
  (void)state;
  assert_int_equal (json_load_buffer ("{\"a\":\n  [1,}", 12, "config.json", &j, &err), -1);
  assert_null (j);
  /* the message names what was read and where the syntax broke */
  assert_non_null (strstr (err->msg, "config.json"));
  assert_non_null (strstr (err->msg, "line 2"));
  runhv_error_release (&err);
  /* a key given twice is a mistake to point at, not to resolve silently */
  assert_int_equal (json_load_buffer ("{\"a\":1,\"a\":2}", 13, "config.json", &j, &err), -1);
  assert_non_null (strstr (err->msg, "duplicate"));
  runhv_error_release (&err);
}

static void
test_string (void **state)
{
  cleanup_json json_t *j = doc ("{\"s\":\"v\",\"n\":1,\"z\":null}");
  runhv_error_t err = NULL;
  char *out = (char *)"untouched";
  (void)state;
  assert_int_equal (jget_string (j, "process", "s", true, &out, &err), 0);
  assert_string_equal (out, "v");
  free (out);
  /* absent and null are the same: NULL, or an error when required */
  assert_int_equal (jget_string (j, "process", "missing", false, &out, &err), 0);
  assert_null (out);
  assert_int_equal (jget_string (j, "process", "z", false, &out, &err), 0);
  assert_null (out);
  expect_msg (jget_string (j, "process", "z", true, &out, &err), &err, "process.z: missing (this field is required)");
  expect_msg (jget_string (j, "", "n", false, &out, &err), &err, "n: expected a string");
  /* an embedded NUL would cut the string short in C: refused (the parser
     rejects \u0000, so such a string comes from a caller's tree) */
  json_object_set_new (j, "nul", json_stringn ("a\0b", 3));
  expect_msg (jget_string (j, "x", "nul", false, &out, &err), &err, "x.nul: contains a NUL byte");
  assert_null (out);
}

static void
test_bool (void **state)
{
  cleanup_json json_t *j = doc ("{\"t\":true,\"f\":false,\"s\":\"true\",\"i\":1}");
  runhv_error_t err = NULL;
  bool v = false, present = true;
  (void)state;
  assert_int_equal (jget_bool (j, "p", "t", &v, &present, &err), 0);
  assert_true (v && present);
  assert_int_equal (jget_bool (j, "p", "f", &v, NULL, &err), 0);
  assert_false (v);
  /* absent: out keeps its default, present says so */
  v = true;
  assert_int_equal (jget_bool (j, "p", "none", &v, &present, &err), 0);
  assert_true (v);
  assert_false (present);
  expect_msg (jget_bool (j, "p", "s", &v, NULL, &err), &err, "p.s: expected true or false");
  expect_msg (jget_bool (j, "p", "i", &v, NULL, &err), &err, "p.i: expected true or false");
}

static void
test_integers (void **state)
{
  cleanup_json json_t *j = doc ("{\"neg\":-5,\"big\":4294967296,\"max32\":4294967295,\"f\":1.5,\"s\":\"1\","
                                "\"top\":9223372036854775807}");
  runhv_error_t err = NULL;
  int64_t i = 0;
  uint64_t u = 0;
  uint32_t u32 = 99;
  bool present = false;
  (void)state;
  assert_int_equal (jget_int64 (j, "r", "neg", &i, &present, &err), 0);
  assert_true (present);
  assert_int_equal (i, -5);
  assert_int_equal (jget_int64 (j, "r", "top", &i, NULL, &err), 0);
  assert_true (i == INT64_MAX);
  expect_msg (jget_int64 (j, "r", "f", &i, NULL, &err), &err, "r.f: expected an integer");
  expect_msg (jget_int64 (j, "r", "s", &i, NULL, &err), &err, "r.s: expected an integer");

  assert_int_equal (jget_uint64 (j, "r", "big", &u, NULL, &err), 0);
  assert_true (u == 4294967296ULL);
  expect_msg (jget_uint64 (j, "r", "neg", &u, NULL, &err), &err, "r.neg: expected a non-negative integer");

  assert_int_equal (jget_uint32 (j, "r", "max32", &u32, &present, &err), 0);
  assert_true (u32 == UINT32_MAX);
  /* one past 32 bits is an error naming the value, not a wrap to 0 */
  u32 = 99;
  expect_msg (jget_uint32 (j, "linux", "big", &u32, NULL, &err), &err,
              "linux.big: 4294967296 is out of range (at most 4294967295)");
  assert_int_equal (u32, 99);
  expect_msg (jget_uint32 (j, "r", "neg", &u32, NULL, &err), &err, "r.neg: expected a non-negative integer");
  assert_int_equal (jget_uint32 (j, "r", "none", &u32, &present, &err), 0);
  assert_false (present);
  assert_int_equal (u32, 99);
}

static void
test_strv (void **state)
{
  cleanup_json json_t *j = doc ("{\"a\":[\"x\",\"y\"],\"e\":[],\"mixed\":[\"x\",2],\"s\":\"x\"}");
  runhv_error_t err = NULL;
  char **v = NULL;
  (void)state;
  assert_int_equal (jget_strv (j, "process", "a", true, &v, &err), 0);
  assert_int_equal (strv_len (v), 2);
  assert_string_equal (v[1], "y");
  strv_free (v);
  /* an empty array is an empty vector, not NULL; absent is NULL */
  assert_int_equal (jget_strv (j, "process", "e", true, &v, &err), 0);
  assert_non_null (v);
  assert_int_equal (strv_len (v), 0);
  strv_free (v);
  assert_int_equal (jget_strv (j, "process", "none", false, &v, &err), 0);
  assert_null (v);
  expect_msg (jget_strv (j, "process", "none", true, &v, &err), &err, "process.none: missing (this field is required)");
  /* the bad element is named by its index */
  expect_msg (jget_strv (j, "process", "mixed", false, &v, &err), &err, "process.mixed[1]: expected a string");
  assert_null (v);
  expect_msg (jget_strv (j, "process", "s", false, &v, &err), &err, "process.s: expected an array of strings");
}

static void
test_object_and_array (void **state)
{
  cleanup_json json_t *j = doc ("{\"o\":{\"k\":1},\"a\":[1],\"n\":null}");
  runhv_error_t err = NULL;
  json_t *out = NULL;
  (void)state;
  assert_int_equal (jget_object (j, "linux", "o", true, &out, &err), 0);
  /* borrowed: the same node as in the document */
  assert_ptr_equal (out, json_object_get (j, "o"));
  expect_msg (jget_object (j, "linux", "a", false, &out, &err), &err, "linux.a: expected an object");
  assert_null (out);
  expect_msg (jget_object (j, "linux", "n", true, &out, &err), &err, "linux.n: missing (this field is required)");
  assert_int_equal (jget_array (j, "linux", "a", true, &out, &err), 0);
  assert_int_equal (json_array_size (out), 1);
  expect_msg (jget_array (j, "linux", "o", false, &out, &err), &err, "linux.o: expected an array");
  expect_msg (jget_array (j, "", "none", true, &out, &err), &err, "none: missing (this field is required)");
  /* a parent that is not an object has no fields */
  assert_int_equal (jget_array (json_object_get (j, "a"), "a", "x", false, &out, &err), 0);
  assert_null (out);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_paths),
    cmocka_unit_test (test_load_buffer),
    cmocka_unit_test (test_string),
    cmocka_unit_test (test_bool),
    cmocka_unit_test (test_integers),
    cmocka_unit_test (test_strv),
    cmocka_unit_test (test_object_and_array),
  };
  return cmocka_run_group_tests_name ("json", tests, NULL, NULL);
}

/* Container ids, the state registry and isolation precedence.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/config.h"
#include "runtime.h"
#include "oci/state.h"
#include "core/util.h"

static void
expect_bad_id (const char *id, const char *needle)
{
  runhv_error_t err = NULL;
  assert_int_equal (state_validate_id (id, &err), -1);
  if (strstr (err->msg, needle) == NULL)
    fail_msg ("error `%s` lacks `%s`", err->msg, needle);
  runhv_error_release (&err);
}

static void
test_ids (void **state)
{
  runhv_error_t err = NULL;
  (void)state;
  assert_int_equal (state_validate_id ("abc-DEF_1.2+3", &err), 0);
  assert_int_equal (state_validate_id ("5d41402abc4b2a76b9719d911017c592", &err), 0);
  expect_bad_id ("", "missing");
  expect_bad_id ("a/b", "invalid character `/`");
  expect_bad_id ("..", "must not contain `..`");
  expect_bad_id ("a..b", "must not contain `..`");
  expect_bad_id ("a\nb", "control character 0x0a");
  expect_bad_id ("a\x1b", "control character 0x1b");
  expect_bad_id ("-a", "invalid character `-`");
  expect_bad_id ("x@vm", "invalid character `@`");
}

static void
test_registry (void **state)
{
  char tmpl[] = "/tmp/runhv-state-XXXXXX";
  const char *root = mkdtemp (tmpl);
  runhv_error_t err = NULL;
  struct container_state st = { 0 }, *loaded = NULL;
  cleanup_strv char **ids = NULL;
  (void)state;
  assert_int_equal (state_dir_create (root, "c1", &err), 0);
  assert_int_equal (state_dir_create (root, "c1", &err), -1);
  assert_non_null (strstr (err->msg, "already exists"));
  runhv_error_release (&err);
  st.id = (char *)"c1";
  st.type = (char *)COMPUTE_TYPE_CONTAINER;
  st.isolation = (char *)"process";
  st.owner = (char *)"root";
  st.bundle = (char *)"/b";
  st.pid = 42;
  st.pid_start = 7;
  assert_int_equal (state_save (root, &st, &err), 0);
  assert_int_equal (state_load (root, "c1", &loaded, &err), 0);
  assert_string_equal (loaded->isolation, "process");
  assert_int_equal (loaded->pid, 42);
  assert_int_equal (loaded->pid_start, 7);
  container_state_free (loaded);
  assert_int_equal (state_load (root, "nope", &loaded, &err), -1);
  assert_non_null (strstr (err->msg, "does not exist"));
  runhv_error_release (&err);
  assert_int_equal (state_list (root, &ids, &err), 0);
  assert_int_equal (strv_len (ids), 1);
  assert_int_equal (state_remove (root, "c1", &err), 0);
  assert_int_equal (rm_rf (root, &err), 0);
}

static struct oci_spec *
spec_with_annotation (const char *value)
{
  cleanup_free char *doc
    = xasprintf ("{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"r\"},\"process\":{\"args\":[\"sh\"]}"
                 "%s%s%s}",
                 value ? ",\"annotations\":{\"io.runhv.isolation\":\"" : "", value ? value : "", value ? "\"}" : "");
  struct oci_spec *s = NULL;
  runhv_error_t err = NULL;
  assert_int_equal (oci_spec_parse_buffer (doc, strlen (doc), "t", &s, &err), 0);
  return s;
}

static void
test_isolation_precedence (void **state)
{
  struct runhv_config cfg = { .sandbox_isolation = ISOLATION_HYPERVISOR };
  struct oci_spec *none = spec_with_annotation (NULL), *proc = spec_with_annotation ("process");
  struct oci_spec *bad = spec_with_annotation ("container");
  enum isolation iso;
  runhv_error_t err = NULL;
  (void)state;
  /* nothing anywhere: process */
  assert_int_equal (runtime_select_isolation (NULL, none, NULL, &iso, &err), 0);
  assert_int_equal (iso, ISOLATION_PROCESS);
  /* config only */
  assert_int_equal (runtime_select_isolation (NULL, none, &cfg, &iso, &err), 0);
  assert_int_equal (iso, ISOLATION_HYPERVISOR);
  /* annotation beats config */
  assert_int_equal (runtime_select_isolation (NULL, proc, &cfg, &iso, &err), 0);
  assert_int_equal (iso, ISOLATION_PROCESS);
  /* flag beats annotation */
  assert_int_equal (runtime_select_isolation ("hypervisor", proc, &cfg, &iso, &err), 0);
  assert_int_equal (iso, ISOLATION_HYPERVISOR);
  assert_int_equal (runtime_select_isolation ("hyperv", proc, NULL, &iso, &err), 0);
  assert_int_equal (iso, ISOLATION_HYPERVISOR);
  /* unknown values are errors, never a fallback */
  assert_int_equal (runtime_select_isolation (NULL, bad, &cfg, &iso, &err), -1);
  assert_non_null (strstr (err->msg, "annotations.io.runhv.isolation: unknown isolation `container`"));
  runhv_error_release (&err);
  assert_int_equal (runtime_select_isolation ("vmm", none, NULL, &iso, &err), -1);
  assert_non_null (strstr (err->msg, "--isolation"));
  runhv_error_release (&err);
  oci_spec_free (none);
  oci_spec_free (proc);
  oci_spec_free (bad);
}

static void
test_parse_size (void **state)
{
  int64_t v;
  (void)state;
  assert_int_equal (parse_size ("512m", &v), 0);
  assert_int_equal (v, 512 << 20);
  assert_int_equal (parse_size ("1G", &v), 0);
  assert_int_equal (v, 1 << 30);
  assert_int_equal (parse_size ("1024", &v), 0);
  assert_int_equal (v, 1024);
  assert_int_equal (parse_size ("1KiB", &v), 0);
  assert_int_equal (v, 1024);
  assert_int_equal (parse_size ("-1", &v), -1);
  assert_int_equal (parse_size ("12x", &v), -1);
  assert_int_equal (parse_size ("99999999999999999999", &v), -1);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_ids),
    cmocka_unit_test (test_registry),
    cmocka_unit_test (test_isolation_precedence),
    cmocka_unit_test (test_parse_size),
  };
  return cmocka_run_group_tests_name ("state", tests, NULL, NULL);
}

/* Utility VM sizing: the seed's resource table, its precedence and its
   errors.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "uvm/sizing.h"
#include "core/util.h"

static struct oci_spec *
spec (const char *annotations, const char *resources)
{
  cleanup_free char *doc
    = xasprintf ("{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"r\"},\"process\":{\"args\":[\"sh\"]},"
                 "\"annotations\":{%s},\"linux\":{\"resources\":{%s}}}",
                 annotations, resources);
  struct oci_spec *s = NULL;
  runhv_error_t err = NULL;
  if (oci_spec_parse_buffer (doc, strlen (doc), "t", &s, &err) < 0)
    fail_msg ("%s", err->msg);
  return s;
}

static void
size (const char *ann, const char *res, const struct runhv_config *cfg, struct uvm_sizing *out)
{
  struct oci_spec *s = spec (ann, res);
  runhv_error_t err = NULL;
  if (uvm_sizing_compute (s, cfg, 8, 16384, out, &err) < 0)
    fail_msg ("%s", err->msg);
  oci_spec_free (s);
}

static void
expect_error (const char *ann, const char *needle)
{
  struct oci_spec *s = spec (ann, "");
  struct uvm_sizing out;
  runhv_error_t err = NULL;
  assert_int_equal (uvm_sizing_compute (s, NULL, 8, 16384, &out, &err), -1);
  if (strstr (err->msg, needle) == NULL)
    fail_msg ("`%s` lacks `%s`", err->msg, needle);
  runhv_error_release (&err);
  oci_spec_free (s);
}

static void
test_precedence (void **state)
{
  struct uvm_sizing z;
  struct runhv_config cfg = { .vm_memory_mb = 1024, .vm_cpus = 3 };
  (void)state;
  size ("", "", NULL, &z);
  assert_int_equal (z.memory_mb, UVM_MEMORY_DEFAULT_MB);
  assert_int_equal (z.cpus, UVM_CPUS_DEFAULT);
  assert_string_equal (z.memory_source, "default");
  /* derived from the container's limits */
  size ("", "\"memory\":{\"limit\":536870912},\"cpu\":{\"quota\":250000,\"period\":100000}", NULL, &z);
  assert_int_equal (z.memory_mb, 512 + UVM_MEMORY_HEADROOM_MB);
  assert_int_equal (z.cpus, 3);
  assert_string_equal (z.cpus_source, "limits");
  /* the pod's totals from the CRI beat one container's limits */
  size ("\"io.kubernetes.cri.sandbox-memory\":\"1073741824\",\"io.kubernetes.cri.sandbox-cpu-quota\":\"400000\","
        "\"io.kubernetes.cri.sandbox-cpu-period\":\"100000\"",
        "\"memory\":{\"limit\":536870912}", NULL, &z);
  assert_int_equal (z.memory_mb, 1024 + UVM_MEMORY_HEADROOM_MB);
  assert_int_equal (z.cpus, 4);
  assert_string_equal (z.memory_source, "pod");
  /* runhv.toml beats those */
  size ("", "\"memory\":{\"limit\":536870912}", &cfg, &z);
  assert_int_equal (z.memory_mb, 1024);
  assert_int_equal (z.cpus, 3);
  assert_string_equal (z.memory_source, "config");
  /* annotations beat everything, and the io.microsoft spellings work */
  size ("\"io.runhv.virtualmachine.computetopology.memory.sizeinmb\":\"768\","
        "\"io.microsoft.virtualmachine.computetopology.processor.count\":\"2\"",
        "", &cfg, &z);
  assert_int_equal (z.memory_mb, 768);
  assert_int_equal (z.cpus, 2);
  assert_string_equal (z.memory_source, "annotation");
  assert_string_equal (z.cpus_source, "annotation");
  /* quotas above the host are capped at the host */
  size ("", "\"cpu\":{\"quota\":5000000,\"period\":100000}", NULL, &z);
  assert_int_equal (z.cpus, 8);
}

static void
test_errors (void **state)
{
  (void)state;
  expect_error ("\"io.runhv.virtualmachine.computetopology.memory.sizeinmb\":\"lots\"", "is not a number");
  expect_error ("\"io.runhv.virtualmachine.computetopology.memory.sizeinmb\":\"0\"", "0 is not allowed");
  expect_error ("\"io.runhv.virtualmachine.computetopology.memory.sizeinmb\":\"99999999\"",
                "more than this host has (16384)");
  expect_error ("\"io.runhv.virtualmachine.computetopology.memory.sizeinmb\":\"64\"", "too small");
  expect_error ("\"io.microsoft.virtualmachine.computetopology.processor.count\":\"-1\"",
                "io.microsoft.virtualmachine.computetopology.processor.count: `-1` is not a number");
  expect_error ("\"io.runhv.virtualmachine.computetopology.processor.count\":\"9\"", "more than this host has (8)");
  expect_error ("\"io.runhv.container.storage.qos.iopsmaximum\":\"0\"", "0 is not allowed");
  expect_error ("\"io.microsoft.container.storage.qos.bandwidthmaximum\":\"1.5\"", "is not a number");
}

static void
test_qos_and_scaling (void **state)
{
  struct uvm_sizing z;
  struct runhv_config cfg = { .scale_cpu_limits = true, .vm_cpus = 2 };
  struct oci_spec *s;
  json_t *res;
  (void)state;
  size ("\"io.microsoft.container.storage.qos.bandwidthmaximum\":\"104857600\","
        "\"io.runhv.container.storage.qos.iopsmaximum\":\"1000\"",
        "", NULL, &z);
  assert_int_equal (z.qos_bps, 104857600);
  assert_int_equal (z.qos_iops, 1000);
  /* ScaleCPULimitsToSandbox: a quota of 4 host CPUs (of 8) becomes the
     same half of the VM's 2 vCPUs */
  s = spec ("", "\"cpu\":{\"quota\":400000,\"period\":100000}");
  {
    runhv_error_t err = NULL;
    assert_int_equal (uvm_sizing_compute (s, &cfg, 8, 16384, &z, &err), 0);
  }
  res = uvm_guest_resources (s, &z);
  assert_int_equal (json_integer_value (json_object_get (json_object_get (res, "cpu"), "quota")), 100000);
  json_decref (res);
  /* without scaling, a quota is capped at the VM's vCPUs */
  z.cpu_quota_scale = 1.0;
  res = uvm_guest_resources (s, &z);
  assert_int_equal (json_integer_value (json_object_get (json_object_get (res, "cpu"), "quota")), 200000);
  json_decref (res);
  oci_spec_free (s);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_precedence),
    cmocka_unit_test (test_errors),
    cmocka_unit_test (test_qos_and_scaling),
  };
  return cmocka_run_group_tests_name ("sizing", tests, NULL, NULL);
}

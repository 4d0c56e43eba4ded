/* cgroup v2 on a fake cgroupfs tree (the host here is v1; the guest VM
   exercises v2 for real), and the pure conversions.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "cgroup.h"
#include "json.h"
#include "util.h"

static char *
make_tree (void)
{
  char tmpl[] = "/tmp/runhv-cgtest-XXXXXX";
  char *root = xstrdup (mkdtemp (tmpl));
  cleanup_free char *f = xasprintf ("%s/cgroup.controllers", root);
  assert_int_equal (write_file_atomic (f, "cpuset cpu io memory pids\n", 26, 0644, NULL), 0);
  return root;
}

static char *
slurp (const char *root, const char *rel)
{
  cleanup_free char *p = xasprintf ("%s/%s", root, rel);
  char *buf = NULL;
  if (read_file (p, 0, &buf, NULL, NULL) < 0)
    fail_msg ("cannot read %s", p);
  return buf;
}

static void
test_v2_apply (void **state)
{
  cleanup_free char *root = make_tree ();
  struct cgroup_manager *m = NULL;
  runhv_error_t err = NULL;
  struct oci_resources r = { 0 };
  (void)state;

  assert_int_equal (cgroup_manager_new (root, NULL, "abc", false, &m, &err), 0);
  assert_int_equal (m->mode, CGROUP_MODE_V2);
  assert_string_equal (m->h[0].path, "/runhv/abc");
  assert_int_equal (cgroup_create (m, &err), 0);
  {
    cleanup_free char *sc = slurp (root, "cgroup.subtree_control");
    assert_non_null (strstr (sc, "memory"));
    assert_non_null (strstr (sc, "cpu"));
    assert_non_null (strstr (sc, "pids"));
  }
  {
    cleanup_free char *sc = slurp (root, "runhv/cgroup.subtree_control");
    assert_non_null (strstr (sc, "memory"));
  }
  r.has_memory_limit = true;
  r.memory_limit = 100 << 20;
  r.has_memory_swap = true;
  r.memory_swap = 150 << 20;
  r.has_memory_reservation = true;
  r.memory_reservation = 50 << 20;
  r.has_cpu_shares = true;
  r.cpu_shares = 1024;
  r.has_cpu_quota = true;
  r.cpu_quota = 50000;
  r.has_cpu_period = true;
  r.cpu_period = 100000;
  r.cpu_cpus = (char *)"0";
  r.has_pids_limit = true;
  r.pids_limit = 42;
  assert_int_equal (cgroup_apply (m, &r, &err), 0);
  {
    cleanup_free char *v = slurp (root, "runhv/abc/memory.max");
    assert_string_equal (v, "104857600");
  }
  {
    cleanup_free char *v = slurp (root, "runhv/abc/memory.swap.max");
    assert_string_equal (v, "52428800");
  }
  {
    cleanup_free char *v = slurp (root, "runhv/abc/memory.low");
    assert_string_equal (v, "52428800");
  }
  {
    cleanup_free char *v = slurp (root, "runhv/abc/cpu.max");
    assert_string_equal (v, "50000 100000");
  }
  {
    cleanup_free char *v = slurp (root, "runhv/abc/cpu.weight");
    assert_string_equal (v, "39");
  }
  {
    cleanup_free char *v = slurp (root, "runhv/abc/pids.max");
    assert_string_equal (v, "42");
  }
  {
    cleanup_free char *v = slurp (root, "runhv/abc/cpuset.cpus");
    assert_string_equal (v, "0");
  }
  /* unlimited values */
  r = (struct oci_resources){ .has_memory_limit = true,
                              .memory_limit = -1,
                              .has_pids_limit = true,
                              .pids_limit = -1,
                              .has_cpu_quota = true,
                              .cpu_quota = -1 };
  assert_int_equal (cgroup_apply (m, &r, &err), 0);
  {
    cleanup_free char *v = slurp (root, "runhv/abc/memory.max");
    assert_string_equal (v, "max");
  }
  {
    cleanup_free char *v = slurp (root, "runhv/abc/cpu.max");
    assert_string_equal (v, "max 100000");
  }
  {
    cleanup_free char *v = slurp (root, "runhv/abc/pids.max");
    assert_string_equal (v, "max");
  }
  assert_int_equal (cgroup_freeze (m, true, &err), 0);
  assert_true (cgroup_is_frozen (m));
  assert_int_equal (cgroup_freeze (m, false, &err), 0);
  assert_false (cgroup_is_frozen (m));
  {
    /* round trip through the state record */
    json_t *j = cgroup_manager_to_json (m);
    struct cgroup_manager *m2 = NULL;
    assert_int_equal (cgroup_manager_from_json (j, &m2, &err), 0);
    assert_string_equal (m2->h[0].path, "/runhv/abc");
    assert_true (m2->fake);
    cgroup_manager_free (m2);
    json_decref (j);
  }
  assert_int_equal (cgroup_destroy (m, false, &err), 0);
  {
    cleanup_free char *p = xasprintf ("%s/runhv/abc", root);
    assert_int_equal (access (p, F_OK), -1);
  }
  cgroup_manager_free (m);
  assert_int_equal (rm_rf (root, &err), 0);
}

static void
test_v2_unified_and_io (void **state)
{
  cleanup_free char *root = make_tree ();
  struct cgroup_manager *m = NULL;
  runhv_error_t err = NULL;
  struct oci_resources r = { 0 };
  struct oci_throttle_device rbps = { .major = 254, .minor = 0, .rate = 1048576 };
  char *keys[] = { (char *)"memory.high", NULL }, *vals[] = { (char *)"12345678", NULL };
  (void)state;
  assert_int_equal (cgroup_manager_new (root, "/pods/x", "x", false, &m, &err), 0);
  assert_int_equal (cgroup_create (m, &err), 0);
  r.throttle_read_bps = &rbps;
  r.n_throttle_read_bps = 1;
  r.unified_keys = keys;
  r.unified_values = vals;
  r.has_blkio_weight = true;
  r.blkio_weight = 500;
  assert_int_equal (cgroup_apply (m, &r, &err), 0);
  {
    cleanup_free char *v = slurp (root, "pods/x/io.max");
    assert_string_equal (v, "254:0 rbps=1048576");
  }
  {
    cleanup_free char *v = slurp (root, "pods/x/memory.high");
    assert_string_equal (v, "12345678");
  }
  {
    cleanup_free char *v = slurp (root, "pods/x/io.weight");
    assert_string_equal (v, "4950");
  }
  cgroup_destroy (m, false, &err);
  cgroup_manager_free (m);
  rm_rf (root, &err);
}

/* v2: a per-device weight goes to io.weight in its own range; real-time
   bandwidth does not exist there and is refused by name.  */
static void
test_v2_weight_device_and_rt (void **state)
{
  cleanup_free char *root = make_tree ();
  struct cgroup_manager *m = NULL;
  runhv_error_t err = NULL;
  struct oci_resources r = { 0 };
  struct oci_weight_device wd = { .major = 7, .minor = 3, .weight = 1000 };
  (void)state;
  assert_int_equal (cgroup_manager_new (root, "/pods/w", "w", false, &m, &err), 0);
  assert_int_equal (cgroup_create (m, &err), 0);
  r.weight_devices = &wd;
  r.n_weight_devices = 1;
  assert_int_equal (cgroup_apply (m, &r, &err), 0);
  {
    cleanup_free char *v = slurp (root, "pods/w/io.weight");
    assert_string_equal (v, "7:3 10000");
  }
  memset (&r, 0, sizeof (r));
  r.has_cpu_rt_runtime = true;
  r.cpu_rt_runtime = 1000;
  assert_int_equal (cgroup_apply (m, &r, &err), -1);
  assert_non_null (strstr (err->msg, "realtimeRuntime"));
  runhv_error_release (&err);
  cgroup_destroy (m, false, &err);
  cgroup_manager_free (m);
  rm_rf (root, &err);
}

/* v2: hugetlb.<size>.max; net_cls/net_prio do not exist and are refused.  */
static void
test_v2_hugetlb_and_network (void **state)
{
  cleanup_free char *root = make_tree ();
  struct cgroup_manager *m = NULL;
  runhv_error_t err = NULL;
  struct oci_resources r = { 0 };
  struct oci_hugepage_limit h = { .page_size = (char *)"2MB", .limit = 4194304 };
  (void)state;
  assert_int_equal (cgroup_manager_new (root, "/pods/h", "h", false, &m, &err), 0);
  assert_int_equal (cgroup_create (m, &err), 0);
  r.hugepage_limits = &h;
  r.n_hugepage_limits = 1;
  assert_int_equal (cgroup_apply (m, &r, &err), 0);
  {
    cleanup_free char *v = slurp (root, "pods/h/hugetlb.2MB.max");
    assert_string_equal (v, "4194304");
  }
  memset (&r, 0, sizeof (r));
  r.has_net_class_id = true;
  r.net_class_id = 0x100001;
  assert_int_equal (cgroup_apply (m, &r, &err), -1);
  assert_non_null (strstr (err->msg, "linux.resources.network"));
  runhv_error_release (&err);
  cgroup_destroy (m, false, &err);
  cgroup_manager_free (m);
  rm_rf (root, &err);
}

static void
test_conversions (void **state)
{
  (void)state;
  assert_int_equal (cgroup_shares_to_weight (2), 1);
  assert_int_equal (cgroup_shares_to_weight (262144), 10000);
  assert_int_equal (cgroup_shares_to_weight (1024), 39);
  assert_int_equal (cgroup_blkio_to_io_weight (10), 1);
  assert_int_equal (cgroup_blkio_to_io_weight (1000), 10000);
}

static void
test_paths (void **state)
{
  (void)state;
  {
    cleanup_free char *p = cgroup_path_from_spec (NULL, "id1", false);
    assert_string_equal (p, "/runhv/id1");
  }
  {
    cleanup_free char *p = cgroup_path_from_spec ("/a/b", "id1", false);
    assert_string_equal (p, "/a/b");
  }
  {
    cleanup_free char *p = cgroup_path_from_spec ("machine.slice:libpod:abc", "abc", true);
    assert_string_equal (p, "/machine.slice/libpod-abc.scope");
  }
  {
    cleanup_free char *p = cgroup_path_from_spec ("kubepods-besteffort.slice:cri-containerd:abc", "abc", true);
    assert_string_equal (p, "/kubepods.slice/kubepods-besteffort.slice/cri-containerd-abc.scope");
  }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_v2_apply),
    cmocka_unit_test (test_v2_unified_and_io),
    cmocka_unit_test (test_v2_weight_device_and_rt),
    cmocka_unit_test (test_v2_hugetlb_and_network),
    cmocka_unit_test (test_conversions),
    cmocka_unit_test (test_paths),
  };
  return cmocka_run_group_tests_name ("cgroup", tests, NULL, NULL);
}

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

#include "process/cgroup.h"
#include "core/json.h"
#include "core/util.h"

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
put (const char *root, const char *rel, const char *data)
{
  cleanup_free char *p = xasprintf ("%s/%s", root, rel);
  assert_int_equal (write_file_atomic (p, data, strlen (data), 0644, NULL), 0);
}

/* The guest's layout, read as runc 1.1 reads v2: swap reported as
   memory+swap, io.stat mapped to v1's tables, "max" pids as 0.  */
static void
test_v2_stats (void **state)
{
  cleanup_free char *root = make_tree ();
  cleanup_container_stats struct container_stats s = { 0 };
  struct cgroup_manager *m = NULL;
  runhv_error_t err = NULL;
  (void)state;
  assert_int_equal (cgroup_manager_new (root, NULL, "st", false, &m, &err), 0);
  assert_int_equal (cgroup_create (m, &err), 0);
  put (root, "runhv/st/memory.stat", "anon 4096\nfile 8192\ninactive_file 4096\nbad line\n");
  put (root, "runhv/st/memory.current", "12288\n");
  put (root, "runhv/st/memory.max", "max\n");
  put (root, "runhv/st/memory.swap.current", "100\n");
  put (root, "runhv/st/memory.swap.max", "max\n");
  put (root, "runhv/st/memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\n");
  put (root, "runhv/st/cpu.stat",
       "usage_usec 7\nuser_usec 5\nsystem_usec 2\nnr_periods 4\nnr_throttled 1\n"
       "throttled_usec 9\n");
  put (root, "runhv/st/pids.current", "3\n");
  put (root, "runhv/st/pids.max", "max\n");
  put (root, "runhv/st/io.stat",
       "254:0 rbytes=4096 wbytes=512 rios=1 wios=2 dbytes=0 dios=0\n"
       "254:16 rbytes=1 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n");
  assert_int_equal (cgroup_stats (m, &s, &err), 0);
  assert_int_equal (s.memory.usage.usage, 12288);
  assert_true (s.memory.usage.limit == UINT64_MAX);
  assert_int_equal (s.memory.swap.usage, 12388);
  assert_true (s.memory.swap.limit == UINT64_MAX);
  assert_int_equal (s.memory.cache, 8192);
  assert_int_equal (s.memory.n_raw, 3);
  assert_string_equal (s.memory.raw[0].name, "anon");
  assert_int_equal (container_stats_raw (&s, "inactive_file"), 4096);
  assert_int_equal (s.cpu.total, 7000);
  assert_int_equal (s.cpu.user, 5000);
  assert_int_equal (s.cpu.kernel, 2000);
  assert_int_equal (s.cpu.throttled_time, 9000);
  assert_int_equal (s.pids.current, 3);
  assert_int_equal (s.pids.limit, 0);
  assert_int_equal (s.oom_kills, 2);
  assert_int_equal (s.blkio[STATS_IO_SERVICE_BYTES].n, 4);
  assert_string_equal (s.blkio[STATS_IO_SERVICE_BYTES].v[1].op, "Write");
  assert_int_equal (s.blkio[STATS_IO_SERVICE_BYTES].v[1].value, 512);
  assert_int_equal (s.blkio[STATS_IO_SERVICED].v[2].minor, 16);
  {
    /* runc's text: Go's field order, omitempty, whole unsigned numbers */
    cleanup_free char *t = container_stats_runc_json (&s);
    assert_non_null (strstr (t, "\"usage\":{\"limit\":18446744073709551615,\"usage\":12288,\"failcnt\":0}"));
    assert_non_null (strstr (t, "\"pids\":{\"current\":3}"));
    assert_non_null (strstr (t, "\"cpu\":{\"usage\":{\"total\":7000,\"kernel\":2000,\"user\":5000},"
                                "\"throttling\":{\"periods\":4,\"throttledPeriods\":1,\"throttledTime\":9000}}"));
    assert_non_null (strstr (t, "\"intel_rdt\":{},\"network_interfaces\":null}"));
  }
  {
    /* the agent channel: what one end encodes the other decodes */
    cleanup_container_stats struct container_stats back = { 0 };
    cleanup_json json_t *j = container_stats_to_json (&s);
    cleanup_free char *a = container_stats_runc_json (&s), *b = NULL;
    assert_int_equal (container_stats_from_json (j, &back, &err), 0);
    b = container_stats_runc_json (&back);
    assert_string_equal (a, b);
    assert_int_equal (back.oom_kills, 2);
  }
  cgroup_destroy (m, false, &err);
  cgroup_manager_free (m);
  rm_rf (root, &err);
}

/* Guest bytes the host refuses, each with a one-line error naming the field.  */
static void
test_stats_decoder_refuses (void **state)
{
  static const char *const bad[] = {
    "[]",
    "{\"cpu\": 1}",
    "{\"cpu\": {\"usage\": {\"total\": -2}}}",
    "{\"cpu\": {\"usage\": {\"total\": \"1\"}}}",
    "{\"cpuset\": {\"cpus\": [70000]}}",
    "{\"memory\": {\"raw\": {\"Bad Name\": 1}}}",
    "{\"memory\": {\"raw\": {\"x\": true}}}",
    "{\"blkio\": {\"ioServicedRecursive\": [{\"op\": \"\\\"}\"}]}}",
    "{\"blkio\": {\"ioServicedRecursive\": 5}}",
    "{\"hugetlb\": {\"2MB\\n\": {}}}",
  };
  (void)state;
  for (size_t i = 0; i < sizeof (bad) / sizeof (bad[0]); i++)
    {
      cleanup_json json_t *j = json_loads (bad[i], JSON_DECODE_ANY, NULL);
      struct container_stats s;
      runhv_error_t err = NULL;
      assert_non_null (j);
      if (container_stats_from_json (j, &s, &err) != -1)
        fail_msg ("accepted %s", bad[i]);
      assert_null (strchr (err->msg, '\n'));
      runhv_error_release (&err);
    }
  {
    /* arrays past the bound */
    cleanup_json json_t *j = json_pack ("{s:{s:{s:o}}}", "cpu", "usage", "percpu", json_array ());
    json_t *a = json_object_get (json_object_get (json_object_get (j, "cpu"), "usage"), "percpu");
    struct container_stats s;
    runhv_error_t err = NULL;
    for (int i = 0; i <= STATS_MAX_CPUS; i++)
      json_array_append_new (a, json_integer (i));
    assert_int_equal (container_stats_from_json (j, &s, &err), -1);
    runhv_error_release (&err);
  }
}

/* The v1 files as this host's kernel writes them.  */
static void
test_stats_parsers (void **state)
{
  cleanup_container_stats struct container_stats s = { 0 };
  cleanup_free uint16_t *cpus = NULL;
  size_t n = 0;
  char name[16];
  (void)state;
  assert_int_equal (cgroup_parse_cpu_list ("0-2,5\n", &cpus, &n), 0);
  assert_int_equal (n, 4);
  assert_int_equal (cpus[3], 5);
  free (cpus);
  cpus = NULL;
  assert_int_equal (cgroup_parse_cpu_list ("3-1\n", &cpus, &n), -1);
  assert_int_equal (cgroup_parse_cpu_list ("0-70000\n", &cpus, &n), -1);
  assert_int_equal (cgroup_parse_u64_fields ("10 20 \n", &s.cpu.percpu, &s.cpu.n_percpu), 0);
  assert_int_equal (s.cpu.n_percpu, 2);
  assert_int_equal (cgroup_parse_usage_all ("cpu user system\n0 100 200\n1 300 400\n", &s), 0);
  assert_int_equal (s.cpu.n_percpu_kernel, 2);
  assert_int_equal (s.cpu.percpu_kernel[1], 400);
  assert_int_equal (s.cpu.percpu_user[0], 100);
  assert_int_equal (cgroup_parse_blkio ("8:0 Read 10\n8:0 Write 0\n8:0 Total 10\nTotal 10\n", &s.blkio[0]), 0);
  assert_int_equal (s.blkio[0].n, 3);
  assert_string_equal (s.blkio[0].v[2].op, "Total");
  assert_int_equal (cgroup_parse_blkio ("8:0 4096\n", &s.blkio[1]), 0);
  assert_string_equal (s.blkio[1].v[0].op, "");
  assert_int_equal (cgroup_parse_blkio ("garbage\n", &s.blkio[2]), -1);
  assert_int_equal (cgroup_hugepage_name ("hugepages-2048kB", name, sizeof (name)), 0);
  assert_string_equal (name, "2MB");
  assert_int_equal (cgroup_hugepage_name ("hugepages-1048576kB", name, sizeof (name)), 0);
  assert_string_equal (name, "1GB");
  assert_int_equal (cgroup_hugepage_name ("hugepages-64kB", name, sizeof (name)), 0);
  assert_string_equal (name, "64KB");
  assert_int_equal (cgroup_hugepage_name ("other", name, sizeof (name)), -1);
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
    cmocka_unit_test (test_v2_stats),
    cmocka_unit_test (test_stats_decoder_refuses),
    cmocka_unit_test (test_stats_parsers),
    cmocka_unit_test (test_conversions),
    cmocka_unit_test (test_paths),
  };
  return cmocka_run_group_tests_name ("cgroup", tests, NULL, NULL);
}

/* OCI spec parsing and validation: every bad input gives one line naming
   the field.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mount.h>
#include <sched.h>
#include <cmocka.h>
#include <linux/capability.h>
#include <seccomp.h>

#include "core/error.h"
#include "oci/spec.h"
#include "core/util.h"

static const char *const good
  = "{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"rootfs\",\"readonly\":true},"
    "\"process\":{\"args\":[\"sh\",\"-c\",\"true\"],\"cwd\":\"/\",\"env\":[\"A=b\"],"
    "\"user\":{\"uid\":1,\"gid\":2,\"additionalGids\":[3,4],\"umask\":18},"
    "\"capabilities\":{\"bounding\":[\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"],\"effective\":[\"CAP_KILL\"]},"
    "\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":10,\"hard\":20}],\"noNewPrivileges\":true,\"oomScoreAdj\":5},"
    "\"hostname\":\"h\",\"mounts\":[{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
    "{\"destination\":\"/data\",\"type\":\"bind\",\"source\":\"/tmp\",\"options\":[\"rbind\",\"ro\",\"rslave\","
    "\"nosuid\",\"mode=755\"]}],"
    "\"annotations\":{\"io.runhv.isolation\":\"process\"},"
    "\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"mount\"},{\"type\":\"uts\"},{\"type\":\"ipc\"},"
    "{\"type\":\"network\",\"path\":\"/var/run/netns/x\"}],"
    "\"resources\":{\"memory\":{\"limit\":104857600,\"swap\":209715200},\"cpu\":{\"shares\":512,\"quota\":50000,"
    "\"period\":100000,\"cpus\":\"0-1\"},\"pids\":{\"limit\":64},\"devices\":[{\"allow\":false,\"access\":\"rwm\"}]},"
    "\"sysctl\":{\"net.ipv4.ip_forward\":\"1\",\"kernel.shmmax\":\"100\"},"
    "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_X86_64\"],"
    "\"syscalls\":[{\"names\":[\"mkdir\",\"no_such_syscall\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":1,"
    "\"args\":[{\"index\":1,\"value\":2,\"op\":\"SCMP_CMP_EQ\"}]}]},"
    "\"maskedPaths\":[\"/proc/kcore\"],\"readonlyPaths\":[\"/proc/sys\"],\"rootfsPropagation\":\"rprivate\"},"
    "\"hooks\":{\"prestart\":[{\"path\":\"/bin/true\",\"timeout\":5}]}}";

static void
test_good_spec (void **state)
{
  struct oci_spec *s = NULL;
  runhv_error_t err = NULL;
  (void)state;
  assert_int_equal (oci_spec_parse_buffer (good, strlen (good), "config.json", &s, &err), 0);
  assert_string_equal (s->process->args[2], "true");
  assert_int_equal (s->process->uid, 1);
  assert_int_equal (s->process->gid, 2);
  assert_int_equal (s->process->n_additional_gids, 2);
  assert_int_equal (s->process->umask, 18);
  assert_true (s->process->cap_bounding & (1ULL << CAP_KILL));
  assert_true (s->process->cap_bounding & (1ULL << CAP_NET_BIND_SERVICE));
  assert_false (s->process->cap_effective & (1ULL << CAP_NET_BIND_SERVICE));
  assert_int_equal (s->process->n_rlimits, 1);
  assert_true (s->process->no_new_privileges);
  assert_true (s->root_readonly);
  assert_int_equal (s->n_mounts, 2);
  assert_true (s->mounts[1].bind);
  assert_true (s->mounts[1].flags & MS_REC);
  assert_true (s->mounts[1].flags & MS_RDONLY);
  assert_true (s->mounts[1].flags & MS_NOSUID);
  assert_int_equal (s->mounts[1].propagation, MS_SLAVE | MS_REC);
  assert_string_equal (s->mounts[1].data, "mode=755");
  assert_int_equal (s->n_namespaces, 5);
  assert_string_equal (s->namespaces[4].path, "/var/run/netns/x");
  assert_int_equal (s->resources->memory_limit, 104857600);
  assert_int_equal (s->resources->cpu_quota, 50000);
  assert_int_equal (s->resources->pids_limit, 64);
  assert_int_equal (s->resources->n_devices, 1);
  assert_int_equal (s->seccomp->n_rules, 1);
  assert_int_equal (s->seccomp->rules[0].action, SCMP_ACT_ERRNO (1));
  assert_int_equal (s->rootfs_propagation, MS_PRIVATE | MS_REC);
  assert_string_equal (oci_spec_annotation (s, "io.runhv.isolation"), "process");
  assert_int_equal (s->n_hooks[OCI_HOOK_PRESTART], 1);
  oci_spec_free (s);
}

/* Replace the first occurrence of `from` in the good spec with `to`.  */
static char *
mutate (const char *from, const char *to)
{
  const char *p = strstr (good, from);
  assert_non_null (p);
  return xasprintf ("%.*s%s%s", (int)(p - good), good, to, p + strlen (from));
}

static void
expect_error (const char *doc, const char *needle)
{
  struct oci_spec *s = NULL;
  runhv_error_t err = NULL;
  int r = oci_spec_parse_buffer (doc, strlen (doc), "config.json", &s, &err);
  if (r == 0)
    fail_msg ("expected an error containing `%s`, got success", needle);
  assert_non_null (err);
  if (strstr (err->msg, needle) == NULL)
    fail_msg ("error `%s` does not contain `%s`", err->msg, needle);
  assert_null (strchr (err->msg, '\n'));
  runhv_error_release (&err);
}

static void
expect_mutation_error (const char *from, const char *to, const char *needle)
{
  cleanup_free char *doc = mutate (from, to);
  expect_error (doc, needle);
}

static void
test_malformed_json (void **state)
{
  (void)state;
  expect_error ("{\n  \"ociVersion\": \"1.0.2\",\n  \"root\": {\"path\": \"r\"\n}", "line 4, column");
  expect_error ("[]", "not a JSON object");
  expect_error ("{\"ociVersion\":\"1.0.2\",\"ociVersion\":\"1.0.2\"}", "invalid JSON");
}

static void
test_missing_fields (void **state)
{
  (void)state;
  expect_mutation_error ("\"ociVersion\":\"1.0.2\",", "", "ociVersion: missing");
  expect_mutation_error ("\"ociVersion\":\"1.0.2\"", "\"ociVersion\":\"2.0.0\"",
                         "ociVersion: `2.0.0` is not supported");
  expect_mutation_error ("\"args\":[\"sh\",\"-c\",\"true\"],", "", "process.args: missing or empty");
  expect_mutation_error ("\"args\":[\"sh\",\"-c\",\"true\"]", "\"args\":[]", "process.args: missing or empty");
  expect_mutation_error ("\"root\":{\"path\":\"rootfs\",\"readonly\":true},", "", "root: missing");
  expect_mutation_error ("\"cwd\":\"/\"", "\"cwd\":\"relative\"", "process.cwd");
}

static void
test_bad_names (void **state)
{
  (void)state;
  expect_mutation_error ("{\"type\":\"uts\"}", "{\"type\":\"bogus\"}",
                         "linux.namespaces[2].type: unknown namespace `bogus`");
  expect_mutation_error ("{\"type\":\"uts\"}", "{\"type\":\"pid\"}", "listed twice");
  expect_mutation_error ("\"CAP_KILL\",\"CAP_NET", "\"CAP_BOGUS\",\"CAP_NET",
                         "process.capabilities.bounding[0]: unknown capability `CAP_BOGUS`");
  expect_mutation_error ("RLIMIT_NOFILE", "RLIMIT_BOGUS", "unknown rlimit `RLIMIT_BOGUS`");
  expect_mutation_error ("\"soft\":10,\"hard\":20", "\"soft\":30,\"hard\":20", "above the hard limit");
  expect_mutation_error ("SCMP_CMP_EQ", "SCMP_CMP_BOGUS", "unknown operator");
  expect_mutation_error ("\"rootfsPropagation\":\"rprivate\"", "\"rootfsPropagation\":\"sideways\"",
                         "linux.rootfsPropagation: unknown value");
  expect_mutation_error ("\"kernel.shmmax\":\"100\"", "\"kernel.panic\":\"1\"", "not namespaced");
  expect_mutation_error ("\"oomScoreAdj\":5", "\"oomScoreAdj\":5000", "process.oomScoreAdj");
  expect_mutation_error ("{\"type\":\"uts\"},", "", "hostname: setting it needs a uts namespace");
  expect_mutation_error ("\"env\":[\"A=b\"]", "\"env\":[\"novalue\"]", "process.env[0]");
}

static void
test_resources (void **state)
{
  (void)state;
  expect_mutation_error ("\"limit\":104857600", "\"limit\":-5", "linux.resources.memory.limit: -5");
  expect_mutation_error ("\"limit\":104857600", "\"limit\":12", "linux.resources.memory.limit: 12");
  expect_mutation_error ("\"swap\":209715200", "\"swap\":1000000", "below the memory limit");
  expect_mutation_error ("\"shares\":512", "\"shares\":1", "linux.resources.cpu.shares: 1 is out of range");
  expect_mutation_error ("\"quota\":50000", "\"quota\":5", "linux.resources.cpu.quota: 5 is out of range");
  expect_mutation_error ("\"period\":100000", "\"period\":99999999", "linux.resources.cpu.period");
  expect_mutation_error ("\"cpus\":\"0-1\"", "\"cpus\":\"0-\"", "linux.resources.cpu.cpus");
  expect_mutation_error ("{\"limit\":64}", "{\"limit\":-64}", "linux.resources.pids.limit: -64 is negative");
  expect_mutation_error ("\"limit\":104857600", "\"limit\":\"big\"", "expected an integer");
}

static void
test_mount_options (void **state)
{
  struct oci_mount m = { .destination = (char *)"/x", .type = (char *)"tmpfs" };
  char *opts[]
    = { (char *)"ro", (char *)"rw", (char *)"nosuid", (char *)"size=1k", (char *)"mode=700", (char *)"private", NULL };
  runhv_error_t err = NULL;
  (void)state;
  m.options = opts;
  assert_int_equal (oci_mount_parse_options (&m, &err), 0);
  assert_false (m.flags & MS_RDONLY); /* rw after ro wins */
  assert_true (m.flags & MS_NOSUID);
  assert_string_equal (m.data, "size=1k,mode=700");
  assert_int_equal (m.propagation, MS_PRIVATE);
  free (m.data);
  {
    char *bad[] = { (char *)"idmap", NULL };
    m.options = bad;
    m.data = NULL;
    assert_int_equal (oci_mount_parse_options (&m, &err), -1);
    assert_non_null (strstr (err->msg, "idmap"));
    runhv_error_release (&err);
  }
  {
    /* recursive options: the later of two opposites wins; an atime mode
       clears the whole atime field */
    char *rec[] = { (char *)"rro", (char *)"rnosuid", (char *)"rsuid", (char *)"rnoatime", NULL };
    m.options = rec;
    m.data = NULL;
    assert_int_equal (oci_mount_parse_options (&m, &err), 0);
    assert_int_equal (m.rec_attr_set, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOATIME);
    assert_int_equal (m.rec_attr_clr, MOUNT_ATTR_NOSUID | MOUNT_ATTR__ATIME);
    assert_int_equal (m.flags, 0);
    assert_null (m.data);
  }
  {
    cleanup_strv char **names = oci_mount_option_names ();
    bool rro = false;
    for (size_t i = 0; names[i]; i++)
      {
        if (strcmp (names[i], "rro") == 0)
          rro = true;
        if (i > 0)
          assert_true (strcmp (names[i - 1], names[i]) < 0);
      }
    assert_true (rro);
  }
}

static void
test_names (void **state)
{
  (void)state;
  assert_int_equal (oci_namespace_from_name ("network"), CLONE_NEWNET);
  assert_int_equal (oci_namespace_from_name ("net"), -1);
  assert_string_equal (oci_namespace_proc_name (CLONE_NEWNS), "mnt");
  assert_int_equal (oci_capability_from_name ("CAP_SYS_ADMIN"), CAP_SYS_ADMIN);
  assert_int_equal (oci_capability_from_name ("SYS_ADMIN"), -1);
  assert_int_equal (oci_capability_from_name ("CAP_SYS_ADMIN;"), -1);
}

static void
test_default_spec_parses (void **state)
{
  for (int rootless = 0; rootless < 2; rootless++)
    {
      cleanup_free char *doc = oci_default_spec_json (rootless, rootless);
      struct oci_spec *s = NULL;
      runhv_error_t err = NULL;
      (void)state;
      if (oci_spec_parse_buffer (doc, strlen (doc), "spec", &s, &err) < 0)
        fail_msg ("default spec (rootless=%d) does not parse: %s", rootless, err->msg);
      assert_true (s->process->terminal);
      oci_spec_free (s);
    }
}

static void
test_process_parse (void **state)
{
  json_error_t je;
  json_t *j = json_loads ("{\"args\":[\"ls\"],\"terminal\":true,\"consoleSize\":{\"height\":24,\"width\":80}}", 0, &je);
  struct oci_process *p = NULL;
  runhv_error_t err = NULL;
  (void)state;
  assert_int_equal (oci_process_parse (j, "process", &p, &err), 0);
  assert_true (p->terminal);
  assert_int_equal (p->console_height, 24);
  assert_string_equal (p->cwd, "/");
  oci_process_free (p);
  json_decref (j);
}

static void
test_resources_merge (void **state)
{
  json_error_t je;
  json_t *a = json_loads ("{\"memory\":{\"limit\":100000},\"cpu\":{\"shares\":100}}", 0, &je);
  json_t *b = json_loads ("{\"memory\":{\"limit\":200000},\"pids\":{\"limit\":5}}", 0, &je);
  struct oci_resources *ra = NULL, *rb = NULL;
  runhv_error_t err = NULL;
  json_t *out;
  (void)state;
  assert_int_equal (oci_resources_parse (a, "a", &ra, &err), 0);
  assert_int_equal (oci_resources_parse (b, "b", &rb, &err), 0);
  oci_resources_merge (ra, rb);
  assert_int_equal (ra->memory_limit, 200000);
  assert_int_equal (ra->cpu_shares, 100);
  assert_int_equal (ra->pids_limit, 5);
  out = oci_resources_to_json (ra);
  assert_int_equal (json_integer_value (json_object_get (json_object_get (out, "memory"), "limit")), 200000);
  json_decref (out);
  oci_resources_free (ra);
  oci_resources_free (rb);
  json_decref (a);
  json_decref (b);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_good_spec),      cmocka_unit_test (test_malformed_json),
    cmocka_unit_test (test_missing_fields), cmocka_unit_test (test_bad_names),
    cmocka_unit_test (test_resources),      cmocka_unit_test (test_mount_options),
    cmocka_unit_test (test_names),          cmocka_unit_test (test_default_spec_parses),
    cmocka_unit_test (test_process_parse),  cmocka_unit_test (test_resources_merge),
  };
  return cmocka_run_group_tests_name ("spec", tests, NULL, NULL);
}

/* The TOML reader: every supported feature, the two real files it exists for
   (runhv.toml and containerd's config.toml), and every class of error, each
   checked for its line:column and for naming the key at fault.  */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "core/error.h"
#include "core/toml.h"
#include "core/util.h"

static struct toml_value *
parse_ok_len (const char *doc, size_t len)
{
  struct toml_value *root = NULL;
  runhv_error_t err = NULL;

  if (toml_parse (doc, len, "t.toml", &root, &err) < 0)
    fail_msg ("unexpected error: %s\n--- document:\n%.*s", err->msg, (int)len, doc);
  assert_non_null (root);
  assert_int_equal (toml_type_of (root), TOML_TABLE);
  return root;
}

static struct toml_value *
parse_ok (const char *doc)
{
  return parse_ok_len (doc, strlen (doc));
}

/* The message must start "t.toml:LINE:COLUMN: ", contain `needle` and be one line.  */
static void
expect_error_len (const char *doc, size_t len, unsigned line, unsigned column, const char *needle)
{
  struct toml_value *root = (struct toml_value *)1;
  runhv_error_t err = NULL;
  char prefix[64];

  if (toml_parse (doc, len, "t.toml", &root, &err) == 0)
    {
      toml_free (root);
      fail_msg ("accepted a bad document:\n%.*s", (int)len, doc);
    }
  assert_null (root);
  assert_non_null (err);
  snprintf (prefix, sizeof (prefix), "t.toml:%u:%u: ", line, column);
  if (strncmp (err->msg, prefix, strlen (prefix)) != 0 || strstr (err->msg, needle) == NULL
      || strchr (err->msg, '\n') != NULL)
    fail_msg ("wanted \"%s...%s...\"\n       got \"%s\"\nfor:\n%.*s", prefix, needle, err->msg, (int)len, doc);
  runhv_error_release (&err);
}

static void
expect_error (const char *doc, unsigned line, unsigned column, const char *needle)
{
  expect_error_len (doc, strlen (doc), line, column, needle);
}

static const char *
str_at (const struct toml_value *t, const char *key)
{
  const char *s = toml_string (toml_table_get (t, key));
  if (s == NULL)
    fail_msg ("`%s` is not a string", key);
  return s;
}

static int64_t
int_at (const struct toml_value *t, const char *key)
{
  int64_t v = 0;
  if (toml_integer (toml_table_get (t, key), &v) < 0)
    fail_msg ("`%s` is not an integer", key);
  return v;
}

static bool
bool_at (const struct toml_value *t, const char *key)
{
  bool v = false;
  if (toml_bool (toml_table_get (t, key), &v) < 0)
    fail_msg ("`%s` is not a boolean", key);
  return v;
}

static double
float_at (const struct toml_value *t, const char *key)
{
  double v = 0;
  if (toml_float (toml_table_get (t, key), &v) < 0)
    fail_msg ("`%s` is not a float", key);
  return v;
}

/* The two files runhv reads.  */

static void
test_runhv_toml (void **state)
{
  static const char doc[] = "# runhv.toml\n"
                            "SandboxIsolation = 1\n"
                            "VmMemorySizeInMb = 512\n"
                            "VmProcessorCount = 2\n"
                            "ScaleCPULimitsToSandbox = true\n"
                            "Debug = false\n"
                            "[vm]\n"
                            "kernel = \"/usr/share/runhv/vmlinux\"\n"
                            "accelerator = \"auto\"\n";
  cleanup_toml struct toml_value *root = parse_ok (doc);
  const struct toml_value *vm;
  (void)state;

  assert_int_equal (toml_table_size (root), 6);
  assert_string_equal (toml_table_key_at (root, 0), "SandboxIsolation");
  assert_string_equal (toml_table_key_at (root, 5), "vm");
  assert_int_equal (int_at (root, "SandboxIsolation"), 1);
  assert_int_equal (int_at (root, "VmMemorySizeInMb"), 512);
  assert_int_equal (int_at (root, "VmProcessorCount"), 2);
  assert_true (bool_at (root, "ScaleCPULimitsToSandbox"));
  assert_false (bool_at (root, "Debug"));
  vm = toml_table_get (root, "vm");
  assert_int_equal (toml_type_of (vm), TOML_TABLE);
  assert_int_equal (toml_table_size (vm), 2);
  assert_string_equal (str_at (vm, "kernel"), "/usr/share/runhv/vmlinux");
  assert_string_equal (str_at (vm, "accelerator"), "auto");
  assert_int_equal (toml_line (toml_table_get (root, "VmMemorySizeInMb")), 3);
  assert_int_equal (toml_column (toml_table_get (root, "VmMemorySizeInMb")), 20);
  assert_int_equal (toml_line (vm), 7);
  assert_int_equal (toml_column (vm), 1);
  assert_null (toml_table_get (root, "sandboxisolation"));
  assert_null (toml_table_get (root, "kernel"));
}

/* An excerpt of containerd 1.6's `containerd config default`, plus the runtime
   entry an operator adds for runhv.  */
static const char containerd_config[]
  = "disabled_plugins = []\n"
    "imports = []\n"
    "oom_score = 0\n"
    "plugin_dir = \"\"\n"
    "required_plugins = []\n"
    "root = \"/var/lib/containerd\"\n"
    "state = \"/run/containerd\"\n"
    "temp = \"\"\n"
    "version = 2\n"
    "\n"
    "[cgroup]\n"
    "  path = \"\"\n"
    "\n"
    "[debug]\n"
    "  address = \"\"\n"
    "  format = \"\"\n"
    "  gid = 0\n"
    "  level = \"\"\n"
    "  uid = 0\n"
    "\n"
    "[grpc]\n"
    "  address = \"/run/containerd/containerd.sock\"\n"
    "  gid = 0\n"
    "  max_recv_message_size = 16777216\n"
    "  max_send_message_size = 16777216\n"
    "  tcp_address = \"\"\n"
    "  uid = 0\n"
    "\n"
    "[plugins]\n"
    "\n"
    "  [plugins.\"io.containerd.gc.v1.scheduler\"]\n"
    "    deletion_threshold = 0\n"
    "    mutation_threshold = 100\n"
    "    pause_threshold = 0.02\n"
    "    schedule_delay = \"0s\"\n"
    "    startup_delay = \"100ms\"\n"
    "\n"
    "  [plugins.\"io.containerd.grpc.v1.cri\"]\n"
    "    device_ownership_from_security_context = false\n"
    "    disable_apparmor = false\n"
    "    disable_cgroup = false\n"
    "    disable_hugetlb_controller = true\n"
    "    enable_selinux = false\n"
    "    max_concurrent_downloads = 3\n"
    "    max_container_log_line_size = 16384\n"
    "    sandbox_image = \"registry.k8s.io/pause:3.6\"\n"
    "    selinux_category_range = 1024\n"
    "    stream_idle_timeout = \"4h0m0s\"\n"
    "    stream_server_address = \"127.0.0.1\"\n"
    "    stream_server_port = \"0\"\n"
    "    systemd_cgroup = false\n"
    "    tolerate_missing_hugetlb_controller = true\n"
    "    unset_seccomp_profile = \"\"\n"
    "\n"
    "    [plugins.\"io.containerd.grpc.v1.cri\".cni]\n"
    "      bin_dir = \"/opt/cni/bin\"\n"
    "      conf_dir = \"/etc/cni/net.d\"\n"
    "      conf_template = \"\"\n"
    "      max_conf_num = 1\n"
    "\n"
    "    [plugins.\"io.containerd.grpc.v1.cri\".containerd]\n"
    "      default_runtime_name = \"runc\"\n"
    "      disable_snapshot_annotations = true\n"
    "      discard_unpacked_layers = false\n"
    "      no_pivot = false\n"
    "      snapshotter = \"overlayfs\"\n"
    "\n"
    "      [plugins.\"io.containerd.grpc.v1.cri\".containerd.default_runtime]\n"
    "        base_runtime_spec = \"\"\n"
    "        container_annotations = []\n"
    "        pod_annotations = []\n"
    "        privileged_without_host_devices = false\n"
    "        runtime_engine = \"\"\n"
    "        runtime_type = \"\"\n"
    "\n"
    "        [plugins.\"io.containerd.grpc.v1.cri\".containerd.default_runtime.options]\n"
    "\n"
    "      [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes]\n"
    "\n"
    "        [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n"
    "          base_runtime_spec = \"\"\n"
    "          cni_conf_dir = \"\"\n"
    "          cni_max_conf_num = 0\n"
    "          container_annotations = []\n"
    "          pod_annotations = []\n"
    "          privileged_without_host_devices = false\n"
    "          runtime_engine = \"\"\n"
    "          runtime_path = \"\"\n"
    "          runtime_root = \"\"\n"
    "          runtime_type = \"io.containerd.runc.v2\"\n"
    "\n"
    "          [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\n"
    "            BinaryName = \"\"\n"
    "            CriuImagePath = \"\"\n"
    "            IoGid = 0\n"
    "            IoUid = 0\n"
    "            NoNewKeyring = false\n"
    "            NoPivotRoot = false\n"
    "            Root = \"\"\n"
    "            ShimCgroup = \"\"\n"
    "            SystemdCgroup = false\n"
    "\n"
    "        [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runhv-hypervisor]\n"
    "          runtime_type = \"io.containerd.runc.v2\"\n"
    "          pod_annotations = [\"io.runhv.*\"]\n"
    "\n"
    "          [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runhv-hypervisor.options]\n"
    "            BinaryName = \"/usr/bin/runhv\"\n"
    "            SystemdCgroup = true\n"
    "\n"
    "    [plugins.\"io.containerd.grpc.v1.cri\".registry]\n"
    "      config_path = \"\"\n"
    "\n"
    "      [plugins.\"io.containerd.grpc.v1.cri\".registry.mirrors]\n"
    "\n"
    "  [plugins.\"io.containerd.runtime.v1.linux\"]\n"
    "    no_shim = false\n"
    "    runtime = \"runc\"\n"
    "    shim = \"containerd-shim\"\n"
    "\n"
    "  [plugins.\"io.containerd.runtime.v2.task\"]\n"
    "    platforms = [\"linux/amd64\"]\n"
    "    sched_core = false\n"
    "\n"
    "[proxy_plugins]\n"
    "\n"
    "[stream_processors]\n"
    "\n"
    "  [stream_processors.\"io.containerd.ocicrypt.decoder.v1.tar\"]\n"
    "    accepts = [\"application/vnd.oci.image.layer.v1.tar+encrypted\"]\n"
    "    args = [\"--decryption-keys-path\", \"/etc/containerd/ocicrypt/keys\"]\n"
    "    env = [\"OCICRYPT_KEYPROVIDER_CONFIG=/etc/containerd/ocicrypt/ocicrypt_keyprovider.conf\"]\n"
    "    path = \"ctd-decoder\"\n"
    "\n"
    "[timeouts]\n"
    "  \"io.containerd.timeout.shim.cleanup\" = \"5s\"\n"
    "  \"io.containerd.timeout.shim.load\" = \"5s\"\n"
    "\n"
    "[ttrpc]\n"
    "  address = \"\"\n"
    "  gid = 0\n"
    "  uid = 0\n";

static void
test_containerd_config (void **state)
{
  cleanup_toml struct toml_value *root = parse_ok (containerd_config);
  const struct toml_value *cri, *runc, *opts, *hv, *v;
  (void)state;

  assert_int_equal (int_at (root, "version"), 2);
  assert_string_equal (str_at (root, "plugin_dir"), "");
  assert_int_equal (toml_type_of (toml_table_get (root, "imports")), TOML_ARRAY);
  assert_int_equal (toml_array_size (toml_table_get (root, "imports")), 0);
  assert_int_equal (int_at (toml_table_get (root, "grpc"), "max_recv_message_size"), 16777216);

  cri = toml_get_path (root, (const char *[]){ "plugins", "io.containerd.grpc.v1.cri", NULL });
  assert_non_null (cri);
  assert_string_equal (str_at (cri, "sandbox_image"), "registry.k8s.io/pause:3.6");
  assert_true (bool_at (cri, "disable_hugetlb_controller"));
  v = toml_get_path (root, (const char *[]){ "plugins", "io.containerd.gc.v1.scheduler", NULL });
  assert_true (float_at (v, "pause_threshold") == 0.02);

  v = toml_get_path (root, (const char *[]){ "plugins", "io.containerd.grpc.v1.cri", "containerd", NULL });
  assert_string_equal (str_at (v, "default_runtime_name"), "runc");
  assert_int_equal (toml_table_size (toml_table_get (toml_table_get (v, "default_runtime"), "options")), 0);

  runc = toml_get_path (
    root, (const char *[]){ "plugins", "io.containerd.grpc.v1.cri", "containerd", "runtimes", "runc", NULL });
  assert_string_equal (str_at (runc, "runtime_type"), "io.containerd.runc.v2");
  assert_int_equal (int_at (runc, "cni_max_conf_num"), 0);
  opts = toml_table_get (runc, "options");
  assert_false (bool_at (opts, "SystemdCgroup"));
  assert_string_equal (str_at (opts, "BinaryName"), "");
  assert_int_equal (toml_line (opts), 92);
  assert_int_equal (toml_column (opts), 11);

  hv = toml_get_path (root, (const char *[]){ "plugins", "io.containerd.grpc.v1.cri", "containerd", "runtimes",
                                              "runhv-hypervisor", "options", NULL });
  assert_string_equal (str_at (hv, "BinaryName"), "/usr/bin/runhv");
  assert_true (bool_at (hv, "SystemdCgroup"));
  v = toml_get_path (root, (const char *[]){ "plugins", "io.containerd.grpc.v1.cri", "containerd", "runtimes",
                                             "runhv-hypervisor", "pod_annotations", NULL });
  assert_int_equal (toml_array_size (v), 1);
  assert_string_equal (toml_string (toml_array_at (v, 0)), "io.runhv.*");

  v = toml_get_path (root,
                     (const char *[]){ "stream_processors", "io.containerd.ocicrypt.decoder.v1.tar", "args", NULL });
  assert_int_equal (toml_array_size (v), 2);
  assert_string_equal (toml_string (toml_array_at (v, 1)), "/etc/containerd/ocicrypt/keys");
  assert_string_equal (str_at (toml_table_get (root, "timeouts"), "io.containerd.timeout.shim.load"), "5s");
  assert_int_equal (toml_table_size (toml_table_get (root, "proxy_plugins")), 0);
  /* Keys stay in file order, so callers can report or rewrite in that order.  */
  v = toml_table_get (root, "plugins");
  assert_string_equal (toml_table_key_at (v, 0), "io.containerd.gc.v1.scheduler");
  assert_string_equal (toml_table_key_at (v, 1), "io.containerd.grpc.v1.cri");
  assert_string_equal (toml_table_key_at (v, 3), "io.containerd.runtime.v2.task");
}

/* Syntax.  */

static void
test_comments_and_blank_lines (void **state)
{
  cleanup_toml struct toml_value *empty = parse_ok ("");
  cleanup_toml struct toml_value *blank = parse_ok (" \t\n\n  # only a comment\n#\n");
  cleanup_toml struct toml_value *root = parse_ok ("# head\n"
                                                   "a = 1 # trailing\n"
                                                   "b = \"# not a comment\" #c\n"
                                                   "\t c = 'x#y'\n"
                                                   "[t] # on a header\n"
                                                   "d = [ # in an array\n"
                                                   "  1, # one\n"
                                                   "  # a whole line\n"
                                                   "  2\n"
                                                   "] # done\n"
                                                   "# at the end, without a newline");
  (void)state;

  assert_int_equal (toml_table_size (empty), 0);
  assert_int_equal (toml_table_size (blank), 0);
  assert_int_equal (int_at (root, "a"), 1);
  assert_string_equal (str_at (root, "b"), "# not a comment");
  assert_string_equal (str_at (root, "c"), "x#y");
  assert_int_equal (toml_array_size (toml_table_get (toml_table_get (root, "t"), "d")), 2);
}

static void
test_keys (void **state)
{
  cleanup_toml struct toml_value *root = parse_ok ("bare_key-1 = 1\n"
                                                   "1234 = 2\n"
                                                   "\"quoted key\" = 3\n"
                                                   "'C:\\literal' = 4\n"
                                                   "\"\\u00e9t\\u00E9\" = 5\n"
                                                   "\"\" = 6\n"
                                                   "a.b.c = 7\n"
                                                   "a . b . d = 8\n"
                                                   "\"x.y\".z = 9\n"
                                                   "'q'.\"r\" = 10\n"
                                                   "3.14 = 11\n"
                                                   "tight=12\n"
                                                   "a.e = 13\n");
  const struct toml_value *ab;
  (void)state;

  assert_int_equal (int_at (root, "bare_key-1"), 1);
  assert_int_equal (int_at (root, "1234"), 2);
  assert_int_equal (int_at (root, "quoted key"), 3);
  assert_int_equal (int_at (root, "C:\\literal"), 4);
  assert_int_equal (int_at (root, "\xc3\xa9t\xc3\xa9"), 5);
  assert_int_equal (int_at (root, ""), 6);
  ab = toml_get_path (root, (const char *[]){ "a", "b", NULL });
  assert_int_equal (int_at (ab, "c"), 7);
  assert_int_equal (int_at (ab, "d"), 8);
  assert_int_equal (int_at (toml_table_get (root, "a"), "e"), 13);
  assert_null (toml_table_get (root, "x"));
  assert_int_equal (int_at (toml_table_get (root, "x.y"), "z"), 9);
  assert_int_equal (int_at (toml_table_get (root, "q"), "r"), 10);
  assert_int_equal (int_at (toml_table_get (root, "3"), "14"), 11);
  assert_int_equal (int_at (root, "tight"), 12);
}

static void
test_tables (void **state)
{
  cleanup_toml struct toml_value *root
    = parse_ok ("top = 0\n"
                "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runhv-hypervisor.options]\n"
                "BinaryName = \"/usr/bin/runhv\"\n"
                "[ spaced . 'literal part' . \"basic part\" ]\n"
                "k = 1\n"
                "[x.y.z]\n"
                "deep = true\n"
                "[x]\n"
                "shallow = true\n"
                "[fruit]\n"
                "apple.color = \"red\"\n"
                "apple.taste.sweet = true\n"
                "[fruit.apple.texture]\n"
                "smooth = true\n"
                "[empty]\n");
  const struct toml_value *v;
  (void)state;

  assert_int_equal (toml_table_size (root), 6);
  v = toml_get_path (root, (const char *[]){ "plugins", "io.containerd.grpc.v1.cri", "containerd", "runtimes",
                                             "runhv-hypervisor", "options", NULL });
  assert_string_equal (str_at (v, "BinaryName"), "/usr/bin/runhv");
  assert_int_equal (toml_line (v), 2);
  v = toml_get_path (root, (const char *[]){ "spaced", "literal part", "basic part", NULL });
  assert_int_equal (int_at (v, "k"), 1);
  v = toml_table_get (root, "x");
  assert_true (bool_at (v, "shallow"));
  assert_true (bool_at (toml_get_path (v, (const char *[]){ "y", "z", NULL }), "deep"));
  /* A table defined after its sub-table keeps its place and gets the header's position.  */
  assert_string_equal (toml_table_key_at (v, 0), "y");
  assert_string_equal (toml_table_key_at (v, 1), "shallow");
  assert_int_equal (toml_line (v), 8);
  v = toml_get_path (root, (const char *[]){ "fruit", "apple", NULL });
  assert_string_equal (str_at (v, "color"), "red");
  assert_true (bool_at (toml_table_get (v, "taste"), "sweet"));
  assert_true (bool_at (toml_table_get (v, "texture"), "smooth"));
  assert_int_equal (toml_type_of (toml_table_get (root, "empty")), TOML_TABLE);
  assert_int_equal (toml_table_size (toml_table_get (root, "empty")), 0);
}

static void
test_arrays_of_tables (void **state)
{
  cleanup_toml struct toml_value *root = parse_ok ("[[products]]\n"
                                                   "name = \"Hammer\"\n"
                                                   "sku = 738594937\n"
                                                   "\n"
                                                   "[[products]]  # empty table within the array\n"
                                                   "\n"
                                                   "[[products]]\n"
                                                   "name = \"Nail\"\n"
                                                   "color = \"gray\"\n"
                                                   "\n"
                                                   "[[fruits]]\n"
                                                   "name = \"apple\"\n"
                                                   "[fruits.physical]\n"
                                                   "color = \"red\"\n"
                                                   "[[fruits.varieties]]\n"
                                                   "name = \"red delicious\"\n"
                                                   "[[fruits.varieties]]\n"
                                                   "name = \"granny smith\"\n"
                                                   "[[fruits]]\n"
                                                   "name = \"banana\"\n"
                                                   "[[fruits.varieties]]\n"
                                                   "name = \"plantain\"\n"
                                                   "[[ a.b ]]\n"
                                                   "x = 1\n"
                                                   "[a]\n"
                                                   "y = 2\n");
  const struct toml_value *p, *f, *v;
  (void)state;

  p = toml_table_get (root, "products");
  assert_int_equal (toml_type_of (p), TOML_ARRAY);
  assert_int_equal (toml_array_size (p), 3);
  assert_string_equal (str_at (toml_array_at (p, 0), "name"), "Hammer");
  assert_int_equal (int_at (toml_array_at (p, 0), "sku"), 738594937);
  assert_int_equal (toml_table_size (toml_array_at (p, 1)), 0);
  assert_int_equal (toml_line (toml_array_at (p, 1)), 5);
  assert_string_equal (str_at (toml_array_at (p, 2), "color"), "gray");

  f = toml_table_get (root, "fruits");
  assert_int_equal (toml_array_size (f), 2);
  v = toml_array_at (f, 0);
  assert_string_equal (str_at (toml_table_get (v, "physical"), "color"), "red");
  assert_int_equal (toml_array_size (toml_table_get (v, "varieties")), 2);
  assert_string_equal (str_at (toml_array_at (toml_table_get (v, "varieties"), 1), "name"), "granny smith");
  v = toml_array_at (f, 1);
  assert_string_equal (str_at (v, "name"), "banana");
  assert_string_equal (str_at (toml_array_at (toml_table_get (v, "varieties"), 0), "name"), "plantain");

  v = toml_table_get (root, "a");
  assert_int_equal (int_at (toml_array_at (toml_table_get (v, "b"), 0), "x"), 1);
  assert_int_equal (int_at (v, "y"), 2);
}

static void
test_inline_tables (void **state)
{
  cleanup_toml struct toml_value *root = parse_ok ("name = { first = \"Tom\", last = \"Preston-Werner\" }\n"
                                                   "point = {x=1,y=2}\n"
                                                   "animal = { type.name = \"pug\", type.size = 'small' }\n"
                                                   "empty = {}\n"
                                                   "spaced = {  }\n"
                                                   "nested = { a = { b = { c = true } }, list = [1, 2] }\n"
                                                   "multi = { list = [\n  1,\n  2,\n] }\n"
                                                   "points = [ { x = 1 }, { x = 2 } ]\n");
  const struct toml_value *v;
  (void)state;

  v = toml_table_get (root, "name");
  assert_int_equal (toml_type_of (v), TOML_TABLE);
  assert_string_equal (str_at (v, "first"), "Tom");
  assert_string_equal (toml_table_key_at (v, 1), "last");
  assert_int_equal (int_at (toml_table_get (root, "point"), "y"), 2);
  v = toml_get_path (root, (const char *[]){ "animal", "type", NULL });
  assert_string_equal (str_at (v, "name"), "pug");
  assert_string_equal (str_at (v, "size"), "small");
  assert_int_equal (toml_table_size (toml_table_get (root, "empty")), 0);
  assert_int_equal (toml_table_size (toml_table_get (root, "spaced")), 0);
  assert_true (bool_at (toml_get_path (root, (const char *[]){ "nested", "a", "b", NULL }), "c"));
  assert_int_equal (toml_array_size (toml_get_path (root, (const char *[]){ "nested", "list", NULL })), 2);
  assert_int_equal (toml_array_size (toml_get_path (root, (const char *[]){ "multi", "list", NULL })), 2);
  v = toml_table_get (root, "points");
  assert_int_equal (toml_array_size (v), 2);
  assert_int_equal (int_at (toml_array_at (v, 1), "x"), 2);
  assert_int_equal (toml_column (toml_array_at (v, 1)), 23);
}

static void
test_arrays (void **state)
{
  cleanup_toml struct toml_value *root = parse_ok ("ints = [ 1, 2, 3 ]\n"
                                                   "mixed = [1, \"two\", 3.0, true, [4], { five = 5 }]\n"
                                                   "nested = [ [ 1, 2 ], [\"a\", 'b'], [] ]\n"
                                                   "empty = []\n"
                                                   "blank = [\n\n]\n"
                                                   "long = [\n"
                                                   "  \"a\", # first\n"
                                                   "\n"
                                                   "  # between\n"
                                                   "  \"b\" ,\n"
                                                   "  \"c\",   # trailing comma next\n"
                                                   "]\n"
                                                   "tight=[1,2]\n");
  const struct toml_value *v;
  double d = 0;
  bool b = false;
  (void)state;

  v = toml_table_get (root, "ints");
  assert_int_equal (toml_array_size (v), 3);
  assert_int_equal (toml_array_size (toml_table_get (root, "tight")), 2);
  v = toml_table_get (root, "mixed");
  assert_int_equal (toml_array_size (v), 6);
  assert_int_equal (toml_type_of (toml_array_at (v, 0)), TOML_INTEGER);
  assert_string_equal (toml_string (toml_array_at (v, 1)), "two");
  assert_int_equal (toml_float (toml_array_at (v, 2), &d), 0);
  assert_true (d == 3.0);
  assert_int_equal (toml_bool (toml_array_at (v, 3), &b), 0);
  assert_true (b);
  assert_int_equal (toml_array_size (toml_array_at (v, 4)), 1);
  assert_int_equal (int_at (toml_array_at (v, 5), "five"), 5);
  v = toml_table_get (root, "nested");
  assert_int_equal (toml_array_size (v), 3);
  assert_string_equal (toml_string (toml_array_at (toml_array_at (v, 1), 1)), "b");
  assert_int_equal (toml_array_size (toml_array_at (v, 2)), 0);
  assert_int_equal (toml_array_size (toml_table_get (root, "empty")), 0);
  assert_int_equal (toml_type_of (toml_table_get (root, "blank")), TOML_ARRAY);
  v = toml_table_get (root, "long");
  assert_int_equal (toml_array_size (v), 3);
  assert_string_equal (toml_string (toml_array_at (v, 2)), "c");
  assert_int_equal (toml_line (toml_array_at (v, 1)), 12);
  assert_int_equal (toml_column (toml_array_at (v, 1)), 3);
}

/* Values.  */

static void
test_basic_strings (void **state)
{
  cleanup_toml struct toml_value *root
    = parse_ok ("esc = \"b\\b t\\t n\\n f\\f r\\r q\\\" bs\\\\ e\\u00E9 smile\\U0001F600 max\\U0010FFFF\"\n"
                "raw = \"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 tab\there\"\n"
                "empty = \"\"\n"
                "c1 = \"\\u0080\xc2\x9f\"\n"
                "quote = \"'single' inside\"\n"
                "euro = \"\\u20AC \\u0800 \\U0000FFFD\"\n");
  (void)state;

  assert_string_equal (str_at (root, "esc"),
                       "b\b t\t n\n f\f r\r q\" bs\\ e\xc3\xa9 smile\xf0\x9f\x98\x80 max\xf4\x8f\xbf\xbf");
  assert_string_equal (str_at (root, "raw"), "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 tab\there");
  assert_string_equal (str_at (root, "empty"), "");
  assert_string_equal (str_at (root, "c1"), "\xc2\x80\xc2\x9f");
  assert_string_equal (str_at (root, "quote"), "'single' inside");
  assert_string_equal (str_at (root, "euro"), "\xe2\x82\xac \xe0\xa0\x80 \xef\xbf\xbd");
}

static void
test_literal_strings (void **state)
{
  cleanup_toml struct toml_value *root = parse_ok ("winpath = 'C:\\Users\\nodejs\\templates'\n"
                                                   "quoted = 'Tom \"Dubs\" Preston-Werner'\n"
                                                   "regex = '<\\i\\c*\\s*>'\n"
                                                   "empty = ''\n"
                                                   "tab = 'a\tb'\n");
  (void)state;

  assert_string_equal (str_at (root, "winpath"), "C:\\Users\\nodejs\\templates");
  assert_string_equal (str_at (root, "quoted"), "Tom \"Dubs\" Preston-Werner");
  assert_string_equal (str_at (root, "regex"), "<\\i\\c*\\s*>");
  assert_string_equal (str_at (root, "empty"), "");
  assert_string_equal (str_at (root, "tab"), "a\tb");
}

static void
test_multiline_strings (void **state)
{
  cleanup_toml struct toml_value *root = parse_ok ("s1 = \"\"\"\nRoses are red\nViolets are blue\"\"\"\n"
                                                   "s2 = \"\"\"\n"
                                                   "The quick brown \\\n"
                                                   "\n"
                                                   "\n"
                                                   "  fox jumps over \\   \n"
                                                   "    the lazy dog.\"\"\"\n"
                                                   "s3 = \"\"\"one\"two\"\"three\"\"\"\n"
                                                   "s4 = \"\"\"ends in quotes\"\"\"\"\"\n"
                                                   "s5 = \"\"\"\"\"\"\n"
                                                   "s6 = \"\"\"esc \\\"\"\" \\u00e9\"\"\"\n"
                                                   "l1 = '''\nThe first newline is\ntrimmed in raw strings.\n'''\n"
                                                   "l2 = '''I [dw]on't need \\d{2} apples'''\n"
                                                   "l3 = ''''That,' she said, 'is still pointless.''''\n"
                                                   "l4 = ''''''''\n"
                                                   "last = 1\n");
  (void)state;

  assert_string_equal (str_at (root, "s1"), "Roses are red\nViolets are blue");
  assert_string_equal (str_at (root, "s2"), "The quick brown fox jumps over the lazy dog.");
  assert_string_equal (str_at (root, "s3"), "one\"two\"\"three");
  assert_string_equal (str_at (root, "s4"), "ends in quotes\"\"");
  assert_string_equal (str_at (root, "s5"), "");
  assert_string_equal (str_at (root, "s6"), "esc \"\"\" \xc3\xa9");
  assert_string_equal (str_at (root, "l1"), "The first newline is\ntrimmed in raw strings.\n");
  assert_string_equal (str_at (root, "l2"), "I [dw]on't need \\d{2} apples");
  assert_string_equal (str_at (root, "l3"), "'That,' she said, 'is still pointless.'");
  assert_string_equal (str_at (root, "l4"), "''");
  /* Lines inside strings still count for positions after them.  */
  assert_int_equal (toml_line (toml_table_get (root, "last")), 21);
}

static void
test_integers (void **state)
{
  cleanup_toml struct toml_value *root = parse_ok ("a = +99\n"
                                                   "b = 42\n"
                                                   "c = 0\n"
                                                   "d = -17\n"
                                                   "e = 1_000\n"
                                                   "f = 5_349_221\n"
                                                   "g = 1_2_3_4_5\n"
                                                   "h = 0xDEADBEEF\n"
                                                   "i = 0xdead_beef\n"
                                                   "j = 0o755\n"
                                                   "k = 0b11010110\n"
                                                   "l = 9223372036854775807\n"
                                                   "m = -9223372036854775808\n"
                                                   "n = 0x7fffffffffffffff\n"
                                                   "o = -0\n"
                                                   "p = +0\n"
                                                   "q = 0o0\n"
                                                   "r = 0x00ff\n");
  (void)state;

  assert_int_equal (int_at (root, "a"), 99);
  assert_int_equal (int_at (root, "b"), 42);
  assert_int_equal (int_at (root, "c"), 0);
  assert_int_equal (int_at (root, "d"), -17);
  assert_int_equal (int_at (root, "e"), 1000);
  assert_int_equal (int_at (root, "f"), 5349221);
  assert_int_equal (int_at (root, "g"), 12345);
  assert_int_equal (int_at (root, "h"), 0xDEADBEEF);
  assert_int_equal (int_at (root, "i"), 0xDEADBEEF);
  assert_int_equal (int_at (root, "j"), 0755);
  assert_int_equal (int_at (root, "k"), 214);
  assert_true (int_at (root, "l") == INT64_MAX);
  assert_true (int_at (root, "m") == INT64_MIN);
  assert_true (int_at (root, "n") == INT64_MAX);
  assert_int_equal (int_at (root, "o"), 0);
  assert_int_equal (int_at (root, "p"), 0);
  assert_int_equal (int_at (root, "q"), 0);
  assert_int_equal (int_at (root, "r"), 255);
}

static void
test_floats (void **state)
{
  cleanup_toml struct toml_value *root = parse_ok ("a = +1.0\n"
                                                   "b = 3.1415\n"
                                                   "c = -0.01\n"
                                                   "d = 5e+22\n"
                                                   "e = 1e06\n"
                                                   "f = -2E-2\n"
                                                   "g = 6.626e-34\n"
                                                   "h = 224_617.445_991_228\n"
                                                   "i = inf\n"
                                                   "j = +inf\n"
                                                   "k = -inf\n"
                                                   "l = nan\n"
                                                   "m = +nan\n"
                                                   "n = -nan\n"
                                                   "o = -0.0\n"
                                                   "p = 0e0\n"
                                                   "q = 1_0.0_1e1_0\n"
                                                   "r = 1.7976931348623157e308\n");
  (void)state;

  assert_true (float_at (root, "a") == 1.0);
  assert_true (float_at (root, "b") == 3.1415);
  assert_true (float_at (root, "c") == -0.01);
  assert_true (float_at (root, "d") == 5e22);
  assert_true (float_at (root, "e") == 1e6);
  assert_true (float_at (root, "f") == -2e-2);
  assert_true (float_at (root, "g") == 6.626e-34);
  assert_true (float_at (root, "h") == 224617.445991228);
  assert_true (isinf (float_at (root, "i")) && float_at (root, "i") > 0);
  assert_true (isinf (float_at (root, "j")) && float_at (root, "j") > 0);
  assert_true (isinf (float_at (root, "k")) && float_at (root, "k") < 0);
  assert_true (isnan (float_at (root, "l")));
  assert_true (isnan (float_at (root, "m")));
  assert_true (isnan (float_at (root, "n")));
  assert_true (float_at (root, "o") == 0.0 && signbit (float_at (root, "o")));
  assert_true (float_at (root, "p") == 0.0);
  assert_true (float_at (root, "q") == 10.01e10);
  assert_true (float_at (root, "r") == 1.7976931348623157e308);
  /* A float is never silently an integer or the other way round.  */
  assert_int_equal (toml_type_of (toml_table_get (root, "a")), TOML_FLOAT);
  assert_int_equal (toml_type_of (toml_table_get (root, "p")), TOML_FLOAT);
}

static void
test_booleans (void **state)
{
  cleanup_toml struct toml_value *root = parse_ok ("t = true\nf = false\na = [true,false]\n");
  (void)state;

  assert_true (bool_at (root, "t"));
  assert_false (bool_at (root, "f"));
  assert_int_equal (toml_array_size (toml_table_get (root, "a")), 2);
}

static void
test_crlf (void **state)
{
  cleanup_toml struct toml_value *root = parse_ok ("# comment\r\n"
                                                   "a = 1\r\n"
                                                   "[t]\r\n"
                                                   "s = \"\"\"\r\nline1\r\nline2 \\\r\n  joined\"\"\"\r\n"
                                                   "l = '''\r\nx\r\n'''\r\n"
                                                   "arr = [\r\n  1, # c\r\n  2,\r\n]\r\n"
                                                   "b = true\r\n");
  const struct toml_value *t;
  (void)state;

  assert_int_equal (int_at (root, "a"), 1);
  t = toml_table_get (root, "t");
  assert_string_equal (str_at (t, "s"), "line1\nline2 joined");
  assert_string_equal (str_at (t, "l"), "x\n");
  assert_int_equal (toml_array_size (toml_table_get (t, "arr")), 2);
  assert_int_equal (toml_line (toml_table_get (t, "b")), 15);
  assert_int_equal (toml_column (toml_table_get (t, "b")), 5);
}

static void
test_positions (void **state)
{
  /* Columns count characters, so a message points where an editor does.  */
  cleanup_toml struct toml_value *root = parse_ok ("a = 1\n"
                                                   "\"\xc3\xa9\xc3\xa9\" = 'x'\n"
                                                   "  [ t ]\n"
                                                   "\tk = { x = [ 10, 20 ] }\n");
  const struct toml_value *t, *k;
  (void)state;

  assert_int_equal (toml_line (root), 1);
  assert_int_equal (toml_column (root), 1);
  assert_int_equal (toml_line (toml_table_get (root, "a")), 1);
  assert_int_equal (toml_column (toml_table_get (root, "a")), 5);
  assert_int_equal (toml_line (toml_table_get (root, "\xc3\xa9\xc3\xa9")), 2);
  assert_int_equal (toml_column (toml_table_get (root, "\xc3\xa9\xc3\xa9")), 8);
  t = toml_table_get (root, "t");
  assert_int_equal (toml_line (t), 3);
  assert_int_equal (toml_column (t), 3);
  k = toml_table_get (t, "k");
  assert_int_equal (toml_line (k), 4);
  assert_int_equal (toml_column (k), 6);
  k = toml_table_get (k, "x");
  assert_int_equal (toml_column (k), 12);
  assert_int_equal (toml_column (toml_array_at (k, 1)), 18);
  assert_int_equal (toml_line (NULL), 0);
  assert_int_equal (toml_column (NULL), 0);
}

static void
test_bom_and_unterminated_buffer (void **state)
{
  static const char doc[] = "a = 12345";
  cleanup_toml struct toml_value *bom = parse_ok ("\xef\xbb\xbf"
                                                  "a = 1\n");
  /* The buffer need not end in NUL: only len bytes are read.  */
  cleanup_toml struct toml_value *cut = parse_ok_len (doc, 6);
  (void)state;

  assert_int_equal (int_at (bom, "a"), 1);
  assert_int_equal (toml_column (toml_table_get (bom, "a")), 5);
  assert_int_equal (int_at (cut, "a"), 12);
}

/* Access.  */

static void
test_access (void **state)
{
  cleanup_toml struct toml_value *root = parse_ok ("s = \"x\"\ni = 1\nf = 1.5\nb = true\na = [1]\n[t]\nk = 2\n");
  const struct toml_value *s = toml_table_get (root, "s"), *i = toml_table_get (root, "i");
  const struct toml_value *a = toml_table_get (root, "a"), *t = toml_table_get (root, "t");
  int64_t iv = 7;
  double dv = 7;
  bool bv = true;
  (void)state;

  assert_ptr_equal (toml_get_path (root, (const char *[]){ NULL }), root);
  assert_ptr_equal (toml_get_path (root, NULL), root);
  assert_ptr_equal (toml_get_path (root, (const char *[]){ "t", NULL }), t);
  assert_null (toml_get_path (root, (const char *[]){ "t", "missing", NULL }));
  assert_null (toml_get_path (root, (const char *[]){ "s", "x", NULL }));
  assert_null (toml_get_path (NULL, (const char *[]){ "t", NULL }));

  /* Wrong types and NULL give "absent", never a crash or a converted value.  */
  assert_null (toml_string (i));
  assert_null (toml_string (NULL));
  assert_int_equal (toml_integer (s, &iv), -1);
  assert_int_equal (toml_integer (toml_table_get (root, "f"), &iv), -1);
  assert_int_equal (toml_integer (NULL, &iv), -1);
  assert_int_equal (iv, 7);
  assert_int_equal (toml_float (i, &dv), -1);
  assert_true (dv == 7);
  assert_int_equal (toml_bool (i, &bv), -1);
  assert_int_equal (toml_bool (NULL, &bv), -1);
  assert_true (bv);
  assert_null (toml_table_get (a, "x"));
  assert_null (toml_table_get (NULL, "x"));
  assert_null (toml_table_get (root, NULL));
  assert_int_equal (toml_table_size (a), 0);
  assert_int_equal (toml_table_size (NULL), 0);
  assert_null (toml_table_key_at (root, 6));
  assert_null (toml_table_value_at (root, 6));
  assert_null (toml_table_key_at (a, 0));
  assert_int_equal (toml_array_size (t), 0);
  assert_int_equal (toml_array_size (NULL), 0);
  assert_null (toml_array_at (a, 1));
  assert_null (toml_array_at (t, 0));
  assert_non_null (toml_array_at (a, 0));
  assert_ptr_equal (toml_table_value_at (root, 5), t);
  assert_string_equal (toml_table_key_at (root, 5), "t");
  assert_true (toml_is (t, TOML_TABLE));
  assert_false (toml_is (t, TOML_ARRAY));
  assert_false (toml_is (NULL, TOML_TABLE));
  for (int ty = TOML_STRING; ty <= TOML_TABLE; ty++)
    assert_true (toml_type_of (NULL) != (enum toml_type)ty);
  toml_free (NULL);
}

static void
test_large_table (void **state)
{
  enum
  {
    N = 20000
  };
  cleanup_free char *doc = xmalloc0 (N * 32);
  size_t len = 0;
  struct toml_value *root;
  char key[32];
  (void)state;

  for (int i = 0; i < N; i++)
    len += (size_t)snprintf (doc + len, N * 32 - len, "key%d = %d\n", i, i);
  root = parse_ok_len (doc, len);
  assert_int_equal (toml_table_size (root), N);
  for (int i = 0; i < N; i += 7)
    {
      snprintf (key, sizeof (key), "key%d", i);
      assert_int_equal (int_at (root, key), i);
      assert_string_equal (toml_table_key_at (root, (size_t)i), key);
    }
  assert_null (toml_table_get (root, "key20000"));
  toml_free (root);

  /* The hash index also catches the duplicate.  */
  len += (size_t)snprintf (doc + len, N * 32 - len, "key12345 = 0\n");
  expect_error_len (doc, len, N + 1, 1, "duplicate key `key12345` (first set at line 12346");
}

/* Errors.  */

static void
test_error_duplicate_keys (void **state)
{
  (void)state;
  expect_error ("# runhv.toml\nSandboxIsolation = 1\nVmMemorySizeInMb = 512\nSandboxIsolation = 2\n", 4, 1,
                "duplicate key `SandboxIsolation` (first set at line 2; each key may be set once)");
  expect_error ("a = 1\n\"a\" = 2\n", 2, 1, "duplicate key `a`");
  expect_error ("'a' = 1\n\"a\" = 2\n", 2, 1, "duplicate key `a`");
  expect_error ("\"\" = 1\n'' = 2\n", 2, 1, "duplicate key `\"\"`");
  expect_error ("[vm]\nkernel = \"a\"\n  kernel = \"b\"\n", 3, 3, "duplicate key `vm.kernel`");
  /* Keys are named the way they would be written, so a message can be pasted back.  */
  expect_error ("[\"a.b\"]\n\"q\\\"\\\\\" = 1\n'q\"\\' = 2\n", 3, 1, "duplicate key `\"a.b\".\"q\\\"\\\\\"`");
  expect_error ("\"\\u0001\\t\" = 1\n\"\\u0001\\u0009\" = 2\n", 2, 1, "duplicate key `\"\\u0001\\u0009\"`");
  expect_error ("[plugins.\"io.containerd.grpc.v1.cri\"]\nx = 1\nx = 2\n", 3, 1,
                "duplicate key `plugins.\"io.containerd.grpc.v1.cri\".x`");
  expect_error ("a.b = 1\na.b = 2\n", 2, 3, "duplicate key `a.b`");
  expect_error ("p = { a = 1, a = 2 }\n", 1, 14, "duplicate key `p.a`");
  expect_error ("arr = [ { a = 1, b = 2, a = 3 } ]\n", 1, 25, "duplicate key `arr[0].a`");
  expect_error ("a = {}\na = {}\n", 2, 1, "duplicate key `a`");
  expect_error ("[[t]]\nx = 1\nx = 2\n", 3, 1, "duplicate key `t.x`");
  expect_error ("[a.b]\n[a]\nb = 1\n", 3, 1, "key `a.b` is already defined as a table (line 1)");
  expect_error ("a.b.c = 1\na.b = 2\n", 2, 3, "key `a.b` is already defined as a table");
}

static void
test_error_tables (void **state)
{
  (void)state;
  expect_error ("[a]\nx = 1\n\n[a]\n", 4, 2, "table [a] is defined twice (first at line 1; merge the two sections)");
  expect_error ("[a]\n[b]\n[ a ]\n", 3, 3, "table [a] is defined twice");
  expect_error ("[x.y]\n[x]\n[x]\n", 3, 2, "table [x] is defined twice (first at line 2");
  expect_error ("[a]\nb = 1\n[a.b]\n", 3, 4, "`a.b` is already an integer (line 2), so it cannot also be a table");
  expect_error ("a = \"s\"\n[a.b.c]\n", 2, 2, "`a` is already a string (line 1)");
  expect_error ("a = 1\na.b = 2\n", 2, 1, "`a` is already an integer (line 1), so it cannot also be a table");
  expect_error ("[fruit]\napple.color = \"red\"\n[fruit.apple]\n", 3, 8,
                "table [fruit.apple] was already created by dotted keys at line 2");
  expect_error ("[a.b.c]\nz = 9\n[a]\nb.c.t = 1\n", 4, 1,
                "cannot add keys to table [a.b] with dotted keys: a header at line 1 made it (write a [a.b] section");
  expect_error ("[a.b]\nz = 9\n[a]\nb.t = 1\n", 4, 1,
                "cannot add keys to table [a.b] with dotted keys from here (it has its own section at line 1");
  expect_error ("[a.b.c]\n[a]\nb.y = 1\n", 3, 1, "cannot add keys to table [a.b] with dotted keys: a header at line 1");
  expect_error ("a = { b = 1 }\n[a.c]\n", 2, 2,
                "`a` is an inline table (line 1) and cannot be extended by [a.c] (write its keys inside the braces");
  expect_error ("a = { b = 1 }\n[a]\n", 2, 2, "`a` is an inline table (line 1) and cannot be extended by [a]");
  expect_error ("a = { b = 1 }\na.c = 2\n", 2, 1, "`a` is an inline table (line 1) and cannot be extended");
  expect_error ("a = { b = { c = 1 }, b.d = 2 }\n", 1, 22, "`a.b` is an inline table (line 1)");
  expect_error ("a = []\n[[a]]\n", 2, 3, "`a` is an array (line 1), not an array of tables, so [[a]] cannot add to it");
  expect_error ("a = [{}]\n[a.b]\n", 2, 2, "`a` is an array (line 1), not an array of tables, so [a.b] cannot add");
  expect_error ("[a]\n[[a]]\n", 2, 3, "[[a]] cannot append to `a`, which is a table (line 1)");
  expect_error ("[[a]]\n[a]\n", 2, 2, "[a] names an array of tables (line 1); write [[a]] to add an element");
  expect_error ("[[a.b]]\n[a]\nb.y = 2\n", 3, 1, "`a.b` is already an array of tables (line 1)");
  expect_error ("[t]\na.b = 1\n[t.a]\n", 3, 4, "table [t.a] was already created by dotted keys at line 2");
  expect_error ("a = 1.5\na.b = 1\n", 2, 1, "`a` is already a float (line 1)");
  expect_error ("a = true\n[a]\n", 2, 2, "`a` is already a boolean (line 1)");
}

static void
test_error_strings (void **state)
{
  (void)state;
  expect_error ("s = \"a\\x41\"\n", 1, 7, "invalid escape `\\x`");
  expect_error ("s = \"\\e\"\n", 1, 6, "invalid escape `\\e`");
  expect_error ("s = \"a\\ b\"\n", 1, 7, "a backslash followed by a space is not an escape");
  expect_error ("s = \"\\uD800\"\n", 1, 6, "\\uD800 is a UTF-16 surrogate");
  expect_error ("s = \"\\UDFFF\"\n", 1, 6, "\\U needs exactly 8 hexadecimal digits");
  expect_error ("s = \"\\U0000DFFF\"\n", 1, 6, "\\U0000DFFF is a UTF-16 surrogate");
  expect_error ("s = \"\\U00110000\"\n", 1, 6, "\\U00110000 is past U+10FFFF");
  expect_error ("s = \"\\u0000\"\n", 1, 6, "\\u0000 is not supported (strings cannot contain NUL characters)");
  expect_error ("s = \"\\u12\"\n", 1, 6, "\\u needs exactly 4 hexadecimal digits");
  expect_error ("s = \"\\u12g4\"\n", 1, 6, "\\u needs exactly 4 hexadecimal digits");
  expect_error ("s = \"a\x01\"\n", 1, 7, "control character U+0001 in a string (write it as a \\u escape)");
  expect_error ("s = 'a\x7f'\n", 1, 7, "control character U+007F in a string (use a \"basic string\"");
  expect_error ("s = \"\"\"a\x1b\"\"\"\n", 1, 9, "control character U+001B in a string");
  expect_error_len ("s = \"a\0b\"\n", 10, 1, 7, "control character U+0000 in a string");
  expect_error ("\"k\x02\" = 1\n", 1, 3, "control character U+0002 in a key");
  expect_error ("s = \"abc\nd\"\n", 1, 5, "unterminated string: the line ends before the closing \"");
  expect_error ("s = 'abc\n", 1, 5, "unterminated string: the line ends before the closing '");
  expect_error ("a = 1\ns = \"abc", 2, 5, "unterminated string (add the closing \")");
  expect_error ("s = \"\"\"abc\n\n", 1, 5, "unterminated string (add the closing \"\"\")");
  expect_error ("s = '''abc''\n", 1, 5, "unterminated string (add the closing ''')");
  expect_error ("s = \"\"\"a\"\"\"\"\"\"\n", 1, 9, "6 quotes in a row");
  expect_error ("s = '''a''''''\n", 1, 9, "6 quotes in a row");
  expect_error ("s = \"\"\"a\rb\"\"\"\n", 1, 9, "carriage return without a line feed");
  expect_error ("s = \"\"\"a \\  x\"\"\"\n", 1, 10, "a line-ending backslash must be the last thing on its line");
  expect_error ("\"\"\"k\"\"\" = 1\n", 1, 1, "a multi-line string cannot be a key");
  expect_error ("\"k = 1\n", 1, 1, "unterminated quoted key");
  expect_error ("s = \"abc\\", 1, 9, "a backslash followed by the end of the file is not an escape");
  expect_error ("s = \"\"\"a\\\n\rb\"\"\"\n", 2, 1, "carriage return without a line feed");
  expect_error ("s = \"\"\"a\\\rb\"\"\"\n", 1, 9, "a line-ending backslash must be the last thing on its line");
}

static void
test_error_numbers (void **state)
{
  (void)state;
  expect_error ("n = 01\n", 1, 5, "leading zeros are not allowed in `01`");
  expect_error ("n = -007\n", 1, 5, "leading zeros are not allowed in `-007`");
  expect_error ("n = 00.5\n", 1, 5, "leading zeros are not allowed in `00.5`");
  expect_error ("n = 0_1\n", 1, 5, "leading zeros are not allowed");
  expect_error ("n = 9223372036854775808\n", 1, 5,
                "integer `9223372036854775808` does not fit in 64 bits (the range is -9223372036854775808 to "
                "9223372036854775807)");
  expect_error ("n = -9223372036854775809\n", 1, 5, "does not fit in 64 bits");
  expect_error ("n = 0x8000000000000000\n", 1, 5, "integer `0x8000000000000000` does not fit in 64 bits");
  expect_error ("n = 0b1111111111111111111111111111111111111111111111111111111111111111\n", 1, 5,
                "does not fit in 64 bits");
  expect_error ("n = 99999999999999999999999999\n", 1, 5, "does not fit in 64 bits");
  expect_error ("n = 1__0\n", 1, 5, "invalid number `1__0` (underscores must stand between two digits)");
  expect_error ("n = 1_\n", 1, 5, "invalid number `1_` (underscores");
  expect_error ("n = 0x_1\n", 1, 5, "invalid number `0x_1`");
  expect_error ("n = _1\n", 1, 5, "expected a value, found `_`");
  expect_error ("n = +0x1\n", 1, 5, "`+0x1`: hexadecimal, octal and binary integers cannot have a sign");
  expect_error ("n = 0X1\n", 1, 5, "invalid number `0X1`");
  expect_error ("n = 0o8\n", 1, 5, "invalid number `0o8`");
  expect_error ("n = 0b\n", 1, 5, "invalid number `0b`");
  expect_error ("n = 1.\n", 1, 5, "invalid number `1.` (a digit must follow the decimal point)");
  expect_error ("n = .5\n", 1, 5, "expected a value, found `.`");
  expect_error ("n = 1e\n", 1, 5, "invalid number `1e`");
  expect_error ("n = 1e400\n", 1, 5, "float `1e400` is too large for a 64-bit float");
  expect_error ("n = -1.5e999\n", 1, 5, "float `-1.5e999` is too large");
  expect_error ("n = infinity\n", 1, 5, "invalid value `infinity`");
  expect_error ("n = -infinity\n", 1, 5, "invalid number `-infinity`");
  expect_error ("n = NaN\n", 1, 5, "invalid value `NaN`");
  expect_error ("n = 12abc\n", 1, 5, "invalid number `12abc`");
  expect_error ("n = 1,\n", 1, 6, "expected the end of the line after the value, found `,`");
  expect_error ("n = [1, 2 3]\n", 1, 11, "expected `,` or `]` after an array element, found `3`");
}

static void
test_error_dates (void **state)
{
  (void)state;
  expect_error ("d = 1979-05-27\n", 1, 5,
                "dates are not supported (quote the value to make it a string: \"1979-05-27\")");
  expect_error ("d = 1979-05-27T07:32:00Z\n", 1, 5, "dates are not supported");
  expect_error ("d = 1979-05-27 07:32:00\n", 1, 5, "dates are not supported");
  expect_error ("d = 1979-05-27T00:32:00.999999-07:00\n", 1, 5, "dates are not supported");
  expect_error ("t = 07:32:00\n", 1, 5, "dates are not supported");
  expect_error ("a = [1, 2000-01-01]\n", 1, 9, "dates are not supported");
}

static void
test_error_utf8 (void **state)
{
  (void)state;
  expect_error ("a = 1\nb = \"\xff\"\n", 2, 6, "invalid UTF-8 (byte 0xFF; TOML files must be UTF-8)");
  expect_error ("# \xc3\xa9\xc3\xa9 \xc0\x80\n", 1, 6, "invalid UTF-8 (byte 0xC0");
  expect_error ("s = '\xed\xa0\x80'\n", 1, 6, "invalid UTF-8 (byte 0xED");
  expect_error ("s = '\xf4\x90\x80\x80'\n", 1, 6, "invalid UTF-8 (byte 0xF4");
  expect_error ("s = '\xe2\x82'\n", 1, 6, "invalid UTF-8 (byte 0xE2");
  expect_error ("s = 1 # \xe2\x82", 1, 9, "invalid UTF-8");
  expect_error ("s = '\x80'\n", 1, 6, "invalid UTF-8 (byte 0x80");
  expect_error ("# \xe0\xa0\x80 ok, overlong: \xe0\x80\x80\n", 1, 19, "invalid UTF-8 (byte 0xE0");
}

static void
test_error_syntax (void **state)
{
  (void)state;
  expect_error ("a 1\n", 1, 3, "expected `=` after the key `a`, found `1` (quote keys that contain spaces)");
  expect_error ("a\n", 1, 2, "expected `=` after the key `a`, found the end of the line");
  expect_error ("a =\n", 1, 4, "missing value after `a =`");
  expect_error ("[t]\na = # nothing\n", 2, 5, "missing value after `t.a =`");
  expect_error ("a = ", 1, 5, "missing value after `a =`");
  expect_error ("= 1\n", 1, 1, "missing key before `=`");
  expect_error ("a = hello\n", 1, 5, "invalid value `hello` (quote strings: \"hello\"");
  expect_error ("a = True\n", 1, 5, "invalid value `True`");
  expect_error ("a = truex\n", 1, 5, "invalid value `truex`");
  expect_error ("a = 1 2\n", 1, 7, "expected the end of the line after the value, found `2`");
  expect_error ("a = 1 b = 2\n", 1, 7, "expected the end of the line after the value, found `b`");
  expect_error ("a = @\n", 1, 5, "expected a value, found `@`");
  expect_error ("a = \xc3\xa9\n", 1, 5, "expected a value, found `\xc3\xa9` (U+00E9)");
  expect_error ("[a\n", 1, 3, "expected `]` to close the [table] header, found the end of the line");
  expect_error ("[[a]\n", 1, 5, "expected `]]` to close the [[array of tables]] header, found the end of the line");
  expect_error ("[[a] ]\n", 1, 5, "expected `]]` to close");
  expect_error ("[a]]\n", 1, 4, "expected the end of the line after the table header, found `]`");
  expect_error ("[a] b = 1\n", 1, 5, "expected the end of the line after the table header, found `b`");
  expect_error ("[]\n", 1, 2, "missing table name in the header");
  expect_error ("[a b]\n", 1, 4, "expected `]` to close the [table] header, found `b`");
  expect_error ("a..b = 1\n", 1, 3, "empty part in a dotted key");
  expect_error (".a = 1\n", 1, 1, "empty part in a dotted key");
  expect_error ("a. = 1\n", 1, 4, "missing key before `=`");
  expect_error ("a b c = 1\n", 1, 3, "expected `=` after the key `a`, found `b`");
  expect_error ("k\xc3\xa9 = 1\n", 1, 2, "expected `=` after the key `k`, found `\xc3\xa9` (U+00E9)");
  expect_error ("\xc3\xa9 = 1\n", 1, 1, "expected a key, found `\xc3\xa9` (U+00E9) (quote keys");
  expect_error ("a = { b = 1, }\n", 1, 14, "trailing comma in an inline table");
  expect_error ("a = { b = 1,\n c = 2 }\n", 1, 13, "an inline table must be on one line");
  expect_error ("a = {\n}\n", 1, 6, "an inline table must be on one line");
  expect_error ("a = { b = 1 c = 2 }\n", 1, 13,
                "expected `,` or `}` after a key = value in an inline table, found `c`");
  expect_error ("a = { b = 1 ", 1, 5, "unterminated inline table (add the closing `}`)");
  expect_error ("a = { b = 1 }}\n", 1, 14, "expected the end of the line after the value, found `}`");
  expect_error ("a = { , }\n", 1, 7, "expected a key, found `,`");
  expect_error ("a = [1, 2\n", 1, 5, "unterminated array (add the closing `]`)");
  expect_error ("a = [\n1,\n", 1, 5, "unterminated array");
  expect_error ("a = [1,,2]\n", 1, 8, "expected a value, found `,`");
  expect_error ("a = [,]\n", 1, 6, "expected a value, found `,`");
  expect_error ("[[a]\t]\n", 1, 5, "expected `]]` to close the [[array of tables]] header, found a tab");
  expect_error ("a = {b=1,", 1, 5, "unterminated inline table (add the closing `}`)");
  expect_error ("a = {b = 1\n}\n", 1, 11, "an inline table must be on one line");
  expect_error ("a = abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz\n", 1, 5,
                "invalid value `abcdefghijklmnopqrstuvwxyzabcdefghijklmn...` (quote strings");
  expect_error ("# x\ry\n", 1, 4, "carriage return without a line feed");
  expect_error ("a = [\r1]\n", 1, 6, "carriage return without a line feed");
  expect_error ("a = [1 # \x01\n]\n", 1, 10, "control character U+0001 in a comment");
  expect_error ("a = \xc2\x85\n", 1, 5, "expected a value, found U+0085");
  expect_error ("a = 1\rb = 2\n", 1, 6, "carriage return without a line feed");
  expect_error ("a = 1\n\r\n\r", 3, 1, "carriage return without a line feed");
  expect_error ("# bell \x07\n", 1, 8, "control character U+0007 in a comment");
  expect_error ("a = 1 # del \x7f\n", 1, 13, "control character U+007F in a comment");
  expect_error ("a = [ # x\x01\n]\n", 1, 10, "control character U+0001 in a comment");
  expect_error ("\x0c = 1\n", 1, 1, "expected a key, found control character U+000C");
  expect_error_len ("a = 1\n\0", 7, 2, 1, "expected a key, found control character U+0000");
}

static void
test_error_limits (void **state)
{
  size_t big = TOML_MAX_INPUT + 1;
  cleanup_free char *doc = xmalloc0 (big + 1);
  struct toml_value *root = NULL;
  runhv_error_t err = NULL;
  size_t n, m;
  (void)state;

  /* Too large: refused before reading a byte.  */
  memset (doc, '\n', big);
  assert_int_equal (toml_parse (doc, big, "/etc/runhv/runhv.toml", &root, &err), -1);
  assert_null (root);
  assert_string_equal (err->msg, "/etc/runhv/runhv.toml: 4194305 bytes is more than the 4194304-byte limit for a TOML "
                                 "file (is it the right file?)");
  runhv_error_release (&err);
  root = parse_ok_len (doc, big - 1);
  toml_free (root);

  /* Arrays nested 64 deep are fine; 65 are not.  */
  n = 0;
  n += (size_t)snprintf (doc, 16, "a = ");
  memset (doc + n, '[', 64);
  memset (doc + n + 64, ']', 64);
  doc[n + 128] = '\0';
  root = parse_ok (doc);
  toml_free (root);
  memset (doc + n, '[', 65);
  memset (doc + n + 65, ']', 65);
  doc[n + 130] = '\0';
  expect_error (doc, 1, 69, "tables and arrays nest more than 64 levels deep");

  /* No stack to blow: a million brackets stop at the limit.  */
  memset (doc + n, '[', 1000000);
  doc[n + 1000000] = '\0';
  expect_error (doc, 1, 69, "nest more than 64 levels deep");

  n = (size_t)snprintf (doc, 16, "a = ");
  for (int i = 0; i < 65; i++)
    n += (size_t)snprintf (doc + n, 16, "{b=");
  n += (size_t)snprintf (doc + n, 16, "1");
  for (int i = 0; i < 65; i++)
    doc[n++] = '}';
  doc[n] = '\0';
  expect_error (doc, 1, 197, "nest more than 64 levels deep");

  /* Headers and dotted keys count towards the same depth.  */
  n = (size_t)snprintf (doc, 16, "[a");
  for (int i = 0; i < 63; i++)
    n += (size_t)snprintf (doc + n, 16, ".a");
  n += (size_t)snprintf (doc + n, 64, "]\nb = [[1]]\n");
  expect_error (doc, 2, 5, "nest more than 64 levels deep");
  n = 0;
  for (int i = 0; i < 64; i++)
    n += (size_t)snprintf (doc + n, 16, "a.");
  n += (size_t)snprintf (doc + n, 16, "a = 1\n");
  expect_error (doc, 1, 129, "key has more than 64 dotted parts");

  /* Each [[ ]] level is two: the array and its table.  */
  n = (size_t)snprintf (doc, 16, "[[a");
  for (int i = 0; i < 63; i++)
    n += (size_t)snprintf (doc + n, 16, ".a");
  n += (size_t)snprintf (doc + n, 16, "]]\n");
  expect_error (doc, 1, 129, "nest more than 64 levels deep");
  n = 0;
  for (int i = 1; i <= 32; i++)
    {
      n += (size_t)snprintf (doc + n, 16, "[[a1");
      for (int j = 2; j <= i; j++)
        n += (size_t)snprintf (doc + n, 16, ".a%d", j);
      n += (size_t)snprintf (doc + n, 16, "]]\n");
    }
  root = parse_ok_len (doc, n);
  toml_free (root);
  m = n + (size_t)snprintf (doc + n, 16, "k.v = 1\n");
  expect_error_len (doc, m, 33, 1, "nest more than 64 levels deep");
  n += (size_t)snprintf (doc + n, 16, "[a1");
  for (int j = 2; j <= 32; j++)
    n += (size_t)snprintf (doc + n, 16, ".a%d", j);
  m = n + (size_t)snprintf (doc + n, 16, ".x]\n");
  expect_error_len (doc, m, 33, 121, "nest more than 64 levels deep");
  n += (size_t)snprintf (doc + n, 16, ".x.y]\n");
  expect_error_len (doc, n, 33, 121, "nest more than 64 levels deep");

  /* Keys, strings and numbers have bounds too.  */
  memset (doc, 'k', TOML_MAX_KEY + 1);
  n = TOML_MAX_KEY + 1;
  n += (size_t)snprintf (doc + n, 16, " = 1\n");
  expect_error_len (doc, n, 1, 1, "key is longer than 1024 bytes");
  doc[0] = '"';
  memset (doc + 1, 'k', TOML_MAX_KEY + 1);
  n = TOML_MAX_KEY + 2;
  n += (size_t)snprintf (doc + n, 16, "\" = 1\n");
  expect_error_len (doc, n, 1, 1, "key is longer than 1024 bytes");
  doc[1] = '"';
  root = parse_ok_len (doc + 1, n - 1);
  assert_int_equal (strlen (toml_table_key_at (root, 0)), TOML_MAX_KEY);
  toml_free (root);

  n = (size_t)snprintf (doc, 16, "s = '");
  memset (doc + n, 'x', TOML_MAX_STRING + 1);
  n += TOML_MAX_STRING + 1;
  n += (size_t)snprintf (doc + n, 16, "'\n");
  expect_error_len (doc, n, 1, 5, "string is longer than 1048576 bytes");

  n = (size_t)snprintf (doc, 16, "n = ");
  memset (doc + n, '1', 300);
  n += 300;
  expect_error_len (doc, n, 1, 5, "is longer than 256 characters");
}

static void
test_error_source_name (void **state)
{
  struct toml_value *root = NULL;
  runhv_error_t err = NULL;
  (void)state;

  assert_int_equal (toml_parse ("a = 1\na = 2\n", 12, "/etc/runhv/runhv.toml", &root, &err), -1);
  assert_string_equal (err->msg,
                       "/etc/runhv/runhv.toml:2:1: duplicate key `a` (first set at line 1; each key may be set once)");
  runhv_error_release (&err);
  assert_int_equal (toml_parse ("a = x", 5, NULL, &root, &err), -1);
  assert_string_equal (err->msg, "TOML:1:5: invalid value `x` (quote strings: \"x\"; booleans are true and false)");
  runhv_error_release (&err);
  assert_int_equal (toml_parse (NULL, 0, "empty", &root, &err), 0);
  assert_int_equal (toml_table_size (root), 0);
  toml_free (root);
  /* Callers may pass no error object and still get -1.  */
  assert_int_equal (toml_parse ("a", 1, "x", &root, NULL), -1);
  assert_null (root);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_runhv_toml),
    cmocka_unit_test (test_containerd_config),
    cmocka_unit_test (test_comments_and_blank_lines),
    cmocka_unit_test (test_keys),
    cmocka_unit_test (test_tables),
    cmocka_unit_test (test_arrays_of_tables),
    cmocka_unit_test (test_inline_tables),
    cmocka_unit_test (test_arrays),
    cmocka_unit_test (test_basic_strings),
    cmocka_unit_test (test_literal_strings),
    cmocka_unit_test (test_multiline_strings),
    cmocka_unit_test (test_integers),
    cmocka_unit_test (test_floats),
    cmocka_unit_test (test_booleans),
    cmocka_unit_test (test_crlf),
    cmocka_unit_test (test_positions),
    cmocka_unit_test (test_bom_and_unterminated_buffer),
    cmocka_unit_test (test_access),
    cmocka_unit_test (test_large_table),
    cmocka_unit_test (test_error_duplicate_keys),
    cmocka_unit_test (test_error_tables),
    cmocka_unit_test (test_error_strings),
    cmocka_unit_test (test_error_numbers),
    cmocka_unit_test (test_error_dates),
    cmocka_unit_test (test_error_utf8),
    cmocka_unit_test (test_error_syntax),
    cmocka_unit_test (test_error_limits),
    cmocka_unit_test (test_error_source_name),
  };
  return cmocka_run_group_tests_name ("toml", tests, NULL, NULL);
}

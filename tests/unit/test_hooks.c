/* oci/hooks.c: a hook gets the state on stdin, runs in order, is killed
   at its timeout, and its failure is one line naming the hook with the
   last thing it printed.  The hooks are /bin/sh scripts.  */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "oci/hooks.h"
#include "core/json.h"
#include "oci/spec.h"
#include "core/util.h"

struct fixture
{
  char dir[64];
};

static int
setup (void **state)
{
  struct fixture *f = xmalloc0 (sizeof (*f));
  snprintf (f->dir, sizeof (f->dir), "/tmp/runhv-hooks-XXXXXX");
  assert_non_null (mkdtemp (f->dir));
  *state = f;
  return 0;
}

static int
teardown (void **state)
{
  struct fixture *f = *state;
  runhv_error_t err = NULL;
  assert_int_equal (rm_rf (f->dir, &err), 0);
  free (f);
  return 0;
}

/* A spec whose `kind` hooks are the given JSON array.  */
static struct oci_spec *
spec_with_hooks (const char *kind, const char *hooks)
{
  cleanup_free char *text = xasprintf ("{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"r\"},"
                                       "\"process\":{\"args\":[\"sh\"]},\"hooks\":{\"%s\":%s}}",
                                       kind, hooks);
  struct oci_spec *s = NULL;
  runhv_error_t err = NULL;
  if (oci_spec_parse_buffer (text, strlen (text), "config.json", &s, &err) < 0)
    fail_msg ("%s", err->msg);
  return s;
}

/* One hook entry running `script` with sh -c.  */
static char *
sh_hook (const char *script, const char *more)
{
  cleanup_free char *q = json_escape_string (script);
  return xasprintf ("{\"path\":\"/bin/sh\",\"args\":[\"sh\",\"-c\",%s]%s}", q, more ? more : "");
}

static char *
slurp (const char *path)
{
  char *text = NULL;
  runhv_error_t err = NULL;
  if (read_file (path, 0, &text, NULL, &err) < 0)
    fail_msg ("%s", err->msg);
  return text;
}

static void
test_state_on_stdin (void **state)
{
  struct fixture *f = *state;
  cleanup_free char *out = xasprintf ("%s/state", f->dir);
  cleanup_free char *script = xasprintf ("cat > %s", out);
  cleanup_free char *hook = sh_hook (script, NULL), *hooks = xasprintf ("[%s]", hook);
  cleanup_free char *got = NULL;
  struct oci_spec *s = spec_with_hooks ("prestart", hooks);
  cleanup_json json_t *ann = json_pack ("{s:s}", "k", "v");
  cleanup_json json_t *st = oci_state_json ("c1", "creating", 1234, "/b", ann);
  cleanup_free char *text = json_dumps (st, JSON_COMPACT);
  runhv_error_t err = NULL;

  assert_int_equal (hooks_run (s, OCI_HOOK_PRESTART, text, &err), 0);
  got = slurp (out);
  assert_string_equal (got, text);
  /* the document has what the spec says a hook gets */
  assert_non_null (strstr (got, "\"id\":\"c1\""));
  assert_non_null (strstr (got, "\"pid\":1234"));
  assert_non_null (strstr (got, "\"bundle\":\"/b\""));
  assert_non_null (strstr (got, "\"annotations\":{\"k\":\"v\"}"));
  /* other kinds have no hooks here: nothing runs, nothing fails */
  assert_int_equal (hooks_run (s, OCI_HOOK_POSTSTOP, text, &err), 0);
  oci_spec_free (s);
}

static void
test_state_json_omissions (void **state)
{
  cleanup_json json_t *empty = json_object ();
  cleanup_json json_t *st = oci_state_json ("c1", "stopped", 0, NULL, empty);
  (void)state;
  /* no pid for a process that is not there, no empty annotations */
  assert_null (json_object_get (st, "pid"));
  assert_null (json_object_get (st, "annotations"));
  assert_string_equal (json_string_value (json_object_get (st, "bundle")), "");
  assert_string_equal (json_string_value (json_object_get (st, "status")), "stopped");
  assert_non_null (json_object_get (st, "ociVersion"));
}

static void
test_order_and_first_failure (void **state)
{
  struct fixture *f = *state;
  cleanup_free char *log = xasprintf ("%s/log", f->dir);
  cleanup_free char *s1 = xasprintf ("echo one >> %s", log), *s3 = xasprintf ("echo three >> %s", log);
  cleanup_free char *h1 = sh_hook (s1, NULL), *h3 = sh_hook (s3, NULL);
  cleanup_free char *h2 = sh_hook ("echo starting; echo 'no network for you' >&2; exit 3", NULL);
  cleanup_free char *hooks = xasprintf ("[%s,%s,%s]", h1, h2, h3);
  cleanup_free char *got = NULL;
  struct oci_spec *s = spec_with_hooks ("createRuntime", hooks);
  runhv_error_t err = NULL;

  assert_int_equal (hooks_run (s, OCI_HOOK_CREATE_RUNTIME, "{}", &err), -1);
  /* the failing hook by kind and index, its status, its last line */
  assert_string_equal (err->msg, "hooks.createRuntime[1]: `/bin/sh` exited with status 3: no network for you");
  runhv_error_release (&err);
  got = slurp (log);
  assert_string_equal (got, "one\n"); /* the third never ran */
  oci_spec_free (s);
}

static void
test_timeout (void **state)
{
  cleanup_free char *hook = sh_hook ("exec sleep 30", ",\"timeout\":1");
  cleanup_free char *hooks = xasprintf ("[%s]", hook);
  struct oci_spec *s = spec_with_hooks ("poststart", hooks);
  runhv_error_t err = NULL;
  struct timespec a, b;
  (void)state;

  clock_gettime (CLOCK_MONOTONIC, &a);
  assert_int_equal (hooks_run (s, OCI_HOOK_POSTSTART, "{}", &err), -1);
  clock_gettime (CLOCK_MONOTONIC, &b);
  assert_string_equal (err->msg, "hooks.poststart[0]: `/bin/sh` did not finish within its 1 s timeout");
  runhv_error_release (&err);
  /* killed at the timeout, not waited for */
  assert_true (b.tv_sec - a.tv_sec < 10);
  oci_spec_free (s);
}

static void
test_signal_and_missing_binary (void **state)
{
  cleanup_free char *killed = sh_hook ("echo bye; kill -9 $$", NULL);
  cleanup_free char *hooks = xasprintf ("[%s]", killed);
  struct oci_spec *s = spec_with_hooks ("poststop", hooks);
  runhv_error_t err = NULL;
  (void)state;

  assert_int_equal (hooks_run (s, OCI_HOOK_POSTSTOP, "{}", &err), -1);
  assert_string_equal (err->msg, "hooks.poststop[0]: `/bin/sh` was killed by signal 9: bye");
  runhv_error_release (&err);
  oci_spec_free (s);

  s = spec_with_hooks ("startContainer", "[{\"path\":\"/nonexistent/hook\"}]");
  assert_int_equal (hooks_run (s, OCI_HOOK_START_CONTAINER, "{}", &err), -1);
  assert_non_null (strstr (err->msg, "hooks.startContainer[0]: `/nonexistent/hook` exited with status 127"));
  assert_non_null (strstr (err->msg, "No such file or directory"));
  runhv_error_release (&err);
  oci_spec_free (s);
}

/* A hook that never reads its stdin must not hang the runtime, however
   large the state (a pipe holds 64 KiB); its env is only what the spec
   gives it.  */
static void
test_unread_stdin_and_env (void **state)
{
  struct fixture *f = *state;
  cleanup_free char *out = xasprintf ("%s/env", f->dir);
  cleanup_free char *script = xasprintf ("echo \"$HOOK_VAR:${HOME:-unset}\" > %s", out);
  cleanup_free char *hook = sh_hook (script, ",\"env\":[\"HOOK_VAR=given\"]");
  cleanup_free char *hooks = xasprintf ("[%s]", hook);
  cleanup_free char *big = xmalloc0 (1 << 20);
  cleanup_free char *got = NULL;
  struct oci_spec *s = spec_with_hooks ("createContainer", hooks);
  runhv_error_t err = NULL;

  memset (big, ' ', (1 << 20) - 1);
  setenv ("HOME", "/leaked", 1);
  assert_int_equal (hooks_run (s, OCI_HOOK_CREATE_CONTAINER, big, &err), 0);
  got = slurp (out);
  assert_string_equal (got, "given:unset\n");
  oci_spec_free (s);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_state_on_stdin, setup, teardown),
    cmocka_unit_test (test_state_json_omissions),
    cmocka_unit_test_setup_teardown (test_order_and_first_failure, setup, teardown),
    cmocka_unit_test (test_timeout),
    cmocka_unit_test (test_signal_and_missing_binary),
    cmocka_unit_test_setup_teardown (test_unread_stdin_and_env, setup, teardown),
  };
  return cmocka_run_group_tests_name ("hooks", tests, NULL, NULL);
}

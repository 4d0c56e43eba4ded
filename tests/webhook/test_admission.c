/* Unit tests of the AdmissionReview decisions (src/lib/k8s/admission.c):
   the helpers whose mistakes the HTTP tests cannot see, and the decision
   order when several rules match.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "k8s/admission.h"
#include "core/util.h"
#include "core/banned.h"

static char *const excluded[] = { "legacy", NULL };
static const struct admission_config cfg = { .runtime_class = "runhv-hypervisor", .exclude_namespaces = excluded };

static void
test_pointer_escape (void **state)
{
  static const char *const cases[][2] = {
    { "plain", "plain" }, { "a/b", "a~1b" }, { "a~b", "a~0b" }, { "~1", "~01" }, { "/~/", "~1~0~1" }, { "", "" },
  };
  (void)state;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
      cleanup_free char *got = json_pointer_escape (cases[i][0]);
      assert_string_equal (got, cases[i][1]);
    }
}

static void
test_base64 (void **state)
{
  /* RFC 4648 section 10.  */
  static const char *const cases[][2] = {
    { "", "" },
    { "f", "Zg==" },
    { "fo", "Zm8=" },
    { "foo", "Zm9v" },
    { "foob", "Zm9vYg==" },
    { "fooba", "Zm9vYmE=" },
    { "foobar", "Zm9vYmFy" },
  };
  (void)state;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
      cleanup_free char *got = base64_encode (cases[i][0], strlen (cases[i][0]));
      assert_string_equal (got, cases[i][1]);
    }
}

static enum admission_skip
decide (const char *pod_spec_and_meta, const char *ns, const char *op)
{
  cleanup_free char *body
    = xasprintf ("{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"u\","
                 "\"kind\":{\"group\":\"\",\"version\":\"v1\",\"kind\":\"Pod\"},\"operation\":\"%s\","
                 "\"namespace\":\"%s\",\"object\":{%s}}}",
                 op, ns, pod_spec_and_meta);
  struct admission_result r;
  runhv_error_t err = NULL;
  enum admission_skip skip;
  if (admission_review (body, strlen (body), &cfg, &r, &err) < 0)
    fail_msg ("%s", err->msg);
  skip = r.skip;
  admission_result_release (&r);
  return skip;
}

static void
test_decisions (void **state)
{
  (void)state;
  assert_int_equal (decide ("\"spec\":{}", "default", "CREATE"), ADMISSION_SKIP_NONE);
  assert_int_equal (decide ("\"spec\":{\"hostNetwork\":false}", "default", "CREATE"), ADMISSION_SKIP_NONE);
  assert_int_equal (decide ("\"spec\":{\"hostNetwork\":true}", "default", "CONNECT"), ADMISSION_SKIP_OPERATION);
  /* the first rule wins: namespace before class before label before host*  */
  assert_int_equal (decide ("\"spec\":{\"runtimeClassName\":\"x\",\"hostPID\":true}", "legacy", "CREATE"),
                    ADMISSION_SKIP_NAMESPACE);
  assert_int_equal (decide ("\"metadata\":{\"labels\":{\"runhv.io/isolation\":\"process\"}},\"spec\":{"
                            "\"runtimeClassName\":\"x\"}",
                            "default", "CREATE"),
                    ADMISSION_SKIP_RUNTIME_CLASS);
  assert_int_equal (
    decide ("\"metadata\":{\"labels\":{\"runhv.io/isolation\":\"hypervisor\"}},\"spec\":{}", "default", "CREATE"),
    ADMISSION_SKIP_NONE);
  assert_int_equal (decide ("\"spec\":{\"runtimeClassName\":\"\"}", "default", "CREATE"), ADMISSION_SKIP_NONE);
  assert_int_equal (decide ("\"spec\":{\"nodeSelector\":{\"beta.kubernetes.io/os\":\"windows\"}}", "default", "CREATE"),
                    ADMISSION_SKIP_OS);
  /* affinity: terms are ORed, expressions ANDed */
  assert_int_equal (
    decide ("\"spec\":{\"affinity\":{\"nodeAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":{"
            "\"nodeSelectorTerms\":[{\"matchExpressions\":[{\"key\":\"kubernetes.io/os\",\"operator\":\"Exists\"},"
            "{\"key\":\"kubernetes.io/os\",\"operator\":\"In\",\"values\":[\"windows\"]}]}]}}}}",
            "default", "CREATE"),
    ADMISSION_SKIP_OS);
  assert_int_equal (
    decide (
      "\"spec\":{\"affinity\":{\"nodeAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":{"
      "\"nodeSelectorTerms\":[{\"matchFields\":[{\"key\":\"metadata.name\",\"operator\":\"In\",\"values\":[\"n\"]}]}"
      "]}}}}",
      "default", "CREATE"),
    ADMISSION_SKIP_NONE);
  /* preferred affinity never blocks */
  assert_int_equal (
    decide (
      "\"spec\":{\"affinity\":{\"nodeAffinity\":{\"preferredDuringSchedulingIgnoredDuringExecution\":[{\"weight\":1,"
      "\"preference\":{\"matchExpressions\":[{\"key\":\"kubernetes.io/"
      "os\",\"operator\":\"In\",\"values\":[\"windows\"]}]}}"
      "]}}}",
      "default", "CREATE"),
    ADMISSION_SKIP_NONE);
}

static void
test_rejections (void **state)
{
  static const char *const bodies[] = {
    "",
    "null",
    "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"apiVersion\":\"admission.k8s.io/v1\"}",
    "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"\"}}",
    "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"u\",\"kind\":{"
    "\"kind\":\"Pod\",\"version\":\"v1\"},\"operation\":\"CREATE\"}}",
    "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"u\",\"kind\":{"
    "\"kind\":\"Pod\",\"version\":\"v1\"},\"operation\":\"CREATE\",\"object\":{\"spec\":{\"containers\":[1]}}}}",
  };
  (void)state;
  for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++)
    {
      struct admission_result r;
      runhv_error_t err = NULL;
      assert_int_equal (admission_review (bodies[i], strlen (bodies[i]), &cfg, &r, &err), -1);
      assert_non_null (err);
      assert_null (strchr (err->msg, '\n'));
      assert_null (r.uid);
      runhv_error_release (&err);
    }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_pointer_escape),
    cmocka_unit_test (test_base64),
    cmocka_unit_test (test_decisions),
    cmocka_unit_test (test_rejections),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}

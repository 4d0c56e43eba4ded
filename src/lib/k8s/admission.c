/* AdmissionReview decisions for runhv-webhook.  Every byte comes from the
   network, so each field is type-checked before use and any surprise is a
   one-line error, never an assumption.  */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "k8s/admission.h"
#include "core/json.h"
#include "core/util.h"
#include "core/banned.h"

static const char *const skip_names[ADMISSION_SKIP__COUNT] = {
  [ADMISSION_SKIP_NONE] = "none",
  [ADMISSION_SKIP_KIND] = "not_pod",
  [ADMISSION_SKIP_OPERATION] = "not_create",
  [ADMISSION_SKIP_NAMESPACE] = "excluded_namespace",
  [ADMISSION_SKIP_RUNTIME_CLASS] = "runtime_class_set",
  [ADMISSION_SKIP_LABEL] = "process_isolation_label",
  [ADMISSION_SKIP_HOST_NETWORK] = "host_network",
  [ADMISSION_SKIP_HOST_PID] = "host_pid",
  [ADMISSION_SKIP_HOST_IPC] = "host_ipc",
  [ADMISSION_SKIP_PRIVILEGED] = "privileged",
  [ADMISSION_SKIP_OS] = "non_linux_os",
};

const char *
admission_skip_name (enum admission_skip skip)
{
  if ((int)skip < 0 || skip >= ADMISSION_SKIP__COUNT)
    return "unknown";
  return skip_names[skip];
}

char *
json_pointer_escape (const char *token)
{
  size_t n = 0;
  char *out, *o;
  for (const char *p = token; *p; p++)
    n += (*p == '~' || *p == '/') ? 2 : 1;
  o = out = xmalloc0 (n + 1);
  for (const char *p = token; *p; p++)
    {
      if (*p == '~' || *p == '/')
        {
          *o++ = '~';
          *o++ = *p == '~' ? '0' : '1';
        }
      else
        *o++ = *p;
    }
  *o = '\0';
  return out;
}

char *
base64_encode (const void *data, size_t len)
{
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const unsigned char *in = data;
  char *out = xmalloc0 ((len + 2) / 3 * 4 + 1), *o = out;
  size_t i = 0;
  for (; i + 2 < len; i += 3)
    {
      uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
      *o++ = alphabet[v >> 18 & 63];
      *o++ = alphabet[v >> 12 & 63];
      *o++ = alphabet[v >> 6 & 63];
      *o++ = alphabet[v & 63];
    }
  if (i < len)
    {
      uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0);
      *o++ = alphabet[v >> 18 & 63];
      *o++ = alphabet[v >> 12 & 63];
      *o++ = i + 1 < len ? alphabet[v >> 6 & 63] : '=';
      *o++ = '=';
    }
  *o = '\0';
  return out;
}

/* Optional member of a given JSON type: absent and null both read as absent,
   as the API server treats them; any other type is an error.  */
static int
member (json_t *obj, const char *where, const char *key, json_type type, json_t **out, runhv_error_t *err)
{
  json_t *v = json_object_get (obj, key);
  *out = NULL;
  if (v == NULL || json_is_null (v))
    return 0;
  if (json_typeof (v) != type)
    {
      static const char *const names[]
        = { "an object", "an array", "a string", "an integer", "a number", "a boolean", "a boolean", "null" };
      return runhv_error (err, "%s.%s: must be %s", where, key, names[type]);
    }
  *out = v;
  return 0;
}

/* Optional boolean: absent and null read as false; "true" (a string) is an
   error, not a guess, so a pod can never be judged on a value the API
   server itself would have refused.  */
static int
bool_member (json_t *obj, const char *where, const char *key, bool *out, runhv_error_t *err)
{
  json_t *v = json_object_get (obj, key);
  *out = false;
  if (v == NULL || json_is_null (v))
    return 0;
  if (!json_is_boolean (v))
    return runhv_error (err, "%s.%s: must be a boolean", where, key);
  *out = json_is_true (v);
  return 0;
}

/* Labels, annotations, nodeSelector: map[string]string.  */
static int
string_map_member (json_t *obj, const char *where, const char *key, json_t **out, runhv_error_t *err)
{
  const char *k;
  json_t *v;
  if (member (obj, where, key, JSON_OBJECT, out, err) < 0)
    return -1;
  if (*out == NULL)
    return 0;
  json_object_foreach (*out, k, v)
  {
    if (!json_is_string (v))
      return runhv_error (err, "%s.%s[\"%s\"]: must be a string", where, key, k);
  }
  return 0;
}

/* An array whose every element has the given type.  */
static int
array_member (json_t *obj, const char *where, const char *key, json_type type, json_t **out, runhv_error_t *err)
{
  json_t *v;
  size_t i;
  if (member (obj, where, key, JSON_ARRAY, out, err) < 0)
    return -1;
  if (*out == NULL)
    return 0;
  json_array_foreach (*out, i, v)
  {
    if (json_typeof (v) != type)
      return runhv_error (err, "%s.%s[%zu]: must be %s", where, key, i,
                          type == JSON_OBJECT   ? "an object"
                          : type == JSON_STRING ? "a string"
                                                : "of another type");
  }
  return 0;
}

static bool
str_member_is (json_t *obj, const char *key, const char *want)
{
  json_t *v = json_object_get (obj, key);
  return json_is_string (v) && strcmp (json_string_value (v), want) == 0;
}

/* A container list (containers, initContainers, ephemeralContainers): true
   when one of them asks for privileged mode.  */
static int
any_privileged (json_t *spec, const char *key, bool *privileged, runhv_error_t *err)
{
  json_t *list = NULL, *c;
  size_t i;
  cleanup_free char *where = xasprintf ("request.object.spec.%s", key);
  if (member (spec, "request.object.spec", key, JSON_ARRAY, &list, err) < 0)
    return -1;
  if (list == NULL)
    return 0;
  json_array_foreach (list, i, c)
  {
    json_t *sc = NULL;
    bool p = false;
    cleanup_free char *item = xasprintf ("%s[%zu]", where, i);
    cleanup_free char *sc_where = xasprintf ("%s.securityContext", item);
    if (!json_is_object (c))
      return runhv_error (err, "%s: must be an object", item);
    if (member (c, item, "securityContext", JSON_OBJECT, &sc, err) < 0)
      return -1;
    if (sc != NULL && bool_member (sc, sc_where, "privileged", &p, err) < 0)
      return -1;
    *privileged |= p;
  }
  return 0;
}

static bool
is_os_label (const char *key)
{
  return strcmp (key, "kubernetes.io/os") == 0 || strcmp (key, "beta.kubernetes.io/os") == 0;
}

static bool
values_contain_linux (json_t *values)
{
  json_t *v;
  size_t i;
  json_array_foreach (values, i, v)
  {
    if (json_is_string (v) && strcmp (json_string_value (v), "linux") == 0)
      return true;
  }
  return false;
}

/* One nodeSelectorTerm (its matchExpressions are ANDed): can a linux node
   with kubernetes.io/os=linux satisfy it, as far as the OS label goes?  */
static int
term_allows_linux (json_t *term, const char *where, bool *allows, runhv_error_t *err)
{
  json_t *exprs = NULL, *e;
  size_t i;
  *allows = true;
  if (array_member (term, where, "matchExpressions", JSON_OBJECT, &exprs, err) < 0)
    return -1;
  json_array_foreach (exprs, i, e)
  {
    json_t *key = NULL, *op = NULL, *values = NULL;
    cleanup_free char *ew = xasprintf ("%s.matchExpressions[%zu]", where, i);
    const char *o;
    if (member (e, ew, "key", JSON_STRING, &key, err) < 0 || member (e, ew, "operator", JSON_STRING, &op, err) < 0
        || array_member (e, ew, "values", JSON_STRING, &values, err) < 0)
      return -1;
    if (key == NULL || op == NULL || !is_os_label (json_string_value (key)))
      continue;
    o = json_string_value (op);
    if (strcmp (o, "In") == 0 && (values == NULL || !values_contain_linux (values)))
      *allows = false;
    if (strcmp (o, "NotIn") == 0 && values != NULL && values_contain_linux (values))
      *allows = false;
    /* The label is always set on a node, and "linux" is no number.  */
    if (strcmp (o, "DoesNotExist") == 0 || strcmp (o, "Gt") == 0 || strcmp (o, "Lt") == 0)
      *allows = false;
  }
  return 0;
}

/* True when the pod can only land on a node whose OS is not linux: spec.os,
   nodeSelector, or required node affinity (its terms are ORed: every term
   must rule linux out).  */
static int
requires_other_os (json_t *spec, bool *other, runhv_error_t *err)
{
  static const char sw[] = "request.object.spec";
  json_t *os = NULL, *os_name = NULL, *sel = NULL, *aff = NULL, *na = NULL, *req = NULL, *terms = NULL, *t;
  size_t i;
  bool any = false, linux_ok = false;
  *other = false;
  if (member (spec, sw, "os", JSON_OBJECT, &os, err) < 0
      || (os != NULL && member (os, "request.object.spec.os", "name", JSON_STRING, &os_name, err) < 0)
      || string_map_member (spec, sw, "nodeSelector", &sel, err) < 0
      || member (spec, sw, "affinity", JSON_OBJECT, &aff, err) < 0
      || (aff != NULL && member (aff, "request.object.spec.affinity", "nodeAffinity", JSON_OBJECT, &na, err) < 0)
      || (na != NULL
          && member (na, "request.object.spec.affinity.nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution",
                     JSON_OBJECT, &req, err)
               < 0)
      || (req != NULL
          && array_member (req,
                           "request.object.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution",
                           "nodeSelectorTerms", JSON_OBJECT, &terms, err)
               < 0))
    return -1;
  if (os_name != NULL && strcmp (json_string_value (os_name), "linux") != 0)
    *other = true;
  if (sel != NULL)
    {
      const char *k;
      json_t *v;
      json_object_foreach (sel, k, v)
      {
        if (is_os_label (k) && strcmp (json_string_value (v), "linux") != 0)
          *other = true;
      }
    }
  json_array_foreach (terms, i, t)
  {
    bool allows;
    cleanup_free char *tw = xasprintf ("request.object.spec.affinity.nodeAffinity."
                                       "requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[%zu]",
                                       i);
    any = true;
    if (term_allows_linux (t, tw, &allows, err) < 0)
      return -1;
    linux_ok |= allows;
  }
  if (any && !linux_ok)
    *other = true;
  return 0;
}

static int
decide_pod (json_t *pod, const char *ns, const struct admission_config *cfg, enum admission_skip *skip,
            runhv_error_t *err)
{
  json_t *meta = NULL, *spec = NULL, *labels = NULL, *annotations = NULL, *rc = NULL;
  bool privileged = false, host_network, host_pid, host_ipc, other_os;

  if (member (pod, "request.object", "metadata", JSON_OBJECT, &meta, err) < 0
      || member (pod, "request.object", "spec", JSON_OBJECT, &spec, err) < 0)
    return -1;
  if (spec == NULL)
    return runhv_error (err, "request.object.spec: missing (a Pod needs a spec)");
  if (meta != NULL
      && (string_map_member (meta, "request.object.metadata", "labels", &labels, err) < 0
          || string_map_member (meta, "request.object.metadata", "annotations", &annotations, err) < 0))
    return -1;
  /* Every field the decision reads is type-checked before any of it is
     used: a value of the wrong type is a 400, never a decision.  */
  if (member (spec, "request.object.spec", "runtimeClassName", JSON_STRING, &rc, err) < 0
      || bool_member (spec, "request.object.spec", "hostNetwork", &host_network, err) < 0
      || bool_member (spec, "request.object.spec", "hostPID", &host_pid, err) < 0
      || bool_member (spec, "request.object.spec", "hostIPC", &host_ipc, err) < 0
      || any_privileged (spec, "containers", &privileged, err) < 0
      || any_privileged (spec, "initContainers", &privileged, err) < 0
      || any_privileged (spec, "ephemeralContainers", &privileged, err) < 0
      || requires_other_os (spec, &other_os, err) < 0)
    return -1;

  if (ns != NULL && cfg->exclude_namespaces != NULL && strv_contains (cfg->exclude_namespaces, ns))
    *skip = ADMISSION_SKIP_NAMESPACE;
  else if (rc != NULL && json_string_length (rc) > 0)
    *skip = ADMISSION_SKIP_RUNTIME_CLASS;
  else if (labels != NULL && str_member_is (labels, ADMISSION_ISOLATION_LABEL, "process"))
    *skip = ADMISSION_SKIP_LABEL;
  else if (host_network)
    *skip = ADMISSION_SKIP_HOST_NETWORK;
  else if (host_pid)
    *skip = ADMISSION_SKIP_HOST_PID;
  else if (host_ipc)
    *skip = ADMISSION_SKIP_HOST_IPC;
  else if (privileged)
    *skip = ADMISSION_SKIP_PRIVILEGED;
  else if (other_os)
    *skip = ADMISSION_SKIP_OS;
  else
    *skip = ADMISSION_SKIP_NONE;
  return 0;
}

/* The JSONPatch: set the class, and mark the pod so people (and the
   webhook's own tests) can see who changed it.  "add" replaces an existing
   member, so a stale marker annotation is overwritten, not duplicated.  */
static char *
build_patch (json_t *pod, const char *runtime_class)
{
  json_t *patch = json_array (), *meta = json_object_get (pod, "metadata");
  json_t *ann = json_is_object (meta) ? json_object_get (meta, "annotations") : NULL;
  cleanup_free char *key = json_pointer_escape (ADMISSION_MUTATED_ANNOTATION);
  char *text;

  json_array_append_new (
    patch, json_pack ("{s:s, s:s, s:s}", "op", "add", "path", "/spec/runtimeClassName", "value", runtime_class));
  if (!json_is_object (meta))
    json_array_append_new (patch, json_pack ("{s:s, s:s, s:{s:{s:s}}}", "op", "add", "path", "/metadata", "value",
                                             "annotations", ADMISSION_MUTATED_ANNOTATION, "mutated"));
  else if (!json_is_object (ann))
    json_array_append_new (patch, json_pack ("{s:s, s:s, s:{s:s}}", "op", "add", "path", "/metadata/annotations",
                                             "value", ADMISSION_MUTATED_ANNOTATION, "mutated"));
  else
    {
      cleanup_free char *path = xasprintf ("/metadata/annotations/%s", key);
      json_array_append_new (patch, json_pack ("{s:s, s:s, s:s}", "op", "add", "path", path, "value", "mutated"));
    }
  text = json_dumps (patch, JSON_COMPACT);
  json_decref (patch);
  if (text == NULL)
    abort (); /* only on allocation failure, as xmalloc */
  return text;
}

static int
review (json_t *root, const struct admission_config *cfg, struct admission_result *out, runhv_error_t *err)
{
  json_t *req = NULL, *uid = NULL, *kind = NULL, *op = NULL, *obj = NULL, *ns = NULL;
  const char *ns_name = NULL;

  if (!json_is_object (root))
    return runhv_error (err, "body: must be a JSON object (an AdmissionReview)");
  if (!str_member_is (root, "apiVersion", ADMISSION_API_VERSION))
    return runhv_error (err, "apiVersion: must be \"%s\" (set admissionReviewVersions: [v1])", ADMISSION_API_VERSION);
  if (!str_member_is (root, "kind", "AdmissionReview"))
    return runhv_error (err, "kind: must be \"AdmissionReview\"");
  if (member (root, "body", "request", JSON_OBJECT, &req, err) < 0)
    return -1;
  if (req == NULL)
    return runhv_error (err, "request: missing");
  if (member (req, "request", "uid", JSON_STRING, &uid, err) < 0)
    return -1;
  if (uid == NULL || json_string_length (uid) == 0)
    return runhv_error (err, "request.uid: missing (the response must echo it)");
  if (member (req, "request", "kind", JSON_OBJECT, &kind, err) < 0
      || member (req, "request", "operation", JSON_STRING, &op, err) < 0
      || member (req, "request", "namespace", JSON_STRING, &ns, err) < 0)
    return -1;
  if (kind == NULL)
    return runhv_error (err, "request.kind: missing");
  if (op == NULL)
    return runhv_error (err, "request.operation: missing");

  out->uid = xstrdup (json_string_value (uid));
  out->skip = ADMISSION_SKIP_NONE;
  out->patch = NULL;
  {
    json_t *k = NULL, *v = NULL, *g = NULL;
    if (member (kind, "request.kind", "kind", JSON_STRING, &k, err) < 0
        || member (kind, "request.kind", "version", JSON_STRING, &v, err) < 0
        || member (kind, "request.kind", "group", JSON_STRING, &g, err) < 0)
      goto fail;
  }
  if (!str_member_is (kind, "kind", "Pod") || !str_member_is (kind, "version", "v1")
      || (json_object_get (kind, "group") != NULL && !str_member_is (kind, "group", "")))
    {
      out->skip = ADMISSION_SKIP_KIND;
      return 0;
    }
  if (strcmp (json_string_value (op), "CREATE") != 0)
    {
      out->skip = ADMISSION_SKIP_OPERATION;
      return 0;
    }
  if (member (req, "request", "object", JSON_OBJECT, &obj, err) < 0)
    goto fail;
  if (obj == NULL)
    {
      runhv_error (err, "request.object: missing (a Pod CREATE carries the pod)");
      goto fail;
    }
  {
    /* Older or hand-written reviews carry only the pod's own namespace.  */
    json_t *meta = json_object_get (obj, "metadata"), *mns = NULL;
    if (json_is_object (meta) && member (meta, "request.object.metadata", "namespace", JSON_STRING, &mns, err) < 0)
      goto fail;
    ns_name = ns != NULL ? json_string_value (ns) : mns != NULL ? json_string_value (mns) : "default";
  }
  if (decide_pod (obj, ns_name, cfg, &out->skip, err) < 0)
    goto fail;
  if (out->skip == ADMISSION_SKIP_NONE)
    out->patch = build_patch (obj, cfg->runtime_class);
  return 0;

fail:
  admission_result_release (out);
  return -1;
}

int
admission_review (const char *body, size_t len, const struct admission_config *cfg, struct admission_result *out,
                  runhv_error_t *err)
{
  json_error_t jerr;
  json_t *root;
  int ret;

  memset (out, 0, sizeof *out);
  if (len == 0)
    return runhv_error (err, "body: empty (POST an AdmissionReview as JSON)");
  if (len > ADMISSION_MAX_BODY)
    return runhv_error (err, "body: larger than %d bytes", ADMISSION_MAX_BODY);
  root = json_loadb (body, len, JSON_REJECT_DUPLICATES, &jerr);
  if (root == NULL)
    return runhv_error (err, "body: not valid JSON: line %d column %d: %s", jerr.line, jerr.column, jerr.text);
  ret = review (root, cfg, out, err);
  json_decref (root);
  return ret;
}

char *
admission_response_json (const struct admission_result *r)
{
  json_t *resp = json_pack ("{s:s, s:b}", "uid", r->uid != NULL ? r->uid : "", "allowed", 1);
  json_t *root;
  char *text;
  if (r->patch != NULL)
    {
      cleanup_free char *b64 = base64_encode (r->patch, strlen (r->patch));
      json_object_set_new (resp, "patchType", json_string ("JSONPatch"));
      json_object_set_new (resp, "patch", json_string (b64));
    }
  root
    = json_pack ("{s:s, s:s, s:o}", "apiVersion", ADMISSION_API_VERSION, "kind", "AdmissionReview", "response", resp);
  text = json_dumps (root, JSON_COMPACT);
  json_decref (root);
  if (text == NULL)
    abort ();
  return text;
}

void
admission_result_release (struct admission_result *r)
{
  free (r->uid);
  free (r->patch);
  r->uid = NULL;
  r->patch = NULL;
}

bool
k8s_name_valid (const char *s, size_t max_len, bool dots)
{
  size_t n = strlen (s);
  if (n == 0 || n > max_len)
    return false;
  for (size_t i = 0; i < n; i++)
    {
      char c = s[i];
      bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
      if (!alnum && c != '-' && !(dots && c == '.'))
        return false;
      if (!alnum && (i == 0 || i == n - 1))
        return false;
    }
  return true;
}

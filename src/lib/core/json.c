#include "core/json.h"

#include <errno.h>
#include <string.h>

#include "core/util.h"
#include "core/banned.h"

char *
jpath (const char *where, const char *key)
{
  if (where == NULL || where[0] == '\0')
    return xstrdup (key);
  return xasprintf ("%s.%s", where, key);
}

char *
jpath_index (const char *where, const char *key, size_t index)
{
  if (where == NULL || where[0] == '\0')
    return xasprintf ("%s[%zu]", key, index);
  return xasprintf ("%s.%s[%zu]", where, key, index);
}

int
json_load_buffer (const char *buf, size_t len, const char *what, json_t **out, runhv_error_t *err)
{
  json_error_t jerr;
  json_t *j = json_loadb (buf, len, JSON_REJECT_DUPLICATES, &jerr);
  if (j == NULL)
    return runhv_error (err, "%s: invalid JSON at line %d, column %d: %s (fix the syntax there)", what, jerr.line,
                        jerr.column, jerr.text);
  *out = j;
  return 0;
}

int
json_load_path (const char *path, const char *what, size_t max, json_t **out, runhv_error_t *err)
{
  cleanup_free char *buf = NULL;
  size_t len = 0;
  if (read_file (path, max, &buf, &len, err) < 0)
    return runhv_error_wrap (err, "%s", what);
  return json_load_buffer (buf, len, what, out, err);
}

static json_t *
lookup (json_t *obj, const char *key)
{
  json_t *v;
  if (obj == NULL || !json_is_object (obj))
    return NULL;
  v = json_object_get (obj, key);
  if (v != NULL && json_is_null (v))
    return NULL;
  return v;
}

/* The value at key, NULL when absent or null (an error then only when the
   field is required); *present, when given, says which.  */
static int
lookup_field (json_t *obj, const char *where, const char *key, bool required, bool *present, json_t **out,
              runhv_error_t *err)
{
  *out = lookup (obj, key);
  if (present)
    *present = *out != NULL;
  if (*out == NULL && required)
    {
      cleanup_free char *p = jpath (where, key);
      return runhv_error (err, "%s: missing (this field is required)", p);
    }
  return 0;
}

static int
wrong_type (const char *where, const char *key, const char *expected, runhv_error_t *err)
{
  cleanup_free char *p = jpath (where, key);
  return runhv_error (err, "%s: expected %s", p, expected);
}

int
jget_string (json_t *obj, const char *where, const char *key, bool required, char **out, runhv_error_t *err)
{
  json_t *v;
  *out = NULL;
  if (lookup_field (obj, where, key, required, NULL, &v, err) < 0)
    return -1;
  if (v == NULL)
    return 0;
  if (!json_is_string (v))
    return wrong_type (where, key, "a string", err);
  if (memchr (json_string_value (v), '\0', json_string_length (v)) != NULL)
    {
      cleanup_free char *p = jpath (where, key);
      return runhv_error (err, "%s: contains a NUL byte", p);
    }
  *out = xstrdup (json_string_value (v));
  return 0;
}

int
jget_bool (json_t *obj, const char *where, const char *key, bool *out, bool *present, runhv_error_t *err)
{
  json_t *v;
  if (lookup_field (obj, where, key, false, present, &v, err) < 0)
    return -1;
  if (v == NULL)
    return 0;
  if (!json_is_boolean (v))
    return wrong_type (where, key, "true or false", err);
  *out = json_is_true (v);
  return 0;
}

int
jget_int64 (json_t *obj, const char *where, const char *key, int64_t *out, bool *present, runhv_error_t *err)
{
  json_t *v;
  if (lookup_field (obj, where, key, false, present, &v, err) < 0)
    return -1;
  if (v == NULL)
    return 0;
  if (!json_is_integer (v))
    return wrong_type (where, key, "an integer", err);
  *out = json_integer_value (v);
  return 0;
}

int
jget_uint64 (json_t *obj, const char *where, const char *key, uint64_t *out, bool *present, runhv_error_t *err)
{
  json_t *v;
  if (lookup_field (obj, where, key, false, present, &v, err) < 0)
    return -1;
  if (v == NULL)
    return 0;
  if (!json_is_integer (v) || json_integer_value (v) < 0)
    return wrong_type (where, key, "a non-negative integer", err);
  *out = (uint64_t)json_integer_value (v);
  return 0;
}

int
jget_uint32 (json_t *obj, const char *where, const char *key, uint32_t *out, bool *present, runhv_error_t *err)
{
  uint64_t v = 0;
  bool have = false;
  if (jget_uint64 (obj, where, key, &v, &have, err) < 0)
    return -1;
  if (present)
    *present = have;
  if (!have)
    return 0;
  if (v > UINT32_MAX)
    {
      cleanup_free char *p = jpath (where, key);
      return runhv_error (err, "%s: %llu is out of range (at most %u)", p, (unsigned long long)v, UINT32_MAX);
    }
  *out = (uint32_t)v;
  return 0;
}

int
jget_strv (json_t *obj, const char *where, const char *key, bool required, char ***out, runhv_error_t *err)
{
  json_t *v, *e;
  size_t i;
  char **r;
  *out = NULL;
  if (lookup_field (obj, where, key, required, NULL, &v, err) < 0)
    return -1;
  if (v == NULL)
    return 0;
  if (!json_is_array (v))
    return wrong_type (where, key, "an array of strings", err);
  r = xmalloc0 ((json_array_size (v) + 1) * sizeof (char *));
  json_array_foreach (v, i, e)
  {
    if (!json_is_string (e) || memchr (json_string_value (e), '\0', json_string_length (e)) != NULL)
      {
        cleanup_free char *p = jpath_index (where, key, i);
        strv_free (r);
        return runhv_error (err, "%s: expected a string", p);
      }
    r[i] = xstrdup (json_string_value (e));
  }
  *out = r;
  return 0;
}

int
jget_object (json_t *obj, const char *where, const char *key, bool required, json_t **out, runhv_error_t *err)
{
  json_t *v;
  *out = NULL;
  if (lookup_field (obj, where, key, required, NULL, &v, err) < 0)
    return -1;
  if (v != NULL && !json_is_object (v))
    return wrong_type (where, key, "an object", err);
  *out = v;
  return 0;
}

int
jget_array (json_t *obj, const char *where, const char *key, bool required, json_t **out, runhv_error_t *err)
{
  json_t *v;
  *out = NULL;
  if (lookup_field (obj, where, key, required, NULL, &v, err) < 0)
    return -1;
  if (v != NULL && !json_is_array (v))
    return wrong_type (where, key, "an array", err);
  *out = v;
  return 0;
}

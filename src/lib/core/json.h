/* Typed access to jansson trees with errors that name the field:
   "process.user.uid: expected an unsigned integer".  `where` is the dotted
   path of the parent object ("" for the root).  */
#ifndef RUNHV_JSON_H
#define RUNHV_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"

static inline void
cleanup_jsonp (json_t **j)
{
  if (*j != NULL)
    json_decref (*j);
}
#define cleanup_json __attribute__ ((cleanup (cleanup_jsonp)))

/* Parse a file or buffer; a syntax error names `what`, the line and the column. */
int json_load_path (const char *path, const char *what, size_t max, json_t **out, runhv_error_t *err);
int json_load_buffer (const char *buf, size_t len, const char *what, json_t **out, runhv_error_t *err);

/* Each getter: absent key → *present=false and 0 (or an error when required).  */
int jget_string (json_t *obj, const char *where, const char *key, bool required, char **out, runhv_error_t *err);
int jget_bool (json_t *obj, const char *where, const char *key, bool *out, bool *present, runhv_error_t *err);
int jget_int64 (json_t *obj, const char *where, const char *key, int64_t *out, bool *present, runhv_error_t *err);
int jget_uint64 (json_t *obj, const char *where, const char *key, uint64_t *out, bool *present, runhv_error_t *err);
int jget_uint32 (json_t *obj, const char *where, const char *key, uint32_t *out, bool *present, runhv_error_t *err);
/* Array of strings → NULL-terminated vector (NULL when absent).  */
int jget_strv (json_t *obj, const char *where, const char *key, bool required, char ***out, runhv_error_t *err);
/* Object/array with a type check; *out borrowed, NULL when absent.  */
int jget_object (json_t *obj, const char *where, const char *key, bool required, json_t **out, runhv_error_t *err);
int jget_array (json_t *obj, const char *where, const char *key, bool required, json_t **out, runhv_error_t *err);

/* "where.key" or "key"; caller frees.  */
char *jpath (const char *where, const char *key);
char *jpath_index (const char *where, const char *key, size_t index);

#endif

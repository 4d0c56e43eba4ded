/* A strict reader for the TOML 1.0 that runhv.toml and containerd's config.toml
   use.  Anything outside the supported subset (dates and times) or against the
   spec is an error naming the file, line and column, never a silent guess:
   "runhv.toml:4:1: duplicate key `SandboxIsolation` (first set at line 2;
   each key may be set once)".  */
#ifndef RUNHV_TOML_H
#define RUNHV_TOML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* Bounds against hostile or mistaken input (a binary, a log file).  */
#define TOML_MAX_INPUT (4u << 20)  /* bytes in one document */
#define TOML_MAX_DEPTH 64          /* nested tables and arrays, and parts of one dotted key */
#define TOML_MAX_KEY 1024          /* bytes in one key, after unescaping */
#define TOML_MAX_STRING (1u << 20) /* bytes in one string value, after unescaping */
#define TOML_MAX_NUMBER 256        /* characters in one number */

enum toml_type
{
  TOML_STRING,
  TOML_INTEGER,
  TOML_FLOAT,
  TOML_BOOL,
  TOML_ARRAY,
  TOML_TABLE,
};

struct toml_value;

/* buf need not be NUL-terminated.  `what` names the source in messages
   (NULL: "TOML").
   On success *out is the root table; free it with toml_free.  */
int toml_parse (const char *buf, size_t len, const char *what, struct toml_value **out, runhv_error_t *err);
void toml_free (struct toml_value *v);

static inline void
cleanup_tomlp (struct toml_value **v)
{
  toml_free (*v);
}
#define cleanup_toml __attribute__ ((cleanup (cleanup_tomlp)))

/* For NULL this returns a value equal to none of the types, so a failed
   lookup never passes a type check; toml_is says the same in one call.  */
enum toml_type toml_type_of (const struct toml_value *v);
bool toml_is (const struct toml_value *v, enum toml_type type);

/* Every accessor accepts NULL and values of the wrong type, and then returns
   NULL, 0 or -1, so lookups chain without checks in between.  */

/* Table access: direct child by exact key (keys are compared after unquoting). NULL when absent. */
const struct toml_value *toml_table_get (const struct toml_value *table, const char *key);
/* Walk a path of keys, e.g. toml_get_path (root, (const char *[]){"plugins", "io.containerd.grpc.v1.cri",
   "containerd", NULL}).  An empty path gives root.  */
const struct toml_value *toml_get_path (const struct toml_value *root, const char *const *keys);
size_t toml_table_size (const struct toml_value *table);
const char *toml_table_key_at (const struct toml_value *table, size_t i); /* insertion order */
const struct toml_value *toml_table_value_at (const struct toml_value *table, size_t i);
size_t toml_array_size (const struct toml_value *arr);
const struct toml_value *toml_array_at (const struct toml_value *arr, size_t i);
const char *toml_string (const struct toml_value *v);        /* NULL if not a string; never contains NUL */
int toml_integer (const struct toml_value *v, int64_t *out); /* -1 if not an integer */
int toml_bool (const struct toml_value *v, bool *out);
int toml_float (const struct toml_value *v, double *out); /* -1 if not a float (integers are not converted) */

/* Where a value was defined, for error messages by the caller ("line 4, column 20").
   Columns count characters from 1; a table defined by a [header] points at its `[`.  */
unsigned toml_line (const struct toml_value *v);
unsigned toml_column (const struct toml_value *v);

#endif

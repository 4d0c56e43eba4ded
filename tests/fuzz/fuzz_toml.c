/* libFuzzer entry for the TOML reader.  Beyond "no crash, no leak, no hang":
   a rejected input must get a one-line message with a position, and an
   accepted one is written back as TOML and must read back to the same tree,
   which catches silent misreadings (a wrong escape, a lost or merged key).

   clang -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc/lib/core \
     tests/fuzz/fuzz_toml.c src/lib/core/toml.c src/lib/core/util.c src/lib/core/error.c \
     $(pkg-config --cflags --libs jansson) -lm -o fuzz_toml
   ./fuzz_toml -max_len=65536 tests/fuzz/corpus/toml  */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/toml.h"
#include "core/util.h"
#include "core/banned.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void __attribute__ ((noreturn)) die (const char *what, const char *detail)
{
  fprintf (stderr, "fuzz_toml: %s: %s\n", what, detail != NULL ? detail : "");
  abort ();
}

static void
emit_string (FILE *f, const char *s)
{
  fputc ('"', f);
  for (const unsigned char *c = (const unsigned char *)s; *c; c++)
    {
      if (*c == '"' || *c == '\\')
        fprintf (f, "\\%c", *c);
      else if (*c < 0x20 || *c == 0x7F)
        fprintf (f, "\\u%04X", *c);
      else
        fputc (*c, f);
    }
  fputc ('"', f);
}

static void
emit_value (FILE *f, const struct toml_value *v)
{
  int64_t i;
  double d;
  bool b;
  char num[64];

  switch (toml_type_of (v))
    {
    case TOML_STRING:
      emit_string (f, toml_string (v));
      return;
    case TOML_INTEGER:
      toml_integer (v, &i);
      fprintf (f, "%" PRId64, i);
      return;
    case TOML_FLOAT:
      toml_float (v, &d);
      if (isnan (d))
        fputs (signbit (d) ? "-nan" : "nan", f);
      else if (isinf (d))
        fputs (d < 0 ? "-inf" : "inf", f);
      else
        {
          snprintf (num, sizeof (num), "%.17g", d);
          fputs (num, f);
          /* "%g" writes 1.0 as "1", which TOML would read as an integer.  */
          if (strpbrk (num, ".e") == NULL)
            fputs (".0", f);
        }
      return;
    case TOML_BOOL:
      toml_bool (v, &b);
      fputs (b ? "true" : "false", f);
      return;
    case TOML_ARRAY:
      fputc ('[', f);
      for (size_t k = 0; k < toml_array_size (v); k++)
        {
          if (k > 0)
            fputs (", ", f);
          emit_value (f, toml_array_at (v, k));
        }
      fputc (']', f);
      return;
    case TOML_TABLE:
      fputc ('{', f);
      for (size_t k = 0; k < toml_table_size (v); k++)
        {
          if (k > 0)
            fputs (", ", f);
          emit_string (f, toml_table_key_at (v, k));
          fputs (" = ", f);
          emit_value (f, toml_table_value_at (v, k));
        }
      fputc ('}', f);
      return;
    }
  die ("value of no known type", NULL);
}

static void
check_same (const struct toml_value *a, const struct toml_value *b)
{
  int64_t ia, ib;
  double da, db;
  bool ba, bb;

  if (toml_type_of (a) != toml_type_of (b))
    die ("round trip changed a type", NULL);
  if (toml_line (a) < 1 || toml_column (a) < 1)
    die ("value without a position", NULL);
  switch (toml_type_of (a))
    {
    case TOML_STRING:
      if (strcmp (toml_string (a), toml_string (b)) != 0)
        die ("round trip changed a string", toml_string (a));
      return;
    case TOML_INTEGER:
      toml_integer (a, &ia);
      toml_integer (b, &ib);
      if (ia != ib)
        die ("round trip changed an integer", NULL);
      return;
    case TOML_FLOAT:
      toml_float (a, &da);
      toml_float (b, &db);
      if (isnan (da) ? !isnan (db) || signbit (da) != signbit (db) : memcmp (&da, &db, sizeof (da)) != 0)
        die ("round trip changed a float", NULL);
      return;
    case TOML_BOOL:
      toml_bool (a, &ba);
      toml_bool (b, &bb);
      if (ba != bb)
        die ("round trip changed a boolean", NULL);
      return;
    case TOML_ARRAY:
      if (toml_array_size (a) != toml_array_size (b))
        die ("round trip changed an array's size", NULL);
      for (size_t k = 0; k < toml_array_size (a); k++)
        check_same (toml_array_at (a, k), toml_array_at (b, k));
      return;
    case TOML_TABLE:
      if (toml_table_size (a) != toml_table_size (b))
        die ("round trip changed a table's size", NULL);
      for (size_t k = 0; k < toml_table_size (a); k++)
        {
          const char *key = toml_table_key_at (a, k);
          if (strcmp (key, toml_table_key_at (b, k)) != 0)
            die ("round trip changed a key or the key order", key);
          /* Keys are unique, so lookup must find exactly this entry.  */
          if (toml_table_get (a, key) != toml_table_value_at (a, k)
              || toml_get_path (a, (const char *[]){ key, NULL }) != toml_table_value_at (a, k))
            die ("lookup disagrees with the entry", key);
          check_same (toml_table_value_at (a, k), toml_table_value_at (b, k));
        }
      return;
    }
  die ("value of no known type", NULL);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  cleanup_toml struct toml_value *root = NULL;
  cleanup_toml struct toml_value *again = NULL;
  cleanup_free char *text = NULL;
  runhv_error_t err = NULL;
  size_t text_len = 0;
  FILE *f;

  if (toml_parse ((const char *)data, size, "fuzz.toml", &root, &err) < 0)
    {
      if (root != NULL || err == NULL || strncmp (err->msg, "fuzz.toml:", 10) != 0 || strchr (err->msg, '\n') != NULL)
        die ("bad error report", err != NULL ? err->msg : NULL);
      runhv_error_release (&err);
      return 0;
    }

  f = open_memstream (&text, &text_len);
  if (f == NULL)
    die ("open_memstream", NULL);
  for (size_t k = 0; k < toml_table_size (root); k++)
    {
      emit_string (f, toml_table_key_at (root, k));
      fputs (" = ", f);
      emit_value (f, toml_table_value_at (root, k));
      fputc ('\n', f);
    }
  fclose (f);
  /* Escaping can grow a document past the input limit; that is not a bug.  */
  if (text_len > TOML_MAX_INPUT)
    return 0;
  if (toml_parse (text, text_len, "written.toml", &again, &err) < 0)
    die ("our own output does not parse", err->msg);
  check_same (root, again);
  return 0;
}

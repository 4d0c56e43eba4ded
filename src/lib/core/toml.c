#include "core/toml.h"

#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "core/util.h"
#include "core/banned.h"

/* How a table came to exist decides what may later add to it (TOML 1.0,
   "Table" and "Array of Tables").  A table with none of these flags was
   defined by its own [header] (or is the root, or an element of [[x]]).  */
enum
{
  T_IMPLICIT = 1 << 0, /* parent named by a header only: a later [header] may still define it */
  T_DOTTED = 1 << 1,   /* made by a dotted key: headers may add sub-tables, never define it */
  T_INLINE = 1 << 2,   /* { ... }: closed once written */
  A_TABLES = 1 << 3,   /* made by [[header]]: the only kind of array [[ ]] may append to */
};

/* Tables this small are searched linearly; larger ones get a hash index so a
   hostile file with a million keys stays linear.  */
#define INDEX_MIN 8

struct toml_value
{
  enum toml_type type;
  unsigned flags;
  unsigned line;
  unsigned column;
  unsigned depth;
  union
  {
    char *s;
    int64_t i;
    double f;
    bool b;
    struct
    {
      struct toml_value **items;
      size_t n, cap;
    } arr;
    struct
    {
      char **keys;
      struct toml_value **vals;
      size_t n, cap;
      uint32_t *slots; /* index + 1 into keys, 0 = empty; NULL below INDEX_MIN */
      size_t nslots;
      uint64_t seed;
    } tab;
  };
};

struct parser
{
  const char *buf;
  size_t len;
  size_t pos;
  unsigned line;
  size_t line_start;
  /* Columns count characters; remembering the last one keeps long lines linear.  */
  size_t col_line_start;
  size_t col_pos;
  unsigned col;
  const char *what;
  runhv_error_t *err;
  uint64_t seed;
  struct toml_value *root;
  struct toml_value *cur; /* the table key = value lines go to */
  char *cur_path;         /* its name for messages, "" for the root */
};

/* The parts of one (possibly dotted) key, with where each part starts.  */
struct key
{
  size_t n;
  char *part[TOML_MAX_DEPTH];
  unsigned line[TOML_MAX_DEPTH];
  unsigned column[TOML_MAX_DEPTH];
};

static void
cleanup_keyp (struct key *k)
{
  for (size_t i = 0; i < k->n; i++)
    free (k->part[i]);
}
#define cleanup_key __attribute__ ((cleanup (cleanup_keyp)))

/* Where a value sits below the current [section], as a chain on the stack:
   names are rendered only for an error message, because copying them for
   every value would make a long header times many values quadratic.  */
struct ctx
{
  const struct ctx *up;  /* NULL: directly in the current section */
  const struct key *key; /* NULL: element `index` of an array */
  size_t n;
  size_t index;
};

struct sbuf
{
  char *d;
  size_t len, cap;
};

static void
cleanup_sbufp (struct sbuf *b)
{
  free (b->d);
}
#define cleanup_sbuf __attribute__ ((cleanup (cleanup_sbufp)))

static void
sbuf_add (struct sbuf *b, const char *s, size_t n)
{
  if (b->len + n + 1 > b->cap)
    {
      size_t cap = b->cap ? b->cap * 2 : 32;
      while (cap < b->len + n + 1)
        cap *= 2;
      b->d = xrealloc (b->d, cap);
      b->cap = cap;
    }
  memcpy (b->d + b->len, s, n);
  b->len += n;
  b->d[b->len] = '\0';
}

static void
sbuf_addc (struct sbuf *b, char c)
{
  sbuf_add (b, &c, 1);
}

static char *
sbuf_steal (struct sbuf *b)
{
  if (b->d == NULL)
    return xstrdup ("");
  return steal_ptr (&b->d);
}

static bool
is_bare (int c)
{
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* A digit's value in bases up to 16, 99 for anything else.  */
static int
digit_value (int c)
{
  int v = hex_digit_value (c);
  return v < 0 ? 99 : v;
}

static const char *
type_name (const struct toml_value *v)
{
  switch (v->type)
    {
    case TOML_STRING:
      return "a string";
    case TOML_INTEGER:
      return "an integer";
    case TOML_FLOAT:
      return "a float";
    case TOML_BOOL:
      return "a boolean";
    case TOML_ARRAY:
      return (v->flags & A_TABLES) ? "an array of tables" : "an array";
    case TOML_TABLE:
      return (v->flags & T_INLINE) ? "an inline table" : "a table";
    }
  return "a value";
}

/* Length of the well-formed UTF-8 sequence at s (Unicode table 3-7: no
   overlongs, no surrogates, nothing past U+10FFFF), 0 when ill-formed.  */
static size_t
utf8_len (const unsigned char *s, size_t n, uint32_t *cp)
{
  /* Table 3-7, row by row: the lead bytes, the sequence's length, the
     lead's payload bits and the range its second byte must fall in.  */
  static const struct
  {
    unsigned char first, last, len, mask, lo, hi;
  } rows[] = {
    { 0xC2, 0xDF, 2, 0x1F, 0x80, 0xBF }, { 0xE0, 0xE0, 3, 0x0F, 0xA0, 0xBF }, { 0xE1, 0xEC, 3, 0x0F, 0x80, 0xBF },
    { 0xED, 0xED, 3, 0x0F, 0x80, 0x9F }, { 0xEE, 0xEF, 3, 0x0F, 0x80, 0xBF }, { 0xF0, 0xF0, 4, 0x07, 0x90, 0xBF },
    { 0xF1, 0xF3, 4, 0x07, 0x80, 0xBF }, { 0xF4, 0xF4, 4, 0x07, 0x80, 0x8F },
  };
  unsigned char c = s[0];
  size_t r = 0, len;
  if (c < 0x80)
    {
      *cp = c;
      return 1;
    }
  while (r < sizeof (rows) / sizeof (rows[0]) && !(c >= rows[r].first && c <= rows[r].last))
    r++;
  if (r == sizeof (rows) / sizeof (rows[0]))
    return 0;
  len = rows[r].len;
  if (n < len || s[1] < rows[r].lo || s[1] > rows[r].hi)
    return 0;
  *cp = c & rows[r].mask;
  for (size_t i = 1; i < len; i++)
    {
      if (i > 1 && (s[i] < 0x80 || s[i] > 0xBF))
        return 0;
      *cp = (*cp << 6) | (s[i] & 0x3F);
    }
  return len;
}

static void
utf8_encode (struct sbuf *b, uint32_t cp)
{
  char o[4];
  size_t n;

  if (cp < 0x80)
    {
      o[0] = (char)cp;
      n = 1;
    }
  else if (cp < 0x800)
    {
      o[0] = (char)(0xC0 | (cp >> 6));
      o[1] = (char)(0x80 | (cp & 0x3F));
      n = 2;
    }
  else if (cp < 0x10000)
    {
      o[0] = (char)(0xE0 | (cp >> 12));
      o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
      o[2] = (char)(0x80 | (cp & 0x3F));
      n = 3;
    }
  else
    {
      o[0] = (char)(0xF0 | (cp >> 18));
      o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
      o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
      o[3] = (char)(0x80 | (cp & 0x3F));
      n = 4;
    }
  sbuf_add (b, o, n);
}

/* Values, tables and arrays.  */

static struct toml_value *
new_value (enum toml_type type, unsigned line, unsigned column, unsigned depth)
{
  struct toml_value *v = xmalloc0 (sizeof (*v));
  v->type = type;
  v->line = line;
  v->column = column;
  v->depth = depth;
  return v;
}

static struct toml_value *
new_table (struct parser *p, unsigned line, unsigned column, unsigned depth, unsigned flags)
{
  struct toml_value *t = new_value (TOML_TABLE, line, column, depth);
  t->flags = flags;
  t->tab.seed = p->seed;
  return t;
}

void
toml_free (struct toml_value *v)
{
  size_t i;

  if (v == NULL)
    return;
  switch (v->type)
    {
    case TOML_STRING:
      free (v->s);
      break;
    case TOML_ARRAY:
      for (i = 0; i < v->arr.n; i++)
        toml_free (v->arr.items[i]);
      free (v->arr.items);
      break;
    case TOML_TABLE:
      for (i = 0; i < v->tab.n; i++)
        {
          free (v->tab.keys[i]);
          toml_free (v->tab.vals[i]);
        }
      free (v->tab.keys);
      free (v->tab.vals);
      free (v->tab.slots);
      break;
    case TOML_INTEGER:
    case TOML_FLOAT:
    case TOML_BOOL:
      break;
    }
  free (v);
}

/* FNV-1a from a random basis, then murmur3's finalizer so that every bit of
   the state reaches the slot number: colliding keys cannot be precomputed.  */
static uint64_t
hash_key (uint64_t seed, const char *key)
{
  uint64_t h = seed ^ 0xcbf29ce484222325ULL;
  for (const unsigned char *s = (const unsigned char *)key; *s; s++)
    h = (h ^ *s) * 0x100000001b3ULL;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

static void
index_put (struct toml_value *t, size_t i)
{
  size_t mask = t->tab.nslots - 1;
  size_t s = hash_key (t->tab.seed, t->tab.keys[i]) & mask;
  while (t->tab.slots[s] != 0)
    s = (s + 1) & mask;
  t->tab.slots[s] = (uint32_t)(i + 1);
}

static void
table_add (struct toml_value *t, char *key, struct toml_value *v)
{
  if (t->tab.n == t->tab.cap)
    {
      t->tab.cap = t->tab.cap ? t->tab.cap * 2 : 4;
      t->tab.keys = xrealloc (t->tab.keys, t->tab.cap * sizeof (*t->tab.keys));
      t->tab.vals = xrealloc (t->tab.vals, t->tab.cap * sizeof (*t->tab.vals));
    }
  t->tab.keys[t->tab.n] = key;
  t->tab.vals[t->tab.n] = v;
  t->tab.n++;
  if (t->tab.n < INDEX_MIN)
    return;
  /* Keep the load at most one half so probes stay short.  */
  if (t->tab.n * 2 > t->tab.nslots)
    {
      size_t nslots = t->tab.nslots ? t->tab.nslots * 2 : INDEX_MIN * 4;
      free (t->tab.slots);
      t->tab.slots = xmalloc0 (nslots * sizeof (*t->tab.slots));
      t->tab.nslots = nslots;
      for (size_t i = 0; i < t->tab.n; i++)
        index_put (t, i);
    }
  else
    index_put (t, t->tab.n - 1);
}

static struct toml_value *
table_lookup (const struct toml_value *t, const char *key)
{
  if (t->tab.slots != NULL)
    {
      size_t mask = t->tab.nslots - 1;
      for (size_t s = hash_key (t->tab.seed, key) & mask; t->tab.slots[s] != 0; s = (s + 1) & mask)
        if (strcmp (t->tab.keys[t->tab.slots[s] - 1], key) == 0)
          return t->tab.vals[t->tab.slots[s] - 1];
      return NULL;
    }
  for (size_t i = 0; i < t->tab.n; i++)
    if (strcmp (t->tab.keys[i], key) == 0)
      return t->tab.vals[i];
  return NULL;
}

static void
array_add (struct toml_value *a, struct toml_value *v)
{
  if (a->arr.n == a->arr.cap)
    {
      a->arr.cap = a->arr.cap ? a->arr.cap * 2 : 4;
      a->arr.items = xrealloc (a->arr.items, a->arr.cap * sizeof (*a->arr.items));
    }
  a->arr.items[a->arr.n++] = v;
}

/* Key names as a reader would write them: plugins."io.containerd.grpc.v1.cri".cni.  */
static void
quote_key (struct sbuf *b, const char *k)
{
  const char *s;
  bool bare = *k != '\0';

  for (s = k; *s && bare; s++)
    bare = is_bare ((unsigned char)*s);
  if (bare)
    {
      sbuf_add (b, k, strlen (k));
      return;
    }
  sbuf_addc (b, '"');
  for (s = k; *s; s++)
    {
      unsigned char c = (unsigned char)*s;
      if (c == '"' || c == '\\')
        {
          sbuf_addc (b, '\\');
          sbuf_addc (b, (char)c);
        }
      else if (c < 0x20 || c == 0x7F)
        {
          char esc[8];
          snprintf (esc, sizeof (esc), "\\u%04X", c);
          sbuf_add (b, esc, strlen (esc));
        }
      else
        sbuf_addc (b, (char)c);
    }
  sbuf_addc (b, '"');
}

static void
add_parts (struct sbuf *b, const struct key *k, size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      if (b->len > 0)
        sbuf_addc (b, '.');
      quote_key (b, k->part[i]);
    }
}

static void
add_ctx (struct sbuf *b, const char *section, const struct ctx *c)
{
  char idx[32];

  if (c == NULL)
    {
      sbuf_add (b, section, strlen (section));
      return;
    }
  add_ctx (b, section, c->up);
  if (c->key != NULL)
    add_parts (b, c->key, c->n);
  else
    {
      snprintf (idx, sizeof (idx), "[%zu]", c->index);
      sbuf_add (b, idx, strlen (idx));
    }
}

/* The full name of the first n parts of k, written at c.  */
static char *
ctx_path (const char *section, const struct ctx *c, const struct key *k, size_t n)
{
  cleanup_sbuf struct sbuf b = { NULL, 0, 0 };

  add_ctx (&b, section, c);
  add_parts (&b, k, n);
  return sbuf_steal (&b);
}

/* Reading the input.  */

static int
peek (const struct parser *p, size_t off)
{
  if (p->pos + off >= p->len)
    return -1;
  return (unsigned char)p->buf[p->pos + off];
}

static unsigned
column_at (struct parser *p, size_t pos)
{
  if (p->col_line_start != p->line_start || pos < p->col_pos)
    {
      p->col_line_start = p->line_start;
      p->col_pos = p->line_start;
      p->col = 1;
    }
  for (; p->col_pos < pos; p->col_pos++)
    if (((unsigned char)p->buf[p->col_pos] & 0xC0) != 0x80)
      p->col++;
  return p->col;
}

static int perr (struct parser *p, unsigned line, unsigned column, const char *fmt, ...) RUNHV_PRINTF (4, 5);

static int
perr (struct parser *p, unsigned line, unsigned column, const char *fmt, ...)
{
  cleanup_free char *msg = NULL;
  va_list ap;
  int r;

  va_start (ap, fmt);
  r = vasprintf (&msg, fmt, ap);
  va_end (ap);
  if (r < 0)
    msg = NULL;
  return runhv_error (p->err, "%s:%u:%u: %s", p->what, line, column, msg != NULL ? msg : "out of memory");
}

#define perr_here(p, ...) perr ((p), (p)->line, column_at ((p), (p)->pos), __VA_ARGS__)

/* What stands at pos, for "found ..." in messages: never a raw control
   character or line break, so messages stay one line.  */
struct desc
{
  char s[48];
};

static struct desc
describe (const struct parser *p, size_t pos)
{
  struct desc d;
  uint32_t cp = 0;
  size_t n;
  int c = pos < p->len ? (unsigned char)p->buf[pos] : -1;

  if (c < 0)
    snprintf (d.s, sizeof (d.s), "the end of the file");
  else if (c == '\n' || (c == '\r' && pos + 1 < p->len && p->buf[pos + 1] == '\n'))
    snprintf (d.s, sizeof (d.s), "the end of the line");
  else if (c == ' ')
    snprintf (d.s, sizeof (d.s), "a space");
  else if (c == '\t')
    snprintf (d.s, sizeof (d.s), "a tab");
  else if (c > 0x20 && c < 0x7F)
    snprintf (d.s, sizeof (d.s), "`%c`", c);
  else if (c < 0x80)
    snprintf (d.s, sizeof (d.s), "control character U+%04X", (unsigned)c);
  else if ((n = utf8_len ((const unsigned char *)p->buf + pos, p->len - pos, &cp)) == 0)
    snprintf (d.s, sizeof (d.s), "byte 0x%02X", (unsigned)c);
  else if (cp < 0xA0 || cp == 0x2028 || cp == 0x2029)
    snprintf (d.s, sizeof (d.s), "U+%04X", (unsigned)cp);
  else
    snprintf (d.s, sizeof (d.s), "`%.*s` (U+%04X)", (int)n, p->buf + pos, (unsigned)cp);
  return d;
}

static void
skip_ws (struct parser *p)
{
  while (p->pos < p->len && (p->buf[p->pos] == ' ' || p->buf[p->pos] == '\t'))
    p->pos++;
}

static bool
at_newline (const struct parser *p)
{
  return peek (p, 0) == '\n' || (peek (p, 0) == '\r' && peek (p, 1) == '\n');
}

/* Only called at_newline.  */
static void
newline (struct parser *p)
{
  p->pos += p->buf[p->pos] == '\r' ? 2 : 1;
  p->line++;
  p->line_start = p->pos;
}

static int
lone_cr (struct parser *p)
{
  return perr_here (p, "carriage return without a line feed (end lines with LF or CRLF)");
}

/* At a line break: 1 after consuming one (LF or CRLF), 0 when something
   else follows, -1 for a CR alone.  */
static int
line_break (struct parser *p)
{
  if (at_newline (p))
    {
      newline (p);
      return 1;
    }
  return peek (p, 0) == '\r' ? lone_cr (p) : 0;
}

static int
skip_comment (struct parser *p)
{
  p->pos++;
  while (p->pos < p->len && !at_newline (p))
    {
      unsigned char c = (unsigned char)p->buf[p->pos];
      if (c == '\r')
        return lone_cr (p);
      if ((c < 0x20 && c != '\t') || c == 0x7F)
        return perr_here (p, "control character U+%04X in a comment (remove it)", (unsigned)c);
      p->pos++;
    }
  return 0;
}

/* Inside arrays, where values may spread over lines with comments between.  */
static int
skip_ws_comments_newlines (struct parser *p)
{
  for (;;)
    {
      skip_ws (p);
      if (peek (p, 0) == '#')
        {
          if (skip_comment (p) < 0)
            return -1;
        }
      else
        {
          int r = line_break (p);
          if (r <= 0)
            return r;
        }
    }
}

static int
expect_end_of_line (struct parser *p, const char *after)
{
  skip_ws (p);
  if (peek (p, 0) == '#' && skip_comment (p) < 0)
    return -1;
  if (p->pos >= p->len)
    return 0;
  if (at_newline (p))
    {
      newline (p);
      return 0;
    }
  if (peek (p, 0) == '\r')
    return lone_cr (p);
  return perr_here (
    p, "expected the end of the line after %s, found %s (put each key = value and [table] on its own line)", after,
    describe (p, p->pos).s);
}

static int
check_depth (struct parser *p, unsigned depth, unsigned line, unsigned column)
{
  if (depth > TOML_MAX_DEPTH)
    return perr (p, line, column, "tables and arrays nest more than %d levels deep (flatten the document)",
                 TOML_MAX_DEPTH);
  return 0;
}

/* Strings.  */

static int
parse_unicode_escape (struct parser *p, struct sbuf *b, unsigned line, unsigned column)
{
  int letter = peek (p, 1);
  size_t ndigits = letter == 'u' ? 4 : 8;
  uint32_t cp = 0;

  for (size_t i = 0; i < ndigits; i++)
    {
      int d = digit_value (peek (p, 2 + i));
      if (d >= 16)
        return perr (p, line, column, "\\%c needs exactly %zu hexadecimal digits (e.g. \\%c%0*X)", letter, ndigits,
                     letter, (int)ndigits, 0xE9u);
      cp = (cp << 4) | (uint32_t)d;
    }
  if (cp == 0)
    return perr (p, line, column, "\\%c%0*X is not supported (strings cannot contain NUL characters)", letter,
                 (int)ndigits, 0u);
  if (cp >= 0xD800 && cp <= 0xDFFF)
    return perr (p, line, column, "\\%c%0*X is a UTF-16 surrogate, not a character (write the character itself)",
                 letter, (int)ndigits, (unsigned)cp);
  if (cp > 0x10FFFF)
    return perr (p, line, column, "\\%c%0*X is past U+10FFFF, the last Unicode code point", letter, (int)ndigits,
                 (unsigned)cp);
  utf8_encode (b, cp);
  p->pos += 2 + ndigits;
  return 0;
}

static int
parse_escape (struct parser *p, struct sbuf *b, bool multi)
{
  unsigned line = p->line, column = column_at (p, p->pos);
  int e = peek (p, 1);
  static const char from[] = "btnfr\"\\", to[] = "\b\t\n\f\r\"\\";
  const char *hit = e > 0 ? strchr (from, e) : NULL;
  size_t i;

  if (hit != NULL)
    {
      sbuf_addc (b, to[hit - from]);
      p->pos += 2;
      return 0;
    }
  if (e == 'u' || e == 'U')
    return parse_unicode_escape (p, b, line, column);
  if (multi && (e == ' ' || e == '\t' || e == '\n' || e == '\r'))
    {
      /* A line-ending backslash eats the line break and the blanks after it.  */
      for (i = 1; peek (p, i) == ' ' || peek (p, i) == '\t'; i++)
        ;
      if (peek (p, i) != '\n' && !(peek (p, i) == '\r' && peek (p, i + 1) == '\n'))
        return perr (p, line, column,
                     "a line-ending backslash must be the last thing on its line (remove what follows it, or write "
                     "\\\\ for a backslash)");
      p->pos += i;
      for (;;)
        {
          int r;
          if (peek (p, 0) == ' ' || peek (p, 0) == '\t')
            {
              p->pos++;
              continue;
            }
          r = line_break (p);
          if (r <= 0)
            return r;
        }
    }
  if (e > 0x20 && e < 0x7F)
    return perr (p, line, column,
                 "invalid escape `\\%c` (TOML has \\b \\t \\n \\f \\r \\\" \\\\ \\uXXXX \\UXXXXXXXX; write \\\\ for a "
                 "backslash or use a 'literal string')",
                 e);
  return perr (p, line, column, "a backslash followed by %s is not an escape (write \\\\ for a backslash)",
               describe (p, p->pos + 1).s);
}

/* Basic and literal strings, single- and multi-line.  *out never contains NUL.  */
static int
parse_string (struct parser *p, size_t max, bool is_key, char **out)
{
  unsigned line = p->line, column = column_at (p, p->pos);
  int q = peek (p, 0);
  bool literal = q == '\'';
  bool multi = peek (p, 1) == q && peek (p, 2) == q;
  const char *delim = literal ? (multi ? "'''" : "'") : (multi ? "\"\"\"" : "\"");
  cleanup_sbuf struct sbuf b = { NULL, 0, 0 };

  if (multi && is_key)
    return perr (p, line, column, "a multi-line string cannot be a key (use \"key\" or 'key')");
  p->pos += multi ? 3 : 1;
  /* A line break right after the opening delimiter is not part of the string.  */
  if (multi && at_newline (p))
    newline (p);
  for (;;)
    {
      int c = peek (p, 0);
      if (c < 0)
        return perr (p, line, column, "unterminated %s (add the closing %s)", is_key ? "quoted key" : "string", delim);
      if (c == q)
        {
          size_t n = 1;
          if (!multi)
            {
              p->pos++;
              break;
            }
          while (peek (p, n) == q)
            n++;
          if (n < 3)
            {
              sbuf_add (&b, p->buf + p->pos, n);
              p->pos += n;
              continue;
            }
          /* Up to two quotes may sit right before the closing delimiter.  */
          if (n > 5)
            return perr_here (p,
                              "%zu quotes in a row in a %s string (at most 5: two in the string, then %s; escape "
                              "the others)",
                              n, delim, delim);
          sbuf_add (&b, p->buf + p->pos, n - 3);
          p->pos += n;
          break;
        }
      if (c == '\\' && !literal)
        {
          if (parse_escape (p, &b, multi) < 0)
            return -1;
        }
      else if (c == '\n' || c == '\r')
        {
          if (!multi)
            return perr (p, line, column,
                         "unterminated %s: the line ends before the closing %s (use %s%s%s for a "
                         "multi-line string)",
                         is_key ? "quoted key" : "string", delim, delim, delim, delim);
          if (!at_newline (p))
            return lone_cr (p);
          /* TOML lets parsers normalise line breaks; callers see LF only.  */
          sbuf_addc (&b, '\n');
          newline (p);
        }
      else if ((c < 0x20 && c != '\t') || c == 0x7F)
        return perr_here (p, "control character U+%04X in a %s (%s)", (unsigned)c, is_key ? "key" : "string",
                          literal ? "use a \"basic string\" with a \\u escape" : "write it as a \\u escape");
      else
        {
          sbuf_addc (&b, (char)c);
          p->pos++;
        }
      if (b.len > max)
        return perr (p, line, column, "%s is longer than %zu bytes", is_key ? "key" : "string", max);
    }
  *out = sbuf_steal (&b);
  return 0;
}

/* Keys.  */

static int
parse_simple_key (struct parser *p, char **out)
{
  unsigned line = p->line, column = column_at (p, p->pos);
  size_t start = p->pos, len;
  int c = peek (p, 0);

  if (c == '"' || c == '\'')
    return parse_string (p, TOML_MAX_KEY, true, out);
  while (is_bare (peek (p, 0)))
    p->pos++;
  len = p->pos - start;
  if (len > TOML_MAX_KEY)
    return perr (p, line, column, "key is longer than %d bytes", TOML_MAX_KEY);
  if (len > 0)
    {
      *out = xstrndup (p->buf + start, len);
      return 0;
    }
  if (c == '=')
    return perr_here (p, "missing key before `=`");
  if (c == '.')
    return perr_here (p, "empty part in a dotted key (write a name between the dots, or \"\" for an empty key)");
  if (c == ']')
    return perr_here (p, "missing table name in the header");
  return perr_here (p, "expected a key, found %s (quote keys that have characters other than A-Z a-z 0-9 _ -)",
                    describe (p, p->pos).s);
}

static int
parse_key (struct parser *p, struct key *k)
{
  for (;;)
    {
      if (k->n == TOML_MAX_DEPTH)
        return perr_here (p, "key has more than %d dotted parts", TOML_MAX_DEPTH);
      k->line[k->n] = p->line;
      k->column[k->n] = column_at (p, p->pos);
      if (parse_simple_key (p, &k->part[k->n]) < 0)
        return -1;
      k->n++;
      skip_ws (p);
      if (peek (p, 0) != '.')
        return 0;
      p->pos++;
      skip_ws (p);
    }
}

/* Values.  */

static int parse_value (struct parser *p, unsigned depth, const struct ctx *c, struct toml_value **out);

static bool
is_number_char (int c)
{
  return is_bare (c) || c == '+' || c == '.' || c == ':';
}

/* Digits of `base` with single underscores between them; returns how many
   characters that covers (0 when s does not start with a digit).  */
static size_t
scan_digits (const char *s, size_t n, int base)
{
  size_t i;

  if (n == 0 || digit_value ((unsigned char)s[0]) >= base)
    return 0;
  for (i = 1; i < n;)
    {
      if (s[i] == '_' && i + 1 < n && digit_value ((unsigned char)s[i + 1]) < base)
        i += 2;
      else if (digit_value ((unsigned char)s[i]) < base)
        i++;
      else
        break;
    }
  return i;
}

static bool
is_digit (int c)
{
  return c >= '0' && c <= '9';
}

static int
invalid_number (struct parser *p, unsigned line, unsigned column, const char *tok, size_t n)
{
  return perr (p, line, column, "invalid number `%.*s`%s", (int)n, tok,
               memchr (tok, '_', n) != NULL ? " (underscores must stand between two digits)" : "");
}

static int
to_integer (struct parser *p, unsigned line, unsigned column, const char *tok, size_t n, size_t skip, int base,
            bool negative, int64_t *out)
{
  uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  uint64_t v = 0;

  for (size_t i = skip; i < n; i++)
    {
      uint64_t d;
      if (tok[i] == '_')
        continue;
      d = (uint64_t)digit_value ((unsigned char)tok[i]);
      if (v > (limit - d) / (uint64_t)base)
        return perr (p, line, column, "integer `%.*s` does not fit in 64 bits (the range is %lld to %lld)", (int)n, tok,
                     (long long)INT64_MIN, (long long)INT64_MAX);
      v = v * (uint64_t)base + d;
    }
  if (negative)
    *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
  else
    *out = (int64_t)v;
  return 0;
}

static int
to_float (struct parser *p, unsigned line, unsigned column, const char *tok, size_t n, double *out)
{
  cleanup_free char *clean = xmalloc0 (n + 1);
  size_t m = 0;
  char *end = NULL;
  locale_t c_locale;
  double d;

  for (size_t i = 0; i < n; i++)
    if (tok[i] != '_')
      clean[m++] = tok[i];
  /* A program that called setlocale must not read "1.5" as 1 (glibc hands
     back a static object for "C", so this costs no allocation).  */
  c_locale = newlocale (LC_ALL_MASK, "C", (locale_t)0);
  d = c_locale != (locale_t)0 ? strtod_l (clean, &end, c_locale) : strtod (clean, &end);
  if (c_locale != (locale_t)0)
    freelocale (c_locale);
  if (end != clean + m)
    return invalid_number (p, line, column, tok, n);
  /* Underflow rounds towards zero as IEEE 754 does; overflow would lose the value.  */
  if (isinf (d))
    return perr (p, line, column, "float `%.*s` is too large for a 64-bit float (write inf if you mean infinity)",
                 (int)n, tok);
  *out = d;
  return 0;
}

static int
parse_number (struct parser *p, unsigned depth, unsigned line, unsigned column, struct toml_value **out)
{
  const char *tok = p->buf + p->pos;
  size_t n = 0, i, d, j;
  bool negative, is_float = false;
  int64_t iv = 0;
  double fv = 0;

  while (p->pos + n < p->len && is_number_char ((unsigned char)tok[n]))
    n++;
  if (n > TOML_MAX_NUMBER)
    return perr (p, line, column, "number `%.16s...` is longer than %d characters", tok, TOML_MAX_NUMBER);
  if ((n >= 5 && is_digit (tok[0]) && is_digit (tok[1]) && is_digit (tok[2]) && is_digit (tok[3]) && tok[4] == '-')
      || (n >= 3 && is_digit (tok[0]) && is_digit (tok[1]) && tok[2] == ':'))
    return perr (p, line, column, "dates are not supported (quote the value to make it a string: \"%.*s\")", (int)n,
                 tok);
  negative = tok[0] == '-';
  i = (tok[0] == '+' || tok[0] == '-') ? 1 : 0;
  if (n - i == 3 && (memcmp (tok + i, "inf", 3) == 0 || memcmp (tok + i, "nan", 3) == 0))
    {
      fv = tok[i] == 'i' ? INFINITY : NAN;
      is_float = true;
      fv = negative ? -fv : fv;
    }
  else if (n - i >= 2 && tok[i] == '0' && (tok[i + 1] == 'x' || tok[i + 1] == 'o' || tok[i + 1] == 'b'))
    {
      int base = tok[i + 1] == 'x' ? 16 : tok[i + 1] == 'o' ? 8 : 2;
      if (i > 0)
        return perr (p, line, column, "`%.*s`: hexadecimal, octal and binary integers cannot have a sign", (int)n, tok);
      d = scan_digits (tok + 2, n - 2, base);
      if (d == 0 || 2 + d != n)
        return invalid_number (p, line, column, tok, n);
      if (to_integer (p, line, column, tok, n, 2, base, false, &iv) < 0)
        return -1;
    }
  else
    {
      d = scan_digits (tok + i, n - i, 10);
      if (d == 0)
        return invalid_number (p, line, column, tok, n);
      if (tok[i] == '0' && d > 1)
        return perr (p, line, column,
                     "leading zeros are not allowed in `%.*s` (drop them, write 0o for octal, or quote the value)",
                     (int)n, tok);
      j = i + d;
      if (j < n && tok[j] == '.')
        {
          d = scan_digits (tok + j + 1, n - j - 1, 10);
          if (d == 0)
            return perr (p, line, column, "invalid number `%.*s` (a digit must follow the decimal point)", (int)n, tok);
          j += 1 + d;
          is_float = true;
        }
      if (j < n && (tok[j] == 'e' || tok[j] == 'E'))
        {
          j++;
          if (j < n && (tok[j] == '+' || tok[j] == '-'))
            j++;
          d = scan_digits (tok + j, n - j, 10);
          if (d == 0)
            return invalid_number (p, line, column, tok, n);
          j += d;
          is_float = true;
        }
      if (j != n)
        return invalid_number (p, line, column, tok, n);
      if (is_float && to_float (p, line, column, tok, n, &fv) < 0)
        return -1;
      if (!is_float && to_integer (p, line, column, tok, n, i, 10, negative, &iv) < 0)
        return -1;
    }
  p->pos += n;
  *out = new_value (is_float ? TOML_FLOAT : TOML_INTEGER, line, column, depth);
  if (is_float)
    (*out)->f = fv;
  else
    (*out)->i = iv;
  return 0;
}

static int
parse_array (struct parser *p, unsigned depth, const struct ctx *c, struct toml_value **out)
{
  unsigned line = p->line, column = column_at (p, p->pos);
  cleanup_toml struct toml_value *a = new_value (TOML_ARRAY, line, column, depth);

  p->pos++;
  for (;;)
    {
      struct toml_value *v = NULL;
      struct ctx elem = { c, NULL, 0, a->arr.n };

      if (skip_ws_comments_newlines (p) < 0)
        return -1;
      if (peek (p, 0) == ']')
        break;
      if (peek (p, 0) < 0)
        return perr (p, line, column, "unterminated array (add the closing `]`)");
      if (parse_value (p, depth + 1, &elem, &v) < 0)
        return -1;
      array_add (a, v);
      if (skip_ws_comments_newlines (p) < 0)
        return -1;
      if (peek (p, 0) == ',')
        p->pos++;
      else if (peek (p, 0) == ']')
        break;
      else if (peek (p, 0) < 0)
        return perr (p, line, column, "unterminated array (add the closing `]`)");
      else
        return perr_here (p, "expected `,` or `]` after an array element, found %s", describe (p, p->pos).s);
    }
  p->pos++;
  *out = steal_ptr (&a);
  return 0;
}

static int parse_keyval (struct parser *p, struct toml_value *table, const struct ctx *c);

static int
parse_inline_table (struct parser *p, unsigned depth, const struct ctx *c, struct toml_value **out)
{
  unsigned line = p->line, column = column_at (p, p->pos);
  cleanup_toml struct toml_value *t = new_table (p, line, column, depth, 0);

  p->pos++;
  skip_ws (p);
  if (peek (p, 0) == '}')
    {
      p->pos++;
      t->flags = T_INLINE;
      *out = steal_ptr (&t);
      return 0;
    }
  for (;;)
    {
      if (at_newline (p) || peek (p, 0) == '\r' || peek (p, 0) == '#')
        return perr_here (p, "an inline table must be on one line (use a [table] section for longer tables)");
      if (peek (p, 0) < 0)
        return perr (p, line, column, "unterminated inline table (add the closing `}`)");
      if (parse_keyval (p, t, c) < 0)
        return -1;
      skip_ws (p);
      if (peek (p, 0) == '}')
        break;
      if (peek (p, 0) != ',')
        {
          if (at_newline (p) || peek (p, 0) == '\r' || peek (p, 0) == '#')
            return perr_here (p, "an inline table must be on one line (use a [table] section for longer tables)");
          if (peek (p, 0) < 0)
            return perr (p, line, column, "unterminated inline table (add the closing `}`)");
          return perr_here (p, "expected `,` or `}` after a key = value in an inline table, found %s",
                            describe (p, p->pos).s);
        }
      p->pos++;
      skip_ws (p);
      if (peek (p, 0) == '}')
        return perr_here (p, "trailing comma in an inline table (TOML 1.0 does not allow it; remove the comma)");
    }
  p->pos++;
  t->flags = T_INLINE;
  *out = steal_ptr (&t);
  return 0;
}

static int
parse_bare_word (struct parser *p, unsigned depth, unsigned line, unsigned column, struct toml_value **out)
{
  const char *w = p->buf + p->pos;
  size_t n = 0;

  while (p->pos + n < p->len && is_bare ((unsigned char)w[n]))
    n++;
  if ((n == 4 && memcmp (w, "true", 4) == 0) || (n == 5 && memcmp (w, "false", 5) == 0))
    {
      *out = new_value (TOML_BOOL, line, column, depth);
      (*out)->b = n == 4;
    }
  else if (n == 3 && (memcmp (w, "inf", 3) == 0 || memcmp (w, "nan", 3) == 0))
    {
      *out = new_value (TOML_FLOAT, line, column, depth);
      (*out)->f = w[0] == 'i' ? INFINITY : NAN;
    }
  else if (n > 40)
    return perr (p, line, column, "invalid value `%.40s...` (quote strings: \"...\")", w);
  else
    return perr (p, line, column, "invalid value `%.*s` (quote strings: \"%.*s\"; booleans are true and false)", (int)n,
                 w, (int)n, w);
  p->pos += n;
  return 0;
}

/* depth is the depth of the value itself (the root table is 0); the bound
   also bounds this recursion.  */
static int
parse_value (struct parser *p, unsigned depth, const struct ctx *c, struct toml_value **out)
{
  unsigned line = p->line, column = column_at (p, p->pos);
  int ch = peek (p, 0);

  *out = NULL;
  if (ch == '"' || ch == '\'')
    {
      char *s = NULL;
      if (parse_string (p, TOML_MAX_STRING, false, &s) < 0)
        return -1;
      *out = new_value (TOML_STRING, line, column, depth);
      (*out)->s = s;
      return 0;
    }
  if (ch == '[' || ch == '{')
    {
      if (check_depth (p, depth, line, column) < 0)
        return -1;
      return ch == '[' ? parse_array (p, depth, c, out) : parse_inline_table (p, depth, c, out);
    }
  if (is_digit (ch) || ch == '+' || ch == '-')
    return parse_number (p, depth, line, column, out);
  if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'))
    return parse_bare_word (p, depth, line, column, out);
  return perr_here (p, "expected a value, found %s", describe (p, p->pos).s);
}

/* key = value, into `table`, which c names.  */
static int
parse_keyval (struct parser *p, struct toml_value *table, const struct ctx *c)
{
  cleanup_key struct key k = { .n = 0 };
  struct ctx here = { c, &k, 0, 0 };
  cleanup_free char *path = NULL;
  cleanup_toml struct toml_value *v = NULL;
  struct toml_value *t = table, *old;
  size_t i;

  if (parse_key (p, &k) < 0)
    return -1;
  if (peek (p, 0) != '=')
    {
      path = ctx_path ("", NULL, &k, k.n);
      return perr_here (p, "expected `=` after the key `%s`, found %s (quote keys that contain spaces)", path,
                        describe (p, p->pos).s);
    }
  p->pos++;
  for (i = 0; i + 1 < k.n; i++)
    {
      struct toml_value *sub = table_lookup (t, k.part[i]);
      if (sub == NULL)
        {
          if (check_depth (p, t->depth + 1, k.line[i], k.column[i]) < 0)
            return -1;
          sub = new_table (p, k.line[i], k.column[i], t->depth + 1, T_DOTTED);
          table_add (t, xstrdup (k.part[i]), sub);
        }
      else if (sub->type != TOML_TABLE || !(sub->flags & T_DOTTED))
        {
          /* Dotted keys may only extend tables that dotted keys made (toml-lang/toml#846).  */
          path = ctx_path (p->cur_path, c, &k, i + 1);
          if (sub->type == TOML_TABLE && (sub->flags & T_INLINE))
            return perr (p, k.line[i], k.column[i],
                         "`%s` is an inline table (line %u) and cannot be extended (add the key inside its braces)",
                         path, sub->line);
          if (sub->type == TOML_TABLE && (sub->flags & T_IMPLICIT))
            return perr (p, k.line[i], k.column[i],
                         "cannot add keys to table [%s] with dotted keys: a header at line %u made it (write a [%s] "
                         "section for its keys)",
                         path, sub->line, path);
          if (sub->type == TOML_TABLE)
            return perr (p, k.line[i], k.column[i],
                         "cannot add keys to table [%s] with dotted keys from here (it has its own section at line "
                         "%u; set the key there)",
                         path, sub->line);
          return perr (p, k.line[i], k.column[i], "`%s` is already %s (line %u), so it cannot also be a table", path,
                       type_name (sub), sub->line);
        }
      t = sub;
    }
  old = table_lookup (t, k.part[k.n - 1]);
  if (old != NULL)
    path = ctx_path (p->cur_path, c, &k, k.n);
  if (old != NULL && old->type == TOML_TABLE && !(old->flags & T_INLINE))
    return perr (p, k.line[i], k.column[i],
                 "key `%s` is already defined as a table (line %u); a key is either a table or a value", path,
                 old->line);
  if (old != NULL)
    return perr (p, k.line[i], k.column[i], "duplicate key `%s` (first set at line %u; each key may be set once)", path,
                 old->line);
  skip_ws (p);
  if (at_newline (p) || peek (p, 0) < 0 || peek (p, 0) == '#')
    {
      path = ctx_path (p->cur_path, c, &k, k.n);
      return perr_here (p, "missing value after `%s =`", path);
    }
  here.n = k.n;
  if (parse_value (p, t->depth + 1, &here, &v) < 0)
    return -1;
  table_add (t, steal_ptr (&k.part[k.n - 1]), steal_ptr (&v));
  return 0;
}

/* Why a [header] or [[header]] cannot pass through or define `v`.  */
static int
header_conflict (struct parser *p, const struct key *k, size_t i, const struct toml_value *v, bool aot)
{
  cleanup_free char *path = ctx_path ("", NULL, k, i + 1);
  cleanup_free char *full = ctx_path ("", NULL, k, k->n);
  const char *o = aot ? "[[" : "[", *c = aot ? "]]" : "]";
  bool last = i + 1 == k->n;

  if (v->type == TOML_TABLE && (v->flags & T_INLINE))
    return perr (
      p, k->line[i], k->column[i],
      "`%s` is an inline table (line %u) and cannot be extended by %s%s%s (write its keys inside the braces, "
      "or make it a [%s] section)",
      path, v->line, o, full, c, path);
  if (v->type == TOML_ARRAY && !(v->flags & A_TABLES))
    return perr (p, k->line[i], k->column[i],
                 "`%s` is an array (line %u), not an array of tables, so %s%s%s cannot add to it (use [[%s]] for "
                 "every element instead)",
                 path, v->line, o, full, c, path);
  if (v->type == TOML_ARRAY)
    return perr (p, k->line[i], k->column[i], "[%s] names an array of tables (line %u); write [[%s]] to add an element",
                 full, v->line, full);
  if (v->type == TOML_TABLE && last && aot)
    return perr (p, k->line[i], k->column[i], "[[%s]] cannot append to `%s`, which is a table (line %u)", full, path,
                 v->line);
  if (v->type == TOML_TABLE && (v->flags & T_DOTTED))
    return perr (p, k->line[i], k->column[i],
                 "table [%s] was already created by dotted keys at line %u (set its keys there instead of in a new "
                 "section)",
                 full, v->line);
  if (v->type == TOML_TABLE)
    return perr (p, k->line[i], k->column[i], "table [%s] is defined twice (first at line %u; merge the two sections)",
                 full, v->line);
  return perr (p, k->line[i], k->column[i], "`%s` is already %s (line %u), so it cannot also be a table", path,
               type_name (v), v->line);
}

static int
parse_header (struct parser *p)
{
  unsigned line = p->line, column = column_at (p, p->pos);
  cleanup_key struct key k = { .n = 0 };
  cleanup_free char *path = NULL;
  struct toml_value *t = p->root, *v;
  bool aot;
  size_t i;

  p->pos++;
  aot = peek (p, 0) == '[';
  if (aot)
    p->pos++;
  skip_ws (p);
  if (parse_key (p, &k) < 0)
    return -1;
  if (peek (p, 0) != ']' || (aot && peek (p, 1) != ']'))
    {
      /* For "[[a]" the first `]` is fine: point at what replaced the second.  */
      size_t at = peek (p, 0) == ']' ? p->pos + 1 : p->pos;
      return perr (p, p->line, column_at (p, at), "expected `%s` to close the %s header, found %s", aot ? "]]" : "]",
                   aot ? "[[array of tables]]" : "[table]", describe (p, at).s);
    }
  p->pos += aot ? 2 : 1;
  path = ctx_path ("", NULL, &k, k.n);

  for (i = 0; i + 1 < k.n; i++)
    {
      v = table_lookup (t, k.part[i]);
      if (v == NULL)
        {
          if (check_depth (p, t->depth + 1, k.line[i], k.column[i]) < 0)
            return -1;
          v = new_table (p, k.line[i], k.column[i], t->depth + 1, T_IMPLICIT);
          table_add (t, xstrdup (k.part[i]), v);
        }
      else if (v->type == TOML_ARRAY && (v->flags & A_TABLES))
        v = v->arr.items[v->arr.n - 1];
      else if (v->type != TOML_TABLE || (v->flags & T_INLINE))
        return header_conflict (p, &k, i, v, aot);
      t = v;
    }

  v = table_lookup (t, k.part[i]);
  if (!aot)
    {
      if (v == NULL)
        {
          if (check_depth (p, t->depth + 1, k.line[i], k.column[i]) < 0)
            return -1;
          v = new_table (p, line, column, t->depth + 1, 0);
          table_add (t, xstrdup (k.part[i]), v);
        }
      else if (v->type == TOML_TABLE && v->flags == T_IMPLICIT)
        {
          v->flags = 0;
          v->line = line;
          v->column = column;
        }
      else
        return header_conflict (p, &k, i, v, aot);
    }
  else
    {
      struct toml_value *elem;
      if (v == NULL)
        {
          if (check_depth (p, t->depth + 2, k.line[i], k.column[i]) < 0)
            return -1;
          v = new_value (TOML_ARRAY, line, column, t->depth + 1);
          v->flags = A_TABLES;
          table_add (t, xstrdup (k.part[i]), v);
        }
      else if (v->type != TOML_ARRAY || !(v->flags & A_TABLES))
        return header_conflict (p, &k, i, v, aot);
      elem = new_table (p, line, column, v->depth + 1, 0);
      array_add (v, elem);
      v = elem;
    }
  free (p->cur_path);
  p->cur_path = steal_ptr (&path);
  p->cur = v;
  return 0;
}

static int
check_utf8 (struct parser *p)
{
  const unsigned char *s = (const unsigned char *)p->buf;
  unsigned line = 1;
  size_t line_start = 0, i = 0;

  while (i < p->len)
    {
      uint32_t cp;
      size_t n = s[i] < 0x80 ? 1 : utf8_len (s + i, p->len - i, &cp);
      if (n == 0)
        {
          p->line = line;
          p->line_start = line_start;
          return perr (p, line, column_at (p, i), "invalid UTF-8 (byte 0x%02X; TOML files must be UTF-8)", s[i]);
        }
      if (s[i] == '\n')
        {
          line++;
          line_start = i + 1;
        }
      i += n;
    }
  return 0;
}

static int
parse_document (struct parser *p)
{
  while (p->pos < p->len)
    {
      int c;
      skip_ws (p);
      c = peek (p, 0);
      if (c == '#')
        {
          if (skip_comment (p) < 0)
            return -1;
        }
      else if (c == '[')
        {
          if (parse_header (p) < 0)
            return -1;
          if (expect_end_of_line (p, "the table header") < 0)
            return -1;
          continue;
        }
      else if (c >= 0 && c != '\n' && c != '\r')
        {
          if (parse_keyval (p, p->cur, NULL) < 0)
            return -1;
          if (expect_end_of_line (p, "the value") < 0)
            return -1;
          continue;
        }
      if (expect_end_of_line (p, "the comment") < 0)
        return -1;
    }
  return 0;
}

int
toml_parse (const char *buf, size_t len, const char *what, struct toml_value **out, runhv_error_t *err)
{
  struct parser p = { 0 };
  int r;

  *out = NULL;
  if (what == NULL)
    what = "TOML";
  if (buf == NULL && len > 0)
    return runhv_error (err, "%s: no input buffer", what);
  if (len > TOML_MAX_INPUT)
    return runhv_error (err, "%s: %zu bytes is more than the %u-byte limit for a TOML file (is it the right file?)",
                        what, len, TOML_MAX_INPUT);
  p.buf = buf;
  p.len = len;
  p.line = 1;
  p.col = 1;
  p.what = what;
  p.err = err;
  if (getrandom (&p.seed, sizeof (p.seed), GRND_NONBLOCK) != (ssize_t)sizeof (p.seed))
    p.seed = (uint64_t)(uintptr_t)&p;
  if (check_utf8 (&p) < 0)
    return -1;
  /* Editors on Windows may start the file with a byte order mark.  */
  if (len >= 3 && memcmp (buf, "\xEF\xBB\xBF", 3) == 0)
    p.pos = p.line_start = p.col_line_start = p.col_pos = 3;
  p.root = new_table (&p, 1, 1, 0, 0);
  p.cur = p.root;
  p.cur_path = xstrdup ("");
  r = parse_document (&p);
  free (p.cur_path);
  if (r < 0)
    {
      toml_free (p.root);
      return -1;
    }
  *out = p.root;
  return 0;
}

/* Access.  */

enum toml_type
toml_type_of (const struct toml_value *v)
{
  if (v == NULL)
    return (enum toml_type) (-1);
  return v->type;
}

bool
toml_is (const struct toml_value *v, enum toml_type type)
{
  return v != NULL && v->type == type;
}

const struct toml_value *
toml_table_get (const struct toml_value *table, const char *key)
{
  if (!toml_is (table, TOML_TABLE) || key == NULL)
    return NULL;
  return table_lookup (table, key);
}

const struct toml_value *
toml_get_path (const struct toml_value *root, const char *const *keys)
{
  const struct toml_value *v = root;

  for (size_t i = 0; keys != NULL && keys[i] != NULL && v != NULL; i++)
    v = toml_table_get (v, keys[i]);
  return v;
}

size_t
toml_table_size (const struct toml_value *table)
{
  return toml_is (table, TOML_TABLE) ? table->tab.n : 0;
}

const char *
toml_table_key_at (const struct toml_value *table, size_t i)
{
  if (!toml_is (table, TOML_TABLE) || i >= table->tab.n)
    return NULL;
  return table->tab.keys[i];
}

const struct toml_value *
toml_table_value_at (const struct toml_value *table, size_t i)
{
  if (!toml_is (table, TOML_TABLE) || i >= table->tab.n)
    return NULL;
  return table->tab.vals[i];
}

size_t
toml_array_size (const struct toml_value *arr)
{
  return toml_is (arr, TOML_ARRAY) ? arr->arr.n : 0;
}

const struct toml_value *
toml_array_at (const struct toml_value *arr, size_t i)
{
  if (!toml_is (arr, TOML_ARRAY) || i >= arr->arr.n)
    return NULL;
  return arr->arr.items[i];
}

const char *
toml_string (const struct toml_value *v)
{
  return toml_is (v, TOML_STRING) ? v->s : NULL;
}

int
toml_integer (const struct toml_value *v, int64_t *out)
{
  return toml_is (v, TOML_INTEGER) ? (*out = v->i, 0) : -1;
}

int
toml_bool (const struct toml_value *v, bool *out)
{
  return toml_is (v, TOML_BOOL) ? (*out = v->b, 0) : -1;
}

int
toml_float (const struct toml_value *v, double *out)
{
  return toml_is (v, TOML_FLOAT) ? (*out = v->f, 0) : -1;
}

unsigned
toml_line (const struct toml_value *v)
{
  return v != NULL ? v->line : 0;
}

unsigned
toml_column (const struct toml_value *v)
{
  return v != NULL ? v->column : 0;
}

#include "core/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/banned.h"

static char *vformat (const char *fmt, va_list ap) RUNHV_PRINTF (1, 0);

static char *
vformat (const char *fmt, va_list ap)
{
  char *s = NULL;
  if (vasprintf (&s, fmt, ap) < 0)
    return NULL;
  return s;
}

/* Errors are one line, whatever they quote (a key from config.json, a
   name from a guest): control characters are shown escaped.  */
static char *
one_line (char *msg)
{
  size_t n = 0, extra = 0;
  char *r, *o;
  if (msg == NULL)
    return NULL;
  for (const unsigned char *p = (const unsigned char *)msg; *p; p++, n++)
    if (*p < 0x20 || *p == 0x7f)
      extra += 3;
  if (extra == 0)
    return msg;
  r = malloc (n + extra + 1);
  if (r == NULL)
    return msg;
  o = r;
  for (const unsigned char *p = (const unsigned char *)msg; *p; p++)
    {
      if (*p < 0x20 || *p == 0x7f)
        {
          static const char hex[] = "0123456789abcdef";
          *o++ = '\\';
          *o++ = 'x';
          *o++ = hex[*p >> 4];
          *o++ = hex[*p & 15];
        }
      else
        *o++ = (char)*p;
    }
  *o = '\0';
  free (msg);
  return r;
}

static int
set_error (runhv_error_t *err, int status, char *msg)
{
  msg = one_line (msg);
  if (err == NULL)
    {
      free (msg);
      return -1;
    }
  if (*err != NULL)
    runhv_error_release (err);
  *err = calloc (1, sizeof (**err));
  if (*err == NULL)
    {
      free (msg);
      return -1;
    }
  (*err)->status = status;
  (*err)->msg = msg != NULL ? msg : strdup ("out of memory");
  return -1;
}

int
runhv_make_error (runhv_error_t *err, int status, const char *fmt, ...)
{
  va_list ap;
  char *base, *msg = NULL;

  va_start (ap, fmt);
  base = vformat (fmt, ap);
  va_end (ap);
  if (base != NULL && status != 0)
    {
      if (asprintf (&msg, "%s: %s", base, strerror (status)) < 0)
        msg = NULL;
      free (base);
    }
  else
    msg = base;
  return set_error (err, status, msg);
}

int
runhv_error (runhv_error_t *err, const char *fmt, ...)
{
  va_list ap;
  char *msg;

  va_start (ap, fmt);
  msg = vformat (fmt, ap);
  va_end (ap);
  return set_error (err, EINVAL, msg);
}

int
runhv_error_wrap (runhv_error_t *err, const char *fmt, ...)
{
  va_list ap;
  char *ctx, *msg = NULL;

  if (err == NULL || *err == NULL)
    return -1;
  va_start (ap, fmt);
  ctx = vformat (fmt, ap);
  va_end (ap);
  if (ctx == NULL)
    return -1;
  if (asprintf (&msg, "%s: %s", ctx, (*err)->msg) >= 0)
    {
      free ((*err)->msg);
      (*err)->msg = one_line (msg);
    }
  free (ctx);
  return -1;
}

void
runhv_error_release (runhv_error_t *err)
{
  if (err == NULL || *err == NULL)
    return;
  free ((*err)->msg);
  free (*err);
  *err = NULL;
}

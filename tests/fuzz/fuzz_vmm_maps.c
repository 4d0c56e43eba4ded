/* libFuzzer entry for the reading of QEMU's /proc/PID/maps (vmm-maps.c),
   whose paths QEMU chooses.  Each line of the input goes through the
   parser, newline and all; a line it takes must end in the jail's kernel or
   initramfs path, whole, or be a private read-only mapping of a file (not
   a device's or a memfd's) with a non-zero inode, and give a range that is
   not empty.

   clang -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc/lib \
     tests/fuzz/fuzz_vmm_maps.c src/lib/uvm/vmm-maps.c -o fuzz_vmm_maps
   ./fuzz_vmm_maps tests/fuzz/corpus/vmm_maps  */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "uvm/vmm.h"
#include "uvm/jail.h"
#include "core/banned.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static bool
is_space (char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* A hex number read digit by digit (at most 16: no overflow).  */
static bool
hex_number (const char *s, size_t len, unsigned long *out)
{
  unsigned long v = 0;
  if (len == 0 || len > 16)
    return false;
  for (size_t i = 0; i < len; i++)
    {
      const char *d = strchr ("0123456789abcdef", s[i]);
      if (s[i] == '\0' || d == NULL)
        return false;
      v = v * 16 + (unsigned long)(d - "0123456789abcdef");
    }
  *out = v;
  return true;
}

/* What a taken line must be, found without the parser's code: the line
   ends (before at most one newline) in a path after a space; its first
   field is lo-hi in lower-case hex, the very numbers the parser gave;
   and the path is the jail's kernel or initramfs, or a path that is not a
   device's or a memfd's in a line whose second field is ?-?p and whose
   fifth (the inode) is decimal digits, not all 0.  */
static bool
may_be_taken (const char *line, unsigned long lo, unsigned long hi)
{
  size_t len = strlen (line);
  const char *path, *f = line, *dash;
  const char *field[5];
  size_t field_len[5];
  unsigned long a, b;
  if (len > 0 && line[len - 1] == '\n')
    len--;
  if (memchr (line, '\n', len) != NULL)
    return false;
  path = line + len;
  while (path > line && path[-1] != ' ')
    path--;
  if (path == line || path == line + len)
    return false;
  for (const char *c = path; c < line + len; c++)
    if (is_space (*c))
      return false;
  /* the first five white-space separated fields, as start and length */
  for (int i = 0; i < 5; i++)
    {
      while (is_space (*f))
        f++;
      field[i] = f;
      while (*f != '\0' && !is_space (*f))
        f++;
      field_len[i] = (size_t)(f - field[i]);
    }
  if (field[0] != line)
    return false;
  dash = memchr (field[0], '-', field_len[0]);
  if (dash == NULL || !hex_number (field[0], (size_t)(dash - field[0]), &a)
      || !hex_number (dash + 1, field_len[0] - (size_t)(dash + 1 - field[0]), &b) || a != lo || b != hi || b <= a)
    return false;
  if ((size_t)(line + len - path) == strlen (UVM_JAIL_KERNEL)
      && strncmp (path, UVM_JAIL_KERNEL, strlen (UVM_JAIL_KERNEL)) == 0)
    return true;
  if ((size_t)(line + len - path) == strlen (UVM_JAIL_INITRD)
      && strncmp (path, UVM_JAIL_INITRD, strlen (UVM_JAIL_INITRD)) == 0)
    return true;
  if (*path != '/' || strncmp (path, "/dev/", 5) == 0 || strncmp (path, "/memfd:", 7) == 0)
    return false;
  if (field_len[1] != 4 || field[1][1] != '-' || field[1][3] != 'p')
    return false;
  if (field_len[4] == 0 || strspn (field[4], "0123456789") < field_len[4] || strspn (field[4], "0") >= field_len[4])
    return false;
  return true;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *text = malloc (size + 1);
  char *line;
  if (text == NULL)
    return 0;
  memcpy (text, data, size);
  text[size] = '\0';
  /* Each line keeps its newline, as getline() gives it to the parser.  */
  line = text;
  while (*line != '\0')
    {
      char *end = strchr (line, '\n');
      char saved;
      unsigned long lo = 0, hi = 0;
      end = end != NULL ? end + 1 : line + strlen (line);
      saved = *end;
      *end = '\0';
      if (uvm_vmm_startup_mapping (line, &lo, &hi) && !may_be_taken (line, lo, hi))
        abort ();
      *end = saved;
      line = end;
    }
  free (text);
  return 0;
}

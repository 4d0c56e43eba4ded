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

/* What a taken line must be, found without the parser's sscanf: its last
   field, after a space, with at most a newline after it, is the jail's
   kernel or initramfs; or it is a path that is not a device's or a
   memfd's, and the second field reads r?-?p / -?-?p with the fifth (the
   inode) a number other than 0.  */
static bool
may_be_taken (const char *line)
{
  size_t len = strlen (line);
  const char *path, *f = line;
  const char *field[5];
  size_t field_len[5];
  if (len > 0 && line[len - 1] == '\n')
    len--;
  path = line + len;
  while (path > line && path[-1] != ' ')
    path--;
  if (path == line || path == line + len)
    return false;
  for (const char *c = path; c < line + len; c++)
    if (is_space (*c))
      return false;
  if ((size_t)(line + len - path) == strlen (UVM_JAIL_KERNEL)
      && strncmp (path, UVM_JAIL_KERNEL, strlen (UVM_JAIL_KERNEL)) == 0)
    return true;
  if ((size_t)(line + len - path) == strlen (UVM_JAIL_INITRD)
      && strncmp (path, UVM_JAIL_INITRD, strlen (UVM_JAIL_INITRD)) == 0)
    return true;
  if (*path != '/' || strncmp (path, "/dev/", 5) == 0 || strncmp (path, "/memfd:", 7) == 0)
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
  if (field_len[1] != 4 || field[1][1] != '-' || field[1][3] != 'p')
    return false;
  if (field_len[4] == 0 || strspn (field[4], "0") >= field_len[4])
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
      if (uvm_vmm_startup_mapping (line, &lo, &hi) && (hi <= lo || !may_be_taken (line)))
        abort ();
      *end = saved;
      line = end;
    }
  free (text);
  return 0;
}

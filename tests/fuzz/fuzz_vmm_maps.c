/* libFuzzer entry for the reading of QEMU's /proc/PID/maps (vmm-maps.c),
   whose paths QEMU chooses.  Each line of the input goes through the
   parser, newline and all; a line it takes must end in the jail's kernel or
   initramfs path, whole, and give a range that is not empty.

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

/* What a taken line must be: its last field is the jail's kernel or
   initramfs, whole, after a space, with at most a newline after it.  */
static bool
names_a_boot_image (const char *line)
{
  size_t len = strlen (line);
  if (len > 0 && line[len - 1] == '\n')
    len--;
  for (size_t i = 0; i < 2; i++)
    {
      const char *path = i == 0 ? " " UVM_JAIL_KERNEL : " " UVM_JAIL_INITRD;
      size_t plen = strlen (path);
      if (len >= plen && strncmp (line + len - plen, path, plen) == 0)
        return true;
    }
  return false;
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
      if (uvm_vmm_boot_image_mapping (line, &lo, &hi) && (hi <= lo || !names_a_boot_image (line)))
        abort ();
      *end = saved;
      line = end;
    }
  free (text);
  return 0;
}

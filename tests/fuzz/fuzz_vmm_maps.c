/* libFuzzer entry for the reading of QEMU's /proc/PID/maps (vmm-maps.c),
   whose paths QEMU chooses.  Each line of the input goes through the
   parser; a line it takes must name the jail's kernel or initramfs and give
   a range that is not empty.

   clang -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc/lib \
     tests/fuzz/fuzz_vmm_maps.c src/lib/uvm/vmm-maps.c -o fuzz_vmm_maps
   ./fuzz_vmm_maps tests/fuzz/corpus/vmm_maps  */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "uvm/vmm.h"
#include "uvm/jail.h"
#include "core/banned.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *text = malloc (size + 1);
  char *line;
  if (text == NULL)
    return 0;
  memcpy (text, data, size);
  text[size] = '\0';
  line = text;
  while (line != NULL)
    {
      char *next = strchr (line, '\n');
      unsigned long lo = 0, hi = 0;
      if (next != NULL)
        *next++ = '\0';
      if (uvm_vmm_boot_image_mapping (line, &lo, &hi)
          && (hi <= lo || (strstr (line, UVM_JAIL_KERNEL) == NULL && strstr (line, UVM_JAIL_INITRD) == NULL)))
        abort ();
      line = next;
    }
  free (text);
  return 0;
}

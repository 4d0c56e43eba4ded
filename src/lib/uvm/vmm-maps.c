/* Reading QEMU's /proc/PID/maps for the boot images it keeps mapped
   (vmm.c).  The kernel formats the lines, but the path at the end of each
   is whatever QEMU mapped: hostile input, hence a file of its own that the
   fuzz target links without the rest of the VMM code.  */
#include <stdio.h>
#include <string.h>

#include "uvm/vmm.h"
#include "uvm/jail.h"
#include "core/banned.h"

bool
uvm_vmm_boot_image_mapping (const char *line, unsigned long *lo, unsigned long *hi)
{
  unsigned long a, b;
  char name[64];
  int end = 0;
  /* "lo-hi perms offset dev inode path": the path must be the jail's
     kernel or initramfs exactly, and nothing may follow it ("/kernel x" is
     another file).  */
  if (sscanf (line, "%lx-%lx %*s %*s %*s %*s %63s%n", &a, &b, name, &end) != 3 || b <= a)
    return false;
  if (line[end] != '\0' && line[end] != '\n')
    return false;
  /* The kernel pads with spaces; other white space is part of a path.  */
  if ((size_t)end <= strlen (name) || line[(size_t)end - strlen (name) - 1] != ' ')
    return false;
  if (strcmp (name, UVM_JAIL_KERNEL) != 0 && strcmp (name, UVM_JAIL_INITRD) != 0)
    return false;
  *lo = a;
  *hi = b;
  return true;
}

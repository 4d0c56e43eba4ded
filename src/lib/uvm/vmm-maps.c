/* Reading QEMU's /proc/PID/maps for what it needed only to start: the
   boot images it keeps mapped and its own start-up code (vmm.c).  The
   kernel formats the lines, but the path at the end of each is whatever
   QEMU mapped: hostile input, hence a file of its own that the fuzz target
   links without the rest of the VMM code.  */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uvm/vmm.h"
#include "uvm/jail.h"
#include "core/banned.h"

bool
uvm_vmm_startup_mapping (const char *line, unsigned long *lo, unsigned long *hi)
{
  unsigned long a, b, inode;
  char perms[8], name[256];
  int end = 0;
  const char *rest;
  char *stop;
  /* "lo-hi perms offset dev inode path", the range one token of hex
     digits as the kernel writes it; nothing may follow the path
     ("/kernel x" is another file, "/vmm (deleted)" a replaced one), and a
     path too long for name leaves text after it.  */
  if (!isxdigit ((unsigned char)line[0]))
    return false;
  a = strtoul (line, &stop, 16);
  if (*stop != '-' || !isxdigit ((unsigned char)stop[1]))
    return false;
  b = strtoul (stop + 1, &stop, 16);
  if (*stop != ' ' || b <= a)
    return false;
  rest = stop;
  if (sscanf (rest, " %7s %*s %*s %lu %255s%n", perms, &inode, name, &end) != 3)
    return false;
  end += (int)(rest - line);
  if (line[end] != '\0' && line[end] != '\n')
    return false;
  /* The kernel pads with spaces; other white space is part of a path.  */
  if ((size_t)end <= strlen (name) || line[(size_t)end - strlen (name) - 1] != ' ')
    return false;
  /* The jail's kernel and initramfs, which QEMU maps writable.  */
  if (strcmp (name, UVM_JAIL_KERNEL) == 0 || strcmp (name, UVM_JAIL_INITRD) == 0)
    {
      *lo = a;
      *hi = b;
      return true;
    }
  /* QEMU's code and read-only data and its libraries': private, never
     written, backed by a file.  Not a device's or a memfd's (shared memory,
     guest RAM among it), nor anything anonymous.  */
  if (strlen (perms) != 4 || perms[1] != '-' || perms[3] != 'p' || inode == 0 || name[0] != '/'
      || strncmp (name, "/dev/", 5) == 0 || strncmp (name, "/memfd:", 7) == 0)
    return false;
  *lo = a;
  *hi = b;
  return true;
}

/* Reading QEMU's /proc/PID/maps for what it needed only to start: the
   boot images it keeps mapped and its own start-up code (vmm.c).  The
   kernel formats the lines, but the path at the end of each is whatever
   QEMU mapped: hostile input, hence a file of its own that the fuzz target
   links without the rest of the VMM code.  */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uvm/vmm.h"
#include "uvm/jail.h"
#include "core/banned.h"

static const char hex_digits[] = "0123456789abcdef";

/* A hex number of the kernel's writing: only lower-case hex digits, up to
   stop, and in range.  */
static bool
hex_field (const char *text, char stop, unsigned long *out)
{
  size_t len = strspn (text, hex_digits);
  char *end;
  if (len == 0 || len > 16 || text[len] != stop)
    return false;
  errno = 0;
  *out = strtoul (text, &end, 16);
  return errno == 0 && end == text + len;
}

bool
uvm_vmm_startup_mapping (const char *line, unsigned long *lo, unsigned long *hi)
{
  unsigned long a, b;
  char perms[8], name[256];
  int inode_at = 0, inode_end = 0, end = 0;
  size_t inode_len;
  const char *rest;
  /* "lo-hi perms offset dev inode path" with the range and the inode as
     the kernel writes them; nothing may follow the path ("/kernel x" is
     another file, "/vmm (deleted)" a replaced one) but the line's end, and
     a path too long for name leaves text after it.  */
  if (!hex_field (line, '-', &a))
    return false;
  rest = line + strspn (line, hex_digits) + 1;
  if (!hex_field (rest, ' ', &b) || b <= a)
    return false;
  rest += strspn (rest, hex_digits);
  if (sscanf (rest, " %7s %*s %*s %n%*s%n %255s%n", perms, &inode_at, &inode_end, name, &end) != 2)
    return false;
  if (rest[end] != '\0' && !(rest[end] == '\n' && rest[end + 1] == '\0'))
    return false;
  /* The kernel pads with spaces; other white space is part of a path.  */
  if ((size_t)end <= strlen (name) || rest[(size_t)end - strlen (name) - 1] != ' ')
    return false;
  /* The jail's kernel and initramfs, which QEMU maps writable.  */
  if (strcmp (name, UVM_JAIL_KERNEL) == 0 || strcmp (name, UVM_JAIL_INITRD) == 0)
    {
      *lo = a;
      *hi = b;
      return true;
    }
  /* QEMU's code and read-only data and its libraries': private, not
     writable, backed by a file (a decimal inode other than 0).  Not a
     device's or a memfd's (shared memory, guest RAM among it).  */
  inode_len = (size_t)(inode_end - inode_at);
  if (strlen (perms) != 4 || perms[1] != '-' || perms[3] != 'p' || inode_len == 0
      || strspn (rest + inode_at, "0123456789") != inode_len || strspn (rest + inode_at, "0") == inode_len
      || name[0] != '/' || strncmp (name, "/dev/", 5) == 0 || strncmp (name, "/memfd:", 7) == 0)
    return false;
  *lo = a;
  *hi = b;
  return true;
}

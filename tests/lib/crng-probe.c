/* A container's first instruction asks the kernel for random bytes without
   waiting: prints "crng ready" when the guest's crng was seeded before the
   container started, "crng not ready: ..." otherwise.  Built static by the
   test that copies it into a VM container's rootfs.  */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

int
main (void)
{
  unsigned char buf[32];
  ssize_t n = getrandom (buf, sizeof (buf), GRND_NONBLOCK);
  if (n == (ssize_t)sizeof (buf))
    {
      puts ("crng ready");
      return 0;
    }
  printf ("crng not ready: %s\n", n < 0 ? strerror (errno) : "short read");
  return 1;
}

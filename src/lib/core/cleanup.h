/* Cleanup attributes own locals; hand-offs are explicit with steal_*().  */
#ifndef RUNHV_CLEANUP_H
#define RUNHV_CLEANUP_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void
cleanup_freep (void *p)
{
  void **pp = (void **)p;
  free (*pp);
}

static inline void
cleanup_closep (int *fd)
{
  if (*fd >= 0)
    {
      int saved = errno;
      close (*fd);
      errno = saved;
    }
}

static inline void
cleanup_fclosep (FILE **f)
{
  if (*f != NULL)
    fclose (*f);
}

static inline void
cleanup_closedirp (DIR **d)
{
  if (*d != NULL)
    closedir (*d);
}

/* NULL-terminated string vector.  */
static inline void
cleanup_strvp (char ***v)
{
  if (*v != NULL)
    {
      for (char **i = *v; *i != NULL; i++)
        free (*i);
      free (*v);
    }
}

/* Both ends of a pipe or socketpair (int p[2]), those not -1.  */
static inline void
cleanup_close_pairp (int (*pair)[2])
{
  cleanup_closep (&(*pair)[0]);
  cleanup_closep (&(*pair)[1]);
}

#define cleanup_free __attribute__ ((cleanup (cleanup_freep)))
#define cleanup_close __attribute__ ((cleanup (cleanup_closep)))
#define cleanup_close_pair __attribute__ ((cleanup (cleanup_close_pairp)))
#define cleanup_file __attribute__ ((cleanup (cleanup_fclosep)))
#define cleanup_dir __attribute__ ((cleanup (cleanup_closedirp)))
#define cleanup_strv __attribute__ ((cleanup (cleanup_strvp)))

static inline void *
steal_ptr_impl (void *pp)
{
  void **p = (void **)pp;
  void *r = *p;
  *p = NULL;
  return r;
}
#define steal_ptr(pp) steal_ptr_impl ((void *)(pp))

static inline int
steal_fd (int *fd)
{
  int r = *fd;
  *fd = -1;
  return r;
}

#endif

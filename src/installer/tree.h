/* Payload trees, from directory fds (src/installer/tree.c).  */
#ifndef RUNHV_INSTALLER_TREE_H
#define RUNHV_INSTALLER_TREE_H

#include <stdbool.h>

#include "core/error.h"

/* Copy everything under src into the empty directory dst: modes kept,
   owner the caller, symlinks as symlinks.  */
int tree_copy (int src, int dst, runhv_error_t *err);
/* Same names, types, modes, file contents and link targets throughout
   (skip: a name at the top of either tree left out of the comparison).  */
bool tree_equal (int a, int b, const char *skip);

#endif

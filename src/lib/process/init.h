/* The processes the runtime forks.  Stage 1 joins and creates namespaces,
   then clones stage 2 as a sibling (CLONE_PARENT) so the runtime or its
   caller's subreaper is the parent of the container's process.  */
#ifndef RUNHV_INIT_H
#define RUNHV_INIT_H

#include <stdbool.h>
#include <sys/types.h>

#include "process/cgroup.h"
#include "oci/spec.h"

struct init_config
{
  const struct oci_spec *spec;
  const char *id;
  const char *bundle;
  const char *rootfs;    /* absolute */
  const char *fifo_path; /* exec.fifo in the state directory */
  int sync_fd;
  int preserve_fds;
  bool no_pivot;
  bool has_hooks; /* any hook: the parent runs some and tells our host pid */
  const struct cgroup_manager *cgroups;
  const int *stdio; /* three fds or -1 */
};

void init_stage1 (const struct init_config *cfg) __attribute__ ((noreturn));

struct exec_config
{
  const struct oci_process *process;
  const struct oci_spec *spec; /* the container's spec: seccomp, namespaces */
  pid_t target;                /* the container's init, whose namespaces are joined */
  int sync_fd;
  int preserve_fds;
  bool tty;
  const int *stdio;
};

void exec_stage1 (const struct exec_config *cfg) __attribute__ ((noreturn));

/* Start stage 1 of a container's init or of an exec'd process: a fork
   that execs a sealed copy of this binary (CVE-2019-5736), which runs
   init_stage1 or exec_stage1 with cfg.  close_fd (or -1) is not passed on.
   Returns the pid, with cfg->sync_fd the way to talk to it.  */
pid_t init_spawn (const struct init_config *cfg, int close_fd, runhv_error_t *err);
pid_t exec_spawn (const struct exec_config *cfg, int close_fd, runhv_error_t *err);

/* clone(2) as fork(2) with extra flags.  */
pid_t clone_like_fork (unsigned long flags);

#endif

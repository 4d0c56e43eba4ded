/* Small helpers shared by every component.  Allocation failures abort (as
   git's xmalloc does): every other failure is an error returned to the caller. */
#ifndef RUNHV_UTIL_H
#define RUNHV_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/cleanup.h"
#include "core/error.h"

void *xmalloc0 (size_t size);
void *xrealloc (void *p, size_t size);
char *xstrdup (const char *s);
char *xstrndup (const char *s, size_t n);
char *xasprintf (const char *fmt, ...) RUNHV_PRINTF (1, 2);
char *xvasprintf (const char *fmt, va_list ap) RUNHV_PRINTF (1, 0);

/* NULL-terminated string vectors.  */
size_t strv_len (char *const *v);
void strv_free (char **v);
char **strv_dup (char *const *v);
void strv_append (char ***v, const char *s); /* copies s */
bool strv_contains (char *const *v, const char *s);

/* Strict number parsing: the whole string, no sign surprises, no overflow.  */
/* 0-9, a-f, A-F: the digit's value; anything else: -1.  */
int hex_digit_value (int c);
int parse_int64 (const char *s, int64_t *out);
int parse_uint64 (const char *s, uint64_t *out);
/* "512m", "1g", "1024" (bytes) as docker/podman/runc accept them.  */
int parse_size (const char *s, int64_t *out);

/* pipe2 (O_CLOEXEC), then fork: 0 in the child, its pid in the parent, -1
   with both ends closed when either fails.  Each side closes what it does
   not use.  */
pid_t fork_with_pipe (int fds[2], runhv_error_t *err);

ssize_t write_all (int fd, const void *buf, size_t len);
ssize_t read_all (int fd, void *buf, size_t len);

/* Read a whole file (at most max bytes, 0 = 64 MiB), NUL-terminated.  */
int read_file (const char *path, size_t max, char **out, size_t *len, runhv_error_t *err);
/* One line of a /proc/PID/mountinfo text, split in place: its mount
   point (unescaped), filesystem type and super options.  *cursor moves to
   the next line; false at the end.  Malformed lines are skipped.  */
bool mountinfo_next (char **cursor, char **point, char **fstype, char **super);
/* The same, with the root of the mount within its filesystem ("/" for a
   full mount of it).  */
bool mountinfo_next_root (char **cursor, char **root, char **point, char **fstype, char **super);
/* The same, whole: the fields above and whether the mount is shared (a
   "shared:N" optional field).  */
struct mountinfo_entry
{
  char *root, *point, *fstype, *super;
  bool shared;
};
bool mountinfo_next_entry (char **cursor, struct mountinfo_entry *e);
int read_file_at (int dirfd, const char *name, size_t max, char **out, size_t *len, runhv_error_t *err);
/* This process's /proc/PID directory (an O_PATH fd opened once per
   process, -1 on failure): the VM supervisor mounts its VM's procfs over
   /proc (for podman top), after which "/proc/self" names nothing, so code
   it runs reads itself through this.  */
int proc_self_dir (void);
/* Write via O_WRONLY|O_TRUNC (cgroup files, /proc knobs).  */
int write_file (const char *path, const char *data, size_t len, runhv_error_t *err);
int write_file_at (int dirfd, const char *name, const char *data, size_t len, runhv_error_t *err);
/* Create or replace atomically (tmp + rename), mode given.  */
int write_file_atomic (const char *path, const char *data, size_t len, mode_t mode, runhv_error_t *err);

int mkdir_p (const char *path, mode_t mode, runhv_error_t *err);
/* Remove a directory tree without following symlinks.  */
int rm_rf (const char *path, runhv_error_t *err);

/* Process start time in clock ticks since boot (field 22 of /proc/PID/stat);
   0 when the process does not exist.  Guards against PID reuse.  */
uint64_t pid_start_time (pid_t pid);
bool pid_alive (pid_t pid, uint64_t start_time);

void format_rfc3339_now (char *buf, size_t size);
/* CLOCK_MONOTONIC in milliseconds, for deadlines.  */
int64_t monotonic_ms (void);
/* A quoted, escaped JSON string literal; caller frees.  */
char *json_escape_string (const char *s);

/* Close every fd but 0-2 and those in keep (negative entries are
   ignored, at most 16 count): a forked helper that never execs must not
   hold its parent's descriptors, e.g. a shim's connection to containerd,
   whose close is how containerd learns the shim died.  */
void close_fds_except (const int *keep, size_t n);
int set_cloexec (int fd, bool on);
int set_nonblock (int fd, bool on);

/* The one implementation of descriptor passing (SCM_RIGHTS).  */
#define FD_PASS_MAX 4
/* One message of `len` bytes with `nfds` descriptors attached (at most
   FD_PASS_MAX).  Without data one byte goes: a stream peer sees the
   descriptors only with a byte.  -1 with errno.  */
int fd_send (int sock, const void *data, size_t len, const int *fds, size_t nfds);
/* One message into data: its length (0 at EOF), or -1 with errno (EMSGSIZE
   when it did not fit).  The descriptors that came (O_CLOEXEC) fill fds, up
   to max_fds (the rest are -1; *nfds, when given, says how many); any more
   are closed.  *sender, when given, is the pid in SCM_CREDENTIALS (the
   socket has SO_PASSCRED), else 0.  */
ssize_t fd_recv (int sock, void *data, size_t len, int *fds, size_t max_fds, size_t *nfds, pid_t *sender);

/* Look a command up in PATH (from env, a NULL-terminated "K=V" vector).  */
char *find_in_path (const char *cmd, char *const *env);

#endif

#include "process/seccomp-filter.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/util.h"
#include "core/banned.h"

struct seccomp_filter
{
  struct sock_filter *insns;
  size_t len;
  unsigned int flags; /* SECCOMP_FILTER_FLAG_* */
};

/* libseccomp's token for a validated "SCMP_ARCH_X86_64", 0 if unknown.  */
static uint32_t
arch_token (const char *name)
{
  char lower[64];
  size_t k;
  const char *a = name + 10;
  for (k = 0; a[k] && k + 1 < sizeof (lower); k++)
    lower[k] = (char)(a[k] >= 'A' && a[k] <= 'Z' ? a[k] - 'A' + 'a' : a[k]);
  lower[k] = '\0';
  return seccomp_arch_resolve_name (lower);
}

static int
build_ctx (const struct oci_seccomp *s, scmp_filter_ctx *out, runhv_error_t *err)
{
  scmp_filter_ctx ctx;
  int r;
  *out = NULL;
  ctx = seccomp_init (s->default_action);
  if (ctx == NULL)
    return runhv_error (err, "linux.seccomp: cannot initialize libseccomp");
  /* no_new_privs is the spec's business, not libseccomp's.  */
  seccomp_attr_set (ctx, SCMP_FLTATR_CTL_NNP, 0);
  for (size_t i = 0; s->architectures && s->architectures[i]; i++)
    {
      uint32_t arch = arch_token (s->architectures[i]);
      if (arch == 0)
        continue;
      r = seccomp_arch_add (ctx, arch);
      if (r < 0 && r != -EEXIST)
        {
          seccomp_release (ctx);
          return runhv_make_error (err, -r, "linux.seccomp.architectures: add `%s`", s->architectures[i]);
        }
    }
  for (size_t i = 0; s->flags && s->flags[i]; i++)
    {
      if (strcmp (s->flags[i], "SECCOMP_FILTER_FLAG_LOG") == 0)
        seccomp_attr_set (ctx, SCMP_FLTATR_CTL_LOG, 1);
      else if (strcmp (s->flags[i], "SECCOMP_FILTER_FLAG_SPEC_ALLOW") == 0)
        seccomp_attr_set (ctx, SCMP_FLTATR_CTL_SSB, 1);
      else if (strcmp (s->flags[i], "SECCOMP_FILTER_FLAG_TSYNC") == 0)
        seccomp_attr_set (ctx, SCMP_FLTATR_CTL_TSYNC, 1);
    }
  for (size_t i = 0; i < s->n_rules; i++)
    {
      const struct oci_seccomp_rule *rule = &s->rules[i];
      if (rule->action == s->default_action)
        continue; /* libseccomp refuses rules that repeat the default */
      for (size_t n = 0; rule->names && rule->names[n]; n++)
        {
          int nr = seccomp_syscall_resolve_name (rule->names[n]);
          struct scmp_arg_cmp cmp[6];
          bool repeated = false;
          if (nr == __NR_SCMP_ERROR)
            continue; /* not a syscall on this architecture or kernel */
          for (size_t a = 0; a < rule->n_args; a++)
            {
              cmp[a].arg = rule->args[a].index;
              cmp[a].op = (enum scmp_compare)rule->args[a].op;
              cmp[a].datum_a = rule->args[a].value;
              cmp[a].datum_b = rule->args[a].value_two;
              for (size_t b = 0; b < a; b++)
                if (rule->args[b].index == rule->args[a].index)
                  repeated = true;
            }
          if (!repeated)
            r = seccomp_rule_add_array (ctx, rule->action, nr, (unsigned)rule->n_args, cmp);
          else
            {
              /* libseccomp cannot AND two tests of one argument: add them
                 as alternatives, as runc does.  */
              r = 0;
              for (size_t a = 0; a < rule->n_args && r == 0; a++)
                r = seccomp_rule_add_array (ctx, rule->action, nr, 1, &cmp[a]);
            }
          if (r < 0)
            {
              seccomp_release (ctx);
              return runhv_make_error (err, -r, "linux.seccomp.syscalls[%zu]: add a rule for `%s`", i, rule->names[n]);
            }
        }
    }
  *out = ctx;
  return 0;
}

/* The highest number, on `arch`, of a syscall the profile names (whatever
   its action), or -1 when it names none there.  */
static long
highest_named (const struct oci_seccomp *s, uint32_t arch)
{
  long max = -1;
  for (size_t i = 0; i < s->n_rules; i++)
    for (size_t n = 0; s->rules[i].names && s->rules[i].names[n]; n++)
      {
        int nr = seccomp_syscall_resolve_name_arch (arch, s->rules[i].names[n]);
        if (nr >= 0 && nr > max)
          max = nr;
      }
  return max;
}

/* A profile written before a syscall existed denies it with its default
   action, which breaks libcs that probe a new syscall and fall back to the
   old one on ENOSYS only (glibc's clone3 → clone).  Like runc, prepend a
   stub that answers ENOSYS for every syscall above the highest one the
   profile names, per architecture; below that the profile decides.
   Numbers with the x32 bit (and -1) go on to libseccomp's program.  */
#define X32_SYSCALL_BIT 0x40000000U
static size_t
enosys_stub (const struct oci_seccomp *s, scmp_filter_ctx ctx, struct sock_filter *out, size_t room)
{
  uint32_t arches[8], max[8];
  size_t n = 0, len, t;
  uint32_t cand[8];
  size_t nc = 0;

  /* As runc: not when the default lets syscalls through (a tracer handles
     ENOSYS itself).  */
  if (s->default_action == SCMP_ACT_ALLOW || s->default_action == SCMP_ACT_LOG
      || (s->default_action & 0xffff0000U) == SCMP_ACT_TRACE (0))
    return 0;
  cand[nc++] = seccomp_arch_native ();
  for (size_t i = 0; s->architectures && s->architectures[i] && nc < 8; i++)
    cand[nc++] = arch_token (s->architectures[i]);
  for (size_t i = 0; i < nc; i++)
    {
      long m;
      bool dup = false;
      /* x32 reports AUDIT_ARCH_X86_64: its numbers pass through above.  */
      if (cand[i] == 0 || cand[i] == SCMP_ARCH_X32 || seccomp_arch_exist (ctx, cand[i]) != 0)
        continue;
      for (size_t j = 0; j < n; j++)
        dup = dup || arches[j] == cand[i];
      m = highest_named (s, cand[i]);
      if (dup || m < 0)
        continue;
      arches[n] = cand[i];
      max[n++] = (uint32_t)m;
    }
  if (n == 0)
    return 0;
  /* ld arch; per arch: jeq arch / ld nr / jge x32 bit → program /
     jgt max → ENOSYS, else → program; ja program; ret ENOSYS.  */
  len = 1 + 4 * n + 2;
  if (len > room)
    return 0;
  t = 1 + 4 * n; /* the `ja` */
  out[0] = (struct sock_filter)BPF_STMT (BPF_LD | BPF_W | BPF_ABS, offsetof (struct seccomp_data, arch));
  for (size_t k = 0; k < n; k++)
    {
      size_t b = 1 + 4 * k;
      out[b] = (struct sock_filter)BPF_JUMP (BPF_JMP | BPF_JEQ | BPF_K, arches[k], 0, 3);
      out[b + 1] = (struct sock_filter)BPF_STMT (BPF_LD | BPF_W | BPF_ABS, offsetof (struct seccomp_data, nr));
      out[b + 2] = (struct sock_filter)BPF_JUMP (BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT,
                                                 (unsigned char)(t + 2 - (b + 2) - 1), 0);
      out[b + 3] = (struct sock_filter)BPF_JUMP (
        BPF_JMP | BPF_JGT | BPF_K, max[k], (unsigned char)(t + 1 - (b + 3) - 1), (unsigned char)(t + 2 - (b + 3) - 1));
    }
  out[t] = (struct sock_filter)BPF_STMT (BPF_JMP | BPF_JA, 1);
  out[t + 1] = (struct sock_filter)BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA));
  return len;
}

void
seccomp_filter_free (struct seccomp_filter *f)
{
  if (f == NULL)
    return;
  free (f->insns);
  free (f);
}

int
seccomp_filter_build (const struct oci_seccomp *s, struct seccomp_filter **out, runhv_error_t *err)
{
  scmp_filter_ctx ctx = NULL;
  cleanup_close int fd = -1;
  struct seccomp_filter *f;
  struct sock_filter stub[64];
  size_t nstub;
  struct stat st;
  uint32_t v;
  int r;

  *out = NULL;
  if (s == NULL)
    return 0;
  if (build_ctx (s, &ctx, err) < 0)
    return -1;
  /* libseccomp cannot prepend to its program: export it and load it with
     seccomp(2) ourselves.  */
  fd = memfd_create ("runhv-seccomp", MFD_CLOEXEC);
  if (fd < 0)
    {
      seccomp_release (ctx);
      return runhv_make_error (err, errno, "linux.seccomp: memfd_create");
    }
  r = seccomp_export_bpf (ctx, fd);
  if (r < 0)
    {
      seccomp_release (ctx);
      return runhv_make_error (err, -r, "linux.seccomp: generate the filter");
    }
  nstub = enosys_stub (s, ctx, stub, sizeof (stub) / sizeof (stub[0]));
  f = xmalloc0 (sizeof (*f));
  if (seccomp_attr_get (ctx, SCMP_FLTATR_CTL_TSYNC, &v) == 0 && v)
    f->flags |= SECCOMP_FILTER_FLAG_TSYNC;
  if (seccomp_attr_get (ctx, SCMP_FLTATR_CTL_LOG, &v) == 0 && v)
    f->flags |= SECCOMP_FILTER_FLAG_LOG;
  if (seccomp_attr_get (ctx, SCMP_FLTATR_CTL_SSB, &v) == 0 && v)
    f->flags |= SECCOMP_FILTER_FLAG_SPEC_ALLOW;
  if (s->notify)
    {
      if (f->flags & SECCOMP_FILTER_FLAG_TSYNC)
        {
          seccomp_release (ctx);
          seccomp_filter_free (f);
          return runhv_error (err, "linux.seccomp.flags: SECCOMP_FILTER_FLAG_TSYNC cannot be combined with "
                                   "SCMP_ACT_NOTIFY (remove the flag; the container init is single-threaded)");
        }
      f->flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
    }
  seccomp_release (ctx);
  if (fstat (fd, &st) < 0 || st.st_size <= 0 || st.st_size % sizeof (struct sock_filter) != 0)
    {
      seccomp_filter_free (f);
      return runhv_make_error (err, EINVAL, "linux.seccomp: libseccomp exported no program");
    }
  f->len = nstub + (size_t)st.st_size / sizeof (struct sock_filter);
  if (f->len > BPF_MAXINSNS)
    {
      seccomp_filter_free (f);
      return runhv_error (err,
                          "linux.seccomp: the filter has %zu instructions, more than the kernel's %d (merge rules)",
                          f->len, BPF_MAXINSNS);
    }
  f->insns = xmalloc0 (f->len * sizeof (struct sock_filter));
  memcpy (f->insns, stub, nstub * sizeof (struct sock_filter));
  if (pread (fd, f->insns + nstub, (size_t)st.st_size, 0) != st.st_size)
    {
      seccomp_filter_free (f);
      return runhv_make_error (err, errno, "linux.seccomp: read the exported filter");
    }
  *out = f;
  return 0;
}

int
seccomp_filter_load (struct seccomp_filter *f, int *listener, runhv_error_t *err)
{
  struct sock_fprog prog;
  long r;
  *listener = -1;
  if (f == NULL)
    return 0;
  prog.len = (unsigned short)f->len;
  prog.filter = f->insns;
  r = syscall (SYS_seccomp, SECCOMP_SET_MODE_FILTER, f->flags, &prog);
  if (r < 0)
    return runhv_make_error (err, errno, "linux.seccomp: load the filter");
  /* With NEW_LISTENER the kernel returns the listener, close-on-exec.  */
  if (f->flags & SECCOMP_FILTER_FLAG_NEW_LISTENER)
    *listener = (int)r;
  return 0;
}

int
seccomp_send_listener (const struct oci_seccomp *s, pid_t pid, json_t *state, int listener, runhv_error_t *err)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  cleanup_close int sock = -1;
  cleanup_free char *text = NULL;
  json_t *msg;

  if (strlen (s->listener_path) >= sizeof (addr.sun_path))
    return runhv_error (err, "linux.seccomp.listenerPath: `%s` is too long for a unix socket (use a shorter path)",
                        s->listener_path);
  memcpy (addr.sun_path, s->listener_path, strlen (s->listener_path) + 1);
  /* runc's seccomp agent message (the OCI ContainerProcessState): the fd
     travels as SCM_RIGHTS, named by "fds".  */
  msg = json_pack ("{s:O,s:[s],s:i}", "ociVersion", json_object_get (state, "ociVersion"), "fds", "seccompFd", "pid",
                   (int)pid);
  if (msg == NULL)
    return runhv_error (err, "linux.seccomp: cannot build the listener message");
  if (s->listener_metadata != NULL && s->listener_metadata[0] != '\0')
    json_object_set_new (msg, "metadata", json_string (s->listener_metadata));
  json_object_set (msg, "state", state);
  text = json_dumps (msg, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref (msg);
  sock = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock < 0)
    return runhv_make_error (err, errno, "linux.seccomp.listenerPath: socket");
  if (connect (sock, (struct sockaddr *)&addr, sizeof (addr)) < 0)
    return runhv_make_error (
      err, errno, "linux.seccomp.listenerPath: connect to `%s` (is the seccomp agent listening?)", s->listener_path);
  if (text == NULL || fd_send (sock, text, strlen (text), &listener, 1) < 0)
    return runhv_make_error (err, errno, "linux.seccomp.listenerPath: send the listener to `%s`", s->listener_path);
  return 0;
}

json_t *
seccomp_features_json (void)
{
  return json_pack ("{s:b, s:[sssssssss], s:[sssssss], s:[sss]}", "enabled", 1, "actions", "SCMP_ACT_ALLOW",
                    "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG",
                    "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP", "operators", "SCMP_CMP_EQ", "SCMP_CMP_GE",
                    "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE", "archs",
                    "SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32");
}

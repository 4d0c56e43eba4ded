/* linux.resources.devices on cgroup v2: v2 has no devices.allow/deny files,
   so the rules become a BPF_PROG_TYPE_CGROUP_DEVICE program, attached to the
   container's cgroup directory.  Written by hand from struct bpf_insn: the
   program is a straight list of tests, and libbpf is not a dependency.  */
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "process/cgroup-devices.h"
#include "core/util.h"
#include "core/banned.h"

#define FIELD "linux.resources.devices"
#define ACC_ALL (BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE)

const struct oci_device_rule cgroup_default_devices[] = {
  { .allow = true, .type = 'c', .major = -1, .minor = -1, .access = "m" },    /* mknod of any char device */
  { .allow = true, .type = 'b', .major = -1, .minor = -1, .access = "m" },    /* and of any block device */
  { .allow = true, .type = 'c', .major = 1, .minor = 3, .access = "rwm" },    /* null */
  { .allow = true, .type = 'c', .major = 1, .minor = 5, .access = "rwm" },    /* zero */
  { .allow = true, .type = 'c', .major = 1, .minor = 7, .access = "rwm" },    /* full */
  { .allow = true, .type = 'c', .major = 1, .minor = 8, .access = "rwm" },    /* random */
  { .allow = true, .type = 'c', .major = 1, .minor = 9, .access = "rwm" },    /* urandom */
  { .allow = true, .type = 'c', .major = 5, .minor = 0, .access = "rwm" },    /* tty */
  { .allow = true, .type = 'c', .major = 5, .minor = 1, .access = "rwm" },    /* console */
  { .allow = true, .type = 'c', .major = 5, .minor = 2, .access = "rwm" },    /* ptmx */
  { .allow = true, .type = 'c', .major = 136, .minor = -1, .access = "rwm" }, /* pts */
};
const size_t cgroup_n_default_devices = sizeof (cgroup_default_devices) / sizeof (cgroup_default_devices[0]);

/* Registers of the program: r1 the context, then what it holds.  */
enum
{
  R_RET = 0,
  R_CTX = 1,
  R_TYPE = 2,
  R_ACCESS = 3,
  R_MAJOR = 4,
  R_MINOR = 5,
};

static inline struct bpf_insn
insn (uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
  struct bpf_insn i = { .code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm };
  return i;
}

/* The few forms used: dst = *(u32 *)(src + off); 64-bit dst op= imm;
   dst = src; 32-bit compare-and-jump on imm (device numbers are u32, and
   the 64-bit forms would sign-extend imm); exit.  */
#define LDX_W(dst, src, off) insn (BPF_LDX | BPF_MEM | BPF_W, dst, src, off, 0)
#define ALU_IMM(op, dst, imm) insn (BPF_ALU64 | (op) | BPF_K, dst, 0, 0, imm)
#define MOV_REG(dst, src) insn (BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0)
#define JMP32_IMM(op, dst, imm) insn (BPF_JMP32 | (op) | BPF_K, dst, 0, 0, imm)
#define EXIT() insn (BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

struct prog
{
  struct bpf_insn *v;
  size_t n, cap;
};

static size_t
emit (struct prog *p, struct bpf_insn i)
{
  if (p->n == p->cap)
    {
      p->cap = p->cap ? p->cap * 2 : 64;
      p->v = xrealloc (p->v, p->cap * sizeof (*p->v));
    }
  p->v[p->n] = i;
  return p->n++;
}

static uint32_t
access_bits (const char *access)
{
  uint32_t a = 0;
  for (const char *c = access; *c; c++)
    a |= *c == 'm' ? BPF_DEVCG_ACC_MKNOD : *c == 'r' ? BPF_DEVCG_ACC_READ : *c == 'w' ? BPF_DEVCG_ACC_WRITE : 0;
  return a;
}

static int
check_number (size_t i, const char *what, int64_t v, runhv_error_t *err)
{
  if (v < -1 || v > (int64_t)UINT32_MAX)
    return runhv_error (err, FIELD "[%zu].%s: %lld is not a device number (use 0 to 4294967295, or -1 for any)", i,
                        what, (long long)v);
  return 0;
}

/* One rule: jumps to the next rule unless the request matches, else
   returns the rule's verdict.  An allow rule matches when it grants every
   access requested, a deny rule when it names any of them (v1's devices
   controller does the same).  */
static void
emit_rule (struct prog *p, const struct oci_device_rule *d)
{
  size_t jumps[4], nj = 0;
  uint32_t acc = access_bits (d->access);
  if (d->type == 'c' || d->type == 'b')
    jumps[nj++] = emit (p, JMP32_IMM (BPF_JNE, R_TYPE, d->type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK));
  if (d->allow && acc != ACC_ALL)
    {
      emit (p, MOV_REG (R_RET, R_ACCESS));
      emit (p, ALU_IMM (BPF_AND, R_RET, (int32_t)(~acc & ACC_ALL)));
      jumps[nj++] = emit (p, JMP32_IMM (BPF_JNE, R_RET, 0));
    }
  else if (!d->allow && acc != ACC_ALL)
    {
      emit (p, MOV_REG (R_RET, R_ACCESS));
      emit (p, ALU_IMM (BPF_AND, R_RET, (int32_t)acc));
      jumps[nj++] = emit (p, JMP32_IMM (BPF_JEQ, R_RET, 0));
    }
  if (d->major >= 0)
    jumps[nj++] = emit (p, JMP32_IMM (BPF_JNE, R_MAJOR, (int32_t)(uint32_t)d->major));
  if (d->minor >= 0)
    jumps[nj++] = emit (p, JMP32_IMM (BPF_JNE, R_MINOR, (int32_t)(uint32_t)d->minor));
  emit (p, ALU_IMM (BPF_MOV, R_RET, d->allow ? 1 : 0));
  emit (p, EXIT ());
  for (size_t j = 0; j < nj; j++)
    p->v[jumps[j]].off = (int16_t)(p->n - jumps[j] - 1);
}

int
cgroup_devices_program (const struct oci_device_rule *rules, size_t n, struct bpf_insn **insns, size_t *n_insns,
                        runhv_error_t *err)
{
  struct prog p = { 0 };
  size_t total = n + cgroup_n_default_devices;
  bool covers_all = false;

  for (size_t i = 0; i < n; i++)
    {
      if (rules[i].type != 'a' && rules[i].type != 'c' && rules[i].type != 'b')
        return runhv_error (err, FIELD "[%zu].type: `%c` is not a device type (use a, c or b)", i, rules[i].type);
      if (check_number (i, "major", rules[i].major, err) < 0 || check_number (i, "minor", rules[i].minor, err) < 0)
        return -1;
    }

  /* ctx is struct bpf_cgroup_dev_ctx: access_type = access << 16 | type.  */
  emit (&p, LDX_W (R_TYPE, R_CTX, offsetof (struct bpf_cgroup_dev_ctx, access_type)));
  emit (&p, MOV_REG (R_ACCESS, R_TYPE));
  emit (&p, ALU_IMM (BPF_AND, R_TYPE, 0xffff));
  emit (&p, ALU_IMM (BPF_RSH, R_ACCESS, 16));
  emit (&p, LDX_W (R_MAJOR, R_CTX, offsetof (struct bpf_cgroup_dev_ctx, major)));
  emit (&p, LDX_W (R_MINOR, R_CTX, offsetof (struct bpf_cgroup_dev_ctx, minor)));

  /* The last rule that covers a request decides it: test from the last.  */
  for (size_t k = total; k-- > 0 && !covers_all;)
    {
      const struct oci_device_rule *d = k < n ? &rules[k] : &cgroup_default_devices[k - n];
      if (d->type == 'a')
        {
          /* v1 writes a bare "a" (every device, every access) whatever the
             rule's access says; nothing before it can be reached.  */
          emit (&p, ALU_IMM (BPF_MOV, R_RET, d->allow ? 1 : 0));
          emit (&p, EXIT ());
          covers_all = true;
          continue;
        }
      if (access_bits (d->access) == 0)
        continue; /* an empty access covers nothing */
      emit_rule (&p, d);
    }
  if (!covers_all)
    {
      /* No rule covers it: v1's inherited default, allow.  */
      emit (&p, ALU_IMM (BPF_MOV, R_RET, 1));
      emit (&p, EXIT ());
    }
  *insns = p.v;
  *n_insns = p.n;
  return 0;
}

static long
sys_bpf (int cmd, union bpf_attr *attr)
{
  return syscall (SYS_bpf, cmd, attr, sizeof (*attr));
}

/* The verifier's log as one line: its first line, and its last one when
   that differs (the error usually ends the log).  */
static char *
verifier_summary (char *log)
{
  char *first = log, *last = NULL;
  char *end;
  while (*first == '\n')
    first++;
  end = first + strcspn (first, "\n");
  for (char *l = end; *l;)
    {
      size_t len;
      while (*l == '\n')
        l++;
      len = strcspn (l, "\n");
      if (len > 0 && strncmp (l, "processed ", 10) != 0 && strncmp (l, "verification time", 17) != 0)
        last = l;
      l += len;
    }
  if (last != NULL)
    return xasprintf ("%.*s ... %.*s", (int)(end - first), first, (int)strcspn (last, "\n"), last);
  return xasprintf ("%.*s", (int)(end - first), first);
}

static int
load_program (const struct bpf_insn *insns, size_t n, runhv_error_t *err)
{
  union bpf_attr attr;
  const size_t log_size = 1 << 16;
  cleanup_free char *log = NULL;
  cleanup_free char *summary = NULL;
  int fd, e;

  memset (&attr, 0, sizeof (attr));
  attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  attr.insns = (uint64_t)(uintptr_t)insns;
  attr.insn_cnt = (uint32_t)n;
  attr.license = (uint64_t)(uintptr_t) "GPL";
  fd = (int)sys_bpf (BPF_PROG_LOAD, &attr);
  if (fd >= 0)
    return fd;
  e = errno;
  if (e == ENOSYS)
    return runhv_error (err, FIELD ": this kernel has no bpf() system call (CONFIG_BPF_SYSCALL), which cgroup v2 "
                                   "device rules need: use a kernel with CONFIG_BPF_SYSCALL and CONFIG_CGROUP_BPF, or "
                                   "remove the rules");
  if (e == EPERM)
    return runhv_make_error (err, e,
                             FIELD ": loading the BPF device program needs CAP_SYS_ADMIN or CAP_BPF (run "
                                   "as root)");
  /* Again with a log, for the verifier's reason (a first try without it
     cannot fail on a log too small).  */
  log = xmalloc0 (log_size);
  attr.log_buf = (uint64_t)(uintptr_t)log;
  attr.log_size = (uint32_t)log_size;
  attr.log_level = 1;
  fd = (int)sys_bpf (BPF_PROG_LOAD, &attr);
  if (fd >= 0)
    return fd;
  e = errno;
  log[log_size - 1] = '\0';
  if (log[strspn (log, "\n")] == '\0' && e == EINVAL)
    return runhv_error (err, FIELD ": this kernel has no BPF device cgroup (CONFIG_CGROUP_BPF), which cgroup v2 "
                                   "device rules need: use a kernel with CONFIG_CGROUP_BPF, or remove the rules");
  summary = verifier_summary (log);
  return runhv_make_error (err, e,
                           FIELD ": the kernel refused the BPF device program (%zu instructions; verifier: "
                                 "%s) - a runhv bug, please report it",
                           n, summary[0] ? summary : "no log");
}

/* Loaded programs kept by their instructions.  A VM's agent creates many
   containers with the same rules (a pod's pause and its workloads, every
   default spec), and under TCG the verifier takes 12-22 ms a load.  A loaded
   program cannot change, and one program may be attached to many cgroups, so
   an identical rule list attaches the program already loaded.  The fds are
   close-on-exec (the bpf() default), so no container inherits one.  No lock:
   runhv's processes (CLI, agent, shim, supervisor) are single-threaded.  */
enum
{
  PROGRAM_CACHE_SLOTS = 4
};
struct cached_program
{
  struct bpf_insn *insns;
  size_t n_insns;
  int fd;
  uint32_t id;
};
static struct cached_program program_cache[PROGRAM_CACHE_SLOTS];
static size_t program_cache_next;

static int
program_id (int fd, uint32_t *id, runhv_error_t *err)
{
  struct bpf_prog_info info;
  union bpf_attr attr;
  memset (&info, 0, sizeof (info));
  memset (&attr, 0, sizeof (attr));
  attr.info.bpf_fd = (uint32_t)fd;
  attr.info.info_len = sizeof (info);
  attr.info.info = (uint64_t)(uintptr_t)&info;
  if (sys_bpf (BPF_OBJ_GET_INFO_BY_FD, &attr) < 0)
    return runhv_make_error (err, errno, FIELD ": read the id of the BPF device program");
  *id = info.id;
  return 0;
}

/* A program for INSNS, as a new fd (the caller closes it) and its id: the
   cached one when the same instructions were loaded before.  */
static int
cached_program (const struct bpf_insn *insns, size_t n, uint32_t *id, runhv_error_t *err)
{
  struct cached_program *slot;
  cleanup_close int fd = -1;
  int ret;

  for (size_t i = 0; i < PROGRAM_CACHE_SLOTS; i++)
    {
      struct cached_program *c = &program_cache[i];
      if (c->insns != NULL && c->n_insns == n && memcmp (c->insns, insns, n * sizeof (*insns)) == 0)
        {
          ret = fcntl (c->fd, F_DUPFD_CLOEXEC, 0);
          if (ret < 0)
            return runhv_make_error (err, errno, FIELD ": duplicate the loaded BPF device program's descriptor");
          *id = c->id;
          return ret;
        }
    }
  fd = load_program (insns, n, err);
  if (fd < 0 || program_id (fd, id, err) < 0)
    return -1;
  slot = &program_cache[program_cache_next];
  program_cache_next = (program_cache_next + 1) % PROGRAM_CACHE_SLOTS;
  ret = fcntl (fd, F_DUPFD_CLOEXEC, 0);
  if (ret < 0)
    return runhv_make_error (err, errno, FIELD ": duplicate the loaded BPF device program's descriptor");
  if (slot->insns != NULL)
    {
      close (slot->fd);
      free (slot->insns);
    }
  slot->insns = xmalloc0 (n * sizeof (*insns));
  memcpy (slot->insns, insns, n * sizeof (*insns));
  slot->n_insns = n;
  slot->fd = steal_fd (&fd);
  slot->id = *id;
  return ret;
}

/* Ids of the device programs attached to the cgroup itself.  */
static int
query_programs (int dirfd, uint32_t **ids, uint32_t *n, runhv_error_t *err)
{
  uint32_t cap = 16;
  for (;;)
    {
      union bpf_attr attr;
      cleanup_free uint32_t *v = xmalloc0 (cap * sizeof (*v));
      memset (&attr, 0, sizeof (attr));
      attr.query.target_fd = (uint32_t)dirfd;
      attr.query.attach_type = BPF_CGROUP_DEVICE;
      attr.query.prog_ids = (uint64_t)(uintptr_t)v;
      attr.query.prog_cnt = cap;
      if (sys_bpf (BPF_PROG_QUERY, &attr) == 0)
        {
          *ids = steal_ptr (&v);
          *n = attr.query.prog_cnt;
          return 0;
        }
      if (errno == ENOSPC && attr.query.prog_cnt > cap)
        {
          cap = attr.query.prog_cnt;
          continue;
        }
      if (errno == EINVAL || errno == ENOSYS)
        return runhv_error (err,
                            FIELD ": this kernel has no BPF device cgroup (CONFIG_CGROUP_BPF), which cgroup "
                                  "v2 device rules need: use a kernel with CONFIG_CGROUP_BPF, or remove the rules");
      if (errno == EBADF)
        return runhv_error (err, FIELD ": the container's cgroup is not a cgroup v2 directory (BPF device "
                                       "programs attach only there)");
      return runhv_make_error (err, errno, FIELD ": query the device programs of the cgroup");
    }
}

int
cgroup_devices_apply_bpf (int cgroup_dirfd, const struct oci_device_rule *rules, size_t n, runhv_error_t *err)
{
  cleanup_free struct bpf_insn *insns = NULL;
  cleanup_free uint32_t *old = NULL;
  cleanup_close int prog = -1;
  size_t n_insns = 0;
  uint32_t n_old = 0, prog_id = 0;
  bool attached = false;
  union bpf_attr attr;

  if (n == 0)
    return 0;
  if (cgroup_devices_program (rules, n, &insns, &n_insns, err) < 0)
    return -1;
  prog = cached_program (insns, n_insns, &prog_id, err);
  if (prog < 0)
    return -1;
  if (query_programs (cgroup_dirfd, &old, &n_old, err) < 0)
    return -1;
  /* The same rules again (an update that leaves them): the program is
     attached already, and a second attach of it fails.  */
  for (uint32_t i = 0; i < n_old; i++)
    attached = attached || old[i] == prog_id;
  if (attached)
    goto detach_others;

  memset (&attr, 0, sizeof (attr));
  attr.target_fd = (uint32_t)cgroup_dirfd;
  attr.attach_bpf_fd = (uint32_t)prog;
  attr.attach_type = BPF_CGROUP_DEVICE;
  attr.attach_flags = BPF_F_ALLOW_MULTI;
  if (sys_bpf (BPF_PROG_ATTACH, &attr) < 0)
    {
      if (errno == EPERM && n_old > 0)
        return runhv_make_error (err, errno,
                                 FIELD ": attach the BPF device program (a program attached to this "
                                       "cgroup without BPF_F_ALLOW_MULTI excludes others: detach it)");
      return runhv_make_error (err, errno, FIELD ": attach the BPF device program to the cgroup");
    }

  /* The new program is in place: only now do the old ones go.  */
detach_others:
  for (uint32_t i = 0; i < n_old; i++)
    {
      cleanup_close int fd = -1;
      if (old[i] == prog_id)
        continue;
      memset (&attr, 0, sizeof (attr));
      attr.prog_id = old[i];
      fd = (int)sys_bpf (BPF_PROG_GET_FD_BY_ID, &attr);
      if (fd < 0 && errno == ENOENT)
        continue; /* detached meanwhile */
      if (fd < 0)
        return runhv_make_error (err, errno, FIELD ": open the old BPF device program %u to detach it", old[i]);
      memset (&attr, 0, sizeof (attr));
      attr.target_fd = (uint32_t)cgroup_dirfd;
      attr.attach_bpf_fd = (uint32_t)fd;
      attr.attach_type = BPF_CGROUP_DEVICE;
      if (sys_bpf (BPF_PROG_DETACH, &attr) < 0 && errno != ENOENT)
        return runhv_make_error (err, errno,
                                 FIELD ": detach the old BPF device program %u (the new rules are attached too, "
                                       "and both apply)",
                                 old[i]);
    }
  return 0;
}

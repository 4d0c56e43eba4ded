/* VM templates: find, make and discard them (template.h).  */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/json.h"
#include "core/log.h"
#include "core/util.h"
#include "proto/agent-proto.h"
#include "uvm/jail.h"
#include "uvm/template.h"
#include "core/banned.h"

static void
key_add_file (char **key, const char *what, const char *path)
{
  struct stat st;
  char *n;
  if (stat (path, &st) < 0)
    n = xasprintf ("%s%s %s missing\n", *key, what, path);
  else
    n = xasprintf ("%s%s %s dev=%llu ino=%llu size=%lld mtime=%lld.%09ld ctime=%lld.%09ld\n", *key, what, path,
                   (unsigned long long)st.st_dev, (unsigned long long)st.st_ino, (long long)st.st_size,
                   (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
  free (*key);
  *key = n;
}

/* Everything that shapes the guest a template holds: the files QEMU loads
   (a rebuilt kernel or agent, an upgraded QEMU is another template) and
   QEMU's command line less what is the VM's own and not the guest's (its
   name, the shared tree's throttling, which QEMU alone applies, its NIC's
   MAC, which the agent sets).  */
static char *
template_key (const struct uvm_launch *l)
{
  struct uvm_launch k = *l;
  cleanup_strv char **argv = NULL;
  char *key = xasprintf ("runhv VM template, agent protocol %d\n", AGENT_PROTO_VERSION);
  k.id = "template";
  k.mac = NULL;
  k.qos_bps = k.qos_iops = 0;
  k.restore = k.qmp = k.memory_file = false;
  key_add_file (&key, "qemu", l->art->qemu);
  key_add_file (&key, "kernel", l->art->kernel);
  key_add_file (&key, "initrd", l->art->initrd);
  argv = uvm_vmm_argv (&k);
  for (size_t i = 0; argv[i]; i++)
    {
      char *n = xasprintf ("%sarg %s\n", key, argv[i]);
      free (key);
      key = n;
    }
  return key;
}

/* FNV-1a: a name, not a proof; the key file beside it is compared whole. */
static char *
template_name (const char *key)
{
  uint64_t h = 1469598103934665603ULL;
  for (const unsigned char *p = (const unsigned char *)key; *p; p++)
    h = (h ^ *p) * 1099511628211ULL;
  return xasprintf ("%016llx", (unsigned long long)h);
}

int
uvm_template_fill_memory (int src, int dst, runhv_error_t *err)
{
  struct stat st;
  off_t data = 0, hole;
  if (fstat (src, &st) < 0)
    return runhv_make_error (err, errno, "VM template: its memory");
  while ((data = lseek (src, data, SEEK_DATA)) >= 0)
    {
      hole = lseek (src, data, SEEK_HOLE);
      if (hole < 0)
        hole = st.st_size;
      /* In the kernel, page cache to page cache (copy_file_range will not
         cross from the template's tmpfs to a memfd).  */
      if (lseek (dst, data, SEEK_SET) < 0)
        return runhv_make_error (err, errno, "VM template: copy its memory");
      while (data < hole)
        {
          ssize_t n = sendfile (dst, src, &data, (size_t)(hole - data));
          if (n <= 0)
            return runhv_make_error (err, n == 0 ? EIO : errno, "VM template: copy its memory");
        }
    }
  if (errno != ENXIO)
    return runhv_make_error (err, errno, "VM template: read its memory's extents");
  return 0;
}

/* The template's files, when its key file says it is the one for `key`:
   its device state, and a copy of its memory.  False when there is none. */
static bool
open_existing (int dirfd, const char *name, const char *key, struct uvm_template_files *out, runhv_error_t *err)
{
  cleanup_free char *kf = xasprintf ("%s.key", name), *sf = xasprintf ("%s.state", name),
                    *mf = xasprintf ("%s.mem", name), *have = NULL;
  cleanup_close int state = -1, mem = -1, copy = -1;
  struct stat st;
  if (read_file_at (dirfd, kf, 1 << 20, &have, NULL, NULL) < 0 || strcmp (have, key) != 0)
    return false;
  state = openat (dirfd, sf, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  mem = openat (dirfd, mf, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (state < 0 || mem < 0)
    return false;
  /* The VM's own copy, filled by its jail in its cgroup (which the
     memory is charged to) before QEMU starts.  */
  copy = memfd_create ("runhv-vm-ram", MFD_CLOEXEC);
  if (copy < 0 || fstat (mem, &st) < 0 || ftruncate (copy, st.st_size) < 0)
    {
      runhv_make_error (err, errno, "VM template: a copy of its memory");
      return true; /* there is one, and *err says why it is no use */
    }
  out->state_fd = state;
  out->memory_fd = copy;
  out->memory_src_fd = mem;
  state = mem = copy = -1;
  utimensat (dirfd, kf, NULL, 0); /* recently used: evicted last */
  return true;
}

static void
remove_template (int dirfd, const char *name)
{
  cleanup_free char *kf = xasprintf ("%s.key", name), *sf = xasprintf ("%s.state", name),
                    *mf = xasprintf ("%s.mem", name);
  unlinkat (dirfd, sf, 0);
  unlinkat (dirfd, mf, 0);
  unlinkat (dirfd, kf, 0);
}

/* Keep at most UVM_TEMPLATE_MAX: the least recently used go.  */
static void
evict (int dirfd, const char *keep)
{
  for (;;)
    {
      cleanup_dir DIR *d = NULL;
      struct dirent *de;
      char oldest[64] = "";
      struct timespec t_oldest = { 0 };
      size_t n = 0;
      int copy = dup (dirfd);
      if (copy < 0 || (d = fdopendir (copy)) == NULL)
        {
          if (copy >= 0)
            close (copy);
          return;
        }
      while ((de = readdir (d)) != NULL)
        {
          size_t len = strlen (de->d_name);
          struct stat st;
          if (len < 5 || len >= sizeof (oldest) || strcmp (de->d_name + len - 4, ".key") != 0
              || fstatat (dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
          n++;
          if (strncmp (de->d_name, keep, len - 4) == 0 && strlen (keep) == len - 4)
            continue;
          if (oldest[0] == '\0' || st.st_mtim.tv_sec < t_oldest.tv_sec
              || (st.st_mtim.tv_sec == t_oldest.tv_sec && st.st_mtim.tv_nsec < t_oldest.tv_nsec))
            {
              memcpy (oldest, de->d_name, len - 4);
              oldest[len - 4] = '\0';
              t_oldest = st.st_mtim;
            }
        }
      if (n <= UVM_TEMPLATE_MAX || oldest[0] == '\0')
        return;
      log_debug ("VM template %s: evicted (more than %d)", oldest, UVM_TEMPLATE_MAX);
      remove_template (dirfd, oldest);
      /* and its maker's logs; its lock stays, for whoever holds it now */
      for (size_t i = 0; i < 2; i++)
        {
          cleanup_free char *f = xasprintf ("%s.%s", oldest, i == 0 ? "console" : "log");
          unlinkat (dirfd, f, 0);
        }
    }
}

/* The agent's answer to the template's hello, which asks it to leave the
   rest of its boot (the VM's own entropy, time and shared filesystem) to
   the hello of each VM made from the template.  */
static int
template_hello (int agent, long deadline, runhv_error_t *err)
{
  cleanup_json json_t *hello
    = json_pack ("{s:s,s:i,s:b}", "op", "hello", "version", AGENT_PROTO_VERSION, "template", 1);
  struct outq q;
  struct frame_reader r;
  int ret;
  outq_init (&q);
  ret = outq_push_json (&q, FRAME_REQUEST, 1, hello, err);
  if (ret == 0 && outq_flush (&q, agent) < 0)
    ret = runhv_make_error (err, errno, "send the agent its hello");
  outq_release (&q);
  if (ret < 0)
    return -1;
  ret = -1;
  frame_reader_init (&r);
  for (;;)
    {
      struct pollfd p = { .fd = agent, .events = POLLIN };
      struct frame f;
      char buf[4096];
      ssize_t n;
      int got;
      long left = deadline - monotonic_ms ();
      if (left <= 0)
        {
          runhv_error (err, "the agent did not answer in time");
          break;
        }
      if (poll (&p, 1, (int)left) < 0 && errno != EINTR)
        {
          runhv_make_error (err, errno, "poll");
          break;
        }
      if (p.revents == 0)
        continue;
      n = read (agent, buf, sizeof (buf));
      if (n <= 0)
        {
          runhv_error (err, "the VMM closed the agent channel during boot");
          break;
        }
      frame_reader_feed (&r, buf, (size_t)n);
      while ((got = frame_reader_next (&r, &f, err)) == 1)
        if (f.type == FRAME_RESPONSE && f.id == 1)
          {
            cleanup_json json_t *resp = NULL;
            ret = proto_json (&f, &resp, err) < 0 ? -1 : proto_check_response (resp, err);
            goto out;
          }
      if (got < 0)
        break;
    }
out:
  frame_reader_release (&r);
  return ret;
}

/* QEMU's monitor, one JSON object a line (QMP).  The template's QEMU runs
   only our kernel and agent, but its answers are parsed as any input. */
struct qmp
{
  int fd;
  long deadline;
  char buf[65536];
  size_t len;
};

static int
qmp_line (struct qmp *q, json_t **out, runhv_error_t *err)
{
  for (;;)
    {
      char *nl = memchr (q->buf, '\n', q->len);
      if (nl != NULL)
        {
          json_error_t je;
          size_t n = (size_t)(nl - q->buf) + 1;
          *out = json_loadb (q->buf, n - 1, 0, &je);
          memmove (q->buf, q->buf + n, q->len - n);
          q->len -= n;
          if (*out == NULL || !json_is_object (*out))
            {
              json_decref (*out);
              return runhv_error (err, "QEMU's monitor sent something not a JSON object");
            }
          return 0;
        }
      if (q->len == sizeof (q->buf))
        return runhv_error (err, "a line from QEMU's monitor is over %zu bytes", sizeof (q->buf));
      {
        struct pollfd p = { .fd = q->fd, .events = POLLIN };
        long left = q->deadline - monotonic_ms ();
        ssize_t n;
        if (left <= 0)
          return runhv_error (err, "QEMU's monitor did not answer in time");
        if (poll (&p, 1, (int)left) < 0 && errno != EINTR)
          return runhv_make_error (err, errno, "poll");
        if (p.revents == 0)
          continue;
        n = read (q->fd, q->buf + q->len, sizeof (q->buf) - q->len);
        if (n <= 0)
          return runhv_error (err, "QEMU closed its monitor");
        q->len += (size_t)n;
      }
    }
}

/* Run one command (with an fd for getfd); its "return" in *ret.  */
static int
qmp_command (struct qmp *q, json_t *cmd, int fd, json_t **ret, runhv_error_t *err)
{
  cleanup_free char *text = json_dumps (cmd, JSON_COMPACT);
  cleanup_free char *line = xasprintf ("%s\n", text);
  const char *what = json_string_value (json_object_get (cmd, "execute"));
  if (fd_send (q->fd, line, strlen (line), &fd, fd >= 0 ? 1 : 0) < 0)
    return runhv_make_error (err, errno, "send `%s` to QEMU's monitor", what);
  for (;;)
    {
      json_t *r = NULL;
      json_t *e;
      if (qmp_line (q, &r, err) < 0)
        return -1;
      if ((e = json_object_get (r, "error")) != NULL)
        {
          runhv_error (err, "QEMU refused `%s`: %.256s", what, json_string_value (json_object_get (e, "desc")) ?: "?");
          json_decref (r);
          return -1;
        }
      if (json_object_get (r, "return") != NULL)
        {
          if (ret != NULL)
            *ret = json_incref (json_object_get (r, "return"));
          json_decref (r);
          return 0;
        }
      json_decref (r); /* an event */
    }
}

/* Guest RAM is a file of its own (the template's memory): the device
   state leaves it out, and a VM loading that state expects it to.  */
static json_t *
ignore_shared (void)
{
  return json_pack ("{s:s,s:{s:[{s:s,s:b}]}}", "execute", "migrate-set-capabilities", "arguments", "capabilities",
                    "capability", "x-ignore-shared", "state", 1);
}

/* Save the running VM into state_fd.  It is saved running, so a VM that
   loads it runs on at once without being told to.  */
static int
save_vm (int qmp_fd, int state_fd, long deadline, runhv_error_t *err)
{
  struct qmp *q = xmalloc0 (sizeof (*q));
  json_t *greeting = NULL;
  int ret = -1;
  q->fd = qmp_fd;
  q->deadline = deadline;
  if (qmp_line (q, &greeting, err) < 0)
    goto out;
  json_decref (greeting);
  {
    cleanup_json json_t *caps = json_pack ("{s:s}", "execute", "qmp_capabilities");
    cleanup_json json_t *shared = ignore_shared ();
    /* QEMU's default of 32 MiB/s would make saving take 0.7 s.  */
    cleanup_json json_t *bw = json_pack ("{s:s,s:{s:I}}", "execute", "migrate-set-parameters", "arguments",
                                         "max-bandwidth", (json_int_t)1 << 40);
    cleanup_json json_t *getfd = json_pack ("{s:s,s:{s:s}}", "execute", "getfd", "arguments", "fdname", "template");
    cleanup_json json_t *migrate = json_pack ("{s:s,s:{s:s}}", "execute", "migrate", "arguments", "uri", "fd:template");
    if (qmp_command (q, caps, -1, NULL, err) < 0 || qmp_command (q, shared, -1, NULL, err) < 0
        || qmp_command (q, bw, -1, NULL, err) < 0 || qmp_command (q, getfd, state_fd, NULL, err) < 0
        || qmp_command (q, migrate, -1, NULL, err) < 0)
      goto out;
  }
  for (;;)
    {
      cleanup_json json_t *query = json_pack ("{s:s}", "execute", "query-migrate");
      cleanup_json json_t *r = NULL;
      const char *status;
      if (qmp_command (q, query, -1, &r, err) < 0)
        goto out;
      status = json_string_value (json_object_get (r, "status"));
      if (status != NULL && strcmp (status, "completed") == 0)
        break;
      if (status != NULL && (strcmp (status, "failed") == 0 || strcmp (status, "cancelled") == 0))
        {
          runhv_error (err, "saving the VM %s: %.256s", status,
                       json_string_value (json_object_get (r, "error-desc")) ?: "no reason given");
          goto out;
        }
      usleep (5000);
    }
  ret = 0;
out:
  free (q);
  return ret;
}

/* Keep a made file: no one may write it any more; link it in place.  */
static int
keep_file (int fd, int dirfd, const char *dir, const char *name, runhv_error_t *err)
{
  cleanup_free char *proc = xasprintf ("/proc/self/fd/%d", fd);
  if (fchown (fd, 0, 0) < 0 || fchmod (fd, 0400) < 0 || linkat (AT_FDCWD, proc, dirfd, name, AT_SYMLINK_FOLLOW) < 0)
    return runhv_make_error (err, errno, "VM template: keep `%s/%s`", dir, name);
  return 0;
}

static int
make_template (const struct uvm_launch *l, const char *dir, int dirfd, const char *name, const char *key,
               long timeout_ms, runhv_error_t *err)
{
  cleanup_free char *work = xasprintf ("%s/%s.work", dir, name), *shared = xasprintf ("%s/shared", work);
  cleanup_free char *console = xasprintf ("%s/%s.console", dir, name), *vmm_log = xasprintf ("%s/%s.log", dir, name);
  cleanup_free char *id = xasprintf ("template-%s", name), *kf = xasprintf ("%s.key", name);
  cleanup_free char *sf = xasprintf ("%s.state", name), *mf = xasprintf ("%s.mem", name);
  cleanup_free char *kpath = xasprintf ("%s/%s", dir, kf);
  cleanup_close int state = -1, mem = -1, alive = -1;
  int agent[2] = { -1, -1 }, qmp[2] = { -1, -1 };
  long deadline = monotonic_ms () + timeout_ms;
  struct uvm_launch t = *l;
  int64_t base;
  pid_t vmm = -1;
  int ret = -1;
  runhv_error_t ignored = NULL;

  t.id = id;
  base = uvm_jail_id_base (t.id, t.jail_id_base);
  /* A maker killed earlier may have left its work directory.  */
  if (rm_rf (work, &ignored) < 0)
    runhv_error_release (&ignored);
  if (mkdir_p (shared, 0755, err) < 0)
    return -1;
  /* Both files are nameless until whole.  The memory is the jailed QEMU's
     own (its user namespace's root) while it boots and saves; root's and
     read-only once kept.  */
  state = openat (dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  mem = openat (dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (state < 0 || mem < 0 || ftruncate (mem, (off_t)l->memory_mb << 20) < 0
      || fchown (mem, (uid_t)base, (gid_t)base) < 0)
    {
      runhv_make_error (err, errno, "VM template: files in `%s`", dir);
      goto out;
    }
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, agent) < 0
      || socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, qmp) < 0)
    {
      runhv_make_error (err, errno, "socketpair");
      goto out;
    }
  t.shared_dir = shared;
  t.agent_fd = agent[1];
  t.console_log = console;
  t.vmm_log = vmm_log;
  t.qos_bps = t.qos_iops = 0;
  t.restore = false;
  t.qmp = true;
  t.qmp_fd = qmp[1];
  t.memory_file = true;
  t.memory_fd = mem;
  /* A pod's VM has a tap; its template, a NIC that reaches nothing.  */
  t.template_nic = l->tap_fd >= 0;
  t.tap_fd = -1;
  t.mac = NULL;
  /* The template's QEMU has a cgroup of its own, never its caller's, and
     under runhv's, not a pod's: the template's memory, charged to it,
     outlives both, and a cgroup's charges go to its parent when it goes. */
  t.caller_stays_out = true;
  t.cgroup_parent = NULL;
  if (uvm_vmm_spawn (&t, &vmm, &alive, err) < 0)
    {
      vmm = -1;
      goto out;
    }
  close (agent[1]);
  close (qmp[1]);
  agent[1] = qmp[1] = -1;
  if (template_hello (agent[0], deadline, err) < 0 || save_vm (qmp[0], state, deadline, err) < 0)
    {
      runhv_error_wrap (err, "make VM template %s (its console `%s`, QEMU's log `%s`)", name, console, vmm_log);
      goto out;
    }
  /* Nothing writes the memory once its QEMU is gone.  */
  kill (vmm, SIGKILL);
  waitpid (vmm, NULL, 0);
  vmm = -1;
  remove_template (dirfd, name);
  /* The key first, the state last: a template is whole once its state is
     there, and whatever instant this is killed at, it is whole or not.  */
  if (write_file_atomic (kpath, key, strlen (key), 0600, err) < 0 || keep_file (mem, dirfd, dir, mf, err) < 0
      || keep_file (state, dirfd, dir, sf, err) < 0)
    {
      remove_template (dirfd, name);
      goto out;
    }
  ret = 0;
out:
  if (vmm > 0)
    {
      kill (vmm, SIGKILL);
      waitpid (vmm, NULL, 0);
    }
  for (int i = 0; i < 2; i++)
    {
      if (agent[i] >= 0)
        close (agent[i]);
      if (qmp[i] >= 0)
        close (qmp[i]);
    }
  /* The jail bound the shared tree onto itself, here.  */
  umount2 (shared, MNT_DETACH);
  if (rm_rf (work, &ignored) < 0)
    runhv_error_release (&ignored);
  return ret;
}

/* The template's files, or *err.  */
static int
found (bool there, const struct uvm_template_files *out)
{
  return there && out->state_fd >= 0 ? 0 : -1;
}

int
uvm_template_open (const struct uvm_launch *l, const char *dir, long timeout_ms, bool *made,
                   struct uvm_template_files *out, runhv_error_t *err)
{
  cleanup_free char *key = template_key (l);
  cleanup_free char *name = template_name (key);
  cleanup_free char *lock = xasprintf ("%s.lock", name);
  cleanup_close int dirfd = -1, lockfd = -1;
  bool there;

  *made = false;
  out->state_fd = out->memory_fd = out->memory_src_fd = -1;
  if (mkdir_p (dir, 0700, err) < 0)
    return -1;
  dirfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0)
    return runhv_make_error (err, errno, "open `%s`", dir);
  there = open_existing (dirfd, name, key, out, err);
  if (there)
    return found (there, out);
  lockfd = openat (dirfd, lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (lockfd < 0)
    return runhv_make_error (err, errno, "open `%s/%s`", dir, lock);
  if (flock (lockfd, LOCK_EX) < 0)
    return runhv_make_error (err, errno, "lock `%s/%s`", dir, lock);
  /* Made by whoever held the lock before us?  */
  there = open_existing (dirfd, name, key, out, err);
  if (there)
    return found (there, out);
  {
    int64_t t0 = monotonic_ms ();
    if (make_template (l, dir, dirfd, name, key, timeout_ms, err) < 0)
      return -1;
    log_debug ("VM template %s: made in %lld ms", name, (long long)(monotonic_ms () - t0));
  }
  *made = true;
  evict (dirfd, name);
  there = open_existing (dirfd, name, key, out, err);
  if (!there)
    return runhv_error (err, "VM template: `%s/%s` is gone as soon as made", dir, name);
  return found (there, out);
}

int
uvm_template_start (int qmp_fd, long timeout_ms, runhv_error_t *err)
{
  struct qmp *q = xmalloc0 (sizeof (*q));
  cleanup_json json_t *caps = json_pack ("{s:s}", "execute", "qmp_capabilities");
  cleanup_json json_t *shared = ignore_shared ();
  cleanup_json json_t *incoming
    = json_pack ("{s:s,s:{s:s}}", "execute", "migrate-incoming", "arguments", "uri", "fd:" UVM_JAIL_RESTORE_FD_STR);
  json_t *greeting = NULL;
  int ret = -1;
  q->fd = qmp_fd;
  q->deadline = monotonic_ms () + timeout_ms;
  if (qmp_line (q, &greeting, err) == 0 && qmp_command (q, caps, -1, NULL, err) == 0
      && qmp_command (q, shared, -1, NULL, err) == 0 && qmp_command (q, incoming, -1, NULL, err) == 0)
    ret = 0;
  json_decref (greeting);
  free (q);
  return ret < 0 ? runhv_error_wrap (err, "start the VM from its template") : 0;
}

void
uvm_template_discard (const struct uvm_launch *l, const char *dir)
{
  cleanup_free char *key = template_key (l);
  cleanup_free char *name = template_name (key);
  cleanup_close int dirfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd >= 0)
    remove_template (dirfd, name);
}

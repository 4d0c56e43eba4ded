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
#include <sys/mount.h>
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

const char *
uvm_template_unusable (const struct uvm_launch *l)
{
  if (l->tap_fd >= 0)
    return "the VM has a network device";
  return NULL;
}

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
                   (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, (long long)st.st_ctim.tv_sec,
                   st.st_ctim.tv_nsec);
  free (*key);
  *key = n;
}

/* Everything that shapes the guest a template holds: the files QEMU loads
   (a rebuilt kernel or agent, an upgraded QEMU is another template) and
   QEMU's command line less what is the VM's own and not the guest's (its
   name, the shared tree's throttling, which QEMU alone applies).  */
static char *
template_key (const struct uvm_launch *l)
{
  struct uvm_launch k = *l;
  cleanup_strv char **argv = NULL;
  char *key = xasprintf ("runhv VM template, agent protocol %d\n", AGENT_PROTO_VERSION);
  k.id = "template";
  k.qos_bps = k.qos_iops = 0;
  k.restore = k.qmp = false;
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

/* The template's state, when its key file says it is the one for `key`.  */
static int
open_existing (int dirfd, const char *name, const char *key)
{
  cleanup_free char *kf = xasprintf ("%s.key", name), *sf = xasprintf ("%s.state", name), *have = NULL;
  int fd;
  if (read_file_at (dirfd, kf, 1 << 20, &have, NULL, NULL) < 0 || strcmp (have, key) != 0)
    return -1;
  fd = openat (dirfd, sf, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd >= 0)
    utimensat (dirfd, kf, NULL, 0); /* recently used: evicted last */
  return fd;
}

static void
remove_template (int dirfd, const char *name)
{
  cleanup_free char *kf = xasprintf ("%s.key", name), *sf = xasprintf ("%s.state", name);
  unlinkat (dirfd, sf, 0);
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
  cleanup_free char *text = json_dumps (hello, JSON_COMPACT);
  uint8_t hdr[AGENT_PROTO_HEADER];
  struct frame_reader r;
  int ret = -1;
  frame_header_encode (hdr, FRAME_REQUEST, 1, (uint32_t)strlen (text));
  if (write_all (agent, hdr, sizeof (hdr)) < 0 || write_all (agent, text, strlen (text)) < 0)
    return runhv_make_error (err, errno, "send the agent its hello");
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
          runhv_error (err, "QEMU refused `%s`: %.256s", what,
                       json_string_value (json_object_get (e, "desc")) ?: "?");
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
    /* QEMU's default of 32 MiB/s would make saving take 0.7 s.  */
    cleanup_json json_t *bw = json_pack ("{s:s,s:{s:I}}", "execute", "migrate-set-parameters", "arguments",
                                         "max-bandwidth", (json_int_t)1 << 40);
    cleanup_json json_t *getfd = json_pack ("{s:s,s:{s:s}}", "execute", "getfd", "arguments", "fdname", "template");
    cleanup_json json_t *migrate
        = json_pack ("{s:s,s:{s:s}}", "execute", "migrate", "arguments", "uri", "fd:template");
    if (qmp_command (q, caps, -1, NULL, err) < 0 || qmp_command (q, bw, -1, NULL, err) < 0
        || qmp_command (q, getfd, state_fd, NULL, err) < 0 || qmp_command (q, migrate, -1, NULL, err) < 0)
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

static int
make_template (const struct uvm_launch *l, const char *dir, int dirfd, const char *name, const char *key,
               long timeout_ms, runhv_error_t *err)
{
  cleanup_free char *work = xasprintf ("%s/%s.work", dir, name), *shared = xasprintf ("%s/shared", work);
  cleanup_free char *console = xasprintf ("%s/%s.console", dir, name), *vmm_log = xasprintf ("%s/%s.log", dir, name);
  cleanup_free char *id = xasprintf ("template-%s", name), *kf = xasprintf ("%s.key", name);
  cleanup_free char *sf = xasprintf ("%s.state", name), *kpath = xasprintf ("%s/%s", dir, kf), *tmp = NULL;
  cleanup_close int state = -1, alive = -1;
  int agent[2] = { -1, -1 }, qmp[2] = { -1, -1 };
  long deadline = monotonic_ms () + timeout_ms;
  struct uvm_launch t = *l;
  pid_t vmm = -1;
  int ret = -1;
  runhv_error_t ignored = NULL;

  /* A maker killed earlier may have left its work directory.  */
  if (rm_rf (work, &ignored) < 0)
    runhv_error_release (&ignored);
  if (mkdir_p (shared, 0755, err) < 0)
    return -1;
  state = openat (dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0400);
  if (state < 0)
    {
      runhv_make_error (err, errno, "VM template: a file in `%s`", dir);
      goto out;
    }
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, agent) < 0
      || socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, qmp) < 0)
    {
      runhv_make_error (err, errno, "socketpair");
      goto out;
    }
  t.id = id;
  t.shared_dir = shared;
  t.agent_fd = agent[1];
  t.console_log = console;
  t.vmm_log = vmm_log;
  t.qos_bps = t.qos_iops = 0;
  t.restore = false;
  t.qmp = true;
  t.qmp_fd = qmp[1];
  /* The template's QEMU has a cgroup of its own, never its caller's.  */
  t.caller_stays_out = true;
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
  tmp = xasprintf ("/proc/self/fd/%d", state);
  remove_template (dirfd, name);
  if (write_file_atomic (kpath, key, strlen (key), 0600, err) < 0)
    goto out;
  if (linkat (AT_FDCWD, tmp, dirfd, sf, AT_SYMLINK_FOLLOW) < 0)
    {
      runhv_make_error (err, errno, "VM template: keep `%s/%s`", dir, sf);
      unlinkat (dirfd, kf, 0);
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

int
uvm_template_open (const struct uvm_launch *l, const char *dir, long timeout_ms, bool *made, runhv_error_t *err)
{
  cleanup_free char *key = template_key (l);
  cleanup_free char *name = template_name (key);
  cleanup_free char *lock = xasprintf ("%s.lock", name);
  cleanup_close int dirfd = -1, lockfd = -1;
  int fd;

  *made = false;
  if (mkdir_p (dir, 0700, err) < 0)
    return -1;
  dirfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0)
    return runhv_make_error (err, errno, "open `%s`", dir);
  fd = open_existing (dirfd, name, key);
  if (fd >= 0)
    return fd;
  lockfd = openat (dirfd, lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (lockfd < 0)
    return runhv_make_error (err, errno, "open `%s/%s`", dir, lock);
  if (flock (lockfd, LOCK_EX) < 0)
    return runhv_make_error (err, errno, "lock `%s/%s`", dir, lock);
  /* Made by whoever held the lock before us?  */
  fd = open_existing (dirfd, name, key);
  if (fd >= 0)
    return fd;
  {
    int64_t t0 = monotonic_ms ();
    if (make_template (l, dir, dirfd, name, key, timeout_ms, err) < 0)
      return -1;
    log_debug ("VM template %s: made in %lld ms", name, (long long)(monotonic_ms () - t0));
  }
  *made = true;
  evict (dirfd, name);
  fd = open_existing (dirfd, name, key);
  if (fd < 0)
    return runhv_make_error (err, errno, "VM template: open `%s/%s.state`", dir, name);
  return fd;
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

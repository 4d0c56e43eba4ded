/* runtime.c's lifecycle rules, driven through a fake backend: which verb
   each state accepts, what reaches the backend, what is left on record,
   and who holds the container's lock when.  The fake keeps each
   container's status in a table and counts the calls it gets; nothing
   here creates a process, a cgroup or a VM.  */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/json.h"
#include "runtime.h"
#include "runtime-internal.h"
#include "oci/state.h"
#include "core/util.h"

#define FAKE_PID 4242

enum fake_op
{
  OP_CREATE,
  OP_START,
  OP_KILL,
  OP_DESTROY,
  OP_EXEC,
  OP_PAUSE,
  OP_RESUME,
  OP_UPDATE,
  OP_PS,
  OP_STATS,
  OP_COUNT,
};

/* What the fake backend saw, and what it is told to do.  */
static struct
{
  char root[64];
  unsigned calls[OP_COUNT];
  int last_signal;
  bool fail_create;
  /* flock(LOCK_NB) on the state directory from inside the backend call:
     0 = we could take it (nobody held it), EWOULDBLOCK = it was held.  */
  int lock_probe;
  struct
  {
    char id[32];
    enum container_status status;
  } table[8];
} fake;

static enum container_status *
fake_slot (const char *id)
{
  for (size_t i = 0; i < sizeof (fake.table) / sizeof (fake.table[0]); i++)
    if (strcmp (fake.table[i].id, id) == 0)
      return &fake.table[i].status;
  for (size_t i = 0; i < sizeof (fake.table) / sizeof (fake.table[0]); i++)
    if (fake.table[i].id[0] == '\0')
      {
        snprintf (fake.table[i].id, sizeof (fake.table[i].id), "%s", id);
        return &fake.table[i].status;
      }
  fail_msg ("fake backend: too many containers");
  return NULL;
}

static void
fake_set_status (const char *id, enum container_status s)
{
  *fake_slot (id) = s;
}

static void
fake_forget (const char *id)
{
  for (size_t i = 0; i < sizeof (fake.table) / sizeof (fake.table[0]); i++)
    if (strcmp (fake.table[i].id, id) == 0)
      fake.table[i].id[0] = '\0';
}

static int
probe_lock (const char *id)
{
  cleanup_free char *dir = xasprintf ("%s/%s", fake.root, id);
  cleanup_close int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  assert_true (fd >= 0);
  if (flock (fd, LOCK_EX | LOCK_NB) < 0)
    return errno;
  return 0; /* released when fd closes */
}

static int
fake_create (struct runtime_context *ctx, struct container *c, const struct create_options *o, runhv_error_t *err)
{
  fake.calls[OP_CREATE]++;
  fake.lock_probe = probe_lock (c->state->id);
  assert_true (o->lock_fd >= 0);
  /* runtime_create put the record on disk before calling us.  */
  assert_true (c->state->creating);
  if (fake.fail_create)
    return runhv_error (err, "the fake was told to fail");
  c->state->pid = FAKE_PID;
  fake_set_status (c->state->id, STATUS_CREATED);
  return 0;
}

static int
fake_start (struct runtime_context *ctx, struct container *c, runhv_error_t *err)
{
  fake.calls[OP_START]++;
  fake_set_status (c->state->id, STATUS_RUNNING);
  return 0;
}

static enum container_status
fake_status (struct runtime_context *ctx, struct container *c)
{
  return *fake_slot (c->state->id);
}

static int
fake_kill (struct runtime_context *ctx, struct container *c, int sig, bool all, runhv_error_t *err)
{
  fake.calls[OP_KILL]++;
  fake.last_signal = sig;
  if (sig == SIGKILL)
    fake_set_status (c->state->id, STATUS_STOPPED);
  return 0;
}

static int
fake_destroy (struct runtime_context *ctx, struct container *c, runhv_error_t *err)
{
  fake.calls[OP_DESTROY]++;
  fake_set_status (c->state->id, STATUS_STOPPED);
  return 0;
}

static int
fake_exec (struct runtime_context *ctx, struct container *c, const struct exec_options *o, struct process_handle *h,
           runhv_error_t *err)
{
  fake.calls[OP_EXEC]++;
  fake.lock_probe = probe_lock (c->state->id);
  h->pid = FAKE_PID + 1;
  return 0;
}

static int
fake_pause (struct runtime_context *ctx, struct container *c, runhv_error_t *err)
{
  fake.calls[OP_PAUSE]++;
  fake_set_status (c->state->id, STATUS_PAUSED);
  return 0;
}

static int
fake_resume (struct runtime_context *ctx, struct container *c, runhv_error_t *err)
{
  fake.calls[OP_RESUME]++;
  fake_set_status (c->state->id, STATUS_RUNNING);
  return 0;
}

static int
fake_update (struct runtime_context *ctx, struct container *c, const struct oci_resources *r, runhv_error_t *err)
{
  fake.calls[OP_UPDATE]++;
  return 0;
}

static int
fake_ps (struct runtime_context *ctx, struct container *c, pid_t **pids, size_t *n, runhv_error_t *err)
{
  fake.calls[OP_PS]++;
  *pids = xmalloc0 (sizeof (pid_t));
  (*pids)[0] = c->state->pid;
  *n = 1;
  return 0;
}

static int
fake_stats (struct runtime_context *ctx, struct container *c, struct container_stats *s, runhv_error_t *err)
{
  fake.calls[OP_STATS]++;
  return 0;
}

static int
fake_attach (struct runtime_context *ctx, struct container *c, struct process_handle *h, runhv_error_t *err)
{
  return runhv_error (err, "the fake cannot be waited on");
}

static const struct backend_ops fake_backend = {
  .name = "fake",
  .create = fake_create,
  .start = fake_start,
  .status = fake_status,
  .kill = fake_kill,
  .destroy = fake_destroy,
  .exec = fake_exec,
  .ps = fake_ps,
  .pause = fake_pause,
  .resume = fake_resume,
  .update = fake_update,
  .stats = fake_stats,
  .attach = fake_attach,
};

/* ---- fixture: a registry root, a bundle, a context using the fake ---- */

struct fixture
{
  struct runtime_context ctx;
  char dir[64];
  char *bundle;
};

static void
write_text (const char *path, const char *text)
{
  runhv_error_t err = NULL;
  if (write_file_atomic (path, text, strlen (text), 0644, &err) < 0)
    fail_msg ("%s", err->msg);
}

/* extra: more top-level members of config.json, "" for none.  */
static void
write_bundle (struct fixture *f, const char *root_path, const char *extra)
{
  cleanup_free char *config = xasprintf ("%s/config.json", f->bundle);
  cleanup_free char *doc = xasprintf ("{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"%s\"},"
                                      "\"process\":{\"args\":[\"sh\"]}%s}",
                                      root_path, extra);
  write_text (config, doc);
}

static int
setup (void **state)
{
  struct fixture *f = xmalloc0 (sizeof (*f));
  runhv_error_t err = NULL;
  cleanup_free char *root = NULL, *rootfs = NULL, *toml = NULL;

  snprintf (f->dir, sizeof (f->dir), "/tmp/runhv-runtime-XXXXXX");
  assert_non_null (mkdtemp (f->dir));
  root = xasprintf ("%s/root", f->dir);
  f->bundle = xasprintf ("%s/bundle", f->dir);
  rootfs = xasprintf ("%s/rootfs", f->bundle);
  toml = xasprintf ("%s/runhv.toml", f->dir);
  assert_int_equal (mkdir_p (rootfs, 0755, &err), 0);
  write_bundle (f, "rootfs", "");
  /* An empty config of our own: the host's runhv.toml must not matter.  */
  write_text (toml, "");
  assert_int_equal (runtime_context_init (&f->ctx, root, &err), 0);
  f->ctx.config_path = xstrdup (toml);
  f->ctx.backend = &fake_backend;
  memset (&fake, 0, sizeof (fake));
  snprintf (fake.root, sizeof (fake.root), "%s", root);
  fake.lock_probe = -1;
  *state = f;
  return 0;
}

static int
teardown (void **state)
{
  struct fixture *f = *state;
  runhv_error_t err = NULL;
  free ((char *)f->ctx.config_path);
  runtime_context_release (&f->ctx);
  assert_int_equal (rm_rf (f->dir, &err), 0);
  free (f->bundle);
  free (f);
  return 0;
}

static void
create (struct fixture *f, const char *id)
{
  struct create_options o = { .bundle = f->bundle, .owner = "test", .console_receiver = -1, .stdio = { -1, -1, -1 } };
  runhv_error_t err = NULL;
  cleanup_json json_t *doc = NULL;
  pid_t pid = -1;
  if (runtime_create (&f->ctx, id, &o, &pid, &err) < 0)
    fail_msg ("create `%s`: %s", id, err->msg);
  /* create reports the pid that state shows (the agent answers with it) */
  if (runtime_state (&f->ctx, id, &doc, &err) < 0)
    fail_msg ("state `%s`: %s", id, err->msg);
  assert_int_equal (pid, json_integer_value (json_object_get (doc, "pid")));
  assert_true (pid > 0);
}

static const char *
status_of (struct fixture *f, const char *id)
{
  static char buf[32];
  runhv_error_t err = NULL;
  cleanup_json json_t *doc = NULL;
  if (runtime_state (&f->ctx, id, &doc, &err) < 0)
    fail_msg ("state `%s`: %s", id, err->msg);
  snprintf (buf, sizeof (buf), "%s", json_string_value (json_object_get (doc, "status")));
  return buf;
}

static void
expect_error (int ret, runhv_error_t *err, const char *needle)
{
  assert_int_equal (ret, -1);
  assert_non_null (*err);
  if (strstr ((*err)->msg, needle) == NULL)
    fail_msg ("error `%s` lacks `%s`", (*err)->msg, needle);
  runhv_error_release (err);
}

static bool
on_record (struct fixture *f, const char *id)
{
  cleanup_free char *dir = xasprintf ("%s/%s", f->ctx.root, id);
  struct stat st;
  return stat (dir, &st) == 0;
}

/* ---- the tests ------------------------------------------------------- */

static void
test_lifecycle (void **state)
{
  struct fixture *f = *state;
  runhv_error_t err = NULL;
  cleanup_json json_t *doc = NULL;

  create (f, "c1");
  assert_int_equal (fake.calls[OP_CREATE], 1);
  assert_int_equal (runtime_state (&f->ctx, "c1", &doc, &err), 0);
  assert_string_equal (json_string_value (json_object_get (doc, "status")), "created");
  assert_int_equal (json_integer_value (json_object_get (doc, "pid")), FAKE_PID);
  assert_string_equal (json_string_value (json_object_get (doc, "owner")), "test");

  assert_int_equal (runtime_start (&f->ctx, "c1", &err), 0);
  assert_string_equal (status_of (f, "c1"), "running");
  assert_int_equal (runtime_pause (&f->ctx, "c1", &err), 0);
  assert_string_equal (status_of (f, "c1"), "paused");
  assert_int_equal (runtime_resume (&f->ctx, "c1", &err), 0);
  assert_string_equal (status_of (f, "c1"), "running");
  assert_int_equal (runtime_kill (&f->ctx, "c1", SIGKILL, false, &err), 0);
  assert_int_equal (fake.last_signal, SIGKILL);
  json_decref (doc);
  assert_int_equal (runtime_state (&f->ctx, "c1", &doc, &err), 0);
  assert_string_equal (json_string_value (json_object_get (doc, "status")), "stopped");
  /* a stopped container shows no pid, whatever is on record */
  assert_int_equal (json_integer_value (json_object_get (doc, "pid")), 0);

  assert_int_equal (runtime_delete (&f->ctx, "c1", false, &err), 0);
  assert_int_equal (fake.calls[OP_DESTROY], 1);
  assert_false (on_record (f, "c1"));
  expect_error (runtime_state (&f->ctx, "c1", &doc, &err), &err, "does not exist");
}

/* Each verb against each settled state: accepted (it reaches the
   backend) or refused with a message that names the state.  */
struct verb_case
{
  const char *verb;
  enum container_status status;
  bool accepted;
  const char *refusal;
};

static int
run_verb (struct fixture *f, const char *verb, const char *id, runhv_error_t *err)
{
  if (strcmp (verb, "start") == 0)
    return runtime_start (&f->ctx, id, err);
  if (strcmp (verb, "pause") == 0)
    return runtime_pause (&f->ctx, id, err);
  if (strcmp (verb, "resume") == 0)
    return runtime_resume (&f->ctx, id, err);
  if (strcmp (verb, "kill") == 0)
    return runtime_kill (&f->ctx, id, SIGTERM, false, err);
  if (strcmp (verb, "delete") == 0)
    return runtime_delete (&f->ctx, id, false, err);
  if (strcmp (verb, "update") == 0)
    {
      struct oci_resources r = { .has_pids_limit = true, .pids_limit = 10 };
      return runtime_update (&f->ctx, id, &r, err);
    }
  if (strcmp (verb, "exec") == 0)
    {
      struct oci_process p = { .args = (char *[]){ (char *)"true", NULL } };
      struct exec_options o = { .process = &p, .console_receiver = -1, .stdio = { -1, -1, -1 } };
      return runtime_exec (&f->ctx, id, &o, NULL, err);
    }
  fail_msg ("no verb %s", verb);
  return -1;
}

static enum fake_op
verb_op (const char *verb)
{
  static const char *const names[] = {
    [OP_START] = "start",   [OP_KILL] = "kill",     [OP_DESTROY] = "delete", [OP_EXEC] = "exec", [OP_PAUSE] = "pause",
    [OP_RESUME] = "resume", [OP_UPDATE] = "update", [OP_CREATE] = "",        [OP_PS] = "",       [OP_STATS] = ""
  };
  for (int i = 0; i < OP_COUNT; i++)
    if (strcmp (names[i], verb) == 0)
      return (enum fake_op)i;
  fail_msg ("no op for %s", verb);
  return OP_COUNT;
}

static void
test_verbs_by_state (void **state)
{
  struct fixture *f = *state;
  static const struct verb_case cases[] = {
    { "start", STATUS_CREATED, true, NULL },
    { "start", STATUS_RUNNING, false, "is running, not created" },
    { "start", STATUS_PAUSED, false, "is paused, not created" },
    { "start", STATUS_STOPPED, false, "is stopped, not created" },
    { "pause", STATUS_RUNNING, true, NULL },
    { "pause", STATUS_CREATED, false, "is created, not running" },
    { "pause", STATUS_PAUSED, false, "is paused, not running" },
    { "pause", STATUS_STOPPED, false, "is stopped, not running" },
    { "resume", STATUS_PAUSED, true, NULL },
    { "resume", STATUS_RUNNING, false, "is running, not paused" },
    { "resume", STATUS_CREATED, false, "is created, not paused" },
    { "kill", STATUS_CREATED, true, NULL },
    { "kill", STATUS_RUNNING, true, NULL },
    { "kill", STATUS_PAUSED, true, NULL },
    { "kill", STATUS_STOPPED, false, "is not running" },
    { "update", STATUS_CREATED, true, NULL },
    { "update", STATUS_RUNNING, true, NULL },
    { "update", STATUS_PAUSED, true, NULL },
    { "update", STATUS_STOPPED, false, "is stopped: only a created, running or paused" },
    { "exec", STATUS_CREATED, true, NULL },
    { "exec", STATUS_RUNNING, true, NULL },
    /* runc's words, which callers match on */
    { "exec", STATUS_PAUSED, false, "cannot exec in a paused container (use --ignore-paused to override)" },
    { "exec", STATUS_STOPPED, false, "is stopped: exec needs a running container" },
    { "delete", STATUS_RUNNING, false, "is running: stop it first" },
    { "delete", STATUS_PAUSED, false, "is paused: stop it first" },
    { "delete", STATUS_UNKNOWN, false, "is unknown: stop it first" },
    { "delete", STATUS_CREATED, true, NULL },
    { "delete", STATUS_STOPPED, true, NULL },
  };

  for (size_t i = 0; i < sizeof (cases) / sizeof (cases[0]); i++)
    {
      const struct verb_case *vc = &cases[i];
      char id[32];
      runhv_error_t err = NULL;
      enum fake_op op = verb_op (vc->verb);
      unsigned before;
      int ret;

      snprintf (id, sizeof (id), "v%zu", i);
      create (f, id);
      fake_set_status (id, vc->status);
      before = fake.calls[op];
      ret = run_verb (f, vc->verb, id, &err);
      if (vc->accepted)
        {
          if (ret < 0)
            fail_msg ("%s on a %s container: %s", vc->verb, container_status_name (vc->status), err->msg);
          assert_int_equal (fake.calls[op], before + 1);
        }
      else
        {
          if (ret == 0)
            fail_msg ("%s on a %s container was accepted", vc->verb, container_status_name (vc->status));
          expect_error (ret, &err, vc->refusal);
          assert_int_equal (fake.calls[op], before);
        }
      /* the fake's table is small: each case's container goes with it */
      fake_set_status (id, STATUS_STOPPED);
      if (on_record (f, id))
        assert_int_equal (runtime_delete (&f->ctx, id, true, &err), 0);
      fake_forget (id);
    }
}

static void
test_update_keeps_config_in_step (void **state)
{
  struct fixture *f = *state;
  runhv_error_t err = NULL;
  struct oci_resources r = { .has_pids_limit = true, .pids_limit = 64 };
  struct container_state *st = NULL;
  json_t *limit;

  create (f, "u1");
  assert_int_equal (runtime_update (&f->ctx, "u1", &r, &err), 0);
  /* a later open (here, a plain load) sees the new limit */
  assert_int_equal (state_load (f->ctx.root, "u1", &st, &err), 0);
  limit = json_object_get (
    json_object_get (json_object_get (json_object_get (st->config, "linux"), "resources"), "pids"), "limit");
  assert_non_null (limit);
  assert_int_equal (json_integer_value (limit), 64);
  container_state_free (st);
}

static void
test_create_failure_leaves_nothing (void **state)
{
  struct fixture *f = *state;
  struct create_options o = { .bundle = f->bundle, .owner = "test", .console_receiver = -1, .stdio = { -1, -1, -1 } };
  runhv_error_t err = NULL;
  json_t *list = NULL;

  fake.fail_create = true;
  expect_error (runtime_create (&f->ctx, "bad", &o, NULL, &err), &err,
                "create container `bad`: the fake was told to fail");
  assert_false (on_record (f, "bad"));
  assert_int_equal (runtime_list (&f->ctx, &list, &err), 0);
  assert_int_equal (json_array_size (list), 0);
  json_decref (list);

  /* a duplicate id is refused before the backend hears of it */
  fake.fail_create = false;
  create (f, "dup");
  expect_error (runtime_create (&f->ctx, "dup", &o, NULL, &err), &err, "already exists");
  assert_int_equal (fake.calls[OP_CREATE], 2);

  /* so is an id that is not one, and a bundle without a rootfs */
  expect_error (runtime_create (&f->ctx, "a/b", &o, NULL, &err), &err, "invalid character `/`");
  write_bundle (f, "missing", "");
  expect_error (runtime_create (&f->ctx, "norootfs", &o, NULL, &err), &err, "root.path: rootfs");
  assert_false (on_record (f, "norootfs"));
  assert_int_equal (fake.calls[OP_CREATE], 2);
}

/* A record whose create never finished: no pid, still marked creating.
   Whoever opens it holds the lock, so its create is dead: stopped, and a
   plain delete removes it.  Without the mark (pid not yet known and
   create not begun on record) it is "creating", which kill refuses.  */
static void
test_interrupted_create (void **state)
{
  struct fixture *f = *state;
  runhv_error_t err = NULL;
  struct container_state *st = NULL;

  create (f, "half");
  assert_int_equal (state_load (f->ctx.root, "half", &st, &err), 0);
  st->pid = 0;
  st->creating = true;
  assert_int_equal (state_save (f->ctx.root, st, &err), 0);
  assert_string_equal (status_of (f, "half"), "stopped");
  expect_error (runtime_kill (&f->ctx, "half", SIGTERM, false, &err), &err, "is not running");

  st->creating = false;
  assert_int_equal (state_save (f->ctx.root, st, &err), 0);
  assert_string_equal (status_of (f, "half"), "creating");
  expect_error (runtime_kill (&f->ctx, "half", SIGTERM, false, &err), &err, "is not running");
  expect_error (runtime_update (&f->ctx, "half", &(struct oci_resources){ 0 }, &err), &err, "is creating");
  assert_int_equal (fake.calls[OP_KILL] + fake.calls[OP_UPDATE], 0);
  container_state_free (st);

  assert_int_equal (runtime_delete (&f->ctx, "half", false, &err), 0);
  assert_false (on_record (f, "half"));
}

static void
test_unknown_status (void **state)
{
  struct fixture *f = *state;
  runhv_error_t err = NULL;
  json_t *doc = NULL;

  create (f, "lost");
  fake_set_status ("lost", STATUS_UNKNOWN);
  expect_error (runtime_state (&f->ctx, "lost", &doc, &err), &err, "runhv delete --force lost");
  assert_null (doc);
  assert_int_equal (runtime_delete (&f->ctx, "lost", true, &err), 0);
  assert_false (on_record (f, "lost"));
}

static void
test_kill_and_delete_arguments (void **state)
{
  struct fixture *f = *state;
  runhv_error_t err = NULL;

  create (f, "k1");
  /* signal 0 asks whether the init is alive and is passed on */
  assert_int_equal (runtime_kill (&f->ctx, "k1", 0, false, &err), 0);
  assert_int_equal (fake.last_signal, 0);
  expect_error (runtime_kill (&f->ctx, "k1", -1, false, &err), &err, "signal -1 is not valid");
  expect_error (runtime_kill (&f->ctx, "k1", NSIG, false, &err), &err, "is not valid");
  assert_int_equal (fake.calls[OP_KILL], 1);

  /* --force on a container that is not there: already deleted (runc) */
  assert_int_equal (runtime_delete (&f->ctx, "never", true, &err), 0);
  expect_error (runtime_delete (&f->ctx, "never", false, &err), &err, "does not exist");
  /* --force on a running one goes through the backend */
  fake_set_status ("k1", STATUS_RUNNING);
  assert_int_equal (runtime_delete (&f->ctx, "k1", true, &err), 0);
  assert_int_equal (fake.calls[OP_DESTROY], 1);
}

/* The lock: create and a plain exec hold it while the backend works; an
   exec into a paused container lets go first (the process waits frozen
   until resume, which needs the lock); a second caller waits its turn.  */
static void
test_locking (void **state)
{
  struct fixture *f = *state;
  runhv_error_t err = NULL;
  struct oci_process p = { .args = (char *[]){ (char *)"true", NULL } };
  struct exec_options o = { .process = &p, .console_receiver = -1, .stdio = { -1, -1, -1 } };
  struct container *c = NULL;
  pid_t child;
  int status;

  create (f, "l1");
  assert_int_equal (fake.lock_probe, EWOULDBLOCK);

  fake_set_status ("l1", STATUS_RUNNING);
  assert_int_equal (runtime_exec (&f->ctx, "l1", &o, NULL, &err), 0);
  assert_int_equal (fake.lock_probe, EWOULDBLOCK);
  assert_int_equal (o.pid, FAKE_PID + 1);

  fake_set_status ("l1", STATUS_PAUSED);
  o.ignore_paused = true;
  assert_int_equal (runtime_exec (&f->ctx, "l1", &o, NULL, &err), 0);
  assert_int_equal (fake.lock_probe, 0);

  /* Hold the lock the way every verb does; a kill from another process
     must wait for it, then go through.  */
  fake_set_status ("l1", STATUS_RUNNING);
  assert_int_equal (container_open (&f->ctx, "l1", &c, &err), 0);
  child = fork ();
  assert_true (child >= 0);
  if (child == 0)
    {
      runhv_error_t cerr = NULL;
      /* flock belongs to the open file, which fork shared with us: drop
         our copy, or the parent's close would not release it.  */
      close (c->lock_fd);
      _exit (runtime_kill (&f->ctx, "l1", SIGTERM, false, &cerr) == 0 && fake.calls[OP_KILL] == 1 ? 0 : 1);
    }
  usleep (300 * 1000);
  assert_int_equal (waitpid (child, &status, WNOHANG), 0); /* still waiting */
  container_free (c);
  assert_int_equal (waitpid (child, &status, 0), child);
  assert_true (WIFEXITED (status));
  assert_int_equal (WEXITSTATUS (status), 0);
}

static void
test_poststart_and_poststop_hooks (void **state)
{
  struct fixture *f = *state;
  runhv_error_t err = NULL;
  cleanup_free char *started = xasprintf ("%s/poststart.json", f->dir);
  cleanup_free char *stopped = xasprintf ("%s/poststop.json", f->dir);
  cleanup_free char *hooks
    = xasprintf (",\"hooks\":{\"poststart\":[{\"path\":\"/bin/sh\",\"args\":[\"sh\",\"-c\",\"cat > %s\"]}],"
                 "\"poststop\":[{\"path\":\"/bin/sh\",\"args\":[\"sh\",\"-c\",\"cat > %s; exit 1\"]}]}",
                 started, stopped);
  cleanup_free char *text = NULL;
  cleanup_json json_t *doc = NULL;

  write_bundle (f, "rootfs", hooks);
  create (f, "h1");
  assert_int_equal (access (started, F_OK), -1);
  assert_int_equal (runtime_start (&f->ctx, "h1", &err), 0);
  assert_int_equal (read_file (started, 0, &text, NULL, &err), 0);
  assert_int_equal (json_load_buffer (text, strlen (text), "poststart", &doc, &err), 0);
  assert_string_equal (json_string_value (json_object_get (doc, "id")), "h1");
  assert_string_equal (json_string_value (json_object_get (doc, "status")), "running");
  assert_int_equal (json_integer_value (json_object_get (doc, "pid")), FAKE_PID);

  /* a failing poststop hook is a warning: the delete still happens */
  fake_set_status ("h1", STATUS_STOPPED);
  assert_int_equal (runtime_delete (&f->ctx, "h1", false, &err), 0);
  assert_false (on_record (f, "h1"));
  free (text);
  text = NULL;
  assert_int_equal (read_file (stopped, 0, &text, NULL, &err), 0);
  assert_non_null (strstr (text, "\"status\":\"stopped\""));
}

static void
test_list_and_ps (void **state)
{
  struct fixture *f = *state;
  runhv_error_t err = NULL;
  cleanup_free pid_t *pids = NULL;
  json_t *list = NULL;
  size_t n = 0;

  create (f, "a1");
  create (f, "a2");
  assert_int_equal (runtime_start (&f->ctx, "a2", &err), 0);
  assert_int_equal (runtime_list (&f->ctx, &list, &err), 0);
  assert_int_equal (json_array_size (list), 2);
  assert_string_equal (json_string_value (json_object_get (json_array_get (list, 0), "status")), "created");
  assert_string_equal (json_string_value (json_object_get (json_array_get (list, 1), "status")), "running");
  json_decref (list);
  assert_int_equal (runtime_ps (&f->ctx, "a2", &pids, &n, &err), 0);
  assert_int_equal (n, 1);
  assert_int_equal (pids[0], FAKE_PID);
  expect_error (runtime_ps (&f->ctx, "nope", &pids, &n, &err), &err, "does not exist");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_lifecycle, setup, teardown),
    cmocka_unit_test_setup_teardown (test_verbs_by_state, setup, teardown),
    cmocka_unit_test_setup_teardown (test_update_keeps_config_in_step, setup, teardown),
    cmocka_unit_test_setup_teardown (test_create_failure_leaves_nothing, setup, teardown),
    cmocka_unit_test_setup_teardown (test_interrupted_create, setup, teardown),
    cmocka_unit_test_setup_teardown (test_unknown_status, setup, teardown),
    cmocka_unit_test_setup_teardown (test_kill_and_delete_arguments, setup, teardown),
    cmocka_unit_test_setup_teardown (test_locking, setup, teardown),
    cmocka_unit_test_setup_teardown (test_poststart_and_poststop_hooks, setup, teardown),
    cmocka_unit_test_setup_teardown (test_list_and_ps, setup, teardown),
  };
  return cmocka_run_group_tests_name ("runtime", tests, NULL, NULL);
}

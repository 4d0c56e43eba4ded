/* linux.resources.devices on cgroup v2: the generated BPF program, and its
   enforcement by the real kernel on a cgroup2 directory (BPF device
   programs attach to any, controllers or not: the hybrid host's
   /sys/fs/cgroup/unified will do).  Needs root.  */
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "process/cgroup-devices.h"
#include "core/util.h"

#define RULE(allow_, type_, major_, minor_, access_)                                                                   \
  {                                                                                                                    \
    .allow = (allow_), .type = (type_), .major = (major_), .minor = (minor_), .access = (access_)                      \
  }

static const struct oci_device_rule deny_all_but_null[] = {
  RULE (false, 'a', -1, -1, "rwm"),
  RULE (true, 'c', 1, 3, "rw"),
};

/* /dev/kmsg (1:11): /dev/null would be allowed again by the default list,
   which comes after the spec's rules, on v1 as here.  */
static const struct oci_device_rule later_overrides[] = {
  RULE (true, 'a', -1, -1, "rwm"),
  RULE (false, 'c', 1, 11, "w"),
};

static bool
is_exit (const struct bpf_insn *i)
{
  return i->code == (BPF_JMP | BPF_EXIT);
}

static void
test_program (void **state)
{
  struct oci_device_rule bad = RULE (true, 'c', 1ll << 33, 3, "rw");
  runhv_error_t err = NULL;
  (void)state;

  {
    cleanup_free struct bpf_insn *insns = NULL;
    size_t n = 0;
    assert_int_equal (cgroup_devices_program (deny_all_but_null, 2, &insns, &n, &err), 0);
    assert_true (n > 0);
    assert_true (is_exit (&insns[n - 1]));
  }
  {
    /* Only the defaults: they end in "allow whatever no rule covers".  */
    cleanup_free struct bpf_insn *insns = NULL;
    size_t n = 0;
    assert_int_equal (cgroup_devices_program (NULL, 0, &insns, &n, &err), 0);
    assert_true (n > 0);
    assert_true (is_exit (&insns[n - 1]));
    assert_int_equal (insns[n - 2].imm, 1);
  }
  {
    /* An "a" rule decides everything the defaults after it leave: the
       rules before it are not emitted (the verifier refuses unreachable
       code), nor is the final "allow".  */
    struct oci_device_rule rules[] = { RULE (true, 'c', 4, 1, "rw"), RULE (false, 'a', -1, -1, "rwm") };
    cleanup_free struct bpf_insn *insns = NULL;
    cleanup_free struct bpf_insn *insns_a = NULL;
    size_t n = 0, n_a = 0;
    assert_int_equal (cgroup_devices_program (rules, 2, &insns, &n, &err), 0);
    assert_int_equal (cgroup_devices_program (&rules[1], 1, &insns_a, &n_a, &err), 0);
    assert_int_equal (n, n_a);
    assert_true (is_exit (&insns[n - 1]));
    assert_int_equal (insns[n - 2].imm, 0);
  }
  assert_int_equal (cgroup_devices_program (&bad, 1, &(struct bpf_insn *){ NULL }, &(size_t){ 0 }, &err), -1);
  assert_non_null (strstr (err->msg, "linux.resources.devices[0].major"));
  runhv_error_release (&err);

  /* Not a cgroup2 directory: one line naming the field.  */
  {
    cleanup_close int tmp = open ("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true (tmp >= 0);
    assert_int_equal (cgroup_devices_apply_bpf (tmp, deny_all_but_null, 2, &err), -1);
    assert_non_null (strstr (err->msg, "linux.resources.devices: "));
    assert_null (strchr (err->msg, '\n'));
    runhv_error_release (&err);
  }
}

/* The cgroup2 mount: /sys/fs/cgroup on a unified host, /sys/fs/cgroup/unified
   on a hybrid one, else any.  */
static char *
cgroup2_mount (void)
{
  cleanup_file FILE *f = fopen ("/proc/self/mounts", "re");
  char dev[256], dir[4096], type[64];
  char *found = NULL;
  assert_non_null (f);
  while (fscanf (f, "%255s %4095s %63s %*[^\n]", dev, dir, type) == 3)
    {
      if (strcmp (type, "cgroup2") != 0)
        continue;
      if (found == NULL || strcmp (dir, "/sys/fs/cgroup") == 0
          || (strcmp (dir, "/sys/fs/cgroup/unified") == 0 && strcmp (found, "/sys/fs/cgroup") != 0))
        {
          free (found);
          found = xstrdup (dir);
        }
    }
  if (found == NULL)
    fail_msg ("this kernel has no cgroup2 mount: the BPF device program cannot be tested (mount cgroup2 "
              "somewhere, e.g. mount -t cgroup2 none /sys/fs/cgroup/unified)");
  return found;
}

/* 0 when a child placed in the cgroup dir can open path, else its errno.  */
static int
open_in (const char *dir, const char *path, int flags)
{
  int status = 0;
  pid_t pid = fork ();
  assert_true (pid >= 0);
  if (pid == 0)
    {
      char procs[4200];
      int fd;
      snprintf (procs, sizeof (procs), "%s/cgroup.procs", dir);
      if (write_file (procs, "0", 1, NULL) < 0)
        _exit (200);
      fd = open (path, flags | O_CLOEXEC);
      _exit (fd >= 0 ? 0 : errno);
    }
  assert_int_equal (waitpid (pid, &status, 0), pid);
  assert_true (WIFEXITED (status));
  if (WEXITSTATUS (status) == 200)
    fail_msg ("cannot move a child into %s/cgroup.procs", dir);
  return WEXITSTATUS (status);
}

/* How many device programs are attached to the directory itself.  */
static uint32_t
attached (int dfd)
{
  union bpf_attr attr;
  memset (&attr, 0, sizeof (attr));
  attr.query.target_fd = (uint32_t)dfd;
  attr.query.attach_type = BPF_CGROUP_DEVICE;
  if (syscall (SYS_bpf, BPF_PROG_QUERY, &attr, sizeof (attr)) < 0)
    fail_msg ("BPF_PROG_QUERY: %s", strerror (errno));
  return attr.query.prog_cnt;
}

/* The id of the one program attached to the cgroup itself.  */
static uint32_t
attached_id (int dfd)
{
  union bpf_attr attr;
  uint32_t id = 0;
  memset (&attr, 0, sizeof (attr));
  attr.query.target_fd = (uint32_t)dfd;
  attr.query.attach_type = BPF_CGROUP_DEVICE;
  attr.query.prog_ids = (uint64_t)(uintptr_t)&id;
  attr.query.prog_cnt = 1;
  if (syscall (SYS_bpf, BPF_PROG_QUERY, &attr, sizeof (attr)) < 0)
    fail_msg ("BPF_PROG_QUERY: %s", strerror (errno));
  assert_int_equal (attr.query.prog_cnt, 1);
  return id;
}

static void
apply (int dfd, const struct oci_device_rule *rules, size_t n)
{
  runhv_error_t err = NULL;
  if (cgroup_devices_apply_bpf (dfd, rules, n, &err) < 0)
    fail_msg ("%s", err->msg);
}

/* A fresh cgroup2 directory for the test; removed after it, pass or fail
   (the children have exited: it is empty, and its programs go with it).  */
static int
make_cgroup (void **state)
{
  cleanup_free char *mnt = cgroup2_mount ();
  char *dir = xasprintf ("%s/runhv-devtest-%d", mnt, (int)getpid ());
  if (mkdir (dir, 0755) < 0)
    fail_msg ("mkdir %s: %s", dir, strerror (errno));
  *state = dir;
  return 0;
}

static int
remove_cgroup (void **state)
{
  cleanup_free char *dir = *state;
  if (rmdir (dir) < 0)
    fail_msg ("rmdir %s: %s", dir, strerror (errno));
  return 0;
}

static void
test_enforced (void **state)
{
  const char *dir = *state;
  cleanup_close int dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  assert_true (dfd >= 0);

  /* A spec's usual rules: deny everything, then allow /dev/null.  */
  apply (dfd, deny_all_but_null, 2);
  assert_int_equal (attached (dfd), 1);
  assert_int_equal (open_in (dir, "/dev/null", O_RDWR), 0);
  assert_int_equal (open_in (dir, "/dev/kmsg", O_RDONLY), EPERM);
  assert_int_equal (open_in (dir, "/dev/zero", O_RDONLY), 0); /* the default list */

  /* An update replaces the program; a later rule overrides an earlier one.  */
  apply (dfd, later_overrides, 2);
  assert_int_equal (attached (dfd), 1);
  assert_int_equal (open_in (dir, "/dev/kmsg", O_WRONLY), EPERM);
  assert_int_equal (open_in (dir, "/dev/kmsg", O_RDONLY), 0);
  assert_int_equal (open_in (dir, "/dev/null", O_WRONLY), 0);

  /* The same rules again (an update that leaves them) attach the program
     already loaded: it stays, once, and still applies.  */
  apply (dfd, later_overrides, 2);
  assert_int_equal (attached (dfd), 1);
  assert_int_equal (open_in (dir, "/dev/kmsg", O_WRONLY), EPERM);
  assert_int_equal (open_in (dir, "/dev/kmsg", O_RDONLY), 0);

  /* No rules changes nothing, as on v1.  */
  apply (dfd, NULL, 0);
  assert_int_equal (attached (dfd), 1);
  assert_int_equal (open_in (dir, "/dev/kmsg", O_WRONLY), EPERM);
}

/* Two cgroups with the same rules share one loaded program (the verifier
   runs once); different rules get their own.  */
static void
test_program_shared (void **state)
{
  const char *dir = *state;
  cleanup_free char *a = xasprintf ("%s/a", dir);
  cleanup_free char *b = xasprintf ("%s/b", dir);
  cleanup_close int dfd_a = -1, dfd_b = -1;
  uint32_t id_a, id_b;

  assert_int_equal (mkdir (a, 0755), 0);
  assert_int_equal (mkdir (b, 0755), 0);
  dfd_a = open (a, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  dfd_b = open (b, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  assert_true (dfd_a >= 0 && dfd_b >= 0);
  apply (dfd_a, deny_all_but_null, 2);
  apply (dfd_b, deny_all_but_null, 2);
  id_a = attached_id (dfd_a);
  id_b = attached_id (dfd_b);
  assert_int_equal (id_a, id_b);
  assert_int_equal (open_in (b, "/dev/kmsg", O_RDONLY), EPERM);
  apply (dfd_b, later_overrides, 2);
  assert_int_not_equal (attached_id (dfd_b), id_a);
  assert_int_equal (attached_id (dfd_a), id_a);
  assert_int_equal (open_in (a, "/dev/kmsg", O_RDONLY), EPERM);
  assert_int_equal (open_in (b, "/dev/kmsg", O_RDONLY), 0);
  assert_int_equal (rmdir (a), 0);
  assert_int_equal (rmdir (b), 0);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_program),
    cmocka_unit_test_setup_teardown (test_enforced, make_cgroup, remove_cgroup),
    cmocka_unit_test_setup_teardown (test_program_shared, make_cgroup, remove_cgroup),
  };
  return cmocka_run_group_tests_name ("cgroup_devices", tests, NULL, NULL);
}

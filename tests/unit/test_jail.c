/* The VMM's jail: the pure parts (id ranges, the cgroup's place, QEMU's
   command line as the jail gives it paths and fds).  The jail itself runs
   in tests/integration/jail.bats, with real VMs.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "uvm/host.h"
#include "uvm/jail.h"
#include "core/util.h"

static void
test_id_base (void **state)
{
  int64_t a = uvm_jail_id_base ("pod-a", 0), b = uvm_jail_id_base ("pod-b", 0);
  (void)state;
  /* deterministic, in the documented window, aligned to a range */
  assert_int_equal (a, uvm_jail_id_base ("pod-a", 0));
  assert_true (a >= UVM_JAIL_DEFAULT_ID_BASE);
  assert_true (a + UVM_JAIL_ID_RANGE <= UVM_JAIL_DEFAULT_ID_BASE + (int64_t)UVM_JAIL_SLOTS * UVM_JAIL_ID_RANGE);
  assert_int_equal ((a - UVM_JAIL_DEFAULT_ID_BASE) % UVM_JAIL_ID_RANGE, 0);
  assert_int_not_equal (a, b);
  /* a configured base moves the window */
  assert_int_equal (uvm_jail_id_base ("pod-a", 200000) - 200000, a - UVM_JAIL_DEFAULT_ID_BASE);
}

static void
test_cgroup_parent (void **state)
{
  (void)state;
  assert_null (uvm_jail_cgroup_parent (NULL, false));
  assert_null (uvm_jail_cgroup_parent ("", false));
  assert_null (uvm_jail_cgroup_parent ("/ctr", false));
  assert_string_equal (uvm_jail_cgroup_parent ("/kubepods/besteffort/pod1/ctr", false), "/kubepods/besteffort/pod1");
  assert_string_equal (uvm_jail_cgroup_parent ("kubepods-besteffort-pod1.slice:cri-containerd:abc", true),
                       "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice");
  {
    struct uvm_launch l = { .id = "vm1" };
    cleanup_free char *p1 = uvm_jail_cgroup_path (&l), *p2 = NULL;
    assert_string_equal (p1, "/runhv/runhv-vm-vm1");
    l.cgroup_parent = "/kubepods/pod1";
    p2 = uvm_jail_cgroup_path (&l);
    assert_string_equal (p2, "/kubepods/pod1/runhv-vm-vm1");
  }
}

static void
test_argv_in_jail (void **state)
{
  struct uvm_artifacts art = { .kernel = (char *)"/host/vmlinux",
                               .initrd = (char *)"/host/initrd",
                               .qemu = (char *)"/usr/bin/qemu-system-x86_64" };
  struct uvm_launch l = { .id = "vm1",
                          .art = &art,
                          .accel = "tcg",
                          .memory_mb = 128,
                          .cpus = 1,
                          .shared_dir = "/run/x/vm1/shared",
                          .shared_fs = "9p",
                          .agent_fd = 9,
                          .console_log = "/host/console.log",
                          .vmm_log = "/host/vmm.log",
                          .tap_fd = -1 };
  cleanup_strv char **v = uvm_vmm_argv (&l);
  (void)state;
  assert_string_equal (v[0], UVM_JAIL_VMM);
  /* no host path reaches QEMU's command line: the jail has none of them */
  for (size_t i = 0; v[i]; i++)
    {
      assert_null (strstr (v[i], "/host/"));
      assert_null (strstr (v[i], "/run/x"));
    }
  {
    bool kernel = false, fsdev = false, console = false, tb = false, arat = false;
    for (size_t i = 0; v[i]; i++)
      {
        kernel |= strcmp (v[i], UVM_JAIL_KERNEL) == 0;
        fsdev |= strstr (v[i], "path=" UVM_JAIL_SHARED ",security_model=none") != NULL;
        console |= strstr (v[i], "fd=5,set=1") != NULL;
        tb |= strstr (v[i], "tb-size=" UVM_JAIL_TB_SIZE_MB_STR) != NULL;
        arat |= strcmp (v[i], "qemu64,+arat") == 0 && strcmp (v[i - 1], "-cpu") == 0;
      }
    assert_true (kernel && fsdev && console && tb && arat);
  }
  /* A VM from a template loads it from the jail's fd; a template's maker
     gets a monitor on its own.  Neither appears otherwise.  */
  for (size_t i = 0; v[i]; i++)
    assert_true (strcmp (v[i], "-incoming") != 0 && strcmp (v[i], "-mon") != 0);
  {
    cleanup_strv char **r = NULL;
    bool incoming = false, mon = false;
    l.restore = true;
    l.restore_fd = 11;
    l.qmp = true;
    l.qmp_fd = 12;
    r = uvm_vmm_argv (&l);
    for (size_t i = 1; r[i]; i++)
      {
        incoming |= strcmp (r[i - 1], "-incoming") == 0 && strcmp (r[i], "defer") == 0;
        mon |= strcmp (r[i - 1], "-chardev") == 0 && strcmp (r[i], "socket,id=qmp,fd=8") == 0;
      }
    assert_true (incoming && mon);
  }
}

/* QEMU's maps name its paths: only the jail's kernel and initramfs, named
   exactly, and private read-only file mappings (its code, its libraries')
   are taken for reclaim; nothing anonymous, shared, written or a device. */
static void
test_startup_mapping (void **state)
{
  unsigned long lo = 0, hi = 0;
  (void)state;
  assert_true (
    uvm_vmm_startup_mapping ("7f21c4200000-7f21c4c23000 rw-p 00000000 fe:00 11010559    /kernel\n", &lo, &hi));
  assert_true (lo == 0x7f21c4200000UL && hi == 0x7f21c4c23000UL);
  assert_true (uvm_vmm_startup_mapping ("1000-3000 r--p 00000000 fe:00 7 /initrd", &lo, &hi));
  assert_true (lo == 0x1000 && hi == 0x3000);
  /* QEMU's text and read-only data, a library's */
  assert_true (uvm_vmm_startup_mapping ("55d0a0000000-55d0a0597000 r-xp 00200000 fe:00 12 /vmm\n", &lo, &hi));
  assert_true (lo == 0x55d0a0000000UL && hi == 0x55d0a0597000UL);
  assert_true (
    uvm_vmm_startup_mapping ("4000-5000 r--p 00000000 fe:00 9 /usr/lib/x86_64-linux-gnu/libglib-2.0.so.0\n", &lo, &hi));
  /* written, shared, anonymous, a device, a memfd, a replaced file */
  assert_false (uvm_vmm_startup_mapping ("1000-3000 rw-p 00000000 fe:00 12 /vmm", &lo, &hi));
  assert_false (uvm_vmm_startup_mapping ("1000-3000 r--s 00000000 fe:00 12 /vmm", &lo, &hi));
  assert_false (uvm_vmm_startup_mapping ("1000-3000 r--p 00000000 00:00 0 /vmm", &lo, &hi));
  assert_false (uvm_vmm_startup_mapping ("1000-3000 r--p 00000000 00:05 4 /dev/zero", &lo, &hi));
  assert_false (uvm_vmm_startup_mapping ("1000-3000 r-xp 00000000 00:01 4 /memfd:tcg-jit", &lo, &hi));
  assert_false (uvm_vmm_startup_mapping ("1000-3000 r-xp 00000000 fe:00 12 /vmm (deleted)", &lo, &hi));
  assert_false (uvm_vmm_startup_mapping ("1000-3000 r--p 00000000 00:00 0 [vdso]", &lo, &hi));
  assert_false (uvm_vmm_startup_mapping ("1000-3000 r--p 00000000 fe:00 7 /kernel x", &lo, &hi));
  assert_false (uvm_vmm_startup_mapping ("1000-3000 rw-p 00000000 fe:00 7 /shared/kernel", &lo, &hi));
  assert_false (uvm_vmm_startup_mapping ("1000-3000 r--p 00000000 fe:00 7\t/vmm", &lo, &hi));
  assert_false (uvm_vmm_startup_mapping ("3000-1000 r--p 00000000 fe:00 7 /kernel", &lo, &hi));
  assert_false (uvm_vmm_startup_mapping ("1000-1000 r--p 00000000 fe:00 7 /kernel", &lo, &hi));
  assert_false (uvm_vmm_startup_mapping ("1000-3000 rw-p 00000000 00:00 0", &lo, &hi));
  assert_false (uvm_vmm_startup_mapping ("", &lo, &hi));
  {
    /* a path longer than the parser reads is not taken for a shorter one */
    cleanup_free char *longer = xasprintf ("1000-3000 r--p 00000000 fe:00 7 /%0300d", 0);
    assert_false (uvm_vmm_startup_mapping (longer, &lo, &hi));
  }
}

static void
write_text (const char *path, const char *text)
{
  runhv_error_t err = NULL;
  if (write_file_atomic (path, text, strlen (text), 0600, &err) < 0)
    fail_msg ("%s", err->msg);
}

/* Where the host kernel's perf page gives the TSC rate, that is the rate
   and nothing is cached.  Otherwise the rate is timed once per host boot:
   a cache file for this boot is believed, one for another boot or with a
   rate no TSC has is not, and a measurement is recorded with the boot it
   holds for.  */
static void
test_tsc_cache (void **state)
{
  char dir[] = "/tmp/runhv-tsc-XXXXXX";
  cleanup_free char *boot_id = NULL, *path = NULL, *text = NULL;
  long perf = uvm_host_tsc_khz_from_perf ();
  bool reliable;
  long khz;
  (void)state;
  assert_non_null (mkdtemp (dir));
  path = xasprintf ("%s/tsc-khz.json", dir);
  assert_int_equal (read_file ("/proc/sys/kernel/random/boot_id", 64, &boot_id, NULL, NULL), 0);
  boot_id[strcspn (boot_id, "\n")] = '\0';

  if (perf > 0)
    {
      write_text (path, "{}");
      assert_int_equal (uvm_host_tsc_khz (dir, &reliable), perf);
      assert_int_equal (read_file (path, 4096, &text, NULL, NULL), 0);
      assert_string_equal (text, "{}");
      unlink (path);
      rmdir (dir);
      return;
    }

  /* nothing cached: timed, and recorded for this boot */
  khz = uvm_host_tsc_khz (dir, &reliable);
  assert_true (khz >= 100000 && khz <= 100000000);
  assert_int_equal (read_file (path, 4096, &text, NULL, NULL), 0);
  assert_non_null (strstr (text, boot_id));
  free (text);
  text = NULL;

  /* this boot's record is believed (no rate timed here is 1234567 kHz to
     the kHz) */
  {
    cleanup_free char *doc = xasprintf ("{\"key\":\"%s\",\"khz\":1234567}", boot_id);
    write_text (path, doc);
  }
  assert_int_equal (uvm_host_tsc_khz (dir, &reliable), 1234567);

  /* another boot's record is not, and is replaced */
  write_text (path, "{\"key\":\"00000000-0000-0000-0000-000000000000\",\"khz\":1234567}");
  khz = uvm_host_tsc_khz (dir, &reliable);
  assert_int_not_equal (khz, 1234567);
  assert_int_equal (read_file (path, 4096, &text, NULL, NULL), 0);
  assert_non_null (strstr (text, boot_id));

  /* a rate no TSC has is not */
  {
    cleanup_free char *doc = xasprintf ("{\"key\":\"%s\",\"khz\":5}", boot_id);
    write_text (path, doc);
  }
  assert_int_not_equal (uvm_host_tsc_khz (dir, &reliable), 5);

  /* no cache directory: timed all the same */
  khz = uvm_host_tsc_khz (NULL, &reliable);
  assert_true (khz >= 100000 && khz <= 100000000);
  unlink (path);
  rmdir (dir);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_id_base),      cmocka_unit_test (test_cgroup_parent),
    cmocka_unit_test (test_argv_in_jail), cmocka_unit_test (test_startup_mapping),
    cmocka_unit_test (test_tsc_cache),
  };
  return cmocka_run_group_tests_name ("jail", tests, NULL, NULL);
}

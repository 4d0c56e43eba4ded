#include "uvm/host.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include "core/json.h"
#include "core/log.h"
#include "runhv-config.h"
#include "core/util.h"
#include "core/banned.h"

const char *
uvm_default_guest_dir (void)
{
  const char *env = getenv ("RUNHV_GUEST_DIR");
  struct stat st;
  if (env != NULL && env[0] != '\0')
    return env;
  /* Installed artifacts first, then the build tree's (for a checkout).  */
  if (stat (RUNHV_DATADIR "/initramfs.cpio", &st) == 0)
    return RUNHV_DATADIR;
  return RUNHV_SOURCE_ROOT "/build/guest";
}

static char *
find_program (const char *name)
{
  static const char *const dirs[] = { "/usr/local/bin", "/usr/bin", "/bin", "/usr/local/sbin", "/usr/sbin", NULL };
  for (size_t i = 0; dirs[i]; i++)
    {
      cleanup_free char *p = xasprintf ("%s/%s", dirs[i], name);
      if (access (p, X_OK) == 0)
        return steal_ptr (&p);
    }
  return NULL;
}

static char *
read_line (const char *path)
{
  char *s = NULL;
  if (read_file (path, 256, &s, NULL, NULL) < 0)
    return NULL;
  s[strcspn (s, "\n")] = '\0';
  return s;
}

void
uvm_artifacts_release (struct uvm_artifacts *a)
{
  free (a->kernel);
  free (a->initrd);
  free (a->qemu);
  free (a->virtiofsd);
  free (a->kernel_release);
  free (a->initrd_release);
  memset (a, 0, sizeof (*a));
}

int
uvm_artifacts_find (const struct runhv_config *cfg, struct uvm_artifacts *out, runhv_error_t *err)
{
  const char *dir = uvm_default_guest_dir ();
  memset (out, 0, sizeof (*out));
  out->kernel = cfg && cfg->kernel ? xstrdup (cfg->kernel) : xasprintf ("%s/vmlinux", dir);
  if (cfg && cfg->initrd)
    out->initrd = xstrdup (cfg->initrd);
  else if (cfg && cfg->kernel)
    {
      /* A kernel named in runhv.toml brings the initramfs beside it when
         there is one (build/guest/generic holds the generic kernel and the
         initramfs with its modules), so `[vm] kernel` alone switches both.  */
      cleanup_free char *kdir = xstrdup (cfg->kernel), *beside = NULL;
      char *slash = strrchr (kdir, '/');
      if (slash != NULL)
        *slash = '\0';
      beside = xasprintf ("%s/initramfs.cpio", slash != NULL ? kdir : ".");
      out->initrd = access (beside, R_OK) == 0 ? steal_ptr (&beside) : xasprintf ("%s/initramfs.cpio", dir);
    }
  else
    out->initrd = xasprintf ("%s/initramfs.cpio", dir);
  out->qemu = cfg && cfg->qemu ? xstrdup (cfg->qemu) : find_program ("qemu-system-x86_64");
  if (access (out->kernel, R_OK) < 0)
    {
      runhv_make_error (err, errno,
                        "hypervisor isolation: guest kernel `%s` is missing (provision it with `make guest` or "
                        "scripts/setup.sh, or set [vm] kernel in runhv.toml)",
                        out->kernel);
      goto fail;
    }
  if (access (out->initrd, R_OK) < 0)
    {
      runhv_make_error (err, errno,
                        "hypervisor isolation: initramfs `%s` is missing (build it with `make guest`, or set [vm] "
                        "initrd in runhv.toml)",
                        out->initrd);
      goto fail;
    }
  if (out->qemu == NULL || access (out->qemu, X_OK) < 0)
    {
      runhv_error (err, "hypervisor isolation: QEMU (qemu-system-x86_64) is not installed (apt-get install "
                        "qemu-system-x86, or set [vm] qemu in runhv.toml)");
      goto fail;
    }
  if (cfg && cfg->shared_fs && strcmp (cfg->shared_fs, "virtiofs") == 0)
    {
      out->virtiofsd = cfg->virtiofsd ? xstrdup (cfg->virtiofsd) : xstrdup ("/usr/lib/qemu/virtiofsd");
      if (access (out->virtiofsd, X_OK) < 0)
        {
          runhv_make_error (err, errno,
                            "vm.shared_fs = virtiofs but `%s` is missing (install qemu-system-x86 or "
                            "set [vm] virtiofsd)",
                            out->virtiofsd);
          goto fail;
        }
    }
  {
    cleanup_free char *kdir = xstrdup (out->kernel), *rel = NULL, *irel = NULL;
    char *slash = strrchr (kdir, '/');
    if (slash)
      *slash = '\0';
    rel = xasprintf ("%s/kernel-release", slash ? kdir : ".");
    irel = xasprintf ("%s.kernel-release", out->initrd);
    out->kernel_release = read_line (rel);
    out->initrd_release = read_line (irel);
    /* Provisioning stamps what it put there (scripts/build-guest-kernel.sh,
       scripts/provision-guest-kernel.sh).  */
    {
      cleanup_free char *stamp_path = xasprintf ("%s/.provisioned", slash ? kdir : ".");
      cleanup_free char *stamp = read_line (stamp_path);
      if (stamp && strncmp (stamp, "lean ", 5) == 0)
        out->kernel_kind = "runhv's lean kernel, built from guest/kernel.config";
      else if (stamp && strncmp (stamp, "pkg=", 4) == 0)
        out->kernel_kind = "Debian's generic kernel, the fallback";
      else
        out->kernel_kind = "a kernel runhv did not provision";
    }
  }
  return 0;
fail:
  uvm_artifacts_release (out);
  return -1;
}

/* Verdicts that hold for this host boot (the KVM probe's, the TSC rate),
   kept in files under /run, which a reboot empties.  A record is believed
   only when its "key" is the caller's (the boot's id in it).  */
static json_t *
host_cache_load (const char *path, const char *what, const char *key)
{
  json_t *j = NULL;
  if (json_load_path (path, what, 65536, &j, NULL) < 0)
    return NULL;
  if (strcmp (json_string_value (json_object_get (j, "key")) ?: "", key) != 0)
    {
      json_decref (j);
      return NULL;
    }
  return j;
}

/* A hint for the next caller: a failure to write it only costs them the
   measurement again.  */
static void
host_cache_store (const char *dir, const char *path, json_t *j)
{
  cleanup_free char *text = json_dumps (j, JSON_COMPACT);
  if (text == NULL)
    return;
  mkdir_p (dir, 0700, NULL);
  write_file_atomic (path, text, strlen (text), 0600, NULL);
}

/* A rate outside 100 MHz..100 GHz is no TSC's: a cache file with one is
   ignored (and the guest calibrates by itself when we know none).  */
#define TSC_KHZ_MIN 100000L
#define TSC_KHZ_MAX 100000000L

long
uvm_host_tsc_khz_from_perf (void)
{
  /* The host kernel's own TSC rate, from a perf mmap page's conversion
     factors, offered only while its clocksource is the TSC.  */
  struct perf_event_attr attr;
  long pg = sysconf (_SC_PAGESIZE), khz = 0;
  int fd;
  memset (&attr, 0, sizeof (attr));
  attr.size = sizeof (attr);
  attr.type = PERF_TYPE_SOFTWARE;
  attr.config = PERF_COUNT_SW_DUMMY;
  attr.exclude_kernel = 1;
  fd = (int)syscall (SYS_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
  if (fd >= 0)
    {
      struct perf_event_mmap_page *p = mmap (NULL, (size_t)pg, PROT_READ, MAP_SHARED, fd, 0);
      close (fd);
      if (p != MAP_FAILED)
        {
          if (p->cap_user_time && p->time_mult)
            khz = (long)(((unsigned __int128)1000000 << p->time_shift) / p->time_mult);
          munmap (p, (size_t)pg);
        }
    }
  return khz >= TSC_KHZ_MIN && khz <= TSC_KHZ_MAX ? khz : 0;
}

/* The TSC timed over 10 ms of the monotonic clock, three times: the
   median, so that one preemption between the clock and the TSC reads does
   not make the rate of a whole boot's VMs.  */
static long
host_tsc_khz_timed (void)
{
  long k[3];
  for (int i = 0; i < 3; i++)
    {
      struct timespec t0, t1, d = { 0, 10 * 1000 * 1000 };
      uint64_t c0, c1;
      clock_gettime (CLOCK_MONOTONIC_RAW, &t0);
      c0 = __rdtsc ();
      nanosleep (&d, NULL);
      clock_gettime (CLOCK_MONOTONIC_RAW, &t1);
      c1 = __rdtsc ();
      k[i]
        = (long)((double)(c1 - c0) * 1e6 / ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)));
    }
  if (k[0] > k[1])
    {
      long t = k[0];
      k[0] = k[1];
      k[1] = t;
    }
  if (k[1] > k[2])
    k[1] = k[2] > k[0] ? k[2] : k[0];
  return k[1] >= TSC_KHZ_MIN && k[1] <= TSC_KHZ_MAX ? k[1] : 0;
}

long
uvm_host_tsc_khz (const char *cache_dir, bool *reliable)
{
  /* Where the perf page gives no rate (a VM host on kvm-clock), the rate
     is timed once per host boot, not for 30 ms before every VM.  */
  long khz = uvm_host_tsc_khz_from_perf ();
  cleanup_free char *boot_id = khz == 0 ? read_line ("/proc/sys/kernel/random/boot_id") : NULL;
  cleanup_free char *cache = khz == 0 && cache_dir ? xasprintf ("%s/tsc-khz.json", cache_dir) : NULL;
  if (khz == 0 && cache != NULL && boot_id != NULL)
    {
      cleanup_json json_t *j = host_cache_load (cache, "TSC rate cache", boot_id);
      json_int_t v = json_integer_value (json_object_get (j, "khz"));
      if (v >= TSC_KHZ_MIN && v <= TSC_KHZ_MAX)
        khz = (long)v;
    }
  if (khz == 0)
    {
      khz = host_tsc_khz_timed ();
      if (khz > 0 && cache != NULL && boot_id != NULL)
        {
          cleanup_json json_t *j = json_pack ("{s:s,s:I}", "key", boot_id, "khz", (json_int_t)khz);
          host_cache_store (cache_dir, cache, j);
        }
    }
  /* The guest may trust the TSC when the host kernel keeps its own time
     with it.  */
  {
    cleanup_free char *cs = read_line ("/sys/devices/system/clocksource/clocksource0/current_clocksource");
    *reliable = khz > 0 && cs != NULL && strcmp (cs, "tsc") == 0;
  }
  return khz;
}

int64_t
uvm_host_memory_mb (void)
{
  long pages = sysconf (_SC_PHYS_PAGES), size = sysconf (_SC_PAGESIZE);
  return pages > 0 && size > 0 ? (int64_t)pages * size / (1 << 20) : 1024;
}

int64_t
uvm_host_cpus (void)
{
  long n = sysconf (_SC_NPROCESSORS_ONLN);
  return n > 0 ? n : 1;
}

/* Boot the guest kernel under KVM with no initramfs: a working KVM runs
   every initcall and panics on the missing root filesystem, and with
   panic=-1 -no-reboot QEMU exits.  A KVM that cannot run the guest (this
   kind of nested host: emulation failures) spins or reports an internal
   error.  */
static bool
kvm_probe (const struct uvm_artifacts *a, char **why)
{
  char tmpl[] = "/tmp/runhv-kvmprobe-XXXXXX";
  cleanup_free char *serial = NULL, *serial_arg = NULL, *text = NULL;
  pid_t pid;
  int status = 0, pidfd;
  bool exited = false, ok = false;
  struct pollfd p;

  if (access ("/dev/kvm", R_OK | W_OK) < 0)
    {
      *why = xstrdup ("/dev/kvm is not accessible");
      return false;
    }
  if (mkdtemp (tmpl) == NULL)
    {
      *why = xstrdup ("cannot make a temporary directory for the KVM probe");
      return false;
    }
  serial = xasprintf ("%s/serial", tmpl);
  serial_arg = xasprintf ("file:%s", serial);
  pid = fork ();
  if (pid == 0)
    {
      int null = open ("/dev/null", O_RDWR);
      char *argv[] = { a->qemu,
                       (char *)"-nodefaults",
                       (char *)"-no-user-config",
                       (char *)"-display",
                       (char *)"none",
                       (char *)"-M",
                       (char *)"microvm,acpi=on",
                       (char *)"-accel",
                       (char *)"kvm",
                       (char *)"-m",
                       (char *)"128M",
                       (char *)"-kernel",
                       a->kernel,
                       (char *)"-append",
                       (char *)"earlyprintk=ttyS0 console=ttyS0 panic=-1 root=/dev/nonexistent loglevel=1",
                       (char *)"-serial",
                       serial_arg,
                       (char *)"-no-reboot",
                       NULL };
      dup2 (null, 0);
      dup2 (null, 1);
      dup2 (null, 2);
      /* The probe's QEMU gets stdio on /dev/null and nothing else of ours.  */
      close_fds_except (NULL, 0);
      execv (a->qemu, argv);
      _exit (127);
    }
  if (pid < 0)
    {
      *why = xstrdup ("cannot fork the KVM probe");
      return false;
    }
  pidfd = (int)syscall (SYS_pidfd_open, pid, 0);
  p = (struct pollfd){ .fd = pidfd, .events = POLLIN };
  if (pidfd >= 0 && poll (&p, 1, 2000) == 1)
    exited = true;
  if (!exited)
    kill (pid, SIGKILL);
  waitpid (pid, &status, 0);
  if (pidfd >= 0)
    close (pidfd);
  if (read_file (serial, 1 << 20, &text, NULL, NULL) == 0 && exited && WIFEXITED (status) && WEXITSTATUS (status) == 0
      && strstr (text, "Kernel panic - not syncing") != NULL)
    ok = true;
  if (ok)
    *why = xstrdup ("KVM booted the guest kernel in a probe");
  else if (!exited)
    *why = xstrdup ("KVM is present but did not boot the guest kernel within 2 s (a nested or emulating hypervisor)");
  else
    *why = xasprintf ("KVM is present but QEMU failed the probe boot (exit status %d)",
                      WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status));
  unlink (serial);
  rmdir (tmpl);
  return ok;
}

int
uvm_accel_resolve (const struct runhv_config *cfg, const struct uvm_artifacts *a, const char *cache_dir, char **accel,
                   char **why, runhv_error_t *err)
{
  const char *want = cfg && cfg->accelerator ? cfg->accelerator : "auto";
  cleanup_free char *boot_id = read_line ("/proc/sys/kernel/random/boot_id");
  cleanup_free char *cache = NULL;
  cleanup_free char *key = NULL;
  struct stat kst;
  bool usable;
  uint64_t kernel_hash = 1469598103934665603ULL; /* FNV-1a */

  /* One verdict per kernel: a host that switches between kernels (the lean
     default and the generic fallback) must not probe again at each switch.  */
  for (const char *p = a->kernel; *p; p++)
    kernel_hash = (kernel_hash ^ (unsigned char)*p) * 1099511628211ULL;
  cache = xasprintf ("%s/kvm-probe-%016llx.json", cache_dir, (unsigned long long)kernel_hash);

  if (strcmp (want, "tcg") == 0)
    {
      *accel = xstrdup ("tcg");
      *why = xstrdup ("vm.accelerator = tcg");
      return 0;
    }
  if (strcmp (want, "kvm") == 0)
    {
      if (access ("/dev/kvm", R_OK | W_OK) < 0)
        return runhv_make_error (err, errno,
                                 "vm.accelerator = kvm but /dev/kvm is not usable (load kvm_intel or "
                                 "kvm_amd, or set vm.accelerator = \"auto\")");
      *accel = xstrdup ("kvm");
      *why = xstrdup ("vm.accelerator = kvm");
      return 0;
    }
  /* auto: the probe's answer holds for this host boot, this kernel and this
     QEMU.  */
  if (stat (a->kernel, &kst) < 0)
    kst.st_mtime = 0;
  key = xasprintf ("%s|%s|%ld|%s", boot_id ? boot_id : "", a->kernel, (long)kst.st_mtime, a->qemu);
  {
    cleanup_json json_t *j = host_cache_load (cache, "kvm probe cache", key);
    if (j != NULL)
      {
        usable = json_is_true (json_object_get (j, "kvm"));
        *accel = xstrdup (usable ? "kvm" : "tcg");
        *why = xasprintf ("auto: %s (cached)", json_string_value (json_object_get (j, "why")) ?: "");
        return 0;
      }
  }
  {
    cleanup_free char *reason = NULL;
    cleanup_json json_t *j = NULL;
    usable = kvm_probe (a, &reason);
    j = json_pack ("{s:s,s:b,s:s}", "key", key, "kvm", usable, "why", reason);
    host_cache_store (cache_dir, cache, j);
    *accel = xstrdup (usable ? "kvm" : "tcg");
    *why = xasprintf ("auto: %s", reason);
  }
  return 0;
}

#include "vmm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent-proto.h"
#include "util.h"
#include "banned.h"

#define CHILD_AGENT_FD 3
#define CHILD_TAP_FD 4
#define CHILD_VFS_FD 5

static void
add (char ***v, const char *s)
{
  strv_append (v, s);
}

static void addf (char ***v, const char *fmt, ...) RUNHV_PRINTF (2, 3);

static void
addf (char ***v, const char *fmt, ...)
{
  va_list ap;
  char *s = NULL;
  va_start (ap, fmt);
  if (vasprintf (&s, fmt, ap) < 0)
    s = NULL;
  va_end (ap);
  if (s)
    strv_append (v, s);
  free (s);
}

char **
uvm_vmm_argv (const struct uvm_launch *l)
{
  char **v = xmalloc0 (sizeof (char *));
  cleanup_free char *append = NULL;

  add (&v, l->art->qemu);
  addf (&v, "-name");
  addf (&v, "runhv-uvm-%s,process=runhv-uvm-%s", l->id, l->id);
  add (&v, "-nodefaults");
  add (&v, "-no-user-config");
  add (&v, "-nographic");
  /* microvm: virtio-mmio devices only, no PCI, no firmware; PVH boot of the
     uncompressed kernel.  ACPI stays on: this kernel needs it to power off. */
  add (&v, "-M");
  add (&v, "microvm,acpi=on");
  add (&v, "-accel");
  add (&v, strcmp (l->accel, "kvm") == 0 ? "kvm" : "tcg,thread=multi");
  if (strcmp (l->accel, "kvm") == 0)
    {
      add (&v, "-cpu");
      add (&v, "host");
    }
  add (&v, "-m");
  addf (&v, "%lldM", (long long)l->memory_mb);
  add (&v, "-smp");
  addf (&v, "%lld", (long long)l->cpus);
  add (&v, "-kernel");
  add (&v, l->art->kernel);
  add (&v, "-initrd");
  add (&v, l->art->initrd);
  /* quiet: every console byte is an emulated UART write under TCG;
     cryptomgr.notests skips boot-time self tests; tsc_early_khz spares the
     guest a TSC calibration that microvm cannot do reliably.  */
  {
    char tsc[48] = "";
    if (l->tsc_khz > 0)
      snprintf (tsc, sizeof (tsc), " tsc_early_khz=%ld", l->tsc_khz);
    append = xasprintf ("console=ttyS0 %s panic=-1 rdinit=/init cryptomgr.notests%s runhv.fs=%s runhv.port=%s%s%s",
                        l->debug ? "loglevel=7" : "quiet", tsc, l->shared_fs, AGENT_PORT_NAME,
                        l->net_cmdline ? " runhv.net=" : "", l->net_cmdline ? l->net_cmdline : "");
  }
  add (&v, "-append");
  add (&v, append);
  add (&v, "-serial");
  addf (&v, "file:%s", l->console_log);
  add (&v, "-device");
  add (&v, "virtio-serial-device,max_ports=2");
  add (&v, "-chardev");
  addf (&v, "socket,id=agent,fd=%d", CHILD_AGENT_FD);
  add (&v, "-device");
  addf (&v, "virtserialport,chardev=agent,name=%s", AGENT_PORT_NAME);
  add (&v, "-no-reboot");
  /* A guest kernel panic ends QEMU with a failure status the supervisor
     reports as such.  */
  add (&v, "-device");
  add (&v, "pvpanic");
  add (&v, "-action");
  add (&v, "panic=exit-failure");
  if (strcmp (l->shared_fs, "virtiofs") == 0)
    {
      add (&v, "-object");
      addf (&v, "memory-backend-memfd,id=mem,size=%lldM,share=on", (long long)l->memory_mb);
      add (&v, "-machine");
      add (&v, "memory-backend=mem");
      add (&v, "-global");
      add (&v, "virtio-mmio.force-legacy=false");
      add (&v, "-chardev");
      addf (&v, "socket,id=vfs,fd=%d", CHILD_VFS_FD);
      add (&v, "-device");
      add (&v, "vhost-user-fs-device,chardev=vfs,tag=rootfs");
    }
  else
    {
      cleanup_free char *fsdev = xasprintf ("local,id=fs0,path=%s,security_model=none", l->shared_dir);
      /* Storage QoS annotations throttle the shared filesystem device.  */
      if (l->qos_bps > 0)
        {
          char *n = xasprintf ("%s,throttling.bps-total=%llu", fsdev, (unsigned long long)l->qos_bps);
          free (fsdev);
          fsdev = n;
        }
      if (l->qos_iops > 0)
        {
          char *n = xasprintf ("%s,throttling.iops-total=%llu", fsdev, (unsigned long long)l->qos_iops);
          free (fsdev);
          fsdev = n;
        }
      add (&v, "-fsdev");
      add (&v, fsdev);
      add (&v, "-device");
      add (&v, "virtio-9p-device,fsdev=fs0,mount_tag=rootfs");
    }
  if (l->tap_fd >= 0)
    {
      add (&v, "-netdev");
      addf (&v, "tap,id=net0,fd=%d,vhost=off", CHILD_TAP_FD);
      add (&v, "-device");
      addf (&v, "virtio-net-device,netdev=net0%s%s", l->mac ? ",mac=" : "", l->mac ? l->mac : "");
    }
  /* QEMU's own seccomp filter: no obsolete syscalls, no setuid, no fork or
     exec, no scheduler or resource changes.  */
  add (&v, "-sandbox");
  add (&v, "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny");
  return v;
}

/* What QEMU as root still needs: the 9p server creates files as the guest's
   users (chown, fowner, fsetid, dac override, mknod, setfsuid/gid).  The
   rest of root goes.  */
static const int qemu_caps[] = {
  0 /* CAP_CHOWN */,  1 /* CAP_DAC_OVERRIDE */, 2 /* CAP_DAC_READ_SEARCH */, 3 /* CAP_FOWNER */,    4 /* CAP_FSETID */,
  6 /* CAP_SETGID */, 7 /* CAP_SETUID */,       27 /* CAP_MKNOD */,          14 /* CAP_IPC_LOCK */,
};

int
uvm_vmm_spawn (const struct uvm_launch *l, pid_t *pid, runhv_error_t *err)
{
  cleanup_strv char **argv = uvm_vmm_argv (l);
  int logfd = open (l->vmm_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  pid_t p;
  if (logfd < 0)
    return runhv_make_error (err, errno, "open `%s`", l->vmm_log);
  p = fork ();
  if (p < 0)
    {
      close (logfd);
      return runhv_make_error (err, errno, "fork the VMM");
    }
  if (p == 0)
    {
      int null = open ("/dev/null", O_RDWR);
      sigset_t all;
      /* Die with the supervisor: a VM never outlives who manages it.  */
      prctl (PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
      sigemptyset (&all);
      sigprocmask (SIG_SETMASK, &all, NULL);
      dup2 (null, 0);
      dup2 (logfd, 1);
      dup2 (logfd, 2);
      if (dup2 (l->agent_fd, CHILD_AGENT_FD) < 0)
        _exit (126);
      if (l->tap_fd >= 0 && dup2 (l->tap_fd, CHILD_TAP_FD) < 0)
        _exit (126);
      if (l->virtiofs_fd >= 0 && dup2 (l->virtiofs_fd, CHILD_VFS_FD) < 0)
        _exit (126);
      syscall (SYS_close_range, CHILD_VFS_FD + 1, ~0U, 0);
      for (int c = 0; c <= 63; c++)
        {
          bool keep = false;
          for (size_t k = 0; k < sizeof (qemu_caps) / sizeof (qemu_caps[0]); k++)
            if (qemu_caps[k] == c)
              keep = true;
          if (!keep)
            prctl (PR_CAPBSET_DROP, c, 0, 0, 0);
        }
      prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
      execv (argv[0], argv);
      dprintf (2, "runhv: exec `%s`: %s\n", argv[0], strerror (errno));
      _exit (127);
    }
  close (logfd);
  *pid = p;
  return 0;
}

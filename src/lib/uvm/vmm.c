#include "uvm/vmm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "proto/agent-proto.h"
#include "uvm/jail.h"
#include "core/util.h"
#include "core/banned.h"

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

  /* Paths and fds as the jail gives them (jail.h).  */
  add (&v, UVM_JAIL_VMM);
  addf (&v, "-name");
  addf (&v, "runhv-uvm-%s,process=runhv-uvm-%s", l->id, l->id);
  /* Run from /vmm, QEMU would look for its firmware beside it.  */
  add (&v, "-L");
  add (&v, "/usr/share/qemu");
  add (&v, "-nodefaults");
  add (&v, "-no-user-config");
  add (&v, "-nographic");
  /* microvm: virtio-mmio devices only, no PCI, no firmware; PVH boot of the
     uncompressed kernel.  ACPI stays on: this kernel needs it to power off. */
  add (&v, "-M");
  add (&v, "microvm,acpi=on");
  add (&v, "-accel");
  /* TCG's translation cache is bounded (its default may grow to 1 GiB), so
     the jail's cgroup can hold QEMU to guest memory + a fixed overhead.  The
     lean guest's boot alone translates 26 MiB and its first container 8 MiB
     more; a full cache is flushed whole and everything running is
     translated again.  With 16 MiB a flush fell in the boot and another in
     the container's create: 24 MiB gave a first output line 0.2 s sooner and
     a CRI pod 0.33 s sooner for 9 MiB more of an idle VM's PSS (32 MiB: a
     first line 50 ms sooner still, for 9 MiB more again;
     docs/hypervisor.md).  A busy guest retranslates more with a smaller
     cache.  */
  add (&v, strcmp (l->accel, "kvm") == 0 ? "kvm" : "tcg,thread=multi,tb-size=" UVM_JAIL_TB_SIZE_MB_STR);
  /* Under TCG the default CPU model (qemu64) lacks ARAT, so the guest
     assumes its local APIC timer stops in deep C-states; with no broadcast
     timer on microvm it then never leaves periodic mode: no idle tickless
     mode and no high-resolution timers, 250 emulated timer interrupts a
     second in an idle VM (2.6% of a host CPU; 0.55% with ARAT).  QEMU's
     APIC timer never stops, so ARAT is the truth.  */
  add (&v, "-cpu");
  add (&v, strcmp (l->accel, "kvm") == 0 ? "host" : "qemu64,+arat");
  add (&v, "-m");
  addf (&v, "%lldM", (long long)l->memory_mb);
  if (l->memory_file)
    {
      add (&v, "-object");
      addf (&v, "memory-backend-file,id=ram,size=%lldM,mem-path=/proc/self/fd/%d,share=on", (long long)l->memory_mb,
            UVM_JAIL_MEMORY_FD);
      add (&v, "-machine");
      add (&v, "memory-backend=ram");
    }
  add (&v, "-smp");
  addf (&v, "%lld", (long long)l->cpus);
  add (&v, "-kernel");
  add (&v, UVM_JAIL_KERNEL);
  add (&v, "-initrd");
  add (&v, UVM_JAIL_INITRD);
  /* quiet: every console byte is an emulated UART write under TCG;
     cryptomgr.notests skips boot-time self tests; tsc_early_khz spares the
     guest a TSC calibration that microvm cannot do reliably, and
     tsc=reliable keeps the guest's clocksource watchdog, which compares the
     TSC with jiffies that TCG delivers late, from throwing the TSC away for
     jiffies (timers and sleeps then run coarse and late), when the host
     kernel keeps its own time with that TSC.  Under KVM the guest keeps
     time with kvm-clock and its own watchdog is right to judge the TSC.
     lapic_timer_khz (guest/kernel-patches) spares the lean kernel 100 ms of
     local APIC timer calibration: QEMU's APIC and KVM's count at 1 GHz.
     (Debian's generic kernel does not know it and hands it to the agent as
     an environment variable, which the agent ignores.)  */
  {
    char tsc[64] = "";
    if (l->tsc_khz > 0)
      snprintf (tsc, sizeof (tsc), " tsc_early_khz=%ld%s", l->tsc_khz,
                l->tsc_reliable && strcmp (l->accel, "kvm") != 0 ? " tsc=reliable" : "");
    /* Nothing of one VM's own: a template's guest kept its command line
       (the pod's addressing comes with the host's hello).  */
    append
      = xasprintf ("console=ttyS0 %s panic=-1 rdinit=/init cryptomgr.notests lapic_timer_khz=1000000%s runhv.fs=%s "
                   "runhv.port=%s",
                   l->debug ? "loglevel=7" : "quiet", tsc, "9p", AGENT_PORT_NAME);
  }
  add (&v, "-append");
  add (&v, append);
  /* The console log is an fd the jail passes: QEMU opens it through an
     fd set, not a path.  */
  add (&v, "-add-fd");
  addf (&v, "fd=%d,set=1,opaque=console", UVM_JAIL_CONSOLE_FD);
  add (&v, "-chardev");
  add (&v, "file,id=con,path=/dev/fdset/1");
  add (&v, "-serial");
  add (&v, "chardev:con");
  add (&v, "-device");
  add (&v, "virtio-serial-device,max_ports=2");
  add (&v, "-chardev");
  addf (&v, "socket,id=agent,fd=%d", UVM_JAIL_AGENT_FD);
  add (&v, "-device");
  addf (&v, "virtserialport,chardev=agent,name=%s", AGENT_PORT_NAME);
  /* Entropy from the first instruction: a virtio-rng fed by QEMU's own
     generator (seeded from the host kernel's pool; no device file in the
     jail), rate-limited so a guest cannot drain the host: 4 KiB/s is 128
     crng seeds a second.  The lean kernel's crng is ready before /init
     runs; the agent waits for it in any case (docs/guest-kernel.md).  */
  add (&v, "-object");
  add (&v, "rng-builtin,id=rng0");
  add (&v, "-device");
  add (&v, "virtio-rng-device,rng=rng0,max-bytes=4096,period=1000");
  add (&v, "-no-reboot");
  /* A guest kernel panic ends QEMU with a failure status the supervisor
     reports as such.  */
  add (&v, "-device");
  add (&v, "pvpanic");
  add (&v, "-action");
  add (&v, "panic=exit-failure");
  {
    cleanup_free char *fsdev = xasprintf ("local,id=fs0,path=%s,security_model=none", UVM_JAIL_SHARED);
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
      addf (&v, "tap,id=net0,fd=%d,vhost=off", UVM_JAIL_TAP_FD);
      add (&v, "-device");
      addf (&v, "virtio-net-device,netdev=net0%s%s", l->mac ? ",mac=" : "", l->mac ? l->mac : "");
    }
  else if (l->template_nic)
    {
      /* A template of VMs with a NIC: the same device on a backend that
         reaches nothing, with a MAC of no one's (each VM's agent sets its
         pod's).  Neither backend has a vnet header (the pod's tap is made
         without one), so the device offers the same features on both and
         what the template's guest negotiated holds on the pod's tap.  */
      add (&v, "-netdev");
      add (&v, "hubport,id=net0,hubid=0");
      add (&v, "-device");
      add (&v, "virtio-net-device,netdev=net0,mac=" UVM_TEMPLATE_MAC);
    }
  /* A template (template.h): its maker drives QEMU's monitor; a VM made
     from it waits for its host to start the load (which must first allow
     RAM that is not in the stream) and runs on from where the template's
     guest stood once loaded (the template was saved running).  */
  if (l->qmp)
    {
      add (&v, "-chardev");
      addf (&v, "socket,id=qmp,fd=%d", UVM_JAIL_QMP_FD);
      add (&v, "-mon");
      add (&v, "chardev=qmp,mode=control");
    }
  if (l->restore)
    {
      add (&v, "-incoming");
      add (&v, "defer");
    }
  /* QEMU's own seccomp filter: no obsolete syscalls, no setuid, no fork or
     exec, no scheduler or resource changes.  */
  add (&v, "-sandbox");
  add (&v, "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny");
  return v;
}

int
uvm_vmm_spawn (const struct uvm_launch *l, pid_t *pid, int *alive_fd, runhv_error_t *err)
{
  cleanup_strv char **argv = NULL;
  if (l->shared_fs != NULL && strcmp (l->shared_fs, "9p") != 0)
    return runhv_error (err, "vm.shared_fs = \"%s\" is not supported; remove it (9p is used)", l->shared_fs);
  argv = uvm_vmm_argv (l);
  return uvm_jail_spawn (l, argv, pid, alive_fd, err);
}

/* What QEMU needed only to start stays resident in it for the VM's life:
   the kernel and initramfs it loaded, mapped for a machine reset that
   -no-reboot never does (a guest's reboot ends QEMU), 7.5 MiB; and the
   pages of its own code and read-only data, and its libraries', that only
   its start-up ran (option parsing, device and machine set-up, library
   initialisers), 15 MiB of an idle lean VM's 20 MiB of file pages.  All of
   it counts in the VM's PSS and is charged to its cgroup.  Once the guest
   runs, the host side asks the kernel to reclaim them (MADV_PAGEOUT): a
   page QEMU touches again comes back from its file, and an idle VM's come
   back within seconds (about 4 MiB, docs/performance.md).  process_madvise
   needs CAP_SYS_NICE in the host's user namespace, which the jailed
   supervisor does not have: the caller that started the VM does it,
   through a pidfd QEMU's parent opened before it could have reaped QEMU
   (or, without one, opened here before the maps are read): the advice goes
   to QEMU only, and only while it lives.  Pages another
   process maps too (another VM's QEMU, libc) stay; pages reclaimed leave
   the page cache: a readahead of the files runhv knows (QEMU, the kernel,
   the initramfs) puts them back there, shared by every VM's QEMU and
   reclaimable, so that the next VM's start does not wait for the disk
   (40 ms of a first output line here).  Guest RAM, TCG's code and QEMU's
   heap are anonymous and not asked for; the written copies inside the
   mappings asked for (the relocated data the loader made read-only, about
   1.5 MiB) are anonymous too: the kernel keeps them where the host has no
   swap, and would move them to swap where it has.  */
/* Whether a maps line names path, whole, at its end.  */
static bool
maps_line_names (const char *line, const char *path)
{
  size_t len = strcspn (line, "\n"), plen = strlen (path);
  return len > plen && line[len - plen - 1] == ' ' && strncmp (line + len - plen, path, plen) == 0;
}

int
uvm_vmm_reclaim_startup (pid_t vmm, int vmm_pidfd, const struct uvm_artifacts *art, runhv_error_t *err)
{
  cleanup_close int opened = vmm_pidfd < 0 ? (int)syscall (SYS_pidfd_open, vmm, 0) : -1;
  int pidfd = vmm_pidfd < 0 ? opened : vmm_pidfd;
  cleanup_free char *path = NULL;
  cleanup_file FILE *maps = NULL;
  cleanup_free char *line = NULL;
  cleanup_free struct iovec *iov = NULL;
  size_t cap = 0, n = 0, room = 0, refused = 0;
  bool is_vmm = false;

  if (pidfd < 0)
    return runhv_make_error (err, errno, "reclaim the VM's start-up pages: open the VMM %d", (int)vmm);
  path = xasprintf ("/proc/%d/maps", (int)vmm);
  maps = fopen (path, "re");
  if (maps == NULL)
    return runhv_make_error (err, errno, "reclaim the VM's start-up pages: read %s", path);
  while (getline (&line, &cap, maps) >= 0)
    {
      unsigned long lo, hi;
      if (!uvm_vmm_startup_mapping (line, &lo, &hi))
        continue;
      is_vmm |= maps_line_names (line, UVM_JAIL_VMM);
      if (n == room)
        {
          room = room ? room * 2 : 256;
          iov = xrealloc (iov, room * sizeof (*iov));
        }
      iov[n].iov_base = (void *)lo;
      iov[n].iov_len = hi - lo;
      n++;
    }
  /* The pid was QEMU's when the caller learnt it; a process that maps no
     /vmm is not QEMU (any more), and is left alone.  */
  if (!is_vmm)
    return runhv_error (err, "reclaim the VM's start-up pages: process %d is not the VMM", (int)vmm);
  /* At most UIO_MAXIOV ranges a call.  A call stops at the first range the
     kernel refuses (a mapping changed since the maps were read): the rest
     of that batch then goes one range at a time.  */
  for (size_t first = 0; first < n; first += 128)
    {
      size_t count = n - first < 128 ? n - first : 128, bytes = 0;
      for (size_t i = 0; i < count; i++)
        bytes += iov[first + i].iov_len;
      if (syscall (SYS_process_madvise, pidfd, iov + first, count, MADV_PAGEOUT, 0) == (long)bytes)
        continue;
      for (size_t i = 0; i < count; i++)
        if (syscall (SYS_process_madvise, pidfd, iov + first + i, 1, MADV_PAGEOUT, 0) < 0)
          refused++;
    }
  {
    const char *files[] = { art->qemu, art->kernel, art->initrd };
    for (size_t i = 0; i < sizeof (files) / sizeof (files[0]); i++)
      {
        cleanup_close int fd = files[i] ? open (files[i], O_RDONLY | O_CLOEXEC) : -1;
        if (fd >= 0)
          (void)posix_fadvise (fd, 0, 0, POSIX_FADV_WILLNEED);
      }
  }
  if (refused > 0)
    return runhv_error (err, "reclaim the VM's start-up pages: %zu of %zu ranges refused", refused, n);
  return 0;
}

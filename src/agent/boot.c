/* What the agent does as PID 1 before it can talk to the host.  */
#include <arpa/inet.h>
#include <linux/fs.h>
#include <dirent.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <net/route.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <errno.h>
#include <linux/random.h>
#include <time.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "proto/agent-proto.h"
#include "agent.h"
#include "core/log.h"
#include "core/util.h"
#include "core/banned.h"

static int
mount_one (const char *src, const char *dst, const char *type, unsigned long flags, const char *data,
           runhv_error_t *err)
{
  mkdir (dst, 0755);
  if (mount (src, dst, type, flags, data) < 0 && errno != EBUSY)
    return runhv_make_error (err, errno, "mount %s on %s", type, dst);
  return 0;
}

/* favordynmods: every create and delete changes the tree (mkdir, enabling
   controllers, moving the init in), and each such change otherwise waits
   for an RCU grace period to take the cgroup core's thread-group lock; with
   it, forks and exits take that lock a little more slowly instead.  A
   kernel without the option (before 6.0) mounts without it.  */
static int
mount_cgroup2 (runhv_error_t *err)
{
  unsigned long flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
  mkdir ("/sys/fs/cgroup", 0755);
  if (mount ("cgroup2", "/sys/fs/cgroup", "cgroup2", flags, "favordynmods") == 0 || errno == EBUSY)
    return 0;
  return mount_one ("cgroup2", "/sys/fs/cgroup", "cgroup2", flags, NULL, err);
}

static void
parse_cmdline (struct agent_boot *b)
{
  cleanup_free char *cmd = NULL;
  snprintf (b->fs, sizeof (b->fs), "9p");
  snprintf (b->port, sizeof (b->port), "%s", AGENT_PORT_NAME);
  if (read_file ("/proc/cmdline", 65536, &cmd, NULL, NULL) < 0)
    return;
  for (char *p = cmd, *next; p && *p; p = next)
    {
      next = strpbrk (p, " \n");
      if (next)
        *next++ = '\0';
      if (strncmp (p, "runhv.fs=", 9) == 0)
        snprintf (b->fs, sizeof (b->fs), "%s", p + 9);
      else if (strncmp (p, "runhv.port=", 11) == 0)
        snprintf (b->port, sizeof (b->port), "%s", p + 11);
    }
}

/* Modules in the order provisioning computed from modules.dep; only what
   this boot needs (the share's filesystem, the channel, the network: a
   VM's NIC, if it has one, is known only at the host's hello).  */
static int
load_modules (const char *fs, runhv_error_t *err)
{
  cleanup_free char *order = NULL;
  if (read_file ("/lib/modules/load-order", 65536, &order, NULL, NULL) < 0)
    return 0; /* a kernel with everything built in */
  for (char *p = order, *next; p && *p; p = next)
    {
      cleanup_free char *path = NULL;
      cleanup_close int fd = -1;
      next = strchr (p, '\n');
      if (next)
        *next++ = '\0';
      if (*p == '\0' || *p == '#')
        continue;
      if ((strcmp (p, "fuse.ko") == 0 || strcmp (p, "virtiofs.ko") == 0) && strcmp (fs, "virtiofs") != 0)
        continue;
      if ((strncmp (p, "9p", 2) == 0 || strcmp (p, "netfs.ko") == 0 || strcmp (p, "fscache.ko") == 0)
          && strcmp (fs, "9p") != 0)
        continue;
      if (strcmp (p, "overlay.ko") == 0)
        continue; /* not used by the agent */
      path = xasprintf ("/lib/modules/%s", p);
      fd = open (path, O_RDONLY | O_CLOEXEC);
      if (fd < 0)
        return runhv_make_error (err, errno, "open module %s", path);
      if (syscall (SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST)
        return runhv_make_error (err, errno, "load module %s", p);
    }
  return 0;
}

/* No container runs before the guest's crng is seeded: a workload's first
   getrandom() must not block, nor its keys come from a guessable pool.
   virtio-rng (QEMU's rng-builtin) seeds it during boot, so this returns at
   once; a kernel without it waits here, not in the workload.  */
static int
wait_for_crng (runhv_error_t *err)
{
  unsigned char byte;
  for (;;)
    {
      if (getrandom (&byte, 1, 0) == 1)
        return 0;
      if (errno != EINTR)
        return runhv_make_error (err, errno, "getrandom: the guest kernel's crng");
    }
}

static int
open_port (const char *name, runhv_error_t *err)
{
  /* No udev: the port's name is in sysfs, its node made by devtmpfs.  */
  for (int attempt = 0; attempt < 200; attempt++)
    {
      cleanup_dir DIR *d = opendir ("/sys/class/virtio-ports");
      struct dirent *de;
      while (d && (de = readdir (d)) != NULL)
        {
          cleanup_free char *np = NULL, *n = NULL, *dev = NULL;
          int fd;
          if (de->d_name[0] == '.')
            continue;
          np = xasprintf ("/sys/class/virtio-ports/%s/name", de->d_name);
          if (read_file (np, 256, &n, NULL, NULL) < 0)
            continue;
          n[strcspn (n, "\n")] = '\0';
          if (strcmp (n, name) != 0)
            continue;
          dev = xasprintf ("/dev/%s", de->d_name);
          fd = open (dev, O_RDWR | O_CLOEXEC | O_NONBLOCK);
          if (fd >= 0)
            return fd;
        }
      usleep (10000);
    }
  return runhv_error (err, "no virtio-serial port named `%s`", name);
}

/* The initramfs is the kernel's rootfs, which can never be unmounted, so
   pivot_root (which containers need) refuses to leave it.  Move to a tmpfs
   root first, as switch_root does, and free the initramfs's files.  */
static int
switch_root_to_tmpfs (runhv_error_t *err)
{
  static const char *const keep[] = { "/proc", "/sys", "/dev" };
  if (mount_one ("tmpfs", "/newroot", "tmpfs", MS_NOSUID, "mode=0755", err) < 0)
    return -1;
  for (size_t i = 0; i < sizeof (keep) / sizeof (keep[0]); i++)
    {
      cleanup_free char *dst = xasprintf ("/newroot%s", keep[i]);
      mkdir (dst, 0755);
      if (mount (keep[i], dst, NULL, MS_MOVE, NULL) < 0)
        return runhv_make_error (err, errno, "move %s to the new root", keep[i]);
    }
  /* The old root's files are unreachable afterwards: free their memory.  */
  {
    runhv_error_t ignored = NULL;
    if (rm_rf ("/lib", &ignored) < 0)
      runhv_error_release (&ignored);
  }
  /* Our own binary stays (it is in memory while we run) and becomes
     immutable: every process put into a container runs from it, and
     nothing may write it through /proc/PID/exe (CVE-2019-5736).  A binary
     that cannot change needs no sealed copy per create (core/sealed.h).
     Where the flag is refused, each spawn copies it as on the host.  */
  {
    cleanup_close int self = open ("/init", O_RDONLY | O_CLOEXEC);
    int flags = 0;
    if (self >= 0 && ioctl (self, FS_IOC_GETFLAGS, &flags) == 0)
      {
        flags |= FS_IMMUTABLE_FL;
        if (ioctl (self, FS_IOC_SETFLAGS, &flags) < 0)
          log_warning ("boot: cannot make /init immutable (each create copies it): %s", strerror (errno));
      }
  }
  if (chdir ("/newroot") < 0 || mount (".", "/", NULL, MS_MOVE, NULL) < 0 || chroot (".") < 0 || chdir ("/") < 0)
    return runhv_make_error (err, errno, "switch the root to a tmpfs");
  return 0;
}

static int
if_up (int s, const char *name)
{
  struct ifreq ifr;
  memset (&ifr, 0, sizeof (ifr));
  snprintf (ifr.ifr_name, sizeof (ifr.ifr_name), "%s", name);
  if (ioctl (s, SIOCGIFFLAGS, &ifr) < 0)
    return -1;
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  return ioctl (s, SIOCSIFFLAGS, &ifr);
}

static int
set_addr (int s, const char *name, unsigned long req, struct in_addr a)
{
  struct ifreq ifr;
  struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr = a };
  memset (&ifr, 0, sizeof (ifr));
  snprintf (ifr.ifr_name, sizeof (ifr.ifr_name), "%s", name);
  memcpy (&ifr.ifr_addr, &sin, sizeof (sin));
  return ioctl (s, req, &ifr);
}

static int
set_mac (int s, const char *nic, const char *mac)
{
  struct ifreq ifr;
  unsigned int b[6];
  if (sscanf (mac, "%2x:%2x:%2x:%2x:%2x:%2x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6)
    {
      errno = EINVAL;
      return -1;
    }
  memset (&ifr, 0, sizeof (ifr));
  snprintf (ifr.ifr_name, sizeof (ifr.ifr_name), "%s", nic);
  ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
  for (int i = 0; i < 6; i++)
    ifr.ifr_hwaddr.sa_data[i] = (char)b[i];
  return ioctl (s, SIOCSIFHWADDR, &ifr);
}

/* IP/PREFIX,GATEWAY,MAC,MTU from the host's hello: the pod's addressing,
   which the guest's NIC takes over, and the pod's MAC, which the NIC may
   not have yet (a VM from a template has the template's).  The
   containers share the VM's network, so they answer at the pod's IP.  */
int
agent_configure_network (const char *spec, runhv_error_t *err)
{
  cleanup_close int s = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  char ip[48] = "", gw[48] = "", mac[24] = "";
  int prefix = 0, mtu = 0;
  char nic[IF_NAMESIZE] = "";
  struct in_addr addr, mask, gwa;
  if (s < 0)
    return runhv_make_error (err, errno, "socket");
  if (sscanf (spec, "%47[^/]/%d,%47[^,],%23[^,],%d", ip, &prefix, gw, mac, &mtu) != 5 || prefix < 0 || prefix > 32
      || inet_pton (AF_INET, ip, &addr) != 1)
    return runhv_error (err, "hello: the pod network `%s` is malformed", spec);
  /* The NIC appears once virtio_net has probed it; it is the interface
     backed by a device, not just any that is not lo (a kernel may bring
     tunnel devices of its own, such as sit0).  A VM has one.  */
  for (int attempt = 0; attempt < 200 && nic[0] == '\0'; attempt++)
    {
      cleanup_dir DIR *d = opendir ("/sys/class/net");
      struct dirent *de;
      while (d && (de = readdir (d)) != NULL)
        {
          cleanup_free char *path = NULL;
          if (de->d_name[0] == '.' || strlen (de->d_name) >= sizeof (nic))
            continue;
          path = xasprintf ("/sys/class/net/%s/device", de->d_name);
          if (access (path, F_OK) == 0)
            {
              memcpy (nic, de->d_name, strlen (de->d_name) + 1);
              break;
            }
        }
      if (nic[0] == '\0')
        usleep (10000);
    }
  if (nic[0] == '\0')
    return runhv_error (err, "hello: a pod network is given but the VM has no network interface");
  {
    cleanup_free char *path = xasprintf ("/sys/class/net/%s/address", nic), *address = NULL;
    if (read_file (path, 64, &address, NULL, NULL) < 0)
      return runhv_make_error (err, errno, "read %s", path);
    address[strcspn (address, "\n")] = '\0';
    if (strcasecmp (address, mac) != 0 && set_mac (s, nic, mac) < 0)
      return runhv_make_error (err, errno, "give %s the pod's MAC %s", nic, mac);
  }
  mask.s_addr = prefix == 0 ? 0 : htonl (0xffffffffu << (32 - prefix));
  {
    struct ifreq ifr;
    memset (&ifr, 0, sizeof (ifr));
    snprintf (ifr.ifr_name, sizeof (ifr.ifr_name), "%s", nic);
    ifr.ifr_mtu = mtu;
    if (mtu > 0)
      ioctl (s, SIOCSIFMTU, &ifr);
  }
  if (set_addr (s, nic, SIOCSIFADDR, addr) < 0 || set_addr (s, nic, SIOCSIFNETMASK, mask) < 0 || if_up (s, nic) < 0)
    return runhv_make_error (err, errno, "configure %s as %s/%d", nic, ip, prefix);
  if (strcmp (gw, "-") != 0 && inet_pton (AF_INET, gw, &gwa) == 1)
    {
      struct rtentry rt;
      struct sockaddr_in any = { .sin_family = AF_INET }, g = { .sin_family = AF_INET, .sin_addr = gwa };
      memset (&rt, 0, sizeof (rt));
      memcpy (&rt.rt_dst, &any, sizeof (any));
      memcpy (&rt.rt_genmask, &any, sizeof (any));
      memcpy (&rt.rt_gateway, &g, sizeof (g));
      rt.rt_flags = RTF_UP | RTF_GATEWAY;
      if (ioctl (s, SIOCADDRT, &rt) < 0 && errno != EEXIST)
        return runhv_make_error (err, errno, "add the default route via %s", gw);
    }
  return 0;
}

int
agent_boot (struct agent_boot *b, runhv_error_t *err)
{
  if (mount_one ("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, err) < 0
      || mount_one ("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, err) < 0
      || mount_one ("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755", err) < 0)
    return -1;
  parse_cmdline (b);
  if (load_modules (b->fs, err) < 0)
    return -1;
  if (wait_for_crng (err) < 0)
    return -1;
  if (switch_root_to_tmpfs (err) < 0)
    return -1;
  if (mount_one ("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666", err) < 0
      || mount_one ("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755", err) < 0
      || mount_one ("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", err) < 0 || mount_cgroup2 (err) < 0)
    return -1;
  /* The LSMs' interface: the process backend applies a container's
     apparmorProfile only where AppArmor shows there, as runc decides.  A
     kernel built without securityfs (the lean one) has no LSM to offer, and
     the label is then refused.  Containers get a sysfs of their own.  */
  if (access ("/sys/kernel/security", F_OK) == 0
      && mount ("securityfs", "/sys/kernel/security", "securityfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
    log_info ("securityfs: %s (LSM labels will be refused)", strerror (errno));
  mkdir (AGENT_RUNTIME_ROOT, 0700);
  {
    cleanup_close int s = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0 || if_up (s, "lo") < 0)
      return runhv_make_error (err, errno, "bring lo up");
  }
  return open_port (b->port, err);
}

/* Fresh entropy from the host into the input pool, credited, and the crng
   reseeded from it at once: a VM loaded from a template starts with the
   template's crng state, which every VM of that template shares.  */
static int
reseed_crng (const unsigned char *seed, size_t len, runhv_error_t *err)
{
  struct
  {
    int entropy_count;
    int buf_size;
    unsigned char buf[64];
  } info;
  cleanup_close int fd = open ("/dev/urandom", O_WRONLY | O_CLOEXEC);
  bool ok;
  int e;
  if (len > sizeof (info.buf))
    return runhv_error (err, "hello: a seed of %zu bytes is too long", len);
  info.entropy_count = (int)(len * 8);
  info.buf_size = (int)len;
  memcpy (info.buf, seed, len);
  ok = fd >= 0 && ioctl (fd, RNDADDENTROPY, &info) == 0 && ioctl (fd, RNDRESEEDCRNG) == 0;
  e = errno;
  explicit_bzero (&info, sizeof (info));
  return ok ? 0 : runhv_make_error (err, e, "hello: reseed the guest's crng");
}

int
agent_finish_boot (struct agent_boot *b, const unsigned char *seed, size_t seed_len, const struct timespec *now,
                   const char *net, runhv_error_t *err)
{
  if (seed_len > 0 && reseed_crng (seed, seed_len, err) < 0)
    return -1;
  if (now != NULL && clock_settime (CLOCK_REALTIME, now) < 0)
    return runhv_make_error (err, errno, "hello: set the guest's clock");
  if (b->finished)
    return 0;
  if (net != NULL && agent_configure_network (net, err) < 0)
    return -1;
  if (strcmp (b->fs, "9p") == 0)
    {
      if (mount_one ("rootfs", AGENT_SHARED_DIR, "9p", 0, "trans=virtio,version=9p2000.L,msize=262144,cache=mmap", err)
          < 0)
        return -1;
    }
  else if (strcmp (b->fs, "virtiofs") == 0)
    {
      if (mount_one ("rootfs", AGENT_SHARED_DIR, "virtiofs", 0, NULL, err) < 0)
        return -1;
    }
  b->finished = true;
  return 0;
}

void
agent_poweroff (void)
{
  sync ();
  reboot (RB_POWER_OFF);
  /* Should poweroff fail, exiting PID 1 panics the kernel, and with
     panic=-1 and -no-reboot QEMU exits all the same.  */
  _exit (1);
}

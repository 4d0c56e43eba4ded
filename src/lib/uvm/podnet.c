#include "uvm/podnet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/json.h"
#include "core/sync.h"
#include "core/util.h"
#include "uvm/exec-self.h"
#include "core/banned.h"

static const char *const tc_paths[] = { "/usr/sbin/tc", "/sbin/tc", "/usr/bin/tc", NULL };

/* tc in the network namespace nsfd (-1: ours).  Between fork and exec the
   child only enters the namespace, puts /dev/null on its stdio (the
   failure is reported here, naming the command) and closes every other
   descriptor of its caller's.  */
static int
run_tc_in (int nsfd, char *const argv[], runhv_error_t *err)
{
  const char *tc = NULL;
  int null, status = 0;
  pid_t p, r;
  for (size_t i = 0; tc == NULL && tc_paths[i]; i++)
    if (access (tc_paths[i], X_OK) == 0)
      tc = tc_paths[i];
  if (tc == NULL)
    return runhv_error (err, "pod network: tc (iproute2) is not installed (apt-get install iproute2)");
  null = open ("/dev/null", O_RDWR | O_CLOEXEC);
  if (null < 0)
    return runhv_make_error (err, errno, "open /dev/null");
  p = fork ();
  if (p < 0)
    {
      close (null);
      return runhv_make_error (err, errno, "fork");
    }
  if (p == 0)
    {
      if ((nsfd >= 0 && setns (nsfd, CLONE_NEWNET) < 0) || dup2 (null, 0) < 0 || dup2 (null, 1) < 0
          || dup2 (null, 2) < 0)
        _exit (127);
      syscall (SYS_close_range, 3, ~0U, 0);
      execv (tc, argv);
      _exit (127);
    }
  close (null);
  while ((r = waitpid (p, &status, 0)) < 0 && errno == EINTR)
    ;
  if (r != p || !WIFEXITED (status) || WEXITSTATUS (status) != 0)
    return runhv_error (err, "pod network: `tc %s %s %s %s` failed (does this kernel have act_mirred and cls_u32?)",
                        argv[1], argv[2], argv[3], argv[4]);
  return 0;
}

static int
run_tc (char *const argv[], runhv_error_t *err)
{
  return run_tc_in (-1, argv, err);
}

/* Redirect everything arriving on `from` out of `to`.  u32 matching any
   byte is the catch-all every kernel with cls_u32 has (matchall is often
   not built).  */
static int
redirect (const char *from, const char *to, runhv_error_t *err)
{
  char *qdisc[]
    = { (char *)"tc", (char *)"qdisc", (char *)"add", (char *)"dev", (char *)from, (char *)"ingress", NULL };
  char *filter[] = { (char *)"tc",     (char *)"filter",   (char *)"add",
                     (char *)"dev",    (char *)from,       (char *)"parent",
                     (char *)"ffff:",  (char *)"protocol", (char *)"all",
                     (char *)"u32",    (char *)"match",    (char *)"u8",
                     (char *)"0",      (char *)"0",        (char *)"action",
                     (char *)"mirred", (char *)"egress",   (char *)"redirect",
                     (char *)"dev",    (char *)to,         NULL };
  if (run_tc (qdisc, err) < 0 || run_tc (filter, err) < 0)
    return -1;
  return 0;
}

static void
unredirect (int nsfd, const char *dev)
{
  char *del[] = { (char *)"tc", (char *)"qdisc", (char *)"del", (char *)"dev", (char *)dev, (char *)"ingress", NULL };
  runhv_error_t ignored = NULL;
  if (run_tc_in (nsfd, del, &ignored) < 0)
    runhv_error_release (&ignored);
}

static int
default_gateway (char *out, size_t size)
{
  /* /proc/net is the reader's namespace: ours after setns.  */
  cleanup_free char *buf = NULL;
  out[0] = '\0';
  if (read_file ("/proc/net/route", 1 << 20, &buf, NULL, NULL) < 0)
    return -1;
  for (char *line = buf, *next; line && *line; line = next)
    {
      char ifn[32];
      unsigned dest, gw, flags;
      next = strchr (line, '\n');
      if (next)
        *next++ = '\0';
      if (sscanf (line, "%31s %x %x %x", ifn, &dest, &gw, &flags) == 4 && dest == 0 && gw != 0)
        {
          struct in_addr a = { .s_addr = gw };
          inet_ntop (AF_INET, &a, out, (socklen_t)size);
          return 0;
        }
    }
  return 0;
}

/* In the exec'd helper, in the pod's namespace: find the pod's interface, make the tap
   and the redirections, and send back what the guest must take over.  */
static void __attribute__ ((noreturn)) setup_in_netns (const char *netns_path, int sock)
{
  runhv_error_t err = NULL;
  cleanup_close int nsfd = open (netns_path, O_RDONLY | O_CLOEXEC);
  struct ifaddrs *ifa = NULL;
  struct podnet n = { .tap_fd = -1 };
  int s = -1, tap;
  struct ifreq ifr;

  if (nsfd < 0 || setns (nsfd, CLONE_NEWNET) < 0)
    {
      runhv_make_error (&err, errno, "pod network: enter `%s`", netns_path);
      sync_fail (sock, &err);
    }
  if (getifaddrs (&ifa) < 0)
    {
      runhv_make_error (&err, errno, "pod network: list interfaces");
      sync_fail (sock, &err);
    }
  for (struct ifaddrs *i = ifa; i; i = i->ifa_next)
    if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET && strcmp (i->ifa_name, "lo") != 0
        && strcmp (i->ifa_name, PODNET_TAP) != 0)
      {
        struct in_addr mask = ((struct sockaddr_in *)i->ifa_netmask)->sin_addr;
        snprintf (n.ifname, sizeof (n.ifname), "%s", i->ifa_name);
        inet_ntop (AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, n.ip, sizeof (n.ip));
        n.prefix = __builtin_popcount (mask.s_addr);
        break;
      }
  freeifaddrs (ifa);
  if (n.ifname[0] == '\0')
    {
      runhv_error (&err, "pod network: `%s` has no interface with an IPv4 address (did CNI run?)", netns_path);
      sync_fail (sock, &err);
    }
  s = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  memset (&ifr, 0, sizeof (ifr));
  snprintf (ifr.ifr_name, sizeof (ifr.ifr_name), "%s", n.ifname);
  if (s < 0 || ioctl (s, SIOCGIFHWADDR, &ifr) < 0)
    {
      runhv_make_error (&err, errno, "pod network: read the MAC of `%s`", n.ifname);
      sync_fail (sock, &err);
    }
  {
    unsigned char *m = (unsigned char *)ifr.ifr_hwaddr.sa_data;
    snprintf (n.mac, sizeof (n.mac), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
  }
  n.mtu = ioctl (s, SIOCGIFMTU, &ifr) == 0 ? ifr.ifr_mtu : 1500;
  default_gateway (n.gateway, sizeof (n.gateway));

  tap = open ("/dev/net/tun", O_RDWR | O_CLOEXEC);
  memset (&ifr, 0, sizeof (ifr));
  snprintf (ifr.ifr_name, sizeof (ifr.ifr_name), "%s", PODNET_TAP);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  if (tap < 0 || ioctl (tap, TUNSETIFF, &ifr) < 0)
    {
      runhv_make_error (&err, errno, "pod network: create the tap `%s` (is /dev/net/tun there?)", PODNET_TAP);
      sync_fail (sock, &err);
    }
  ifr.ifr_mtu = n.mtu;
  ioctl (s, SIOCSIFMTU, &ifr);
  if (ioctl (s, SIOCGIFFLAGS, &ifr) < 0 || (ifr.ifr_flags |= IFF_UP, ioctl (s, SIOCSIFFLAGS, &ifr)) < 0)
    {
      runhv_make_error (&err, errno, "pod network: bring `%s` up", PODNET_TAP);
      sync_fail (sock, &err);
    }
  {
    char text[256];
    snprintf (text, sizeof (text), "%s %s %s %d %s %d", n.ifname, n.mac, n.ip, n.prefix, n.gateway[0] ? n.gateway : "-",
              n.mtu);
    if (sync_send (sock, SYNC_READY, 0, text, tap) < 0)
      _exit (1);
    close (tap);
  }
  /* The tap is all QEMU needs: the four runs of tc go on while the VM
     boots (podnet_finish collects their outcome).  */
  if (redirect (n.ifname, PODNET_TAP, &err) < 0 || redirect (PODNET_TAP, n.ifname, &err) < 0)
    {
      unredirect (-1, n.ifname);
      sync_fail (sock, &err);
    }
  sync_send (sock, SYNC_READY, 0, NULL, -1);
  _exit (0);
}

/* The exec'd helper (exec-self.h): it dies with its caller, which waits
   for it, and has only its report socket.  */
void
podnet_exec_main (void)
{
  cleanup_json json_t *config = exec_self_start ("runhv-podnet", UVM_PODNET_ARGV1);
  const char *netns = json_string_value (json_object_get (config, "netns"));
  pid_t parent = (pid_t)json_integer_value (json_object_get (config, "parent"));
  prctl (PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (netns == NULL || parent <= 0 || getppid () != parent)
    _exit (1);
  setup_in_netns (netns, EXEC_SELF_REPORT_FD);
}

int
podnet_setup (const char *netns_path, struct podnet *out, runhv_error_t *err)
{
  int sv[2];
  pid_t p;
  struct sync_msg m;
  int status;
  memset (out, 0, sizeof (*out));
  out->tap_fd = out->setup_sock = -1;
  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    return runhv_make_error (err, errno, "socketpair");
  {
    /* It runs while the VM boots, in the pod's network namespace: an
       exec'd helper with nothing of its caller's (stdio, the container's
       lock, a shim's sockets) but its report socket.  */
    cleanup_json json_t *config = json_pack ("{s:s,s:i}", "netns", netns_path, "parent", (int)getpid ());
    p = exec_self ("runhv-podnet", UVM_PODNET_ARGV1, config, NULL, sv[1], NULL, 0, err);
  }
  if (p < 0)
    {
      close (sv[0]);
      close (sv[1]);
      return -1;
    }
  close (sv[1]);
  if (sync_recv (sv[0], &m) < 0 || m.type == SYNC_ERROR)
    {
      close (sv[0]);
      while (waitpid (p, &status, 0) < 0 && errno == EINTR)
        ;
      if (m.type == SYNC_ERROR)
        return sync_msg_error (&m, err);
      return runhv_error (err, "pod network: the setup process died");
    }
  out->setup_pid = p;
  out->setup_sock = sv[0];
  {
    char gw[48];
    if (m.fd < 0
        || sscanf (m.text, "%15s %23s %47s %d %47s %d", out->ifname, out->mac, out->ip, &out->prefix, gw, &out->mtu)
             != 6)
      {
        if (m.fd >= 0)
          close (m.fd);
        podnet_finish (out, NULL);
        return runhv_error (err, "pod network: malformed setup report");
      }
    snprintf (out->gateway, sizeof (out->gateway), "%s", strcmp (gw, "-") == 0 ? "" : gw);
  }
  out->tap_fd = m.fd;
  return 0;
}

int
podnet_finish (struct podnet *n, runhv_error_t *err)
{
  struct sync_msg m;
  runhv_error_t ignored = NULL;
  int r;
  if (n->setup_pid <= 0)
    return 0;
  r = sync_recv (n->setup_sock, &m);
  close (n->setup_sock);
  n->setup_sock = -1;
  while (waitpid (n->setup_pid, NULL, 0) < 0 && errno == EINTR)
    ;
  n->setup_pid = 0;
  if (r == 0 && m.type == SYNC_READY && m.fd < 0)
    return 0;
  if (err == NULL)
    err = &ignored;
  if (r == 0 && m.type == SYNC_ERROR)
    sync_msg_error (&m, err);
  else
    {
      if (r == 0 && m.fd >= 0)
        close (m.fd);
      runhv_error (err, "pod network: the setup process died before redirecting the pod's traffic");
    }
  runhv_error_release (&ignored);
  return -1;
}

void
podnet_teardown (const char *netns_path, const char *ifname)
{
  cleanup_close int nsfd = open (netns_path, O_RDONLY | O_CLOEXEC);
  if (nsfd < 0)
    return; /* CNI removed it, and everything in it */
  unredirect (nsfd, ifname);
  unredirect (nsfd, PODNET_TAP);
}

char *
podnet_guest_config (const struct podnet *n)
{
  return xasprintf ("%s/%d,%s,%s,%d", n->ip, n->prefix, n->gateway[0] ? n->gateway : "-", n->mac, n->mtu);
}

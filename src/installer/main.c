/* runhv-node-installer: install, uninstall, or (in the DaemonSet) install
   and uninstall on SIGTERM.  It opens what it needs from its own image
   (the payload, the service account), then chroots into the node's root
   so that every node path, symlinks included, resolves as the node sees
   it.  What it puts on the node:
     /opt/runhv/{bin,lib,share/runhv}   the payload, replaced as one rename
     /opt/runhv/etc/<handler>.toml      one per containerd handler
     /opt/runhv/.created-dirs           parents it made, removed on uninstall
     /usr/local/bin/{runhv,containerd-shim-runhv-v1}, /usr/local/share/runhv
                                        symlinks into /opt/runhv
     containerd's config                runhv's marked block (nodeconfig.c)
   then restarts containerd and labels the node.  */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "installer.h"
#include "k8s/admission.h"
#include "nodeconfig.h"
#include "runhv-config.h"
#include "tree.h"
#include "core/util.h"
#include "core/banned.h"

#define NODE_DIR "/opt/runhv"
#define CREATED_DIRS ".created-dirs"
#define EXIT_USAGE 2

struct options
{
  const char *host_root;
  const char *node_prefix;
  const char *payload;
  const char *containerd_config;
  const char *sizes;
  const char *sa_dir;
  char *label_key;
  const char *label_value;
  bool no_restart, no_label;
};

/* The node paths the install links to the payload (relative to NODE_DIR). */
static const struct
{
  const char *link, *target;
} links[] = {
  { "/usr/local/bin/runhv", "bin/runhv" },
  { "/usr/local/bin/containerd-shim-runhv-v1", "bin/containerd-shim-runhv-v1" },
  /* where the runhv CLI looks for the guest kernel (RUNHV_DATADIR) */
  { "/usr/local/share/runhv", "share/runhv" },
};
/* Parents of the links and of NODE_DIR, outermost first: the ones the
   node lacks are made and recorded, and uninstall removes them again.  */
static const char *const parents[] = { "/opt", "/usr", "/usr/local", "/usr/local/bin", "/usr/local/share", NULL };

/* What the node has once the install is done: everything as node paths.  */
struct plan
{
  const struct options *o;
  struct kube_client kube;
  char *node;
  int payload_fd;
  int mntns_fd; /* PID 1's mount namespace: the node's systemctl */
};

static char *
node_path (const struct options *o, const char *path)
{
  return xasprintf ("%s%s", o->node_prefix, path);
}

static bool
link_is_ours (const struct options *o, const char *link, const char *target)
{
  cleanup_free char *want = xasprintf ("%s" NODE_DIR "/%s", o->node_prefix, target);
  char buf[4096];
  ssize_t n = readlink (link, buf, sizeof (buf) - 1);
  if (n < 0)
    return false;
  buf[n] = '\0';
  return strcmp (buf, want) == 0;
}

/* Run the node's `systemctl restart containerd` in the node's mount
   namespace (the DaemonSet has hostPID: PID 1 is the node's init).  */
static int
restart_containerd (struct plan *p, runhv_error_t *err)
{
  static const char *const systemctl[] = { "/usr/bin/systemctl", "/bin/systemctl", NULL };
  int status;
  pid_t pid;
  if (p->o->no_restart)
    {
      printf ("containerd was NOT restarted (--no-restart): restart it (systemctl restart containerd) for the "
              "change to take effect\n");
      return 0;
    }
  pid = fork ();
  if (pid < 0)
    return runhv_make_error (err, errno, "fork");
  if (pid == 0)
    {
      if (setns (p->mntns_fd, CLONE_NEWNS) < 0)
        {
          fprintf (stderr, "runhv-node-installer: enter the node's mount namespace: %s\n", strerror (errno));
          _exit (126);
        }
      for (size_t i = 0; systemctl[i] != NULL; i++)
        execl (systemctl[i], "systemctl", "restart", "containerd", (char *)NULL);
      _exit (127);
    }
  while (waitpid (pid, &status, 0) < 0)
    if (errno != EINTR)
      return runhv_make_error (err, errno, "waitpid");
  if (WIFEXITED (status) && WEXITSTATUS (status) == 0)
    {
      printf ("restarted containerd\n");
      return 0;
    }
  if (WIFEXITED (status) && WEXITSTATUS (status) == 127)
    return runhv_error (err, "restart containerd: the node has no systemctl (restart containerd by hand)");
  if (WIFEXITED (status) && WEXITSTATUS (status) == 126)
    return runhv_error (err, "restart containerd: cannot enter the node's mount namespace (the DaemonSet needs "
                             "hostPID: true and a privileged container)");
  return runhv_error (err,
                      "`systemctl restart containerd` on the node failed (status %d): see `journalctl -u "
                      "containerd` on the node",
                      WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status));
}

static void
check_qemu (void)
{
  static const char *const dirs[] = { "/usr/bin", "/usr/local/bin", "/bin", "/usr/sbin", NULL };
  for (size_t i = 0; dirs[i] != NULL; i++)
    {
      cleanup_free char *q = xasprintf ("%s/qemu-system-x86_64", dirs[i]);
      if (access (q, X_OK) == 0)
        return;
    }
  fprintf (stderr, "runhv-node-installer: WARNING: the node has no qemu-system-x86_64: runhv-hypervisor pods will "
                   "fail on it until you install QEMU (apt-get install qemu-system-x86); runhv-process pods work\n");
}

/* Undo a fresh install (nothing of runhv was on the node before).  */
static void
remove_fresh (const struct options *o, char *const *created)
{
  for (size_t i = 0; i < sizeof (links) / sizeof (links[0]); i++)
    if (link_is_ours (o, links[i].link, links[i].target))
      unlink (links[i].link);
  rm_rf (NODE_DIR, NULL);
  for (size_t i = created ? strv_len (created) : 0; i > 0; i--)
    rmdir (created[i - 1]);
}

static int
read_created (char ***out, runhv_error_t *err)
{
  cleanup_free char *text = NULL;
  char *save, *line;
  *out = NULL;
  if (read_file (NODE_DIR "/" CREATED_DIRS, 64 * 1024, &text, NULL, err) < 0)
    return -1;
  save = text;
  while ((line = strsep (&save, "\n")) != NULL)
    if (*line == '/')
      strv_append (out, line);
  return 0;
}

/* Run the staged runhv --version on the node, as the node will: its
   loader and glibc are the node's (the payload brings every other
   library), so a node too old for them fails here, before any change.  */
static int
verify_runs (const char *stage, runhv_error_t *err)
{
  cleanup_free char *bin = xasprintf ("%s/bin/runhv", stage);
  char out[512] = "";
  ssize_t n;
  int fds[2], status;
  pid_t pid;
  pid = fork_with_pipe (fds, err);
  if (pid < 0)
    return -1;
  if (pid == 0)
    {
      dup2 (fds[1], STDOUT_FILENO);
      dup2 (fds[1], STDERR_FILENO);
      /* the loader finds $ORIGIN through /proc/self/exe; a node root
         without /proc mounted (a test's scratch root) needs it said */
      char *origin = xasprintf ("LD_ORIGIN_PATH=%s/bin", stage);
      char *env[] = { origin, (char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
      execve (bin, (char *[]){ (char *)"runhv", (char *)"--version", NULL }, env);
      dprintf (STDOUT_FILENO, "exec: %s\n", strerror (errno));
      _exit (127);
    }
  close (fds[1]);
  n = read_all (fds[0], out, sizeof (out) - 1);
  close (fds[0]);
  out[n > 0 ? n : 0] = '\0';
  out[strcspn (out, "\n")] = '\0';
  while (waitpid (pid, &status, 0) < 0)
    if (errno != EINTR)
      return runhv_make_error (err, errno, "waitpid");
  if (WIFEXITED (status) && WEXITSTATUS (status) == 0 && strncmp (out, "runhv version ", 14) == 0)
    return 0;
  return runhv_error (err,
                      "runhv does not run on this node (runhv --version: %s): the node needs an x86_64 glibc at "
                      "least as new as Debian 12's (2.36)",
                      out[0] ? out : "no output");
}

/* Stage the payload and the handler files in /opt/.runhv-new, and put
   them in place as one rename unless the node already has exactly them.  */
static int
place_files (struct plan *p, char ***created, bool *fresh, bool *changed, FILE *snippet, runhv_error_t *err)
{
  const struct options *o = p->o;
  cleanup_free char *stage = xasprintf ("/opt/.runhv-new-%d", (int)getpid ());
  cleanup_free char *stage_etc = xasprintf ("%s/etc", stage);
  cleanup_free char *node_etc = node_path (o, NODE_DIR "/etc");
  cleanup_free char *kernel = node_path (o, NODE_DIR "/share/runhv/vmlinux");
  cleanup_free struct vm_size *sizes = NULL;
  cleanup_close int stage_fd = -1, old_fd = -1;
  size_t nsizes = 0;
  struct stat st;

  *fresh = lstat (NODE_DIR, &st) < 0;
  *changed = false;
  if (!*fresh && access (NODE_DIR "/" CREATED_DIRS, F_OK) < 0)
    return runhv_error (err, NODE_DIR " exists on the node but the node installer did not put it there: remove it "
                                      "(or uninstall the runhv in it) and run the installer again");
  if (o->sizes != NULL && nodeconfig_parse_sizes (o->sizes, &sizes, &nsizes, err) < 0)
    return -1;
  for (size_t i = 0; parents[i] != NULL; i++)
    if (lstat (parents[i], &st) < 0)
      {
        if (mkdir (parents[i], 0755) < 0)
          return runhv_make_error (err, errno, "mkdir `%s` on the node", parents[i]);
        strv_append (created, parents[i]);
      }
  rm_rf (stage, NULL);
  if (mkdir (stage, 0755) < 0)
    return runhv_make_error (err, errno, "mkdir `%s` on the node", stage);
  stage_fd = open (stage, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (stage_fd < 0 || tree_copy (p->payload_fd, stage_fd, err) < 0
      || nodeconfig_containerd_node (sizes, nsizes, stage_etc, node_etc, kernel, snippet, err) < 0)
    {
      if (stage_fd < 0)
        runhv_make_error (err, errno, "open `%s`", stage);
      rm_rf (stage, NULL);
      return runhv_error_wrap (err, "copy runhv onto the node");
    }
  if (verify_runs (stage, err) < 0)
    {
      rm_rf (stage, NULL);
      return -1;
    }
  if (!*fresh)
    {
      old_fd = open (NODE_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (old_fd >= 0 && tree_equal (stage_fd, old_fd, CREATED_DIRS))
        {
          /* the node already has this payload: leave it untouched */
          rm_rf (stage, NULL);
          return 0;
        }
    }
  {
    /* an upgrade keeps the first install's record */
    cleanup_strv char **old_created = NULL;
    cleanup_free char *list = NULL, *record = xasprintf ("%s/" CREATED_DIRS, stage);
    size_t len = 0;
    FILE *f;
    if (!*fresh && read_created (&old_created, err) < 0)
      {
        rm_rf (stage, NULL);
        return -1;
      }
    f = open_memstream (&list, &len);
    if (f == NULL)
      return runhv_make_error (err, errno, "open_memstream");
    fprintf (f, "# directories the runhv node installer made; uninstall removes them when empty\n");
    for (char **c = *fresh ? *created : old_created; c != NULL && *c != NULL; c++)
      fprintf (f, "%s\n", *c);
    fclose (f);
    if (write_file_atomic (record, list, len, 0644, err) < 0)
      {
        rm_rf (stage, NULL);
        return -1;
      }
  }
  if (*fresh ? rename (stage, NODE_DIR) < 0 : renameat2 (AT_FDCWD, stage, AT_FDCWD, NODE_DIR, RENAME_EXCHANGE) < 0)
    {
      int saved = errno;
      rm_rf (stage, NULL);
      return runhv_make_error (err, saved, "move the new payload to " NODE_DIR);
    }
  /* after an exchange the stage holds the previous payload */
  rm_rf (stage, NULL);
  *changed = true;
  return 0;
}

static int
place_links (const struct options *o, bool *changed, runhv_error_t *err)
{
  for (size_t i = 0; i < sizeof (links) / sizeof (links[0]); i++)
    {
      cleanup_free char *target = xasprintf ("%s" NODE_DIR "/%s", o->node_prefix, links[i].target);
      if (link_is_ours (o, links[i].link, links[i].target))
        continue;
      if (symlink (target, links[i].link) < 0)
        return runhv_make_error (err, errno,
                                 "link %s on the node (remove what is there, e.g. a runhv from `make install`, "
                                 "and run the installer again)",
                                 links[i].link);
      *changed = true;
    }
  return 0;
}

/* Checks that need no change: a failed install should fail here.  */
static int
preflight (const struct options *o, runhv_error_t *err)
{
  struct stat st;
  if (stat (o->containerd_config, &st) < 0)
    return runhv_make_error (err, errno,
                             "containerd config %s on the node (write containerd's defaults there first: "
                             "containerd config default > %s, or pass --containerd-config)",
                             o->containerd_config, o->containerd_config);
  for (size_t i = 0; i < sizeof (links) / sizeof (links[0]); i++)
    if (lstat (links[i].link, &st) == 0 && !link_is_ours (o, links[i].link, links[i].target))
      return runhv_error (err,
                          "%s already exists on the node and is not the installer's link (remove it, e.g. a "
                          "runhv from `make install`, and run the installer again)",
                          links[i].link);
  return 0;
}

/* containerd's config as a file: a symlink (to a config the operator
   manages elsewhere) must stay a symlink, so its target is rewritten.  */
static char *
config_file (const struct options *o)
{
  char *real = realpath (o->containerd_config, NULL);
  return real != NULL ? real : xstrdup (o->containerd_config);
}

static int
do_install (struct plan *p, runhv_error_t *err)
{
  const struct options *o = p->o;
  cleanup_strv char **created = NULL;
  cleanup_free char *snippet = NULL, *config = NULL;
  size_t snippet_len = 0;
  bool fresh = false, files_changed = false, links_changed = false, config_changed = false;
  FILE *f;

  if (preflight (o, err) < 0)
    return -1;
  check_qemu ();
  f = open_memstream (&snippet, &snippet_len);
  if (f == NULL)
    return runhv_make_error (err, errno, "open_memstream");
  if (place_files (p, &created, &fresh, &files_changed, f, err) < 0)
    {
      fclose (f);
      for (size_t i = created ? strv_len (created) : 0; i > 0; i--)
        rmdir (created[i - 1]);
      return -1;
    }
  if (fclose (f) != 0)
    return runhv_make_error (err, errno, "compose the handlers");
  config = config_file (o);
  if (place_links (o, &links_changed, err) < 0 || nodeconfig_install (config, snippet, &config_changed, err) < 0)
    {
      if (fresh)
        {
          remove_fresh (o, created);
          return runhv_error_wrap (err, "install failed and was undone (the node is as it was)");
        }
      return runhv_error_wrap (err, "install failed: the node keeps the new runhv files in " NODE_DIR
                                    " but containerd's config was not changed");
    }
  if (files_changed || links_changed || config_changed)
    {
      printf ("installed runhv %s into " NODE_DIR " and containerd's config %s\n", RUNHV_VERSION, o->containerd_config);
      if (restart_containerd (p, err) < 0)
        return runhv_error_wrap (err, "runhv is installed but not active");
    }
  else
    printf ("runhv %s is already installed on this node: nothing changed\n", RUNHV_VERSION);
  if (o->no_label)
    printf ("node NOT labelled (--no-label): label it for the RuntimeClasses: kubectl label node NODE %s=%s\n",
            o->label_key, o->label_value);
  else
    {
      if (kube_label_node (&p->kube, p->node, o->label_key, o->label_value, err) < 0)
        return runhv_error_wrap (err, "runhv is installed but node %s is not labelled %s=%s", p->node, o->label_key,
                                 o->label_value);
      printf ("labelled node %s %s=%s\n", p->node, o->label_key, o->label_value);
    }
  return 0;
}

static int
do_uninstall (struct plan *p, runhv_error_t *err)
{
  const struct options *o = p->o;
  cleanup_strv char **created = NULL;
  cleanup_free char *config = config_file (o);
  runhv_error_t label_err = NULL;
  bool config_changed = false, removed = false;
  struct stat st;

  /* the label first: the scheduler stops sending runhv pods here */
  if (!o->no_label)
    {
      if (kube_label_node (&p->kube, p->node, o->label_key, NULL, &label_err) == 0)
        printf ("removed label %s from node %s\n", o->label_key, p->node);
    }
  if (nodeconfig_install (config, NULL, &config_changed, err) < 0)
    return runhv_error_wrap (err, "uninstall stopped before changing anything else");
  if (config_changed && restart_containerd (p, err) < 0)
    return runhv_error_wrap (err, "runhv's handlers are out of containerd's config but runhv's files are still "
                                  "on the node");
  for (size_t i = 0; i < sizeof (links) / sizeof (links[0]); i++)
    if (link_is_ours (o, links[i].link, links[i].target))
      {
        if (unlink (links[i].link) < 0)
          return runhv_make_error (err, errno, "remove %s on the node", links[i].link);
        removed = true;
      }
  if (lstat (NODE_DIR, &st) == 0)
    {
      if (access (NODE_DIR "/" CREATED_DIRS, F_OK) < 0)
        return runhv_error (err, NODE_DIR " on the node was not put there by the node installer: left alone "
                                          "(remove it by hand if it is runhv's)");
      if (read_created (&created, err) < 0 || rm_rf (NODE_DIR, err) < 0)
        return -1;
      removed = true;
      /* a directory someone else has since put files in stays */
      for (size_t i = created ? strv_len (created) : 0; i > 0; i--)
        rmdir (created[i - 1]);
    }
  printf (removed || config_changed ? "uninstalled runhv from this node\n"
                                    : "runhv is not installed on this node: nothing changed\n");
  if (label_err != NULL)
    {
      *err = label_err;
      return runhv_error_wrap (err, "runhv is uninstalled but the label is still on node %s", p->node);
    }
  return 0;
}

/* The DaemonSet's container: install, then wait for the pod's deletion
   (SIGTERM) and uninstall.  */
static int
do_run (struct plan *p, runhv_error_t *err)
{
  sigset_t set;
  int sig = 0;
  sigemptyset (&set);
  sigaddset (&set, SIGTERM);
  sigaddset (&set, SIGINT);
  sigprocmask (SIG_BLOCK, &set, NULL);
  if (do_install (p, err) < 0)
    return -1;
  printf ("waiting for SIGTERM to uninstall\n");
  fflush (stdout);
  while (sigwait (&set, &sig) != 0)
    ;
  printf ("signal %d: uninstalling\n", sig);
  return do_uninstall (p, err);
}

static void
usage (FILE *f)
{
  fprintf (f, "usage: runhv-node-installer install|uninstall|run [options]\n"
              "Put runhv on this Kubernetes node (its / mounted at --host-root): the payload into " NODE_DIR ",\n"
              "links in /usr/local/bin and /usr/local/share, runhv's handlers into containerd's config as\n"
              "one marked block, a containerd restart and the node label the RuntimeClasses select.\n"
              "uninstall undoes all of it; run installs, waits for SIGTERM, then uninstalls (the DaemonSet).\n"
              "  --host-root DIR          where the node's / is mounted (default /host)\n"
              "  --node-prefix DIR        where the node sees --host-root, for paths written on the node\n"
              "                           (default empty: --host-root is the node's /; for tests)\n"
              "  --payload DIR            runhv's files in this image (default " NODE_DIR ")\n"
              "  --containerd-config F    containerd's config on the node (default /etc/containerd/config.toml)\n"
              "  --sizes LIST             sized VM handlers, as runhv config containerd --sizes\n"
              "  --node-label KEY=VALUE   the label to set (default runhv.io/node=true)\n"
              "  --service-account-dir D  token and ca.crt (default /var/run/secrets/kubernetes.io/serviceaccount)\n"
              "  --no-restart             do not restart containerd (say that it must be)\n"
              "  --no-label               do not label the node (say that it must be)\n");
}

static int
parse (int argc, char **argv, struct options *o, runhv_error_t *err)
{
  enum
  {
    OPT_ROOT = 256,
    OPT_PREFIX,
    OPT_PAYLOAD,
    OPT_CONFIG,
    OPT_SIZES,
    OPT_LABEL,
    OPT_SA,
    OPT_NO_RESTART,
    OPT_NO_LABEL,
  };
  static const struct option opts[] = {
    { "host-root", required_argument, NULL, OPT_ROOT },
    { "node-prefix", required_argument, NULL, OPT_PREFIX },
    { "payload", required_argument, NULL, OPT_PAYLOAD },
    { "containerd-config", required_argument, NULL, OPT_CONFIG },
    { "sizes", required_argument, NULL, OPT_SIZES },
    { "node-label", required_argument, NULL, OPT_LABEL },
    { "service-account-dir", required_argument, NULL, OPT_SA },
    { "no-restart", no_argument, NULL, OPT_NO_RESTART },
    { "no-label", no_argument, NULL, OPT_NO_LABEL },
    { NULL, 0, NULL, 0 },
  };
  int c;
  optind = 2;
  while ((c = getopt_long (argc, argv, "+", opts, NULL)) != -1)
    switch (c)
      {
      case OPT_ROOT:
        o->host_root = optarg;
        break;
      case OPT_PREFIX:
        /* written into TOML strings and symlinks unescaped */
        if (optarg[0] != '\0' && (optarg[0] != '/' || strpbrk (optarg, "\"\\\n\t ") != NULL))
          return runhv_error (err, "--node-prefix: `%s` is not an absolute path without quotes or spaces", optarg);
        o->node_prefix = optarg;
        break;
      case OPT_PAYLOAD:
        o->payload = optarg;
        break;
      case OPT_CONFIG:
        if (optarg[0] != '/')
          return runhv_error (err, "--containerd-config: `%s` is not an absolute path on the node", optarg);
        o->containerd_config = optarg;
        break;
      case OPT_SIZES:
        o->sizes = optarg;
        break;
      case OPT_LABEL:
        {
          const char *eq = strchr (optarg, '=');
          if (eq == NULL || eq == optarg || strpbrk (optarg, "\"\\ \n\t") != NULL)
            return runhv_error (err, "--node-label: `%s` is not KEY=VALUE (e.g. runhv.io/node=true)", optarg);
          free (o->label_key);
          o->label_key = xstrndup (optarg, (size_t)(eq - optarg));
          o->label_value = eq + 1;
        }
        break;
      case OPT_SA:
        o->sa_dir = optarg;
        break;
      case OPT_NO_RESTART:
        o->no_restart = true;
        break;
      case OPT_NO_LABEL:
        o->no_label = true;
        break;
      default:
        return runhv_error (err, "unknown option (see --help)");
      }
  if (optind != argc)
    return runhv_error (err, "unexpected argument `%s`", argv[optind]);
  if (o->label_key == NULL)
    o->label_key = xstrdup ("runhv.io/node");
  return 0;
}

/* Everything read from the image and the pod before the chroot.  */
static int
prepare (struct plan *p, runhv_error_t *err)
{
  const struct options *o = p->o;
  static const char *const required[]
    = { "bin/runhv", "bin/containerd-shim-runhv-v1", "share/runhv/vmlinux", "share/runhv/initramfs.cpio", NULL };
  p->payload_fd = open (o->payload, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (p->payload_fd < 0)
    return runhv_make_error (err, errno, "payload %s (run the installer from its image, or pass --payload)",
                             o->payload);
  for (size_t i = 0; required[i] != NULL; i++)
    if (faccessat (p->payload_fd, required[i], R_OK, 0) < 0)
      return runhv_make_error (err, errno, "payload %s/%s (the image is incomplete: rebuild it with make images)",
                               o->payload, required[i]);
  if (!o->no_label)
    {
      const char *node = getenv ("NODE_NAME");
      if (node == NULL || !k8s_name_valid (node, 253, true))
        return runhv_error (err,
                            "NODE_NAME `%s` is not a node name (the DaemonSet sets it from spec.nodeName; "
                            "outside Kubernetes pass --no-label)",
                            node ? node : "");
      p->node = xstrdup (node);
      if (kube_client_init (&p->kube, o->sa_dir, err) < 0)
        return -1;
    }
  if (!o->no_restart)
    {
      p->mntns_fd = open ("/proc/1/ns/mnt", O_RDONLY | O_CLOEXEC);
      if (p->mntns_fd < 0)
        return runhv_make_error (err, errno,
                                 "open /proc/1/ns/mnt (the DaemonSet needs hostPID: true; tests pass "
                                 "--no-restart)");
    }
  if (chroot (o->host_root) < 0 || chdir ("/") < 0)
    return runhv_make_error (err, errno, "chroot into the node's root %s (mount it there: hostPath /)", o->host_root);
  return 0;
}

int
main (int argc, char **argv)
{
  struct options o = {
    .host_root = "/host",
    .node_prefix = "",
    .payload = NODE_DIR,
    .containerd_config = "/etc/containerd/config.toml",
    .sa_dir = "/var/run/secrets/kubernetes.io/serviceaccount",
    .label_value = "true",
  };
  struct plan p = { .o = &o, .payload_fd = -1, .mntns_fd = -1 };
  runhv_error_t err = NULL;
  const char *verb = argc > 1 ? argv[1] : "";
  int rc;

  setvbuf (stdout, NULL, _IOLBF, 0);
  if (strcmp (verb, "--help") == 0 || strcmp (verb, "help") == 0)
    {
      usage (stdout);
      return 0;
    }
  if (strcmp (verb, "--version") == 0)
    {
      printf ("runhv-node-installer %s (commit %s)\n", RUNHV_VERSION, RUNHV_COMMIT);
      return 0;
    }
  if (strcmp (verb, "install") != 0 && strcmp (verb, "uninstall") != 0 && strcmp (verb, "run") != 0)
    {
      fprintf (stderr, "runhv-node-installer: give install, uninstall or run (see --help)\n");
      return EXIT_USAGE;
    }
  umask (022);
  if (parse (argc, argv, &o, &err) < 0)
    {
      fprintf (stderr, "runhv-node-installer: %s\n", err->msg);
      runhv_error_release (&err);
      free (o.label_key);
      return EXIT_USAGE;
    }
  rc = prepare (&p, &err);
  if (rc == 0)
    {
      if (strcmp (verb, "install") == 0)
        rc = do_install (&p, &err);
      else if (strcmp (verb, "uninstall") == 0)
        rc = do_uninstall (&p, &err);
      else
        rc = do_run (&p, &err);
    }
  if (rc < 0)
    fprintf (stderr, "runhv-node-installer: %s: %s\n", verb, err->msg);
  runhv_error_release (&err);
  kube_client_release (&p.kube);
  free (p.node);
  free (o.label_key);
  if (p.payload_fd >= 0)
    close (p.payload_fd);
  if (p.mntns_fd >= 0)
    close (p.mntns_fd);
  return rc < 0 ? 1 : 0;
}

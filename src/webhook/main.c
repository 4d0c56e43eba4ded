/* runhv-webhook: the Kubernetes mutating admission webhook that makes
   hypervisor isolation the default for pods that can have it.  main() parses
   flags, loads the certificate, runs libmicrohttpd's thread pool and waits
   for signals; the main thread also polls the certificate files.  */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "webhook.h"
#include "core/log.h"
#include "nodeconfig.h"
#include "runhv-config.h"
#include "core/util.h"
#include "core/banned.h"

#define EXIT_USAGE 2

struct options
{
  const char *listen;
  const char *cert_file, *key_file;
  const char *runtime_class;
  char **exclude_namespaces;
  int64_t max_connections;
  int64_t threads;
  int64_t read_timeout;
  int64_t request_timeout;
  int64_t max_per_client;
  int64_t reload_interval;
  bool debug;
};

static void
print_help (void)
{
  printf ("usage: runhv-webhook --tls-cert-file FILE --tls-private-key-file FILE [options]\n"
          "\n"
          "Kubernetes mutating admission webhook for runhv.  POST /mutate takes an AdmissionReview\n"
          "(admission.k8s.io/v1) and, for a Pod CREATE that can run in a utility VM, answers with a\n"
          "JSONPatch that sets spec.runtimeClassName and the annotation\n"
          "runhv-runtimeclass-mutating-webhook: mutated.  Pods are left alone (allowed, no patch) when\n"
          "they already name a runtimeClassName, use hostNetwork, hostPID or hostIPC, have a privileged\n"
          "container (init and ephemeral included), require an OS other than linux (spec.os,\n"
          "nodeSelector or required node affinity on kubernetes.io/os), carry the label\n"
          "runhv.io/isolation: process, or live in an excluded namespace; so are operations other\n"
          "than CREATE and kinds other than Pod.  Also serves GET /healthz, /readyz and /metrics.\n"
          "\n"
          "options:\n"
          "  --listen ADDR:PORT           address to serve HTTPS on (default 0.0.0.0:8443; IPv6 as [::]:8443;\n"
          "                               port 0 picks a free port and logs it)\n"
          "  --tls-cert-file FILE         PEM serving certificate, chain after it (required)\n"
          "  --tls-private-key-file FILE  PEM private key of that certificate (required)\n"
          "  --tls-reload-interval SECS   how often to check both files for a new pair; a changed pair\n"
          "                               is loaded without a restart, SIGHUP forces it (default 10)\n"
          "  --runtime-class NAME         RuntimeClass to set (default runhv-hypervisor)\n"
          "  --exclude-namespace NS       never mutate pods in NS; repeat for more namespaces\n"
          "  --max-connections N          open connections at once; more wait in the kernel's\n"
          "                               accept queue (default 1024)\n"
          "  --threads N                  worker threads (default: one per online CPU)\n"
          "  --read-timeout SECS          close a connection idle this long, mid-request included\n"
          "                               (default 10, the API server's own webhook timeout)\n"
          "  --request-timeout SECS       close a connection whose request is not whole this long after\n"
          "                               its accept or its previous answer, however steadily it sends\n"
          "                               (default 10)\n"
          "  --max-connections-per-client N\n"
          "                               open connections from one client address at once; more are\n"
          "                               closed at accept (default 64)\n"
          "  --debug                      log every decision to stderr\n"
          "  --version                    print the version and exit\n"
          "  --help                       print this help and exit\n"
          "\n"
          "Request bodies are capped at 3 MiB (413 beyond), TLS is 1.2 or 1.3 only.  SIGTERM and\n"
          "SIGINT stop the server; SIGHUP reloads the certificate.\n");
}

static int usage_error (const char *fmt, ...) RUNHV_PRINTF (1, 2);

static int
usage_error (const char *fmt, ...)
{
  va_list ap;
  fputs ("runhv-webhook: ", stderr);
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fputc ('\n', stderr);
  return EXIT_USAGE;
}

static int
parse_positive (const char *flag, const char *arg, int64_t max, int64_t *out)
{
  int64_t v;
  if (parse_int64 (arg, &v) < 0 || v < 1 || v > max)
    return usage_error ("%s: `%s` is not a whole number from 1 to %lld", flag, arg, (long long)max);
  *out = v;
  return 0;
}

/* ADDR:PORT, [IPv6]:PORT → a numeric socket address.  */
static int
parse_listen (const char *arg, struct sockaddr_storage *addr, bool *ipv6)
{
  cleanup_free char *host = NULL;
  const char *colon = strrchr (arg, ':'), *port;
  struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV, .ai_socktype = SOCK_STREAM }, *res = NULL;
  int64_t port_num;

  if (colon == NULL)
    return usage_error ("--listen: `%s` has no port (use ADDR:PORT, e.g. 0.0.0.0:8443 or [::]:8443)", arg);
  port = colon + 1;
  if (arg[0] == '[')
    {
      if (colon < arg + 2 || colon[-1] != ']')
        return usage_error ("--listen: `%s`: write an IPv6 address as [ADDR]:PORT", arg);
      host = xstrndup (arg + 1, (size_t)(colon - arg - 2));
    }
  else
    host = xstrndup (arg, (size_t)(colon - arg));
  if (parse_int64 (port, &port_num) < 0 || port_num < 0 || port_num > 65535)
    return usage_error ("--listen: `%s`: the port must be a number from 0 to 65535", arg);
  if (getaddrinfo (host, port, &hints, &res) != 0 || res == NULL)
    return usage_error ("--listen: `%s` is not a numeric IP address (use e.g. 0.0.0.0:8443 or [::]:8443)", host);
  memcpy (addr, res->ai_addr, res->ai_addrlen);
  *ipv6 = res->ai_family == AF_INET6;
  freeaddrinfo (res);
  return 0;
}

static int
parse_options (int argc, char **argv, struct options *o)
{
  enum
  {
    OPT_LISTEN = 256,
    OPT_CERT,
    OPT_KEY,
    OPT_RELOAD,
    OPT_CLASS,
    OPT_EXCLUDE,
    OPT_MAXCONN,
    OPT_THREADS,
    OPT_TIMEOUT,
    OPT_REQUEST_TIMEOUT,
    OPT_PER_CLIENT,
    OPT_DEBUG,
    OPT_VERSION,
    OPT_HELP,
  };
  static const struct option opts[] = {
    { "listen", required_argument, NULL, OPT_LISTEN },
    { "tls-cert-file", required_argument, NULL, OPT_CERT },
    { "tls-private-key-file", required_argument, NULL, OPT_KEY },
    { "tls-reload-interval", required_argument, NULL, OPT_RELOAD },
    { "runtime-class", required_argument, NULL, OPT_CLASS },
    { "exclude-namespace", required_argument, NULL, OPT_EXCLUDE },
    { "max-connections", required_argument, NULL, OPT_MAXCONN },
    { "threads", required_argument, NULL, OPT_THREADS },
    { "read-timeout", required_argument, NULL, OPT_TIMEOUT },
    { "request-timeout", required_argument, NULL, OPT_REQUEST_TIMEOUT },
    { "max-connections-per-client", required_argument, NULL, OPT_PER_CLIENT },
    { "debug", no_argument, NULL, OPT_DEBUG },
    { "version", no_argument, NULL, OPT_VERSION },
    { "help", no_argument, NULL, OPT_HELP },
    { NULL, 0, NULL, 0 },
  };
  int c, r;

  opterr = 0;
  while ((c = getopt_long (argc, argv, "", opts, NULL)) != -1)
    {
      r = 0;
      switch (c)
        {
        case OPT_LISTEN:
          o->listen = optarg;
          break;
        case OPT_CERT:
          o->cert_file = optarg;
          break;
        case OPT_KEY:
          o->key_file = optarg;
          break;
        case OPT_RELOAD:
          r = parse_positive ("--tls-reload-interval", optarg, 86400, &o->reload_interval);
          break;
        case OPT_CLASS:
          if (!k8s_name_valid (optarg, 253, true))
            return usage_error ("--runtime-class: `%s` is not a RuntimeClass name (lowercase letters, digits, '-' "
                                "and '.', e.g. runhv-hypervisor)",
                                optarg);
          o->runtime_class = optarg;
          break;
        case OPT_EXCLUDE:
          if (!k8s_name_valid (optarg, 63, false))
            return usage_error ("--exclude-namespace: `%s` is not a namespace name (lowercase letters, digits and "
                                "'-', at most 63)",
                                optarg);
          strv_append (&o->exclude_namespaces, optarg);
          break;
        case OPT_MAXCONN:
          r = parse_positive ("--max-connections", optarg, 1000000, &o->max_connections);
          break;
        case OPT_THREADS:
          r = parse_positive ("--threads", optarg, 1024, &o->threads);
          break;
        case OPT_TIMEOUT:
          r = parse_positive ("--read-timeout", optarg, 3600, &o->read_timeout);
          break;
        case OPT_REQUEST_TIMEOUT:
          r = parse_positive ("--request-timeout", optarg, 3600, &o->request_timeout);
          break;
        case OPT_PER_CLIENT:
          r = parse_positive ("--max-connections-per-client", optarg, 1000000, &o->max_per_client);
          break;
        case OPT_DEBUG:
          o->debug = true;
          break;
        case OPT_VERSION:
          printf ("runhv-webhook %s (commit %s)\n", RUNHV_VERSION, RUNHV_COMMIT);
          return -1;
        case OPT_HELP:
          print_help ();
          return -1;
        case ':':
          return usage_error ("%s: missing value (see --help)", argv[optind - 1]);
        default:
          return usage_error ("%s: unknown flag (see --help)", argv[optind - 1]);
        }
      if (r != 0)
        return r;
    }
  if (optind != argc)
    return usage_error ("unexpected argument `%s` (every setting is a flag: see --help)", argv[optind]);
  if (o->cert_file == NULL)
    return usage_error ("--tls-cert-file: missing (give the PEM serving certificate; see --help)");
  if (o->key_file == NULL)
    return usage_error ("--tls-private-key-file: missing (give the PEM key of --tls-cert-file; see --help)");
  return 0;
}

/* libmicrohttpd's own messages (failed handshakes, clients that vanish)
   are routine on a webhook: kept for --debug.  */
static void
mhd_log (void *cls, const char *fmt, va_list ap)
{
  char buf[512];
  size_t n;
  (void)cls;
  if (log_get_level () < LOG_LEVEL_DEBUG)
    return;
  vsnprintf (buf, sizeof buf, fmt, ap);
  n = strlen (buf);
  while (n > 0 && buf[n - 1] == '\n')
    buf[--n] = '\0';
  log_debug ("libmicrohttpd: %s", buf);
}

/* Wait for signals; between them, cut connections over their request
   deadline (each second) and poll the certificate (each reload interval). */
static void
serve_until_signal (struct tls_store *tls, int64_t reload_interval)
{
  sigset_t set;
  struct timespec wait = { .tv_sec = 1 };
  uint64_t next_reload = monotonic_ns () + (uint64_t)reload_interval * 1000000000ull;
  sigemptyset (&set);
  sigaddset (&set, SIGTERM);
  sigaddset (&set, SIGINT);
  sigaddset (&set, SIGHUP);
  for (;;)
    {
      runhv_error_t err = NULL;
      int sig = sigtimedwait (&set, NULL, &wait), r;
      if (sig == SIGTERM || sig == SIGINT)
        {
          log_info ("signal %d: stopping", sig);
          return;
        }
      if (sig < 0 && errno != EAGAIN && errno != EINTR)
        {
          log_error ("sigtimedwait: %s", strerror (errno));
          return;
        }
      {
        unsigned int cut = deadline_sweep ();
        if (cut > 0)
          {
            metrics_count_connections_cut (cut);
            log_debug ("cut %u connection%s over the request deadline", cut, cut == 1 ? "" : "s");
          }
      }
      if (sig != SIGHUP && monotonic_ns () < next_reload)
        continue;
      next_reload = monotonic_ns () + (uint64_t)reload_interval * 1000000000ull;
      r = tls_store_reload (tls, sig == SIGHUP, &err);
      if (r < 0)
        {
          metrics_count_tls_reload (false);
          log_warning ("certificate not reloaded, the previous one keeps serving: %s", err->msg);
          runhv_error_release (&err);
        }
      else if (r > 0)
        {
          metrics_count_tls_reload (true);
          log_info ("certificate reloaded from %s", sig == SIGHUP ? "SIGHUP" : "changed files");
        }
    }
}

int
main (int argc, char **argv)
{
  struct options o = {
    .listen = "0.0.0.0:8443",
    .runtime_class = RUNHV_HANDLER_HYPERVISOR,
    .max_connections = 1024,
    .read_timeout = 10,
    .request_timeout = 10,
    .max_per_client = 64,
    .reload_interval = 10,
  };
  cleanup_strv char **exclude = NULL;
  struct webhook_server srv = { 0 };
  struct sockaddr_storage addr = { 0 };
  struct tls_store *tls = NULL;
  struct MHD_Daemon *daemon;
  runhv_error_t err = NULL;
  unsigned int flags;
  bool ipv6 = false;
  sigset_t set;
  int r;

  log_set_ident ("runhv-webhook");
  r = parse_options (argc, argv, &o);
  exclude = o.exclude_namespaces;
  if (r < 0)
    return 0; /* --help, --version */
  if (r > 0)
    return r;
  if (parse_listen (o.listen, &addr, &ipv6) != 0)
    return EXIT_USAGE;
  if (o.threads == 0)
    {
      long n = sysconf (_SC_NPROCESSORS_ONLN);
      o.threads = n > 0 ? n : 1;
    }
  log_set_level (o.debug ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);

  if (tls_store_new (o.cert_file, o.key_file, &tls, &err) < 0)
    {
      fprintf (stderr, "runhv-webhook: %s\n", err->msg);
      runhv_error_release (&err);
      return 1;
    }
  tls_store_install (tls);

  {
    in_port_t port
      = ipv6 ? ntohs (((struct sockaddr_in6 *)&addr)->sin6_port) : ntohs (((struct sockaddr_in *)&addr)->sin_port);
    if (webhook_confine (port != 0 && port < 1024, &err) < 0)
      {
        fprintf (stderr, "runhv-webhook: confining the process failed: %s\n", err->msg);
        runhv_error_release (&err);
        tls_store_free (tls);
        return 1;
      }
  }

  /* Block the signals before MHD starts its threads, so they inherit the
     mask and only sigtimedwait() in this thread sees them.  */
  sigemptyset (&set);
  sigaddset (&set, SIGTERM);
  sigaddset (&set, SIGINT);
  sigaddset (&set, SIGHUP);
  pthread_sigmask (SIG_BLOCK, &set, NULL);
  signal (SIGPIPE, SIG_IGN);

  srv.admission.runtime_class = o.runtime_class;
  srv.admission.exclude_namespaces = exclude;
  srv.max_body = ADMISSION_MAX_BODY;
  deadline_set_budget ((uint64_t)o.request_timeout);
  atomic_store (&srv.ready, false);

  flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TLS | MHD_USE_ERROR_LOG | MHD_USE_ITC;
  if (ipv6)
    flags |= MHD_USE_IPv6;
  daemon = MHD_start_daemon (
    flags, 0, NULL, NULL, server_handle_request, &srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_SOCK_ADDR,
    (struct sockaddr *)&addr, MHD_OPTION_HTTPS_CERT_CALLBACK, tls_cert_callback, MHD_OPTION_HTTPS_PRIORITIES,
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2", MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)o.threads,
    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)o.max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
    (unsigned int)o.read_timeout, MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)o.max_per_client,
    MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_NOTIFY_COMPLETED, server_request_completed, NULL,
    MHD_OPTION_NOTIFY_CONNECTION, deadline_notify_connection, NULL, MHD_OPTION_END);
  if (daemon == NULL)
    {
      fprintf (stderr, "runhv-webhook: cannot serve on %s: the address is in use or not local (check --listen)\n",
               o.listen);
      tls_store_free (tls);
      return 1;
    }
  {
    const union MHD_DaemonInfo *info = MHD_get_daemon_info (daemon, MHD_DAEMON_INFO_BIND_PORT);
    log_info ("serving https on %s port %u, runtime class %s, %lld threads", o.listen,
              info != NULL ? (unsigned int)info->port : 0u, o.runtime_class, (long long)o.threads);
  }
  atomic_store (&srv.ready, true);

  serve_until_signal (tls, o.reload_interval);

  atomic_store (&srv.ready, false);
  MHD_stop_daemon (daemon);
  tls_store_free (tls);
  return 0;
}

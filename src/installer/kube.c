/* The one API call the installer makes: PATCH a node's labels, over
   HTTPS with GnuTLS, checked against the service account's CA.  One
   request per connection (Connection: close), so the response ends at
   EOF and no HTTP parser beyond the status line is needed.  */
#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <jansson.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "installer.h"
#include "core/util.h"
#include "core/banned.h"

/* An API server that accepts the connection and then says nothing must
   not hang the DaemonSet pod forever.  */
#define KUBE_IO_TIMEOUT_S 15
#define KUBE_MAX_RESPONSE (1u << 20)

int
kube_client_init (struct kube_client *c, const char *sa_dir, runhv_error_t *err)
{
  const char *host = getenv ("KUBERNETES_SERVICE_HOST"), *port = getenv ("KUBERNETES_SERVICE_PORT");
  cleanup_free char *token_path = xasprintf ("%s/token", sa_dir), *ca_path = xasprintf ("%s/ca.crt", sa_dir);
  memset (c, 0, sizeof (*c));
  if (host == NULL || *host == '\0')
    return runhv_error (err, "KUBERNETES_SERVICE_HOST is not set: not running in a pod (run the installer from its "
                             "DaemonSet, or pass --no-label and label the node yourself)");
  if (port == NULL || *port == '\0')
    port = "443";
  if (read_file (token_path, 64 * 1024, &c->token, NULL, err) < 0)
    {
      kube_client_release (c);
      return runhv_error_wrap (err, "service account token (the DaemonSet mounts it; or pass --no-label)");
    }
  c->token[strcspn (c->token, "\r\n")] = '\0';
  if (read_file (ca_path, 1024 * 1024, &c->ca_pem, &c->ca_len, err) < 0)
    {
      kube_client_release (c);
      return runhv_error_wrap (err, "service account CA (the DaemonSet mounts it; or pass --no-label)");
    }
  c->host = xstrdup (host);
  c->port = xstrdup (port);
  return 0;
}

void
kube_client_release (struct kube_client *c)
{
  free (c->host);
  free (c->port);
  free (c->token);
  free (c->ca_pem);
  memset (c, 0, sizeof (*c));
}

static int
dial (const char *host, const char *port, runhv_error_t *err)
{
  struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV }, *res = NULL, *ai;
  struct timeval tv = { .tv_sec = KUBE_IO_TIMEOUT_S };
  int rc, fd = -1, saved = 0;
  rc = getaddrinfo (host, port, &hints, &res);
  if (rc != 0)
    return runhv_error (err, "API server %s:%s: %s (check KUBERNETES_SERVICE_HOST/PORT)", host, port,
                        gai_strerror (rc));
  for (ai = res; ai != NULL; ai = ai->ai_next)
    {
      fd = socket (ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
      if (fd < 0)
        continue;
      /* SO_SNDTIMEO bounds connect() too */
      if (setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof (tv)) == 0
          && setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof (tv)) == 0
          && connect (fd, ai->ai_addr, ai->ai_addrlen) == 0)
        break;
      saved = errno;
      close (fd);
      fd = -1;
    }
  freeaddrinfo (res);
  if (fd < 0)
    return runhv_make_error (err, saved, "connect to the API server %s:%s (is it reachable from the node?)", host,
                             port);
  return fd;
}

static bool
is_ip_literal (const char *host)
{
  return strspn (host, "0123456789.") == strlen (host) || strchr (host, ':') != NULL;
}

/* Send request, read the whole response into *out.  */
static int
https_exchange (const struct kube_client *c, const char *request, size_t len, char **out, size_t *out_len,
                runhv_error_t *err)
{
  gnutls_certificate_credentials_t cred = NULL;
  gnutls_session_t s = NULL;
  gnutls_datum_t ca = { (unsigned char *)c->ca_pem, (unsigned int)c->ca_len };
  cleanup_close int fd = -1;
  cleanup_free char *buf = NULL;
  size_t n = 0, cap = 0;
  int rc = -1, r;

  fd = dial (c->host, c->port, err);
  if (fd < 0)
    return -1;
  if (gnutls_certificate_allocate_credentials (&cred) < 0 || gnutls_init (&s, GNUTLS_CLIENT) < 0)
    {
      runhv_error (err, "GnuTLS: out of memory");
      goto out;
    }
  r = gnutls_certificate_set_x509_trust_mem (cred, &ca, GNUTLS_X509_FMT_PEM);
  if (r <= 0)
    {
      runhv_error (err, "service account ca.crt holds no PEM certificate (%s): check the mounted service account",
                   r < 0 ? gnutls_strerror (r) : "none found");
      goto out;
    }
  if (gnutls_set_default_priority (s) < 0 || gnutls_credentials_set (s, GNUTLS_CRD_CERTIFICATE, cred) < 0)
    {
      runhv_error (err, "GnuTLS: cannot set up the session");
      goto out;
    }
  if (!is_ip_literal (c->host))
    gnutls_server_name_set (s, GNUTLS_NAME_DNS, c->host, strlen (c->host));
  /* the API server's certificate must chain to the CA and name the host
     (an IP address is matched against the IP SANs) */
  gnutls_session_set_verify_cert (s, c->host, 0);
  gnutls_transport_set_int (s, fd);
  gnutls_handshake_set_timeout (s, KUBE_IO_TIMEOUT_S * 1000);
  do
    r = gnutls_handshake (s);
  while (r < 0 && gnutls_error_is_fatal (r) == 0);
  if (r < 0)
    {
      if (r == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR)
        runhv_error (err,
                     "the API server %s:%s has a certificate the service account's CA does not verify for "
                     "that address: check KUBERNETES_SERVICE_HOST and ca.crt",
                     c->host, c->port);
      else
        runhv_error (err, "TLS handshake with the API server %s:%s: %s", c->host, c->port, gnutls_strerror (r));
      goto out;
    }
  for (size_t off = 0; off < len;)
    {
      ssize_t w = gnutls_record_send (s, request + off, len - off);
      if (w == GNUTLS_E_AGAIN || w == GNUTLS_E_INTERRUPTED)
        continue;
      if (w < 0)
        {
          runhv_error (err, "send to the API server: %s", gnutls_strerror ((int)w));
          goto out;
        }
      off += (size_t)w;
    }
  for (;;)
    {
      ssize_t got;
      if (cap - n < 4096)
        {
          if (cap >= KUBE_MAX_RESPONSE)
            {
              runhv_error (err, "the API server's response is larger than %u bytes", KUBE_MAX_RESPONSE);
              goto out;
            }
          cap = cap ? cap * 2 : 8192;
          buf = xrealloc (buf, cap + 1);
        }
      got = gnutls_record_recv (s, buf + n, cap - n);
      if (got == GNUTLS_E_AGAIN || got == GNUTLS_E_INTERRUPTED)
        continue;
      /* EOF, or a peer that closes without close_notify: the body is
         whatever arrived (the status line decides) */
      if (got == 0 || got == GNUTLS_E_PREMATURE_TERMINATION)
        break;
      if (got < 0)
        {
          runhv_error (err, "read from the API server: %s", gnutls_strerror ((int)got));
          goto out;
        }
      n += (size_t)got;
    }
  if (buf == NULL)
    buf = xmalloc0 (1);
  buf[n] = '\0';
  *out = steal_ptr (&buf);
  *out_len = n;
  rc = 0;
out:
  if (s != NULL)
    {
      gnutls_bye (s, GNUTLS_SHUT_WR);
      gnutls_deinit (s);
    }
  if (cred != NULL)
    gnutls_certificate_free_credentials (cred);
  return rc;
}

/* The API server's own words from a Status body, when there is one.  */
static char *
status_message (const char *body)
{
  json_t *j = json_loads (body, 0, NULL);
  const char *m = json_string_value (json_object_get (j, "message"));
  char *r = xstrdup (m ? m : "no message");
  json_decref (j);
  return r;
}

int
kube_label_node (const struct kube_client *c, const char *node, const char *key, const char *value, runhv_error_t *err)
{
  cleanup_free char *patch = NULL, *request = NULL, *response = NULL, *msg = NULL;
  /* an IPv6 KUBERNETES_SERVICE_HOST goes in brackets */
  cleanup_free char *host_header = strchr (c->host, ':') ? xasprintf ("[%s]", c->host) : xstrdup (c->host);
  json_t *labels = json_object (), *doc;
  const char *body;
  size_t response_len = 0;
  int status = 0;

  /* merge patch: null removes the key; a label already absent stays absent */
  json_object_set_new (labels, key, value ? json_string (value) : json_null ());
  doc = json_pack ("{s:{s:o}}", "metadata", "labels", labels);
  patch = json_dumps (doc, JSON_COMPACT);
  json_decref (doc);
  request = xasprintf ("PATCH /api/v1/nodes/%s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
                       "Content-Type: application/merge-patch+json\r\nAccept: application/json\r\n"
                       "User-Agent: runhv-node-installer\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                       node, host_header, c->token, strlen (patch), patch);
  if (https_exchange (c, request, strlen (request), &response, &response_len, err) < 0)
    return -1;
  if (sscanf (response, "HTTP/1.%*1[01] %3d", &status) != 1)
    return runhv_error (err, "the API server %s:%s answered something that is not HTTP", c->host, c->port);
  body = strstr (response, "\r\n\r\n");
  msg = status_message (body ? body + 4 : "");
  if (status >= 200 && status < 300)
    return 0;
  if (status == 401)
    return runhv_error (err,
                        "the API server refused the service account token (401: %s): check the DaemonSet's "
                        "serviceAccountName",
                        msg);
  if (status == 403)
    return runhv_error (err,
                        "the API server forbids patching node %s (403: %s): the ServiceAccount needs the "
                        "ClusterRole runhv-node-installer (node-installer.yaml)",
                        node, msg);
  if (status == 404)
    return runhv_error (err, "node %s does not exist (404): NODE_NAME must be the pod's spec.nodeName", node);
  return runhv_error (err, "labelling node %s failed (HTTP %d: %s)", node, status, msg);
}

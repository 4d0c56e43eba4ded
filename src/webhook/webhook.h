/* runhv-webhook internals: the server (routes), metrics and TLS store that
   main.c wires together.  Decisions live in the library (k8s/admission.h).  */
#ifndef RUNHV_WEBHOOK_H
#define RUNHV_WEBHOOK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>

#include "core/error.h"
#include "k8s/admission.h"

/* ---- confine.c ---- */
/* no_new_privs, no capabilities (CAP_NET_BIND_SERVICE kept when keep_bind)
   and a seccomp filter; before any thread starts, so all inherit it.  */
int webhook_confine (bool keep_bind, runhv_error_t *err);

/* ---- server.c ---- */
struct webhook_server
{
  struct admission_config admission;
  size_t max_body;
  atomic_bool ready; /* false until serving, and again while shutting down */
};

/* The MHD access handler and completion callback; cls is the server.  */
enum MHD_Result server_handle_request (void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                       const char *version, const char *upload_data, size_t *upload_data_size,
                                       void **req_cls);
void server_request_completed (void *cls, struct MHD_Connection *conn, void **req_cls,
                               enum MHD_RequestTerminationCode toe);

/* ---- metrics.c: process-wide counters, lock-free ---- */
enum metrics_error
{
  METRICS_ERROR_BAD_REQUEST = 0, /* 400: not a well-formed review */
  METRICS_ERROR_TOO_LARGE,       /* 413 */
  METRICS_ERROR_NOT_FOUND,       /* 404 */
  METRICS_ERROR_METHOD,          /* 405 */
  METRICS_ERROR_INTERNAL,        /* 500 */
  METRICS_ERROR__COUNT,
};

void metrics_count_request (void);
void metrics_count_review (enum admission_skip skip);
void metrics_count_error (enum metrics_error e);
void metrics_observe_latency (uint64_t nanoseconds);
void metrics_count_tls_reload (bool ok);
void metrics_count_connections_cut (unsigned int n);
/* The Prometheus text exposition (format 0.0.4); caller frees.  */
char *metrics_render (void);

/* ---- tls.c: the serving certificate, swapped in when its files change ---- */
struct tls_store;

/* Load cert and key now (an error names the file and the fix).  */
int tls_store_new (const char *cert_file, const char *key_file, struct tls_store **out, runhv_error_t *err);
void tls_store_free (struct tls_store *store);
/* Reload when either file changed since the last load (or always, when
   force): 1 reloaded, 0 unchanged, -1 with err (the old pair stays).  */
int tls_store_reload (struct tls_store *store, bool force, runhv_error_t *err);
/* MHD's HTTPS certificate callback serves the store installed here (the
   callback has no user pointer).  */
void tls_store_install (struct tls_store *store);
int tls_cert_callback (gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
                       const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length, gnutls_pcert_st **pcert,
                       unsigned int *pcert_length, gnutls_privkey_t *privkey);

uint64_t monotonic_ns (void);

/* ---- deadline.c: a whole-request deadline per connection ---- */
void deadline_set_budget (uint64_t seconds);
/* MHD_OPTION_NOTIFY_CONNECTION: tracks each connection from its accept.  */
void deadline_notify_connection (void *cls, struct MHD_Connection *conn, void **socket_context,
                                 enum MHD_ConnectionNotificationCode code);
/* A request on conn was answered: its budget starts again.  */
void deadline_request_answered (struct MHD_Connection *conn);
/* Shut down every connection over budget; how many were.  */
unsigned int deadline_sweep (void);

#endif

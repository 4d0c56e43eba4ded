/* The serving certificate.  cert-manager and kubelet's secret projection
   replace the files in place (a symlink swap), so the store watches both
   files' identity (device, inode, size, mtime) and loads a new pair when it
   changes; handshakes already in flight keep the pair they started with.  */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "webhook.h"
#include "core/log.h"
#include "core/util.h"
#include "core/banned.h"

/* A chain longer than this is a mistake, not a certificate.  */
#define MAX_CHAIN 16
/* PEM files are a few KiB; a bound keeps a wrong path (a disk image) out.  */
#define MAX_PEM_FILE (1024 * 1024)

struct file_id
{
  dev_t dev;
  ino_t ino;
  off_t size;
  struct timespec mtime;
};

struct tls_pair
{
  gnutls_pcert_st pcerts[MAX_CHAIN];
  unsigned int n_pcerts;
  gnutls_privkey_t key;
  struct tls_pair *retired_next;
};

struct tls_store
{
  char *cert_file, *key_file;
  struct file_id cert_id, key_id;
  pthread_mutex_t lock; /* guards current and retired */
  struct tls_pair *current;
  /* GnuTLS does not copy what the callback returns and gives no signal when
     a session is done with it, so replaced pairs are kept until exit: a few
     KiB per certificate rotation.  */
  struct tls_pair *retired;
};

static struct tls_store *installed_store;

uint64_t
monotonic_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
tls_pair_free (struct tls_pair *p)
{
  if (p == NULL)
    return;
  for (unsigned int i = 0; i < p->n_pcerts; i++)
    gnutls_pcert_deinit (&p->pcerts[i]);
  if (p->key != NULL)
    gnutls_privkey_deinit (p->key);
  free (p);
}

static int
file_identity (const char *path, const char *flag, struct file_id *id, runhv_error_t *err)
{
  struct stat st;
  if (stat (path, &st) < 0)
    return runhv_make_error (err, errno, "%s: cannot stat `%s`", flag, path);
  id->dev = st.st_dev;
  id->ino = st.st_ino;
  id->size = st.st_size;
  id->mtime = st.st_mtim;
  return 0;
}

static bool
file_id_equal (const struct file_id *a, const struct file_id *b)
{
  return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec
         && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* Load and check a pair: the key must belong to the first certificate, or
   every handshake would fail later with a less useful message.  */
static int
tls_pair_load (const char *cert_file, const char *key_file, struct tls_pair **out, runhv_error_t *err)
{
  cleanup_free char *cert_pem = NULL, *key_pem = NULL;
  size_t cert_len = 0, key_len = 0;
  gnutls_certificate_credentials_t check = NULL;
  gnutls_datum_t cert_d, key_d;
  struct tls_pair *p;
  int r;

  if (read_file (cert_file, MAX_PEM_FILE, &cert_pem, &cert_len, err) < 0)
    return runhv_error_wrap (err, "--tls-cert-file");
  if (read_file (key_file, MAX_PEM_FILE, &key_pem, &key_len, err) < 0)
    return runhv_error_wrap (err, "--tls-private-key-file");
  cert_d = (gnutls_datum_t){ .data = (unsigned char *)cert_pem, .size = (unsigned int)cert_len };
  key_d = (gnutls_datum_t){ .data = (unsigned char *)key_pem, .size = (unsigned int)key_len };

  r = gnutls_certificate_allocate_credentials (&check);
  if (r < 0)
    return runhv_error (err, "TLS: %s", gnutls_strerror (r));
  r = gnutls_certificate_set_x509_key_mem2 (check, &cert_d, &key_d, GNUTLS_X509_FMT_PEM, NULL, 0);
  gnutls_certificate_free_credentials (check);
  if (r < 0)
    return runhv_error (
      err, "--tls-cert-file `%s` with --tls-private-key-file `%s`: %s (give a PEM certificate and its PEM key)",
      cert_file, key_file, gnutls_strerror (r));

  p = xmalloc0 (sizeof *p);
  p->n_pcerts = MAX_CHAIN;
  r = gnutls_pcert_list_import_x509_raw (p->pcerts, &p->n_pcerts, &cert_d, GNUTLS_X509_FMT_PEM, 0);
  if (r < 0)
    {
      p->n_pcerts = 0;
      tls_pair_free (p);
      return runhv_error (err, "--tls-cert-file `%s`: %s", cert_file, gnutls_strerror (r));
    }
  r = gnutls_privkey_init (&p->key);
  if (r >= 0)
    r = gnutls_privkey_import_x509_raw (p->key, &key_d, GNUTLS_X509_FMT_PEM, NULL, 0);
  if (r < 0)
    {
      tls_pair_free (p);
      return runhv_error (err, "--tls-private-key-file `%s`: %s", key_file, gnutls_strerror (r));
    }
  *out = p;
  return 0;
}

int
tls_store_new (const char *cert_file, const char *key_file, struct tls_store **out, runhv_error_t *err)
{
  struct tls_store *s = xmalloc0 (sizeof *s);
  s->cert_file = xstrdup (cert_file);
  s->key_file = xstrdup (key_file);
  pthread_mutex_init (&s->lock, NULL);
  if (tls_store_reload (s, true, err) < 0)
    {
      tls_store_free (s);
      return -1;
    }
  *out = s;
  return 0;
}

void
tls_store_free (struct tls_store *s)
{
  if (s == NULL)
    return;
  if (installed_store == s)
    installed_store = NULL;
  tls_pair_free (s->current);
  while (s->retired != NULL)
    {
      struct tls_pair *next = s->retired->retired_next;
      tls_pair_free (s->retired);
      s->retired = next;
    }
  pthread_mutex_destroy (&s->lock);
  free (s->cert_file);
  free (s->key_file);
  free (s);
}

int
tls_store_reload (struct tls_store *s, bool force, runhv_error_t *err)
{
  struct file_id cert_id, key_id;
  struct tls_pair *p = NULL;

  /* Only the main thread reloads; the lock is for the handshake threads.  */
  if (file_identity (s->cert_file, "--tls-cert-file", &cert_id, err) < 0
      || file_identity (s->key_file, "--tls-private-key-file", &key_id, err) < 0)
    return -1;
  if (!force && s->current != NULL && file_id_equal (&cert_id, &s->cert_id) && file_id_equal (&key_id, &s->key_id))
    return 0;
  /* A half-written rotation (new cert, old key) fails the pair check; the
     old pair keeps serving and the next poll tries again.  */
  if (tls_pair_load (s->cert_file, s->key_file, &p, err) < 0)
    return -1;
  pthread_mutex_lock (&s->lock);
  if (s->current != NULL)
    {
      s->current->retired_next = s->retired;
      s->retired = s->current;
    }
  s->current = p;
  s->cert_id = cert_id;
  s->key_id = key_id;
  pthread_mutex_unlock (&s->lock);
  return 1;
}

void
tls_store_install (struct tls_store *s)
{
  installed_store = s;
}

int
tls_cert_callback (gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
                   const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length, gnutls_pcert_st **pcert,
                   unsigned int *pcert_length, gnutls_privkey_t *privkey)
{
  struct tls_store *s = installed_store;
  (void)session;
  (void)req_ca_dn;
  (void)nreqs;
  (void)pk_algos;
  (void)pk_algos_length;
  if (s == NULL)
    return -1;
  pthread_mutex_lock (&s->lock);
  *pcert = s->current->pcerts;
  *pcert_length = s->current->n_pcerts;
  *privkey = s->current->key;
  pthread_mutex_unlock (&s->lock);
  return 0;
}

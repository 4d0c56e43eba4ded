/* Prometheus metrics for runhv-webhook.  Counters are relaxed atomics: a
   scrape needs each number to be right, not a snapshot of all at once.  */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "webhook.h"
#include "core/util.h"
#include "core/banned.h"

/* Review latencies sit around 100 µs; the buckets reach 1 s for a
   starved host, where the API server's own timeout (10 s default) looms.  */
static const double latency_buckets[]
  = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0 };
#define N_BUCKETS (sizeof latency_buckets / sizeof latency_buckets[0])

static const char *const error_names[METRICS_ERROR__COUNT] = {
  [METRICS_ERROR_BAD_REQUEST] = "bad_request", [METRICS_ERROR_TOO_LARGE] = "body_too_large",
  [METRICS_ERROR_NOT_FOUND] = "not_found",     [METRICS_ERROR_METHOD] = "method_not_allowed",
  [METRICS_ERROR_INTERNAL] = "internal",
};

static atomic_uint_fast64_t requests_total;
static atomic_uint_fast64_t reviews_by_skip[ADMISSION_SKIP__COUNT];
static atomic_uint_fast64_t errors_total[METRICS_ERROR__COUNT];
static atomic_uint_fast64_t latency_bucket_counts[N_BUCKETS + 1]; /* last: +Inf */
static atomic_uint_fast64_t latency_sum_ns;
static atomic_uint_fast64_t tls_reloads_ok, tls_reloads_failed;
static atomic_uint_fast64_t connections_cut;

#define INC(x) atomic_fetch_add_explicit (&(x), 1, memory_order_relaxed)
#define GET(x) ((unsigned long long)atomic_load_explicit (&(x), memory_order_relaxed))

void
metrics_count_connections_cut (unsigned int n)
{
  atomic_fetch_add_explicit (&connections_cut, n, memory_order_relaxed);
}

void
metrics_count_request (void)
{
  INC (requests_total);
}

void
metrics_count_review (enum admission_skip skip)
{
  if ((int)skip >= 0 && skip < ADMISSION_SKIP__COUNT)
    INC (reviews_by_skip[skip]);
}

void
metrics_count_error (enum metrics_error e)
{
  if ((int)e >= 0 && e < METRICS_ERROR__COUNT)
    INC (errors_total[e]);
}

void
metrics_observe_latency (uint64_t nanoseconds)
{
  size_t i = 0;
  double seconds = (double)nanoseconds / 1e9;
  while (i < N_BUCKETS && seconds > latency_buckets[i])
    i++;
  /* Stored per bucket, made cumulative when rendered.  */
  INC (latency_bucket_counts[i]);
  atomic_fetch_add_explicit (&latency_sum_ns, nanoseconds, memory_order_relaxed);
}

void
metrics_count_tls_reload (bool ok)
{
  if (ok)
    INC (tls_reloads_ok);
  else
    INC (tls_reloads_failed);
}

char *
metrics_render (void)
{
  char *buf = NULL;
  size_t len = 0;
  unsigned long long cumulative = 0;
  FILE *f = open_memstream (&buf, &len);
  if (f == NULL)
    return NULL;

  fprintf (f,
           "# HELP runhv_webhook_requests_total POST /mutate requests received, well-formed or not.\n"
           "# TYPE runhv_webhook_requests_total counter\n"
           "runhv_webhook_requests_total %llu\n",
           GET (requests_total));
  fprintf (f,
           "# HELP runhv_webhook_mutated_total Pods given the hypervisor RuntimeClass.\n"
           "# TYPE runhv_webhook_mutated_total counter\n"
           "runhv_webhook_mutated_total %llu\n",
           GET (reviews_by_skip[ADMISSION_SKIP_NONE]));
  fprintf (f, "# HELP runhv_webhook_skipped_total Reviews allowed unchanged, by the first rule that matched.\n"
              "# TYPE runhv_webhook_skipped_total counter\n");
  for (int s = ADMISSION_SKIP_NONE + 1; s < ADMISSION_SKIP__COUNT; s++)
    fprintf (f, "runhv_webhook_skipped_total{reason=\"%s\"} %llu\n", admission_skip_name (s), GET (reviews_by_skip[s]));
  fprintf (f, "# HELP runhv_webhook_errors_total Requests answered with an HTTP error, by cause.\n"
              "# TYPE runhv_webhook_errors_total counter\n");
  for (int e = 0; e < METRICS_ERROR__COUNT; e++)
    fprintf (f, "runhv_webhook_errors_total{reason=\"%s\"} %llu\n", error_names[e], GET (errors_total[e]));
  fprintf (f, "# HELP runhv_webhook_review_duration_seconds Time from request headers to queued response.\n"
              "# TYPE runhv_webhook_review_duration_seconds histogram\n");
  for (size_t i = 0; i < N_BUCKETS; i++)
    {
      cumulative += GET (latency_bucket_counts[i]);
      fprintf (f, "runhv_webhook_review_duration_seconds_bucket{le=\"%g\"} %llu\n", latency_buckets[i], cumulative);
    }
  cumulative += GET (latency_bucket_counts[N_BUCKETS]);
  fprintf (f, "runhv_webhook_review_duration_seconds_bucket{le=\"+Inf\"} %llu\n", cumulative);
  fprintf (f, "runhv_webhook_review_duration_seconds_sum %.9f\n", (double)GET (latency_sum_ns) / 1e9);
  fprintf (f, "runhv_webhook_review_duration_seconds_count %llu\n", cumulative);
  fprintf (f,
           "# HELP runhv_webhook_tls_reloads_total Serving certificate reloads after the files changed.\n"
           "# TYPE runhv_webhook_tls_reloads_total counter\n"
           "runhv_webhook_tls_reloads_total{result=\"ok\"} %llu\n"
           "runhv_webhook_tls_reloads_total{result=\"failed\"} %llu\n",
           GET (tls_reloads_ok), GET (tls_reloads_failed));
  fprintf (f,
           "# HELP runhv_webhook_connections_cut_total Connections shut down for passing the request deadline.\n"
           "# TYPE runhv_webhook_connections_cut_total counter\n"
           "runhv_webhook_connections_cut_total %llu\n",
           GET (connections_cut));
  if (fclose (f) != 0)
    {
      free (buf);
      return NULL;
    }
  return buf;
}

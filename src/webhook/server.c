/* Routes: POST /mutate (AdmissionReview), GET /healthz, /readyz, /metrics.
   Bodies are buffered up to max_body and no further; everything else is
   answered from the headers alone.  */
#include <stdlib.h>
#include <string.h>

#include "webhook.h"
#include "core/log.h"
#include "core/util.h"
#include "core/banned.h"

enum route
{
  ROUTE_MUTATE,
  ROUTE_HEALTHZ,
  ROUTE_READYZ,
  ROUTE_METRICS,
  ROUTE_NOT_FOUND,
};

/* One per request, from its first call to MHD's completion callback.  */
struct request
{
  enum route route;
  uint64_t started_ns;
  char *body;
  size_t len, cap;
};

static enum route
route_of (const char *url)
{
  if (strcmp (url, "/mutate") == 0)
    return ROUTE_MUTATE;
  if (strcmp (url, "/healthz") == 0)
    return ROUTE_HEALTHZ;
  if (strcmp (url, "/readyz") == 0)
    return ROUTE_READYZ;
  if (strcmp (url, "/metrics") == 0)
    return ROUTE_METRICS;
  return ROUTE_NOT_FOUND;
}

/* Queue text (owned by the caller, copied) with a status.  */
static enum MHD_Result
reply_copy (struct MHD_Connection *conn, unsigned int status, const char *content_type, const char *text)
{
  struct MHD_Response *resp = MHD_create_response_from_buffer (strlen (text), (void *)text, MHD_RESPMEM_MUST_COPY);
  enum MHD_Result ret;
  if (resp == NULL)
    return MHD_NO;
  MHD_add_response_header (resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
  if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
    MHD_add_response_header (resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
  ret = MHD_queue_response (conn, status, resp);
  MHD_destroy_response (resp);
  return ret;
}

/* Queue malloc'd text, which MHD frees.  */
static enum MHD_Result
reply_take (struct MHD_Connection *conn, unsigned int status, const char *content_type, char *text)
{
  struct MHD_Response *resp = MHD_create_response_from_buffer (strlen (text), text, MHD_RESPMEM_MUST_FREE);
  enum MHD_Result ret;
  if (resp == NULL)
    {
      free (text);
      return MHD_NO;
    }
  MHD_add_response_header (resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
  ret = MHD_queue_response (conn, status, resp);
  MHD_destroy_response (resp);
  return ret;
}

static enum MHD_Result
reply_error (struct MHD_Connection *conn, unsigned int status, enum metrics_error kind, const char *reason)
{
  metrics_count_error (kind);
  return reply_take (conn, status, "text/plain; charset=utf-8", xasprintf ("%s\n", reason));
}

static enum MHD_Result
answer_get (struct webhook_server *srv, struct MHD_Connection *conn, enum route route)
{
  char *text;
  switch (route)
    {
    case ROUTE_HEALTHZ:
      return reply_copy (conn, MHD_HTTP_OK, "text/plain; charset=utf-8", "ok\n");
    case ROUTE_READYZ:
      if (!atomic_load (&srv->ready))
        return reply_copy (conn, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain; charset=utf-8", "not ready\n");
      return reply_copy (conn, MHD_HTTP_OK, "text/plain; charset=utf-8", "ok\n");
    case ROUTE_METRICS:
      text = metrics_render ();
      if (text == NULL)
        return reply_error (conn, MHD_HTTP_INTERNAL_SERVER_ERROR, METRICS_ERROR_INTERNAL, "out of memory");
      return reply_take (conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", text);
    default:
      return reply_error (conn, MHD_HTTP_NOT_FOUND, METRICS_ERROR_NOT_FOUND, "not found (use POST /mutate)");
    }
}

static enum MHD_Result
answer_review (struct webhook_server *srv, struct MHD_Connection *conn, struct request *req)
{
  struct admission_result result;
  runhv_error_t err = NULL;
  enum MHD_Result ret;

  if (admission_review (req->body, req->len, &srv->admission, &result, &err) < 0)
    {
      log_debug ("rejected a review: %s", err->msg);
      ret = reply_error (conn, MHD_HTTP_BAD_REQUEST, METRICS_ERROR_BAD_REQUEST, err->msg);
      runhv_error_release (&err);
      return ret;
    }
  metrics_count_review (result.skip);
  log_debug ("review %s: %s", result.uid,
             result.skip == ADMISSION_SKIP_NONE ? "mutated" : admission_skip_name (result.skip));
  ret = reply_take (conn, MHD_HTTP_OK, "application/json", admission_response_json (&result));
  admission_result_release (&result);
  return ret;
}

/* Append an upload chunk; false when the cap would be passed.  */
static bool
append_body (struct request *req, const char *data, size_t n, size_t max)
{
  if (n > max - req->len)
    return false;
  if (req->len + n > req->cap)
    {
      size_t cap = req->cap ? req->cap : 16 * 1024;
      while (cap < req->len + n)
        cap *= 2;
      if (cap > max)
        cap = max;
      req->body = xrealloc (req->body, cap);
      req->cap = cap;
    }
  memcpy (req->body + req->len, data, n);
  req->len += n;
  return true;
}

enum MHD_Result
server_handle_request (void *cls, struct MHD_Connection *conn, const char *url, const char *method, const char *version,
                       const char *upload_data, size_t *upload_data_size, void **req_cls)
{
  struct webhook_server *srv = cls;
  struct request *req = *req_cls;
  bool is_get = strcmp (method, MHD_HTTP_METHOD_GET) == 0 || strcmp (method, MHD_HTTP_METHOD_HEAD) == 0;
  (void)version;

  if (req == NULL)
    {
      /* First call: headers only.  Everything but a review is answered now.  */
      const char *clen;
      req = xmalloc0 (sizeof *req);
      req->route = route_of (url);
      req->started_ns = monotonic_ns ();
      *req_cls = req;
      if (req->route == ROUTE_NOT_FOUND)
        return reply_error (conn, MHD_HTTP_NOT_FOUND, METRICS_ERROR_NOT_FOUND, "not found (use POST /mutate)");
      if (req->route != ROUTE_MUTATE)
        {
          if (!is_get)
            return reply_error (conn, MHD_HTTP_METHOD_NOT_ALLOWED, METRICS_ERROR_METHOD,
                                "method not allowed (use GET)");
          return answer_get (srv, conn, req->route);
        }
      metrics_count_request ();
      if (strcmp (method, MHD_HTTP_METHOD_POST) != 0)
        {
          struct MHD_Response *resp;
          enum MHD_Result ret;
          metrics_count_error (METRICS_ERROR_METHOD);
          resp = MHD_create_response_from_buffer (strlen ("method not allowed (use POST)\n"),
                                                  (void *)"method not allowed (use POST)\n", MHD_RESPMEM_PERSISTENT);
          if (resp == NULL)
            return MHD_NO;
          MHD_add_response_header (resp, MHD_HTTP_HEADER_ALLOW, "POST");
          MHD_add_response_header (resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
          ret = MHD_queue_response (conn, MHD_HTTP_METHOD_NOT_ALLOWED, resp);
          MHD_destroy_response (resp);
          return ret;
        }
      /* A declared length over the cap is refused before a byte of it is
         read.  MHD has already checked that the header is a number.  */
      clen = MHD_lookup_connection_value (conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
      if (clen != NULL)
        {
          uint64_t n;
          if (parse_uint64 (clen, &n) < 0 || n > srv->max_body)
            return reply_error (conn, MHD_HTTP_CONTENT_TOO_LARGE, METRICS_ERROR_TOO_LARGE,
                                "request body too large (the limit is 3 MiB, as the API server's)");
        }
      return MHD_YES;
    }

  if (*upload_data_size > 0)
    {
      if (!append_body (req, upload_data, *upload_data_size, srv->max_body))
        {
          /* Chunked uploads have no length up front; MHD cannot answer in
             the middle of a body, so the connection is dropped instead.  */
          metrics_count_error (METRICS_ERROR_TOO_LARGE);
          log_debug ("dropping a connection whose chunked body passed %zu bytes", srv->max_body);
          return MHD_NO;
        }
      *upload_data_size = 0;
      return MHD_YES;
    }

  {
    enum MHD_Result ret = answer_review (srv, conn, req);
    metrics_observe_latency (monotonic_ns () - req->started_ns);
    return ret;
  }
}

void
server_request_completed (void *cls, struct MHD_Connection *conn, void **req_cls, enum MHD_RequestTerminationCode toe)
{
  struct request *req = *req_cls;
  (void)cls;
  (void)toe;
  deadline_request_answered (conn);
  if (req == NULL)
    return;
  free (req->body);
  free (req);
  *req_cls = NULL;
}

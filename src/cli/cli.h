/* The runhv CLI: thin verbs over runtime.h.  A verb returns the process exit
   status, or -1 with err set; main() prints the error once.  */
#ifndef RUNHV_CLI_H
#define RUNHV_CLI_H

#include <getopt.h>
#include <stdbool.h>

#include "core/error.h"
#include "runtime.h"

struct cli_global
{
  struct runtime_context ctx;
  bool debug;
};

typedef int (*cli_verb_fn) (struct cli_global *g, int argc, char **argv, runhv_error_t *err);

struct cli_verb
{
  const char *name;
  cli_verb_fn fn;
  const char *usage;
};

int cli_create (struct cli_global *g, int argc, char **argv, runhv_error_t *err);
int cli_run (struct cli_global *g, int argc, char **argv, runhv_error_t *err);
int cli_start (struct cli_global *g, int argc, char **argv, runhv_error_t *err);
int cli_state (struct cli_global *g, int argc, char **argv, runhv_error_t *err);
int cli_kill (struct cli_global *g, int argc, char **argv, runhv_error_t *err);
int cli_delete (struct cli_global *g, int argc, char **argv, runhv_error_t *err);
int cli_list (struct cli_global *g, int argc, char **argv, runhv_error_t *err);
int cli_exec (struct cli_global *g, int argc, char **argv, runhv_error_t *err);
int cli_events (struct cli_global *g, int argc, char **argv, runhv_error_t *err);
int cli_ps (struct cli_global *g, int argc, char **argv, runhv_error_t *err);
int cli_pause (struct cli_global *g, int argc, char **argv, runhv_error_t *err);
int cli_resume (struct cli_global *g, int argc, char **argv, runhv_error_t *err);
int cli_update (struct cli_global *g, int argc, char **argv, runhv_error_t *err);
int cli_features (struct cli_global *g, int argc, char **argv, runhv_error_t *err);
int cli_spec (struct cli_global *g, int argc, char **argv, runhv_error_t *err);
int cli_diag (struct cli_global *g, int argc, char **argv, runhv_error_t *err);
int cli_config (struct cli_global *g, int argc, char **argv, runhv_error_t *err);
int cli_config_kubernetes (int argc, char **argv, runhv_error_t *err);

/* Helpers shared by verbs.  */
int cli_one_id (int argc, char **argv, const char *verb, const char **id, runhv_error_t *err);
int cli_parse_signal (const char *s, int *sig);
int cli_usage_error (runhv_error_t *err, const char *verb, const char *fmt, ...) RUNHV_PRINTF (3, 4);
void cli_print_json (json_t *j);

#endif

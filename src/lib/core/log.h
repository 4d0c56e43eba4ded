/* Process-wide logging: stderr and, when asked, a log file in text or JSON
   lines (the format containerd's runc shim reads back on failure).  */
#ifndef RUNHV_LOG_H
#define RUNHV_LOG_H

#include "core/error.h"

enum log_level
{
  LOG_LEVEL_ERROR = 0,
  LOG_LEVEL_WARNING,
  LOG_LEVEL_INFO,
  LOG_LEVEL_DEBUG,
};

enum log_format
{
  LOG_FORMAT_TEXT = 0,
  LOG_FORMAT_JSON,
};

/* path may be NULL (stderr only).  A log file is opened O_APPEND|O_CLOEXEC.  */
int log_init (const char *path, enum log_format format, enum log_level level, runhv_error_t *err);
void log_set_level (enum log_level level);
enum log_level log_get_level (void);
/* Stop copying to stderr (daemons whose stderr is not a person).  */
void log_set_stderr (int enabled);
/* Program name shown in text lines, e.g. "runhv" or "runhv-agent".  */
void log_set_ident (const char *ident);
int log_get_fd (void);

void log_write (enum log_level level, const char *fmt, ...) RUNHV_PRINTF (2, 3);

#define log_error(...) log_write (LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warning(...) log_write (LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_info(...) log_write (LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...)                                                                                                 \
  do                                                                                                                   \
    {                                                                                                                  \
      if (log_get_level () >= LOG_LEVEL_DEBUG)                                                                         \
        log_write (LOG_LEVEL_DEBUG, __VA_ARGS__);                                                                      \
    }                                                                                                                  \
  while (0)

#endif

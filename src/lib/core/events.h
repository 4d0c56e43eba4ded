/* A persisted event log of compute systems (the seed's Hyper-V-Worker
   admin log): one JSON object per line in <root>/events.jsonl.  */
#ifndef RUNHV_EVENTS_H
#define RUNHV_EVENTS_H

#include <sys/types.h>

#include "core/error.h"

/* Best effort: a failure to log never fails the operation.  */
void events_record (const char *root, const char *type, const char *id, const char *isolation, pid_t pid,
                    const int *exit_status);
/* The same with how a VM started: "template" or "cold" (vm-started).  */
void events_record_boot (const char *root, const char *type, const char *id, const char *isolation, pid_t pid,
                         const int *exit_status, const char *boot);
char *events_path (const char *root);

#endif

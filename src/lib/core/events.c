#include "core/events.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"
#include "core/banned.h"

char *
events_path (const char *root)
{
  return xasprintf ("%s/events.jsonl", root);
}

void
events_record (const char *root, const char *type, const char *id, const char *isolation, pid_t pid,
               const int *exit_status)
{
  events_record_boot (root, type, id, isolation, pid, exit_status, NULL);
}

void
events_record_boot (const char *root, const char *type, const char *id, const char *isolation, pid_t pid,
                    const int *exit_status, const char *boot)
{
  cleanup_free char *path = events_path (root);
  cleanup_free char *line = NULL;
  cleanup_close int fd = -1;
  char ts[64];
  json_t *j;
  char *text;

  format_rfc3339_now (ts, sizeof (ts));
  j = json_pack ("{s:s,s:s,s:s}", "time", ts, "type", type, "id", id);
  if (isolation)
    json_object_set_new (j, "isolation", json_string (isolation));
  if (pid > 0)
    json_object_set_new (j, "pid", json_integer (pid));
  if (exit_status)
    json_object_set_new (j, "exitStatus", json_integer (*exit_status));
  if (boot)
    json_object_set_new (j, "boot", json_string (boot));
  text = json_dumps (j, JSON_COMPACT);
  json_decref (j);
  if (text == NULL)
    return;
  line = xasprintf ("%s\n", text);
  free (text);
  (void)mkdir (root, 0700);
  /* One write(2) with O_APPEND: lines from concurrent runtimes never mix. */
  fd = open (path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0 || write_all (fd, line, strlen (line)) < 0)
    log_debug ("could not record event %s for `%s`", type, id);
}

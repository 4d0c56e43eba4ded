#include "oci/state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/json.h"
#include "core/util.h"
#include "core/banned.h"

#define MAX_STATE_SIZE (32u << 20)

int
state_validate_id (const char *id, runhv_error_t *err)
{
  size_t len;
  if (id == NULL || id[0] == '\0')
    return runhv_error (err, "container id: missing (give an id as the last argument)");
  len = strlen (id);
  if (len > 1024)
    return runhv_error (err, "container id: longer than 1024 characters");
  if (strcmp (id, ".") == 0 || strcmp (id, "..") == 0 || strstr (id, "..") != NULL)
    return runhv_error (err, "container id `%s`: must not contain `..`", id);
  for (size_t i = 0; i < len; i++)
    {
      unsigned char c = (unsigned char)id[i];
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                || (i > 0 && (c == '_' || c == '.' || c == '-' || c == '+'));
      if (!ok)
        {
          if (c < 0x20 || c == 0x7f)
            return runhv_error (err,
                                "container id: contains the control character 0x%02x (use letters, digits, "
                                "`_`, `.`, `-`, `+`)",
                                c);
          return runhv_error (err,
                              "container id `%s`: invalid character `%c` (use letters, digits, and `_`, `.`, "
                              "`-`, `+` after the first)",
                              id, c);
        }
    }
  return 0;
}

char *
state_dir_path (const char *root, const char *id)
{
  return xasprintf ("%s/%s", root, id);
}

int
state_dir_create (const char *root, const char *id, runhv_error_t *err)
{
  cleanup_free char *dir = state_dir_path (root, id);
  if (mkdir_p (root, 0700, err) < 0)
    return runhv_error_wrap (err, "create runtime root (check --root)");
  if (mkdir (dir, 0700) < 0)
    {
      if (errno == EEXIST)
        return runhv_make_error (err, EEXIST, "container `%s` already exists (delete it or choose another id)", id);
      return runhv_make_error (err, errno, "create state directory `%s`", dir);
    }
  return 0;
}

static json_t *
jstr (const char *s)
{
  return s != NULL ? json_string (s) : json_null ();
}

json_t *
container_state_to_json (const struct container_state *st)
{
  json_t *j = json_object ();
  json_object_set_new (j, "id", jstr (st->id));
  json_object_set_new (j, "type", jstr (st->type));
  json_object_set_new (j, "isolation", jstr (st->isolation));
  json_object_set_new (j, "owner", jstr (st->owner));
  if (st->parent)
    json_object_set_new (j, "parent", json_string (st->parent));
  json_object_set_new (j, "bundle", jstr (st->bundle));
  json_object_set_new (j, "rootfs", jstr (st->rootfs));
  json_object_set_new (j, "created", jstr (st->created));
  json_object_set_new (j, "pid", json_integer (st->pid));
  json_object_set_new (j, "pidStart", json_integer ((json_int_t)st->pid_start));
  json_object_set_new (j, "cgroupPath", jstr (st->cgroup_path));
  json_object_set_new (j, "systemdCgroup", json_boolean (st->systemd_cgroup));
  json_object_set_new (j, "started", json_boolean (st->started));
  if (st->creating)
    json_object_set_new (j, "creating", json_true ());
  if (st->has_exit_status)
    json_object_set_new (j, "exitStatus", json_integer (st->exit_status));
  if (st->annotations)
    json_object_set (j, "annotations", st->annotations);
  else
    json_object_set_new (j, "annotations", json_object ());
  if (st->config)
    json_object_set (j, "config", st->config);
  if (st->backend)
    json_object_set (j, "backend", st->backend);
  return j;
}

void
container_state_free (struct container_state *st)
{
  if (st == NULL)
    return;
  free (st->id);
  free (st->type);
  free (st->isolation);
  free (st->owner);
  free (st->parent);
  free (st->bundle);
  free (st->rootfs);
  free (st->created);
  free (st->cgroup_path);
  if (st->annotations)
    json_decref (st->annotations);
  if (st->config)
    json_decref (st->config);
  if (st->backend)
    json_decref (st->backend);
  free (st);
}

int
container_state_from_json (json_t *j, struct container_state **out, runhv_error_t *err)
{
  struct container_state *st = xmalloc0 (sizeof (*st));
  int64_t pid = 0, start = 0, status = 0;
  json_t *o;
  if (jget_string (j, "state", "id", true, &st->id, err) < 0
      || jget_string (j, "state", "type", true, &st->type, err) < 0
      || jget_string (j, "state", "isolation", true, &st->isolation, err) < 0
      || jget_string (j, "state", "owner", false, &st->owner, err) < 0
      || jget_string (j, "state", "parent", false, &st->parent, err) < 0
      || jget_string (j, "state", "bundle", false, &st->bundle, err) < 0
      || jget_string (j, "state", "rootfs", false, &st->rootfs, err) < 0
      || jget_string (j, "state", "created", false, &st->created, err) < 0
      || jget_int64 (j, "state", "pid", &pid, NULL, err) < 0
      || jget_int64 (j, "state", "pidStart", &start, NULL, err) < 0
      || jget_string (j, "state", "cgroupPath", false, &st->cgroup_path, err) < 0
      || jget_bool (j, "state", "systemdCgroup", &st->systemd_cgroup, NULL, err) < 0
      || jget_bool (j, "state", "started", &st->started, NULL, err) < 0
      || jget_bool (j, "state", "creating", &st->creating, NULL, err) < 0
      || jget_int64 (j, "state", "exitStatus", &status, &st->has_exit_status, err) < 0)
    {
      container_state_free (st);
      return -1;
    }
  st->pid = (pid_t)pid;
  st->pid_start = (uint64_t)start;
  st->exit_status = (int)status;
  o = json_object_get (j, "annotations");
  st->annotations = json_is_object (o) ? json_incref (o) : json_object ();
  o = json_object_get (j, "config");
  st->config = json_is_object (o) ? json_incref (o) : NULL;
  o = json_object_get (j, "backend");
  st->backend = json_is_object (o) ? json_incref (o) : NULL;
  *out = st;
  return 0;
}

int
state_save (const char *root, const struct container_state *st, runhv_error_t *err)
{
  cleanup_free char *path = xasprintf ("%s/%s/state.json", root, st->id);
  cleanup_free char *text = NULL;
  cleanup_json json_t *j = container_state_to_json (st);
  text = json_dumps (j, JSON_COMPACT);
  if (text == NULL)
    return runhv_error (err, "serialize state of `%s`", st->id);
  return write_file_atomic (path, text, strlen (text), 0600, err);
}

int
state_load (const char *root, const char *id, struct container_state **out, runhv_error_t *err)
{
  cleanup_free char *path = NULL;
  cleanup_json json_t *j = NULL;
  cleanup_free char *buf = NULL;
  size_t len = 0;

  if (state_validate_id (id, NULL) < 0 && strchr (id, '@') == NULL)
    return state_validate_id (id, err);
  path = xasprintf ("%s/%s/state.json", root, id);
  if (read_file (path, MAX_STATE_SIZE, &buf, &len, err) < 0)
    {
      if ((*err)->status == ENOENT)
        {
          runhv_error_release (err);
          return runhv_make_error (err, ENOENT, "container `%s` does not exist (see `runhv list`)", id);
        }
      return -1;
    }
  if (json_load_buffer (buf, len, path, &j, err) < 0)
    return -1;
  return container_state_from_json (j, out, err);
}

int
state_remove (const char *root, const char *id, runhv_error_t *err)
{
  cleanup_free char *dir = state_dir_path (root, id);
  return rm_rf (dir, err);
}

static int
cmp_str (const void *a, const void *b)
{
  return strcmp (*(char *const *)a, *(char *const *)b);
}

int
state_list (const char *root, char ***ids, runhv_error_t *err)
{
  cleanup_dir DIR *d = opendir (root);
  struct dirent *de;
  char **v = xmalloc0 (sizeof (char *));
  if (d == NULL)
    {
      if (errno == ENOENT)
        {
          *ids = v;
          return 0;
        }
      free (v);
      return runhv_make_error (err, errno, "open runtime root `%s`", root);
    }
  while ((de = readdir (d)) != NULL)
    {
      struct stat st;
      if (de->d_name[0] == '.')
        continue;
      if (fstatat (dirfd (d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR (st.st_mode))
        continue;
      strv_append (&v, de->d_name);
    }
  qsort (v, strv_len (v), sizeof (char *), cmp_str);
  *ids = v;
  return 0;
}

static int
lock_dir (const char *root, const char *id, int how, runhv_error_t *err)
{
  cleanup_free char *dir = state_dir_path (root, id);
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    {
      if (errno == ENOENT)
        return runhv_make_error (err, ENOENT, "container `%s` does not exist (see `runhv list`)", id);
      return runhv_make_error (err, errno, "open state directory `%s`", dir);
    }
  if (TEMP_FAILURE_RETRY (flock (fd, how)) < 0)
    {
      int e = errno;
      close (fd);
      return runhv_make_error (err, e, "lock state directory `%s`", dir);
    }
  return fd;
}

int
state_lock (const char *root, const char *id, runhv_error_t *err)
{
  return lock_dir (root, id, LOCK_EX, err);
}

int
state_try_lock (const char *root, const char *id, runhv_error_t *err)
{
  return lock_dir (root, id, LOCK_EX | LOCK_NB, err);
}

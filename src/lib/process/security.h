/* The last steps before exec: identity, capabilities, no_new_privs,
   rlimits and seccomp.  Run in the container init or an exec'd process. */
#ifndef RUNHV_SECURITY_H
#define RUNHV_SECURITY_H

#include <jansson.h>
#include <stdbool.h>

#include "core/error.h"
#include "oci/spec.h"

int security_set_rlimits (const struct oci_process *p, runhv_error_t *err);
int security_set_oom_score_adj (const struct oci_process *p, runhv_error_t *err);
/* Refuse, up front, capabilities that runhv itself does not have.  */
int security_check_caps (const struct oci_process *p, runhv_error_t *err);
/* Refuse, up front, an AppArmor profile or SELinux label (process or
   mount) that this host has no LSM to enforce.  */
int security_check_labels (const struct oci_process *p, const char *mount_label, runhv_error_t *err);
/* Have the kernel apply the process's AppArmor profile and SELinux label
   at the coming execve.  */
int security_set_exec_labels (const struct oci_process *p, runhv_error_t *err);
/* Drop the bounding set, switch uid/gid/groups keeping capabilities, then
   set the effective/permitted/inheritable/ambient sets.  */
int security_switch_user_and_caps (const struct oci_process *p, runhv_error_t *err);

/* Highest capability this kernel knows.  */
int security_last_cap (void);
/* ["CAP_CHOWN", ...]: every capability up to security_last_cap () that
   libcap can name.  */
json_t *security_capability_names (void);

#endif

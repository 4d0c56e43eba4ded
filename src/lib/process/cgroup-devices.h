/* linux.resources.devices: the device rules every container gets, and their
   enforcement on cgroup v2 with an eBPF device program (v1 has files).  */
#ifndef RUNHV_CGROUP_DEVICES_H
#define RUNHV_CGROUP_DEVICES_H

#include <stddef.h>

#include "core/error.h"
#include "oci/spec.h"

struct bpf_insn;

/* Allowed after the spec's own rules, whatever they say, as runc does: mknod
   of any char or block device, and null, zero, full, random, urandom, tty,
   console, ptmx and the pts.  */
extern const struct oci_device_rule cgroup_default_devices[];
extern const size_t cgroup_n_default_devices;

/* The BPF_PROG_TYPE_CGROUP_DEVICE program for rules followed by
   cgroup_default_devices, with v1's semantics: a later rule overrides an
   earlier one for what it covers, and a device no rule covers is allowed.
   *insns is the caller's to free.  Pure: unit-tested.  */
int cgroup_devices_program (const struct oci_device_rule *rules, size_t n, struct bpf_insn **insns, size_t *n_insns,
                            runhv_error_t *err);

/* Load that program and attach it to the cgroup v2 directory cgroup_dirfd,
   replacing the device programs attached there before (the new one is
   attached before the old ones go, so the cgroup is never unguarded).  No
   rules attaches nothing, as v1 writes nothing.  */
int cgroup_devices_apply_bpf (int cgroup_dirfd, const struct oci_device_rule *rules, size_t n, runhv_error_t *err);

#endif

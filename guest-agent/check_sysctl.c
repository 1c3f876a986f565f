/*
 * check_sysctl.c: fact "sysctl", the kernel hardening switches: module
 * loading, kernel pointer and dmesg restrictions, Yama ptrace scope.
 * -1 where the switch does not exist in this kernel (no Yama, say).
 */
#include "facts.h"

#include <errno.h>

static const struct sysctl_key {
	const char *sk_name;
	const char *sk_path;
} sysctl_keys[] = {
	{ "modules_disabled", "/proc/sys/kernel/modules_disabled" },
	{ "kptr_restrict", "/proc/sys/kernel/kptr_restrict" },
	{ "dmesg_restrict", "/proc/sys/kernel/dmesg_restrict" },
	{ "ptrace_scope", "/proc/sys/kernel/yama/ptrace_scope" },
};

void check_sysctl(struct jline *j, const struct fact_env *e)
{
	for (size_t i = 0; i < sizeof(sysctl_keys) / sizeof(sysctl_keys[0]); i++) {
		long long v = -1;
		int r = file_read_int(e, sysctl_keys[i].sk_path, &v);

		/* Absent is a fact (-1); unreadable is an error. */
		if (r < 0 && r != -ENOENT)
			jl_error_errno(j, sysctl_keys[i].sk_path, r);
		jl_int(j, sysctl_keys[i].sk_name, r < 0 ? -1 : v);
	}
}

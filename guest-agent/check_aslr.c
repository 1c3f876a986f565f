/*
 * check_aslr.c: fact "aslr", kernel.randomize_va_space and the CPU's NX
 * (no-execute) support as the kernel sees it (/proc/cpuinfo flags).
 */
#include "facts.h"

#include <errno.h>
#include <string.h>

/* Is word one of the blank-separated words of list? */
static bool aslr_has_word(const char *list, const char *word)
{
	size_t wl = strlen(word);

	while (*list) {
		size_t l;

		list += strspn(list, " \t");
		l = strcspn(list, " \t");
		if (l == wl && memcmp(list, word, wl) == 0)
			return true;
		list += l;
	}
	return false;
}

/*
 * The first "flags : ..." line (every CPU repeats it): 1 or 0; -ENOMSG if
 * there is none (not an x86 cpuinfo: NX unknown), or a negative errno.
 */
static int aslr_nx(const struct fact_env *e)
{
	struct file_lines fl;
	int r, nx = -ENOMSG;
	char *line;

	if ((r = file_lines_open(&fl, e, "/proc/cpuinfo")) < 0)
		return r;
	while ((r = file_lines_next(&fl, &line)) > 0) {
		char *colon = strchr(line, ':');

		if (colon && strcspn(line, " \t:") == 5 && strncmp(line, "flags", 5) == 0) {
			nx = aslr_has_word(colon + 1, "nx") ? 1 : 0;
			break;
		}
	}
	file_lines_close(&fl);
	return r < 0 ? r : nx;
}

void check_aslr(struct jline *j, const struct fact_env *e)
{
	long long va;
	int r;

	if ((r = file_read_int(e, "/proc/sys/kernel/randomize_va_space", &va)) < 0)
		jl_error_errno(j, "/proc/sys/kernel/randomize_va_space", r);
	else
		jl_int(j, "randomize_va_space", va);
	if ((r = aslr_nx(e)) == -ENOMSG)
		jl_error(j, "%s", "/proc/cpuinfo: no flags line");
	else if (r < 0)
		jl_error_errno(j, "/proc/cpuinfo", r);
	else
		jl_bool(j, "nx", r == 1);
}

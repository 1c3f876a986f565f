/* validate: name and size rules. */
#include "validate.h"

#include <errno.h>
#include <string.h>

int validate_name(const char *what, const char *name, size_t max, struct dock_err *err)
{
	size_t n = strlen(name);

	if (n == 0)
		return err_set(err, 400, EINVAL, "%s name must not be empty", what);
	if (n > max)
		return err_set(err, 400, ENAMETOOLONG,
			       "%s name \"%.40s%s\" is longer than %zu characters", what, name,
			       n > 40 ? "..." : "", max);
	if (name[0] < 'a' || name[0] > 'z')
		return err_set(err, 400, EINVAL,
			       "%s name \"%s\" must start with a lower-case letter", what, name);
	for (size_t i = 1; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return err_set(err, 400, EINVAL,
				       "%s name \"%s\" may only contain a-z, 0-9 and '-'", what,
				       name);
	}
	return 0;
}

int validate_size_mib(const char *what, const char *text, uint64_t *mib, struct dock_err *err)
{
	static const struct {
		char suffix;
		uint64_t kib;
	} units[] = {
		{ 'K', 1 }, { 'M', 1024 }, { 'G', 1024 * 1024 }, { 'T', 1024ULL * 1024 * 1024 }
	};
	uint64_t v = 0, kib_per = 1024;
	const char *p = text;

	if (*p < '0' || *p > '9')
		return err_set(err, 400, EINVAL, "%s \"%s\" is not a size (e.g. 256M, 1G)", what,
			       text);
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return err_set(err, 400, ERANGE, "%s \"%s\" is too large", what, text);
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (*p != '\0') {
		size_t i;
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (*p == units[i].suffix || *p == units[i].suffix + ('a' - 'A'))
				break;
		if (i == sizeof(units) / sizeof(units[0]) ||
		    !(p[1] == '\0' || ((p[1] == 'i' || p[1] == 'B') && p[2] == '\0') ||
		      (p[1] == 'i' && p[2] == 'B' && p[3] == '\0')))
			return err_set(err, 400, EINVAL,
				       "%s \"%s\": unknown unit (use K, M, G or T)", what, text);
		kib_per = units[i].kib;
	}
	if (v > UINT64_MAX / kib_per)
		return err_set(err, 400, ERANGE, "%s \"%s\" is too large", what, text);
	v *= kib_per;
	if (v % 1024 != 0)
		return err_set(err, 400, EINVAL, "%s \"%s\" is not a whole number of MiB", what,
			       text);
	*mib = v / 1024;
	return 0;
}

/* fwlog: the drops the firewall logged for a node, read back from the
 * kernel log (/dev/kmsg) by the prefix the ruleset gives them. */
#include "fw.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

struct json_object *fw_log_lines(const char *node, size_t max)
{
	struct json_object *a = json_object_new_array();
	char prefix[FW_NAME_MAX + 16], rec[2048];
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return a;
	snprintf(prefix, sizeof(prefix), FW_LOG_PREFIX_FMT, node);
	lseek(fd, 0, SEEK_DATA); /* from the oldest record still buffered */
	while ((n = read(fd, rec, sizeof(rec) - 1)) > 0 || (n < 0 && errno == EPIPE)) {
		char *msg, *nl;
		if (n <= 0)
			continue; /* EPIPE: records were overwritten; go on with the next */
		rec[n] = '\0';
		msg = strchr(rec, ';');
		if (msg == NULL || strstr(msg, prefix) == NULL)
			continue;
		if ((nl = strchr(msg, '\n')) != NULL)
			*nl = '\0';
		json_object_array_add(a, json_object_new_string(msg + 1));
		if (json_object_array_length(a) > max)
			json_object_array_del_idx(a, 0, 1);
	}
	close(fd);
	return a;
}

/* iscadm-http: the CLI's transport, HTTP over dockd's unix socket through
 * libcurl. One request at a time; an answer is bounded (ISCADM_RESPONSE_MAX);
 * a dock that cannot be reached, a refusal and an unreadable answer each end
 * the CLI with one line naming the problem and an exit code of its kind
 * (enum iscadm_exit: unreachable, permission denied, not found, ...). */
#include <curl/curl.h>
#include <errno.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iscadm-int.h"

#define ISCADM_RESPONSE_MAX (16 * 1024 * 1024)

struct iscadm_buf {
	char *ib_data;
	size_t ib_len;
};

static size_t iscadm_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct iscadm_buf *b = ud;
	size_t n = size * nmemb;
	char *nd;

	if (b->ib_len + n > ISCADM_RESPONSE_MAX)
		return 0;
	nd = realloc(b->ib_data, b->ib_len + n + 1);
	if (nd == NULL)
		return 0;
	memcpy(nd + b->ib_len, ptr, n);
	b->ib_data = nd;
	b->ib_len += n;
	nd[b->ib_len] = '\0';
	return n;
}

void iscadm_http_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* The group the socket is open to, for the message of a refusal. */
static const char *iscadm_socket_group(void)
{
	struct stat st;
	struct group *g;

	if (stat(iscadm_socket, &st) < 0 || (g = getgrgid(st.st_gid)) == NULL)
		return "the dock's group (dockd.conf's socket_group)";
	return g->gr_name;
}

/* Why the socket could not be reached: a connect of our own gives the
 * errno libcurl keeps to itself. EACCES is the socket's group: name it
 * and say what to do. */
static int iscadm_why(char *why, size_t size)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, e = 0;

	if (stat(iscadm_socket, &st) < 0) {
		snprintf(why, size,
			 "cannot reach dockd: no socket at %s (is dockd running? --socket or "
			 "ISC_SOCKET choose another socket)",
			 iscadm_socket);
		return errno == EACCES ? ISCADM_DENIED : ISCADM_UNREACHABLE;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", iscadm_socket);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		e = errno;
	if (fd >= 0)
		close(fd);
	if (e == EACCES || e == EPERM) {
		const char *gn = iscadm_socket_group();
		snprintf(why, size,
			 "permission denied on %s: it is open to root and group %s; add your "
			 "user to it (sudo usermod -aG %s $USER) and log in again, or run as root",
			 iscadm_socket, gn, gn);
		return ISCADM_DENIED;
	}
	snprintf(why, size, "cannot reach dockd at %s: %s (is it running?)", iscadm_socket,
		 e ? strerror(e) : "no answer");
	return ISCADM_UNREACHABLE;
}

long iscadm_request_try(const char *method, const char *path, const char *body,
			size_t (*write_cb)(char *, size_t, size_t, void *), void *ud, char *why,
			size_t size, int *code)
{
	struct curl_slist *hdr = NULL;
	char url[512];
	long status = 0;
	CURLcode rc;
	CURL *c = curl_easy_init();

	if (c == NULL)
		iscadm_die("cannot initialise libcurl");
	snprintf(url, sizeof(url), "http://localhost%s", path);
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, iscadm_socket);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, ud);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (body != NULL) {
		hdr = curl_slist_append(hdr, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	} else if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
	}
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
	if (rc == CURLE_OK)
		return status;
	if (rc == CURLE_COULDNT_CONNECT) {
		*code = iscadm_why(why, size);
	} else {
		snprintf(why, size, "dockd at %s: %s", iscadm_socket, curl_easy_strerror(rc));
		*code = ISCADM_UNREACHABLE;
	}
	return -1;
}

long iscadm_request(const char *method, const char *path, const char *body,
		    size_t (*write_cb)(char *, size_t, size_t, void *), void *ud)
{
	char why[512];
	int code = ISCADM_ERROR;
	long st = iscadm_request_try(method, path, body, write_cb, ud, why, sizeof(why), &code);

	if (st < 0)
		iscadm_fail(code, "%s", why);
	return st;
}

int iscadm_exit_of(long status)
{
	if (status >= 200 && status < 300)
		return ISCADM_OK;
	switch (status) {
	case 400:
	case 413:
	case 414:
	case 415:
	case 422:
		return ISCADM_USAGE;
	case 401:
	case 403:
		return ISCADM_DENIED;
	case 404:
	case 410:
		return ISCADM_NOT_FOUND;
	case 409:
		return ISCADM_CONFLICT;
	default:
		return ISCADM_ERROR;
	}
}

/* The one-line reason of a refused request; a 403 says what to do. */
void iscadm_die_http(long status, struct json_object *o)
{
	struct json_object *e = NULL;
	int code = iscadm_exit_of(status);
	const char *msg = o != NULL && json_object_object_get_ex(o, "error", &e)
		? json_object_get_string(e)
		: NULL;

	if (code == ISCADM_DENIED) {
		const char *g = iscadm_socket_group();
		iscadm_fail(code,
			    "%s: the API is open to root and group %s; add your user to it "
			    "(sudo usermod -aG %s $USER) and log in again, or run as root",
			    msg ? msg : "permission denied", g, g);
	}
	if (msg != NULL)
		iscadm_fail(code, "%s", msg);
	iscadm_fail(code, "dockd answered HTTP %ld", status);
}

struct json_object *iscadm_call_status(const char *method, const char *path, const char *body,
				       long *status)
{
	struct iscadm_buf b = { NULL, 0 };
	struct json_object *o;

	*status = iscadm_request(method, path, body, iscadm_write, &b);
	o = b.ib_data ? json_tokener_parse(b.ib_data) : NULL;
	free(b.ib_data);
	return o;
}

/* One API call; returns the parsed JSON of a 2xx answer, dies otherwise. */
struct json_object *iscadm_call(const char *method, const char *path, const char *body)
{
	long status;
	struct json_object *o = iscadm_call_status(method, path, body, &status);

	if (status < 200 || status > 299)
		iscadm_die_http(status, o);
	if (o == NULL)
		iscadm_die("dockd sent an unreadable answer");
	return o;
}

/* iscadm-http: the CLI's transport, HTTP over dockd's unix socket through
 * libcurl. One request at a time; an answer is bounded (ISCADM_RESPONSE_MAX);
 * a dock that cannot be reached, a refusal and an unreadable answer each end
 * the CLI with one line naming the problem (iscadm_die). */
#include <curl/curl.h>
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

/* One HTTP request to dockd, the answer's body to write_cb; returns the
 * HTTP status, dies when dockd cannot be reached. */
long iscadm_request(const char *method, const char *path, const char *body,
		    size_t (*write_cb)(char *, size_t, size_t, void *), void *ud)
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
	if (rc != CURLE_OK) {
		if (rc == CURLE_COULDNT_CONNECT)
			iscadm_die(
				"cannot reach dockd at %s (is it running? --socket or ISC_SOCKET "
				"choose another socket)",
				iscadm_socket);
		iscadm_die("dockd at %s: %s", iscadm_socket, curl_easy_strerror(rc));
	}
	return status;
}

/* The one-line reason of a refused request. */
void iscadm_die_http(long status, struct json_object *o)
{
	struct json_object *e = NULL;

	if (o != NULL && json_object_object_get_ex(o, "error", &e))
		iscadm_die("%s", json_object_get_string(e));
	iscadm_die("dockd answered HTTP %ld", status);
}

/* One API call; returns the parsed JSON of a 2xx answer, dies otherwise. */
struct json_object *iscadm_call(const char *method, const char *path, const char *body)
{
	struct iscadm_buf b = { NULL, 0 };
	struct json_object *o;
	long status = iscadm_request(method, path, body, iscadm_write, &b);

	o = b.ib_data ? json_tokener_parse(b.ib_data) : NULL;
	free(b.ib_data);
	if (status < 200 || status > 299)
		iscadm_die_http(status, o);
	if (o == NULL)
		iscadm_die("dockd sent an unreadable answer");
	return o;
}

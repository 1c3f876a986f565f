/* iscadm-int.h: what the siblings of the CLI share (private; iscadm has no
 * public header: its contract is its command line). iscadm.c holds the
 * command table, the argument parsing and main; iscadm-http.c the transport
 * (libcurl over dockd's unix socket); iscadm-out.c the output (tables,
 * JSON); iscadm-forensic.c the verified export of a forensic snapshot.
 * Every failure ends the CLI through iscadm_die: one line, exit 1. */
#ifndef ISC_ISCADM_INT_H
#define ISC_ISCADM_INT_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

/* The global options (iscadm.c): the socket, and --json. */
extern const char *iscadm_socket;
extern bool iscadm_json;

/* "iscadm: " and the message on stderr, then exit 1. */
__attribute__((noreturn, format(printf, 1, 2))) void iscadm_die(const char *fmt, ...);

/* ---- iscadm-http.c ---- */
void iscadm_http_init(void);
/* One HTTP request to dockd, the answer's body to write_cb; returns the
 * HTTP status, dies when dockd cannot be reached. */
long iscadm_request(const char *method, const char *path, const char *body,
		    size_t (*write_cb)(char *, size_t, size_t, void *), void *ud);
/* The one-line reason of a refused request (the answer's "error"). */
__attribute__((noreturn)) void iscadm_die_http(long status, struct json_object *o);
/* One API call; returns the parsed JSON of a 2xx answer, dies otherwise. */
struct json_object *iscadm_call(const char *method, const char *path, const char *body);

/* ---- iscadm-out.c ---- */
/* o's member key as text, "-" when it is missing or null: escaped for the
 * terminal (escape.h), in one of a few rotating buffers (valid until the
 * eighth call after it, cut on a character past 8 KiB). */
const char *iscadm_str(struct json_object *o, const char *key);
/* The same as it is: for requests and comparisons, never for printing. */
const char *iscadm_raw(struct json_object *o, const char *key);
/* s[0..len) to stdout escaped with flags (escape.h), however long. */
void iscadm_put(const char *s, size_t len, unsigned flags);
void iscadm_print_json(struct json_object *o);
void iscadm_print_nodes(struct json_object *a);
void iscadm_print_status(const char *name, struct json_object *o);
void iscadm_print_audit(struct json_object *o);
/* audit verify: the human lines, and whether the exit status is 1 (the
 * chain broken, disagreeing with its checkpoint, or damage found by the
 * dock at start). */
void iscadm_print_verify(struct json_object *o);
bool iscadm_verify_failed(struct json_object *o);
void iscadm_print_forensics(struct json_object *o);
void iscadm_print_images(struct json_object *a);

/* ---- iscadm-forensic.c ---- */
/* forensic export ID DEST; returns 0 or dies. */
int iscadm_forensic_export(const char *id, const char *dest);

#endif

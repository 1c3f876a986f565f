/* api-stream: answers that go on after their handler returns (`logs -f`,
 * and later an event stream): an HTTP response of unknown length (chunked)
 * fed by a source. When the source has nothing the connection is
 * suspended (its thread waits, no byte is sent, no timeout runs) and
 * resumed when the source says it is ready, when api_stream_wake is
 * called, or when the client hangs up (the stream ends). At most
 * API_STREAM_MAX streams at a time. */
#ifndef ISC_API_STREAM_H
#define ISC_API_STREAM_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "err.h"

#define API_STREAM_MAX     16
#define API_STREAM_TICK_MS 250

/* A source. fill: up to size bytes into buf, returns how many (> 0),
 * API_STREAM_NOTHING (nothing yet: the connection is suspended) or
 * API_STREAM_END (the stream ends). ready (may be NULL: then fill is asked
 * again every API_STREAM_TICK_MS): while suspended, is there something for
 * fill, or the end? Asked every API_STREAM_TICK_MS; it must be cheap. fill
 * and ready run on the connection's thread, one at a time, without the
 * streams' lock (they may take node_lock). close: the source is done with
 * (the client went away, the stream ended, the dock stops). */
#define API_STREAM_NOTHING 0
#define API_STREAM_END     (-1)
struct api_stream_source {
	ssize_t (*ss_fill)(void *cls, char *buf, size_t size);
	bool (*ss_ready)(void *cls);
	void (*ss_close)(void *cls);
	void *ss_cls;
};

/* Before the daemon starts; and before MHD_stop_daemon: every stream ends
 * (a suspended one at once) and no new one starts. */
int api_stream_init(struct dock_err *err);
void api_stream_fini(void);

/* Answer conn (from its access handler) with status and a stream of
 * content_type from src. Takes src in every case: on failure it is closed;
 * 503 when API_STREAM_MAX streams run. */
int api_stream_queue(struct MHD_Connection *conn, unsigned status, const char *content_type,
		     const struct api_stream_source *src, struct dock_err *err);

/* Something happened: every suspended stream's fill is asked again now
 * (for sources fed by events rather than polled). Any thread, under any
 * lock. */
void api_stream_wake(void);

#endif

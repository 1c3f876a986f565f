/* api-stream: streamed answers (the contract is api-stream.h). A stream's
 * content reader asks its source; with nothing to send it suspends the
 * connection: its thread parks on the streams' condition variable until
 * the source is ready, api_stream_wake is called, the client hangs up or
 * the dock stops, looking every API_STREAM_TICK_MS.
 *
 * Why not libmicrohttpd's own MHD_suspend_connection: the API runs a
 * thread per connection (api.c), and there libmicrohttpd (0.9.75) parks a
 * suspended connection's thread on the daemon's one wake-up channel, which
 * its polling thread drains too: a resume can be lost, and was here (a
 * follower still running 10 s after its node was destroyed). A thread per
 * connection may wait in its own callback instead, which costs nothing
 * more: the thread exists anyway, and waits either way.
 *
 * Locks: api_stream_lock guards the count, the generation and stopping;
 * a source's fill and ready run without it (they may take node_lock), so
 * api_stream_wake may be called under any lock. */
#include "api-stream.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The most a content reader is asked for at once. */
#define API_STREAM_BLOCK (16 * 1024)

struct api_stream {
	struct api_stream_source as_src;
	int as_fd; /* the client's socket: its hang-up */
};

static pthread_mutex_t api_stream_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t api_stream_cond;
static unsigned api_stream_n;   /* streams open */
static unsigned api_stream_gen; /* api_stream_wake's count */
static bool api_stream_running;

static bool api_stream_hungup(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLRDHUP };

	return fd >= 0 && poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/* Suspended: park until a tick, a wake or the end; false when the stream
 * is to end (the dock stops). */
static bool api_stream_park(unsigned *gen)
{
	struct timespec ts;
	bool running;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_nsec += API_STREAM_TICK_MS * 1000000L;
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&api_stream_lock);
	while (api_stream_running && *gen == api_stream_gen &&
	       pthread_cond_timedwait(&api_stream_cond, &api_stream_lock, &ts) == 0)
		;
	running = api_stream_running;
	*gen = api_stream_gen;
	pthread_mutex_unlock(&api_stream_lock);
	return running;
}

static ssize_t api_stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct api_stream *s = cls;
	unsigned gen;

	(void)pos;
	pthread_mutex_lock(&api_stream_lock);
	gen = api_stream_gen;
	pthread_mutex_unlock(&api_stream_lock);
	for (;;) {
		unsigned seen = gen;
		ssize_t n = s->as_src.ss_fill(s->as_src.ss_cls, buf, max);
		if (n > 0)
			return n;
		if (n < 0)
			return MHD_CONTENT_READER_END_OF_STREAM;
		do {
			if (!api_stream_park(&gen))
				return MHD_CONTENT_READER_END_OF_STREAM;
			if (api_stream_hungup(s->as_fd))
				return MHD_CONTENT_READER_END_WITH_ERROR;
		} while (gen == seen && s->as_src.ss_ready != NULL &&
			 !s->as_src.ss_ready(s->as_src.ss_cls));
	}
}

/* The response is done with: the stream ended, the client went away or
 * the daemon stops. */
static void api_stream_free(void *cls)
{
	struct api_stream *s = cls;

	pthread_mutex_lock(&api_stream_lock);
	api_stream_n--;
	pthread_mutex_unlock(&api_stream_lock);
	s->as_src.ss_close(s->as_src.ss_cls);
	free(s);
}

int api_stream_init(struct dock_err *err)
{
	pthread_condattr_t ca;
	int r = pthread_condattr_init(&ca);

	if (r == 0)
		r = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (r == 0)
		r = pthread_cond_init(&api_stream_cond, &ca);
	pthread_condattr_destroy(&ca);
	if (r != 0)
		return err_set(err, 500, r, "api: streams: %s", strerror(r));
	api_stream_running = true;
	return 0;
}

void api_stream_fini(void)
{
	pthread_mutex_lock(&api_stream_lock);
	api_stream_running = false;
	pthread_cond_broadcast(&api_stream_cond);
	pthread_mutex_unlock(&api_stream_lock);
}

/* A stream's place, counted before anything is made for it. */
static int api_stream_reserve(const struct api_stream_source *src, struct dock_err *err)
{
	bool ok;

	pthread_mutex_lock(&api_stream_lock);
	ok = api_stream_running && api_stream_n < API_STREAM_MAX;
	api_stream_n += ok;
	pthread_mutex_unlock(&api_stream_lock);
	if (ok)
		return 0;
	src->ss_close(src->ss_cls);
	return err_set(err, 503, EBUSY,
		       "%d streamed answers (logs --follow) are open, the most the dock serves "
		       "at once; try again when one ends",
		       API_STREAM_MAX);
}

int api_stream_queue(struct MHD_Connection *conn, unsigned status, const char *content_type,
		     const struct api_stream_source *src, struct dock_err *err)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct MHD_Response *resp = NULL;
	struct api_stream *s;
	enum MHD_Result r;

	if (api_stream_reserve(src, err) < 0)
		return -EBUSY;
	s = calloc(1, sizeof(*s));
	if (s != NULL)
		resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, API_STREAM_BLOCK,
							 api_stream_read, s, api_stream_free);
	if (resp == NULL) {
		pthread_mutex_lock(&api_stream_lock);
		api_stream_n--;
		pthread_mutex_unlock(&api_stream_lock);
		src->ss_close(src->ss_cls);
		free(s);
		return err_set(err, 500, ENOMEM, "api: cannot make a streamed answer");
	}
	s->as_src = *src;
	s->as_fd = ci != NULL ? ci->connect_fd : -1;
	MHD_add_response_header(resp, "Content-Type", content_type);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	r = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp); /* the stream lives as long as the connection needs it */
	if (r == MHD_NO)
		return err_set(err, 500, EIO, "api: cannot queue a streamed answer");
	return 0;
}

void api_stream_wake(void)
{
	pthread_mutex_lock(&api_stream_lock);
	api_stream_gen++;
	pthread_cond_broadcast(&api_stream_cond);
	pthread_mutex_unlock(&api_stream_lock);
}

/* api-stream: streamed answers over libmicrohttpd's suspend/resume (the
 * contract is api-stream.h). A stream's content reader asks its source;
 * with nothing to send it suspends its connection. The ticker resumes a
 * suspended connection when its source is ready, when api_stream_wake was
 * called, or when the client hung up (a suspended connection's hang-up is
 * not seen by libmicrohttpd: the ticker polls the socket for it).
 *
 * Locks: api_stream_lock guards the list and each stream's flags; a
 * source's ready() is called under it (so a source may take node_lock:
 * nothing takes api_stream_lock under another lock). api_stream_wake takes
 * only api_stream_wake_lock, a leaf, so any thread may call it. */
#include "api-stream.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The most a content reader is asked for at once. */
#define API_STREAM_BLOCK (16 * 1024)

struct api_stream {
	struct api_stream *as_next;
	struct MHD_Connection *as_conn;
	struct api_stream_source as_src;
	int as_fd;         /* the client's socket: its hang-up */
	bool as_suspended; /* suspended by its reader, which has not run since */
	bool as_kicked;    /* resumed by the ticker, its reader not run yet */
	bool as_ended;     /* end at the next read: the dock stops, the client left */
	unsigned as_woken; /* api_stream_gen when its reader last ran */
};

static pthread_mutex_t api_stream_lock = PTHREAD_MUTEX_INITIALIZER;
static struct api_stream *api_streams;
static unsigned api_stream_n;
static bool api_stream_running;
static pthread_t api_stream_thread;

static pthread_mutex_t api_stream_wake_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t api_stream_cond;
static atomic_uint api_stream_gen;
static bool api_stream_stopping;

static ssize_t api_stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct api_stream *s = cls;
	bool ended;
	ssize_t n;

	(void)pos;
	pthread_mutex_lock(&api_stream_lock);
	s->as_suspended = s->as_kicked = false;
	s->as_woken = atomic_load(&api_stream_gen);
	ended = s->as_ended;
	pthread_mutex_unlock(&api_stream_lock);
	if (ended)
		return MHD_CONTENT_READER_END_OF_STREAM;
	n = s->as_src.ss_fill(s->as_src.ss_cls, buf, max);
	if (n > 0)
		return n;
	if (n < 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	pthread_mutex_lock(&api_stream_lock);
	/* A wake or an end while the source was asked: ask again at once. */
	if (!s->as_ended && s->as_woken == atomic_load(&api_stream_gen)) {
		s->as_suspended = true;
		MHD_suspend_connection(s->as_conn);
	}
	pthread_mutex_unlock(&api_stream_lock);
	return 0;
}

/* The response is done with: the stream ended, the client went away or
 * the daemon stops. */
static void api_stream_free(void *cls)
{
	struct api_stream *s = cls, **pp;

	pthread_mutex_lock(&api_stream_lock);
	for (pp = &api_streams; *pp != NULL; pp = &(*pp)->as_next)
		if (*pp == s) {
			*pp = s->as_next;
			break;
		}
	api_stream_n--;
	pthread_mutex_unlock(&api_stream_lock);
	s->as_src.ss_close(s->as_src.ss_cls);
	free(s);
}

static bool api_stream_hungup(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLRDHUP };

	return fd >= 0 && poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/* One tick, api_stream_lock held: resume the suspended streams that have
 * something, were woken, ended or lost their client. A stream resumed
 * whose reader has not run since is resumed again: libmicrohttpd's
 * threads share one wake-up channel, and a resume can be missed. */
static void api_stream_tick_locked(void)
{
	unsigned gen = atomic_load(&api_stream_gen);

	for (struct api_stream *s = api_streams; s != NULL; s = s->as_next) {
		if (!s->as_suspended)
			continue;
		if (!s->as_ended && api_stream_hungup(s->as_fd))
			s->as_ended = true;
		if (s->as_kicked || s->as_ended || s->as_woken != gen ||
		    s->as_src.ss_ready == NULL || s->as_src.ss_ready(s->as_src.ss_cls)) {
			s->as_kicked = true;
			MHD_resume_connection(s->as_conn);
		}
	}
}

static void *api_stream_ticker(void *arg)
{
	unsigned seen = atomic_load(&api_stream_gen);

	(void)arg;
	for (;;) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += API_STREAM_TICK_MS * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_mutex_lock(&api_stream_wake_lock);
		while (!api_stream_stopping && seen == atomic_load(&api_stream_gen) &&
		       pthread_cond_timedwait(&api_stream_cond, &api_stream_wake_lock, &ts) == 0)
			;
		seen = atomic_load(&api_stream_gen);
		pthread_mutex_unlock(&api_stream_wake_lock);
		pthread_mutex_lock(&api_stream_lock);
		if (!api_stream_running) {
			pthread_mutex_unlock(&api_stream_lock);
			return NULL;
		}
		api_stream_tick_locked();
		pthread_mutex_unlock(&api_stream_lock);
	}
}

int api_stream_init(struct dock_err *err)
{
	pthread_condattr_t ca;
	int r;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&api_stream_cond, &ca);
	pthread_condattr_destroy(&ca);
	api_stream_stopping = false;
	api_stream_running = true;
	r = pthread_create(&api_stream_thread, NULL, api_stream_ticker, NULL);
	if (r != 0) {
		api_stream_running = false;
		return err_set(err, 500, r, "api: cannot start the streams' ticker: %s",
			       strerror(r));
	}
	return 0;
}

void api_stream_fini(void)
{
	if (!api_stream_running)
		return;
	pthread_mutex_lock(&api_stream_lock);
	api_stream_running = false;
	for (struct api_stream *s = api_streams; s != NULL; s = s->as_next) {
		s->as_ended = true;
		if (s->as_suspended) {
			s->as_kicked = true;
			MHD_resume_connection(s->as_conn);
		}
	}
	pthread_mutex_unlock(&api_stream_lock);
	pthread_mutex_lock(&api_stream_wake_lock);
	api_stream_stopping = true;
	pthread_cond_signal(&api_stream_cond);
	pthread_mutex_unlock(&api_stream_wake_lock);
	pthread_join(api_stream_thread, NULL);
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
	s->as_conn = conn;
	s->as_src = *src;
	s->as_fd = ci != NULL ? ci->connect_fd : -1;
	s->as_woken = atomic_load(&api_stream_gen);
	MHD_add_response_header(resp, "Content-Type", content_type);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	pthread_mutex_lock(&api_stream_lock);
	s->as_next = api_streams;
	api_streams = s;
	pthread_mutex_unlock(&api_stream_lock);
	r = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp); /* the stream lives as long as the connection needs it */
	if (r == MHD_NO)
		return err_set(err, 500, EIO, "api: cannot queue a streamed answer");
	return 0;
}

void api_stream_wake(void)
{
	atomic_fetch_add(&api_stream_gen, 1);
	pthread_mutex_lock(&api_stream_wake_lock);
	pthread_cond_signal(&api_stream_cond);
	pthread_mutex_unlock(&api_stream_wake_lock);
}

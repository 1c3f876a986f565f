/* node-hello: what the dock keeps of an agent's hello without stalling the
 * agent channel. A hello is persisted only when it changes the record, at
 * most once per boot id, and never by the channel thread: a worker writes
 * and fsyncs the record outside node_lock and renames it over the old one
 * only if the record is still the one it wrote (else it tries again with
 * the newer one). Boot-id changes and the agent path's log lines are
 * rate-limited per node; what goes over is counted and said once a
 * minute. */
#include "node-int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"

/* A guest alternating boot ids costs at most this many log lines and
 * record writes a minute; a real reboot takes longer than 15 s. */
#define NODE_HELLO_BOOTS_PER_MIN 4
/* Log lines a minute per node from the agent path (hellos, acks, ...). */
#define NODE_AGENT_LINES_PER_MIN 20
/* The worker looks again at nodes that were busy with an operation. */
#define NODE_HELLO_RESCAN_S 5

static pthread_once_t node_hello_once = PTHREAD_ONCE_INIT;
static pthread_cond_t node_hello_cond = PTHREAD_COND_INITIALIZER;

/* The summary of a minute that went over a limit, as the next begins. */
void node_agent_rate_roll_locked(struct node *n, int64_t now)
{
	struct node_agent_rate *ar = &n->n_rate;

	if (now - ar->ar_window < 60)
		return;
	if (ar->ar_boots_over > 0 || ar->ar_lines_over > 0)
		log_warn(
			"node %s: agent said %llu more boot id change(s) and %llu more log line(s) "
			"in the last minute than the limits (%d, %d); not logged, the record "
			"keeps the last hello",
			n->n_rec.nr_name, (unsigned long long)ar->ar_boots_over,
			(unsigned long long)ar->ar_lines_over, NODE_HELLO_BOOTS_PER_MIN,
			NODE_AGENT_LINES_PER_MIN);
	/* The hellos not persisted over the limit: the last one is, now. */
	if (ar->ar_boots_over > 0)
		node_hello_persist_locked(n);
	ar->ar_window = now;
	ar->ar_boots = ar->ar_lines = 0;
	ar->ar_boots_over = ar->ar_lines_over = 0;
}

bool node_agent_log_ok_locked(struct node *n)
{
	struct node_agent_rate *ar = &n->n_rate;

	node_agent_rate_roll_locked(n, (int64_t)time(NULL));
	if (ar->ar_lines < NODE_AGENT_LINES_PER_MIN) {
		ar->ar_lines++;
		return true;
	}
	ar->ar_lines_over++;
	return false;
}

static bool node_hello_differs(const struct agent_hello *a, const struct agent_hello *b)
{
	return a->ah_protocol != b->ah_protocol || strcmp(a->ah_agent, b->ah_agent) != 0 ||
		strcmp(a->ah_boot_id, b->ah_boot_id) != 0 ||
		strcmp(a->ah_kernel, b->ah_kernel) != 0 ||
		strcmp(a->ah_hostname, b->ah_hostname) != 0;
}

/* The record as the worker wrote it is still the node's (but for when the
 * last hello came, which is not worth a write). */
static bool node_rec_same(const struct node_rec *cur, const struct node_rec *wrote)
{
	static struct node_rec c;

	memcpy(&c, cur, sizeof(c));
	c.nr_hello.ah_received = wrote->nr_hello.ah_received;
	return memcmp(&c, wrote, sizeof(c)) == 0;
}

/* The next node with a hello to persist and no operation in progress (an
 * operation's own commits write the record, hello included). */
static struct node *node_hello_next_locked(void)
{
	for (size_t i = 0; i < node_count; i++) {
		struct node *n = node_table[i];
		if (n->n_hello_dirty && n->n_op == NULL && n->n_rec.nr_state != NODE_CREATING &&
		    n->n_rec.nr_state != NODE_DESTROYING)
			return n;
	}
	return NULL;
}

static void *node_hello_worker(void *arg)
{
	static struct node_rec copy;
	char tmp[PATH_MAX];
	struct dock_err e = { 0 };

	(void)arg;
	pthread_mutex_lock(&node_lock);
	for (;;) {
		struct node *n = node_hello_next_locked();
		struct timespec until;
		bool keep;
		int r;

		if (n == NULL) {
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += NODE_HELLO_RESCAN_S;
			pthread_cond_timedwait(&node_hello_cond, &node_lock, &until);
			continue;
		}
		n->n_hello_dirty = false;
		memcpy(&copy, &n->n_rec, sizeof(copy));
		pthread_mutex_unlock(&node_lock);
		err_clear(&e);
		r = state_save_begin(node_cfg->dc_state_dir, &copy, tmp, sizeof(tmp), &e);
		pthread_mutex_lock(&node_lock);
		if (r < 0) {
			log_warn("node %s: agent hello not recorded: %s", copy.nr_name, e.de_msg);
			continue;
		}
		/* Looked up again: the node may be gone, or its record newer. */
		n = node_find_locked(copy.nr_name);
		keep = n != NULL && n->n_op == NULL && node_rec_same(&n->n_rec, &copy);
		if (n != NULL && !keep)
			n->n_hello_dirty = true;
		if (state_save_end(node_cfg->dc_state_dir, copy.nr_name, tmp, keep, &e) < 0)
			log_warn("node %s: agent hello not recorded: %s", copy.nr_name, e.de_msg);
		else if (keep) {
			pthread_mutex_unlock(&node_lock);
			state_sync_dir(node_cfg->dc_state_dir);
			log_debug("node %s: record written (agent hello, boot %s)", copy.nr_name,
				  copy.nr_hello.ah_boot_id);
			pthread_mutex_lock(&node_lock);
		}
	}
	return NULL;
}

static void node_hello_start(void)
{
	pthread_attr_t a;
	pthread_t t;

	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &a, node_hello_worker, NULL) != 0)
		log_err("agent hellos: cannot start the record writer; hellos are not recorded");
	pthread_attr_destroy(&a);
}

void node_hello_persist_locked(struct node *n)
{
	pthread_once(&node_hello_once, node_hello_start);
	n->n_hello_dirty = true;
	pthread_cond_signal(&node_hello_cond);
}

void node_hello_locked(struct node *n, const struct agent_hello *h)
{
	struct node_rec *r = &n->n_rec;
	struct node_agent_rate *ar = &n->n_rate;
	bool boot = !r->nr_have_hello || strcmp(r->nr_hello.ah_boot_id, h->ah_boot_id) != 0;
	bool persist = !r->nr_have_hello || node_hello_differs(&r->nr_hello, h);

	n->n_hellos++;
	node_agent_rate_roll_locked(n, (int64_t)time(NULL));
	/* Once per boot id: the same boot saying other things is kept in
	 * memory only (another write of the record carries it). */
	if (strcmp(n->n_hello_saved_boot, h->ah_boot_id) == 0)
		persist = false;
	if (boot && ar->ar_boots >= NODE_HELLO_BOOTS_PER_MIN) {
		ar->ar_boots_over++;
		persist = false;
	} else if (boot) {
		ar->ar_boots++;
		if (node_agent_log_ok_locked(n))
			log_info("node %s: agent %s ready (boot %s, kernel %s)", r->nr_name,
				 h->ah_agent, h->ah_boot_id, h->ah_kernel);
	}
	r->nr_hello = *h;
	r->nr_hello.ah_received = (int64_t)time(NULL);
	r->nr_have_hello = true;
	/* Persist, so a restarted dock still knows what booted. */
	if (persist) {
		snprintf(n->n_hello_saved_boot, sizeof(n->n_hello_saved_boot), "%s", h->ah_boot_id);
		node_hello_persist_locked(n);
	}
}

/* api-group: socket_group, resolved at start and again while it does not
 * exist (api-group.h). */
#include "api-group.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static gid_t ag_gid = (gid_t)-1; /* written under ag_lock, read atomically */
static char ag_group[64], ag_path[PATH_MAX];
static pthread_mutex_t ag_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ag_cond;
static pthread_t ag_thread;
static bool ag_running, ag_stopping;

gid_t api_group_gid(void)
{
	return __atomic_load_n(&ag_gid, __ATOMIC_ACQUIRE);
}

/* 1 and *gid if the group exists, 0 if not, < 0 on a lookup error. */
static int ag_lookup(const char *group, gid_t *gid)
{
	struct group gr, *grp = NULL;
	char buf[16384];
	int r = getgrnam_r(group, &gr, buf, sizeof(buf), &grp);

	if (r != 0)
		return -r;
	if (grp == NULL)
		return 0;
	*gid = grp->gr_gid;
	return 1;
}

/* The kernel checks connect() against the mode; peer creds decide after. */
static void ag_give(const char *path, gid_t gid)
{
	if (chown(path, 0, gid == (gid_t)-1 ? 0 : gid) < 0 || chmod(path, 0660) < 0)
		log_warn("api: %s: cannot set owner/mode: %s", path, strerror(errno));
}

static void *ag_main(void *arg)
{
	struct timespec at;
	gid_t gid = (gid_t)-1;

	(void)arg;
	pthread_mutex_lock(&ag_lock);
	while (!ag_stopping) {
		clock_gettime(CLOCK_MONOTONIC, &at);
		at.tv_sec += API_GROUP_RETRY_S;
		while (!ag_stopping && pthread_cond_timedwait(&ag_cond, &ag_lock, &at) != ETIMEDOUT)
			;
		if (ag_stopping || ag_lookup(ag_group, &gid) != 1)
			continue;
		/* Give the socket first: a member's connect() then passes the
		 * mode, and the peer check sees the gid. */
		ag_give(ag_path, gid);
		__atomic_store_n(&ag_gid, gid, __ATOMIC_RELEASE);
		log_info("api: group %s (gid %d) now exists: its members may use the API on %s",
			 ag_group, (int)gid, ag_path);
		break;
	}
	pthread_mutex_unlock(&ag_lock);
	return NULL;
}

void api_group_start(const char *group, const char *path)
{
	pthread_condattr_t ca;
	sigset_t all, old;
	gid_t gid = (gid_t)-1;
	int r = ag_lookup(group, &gid);

	if (r < 0)
		log_warn("api: group %s: lookup failed: %s", group, strerror(-r));
	__atomic_store_n(&ag_gid, r == 1 ? gid : (gid_t)-1, __ATOMIC_RELEASE);
	ag_give(path, r == 1 ? gid : (gid_t)-1);
	if (r == 1 || ag_running)
		return;
	log_info("api: group %s does not exist; only root may use the API until it does "
		 "(looked for every %ds)",
		 group, API_GROUP_RETRY_S);
	snprintf(ag_group, sizeof(ag_group), "%s", group);
	snprintf(ag_path, sizeof(ag_path), "%s", path);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ag_cond, &ca);
	pthread_condattr_destroy(&ca);
	ag_stopping = false;
	/* Signals are the main thread's (SIGTERM ends its loop). */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ag_running = pthread_create(&ag_thread, NULL, ag_main, NULL) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!ag_running)
		log_warn("api: cannot start the thread that looks for group %s", group);
}

void api_group_stop(void)
{
	if (!ag_running)
		return;
	pthread_mutex_lock(&ag_lock);
	ag_stopping = true;
	pthread_cond_signal(&ag_cond);
	pthread_mutex_unlock(&ag_lock);
	pthread_join(ag_thread, NULL);
	pthread_cond_destroy(&ag_cond);
	ag_running = false;
}

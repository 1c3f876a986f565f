/* luks_bench FILE SIZE_MIB: time the dock's own luks_format() (dockd/luks.c,
 * the code dockd runs for every create) on a fresh sparse file of SIZE_MIB,
 * and print the milliseconds. The file is created, formatted and removed;
 * the file's creation is not timed. Not a test: it asserts nothing about
 * time. Built and run by tests/bench/inside.sh, interleaved with
 * `qemu-img create -f luks` (QEMU's own PBKDF benchmark) on the same size. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "luks.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	struct dock_err err = { 0 };
	struct luks_key key;
	double t;
	int fd;

	if (argc != 3) {
		fprintf(stderr, "usage: luks_bench FILE SIZE_MIB\n");
		return 2;
	}
	fd = open(argv[1], O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)atol(argv[2]) * 1024 * 1024) < 0) {
		fprintf(stderr, "luks_bench: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	close(fd);
	if (luks_key_new(&key, &err) < 0) {
		fprintf(stderr, "luks_bench: %s\n", err.de_msg);
		return 1;
	}
	t = now_ms();
	if (luks_format(argv[1], &key, &err) < 0) {
		fprintf(stderr, "luks_bench: %s\n", err.de_msg);
		unlink(argv[1]);
		return 1;
	}
	t = now_ms() - t;
	luks_key_wipe(&key);
	unlink(argv[1]);
	printf("%.3f\n", t);
	return 0;
}

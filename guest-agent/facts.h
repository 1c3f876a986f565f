/*
 * facts.h: the contract between the agent core (agent*.c, agent-int.h) and its checks
 * (check_*.c). A check is a sensor: it writes the facts it observes, with
 * their evidence, into one bounded JSON line; the dock judges them.
 * The three helpers every check uses live here too: jline.c (the bounded
 * JSON line), file.c (files under --root) and netlink.c (kernel queries).
 */
#ifndef ISC_AGENT_FACTS_H
#define ISC_AGENT_FACTS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Protocol limit on one line, terminating newline included (PROTOCOL.md). */
#define AGENT_LINE_MAX 4096
/* Elements in any array of a fact; more are cut and flagged "truncated". */
#define FACT_ARRAY_MAX 32

/* --- what a check may look at ------------------------------------------ */

enum fact_netlink {
	FACT_NL_KERNEL,   /* ask the kernel (the normal case) */
	FACT_NL_DISABLED, /* --no-netlink: netlink facts say "disabled" */
	FACT_NL_REPLAY,   /* --netlink-replay DIR: replies read from files */
};

struct fact_env {
	const char *fe_root; /* prefix for /proc, /sys, /etc ("" = none) */
	enum fact_netlink fe_netlink;
	const char *fe_replay;  /* FACT_NL_REPLAY: directory of replies */
	const char *fe_service; /* comm of the node's service, or NULL */
};

/* --- jline.c: one JSON object that never exceeds AGENT_LINE_MAX --------- */

#define JL_DEPTH 6
/*
 * Bytes kept free while members and array elements are written, for what
 * comes last: the closing brackets, "truncated":true and "error":"...".
 */
#define JL_RESERVE 384
/* An error reason is short; longer ones are cut. */
#define JL_ERR_MAX 120

struct jline {
	char jl_buf[AGENT_LINE_MAX];
	size_t jl_len;
	unsigned jl_depth;       /* open containers, the line's own included */
	char jl_close[JL_DEPTH]; /* '}' or ']' for each open container */
	bool jl_first[JL_DEPTH]; /* nothing written in it yet */
	unsigned jl_dead;        /* opens that did not fit, so closes to skip */
	bool jl_full;            /* a write did not fit and was left out */
	char jl_err[JL_ERR_MAX]; /* the first error; "" if none */
};

/* A point to come back to when an array element does not fit. */
struct jl_mark {
	size_t jm_len;
	unsigned jm_depth;
	unsigned jm_dead;
	bool jm_first;
};

/* Start a line: "{". */
void jl_init(struct jline *j);
/*
 * Members (key != NULL) or array elements (key == NULL). Each is written
 * whole or not at all; one that does not fit sets jl_full. Strings are
 * written as printable ASCII: other bytes become '?'.
 */
void jl_str(struct jline *j, const char *key, const char *val);
void jl_int(struct jline *j, const char *key, long long val);
void jl_bool(struct jline *j, const char *key, bool val);
void jl_open_obj(struct jline *j, const char *key);
void jl_open_arr(struct jline *j, const char *key);
/*
 * Close the innermost container; always fits (JL_RESERVE). Opens and
 * closes pair up even when an open did not fit.
 */
void jl_close(struct jline *j);
struct jl_mark jl_mark(const struct jline *j);
/*
 * After writing one array element: if anything in it did not fit, undo the
 * element (back to the mark), clear jl_full and return true: the caller
 * stops and flags the array "truncated".
 */
bool jl_undo_if_full(struct jline *j, const struct jl_mark *m);
/* "truncated":true in the current object, after a cut array: always fits. */
void jl_truncated(struct jline *j);
/* Record why a fact is incomplete; the first error is kept (jl_finish). */
void jl_error(struct jline *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * "WHAT: strerror(-err)"; "disabled" for -ECANCELED from netlink, "not a
 * regular file" for -FILE_ENOTREG.
 */
void jl_error_errno(struct jline *j, const char *what, int err);
/*
 * Add "error" if one was recorded (or "line limit" if a member was left
 * out), close what is open, add the newline. Returns the line length.
 */
size_t jl_finish(struct jline *j);

/* --- blockdev.c --------------------------------------------------------- */

/*
 * The whole disk ("vdb") that block device MAJ:MIN lives on, through
 * partitions and device mapper layers. 0, or a negative errno: -EXDEV when
 * it spans several disks, -ENOENT when it is not in /sys.
 */
int blockdev_disk(const struct fact_env *e, unsigned maj, unsigned min, char *disk, size_t size);

/* --- file.c: reading the guest's files ---------------------------------- */

/* Longest line file_lines_next() returns whole; longer lines are cut. */
#define FILE_LINE_MAX 4096

/* file_open's answer for a path that is not a regular file. */
#define FILE_ENOTREG EMEDIUMTYPE

/*
 * Open ROOT/PATH read-only. Only regular files: a FIFO or device planted
 * where a config file should be must not block or confuse the agent
 * (-FILE_ENOTREG, -EISDIR). Returns an fd or a negative errno.
 */
int file_open(const struct fact_env *e, const char *path);
/* First line of a small file, NUL-terminated; length or negative errno. */
ssize_t file_read_value(const struct fact_env *e, const char *path, char *buf, size_t size);
/* A file holding one integer (sysctl style); 0 or negative errno. */
int file_read_int(const struct fact_env *e, const char *path, long long *val);
/* The pid a /proc entry's name stands for, or -1 for any other entry. */
long file_proc_pid(const char *d_name);
/* Does ROOT/PATH exist (any type)? */
bool file_exists(const struct fact_env *e, const char *path);

struct file_lines {
	int fl_fd;
	char fl_buf[2 * FILE_LINE_MAX + 1];
	size_t fl_len; /* bytes in fl_buf */
	size_t fl_pos; /* start of the next line */
	bool fl_eof;
	bool fl_skip;      /* dropping the tail of a cut line */
	uint64_t fl_total; /* bytes read so far (bounded) */
};

int file_lines_open(struct file_lines *fl, const struct fact_env *e, const char *path);
/*
 * The next line without its newline, NUL-terminated, in *line (valid until
 * the next call). A line longer than FILE_LINE_MAX - 1 is cut there and the
 * rest of it skipped. Returns 1, 0 at the end, or a negative errno.
 */
int file_lines_next(struct file_lines *fl, char **line);
void file_lines_close(struct file_lines *fl);

/* Decode the octal escapes (\040) the kernel uses in /proc files, in place. */
void file_unescape_octal(char *s);
/* Split s at blanks in place: up to max fields; returns how many. */
int file_split(char *s, char **fields, int max);

/* --- netlink.c: kernel queries, or their replays ----------------------- */

struct nlmsghdr;
struct nlattr;

/* Called for each reply message; a negative return ends the query with it. */
typedef int (*nl_reply_fn)(const struct nlmsghdr *nlh, void *arg);

/*
 * Send one request (nlmsg_len, type and flags set by the caller; seq and
 * pid are filled in) on a NETLINK_<proto> socket and pass every reply to
 * fn until: NLMSG_DONE (dumps), an NLMSG_ERROR (its error, 0 for an ack),
 * or fn returns > 0 (got what it wanted). In replay mode the replies are
 * the bytes of the file REPLAY/<name>. Never waits more than a second per
 * reply. Returns 0 or a negative errno; -ECANCELED when netlink is
 * disabled (or the replay file is missing), -EINTR if a dump was
 * interrupted by a concurrent change, -EBADMSG on a malformed reply.
 */
int nl_query(const struct fact_env *e, const char *name, int proto, struct nlmsghdr *req,
	     nl_reply_fn fn, void *arg);

/*
 * Index the attributes in [data, data+len) by type into tb[0..max]
 * (later duplicates win, types above max are skipped). Returns 0, or
 * -EBADMSG if an attribute's length runs past the end.
 */
int nl_attrs(const void *data, size_t len, const struct nlattr **tb, unsigned max);
/* Payload of a message (NLMSG_DATA, const-correct). */
const void *nl_msg_data(const struct nlmsghdr *nlh);
/* Payload of an attribute, and its length. */
const void *nl_attr_data(const struct nlattr *a);
size_t nl_attr_len(const struct nlattr *a);
/* A NUL-terminated string attribute copied into buf; 0 or -EBADMSG. */
int nl_attr_str(const struct nlattr *a, char *buf, size_t size);
/* A 32-bit attribute in network byte order (nf_tables); 0 or -EBADMSG. */
int nl_attr_be32(const struct nlattr *a, uint32_t *val);

/* --- the checks: one file each, one fact each --------------------------- */

void check_listen(struct jline *j, const struct fact_env *e);
void check_aslr(struct jline *j, const struct fact_env *e);
void check_net(struct jline *j, const struct fact_env *e);
void check_swap(struct jline *j, const struct fact_env *e);
void check_mounts(struct jline *j, const struct fact_env *e);
void check_audit(struct jline *j, const struct fact_env *e);
void check_nft(struct jline *j, const struct fact_env *e);
void check_service(struct jline *j, const struct fact_env *e);
void check_sysctl(struct jline *j, const struct fact_env *e);
void check_sshd(struct jline *j, const struct fact_env *e);

#endif

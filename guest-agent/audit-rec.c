/*
 * audit-rec.c: the pure half of audit forwarding (protocol 4): the kernel
 * record's "audit(SEC.MS:SERIAL): " prefix, the bounded `audit` line made
 * of it, and the parser of /etc/isc/audit.rules. No I/O, no globals: the
 * unit tests (tests/unit/test_agent_audit.c) link this file alone.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "agent-int.h"

/* --- the record prefix ----------------------------------------------------- */

/* Up to max decimal digits at *p into *val (no overflow); digits read, or 0. */
static size_t rec_digits(const char *p, const char *end, size_t max, uint64_t *val)
{
	uint64_t v = 0;
	size_t n = 0;

	while (p + n < end && n < max && p[n] >= '0' && p[n] <= '9') {
		unsigned d = (unsigned)(p[n] - '0');

		if (v > (UINT64_MAX - d) / 10)
			return 0;
		v = v * 10 + d;
		n++;
	}
	*val = v;
	return n;
}

int audit_rec_parse(const char *text, size_t len, struct audit_rec *r)
{
	static const char head[] = "audit(";
	const char *p = text, *end = text + len;
	uint64_t ms;
	size_t n;

	/* The kernel writes "audit(%llu.%03lu:%u): " (kernel/audit.c). */
	if (len < sizeof(head) - 1 || memcmp(p, head, sizeof(head) - 1) != 0)
		return -EINVAL;
	p += sizeof(head) - 1;
	if ((n = rec_digits(p, end, 20, &r->ar_sec)) == 0 || p + n >= end || p[n] != '.')
		return -EINVAL;
	p += n + 1;
	if ((n = rec_digits(p, end, 3, &ms)) == 0 || p + n >= end || p[n] != ':')
		return -EINVAL;
	r->ar_ms = (unsigned)ms;
	p += n + 1;
	if ((n = rec_digits(p, end, 20, &r->ar_serial)) == 0 || end - (p + n) < 2 || p[n] != ')' ||
	    p[n + 1] != ':')
		return -EINVAL;
	p += n + 2;
	if (p < end && *p == ' ')
		p++;
	/* The text ends at a NUL or a final newline, if the kernel sent one. */
	r->ar_msg = p;
	r->ar_msg_len = (size_t)(end - p);
	{
		const char *nul = memchr(p, '\0', r->ar_msg_len);

		if (nul)
			r->ar_msg_len = (size_t)(nul - p);
	}
	while (r->ar_msg_len > 0 && p[r->ar_msg_len - 1] == '\n')
		r->ar_msg_len--;
	return 0;
}

/* --- the audit line ---------------------------------------------------------- */

size_t audit_rec_line(char *buf, size_t size, unsigned rtype, const struct audit_rec *r)
{
	static const char cut_tail[] = "\",\"truncated\":true}\n";
	size_t o, room, i, max = r->ar_msg_len < AUDIT_MSG_MAX ? r->ar_msg_len : AUDIT_MSG_MAX;
	int n;

	if (size > AGENT_LINE_MAX)
		size = AGENT_LINE_MAX;
	n = snprintf(buf, size,
		     "{\"type\":\"audit\",\"serial\":%llu,\"sec\":%llu,\"ms\":%u,\"rtype\":%u,"
		     "\"msg\":\"",
		     (unsigned long long)r->ar_serial, (unsigned long long)r->ar_sec, r->ar_ms,
		     rtype);
	if (n < 0 || (size_t)n + sizeof(cut_tail) > size)
		return 0;
	o = (size_t)n;
	/* Whatever is cut, the tail with "truncated" still fits. */
	room = size - (sizeof(cut_tail) - 1);
	for (i = 0; i < max; i++) {
		unsigned char c = (unsigned char)r->ar_msg[i];
		bool esc = c == '"' || c == '\\';

		if (o + (esc ? 2 : 1) > room)
			break;
		if (esc)
			buf[o++] = '\\';
		buf[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	if (i < r->ar_msg_len) {
		memcpy(buf + o, cut_tail, sizeof(cut_tail) - 1);
		return o + sizeof(cut_tail) - 1;
	}
	memcpy(buf + o, "\"}\n", 3);
	return o + 3;
}

/* --- /etc/isc/audit.rules ------------------------------------------------------ */

/*
 * The syscalls a rules file may name, with their numbers on x86_64 (b64)
 * and i386 (b32): the ABI never renumbers a syscall, so the table is
 * written out instead of taken from two headers that define the same
 * macros differently.
 */
static const struct audit_syscall {
	const char *as_name;
	unsigned short as_b64;
	unsigned short as_b32;
} audit_syscalls[] = {
	{ "execve", 59, 11 },         { "execveat", 322, 358 },      { "ptrace", 101, 26 },
	{ "mount", 165, 21 },         { "umount2", 166, 52 },        { "init_module", 175, 128 },
	{ "finit_module", 313, 350 }, { "delete_module", 176, 129 }, { "kexec_load", 246, 283 },
};

#define AUDIT_NSYSCALLS (sizeof(audit_syscalls) / sizeof(audit_syscalls[0]))

_Static_assert(AUDIT_NSYSCALLS <= AUDIT_RULES_SYSCALLS_MAX, "audit_rules holds every syscall");

static void rules_add(struct audit_rules *rs, const struct audit_syscall *sc)
{
	for (unsigned i = 0; i < rs->ars_n; i++)
		if (strcmp(rs->ars_name[i], sc->as_name) == 0)
			return; /* named twice: once is enough */
	rs->ars_name[rs->ars_n] = sc->as_name;
	rs->ars_b64[rs->ars_n] = sc->as_b64;
	rs->ars_b32[rs->ars_n] = sc->as_b32;
	rs->ars_n++;
}

void audit_rules_default(struct audit_rules *rs)
{
	rs->ars_n = 0;
	rules_add(rs, &audit_syscalls[0]); /* execve */
	rules_add(rs, &audit_syscalls[1]); /* execveat */
}

static int rules_err(char *err, size_t size, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int rules_err(char *err, size_t size, unsigned line, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(err, size, "line %u: ", line);

	if (n >= 0 && (size_t)n < size) {
		va_start(ap, fmt);
		vsnprintf(err + n, size - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static bool rules_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* One line, comment and blanks stripped, into rs; 0 or -EINVAL with err. */
static int rules_line(struct audit_rules *rs, const char *s, size_t len, unsigned line, char *err,
		      size_t errsize)
{
	const char *hash = memchr(s, '#', len);
	size_t word;

	if (hash)
		len = (size_t)(hash - s);
	while (len > 0 && rules_blank(s[0])) {
		s++;
		len--;
	}
	while (len > 0 && rules_blank(s[len - 1]))
		len--;
	if (len == 0)
		return 0;
	for (word = 0; word < len && !rules_blank(s[word]); word++)
		;
	if (word < len)
		return rules_err(err, errsize, line, "one syscall name a line");
	for (size_t i = 0; i < AUDIT_NSYSCALLS; i++) {
		if (strlen(audit_syscalls[i].as_name) == len &&
		    memcmp(audit_syscalls[i].as_name, s, len) == 0) {
			rules_add(rs, &audit_syscalls[i]);
			return 0;
		}
	}
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return rules_err(err, errsize, line, "not a syscall name");
	return rules_err(err, errsize, line, "\"%.*s\" is not a syscall the agent audits", (int)len,
			 s);
}

int audit_rules_parse(const char *text, size_t len, struct audit_rules *rs, char *err,
		      size_t errsize)
{
	unsigned line = 0;
	int r;

	rs->ars_n = 0;
	err[0] = '\0';
	if (memchr(text, '\0', len))
		return rules_err(err, errsize, 1, "a NUL byte: not a text file");
	while (len > 0) {
		const char *nl = memchr(text, '\n', len);
		size_t l = nl ? (size_t)(nl - text) : len;

		if (++line > AUDIT_RULES_LINES)
			return rules_err(err, errsize, line, "more than %d lines",
					 AUDIT_RULES_LINES);
		if (l > AUDIT_RULES_LINE_MAX)
			return rules_err(err, errsize, line, "longer than %d bytes",
					 AUDIT_RULES_LINE_MAX);
		if ((r = rules_line(rs, text, l, line, err, errsize)) < 0)
			return r;
		if (!nl)
			break;
		text = nl + 1;
		len -= l + 1;
	}
	return 0;
}

size_t audit_rules_names(const struct audit_rules *rs, char *buf, size_t size)
{
	size_t o = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < rs->ars_n; i++) {
		int n = snprintf(buf + o, size - o, "%s%s", i ? " " : "", rs->ars_name[i]);

		if (n < 0 || (size_t)n >= size - o)
			break;
		o += (size_t)n;
	}
	return o;
}

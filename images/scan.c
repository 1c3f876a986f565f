/*
 * scan.c: the golden image's OpenSCAP scan (scan.h). The content is derived
 * from ssg-debian's Debian 11 datastream by one change, the version check
 * (images/scap/derive-content does the same in shell, for an auditor);
 * oscap-chroot scans the root tree through a read-only bind mount in a
 * private mount namespace: the tree is never written (OpenSCAP 1.3.7's
 * dpkginfo probe otherwise writes apt's cache into it, and then misses its
 * first package), and each profile is scanned tailored and stock.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "scan.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "imgio.h"
#include "sha256.h"

#define SCAN_DS_MAX   (64u * 1024 * 1024) /* the datastream is ~6 MiB */
#define SCAN_OUT_MAX  (4u * 1024 * 1024)  /* oscap's listing of one profile */
#define SCAN_RULE_MAX 160
#define SCAN_PFX_RULE "xccdf_org.ssgproject.content_rule_"
#define SCAN_PFX_PROF "xccdf_org.ssgproject.content_profile_"

/* The one change: Debian 11's version check also takes Debian 12. */
static const char scan_old[] = "<ind:pattern operation=\"pattern match\">^11.[0-9]+$</ind:pattern>";
static const char scan_new[] =
	"<ind:pattern operation=\"pattern match\">^1[12].[0-9]+$</ind:pattern>";

struct scan_content {
	char sc_path[PATH_MAX];
	char sc_sha[SHA256_HEX_LEN + 1];
	char sc_src_sha[SHA256_HEX_LEN + 1];
	char sc_src[PATH_MAX];
	char sc_pkg[96];     /* ssg-debian's version */
	char sc_scanner[64]; /* oscap's version */
};

/* Results of one profile's scan, by oscap's result names. */
enum scan_res { SR_PASS, SR_FAIL, SR_NA, SR_NC, SR_ERROR, SR_UNKNOWN, SR_INFO, SR_OTHER, SR_N };
static const char *const scan_res_names[SR_N] = { "pass",  "fail",    "notapplicable", "notchecked",
						  "error", "unknown", "informational", "other" };

struct scan_counts {
	unsigned sn[SR_N];
	json_object *sn_failing; /* short rule ids */
};

int scan_profile_valid(const char *p)
{
	size_t n = strlen(p);

	if (n == 0 || n > SCAN_PROFILE_MAX)
		return 0;
	return strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

/* argv's standard output, trimmed, into out (at most size - 1 bytes). */
static int scan_capture(const char *const argv[], char *out, size_t size, struct dock_err *err)
{
	FILE *f = tmpfile();
	size_t n;
	int r;

	if (!f)
		return err_set(err, IMG_ERR, errno, "tmpfile: %s", strerror(errno));
	r = tool_runc(argv, fileno(f), err);
	rewind(f);
	n = r < 0 ? 0 : fread(out, 1, size - 1, f);
	fclose(f);
	out[n] = '\0';
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
		out[--n] = '\0';
	return r;
}

/* The scanner's and the source package's versions, for the manifest. */
static int scan_versions(struct scan_content *c, struct dock_err *err)
{
	char line[256], *sp;
	int r;

	r = scan_capture(
		(const char *const[]){ "dpkg-query", "-W", "-f=${Version}", "ssg-debian", NULL },
		c->sc_pkg, sizeof(c->sc_pkg), err);
	if (r < 0 || !c->sc_pkg[0])
		snprintf(c->sc_pkg, sizeof(c->sc_pkg), "unknown");
	if ((r = scan_capture((const char *const[]){ "oscap", "--version", NULL }, line,
			      sizeof(line), err)) < 0)
		return r;
	line[strcspn(line, "\n")] = '\0';
	sp = strrchr(line, ' ');
	snprintf(c->sc_scanner, sizeof(c->sc_scanner), "OpenSCAP %.40s", sp ? sp + 1 : line);
	return 0;
}

/* The derived datastream in ss_cache (written when absent or different). */
static int scan_derive(const struct scan_spec *ss, struct scan_content *c, struct dock_err *err)
{
	const char *src = getenv("ISC_SCAP_SOURCE");
	_cleanup_free_ char *buf = NULL, *out = NULL;
	char tmp[PATH_MAX + 16];
	size_t len, n = 0, o = 0;
	const size_t lo = sizeof(scan_old) - 1, ln = sizeof(scan_new) - 1;
	int r;

	snprintf(c->sc_src, sizeof(c->sc_src), "%s", src && *src ? src : SCAN_SOURCE_DEFAULT);
	if (access(c->sc_src, R_OK) < 0)
		return err_set(err, IMG_ERR, errno, "%s: %s (apt-get install ssg-debian)",
			       c->sc_src, strerror(errno));
	if ((r = file_read_all(c->sc_src, SCAN_DS_MAX, &buf, &len, err)) < 0)
		return r;
	for (const char *p = buf; (p = memmem(p, len - (size_t)(p - buf), scan_old, lo)); p += lo)
		n++;
	if (n != 2)
		return err_set(err, IMG_ERR, EINVAL,
			       "%s: the Debian 11 version check appears %zu times, not 2: not "
			       "the content images/scap/derive-content knows",
			       c->sc_src, n);
	if (!(out = malloc(len + 2 * (ln - lo) + 1)))
		return err_set(err, IMG_ERR, ENOMEM, "out of memory");
	for (size_t i = 0; i < len;) {
		if (i + lo <= len && memcmp(buf + i, scan_old, lo) == 0) {
			memcpy(out + o, scan_new, ln);
			o += ln;
			i += lo;
		} else {
			out[o++] = buf[i++];
		}
	}
	out[o] = '\0';
	if (strlen(out) != o)
		return err_set(err, IMG_ERR, EINVAL, "%s: holds a NUL byte", c->sc_src);
	if ((r = dir_make(ss->ss_cache, 0755, err)) < 0 ||
	    (r = path_join(c->sc_path, sizeof(c->sc_path), ss->ss_cache, SCAN_CONTENT_NAME, err)) <
		    0)
		return r;
	/* Written whole under a private name, then renamed: builds may share the cache. */
	if (snprintf(tmp, sizeof(tmp), "%s.%ld", c->sc_path, (long)getpid()) >= (int)sizeof(tmp))
		return err_set(err, IMG_ERR, ENAMETOOLONG, "%s: path too long", c->sc_path);
	unlink(tmp);
	if ((r = file_write(tmp, out, 0644, err)) < 0)
		return r;
	if (rename(tmp, c->sc_path) < 0) {
		r = err_set(err, IMG_ERR, errno, "rename %s: %s", tmp, strerror(errno));
		unlink(tmp);
		return r;
	}
	if ((r = sha256_file(c->sc_path, c->sc_sha, NULL, err)) < 0 ||
	    (r = sha256_file(c->sc_src, c->sc_src_sha, NULL, err)) < 0)
		return r;
	return scan_versions(c, err);
}

/*
 * Run argv (oscap-chroot VIEW ...) with stdout to out_fd, in a private
 * mount namespace where VIEW is a read-only bind of root. Its exit status,
 * or a negative errno.
 */
static int scan_exec(const char *root, const char *view, char *const argv[], int out_fd,
		     struct dock_err *err)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return err_set(err, IMG_ERR, errno, "fork: %s", strerror(errno));
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);

		if (nul < 0 || dup2(nul, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0 ||
		    unshare(CLONE_NEWNS) < 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
		    mount(root, view, NULL, MS_BIND | MS_REC, NULL) < 0 ||
		    mount(NULL, view, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0) {
			fprintf(stderr, "isc-image: %s: read-only view: %s\n", root,
				strerror(errno));
			_exit(125);
		}
		execvp(argv[0], argv);
		fprintf(stderr, "isc-image: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return err_set(err, IMG_ERR, errno, "waitpid: %s", strerror(errno));
	if (!WIFEXITED(status))
		return err_set(err, IMG_ERR, EIO, "%s killed by signal %d", argv[0],
			       WTERMSIG(status));
	return WEXITSTATUS(status);
}

/* A line "KEY\r\tVALUE" (oscap writes "\r\t" after the key, or "\t"):
 * the value, or NULL for another key. */
static const char *scan_field(const char *line, size_t n, const char *key, size_t *vlen)
{
	size_t k = strlen(key), i;

	if (n <= k || strncmp(line, key, k) != 0)
		return NULL;
	for (i = k; i < n && (line[i] == '\r' || line[i] == '\t'); i++)
		;
	if (i == k || i == n)
		return NULL;
	*vlen = n - i;
	return line + i;
}

/* oscap's listing: "Rule ID" then "Result RESULT" per rule. */
static int scan_parse(const char *text, struct scan_counts *sc, struct dock_err *err)
{
	char rule[SCAN_RULE_MAX + 1] = "";

	memset(sc->sn, 0, sizeof(sc->sn));
	if (!(sc->sn_failing = json_object_new_array()))
		return err_set(err, IMG_ERR, ENOMEM, "out of memory");
	for (const char *p = text; *p;) {
		size_t n = strcspn(p, "\n"), vn = 0;
		const char *v;

		if ((v = scan_field(p, n, "Rule", &vn))) {
			if (vn > strlen(SCAN_PFX_RULE) &&
			    strncmp(v, SCAN_PFX_RULE, strlen(SCAN_PFX_RULE)) == 0) {
				v += strlen(SCAN_PFX_RULE);
				vn -= strlen(SCAN_PFX_RULE);
			}
			snprintf(rule, sizeof(rule), "%.*s", (int)vn, v);
		} else if ((v = scan_field(p, n, "Result", &vn))) {
			size_t k = SR_OTHER;

			for (size_t i = 0; i < SR_OTHER; i++)
				if (strlen(scan_res_names[i]) == vn &&
				    strncmp(v, scan_res_names[i], vn) == 0)
					k = i;
			sc->sn[k]++;
			if (k == SR_FAIL &&
			    json_object_array_length(sc->sn_failing) < SCAN_MAX_FAILING)
				json_object_array_add(sc->sn_failing, json_object_new_string(rule));
		}
		p += n + (p[n] == '\n');
	}
	return 0;
}

/* pass / (pass + fail) in percent, 2 decimals; -1 when nothing was judged. */
static double scan_score(const struct scan_counts *sc)
{
	unsigned d = sc->sn[SR_PASS] + sc->sn[SR_FAIL];

	return d ? (double)((sc->sn[SR_PASS] * 10000ull + d / 2) / d) / 100 : -1;
}

static json_object *scan_counts_json(const struct scan_counts *sc)
{
	json_object *o = json_object_new_object();
	double s = scan_score(sc);
	char txt[16];

	if (!o)
		return NULL;
	for (size_t i = 0; i < SR_N; i++)
		json_object_object_add(o, scan_res_names[i], json_object_new_int64(sc->sn[i]));
	snprintf(txt, sizeof(txt), "%.2f", s);
	json_object_object_add(o, "score", s < 0 ? NULL : json_object_new_double_s(s, txt));
	json_object_object_add(o, "failing", json_object_get(sc->sn_failing));
	return o;
}

/* One oscap-chroot run of profile id; arf/html "" for none. */
static int scan_one(const struct scan_spec *ss, const struct scan_content *c, const char *view,
		    const char *id, bool tailored, const char *arf, const char *html,
		    struct scan_counts *sc, struct dock_err *err)
{
	const char *argv[16];
	char *av[16];
	size_t a = 0;
	_cleanup_free_ char *text = NULL;
	size_t len;
	FILE *f = tmpfile();
	int r;

	if (!f)
		return err_set(err, IMG_ERR, errno, "tmpfile: %s", strerror(errno));
	argv[a++] = "oscap-chroot";
	argv[a++] = view;
	argv[a++] = "xccdf";
	argv[a++] = "eval";
	if (tailored) {
		argv[a++] = "--tailoring-file";
		argv[a++] = ss->ss_tailoring;
	}
	argv[a++] = "--profile";
	argv[a++] = id;
	if (arf[0]) {
		argv[a++] = "--results-arf";
		argv[a++] = arf;
		argv[a++] = "--report";
		argv[a++] = html;
	}
	argv[a++] = c->sc_path;
	argv[a] = NULL;
	memcpy(av, argv, sizeof(av)); /* execvp's type; nothing writes them */
	r = scan_exec(ss->ss_root, view, av, fileno(f), err);
	if (r >= 0 && r != 0 && r != 2) /* 2: some rule failed */
		r = err_set(err, IMG_ERR, EIO, "%s: oscap-chroot (%s) failed with exit status %d",
			    ss->ss_name, id, r);
	if (r >= 0) {
		char path[32];

		snprintf(path, sizeof(path), "/proc/self/fd/%d", fileno(f));
		fflush(f);
		r = file_read_all(path, SCAN_OUT_MAX, &text, &len, err);
	}
	fclose(f);
	if (r < 0)
		return r;
	return scan_parse(text, sc, err);
}

/* An output file's name and sha256 into o ("arf", "arf_sha256"). */
static int scan_file_json(json_object *o, const char *key, const char *dir, const char *name,
			  struct dock_err *err)
{
	char path[PATH_MAX], hex[SHA256_HEX_LEN + 1], k[32];
	int r;

	if ((r = path_join(path, sizeof(path), dir, name, err)) < 0 ||
	    (r = sha256_file(path, hex, NULL, err)) < 0)
		return r;
	if (chmod(path, 0644) < 0)
		return err_set(err, IMG_ERR, errno, "%s: chmod: %s", path, strerror(errno));
	snprintf(k, sizeof(k), "%s_sha256", key);
	json_object_object_add(o, key, json_object_new_string(name));
	json_object_object_add(o, k, json_object_new_string(hex));
	return 0;
}

/* One profile: tailored (with the ARF and the report) and stock. */
static int scan_profile(const struct scan_spec *ss, const struct scan_content *c, const char *view,
			const char *p, json_object **out, struct dock_err *err)
{
	char id[128], stock[128], arf[64], html[64], arfp[PATH_MAX], htmlp[PATH_MAX];
	struct scan_counts t = { 0 }, s = { 0 };
	bool tailored = ss->ss_tailoring && ss->ss_tailoring[0];
	json_object *o = NULL;
	int r;

	snprintf(stock, sizeof(stock), SCAN_PFX_PROF "%s", p);
	snprintf(id, sizeof(id), SCAN_PFX_PROF "%s%s", p, tailored ? "_isc" : "");
	snprintf(arf, sizeof(arf), "scan-%s.arf.xml", p);
	snprintf(html, sizeof(html), "scan-%s.html", p);
	if ((r = path_join(arfp, sizeof(arfp), ss->ss_outdir, arf, err)) < 0 ||
	    (r = path_join(htmlp, sizeof(htmlp), ss->ss_outdir, html, err)) < 0)
		return r;
	if ((r = scan_one(ss, c, view, id, tailored, arfp, htmlp, &t, err)) < 0)
		goto out;
	if (tailored && (r = scan_one(ss, c, view, stock, false, "", "", &s, err)) < 0)
		goto out;
	r = -ENOMEM;
	if (!(o = scan_counts_json(&t)))
		goto out;
	json_object_object_add(o, "id", json_object_new_string(p));
	json_object_object_add(o, "xccdf_profile", json_object_new_string(id));
	json_object_object_add(o, "stock", tailored ? scan_counts_json(&s) : NULL);
	if ((r = scan_file_json(o, "arf", ss->ss_outdir, arf, err)) < 0 ||
	    (r = scan_file_json(o, "report", ss->ss_outdir, html, err)) < 0)
		goto out;
	img_log("%s: SCAP %s: %u pass, %u fail, %u notapplicable, %u notchecked, %u error, "
		"%u unknown; score %.2f%%%s",
		ss->ss_name, p, t.sn[SR_PASS], t.sn[SR_FAIL], t.sn[SR_NA], t.sn[SR_NC],
		t.sn[SR_ERROR], t.sn[SR_UNKNOWN], scan_score(&t), tailored ? " (tailored)" : "");
	if (tailored)
		img_log("%s: SCAP %s stock: %u pass, %u fail; score %.2f%%", ss->ss_name, p,
			s.sn[SR_PASS], s.sn[SR_FAIL], scan_score(&s));
	*out = o;
	o = NULL;
	r = 0;
out:
	json_object_put(o);
	json_object_put(t.sn_failing);
	json_object_put(s.sn_failing);
	return r;
}

static json_object *scan_head(const struct scan_spec *ss, const struct scan_content *c,
			      struct dock_err *err)
{
	json_object *b = json_object_new_object(), *ct = json_object_new_object(), *tl = NULL;
	char pkg[128], hex[SHA256_HEX_LEN + 1];
	const char *base;

	if (!b || !ct) {
		json_object_put(b);
		json_object_put(ct);
		return NULL;
	}
	snprintf(pkg, sizeof(pkg), "ssg-debian %s", c->sc_pkg);
	base = strrchr(c->sc_src, '/');
	json_object_object_add(b, "scanner", json_object_new_string(c->sc_scanner));
	json_object_object_add(ct, "package", json_object_new_string(pkg));
	json_object_object_add(ct, "source", json_object_new_string(base ? base + 1 : c->sc_src));
	json_object_object_add(ct, "source_sha256", json_object_new_string(c->sc_src_sha));
	json_object_object_add(ct, "name", json_object_new_string(SCAN_CONTENT_NAME));
	json_object_object_add(ct, "sha256", json_object_new_string(c->sc_sha));
	json_object_object_add(ct, "derivation",
			       json_object_new_string("installed_OS_is_debian11's version check "
						      "^11.[0-9]+$ widened to ^1[12].[0-9]+$ "
						      "(images/scap/derive-content)"));
	json_object_object_add(b, "content", ct);
	if (ss->ss_tailoring && ss->ss_tailoring[0] &&
	    sha256_file(ss->ss_tailoring, hex, NULL, err) == 0 && (tl = json_object_new_object())) {
		base = strrchr(ss->ss_tailoring, '/');
		json_object_object_add(tl, "file",
				       json_object_new_string(base ? base + 1 : ss->ss_tailoring));
		json_object_object_add(tl, "sha256", json_object_new_string(hex));
	}
	json_object_object_add(b, "tailoring", tl);
	json_object_object_add(b, "floor",
			       ss->ss_floor >= 0 ? json_object_new_int(ss->ss_floor) : NULL);
	json_object_object_add(b, "mode", json_object_new_string("offline, read-only root tree"));
	return b;
}

double scan_block_score(json_object *block)
{
	json_object *ps, *sc;
	double low = -1;

	if (!block || !json_object_object_get_ex(block, "profiles", &ps) ||
	    !json_object_is_type(ps, json_type_array))
		return -1;
	for (size_t i = 0; i < json_object_array_length(ps); i++)
		if (json_object_object_get_ex(json_object_array_get_idx(ps, i), "score", &sc) &&
		    sc && (low < 0 || json_object_get_double(sc) < low))
			low = json_object_get_double(sc);
	return low;
}

/* Under the floor: which profile, its score and the failing rules. */
static int scan_floor(const struct scan_spec *ss, json_object *ps, struct dock_err *err)
{
	for (size_t i = 0; i < json_object_array_length(ps); i++) {
		json_object *p = json_object_array_get_idx(ps, i), *sc, *id, *fl;
		char rules[400] = "";
		size_t n = 0;

		if (!json_object_object_get_ex(p, "score", &sc) || !sc ||
		    json_object_get_double(sc) >= ss->ss_floor)
			continue;
		json_object_object_get_ex(p, "id", &id);
		json_object_object_get_ex(p, "failing", &fl);
		for (size_t k = 0; k < json_object_array_length(fl); k++) {
			const char *r = json_object_get_string(json_object_array_get_idx(fl, k));

			if (n + strlen(r) + 8 >= sizeof(rules)) {
				snprintf(rules + n, sizeof(rules) - n, "%s...", k ? ", " : "");
				break;
			}
			n += (size_t)snprintf(rules + n, sizeof(rules) - n, "%s%s", k ? ", " : "",
					      r);
		}
		return err_set(err, IMG_ERR, EDOM,
			       "%s: SCAP score %.2f%% on %s is under the recipe's floor %d%%; "
			       "failing: %s",
			       ss->ss_name, json_object_get_double(sc), json_object_get_string(id),
			       ss->ss_floor, rules);
	}
	return 0;
}

int scan_run(const struct scan_spec *ss, json_object **block, struct dock_err *err)
{
	struct scan_content c = { 0 };
	char view[PATH_MAX];
	json_object *b = NULL, *ps = NULL;
	int r;

	*block = NULL;
	if (ss->ss_tailoring && ss->ss_tailoring[0] &&
	    (r = sha256_file(ss->ss_tailoring, c.sc_sha, NULL, err)) < 0)
		return r; /* readable, before minutes of scanning */
	if ((r = scan_derive(ss, &c, err)) < 0 ||
	    (r = path_join(view, sizeof(view), ss->ss_outdir, ".scan-view", err)) < 0 ||
	    (r = dir_make(view, 0700, err)) < 0)
		return r;
	r = -ENOMEM;
	if (!(b = scan_head(ss, &c, err)) || !(ps = json_object_new_array()))
		goto out;
	json_object_object_add(b, "profiles", ps);
	for (size_t i = 0; i < ss->ss_n_profiles; i++) {
		json_object *p = NULL;

		if ((r = scan_profile(ss, &c, view, ss->ss_profiles[i], &p, err)) < 0)
			goto out;
		json_object_array_add(ps, p);
	}
	*block = b;
	b = NULL;
	r = ss->ss_floor >= 0 ? scan_floor(ss, ps, err) : 0;
out:
	rmdir(view);
	json_object_put(b);
	return r;
}

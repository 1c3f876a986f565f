/* render: template substitution on a libxml2 tree. */
#include "render.h"

#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RENDER_KEY_MAX 64

struct render_ctx {
	const char *rc_name;
	const struct render_var *rc_vars;
	size_t rc_n;
	struct dock_err *rc_err;
};

static const char *render_lookup(const struct render_ctx *rc, const char *key, size_t len)
{
	for (size_t i = 0; i < rc->rc_n; i++)
		if (strlen(rc->rc_vars[i].rv_key) == len &&
		    memcmp(rc->rc_vars[i].rv_key, key, len) == 0)
			return rc->rc_vars[i].rv_value ? rc->rc_vars[i].rv_value : "";
	return NULL;
}

/* Append n bytes of src to the growing buffer *out (len used, cap size). */
static int render_append(char **out, size_t *len, size_t *cap, const char *src, size_t n)
{
	if (*len + n + 1 > *cap) {
		char *nb = realloc(*out, *len + n + 1);
		if (nb == NULL)
			return -ENOMEM;
		*out = nb;
		*cap = *len + n + 1;
	}
	memcpy(*out + *len, src, n);
	*len += n;
	return 0;
}

/* Expand {{key}} in s; returns malloc'd text or NULL with the error set. */
static char *render_expand(const struct render_ctx *rc, const char *s)
{
	size_t cap = strlen(s) + 1, len = 0;
	char *out = malloc(cap);
	const char *p = s;

	if (out == NULL)
		goto oom;
	while (*p != '\0') {
		const char *open = strstr(p, "{{"), *close, *val;
		size_t lit = open ? (size_t)(open - p) : strlen(p);

		if (render_append(&out, &len, &cap, p, lit) < 0)
			goto oom;
		if (open == NULL)
			break;
		close = strstr(open + 2, "}}");
		if (close == NULL || close - open - 2 > RENDER_KEY_MAX) {
			err_set(rc->rc_err, 500, EINVAL,
				"template %s: unterminated {{ in \"%.60s\"", rc->rc_name, s);
			free(out);
			return NULL;
		}
		val = render_lookup(rc, open + 2, (size_t)(close - open - 2));
		if (val == NULL) {
			err_set(rc->rc_err, 500, EINVAL, "template %s: unknown variable {{%.*s}}",
				rc->rc_name, (int)(close - open - 2), open + 2);
			free(out);
			return NULL;
		}
		if (render_append(&out, &len, &cap, val, strlen(val)) < 0)
			goto oom;
		p = close + 2;
	}
	out[len] = '\0';
	return out;
oom:
	free(out);
	err_set(rc->rc_err, 500, ENOMEM, "template %s: out of memory", rc->rc_name);
	return NULL;
}

/* Replace the content of a text node (or an attribute's text child). */
static int render_text(const struct render_ctx *rc, xmlNodePtr text)
{
	char *v;

	if (text->content == NULL || strstr((const char *)text->content, "{{") == NULL)
		return 0;
	v = render_expand(rc, (const char *)text->content);
	if (v == NULL)
		return -EINVAL;
	/* Text nodes hold characters, not markup: the serializer escapes them. */
	xmlNodeSetContentLen(text, NULL, 0);
	xmlNodeAddContent(text, (const xmlChar *)v);
	free(v);
	return 0;
}

static int render_elem(const struct render_ctx *rc, xmlNodePtr el);
static void render_drop(xmlNodePtr el);
static int render_each(const struct render_ctx *rc, xmlNodePtr el, const char *key);

static int render_node(const struct render_ctx *rc, xmlNodePtr node)
{
	xmlNodePtr child, next;

	for (child = node->children; child != NULL; child = next) {
		next = child->next;
		if (child->type == XML_TEXT_NODE || child->type == XML_CDATA_SECTION_NODE) {
			if (render_text(rc, child) < 0)
				return -EINVAL;
			continue;
		}
		if (child->type != XML_ELEMENT_NODE)
			continue;
		xmlChar *cond = xmlGetProp(child, (const xmlChar *)"isc-if");
		if (cond != NULL) {
			const char *v =
				render_lookup(rc, (const char *)cond, strlen((const char *)cond));
			int keep = v != NULL && v[0] != '\0';
			if (v == NULL)
				err_set(rc->rc_err, 500, EINVAL,
					"template %s: unknown variable in isc-if=\"%s\"",
					rc->rc_name, (const char *)cond);
			xmlFree(cond);
			if (v == NULL)
				return -EINVAL;
			xmlUnsetProp(child, (const xmlChar *)"isc-if");
			if (!keep) {
				render_drop(child);
				continue;
			}
		}
		xmlChar *each = xmlGetProp(child, (const xmlChar *)"isc-each");
		if (each != NULL) {
			int r = render_each(rc, child, (const char *)each);

			xmlFree(each);
			if (r < 0)
				return -EINVAL;
			continue;
		}
		if (render_elem(rc, child) < 0)
			return -EINVAL;
	}
	return 0;
}

/* An element's attributes, then its children. */
static int render_elem(const struct render_ctx *rc, xmlNodePtr el)
{
	for (xmlAttrPtr a = el->properties; a != NULL; a = a->next)
		for (xmlNodePtr t = a->children; t != NULL; t = t->next)
			if (t->type == XML_TEXT_NODE && render_text(rc, t) < 0)
				return -EINVAL;
	return render_node(rc, el);
}

/* Unlink and free el with the blank text before it. */
static void render_drop(xmlNodePtr el)
{
	if (el->prev != NULL && xmlIsBlankNode(el->prev)) {
		xmlNodePtr blank = el->prev;
		xmlUnlinkNode(blank);
		xmlFreeNode(blank);
	}
	xmlUnlinkNode(el);
	xmlFreeNode(el);
}

/* A copy in place: the namespace its parent declares instead of its own
 * declaration, and after it the blank text that was before el (blank). */
static void render_each_tidy(xmlNodePtr el, xmlNodePtr copy, xmlNodePtr blank)
{
	xmlNsPtr ns = copy->nsDef != NULL && el->parent != NULL
		? xmlSearchNsByHref(el->doc, el->parent, copy->nsDef->href)
		: NULL;

	if (ns != NULL && copy->nsDef->next == NULL) {
		xmlFreeNsList(copy->nsDef);
		copy->nsDef = NULL;
		copy->ns = ns;
	}
	if (blank != NULL) {
		xmlNodePtr b = xmlCopyNode(blank, 1);

		if (b != NULL && xmlAddPrevSibling(el, b) == NULL)
			xmlFreeNode(b);
	}
}

/* isc-each="key": el once per line of key's value (none when it is
 * empty), {{key}} in each copy that line. */
static int render_each(const struct render_ctx *rc, xmlNodePtr el, const char *key)
{
	const char *v = render_lookup(rc, key, strlen(key)), *line, *nl;
	struct render_var vars[RENDER_MAX_VARS];
	struct render_ctx one = *rc;
	xmlNodePtr blank = el->prev != NULL && xmlIsBlankNode(el->prev) ? el->prev : NULL;
	char *text = NULL;
	int r = 0;

	if (v == NULL || rc->rc_n > RENDER_MAX_VARS)
		return err_set(rc->rc_err, 500, EINVAL,
			       "template %s: unknown variable in isc-each=\"%s\"", rc->rc_name,
			       key);
	xmlUnsetProp(el, (const xmlChar *)"isc-each");
	memcpy(vars, rc->rc_vars, rc->rc_n * sizeof(vars[0]));
	one.rc_vars = vars;
	for (line = v; r == 0 && *line != '\0'; line = *nl != '\0' ? nl + 1 : nl) {
		xmlNodePtr copy;

		nl = strchr(line, '\n');
		if (nl == NULL)
			nl = line + strlen(line);
		if (nl == line)
			continue;
		free(text);
		text = strndup(line, (size_t)(nl - line));
		copy = text != NULL ? xmlCopyNode(el, 1) : NULL;
		if (copy == NULL) {
			r = err_set(rc->rc_err, 500, ENOMEM, "template %s: out of memory",
				    rc->rc_name);
			break;
		}
		for (size_t i = 0; i < rc->rc_n; i++)
			if (strcmp(vars[i].rv_key, key) == 0)
				vars[i].rv_value = text;
		r = render_elem(&one, copy);
		if (xmlAddPrevSibling(el, copy) == NULL) {
			xmlFreeNode(copy);
			r = r < 0 ? r : -ENOMEM;
			break;
		}
		render_each_tidy(el, copy, blank);
	}
	free(text);
	render_drop(el);
	return r;
}

int render_buf(const char *name, const char *tmpl, size_t len, const struct render_var *vars,
	       size_t n_vars, char **out, struct dock_err *err)
{
	struct render_ctx rc = { name, vars, n_vars, err };
	xmlDocPtr doc;
	xmlChar *mem = NULL;
	int size = 0;

	if (len > RENDER_MAX_BYTES || n_vars > RENDER_MAX_VARS)
		return err_set(err, 500, E2BIG, "template %s: larger than the renderer's limits",
			       name);
	/* No network, no entity expansion, no DTD loading: templates are data. */
	doc = xmlReadMemory(tmpl, (int)len, name, NULL,
			    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (doc == NULL || xmlDocGetRootElement(doc) == NULL) {
		const xmlError *xe = xmlGetLastError();
		xmlFreeDoc(doc);
		return err_set(err, 500, EINVAL, "template %s: not well-formed XML%s%s", name,
			       xe && xe->message ? ": " : "", xe && xe->message ? xe->message : "");
	}
	if (doc->intSubset != NULL) {
		xmlFreeDoc(doc);
		return err_set(err, 500, EINVAL, "template %s: DTDs are not allowed", name);
	}
	if (render_node(&rc, (xmlNodePtr)doc) < 0) {
		xmlFreeDoc(doc);
		return -EINVAL;
	}
	xmlNodePtr root = xmlDocGetRootElement(doc);
	xmlBufferPtr buf = xmlBufferCreate();
	if (buf == NULL || xmlNodeDump(buf, doc, root, 0, 0) < 0) {
		xmlBufferFree(buf);
		xmlFreeDoc(doc);
		return err_set(err, 500, ENOMEM, "template %s: cannot serialise", name);
	}
	size = xmlBufferLength(buf);
	mem = (xmlChar *)malloc((size_t)size + 2);
	if (mem == NULL) {
		xmlBufferFree(buf);
		xmlFreeDoc(doc);
		return err_set(err, 500, ENOMEM, "template %s: out of memory", name);
	}
	memcpy(mem, xmlBufferContent(buf), (size_t)size);
	mem[size] = '\n';
	mem[size + 1] = '\0';
	xmlBufferFree(buf);
	xmlFreeDoc(doc);
	*out = (char *)mem;
	return 0;
}

int render_file(const char *path, const struct render_var *vars, size_t n_vars, char **out,
		struct dock_err *err)
{
	char *tmpl;
	size_t len = 0;
	int r;

	r = file_read(path, RENDER_MAX_BYTES, &tmpl, &len);
	if (r < 0)
		return err_set(err, 500, -r, "template %s: %s", path, strerror(-r));
	r = render_buf(path, tmpl, len, vars, n_vars, out, err);
	free(tmpl);
	return r;
}

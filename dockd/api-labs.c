/* api-labs: the labs' routes (lab-apply.h): the list, an up (or its plan
 * only: validate) from the file's bytes in the body, a lab's status, down.
 * The file's name comes in the query (?file=), for messages only: the dock
 * never opens it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api-int.h"
#include "lab-apply.h"

int api_labs_list(const struct api_call *c)
{
	*c->ac_out = lab_list_json();
	return 0;
}

static const char *api_lab_query(const struct api_call *c, const char *key)
{
	return c->ac_conn ? MHD_lookup_connection_value(c->ac_conn, MHD_GET_ARGUMENT_KIND, key)
			  : NULL;
}

int api_lab_up(const struct api_call *c)
{
	struct lab_up_opts o = { .lu_dry = c->ac_id == API_LABS_VALIDATE };
	const char *file = api_lab_query(c, "file"), *yes = api_lab_query(c, "yes"),
		   *par = api_lab_query(c, "parallel");
	struct json_object *v;
	int r;

	o.lu_yes = yes != NULL && strcmp(yes, "1") == 0;
	if (par != NULL) {
		char *end = NULL;
		unsigned long n = strtoul(par, &end, 10);
		if (end == par || *end != '\0' || n < 1 || n > 64)
			return err_set(c->ac_err, 400, EINVAL, "parallel must be from 1 to 64");
		o.lu_parallel = (unsigned)n;
	}
	r = lab_up(file, api_body(c->ac_req), c->ac_req->ar_len, &o, c->ac_out, c->ac_detail,
		   c->ac_err);
	if (*c->ac_detail != NULL && json_object_object_get_ex(*c->ac_detail, "lab", &v))
		snprintf(c->ac_subject, c->ac_subject_size, "%s", json_object_get_string(v));
	if (r == 0 && *c->ac_out != NULL && *c->ac_detail != NULL &&
	    json_object_object_get_ex(*c->ac_out, "failed", &v))
		json_object_object_add(*c->ac_detail, "failed", json_object_get(v));
	return r;
}

int api_lab_status(const struct api_call *c)
{
	return lab_status_json(c->ac_name, c->ac_out, c->ac_err);
}

int api_lab_down(const struct api_call *c)
{
	return lab_down(c->ac_name, c->ac_out, c->ac_detail, c->ac_err);
}

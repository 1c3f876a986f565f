#!/bin/bash
# End-to-end test of the API as a program meets it, inside
# tests/lib/sandbox.sh, with curl on the socket: every route of
# docs/openapi.yaml answers (tests/api/openapi.py live); error bodies carry
# a code; Allow on 405; Location on 201; the audit listing's cursor; and a
# create, a stop and a start as operations (Prefer: respond-async: 202,
# Location, wait, the node made; a running one not cancellable).
set -u
SRC=${ISC_SRC:?}
. "$SRC/tests/lib/tap.sh"
plan_start "api: OpenAPI routes, error codes, Allow, Location, audit cursor, operations"

. "$SRC/tests/e2e/lib.sh"
mkdir -p "$W"
dock_setup "" micro
trap 'dock_finish; exit $?' EXIT
dock_start || t_fail "the dock starts"

# api [CURL-ARGS...] PATH: the answer's body; headers in $W/h, status in $W/s
api() {
	local path=${*: -1}
	curl -sS --unix-socket "$ISC_SOCKET" -D "$W/h" -o "$W/b" -w '%{http_code}' \
		"${@:1:$#-1}" "http://x$path" >"$W/s"
	cat "$W/b"
}
status() { cat "$W/s"; }
header() { sed -n "s/^$1: *//Ip" "$W/h" | tr -d '\r'; }

t_ok "every documented route answers for its method" \
	python3 "$SRC/tests/api/openapi.py" live "$SRC/docs/openapi.yaml" "$ISC_SOCKET"

# --- errors: a code beside the text
t_is "404 of a node: code" "$(api /v1/nodes/ghost | jq -r .code)" node_not_found
t_is "... the text as before" "$(jq -r .error "$W/b")" 'node "ghost" not found'
t_is "400: code" "$(api -X POST -d '{"name":"x"}' /v1/nodes | jq -r .code)" bad_request
t_is "404 of a path: code" "$(api /v1/nothing | jq -r .code)" no_route
t_is "405: status" "$(api -X PUT /v1/nodes >/dev/null; status)" 405
t_is "405: code" "$(jq -r .code "$W/b")" method_not_allowed
t_is "405: Allow names the path's methods" "$(header Allow)" "GET, POST"
api -X PATCH /v1/nodes/x/start >/dev/null
t_is "405 on a node's action: Allow" "$(header Allow)" POST

# --- a create as an operation
api -X POST -H 'Prefer: respond-async' -d '{"name":"o1","image":"micro","memory_mib":160}' \
	/v1/nodes >"$W/op.json"
t_is "Prefer: respond-async create: 202" "$(status)" 202
op=$(jq -r .id "$W/op.json")
t_is "... Location is the operation" "$(header Location)" "/v1/operations/$op"
t_is "... Preference-Applied" "$(header Preference-Applied)" respond-async
t_is "... its view: running create of o1" "$(jq -r '[.op, .node, .state] | join(" ")' "$W/op.json")" \
	"create o1 running"
t_is "a running operation cannot be cancelled: 409" \
	"$(api -X DELETE "/v1/operations/$op" | jq -r .code; status)" "not_cancellable
409"
t_is "wait?timeout=0 answers at once" "$(api "/v1/operations/$op/wait?timeout=0" | jq -r .id)" "$op"
api "/v1/operations/$op/wait?timeout=120" >"$W/done.json"
t_is "wait: done, 201" "$(jq -r '[.state, .status] | join(" ")' "$W/done.json")" "done 201"
t_is "... the result is the node" "$(jq -r .result.name "$W/done.json")" o1
t_is "the node exists" "$(api /v1/nodes/o1 | jq -r .name)" o1
t_is "GET /v1/operations/ID: done" "$(api "/v1/operations/$op" | jq -r .state)" "done"
t_is "the operations list holds it" "$(api /v1/operations | jq -r '.[-1].id')" "$op"
api -X POST -H 'Prefer: respond-async' -d '{"name":"o1","image":"micro"}' /v1/nodes >"$W/op2.json"
op2=$(jq -r .id "$W/op2.json")
api "/v1/operations/$op2/wait?timeout=60" >"$W/done2.json"
t_is "a failed operation: state, status, error code" \
	"$(jq -r '[.state, .status, .error.code] | join(" ")' "$W/done2.json")" "failed 409 already_exists"
t_is "an ended operation is forgotten" "$(api -X DELETE "/v1/operations/$op2" | jq -r .removed)" "$op2"
t_is "... then 404 operation_not_found" "$(api "/v1/operations/$op2" | jq -r .code)" operation_not_found

# --- stop and start as operations; without the header, as before
api -X POST -H 'Prefer: respond-async' /v1/nodes/o1/stop >"$W/stop.json"
t_is "async stop: 202" "$(status)" 202
t_is "... waited: done" "$(api "/v1/operations/$(jq -r .id "$W/stop.json")/wait?timeout=60" |
	jq -r .state)" "done"
api -X POST /v1/nodes/o1/start >"$W/start.json"
t_is "a start without the header answers when done: 200, the node" \
	"$(status) $(jq -r .name "$W/start.json")" "200 o1"
t_is "destroy of the running node: 409 node_running" \
	"$(api -X DELETE /v1/nodes/o1 | jq -r .code; status)" "node_running
409"

# --- Location on 201
api -X POST -d '{"name":"o2","image":"micro","start":false}' /v1/nodes >/dev/null
t_is "a create: 201" "$(status)" 201
t_is "... Location: the node" "$(header Location)" /v1/nodes/o2

# --- the audit listing: cursor, counts
total=$(api /v1/audit | jq length)
t_is "X-Audit-Matched is the count" "$(header X-Audit-Matched)" "$total"
t_is "no cut: no X-Audit-Truncated" "$(header X-Audit-Truncated)" ""
first=$(api '/v1/audit?limit=3' | jq -c '[.[].seq]')
next=$(header X-Next-Cursor)
t_is "limit=3: three records" "$(echo "$first" | jq length)" 3
t_is "... X-Next-Cursor: the last one's seq" "$next" "$(echo "$first" | jq '.[-1]')"
t_ok "... Link rel=next" bash -c "grep -qi '^Link: </v1/audit?after=$next&limit=3>; rel=\"next\"' '$W/h'"
t_is "after=cursor: the next record" "$(api "/v1/audit?after=$next&limit=3" | jq '.[0].seq')" \
	"$((next + 1))"
last=$(api /v1/audit | jq '.[-1].seq')
t_is "the last page: one record, no X-Next-Cursor" \
	"$(api "/v1/audit?after=$((last - 1))&limit=3" | jq length) $(header X-Next-Cursor)" "1 "
t_is "limit=0: 400" "$(api '/v1/audit?limit=0' | jq -r .code)" bad_request
t_is "iscadm audit pages through all of it" "$("$A" audit --json | jq length)" \
	"$(api /v1/audit | jq length)"

api -X DELETE '/v1/nodes/o1?force=1' >/dev/null
t_is "destroy --force o1" "$(status)" 200
api -X DELETE /v1/nodes/o2 >/dev/null
t_is "destroy o2" "$(status)" 200

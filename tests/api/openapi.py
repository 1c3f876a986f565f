#!/usr/bin/env python3
"""docs/openapi.yaml against the dock, as TAP.

  openapi.py static SPEC API_C API_ERR_H
      the document's structure (OpenAPI 3: the required members, every
      $ref resolves, every path parameter declared); the route table of
      dockd/api.c and the document name the same method + path pairs and
      the same audit actions (x-isc-audit); its ErrorCode enum is
      API_ERR_CODES of dockd/api-err.h.
  openapi.py live SPEC SOCKET
      every documented route answers on a running dock: for its method, not
      a 404 "no_route" nor a 405 (path parameters name nothing that exists:
      nothing is destroyed; bodies are empty or invalid: nothing is made).

Reads YAML with python3-yaml (Debian's)."""
import http.client
import json
import re
import socket
import sys

import yaml

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
n = 0
failed = 0


def t(ok, desc, *diag):
    global n, failed
    n += 1
    print(("ok %d - %s" if ok else "not ok %d - %s") % (n, desc))
    if not ok:
        failed += 1
        for d in diag:
            for line in str(d).splitlines():
                print("# " + line)


def routes_of(api_c):
    """(METHOD, path with {param}, audit action or None) of the C table."""
    src = open(api_c).read()
    table = src[src.index("api_routes[] = {"):]
    table = table[:table.index("};")]
    out = []
    for m in re.finditer(r'\{\s*"([A-Z]+)",\s*"([^"]+)",\s*(API_[A-Z_]+),\s*[a-z_A-Z]+,\s*'
                         r'(NULL|"[^"]*")\s*\}', table):
        method, pattern, _, audit = m.groups()
        out.append((method, pattern, None if audit == "NULL" else audit.strip('"')))
    return out


def doc_pattern(path):
    return re.sub(r"\{[^}]+\}", "*", path)


def resolve(doc, ref):
    if not ref.startswith("#/"):
        return None
    node = doc
    for part in ref[2:].split("/"):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def refs(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                yield v
            else:
                yield from refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from refs(v)


def static(spec, api_c, api_err_h):
    doc = yaml.safe_load(open(spec))
    t(str(doc.get("openapi", "")).startswith("3."), "openapi: 3.x")
    info = doc.get("info", {})
    t(isinstance(info, dict) and "title" in info and "version" in info, "info has title and version")
    paths = doc.get("paths")
    t(isinstance(paths, dict) and paths, "paths is a non-empty map")
    bad = [r for r in refs(doc) if resolve(doc, r) is None]
    t(not bad, "every $ref resolves", *bad)
    problems = []
    ops = {}
    for path, item in paths.items():
        if not path.startswith("/"):
            problems.append("%s: does not start with /" % path)
        declared = {p["name"] for p in item.get("parameters", []) if "$ref" not in p}
        declared |= {resolve(doc, p["$ref"])["name"] for p in item.get("parameters", [])
                     if "$ref" in p and p.get("$ref") and resolve(doc, p["$ref"])}
        for method, op in item.items():
            if method not in METHODS:
                continue
            resp = op.get("responses")
            if not isinstance(resp, dict) or not resp:
                problems.append("%s %s: no responses" % (method, path))
            for code, r in (resp or {}).items():
                r = resolve(doc, r["$ref"]) if "$ref" in r else r
                if not re.fullmatch(r"[1-5][0-9][0-9]|default", str(code)):
                    problems.append("%s %s: response %s" % (method, path, code))
                elif not r or "description" not in r:
                    problems.append("%s %s %s: no description" % (method, path, code))
                elif int(code) >= 400 and "Error" not in json.dumps(r):
                    problems.append("%s %s %s: not an Error body" % (method, path, code))
            opdecl = set(declared)
            for p in op.get("parameters", []):
                p = resolve(doc, p["$ref"]) if "$ref" in p else p
                opdecl.add(p["name"])
            for name in re.findall(r"\{([^}]+)\}", path):
                if name not in opdecl:
                    problems.append("%s %s: path parameter %s not declared" % (method, path, name))
            ops[(method.upper(), doc_pattern(path))] = op.get("x-isc-audit")
    t(not problems, "every operation has described responses, errors are Error, path "
      "parameters declared", *problems)
    table = routes_of(api_c)
    t(len(table) >= 20, "the route table of %s read (%d routes)" % (api_c, len(table)))
    missing = ["%s %s" % (m, p) for m, p, _ in table if (m, p) not in ops]
    t(not missing, "every route of the table is documented", *missing)
    extra = ["%s %s" % k for k in ops if k not in {(m, p) for m, p, _ in table}]
    t(not extra, "every documented route is in the table", *extra)
    audit = ["%s %s: table %s, document %s" % (m, p, a, ops.get((m, p)))
             for m, p, a in table if (m, p) in ops and ops[(m, p)] != a]
    t(not audit, "x-isc-audit is the table's audit action", *audit)
    h = open(api_err_h).read()
    m = re.search(r"#define API_ERR_CODES((?:.|\n)*?)\n\n", h)
    codes = set(" ".join(re.findall(r'"([^"]*)"', m.group(1))).split()) if m else set()
    enum = set(doc["components"]["schemas"]["ErrorCode"]["enum"])
    t(codes and codes == enum, "ErrorCode lists API_ERR_CODES exactly",
      "only in the header: %s" % sorted(codes - enum), "only in the document: %s" % sorted(enum - codes))


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=30)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(self.unix_path)


def live(spec, sock):
    doc = yaml.safe_load(open(spec))
    fill = {"name": "nosuchnode", "image": "nosuchimage", "id": "nosuchnode-1"}
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method not in METHODS:
                continue
            url = re.sub(r"\{([^}]+)\}", lambda m: fill.get(m.group(1), "x"), path)
            if url.endswith("/wait"):
                url += "?timeout=0"
            body = "{}" if method == "post" else None
            c = UnixHTTP(sock)
            try:
                c.request(method.upper(), url, body=body,
                          headers={"Content-Type": "application/json"} if body else {})
                r = c.getresponse()
                status, text = r.status, r.read().decode("utf-8", "replace")
            except OSError as e:
                status, text = 0, str(e)
            finally:
                c.close()
            code = None
            try:
                code = json.loads(text).get("code") if text.startswith("{") else None
            except ValueError:
                pass
            t(status not in (0, 405) and code not in ("no_route", "method_not_allowed"),
              "%s %s answers (%d%s)" % (method.upper(), url, status, " " + code if code else ""),
              text[:300])


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "static":
        static(*sys.argv[2:])
    elif len(sys.argv) == 4 and sys.argv[1] == "live":
        live(*sys.argv[2:])
    else:
        sys.exit(__doc__)
    print("1..%d" % n)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Drive a POP3 session with Python's poplib and print what happened as JSON.

usage: pop.py plain|stls|ssl HOST PORT LOGIN PASSWORD ACTION...

ACTION is one of: capa, login (USER/PASS), auth (AUTH PLAIN with an initial
response), stat, list, uidl, retr:N, top:N:LINES, dele:N, rset, noop, quit,
abort (close the socket without QUIT). Each action gives one result: the
response line, a list of lines, or base64 of a message; a server -ERR gives
the -ERR line. TLS is not verified (the test server's certificate is
self-signed).
"""
import base64
import json
import poplib
import ssl
import sys

mode, host, port, login, password = sys.argv[1:6]
actions = sys.argv[6:]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE

if mode == "ssl":
    p = poplib.POP3_SSL(host, int(port), context=ctx, timeout=10)
else:
    p = poplib.POP3(host, int(port), timeout=10)
out = {"welcome": p.getwelcome().decode(), "results": []}
if mode == "stls":
    out["stls"] = p.stls(context=ctx).decode()


def message(lines):
    return base64.b64encode(b"".join(l + b"\r\n" for l in lines)).decode()


for a in actions:
    name, *args = a.split(":")
    try:
        if name == "capa":
            r = sorted(k + ("" if not v else " " + " ".join(v)) for k, v in p.capa().items())
        elif name == "login":
            p.user(login)
            r = p.pass_(password).decode()
        elif name == "auth":
            ir = base64.b64encode(b"\0" + login.encode() + b"\0" + password.encode()).decode()
            r = p._shortcmd("AUTH PLAIN " + ir).decode()
        elif name == "stat":
            r = list(p.stat())
        elif name == "list":
            r = [l.decode() for l in p.list()[1]]
        elif name == "uidl":
            r = [l.decode() for l in p.uidl()[1]]
        elif name == "retr":
            r = message(p.retr(int(args[0]))[1])
        elif name == "top":
            r = message(p.top(int(args[0]), int(args[1]))[1])
        elif name == "dele":
            r = p.dele(int(args[0])).decode()
        elif name == "rset":
            r = p.rset().decode()
        elif name == "noop":
            r = p.noop().decode()
        elif name == "quit":
            r = p.quit().decode()
        elif name == "abort":
            p.sock.close()
            r = "aborted"
        else:
            raise SystemExit("unknown action " + a)
    except poplib.error_proto as e:
        r = e.args[0].decode(errors="replace") if isinstance(e.args[0], bytes) else "-ERR " + str(e.args[0])
    out["results"].append(r)

print(json.dumps(out, ensure_ascii=False))

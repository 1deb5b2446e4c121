#!/usr/bin/env python3
"""Send the message on stdin with Python's smtplib and print the replies as JSON.

usage: send.py smtp|smtp+starttls|lmtp HOST PORT FROM RCPT...

smtp: smtplib.SMTP.sendmail (one reply for the whole transaction);
smtp+starttls: the same after STARTTLS (the certificate is not verified).
lmtp: smtplib.LMTP with the transaction driven step by step, because LMTP
(RFC 2033 section 4.2) sends one reply per accepted recipient after the data.
SMTPUTF8 is requested when any address is not ASCII.
"""
import json
import re
import smtplib
import ssl
import sys

proto, host, port, sender = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
rcpts = sys.argv[5:]
msg = sys.stdin.buffer.read()
opts = ["SMTPUTF8"] if not all(a.isascii() for a in [sender] + rcpts) else []
out = {}

if proto in ("smtp", "smtp+starttls"):
    with smtplib.SMTP(host, port) as s:
        if proto == "smtp+starttls":
            s.starttls(context=ssl._create_unverified_context())
            out["tls"] = s.sock.version()
        try:
            refused = s.sendmail(sender, rcpts, msg, mail_options=opts)
            out["refused"] = {k: [v[0], v[1].decode()] for k, v in refused.items()}
            out["data"] = [250, "ok"]
        except smtplib.SMTPRecipientsRefused as e:
            out["refused"] = {k: [v[0], v[1].decode()] for k, v in e.recipients.items()}
        except (smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as e:
            out["data"] = [e.smtp_code, e.smtp_error.decode()]
else:
    s = smtplib.LMTP(host, port)
    s.ehlo()
    code, text = s.mail(sender, opts)
    out["mail"] = [code, text.decode()]
    accepted = []
    out["rcpt"] = {}
    for r in rcpts:
        code, text = s.rcpt(r)
        out["rcpt"][r] = [code, text.decode()]
        if code == 250:
            accepted.append(r)
    out["data"] = {}
    if accepted:
        s.putcmd("data")
        code, text = s.getreply()
        if code != 354:
            out["data"]["*"] = [code, text.decode()]
        else:
            q = re.sub(rb"(?m)^\.", b"..", re.sub(rb"(?:\r\n|\n|\r(?!\n))", b"\r\n", msg))
            if not q.endswith(b"\r\n"):
                q += b"\r\n"
            s.send(q + b".\r\n")
            for r in accepted:
                code, text = s.getreply()
                out["data"][r] = [code, text.decode()]
    s.quit()

print(json.dumps(out, ensure_ascii=False))

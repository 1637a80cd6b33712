"""A real SMTP server for the email tests (aiosmtpd), on a loopback port.

Usage: smtp_server.py PORT FOLDER USER PASSWORD [ANSWERS]

AUTH (PLAIN/LOGIN, without TLS: loopback only) is required and must match USER/PASSWORD.
ANSWERS is a comma-separated script of answers to the first DATA commands (e.g. `451,550`):
each is answered with that code instead of accepting the message; later messages are
accepted. Every DATA (accepted or not) is recorded as FOLDER/NNN.json with the envelope, the
login that was used, the answer given and the raw message, so the tests read what the server
saw. Prints `ready` once it listens; runs until killed.
"""

import asyncio
import json
import os
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

TEXTS = {
    "421": "421 4.3.2 Service not available, try later",
    "450": "450 4.2.1 Mailbox busy, try later",
    "451": "451 4.3.0 Temporary local problem, try later",
    "550": "550 5.7.1 Message refused by policy",
    "554": "554 5.6.0 Message content rejected",
}


class Recorder:
    def __init__(self, folder, answers):
        self.folder = folder
        self.answers = answers
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        answer = self.answers.pop(0) if self.answers else "250"
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "login": login,
            "authenticated": bool(session.authenticated),
            "answer": answer,
            "data": envelope.content.decode("utf-8", "replace"),
        }
        path = os.path.join(self.folder, "%03d.json" % self.count)
        with open(path + ".tmp", "w") as f:
            json.dump(record, f)
        os.replace(path + ".tmp", path)
        if answer == "250":
            return "250 2.0.0 OK queued"
        return TEXTS.get(answer, answer + " scripted answer")


def main():
    port, folder, user, password = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    answers = [a for a in (sys.argv[5] if len(sys.argv) > 5 else "").split(",") if a]

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == user
            and auth_data.password.decode() == password
        )
        # handled=False: aiosmtpd answers 535 itself (True would leave the client waiting).
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    controller = Controller(
        Recorder(folder, answers),
        hostname="127.0.0.1",
        port=int(port),
        authenticator=authenticator,
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    print("ready", flush=True)
    try:
        asyncio.run(asyncio.Event().wait())
    finally:
        controller.stop()


if __name__ == "__main__":
    main()

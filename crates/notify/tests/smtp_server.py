"""A test SMTP server (aiosmtpd) on 127.0.0.1 that stores each mail as a JSON file.

usage: smtp_server.py PORT OUTDIR MODE [CERT KEY]
MODE: plain | starttls-auth | implicit-auth   (user "mailer", password "s3cret")
Prints READY when it accepts connections; stops when its standard input closes.
"""
import json
import os
import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

port, outdir, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
cert = sys.argv[4] if len(sys.argv) > 5 else None
key = sys.argv[5] if len(sys.argv) > 5 else None


class Store:
    async def handle_DATA(self, server, session, envelope):
        login = None
        if isinstance(session.auth_data, LoginPassword):
            login = session.auth_data.login.decode()
        record = {
            "from": envelope.mail_from,
            "to": envelope.rcpt_tos,
            "data": envelope.content.decode("utf-8", "replace"),
            "tls": session.ssl is not None
            or server.transport.get_extra_info("ssl_object") is not None,
            "authenticated": bool(session.authenticated),
            "login": login,
        }
        name = os.path.join(outdir, "%d.json" % time.time_ns())
        with open(name + ".tmp", "w") as f:
            json.dump(record, f)
        os.rename(name + ".tmp", name)
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == b"mailer"
        and auth_data.password == b"s3cret"
    )
    return AuthResult(success=ok, handled=False, auth_data=auth_data)


context = None
if cert:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

options = {"hostname": "127.0.0.1", "port": port}
if mode == "starttls-auth":
    options.update(
        tls_context=context,
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
    )
elif mode == "implicit-auth":
    options.update(
        ssl_context=context,
        authenticator=authenticator,
        auth_required=True,
        auth_require_tls=False,
    )
elif mode != "plain":
    sys.exit("unknown mode " + mode)


class QuietController(Controller):
    # The readiness probe of aiosmtpd would do a TLS handshake with the server's own
    # context; probing the TCP port is enough here.
    def _trigger_server(self):
        import socket

        with socket.create_connection((self.hostname, self.port), 1.0):
            pass


controller = QuietController(Store(), **options)
controller.start()
print("READY", flush=True)
sys.stdin.read()
controller.stop()

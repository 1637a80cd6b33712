"""A stateful fake of the Entra ID token endpoint over HTTPS, for the federated-credential test.

POST /{tenant}/oauth2/v2.0/token with a client-credentials grant whose client_assertion is the
expected GitHub OIDC token gets an access token Azurite's `--oauth basic` accepts (a JWT with the
storage audience and the tenant's issuer; Azurite checks claims, not the signature). Anything
else is refused as Entra refuses it (400/401 with an error body). Every request's form is
printed as one JSON line, the log the test reads.

usage: entra_fake.py PORT CERT KEY TENANT CLIENT_ID EXPECTED_ASSERTION
"""

import base64
import json
import ssl
import sys
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer

PORT, CERT, KEY, TENANT, CLIENT_ID, ASSERTION = sys.argv[1:7]


def b64(obj):
    raw = json.dumps(obj).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def access_token():
    now = int(time.time())
    claims = {
        "aud": "https://storage.azure.com",
        "iss": f"https://sts.windows.net/{TENANT}/",
        "iat": now - 60,
        "nbf": now - 60,
        "exp": now + 3600,
        "appid": CLIENT_ID,
        "tid": TENANT,
    }
    return f"{b64({'alg': 'RS256', 'typ': 'JWT'})}.{b64(claims)}.c2ln"


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
        print(json.dumps({"path": self.path, "form": form}), flush=True)
        ok = (
            self.path == f"/{TENANT}/oauth2/v2.0/token"
            and form.get("grant_type") == "client_credentials"
            and form.get("client_id") == CLIENT_ID
            and form.get("client_assertion_type")
            == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
            and form.get("client_assertion") == ASSERTION
            and form.get("scope") == "https://storage.azure.com/.default"
        )
        if ok:
            status, body = 200, {
                "token_type": "Bearer",
                "expires_in": 3600,
                "ext_expires_in": 3600,
                "access_token": access_token(),
            }
        else:
            status, body = 401, {
                "error": "invalid_client",
                "error_description": "AADSTS700213: No matching federated identity record found.",
                "error_codes": [700213],
            }
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


server = HTTPServer(("127.0.0.1", int(PORT)), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(CERT, KEY)
server.socket = context.wrap_socket(server.socket, server_side=True)
print("listening", flush=True)
server.serve_forever()

"""A token-auth registry, as Docker Hub and GHCR behave: the real docker-registry with
``auth: token``, and a small token server of our own that issues its JWTs.

The registry answers ``401`` with ``WWW-Authenticate: Bearer realm=...,service=...,
scope=...``; the client asks the realm for a token (``GET`` with optional Basic auth,
or the OAuth2 ``POST`` that containerd/BuildKit try first) and retries with it. The
policy is the one that matters for a credential helper: anyone may pull
``public/*``; only a known user with the right password may pull or push anything,
``private/*`` included; a wrong password is refused with 401, as Docker Hub does.

The token server checks what it is sent and records each request in ``events``
(method, grant, user, whether the password was right, the scopes asked and granted),
never a password. distribution 2.8 verifies each token's RS256 signature through the
``x5c`` certificate in its header, which must chain to ``rootcertbundle``: here that
bundle is the self-signed certificate itself.
"""

from __future__ import annotations

import base64
import datetime
import json
import secrets as pysecrets
import threading
import time
import urllib.parse
from collections.abc import Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from e2e_servers import Registry

SERVICE = "dct-token-registry"
ISSUER = "dct-token-issuer"
TOKEN_LIFETIME = 300


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer:
    """An in-process token server on ``127.0.0.1:<port>`` (``.realm`` is its URL)."""

    def __init__(self, base: Path, users: Iterable[tuple[str, str]]) -> None:
        self.users: dict[str, str] = dict(users)
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ISSUER)])
        now = datetime.datetime.now(datetime.timezone.utc)
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self._key, hashes.SHA256())
        )
        base.mkdir(parents=True, exist_ok=True)
        self.cert_file = base / "token-cert.pem"
        self.cert_file.write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.realm = f"http://127.0.0.1:{self.port}/token"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add_users(self, users: Iterable[tuple[str, str]]) -> None:
        with self._lock:
            self.users.update(users)

    def events_since(self, mark: int) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.events[mark:])

    def mark(self) -> int:
        with self._lock:
            return len(self.events)

    # ------------------------------------------------------------------ policy

    def grant(self, user: str | None, scopes: Iterable[str]) -> list[dict[str, Any]]:
        """The access a token carries: ``public/*`` pull for all, everything for users."""
        access = []
        for scope in scopes:
            parts = scope.split(":")
            if len(parts) < 3 or parts[0] != "repository":
                continue
            kind, name, actions = parts[0], ":".join(parts[1:-1]), parts[-1].split(",")
            if user is not None:
                allowed = [a for a in actions if a in ("pull", "push", "delete", "*")]
            elif name.startswith("public/"):
                allowed = [a for a in actions if a == "pull"]
            else:
                allowed = []
            access.append({"type": kind, "name": name, "actions": allowed})
        return access

    def token(self, user: str | None, access: list[dict[str, Any]]) -> str:
        der = self._cert.public_bytes(serialization.Encoding.DER)
        header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(der).decode()]}
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "sub": user or "",
            "aud": SERVICE,
            "exp": now + TOKEN_LIFETIME,
            "nbf": now - 10,
            "iat": now,
            "jti": pysecrets.token_hex(8),
            "access": access,
        }
        signing_input = (
            _b64url(json.dumps(header).encode()) + "." + _b64url(json.dumps(claims).encode())
        )
        signature = self._key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + _b64url(signature)

    def _authenticate(self, user: str | None, password: str | None) -> bool:
        with self._lock:
            return user is not None and user in self.users and self.users[user] == password

    def _record(self, event: dict[str, Any]) -> None:
        with self._lock:
            self.events.append(event)

    # ------------------------------------------------------------------ HTTP

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def _reply(self, status: int, body: Mapping[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _issue(
                self, method: str, grant: str, user: str | None, password: str | None, q: dict
            ) -> None:
                if q.get("service", [SERVICE])[0] != SERVICE:
                    self._reply(400, {"errors": [{"code": "DENIED", "message": "service"}]})
                    return
                scopes = [s for value in q.get("scope", []) for s in value.split(" ") if s]
                ok = server._authenticate(user, password) if user is not None else None
                event = {"method": method, "grant": grant, "user": user, "ok": ok}
                event.update(scopes=scopes, granted=[])
                server._record(event)
                if ok is False:
                    self._reply(
                        401,
                        {
                            "errors": [
                                {
                                    "code": "UNAUTHORIZED",
                                    "message": "incorrect username or password",
                                }
                            ]
                        },
                    )
                    return
                access = server.grant(user if ok else None, scopes)
                event["granted"] = access
                token = server.token(user if ok else None, access)
                body = {"token": token, "access_token": token, "expires_in": TOKEN_LIFETIME}
                self._reply(200, body)

            def do_GET(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                if url.path != "/token":
                    self._reply(404, {"errors": [{"code": "NOT_FOUND"}]})
                    return
                query = urllib.parse.parse_qs(url.query)
                user = password = None
                header = self.headers.get("Authorization", "")
                if header.startswith("Basic "):
                    try:
                        user, _, password = (
                            base64.b64decode(header[6:], validate=True).decode().partition(":")
                        )
                    except ValueError:
                        self._reply(400, {"errors": [{"code": "UNAUTHORIZED"}]})
                        return
                self._issue(
                    "GET", "basic" if user is not None else "anonymous", user, password, query
                )

            def do_POST(self) -> None:
                # containerd's OAuth2 form (grant_type=password), which BuildKit tries first.
                if urllib.parse.urlsplit(self.path).path != "/token":
                    self._reply(404, {"errors": [{"code": "NOT_FOUND"}]})
                    return
                length = int(self.headers.get("Content-Length") or 0)
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                grant = form.get("grant_type", [""])[0]
                if grant != "password":
                    # No refresh tokens are issued here, so none can be redeemed.
                    self._reply(400, {"error": "unsupported_grant_type"})
                    return
                user = form.get("username", [None])[0]
                password = form.get("password", [None])[0]
                self._issue("POST", grant, user, password, form)

        return Handler


class TokenRegistry(Registry):
    """The real docker-registry with ``auth: token`` pointing at ``token_server``."""

    def __init__(self, base: Path, ip: str, port: int, token_server: TokenServer) -> None:
        super().__init__(base, ip, port, [])
        self.token_server = token_server

    def _auth(self) -> dict[str, object]:
        return {
            "token": {
                "realm": self.token_server.realm,
                "service": SERVICE,
                "issuer": ISSUER,
                "rootcertbundle": str(self.token_server.cert_file),
            }
        }

    def add_users(self, users: Iterable[tuple[str, str]]) -> None:
        """Users live in the token server, so nothing restarts."""
        self.token_server.add_users(users)

"""A local stand-in for Google's token endpoints that speaks their wire protocol.

One threaded HTTP server on 127.0.0.1 serves the three endpoints google-auth uses:

- ``POST /token``: the OAuth2 JWT-bearer grant of a service-account key (RFC 7523).
  The RS256 assertion is verified with the test key's public half, and its ``iss``,
  ``aud`` (always Google's token URL, wherever the key's ``token_uri`` points),
  ``scope`` and times are checked, as Google does.
- ``POST /v1/token``: STS token exchange (RFC 8693) of a workload identity federation
  subject token, checking the subject token and the ``audience``.
- ``POST /v1/projects/-/serviceAccounts/<email>:generateAccessToken``: IAM
  credentials, checking the STS token it issued and the service account.

Each endpoint can be told to fail: ``refuse`` (the error Google sends: OAuth
``invalid_grant`` or IAM ``PERMISSION_DENIED``), ``hang`` (accept, never answer),
``500``. Every request is counted; every check that failed is recorded in
``rejections`` so a test can say why a grant was refused. Error descriptions carry
:data:`LEAK_SENTINEL` so tests can prove the helper never repeats a response body.
"""

from __future__ import annotations

import base64
import datetime
import json
import secrets
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

SCOPE = "https://www.googleapis.com/auth/cloud-platform"
IAM_SCOPE = "https://www.googleapis.com/auth/iam"
EMAIL = "builder@proj-1.iam.gserviceaccount.com"
#: The audience Google requires in a JWT-bearer assertion, whatever URL it is posted to.
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
#: Put in every error body; must never appear in anything the helper prints.
LEAK_SENTINEL = "SENTINEL-response-body-8c1f"
IAM_PREFIX = "/v1/projects/-/serviceAccounts/"
IAM_SUFFIX = ":generateAccessToken"
ENDPOINTS = ("token", "sts", "iam")
FAILURES = ("refuse", "hang", "500")


class ServiceAccountKey:
    """A freshly generated RSA service-account key, as Google's key JSON and its public half."""

    def __init__(self, token_uri: str, client_email: str = EMAIL):
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_key = private.public_key()
        self.key_id = secrets.token_hex(20)
        self.client_email = client_email
        self.info: dict[str, str] = {
            "type": "service_account",
            "project_id": "proj-1",
            "private_key_id": self.key_id,
            "private_key": private.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode(),
            "client_email": client_email,
            "client_id": "1234567890",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
        }

    def json(self) -> str:
        return json.dumps(self.info)


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


class FakeGoogle:
    """The server. Use as a context manager; ``url`` is ``http://127.0.0.1:<port>``."""

    def __init__(self, *, expires_in: int = 3600) -> None:
        self.expires_in = expires_in
        self.fail: dict[str, str | None] = dict.fromkeys(ENDPOINTS)
        self.calls: dict[str, int] = dict.fromkeys(ENDPOINTS, 0)
        self.rejections: list[str] = []
        self.issued: dict[str, list[str]] = {name: [] for name in ENDPOINTS}
        # Service-account keys the token endpoint trusts: key id -> (email, public key).
        self.keys: dict[str, tuple[str, rsa.RSAPublicKey]] = {}
        # Workload identity federation: what STS and IAM accept.
        self.audience = ""
        self.subject_token = ""
        #: instead of one exact token: the provider's attribute conditions on its claims
        self.subject_claims: dict[str, str] | None = None
        self.service_account = ""
        self.delay = 0.0
        # endpoint -> the exact token to issue (a registry under test must know it in
        # advance, as Google's registries know Google's tokens); else a random one.
        self.issue_as: dict[str, str | None] = dict.fromkeys(ENDPOINTS)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def token_uri(self) -> str:
        return self.url + "/token"

    @property
    def sts_url(self) -> str:
        return self.url + "/v1/token"

    def new_key(self, client_email: str = EMAIL) -> ServiceAccountKey:
        """Generate a key whose ``token_uri`` is this server, and trust it."""
        key = ServiceAccountKey(self.token_uri, client_email)
        self.keys[key.key_id] = (client_email, key.public_key)
        return key

    def expect_federation(self, *, audience: str, subject_token: str, service_account: str) -> None:
        self.audience, self.subject_token, self.service_account = (
            audience,
            subject_token,
            service_account,
        )

    def __enter__(self) -> FakeGoogle:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # --- bookkeeping, called from handler threads ---

    def _count(self, endpoint: str) -> None:
        with self._lock:
            self.calls[endpoint] += 1

    def _reject(self, reason: str) -> None:
        with self._lock:
            self.rejections.append(reason)

    def _issue(self, endpoint: str, prefix: str) -> str:
        token = self.issue_as[endpoint] or f"{prefix}.{secrets.token_urlsafe(24)}"
        with self._lock:
            self.issued[endpoint].append(token)
        return token

    # --- the checks Google makes ---

    def check_jwt_grant(self, form: dict[str, str]) -> str | None:
        """Why this JWT-bearer grant is refused, or None if it is good."""
        if form.get("grant_type") != JWT_BEARER:
            return "grant_type is not jwt-bearer"
        parts = form.get("assertion", "").split(".")
        if len(parts) != 3:
            return "assertion is not a JWS"
        try:
            header = json.loads(_b64decode(parts[0]))
            claims = json.loads(_b64decode(parts[1]))
            signature = _b64decode(parts[2])
        except ValueError:
            return "assertion does not decode"
        if header.get("alg") != "RS256":
            return "assertion alg is not RS256"
        trusted = self.keys.get(header.get("kid", ""))
        if trusted is None:
            return "assertion kid is not a known key id"
        email, public_key = trusted
        try:
            public_key.verify(
                signature,
                f"{parts[0]}.{parts[1]}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except InvalidSignature:
            return "assertion signature does not verify"
        now = time.time()
        if claims.get("iss") != email:
            return "assertion iss is not the key's client_email"
        if claims.get("aud") != GOOGLE_TOKEN_AUDIENCE:
            return "assertion aud is not Google's token endpoint"
        if claims.get("scope") != SCOPE:
            return "assertion scope is not cloud-platform"
        if not (claims.get("iat", 0) <= now + 60 and now < claims.get("exp", 0) <= now + 3660):
            return "assertion iat/exp out of range"
        return None

    def _trusted(self, token: str) -> bool:
        if self.subject_token and token == self.subject_token:
            return True
        if self.subject_claims is None:
            return False
        parts = token.split(".")
        try:
            claims = json.loads(_b64decode(parts[1])) if len(parts) == 3 else None
        except ValueError:
            return False
        return (
            isinstance(claims, dict)
            and all(claims.get(k) == v for k, v in self.subject_claims.items())
            and isinstance(claims.get("exp"), int)
            and claims["exp"] > time.time()
        )

    def check_exchange(self, form: dict[str, str]) -> str | None:
        if form.get("grant_type") != TOKEN_EXCHANGE:
            return "grant_type is not token-exchange"
        if form.get("audience") != self.audience:
            return "audience is not the workload identity provider"
        if form.get("subject_token_type") != JWT_TOKEN_TYPE:
            return "subject_token_type is not jwt"
        if not self._trusted(form.get("subject_token", "")):
            return "subject_token is not the CI's token"
        if form.get("requested_token_type") != ACCESS_TOKEN_TYPE:
            return "requested_token_type is not access_token"
        # google-auth asks STS for the iam scope when it will impersonate, else for the
        # target scopes; either way one of these two must be there.
        if not {SCOPE, IAM_SCOPE} & set(form.get("scope", "").split()):
            return "scope lacks cloud-platform and iam"
        return None

    def check_generate(self, account: str, authorization: str, body: Any) -> str | None:
        if account != self.service_account:
            return "generateAccessToken for another service account"
        with self._lock:
            sts_tokens = list(self.issued["sts"])
        if not authorization.startswith("Bearer ") or authorization[7:] not in sts_tokens:
            return "generateAccessToken without an STS token"
        if not isinstance(body, dict) or SCOPE not in (body.get("scope") or []):
            return "generateAccessToken scope lacks cloud-platform"
        return None


def _handler(fake: FakeGoogle) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def _send(self, status: int, payload: object) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _failure(self, endpoint: str, api_style: bool) -> bool:
            mode = fake.fail[endpoint]
            if mode is None:
                return False
            if mode == "hang":
                fake._stop.wait(60)
                self.close_connection = True
                return True
            if mode == "500":
                self._send(500, {"error": "internal_failure", "error_description": LEAK_SENTINEL})
            elif api_style:
                error = {"code": 403, "message": LEAK_SENTINEL, "status": "PERMISSION_DENIED"}
                self._send(403, {"error": error})
            else:
                self._send(400, {"error": "invalid_grant", "error_description": LEAK_SENTINEL})
            return True

        def _refuse(self, reason: str, api_style: bool) -> None:
            fake._reject(reason)
            if api_style:
                self._send(
                    403,
                    {"error": {"code": 403, "message": reason, "status": "PERMISSION_DENIED"}},
                )
            else:
                self._send(400, {"error": "invalid_grant", "error_description": reason})

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            # the path as sent: http.server folds a leading "//" into "/" in self.path,
            # which Google's front end does not (an IAM URL with a stray slash is a 404)
            path = self.requestline.split(" ")[1].split("?", 1)[0]
            if fake.delay:
                time.sleep(fake.delay)
            if path == "/token":
                fake._count("token")
                if self._failure("token", False):
                    return
                reason = fake.check_jwt_grant(dict(urllib.parse.parse_qsl(raw)))
                if reason:
                    self._refuse(reason, False)
                    return
                token = fake._issue("token", "ya29.sa")
                self._send(
                    200,
                    {"access_token": token, "expires_in": fake.expires_in, "token_type": "Bearer"},
                )
            elif path == "/v1/token":
                fake._count("sts")
                if self._failure("sts", False):
                    return
                reason = fake.check_exchange(dict(urllib.parse.parse_qsl(raw)))
                if reason:
                    self._refuse(reason, False)
                    return
                token = fake._issue("sts", "ya29.sts")
                self._send(
                    200,
                    {
                        "access_token": token,
                        "issued_token_type": ACCESS_TOKEN_TYPE,
                        "token_type": "Bearer",
                        "expires_in": fake.expires_in,
                    },
                )
            elif path.startswith(IAM_PREFIX) and path.endswith(IAM_SUFFIX):
                fake._count("iam")
                if self._failure("iam", True):
                    return
                account = urllib.parse.unquote(path[len(IAM_PREFIX) : -len(IAM_SUFFIX)])
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                reason = fake.check_generate(account, self.headers.get("Authorization", ""), body)
                if reason:
                    self._refuse(reason, True)
                    return
                expire = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(
                    seconds=fake.expires_in
                )
                self._send(
                    200,
                    {
                        "accessToken": fake._issue("iam", "ya29.iam"),
                        "expireTime": expire.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    },
                )
            else:
                self._send(404, {"error": "not_found"})

    return Handler

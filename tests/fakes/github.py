"""A local stand-in for GitHub Actions' OIDC token endpoint, speaking its protocol exactly.

A job with ``permissions: id-token: write`` gets two variables:
``ACTIONS_ID_TOKEN_REQUEST_URL`` (a URL that already carries ``?api-version=2.0``) and
``ACTIONS_ID_TOKEN_REQUEST_TOKEN``. actions/toolkit's ``oidc-utils.ts`` asks
``GET $URL&audience=<urlencoded>`` with ``Authorization: Bearer $TOKEN`` and reads the
JWT from the answer's ``value``. This server checks each of those: the path, the kept
query string, the bearer token, the audience; a request that fails a check is answered
401 or 400, as GitHub does, and the reason is kept in ``rejections``.

Each good request gets a fresh JWT (``iss`` GitHub's, ``sub`` ``repo:ORG/REPO:ref:...``,
the audience asked for, a new ``jti``), which is what GitHub does; ``issued`` keeps
them so a test can tell the stand-in STS which tokens to trust. ``answers`` overrides
the next answers' (status, body), for retries and refusals; ``delay`` slows every answer.
Bodies of refusals carry :data:`LEAK_SENTINEL`, which the helper must never repeat.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

ISSUER = "https://token.actions.githubusercontent.com"
SUBJECT = "repo:octo-org/octo-repo:ref:refs/heads/main"
PATH = "/_apis/distributedtask/hubs/Actions/plans/1b2c/jobs/7d8e/idtoken"
API_VERSION = "2.0"
LEAK_SENTINEL = "SENTINEL-github-body-5e2a"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(**claims: Any) -> str:
    """A JWT of these claims; its signature is random bytes (the stand-in clouds do not verify)."""
    header = _b64(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "fake"}).encode())
    return f"{header}.{_b64(json.dumps(claims).encode())}.{_b64(secrets.token_bytes(32))}"


def job_claims(audience: str, subject: str = SUBJECT, **more: Any) -> dict[str, Any]:
    """The claims a GitHub job token carries (the ones trust policies look at, and times)."""
    now = int(time.time())
    return {
        "jti": secrets.token_hex(8),
        "sub": subject,
        "aud": audience,
        "repository": "octo-org/octo-repo",
        "ref": "refs/heads/main",
        "run_id": "4242",
        "iss": ISSUER,
        "nbf": now - 5,
        "iat": now,
        "exp": now + 300,
        **more,
    }


class FakeGitHub:
    """The endpoint on 127.0.0.1; use as a context manager. See the module docstring."""

    def __init__(self, subject: str = SUBJECT) -> None:
        self.subject = subject
        self.request_token = "ghrt-" + secrets.token_urlsafe(24)
        self.calls = 0
        self.audiences: list[str] = []
        self.rejections: list[str] = []
        self.issued: list[str] = []
        self.answers: list[tuple[int, str]] = []
        #: the Accept header of each request
        self.accepts: list[str | None] = []
        self.delay = 0.0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def request_url(self) -> str:
        """What the runner puts in ACTIONS_ID_TOKEN_REQUEST_URL: a query string included."""
        return f"http://127.0.0.1:{self.port}{PATH}?api-version={API_VERSION}"

    def env(self) -> dict[str, str]:
        return {
            "GITHUB_ACTIONS": "true",
            "ACTIONS_ID_TOKEN_REQUEST_URL": self.request_url,
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": self.request_token,
        }

    def __enter__(self) -> FakeGitHub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def check(self, path: str, authorization: str) -> tuple[int, str] | tuple[None, str]:
        """(status, why) of a refusal, or (None, audience) for a good request."""
        parts = urlsplit(path)
        query = parse_qsl(parts.query, keep_blank_values=True)
        if parts.path != PATH:
            return 404, "another path"
        if authorization != f"Bearer {self.request_token}":
            return 401, "no or wrong bearer token"
        if ("api-version", API_VERSION) not in query:
            return 400, "the URL's own query string was not kept"
        audiences = [v for k, v in query if k == "audience"]
        if len(audiences) != 1 or not audiences[0]:
            return 400, "no audience, or more than one"
        return None, audiences[0]


def _handler(fake: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def _send(self, status: int, body: str) -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            if 300 <= status < 400:  # where a redirect would take the bearer token
                self.send_header("Location", f"http://127.0.0.1:{fake.port}/elsewhere")
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            with fake._lock:
                fake.calls += 1
                fake.accepts.append(self.headers.get("Accept"))
                scripted = fake.answers.pop(0) if fake.answers else None
            if fake.delay:
                time.sleep(fake.delay)
            status, said = fake.check(self.path, self.headers.get("Authorization", ""))
            if status is not None:
                with fake._lock:
                    fake.rejections.append(said)
                self._send(status, json.dumps({"message": f"{said} {LEAK_SENTINEL}"}))
                return
            if scripted is not None:
                self._send(*scripted)
                return
            token = make_jwt(**job_claims(said, fake.subject))
            with fake._lock:
                fake.audiences.append(said)
                fake.issued.append(token)
            self._send(200, json.dumps({"count": 1, "value": token}))

    return Handler

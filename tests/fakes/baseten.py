"""A local stand-in for Baseten's REST secrets API that speaks its wire protocol.

One threaded HTTP server on 127.0.0.1 serves what truss's ``BasetenApi`` calls:

- ``GET /v1/secrets`` and ``GET /v1/teams/{team_id}/secrets``: ``{"secrets": [{"name",
  "created_at", "team_name"}]}``, names only, never a value;
- ``POST /v1/secrets`` and ``POST /v1/teams/{team_id}/secrets`` with a JSON body
  ``{"name", "value"}``: an upsert, recorded in ``upserts``.

Every request must carry ``Authorization`` exactly as one of ``keys`` (e.g.
``"Api-Key k1"`` or ``"Bearer k2"``), else 401 with ``{"code": "UNAUTHENTICATED"}``;
an unknown team is 404. Every request is recorded in ``requests`` (method, path,
the scheme of its Authorization header, never the key). ``fail`` makes the next
answers ``"malformed"`` (not JSON), ``"shape"`` (JSON of the wrong shape), ``"500"``,
or ``"hang"`` (accept, never answer).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: Put in error bodies; must never appear in anything the helper prints.
LEAK_SENTINEL = "SENTINEL-baseten-body-3d9e"


class FakeBaseten:
    def __init__(self, keys: list[str], teams: tuple[str, ...] = ()) -> None:
        self.keys = set(keys)
        # scope (None: the workspace's default team) -> name -> value
        self.secrets: dict[str | None, dict[str, str]] = {None: {}}
        self.secrets.update({team: {} for team in teams})
        self.upserts: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self.fail: str | None = None
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    def __enter__(self) -> FakeBaseten:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def names(self, team: str | None = None) -> list[str]:
        with self._lock:
            return sorted(self.secrets[team])

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _reply(self, status: int, body: object, raw: bytes | None = None) -> None:
                data = raw if raw is not None else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _scope(self) -> tuple[bool, str | None]:
                path = self.path.split("?", 1)[0]
                if path == "/v1/secrets":
                    return True, None
                parts = path.split("/")
                if len(parts) == 5 and parts[1:3] == ["v1", "teams"] and parts[4] == "secrets":
                    return True, parts[3]
                return False, None

            def _admit(self, method: str) -> tuple[bool, str | None]:
                header = self.headers.get("Authorization", "")
                known, team = self._scope()
                with fake._lock:
                    fake.requests.append(
                        {"method": method, "path": self.path, "scheme": header.split(" ")[0]}
                    )
                if fake.fail == "hang":
                    time.sleep(60)
                    return False, None
                if header not in fake.keys:
                    self._reply(
                        401, {"code": "UNAUTHENTICATED", "message": f"bad key {LEAK_SENTINEL}"}
                    )
                    return False, None
                if not known or team not in fake.secrets:
                    self._reply(404, {"code": "NOT_FOUND", "message": LEAK_SENTINEL})
                    return False, None
                if fake.fail == "500":
                    self._reply(500, {"message": LEAK_SENTINEL})
                    return False, None
                if fake.fail == "malformed":
                    self._reply(200, None, raw=b"<html>" + LEAK_SENTINEL.encode())
                    return False, None
                if fake.fail == "shape":
                    self._reply(200, {"secrets": LEAK_SENTINEL})
                    return False, None
                return True, team

            def do_GET(self) -> None:
                ok, team = self._admit("GET")
                if not ok:
                    return
                with fake._lock:
                    listed = [
                        {
                            "name": n,
                            "created_at": "2026-01-01T00:00:00Z",
                            "team_name": team or "default",
                        }
                        for n in sorted(fake.secrets[team])
                    ]
                self._reply(200, {"secrets": listed})

            def do_POST(self) -> None:
                ok, team = self._admit("POST")
                if not ok:
                    return
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length))
                except ValueError:
                    body = None
                if (
                    self.headers.get("Content-Type") != "application/json"
                    or not isinstance(body, dict)
                    or set(body) != {"name", "value"}
                    or not all(isinstance(body[k], str) and body[k] for k in body)
                ):
                    self._reply(400, {"code": "BAD_REQUEST"})
                    return
                with fake._lock:
                    fake.secrets[team][body["name"]] = body["value"]
                    fake.upserts.append(
                        {
                            "team": team,
                            "name": body["name"],
                            "value": body["value"],
                            "authorization": self.headers["Authorization"],
                        }
                    )
                self._reply(200, {"id": "s1", "name": body["name"]})

        return Handler

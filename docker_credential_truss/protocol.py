"""The credential-helper wire format, as docker/docker-credential-helpers defines it.

``handle(helper, action, stdin, stdout)`` owns the format; the helper behind it never
sees JSON. Errors are raised as HelperError and written by the CLI as one line on
stdout with exit status 1, which is where every client looks for them.

``get`` is the exception. For a well-formed server its answer is a credential or
exactly "credentials not found in native keychain": BuildKit, skopeo, podman,
buildah, docker-py and compose fail the whole command on any other error, even for
an image that needs no credential, and the classic builder asks every routed registry
before each build. So every failure behind ``get`` becomes :class:`NotFound` whose
reason the CLI writes to stderr, which every client shows the person. Malformed
input keeps the protocol's own errors (``no credentials server URL``...).
"""

from __future__ import annotations

import json

from docker_credential_truss import debuglog
from docker_credential_truss.errors import (
    REPORT_IT,
    HelperError,
    InputError,
    MissingServerURL,
    MissingUsername,
    NotFound,
    internal_error,
)

TYPE_CHECKING = False  # importing typing costs start-up time
if TYPE_CHECKING:
    from typing import BinaryIO, Protocol

    class Helper(Protocol):
        def add(self, server: str, username: str, secret: str) -> None: ...
        def delete(self, server: str) -> None: ...
        def get(self, server: str) -> tuple[str, str]: ...
        def list(self) -> dict[str, str]: ...


ACTIONS = ("get", "store", "erase", "list")
#: More than any server URL or credential needs; larger input is refused unread.
MAX_INPUT = 1 << 20


def handle(helper: Helper, action: str, stdin: BinaryIO, stdout: BinaryIO) -> None:
    if action == "get":
        server = _server(stdin)
        username, secret = _get(helper, server)
        _write(stdout, {"ServerURL": server, "Username": username, "Secret": secret})
    elif action == "store":
        server, username, secret = _credentials(stdin)
        helper.add(server, username, secret)
    elif action == "erase":
        helper.delete(_server(stdin))
    elif action == "list":
        _write(stdout, helper.list())
    else:
        raise InputError(f"unknown credential action {action!r}")


def _get(helper: Helper, server: str) -> tuple[str, str]:
    """``helper.get``, with every failure turned into not-found and its reason."""
    try:
        return helper.get(server)
    except NotFound:
        raise
    except HelperError as exc:
        raise NotFound(exc.message) from None
    except Exception as exc:  # the text of a foreign error may hold a secret
        # The log gets the traceback: its formatter masks every secret value seen.
        debuglog.error("internal error (%s)", type(exc).__name__, trace=True)
        raise NotFound(
            f"{internal_error(exc)}; {REPORT_IT} (with"
            " DOCKER_CREDENTIAL_TRUSS_DEBUG=1 the traceback goes to the debug log)"
        ) from None


def _read(stdin: BinaryIO) -> str:
    raw = stdin.read(MAX_INPUT + 1)
    if len(raw) > MAX_INPUT:
        raise InputError(f"input is larger than {MAX_INPUT} bytes")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("input is not UTF-8 text") from None


def _server(stdin: BinaryIO) -> str:
    server = _read(stdin).strip()
    if not server:
        raise MissingServerURL()
    return server


def _credentials(stdin: BinaryIO) -> tuple[str, str, str]:
    text = _read(stdin)
    if not text.strip():
        raise InputError('store expects JSON {"ServerURL", "Username", "Secret"}; got nothing')
    try:
        data = json.loads(text)
    except RecursionError:
        raise InputError("store input is nested too deeply") from None
    except ValueError as exc:
        position = getattr(exc, "pos", None)
        where = f" (at character {position})" if position is not None else ""
        raise InputError(f"store input is not valid JSON{where}") from None
    if not isinstance(data, dict):
        raise InputError('store expects a JSON object {"ServerURL", "Username", "Secret"}')
    server, username, secret = (data.get(k, "") for k in ("ServerURL", "Username", "Secret"))
    if secret is None:
        secret = ""
    if not all(isinstance(v, str) for v in (server, username, secret)):
        raise InputError("ServerURL, Username and Secret must be JSON strings")
    try:
        for value in (server, username, secret):
            value.encode("utf-8")
    except UnicodeEncodeError:  # JSON can spell a lone surrogate (\ud800); UTF-8 cannot
        raise InputError("ServerURL, Username and Secret must be valid Unicode text") from None
    if not server.strip():
        raise MissingServerURL()
    if not username:
        raise MissingUsername()
    return server.strip(), username, secret


def _write(stdout: BinaryIO, payload: dict) -> None:
    stdout.write(json.dumps(payload).encode() + b"\n")

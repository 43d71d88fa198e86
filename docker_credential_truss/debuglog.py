"""Debug logging to a file, off unless ``DOCKER_CREDENTIAL_TRUSS_DEBUG=1``.

docker hides a helper's stderr behind one line, so a log file is how a user sees what
the helper did: the verb, the registry, the auth method and why, cache hits and misses,
how long minting took, and the error lines. It goes to ``debug.log`` in the user log
directory (``Paths.log_dir``: a 0700 directory, 0600 files, rotated at 1 MiB with three
old files kept).

Secrets are kept out twice over. The code logs names, sources and registry keys, never
values. And every secret value the process reads (``Secrets.find``) or hands out (the
resolver's tokens) is registered with :func:`redact`; the formatter masks each of them
in the finished line, tracebacks included, so a value that slipped into a foreign
exception's message is masked too.

Off, this module costs one import and a function call per log point: ``logging`` is
imported only by :func:`setup`, when the variable is set, and nothing is written.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from docker_credential_truss.paths import Paths

VARIABLE = "DOCKER_CREDENTIAL_TRUSS_DEBUG"
FILE_NAME = "debug.log"
MAX_BYTES = 1 << 20
BACKUPS = 3
MASK = "[redacted]"
#: Pieces of a multi-line secret (a PEM key, a service-account JSON) at least this long
#: are masked on their own too, since a message could quote one line of it.
MIN_PIECE = 16

#: Fields of a JSON secret (a Google service-account key) that are secrets on their own.
JSON_SECRET_FIELDS = ("private_key", "private_key_id", "client_secret", "refresh_token")

_secrets: set[str] = set()
_logger = None  # a logging.Logger while debug logging is on


def enabled(env: Mapping[str, str]) -> bool:
    return env.get(VARIABLE, "").strip().lower() in ("1", "true", "yes", "on")


def redact(value: str) -> None:
    """Remember a secret value so that no log line can show it, nor a telling piece of it."""
    if not value:
        return
    _secrets.add(value)
    if "\n" in value:
        _secrets.update(p for p in value.splitlines() if len(p.strip()) >= MIN_PIECE)
    if value.lstrip().startswith("{"):  # a service-account key: its fields are secrets too
        import json

        try:
            data = json.loads(value)
        except ValueError:
            return
        if isinstance(data, dict):
            for field in JSON_SECRET_FIELDS:
                if isinstance(data.get(field), str):
                    redact(data[field])


def masked(text: str) -> str:
    """``text`` with every registered secret replaced, longest first (a secret that
    contains another is masked whole)."""
    for value in sorted(_secrets, key=len, reverse=True):
        if value in text:
            text = text.replace(value, MASK)
    return text


def debug(message: str, *args: object) -> None:
    """Log a line (``%``-style args) when logging is on; otherwise do nothing."""
    if _logger is not None:
        _logger.debug(message, *args)


def error(message: str, *args: object, trace: bool = False) -> None:
    if _logger is not None:
        _logger.error(message, *args, exc_info=trace)


def close() -> None:
    """Stop logging and forget the secrets (the end of one run of ``cli.main``)."""
    global _logger
    if _logger is not None:
        for handler in list(_logger.handlers):
            _logger.removeHandler(handler)
            handler.close()
        _logger = None
    _secrets.clear()


def setup(env: Mapping[str, str], paths: Paths) -> str | None:
    """Start logging to the file if ``env`` asks for it; the file's path, or None.

    A log that cannot be opened is not a reason to fail a pull: it is skipped.
    """
    global _logger
    if not enabled(env) or _logger is not None:
        return None
    import logging
    import logging.handlers

    from docker_credential_truss import files
    from docker_credential_truss.errors import StoreError

    class PrivateRotatingHandler(logging.handlers.RotatingFileHandler):
        """Every file it opens, the first and each after a rotation, is 0600."""

        def _open(self):  # type: ignore[override]
            fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.fchmod(fd, 0o600)
            return open(fd, "a", encoding=self.encoding, errors=self.errors)

        def handleError(self, record: logging.LogRecord) -> None:
            pass  # a full disk must not put logging's traceback on the person's stderr

    class RedactingFormatter(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            return masked(super().format(record))

    path = os.path.join(paths.log_dir, FILE_NAME)
    try:
        files.private_dir(paths.log_dir)
        handler = PrivateRotatingHandler(
            path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
        )
    except (StoreError, OSError):
        return None
    handler.setFormatter(
        RedactingFormatter(
            "%(asctime)s.%(msecs)03d pid=%(process)d %(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%S"
        )
    )
    logger = logging.getLogger("docker_credential_truss")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(handler)
    _logger = logger
    return path

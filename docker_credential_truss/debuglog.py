"""Debug logging to a file, off unless ``DOCKER_CREDENTIAL_TRUSS_DEBUG=1``.

docker hides a helper's stderr behind one line, so a log file is how a user sees what
the helper did: the verb, the registry, the auth method and why, cache hits and misses,
how long minting took, and the error lines. It goes to ``debug.log`` in the user log
directory (``Paths.log_dir``: a 0700 directory, 0600 files, rotated at 1 MiB with three
old files kept).

Secrets are kept out twice over. The code logs names, sources and registry keys, never
values. And every value enters the process through one of two doors, each of which
registers it with :func:`redact`: the secret lookup (``Secrets.find``, and
``Secrets.store`` for what ``docker login`` hands in) and the mint
(``minting.minted``, and the resolver for a token read back from the cache). Outside
``get``, the few values made or received elsewhere are registered where they appear:
the OIDC tokens a CI job leaves in a file (``aws`` and ``gcp``, as they read it), the
Baseten API key (``basetenapi``), and the Basic header and realm token of
``doctor``'s registry check (``registrycheck``). What a
value contains is registered with it: the password in base64 of ``user:password``,
the secret fields of a service-account key, each long line of a PEM key. The formatter
masks each of them in the finished line, tracebacks included, so a value that slipped
into a foreign exception's message is masked too.

Costs stay linear when ``list`` runs over thousands of registries, registering a
secret or two for each: a line is masked in time linear in its length whatever the
number of secrets (see :func:`masked`), formatted once, and written by a few lines of
code here rather than the ``logging`` package, whose records, handlers and locks cost
more than the rest of the line's work. ``list`` is a bulk operation whose per-registry
lines (auth method and why, where each secret was found) would drown the log and cost
more than the rest of its work: it resolves its registries under :func:`quiet` and logs
one summary line instead; ``get`` logs every step.

Off, this module costs one import and a function call per log point, and nothing is
written.
"""

from __future__ import annotations

import os
import time

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

#: Secrets of at least HEAD characters are indexed by their last HEAD characters, and a
#: line's every substring of HEAD characters is looked up: one entry per secret, since
#: ``list`` registers thousands and logs a line or two, while a line is short. Shorter
#: secrets are indexed by their length, and the line's substrings of each such length
#: looked up.
HEAD = 8

_secrets: set[str] = set()
_pending: list[str] = []  # registered, not yet indexed
_tails: dict[str, tuple[str, ...]] = {}  # last HEAD characters -> the secrets ending so
_short: dict[int, set[str]] = {}  # length (< HEAD) -> the secrets that long
_log: _Log | None = None  # while debug logging is on
_quiet = False  # debug lines are dropped (inside quiet())


def enabled(env: Mapping[str, str]) -> bool:
    return env.get(VARIABLE, "").strip().lower() in ("1", "true", "yes", "on")


def redact(value: str) -> None:
    """Remember a secret value so that no log line can show it, nor a telling piece of it.

    Only noted here, and indexed when a line is next masked: with the log off (the
    usual case) nothing is ever masked, and ``list`` registers one or two per registry.
    """
    if value:
        _pending.append(value)


def _index(value: str) -> None:
    if value in _secrets:
        return
    _secrets.add(value)
    if len(value) >= HEAD:
        # the end: secrets often share a start (a user name's base64, a token's fixed
        # prefix), rarely an end, so the dict's buckets stay small
        tail = value[-HEAD:]
        found = _tails.get(tail)
        # tuples of strings, unlike lists, are left alone by the cyclic GC
        _tails[tail] = (value,) if found is None else (*found, value)
    else:
        _short.setdefault(len(value), set()).add(value)
    if "\n" in value:
        for piece in value.splitlines():
            if len(piece.strip()) >= MIN_PIECE:
                _index(piece)
    password = _basic_password(value)
    if password:  # a registry secret: the decoded password is as secret as the value
        _index(password)
    if value.lstrip().startswith("{"):  # a service-account key: its fields are secrets too
        import json

        try:
            data = json.loads(value)
        except ValueError:
            return
        if isinstance(data, dict):
            for field in JSON_SECRET_FIELDS:
                if isinstance(data.get(field), str) and data[field]:
                    _index(data[field])


def _basic_password(value: str) -> str | None:
    """The password in base64 of ``user:password`` (how truss keeps registry secrets)."""
    import base64
    import binascii

    try:
        text = base64.b64decode(value.strip(), validate=True).decode()  # always UTF-8
    except (binascii.Error, ValueError):  # UnicodeDecodeError is a ValueError
        return None
    user, sep, password = text.partition(":")
    return password if user and sep else None


def masked(text: str, shortest: int = 1) -> str:
    """``text`` with every registered secret (of ``shortest`` characters or more)
    replaced; overlapping or nested occurrences are masked as one stretch, so no part
    of any of them shows.

    Only the line's own substrings are looked up, each in a dict or set: no loop over
    the secrets, so the cost is linear in the line's length however many there are.
    """
    while _pending:
        _index(_pending.pop())
    if not _secrets:
        return text
    spans: list[tuple[int, int]] = []
    if _tails:
        for end in range(HEAD, len(text) + 1):
            for value in _tails.get(text[end - HEAD : end], ()):
                start = end - len(value)
                if start >= 0 and text.startswith(value, start):
                    spans.append((start, end))
    for length, values in _short.items():
        if length < shortest:
            continue
        grams = {text[i : i + length] for i in range(len(text) - length + 1)}
        for value in values & grams:
            start = text.find(value)
            while start >= 0:
                spans.append((start, start + length))
                start = text.find(value, start + 1)
    if not spans:
        return text
    spans.sort()
    out, done = [], 0
    for start, end in spans:
        if end <= done:
            continue  # inside the stretch already masked
        if start >= done:
            out += (text[done:start], MASK)
        done = end  # a new stretch, or one overlapping the last: extend it
    out.append(text[done:])
    return "".join(out)


#: Characters a terminal acts on rather than shows: C0 controls (ESC starts every
#: escape sequence), DEL, C1 controls (CSI, OSC as single characters), and the Unicode
#: line separators and direction overrides that make a line read as another.
_CONTROLS = frozenset(
    [
        *map(chr, range(0x20)),
        *map(chr, range(0x7F, 0xA0)),
        *("\u2028", "\u2029"),
        *map(chr, range(0x202A, 0x202F)),
        *map(chr, range(0x2066, 0x206A)),
    ]
)


#: Secrets shorter than this are masked in the log but not in what a person reads: a
#: one- or two-letter test password would otherwise turn every message into confetti.
SHOWN_SHORTEST = 6


def shown(text: str) -> str:
    """``text`` fit for a person's terminal: secrets masked, control characters visible.

    Every line the human commands print goes through here, because some of it comes
    from servers (error codes, realm URLs, content types): a registry that echoes the
    password in an error code is masked as in the log (secrets of
    SHOWN_SHORTEST characters or more), and an escape sequence is shown
    as the four characters ``\\x1b`` instead of clearing the screen.
    """
    text = masked(text, SHOWN_SHORTEST)
    if _CONTROLS.isdisjoint(text):
        return text
    return "".join(_visible(c) if c in _CONTROLS else c for c in text)


def _visible(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


class quiet:  # lower case: used as a function, ``with debuglog.quiet():``
    """Drop debug lines (not errors) inside the block: for a bulk operation such as
    ``list``, which logs a summary instead. Secrets are still registered for masking."""

    def __enter__(self) -> None:
        global _quiet
        self.was, _quiet = _quiet, True

    def __exit__(self, *exc: object) -> None:
        global _quiet
        _quiet = self.was


def debug(message: str, *args: object) -> None:
    """Log a line (``%``-style args) when logging is on; otherwise do nothing."""
    if _log is not None and not _quiet:
        _log.write("DEBUG", message % args if args else message)


def error(message: str, *args: object, trace: bool = False) -> None:
    if _log is not None:
        text = message % args if args else message
        if trace:
            import traceback

            text += "\n" + traceback.format_exc().rstrip("\n")
        _log.write("ERROR", text)


def close() -> None:
    """Stop logging and forget the secrets (the end of one run of ``cli.main``)."""
    global _log
    if _log is not None:
        _log.close()
        _log = None
    _pending.clear()
    _secrets.clear()
    _tails.clear()
    _short.clear()


def setup(env: Mapping[str, str], paths: Paths) -> str | None:
    """Start logging to the file if ``env`` asks for it; the file's path, or None.

    A log that cannot be opened is not a reason to fail a pull: it is skipped.
    """
    global _log
    if not enabled(env) or _log is not None:
        return None
    from docker_credential_truss import files
    from docker_credential_truss.errors import StoreError

    path = os.path.join(paths.log_dir, FILE_NAME)
    try:
        files.private_dir(paths.log_dir)
        _log = _Log(path)
    except (StoreError, OSError):
        return None
    return path


class _Log:
    """Appends masked lines to the file, rotated as logging's RotatingFileHandler does
    (at MAX_BYTES, BACKUPS old files), every file 0600 whatever the umask. Each line is
    one ``write`` to an O_APPEND descriptor: written at once (a run that hangs is the
    one to read) and whole, between other processes' lines."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.pid = os.getpid()
        self.fd = self._open()
        # The size is the file's at open plus this process's lines: others' lines
        # written meanwhile are not counted, so a file may pass MAX_BYTES by what
        # concurrent processes wrote during this one's (short) run.
        self.size = os.lseek(self.fd, 0, os.SEEK_END)

    def _open(self) -> int:
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.fchmod(fd, 0o600)
        return fd

    def write(self, level: str, text: str) -> None:
        now = time.time()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(now))
        millis = int((now - int(now)) * 1000)
        line = masked(f"{stamp}.{millis:03d} pid={self.pid} {level} {text}\n")
        data = line.encode(errors="backslashreplace")  # str.encode is always UTF-8
        if self.fd < 0:
            return  # a rotation failed: the log is off for this run
        try:
            if self.size + len(data) >= MAX_BYTES:
                self._rotate()
            self.size += os.write(self.fd, data)
        except OSError:
            pass  # a full disk or a vanished directory must not fail a pull

    def _rotate(self) -> None:
        os.close(self.fd)
        self.fd = -1  # never write to a number the process may reuse for another file
        for i in range(BACKUPS - 1, 0, -1):
            if os.path.exists(f"{self.path}.{i}"):
                os.replace(f"{self.path}.{i}", f"{self.path}.{i + 1}")
        os.replace(self.path, f"{self.path}.1")
        self.fd = self._open()
        self.size = os.lseek(self.fd, 0, os.SEEK_END)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)

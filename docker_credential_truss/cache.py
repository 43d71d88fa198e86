"""A token cache shared by every process of the helper, knowing nothing of clouds.

One file per (registry, identity) under the user cache directory: the name is a
SHA-256 of the registry key and the provider's identity (access key id, role, service
account), so a rotated key or a switched role never gets the old identity's token, and
the file name reveals neither. Files are 0600 in a 0700 directory, replaced atomically.

A token is served while ``now < expires_at - margin``, where the margin is ten minutes,
or half the token's lifetime for tokens that live less than twenty minutes; it is never
served after it expires. A corrupt, truncated or foreign file is ignored and replaced.

Single flight: on a miss, a process takes the entry's file lock, looks again (another
process may have just minted), and only then mints. The wait is bounded; a process that
waited too long mints on its own rather than fail the pull. A mint that fails leaves its
one-line error beside the entry, and processes that were already waiting answer with it
instead of each trying again in turn (32 waiters on a dead endpoint would otherwise take
32 timeouts); a process that starts later tries afresh.

Every write also removes expired entries, each with its lock and failure files, so
the directory holds about one entry per identity in use rather than one per identity
ever seen (rotated keys, temporary credentials, switched roles). The work is bounded:
a write looks at no more than SWEEP_SCAN directory entries and reads no more than
SWEEP_READS of them (those not written for SWEEP_AGE), so a directory left large by an
older version shrinks a little with each write. An entry is removed under its own
lock, taken without waiting (one in use is left for later), and re-read under it;
``files.FileLock`` checks after locking that its lock file was not removed meanwhile.
"""

from __future__ import annotations

import json
import os
import time

try:  # CPython's built-in SHA-256: hashlib would load OpenSSL first, ~5 ms per get here
    from _sha2 import sha256  # Python 3.12+
except ImportError:
    try:
        from _sha256 import sha256  # Python 3.10, 3.11
    except ImportError:  # a build without them
        from hashlib import sha256

from docker_credential_truss import files
from docker_credential_truss.errors import HelperError, ProviderError, StoreError
from docker_credential_truss.providers import Token

TYPE_CHECKING = False  # importing typing costs start-up time
if TYPE_CHECKING:
    from collections.abc import Callable

MARGIN = 600.0
LOCK_WAIT = 45.0  # below BuildKit's 60 s session budget
FORMAT = 1
SWEEP_SCAN = 2000
SWEEP_READS = 32
SWEEP_AGE = 900.0


def is_fresh(expires_at: float, minted_at: float, now: float) -> bool:
    margin = min(MARGIN, max(expires_at - minted_at, 0.0) / 2)
    return now < expires_at - margin


class TokenCache:
    def __init__(
        self, directory: str, lock_wait: float = LOCK_WAIT, sweep_age: float = SWEEP_AGE
    ) -> None:
        self.directory = directory
        self.lock_wait = lock_wait
        self.sweep_age = sweep_age

    def path(self, registry: str, identity: str) -> str:
        digest = sha256(f"{registry}\0{identity}".encode()).hexdigest()
        return os.path.join(self.directory, digest + ".json")

    def get(self, registry: str, identity: str, now: float) -> Token | None:
        """The cached token if it is still fresh at ``now``."""
        entry = _read(self.path(registry, identity), registry)
        if entry is None or not is_fresh(entry["expires_at"], entry["minted_at"], now):
            return None
        return Token(entry["username"], entry["secret"], entry["expires_at"])

    def put(self, registry: str, identity: str, token: Token, now: float) -> None:
        if token.expires_at is None:
            return
        files.private_dir(self.directory)
        entry = {
            "format": FORMAT,
            "registry": registry,
            "username": token.username,
            "secret": token.secret,
            "expires_at": token.expires_at,
            "minted_at": now,
        }
        path = self.path(registry, identity)
        files.write_json(path, entry)
        files.sweep_temporaries(path, dead_writers_only=True)
        self.sweep(now)

    def sweep(self, now: float) -> int:
        """Remove expired entries (bounded work; see the module docstring); how many."""
        removed = reads = 0
        try:
            scan = os.scandir(self.directory)
        except OSError:
            return 0
        with scan:
            for looked, item in enumerate(scan):
                if looked >= SWEEP_SCAN or reads >= SWEEP_READS:
                    break
                name = item.name
                if name.startswith("."):
                    continue  # a temporary file: sweep_temporaries' job
                if name.endswith(".json.lock"):
                    entry = item.path[: -len(".lock")]
                    if os.path.exists(entry):
                        continue  # the entry's own turn decides
                elif name.endswith(".json"):
                    entry = item.path
                else:
                    continue
                try:
                    if item.stat().st_mtime > now - self.sweep_age:
                        continue
                except OSError:
                    continue
                reads += 1
                removed += _remove_if_expired(entry, now)
        return removed

    def fetch(
        self,
        registry: str,
        identity: str,
        mint: Callable[[], Token],
        clock: Callable[[], float] = time.time,
    ) -> Token:
        """A fresh token from the cache, or from ``mint`` by one process at a time."""
        started = clock()
        token = self.get(registry, identity, started)
        if token is not None:
            return token
        files.private_dir(self.directory)
        path = self.path(registry, identity)
        lock = files.FileLock(path, timeout=self.lock_wait)
        try:
            lock.acquire()
        except StoreError:
            lock = None  # waited long enough: mint alone rather than fail
        try:
            token = self.get(registry, identity, clock())
            if token is not None:
                return token
            failed = _read_failure(path + ".failed", since=started)
            if failed is not None:
                raise ProviderError(failed)
            minted_at = clock()
            try:
                token = mint()
            except HelperError as exc:
                files.write_json(path + ".failed", {"at": clock(), "message": exc.message})
                raise
            self.put(registry, identity, token, minted_at)
            return token
        finally:
            if lock is not None:
                lock.release()

    def entries(self) -> list[dict]:
        """What the cache holds, without secrets: registry, expiry, minted time."""
        try:
            names = sorted(os.listdir(self.directory))
        except OSError:
            return []
        found = []
        for name in names:
            if name.endswith(".json") and not name.startswith("."):
                entry = _read(os.path.join(self.directory, name), None)
                if entry is not None:
                    found.append({k: entry[k] for k in ("registry", "expires_at", "minted_at")})
        return found


def _remove_if_expired(path: str, now: float) -> int:
    """Remove an expired (or vanished) entry with its lock and failure files: 1, else 0."""
    lock = files.FileLock(path, timeout=0)
    try:
        lock.acquire()
    except StoreError:
        return 0  # in use: left for a later write
    try:
        try:
            entry = _read(path, None)
        except StoreError:
            return 0  # an insecure file: doctor reports it
        if entry is None and os.path.exists(path):
            return 0  # damaged or foreign: replaced when its identity mints again
        if entry is not None and now < entry["expires_at"]:
            return 0
        for name in (path, path + ".failed"):
            try:
                os.unlink(name)
            except OSError:
                pass
        lock.remove()
        return 1
    finally:
        lock.release()


def _read_failure(path: str, since: float) -> str | None:
    """The error of a mint that failed at or after ``since``, if one did."""
    try:
        with open(path, "rb") as handle:
            data = json.loads(handle.read())
        at, message = data["at"], data["message"]
    except (OSError, ValueError, TypeError, KeyError, UnicodeDecodeError):
        return None
    if isinstance(at, (int, float)) and isinstance(message, str) and at >= since:
        return message
    return None


def _read(path: str, registry: str | None) -> dict | None:
    """A well-formed entry for ``registry`` (any, if None), or None: never an error.

    An insecure cache file is the exception: it raises, as every private file does.
    """
    try:
        with files.open_regular(path) as handle:
            files.check_private(path, os.fstat(handle.fileno()))
            entry = json.loads(handle.read())
    except (OSError, ValueError, UnicodeDecodeError, RecursionError):
        return None
    if (
        not isinstance(entry, dict)
        or entry.get("format") != FORMAT
        or (registry is not None and entry.get("registry") != registry)
        or not all(isinstance(entry.get(k), str) for k in ("registry", "username", "secret"))
        or not all(
            isinstance(entry.get(k), (int, float)) and not isinstance(entry.get(k), bool)
            for k in ("expires_at", "minted_at")
        )
    ):
        return None
    return entry

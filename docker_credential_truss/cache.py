"""A token cache shared by every process of the helper, knowing nothing of clouds.

One file per (registry, identity) under the user cache directory. The provider's
identity is a tuple of parts (method, role, region, ExternalId, access key id, service
account...), and the entry's name is the SHA-256 of the JSON array ``[registry,
[parts...]]``: an encoding that no choice of ``@``, ``:``, ``=`` or newlines inside a
part can make two different identities share, so a rotated key or a switched role
never gets another identity's token, and the file name reveals neither. Files are 0600
in a 0700 directory, replaced atomically.

An entry records that hash, and a read serves it only when the hash is the one asked
for and both the file and the tokens directory belong to the user and are writable by
no one else. An entry copied or linked under another identity's name (by a bug, or by
someone who can write the directory) is therefore a miss, not that identity's token;
and a directory another user can write is refused: the token is minted without the
cache, and ``warn`` says why and how to fix it.

A token is served while ``now < expires_at - margin``, where the margin is ten minutes,
or half the token's lifetime for tokens that live less than twenty minutes; it is never
served after it expires. A corrupt, truncated or foreign file is ignored and replaced.

Single flight: on a miss, a process takes the entry's file lock, looks again (another
process may have just minted), and only then mints. The wait is bounded; a process that
waited too long mints on its own rather than fail the pull.

Failures are remembered briefly. A mint that fails leaves its one-line error beside the
entry; processes already waiting answer with it instead of each trying in turn (32
waiters on a dead endpoint would otherwise take 32 timeouts), and so does every process
that starts within ``DOCKER_CREDENTIAL_TRUSS_FAILURE_TTL`` seconds (default 30; 0 keeps
only the sharing with waiters), because the classic builder and docker-py ask every
routed registry before each build. The record is keyed like the entry (registry and
identity) and carries a salted, truncated hash of the secrets the mint was made from,
never a value, so a corrected secret or another identity is tried at once.

The cache only ever speeds things up. A cache that cannot be created, read or written
(a read-only HOME, a full disk, another owner) costs a mint, never the answer: the
token is minted without caching, and ``warn`` says so once.

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
from docker_credential_truss.errors import ConfigError, HelperError, ProviderError, StoreError
from docker_credential_truss.minting import Token

TYPE_CHECKING = False  # importing typing costs start-up time
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    #: A provider's identity(): its parts, or (in tests and old callers) one string.
    Identity = Sequence[str] | str

MARGIN = 600.0
LOCK_WAIT = 45.0  # below BuildKit's 60 s session budget
#: 2: identities hashed from a JSON array, each entry carrying its identity's hash.
#: Entries of format 1 are never served; the sweep removes them once expired.
FORMAT = 2
_FORMATS = (1, FORMAT)
SWEEP_SCAN = 2000
SWEEP_READS = 32
SWEEP_AGE = 900.0
FAILURE_TTL_VARIABLE = "DOCKER_CREDENTIAL_TRUSS_FAILURE_TTL"
FAILURE_TTL = 30.0


def failure_ttl(env: Mapping[str, str]) -> float:
    """``$DOCKER_CREDENTIAL_TRUSS_FAILURE_TTL`` in seconds (0 to 3600), default 30."""
    text = env.get(FAILURE_TTL_VARIABLE, "").strip()
    if not text:
        return FAILURE_TTL
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 3600:
        raise ConfigError(f"{FAILURE_TTL_VARIABLE} should be a number of seconds (0 to 3600)")
    return value


def is_fresh(expires_at: float, minted_at: float, now: float) -> bool:
    margin = min(MARGIN, max(expires_at - minted_at, 0.0) / 2)
    return now < expires_at - margin


class TokenCache:
    def __init__(
        self,
        directory: str,
        lock_wait: float = LOCK_WAIT,
        failure_ttl: float = FAILURE_TTL,
        sweep_age: float = SWEEP_AGE,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self.directory = directory
        self.lock_wait = lock_wait
        self.failure_ttl = failure_ttl
        self.sweep_age = sweep_age
        self.warn = warn
        self._warned = False

    def path(self, registry: str, identity: Identity) -> str:
        return os.path.join(self.directory, identity_hash(registry, identity) + ".json")

    def get(self, registry: str, identity: Identity, now: float) -> Token | None:
        """The cached token if it is still fresh at ``now`` and was stored for ``identity``.

        Raises StoreError when the directory or the file could be changed by someone else.
        """
        try:
            files.check_private(self.directory, os.stat(self.directory))
        except OSError:
            return None  # no directory yet: nothing cached
        digest = identity_hash(registry, identity)
        entry = _read(os.path.join(self.directory, digest + ".json"), registry, digest)
        if entry is None or not is_fresh(entry["expires_at"], entry["minted_at"], now):
            return None
        return Token(entry["username"], entry["secret"], entry["expires_at"])

    def put(self, registry: str, identity: Identity, token: Token, now: float) -> None:
        if token.expires_at is None:
            return
        files.private_dir(self.directory)
        entry = {
            "format": FORMAT,
            "identity": identity_hash(registry, identity),
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
                removed += _remove_if_expired(entry, now, now - self.failure_ttl)
        return removed

    def fetch(
        self,
        registry: str,
        identity: Identity,
        mint: Callable[[], Token],
        clock: Callable[[], float] = time.time,
        inputs: str = "",
    ) -> Token:
        """A fresh token from the cache, or from ``mint`` by one process at a time.

        ``inputs`` is the secret material the mint uses; only a salted hash of it is
        kept, to tell a remembered failure from one with corrected secrets.
        """
        started = clock()
        try:
            token = self.get(registry, identity, started)
            if token is not None:
                return token
            files.private_dir(self.directory)
        except StoreError as exc:
            self._unusable(exc)
            return mint()
        path = self.path(registry, identity)
        lock = files.FileLock(path, timeout=self.lock_wait)
        try:
            lock.acquire()
        except StoreError:
            lock = None  # waited long enough, or cannot lock: mint alone rather than fail
        try:
            try:
                token = self.get(registry, identity, clock())
            except StoreError as exc:
                self._unusable(exc)
                return mint()
            if token is not None:
                return token
            now = clock()
            failed = _read_failure(path + ".failed", min(started, now - self.failure_ttl), inputs)
            if failed is not None:
                at, message = failed
                if at < started:  # remembered, not shared with a waiter: say so and how to skip
                    message += (
                        f" (remembered from {max(now - at, 0):.0f}s ago; retried after"
                        f" {self.failure_ttl:g}s, or at once with {FAILURE_TTL_VARIABLE}=0)"
                    )
                raise ProviderError(message)
            minted_at = clock()
            try:
                token = mint()
            except HelperError as exc:
                self._remember_failure(path + ".failed", clock(), exc.message, inputs)
                raise
            try:
                self.put(registry, identity, token, minted_at)
            except StoreError as exc:
                self._unusable(exc)
            return token
        finally:
            if lock is not None:
                lock.release()

    def _unusable(self, exc: StoreError) -> None:
        """Say once that tokens are minted without caching, and why."""
        if self.warn is not None and not self._warned:
            self._warned = True
            self.warn(
                f"token cache unusable, minting without it: {exc.message};"
                " set XDG_CACHE_HOME to a writable directory to cache tokens"
            )

    def _remember_failure(self, path: str, at: float, message: str, inputs: str) -> None:
        salt = os.urandom(8).hex()
        record = {"at": at, "message": message, "salt": salt, "inputs": _digest(salt, inputs)}
        try:
            files.write_json(path, record)
        except StoreError:
            pass  # not remembering a failure costs a retry, nothing more

    def entries(self) -> list[dict]:
        """What the cache holds, without secrets: registry, expiry, minted time."""
        try:
            names = sorted(os.listdir(self.directory))
        except OSError:
            return []
        found = []
        for name in names:
            if name.endswith(".json") and not name.startswith("."):
                entry = _read(os.path.join(self.directory, name), None, None)
                if entry is not None:
                    found.append({k: entry[k] for k in ("registry", "expires_at", "minted_at")})
        return found


def _remove_if_expired(path: str, now: float, remembered_since: float) -> int:
    """Remove an expired (or vanished) entry with its lock and failure files: 1, else 0.

    A failure recorded after ``remembered_since`` is still remembered: kept, with its lock.
    """
    try:
        if os.stat(path + ".failed").st_mtime > remembered_since:
            return 0
    except OSError:
        pass
    lock = files.FileLock(path, timeout=0)
    try:
        lock.acquire()
    except StoreError:
        return 0  # in use: left for a later write
    try:
        try:
            entry = _read(path, None, None)
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


def identity_hash(registry: str, identity: Identity) -> str:
    """SHA-256 of ``[registry, [parts...]]`` as JSON: an injective encoding, hashed."""
    parts = identity if isinstance(identity, str) else list(identity)
    text = json.dumps([registry, parts], ensure_ascii=False, separators=(",", ":"))
    return sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _digest(salt: str, inputs: str) -> str:
    """64 bits of a salted SHA-256: enough to tell inputs apart, too few to stand for them."""
    return sha256(f"{salt}\0{inputs}".encode()).hexdigest()[:16]


def _read_failure(path: str, since: float, inputs: str) -> tuple[float, str] | None:
    """(when, error) of a mint from the same inputs that failed at or after ``since``."""
    try:
        with open(path, "rb") as handle:
            data = json.loads(handle.read())
        at, message, salt, digest = data["at"], data["message"], data["salt"], data["inputs"]
    except (OSError, ValueError, TypeError, KeyError, UnicodeDecodeError):
        return None
    if (
        isinstance(at, (int, float))
        and isinstance(message, str)
        and isinstance(salt, str)
        and at >= since
        and digest == _digest(salt, inputs)
    ):
        return float(at), message
    return None


def _read(path: str, registry: str | None, identity: str | None) -> dict | None:
    """A well-formed entry for ``registry`` and identity hash ``identity``, or None.

    With both None (the sweep, doctor's listing) any entry of a known format is read,
    the previous format's included, so that expired ones can be removed. Never an
    error, except for an insecure cache file, which raises as every private file does.
    """
    try:
        with files.open_regular(path) as handle:
            files.check_private(path, os.fstat(handle.fileno()))
            entry = json.loads(handle.read())
    except (OSError, ValueError, UnicodeDecodeError, RecursionError):
        return None
    if (
        not isinstance(entry, dict)
        or entry.get("format") not in (_FORMATS if identity is None else (FORMAT,))
        or (identity is not None and entry.get("identity") != identity)
        or (registry is not None and entry.get("registry") != registry)
        or not all(isinstance(entry.get(k), str) for k in ("registry", "username", "secret"))
        or not all(
            isinstance(entry.get(k), (int, float)) and not isinstance(entry.get(k), bool)
            for k in ("expires_at", "minted_at")
        )
    ):
        return None
    return entry

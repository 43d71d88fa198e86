"""Files that hold secrets or tokens: private, replaced atomically, changed under a lock.

Every file the helper writes goes through here, so one place enforces the rules:
0700 directories, 0600 files whatever the umask, a refusal (not a silent fix) when
someone else could write them, writes to a temporary file that is fsynced and then
renamed over the old one (a crash leaves the old or the new file, never half of one),
and read-modify-write cycles under an exclusive ``flock`` on a side ``.lock`` file, so
concurrent writers never lose each other's changes.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import time

from docker_credential_truss.errors import StoreError

TYPE_CHECKING = False  # importing typing costs start-up time
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import IO

LOCK_TIMEOUT = 30.0


def check_private(path: str, st: os.stat_result) -> None:
    """Refuse a file or directory that another user could change.

    A store that others can write could be made to hand out their credential, so
    this is an error with the fix in it, not something to repair quietly.
    """
    if st.st_uid != os.geteuid():
        raise StoreError(f"{path} belongs to another user; refusing to use it")
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise StoreError(f"{path} is writable by other users; fix with: chmod go-w {path}")


def private_dir(path: str) -> None:
    """Create ``path`` (0700) or check the existing one, tightening group/other read."""
    try:
        _make_dirs(path)
        st = os.stat(path)
    except OSError as exc:
        raise StoreError(f"cannot create directory {path}: {exc.strerror}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise StoreError(f"{path} is not a directory")
    check_private(path, st)
    if st.st_mode & 0o077:
        os.chmod(path, 0o700)


def _make_dirs(path: str) -> None:
    """``os.makedirs`` with every missing parent 0700 as well, as the XDG spec asks.

    os.makedirs gives parents the umask's mode, so under umask 000 the helper's own
    ``~/.cache/docker-credential-truss`` (the parent of ``tokens``) came out 0777.
    """
    parent = os.path.dirname(path)
    if parent and parent != path and not os.path.isdir(parent):
        _make_dirs(parent)
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass


def open_regular(path: str, mode: str = "rb", encoding: str | None = None) -> IO:
    """``open(path, mode)`` for reading, refusing anything but a regular file.

    A FIFO left where a secret or config is expected would block the open, and so
    ``get`` and the docker command behind it, forever; a link to ``/dev/zero`` would
    be read until memory runs out. O_NONBLOCK lets the open return at once so that
    fstat can tell; it has no effect on reading a regular file. A directory raises
    IsADirectoryError, as ``open`` does.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, "is a directory", path)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", path)
        return os.fdopen(fd, mode, encoding=encoding)
    except BaseException:
        os.close(fd)
        raise


def read_text(path: str) -> str:
    """The UTF-8 text of the regular file at ``path`` (never a FIFO or a device).

    Every failure is an OSError, text that is not UTF-8 included, so a caller catches
    one thing and words it with :func:`reason`; FileNotFoundError means no file.
    """
    with open_regular(path, "r", encoding="utf-8") as handle:  # "\r\n" and "\r" read as "\n"
        try:
            return handle.read()
        except UnicodeDecodeError:
            raise OSError(errno.EILSEQ, "not UTF-8 text", path) from None


def reason(exc: OSError) -> str:
    """Why a file could not be read or written, in the system's words; never its content."""
    return exc.strerror or type(exc).__name__


def read_json(path: str, *, private: bool = True) -> dict | None:
    """The JSON object in ``path``, or None when there is no file.

    Raises StoreError for a file that is unreadable, not JSON or not an object; the
    message names the file but never quotes it (it may hold secrets).
    """
    try:
        with open_regular(path) as handle:
            if private:
                check_private(path, os.fstat(handle.fileno()))
                # Whoever can write the directory can swap the file: refuse to read, too.
                directory = os.path.dirname(path) or "."
                check_private(directory, os.stat(directory))
            raw = handle.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {reason(exc)}") from None
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):  # deep nesting: RecursionError
        raise StoreError(f"{path} is not valid JSON; move it aside to start afresh") from None
    if not isinstance(data, dict):
        raise StoreError(f"{path} does not hold a JSON object; move it aside to start afresh")
    return data


def write_json(path: str, data: dict, *, mode: int = 0o600) -> None:
    """Atomically replace ``path`` with ``data`` as compact JSON (0600 unless told otherwise).

    Compact: ``indent`` makes json use its pure-Python encoder, about 4x slower than the
    C one on a large store or helper config. (docker's config.json, which people edit,
    is written in docker's own format by :mod:`dockerconfig`.)
    """
    text = json.dumps(data, separators=(",", ":"))
    write_bytes(path, text.encode() + b"\n", mode=mode)


def write_bytes(path: str, body: bytes, *, mode: int = 0o600) -> None:
    """Atomically replace ``path`` with ``body``: a temporary file, fsynced, renamed."""
    directory = os.path.dirname(path) or "."
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.{os.urandom(4).hex()}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            os.fchmod(fd, mode)  # the umask must not widen or narrow it
            view = memoryview(body)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        _unlink_quietly(tmp)
        raise StoreError(f"cannot write {path}: {exc.strerror}") from None
    _fsync_dir(directory)


def _fsync_dir(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


class FileLock:
    """An exclusive ``flock`` on ``<path>.lock``, waited for at most ``timeout`` seconds.

    flock is released by the kernel when the holder dies, so a killed writer never
    leaves the lock behind. A lock file may be removed only by a process that holds it
    (the token cache removes those of expired entries): so after locking, a process
    checks that the path still names the file it locked, and otherwise locks afresh;
    two processes can never hold locks on two different files of the same name.
    """

    def __init__(self, path: str, timeout: float = LOCK_TIMEOUT) -> None:
        self.path = path + ".lock"
        self.timeout = timeout
        self._fd: int | None = None

    def acquire(self) -> None:
        import fcntl

        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError as exc:
                raise StoreError(f"cannot open lock {self.path}: {exc.strerror}") from None
            delay = 0.005
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        os.close(fd)
                        raise StoreError(
                            f"timed out after {self.timeout:.0f}s waiting for {self.path}"
                        ) from None
                    time.sleep(delay)
                    delay = min(delay * 2, 0.05)
            if _same_file(fd, self.path):
                self._fd = fd
                return
            os.close(fd)  # removed by its holder while we waited: lock the new one

    def remove(self) -> None:
        """Unlink the lock file; only while holding it (see the class docstring)."""
        if self._fd is not None:
            _unlink_quietly(self.path)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _same_file(fd: int, path: str) -> bool:
    try:
        st = os.stat(path)
    except OSError:
        return False
    mine = os.fstat(fd)
    return (st.st_ino, st.st_dev) == (mine.st_ino, mine.st_dev)


def update_json(path: str, change: Callable[[dict], object], *, mode: int = 0o600) -> dict:
    """Read-modify-write ``path`` under its lock; ``change`` edits the dict in place.

    A corrupt file raises StoreError before ``change`` runs, so what is there is never
    overwritten by a guess.
    """
    private_dir(os.path.dirname(path))
    with FileLock(path):
        data = read_json(path, private=mode == 0o600) or {}
        change(data)
        write_json(path, data, mode=mode)
        sweep_temporaries(path)
    return data


def sweep_temporaries(path: str, *, dead_writers_only: bool = False) -> None:
    """Remove temporary copies of ``path`` left by writers that were killed mid-write.

    Each holds a copy of the secrets or a token. Under ``path``'s lock, which every
    writer through ``update_json`` holds while its temporary file exists, any other one
    is a dead writer's. Writers that may write without the lock (the token cache, after
    a bounded wait) are told apart by the process id in the file's name instead.
    """
    directory, prefix = os.path.dirname(path) or ".", f".{os.path.basename(path)}."
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if not name.startswith(prefix):
            continue
        if dead_writers_only and _writer_alive(name[len(prefix) :]):
            continue
        _unlink_quietly(os.path.join(directory, name))


def _writer_alive(suffix: str) -> bool:
    """Whether the process named in a temporary file's ``<pid>.<random>`` suffix lives."""
    pid = suffix.split(".", 1)[0]
    if not pid.isdigit():
        return True  # not one of ours: leave it
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True

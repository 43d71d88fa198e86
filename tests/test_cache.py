"""The token cache: freshness as a function of time, identity keys, damaged files."""

import os
import threading
import time
from pathlib import Path

import pytest

from docker_credential_truss.cache import MARGIN, TokenCache, identity_hash, is_fresh
from docker_credential_truss.errors import StoreError
from docker_credential_truss.files import FileLock
from docker_credential_truss.minting import Token

NOW = 1_800_000_000.0


def test_freshness_keeps_a_margin():
    expires = NOW + 12 * 3600
    assert is_fresh(expires, NOW, NOW)
    assert is_fresh(expires, NOW, expires - MARGIN - 1)
    assert not is_fresh(expires, NOW, expires - MARGIN)
    assert not is_fresh(expires, NOW, expires + 1)


def test_short_lived_tokens_keep_half_their_life():
    assert is_fresh(NOW + 60, NOW, NOW + 29)
    assert not is_fresh(NOW + 60, NOW, NOW + 30)
    assert not is_fresh(NOW, NOW, NOW)  # born expired: never served


def test_put_then_get(tmp_path):
    cache = TokenCache(str(tmp_path / "tokens"))
    cache.put("reg", "key-id", Token("AWS", "pw", NOW + 3600), NOW)
    token = cache.get("reg", "key-id", NOW + 1)
    assert (token.username, token.secret) == ("AWS", "pw")
    assert cache.get("reg", "other-key-id", NOW + 1) is None
    assert cache.get("other-reg", "key-id", NOW + 1) is None
    assert cache.get("reg", "key-id", NOW + 3600) is None


def test_files_are_private_and_named_by_hash(tmp_path):
    cache = TokenCache(str(tmp_path / "tokens"))
    cache.put("reg.example.com", "AKIAEXAMPLE", Token("AWS", "pw", NOW + 3600), NOW)
    (name,) = [n for n in os.listdir(cache.directory) if n.endswith(".json")]
    assert "AKIA" not in name and "reg" not in name
    assert os.stat(cache.directory).st_mode & 0o777 == 0o700
    assert os.stat(os.path.join(cache.directory, name)).st_mode & 0o777 == 0o600


def test_truncated_or_foreign_files_are_misses_and_get_replaced(tmp_path):
    cache = TokenCache(str(tmp_path / "tokens"))
    cache.put("reg", "id", Token("AWS", "pw", NOW + 3600), NOW)
    path = cache.path("reg", "id")
    for junk in (b'{"format": 1, "usern', b"[]", b'{"format": 1}', b"\xff"):
        with open(path, "wb") as handle:
            handle.write(junk)
        assert cache.get("reg", "id", NOW) is None
    token = cache.fetch("reg", "id", lambda: Token("AWS", "new", NOW + 3600), lambda: NOW)
    assert token.secret == "new"
    assert cache.get("reg", "id", NOW).secret == "new"


def test_fetch_mints_once_for_many_threads(tmp_path):
    cache = TokenCache(str(tmp_path / "tokens"))
    calls = []
    gate = threading.Event()

    def mint():
        calls.append(1)
        gate.wait(0.2)
        return Token("AWS", "pw", NOW + 3600)

    results = []
    threads = [
        threading.Thread(
            target=lambda: results.append(cache.fetch("r", "i", mint, lambda: NOW).secret)
        )
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert results == ["pw"] * 8


def test_tokens_without_expiry_are_not_cached(tmp_path):
    cache = TokenCache(str(tmp_path / "tokens"))
    cache.put("reg", "id", Token("u", "p", None), NOW)
    assert not os.path.exists(cache.directory)


def test_waiters_share_a_failed_mint_and_later_calls_try_again(tmp_path):
    from docker_credential_truss.errors import ProviderError

    cache = TokenCache(str(tmp_path / "tokens"), failure_ttl=0)  # sharing with waiters only
    calls = []

    def failing_mint():
        calls.append(1)
        threading.Event().wait(0.2)
        raise ProviderError("reg: GetAuthorizationToken failed (AccessDenied)")

    errors = []

    def fetch():
        try:
            cache.fetch("reg", "id", failing_mint)
        except ProviderError as exc:
            errors.append(exc.message)

    threads = [threading.Thread(target=fetch) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert errors == ["reg: GetAuthorizationToken failed (AccessDenied)"] * 6
    token = cache.fetch("reg", "id", lambda: Token("AWS", "pw", NOW + 3600), lambda: NOW)
    assert token.secret == "pw"


def test_file_name_is_the_sha256_hashlib_gives(tmp_path):
    """cache.py hashes with CPython's built-in SHA-256 to avoid loading OpenSSL; the
    names must not depend on which implementation a build has."""
    import hashlib

    cache = TokenCache(str(tmp_path / "tokens"))
    encoded = b'["reg.example.com",["AWS_IAM","AKIAEXAMPLE"]]'
    expected = hashlib.sha256(encoded).hexdigest() + ".json"
    assert os.path.basename(cache.path("reg.example.com", ("AWS_IAM", "AKIAEXAMPLE"))) == expected


@pytest.mark.parametrize(
    ("first", "second"),
    [
        # issue 21, #7: AWS_ASSUME_ROLE's joined identity let these two be one key
        (
            ("AWS_ASSUME_ROLE", "arn:aws:iam::1:role/a@eu-west-1:external-id=/r", "us-east-1", ""),
            ("AWS_ASSUME_ROLE", "arn:aws:iam::1:role/a", "eu-west-1", "/r@us-east-1:external-id="),
        ),
        (("a\nb", "c"), ("a", "b\nc")),
        (("a:b", "c"), ("a", "b:c")),
        (("ab",), ("a", "b")),
        (("",), ()),
        ("id", ("id",)),
    ],
)
def test_identities_that_differ_in_any_part_never_share_an_entry(tmp_path, first, second):
    cache = TokenCache(str(tmp_path / "tokens"))
    assert cache.path("reg", first) != cache.path("reg", second)
    cache.put("reg", first, Token("u", "token-for-first", NOW + 3600), NOW)
    assert cache.get("reg", second, NOW) is None


def test_an_entry_copied_under_another_identitys_name_is_never_served(tmp_path):
    """The file name is a hash of the identity; the entry records it too, so a copy or a
    link put under another identity's name (by someone who can write there) is a miss."""
    cache = TokenCache(str(tmp_path / "tokens"))
    cache.put("reg", ("role-a",), Token("u", "token-for-a", NOW + 3600), NOW)
    os.symlink(cache.path("reg", ("role-a",)), cache.path("reg", ("role-b",)))
    assert cache.get("reg", ("role-b",), NOW) is None
    token = cache.fetch("reg", ("role-b",), lambda: Token("u", "token-for-b", NOW + 3600))
    assert token.secret == "token-for-b"
    assert cache.get("reg", ("role-a",), NOW).secret == "token-for-a"


def test_a_tokens_directory_others_can_write_is_refused_on_read(tmp_path):
    cache = TokenCache(str(tmp_path / "tokens"))
    cache.put("reg", ("id",), Token("u", "s", NOW + 3600), NOW)
    os.chmod(cache.directory, 0o777)
    with pytest.raises(StoreError, match="writable by other users; fix with: chmod go-w"):
        cache.get("reg", ("id",), NOW)
    said = []
    cache.warn = said.append
    token = cache.fetch("reg", ("id",), lambda: Token("u", "minted", NOW + 3600), lambda: NOW)
    assert token.secret == "minted" and len(said) == 1 and "writable by other" in said[0]


def test_an_expired_entry_of_the_previous_format_is_swept_and_never_served(tmp_path):
    from docker_credential_truss import files

    cache = TokenCache(str(tmp_path / "tokens"), sweep_age=0)
    files.private_dir(cache.directory)
    old = os.path.join(cache.directory, "0" * 64 + ".json")
    entry = {"format": 1, "registry": "reg", "username": "u", "secret": "s"}
    files.write_json(old, {**entry, "expires_at": NOW - 1, "minted_at": NOW - 3600})
    os.utime(old, (NOW - 3600, NOW - 3600))
    assert cache.sweep(NOW) == 1 and not os.path.exists(old)


def test_an_entry_for_another_registry_is_never_served(tmp_path):
    """A valid, fresh entry for A placed at B's file (a copy, a hash collision, a bug)
    is not B's token."""
    import shutil

    cache = TokenCache(str(tmp_path / "tokens"))
    cache.put("a.example.com", "id", Token("AWS", "token-for-a", NOW + 3600), NOW)
    shutil.copy(cache.path("a.example.com", "id"), cache.path("b.example.com", "id"))
    assert cache.get("b.example.com", "id", NOW) is None
    token = cache.fetch("b.example.com", "id", lambda: Token("AWS", "token-for-b", NOW + 3600))
    assert token.secret == "token-for-b"
    assert cache.get("a.example.com", "id", NOW).secret == "token-for-a"


def test_a_writer_that_waited_too_long_mints_and_writes_anyway(tmp_path):
    """The lock's holder may hang; BuildKit's session would end first. The waiter mints
    on its own, stores its token, and leaves the holder's lock and files alone."""
    from docker_credential_truss import files

    cache = TokenCache(str(tmp_path / "tokens"), lock_wait=0.05)
    files.private_dir(cache.directory)
    path = cache.path("reg", "id")
    holder = files.FileLock(path)
    holder.acquire()
    try:
        # The holder is half-way through its own write: its temporary file must survive.
        live = f".{os.path.basename(path)}.{os.getpid()}.feedf00d"
        with open(os.path.join(cache.directory, live), "w") as handle:
            handle.write("{}")
        token = cache.fetch("reg", "id", lambda: Token("AWS", "minted", NOW + 3600), lambda: NOW)
        assert token.secret == "minted"
        assert cache.get("reg", "id", NOW).secret == "minted"
        assert live in os.listdir(cache.directory)
        assert holder._fd is not None  # still held: the waiter never took or dropped it
    finally:
        holder.release()


class _WaitClock:
    """``time`` for the file lock: ``sleep`` advances ``monotonic`` instead of waiting."""

    def __init__(self) -> None:
        self.now = 500.0
        self.slept = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds


def test_a_waiter_waits_the_caches_own_bound_for_a_held_lock(tmp_path, monkeypatch):
    """The cache's bound (45 s, under BuildKit's 60 s session) applies, not the file
    lock's general one: the waiter gives up after 45 s of a held lock, then mints."""
    from docker_credential_truss import cache as cache_module
    from docker_credential_truss import files

    clock = _WaitClock()
    monkeypatch.setattr(files, "time", clock)
    cache = TokenCache(str(tmp_path / "tokens"))
    files.private_dir(cache.directory)
    holder = files.FileLock(cache.path("reg", "id"))
    holder.acquire()
    try:
        token = cache.fetch("reg", "id", lambda: Token("AWS", "minted", NOW + 3600), lambda: NOW)
    finally:
        holder.release()
    assert token.secret == "minted"
    assert cache_module.LOCK_WAIT == 45.0
    assert 45.0 <= clock.slept < 45.1


def test_put_sweeps_dead_writers_temporaries_but_not_live_ones(tmp_path):
    import subprocess
    import sys

    cache = TokenCache(str(tmp_path / "tokens"))
    cache.put("reg", "id", Token("AWS", "old", NOW + 3600), NOW)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    base = os.path.basename(cache.path("reg", "id"))
    dead, live = f".{base}.{child.pid}.00000000", f".{base}.{os.getpid()}.11111111"
    for name in (dead, live):
        with open(os.path.join(cache.directory, name), "w") as handle:
            handle.write("{}")
    cache.put("reg", "id", Token("AWS", "new", NOW + 3600), NOW)
    left = os.listdir(cache.directory)
    assert dead not in left
    assert live in left


def test_a_failed_mint_is_remembered_only_for_waiters_that_started_before_it(tmp_path):
    """With the failure TTL at 0, only what waiters share remains of a failure."""
    from docker_credential_truss.errors import ProviderError

    cache = TokenCache(str(tmp_path / "tokens"), failure_ttl=0)

    def refused():
        raise ProviderError("reg: refused")

    with pytest.raises(ProviderError):
        cache.fetch("reg", "id", refused, lambda: NOW)
    # A later call tries afresh rather than repeat the old failure.
    token = cache.fetch("reg", "id", lambda: Token("AWS", "pw", NOW + 3600), lambda: NOW + 1)
    assert token.secret == "pw"


def test_entries_show_registry_and_times_but_no_secret(tmp_path):
    cache = TokenCache(str(tmp_path / "tokens"))
    assert cache.entries() == []  # no directory yet
    cache.put("b.example.com", "id", Token("AWS", "secret-b", NOW + 7200), NOW)
    cache.put("a.example.com", "id", Token("AWS", "secret-a", NOW + 3600), NOW + 5)
    for junk_name, junk in ((".hidden.json", b"{}"), ("notes.txt", b"x"), ("bad.json", b"[")):
        (tmp_path / "tokens" / junk_name).write_bytes(junk)
    entries = cache.entries()
    assert sorted(entries, key=lambda e: e["registry"]) == [
        {"registry": "a.example.com", "expires_at": NOW + 3600, "minted_at": NOW + 5},
        {"registry": "b.example.com", "expires_at": NOW + 7200, "minted_at": NOW},
    ]
    # in file-name order (the hash's), so stable from one call to the next
    files_in_order = [os.path.basename(cache.path(e["registry"], "id")) for e in entries]
    assert files_in_order == sorted(files_in_order)


def test_a_token_living_under_a_second_keeps_half_its_life_too():
    assert is_fresh(NOW + 0.8, NOW, NOW + 0.3)
    assert not is_fresh(NOW + 0.8, NOW, NOW + 0.4)


def test_a_cached_token_keeps_its_expiry(tmp_path):
    cache = TokenCache(str(tmp_path / "tokens"))
    cache.put("reg", "id", Token("AWS", "pw", NOW + 3600), NOW)
    assert cache.get("reg", "id", NOW).expires_at == NOW + 3600


def test_a_valid_entry_under_a_hidden_name_is_not_listed(tmp_path):
    import shutil

    cache = TokenCache(str(tmp_path / "tokens"))
    cache.put("reg", "id", Token("AWS", "pw", NOW + 3600), NOW)
    shutil.copy(cache.path("reg", "id"), os.path.join(cache.directory, ".copy.json"))
    shutil.copy(cache.path("reg", "id"), os.path.join(cache.directory, "copy.json.bak"))
    assert [e["registry"] for e in cache.entries()] == ["reg"]


@pytest.mark.parametrize(
    "change",
    [
        {"username": 5},
        {"secret": None},
        {"registry": ["reg"]},
        {"expires_at": "soon"},
        {"expires_at": True},
        {"minted_at": None},
        {"format": 1},
        {"format": 3},
        {"identity": "0" * 64},
        {"identity": None},
    ],
)
def test_an_entry_with_a_wrong_field_is_a_miss(tmp_path, change):
    import json

    cache = TokenCache(str(tmp_path / "tokens"))
    cache.put("reg", "id", Token("AWS", "pw", NOW + 3600), NOW)
    path = cache.path("reg", "id")
    with open(path) as handle:
        entry = json.load(handle)
    entry.update(change)
    with open(path, "w") as handle:
        json.dump(entry, handle)
    assert cache.get("reg", "id", NOW) is None


def test_an_insecure_cache_file_is_refused_by_name(tmp_path):
    from docker_credential_truss.errors import StoreError

    cache = TokenCache(str(tmp_path / "tokens"))
    cache.put("reg", "id", Token("AWS", "pw", NOW + 3600), NOW)
    os.chmod(cache.path("reg", "id"), 0o622)
    with pytest.raises(StoreError) as caught:
        cache.get("reg", "id", NOW)
    assert caught.value.message.startswith(cache.path("reg", "id") + " is writable by other")


def _age(directory, seconds):
    """Make every file in ``directory`` look last written ``seconds`` ago."""
    then = time.time() - seconds
    for name in os.listdir(directory):
        os.utime(os.path.join(directory, name), (then, then))


def test_a_write_removes_expired_entries_with_their_lock_and_failure_files(tmp_path):
    directory = str(tmp_path / "tokens")
    cache = TokenCache(directory)
    now = time.time()
    cache.put("reg.test", "old-key", Token("u", "s", now - 60), now - 3600)
    old = cache.path("reg.test", "old-key")
    with FileLock(old):
        pass  # leaves old.json.lock, as fetch does
    with open(old + ".failed", "w") as handle:
        handle.write("{}")
    cache.put("reg.test", "live-key", Token("u", "s", now + 3600), now)
    live = cache.path("reg.test", "live-key")
    with FileLock(live):
        pass
    _age(directory, 3600)
    cache.put("reg.test", "new-key", Token("u", "s", now + 3600), now)
    left = sorted(os.listdir(directory))
    assert not any(n.startswith(os.path.basename(old)) for n in left), left
    assert os.path.basename(live) in left and os.path.basename(live) + ".lock" in left
    assert cache.get("reg.test", "live-key", now) is not None
    assert cache.get("reg.test", "new-key", now) is not None


def test_recently_written_entries_are_not_even_read(tmp_path):
    directory = str(tmp_path / "tokens")
    cache = TokenCache(directory)
    now = time.time()
    cache.put("reg.test", "old-key", Token("u", "s", now - 60), now - 3600)
    cache.put("reg.test", "new-key", Token("u", "s", now + 3600), now)
    assert os.path.exists(cache.path("reg.test", "old-key"))  # written just now: kept


def test_each_write_removes_a_bounded_number_and_the_next_writes_go_on(tmp_path):
    from docker_credential_truss import cache as module

    directory = str(tmp_path / "tokens")
    cache = TokenCache(directory)
    now = time.time()
    for i in range(3 * module.SWEEP_READS):
        cache.put("reg.test", f"key{i}", Token("u", "s", now - 60), now - 3600)
    _age(directory, 3600)
    assert cache.sweep(now) == module.SWEEP_READS
    assert cache.sweep(now) == module.SWEEP_READS
    assert cache.sweep(now) == module.SWEEP_READS
    assert os.listdir(directory) == []


def test_an_entry_whose_lock_is_held_is_left_alone(tmp_path):
    directory = str(tmp_path / "tokens")
    cache = TokenCache(directory, sweep_age=0)
    now = time.time()
    cache.put("reg.test", "busy", Token("u", "s", now - 60), now - 3600)
    busy = cache.path("reg.test", "busy")
    later = time.time() + 1  # after the file was written
    with FileLock(busy):
        assert cache.sweep(later) == 0
        assert os.path.exists(busy)
    assert cache.sweep(later) == 1
    assert not os.path.exists(busy) and not os.path.exists(busy + ".lock")


def test_a_lock_removed_while_waited_for_is_taken_afresh(tmp_path):
    path = str(tmp_path / "entry.json")
    holder = FileLock(path)
    holder.acquire()
    second = FileLock(path, timeout=10)
    waiter = threading.Thread(target=second.acquire)
    waiter.start()
    time.sleep(0.2)  # the waiter has opened the old lock file and polls it
    holder.remove()
    holder.release()
    waiter.join(10)
    try:
        held = os.fstat(second._fd)
        # it holds the file that is at the name now, not the removed one (no links left)
        assert held.st_nlink == 1 and held.st_ino == os.stat(path + ".lock").st_ino
    finally:
        second.release()


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _failing(calls: list):
    from docker_credential_truss.errors import ProviderError

    def mint():
        calls.append(1)
        raise ProviderError("reg: cannot reach http://127.0.0.1:9 (connection failed)")

    return mint


def test_a_failed_mint_is_remembered_for_the_ttl_by_later_processes(tmp_path):
    from docker_credential_truss.errors import ProviderError

    clock, calls = Clock(), []
    with pytest.raises(ProviderError):
        TokenCache(str(tmp_path), failure_ttl=30).fetch("reg", "id", _failing(calls), clock, "k")
    clock.now += 29
    later = TokenCache(str(tmp_path), failure_ttl=30)  # a new process
    with pytest.raises(ProviderError) as caught:
        later.fetch("reg", "id", _failing(calls), clock, "k")
    assert calls == [1], "a remembered failure must not mint again"
    assert caught.value.message.startswith("reg: cannot reach http://127.0.0.1:9")
    assert "remembered from 29s ago" in caught.value.message
    assert "DOCKER_CREDENTIAL_TRUSS_FAILURE_TTL=0" in caught.value.message
    clock.now += 2  # past the TTL: tried again
    with pytest.raises(ProviderError):
        later.fetch("reg", "id", _failing(calls), clock, "k")
    assert calls == [1, 1]


def test_changed_inputs_or_identity_bypass_a_remembered_failure(tmp_path):
    from docker_credential_truss.errors import ProviderError

    clock, calls = Clock(), []
    cache = TokenCache(str(tmp_path), failure_ttl=30)
    with pytest.raises(ProviderError):
        cache.fetch("reg", "id", _failing(calls), clock, "old-secret")
    good = Token("AWS", "pw", NOW + 3600)
    assert cache.fetch("reg", "id", lambda: good, clock, "fixed-secret").secret == "pw"
    with pytest.raises(ProviderError):
        cache.fetch("reg2", "id", _failing(calls), clock, "old-secret")
    assert cache.fetch("reg2", "id2", lambda: good, clock, "old-secret").secret == "pw"
    with open(cache.path("reg", "id") + ".failed") as handle:
        assert "old-secret" not in handle.read()  # a salted, truncated hash only


def test_a_zero_ttl_forgets_failures_at_once(tmp_path):
    from docker_credential_truss.errors import ProviderError

    clock, calls = Clock(), []
    for _ in range(2):
        with pytest.raises(ProviderError):
            TokenCache(str(tmp_path), failure_ttl=0).fetch("r", "i", _failing(calls), clock)
        clock.now += 0.1
    assert calls == [1, 1]


@pytest.mark.parametrize("value", ["-1", "abc", "3601"])
def test_a_bad_failure_ttl_is_a_config_error(value):
    from docker_credential_truss.cache import failure_ttl
    from docker_credential_truss.errors import ConfigError

    assert failure_ttl({}) == 30.0
    assert failure_ttl({"DOCKER_CREDENTIAL_TRUSS_FAILURE_TTL": "0"}) == 0.0
    with pytest.raises(ConfigError):
        failure_ttl({"DOCKER_CREDENTIAL_TRUSS_FAILURE_TTL": value})


def test_an_unusable_cache_mints_without_caching_and_warns_once(tmp_path):
    (tmp_path / "file").write_text("not a directory")
    said: list[str] = []
    cache = TokenCache(str(tmp_path / "file" / "tokens"), warn=said.append)
    for _ in range(2):
        token = cache.fetch("r", "i", lambda: Token("AWS", "pw", NOW + 3600), Clock())
        assert token.secret == "pw"
    assert len(said) == 1 and "minting without it" in said[0] and "XDG_CACHE_HOME" in said[0]


def test_a_cache_directory_of_another_owner_is_not_used_but_not_fatal(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root to give a directory away")
    directory = tmp_path / "tokens"
    directory.mkdir(mode=0o700)
    os.chown(directory, 65534, 65534)
    said: list[str] = []
    cache = TokenCache(str(directory), warn=said.append)
    token = cache.fetch("r", "i", lambda: Token("AWS", "pw", NOW + 3600), Clock())
    assert token.secret == "pw" and os.listdir(directory) == []
    assert len(said) == 1 and "belongs to another user" in said[0]


# The sweep, rule by rule. Times are injected: every file's mtime is set relative to
# NOW, and NOW is passed to sweep(), so nothing here depends on the real clock.


def _write_entry(cache, registry, identity, expires_at, written_at):
    """An entry as put() writes it, last written at ``written_at``; its path."""
    from docker_credential_truss import files

    files.private_dir(cache.directory)
    path = cache.path(registry, identity)
    entry = {"format": 2, "registry": registry, "username": "u", "secret": "s"}
    entry["identity"] = identity_hash(registry, identity)
    files.write_json(path, {**entry, "expires_at": expires_at, "minted_at": written_at})
    os.utime(path, (written_at, written_at))
    return path


def _touch(path, written_at, text="{}"):
    with open(path, "w") as handle:
        handle.write(text)
    os.utime(path, (written_at, written_at))


def test_a_sweep_without_a_directory_removes_nothing(tmp_path):
    assert TokenCache(str(tmp_path / "never-created")).sweep(NOW) == 0


def test_a_sweep_removes_exactly_the_expired_entries_and_orphan_locks(tmp_path):
    """Interleaved with what it must skip (dot files, locks of entries still there,
    failure records, other files, recent writes, dangling links): skipping one must
    not end the scan, and the count is what was removed."""
    cache = TokenCache(str(tmp_path / "tokens"))
    old = NOW - 3600
    expired = []
    for i in range(6):
        path = _write_entry(cache, "reg.test", f"expired{i}", NOW - 60, old)
        _touch(path + ".lock", old, "")
        _touch(path + ".failed", old)
        expired.append(path)
    orphans = [cache.path("reg.test", f"orphan{i}") + ".lock" for i in range(2)]
    for lock in orphans:
        _touch(lock, old, "")
    kept = []
    for i in range(3):
        path = _write_entry(cache, "reg.test", f"live{i}", NOW + 3600, old)
        _touch(path + ".lock", old, "")
        kept += [path, path + ".lock"]
        kept.append(_write_entry(cache, "reg.test", f"recent{i}", NOW - 60, NOW - 10))
    expired_text = Path(expired[0]).read_text()
    for i in range(4):
        hidden = os.path.join(cache.directory, f".hidden{i}.json")
        _touch(hidden, old, expired_text)  # an expired entry, but a dot file
        temporary = os.path.join(cache.directory, f".{os.path.basename(expired[0])}.1.ab{i}")
        _touch(temporary, old)
        other = os.path.join(cache.directory, f"notes{i}.txt")
        _touch(other, old)
        dangling = os.path.join(cache.directory, f"gone{i}.json")
        os.symlink(os.path.join(cache.directory, "nowhere"), dangling)
        kept += [hidden, temporary, other, dangling]
    assert cache.sweep(NOW) == len(expired) + len(orphans)
    left = sorted(os.listdir(cache.directory))
    assert left == sorted(os.path.basename(path) for path in kept)


def test_an_entry_is_read_once_not_written_for_exactly_the_sweep_age(tmp_path):
    cache = TokenCache(str(tmp_path / "tokens"), sweep_age=900)
    at_age = _write_entry(cache, "reg.test", "at-age", NOW - 60, NOW - 900)
    younger = _write_entry(cache, "reg.test", "younger", NOW - 60, NOW - 899)
    assert cache.sweep(NOW) == 1
    assert not os.path.exists(at_age) and os.path.exists(younger)


def test_an_entry_expiring_exactly_now_is_removed(tmp_path):
    cache = TokenCache(str(tmp_path / "tokens"))
    ending = _write_entry(cache, "reg.test", "ending", NOW, NOW - 3600)
    later = _write_entry(cache, "reg.test", "later", NOW + 1, NOW - 3600)
    assert cache.sweep(NOW) == 1
    assert not os.path.exists(ending) and os.path.exists(later)


def test_an_expired_entry_whose_failure_is_remembered_is_kept_until_the_ttl_ends(tmp_path):
    """Its failure record answers the next get for failure_ttl seconds; removing the
    entry would remove that record too. A record exactly failure_ttl old is over."""
    cache = TokenCache(str(tmp_path / "tokens"), failure_ttl=30)
    remembered = _write_entry(cache, "reg.test", "remembered", NOW - 60, NOW - 3600)
    _touch(remembered + ".failed", NOW - 29)
    _touch(remembered + ".lock", NOW - 3600, "")
    over = _write_entry(cache, "reg.test", "over", NOW - 60, NOW - 3600)
    _touch(over + ".failed", NOW - 30)
    assert cache.sweep(NOW) == 1
    left = set(os.listdir(cache.directory))
    assert {os.path.basename(remembered) + s for s in ("", ".failed", ".lock")} <= left
    assert not any(name.startswith(os.path.basename(over)) for name in left)


def test_insecure_or_damaged_entries_are_left_and_not_counted(tmp_path):
    """An insecure file is for doctor to report; a damaged one is replaced when its
    identity mints again. Neither is the sweep's to remove."""
    cache = TokenCache(str(tmp_path / "tokens"))
    insecure = _write_entry(cache, "reg.test", "insecure", NOW - 60, NOW - 3600)
    os.chmod(insecure, 0o622)
    damaged = cache.path("reg.test", "damaged")
    _touch(damaged, NOW - 3600, '{"format": 1, "regis')
    assert cache.sweep(NOW) == 0
    assert os.path.exists(insecure) and os.path.exists(damaged)


def test_a_sweep_looks_at_no_more_than_sweep_scan_directory_entries(tmp_path, monkeypatch):
    from docker_credential_truss import cache as module

    monkeypatch.setattr(module, "SWEEP_SCAN", 3)
    cache = TokenCache(str(tmp_path / "tokens"))
    for i in range(5):
        _write_entry(cache, "reg.test", f"expired{i}", NOW - 60, NOW - 3600)
    assert cache.sweep(NOW) == 3
    assert cache.sweep(NOW) == 2


def test_the_failure_ttl_takes_its_bounds_and_names_them_when_refused():
    from docker_credential_truss.cache import failure_ttl
    from docker_credential_truss.errors import ConfigError

    assert failure_ttl({"DOCKER_CREDENTIAL_TRUSS_FAILURE_TTL": "3600"}) == 3600.0
    assert failure_ttl({"DOCKER_CREDENTIAL_TRUSS_FAILURE_TTL": " 2.5 "}) == 2.5
    with pytest.raises(ConfigError) as caught:
        failure_ttl({"DOCKER_CREDENTIAL_TRUSS_FAILURE_TTL": "soon"})
    assert caught.value.message == (
        "DOCKER_CREDENTIAL_TRUSS_FAILURE_TTL should be a number of seconds (0 to 3600)"
    )


def test_the_unusable_cache_warning_word_for_word(tmp_path):
    (tmp_path / "file").write_text("not a directory")
    directory = str(tmp_path / "file" / "tokens")
    said: list[str] = []
    TokenCache(directory, warn=said.append).fetch(
        "r", "i", lambda: Token("AWS", "pw", NOW + 3600), Clock()
    )
    assert said == [
        f"token cache unusable, minting without it: cannot create directory {directory}:"
        " Not a directory; set XDG_CACHE_HOME to a writable directory to cache tokens"
    ]


def test_an_entry_made_insecure_while_waiting_for_the_lock_is_refused(tmp_path):
    """The look under the lock checks the file as the first look does: an entry that
    became writable by others meanwhile is not served, not replaced, and said once."""
    cache_dir = str(tmp_path / "tokens")
    said: list[str] = []
    cache = TokenCache(cache_dir, warn=said.append)
    path = cache.path("reg", "id")
    calls = []

    def clock():  # the second reading is the look under the lock: plant the file first
        calls.append(1)
        if len(calls) == 2:
            _write_entry(TokenCache(cache_dir), "reg", "id", NOW + 3600, NOW)
            os.chmod(path, 0o622)
        return NOW

    token = cache.fetch("reg", "id", lambda: Token("AWS", "minted", NOW + 3600), clock)
    assert token.secret == "minted"
    assert os.stat(path).st_mode & 0o777 == 0o622  # left for doctor to report
    assert said == [
        f"token cache unusable, minting without it: {path} is writable by other users;"
        f" fix with: chmod go-w {path}; set XDG_CACHE_HOME to a writable directory to"
        " cache tokens"
    ]


def test_a_token_that_cannot_be_stored_is_returned_and_the_reason_said(tmp_path):
    """The directory was opened to others while the mint ran: the token is still the
    answer, not written there, and the warning names the directory."""
    directory = str(tmp_path / "tokens")
    said: list[str] = []
    cache = TokenCache(directory, warn=said.append)

    def mint():
        os.chmod(directory, 0o777)
        return Token("AWS", "minted", NOW + 3600)

    assert cache.fetch("reg", "id", mint, Clock()).secret == "minted"
    assert not os.path.exists(cache.path("reg", "id"))
    assert len(said) == 1 and f"{directory} is writable by other users" in said[0]


def test_a_cached_token_is_served_without_the_lock(tmp_path):
    """A hit reads one file and writes nothing: no lock file, no wait behind a minter."""
    cache = TokenCache(str(tmp_path / "tokens"))
    _write_entry(cache, "reg", "id", NOW + 3600, NOW)
    token = cache.fetch("reg", "id", lambda: Token("AWS", "minted", NOW + 3600), Clock())
    assert token.secret == "s"
    assert not os.path.exists(cache.path("reg", "id") + ".lock")


def test_a_failure_at_the_instant_a_call_starts_is_shared_not_remembered(tmp_path):
    """at >= started: the failure came while this call waited, so it is the answer as
    is, without the 'remembered' note (which is for failures from before the call)."""
    from docker_credential_truss.errors import ProviderError

    clock, calls = Clock(), []
    with pytest.raises(ProviderError):
        TokenCache(str(tmp_path), failure_ttl=30).fetch("reg", "id", _failing(calls), clock)
    with pytest.raises(ProviderError) as caught:
        TokenCache(str(tmp_path), failure_ttl=30).fetch("reg", "id", _failing(calls), clock)
    assert calls == [1]
    assert caught.value.message == "reg: cannot reach http://127.0.0.1:9 (connection failed)"


def test_a_failure_remembered_from_under_a_second_ago_says_0s(tmp_path):
    from docker_credential_truss.errors import ProviderError

    clock, calls = Clock(), []
    with pytest.raises(ProviderError):
        TokenCache(str(tmp_path), failure_ttl=30).fetch("reg", "id", _failing(calls), clock)
    clock.now += 0.2
    with pytest.raises(ProviderError) as caught:
        TokenCache(str(tmp_path), failure_ttl=30).fetch("reg", "id", _failing(calls), clock)
    assert "(remembered from 0s ago; retried after 30s," in caught.value.message


def test_the_failure_record_holds_a_fresh_salt_and_64_bits_of_its_hash(tmp_path):
    """The record other helper versions read: a new 8-byte salt for each failure, and
    the first 16 hex digits of SHA-256(salt NUL inputs), never the inputs."""
    import hashlib
    import json

    from docker_credential_truss.errors import ProviderError

    cache, clock, salts = TokenCache(str(tmp_path), failure_ttl=0), Clock(), []
    for _ in range(2):
        with pytest.raises(ProviderError):
            cache.fetch("reg", "id", _failing([]), clock, "the-inputs")
        clock.now += 1
        with open(cache.path("reg", "id") + ".failed") as handle:
            record = json.load(handle)
        assert sorted(record) == ["at", "inputs", "message", "salt"]
        salt = record["salt"]
        assert len(salt) == 16 and int(salt, 16) >= 0
        expected = hashlib.sha256(f"{salt}\0the-inputs".encode()).hexdigest()[:16]
        assert record["inputs"] == expected
        salts.append(salt)
    assert salts[0] != salts[1]


def test_a_failure_at_the_instant_a_call_starts_is_shared_even_with_a_zero_ttl(tmp_path):
    """A TTL of 0 keeps only the sharing with waiters, and a call that started at the
    very time of the failure counts as one of them (at >= started)."""
    from docker_credential_truss.errors import ProviderError

    clock, calls = Clock(), []
    for _ in range(2):
        with pytest.raises(ProviderError) as caught:
            TokenCache(str(tmp_path), failure_ttl=0).fetch("r", "i", _failing(calls), clock)
        assert "remembered" not in caught.value.message
    assert calls == [1]


def test_no_inputs_means_no_secret_material(tmp_path):
    """A mint that reads no secret (an instance role, the metadata server) passes ""
    or nothing: the same inputs, so the same remembered failure."""
    from docker_credential_truss.errors import ProviderError

    clock, calls = Clock(), []
    with pytest.raises(ProviderError):
        TokenCache(str(tmp_path)).fetch("r", "i", _failing(calls), clock, inputs="")
    clock.now += 1
    with pytest.raises(ProviderError) as caught:
        TokenCache(str(tmp_path)).fetch("r", "i", _failing(calls), clock)
    assert calls == [1] and "remembered from 1s ago" in caught.value.message

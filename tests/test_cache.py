"""The token cache: freshness as a function of time, identity keys, damaged files."""

import os
import threading
import time

import pytest

from docker_credential_truss.cache import MARGIN, TokenCache, is_fresh
from docker_credential_truss.files import FileLock
from docker_credential_truss.providers import Token

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
    expected = hashlib.sha256(b"reg.example.com\0AKIAEXAMPLE").hexdigest() + ".json"
    assert os.path.basename(cache.path("reg.example.com", "AKIAEXAMPLE")) == expected


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

"""The token cache: freshness as a function of time, identity keys, damaged files."""

import os
import threading

import pytest

from docker_credential_truss.cache import MARGIN, TokenCache, is_fresh
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

    cache = TokenCache(str(tmp_path / "tokens"))
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
    from docker_credential_truss.errors import ProviderError

    cache = TokenCache(str(tmp_path / "tokens"))

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
        {"format": 2},
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

"""The token cache's identities: which entry a (registry, identity) reads, and what it refuses.

An identity is a provider's tuple of parts (method, role, key id...). Its entry's file
name is the SHA-256 of the JSON array ``[registry, [parts...]]`` as the cache module
documents it (UTF-8, non-ASCII kept as is), so a person or a tool can find the entry of
an identity; parts may hold any text the environment can, lone surrogates included
(what Python makes of undecodable bytes in a variable).
"""

from __future__ import annotations

import hashlib
import json
import os

from docker_credential_truss.cache import TokenCache
from docker_credential_truss.minting import Token

NOW = 1_800_000_000.0
LATER = NOW + 3600


def test_an_entry_is_named_by_the_documented_hash_of_its_identity(tmp_path):
    cache = TokenCache(str(tmp_path / "tokens"))
    identity = ("AWS_ASSUME_ROLE", "arn:aws:iam::1:role/pull-é", "eu-west-1")
    cache.put("reg.test", identity, Token("AWS", "t", LATER), NOW)
    text = '["reg.test",["AWS_ASSUME_ROLE","arn:aws:iam::1:role/pull-é","eu-west-1"]]'
    name = hashlib.sha256(text.encode()).hexdigest() + ".json"
    assert [n for n in os.listdir(cache.directory) if n.endswith(".json")] == [name]
    assert cache.get("reg.test", list(identity), NOW).secret == "t"  # any sequence of parts


def test_an_identity_holding_undecodable_bytes_is_cached_like_any_other(tmp_path):
    cache = TokenCache(str(tmp_path / "tokens"))
    identity = ("AWS_IAM", os.fsdecode(b"AKIA\xff\xfe"))  # a lone surrogate in a part
    calls = []

    def mint():
        calls.append(1)
        return Token("AWS", "t", LATER)

    assert cache.fetch("reg.test", identity, mint, lambda: NOW).secret == "t"
    assert cache.fetch("reg.test", identity, mint, lambda: NOW).secret == "t"
    assert calls == [1], "the second get must be a cache hit"
    other = ("AWS_IAM", os.fsdecode(b"AKIA\xff\xfd"))
    assert cache.get("reg.test", other, NOW) is None


def test_a_one_string_identity_is_not_the_identity_of_its_characters(tmp_path):
    cache = TokenCache(str(tmp_path / "tokens"))
    cache.put("reg.test", "ab", Token("AWS", "t", LATER), NOW)
    assert cache.get("reg.test", "ab", NOW).secret == "t"
    assert cache.get("reg.test", ("a", "b"), NOW) is None


def test_an_entry_whose_recorded_registry_was_changed_is_not_served(tmp_path):
    cache = TokenCache(str(tmp_path / "tokens"))
    cache.put("reg.test", ("id",), Token("AWS", "t", LATER), NOW)
    path = cache.path("reg.test", ("id",))
    with open(path) as handle:
        entry = json.load(handle)
    entry["registry"] = "other.test"
    with open(path, "w") as handle:
        json.dump(entry, handle)
    assert cache.get("reg.test", ("id",), NOW) is None


def test_a_cache_directory_others_can_write_is_named_in_the_warning(tmp_path):
    directory = str(tmp_path / "tokens")
    os.mkdir(directory)
    os.chmod(directory, 0o777)
    said: list[str] = []
    cache = TokenCache(directory, warn=said.append)
    token = cache.fetch("reg.test", ("id",), lambda: Token("AWS", "t", LATER), lambda: NOW)
    assert token.secret == "t"
    assert said == [
        f"token cache unusable, minting without it: {directory} is writable by other users;"
        f" fix with: chmod go-w {directory}; set XDG_CACHE_HOME to a writable directory to"
        " cache tokens"
    ]

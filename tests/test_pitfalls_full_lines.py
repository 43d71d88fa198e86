"""pitfalls: the whole line a person reads for each mistake, and what is and is not flagged."""

import io
import json
import os
import sys

import pytest

from docker_credential_truss import pitfalls


@pytest.mark.parametrize(
    ("wanted", "other", "line"),
    [
        (
            "team_registry_pw",
            "TEAM_REGISTRY_PW",
            "did you mean 'TEAM_REGISTRY_PW' (in ~/.truss/config.yaml)? names are case-sensitive",
        ),
        (
            "DOCKER_REGISTRY_myhost:5000",
            "DOCKER_REGISTRY_myhost",
            "did you mean 'DOCKER_REGISTRY_myhost' (in ~/.truss/config.yaml)?"
            " the port is part of the registry's name: docker sends host:port",
        ),
        (
            "team_registry_pw",
            "team_regsitry_pw",
            "did you mean 'team_regsitry_pw' (in ~/.truss/config.yaml)? a spelling slip?",
        ),
        # six characters is long enough for a slip
        ("abcdef", "abcdeg", "did you mean 'abcdeg' (in ~/.truss/config.yaml)? a spelling slip?"),
        # only a name that starts with DOCKER_REGISTRY_ is read as a registry
        (
            "DOCKER_REGISTRY_ghcr.io",
            "DOCKER-REGISTRY-ghcr.io",
            "did you mean 'DOCKER-REGISTRY-ghcr.io' (in ~/.truss/config.yaml)? a spelling slip?",
        ),
        # a name that is no registry at all is still compared by spelling
        (
            "DOCKER_REGISTRY_x y",
            "DOCKER_REGISTRY_x z",
            "did you mean 'DOCKER_REGISTRY_x z' (in ~/.truss/config.yaml)? a spelling slip?",
        ),
        # another host on another port is another registry, not a port slip
        ("DOCKER_REGISTRY_ghcr.io:5000", "DOCKER_REGISTRY_quay.io", None),
    ],
)
def test_the_did_you_mean_line_in_full(wanted, other, line):
    lines = pitfalls.near_misses(wanted, {other: "~/.truss/config.yaml"})
    assert lines == ([line] if line else [])


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [
        ("", "ab", 2),
        ("ab", "b", 1),
        ("a", "ab", 1),
        ("abcdef", "abcdefgh", 2),
        ("abcdefgh", "abcdef", 2),
    ],
)
def test_distance_counts_insertions_and_deletions_once(a, b, distance):
    assert pitfalls._distance(a, b, 2) == distance


def test_the_top_level_line_in_full(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("DOCKER_REGISTRY_ghcr.io: x\nsecrets:\n  other: y\n")
    assert pitfalls.top_level("docker_registry_ghcr.io", str(path)) == (
        f"did you mean 'DOCKER_REGISTRY_ghcr.io' at the top level of {path}? truss reads"
        " secrets only under secrets: (indent it by two spaces below a secrets: line)"
    )
    # the secrets: section itself is not a secret put in the wrong place
    assert pitfalls.top_level("secrets", str(path)) is None
    assert pitfalls.top_level("SECRETS", str(path)) is None


def test_auths_entries_skip_what_is_not_a_registry_map(tmp_path):
    path = tmp_path / "auth.json"

    def entries(data):
        path.write_text(json.dumps(data))
        return pitfalls.auths_entries(str(path), "ghcr.io")

    # an unreadable entry before a matching one does not hide it
    assert entries({"auths": {"x y": {}, "ghcr.io": {}}}) == (["ghcr.io"], None)
    assert entries({"auths": ["ghcr.io"], "credHelpers": ["ghcr.io"]}) == ([], None)
    assert entries({"auths": {"ghcr.io": {}}, "credHelpers": {"ghcr.io": 1}}) == (["ghcr.io"], None)


def test_fixes_for_a_secret_that_is_no_registry_login_in_full():
    name = "NEXUS_it's_$pw`\"\\"
    ways = pitfalls.secret_fixes(name, None, {"TRUSS_SECRETS_DIR": "/s"}, "/h/c.yaml", "make")
    assert ways == [
        "mkdir -p \"$TRUSS_SECRETS_DIR\" && printf %s 'VALUE'"
        " > \"$TRUSS_SECRETS_DIR\"/'NEXUS_it'\\''s_$pw`\"\\'",
        "in /h/c.yaml, under secrets:   'NEXUS_it''s_$pw`\"\\': VALUE",
        'env "TRUSS_SECRET_NEXUS_it\'s_\\$pw\\`\\"\\\\=VALUE" make',
    ]


def test_fixes_for_a_registry_login_in_full():
    ways = pitfalls.secret_fixes(
        "DOCKER_REGISTRY_ghcr.io", "docker login ghcr.io", {"TRUSS_SECRETS_DIR": "/s"}, "/c", "x"
    )
    made = "printf %s 'USER:PASSWORD' | base64 | tr -d '\\n'"
    assert ways == [
        "docker login ghcr.io",
        f'mkdir -p "$TRUSS_SECRETS_DIR" && {made}'
        " > \"$TRUSS_SECRETS_DIR\"/'DOCKER_REGISTRY_ghcr.io'",
        "in /c, under secrets:   'DOCKER_REGISTRY_ghcr.io': <base64 of user:password>",
        f'env "TRUSS_SECRET_DOCKER_REGISTRY_ghcr.io=$({made})" x',
    ]


# -- a frozen helper: PyInstaller's bootstrap deletes VIRTUAL_ENV from os.environ ------


@pytest.fixture
def started_in(tmp_path, monkeypatch):
    """The helper's process as started from venv ``tmp_path`` (its start environment, as
    Linux keeps it in /proc/self/environ) with VIRTUAL_ENV gone from os.environ."""
    (tmp_path / "bin").mkdir()
    started = b"\0".join(
        [b"VIRTUAL_ENV_PROMPT=(v)", b"VIRTUAL_ENV=" + os.fsencode(tmp_path), b"HOME=/h", b""]
    )
    real_open = open

    def proc_open(path, *args, **kwargs):
        if path == "/proc/self/environ" and args == ("rb",) and not kwargs:
            return io.BytesIO(started)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(pitfalls, "open", proc_open, raising=False)
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    return tmp_path


def test_a_frozen_helper_still_sees_the_venv_it_was_started_in(started_in, monkeypatch):
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    found = str(started_in / "bin" / "docker-credential-truss")
    assert pitfalls.venv_only(found, os.environ) == str(started_in)
    # only the process's own environment was started that way
    assert pitfalls.venv_only(found, {}) is None


def test_an_unfrozen_helper_takes_os_environ_as_it_is(started_in, monkeypatch):
    monkeypatch.delattr(sys, "frozen", raising=False)
    found = str(started_in / "bin" / "docker-credential-truss")
    assert pitfalls.venv_only(found, os.environ) is None


def test_auths_entries_read_utf8_whatever_the_locale(tmp_path):
    """docker and podman write their JSON in UTF-8; a C locale must not hide an entry."""
    import locale

    path = tmp_path / "auth.json"
    path.write_bytes(
        json.dumps({"auths": {"ghcr.io": {"email": "zoë@x"}}}, ensure_ascii=False).encode()
    )
    before = locale.setlocale(locale.LC_CTYPE)
    try:
        locale.setlocale(locale.LC_CTYPE, "C")
        assert pitfalls.auths_entries(str(path), "ghcr.io") == (["ghcr.io"], None)
    finally:
        locale.setlocale(locale.LC_CTYPE, before)

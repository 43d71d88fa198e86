"""pitfalls: the mistakes doctor names, each rule on its own (doctor's e2e tests run them whole)."""

import json
import shlex

import pytest

from docker_credential_truss import pitfalls


@pytest.mark.parametrize(
    ("user", "password", "says"),
    [
        ("u", "pw\n", "the password ends in a newline"),
        ("u", "pw ", "the password ends in a space"),
        ("u", "pw\r", "the password ends in a carriage return"),
        ("u\t", "pw", "the user name ends in a tab"),
        ("u", "pw\u00a0", "the password ends in white space"),
        ("u", "pw", None),
        ("u", "", None),
        ("u", " pw", None),
    ],
)
def test_blank_end(user, password, says):
    assert pitfalls.blank_end(user, password) == says


@pytest.mark.parametrize(
    ("wanted", "other", "why"),
    [
        ("team_registry_pw", "team_regsitry_pw", "a spelling slip?"),
        ("team_registry_pw", "team_registry_p", "a spelling slip?"),
        ("team_registry_pw", "TEAM_REGISTRY_PW", "names are case-sensitive"),
        ("DOCKER_REGISTRY_myhost:5000", "DOCKER_REGISTRY_myhost", "the port is part"),
        ("DOCKER_REGISTRY_myhost", "DOCKER_REGISTRY_myhost:5000", "the port is part"),
        ("DOCKER_REGISTRY_https://index.docker.io/v1/", "DOCKER_REGISTRY_docker.io", "exactly"),
        ("team_registry_pw", "team_registry_pw", None),
        ("team_registry_pw", "other_secret_xy", None),
        ("aws_key", "gcp_key", None),  # short names: 2 edits is another name
        ("DOCKER_REGISTRY_ghcr.io", "DOCKER_REGISTRY_quay.io", None),
    ],
)
def test_near_misses(wanted, other, why):
    lines = pitfalls.near_misses(wanted, {other: "somewhere"})
    if why is None:
        assert lines == []
    else:
        assert len(lines) == 1 and lines[0].startswith(f"did you mean {other!r} (in somewhere)?")
        assert why in lines[0]


def test_distance_stops_at_the_limit():
    assert pitfalls._distance("abcdef", "abcdef", 2) == 0
    assert pitfalls._distance("abcdef", "abdcef", 2) == 2
    assert pitfalls._distance("abcdef", "uvwxyz", 2) == 3
    assert pitfalls._distance("a", "abcdef", 2) == 3


def test_top_level_placement(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("DOCKER_REGISTRY_ghcr.io: x\nsecrets:\n  other: y\n")
    line = pitfalls.top_level("DOCKER_REGISTRY_ghcr.io", str(path))
    assert line and "at the top level" in line and "under secrets:" in line
    assert pitfalls.top_level("other", str(path)) is None
    assert pitfalls.top_level("x", str(tmp_path / "missing.yaml")) is None


def test_containers_auth_files_in_their_order(tmp_path):
    env = {"REGISTRY_AUTH_FILE": "/ci/auth.json", "XDG_RUNTIME_DIR": "/run/user/7"}
    assert pitfalls.containers_auth_files(env, "/home/me") == [
        "/ci/auth.json",
        "/run/user/7/containers/auth.json",
        "/home/me/.config/containers/auth.json",
    ]
    assert pitfalls.containers_auth_files({}, "/h")[0].startswith("/run/containers/")


def test_auths_entries_match_the_registry_in_any_spelling(tmp_path):
    path = tmp_path / "auth.json"
    path.write_text(
        json.dumps(
            {
                "auths": {"ghcr.io/org": {}, "https://ghcr.io": {}, "quay.io": {}, "x y": {}},
                "credHelpers": {"ghcr.io": "truss"},
            }
        )
    )
    entries, helper = pitfalls.auths_entries(str(path), "ghcr.io")
    assert entries == ["ghcr.io/org", "https://ghcr.io"] and helper == "truss"
    assert pitfalls.auths_entries(str(tmp_path / "none.json"), "ghcr.io") == ([], None)
    path.write_text("[1]")
    assert pitfalls.auths_entries(str(path), "ghcr.io") == ([], None)


def test_venv_only(tmp_path):
    (tmp_path / "bin").mkdir()
    exe = tmp_path / "bin" / "docker-credential-truss"
    assert pitfalls.venv_only(str(exe), {"VIRTUAL_ENV": str(tmp_path)}) == str(tmp_path)
    assert pitfalls.venv_only(str(exe), {"VIRTUAL_ENV": "/elsewhere"}) is None
    assert pitfalls.venv_only(str(exe), {}) is None


def test_secret_fixes_quote_what_a_shell_would_misread():
    name = "DOCKER_REGISTRY_127.0.0.1:5000"
    ways = pitfalls.secret_fixes(
        name, "docker login 127.0.0.1:5000", {"TRUSS_SECRETS_DIR": "/s"}, "/h/c.yaml", "true"
    )
    assert ways[0] == "docker login 127.0.0.1:5000"
    assert ways[1].endswith(f"> \"$TRUSS_SECRETS_DIR\"/'{name}'")
    assert ways[2] == f"in /h/c.yaml, under secrets:   '{name}': <base64 of user:password>"
    words = shlex.split(ways[3])
    assert words[0] == "env" and words[1].startswith(f"TRUSS_SECRET_{name}=$(printf")
    assert not any(way.startswith("export") for way in ways)
    # no secrets dir, no login, a '/' in the name (truss image run): fewer ways
    hub = pitfalls.secret_fixes("a/b'c", None, {}, "/h/c.yaml", "cmd")
    assert hub == ['env "TRUSS_SECRET_a/b\'c=VALUE" cmd']

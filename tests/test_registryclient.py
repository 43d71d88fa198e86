"""registryclient's pure parts: when plain http is allowed, challenges, image references.

The conversation with a registry is tested against the real docker-registry in
tests/e2e/test_e2e_registry_check.py.
"""

import json

import pytest

from docker_credential_truss.registry import parse
from docker_credential_truss.registryclient import (
    daemon_insecure_registries,
    image_reference,
    parse_challenge,
    scheme_for,
)


@pytest.mark.parametrize("host", ["127.0.0.1:5000", "127.9.8.7", "localhost:80", "[::1]:5000"])
def test_loopback_registries_use_plain_http(host, tmp_path):
    assert scheme_for(parse(host), daemon_json=str(tmp_path / "none.json"))[0] == "http"


@pytest.mark.parametrize("host", ["ghcr.io", "10.1.2.3:5000", "docker.io", "localhost.evil.com"])
def test_everything_else_uses_https(host, tmp_path):
    assert scheme_for(parse(host), daemon_json=str(tmp_path / "none.json")) == ("https", "")


def test_insecure_registries_from_the_daemon_and_the_flag(tmp_path):
    daemon = tmp_path / "daemon.json"
    daemon.write_text(json.dumps({"insecure-registries": ["reg.lan:5000", "10.0.0.0/8"]}))
    path = str(daemon)
    assert scheme_for(parse("reg.lan:5000"), daemon_json=path)[0] == "http"
    assert scheme_for(parse("reg.lan:5001"), daemon_json=path)[0] == "https"  # exact match only
    assert scheme_for(parse("reg.lan"), daemon_json=path)[0] == "https"
    assert scheme_for(parse("10.4.5.6:443"), daemon_json=path)[0] == "http"
    assert scheme_for(parse("11.4.5.6"), daemon_json=path)[0] == "https"
    assert scheme_for(parse("ghcr.io"), ["ghcr.io"], daemon_json=path) == (
        "http",
        "named with --insecure-registry",
    )


@pytest.mark.parametrize("text", ["", "{not json", "[1]", '{"insecure-registries": "x"}'])
def test_an_unusable_daemon_json_means_none(tmp_path, text):
    daemon = tmp_path / "daemon.json"
    daemon.write_text(text)
    assert daemon_insecure_registries(str(daemon)) == []


def test_challenges_as_registries_send_them():
    assert parse_challenge(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
        'scope="repository:library/ubuntu:pull,push"'
    ) == (
        "bearer",
        {
            "realm": "https://auth.docker.io/token",
            "service": "registry.docker.io",
            "scope": "repository:library/ubuntu:pull,push",
        },
    )
    assert parse_challenge('Basic realm="dct-e2e"') == ("basic", {"realm": "dct-e2e"})
    assert parse_challenge('bearer realm=x, error="insufficient_scope"')[1]["error"] == (
        "insufficient_scope"
    )


@pytest.mark.parametrize(
    ("image", "registry", "expected"),
    [
        ("ghcr.io/org/img:1", "ghcr.io", ("org/img", "1")),
        ("ghcr.io/org/img", "ghcr.io", ("org/img", "latest")),
        ("127.0.0.1:5000/tiny@sha256:abc", "127.0.0.1:5000", ("tiny", "sha256:abc")),
        ("127.0.0.1:5000/a/b:2", "127.0.0.1:5000", ("a/b", "2")),
        ("ghcr.io/org/img:1@sha256:abc", "ghcr.io", ("org/img", "sha256:abc")),  # the digest
        ("localhost:5000/img@sha256:abc", "localhost:5000", ("img", "sha256:abc")),
        ("ubuntu:22.04", "docker.io", ("library/ubuntu", "22.04")),
        ("docker.io/myorg/private:1", "docker.io", ("myorg/private", "1")),
        ("ghcr.io/org/img:1", "ghcr.io:443", None),  # another registry: not checked
        ("nvcr.io/x:1", "ghcr.io", None),
    ],
)
def test_image_references(image, registry, expected):
    assert image_reference(image, parse(registry)) == expected


def test_why_plain_http_is_said(tmp_path):
    daemon = tmp_path / "daemon.json"
    daemon.write_text(json.dumps({"insecure-registries": ["reg.lan:5000"]}))
    assert scheme_for(parse("127.0.0.1:5000"), daemon_json=str(daemon)) == (
        "http",
        "a loopback registry",
    )
    assert scheme_for(parse("reg.lan:5000"), daemon_json=str(daemon)) == (
        "http",
        f"in insecure-registries of {daemon}",
    )


@pytest.mark.parametrize(
    ("entry", "host", "insecure"),
    [
        ("10.1.2.3/8", "10.200.0.1:5000", True),  # host bits set: docker accepts the range
        ("fd00::/8", "[fd00::5]:5000", True),
        ("fd00::/8", "[fe80::5]:5000", False),
        ("10.0.0.0/8", "reg.lan:5000", False),  # a name is in no range
        ("https://reg.lan:5000/", "reg.lan:5000", True),  # a scheme is not a range
        ("not a host!", "reg.lan:5000", False),
    ],
)
def test_insecure_registries_entries_as_docker_reads_them(tmp_path, entry, host, insecure):
    daemon = tmp_path / "daemon.json"
    daemon.write_text(json.dumps({"insecure-registries": [entry, 7]}))
    expected = "http" if insecure else "https"
    assert scheme_for(parse(host), daemon_json=str(daemon))[0] == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            'Bearer realm="https://r.example/token", service="reg", scope=""',
            ("bearer", {"realm": "https://r.example/token", "service": "reg", "scope": ""}),
        ),
        (r'Basic realm="say \"hi\" \\ there"', ("basic", {"realm": r'say "hi" \ there'})),
        (
            "Bearer Realm=bare,Error=invalid_token",
            ("bearer", {"realm": "bare", "error": "invalid_token"}),
        ),
    ],
)
def test_challenge_parameters_quoted_escaped_empty_and_spaced(header, expected):
    assert parse_challenge(header) == expected

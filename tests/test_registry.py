"""Registry normalisation: every form clients send, and look-alikes that must not match."""

import pytest

from docker_credential_truss.registry import DOCKER_HUB, InvalidRegistry, parse

ACCEPTED = [
    # (what a client sends, the key it must map to)
    ("ghcr.io", "ghcr.io"),
    ("  ghcr.io\n", "ghcr.io"),
    ("GHCR.IO", "ghcr.io"),
    ("https://ghcr.io", "ghcr.io"),
    ("HTTPS://ghcr.io/v2/", "ghcr.io"),
    ("http://ghcr.io", "ghcr.io"),
    ("ghcr.io/org/img", "ghcr.io"),
    ("ghcr.io/org/img:tag", "ghcr.io"),
    ("127.0.0.1:5000", "127.0.0.1:5000"),
    ("http://127.0.0.1:5000/v2/", "127.0.0.1:5000"),
    ("127.0.0.1:5000/tiny", "127.0.0.1:5000"),
    ("localhost:5000", "localhost:5000"),
    ("[::1]:5000", "[::1]:5000"),
    (
        "123456789012.dkr.ecr.us-east-1.amazonaws.com",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com",
    ),
    ("us-west2-docker.pkg.dev/proj/repo/img", "us-west2-docker.pkg.dev"),
    (DOCKER_HUB, DOCKER_HUB),
    ("https://index.docker.io/v1", DOCKER_HUB),
    ("docker.io", DOCKER_HUB),
    ("Docker.IO", DOCKER_HUB),
    ("index.docker.io", DOCKER_HUB),
    ("registry-1.docker.io", DOCKER_HUB),
    ("docker.io/library/ubuntu", DOCKER_HUB),
    ("https://index.docker.io/v1/?", DOCKER_HUB),
    ("index.docker.io/v1/", DOCKER_HUB),
]


# The newer docker CLI asks for the refresh token on logout: not the Hub credential.
@pytest.mark.parametrize(
    "server",
    [
        "https://index.docker.io/v1/refresh-token",
        "https://index.docker.io/v1/access-token",
        "https://index.docker.io/v1/refresh-token/",
        "index.docker.io/v1/x",
        "http://registry-1.docker.io/v1/access-token",
        "docker.io/v1/refresh-token",
    ],
)
def test_other_paths_under_the_hub_v1_url_are_not_hub(server):
    with pytest.raises(InvalidRegistry):
        parse(server)


def test_v1_paths_of_other_hosts_still_name_their_host():
    assert parse("ghcr.io/v1/refresh-token").key == "ghcr.io"


@pytest.mark.parametrize(("server", "key"), ACCEPTED)
def test_accepted_forms_map_to_one_key(server, key):
    assert parse(server).key == key


# Look-alikes of ghcr.io: each is either rejected or a different key.
LOOKALIKES = [
    "ghcr.io.evil.com",
    "evil-ghcr.io",
    "evilghcr.io",
    "ghcr.io:444",
    "ghcr.io:443",
    "ghcr.io.",
    "ghcr.i0",
    "ghcr-io",
    "sub.ghcr.io",
    "user@ghcr.io",
    "https://user:pw@ghcr.io",
    "ghcr\u0131o",  # dotless i
    "ghcr\uff0eio",  # fullwidth full stop
    "GHCR.\u0130O",  # dotted capital I lower-cases to i + combining dot
    "ftp://ghcr.io",
    "ghcr..io",
    "ghcr.io:0443",
    "ghcr.io:+443",
]


@pytest.mark.parametrize("server", LOOKALIKES)
def test_lookalikes_never_become_the_real_key(server):
    try:
        key = parse(server).key
    except InvalidRegistry:
        return
    assert key != "ghcr.io"


def test_kelvin_sign_does_not_fold_into_k():
    # "\u212a".lower() == "k": checking ASCII first keeps it from folding.
    with pytest.raises(InvalidRegistry):
        parse("\u212aey.example.com")


@pytest.mark.parametrize("port", ["0", "65536", "99999", "05000", "50a", ""])
def test_bad_ports_are_rejected(port):
    with pytest.raises(InvalidRegistry):
        parse(f"127.0.0.1:{port}")


def test_ports_are_significant():
    assert parse("127.0.0.1:5000") != parse("127.0.0.1:5001")
    assert parse("docker.io:443").key == "docker.io:443"


def test_secret_name_follows_truss_convention():
    assert parse("ghcr.io").secret_name == "DOCKER_REGISTRY_ghcr.io"
    assert parse("docker.io").secret_name == "DOCKER_REGISTRY_https://index.docker.io/v1/"

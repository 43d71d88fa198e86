"""Registry normalisation: every form clients send, and look-alikes that must not match."""

import base64

import pytest

from docker_credential_truss.errors import NotFound
from docker_credential_truss.helper import TrussHelper
from docker_credential_truss.registry import DOCKER_HUB, InvalidRegistry, parse
from docker_credential_truss.resolver import Resolver

HUB_PASSWORD = "SENTINEL-hub-password-93af"

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
        # normalised as a server reads the path (issue 21)
        "https://index.docker.io/V1/refresh-token",
        "https://index.docker.io//v1/refresh-token",
        "https://index.docker.io/v1%2Frefresh-token",
        "https://index.docker.io/v1/?refresh-token",
        "https://index.docker.io/v1/?a?b",
        "https://index.docker.io/v1/#a#b",
        "https://index.docker.io/x/../v1/x",
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


# Look-alikes of Docker Hub, whose credential most users have: none may become its key.
DOCKER_HUB_LOOKALIKES = [
    # suffixes: another name that merely ends like a Docker Hub name
    "evil-docker.io",
    "evildocker.io",
    "xdocker.io",
    "1docker.io",
    "evil-index.docker.io",
    "xregistry-1.docker.io",
    # prefixes and extra labels: Docker Hub's names inside another domain
    "docker.io.evil.com",
    "index.docker.io.evil.com",
    "registry-1.docker.io.evil.com",
    "docker.io.com",
    # other hosts under docker.io and Docker's other domains
    "evil.docker.io",
    "registry-2.docker.io",
    "registry.docker.io",
    "auth.docker.io",
    "hub.docker.io",
    "x.index.docker.io",
    "registry-1.index.docker.io",
    "docker.com",
    "hub.docker.com",
    "index.docker.com",
    "registry.hub.docker.com",
    "io",
    "docker",
    # near misses
    "docker-io",
    "dockerio",
    "docker.i0",
    "d0cker.io",
    "docker.io-",
    "index-docker.io",
    # ports: docker.io on another port is another server
    "docker.io:443",
    "index.docker.io:443",
    "registry-1.docker.io:443",
    "docker.io:80",
    "docker.io:5000",
    "https://index.docker.io:443/v1/",
    # trailing and odd dots
    "docker.io.",
    "index.docker.io.",
    "https://index.docker.io./v1/",
    ".docker.io",
    "docker..io",
    # paths under other hosts
    "evil.com/docker.io",
    "evil.com/index.docker.io/v1/",
    "https://evil.com/index.docker.io/v1/",
    "evil.com/https://index.docker.io/v1/",
    "127.0.0.1:5000/docker.io/library/ubuntu",
    "evil.com?https://index.docker.io/v1/",
    "evil.com#docker.io",
    # user info and other schemes
    "user@docker.io",
    "https://index.docker.io@evil.com/v1/",
    "ftp://index.docker.io/v1/",
]


@pytest.mark.parametrize("server", DOCKER_HUB_LOOKALIKES)
def test_docker_hub_lookalikes_never_become_docker_hub(server):
    try:
        registry = parse(server)
    except InvalidRegistry:
        return
    assert not registry.is_docker_hub
    assert registry.key != DOCKER_HUB
    assert registry.secret_name != "DOCKER_REGISTRY_" + DOCKER_HUB


def test_docker_hubs_credential_goes_to_docker_hub_only(env, paths):
    """The whole path (parse, resolver, secret lookup), as ``get`` takes it."""
    value = base64.b64encode(f"hubuser:{HUB_PASSWORD}".encode()).decode()
    env = {**env, f"TRUSS_SECRET_DOCKER_REGISTRY_{DOCKER_HUB}": value}
    helper = TrussHelper(Resolver(env, paths), lambda line: None)
    for server in ("docker.io", DOCKER_HUB, "registry-1.docker.io"):
        assert helper.get(server) == ("hubuser", HUB_PASSWORD)
    given = []
    for server in DOCKER_HUB_LOOKALIKES:
        try:
            helper.get(server)
        except NotFound:
            continue
        given.append(server)
    assert given == [], "Docker Hub's credential went to look-alikes"


@pytest.mark.parametrize("host", ["docker.io", "index.docker.io", "registry-1.docker.io"])
def test_each_docker_hub_name_is_docker_hub(host):
    assert parse(host).is_docker_hub
    assert parse(f"https://{host.upper()}/v2/").key == DOCKER_HUB


@pytest.mark.parametrize("host", ["ghcr-.io", "-ghcr.io", "ghcr.-io", "ghcr.io-", "a-.b.c"])
def test_a_label_cannot_start_or_end_with_a_hyphen(host):
    with pytest.raises(InvalidRegistry):
        parse(host)


def test_inner_hyphens_are_fine():
    assert parse("my-registry.ex-ample.test").key == "my-registry.ex-ample.test"


def test_registries_are_equal_and_hash_by_key():
    assert parse("docker.io") == parse("https://index.docker.io/v1/")
    assert parse("ghcr.io") != parse("ghcr.io:443")
    assert parse("ghcr.io") != "ghcr.io"
    assert len({parse("docker.io"), parse("registry-1.docker.io"), parse("GHCR.io")}) == 2
    assert hash(parse("Docker.io")) == hash(DOCKER_HUB)
    assert repr(parse("ghcr.io:5000")) == "Registry('ghcr.io:5000')"
    assert parse("docker.io").host == "docker.io" and parse("[::1]:80").port == 80


@pytest.mark.parametrize("port", [1, 9, 10000, 65535])
def test_ports_up_to_65535_are_kept(port):
    assert parse(f"ghcr.io:{port}").port == port


@pytest.mark.parametrize(
    ("server", "reason"),
    [
        ("ghcr.io:65536", "bad port"),
        ("ghcr.io:05000", "bad port"),
        ("ghcr.io:\uff15000", "bad port"),  # fullwidth digit: isdigit(), not ASCII
        ("ghcr.io:" + "9" * 5000, "bad port"),  # refused before int() could choke on it
        ("", "empty registry"),
        ("ftp://ghcr.io", "only http and https registry URLs are understood"),
        ("user@ghcr.io", "a registry host cannot carry a user name"),
        ("[::1", "unclosed IPv6 address"),
        ("[::1]x", "junk after IPv6 address"),
        ("[zz::1]", "bad IPv6 address"),
        ("[]", "bad IPv6 address"),
        ("[1.2]", "bad IPv6 address"),
        ("gh\u0441r.io", "registry hosts must be ASCII"),
        ("a" * 64 + ".io", "bad host"),
        (("a" * 63 + ".") * 4 + "io", "bad host"),  # 258 characters
        (":5000", "bad host"),
    ],
)
def test_each_refusal_says_why(server, reason):
    with pytest.raises(InvalidRegistry) as caught:
        parse(server)
    assert str(caught.value) == reason


def test_longest_names_are_accepted():
    label = "a" * 63
    host = f"{label}.{label}.{label}.{'b' * 61}"  # 253 characters
    assert len(host) == 253 and parse(host).key == host


@pytest.mark.parametrize(
    ("server", "reason"),
    [
        ("[::1]x]", "junk after IPv6 address"),
        ("[g::1]", "bad IPv6 address"),
        ("[::g]", "bad IPv6 address"),
        ("a" * 62 + "." + ("b" * 63 + ".") * 2 + "c" * 63, "bad host"),  # 254 characters
    ],
)
def test_more_refusals(server, reason):
    with pytest.raises(InvalidRegistry) as caught:
        parse(server)
    assert str(caught.value) == reason


@pytest.mark.parametrize(
    "host",
    ["[0123:4567:89ab:cdef::1.2.3.4]", "a-bcdefghijklmnopqrstuvwxyz0123456789.io"],
)
def test_every_allowed_character_at_once_is_allowed(host):
    assert parse(host).key == host


def test_an_ecr_host_says_which_partition_it_is_in():
    from docker_credential_truss.providers import aws

    assert aws.parse_host("123456789012.dkr.ecr.us-east-1.amazonaws.com").suffix == (
        "amazonaws.com"
    )
    assert aws.parse_host("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn").suffix == (
        "amazonaws.com.cn"
    )


@pytest.mark.parametrize(
    "server", ["https://index.docker.io/v1/#", "https://index.docker.io/v1?", "docker.io?x"]
)
def test_docker_hubs_own_url_with_an_empty_query_or_one_on_the_host_is_docker_hub(server):
    assert parse(server).key == DOCKER_HUB


def test_a_path_under_docker_hubs_v1_is_refused_with_its_reason():
    with pytest.raises(InvalidRegistry) as caught:
        parse("https://index.docker.io/v1/refresh-token")
    assert str(caught.value) == "a path under Docker Hub's /v1/ is not the Hub credential"


def test_only_the_first_scheme_counts():
    assert parse("https://evil.com/https://index.docker.io/v1/").key == "evil.com"

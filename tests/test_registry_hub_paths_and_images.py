"""The spellings of Docker Hub's /v1/ paths a server would read alike, and image references.

A path under Hub's ``/v1/`` (the refresh and access tokens the newer docker CLI asks
for) must never get the Hub credential, however it is spelled; the Hub URL itself,
spelled as a server would read it, must. An image reference names its registry the way
docker's grammar decides, so a credential is looked up for the host docker would pull from.
"""

import pytest

from docker_credential_truss.registry import DOCKER_HUB, InvalidRegistry, parse, split_image


def _encoded(text: str, times: int) -> str:
    """``text`` percent-encoded ``times`` times (every character, as a client could)."""
    for _ in range(times):
        text = "".join(f"%{ord(char):02X}" for char in text)
    return text


@pytest.mark.parametrize(
    "server",
    [
        "https://index.docker.io/v1\\refresh-token",  # a backslash is read as a slash
        "https://index.docker.io/v1?refresh-token?x",  # the query starts at the first "?"
        "https://index.docker.io/v1#refresh-token#x",  # the fragment at the first "#"
        "https://index.docker.io/v1/%FF",  # an escape that is no UTF-8 is still a path
        # a slash encoded eight times is still encoded after the eight decodings allowed
        "https://index.docker.io/v1" + _encoded("/", 8),
    ],
)
def test_more_spellings_of_a_path_under_hub_v1_are_refused(server):
    with pytest.raises(InvalidRegistry):
        parse(server)


@pytest.mark.parametrize(
    "server",
    [
        "https://index.docker.io/v1/.",  # "." is the directory itself
        "https://index.docker.io/v1/./",
        "https://index.docker.io/%FF",  # not under /v1/: any path names the host
        "https://index.docker.io/v1" + _encoded("/", 7),  # seven decodings are read
    ],
)
def test_spellings_of_the_hub_url_itself_get_the_hub_credential(server):
    assert parse(server).key == DOCKER_HUB


@pytest.mark.parametrize(
    ("image", "host", "path"),
    [
        # the first component is a host only with a "." or ":" in it, or as localhost
        ("ubuntu", "docker.io", "ubuntu"),
        ("library/ubuntu", "docker.io", "library/ubuntu"),
        ("org/img:1.0", "docker.io", "org/img:1.0"),
        ("ghcr.io/org/img", "ghcr.io", "org/img"),
        ("ghcr.io/org/team/img:tag", "ghcr.io", "org/team/img:tag"),
        ("myhost:5000/img", "myhost:5000", "img"),
        ("localhost/img", "localhost", "img"),
        ("localhost:5000/a/b", "localhost:5000", "a/b"),
        ("myhost/img", "docker.io", "myhost/img"),
    ],
)
def test_an_image_names_its_registry_as_docker_reads_it(image, host, path):
    assert split_image(image) == (host, path)


def test_an_image_without_a_host_is_looked_up_under_the_hub_key():
    assert parse(split_image("library/ubuntu:22.04")[0]).key == DOCKER_HUB
    assert parse(split_image("localhost:5000/img")[0]).key == "localhost:5000"

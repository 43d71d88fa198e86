"""Turning whatever a client sends into one exact registry key.

Normalisation (documented in README, "Registry matching"):

1. Surrounding white space is removed.
2. An ``http://`` or ``https://`` scheme (any case) is removed; any other scheme is
   rejected.
3. Everything from the first ``/``, ``?`` or ``#`` is dropped, so repository paths
   (``host/org/img``) name their host. One exception: under Docker Hub's
   ``/v1/`` URL, any further path (``/v1/refresh-token``, ``/v1/access-token``, which
   the newer docker CLI asks for on logout) names something other than the Hub
   credential, and is refused. The path is normalised before that decision as a
   server would read it (percent-decoding, repeated until nothing changes, then
   case, ``\\`` as ``/``, repeated slashes, ``.`` and ``..`` segments), and a query
   or fragment after ``/v1/`` counts as more path: ``/V1/refresh-token``,
   ``//v1/refresh-token``, ``/v1%2Frefresh-token`` and ``/v1/?refresh-token`` are all
   refused, and only ``/v1`` or ``/v1/`` (with nothing, or an empty ``?``/``#``,
   after it) is the Hub credential.
4. The host must be plain ASCII: DNS labels of letters, digits and inner hyphens
   separated by single dots, an IPv4 address, or an IPv6 address in brackets.
   It is lower-cased *after* that check, so no Unicode look-alike can fold into an
   ASCII name. Userinfo (``user@host``), a trailing dot, empty labels and
   underscores are rejected.
5. A port, if given, is kept: 1-65535 without leading zeros. ``host`` and
   ``host:443`` are different registries, as they are to docker.
6. Docker Hub's names (``docker.io``, ``index.docker.io``, ``registry-1.docker.io``,
   with no port) all become ``https://index.docker.io/v1/``, the key docker uses.

The result is compared by equality only. Nothing strips labels or matches suffixes,
so a credential never travels to a host other than the one it was given for.
"""

from __future__ import annotations

DOCKER_HUB = "https://index.docker.io/v1/"
DOCKER_HUB_HOSTS = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
SECRET_PREFIX = "DOCKER_REGISTRY_"

_LABEL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")
_HEX_CHARS = frozenset("0123456789abcdef:.")


class InvalidRegistry(ValueError):
    """The server string names no registry this helper could match."""


class Registry:
    """A normalised registry: ``host`` (lower case) and ``port`` (or None).

    ``key`` is the one string used everywhere a registry is named: in the helper's
    config and store, in ``DOCKER_REGISTRY_<key>`` secret names and in ``list``.
    """

    __slots__ = ("host", "port")

    def __init__(self, host: str, port: int | None = None) -> None:
        self.host = host
        self.port = port

    @property
    def is_docker_hub(self) -> bool:
        return self.port is None and self.host in DOCKER_HUB_HOSTS

    @property
    def key(self) -> str:
        if self.is_docker_hub:
            return DOCKER_HUB
        return self.host if self.port is None else f"{self.host}:{self.port}"

    @property
    def secret_name(self) -> str:
        return SECRET_PREFIX + self.key

    @property
    def login_command(self) -> str:
        """The command that stores this registry's credential through the helper."""
        return "docker login" if self.is_docker_hub else f"docker login {self.key}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Registry) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __repr__(self) -> str:
        return f"Registry({self.key!r})"


def parse(server: str) -> Registry:
    """Normalise a server string as described in the module docstring."""
    text = server.strip()
    if not text:
        raise InvalidRegistry("empty registry")
    scheme, sep, rest = text.partition("://")
    if sep:
        if scheme.lower() not in ("http", "https"):
            raise InvalidRegistry("only http and https registry URLs are understood")
        text = rest
    authority = text
    for stop in "/?#":
        authority = authority.split(stop, 1)[0]
    if "@" in authority:
        raise InvalidRegistry("a registry host cannot carry a user name")
    host, port = _split_port(authority)
    registry = Registry(_check_host(host), port)
    if registry.is_docker_hub and _under_hub_v1(text[len(authority) :]):
        raise InvalidRegistry("a path under Docker Hub's /v1/ is not the Hub credential")
    return registry


def _under_hub_v1(rest: str) -> bool:
    """Whether ``rest`` (path, query, fragment) names something below Hub's ``/v1/``.

    Decoded and normalised first, so no spelling of ``/v1/refresh-token`` that a server
    or a proxy would read as that path gets the Hub credential.
    """
    for _ in range(8):  # %25252F...: decode until stable, a bounded number of times
        decoded = _percent_decode(rest)
        if decoded == rest:
            break
        rest = decoded
    else:
        return True  # still encoded after eight rounds: nothing a client sends
    rest = rest.lower().replace("\\", "/")
    path, query = rest, ""
    for stop in "?#":
        if stop in path:
            path, tail = path.split(stop, 1)
            query = stop + tail + query
    segments: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment and segment != ".":
            segments.append(segment)
    if not segments or segments[0] != "v1":
        return False
    return len(segments) > 1 or query.strip("?#") != ""


def _percent_decode(text: str) -> str:
    """``%XX`` -> the byte, as a server would; invalid escapes are left as they are."""
    if "%" not in text:
        return text
    from urllib.parse import unquote  # only for the rare server string with a %

    return unquote(text, errors="surrogateescape")


def split_image(image: str) -> tuple[str, str]:
    """(registry host, repository path) of an image reference, as docker's grammar decides:
    the first component is a host only if it has a ``.`` or ``:`` or is ``localhost``."""
    first, sep, rest = image.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    return "docker.io", image


def _split_port(authority: str) -> tuple[str, int | None]:
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            raise InvalidRegistry("unclosed IPv6 address")
        host, tail = authority[: end + 1], authority[end + 1 :]
        if not tail:
            return host, None
        if not tail.startswith(":"):
            raise InvalidRegistry("junk after IPv6 address")
        return host, _check_port(tail[1:])
    host, sep, port = authority.partition(":")
    return host, (_check_port(port) if sep else None)


def _check_port(port: str) -> int:
    if not port.isascii() or not port.isdigit() or port.startswith("0") or len(port) > 5:
        raise InvalidRegistry("bad port")
    number = int(port)
    if number > 65535:
        raise InvalidRegistry("bad port")
    return number


def _check_host(host: str) -> str:
    if not host.isascii():
        raise InvalidRegistry("registry hosts must be ASCII")
    host = host.lower()
    if host.startswith("["):
        inner = host[1:-1]
        if not inner or ":" not in inner or not set(inner) <= _HEX_CHARS:
            raise InvalidRegistry("bad IPv6 address")
        return host
    if not host or len(host) > 253:
        raise InvalidRegistry("bad host")
    for label in host.split("."):
        if (
            not label
            or len(label) > 63
            or not set(label) <= _LABEL_CHARS
            or label[0] == "-"
            or label[-1] == "-"
        ):
            raise InvalidRegistry("bad host")
    return host

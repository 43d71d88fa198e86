"""A Docker Registry HTTP API v2 client, as far as ``doctor``'s registry check needs one.

How docker reaches a registry, and nothing about what the answers mean for the person
(that is :mod:`registrycheck`'s report):

- where: Docker Hub's API lives at registry-1.docker.io; https unless the registry is
  on loopback, listed in the docker daemon's ``insecure-registries``
  (``/etc/docker/daemon.json``, when readable), or named with
  ``doctor --insecure-registry``: the registries docker would reach over plain http;
- how to log in: the ``WWW-Authenticate`` challenge; Basic ``user:password``; a Bearer
  token from the challenge's realm (``service``, ``scope``), asked with the credential
  as Basic auth or, for an identity token (user ``<token>``), posted as an OAuth2
  refresh token as docker does;
- what an image reference names on a registry, and the ``Accept`` types docker sends
  for a manifest.

Requests go through :mod:`webclient` (no redirect, bounded). The Basic header and the
realm's token are registered for log redaction as they are made or received; answers
are described by their status and the registry's error codes only, never their bodies.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
import urllib.parse
from typing import NamedTuple  # doctor only: not on get's path

from docker_credential_truss import debuglog, files, proxies, tlstrust, webclient
from docker_credential_truss.errors import safe_code
from docker_credential_truss.registry import InvalidRegistry, parse, split_image

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from docker_credential_truss.registry import Registry

DAEMON_JSON = "/etc/docker/daemon.json"
DOCKER_HUB_API = "registry-1.docker.io"
IDENTITY_TOKEN_USER = "<token>"
CLIENT_ID = webclient.USER_AGENT
#: What docker asks for, so a registry answers with the digest docker would pull.
MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
MAX_BODY = 64 * 1024
_PARAM = re.compile(r'\s*([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^",\s]*))\s*,?')


class Scheme(NamedTuple):
    """``http`` or ``https`` for a registry, and why plain http when it is."""

    name: str
    why: str = ""


def scheme_for(
    registry: Registry, insecure: Iterable[str] = (), daemon_json: str = DAEMON_JSON
) -> Scheme:
    """Plain http only where docker itself would use it; https otherwise."""
    if proxies.is_loopback(registry.host):
        return Scheme("http", "a loopback registry")
    for name in insecure:
        if _matches(registry, name):
            return Scheme("http", "named with --insecure-registry")
    for name in daemon_insecure_registries(daemon_json):
        if _matches(registry, name):
            return Scheme("http", f"in insecure-registries of {daemon_json}")
    return Scheme("https")


def daemon_insecure_registries(path: str = DAEMON_JSON) -> list[str]:
    """``insecure-registries`` of docker's daemon.json; [] when it cannot be read."""
    try:
        data = json.loads(files.read_text(path))
    except (OSError, ValueError):
        return []
    names = data.get("insecure-registries") if isinstance(data, dict) else None
    return [n for n in names if isinstance(n, str)] if isinstance(names, list) else []


def _matches(registry: Registry, name: str) -> bool:
    """An insecure-registries entry: ``host[:port]`` exactly, or a CIDR holding the host."""
    if "/" in name and "://" not in name:
        try:
            network = ipaddress.ip_network(name, strict=False)
            return ipaddress.ip_address(registry.host.strip("[]")) in network
        except ValueError:
            return False
    try:
        return parse(name).key == registry.key
    except InvalidRegistry:
        return False


def api_host(registry: Registry) -> str:
    """Where the registry's API lives: Docker Hub's is registry-1.docker.io."""
    return DOCKER_HUB_API if registry.is_docker_hub else registry.key


class ImageReference(NamedTuple):
    """An image's repository on a registry and its tag or digest."""

    repository: str
    reference: str


def image_reference(image: str, registry: Registry) -> ImageReference | None:
    """Where ``image`` lives on ``registry``, or None when it lives elsewhere."""
    host, path = split_image(image)
    try:
        if parse(host).key != registry.key:
            return None
    except InvalidRegistry:
        return None
    # name[:tag][@digest]: a digest is what docker pulls, its tag then ignored. Past the
    # host (split_image), a ":" can only start the tag.
    name, _, digest = path.partition("@")
    repository, colon, tag = name.rpartition(":")
    if not colon:
        repository, tag = name, "latest"
    reference = digest or tag
    if registry.is_docker_hub and "/" not in repository:
        repository = f"library/{repository}"
    return ImageReference(repository, reference)


class Challenge(NamedTuple):
    """A ``WWW-Authenticate`` challenge: its scheme (lower case) and its parameters."""

    scheme: str
    params: dict[str, str]


def parse_challenge(header: str) -> Challenge:
    """``Bearer realm="...",service="..."`` -> Challenge("bearer", {"realm": ..., ...})."""
    scheme, _, rest = header.strip().partition(" ")
    params: dict[str, str] = {}
    for match in _PARAM.finditer(rest):
        quoted, bare = match.group(2), match.group(3)
        value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
        params[match.group(1).lower()] = value or ""
    return Challenge(scheme.lower(), params)


def challenge(answer: webclient.Answer) -> Challenge:
    return parse_challenge(answer.headers.get("WWW-Authenticate", ""))


def codes(answer: webclient.Answer) -> str:
    """The registry's error codes (``errors[].code``), or the OAuth ``error``; '' if none."""
    try:
        data = webclient.parse_json(answer.body)
    except ValueError:
        data = None
    found: list[object] = []
    if isinstance(data, dict):
        errors = data.get("errors")
        if isinstance(errors, list):
            found += [e.get("code") for e in errors if isinstance(e, dict)]
        found.append(data.get("error"))
    found.append(challenge(answer).params.get("error"))  # insufficient_scope, invalid_token...
    shown: list[str] = []
    for code in found:
        code = safe_code(code)
        if code and code not in shown:
            shown.append(code)
    return " ".join(shown)


def describe(answer: webclient.Answer) -> str:
    """``HTTP <status>`` and the registry's error codes: all a report shows of an answer."""
    found = codes(answer)
    return f"HTTP {answer.status}" + (f" {found}" if found else "")


def origin(url: str) -> str:
    """A URL without its query: what a message may name."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


class Session:
    """Requests to one registry with one credential, as docker would send them."""

    def __init__(
        self, registry: Registry, scheme: str, username: str, secret: str, env: Mapping[str, str]
    ) -> None:
        #: host[:port] the requests go to (docker's certs.d names its directory so)
        self.host = api_host(registry)
        self.base = f"{scheme}://{self.host}"
        self.scheme = scheme
        self.username = username
        self.secret = secret
        self.env = env
        #: what docker trusts for this registry (built lazily: plain http needs none)
        self.trust: tlstrust.Trust | None = None
        self.web = webclient.Client(env, MAX_BODY, self.tls)

    def tls(self) -> tlstrust.Trust:
        """The CAs for this registry: docker's certs.d for its host, and the system store."""
        if self.trust is None:
            self.trust = tlstrust.trust(self.env, self.host)
        return self.trust

    def proxy(self) -> proxies.Proxy | None:
        """The proxy requests to the registry go through, as docker would choose it."""
        return proxies.proxy_for(self.base + "/v2/", self.env)

    def basic(self) -> str:
        raw = f"{self.username}:{self.secret}".encode()
        value = base64.b64encode(raw).decode("ascii")
        debuglog.redact(value)
        return f"Basic {value}"

    def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None = None,
        data: bytes | None = None,
    ) -> webclient.Answer:
        """The answer, or :class:`webclient.Unreachable` naming where (not the query)."""
        try:
            answer = self.web.send(method, url, headers=headers, data=data)
        except webclient.Unreachable as exc:
            debuglog.debug("registry check: %s %s: %s", method, origin(url), exc.reason)
            raise webclient.Unreachable(f"{origin(url)}: {exc.reason}") from None
        debuglog.debug("registry check: %s %s -> %s", method, origin(url), describe(answer))
        return answer

    def token(self, params: Mapping[str, str], scope: str | None) -> BearerToken:
        """A Bearer token from the challenge's realm, or the realm's refusal."""
        realm = params.get("realm", "")
        if not realm.startswith(("https://", "http://")):
            raise webclient.Unreachable(
                f"the registry's challenge names no usable token realm ({realm!r})"
            )
        if realm.startswith("http://") and self.scheme == "https" and not _realm_is_loopback(realm):
            raise webclient.Unreachable(
                f"the token realm {origin(realm)} is plain http; the credential is not sent there"
            )
        fields = {"service": params.get("service", "")}
        scope = scope or params.get("scope")
        if scope:
            fields["scope"] = scope
        if self.username == IDENTITY_TOKEN_USER:  # docker's OAuth2 refresh-token grant
            fields.update(
                grant_type="refresh_token", refresh_token=self.secret, client_id=CLIENT_ID
            )
            answer = self.send(
                "POST",
                realm,
                {"Content-Type": "application/x-www-form-urlencoded"},
                urllib.parse.urlencode(fields).encode(),
            )
        else:
            fields["account"] = self.username
            sep = "&" if "?" in realm else "?"
            url = realm + sep + urllib.parse.urlencode(fields)
            answer = self.send("GET", url, {"Authorization": self.basic()})
        if answer.status != 200:
            return BearerToken(None, answer)
        try:
            data = webclient.parse_json(answer.body)
            token = data.get("token") or data.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise webclient.Unreachable(f"the token realm {origin(realm)} answered without a token")
        debuglog.redact(token)
        return BearerToken(token, answer)


class BearerToken:
    """What a token realm gave: the token, or None and the ``answer`` that refused it."""

    __slots__ = ("answer", "value")

    def __init__(self, value: str | None, answer: webclient.Answer) -> None:
        self.value = value
        self.answer = answer

    def __repr__(self) -> str:  # never show the token
        return f"BearerToken(status={self.answer.status})"


def _realm_is_loopback(realm: str) -> bool:
    host = urllib.parse.urlsplit(realm).hostname or ""
    return proxies.is_loopback(host)

"""Will the registry take the credential, and is the base image there? (``doctor``'s last step)

Making a credential proves little: a rotated password, a token for the wrong account or
a repository this identity may not read all fail only at ``docker pull``. This module
does what docker does with the credential ``get`` answers, and no more:

1. ``GET /v2/`` without credentials; the ``WWW-Authenticate`` challenge says how to log in;
2. Basic: ``GET /v2/`` again with ``user:password``. Bearer: a token from the challenge's
   realm (``service``, ``scope``), asked with the credential as Basic auth, or, for an
   identity token (user ``<token>``), posted as an OAuth2 refresh token as docker does;
   then ``GET /v2/`` with the token;
3. when ``configure`` recorded the truss's ``base_image.image``: ``HEAD`` of its manifest
   with pull scope and the ``Accept`` types docker sends (OCI index included).

Each answer is reported with its HTTP status and the registry's error code; response
bodies are never shown whole (only codes matching a strict pattern), and the
credential and tokens are registered for log redaction and never put in a message.

https is used unless the registry is on loopback, listed in the docker daemon's
``insecure-registries`` (``/etc/docker/daemon.json``, when readable), or named with
``doctor --insecure-registry``: the same registries docker would reach over plain http.
No redirect is followed, so a credential never travels to a host it was not meant for.
Every request is bounded by ``DOCKER_CREDENTIAL_TRUSS_TIMEOUT`` and the whole check by
the same deadline as a mint.
"""

from __future__ import annotations

import base64
import http.client
import ipaddress
import json
import re
import urllib.error
import urllib.parse
import urllib.request

from docker_credential_truss import debuglog
from docker_credential_truss.errors import HelperError
from docker_credential_truss.providers import DEFAULT_TIMEOUT, network_timeout, run_within
from docker_credential_truss.registry import InvalidRegistry, parse

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from docker_credential_truss.registry import Registry

DAEMON_JSON = "/etc/docker/daemon.json"
DOCKER_HUB_API = "registry-1.docker.io"
IDENTITY_TOKEN_USER = "<token>"
CLIENT_ID = "docker-credential-truss"
#: What docker asks for, so a registry answers with the digest docker would pull.
MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
MAX_BODY = 64 * 1024
_CODE = re.compile(r"[A-Za-z0-9_.-]{1,64}\Z")
_DIGEST = re.compile(r"[a-z0-9]+:[a-f0-9]{32,128}\Z")
_PARAM = re.compile(r'\s*([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^",\s]*))\s*,?')


class Finding:
    """One line of the report: ``ok``, ``fail`` (with a fix) or ``note``."""

    __slots__ = ("fix", "kind", "text")

    def __init__(self, kind: str, text: str, fix: str = "") -> None:
        self.kind = kind
        self.text = text
        self.fix = fix

    def __repr__(self) -> str:
        return f"Finding({self.kind!r}, {self.text!r})"


class _Unreachable(Exception):
    """A request got no HTTP answer; the message is safe to show."""


def check(
    registry: Registry,
    username: str,
    secret: str,
    image: str | None,
    env: Mapping[str, str],
    insecure: Iterable[str] = (),
    daemon_json: str = DAEMON_JSON,
) -> list[Finding]:
    """The handshake and the image check, as report lines; never raises a HelperError."""
    debuglog.redact(secret)
    scheme, why = scheme_for(registry, insecure, daemon_json)
    findings: list[Finding] = []
    if scheme == "http":
        findings.append(Finding("note", f"registry check over plain http ({why})"))
    session = _Session(registry, scheme, username, secret, env)
    try:
        run_within(
            lambda: _handshake(session, registry, image, findings),
            f"{registry.key}: registry check",
            env,
            "no answer",
        )
    except HelperError as exc:
        findings.append(
            Finding(
                "fail",
                exc.message,
                f"check the network path to the registry; {_TIMEOUT_HINT}",
            )
        )
    return findings


_TIMEOUT_HINT = "DOCKER_CREDENTIAL_TRUSS_TIMEOUT sets the seconds per request"


def scheme_for(
    registry: Registry, insecure: Iterable[str] = (), daemon_json: str = DAEMON_JSON
) -> tuple[str, str]:
    """("http" | "https", why): plain http only where docker itself would use it."""
    if _is_loopback(registry.host):
        return "http", "a loopback registry"
    for name in insecure:
        if _matches(registry, name):
            return "http", "named with --insecure-registry"
    for name in daemon_insecure_registries(daemon_json):
        if _matches(registry, name):
            return "http", f"in insecure-registries of {daemon_json}"
    return "https", ""


def daemon_insecure_registries(path: str = DAEMON_JSON) -> list[str]:
    """``insecure-registries`` of docker's daemon.json; [] when it cannot be read."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return []
    names = data.get("insecure-registries") if isinstance(data, dict) else None
    return [n for n in names if isinstance(n, str)] if isinstance(names, list) else []


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


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


def image_reference(image: str, registry: Registry) -> tuple[str, str] | None:
    """(repository, tag or digest) of ``image`` if it lives on ``registry``, else None."""
    first, sep, rest = image.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        host, path = first, rest
    else:
        host, path = "docker.io", image
    try:
        if parse(host).key != registry.key:
            return None
    except InvalidRegistry:
        return None
    if "@" in path:
        repository, _, reference = path.partition("@")
    else:
        last = path.rsplit("/", 1)[-1]
        if ":" in last:
            repository, _, reference = path.rpartition(":")
        else:
            repository, reference = path, "latest"
    if registry.is_docker_hub and "/" not in repository:
        repository = f"library/{repository}"
    return repository, reference


# -- the conversation ---------------------------------------------------------------


class _Answer:
    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def challenge(self) -> tuple[str, dict[str, str]]:
        return parse_challenge(self.headers.get("WWW-Authenticate", ""))

    def codes(self) -> str:
        """The registry's error codes (``errors[].code``), or the OAuth ``error``; '' if none."""
        try:
            data = json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            data = None
        found: list[str] = []
        if isinstance(data, dict):
            errors = data.get("errors")
            if isinstance(errors, list):
                found += [e.get("code") for e in errors if isinstance(e, dict)]
            found.append(data.get("error"))
        error = self.challenge()[1].get("error")  # insufficient_scope, invalid_token...
        found.append(error)
        codes = []
        for code in found:
            if isinstance(code, str) and _CODE.match(code) and code not in codes:
                codes.append(code)
        return " ".join(codes)

    def describe(self) -> str:
        codes = self.codes()
        return f"HTTP {self.status}" + (f" {codes}" if codes else "")


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="...",service="..."`` -> ("bearer", {"realm": ..., "service": ...})."""
    scheme, _, rest = header.strip().partition(" ")
    params: dict[str, str] = {}
    for match in _PARAM.finditer(rest):
        quoted, bare = match.group(2), match.group(3)
        value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
        params[match.group(1).lower()] = value or ""
    return scheme.lower(), params


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is answered as is: a credential never follows it to another host."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        return None


class _Session:
    def __init__(
        self, registry: Registry, scheme: str, username: str, secret: str, env: Mapping[str, str]
    ) -> None:
        self.base = f"{scheme}://{api_host(registry)}"
        self.scheme = scheme
        self.username = username
        self.secret = secret
        self.timeout = network_timeout(env) or DEFAULT_TIMEOUT
        self.opener = urllib.request.build_opener(_NoRedirects)

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
    ) -> _Answer:
        # S310: url is always http(s), built here from the registry or its challenge.
        request = urllib.request.Request(  # noqa: S310
            url, data=data, method=method, headers=dict(headers or {})
        )
        request.add_header("User-Agent", CLIENT_ID)
        try:
            with self.opener.open(request, timeout=self.timeout) as response:
                answer = _Answer(response.status, response.headers, response.read(MAX_BODY))
        except urllib.error.HTTPError as exc:
            body = exc.read(MAX_BODY) if exc.fp is not None else b""
            answer = _Answer(exc.code, exc.headers, body)
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", exc)
            text = getattr(reason, "strerror", None) or type(reason).__name__
            if isinstance(reason, TimeoutError) or "timed out" in str(reason):
                text = f"no answer within {self.timeout:g}s"
            debuglog.debug("registry check: %s %s: %s", method, _origin(url), text)
            raise _Unreachable(f"{_origin(url)}: {text}") from None
        debuglog.debug("registry check: %s %s -> %s", method, _origin(url), answer.describe())
        return answer

    def token(self, params: Mapping[str, str], scope: str | None) -> tuple[str | None, _Answer]:
        """A Bearer token from the challenge's realm, or (None, the refusal)."""
        realm = params.get("realm", "")
        if not realm.startswith(("https://", "http://")):
            raise _Unreachable(f"the registry's challenge names no usable token realm ({realm!r})")
        if realm.startswith("http://") and self.scheme == "https" and not _realm_is_loopback(realm):
            raise _Unreachable(
                f"the token realm {_origin(realm)} is plain http; the credential is not sent there"
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
            return None, answer
        try:
            data = json.loads(answer.body.decode("utf-8"))
            token = data.get("token") or data.get("access_token")
        except (UnicodeDecodeError, ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise _Unreachable(f"the token realm {_origin(realm)} answered without a token")
        debuglog.redact(token)
        return token, answer


def _origin(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _realm_is_loopback(realm: str) -> bool:
    host = urllib.parse.urlsplit(realm).hostname or ""
    return _is_loopback(host)


def _handshake(
    session: _Session, registry: Registry, image: str | None, findings: list[Finding]
) -> None:
    try:
        auth = _login(session, registry, findings)
        if auth is not None and image:
            _check_image(session, registry, image, auth, findings)
        elif image:
            findings.append(Finding("note", f"image {image}: not looked for, the login failed"))
    except _Unreachable as exc:
        findings.append(
            Finding(
                "fail",
                f"registry check: {exc}",
                f"check the registry's address and the network; {_TIMEOUT_HINT}",
            )
        )


def _login(session: _Session, registry: Registry, findings: list[Finding]) -> tuple | None:
    """Log in as docker would; ("basic"|"bearer"|"none", params) when accepted, else None."""
    ping = f"{session.base}/v2/"
    first = session.send("GET", ping)
    if first.status == 200:
        findings.append(
            Finding("note", f"registry: GET {ping} answers 200 without credentials (no login)")
        )
        return "none", {}
    scheme, params = first.challenge()
    if first.status != 401 or scheme not in ("basic", "bearer"):
        findings.append(
            Finding(
                "fail",
                f"registry: GET {ping} answered {first.describe()}, not a login challenge",
                "check that this host serves the Docker Registry HTTP API v2",
            )
        )
        return None
    fix = (
        "the credential is wrong or expired for this registry: correct the secret"
        " (named above) or renew the token"
    )
    if scheme == "basic":
        answer = session.send("GET", ping, {"Authorization": session.basic()})
        how = "Basic"
    else:
        token, refusal = session.token(params, None)
        if token is None:
            findings.append(
                Finding(
                    "fail",
                    f"registry refused the credential: token realm {_origin(params['realm'])}"
                    f" answered {refusal.describe()}",
                    fix,
                )
            )
            return None
        answer = session.send("GET", ping, {"Authorization": f"Bearer {token}"})
        how = f"Bearer, token from {_origin(params['realm'])}"
    if answer.status == 200:
        findings.append(
            Finding("ok", f"registry accepted the credential: GET {ping} -> 200 ({how})")
        )
        return scheme, params
    findings.append(
        Finding(
            "fail", f"registry refused the credential: GET {ping} answered {answer.describe()}", fix
        )
    )
    return None


def _check_image(
    session: _Session,
    registry: Registry,
    image: str,
    auth: tuple,
    findings: list[Finding],
) -> None:
    found = image_reference(image, registry)
    if found is None:
        findings.append(
            Finding("note", f"image {image}: on another registry, not checked with this credential")
        )
        return
    repository, reference = found
    url = f"{session.base}/v2/{repository}/manifests/{reference}"
    headers = {"Accept": ", ".join(MANIFEST_TYPES)}
    scheme, params = auth
    if scheme == "basic":
        headers["Authorization"] = session.basic()
    elif scheme == "bearer":
        token, refusal = session.token(params, f"repository:{repository}:pull")
        if token is None:
            findings.append(
                Finding(
                    "fail",
                    f"image {image}: denied, the token realm answered {refusal.describe()}"
                    f" for pull of {repository}",
                    "give this identity pull access to the repository",
                )
            )
            return
        headers["Authorization"] = f"Bearer {token}"
    answer = session.send("HEAD", url, headers)
    if answer.status == 200:
        digest = answer.headers.get("Docker-Content-Digest", "")
        shown = digest if _DIGEST.match(digest) else "no digest given"
        kind = answer.headers.get("Content-Type", "").split(";")[0].strip()
        findings.append(Finding("ok", f"image {image}: found, {shown} ({kind or 'no type'})"))
        return
    if answer.status in (404, 401, 403) and not answer.codes():
        # HEAD has no body: ask again with GET for the registry's error code.
        answer = session.send("GET", url, headers)
    if answer.status == 404:
        findings.append(
            Finding(
                "fail",
                f"image {image}: not found ({answer.describe()})",
                "push the image, or correct base_image.image in the truss config and"
                " run configure again",
            )
        )
    elif answer.status in (401, 403):
        findings.append(
            Finding(
                "fail",
                f"image {image}: denied ({answer.describe()}); this identity may not pull"
                f" {repository}, or it does not exist (registries may not say which)",
                "give this identity pull access to the repository, or correct base_image.image",
            )
        )
    else:
        findings.append(
            Finding(
                "fail",
                f"image {image}: HEAD {url} answered {answer.describe()}",
                "see the registry's status; try again later",
            )
        )

"""Will the registry take the credential, and is the base image there? (``doctor``'s last step)

Making a credential proves little: a rotated password, a token for the wrong account or
a repository this identity may not read all fail only at ``docker pull``. This module
does what docker does with the credential ``get`` answers, and no more, and says what
each answer means for the person, with the fix:

1. ``GET /v2/`` without credentials; the ``WWW-Authenticate`` challenge says how to log in;
2. Basic: ``GET /v2/`` again with ``user:password``. Bearer: a token from the challenge's
   realm, then ``GET /v2/`` with the token;
3. when ``configure`` recorded the truss's ``base_image.image``: ``HEAD`` of its manifest
   with pull scope and the ``Accept`` types docker sends (OCI index included).

How each request is made (scheme, challenge, token realm) is :mod:`registryclient`'s
job. Each answer is reported with its HTTP status and the registry's error codes only;
no credential or token is ever put in a finding. Every request is bounded by
``DOCKER_CREDENTIAL_TRUSS_TIMEOUT`` and the whole check by the same deadline as a mint.
"""

from __future__ import annotations

import re
import ssl

from docker_credential_truss import proxies, tlstrust, webclient
from docker_credential_truss.errors import HelperError
from docker_credential_truss.minting import run_within
from docker_credential_truss.registryclient import (
    DAEMON_JSON,
    MANIFEST_TYPES,
    Challenge,
    Session,
    challenge,
    codes,
    describe,
    image_reference,
    origin,
    scheme_for,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from docker_credential_truss.registry import Registry

_DIGEST = re.compile(r"[a-z0-9]+:[a-f0-9]{32,128}\Z")


_TIMEOUT_HINT = "DOCKER_CREDENTIAL_TRUSS_TIMEOUT sets the seconds per request"


class Finding:
    """One line of the report: ``ok``, ``fail`` (with a fix) or ``note``."""

    __slots__ = ("fix", "kind", "text")

    def __init__(self, kind: str, text: str, fix: str = "") -> None:
        self.kind = kind
        self.text = text
        self.fix = fix

    def __repr__(self) -> str:
        return f"Finding({self.kind!r}, {self.text!r})"


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
    scheme = scheme_for(registry, insecure, daemon_json)
    findings: list[Finding] = []
    if scheme.name == "http":
        findings.append(Finding("note", f"registry check over plain http ({scheme.why})"))
    session = Session(registry, scheme.name, username, secret, env)
    if not _route(session, registry, findings):
        return findings
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


def _route(session: Session, registry: Registry, findings: list[Finding]) -> bool:
    """Say how the requests travel (proxy, CA files); False when they cannot be sent."""
    try:
        proxy = session.proxy()
    except proxies.UnsupportedProxy as exc:
        findings.append(Finding("fail", f"registry check: {exc}", _PROXY_FIX))
        return False
    if proxy is not None:
        findings.append(
            Finding("note", f"registry check through the proxy {proxy.shown} ({proxy.variable})")
        )
    elif proxies.is_loopback(registry.host) and any(
        session.env.get(name, "").strip() for name in _PROXY_VARIABLES
    ):
        findings.append(Finding("note", "no proxy for a loopback registry, as docker does"))
    if session.scheme == "https":
        try:
            trust = session.tls()
        except (ssl.SSLError, OSError) as exc:
            findings.append(
                Finding(
                    "fail",
                    f"registry check: a CA file docker trusts for {registry.key} cannot be"
                    f" loaded ({type(exc).__name__})",
                    "replace the file with a PEM certificate, or remove it",
                )
            )
            return False
        findings.append(Finding("note", f"TLS: trusting {trust.describe()}"))
    return True


_PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy")
_PROXY_FIX = "set HTTPS_PROXY to an http(s) proxy, or add the registry to NO_PROXY"


def _handshake(
    session: Session, registry: Registry, image: str | None, findings: list[Finding]
) -> None:
    try:
        login = _log_in(session, findings)
        if login is not None and image:
            _check_image(session, registry, image, login, findings)
        elif image:
            findings.append(Finding("note", f"image {image}: not looked for, the login failed"))
    except webclient.Unreachable as exc:
        if ": TLS: " in str(exc):  # the certificate: trust is the fix, not the network
            fix = (
                f"if docker trusts this registry's CA, put it in"
                f" {tlstrust.DOCKER_CERTS_D}/{session.host}/ca.crt (as docker reads it), or add it"
                " to the system store"
            )
        else:
            fix = f"check the registry's address and the network; {_TIMEOUT_HINT}"
        findings.append(Finding("fail", f"registry check: {exc}", fix))


def _log_in(session: Session, findings: list[Finding]) -> Challenge | None:
    """Log in as docker would; the challenge that was met (scheme "none" when the registry
    asked for none) when the credential was accepted, else None."""
    ping = f"{session.base}/v2/"
    first = session.send("GET", ping)
    if first.status == 200:
        findings.append(
            Finding("note", f"registry: GET {ping} answers 200 without credentials (no login)")
        )
        return Challenge("none", {})
    asked = challenge(first)
    scheme, params = asked.scheme, asked.params
    if first.status != 401 or scheme not in ("basic", "bearer"):
        findings.append(
            Finding(
                "fail",
                f"registry: GET {ping} answered {describe(first)}, not a login challenge",
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
        token = session.token(params, None)
        if token.value is None:
            findings.append(
                Finding(
                    "fail",
                    f"registry refused the credential: token realm {origin(params['realm'])}"
                    f" answered {describe(token.answer)}",
                    fix,
                )
            )
            return None
        answer = session.send("GET", ping, {"Authorization": f"Bearer {token.value}"})
        how = f"Bearer, token from {origin(params['realm'])}"
    if answer.status == 200:
        findings.append(
            Finding("ok", f"registry accepted the credential: GET {ping} -> 200 ({how})")
        )
        return asked
    findings.append(
        Finding(
            "fail", f"registry refused the credential: GET {ping} answered {describe(answer)}", fix
        )
    )
    return None


def _check_image(
    session: Session,
    registry: Registry,
    image: str,
    login: Challenge,
    findings: list[Finding],
) -> None:
    found = image_reference(image, registry)
    if found is None:
        findings.append(
            Finding("note", f"image {image}: on another registry, not checked with this credential")
        )
        return
    repository = found.repository
    url = f"{session.base}/v2/{repository}/manifests/{found.reference}"
    headers = {"Accept": ", ".join(MANIFEST_TYPES)}
    if login.scheme == "basic":
        headers["Authorization"] = session.basic()
    elif login.scheme == "bearer":
        token = session.token(login.params, f"repository:{repository}:pull")
        if token.value is None:
            findings.append(
                Finding(
                    "fail",
                    f"image {image}: denied, the token realm answered {describe(token.answer)}"
                    f" for pull of {repository}",
                    "give this identity pull access to the repository",
                )
            )
            return
        headers["Authorization"] = f"Bearer {token.value}"
    answer = session.send("HEAD", url, headers)
    if answer.status == 200:
        digest = answer.headers.get("Docker-Content-Digest", "")
        shown = digest if _DIGEST.match(digest) else "no digest given"
        kind = answer.headers.get("Content-Type", "").split(";")[0].strip()
        findings.append(Finding("ok", f"image {image}: found, {shown} ({kind or 'no type'})"))
        return
    if answer.status in (404, 401, 403) and not codes(answer):
        # HEAD has no body: ask again with GET for the registry's error code.
        answer = session.send("GET", url, headers)
    if answer.status == 404:
        findings.append(
            Finding(
                "fail",
                f"image {image}: not found ({describe(answer)})",
                "push the image, or correct base_image.image in the truss config and"
                " run configure again",
            )
        )
    elif answer.status in (401, 403):
        findings.append(
            Finding(
                "fail",
                f"image {image}: denied ({describe(answer)}); this identity may not pull"
                f" {repository}, or it does not exist (registries may not say which)",
                "give this identity pull access to the repository, or correct base_image.image",
            )
        )
    else:
        findings.append(
            Finding(
                "fail",
                f"image {image}: HEAD {url} answered {describe(answer)}",
                "see the registry's status; try again later",
            )
        )

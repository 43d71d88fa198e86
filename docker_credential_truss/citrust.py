"""doctor's OIDC section: which CI token a job presents, and what must trust it.

The commonest failure of an OIDC method from CI is a role or workload
identity provider that trusts another issuer, audience or subject than the job's (one
set up for Baseten's hosted builder, say). STS's answer only says the token was
refused, so doctor names the token source :mod:`~docker_credential_truss.providers.citoken`
found (or every place it looked), decodes the token's ``iss``, ``aud``, ``sub`` and
``exp`` without verifying it, and shows them as what the trust policy must admit;
it warns about an expired token and an audience other than the cloud's default.

The claims are not secrets, but they are text from outside: each is shown without
control characters and cut to a line. The token itself is registered for masking by
citoken and never shown.
"""

from __future__ import annotations

import time

from docker_credential_truss.errors import HelperError
from docker_credential_truss.minting import run_within
from docker_credential_truss.providers import citoken

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Protocol

    class Findings(Protocol):
        def ok(self, text: str) -> None: ...
        def note(self, text: str) -> None: ...
        def warn(self, text: str, fix: str) -> None: ...
        def fail(self, text: str, fix: str) -> None: ...


CLAIMS = ("iss", "aud", "sub", "exp")
DOCS = "docs/ci.md"
MAX_SHOWN = 200


def check(
    report: Findings,
    provider: object,
    method: str,
    settings: Mapping[str, str],
    env: Mapping[str, str],
    offline: bool,
    now: float,
) -> None:
    """Report the token source of an OIDC ``provider``, and its token's claims.

    ``settings`` are the registry's truss ``docker_auth`` fields (the role, or the
    provider and service account, named in the report). Offline, a token that must be
    asked for (GitHub, Buildkite) is not.
    """
    trust = provider.ci_trust(settings)  # type: ignore[attr-defined]
    cloud = trust.cloud
    source = provider.token_source()  # type: ignore[attr-defined]
    if source is None:
        report.note(f"CI OIDC token: none; looked at {cloud.places()}; {trust.without}")
        return
    report.ok(f"CI OIDC token: from {source.name}")
    if offline and not source.at_hand:
        report.note("CI OIDC token: not asked for (--offline), so its claims are not shown")
        return
    try:
        token = run_within(source.token, source.key, env, "no OIDC token")
    except HelperError as exc:
        report.fail(exc.message, f"see {DOCS} for what the job needs")
        return
    claims = citoken.claims(token)
    if claims is None:
        report.warn(
            "the CI token is not a JWT, so its claims cannot be shown",
            f"check what {source.name} holds: a CI's OIDC token has three dot-separated parts",
        )
        return
    report.note(f"{trust.admitter} must admit (decoded, not verified):")
    for name in CLAIMS:
        report.note(f"  {name} {_shown(claims.get(name), name)}")
    exp = claims.get("exp")
    if isinstance(exp, (int, float)) and not isinstance(exp, bool) and exp <= now:
        report.warn(
            f"the CI token expired at {_when(exp)}",
            f"the CI makes a token per job: {source.name} must hold this job's, not an old one",
        )
    audiences = _audiences(claims.get("aud"))
    if not audiences & _defaults(source.default_audience):
        report.warn(
            f"the token's audience is not {source.default_audience}, the default for {method}",
            f"accept it in the {trust.trust_object}, or have the CI issue the token for"
            f" {source.default_audience} ({cloud.audience_variable} sets what the helper asks"
            " GitHub and Buildkite for)",
        )
    report.note(
        f"on Baseten's hosted builder this config presents issuer {citoken.BASETEN_ISSUER}"
        f" instead: used there and from CI, {trust.both}"
    )


def _audiences(aud: object) -> set[str]:
    if isinstance(aud, str):
        return {aud}
    if isinstance(aud, list):
        return {a for a in aud if isinstance(a, str)}
    return set()


def _defaults(default: str) -> set[str]:
    """The default, and for Google the other spelling its providers also accept."""
    prefix = citoken.GOOGLE_AUDIENCE_PREFIX
    if default.startswith(prefix):
        return {default, "//iam.googleapis.com/" + default[len(prefix) :]}
    return {default}


def _shown(value: object, name: str) -> str:
    if value is None:
        return "(absent)"
    if name == "exp" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return _when(value)
    text = value if isinstance(value, str) else repr(value)
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + "..."


def _when(epoch: float) -> str:
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))
    except (OverflowError, OSError, ValueError):
        return repr(epoch)

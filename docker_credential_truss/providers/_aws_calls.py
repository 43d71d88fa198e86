"""The botocore half of the AWS provider, imported only when a token must be minted.

Kept apart from :mod:`docker_credential_truss.providers.aws` so that the cheap half
(host parsing, identity, the convention check) never pays for botocore, and so that
everything that talks to AWS, and every way that can fail, is in one place. It is a
leaf: it takes a :class:`Call` of plain values and knows nothing of truss settings,
secret sources or the module above it, so the import arrow runs one way.

Error lines name the registry, the call and the cause: the AWS error code (never
its message, which can quote request details), the endpoint, and which secret was
used (its name and where it was found, never its value).
"""

from __future__ import annotations

import base64
import binascii
import os
import random
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import botocore.session
from botocore import UNSIGNED
from botocore.config import Config
from botocore.configprovider import ConstantProvider
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    InvalidRegionError,
    NoCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
    SSLError,
)

from docker_credential_truss import __version__, debuglog
from docker_credential_truss.errors import ProviderError, safe_code
from docker_credential_truss.minting import Token, network_timeout

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

#: The RoleSessionName of every AssumeRole call: CloudTrail shows who asked.
SESSION_NAME = "docker-credential-truss"
CONNECT_TIMEOUT = 2.0
READ_TIMEOUT = 3.0
#: Attempts for an answer that asks to try again (throttling, 5xx); silence gets one.
MAX_ATTEMPTS = 3
#: Seconds: the n-th retry waits a random time up to BACKOFF x 2^(n-1).
BACKOFF = 0.5

_ENDPOINT_VARIABLES = {"ecr": "ECR", "ecr-public": "ECR_PUBLIC", "sts": "STS"}
_INVALID_KEY = frozenset({"UnrecognizedClientException", "InvalidClientTokenId"})
_BAD_SIGNATURE = frozenset({"InvalidSignatureException", "SignatureDoesNotMatch"})
_DENIED = frozenset({"AccessDeniedException", "AccessDenied"})
_EXPIRED = frozenset({"ExpiredTokenException", "ExpiredToken"})
_THROTTLED = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
    }
)
_BAD_WEB_IDENTITY = frozenset(
    {"InvalidIdentityToken", "IDPRejectedClaim", "IDPCommunicationError", "ExpiredTokenException"}
)


class Call:
    """What to ask AWS for one registry, as plain values (the caller knows truss; this does not).

    ``keys``: the key pair to sign with (``aws_access_key_id``, ``aws_secret_access_key``
    and maybe ``aws_session_token``), or None for boto3's default chain. ``labels``
    says, per part (``key_id``, ``secret_key``, ``session_token``), which secret it came
    from, for messages. With ``role`` set, STS is asked first: ``AssumeRoleWithWebIdentity``
    with ``web_token`` (from ``web_source``, as citoken names it), else ``AssumeRole`` (with
    ``external_id`` when given); ECR is then called with the role's credentials.
    """

    def __init__(
        self,
        where: str,
        *,
        service: str,
        account: str | None,
        region: str,
        fips: bool,
        env: Mapping[str, str],
        keys: Mapping[str, str] | None,
        labels: Mapping[str, str],
        role: str | None = None,
        role_region: str | None = None,
        external_id: str | None = None,
        web_source: str | None = None,
        web_token: str | None = None,
    ) -> None:
        self.where = where
        self.service = service
        self.account = account
        self.region = region
        self.fips = fips
        self.env = env
        self.keys = keys
        self.labels = labels
        self.role = role
        self.role_region = role_region
        self.external_id = external_id
        self.web_source = web_source
        self.web_token = web_token

    @property
    def public(self) -> bool:
        return self.service == "ecr-public"


def mint(call: Call) -> Token:
    """STS first when a role is to be assumed, then ECR's GetAuthorizationToken."""
    env = call.env
    where = call.where
    session = _session(isolated=call.keys is not None or call.web_token is not None)
    config = _config(env)
    credentials = dict(call.keys) if call.keys is not None else None
    signer: Mapping[str, str] | None = call.labels
    cap: float | None = None

    if call.role is not None:
        role, sts_region = call.role, call.role_region or ""
        extra = {"role": role, "labels": call.labels}
        if call.web_token is not None:
            unsigned = config.merge(Config(signature_version=UNSIGNED))
            sts = _client(where, session, "sts", sts_region, env, unsigned, None)
            op = "STS AssumeRoleWithWebIdentity"
            extra["web_source"] = call.web_source
            answer = _call(
                call,
                op,
                sts.assume_role_with_web_identity,
                RoleArn=role,
                RoleSessionName=SESSION_NAME,
                WebIdentityToken=call.web_token,
                extra=extra,
            )
        else:
            sts = _client(where, session, "sts", sts_region, env, config, credentials)
            op = "STS AssumeRole"
            params = {"RoleArn": role, "RoleSessionName": SESSION_NAME}
            if call.external_id:
                params["ExternalId"] = call.external_id
            answer = _call(call, op, sts.assume_role, extra=extra, **params)
        try:
            assumed = answer["Credentials"]
            credentials = {
                "aws_access_key_id": assumed["AccessKeyId"],
                "aws_secret_access_key": assumed["SecretAccessKey"],
                "aws_session_token": assumed["SessionToken"],
            }
            cap = assumed["Expiration"].timestamp()
        except (KeyError, TypeError, AttributeError):
            raise ProviderError(f"{where}: {op} answered without credentials") from None
        for part in ("aws_secret_access_key", "aws_session_token"):  # minted from the job's token
            debuglog.redact(credentials[part])
        signer = None  # from here on the role's credentials sign, not the secrets

    client = _client(
        where, session, call.service, call.region, env, config, credentials, fips=call.fips
    )
    if call.public:
        op = "ECR Public GetAuthorizationToken"
        answer = _call(call, op, client.get_authorization_token, extra={"labels": signer})
        data = answer.get("authorizationData")
    else:
        op = "ECR GetAuthorizationToken"
        answer = _call(
            call,
            op,
            client.get_authorization_token,
            registryIds=[call.account],
            extra={"labels": signer},
        )
        found = answer.get("authorizationData") or [None]
        data = found[0]
    return _token(where, op, data, cap)


# -- botocore set-up -----------------------------------------------------------------------


def _session(isolated: bool) -> botocore.session.Session:
    """A botocore session; an isolated one reads no ~/.aws file and no AWS_PROFILE."""
    session = botocore.session.Session()
    session.user_agent_extra = f"docker-credential-truss/{__version__}"
    if isolated:
        session.set_config_variable("config_file", os.devnull)
        session.set_config_variable("credentials_file", os.devnull)
        session.get_component("config_store").set_config_provider("profile", ConstantProvider(None))
    return session


def _config(env: Mapping[str, str]) -> Config:
    timeout = network_timeout(env)
    connect, read = (CONNECT_TIMEOUT, READ_TIMEOUT) if timeout is None else (timeout, timeout)
    return Config(
        connect_timeout=connect,
        read_timeout=read,
        retries={"mode": "standard", "total_max_attempts": 1},  # see _call
    )


def endpoint_url(env: Mapping[str, str], service: str) -> str | None:
    """boto3's endpoint variables, read from ``env``: the service's own, then the global."""
    if env.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").strip().lower() == "true":
        return None
    own = env.get("AWS_ENDPOINT_URL_" + _ENDPOINT_VARIABLES[service], "").strip()
    return own or env.get("AWS_ENDPOINT_URL", "").strip() or None


def _client(
    where: str,
    session: botocore.session.Session,
    service: str,
    region: str,
    env: Mapping[str, str],
    config: Config,
    credentials: Mapping[str, str] | None,
    *,
    fips: bool = False,
) -> Any:
    if fips:
        config = config.merge(Config(use_fips_endpoint=True))
    kwargs: dict[str, Any] = dict(credentials or {})
    url = endpoint_url(env, service)
    if url:
        kwargs["endpoint_url"] = url
    bundle = env.get("AWS_CA_BUNDLE", "").strip()
    if bundle:
        kwargs["verify"] = bundle
    try:
        return session.create_client(service, region_name=region, config=config, **kwargs)
    except InvalidRegionError:
        raise ProviderError(f"{where}: {region!r} is not a valid AWS region name") from None
    except ProfileNotFound as exc:
        raise ProviderError(
            f"{where}: boto3 cannot use AWS profile {exc.kwargs.get('profile')!r}: not found"
        ) from None
    except ValueError as exc:  # botocore rejects a malformed endpoint URL this way
        raise ProviderError(
            f"{where}: cannot use AWS endpoint {_safe_url(url)}: {type(exc).__name__}"
        ) from None


# -- one call, and what its failure means -------------------------------------------------


def _call(call: Call, op: str, method: Callable[..., Any], *, extra: dict, **params: Any) -> Any:
    """One AWS call; an answer that says "try again" is retried, silence is not.

    botocore's own retries are off (``_config``): they also retry timeouts and refused
    connections, so a dead endpoint took three timeouts. Throttling and 5xx answers
    come back quickly and are retried here, up to MAX_ATTEMPTS with jittered backoff.
    """
    where = call.where
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            return method(**params)
        except ClientError as exc:
            if attempt < MAX_ATTEMPTS and _worth_retrying(exc):
                time.sleep(random.random() * BACKOFF * 2 ** (attempt - 1))  # noqa: S311 - jitter
                continue
            raise ProviderError(
                f"{where}: {op} failed: {_client_error(call, exc, extra, attempt)}"
            ) from None
        except BotoCoreError as exc:
            raise ProviderError(f"{where}: {op} failed: {_sdk_error(call, exc)}") from None
        except Exception as exc:  # botocore's parsers raise plain errors on a garbled answer
            raise ProviderError(
                f"{where}: {op} failed: the answer could not be read ({type(exc).__name__})"
            ) from None
    raise AssertionError("unreachable")  # pragma: no cover


def _worth_retrying(exc: ClientError) -> bool:
    response = exc.response or {}
    code = str((response.get("Error") or {}).get("Code") or "")
    status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
    return code in _THROTTLED or status in (500, 502, 503, 504)


def _client_error(call: Call, exc: ClientError, extra: dict, attempts: int) -> str:
    response = exc.response or {}
    error = response.get("Error") or {}
    raw_code = str(error.get("Code") or "")
    code = safe_code(raw_code, more=":") or "an unrecognised error"
    meta = response.get("ResponseMetadata") or {}
    status = meta.get("HTTPStatusCode")
    labels = extra.get("labels") or {}
    role = extra.get("role")
    web_source = extra.get("web_source")

    def secret(part: str) -> str:
        label = labels.get(part)
        return f" in {label}" if label else ""

    if web_source is not None and raw_code in _BAD_WEB_IDENTITY:
        return f"STS rejected the web identity token from {web_source} for role {role} ({code})"
    if raw_code in _INVALID_KEY:
        text = f"AWS does not recognise the access key id{secret('key_id')}"
        if labels.get("session_token"):
            text += f" with the session token{secret('session_token')}"
        return f"{text} ({code})"
    if raw_code in _BAD_SIGNATURE:
        message = str(error.get("Message") or "").lower()
        if "region" in message:
            region = call.role_region if role is not None else call.region
            return f"AWS refused region {region!r} for this endpoint ({code})"
        return (
            f"AWS rejected the request signature: the secret access key{secret('secret_key')}"
            f" does not match the access key id ({code})"
        )
    if raw_code in _DENIED:
        if role is not None:
            text = f"access denied: the AWS identity may not assume role {role}"
            if call.external_id:
                text += " with the external id given"
            return f"{text} ({code})"
        needs = "ecr:GetAuthorizationToken"
        if call.public:
            needs = "ecr-public:GetAuthorizationToken and sts:GetServiceBearerToken"
        return f"access denied: the AWS identity is not allowed {needs} ({code})"
    if raw_code in _EXPIRED:
        return f"the AWS session token{secret('session_token')} has expired ({code})"
    if raw_code in _THROTTLED:
        return (
            f"AWS throttled the request; {attempts} attempts did not get through,"
            f" try again shortly ({code})"
        )
    if raw_code == "RequestExpired":
        return f"AWS says the request is stale: is this machine's clock right? ({code})"
    return f"{code} (HTTP {status})"


def _sdk_error(call: Call, exc: BotoCoreError) -> str:
    kwargs = getattr(exc, "kwargs", {}) or {}
    url = _safe_url(kwargs.get("endpoint_url"))
    config = _config(call.env)
    connect, read = config.connect_timeout, config.read_timeout
    if isinstance(exc, ConnectTimeoutError):
        return f"{url} did not accept a connection within {connect:g} s"
    if isinstance(exc, ReadTimeoutError):
        return f"{url} did not answer within {read:g} s"
    if isinstance(exc, SSLError):
        return f"TLS verification of {url} failed (a proxy or AWS_CA_BUNDLE?)"
    if isinstance(exc, (EndpointConnectionError, ConnectionClosedError)):
        return f"cannot reach {url}: no network, or the endpoint is wrong{_region_hint(call)}"
    if isinstance(exc, NoCredentialsError):
        return (
            "no AWS credentials: boto3's default chain (environment, ~/.aws, SSO,"
            " instance role) found none"
        )
    if isinstance(exc, ProfileNotFound):
        return f"AWS profile {kwargs.get('profile')!r} not found"
    return f"the AWS SDK failed ({type(exc).__name__})"


def _token(where: str, op: str, data: Any, cap: float | None) -> Token:
    try:
        encoded = data["authorizationToken"]
        expires = data["expiresAt"].timestamp()
        user, sep, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (KeyError, TypeError, AttributeError, binascii.Error, UnicodeDecodeError):
        raise ProviderError(
            f"{where}: {op} answered without a usable authorization token"
        ) from None
    if not sep or not user or not password:
        raise ProviderError(f"{where}: {op} answered a token that is not user:password")
    if cap is not None:
        expires = min(expires, cap)
    return Token(user, password, expires)


# -- small helpers ---------------------------------------------------------------------------


def _region_hint(call: Call) -> str:
    """Say so when the region is not one botocore knows; new regions appear, so only a hint."""
    session = botocore.session.Session()
    for partition in session.get_available_partitions():
        if call.region in session.get_available_regions(call.service, partition):
            return ""
    return f" (region {call.region!r} is not one this botocore knows)"


def _safe_url(url: object) -> str:
    """An endpoint URL without user info, query or fragment, which could carry secrets."""
    if not isinstance(url, str) or not url:
        return "the AWS endpoint"
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.port is not None:
            host = f"{host}:{parts.port}"
    except ValueError:
        return "the AWS endpoint"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))

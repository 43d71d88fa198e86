"""Google Artifact Registry and Container Registry: ``GCP_SERVICE_ACCOUNT_JSON`` and ``GCP_OIDC``.

Both methods end in an OAuth2 access token (scope ``cloud-platform``) that the
registries accept with the user name ``oauth2accesstoken``. Such a token opens every
Google Cloud API the service account may use, so it is only ever handed to the
Google registry hosts matched exactly by :func:`is_google_registry`; a truss config
that names a Google method for any other host is refused, never obeyed.

``make`` is cheap (json and re only): it reads and checks the secret or the settings,
because the resolver calls it and ``identity()`` on every ``get`` before it looks in
the token cache. google-auth and requests are imported only in ``mint()``.

Every network request google-auth makes goes through one ``requests`` session that
forces a short timeout (``DOCKER_CREDENTIAL_TRUSS_TIMEOUT`` seconds, default 3)
instead of google-auth's 120 s, because no docker client puts a timeout on a helper.
Errors are reduced to one line naming the registry, the endpoint and the OAuth error
code; google-auth's own messages can carry the server's response body, so they are
never passed on.
"""

from __future__ import annotations

import json
import re

from docker_credential_truss import debuglog
from docker_credential_truss.errors import ConfigError, ProviderError, SecretError, safe_code
from docker_credential_truss.minting import Token, request_timeout

TYPE_CHECKING = False  # importing typing costs start-up time
if TYPE_CHECKING:
    from collections.abc import Mapping

    from docker_credential_truss.providers import Spec
    from docker_credential_truss.providers.citoken import Source, Trust
    from docker_credential_truss.registry import Registry

USERNAME = "oauth2accesstoken"
SCOPE = "https://www.googleapis.com/auth/cloud-platform"
DEFAULT_TOKEN_URI = "https://oauth2.googleapis.com/token"
DEFAULT_STS_URL = "https://sts.googleapis.com/v1/token"
DEFAULT_IAMCREDENTIALS_URL = "https://iamcredentials.googleapis.com"

#: Environment variables this module reads (documented in README, "Google"); the CI
#: token's sources are citoken's (GCP_OIDC).
ENV_OIDC_TOKEN_FILE = "DOCKER_CREDENTIAL_TRUSS_GCP_OIDC_TOKEN_FILE"
ENV_STS_URL = "DOCKER_CREDENTIAL_TRUSS_GCP_STS_URL"
ENV_IAMCREDENTIALS_URL = "DOCKER_CREDENTIAL_TRUSS_GCP_IAMCREDENTIALS_URL"

SERVICE_ACCOUNT_JSON = "GCP_SERVICE_ACCOUNT_JSON"
OIDC = "GCP_OIDC"
METHODS = (SERVICE_ACCOUNT_JSON, OIDC)

CONTAINER_REGISTRY_HOSTS = frozenset({"gcr.io", "us.gcr.io", "eu.gcr.io", "asia.gcr.io"})
# Artifact Registry: the multi-regions, or <continent>-<direction><n> regions such as
# us-west2, europe-west10, me-central2, northamerica-northeast1.
_ARTIFACT_REGISTRY = re.compile(
    r"(?:us|europe|asia|[a-z]{2,12}-[a-z]{4,10}[1-9][0-9]?)-docker\.pkg\.dev\Z"
)
_WORKLOAD_PROVIDER = re.compile(
    r"(?://iam\.googleapis\.com/)?"
    r"(projects/[0-9]{1,20}/locations/global/workloadIdentityPools/[a-z0-9-]{4,32}"
    r"/providers/[a-z0-9-]{4,32})\Z"
)
_SERVICE_ACCOUNT = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}@[a-z0-9][a-z0-9.-]{0,251}\Z")


def is_google_registry(host: str, port: int | None = None) -> bool:
    """Whether ``host`` (already lower case, as ``Registry.host`` is) is a Google registry.

    Exact names only: no suffix matching, so ``pkg.dev.evil.com`` or
    ``evil-gcr.io`` never receive a Google token. A port means some other server.
    """
    if port is not None:
        return False
    return host in CONTAINER_REGISTRY_HOSTS or _ARTIFACT_REGISTRY.match(host) is not None


def check(registry: Registry, method: str, settings: Mapping[str, str]) -> str | None:
    """Why ``method`` cannot serve ``registry`` with ``settings``, or None (config alone)."""
    if method not in METHODS:
        return f"{registry.key}: the gcp provider does not handle auth_method {method}"
    if not is_google_registry(registry.host, registry.port):
        return (
            f"{registry.key}: {method} is only for Google Artifact Registry "
            "(<location>-docker.pkg.dev) and Container Registry (gcr.io, us.gcr.io, "
            "eu.gcr.io, asia.gcr.io); refusing to send a Google token to another host"
        )
    try:
        if method == SERVICE_ACCOUNT_JSON:
            _setting(registry, method, settings, "secret_name")
            return None
        provider = _setting(registry, method, settings, "gcp_oidc_workload_id_provider")
        account = _setting(registry, method, settings, "gcp_oidc_service_account")
    except ConfigError as exc:
        return exc.message
    if _WORKLOAD_PROVIDER.match(provider) is None:
        return (
            f"{registry.key}: gcp_oidc_workload_id_provider must look like "
            "projects/<number>/locations/global/workloadIdentityPools/<pool>/providers/<id>"
        )
    if _SERVICE_ACCOUNT.match(account) is None:
        return f"{registry.key}: gcp_oidc_service_account must be a service-account email"
    return None


def make(spec: Spec) -> ServiceAccountKey | WorkloadIdentity:
    """Check the registry and the method's settings and return its provider (no network)."""
    registry, method, settings, env = spec.registry, spec.method, spec.settings, spec.env
    problem = check(registry, method, settings)
    if problem is not None:
        raise ConfigError(problem)
    timeout = request_timeout(env)
    if method == SERVICE_ACCOUNT_JSON:
        name = _setting(registry, method, settings, "secret_name")
        value = spec.secrets.require(name, f"the service-account key for {registry.key}").value
        info = service_account_info(f"{registry.key}: secret {name}", value)
        return ServiceAccountKey(registry, name, info, timeout)
    if method == OIDC:
        provider = _setting(registry, method, settings, "gcp_oidc_workload_id_provider")
        account = _setting(registry, method, settings, "gcp_oidc_service_account")
        match = _WORKLOAD_PROVIDER.match(provider)
        assert match is not None  # check() said so
        from docker_credential_truss.providers import citoken

        # what the CI is asked to put in the token's aud, as google-github-actions/auth does
        default_audience = citoken.GOOGLE_AUDIENCE_PREFIX + match.group(1)
        return WorkloadIdentity(
            registry,
            audience="//iam.googleapis.com/" + match.group(1),
            service_account=account,
            token_source=citoken.find(citoken.GCP, env, default_audience, registry.key),
            sts_url=env.get(ENV_STS_URL) or DEFAULT_STS_URL,
            iam_url=(env.get(ENV_IAMCREDENTIALS_URL) or DEFAULT_IAMCREDENTIALS_URL).rstrip("/"),
            timeout=timeout,
        )
    raise ConfigError(f"{registry.key}: the gcp provider does not handle auth_method {method}")


class ServiceAccountKey:
    """``GCP_SERVICE_ACCOUNT_JSON``: a key file's JWT-bearer grant at its own ``token_uri``."""

    username = USERNAME
    cacheable = True

    def __init__(
        self, registry: Registry, secret_name: str, info: dict[str, str], timeout: float
    ) -> None:
        self.registry = registry
        self.secret_name = secret_name
        self._info = info
        self.timeout = timeout

    def identity(self) -> tuple[str, ...]:
        # The key id changes when the key is rotated; the token URI decides who issued
        # the token. Neither is secret.
        info = self._info
        return (
            SERVICE_ACCOUNT_JSON,
            info["client_email"],
            info["private_key_id"],
            info["token_uri"],
        )

    def preflight(self) -> object:
        """The credentials, made from the key without the network (doctor --offline too)."""
        from google.oauth2 import service_account

        try:
            return service_account.Credentials.from_service_account_info(self._info, scopes=[SCOPE])
        except Exception:  # cryptography's and google-auth's messages are not ours to show
            raise SecretError(
                f"{self.registry.key}: secret {self.secret_name} holds a service-account key "
                "whose private_key is not a usable PEM RSA key"
            ) from None

    def mint(self) -> Token:
        credentials = self.preflight()
        return _refresh(self.registry, credentials, self.timeout)


class WorkloadIdentity:
    """``GCP_OIDC``: a CI's OIDC token exchanged at STS, then the service account impersonated."""

    username = USERNAME
    cacheable = True

    def __init__(
        self,
        registry: Registry,
        *,
        audience: str,
        service_account: str,
        token_source: Source | None,
        sts_url: str,
        iam_url: str,
        timeout: float,
    ) -> None:
        self.registry = registry
        self.audience = audience
        self.service_account = service_account
        self.source = token_source
        self.sts_url = sts_url
        self.iam_url = iam_url
        self.timeout = timeout

    def identity(self) -> tuple[str, ...]:
        # The job the CI token belongs to (known without fetching one: see citoken), not
        # the token itself: a job gets a new one per request, all as good as the first.
        job = self.source.job() if self.source is not None else ""
        return (OIDC, self.audience, self.service_account, self.sts_url, self.iam_url, job)

    def inputs(self) -> str:
        """Besides the secrets, what a mint is made from: the job's token (citoken)."""
        return self.source.inputs() if self.source is not None else ""

    def ci_trust(self, settings: Mapping[str, str]) -> Trust:
        """What must trust the CI job's token (doctor shows it)."""
        from docker_credential_truss.providers import citoken

        resource = settings.get("gcp_oidc_workload_id_provider")
        account = settings.get("gcp_oidc_service_account")
        return citoken.Trust(
            citoken.GCP,
            without=f"{OIDC} cannot work without one",
            admitter=f"workload identity provider {resource} (and {account}'s"
            " workloadIdentityUser)",
            trust_object="workload identity provider",
            both="the service account must admit a provider for each issuer",
        )

    def token_source(self) -> Source | None:
        """Where the CI job's token comes from (citoken), or None: none was found."""
        return self.source

    def preflight(self) -> Source:
        """What mint checks before the network: a token source, and a token at hand read."""
        if self.source is None:
            from docker_credential_truss.providers import citoken

            raise ProviderError(
                f"{self.registry.key}: GCP_OIDC found no OIDC token from a CI; looked at"
                f" {citoken.GCP.places()}"
            )
        self.source.ready()
        return self.source

    def mint(self) -> Token:
        from google.auth import identity_pool

        subject_token = self.preflight().token()

        class _Supplier(identity_pool.SubjectTokenSupplier):
            def get_subject_token(self, context: object, request: object) -> str:
                return subject_token

        try:
            credentials = identity_pool.Credentials(
                audience=self.audience,
                subject_token_type="urn:ietf:params:oauth:token-type:jwt",
                token_url=self.sts_url,
                subject_token_supplier=_Supplier(),
                service_account_impersonation_url=(
                    f"{self.iam_url}/v1/projects/-/serviceAccounts/"
                    f"{self.service_account}:generateAccessToken"
                ),
                scopes=[SCOPE],
            )
        except Exception as e:  # google-auth's text is not ours to show
            raise ProviderError(
                f"{self.registry.key}: google-auth rejected the GCP_OIDC settings "
                f"({type(e).__name__})"
            ) from None
        try:
            return _refresh(self.registry, credentials, self.timeout)
        finally:  # STS's token, traded for the CI's, is a credential too (google-auth keeps it)
            impersonated = getattr(credentials, "_impersonated_credentials", None)
            sts_token = getattr(getattr(impersonated, "_source_credentials", None), "token", None)
            if isinstance(sts_token, str):
                debuglog.redact(sts_token)


def _setting(registry: Registry, method: str, settings: Mapping[str, str], field: str) -> str:
    value = (settings.get(field) or "").strip()
    if not value:
        raise ConfigError(
            f"{registry.key}: auth_method {method} needs {field} in the truss docker_auth "
            "config (run configure again)"
        )
    return value


def service_account_info(where: str, value: str) -> dict[str, str]:
    """The service-account key JSON in ``value``, checked the way google-auth will need it.

    Errors start with ``where`` (which secret) and never quote the value. Shared by the
    mint and ``baseten push``, which refuses to upload a key the builder could not use.
    """
    try:
        info = json.loads(value)
    except ValueError as e:
        position = f" (line {e.lineno} column {e.colno})" if hasattr(e, "lineno") else ""
        raise SecretError(
            f"{where} is not valid JSON{position}; expected a service-account key"
        ) from None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise SecretError(f'{where} is not a service-account key (no "type": "service_account")')
    missing = [
        field
        for field in ("client_email", "private_key_id", "private_key")
        if not isinstance(info.get(field), str) or not info[field]
    ]
    if missing:
        raise SecretError(f"{where} is a service-account key without {', '.join(missing)}")
    token_uri = info.get("token_uri") or DEFAULT_TOKEN_URI
    if not isinstance(token_uri, str) or not token_uri.startswith(("https://", "http://")):
        raise SecretError(f"{where} has a token_uri that is not an http(s) URL")
    info["token_uri"] = token_uri
    return info


def _refresh(registry: Registry, credentials: object, timeout: float) -> Token:
    """Run google-auth's refresh with bounded requests; turn any failure into one safe line.

    The line names the URL of the last request, without its query (a signature or a key
    may ride there). Every failure of both methods comes after a request: their settings
    are checked first, and google-auth asks nothing of them before its first request.
    """
    try:
        import requests
        from google.auth import exceptions
        from google.auth.transport.requests import Request
    except ImportError:
        raise ProviderError(
            f"{registry.key}: Google auth needs the 'requests' package (google-auth[requests])"
        ) from None

    class BoundedSession(requests.Session):
        """Forces our timeout on every request and remembers the last exchange, for errors."""

        last_url = "Google's token endpoint"  # for a failure before any request
        last_status = 0

        def request(self, method: str, url: str, *args: object, **kwargs: object):  # type: ignore[override]
            self.last_url, self.last_status = url.split("?", 1)[0], 0
            kwargs["timeout"] = timeout
            response = super().request(method, url, *args, **kwargs)
            self.last_status = response.status_code
            return response

    session = BoundedSession()
    try:
        credentials.refresh(Request(session))  # type: ignore[attr-defined]
    except exceptions.TransportError as e:
        raise ProviderError(
            f"{registry.key}: cannot reach {session.last_url}: {_transport_reason(e, timeout)}"
        ) from None
    except exceptions.GoogleAuthError as e:
        raise ProviderError(
            f"{registry.key}: {_refusal(session.last_url, session.last_status, e)}"
        ) from None
    except Exception as e:  # anything else: its text might hold a response body
        raise ProviderError(
            f"{registry.key}: getting a Google access token failed at "
            f"{session.last_url} ({type(e).__name__})"
        ) from None
    finally:
        session.close()
    token = getattr(credentials, "token", None)
    if not isinstance(token, str) or not token:
        raise ProviderError(f"{registry.key}: {session.last_url} sent no access token")
    return Token(USERNAME, token, _epoch(getattr(credentials, "expiry", None)))


def _refusal(endpoint: str, status: int, error: BaseException) -> str:
    code = _error_code(error)
    if status and status != 200:
        return f"{endpoint} refused the credential: HTTP {status}{code}"
    if status == 200:
        return f"{endpoint} answered without a usable access token"
    return f"getting a Google access token failed before {endpoint} answered{code}"


def _transport_reason(error: BaseException, timeout: float) -> str:
    import requests

    cause = error.__cause__ or error.__context__
    if isinstance(cause, requests.exceptions.Timeout):
        return f"no answer within {timeout:g}s"
    if isinstance(cause, requests.exceptions.SSLError):
        return "TLS failed"
    if isinstance(cause, requests.exceptions.ConnectionError):
        return "connection failed"
    return type(cause or error).__name__


def _error_code(error: BaseException) -> str:
    """The OAuth ``error`` code (or Google API status) from a refresh error, nothing else.

    google-auth puts the parsed response (a dict) or the raw body (a string) in the
    exception's args; the description and the body stay out of our message.
    """
    for arg in error.args[1:]:
        data = arg
        if isinstance(data, (str, bytes)):
            try:
                data = json.loads(data)
            except ValueError:
                continue
        if not isinstance(data, dict):
            continue
        code = data.get("error")
        if isinstance(code, dict):  # Google API errors: {"error": {"code": 403, "status": ...}}
            code = code.get("status") or code.get("code")
        if isinstance(code, int):
            code = str(code)
        if safe_code(code):
            return f" ({code})"
    return ""


def _epoch(expiry: object) -> float | None:
    """google-auth's expiry is a naive datetime in UTC; make it epoch seconds."""
    import datetime

    if not isinstance(expiry, datetime.datetime):
        return None
    if expiry.tzinfo is None:
        expiry = expiry.replace(tzinfo=datetime.timezone.utc)
    return expiry.timestamp()

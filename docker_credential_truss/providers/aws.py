"""Amazon ECR (private and public) through truss's ``AWS_IAM``, ``AWS_OIDC`` and
``AWS_ASSUME_ROLE`` methods.

Host matching is one anchored pattern, the one amazon-ecr-credential-helper uses
(``ecr-login/api/client.go``), applied to the already normalised, lower-case host::

    <12-digit account>.dkr[.-]ecr[-fips].<region>.<partition suffix>

The ``-`` separator is the dual-stack form (``dkr-ecr.<region>.on.aws``), ``-fips``
the FIPS form. ``public.ecr.aws`` is ECR Public, whose API lives only in us-east-1
(service ``ecr-public``). Nothing else is ECR: a port, an extra label, an 11-digit
account or a suffix added after the partition domain all fail the match.

Credentials:

- ``AWS_IAM``: the key pair is read from the secrets named by
  ``aws_access_key_id_secret_name`` / ``aws_secret_access_key_secret_name`` (truss's
  defaults ``aws_access_key_id`` / ``aws_secret_access_key``), plus an optional
  session token from the secret named by ``aws_session_token_secret_name`` (default
  ``aws_session_token``) for temporary keys. With those secrets absent, boto3's own
  default chain (environment, profiles, SSO, instance roles) is used only when
  ``DOCKER_CREDENTIAL_TRUSS_AWS_DEFAULT_CHAIN=1``.
- ``AWS_OIDC``: ``aws_oidc_role_arn`` in ``aws_oidc_region``. With a CI job's OIDC
  token (from the sources :mod:`~docker_credential_truss.providers.citoken` lists, in
  its order: token files, ``DOCKER_CREDENTIAL_TRUSS_AWS_WEB_IDENTITY_TOKEN``, GitHub
  Actions, CircleCI, Bitbucket, Buildkite; audience ``sts.amazonaws.com`` where one is
  asked for) STS ``AssumeRoleWithWebIdentity``; with none, ``AssumeRole`` from the
  truss key pair if its secrets exist, else from boto3's default chain (the user's
  ambient credentials: assuming a named role is the point of this method, so no
  opt-in is asked for).
- ``AWS_ASSUME_ROLE``: STS ``AssumeRole`` into ``aws_assume_role_arn`` in
  ``aws_assume_role_region``, signed with the truss key pair (the same secrets as
  ``AWS_IAM``), or with boto3's default chain under the same opt-in as ``AWS_IAM``. On
  Baseten, Baseten's own principal assumes the role with an ``sts:ExternalId`` it
  assigns to the organisation; here the ExternalId, when the role's trust policy
  wants one, comes from ``DOCKER_CREDENTIAL_TRUSS_AWS_EXTERNAL_ID``. The session name
  is ``docker-credential-truss``, so CloudTrail shows who assumed the role.

When truss secrets are used, the botocore session reads no ``~/.aws`` files at all:
a stray profile, a broken config file or an ``AWS_PROFILE`` naming another account
cannot change what is called. Endpoints still follow boto3's environment variables
(``AWS_ENDPOINT_URL``, ``AWS_ENDPOINT_URL_ECR``, ``AWS_ENDPOINT_URL_ECR_PUBLIC``,
``AWS_ENDPOINT_URL_STS``, ``AWS_IGNORE_CONFIGURED_ENDPOINT_URLS``) and
``AWS_CA_BUNDLE``; they are read from the ``env`` given to :func:`make` and passed to
botocore explicitly. Other botocore environment settings (``AWS_USE_FIPS_ENDPOINT``,
``AWS_USE_DUALSTACK_ENDPOINT``, proxies) come from the process environment, which is
the same thing in the helper, a process of its own.

Network time is bounded: each call has a 2 s connect and 3 s read timeout
(``DOCKER_CREDENTIAL_TRUSS_TIMEOUT`` overrides both). A call that AWS answers with
throttling or a 5xx is tried up to 3 times with jittered backoff; a call that times
out or cannot connect is not retried, so a dead or black-holed endpoint fails within
one timeout (under 5 s with the defaults), never hangs docker.

Only :meth:`AwsProvider.mint` imports botocore, through ``_aws_calls``, which is handed
plain values; everything in this module is cheap.
"""

from __future__ import annotations

import os
import re

from docker_credential_truss import authmethods
from docker_credential_truss.errors import ConfigError, SecretError
from docker_credential_truss.minting import Token
from docker_credential_truss.providers import Spec

TYPE_CHECKING = False  # importing typing costs start-up time
if TYPE_CHECKING:
    from collections.abc import Mapping

    from docker_credential_truss.providers.citoken import Source, Trust
    from docker_credential_truss.registry import Registry
    from docker_credential_truss.secrets import Found, Secrets

AWS_IAM = "AWS_IAM"
AWS_OIDC = "AWS_OIDC"
AWS_ASSUME_ROLE = "AWS_ASSUME_ROLE"
METHODS = (AWS_IAM, AWS_OIDC, AWS_ASSUME_ROLE)
#: method -> (role ARN field, region field), the fields truss requires of a role method
ROLE_FIELDS = {
    method: authmethods.METHODS[method].required for method in (AWS_OIDC, AWS_ASSUME_ROLE)
}

ECR_PUBLIC_HOST = "public.ecr.aws"
ECR_PUBLIC_REGION = "us-east-1"
USERNAME = "AWS"

DEFAULT_KEY_ID_SECRET = authmethods.AWS_KEY_ID.default
DEFAULT_SECRET_KEY_SECRET = authmethods.AWS_SECRET_KEY.default
DEFAULT_SESSION_TOKEN_SECRET = "aws_session_token"

DEFAULT_CHAIN_VARIABLE = "DOCKER_CREDENTIAL_TRUSS_AWS_DEFAULT_CHAIN"
TOKEN_FILE_VARIABLE = "DOCKER_CREDENTIAL_TRUSS_AWS_WEB_IDENTITY_TOKEN_FILE"
EXTERNAL_ID_VARIABLE = "DOCKER_CREDENTIAL_TRUSS_AWS_EXTERNAL_ID"

_ECR_HOST = re.compile(
    r"(?P<account>[0-9]{12})\.dkr(?P<sep>[.-])ecr(?P<fips>-fips)?"
    r"\.(?P<region>[a-z0-9][a-z0-9-]*)"
    r"\.(?P<suffix>amazonaws\.com(?:\.cn)?|amazonaws\.eu|on\.aws|on\.amazonwebservices\.com\.cn"
    r"|sc2s\.sgov\.gov|c2s\.ic\.gov|cloud\.adc-e\.uk|csp\.hci\.ic\.gov)"
)
_ACCOUNT_LIKE = re.compile(r"([0-9]+)\.dkr[.-]ecr")
_TRUE = frozenset({"1", "true", "yes", "on"})


class EcrHost:
    """What an ECR host name says: which API, account, region, and endpoint flavour."""

    __slots__ = ("account", "dualstack", "fips", "public", "region", "suffix")

    def __init__(
        self,
        *,
        account: str | None,
        region: str,
        public: bool = False,
        fips: bool = False,
        dualstack: bool = False,
        suffix: str = "",
    ) -> None:
        self.account = account
        self.region = region
        self.public = public
        self.fips = fips
        self.dualstack = dualstack
        self.suffix = suffix

    @property
    def service(self) -> str:
        return "ecr-public" if self.public else "ecr"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EcrHost) and all(
            getattr(self, name) == getattr(other, name) for name in self.__slots__
        )

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"EcrHost({fields})"


def parse_host(host: str, port: int | None = None) -> EcrHost | None:
    """The ECR registry a normalised host names, or None when it is not ECR.

    ``host`` is :attr:`Registry.host` (already lower case and checked). A port means
    the host is something else listening on that name: ECR serves on 443 only.
    """
    if port is not None:
        return None
    if host == ECR_PUBLIC_HOST:
        return EcrHost(account=None, region=ECR_PUBLIC_REGION, public=True)
    match = _ECR_HOST.fullmatch(host)
    if match is None:
        return None
    return EcrHost(
        account=match["account"],
        region=match["region"],
        fips=match["fips"] is not None,
        dualstack=match["sep"] == "-",
        suffix=match["suffix"],
    )


def default_chain(env: Mapping[str, str]) -> bool:
    """Whether the user opted in to boto3's default chain where the key id is absent."""
    return _flag(env, DEFAULT_CHAIN_VARIABLE)


def by_convention(registry: Registry, secrets: Secrets, env: Mapping[str, str]) -> bool:
    """Whether a registry nobody configured is still ours: truss's AWS_IAM defaults.

    A private ECR host answers with ``AWS_IAM`` when the default-named secret
    ``aws_access_key_id`` exists (or, opted in, when boto3's default chain is to be
    used). ``public.ecr.aws`` is never claimed by convention: anonymous pulls of public
    images work there, and a key without ECR Public rights would turn them into errors.
    """
    ecr = parse_host(registry.host, registry.port)
    if ecr is None or ecr.public:
        return False
    if default_chain(env):
        return True
    return secrets.find(DEFAULT_KEY_ID_SECRET) is not None


def check(registry: Registry, method: str, settings: Mapping[str, str]) -> str | None:
    """Why ``method`` cannot serve ``registry`` with ``settings``, or None (config alone).

    The same checks, with the same messages, that :meth:`AwsProvider.identity` makes
    before it reads a secret.
    """
    if method.upper() not in METHODS:
        return f"{registry.key}: {method} is not an AWS auth method"
    provider = AwsProvider(Spec(registry, method, settings, None, {}))  # type: ignore[arg-type]
    try:
        provider._require_ecr()
        if provider.method in ROLE_FIELDS:
            provider._role()
    except ConfigError as exc:
        return exc.message
    return None


def make(spec: Spec) -> AwsProvider:
    """A provider for ``registry``; cheap (no botocore, no network, secrets read lazily)."""
    if spec.method not in METHODS:
        raise ConfigError(f"{spec.registry.key}: {spec.method} is not an AWS auth method")
    return AwsProvider(spec)


def _flag(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() in _TRUE


def _setting(settings: Mapping[str, str], name: str) -> str | None:
    value = settings.get(name)
    if value is None:
        return None
    value = str(value).strip()
    return value or None  # truss counts "" as missing too


class _Keys:
    """A key pair from truss secrets, and where each part came from (for messages)."""

    __slots__ = ("key_id", "secret_key", "session_token")

    def __init__(self, key_id: Found, secret_key: Found, session_token: Found | None) -> None:
        self.key_id = key_id
        self.secret_key = secret_key
        self.session_token = session_token


class AwsProvider:
    """ECR tokens for one registry; see the module docstring for the credential rules."""

    username = USERNAME
    cacheable = True

    def __init__(self, spec: Spec) -> None:
        self.registry = spec.registry
        self.method = spec.method
        self.settings = spec.settings
        self.secrets = spec.secrets
        self.env = spec.env
        self.ecr = parse_host(spec.registry.host, spec.registry.port)
        self._source: Source | None = None
        self._looked = False

    # -- cheap: what the resolver needs before the cache ---------------------------------

    def _where(self) -> str:
        return self.registry.key

    def _require_ecr(self) -> EcrHost:
        if self.ecr is None:
            account = _ACCOUNT_LIKE.match(self.registry.host)
            hint = ""
            if account is not None and len(account[1]) != 12:
                hint = f"; the account id {account[1]} is not 12 digits"
            elif self.registry.port is not None:
                hint = "; ECR hosts take no port"
            raise ConfigError(
                f"{self._where()}: {self.method} works only with Amazon ECR hosts"
                " (<account>.dkr.ecr.<region>.amazonaws.com and the other ECR forms,"
                f" or public.ecr.aws){hint}"
            )
        return self.ecr

    def _secret_names(self) -> tuple[str, str, str]:
        s = self.settings
        return (
            _setting(s, "aws_access_key_id_secret_name") or DEFAULT_KEY_ID_SECRET,
            _setting(s, "aws_secret_access_key_secret_name") or DEFAULT_SECRET_KEY_SECRET,
            _setting(s, "aws_session_token_secret_name") or DEFAULT_SESSION_TOKEN_SECRET,
        )

    def keys(self) -> _Keys | None:
        """The truss key pair, or None when its key id secret is absent.

        A key id without its secret key is an error rather than a silent fallback to
        some other credential: the user clearly meant these secrets.
        """
        # not memoised here: Secrets memoises every find, so each call reads nothing again
        id_name, secret_name, token_name = self._secret_names()
        key_id = self.secrets.find(id_name)
        if key_id is None:
            return None
        secret_key = self.secrets.require(secret_name, f"AWS secret access key for {self._where()}")
        return _Keys(key_id, secret_key, self.secrets.find(token_name))

    def _role(self) -> tuple[str, str]:
        arn_field, region_field = ROLE_FIELDS[self.method]
        role = _setting(self.settings, arn_field)
        region = _setting(self.settings, region_field)
        if role is None or region is None:
            raise ConfigError(
                f"{self._where()}: {self.method} needs {arn_field} and {region_field} in"
                " the truss config's docker_auth; run `docker-credential-truss configure` again"
            )
        return role, region

    def external_id(self) -> str | None:
        """AWS_ASSUME_ROLE's ExternalId, for trust policies that require one."""
        return self.env.get(EXTERNAL_ID_VARIABLE, "").strip() or None

    def ci_trust(self, settings: Mapping[str, str]) -> Trust | None:
        """For the OIDC method, what must trust the CI job's token (doctor shows it)."""
        if self.method != AWS_OIDC:
            return None
        from docker_credential_truss.providers import citoken

        return citoken.Trust(
            citoken.AWS,
            without="STS AssumeRole is signed with the truss key pair or boto3's credentials"
            " instead",
            admitter=f"the trust policy of {settings.get('aws_oidc_role_arn')} (and its IAM"
            " OIDC provider)",
            trust_object="role's IAM OIDC provider",
            both="the role must trust both issuers (an IAM OIDC provider for each)",
        )

    def token_source(self) -> Source | None:
        """Where AWS_OIDC gets the CI job's token, or None (then AssumeRole signs)."""
        if self.method != AWS_OIDC:
            return None
        if not self._looked:
            from docker_credential_truss.providers import citoken

            self._source = citoken.find(citoken.AWS, self.env, citoken.AWS_AUDIENCE, self._where())
            self._looked = True
        return self._source

    def _default_chain_identity(self) -> tuple[str, ...]:
        """Who boto3's default chain will be, as far as can be told without running it.

        The profile name, an access key id from the environment and the modification
        times of the shared files: editing any of them moves to a new cache entry.
        """
        env = self.env
        home = env.get("HOME") or os.path.expanduser("~")
        parts = [
            "default-chain",
            env.get("AWS_PROFILE") or env.get("AWS_DEFAULT_PROFILE") or "",
            env.get("AWS_ACCESS_KEY_ID", ""),
            env.get("AWS_ROLE_ARN", ""),
        ]
        for var, default in (
            ("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials"),
            ("AWS_CONFIG_FILE", ".aws/config"),
        ):
            path = env.get(var) or os.path.join(home, default)
            try:
                parts += [path, str(os.stat(path).st_mtime_ns)]
            except OSError:
                parts += [path, "absent"]
        return tuple(parts)

    def _source_identity(self) -> tuple[str, ...]:
        """The key pair (or default chain) that signs, as non-secret parts."""
        keys = self.keys()
        if keys is not None:
            return ("key", keys.key_id.value)
        return self._default_chain_identity()

    def identity(self) -> tuple[str, ...]:
        """Method, ECR scope, role, region, ExternalId, key id: never a secret value.

        Separate parts, which the token cache encodes so that no ``@``, ``:`` or ``=``
        inside a role path or an ExternalId can make two identities one. Everything
        ``mint`` checks before the network is checked here, in the same order, so
        ``doctor --offline`` (which calls this) refuses what ``get`` would.
        """
        ecr = self._require_ecr()
        scope = (ecr.service, ecr.account or "", ecr.region)
        if self.method == AWS_IAM:
            self._need_keys()
            return (AWS_IAM, *scope, *self._source_identity())
        role, region = self._role()
        if self.method == AWS_ASSUME_ROLE:
            self._need_keys()
            external = self.external_id() or ""
            return (AWS_ASSUME_ROLE, *scope, role, region, external, *self._source_identity())
        token_source = self.token_source()
        # the job the token belongs to, known without fetching one: see citoken
        source = ("oidc", token_source.job()) if token_source else self._source_identity()
        return (self.method, *scope, role, region, *source)

    def inputs(self) -> str:
        """Besides the secrets, what a mint is made from: the job's token (citoken)."""
        token_source = self.token_source()
        return token_source.inputs() if token_source is not None else ""

    #: doctor's words for a missing key pair that get goes on without (opted in).
    without_secrets = (
        f"{DEFAULT_CHAIN_VARIABLE}=1, so boto3's default credentials sign"
        " (environment, profiles, SSO, instance role)"
    )

    def _need_keys(self) -> None:
        """The truss key pair, or the opt-in to boto3's default chain, must be there."""
        if self.keys() is None and not default_chain(self.env):
            raise self._missing_keys()

    def _missing_keys(self) -> SecretError:
        id_name, _, _ = self._secret_names()
        try:
            self.secrets.require(id_name, f"AWS access key id for {self._where()}")
        except SecretError as exc:
            return SecretError(
                f"{exc.message}; set it, or set {DEFAULT_CHAIN_VARIABLE}=1"
                " to use boto3's default credentials"
            )
        return SecretError(f"{self._where()}: secret {id_name!r} could not be read")

    # -- the expensive part --------------------------------------------------------------

    def mint(self) -> Token:
        """Call STS (role methods) and ECR now; botocore is imported here and only here."""
        self.identity()  # the same checks, in the same order, with the same messages
        ecr = self._require_ecr()
        keys = self.keys()
        values: dict[str, str] | None = None
        labels: dict[str, str] = {}
        if keys is not None:
            names = dict(
                zip(("key_id", "secret_key", "session_token"), self._secret_names(), strict=True)
            )
            values = {
                "aws_access_key_id": keys.key_id.value,
                "aws_secret_access_key": keys.secret_key.value,
            }
            parts = {"key_id": keys.key_id, "secret_key": keys.secret_key}
            if keys.session_token is not None:
                values["aws_session_token"] = keys.session_token.value
                parts["session_token"] = keys.session_token
            labels = {p: f"secret {names[p]!r} ({f.source})" for p, f in parts.items()}
        role = role_region = None
        if self.method in ROLE_FIELDS:
            role, role_region = self._role()
        token_source = self.preflight()
        web_token = token_source.token() if token_source is not None else None
        from docker_credential_truss.providers import _aws_calls

        return _aws_calls.mint(
            _aws_calls.Call(
                self._where(),
                service=ecr.service,
                account=ecr.account,
                region=ecr.region,
                fips=ecr.fips,
                env=self.env,
                keys=values,
                labels=labels,
                role=role,
                role_region=role_region,
                external_id=self.external_id() if self.method == AWS_ASSUME_ROLE else None,
                web_source=token_source.name if token_source is not None else None,
                web_token=web_token,
            )
        )

    def preflight(self) -> Source | None:
        """What mint checks before the network besides identity(): AWS_OIDC's token source.

        The source (a token at hand is read and checked), or None; ``doctor --offline``
        calls it too.
        """
        self.identity()
        token_source = self.token_source()
        if token_source is not None:
            token_source.ready()
        return token_source


__all__ = [
    "AWS_ASSUME_ROLE",
    "AWS_IAM",
    "AWS_OIDC",
    "DEFAULT_CHAIN_VARIABLE",
    "ECR_PUBLIC_HOST",
    "EXTERNAL_ID_VARIABLE",
    "TOKEN_FILE_VARIABLE",
    "AwsProvider",
    "EcrHost",
    "by_convention",
    "check",
    "default_chain",
    "make",
    "parse_host",
]

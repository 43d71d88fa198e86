"""truss's registry auth methods, one row each: all the helper knows of a method outside
its provider module.

A method is truss's ``docker_auth.auth_method`` (``DockerAuthType``). Its row says:

- ``provider``: the module under ``docker_credential_truss.providers`` that makes its
  credential (imported only when the method applies);
- ``required`` and ``forbidden``: the ``docker_auth`` fields truss requires and refuses
  with it (``DockerAuthSettings``' validators, truss 0.18.36; ``None`` and ``""`` both
  count as absent);
- ``secrets``: the secrets its credential is made from, each named by a settings field
  or a default, in the order ``get`` reads them;
- ``train``: truss_train's spelling (``DockerAuth(<argument>=<Class>(...))``, whose fields
  map to ``docker_auth`` fields; a ``*secret_ref`` field is a ``SecretReference``);
- ``hosted``: why Baseten's hosted builder needs no workspace secret, or "" when it
  looks up ``secrets`` by name as the helper does;
- ``shown``: the settings ``doctor`` shows (names, ARNs, URLs: never a secret);
- ``convention``: why an unconfigured registry gets the method when its provider's
  ``by_convention`` claims the host, or "" for a method that is only ever configured.

A new truss method is a row here and a provider module; nothing else names it. This
module is read on every ``get`` (the helper config is checked against it), so it holds
plain data and imports nothing.
"""

from __future__ import annotations

#: docker_auth fields that may be null (None) or a string.
OPTIONAL_FIELDS = (
    "registry",
    "secret_name",
    "aws_oidc_role_arn",
    "aws_oidc_region",
    "gcp_oidc_service_account",
    "gcp_oidc_workload_id_provider",
    "aws_assume_role_arn",
    "aws_assume_role_region",
)
#: docker_auth fields that must be strings when given (truss gives them defaults).
STRING_FIELDS = ("aws_access_key_id_secret_name", "aws_secret_access_key_secret_name")
FIELDS = OPTIONAL_FIELDS + STRING_FIELDS


class Secret:
    """A secret a method reads: the settings field naming it, else its default name
    (None: the registry's own ``DOCKER_REGISTRY_<key>``), and the form its value takes
    (``registry``: base64 of user:password; ``aws_key_id``, ``aws_secret``, ``gcp_key``)."""

    __slots__ = ("default", "field", "form")

    def __init__(self, field: str, default: str | None, form: str) -> None:
        self.field = field
        self.default = default
        self.form = form

    def name(self, settings: dict[str, str], registry_secret: str) -> str:
        """The secret's name for these settings; ``registry_secret`` is the registry's own."""
        return settings.get(self.field) or self.default or registry_secret


class Method:
    """One auth method's row; see the module docstring for what each field means."""

    __slots__ = (
        "convention",
        "forbidden",
        "hosted",
        "name",
        "provider",
        "required",
        "secrets",
        "shown",
        "train",
    )

    def __init__(
        self,
        name: str,
        provider: str,
        *,
        required: tuple[str, ...] = (),
        forbidden: tuple[str, ...] = (),
        secrets: tuple[Secret, ...] = (),
        train: tuple[str, dict[str, str]],
        hosted: str = "",
        shown: tuple[str, ...] = (),
        convention: str = "",
    ) -> None:
        self.name = name
        self.provider = provider
        self.required = required
        self.forbidden = forbidden
        self.secrets = secrets
        self.train = train
        self.hosted = hosted
        self.shown = shown
        self.convention = convention

    def __repr__(self) -> str:
        return f"Method({self.name!r})"


_AWS_OIDC = ("aws_oidc_role_arn", "aws_oidc_region")
_GCP_OIDC = ("gcp_oidc_service_account", "gcp_oidc_workload_id_provider")
_ASSUME = ("aws_assume_role_arn", "aws_assume_role_region")
#: truss's default AWS key pair, read by the key-pair methods.
AWS_KEY_ID = Secret("aws_access_key_id_secret_name", "aws_access_key_id", "aws_key_id")
AWS_SECRET_KEY = Secret("aws_secret_access_key_secret_name", "aws_secret_access_key", "aws_secret")
_AWS_KEYS_TRAIN = {
    "access_key_secret_ref": "aws_access_key_id_secret_name",
    "secret_access_key_secret_ref": "aws_secret_access_key_secret_name",
}

#: The method of a registry that has its own ``DOCKER_REGISTRY_<key>`` secret.
OWN_SECRET = "REGISTRY_SECRET"

#: Every method, in the order truss's messages list them.
METHODS: dict[str, Method] = {
    method.name: method
    for method in (
        Method(
            "AWS_IAM",
            "aws",
            secrets=(AWS_KEY_ID, AWS_SECRET_KEY),
            train=("aws_iam_docker_auth", _AWS_KEYS_TRAIN),
            convention="an ECR host, and truss's default AWS secrets exist",
        ),
        Method(
            "AWS_OIDC",
            "aws",
            required=_AWS_OIDC,
            forbidden=("secret_name", *_GCP_OIDC, *_ASSUME),
            train=("aws_oidc_docker_auth", {"role_arn": _AWS_OIDC[0], "region": _AWS_OIDC[1]}),
            hosted="Baseten's builder assumes aws_oidc_role_arn with its own OIDC token",
            shown=_AWS_OIDC,
        ),
        Method(
            "AWS_ASSUME_ROLE",
            "aws",
            required=_ASSUME,
            forbidden=("secret_name", *_AWS_OIDC, *_GCP_OIDC),
            secrets=(AWS_KEY_ID, AWS_SECRET_KEY),
            train=("aws_assume_role_docker_auth", {"role_arn": _ASSUME[0], "region": _ASSUME[1]}),
            hosted=(
                "Baseten's AWS principal assumes aws_assume_role_arn, scoped by your"
                " organisation's ExternalId"
            ),
            shown=_ASSUME,
        ),
        Method(
            "GCP_SERVICE_ACCOUNT_JSON",
            "gcp",
            required=("secret_name",),
            forbidden=_AWS_OIDC + _GCP_OIDC + _ASSUME,
            secrets=(Secret("secret_name", None, "gcp_key"),),
            train=(
                "gcp_service_account_json_docker_auth",
                {"service_account_json_secret_ref": "secret_name"},
            ),
        ),
        Method(
            "GCP_OIDC",
            "gcp",
            required=_GCP_OIDC,
            forbidden=("secret_name", *_AWS_OIDC, *_ASSUME),
            train=(
                "gcp_oidc_docker_auth",
                {"service_account": _GCP_OIDC[0], "workload_identity_provider": _GCP_OIDC[1]},
            ),
            hosted="Baseten's builder uses workload identity federation with its own OIDC token",
            shown=_GCP_OIDC,
        ),
        Method(
            OWN_SECRET,
            "static",
            secrets=(Secret("secret_name", None, "registry"),),
            train=("registry_secret_docker_auth", {"secret_ref": "secret_name"}),
        ),
    )
}
NAMES = tuple(METHODS)

"""One module per auth method; each makes a credential for one registry.

A provider module exposes ``check(registry, method, settings) -> str | None`` (why the
settings cannot serve the registry, from config alone: ``configure`` warns with it,
``doctor --offline`` fails with it, ``make`` refuses with it) and
``make(spec: Spec) -> Provider``, where the :class:`Spec` holds:

- ``registry``: the normalised :class:`~docker_credential_truss.registry.Registry`;
- ``method``: the truss auth method name, upper case (a key of ``authmethods.METHODS``,
  whose row names this module);
- ``settings``: the truss ``docker_auth`` fields recorded by ``configure`` (str -> str),
  empty when the method was inferred by convention;
- ``secrets``: :class:`~docker_credential_truss.secrets.Secrets`, the secret sources;
- ``env``: the process environment (endpoints, timeouts, opt-in switches).

``make`` must be cheap: it may read secrets but must not import a cloud SDK or touch
the network, because the resolver calls it (and ``identity()``) before it looks in
the token cache. Only ``mint()`` may import boto3 or google-auth.
"""

from __future__ import annotations

TYPE_CHECKING = False  # importing typing costs start-up time
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Protocol

    from docker_credential_truss.minting import Token
    from docker_credential_truss.registry import Registry
    from docker_credential_truss.secrets import Secrets

    class Provider(Protocol):
        #: The user name ``list`` shows without minting anything.
        username: str
        #: Whether tokens expire and so belong in the token cache.
        cacheable: bool

        def identity(self) -> tuple[str, ...]:
            """Who the credential is for (access key id, role, service account), in parts.

            The token cache hashes the parts from a structured encoding (cache.py), so
            a rotated key or a new role never gets the previous identity's token, and
            no separator inside a part can join two identities. Never a secret value.
            """

        def mint(self) -> Token:
            """Make a credential now; may import an SDK and use the network."""

        def inputs(self) -> str:
            """Optional: what the mint is made from besides the secrets read (a CI token).

            The failure memory keeps a salted hash of it, so that a changed input is
            tried at once rather than answered with the remembered failure.
            """

        def preflight(self) -> object:
            """Optional: every check ``mint`` makes before the network, made without it.

            ``doctor --offline`` calls it, so that an ok there means ``get`` will not
            refuse for a reason it could have found offline.
            """


class Spec:
    """What a provider is made from: one object, so that every module's ``make`` (and
    a seventh method's) takes the same single argument."""

    __slots__ = ("env", "method", "registry", "secrets", "settings")

    def __init__(
        self,
        registry: Registry,
        method: str,
        settings: Mapping[str, str],
        secrets: Secrets,
        env: Mapping[str, str],
    ) -> None:
        self.registry = registry
        self.method = method.upper()
        self.settings = settings
        self.secrets = secrets
        self.env = env

"""The Helper behind the protocol: docker-credential-helpers' Add/Delete/Get/List.

The contract of docker-credential-helpers holds for every registry: after ``store``
exits 0, ``get`` answers exactly what was stored; after ``erase`` exits 0, ``get``
answers not found.

``store`` (``docker login``) writes the secret ``get`` reads for that registry to the
helper's own store: ``DOCKER_REGISTRY_<registry>``, or the ``secret_name`` of a registry
configured for the registry-secret method, so a login is used exactly as truss would use that
secret. Where ``get`` would still answer something else (a cloud auth method, or a
source read before the store holding another value) it refuses, saying why and where,
rather than report a login that changes nothing. ``erase`` (``docker logout``)
removes the stored secret, and fails naming whatever would still answer.
"""

from __future__ import annotations

from docker_credential_truss import debuglog
from docker_credential_truss.authmethods import OWN_SECRET
from docker_credential_truss.errors import (
    ConfigError,
    InputError,
    NotFound,
    SecretError,
    StoreError,
)
from docker_credential_truss.providers import static
from docker_credential_truss.registry import InvalidRegistry, Registry, parse

TYPE_CHECKING = False  # importing typing costs start-up time
if TYPE_CHECKING:
    from collections.abc import Callable

    from docker_credential_truss.resolver import Resolver


class TrussHelper:
    def __init__(self, resolver: Resolver, warn: Callable[[str], None]) -> None:
        self.resolver = resolver
        self.warn = warn

    def get(self, server: str) -> tuple[str, str]:
        token = self.resolver.get(_registry(server))
        return token.username, token.secret

    def add(self, server: str, username: str, secret: str) -> None:
        try:
            registry = parse(server)
        except InvalidRegistry as exc:
            shown = server if len(server) <= 100 else server[:100] + "..."
            raise InputError(f"cannot store credentials for {shown!r}: {exc}") from None
        if ":" in username:
            raise InputError("a user name containing ':' cannot be used with basic auth")
        value = static.encode(username, secret)  # Secrets.store registers it for masking
        name = self._secret_name(registry, "store credentials for")
        found = self.resolver.secrets.find_outside_store(name)
        if found is not None and found.value != value:
            raise StoreError(
                f"cannot store credentials for {registry.key}: secret {name} in {found.source}"
                " is read before the helper's store and holds another credential; change it"
                " there, or remove it there and log in again"
            )
        debuglog.debug("store %s: into the helper's store as %s", registry.key, name)
        self.resolver.secrets.store(name, value)

    def delete(self, server: str) -> None:
        registry = _registry(server)
        name = self._secret_name(registry, "erase credentials for")
        # Everything that could fail or still answer is checked first: a failed erase
        # changes nothing.
        found = self.resolver.secrets.find_outside_store(name)
        if found is not None:
            raise SecretError(
                f"{name} comes from {found.source}, which docker-credential-truss does not"
                f" edit, so get still answers for {registry.key}; remove it there"
            )
        still = None if registry.key in self.resolver.config else self.resolver.convention(registry)
        if still is not None:
            raise SecretError(
                f"erase would leave get answering for {registry.key} by {still.method}"
                f" ({still.why}); docker-credential-truss does not edit those secrets:"
                " remove them where they are kept"
            )
        if not self.resolver.secrets.erase(name):
            raise NotFound()

    def _secret_name(self, registry: Registry, doing: str) -> str:
        """The secret ``get`` reads for ``registry``; refused for a cloud auth method.

        A registry configured for a cloud method gets a freshly minted credential: a
        stored one would never be read, and a minted one cannot be erased.
        """
        entry = self.resolver.config.get(registry.key)
        if entry is None:
            return registry.secret_name
        method = entry["auth_method"]
        if method == OWN_SECRET:
            return entry.get("secret_name") or registry.secret_name
        source = entry.get("source", "the helper config")
        raise ConfigError(
            f"cannot {doing} {registry.key}: it is configured for {method} (from {source},"
            f" recorded in {self.resolver.paths.helper_config}), so get makes its credential"
            " from that and never reads a login"
        )

    def list(self) -> dict[str, str]:
        answers, problems = self.resolver.registries()
        for problem in problems:
            self.warn(f"left out of list: {problem}")
        return answers


def _registry(server: str) -> Registry:
    """A server string no registry can have is simply one we hold nothing for."""
    try:
        return parse(server)
    except InvalidRegistry:
        raise NotFound() from None

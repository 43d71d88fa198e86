"""The Helper behind the protocol: docker-credential-helpers' Add/Delete/Get/List.

``store`` (``docker login``) writes the ``DOCKER_REGISTRY_<registry>`` secret to the
helper's own store, so a login is used exactly as truss would use that secret; ``erase``
(``docker logout``) removes it again.
"""

from __future__ import annotations

from docker_credential_truss import debuglog
from docker_credential_truss.errors import InputError, NotFound
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
        debuglog.debug(
            "store %s: into the helper's store as %s", registry.key, registry.secret_name
        )
        self.resolver.secrets.store(registry.secret_name, value)

    def delete(self, server: str) -> None:
        self.resolver.secrets.erase(_registry(server).secret_name)

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

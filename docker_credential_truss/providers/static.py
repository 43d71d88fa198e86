"""REGISTRY_SECRET: a secret holding base64 of ``user:password``, as truss stores it.

The secret is ``DOCKER_REGISTRY_<registry key>`` unless the truss config names another
with ``secret_name``. The password may itself contain ``:``; the user name cannot
(HTTP basic auth would split it), so the value splits at the first ``:``.
"""

from __future__ import annotations

import sys

from docker_credential_truss.errors import SecretError
from docker_credential_truss.minting import Token

TYPE_CHECKING = False  # importing typing costs start-up time
if TYPE_CHECKING:
    from collections.abc import Mapping

    from docker_credential_truss.providers import Spec
    from docker_credential_truss.registry import Registry


def encode(username: str, secret: str) -> str:
    import base64

    return base64.b64encode(f"{username}:{secret}".encode()).decode("ascii")


def b64decode(text: str) -> bytes:
    """``base64.b64decode(text, validate=True)`` without importing ``base64``, whose
    own imports cost ~1 ms of every get that answers from a secret. From Python 3.11 on,
    that call is exactly binascii's strict mode; 3.10 has no strict mode."""
    import binascii

    if sys.version_info < (3, 11):
        import base64

        return base64.b64decode(text, validate=True)
    return binascii.a2b_base64(text, strict_mode=True)


def decode(value: str, name: str) -> tuple[str, str]:
    """``(user, password)`` from a secret's value; errors name the secret, not the value."""
    import binascii

    try:
        raw = b64decode(value.strip())
    except (binascii.Error, ValueError):
        raise SecretError(
            f"secret {name!r} is not valid base64 (expected base64 of user:password)"
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SecretError(f"secret {name!r} does not decode to UTF-8 user:password") from None
    username, sep, password = text.partition(":")
    if not sep:
        raise SecretError(f"secret {name!r} decodes to no ':' (expected user:password)")
    if not username:
        raise SecretError(f"secret {name!r} has an empty user name (expected user:password)")
    return username, password


class StaticProvider:
    cacheable = False

    def __init__(self, name: str, value: str) -> None:
        self.name = name
        # No registration here: the lookup that found ``value`` registered its password.
        self.username, self._password = decode(value, name)

    def identity(self) -> tuple[str, ...]:
        return (self.name,)

    def mint(self) -> Token:
        return Token(self.username, self._password)


def check(registry: Registry, method: str, settings: Mapping[str, str]) -> str | None:
    """Any registry can take a user name and password: nothing to refuse from config alone."""
    return None


def make(spec: Spec) -> StaticProvider:
    registry = spec.registry
    name = spec.settings.get("secret_name") or registry.secret_name
    found = spec.secrets.require(
        name,
        f"the credential for {registry.key}",
        f"set it in one of them, or run `{registry.login_command}`",
    )
    return StaticProvider(name, found.value)

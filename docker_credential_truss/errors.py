"""The helper's errors.

Every error here carries a message that is safe to print on stdout, which is where
the credential-helper protocol puts errors: one line, naming what is wrong and where
to look, never a secret value. Anything else that escapes is a bug, and the CLI
reports it as such without its text (which could hold a secret).
"""

from __future__ import annotations

NOT_FOUND_MESSAGE = "credentials not found in native keychain"


class HelperError(Exception):
    """An error whose message is one safe line for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))

    @property
    def message(self) -> str:
        return str(self)


class NotFound(HelperError):
    """Docker treats exactly this message as 'no credentials', so pulls go anonymous."""

    def __init__(self, message: str = NOT_FOUND_MESSAGE) -> None:
        super().__init__(message)


class MissingServerURL(HelperError):
    def __init__(self) -> None:
        super().__init__("no credentials server URL")


class MissingUsername(HelperError):
    def __init__(self) -> None:
        super().__init__("no credentials username")


class InputError(HelperError):
    """What a client sent on stdin cannot be understood."""


class ConfigError(HelperError):
    """A truss config, the helper's config or docker's config.json is unusable."""


class SecretError(HelperError):
    """A secret is missing or its value is not in the form its use needs."""


class StoreError(HelperError):
    """A file the helper keeps (store, config, cache) cannot be read or written safely."""


class ProviderError(HelperError):
    """A cloud provider could not make a credential (refused, unreachable, unsupported)."""

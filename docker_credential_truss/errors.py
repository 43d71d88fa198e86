"""The helper's errors.

Every error here carries a message that is safe to print: one line, naming what is
wrong and where to look, never a secret value. Anything else that escapes is a bug,
and the CLI reports it as such without its text (which could hold a secret).

Where the line goes depends on the verb. ``store``, ``erase``, ``list`` and malformed
input put it on stdout, where the credential-helper protocol puts errors. ``get`` for a
well-formed server never does: any failure there becomes :class:`NotFound` with the
line as its ``reason``, for stderr, because most clients fail outright on any other
answer, even for images that need no credential.
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
    """Clients treat exactly this message as 'no credentials' and go anonymous.

    ``reason`` is the line for the person (stderr): why a registry the helper serves
    has no credential now. None for a registry the helper knows nothing of, which
    stays silent.
    """

    def __init__(self, reason: str | None = None) -> None:
        super().__init__(NOT_FOUND_MESSAGE)
        self.reason = None if reason is None else " ".join(reason.split())


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


#: What an error code from a server may be made of to be shown: a server's error text
#: can quote what it was sent (a credential); a short code of these characters cannot
#: carry much of one, and is what a person searches for.
_CODE_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")


def safe_code(value: object, more: str = "") -> str:
    """``value`` when it is an error code fit to show (1 to 64 letters, digits, ``._-``
    and the characters in ``more``), else ''."""
    if not isinstance(value, str) or len(value) > 64:
        return ""  # an empty value passes the test below: it is '' all the same
    allowed = _CODE_CHARACTERS.union(more)
    return value if all(c in allowed for c in value) else ""


#: What to do about an internal error: it is a bug.
REPORT_IT = "please report it"


def internal_error(exc: BaseException, doing: str = "") -> str:
    """The words for an error that is a bug: its type only, since a foreign error's
    text may hold a secret, and what was being done; :data:`REPORT_IT` says what next."""
    during = f" {doing}" if doing else ""
    return f"internal error ({type(exc).__name__}){during}"

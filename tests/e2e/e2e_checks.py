"""Assertions that never print a secret.

pytest's assertion rewriting shows the compared values when an ``assert`` fails, and
failure messages end up in CI logs. The test passwords are sentinels, but the rule is
that no secret value is ever printed, so every check involving a secret (or output
that might contain one) goes through these functions: they compare, and on failure
report a message with every known secret replaced by ``<redacted>``. Their frames are
hidden from tracebacks (``__tracebackhide__``), because pytest prints the arguments of
each frame it shows, and those arguments are the unredacted values.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable

import pytest

# Every secret value a test has handed out; redact() removes them from any text.
_SECRETS: set[str] = set()


def remember(*secrets: str) -> None:
    """Register secret values so that no failure message can show them."""
    _SECRETS.update(s for s in secrets if s)


def redact(text: str) -> str:
    for secret in sorted(_SECRETS, key=len, reverse=True):
        text = text.replace(secret, "<redacted>")
    return text


def fail(message: str) -> None:
    __tracebackhide__ = True  # its arguments may hold secrets
    pytest.fail(redact(message), pytrace=True)


def check(condition: bool, message: str) -> None:
    """``assert condition, message`` without pytest printing the compared values."""
    __tracebackhide__ = True  # its arguments may hold secrets
    if not condition:
        fail(message)


def describe(result: subprocess.CompletedProcess[str]) -> str:
    args = result.args if isinstance(result.args, str) else " ".join(map(str, result.args))
    return redact(
        f"command: {args}\nexit status: {result.returncode}\n"
        f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    )


def expect_ok(result: subprocess.CompletedProcess[str], what: str) -> None:
    """The command succeeded; otherwise show (redacted) what it said."""
    __tracebackhide__ = True  # its arguments may hold secrets
    check(result.returncode == 0, f"{what} failed\n{describe(result)}")


def expect_failure(
    result: subprocess.CompletedProcess[str], what: str, contains: Iterable[str] = ()
) -> None:
    """The command failed (exit status != 0) and its output has each of ``contains``."""
    __tracebackhide__ = True  # its arguments may hold secrets
    check(result.returncode != 0, f"{what} unexpectedly succeeded\n{describe(result)}")
    output = result.stdout + result.stderr
    for text in contains:
        check(text in output, f"{what}: expected {text!r} in the output\n{describe(result)}")


def expect_not_in_output(
    result: subprocess.CompletedProcess[str], what: str, texts: Iterable[str]
) -> None:
    __tracebackhide__ = True  # its arguments may hold secrets
    output = result.stdout + result.stderr
    for text in texts:
        check(text not in output, f"{what}: {text!r} must not appear\n{describe(result)}")


def assert_no_secret(text: str, where: str, secrets: Iterable[str] | None = None) -> None:
    """No known secret (or any of ``secrets``) occurs in ``text``."""
    __tracebackhide__ = True  # its arguments may hold secrets
    for secret in _SECRETS if secrets is None else secrets:
        if secret and secret in text:
            fail(f"a secret value leaked into {where}")


NOT_FOUND = "credentials not found in native keychain"
PREFIX = "docker-credential-truss: "


def not_found(result: subprocess.CompletedProcess[str]) -> str:
    """``get`` answered exactly not-found with one line on stderr; that line, unprefixed.

    For a well-formed server, ``get`` says why it has no credential on stderr only:
    most clients fail outright on anything but a credential or not-found (issue 9).
    """
    __tracebackhide__ = True  # its arguments may hold secrets
    check(
        result.returncode == 1 and result.stdout == NOT_FOUND + "\n",
        f"get must answer exactly not-found\n{describe(result)}",
    )
    err = result.stderr
    check(
        err.startswith(PREFIX) and err.count("\n") == 1,
        f"get must say why in one stderr line\n{describe(result)}",
    )
    return err[len(PREFIX) :].rstrip("\n")

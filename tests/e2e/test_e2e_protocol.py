"""The installed executable speaks the protocol: the entry point, its exact strings,
and bad input that changes nothing (through the command users install, not in-process).
"""

from __future__ import annotations

import json

import pytest
from e2e_checks import assert_no_secret, check, describe, expect_ok
from e2e_harness import RegistryUnderTest, Sandbox

NOT_FOUND = "credentials not found in native keychain"


def one_line_error(result, expected: str | None = None) -> None:  # type: ignore[no-untyped-def]
    __tracebackhide__ = True
    lines = result.stdout.splitlines()
    check(result.returncode == 1, f"an error must exit 1\n{describe(result)}")
    check(
        len(lines) == 1 and lines[0].strip(), f"an error is one line on stdout\n{describe(result)}"
    )
    if expected is not None:
        check(lines[0] == expected, f"expected exactly {expected!r}\n{describe(result)}")


def test_version_and_help(sandbox: Sandbox) -> None:
    for args in (["version"], ["--version"], ["-v"]):
        result = sandbox.run_helper(args[0])
        expect_ok(result, " ".join(args))
        check(result.stdout.strip() != "", f"{args[0]} prints the version")
    helped = sandbox.run_helper("--help")
    expect_ok(helped, "--help")
    for needed in ("configure", "credHelpers", "TRUSS_SECRET_", "~/.truss/config.yaml"):
        check(needed in helped.stdout, f"--help must explain {needed}")


def test_unknown_registry_and_missing_fields(sandbox: Sandbox) -> None:
    one_line_error(sandbox.run_helper("get", "registry.example.com"), NOT_FOUND)
    one_line_error(sandbox.run_helper("get", ""), "no credentials server URL")
    one_line_error(
        sandbox.run_helper("store", json.dumps({"ServerURL": "", "Username": "u", "Secret": "s"})),
        "no credentials server URL",
    )
    one_line_error(
        sandbox.run_helper(
            "store", json.dumps({"ServerURL": "r.example", "Username": "", "Secret": "s"})
        ),
        "no credentials username",
    )
    one_line_error(sandbox.run_helper("frobnicate", ""))


@pytest.mark.parametrize(
    "stdin",
    ["", "{", "[]", '{"ServerURL": "127.0.0.1:1"}', '"just a string"'],
    ids=["empty", "truncated", "array", "no-username", "string"],
)
def test_bad_store_input_changes_nothing(
    sandbox: Sandbox, registry: RegistryUnderTest, stdin: str
) -> None:
    sandbox.put_registry_credential(
        "helper_store", registry.netloc, registry.user, registry.password
    )
    store = sandbox.data_home / "docker-credential-truss" / "secrets.json"
    before = store.read_bytes()
    result = sandbox.run_helper("store", stdin)
    one_line_error(result)
    assert_no_secret(result.stdout + result.stderr, "store's error")
    check(store.read_bytes() == before, "a failed store must leave the store as it was")
    got = sandbox.run_helper("get", registry.netloc)
    expect_ok(got, "get after a failed store")
    check(json.loads(got.stdout).get("Secret") == registry.password, "the old login still answers")

"""``doctor`` logs in to the real docker-registry with the credential ``get`` answers.

Basic auth (htpasswd) and token auth (Bearer, the shared token server of token_auth.py):
a right and a wrong password, an existing and a missing image, an identity token.
The truss is imported with ``configure``, which records ``base_image.image``, and the
secret is put where truss keeps it; then the installed ``doctor`` runs with the debug
log on, and neither its report nor the log may show the password.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from e2e_checks import assert_no_secret, check, describe, expect_ok, remember
from e2e_harness import RegistryUnderTest, Sandbox, TokenRegistryUnderTest, b64_credential
from e2e_servers import free_port
from token_auth import TokenRegistry, TokenServer

DIGEST = re.compile(r"found, sha256:[0-9a-f]{64} \(application/vnd\.docker[^)]*\)")


def configured(sandbox: Sandbox, netloc: str, image: str) -> None:
    """A truss whose base image is ``image`` on ``netloc``, pulled with its REGISTRY_SECRET."""
    truss = sandbox.root / "my-truss"
    truss.mkdir(exist_ok=True)
    config = {
        "base_image": {
            "image": image,
            "docker_auth": {
                "auth_method": "REGISTRY_SECRET",
                "registry": netloc,
                "secret_name": "registry_pw",
            },
        },
        "secrets": {"registry_pw": None},
    }
    (truss / "config.yaml").write_text(yaml.safe_dump(config))
    expect_ok(sandbox.run_helper("configure", args=[str(truss)]), "configure")


def doctor(sandbox: Sandbox, netloc: str, password: str, user: str = "alice"):  # type: ignore[no-untyped-def]
    remember(password, b64_credential(user, password))
    sandbox.put_secret("env", "registry_pw", b64_credential(user, password))
    env = dict(sandbox.env, DOCKER_CREDENTIAL_TRUSS_DEBUG="1")
    result = sandbox.run_helper("doctor", args=[netloc], env=env)
    log = sandbox.state_home / "docker-credential-truss" / "log" / "debug.log"
    text = log.read_text() if log.exists() else ""
    assert_no_secret(result.stdout + result.stderr + text, "doctor's report or debug log")
    check(
        "doctor (docker-credential-truss" in text and "registry check: GET http" in text,
        "the debug log must record the run and its requests to the registry",
    )
    return result


def test_right_credential_and_existing_image(sandbox: Sandbox, registry: RegistryUnderTest) -> None:
    configured(sandbox, registry.netloc, registry.image)
    result = doctor(sandbox, registry.netloc, registry.password)
    expect_ok(result, "doctor with the right password")
    out = result.stdout
    check(
        f"registry accepted the credential: GET http://{registry.netloc}/v2/ -> 200 (Basic)" in out,
        f"doctor must log in\n{describe(result)}",
    )
    check(
        f"image {registry.image}: " in out and DIGEST.search(out) is not None,
        f"doctor must find the image with its digest\n{describe(result)}",
    )
    check("plain http (a loopback registry)" in out, "doctor must say why it used http")


def test_wrong_password_is_refused_with_the_registry_code(
    sandbox: Sandbox, registry: RegistryUnderTest
) -> None:
    configured(sandbox, registry.netloc, registry.image)
    result = doctor(sandbox, registry.netloc, "SENTINEL-wrong-pw-6b1f")
    check(result.returncode == 1, f"doctor must fail\n{describe(result)}")
    check(
        f"FAIL  registry refused the credential: GET http://{registry.netloc}/v2/ answered"
        " HTTP 401 UNAUTHORIZED" in result.stdout,
        f"doctor must report the refusal\n{describe(result)}",
    )
    check(": found, sha256:" not in result.stdout, "no image check after a refused login")


def test_missing_image_and_missing_tag(sandbox: Sandbox, registry: RegistryUnderTest) -> None:
    for image, code in (
        (f"{registry.netloc}/no-such-repo:1", "MANIFEST_UNKNOWN"),  # distribution 2.8
        (f"{registry.netloc}/tiny:no-such-tag", "MANIFEST_UNKNOWN"),
    ):
        configured(sandbox, registry.netloc, image)
        result = doctor(sandbox, registry.netloc, registry.password)
        check(result.returncode == 1, f"doctor must fail for {image}\n{describe(result)}")
        check(
            "registry accepted the credential" in result.stdout
            and f"FAIL  image {image}: not found (HTTP 404 {code})" in result.stdout,
            f"doctor must report {image} missing with {code}\n{describe(result)}",
        )


def test_offline_and_no_registry_never_contact_it(
    sandbox: Sandbox, registry: RegistryUnderTest
) -> None:
    configured(sandbox, registry.netloc, registry.image)
    sandbox.put_secret("env", "registry_pw", b64_credential("alice", "SENTINEL-wrong-pw-6b1f"))
    mark = registry.server.log_mark()
    for flag in ("--offline", "--no-registry"):
        result = sandbox.run_helper("doctor", args=[flag, registry.netloc])
        expect_ok(result, f"doctor {flag} (the wrong password is not tried)")
        check(f"registry: not contacted ({flag})" in result.stdout, describe(result))
    check("/v2/" not in registry.server.log_since(mark), "the registry must see no request")


# --- token auth (Bearer), as Docker Hub and GHCR do it ---------------------------------


def test_bearer_right_credential_and_existing_private_image(
    sandbox: Sandbox, token_registry: TokenRegistryUnderTest
) -> None:
    reg = token_registry
    configured(sandbox, reg.netloc, reg.private_image)
    mark = reg.token_server.mark()
    result = doctor(sandbox, reg.netloc, reg.password, user=reg.user)
    expect_ok(result, "doctor against the token-auth registry")
    realm = reg.token_server.realm
    check(
        f"registry accepted the credential: GET http://{reg.netloc}/v2/ -> 200"
        f" (Bearer, token from {realm})" in result.stdout,
        f"doctor must log in with a token\n{describe(result)}",
    )
    check(
        f"image {reg.private_image}: " in result.stdout and DIGEST.search(result.stdout),
        f"doctor must find the private image\n{describe(result)}",
    )
    events = reg.token_server.events_since(mark)
    check(
        all(e["method"] == "GET" and e["user"] == reg.user and e["ok"] for e in events),
        f"every token request must carry the right password: {events}",
    )
    check(
        any(e["scopes"] == ["repository:private/tiny:pull"] for e in events),
        f"the image's token must be asked with pull scope only: {events}",
    )


def test_bearer_wrong_password_is_refused_by_the_token_realm(
    sandbox: Sandbox, token_registry: TokenRegistryUnderTest
) -> None:
    reg = token_registry
    configured(sandbox, reg.netloc, reg.private_image)
    result = doctor(sandbox, reg.netloc, "SENTINEL-wrong-token-pw-0c7d", user=reg.user)
    check(result.returncode == 1, f"doctor must fail\n{describe(result)}")
    check(
        f"FAIL  registry refused the credential: token realm {reg.token_server.realm}"
        " answered HTTP 401 UNAUTHORIZED" in result.stdout,
        f"doctor must report the realm's refusal\n{describe(result)}",
    )


def test_bearer_missing_image(sandbox: Sandbox, token_registry: TokenRegistryUnderTest) -> None:
    reg = token_registry
    image = f"{reg.netloc}/private/absent:1"
    configured(sandbox, reg.netloc, image)
    result = doctor(sandbox, reg.netloc, reg.password, user=reg.user)
    check(
        result.returncode == 1
        and f"FAIL  image {image}: not found (HTTP 404 MANIFEST_UNKNOWN)" in result.stdout,
        f"doctor must report the missing image\n{describe(result)}",
    )


def test_an_identity_token_is_posted_as_a_refresh_token(
    sandbox: Sandbox, token_registry: TokenRegistryUnderTest
) -> None:
    # docker sends an identity token (user <token>) to the realm as an OAuth2 refresh
    # token; this token server issues none, so it refuses the grant by its name.
    reg = token_registry
    configured(sandbox, reg.netloc, reg.private_image)
    result = doctor(sandbox, reg.netloc, "SENTINEL-identity-token-5e2a", user="<token>")
    check(
        result.returncode == 1
        and f"token realm {reg.token_server.realm} answered HTTP 400 unsupported_grant_type"
        in result.stdout,
        f"doctor must post the refresh-token grant\n{describe(result)}",
    )


class _PublicOnly(TokenServer):
    """A token server that lets its users pull ``public/*`` and nothing else."""

    def grant(self, user: str | None, scopes: Iterable[str]) -> list[dict[str, Any]]:
        return super().grant(None, scopes)


@pytest.fixture(scope="module")
def public_only(e2e_base: Path) -> Iterator[tuple[TokenRegistry, str, str]]:
    user, password = "carol", "SENTINEL-carol-pw-" + secrets.token_hex(6)
    remember(password, b64_credential(user, password))
    tokens = _PublicOnly(e2e_base / "public-only-token", [(user, password)])
    tokens.start()
    server = TokenRegistry(e2e_base / "public-only", "127.0.0.1", free_port(), tokens)
    try:
        server.start()
        yield server, user, password
    finally:
        server.stop()
        tokens.stop()


def test_bearer_image_this_identity_may_not_pull_is_denied(
    sandbox: Sandbox, public_only: tuple[TokenRegistry, str, str]
) -> None:
    # The login succeeds (any valid token opens /v2/), but the token for the image
    # carries no pull access: the registry answers 401 insufficient_scope.
    server, user, password = public_only
    image = f"{server.netloc}/private/tiny:1"
    configured(sandbox, server.netloc, image)
    result = doctor(sandbox, server.netloc, password, user=user)
    check(
        result.returncode == 1
        and "registry accepted the credential" in result.stdout
        and f"FAIL  image {image}: denied (HTTP 401 insufficient_scope);"
        " this identity may not pull private/tiny"
        in result.stdout,
        f"doctor must report the image denied\n{describe(result)}",
    )

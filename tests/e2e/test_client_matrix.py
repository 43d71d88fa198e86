"""No client may break because of the helper: every client x every scenario.

The clients are the adapters of client_matrix.py (docker 20.10 and the newer CLI,
the classic builder, BuildKit, buildx, skopeo, podman, buildah, docker-py pull and
build, docker-compose 1.29). Each scenario sets up what a user has -- registries
routed to the helper by ``configure``, secrets present or missing -- and checks what
the client does and what it shows:

- a private image, its credential from the helper;
- a public image on a routed registry whose secret is missing: it must pull, and the
  helper's one line saying what is missing must reach the user;
- a build (or pull) FROM a good registry while other routed registries are broken (a
  missing secret, a cloud endpoint that refuses): it must succeed, the classic builder
  and docker-py build included, though they ask the helper about every registry;
- after ``docker login`` then ``docker logout``: public pulls, private fails cleanly
  (the registry's refusal, not a helper error, and no stale credential sent);
- the token-auth registry (as Docker Hub and GHCR behave) with the helper's credential;
- a wrong password: the registry's refusal reaches the user, not a helper error.

What each client showed is recorded and printed at the end of the run (the
"client matrix" section), with the client versions, so the table in docs/reference.md is measured.
"""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

import pytest
import yaml
from client_matrix import CLIENTS, Client, Workspace, note_cell
from e2e_checks import (
    assert_no_secret,
    check,
    describe,
    expect_not_in_output,
    expect_ok,
    remember,
)
from e2e_harness import RegistryUnderTest, Sandbox, TokenRegistryUnderTest, b64_credential
from e2e_servers import CLOUD_HOSTS, Dockerd, HarnessError, free_port

ECR_HOST = CLOUD_HOSTS[0]
NOT_FOUND = "credentials not found in native keychain"
# How each client says the helper itself failed (rather than answering "not found").
HELPER_FAILED = (
    "error getting credentials",  # docker CLI, BuildKit, buildx
    "getting username and password",  # containers/image: skopeo, podman, buildah
    "Credentials store error",  # docker-py, docker-compose
)


@pytest.fixture(params=CLIENTS, ids=[c.name.replace(" ", "-") for c in CLIENTS])
def client(request: pytest.FixtureRequest) -> Client:
    chosen: Client = request.param
    reason = chosen.missing()
    if reason and chosen.optional:
        pytest.skip(reason)
    if reason:
        raise HarnessError(reason)
    return chosen


@pytest.fixture(scope="session")
def client_storage(e2e_base: Path) -> Path:
    """podman's and buildah's image stores, shared by every test of the session."""
    path = e2e_base / "clients"
    path.mkdir()
    return path


@pytest.fixture
def ws(
    sandbox: Sandbox, dockerd: Dockerd, client_storage: Path, buildx: Path, tmp_path: Path
) -> Workspace:
    return Workspace(sandbox, dockerd, client_storage, tmp_path / "scratch")


@pytest.fixture
def record(request: pytest.FixtureRequest, client: Client, ws: Workspace) -> list[str]:
    """Notes on what the user saw, kept for the run's "client matrix" summary."""
    return note_cell(request.node, client, ws)


# --------------------------------------------------------------------------- set-up


def route(
    ws: Workspace,
    secrets_present: dict[str, str],
    missing: tuple[str, ...] = (),
    broken_ecr: bool = False,
) -> None:
    """Route registries to the helper the way a user does: ``configure`` a truss.

    ``secrets_present`` maps registry -> its ``DOCKER_REGISTRY_*`` value, put in
    ``~/.truss/config.yaml``; ``missing`` registries are routed with no secret anywhere.
    ``broken_ecr`` adds an AWS_IAM registry whose key pair exists but whose ECR endpoint
    refuses connections.
    """
    truss: dict[str, object] = {"model_name": "dct-matrix"}
    placeholders = {f"DOCKER_REGISTRY_{key}": None for key in (*secrets_present, *missing)}
    if broken_ecr:
        truss["base_image"] = {
            "image": f"{ECR_HOST}/tiny:1",
            "docker_auth": {"auth_method": "AWS_IAM", "registry": ECR_HOST},
        }
        placeholders.update(aws_access_key_id=None, aws_secret_access_key=None)
        ws.sandbox.put_secret("truss_config", "aws_access_key_id", "AKIAMATRIXSENTINEL01")
        ws.sandbox.put_secret("truss_config", "aws_secret_access_key", "matrix-sentinel-secret")
        ws.sandbox.env["AWS_ENDPOINT_URL_ECR"] = f"http://127.0.0.1:{free_port()}"
    truss["secrets"] = placeholders
    truss_dir = ws.scratch / "truss"
    truss_dir.mkdir(parents=True)
    (truss_dir / "config.yaml").write_text(yaml.safe_dump(truss, sort_keys=False))
    expect_ok(ws.sandbox.run_helper("configure", args=[str(truss_dir)]), "configure")
    for key, value in secrets_present.items():
        ws.sandbox.put_secret("truss_config", f"DOCKER_REGISTRY_{key}", value)


def credential(registry: RegistryUnderTest | TokenRegistryUnderTest) -> dict[str, str]:
    return {registry.netloc: b64_credential(registry.user, registry.password)}


# --------------------------------------------------------------------------- checks


def output(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


def helper_line(result: subprocess.CompletedProcess[str], registry: str) -> str | None:
    """The helper's stderr line about ``registry``'s missing secret, as the client showed it."""
    name = f"DOCKER_REGISTRY_{registry}"
    for line in output(result).splitlines():
        if name in line and NOT_FOUND not in line:
            return line.strip()
    return None


def expect_helper_line(
    result: subprocess.CompletedProcess[str], registry: str, what: str, seen: list[str]
) -> None:
    """The helper said on stderr what is missing, and the client showed it to the user."""
    line = helper_line(result, registry)
    seen.append("helper's line shown" if line else "helper's line NOT shown")
    check(
        line is not None,
        f"{what}: the helper's stderr line did not reach the user\n{describe(result)}",
    )


def last_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
    return (lines or [line.strip() for line in result.stdout.splitlines()] or [""])[-1][:400]


# --------------------------------------------------------------------------- scenarios


def test_private_image(
    client: Client, ws: Workspace, registry: RegistryUnderTest, record: list[str]
) -> None:
    route(ws, credential(registry))
    fetched = client.fetch(ws, registry.image)
    expect_ok(fetched, f"{client.name} of a private image with the helper's credential")
    expect_not_in_output(fetched, client.name, HELPER_FAILED)
    assert_no_secret(output(fetched), f"{client.name} output")
    record.append("ok")


def test_public_image_secret_missing(
    client: Client, ws: Workspace, token_registry: TokenRegistryUnderTest, record: list[str]
) -> None:
    route(ws, {}, missing=(token_registry.netloc,))
    fetched = client.fetch(ws, token_registry.public_image)
    record.append("ok" if fetched.returncode == 0 else f"fails: {last_line(fetched)}")
    expect_ok(fetched, f"{client.name} of a public image, the registry's secret missing")
    expect_not_in_output(fetched, client.name, HELPER_FAILED)
    expect_helper_line(fetched, token_registry.netloc, client.name, record)


def test_build_while_others_broken(
    client: Client,
    ws: Workspace,
    registry: RegistryUnderTest,
    token_registry: TokenRegistryUnderTest,
    record: list[str],
) -> None:
    route(ws, credential(registry), missing=(token_registry.netloc,), broken_ecr=True)
    routed = ws.sandbox.read_docker_config().get("credHelpers", {})
    for key in (registry.netloc, token_registry.netloc, ECR_HOST):
        check(routed.get(key) == "truss", f"configure must have routed {key} to the helper")
    got = ws.sandbox.run_helper("get", token_registry.netloc)
    check(
        got.returncode == 1 and got.stdout.strip() == NOT_FOUND,
        f"the route with no secret must answer not-found\n{describe(got)}",
    )
    fetched = client.fetch(ws, registry.image)
    record.append("ok" if fetched.returncode == 0 else f"fails: {last_line(fetched)}")
    expect_ok(fetched, f"{client.name} FROM a good registry while two others are broken")
    assert_no_secret(output(fetched), f"{client.name} output")


def test_after_login_and_logout(
    client: Client, ws: Workspace, token_registry: TokenRegistryUnderTest, record: list[str]
) -> None:
    route(ws, {}, missing=(token_registry.netloc,))
    login = ws.run(
        [client.docker_cli, "login", "-u", token_registry.user, "--password-stdin",
         token_registry.netloc],
        input=token_registry.password,
    )  # fmt: skip
    expect_ok(login, "docker login through the helper")
    expect_ok(ws.run([client.docker_cli, "logout", token_registry.netloc]), "docker logout")

    public = client.fetch(ws, token_registry.public_image)
    record.append("public ok" if public.returncode == 0 else f"public fails: {last_line(public)}")
    expect_ok(public, f"{client.name} of a public image after logout")
    expect_not_in_output(public, client.name, HELPER_FAILED)

    tokens = token_registry.token_server
    mark = tokens.mark()
    private = client.fetch(ws, token_registry.private_image)
    record.append(f"private refused: {last_line(private)}")
    check(
        private.returncode != 0,
        f"{client.name} of a private image after logout must fail\n{describe(private)}",
    )
    expect_not_in_output(private, client.name, HELPER_FAILED)
    expect_helper_line(private, token_registry.netloc, client.name, record)
    check(
        all(event["user"] is None for event in tokens.events_since(mark)),
        f"{client.name} sent a credential after logout",
    )
    assert_no_secret(output(public) + output(private), f"{client.name} output")


def test_token_registry(
    client: Client, ws: Workspace, token_registry: TokenRegistryUnderTest, record: list[str]
) -> None:
    route(ws, credential(token_registry))
    tokens = token_registry.token_server
    for image in (token_registry.private_image, token_registry.public_image):
        mark = tokens.mark()
        fetched = client.fetch(ws, image)
        expect_ok(fetched, f"{client.name} of {image} with the helper's credential")
        check(
            any(e["user"] == token_registry.user and e["ok"] for e in tokens.events_since(mark)),
            f"{client.name}: the token server never saw the helper's credential for {image}",
        )
        assert_no_secret(output(fetched), f"{client.name} output")
    record.append("private and public ok")


def test_wrong_secret(
    client: Client, ws: Workspace, registry: RegistryUnderTest, record: list[str]
) -> None:
    """A wrong password: the registry's refusal reaches the user, not a helper error."""
    wrong = "wrong:" + secrets.token_urlsafe(12)
    remember(wrong)
    route(ws, {registry.netloc: b64_credential(registry.user, wrong)})
    mark = registry.server.log_mark()
    fetched = client.fetch(ws, registry.image)
    record.append(f"refused: {last_line(fetched)}")
    check(
        fetched.returncode != 0,
        f"{client.name} with a wrong password must fail\n{describe(fetched)}",
    )
    check(
        registry.server.saw_failed_login(registry.user, mark),
        f"{client.name}: the registry never saw the helper's (wrong) credential",
    )
    expect_not_in_output(fetched, client.name, HELPER_FAILED)
    assert_no_secret(output(fetched), f"{client.name} output")

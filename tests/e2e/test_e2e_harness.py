"""The harness itself works and cannot make the helper tests pass by accident.

These use plain ``auths`` entries (no credential helper), so they prove that the real
registries demand the right password, that dockerd, BuildKit and skopeo reach them,
and that cloud names resolve only inside the namespace. The helper tests then differ
from these only in where the credential comes from.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from e2e_checks import check, expect_failure, expect_ok, remember
from e2e_harness import (
    CloudRegistry,
    DockerCLI,
    RegistryUnderTest,
    Sandbox,
    TokenRegistryUnderTest,
)
from e2e_servers import CLOUD_HOSTS, basic_auth_config


def test_registry_demands_the_right_password(registry: RegistryUnderTest) -> None:
    check(registry.server.status_for(None) == 401, "anonymous /v2/ must be refused")
    check(
        registry.server.status_for((registry.user, registry.password + "x")) == 401,
        "a wrong password must be refused",
    )
    check(
        registry.server.status_for(("nobody", registry.password)) == 401,
        "the right password for another user must be refused",
    )
    check(
        registry.server.status_for((registry.user, registry.password)) == 200,
        "the test account must be accepted",
    )


def test_docker_pull_with_plain_auths(
    docker: DockerCLI, sandbox: Sandbox, registry: RegistryUnderTest
) -> None:
    creds = {registry.netloc: (registry.user, registry.password)}
    sandbox.write_docker_config(basic_auth_config(creds))
    docker.rmi(registry.image)
    result = docker.run("pull", registry.image)
    expect_ok(result, "docker pull with plain auths")
    check("Downloaded newer image" in result.stdout, "the pull must really download")


def test_docker_pull_refused_anonymous_and_wrong(
    docker: DockerCLI, sandbox: Sandbox, registry: RegistryUnderTest
) -> None:
    docker.rmi(registry.image)
    sandbox.write_docker_config({})
    expect_failure(
        docker.run("pull", registry.image), "anonymous pull", ["no basic auth credentials"]
    )
    wrong = {registry.netloc: (registry.user, "wrong-" + secrets.token_hex(4))}
    sandbox.write_docker_config(basic_auth_config(wrong))
    expect_failure(docker.run("pull", registry.image), "wrong-password pull", ["unauthorized"])
    check(not docker.has_image(registry.image), "a refused pull must leave no image")


def test_plain_docker_login_then_pull(
    docker: DockerCLI, sandbox: Sandbox, registry: RegistryUnderTest
) -> None:
    sandbox.write_docker_config({})
    login = docker.run(
        "login", "-u", registry.user, "--password-stdin", registry.netloc, input=registry.password
    )
    expect_ok(login, "docker login without a helper")
    check(registry.netloc in sandbox.read_docker_config()["auths"], "login must store auths")
    docker.rmi(registry.image)
    expect_ok(docker.run("pull", registry.image), "docker pull after plain login")


def test_buildkit_and_skopeo_reach_the_registry(
    docker: DockerCLI, sandbox: Sandbox, registry: RegistryUnderTest, tmp_path: Path
) -> None:
    cfg = sandbox.write_docker_config(
        basic_auth_config({registry.netloc: (registry.user, registry.password)})
    )
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {registry.image}\nCOPY note /note\n")
    (context / "note").write_text("built\n")
    docker.rmi(registry.image)
    build = docker.run(
        "build", "--pull", "--no-cache", "-t", "dct-harness-built:1", str(context), buildkit=True
    )
    expect_ok(build, "BuildKit build with plain auths")
    skopeo = ["skopeo", "inspect", "--tls-verify=false", "--authfile", str(cfg)]
    inspect = sandbox.run([*skopeo, f"docker://{registry.image}"])
    expect_ok(inspect, "skopeo inspect with plain auths")
    check(json.loads(inspect.stdout)["Name"] == f"{registry.netloc}/tiny", "skopeo saw tiny")


def test_cloud_names_resolve_to_the_cloud_registry_only_in_the_namespace(
    docker: DockerCLI,
    sandbox: Sandbox,
    cloud_registry: CloudRegistry,
    in_cloud_namespace,  # type: ignore[no-untyped-def]
) -> None:
    user, password = "dct-sanity", "pw-" + secrets.token_urlsafe(12)
    remember(password)
    cloud_registry.add_users([(user, password)])
    cfg = sandbox.write_docker_config(basic_auth_config({h: (user, password) for h in CLOUD_HOSTS}))
    for host in CLOUD_HOSTS:
        check(host not in Path("/etc/hosts").read_text(), f"{host} leaked into /etc/hosts")
        image = cloud_registry.image(host)
        docker.rmi(image)
        expect_ok(docker.run("pull", image), f"docker pull {image} with plain auths")
        inspect = in_cloud_namespace(
            [
                "skopeo",
                "inspect",
                "--tls-verify=false",
                "--authfile",
                str(cfg),
                f"docker://{image}",
            ],
            sandbox.env,
        )
        expect_ok(inspect, f"skopeo inspect {image} in the namespace")
    sandbox.write_docker_config({})
    image = cloud_registry.image(CLOUD_HOSTS[0])
    docker.rmi(image)
    expect_failure(docker.run("pull", image), "anonymous cloud pull", ["no basic auth credentials"])


def test_token_registry_behaves_like_docker_hub(
    docker: DockerCLI, sandbox: Sandbox, token_registry: TokenRegistryUnderTest
) -> None:
    """Anonymous pulls of public/*, the password for private/*, 401 for a wrong one."""
    tokens = token_registry.token_server
    sandbox.write_docker_config({})
    docker.rmi(token_registry.public_image, token_registry.private_image)
    mark = tokens.mark()
    expect_ok(docker.run("pull", token_registry.public_image), "anonymous pull of public/*")
    check(
        any(
            e["user"] is None and e["granted"][0]["actions"] == ["pull"]
            for e in tokens.events_since(mark)
        ),
        "the anonymous pull must have been granted pull by the token server",
    )
    expect_failure(
        docker.run("pull", token_registry.private_image),
        "anonymous pull of private/*",
        ["pull access denied"],
    )
    wrong = {token_registry.netloc: (token_registry.user, "wrong-" + secrets.token_hex(4))}
    sandbox.write_docker_config(basic_auth_config(wrong))
    mark = tokens.mark()
    expect_failure(
        docker.run("pull", token_registry.private_image), "wrong-password pull", ["unauthorized"]
    )
    check(
        any(
            e["user"] == token_registry.user and e["ok"] is False for e in tokens.events_since(mark)
        ),
        "the token server must have refused the wrong password",
    )
    right = {token_registry.netloc: (token_registry.user, token_registry.password)}
    sandbox.write_docker_config(basic_auth_config(right))
    mark = tokens.mark()
    expect_ok(docker.run("pull", token_registry.private_image), "pull of private/* with password")
    check(
        any(e["user"] == token_registry.user and e["ok"] for e in tokens.events_since(mark)),
        "the token server must have accepted the password",
    )


def test_buildx_builds_from_the_token_registry(
    docker: DockerCLI,
    sandbox: Sandbox,
    token_registry: TokenRegistryUnderTest,
    buildx: Path,
    tmp_path: Path,
) -> None:
    """`docker buildx build --load` (truss image build's command) works with plain auths."""
    right = {token_registry.netloc: (token_registry.user, token_registry.password)}
    sandbox.write_docker_config(basic_auth_config(right))
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {token_registry.private_image}\nCOPY note /note\n")
    (context / "note").write_text("built\n")
    tag = "dct-harness-buildx:1"
    build = docker.run("buildx", "build", "--load", "--network", "host", "-t", tag, str(context))
    expect_ok(build, "docker buildx build --load with plain auths")
    check(docker.has_image(tag), "buildx --load must put the image into dockerd")
    docker.rmi(tag)

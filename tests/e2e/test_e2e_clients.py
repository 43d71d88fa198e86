"""Real clients get registry credentials from the installed helper, from every secret source.

Each client here -- the docker CLI (push, pull), BuildKit, skopeo -- is pointed at the
htpasswd registry through ``{"credHelpers": {"127.0.0.1:PORT": "truss"}}`` and nothing
else, so a pull can only succeed if the helper answered with the right password. The
same tests with a wrong password show the registry's 401 reaching the user through the
client, not a helper error.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
from e2e_checks import assert_no_secret, check, expect_failure, expect_not_in_output, expect_ok
from e2e_harness import SECRET_SOURCES, DockerCLI, RegistryUnderTest, Sandbox

HELPER_FAILED = "error getting credentials"  # what docker says when the helper itself fails
# Anonymous requests get the same 401 as wrong ones, so the wrong-secret tests also check
# the registry's log: the helper's credential, with the test user's name, reached it.
REACHED = "the registry never saw the helper's credential for the test user"


@pytest.fixture(params=SECRET_SOURCES)
def source(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def use_helper(sandbox: Sandbox, registry: RegistryUnderTest, source: str, password: str) -> Path:
    """Credential from ``source`` plus a config.json that sends the registry to the helper."""
    sandbox.put_registry_credential(source, registry.netloc, registry.user, password)
    return sandbox.cred_helpers(registry.netloc)


def wrong_password() -> str:
    return "wrong:" + secrets.token_urlsafe(12)


def output_of(result) -> str:  # type: ignore[no-untyped-def]
    return str(result.stdout) + str(result.stderr)


def test_docker_push_and_pull(
    docker: DockerCLI,
    sandbox: Sandbox,
    registry: RegistryUnderTest,
    tiny_image: str,
    source: str,
) -> None:
    use_helper(sandbox, registry, source, registry.password)
    pushed = f"{registry.netloc}/dct-push-{source.replace('_', '-')}-{secrets.token_hex(3)}:1"
    expect_ok(docker.run("tag", tiny_image, pushed), "docker tag")
    push = docker.run("push", pushed)
    expect_ok(push, f"docker push via the helper ({source})")
    docker.rmi(pushed, registry.image)
    for image in (pushed, registry.image):
        pull = docker.run("pull", image)
        expect_ok(pull, f"docker pull {image} via the helper ({source})")
        check("Downloaded newer image" in pull.stdout, "the pull must really fetch the image")
        assert_no_secret(output_of(pull), "docker pull output")
    assert_no_secret(output_of(push), "docker push output")
    check(
        "auths" not in sandbox.read_docker_config()
        or not any(entry.get("auth") for entry in sandbox.read_docker_config()["auths"].values()),
        "docker must not have written the credential into config.json",
    )


def test_docker_pull_and_push_with_wrong_secret(
    docker: DockerCLI,
    sandbox: Sandbox,
    registry: RegistryUnderTest,
    tiny_image: str,
    source: str,
) -> None:
    use_helper(sandbox, registry, source, wrong_password())
    # The helper's part succeeds: it answers what it was given; only the registry refuses.
    expect_ok(sandbox.run_helper("get", registry.netloc), "get with a wrong secret")
    docker.rmi(registry.image)
    mark = registry.server.log_mark()
    pull = docker.run("pull", registry.image)
    expect_failure(
        pull, "docker pull with a wrong secret", ["unauthorized: authentication required"]
    )
    expect_not_in_output(pull, "docker pull with a wrong secret", [HELPER_FAILED])
    check(not docker.has_image(registry.image), "a refused pull must leave no image")
    check(registry.server.saw_failed_login(registry.user, mark), REACHED)
    pushed = f"{registry.netloc}/dct-push-wrong:1"
    expect_ok(docker.run("tag", tiny_image, pushed), "docker tag")
    push = docker.run("push", pushed)
    expect_failure(push, "docker push with a wrong secret", ["unauthorized"])
    expect_not_in_output(push, "docker push with a wrong secret", [HELPER_FAILED])
    assert_no_secret(output_of(pull) + output_of(push), "docker output")


def _build(docker: DockerCLI, registry: RegistryUnderTest, context: Path, tag: str):  # type: ignore[no-untyped-def]
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {registry.image}\nCOPY note /note\n")
    (context / "note").write_text(f"{tag}\n")
    docker.rmi(registry.image, tag)
    # --pull: BuildKit would otherwise use a local copy of the base image without auth.
    return docker.run("build", "--pull", "-t", tag, str(context), buildkit=True)


def test_buildkit_build_from_the_registry(
    docker: DockerCLI, sandbox: Sandbox, registry: RegistryUnderTest, source: str, tmp_path: Path
) -> None:
    use_helper(sandbox, registry, source, registry.password)
    tag = f"dct-built-{source.replace('_', '-')}:1"
    build = _build(docker, registry, tmp_path / "ctx", tag)
    expect_ok(build, f"BuildKit build FROM the registry ({source})")
    check(docker.has_image(tag), "the build must produce the image")
    assert_no_secret(output_of(build), "docker build output")


def test_legacy_build_from_the_registry(
    docker: DockerCLI, sandbox: Sandbox, registry: RegistryUnderTest, tmp_path: Path
) -> None:
    """The classic builder asks the helper for every credHelpers key before building."""
    use_helper(sandbox, registry, "truss_config", registry.password)
    tag = "dct-built-legacy:1"
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {registry.image}\nCOPY note /note\n")
    (context / "note").write_text("legacy\n")
    docker.rmi(registry.image, tag)
    build = docker.run("build", "--pull", "-t", tag, str(context))
    expect_ok(build, "classic docker build FROM the registry")
    check(docker.has_image(tag), "the build must produce the image")


def test_buildkit_build_with_wrong_secret(
    docker: DockerCLI, sandbox: Sandbox, registry: RegistryUnderTest, source: str, tmp_path: Path
) -> None:
    use_helper(sandbox, registry, source, wrong_password())
    tag = f"dct-built-wrong-{source.replace('_', '-')}:1"
    mark = registry.server.log_mark()
    build = _build(docker, registry, tmp_path / "ctx", tag)
    check(registry.server.saw_failed_login(registry.user, mark), REACHED)
    expect_failure(build, "BuildKit build with a wrong secret", ["401 Unauthorized"])
    expect_not_in_output(build, "BuildKit build with a wrong secret", [HELPER_FAILED])
    check(not docker.has_image(tag), "a refused build must produce no image")
    assert_no_secret(output_of(build), "docker build output")


def _skopeo_inspect(sandbox: Sandbox, authfile: Path, image: str):  # type: ignore[no-untyped-def]
    return sandbox.run(
        [
            "skopeo",
            "inspect",
            "--tls-verify=false",
            "--authfile",
            str(authfile),
            f"docker://{image}",
        ]
    )


def test_skopeo_inspect(sandbox: Sandbox, registry: RegistryUnderTest, source: str) -> None:
    authfile = use_helper(sandbox, registry, source, registry.password)
    inspect = _skopeo_inspect(sandbox, authfile, registry.image)
    expect_ok(inspect, f"skopeo inspect via the helper ({source})")
    check(json.loads(inspect.stdout)["Name"] == f"{registry.netloc}/tiny", "skopeo saw tiny")
    assert_no_secret(output_of(inspect), "skopeo output")


def test_skopeo_inspect_with_wrong_secret(
    sandbox: Sandbox, registry: RegistryUnderTest, source: str
) -> None:
    authfile = use_helper(sandbox, registry, source, wrong_password())
    mark = registry.server.log_mark()
    inspect = _skopeo_inspect(sandbox, authfile, registry.image)
    check(registry.server.saw_failed_login(registry.user, mark), REACHED)
    expect_failure(
        inspect, "skopeo inspect with a wrong secret", ["unauthorized: authentication required"]
    )
    expect_not_in_output(inspect, "skopeo inspect with a wrong secret", ["error getting"])
    assert_no_secret(output_of(inspect), "skopeo output")

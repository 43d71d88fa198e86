"""truss's own ``truss image build`` pulls a private base image through the helper.

``truss image build`` writes a Dockerfile ``FROM base_image.image`` and runs ``docker
buildx build --load``; it never reads ``base_image.docker_auth`` itself, so the FROM
pull is authenticated by docker's config alone -- by us, once ``configure`` has routed
the registry to the helper. This runs the real truss (pinned in
tests/truss-requirements.txt, installed by .ci/run into .venv-truss) against the
session's dockerd and the htpasswd registry, with buildx from .ci/fetch-buildx and a
Debian base image from .ci/truss-base-image.

It takes minutes, so it runs once per CI run: it is marked ``truss_build`` and tests/run
deselects it for one of its two passes. A missing truss or base image is an error.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from e2e_checks import assert_no_secret, check, describe, expect_ok
from e2e_harness import DockerCLI, RegistryUnderTest, Sandbox, b64_credential
from e2e_servers import DOCKER_CLI, HarnessError

pytestmark = pytest.mark.truss_build

ROOT = Path(__file__).resolve().parents[2]
BUILD_TIMEOUT = 1800  # seconds: the build installs truss's server requirements from PyPI
BASE_REPO = "private/truss-base:1"
# `docker import` makes an image with no environment: give it a PATH, and point
# SSL_CERT_FILE at the host's CA bundle that .ci/truss-base-image put there, so the uv
# inside the build trusts what the host trusts.
IMPORT_CHANGES = (
    "--change",
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "--change",
    "ENV SSL_CERT_FILE=/etc/ssl/host-ca.crt",
)


@pytest.fixture(scope="session")
def truss_cli() -> Path:
    """The ``truss`` command beside ``$DCT_TRUSS_PYTHON`` (default .venv-truss)."""
    python = Path(os.environ.get("DCT_TRUSS_PYTHON") or ROOT / ".venv-truss" / "bin" / "python")
    cli = python.parent / "truss"
    if not python.exists() or not cli.exists():
        raise HarnessError(
            f"no truss at {cli}: python3 -m venv .venv-truss && "
            ".venv-truss/bin/pip install -r tests/truss-requirements.txt "
            "(or set DCT_TRUSS_PYTHON)"
        )
    return cli


@pytest.fixture(scope="session")
def truss_base_image(seed_docker: DockerCLI, registry: RegistryUnderTest) -> Iterator[str]:
    """The Debian base image, pushed as a private image to the htpasswd registry.

    Only the seeding user (plain ``auths``) touches it here; both local tags are removed
    afterwards, so a build can get it only by pulling it with a credential.
    """
    tarball = Path(
        os.environ.get("DCT_TRUSS_BASE") or ROOT / "build-out" / "truss-base" / "rootfs.tar"
    )
    if not tarball.is_file():
        raise HarnessError(f"no truss base image at {tarball}: run .ci/truss-base-image")
    local = "dct-truss-base:1"
    ref = f"{registry.netloc}/{BASE_REPO}"
    env = dict(seed_docker.env, DOCKER_HOST=seed_docker.dockerd.host)
    with tarball.open("rb") as f:
        imported = subprocess.run(
            [DOCKER_CLI, "import", *IMPORT_CHANGES, "-", local],
            stdin=f,
            capture_output=True,
            text=True,
            env=env,
            timeout=BUILD_TIMEOUT,
            check=False,
        )
    expect_ok(imported, "docker import of the truss base image")
    for args in (("tag", local, ref), ("push", ref)):
        expect_ok(seed_docker.run(*args, timeout=BUILD_TIMEOUT), f"docker {args[0]} {ref}")
    seed_docker.rmi(local, ref)
    yield ref


def write_truss(directory: Path, base_image: str, secret_name: str) -> Path:
    """The smallest truss: a pass-through model, no requirements, a private base image."""
    (directory / "model").mkdir(parents=True)
    (directory / "model" / "model.py").write_text(
        "class Model:\n    def predict(self, model_input):\n        return model_input\n"
    )
    config = {
        "model_name": "dct-truss-build",
        "python_version": "py311",
        "base_image": {"image": base_image, "python_executable_path": "/usr/bin/python3"},
        "requirements": [],
        "secrets": {secret_name: None},
    }
    (directory / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return directory


def truss_image_build(
    truss_cli: Path, sandbox: Sandbox, docker: DockerCLI, truss_dir: Path, tag: str
) -> tuple[subprocess.CompletedProcess[str], float]:
    """``truss image build`` with this test's docker config, dockerd and docker CLI."""
    # truss runs `docker` from PATH: make it Debian's CLI (the one the buildx fixture
    # and the rest of the suite use), whatever else the machine has.
    docker_dir = sandbox.root / "docker-cli"
    if not docker_dir.exists():
        docker_dir.mkdir()
        (docker_dir / "docker").symlink_to(DOCKER_CLI)
    env = dict(sandbox.env, DOCKER_HOST=docker.dockerd.host)
    env["PATH"] = f"{docker_dir}{os.pathsep}{env['PATH']}"
    argv = [str(truss_cli), "image", "build", str(truss_dir), "--tag", tag]
    argv += ["--use_host_network", "--non-interactive"]
    start = time.monotonic()
    result = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        env=env,
        timeout=BUILD_TIMEOUT,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    return result, time.monotonic() - start


def pulls_authorized(registry: RegistryUnderTest, mark: int) -> int:
    """How many requests for the base image's repository the registry let in since ``mark``.

    The htpasswd registry logs ``authorized request`` only for a valid user and
    password; nothing in the test's docker config but the helper can supply one.
    """
    repo = f"vars.name={BASE_REPO.split(':')[0]}"
    return sum(
        'msg="authorized request"' in line and repo in line
        for line in registry.server.log_since(mark).splitlines()
    )


def test_truss_image_build_pulls_the_private_base_through_the_helper(
    truss_cli: Path,
    truss_base_image: str,
    buildx: Path,
    docker: DockerCLI,
    sandbox: Sandbox,
    registry: RegistryUnderTest,
    tmp_path: Path,
) -> None:
    secret_name = f"DOCKER_REGISTRY_{registry.netloc}"
    truss_dir = write_truss(tmp_path / "truss", truss_base_image, secret_name)
    # Where truss users keep it: the secrets map of ~/.truss/config.yaml.
    sandbox.put_secret(
        "truss_config", secret_name, b64_credential(registry.user, registry.password)
    )
    tag = "dct-truss-built:1"
    docker.rmi(tag, truss_base_image)

    # The negative control first, while nothing of the base image is cached anywhere:
    # the same build without routing the registry to the helper is refused.
    sandbox.write_docker_config({})
    mark = registry.server.log_mark()
    refused, refused_s = truss_image_build(truss_cli, sandbox, docker, truss_dir, tag)
    output = refused.stdout + refused.stderr
    check(refused.returncode != 0, f"the build must fail without the helper\n{describe(refused)}")
    check(
        "401" in output or "unauthorized" in output.lower(),
        f"the build must fail for want of a credential\n{describe(refused)}",
    )
    check(not docker.has_image(tag), "a refused build must load no image")
    check(pulls_authorized(registry, mark) == 0, "without the helper the registry let a pull in")

    configured = sandbox.run_helper("configure", args=[str(truss_dir)])
    expect_ok(configured, "docker-credential-truss configure")
    check(
        sandbox.read_docker_config().get("credHelpers", {}).get(registry.netloc) == "truss",
        "configure must route the base image's registry to the helper",
    )
    mark = registry.server.log_mark()
    built, built_s = truss_image_build(truss_cli, sandbox, docker, truss_dir, tag)
    expect_ok(built, "truss image build through the helper")
    check(docker.has_image(tag), "truss image build must load the image into dockerd")
    inspect = docker.run("image", "inspect", "--format", "{{json .Config.Entrypoint}}", tag)
    check(
        "/app/main.py" in inspect.stdout, f"the image must be truss's server\n{describe(inspect)}"
    )
    check(pulls_authorized(registry, mark) > 0, "the registry never let the helper's user in")
    assert_no_secret(output + built.stdout + built.stderr, "truss image build output")
    print(f"truss image build: {built_s:.0f} s with the helper, {refused_s:.0f} s refused")
    docker.rmi(tag)

"""``docker login``/``logout`` through the helper, anonymous fall-through, ``configure``,
and the documented order of secret sources -- all with the real docker CLI and registry.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import yaml
from e2e_checks import (
    assert_no_secret,
    check,
    describe,
    expect_failure,
    expect_not_in_output,
    expect_ok,
    remember,
)
from e2e_harness import DockerCLI, RegistryUnderTest, Sandbox, b64_credential

NOT_FOUND = "credentials not found in native keychain"
ANONYMOUS_REFUSED = "no basic auth credentials"  # docker's words when it had no credential
HELPER_FAILED = "error getting credentials"


def store_file(sandbox: Sandbox) -> Path:
    return sandbox.data_home / "docker-credential-truss" / "secrets.json"


def login(docker: DockerCLI, registry: RegistryUnderTest, password: str):  # type: ignore[no-untyped-def]
    return docker.run(
        "login", "-u", registry.user, "--password-stdin", registry.netloc, input=password
    )


def test_docker_login_stores_through_the_helper_and_logout_erases(
    docker: DockerCLI, sandbox: Sandbox, registry: RegistryUnderTest
) -> None:
    sandbox.cred_helpers(registry.netloc)
    result = login(docker, registry, registry.password)
    expect_ok(result, "docker login through the helper")
    check("Login Succeeded" in result.stdout, "docker must report the login")
    check("WARNING! Your password will be stored unencrypted" not in result.stderr, "no auths")
    config = sandbox.read_docker_config()
    check(
        not any(e.get("auth") for e in config.get("auths", {}).values()),
        "docker must not keep the password in config.json",
    )
    check(store_file(sandbox).exists(), "the helper's own store must hold the login")
    listed = sandbox.run_helper("list")
    expect_ok(listed, "docker-credential-truss list")
    check(json.loads(listed.stdout).get(registry.netloc) == registry.user, "list shows the login")
    assert_no_secret(listed.stdout + listed.stderr, "list output")

    docker.rmi(registry.image)
    expect_ok(docker.run("pull", registry.image), "docker pull with the stored login")

    logout = docker.run("logout", registry.netloc)
    expect_ok(logout, "docker logout")
    expect_not_in_output(logout, "docker logout", ["could not erase credentials"])
    got = sandbox.run_helper("get", registry.netloc)
    check(
        got.returncode == 1 and got.stdout.strip() == NOT_FOUND,
        f"after logout, get must be not-found\n{describe(got)}",
    )
    docker.rmi(registry.image)
    pull = docker.run("pull", registry.image)
    expect_failure(pull, "docker pull after logout", [ANONYMOUS_REFUSED])
    assert_no_secret(store_file(sandbox).read_text(), "the store after logout")


def test_docker_logout_leaves_truss_secrets_alone(
    docker: DockerCLI, sandbox: Sandbox, registry: RegistryUnderTest
) -> None:
    """``docker logout`` never edits ~/.truss/config.yaml; the registry keeps working."""
    sandbox.put_registry_credential(
        "truss_config", registry.netloc, registry.user, registry.password
    )
    sandbox.cred_helpers(registry.netloc)
    before = sandbox.truss_config_path.read_bytes()
    logout = docker.run("logout", registry.netloc)
    assert_no_secret(logout.stdout + logout.stderr, "docker logout output")
    check(sandbox.truss_config_path.read_bytes() == before, "~/.truss/config.yaml must not change")
    docker.rmi(registry.image)
    expect_ok(docker.run("pull", registry.image), "docker pull after logout of a truss secret")


def test_docker_login_with_wrong_password_stores_nothing(
    docker: DockerCLI, sandbox: Sandbox, registry: RegistryUnderTest
) -> None:
    sandbox.cred_helpers(registry.netloc)
    wrong = "wrong:" + secrets.token_urlsafe(12)
    remember(wrong)
    result = login(docker, registry, wrong)
    expect_failure(result, "docker login with a wrong password", ["401 Unauthorized"])
    got = sandbox.run_helper("get", registry.netloc)
    check(got.returncode == 1 and got.stdout.strip() == NOT_FOUND, "nothing may be stored")


def test_unknown_registry_pulls_anonymously(
    docker: DockerCLI, sandbox: Sandbox, registry: RegistryUnderTest
) -> None:
    """The helper answers not-found, so docker goes on without credentials.

    Credentials for look-alike keys (same host on another port; the bare host) are
    present and must not be used: the registry's anonymous refusal proves docker asked
    it without any credential.
    """
    port = int(registry.netloc.rsplit(":", 1)[1])
    sandbox.put_registry_credential(
        "env", f"127.0.0.1:{port + 1}", registry.user, registry.password
    )
    sandbox.put_registry_credential("truss_config", "127.0.0.1", registry.user, registry.password)
    sandbox.cred_helpers(registry.netloc)
    got = sandbox.run_helper("get", registry.netloc)
    check(
        got.returncode == 1 and got.stdout.strip() == NOT_FOUND,
        f"get for an unknown registry must be exactly not-found\n{describe(got)}",
    )
    docker.rmi(registry.image)
    mark = registry.server.log_mark()
    pull = docker.run("pull", registry.image)
    expect_failure(pull, "anonymous pull", [ANONYMOUS_REFUSED])
    expect_not_in_output(pull, "anonymous pull", [HELPER_FAILED])
    check(
        not registry.server.saw_failed_login(registry.user, mark),
        "a look-alike registry's credential reached the registry",
    )


def write_truss(directory: Path, registry: RegistryUnderTest) -> Path:
    directory.mkdir()
    config = {
        "model_name": "dct-e2e",
        "base_image": {"image": registry.image},
        "secrets": {f"DOCKER_REGISTRY_{registry.netloc}": None},
    }
    (directory / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return directory


def test_configure_then_plain_docker_pull(
    docker: DockerCLI, sandbox: Sandbox, registry: RegistryUnderTest, tmp_path: Path
) -> None:
    truss_dir = write_truss(tmp_path / "my-truss", registry)
    sandbox.put_secret(
        "truss_config",
        f"DOCKER_REGISTRY_{registry.netloc}",
        b64_credential(registry.user, registry.password),
    )
    existing = {
        "auths": {"other.example:5000": {}},
        "credHelpers": {"other.example": "desktop"},
        "psFormat": "table {{.ID}}",
    }
    config_path = sandbox.write_docker_config(existing)
    before = config_path.read_bytes()

    dry = sandbox.run_helper("configure", args=[str(truss_dir), "--dry-run"])
    expect_ok(dry, "configure --dry-run")
    check(registry.netloc in dry.stdout, "--dry-run must say which registry it would route")
    check(config_path.read_bytes() == before, "--dry-run must not change config.json")

    docker.rmi(registry.image)
    expect_failure(docker.run("pull", registry.image), "pull before configure", [ANONYMOUS_REFUSED])

    done = sandbox.run_helper("configure", args=[str(truss_dir)])
    expect_ok(done, "configure")
    assert_no_secret(done.stdout + done.stderr, "configure output")
    after = sandbox.read_docker_config()
    check(after.get("credHelpers", {}).get(registry.netloc) == "truss", "credHelpers entry added")
    check(after["credHelpers"].get("other.example") == "desktop", "other credHelpers kept")
    check(after.get("psFormat") == existing["psFormat"], "other keys kept")
    check("other.example:5000" in after.get("auths", {}), "auths kept")

    pull = docker.run("pull", registry.image)
    expect_ok(pull, "plain docker pull after configure")
    check("Downloaded newer image" in pull.stdout, "the pull must really fetch the image")


def test_environment_comes_before_truss_config(
    docker: DockerCLI, sandbox: Sandbox, registry: RegistryUnderTest
) -> None:
    """The documented order: TRUSS_SECRET_<name> wins over ~/.truss/config.yaml."""
    wrong = "wrong:" + secrets.token_urlsafe(12)
    name = f"DOCKER_REGISTRY_{registry.netloc}"
    right_value = b64_credential(registry.user, registry.password)
    wrong_value = b64_credential(registry.user, wrong)
    sandbox.cred_helpers(registry.netloc)

    sandbox.put_secret("truss_config", name, wrong_value)
    sandbox.put_secret("env", name, right_value)
    docker.rmi(registry.image)
    expect_ok(docker.run("pull", registry.image), "pull with the right secret in the environment")

    sandbox.put_secret("truss_config", name, right_value)
    sandbox.put_secret("env", name, wrong_value)
    docker.rmi(registry.image)
    expect_failure(
        docker.run("pull", registry.image),
        "pull with a wrong secret in the environment",
        ["unauthorized: authentication required"],
    )


def test_docker_login_for_a_custom_secret_name_is_what_get_answers(
    docker: DockerCLI, sandbox: Sandbox, registry: RegistryUnderTest, tmp_path: Path
) -> None:
    """REGISTRY_SECRET with secret_name: docker login writes that secret, logout removes it."""
    truss_dir = tmp_path / "custom-name"
    truss_dir.mkdir()
    docker_auth = {
        "auth_method": "REGISTRY_SECRET",
        "registry": registry.netloc,
        "secret_name": "my_registry_pw",
    }
    config = {"base_image": {"image": registry.image, "docker_auth": docker_auth}}
    (truss_dir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    expect_ok(sandbox.run_helper("configure", args=[str(truss_dir)]), "configure")
    result = login(docker, registry, registry.password)
    expect_ok(result, "docker login for a registry with a secret_name")
    stored = json.loads(store_file(sandbox).read_text())["secrets"]
    check(list(stored) == ["my_registry_pw"], "login must write the secret get reads")
    got = sandbox.run_helper("get", registry.netloc)
    expect_ok(got, "get after login")
    answer = json.loads(got.stdout)
    check(
        (answer["Username"], answer["Secret"]) == (registry.user, registry.password),
        "get must answer exactly what docker login stored",
    )
    docker.rmi(registry.image)
    expect_ok(docker.run("pull", registry.image), "docker pull with the login")
    logout = docker.run("logout", registry.netloc)
    expect_ok(logout, "docker logout")
    expect_not_in_output(logout, "docker logout", ["could not erase credentials"])
    got = sandbox.run_helper("get", registry.netloc)
    check(got.stdout.strip() == NOT_FOUND, f"after logout, get is not-found\n{describe(got)}")


def test_docker_login_is_refused_when_truss_config_holds_another_password(
    docker: DockerCLI, sandbox: Sandbox, registry: RegistryUnderTest
) -> None:
    """A login that get would ignore must not report success."""
    old = "old:" + secrets.token_urlsafe(12)
    name = f"DOCKER_REGISTRY_{registry.netloc}"
    sandbox.put_secret("truss_config", name, b64_credential(registry.user, old))
    sandbox.cred_helpers(registry.netloc)
    result = login(docker, registry, registry.password)
    expect_failure(
        result,
        "docker login shadowed by ~/.truss/config.yaml",
        ["Error saving credentials", name, str(sandbox.truss_config_path)],
    )
    assert_no_secret(result.stdout + result.stderr, "docker login output")
    check(not store_file(sandbox).exists(), "nothing may be stored")
    logout = docker.run("logout", registry.netloc)
    # docker logout warns with what erase said: the secret that still answers.
    check(
        name in logout.stdout + logout.stderr,
        f"logout must name what still answers\n{describe(logout)}",
    )

"""doctor through the installed executable: fixes that paste, and the common mistakes.

Each fix doctor prints for a missing secret is run as printed (only ``USER:PASSWORD``
filled in), in a fresh sandbox, and then the real docker pulls through the helper. The
mistakes are the ones people make: a value made with ``echo``, a name one slip off,
a podman login that answers before the helper, the helper on PATH only inside a venv.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest
from e2e_checks import check, remember
from e2e_harness import EXE_NAME, DockerCLI, RegistryUnderTest, Sandbox, b64_credential

HINT = "made with `echo`? use `printf %s user:pw | base64`"


def doctor(sandbox: Sandbox, *args: str) -> subprocess.CompletedProcess[str]:
    done = sandbox.run_helper("doctor", args=["--offline", *args])
    assert "Traceback" not in done.stderr, done.stderr
    return done


def fix_lines(report: str) -> list[str]:
    """The ways listed under ``fix: any one of these:`` in a report."""
    lines = report.splitlines()
    start = next(i for i, line in enumerate(lines) if "fix: any one of these:" in line)
    ways = []
    for line in lines[start + 1 :]:
        if not line.startswith("          "):
            break
        ways.append(line.strip())
    return ways


def configure_truss(sandbox: Sandbox, tmp_path: Path, registry: RegistryUnderTest) -> None:
    truss = tmp_path / "my-truss"
    truss.mkdir()
    (truss / "config.yaml").write_text(
        f"base_image:\n  image: {registry.image}\n  docker_auth:\n"
        "    auth_method: REGISTRY_SECRET\n    secret_name: team_registry_pw\n"
    )
    done = sandbox.run_helper("configure", args=[str(truss)])
    assert done.returncode == 0, done.stderr


WAYS = ["docker login", "secrets dir", "truss config", "env"]


@pytest.mark.parametrize("way", WAYS)
def test_each_fix_for_a_missing_secret_pastes_and_the_pull_then_works(
    docker: DockerCLI,
    sandbox: Sandbox,
    registry: RegistryUnderTest,
    tmp_path: Path,
    way: str,
) -> None:
    sandbox.env["TRUSS_SECRETS_DIR"] = str(tmp_path / "not-yet")  # so that way is offered
    configure_truss(sandbox, tmp_path, registry)
    report = doctor(sandbox, registry.netloc)
    assert report.returncode == 1 and "secret team_registry_pw is missing" in report.stdout
    assert "export" not in report.stdout
    ways = fix_lines(report.stdout)
    assert len(ways) == len(WAYS), report.stdout
    line = ways[WAYS.index(way)]
    login = f"{registry.user}:{registry.password}"
    remember(registry.password, b64_credential(registry.user, registry.password))
    docker.rmi(registry.image)
    if way == "docker login":
        # docker asks for the user and password on a terminal; a test gives them on stdin
        assert line == f"docker login {registry.netloc}"
        args = [*shlex.split(line)[1:], "-u", registry.user, "--password-stdin"]
        check(docker.run(*args, input=registry.password).returncode == 0, "docker login")
    elif way == "truss config":
        where, _, yaml_line = line.partition(", under secrets:")
        path = Path(where.removeprefix("in "))
        assert path == sandbox.truss_config_path
        value = b64_credential(registry.user, registry.password)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            "secrets:\n  " + yaml_line.strip().replace("<base64 of user:password>", value) + "\n"
        )
    else:
        pasted = line.replace("USER:PASSWORD", login.replace("'", "'\\''"))
        env = dict(sandbox.env, DOCKER_HOST=docker.dockerd.host)
        done = subprocess.run(
            ["bash", "-c", pasted], env=env, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
        if way == "env":  # the command in the line was the pull itself
            assert f"docker pull {registry.image}" in line
            return
    pull = docker.run("pull", registry.image)
    assert pull.returncode == 0, pull.stderr
    got = sandbox.run_helper("get", registry.netloc)
    assert json.loads(got.stdout)["Username"] == registry.user


def put_login(sandbox: Sandbox, name: str, login: str) -> None:
    sandbox.put_secret("truss_config", name, b64_credential(*login.split(":", 1)))


def test_a_value_made_with_echo_is_named_with_the_printf_fix(sandbox: Sandbox) -> None:
    sandbox.cred_helpers("127.0.0.1:5000")
    remember("pw-echo-sentinel")
    sandbox.put_secret(
        "truss_config",
        "DOCKER_REGISTRY_127.0.0.1:5000",
        b64_credential("builder", "pw-echo-sentinel\n"),
    )
    done = doctor(sandbox, "127.0.0.1:5000")
    assert done.returncode == 1
    assert "the password ends in a newline, which the registry will refuse" in done.stdout
    assert HINT in done.stdout and "printf %s 'USER:PASSWORD' | base64" in done.stdout
    assert "pw-echo-sentinel" not in done.stdout


@pytest.mark.parametrize(
    ("wanted", "have", "says"),
    [
        ("team_registry_pw", "team_regsitry_pw", "a spelling slip?"),
        ("team_registry_pw", "Team_Registry_PW", "names are case-sensitive"),
        (None, "DOCKER_REGISTRY_127.0.0.1", "the port is part of the registry's name"),
        (None, "DOCKER_REGISTY_127.0.0.1:5000", "a spelling slip?"),
    ],
)
def test_a_near_miss_name_is_named_with_did_you_mean(
    sandbox: Sandbox, wanted: str | None, have: str, says: str
) -> None:
    sandbox.cred_helpers("127.0.0.1:5000")
    if wanted:
        flags = ["--registry", "127.0.0.1:5000", "--auth-method", "REGISTRY_SECRET"]
        configured = sandbox.run_helper("configure", args=[*flags, "--secret-name", wanted])
        assert configured.returncode == 0, configured.stderr
    put_login(sandbox, have, "u:near-miss-pw")
    done = doctor(sandbox, "127.0.0.1:5000")
    assert done.returncode == 1
    assert f"did you mean {have!r} (in {sandbox.truss_config_path})? {says}" in done.stdout


def test_a_secret_at_the_top_level_of_the_truss_config(sandbox: Sandbox) -> None:
    sandbox.cred_helpers("127.0.0.1:5000")
    sandbox.truss_config_path.parent.mkdir(parents=True)
    value = b64_credential("u", "top-level-pw")
    remember("top-level-pw", value)
    sandbox.truss_config_path.write_text(f"'DOCKER_REGISTRY_127.0.0.1:5000': {value}\n")
    done = doctor(sandbox, "127.0.0.1:5000")
    assert done.returncode == 1
    assert "at the top level of" in done.stdout and "only under secrets:" in done.stdout


def containers_files(sandbox: Sandbox, tmp_path: Path) -> dict[str, Path]:
    runtime = tmp_path / "run-user"
    sandbox.env["XDG_RUNTIME_DIR"] = str(runtime)
    sandbox.env["REGISTRY_AUTH_FILE"] = str(tmp_path / "ci-auth.json")
    return {
        "REGISTRY_AUTH_FILE": tmp_path / "ci-auth.json",
        "XDG_RUNTIME_DIR": runtime / "containers" / "auth.json",
        "~/.config": sandbox.home / ".config" / "containers" / "auth.json",
    }


@pytest.mark.parametrize("where", ["REGISTRY_AUTH_FILE", "XDG_RUNTIME_DIR", "~/.config"])
def test_a_containers_auth_file_that_answers_first_is_named(
    sandbox: Sandbox, tmp_path: Path, where: str
) -> None:
    sandbox.cred_helpers("127.0.0.1:5000")
    put_login(sandbox, "DOCKER_REGISTRY_127.0.0.1:5000", "u:routed-pw")
    path = containers_files(sandbox, tmp_path)[where]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"auths": {"127.0.0.1:5000": {"auth": "b2xkOnBvZG1hbg=="}}}))
    done = doctor(sandbox, "127.0.0.1:5000")
    assert done.returncode == 1
    assert f"FAIL  {path} auths has '127.0.0.1:5000'" in done.stdout
    assert "skopeo, podman and buildah read it before docker's config" in done.stdout
    assert f"podman logout --authfile {path} 127.0.0.1:5000" in done.stdout
    # routed there too: no longer a problem
    path.write_text(json.dumps({"credHelpers": {"127.0.0.1:5000": "truss"}}))
    assert doctor(sandbox, "127.0.0.1:5000").returncode == 0


def test_a_docker_auths_entry_beside_the_route_is_a_warning(sandbox: Sandbox) -> None:
    sandbox.write_docker_config(
        {"auths": {"127.0.0.1:5000": {}}, "credHelpers": {"127.0.0.1:5000": "truss"}}
    )
    put_login(sandbox, "DOCKER_REGISTRY_127.0.0.1:5000", "u:routed-pw")
    done = doctor(sandbox, "127.0.0.1:5000")
    assert done.returncode == 0, done.stdout
    assert "also has an auths entry '127.0.0.1:5000': docker-py and docker-compose" in done.stdout


def test_the_helper_on_path_only_inside_a_venv_is_a_warning(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    real = os.path.realpath(
        subprocess.check_output(["which", EXE_NAME], env=sandbox.env, text=True).strip()
    )
    (venv / "bin" / EXE_NAME).symlink_to(real)
    sandbox.env["PATH"] = f"{venv / 'bin'}:{sandbox.env['PATH']}"
    sandbox.env["VIRTUAL_ENV"] = str(venv)
    done = doctor(sandbox)
    assert f"only while the virtual environment {venv} is active" in done.stdout
    assert f"ln -s {venv / 'bin' / EXE_NAME} /usr/local/bin/" in done.stdout


def test_the_helper_found_through_a_relative_path_entry_is_a_failure(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    # docker (Go's exec.LookPath) refuses a helper that '.' in PATH finds:
    # "docker-credential-truss resolves to executable in current directory"
    here = tmp_path / "project"
    here.mkdir()
    exe = os.path.realpath(
        subprocess.check_output(["which", EXE_NAME], env=sandbox.env, text=True).strip()
    )
    (here / EXE_NAME).symlink_to(exe)
    env = dict(sandbox.env, PATH=".:/usr/bin:/bin")
    done = subprocess.run(
        [exe, "doctor", "--offline"], env=env, cwd=here, capture_output=True, text=True
    )
    assert done.returncode == 1
    assert (
        f"FAIL  {EXE_NAME} is found as ./{EXE_NAME}, through a relative PATH entry" in done.stdout
    )
    assert f"ln -s {here / EXE_NAME} /usr/local/bin/" in done.stdout

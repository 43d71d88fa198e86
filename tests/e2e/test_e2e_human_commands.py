"""The commands a person types, through the installed executable: ``--help`` and usage
errors, ``configure`` refusing to replace silently, ``unconfigure`` giving docker's
config back as docker wrote it, ``baseten push --dry-run`` without an API key.

docker's own CLI writes the docker config these tests start from (``docker context
use`` rewrites config.json through docker's code, no daemon needed), so "as docker
would keep it" is docker's word, not ours.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from e2e_checks import check
from e2e_harness import EXE_NAME, Sandbox, b64_credential

HUMAN = (
    ["configure"],
    ["unconfigure"],
    ["doctor"],
    ["baseten"],
    ["baseten", "check"],
    ["baseten", "push"],
)


@pytest.mark.parametrize("command", HUMAN, ids=" ".join)
@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_every_human_command_has_help_on_stdout(
    sandbox: Sandbox, command: list[str], flag: str
) -> None:
    done = sandbox.run_helper(command[0], args=[*command[1:], flag])
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert done.stdout.startswith(f"usage: {EXE_NAME} {' '.join(command)}"), done.stdout
    assert "examples:\n" in done.stdout and "-h, --help" in done.stdout


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["configure"], "name a truss"),
        (["configure", "--frobnicate", "x"], "unrecognized arguments: --frobnicate"),
        (["configure", "--registry"], "--registry: expected one argument"),
        (["unconfigure"], "required: HOST|PATH"),
        (["doctor", "--insecure-registry"], "expected one argument"),
        (["doctor", "--offline", "--nope"], "unrecognized arguments: --nope"),
        (["baseten"], "required: check|push"),
        (["baseten", "frob"], "invalid choice: 'frob'"),
        (["baseten", "check", "--yes"], "unrecognized arguments: --yes"),
    ],
)
def test_usage_errors_are_one_line_on_stderr_with_status_2(
    sandbox: Sandbox, argv: list[str], says: str
) -> None:
    done = sandbox.run_helper(argv[0], args=argv[1:])
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.count("\n") == 1 and says in done.stderr, done.stderr
    command = " ".join(a for a in argv[:2] if not a.startswith("-") and a != "frob")
    assert f"(see: {EXE_NAME} {command} --help)" in done.stderr, done.stderr


@pytest.mark.parametrize("verb", ["get", "store", "erase", "list"])
def test_protocol_verbs_with_arguments_answer_usage_without_reading_stdin(
    sandbox: Sandbox, verb: str
) -> None:
    # As docker-credential-helpers' Serve: a verb takes nothing but its stdin, and
    # anything more is a usage line on stdout (exit 1), before stdin is read.
    with subprocess.Popen(
        [EXE_NAME, verb, "--help"],
        stdin=subprocess.PIPE,  # left open: a helper that read it would wait forever
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=sandbox.env,
        text=True,
    ) as proc:
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise AssertionError(f"{verb} --help waited on stdin") from None
        out, err = proc.stdout.read(), proc.stderr.read()  # type: ignore[union-attr]
    assert code == 1
    assert out.startswith(f"usage: {EXE_NAME} get|store|erase|list") and out.count("\n") == 1
    assert "{}" not in out and err == f"{EXE_NAME}: {out}"


def truss(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.mkdir()
    (path / "config.yaml").write_text(text)
    return path


def test_configure_never_replaces_another_trusses_settings_silently(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    first = truss(
        tmp_path,
        "team",
        "base_image:\n  image: ghcr.io/org/base:1\n  docker_auth:\n"
        "    auth_method: REGISTRY_SECRET\n    secret_name: team_registry_pw\n",
    )
    second = truss(
        tmp_path,
        "mine",
        "base_image:\n  image: ghcr.io/org/other:1\n  docker_auth:\n"
        "    auth_method: REGISTRY_SECRET\n    secret_name: my_pw\n",
    )
    same = truss(tmp_path, "same", (first / "config.yaml").read_text())
    sandbox.put_secret("env", "team_registry_pw", b64_credential("team", "team-pw-sentinel"))
    check(sandbox.run_helper("configure", args=[str(first)]).returncode == 0, "first configure")

    refused = sandbox.run_helper("configure", args=[str(second)])
    assert refused.returncode == 1, refused.stderr
    assert "secret_name=team_registry_pw" in refused.stderr, refused.stderr
    assert "secret_name=my_pw" in refused.stderr and "--replace" in refused.stderr
    assert str(first / "config.yaml") in refused.stderr
    assert str(second / "config.yaml") in refused.stderr
    got = sandbox.run_helper("get", "ghcr.io")
    assert got.returncode == 0 and json.loads(got.stdout)["Username"] == "team"

    again = sandbox.run_helper("configure", args=[str(same)])
    assert again.returncode == 0 and "already recorded with these settings" in again.stdout
    assert "recorded in" not in again.stdout  # nothing written

    replaced = sandbox.run_helper("configure", args=["--replace", str(second)])
    assert replaced.returncode == 0, replaced.stderr
    assert "ghcr.io: REGISTRY_SECRET (secret_name=my_pw)" in replaced.stdout


def test_nothing_private_is_a_note_and_an_unusable_name_a_warning(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    plain = truss(tmp_path, "plain", "model_name: plain\n")
    odd = truss(
        tmp_path,
        "odd",
        "secrets:\n  'DOCKER_REGISTRY_my registry': null\n  DOCKER_REGISTRY_quay.io: null\n",
    )
    done = sandbox.run_helper("configure", args=[str(plain), str(odd)])
    assert done.returncode == 0, done.stderr
    assert "note: " in done.stderr and "names no private registry" in done.stderr
    assert "warning: secret 'DOCKER_REGISTRY_my registry'" in done.stderr
    assert "quay.io: REGISTRY_SECRET" in done.stdout and "error" not in done.stderr


def docker_written(sandbox: Sandbox, config: dict) -> bytes:
    """``config`` as docker itself writes it (docker drops what it does not know)."""
    docker = shutil.which("docker")
    assert docker, "the docker CLI is needed: it writes the config these tests start from"
    path = sandbox.write_docker_config(config)
    for argv in (["context", "create", "dct", "--docker", "host=unix:///nonexistent"],
                 ["context", "use", "dct"]):  # fmt: skip
        done = subprocess.run(
            [docker, *argv], env=sandbox.env, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
    return path.read_bytes()


def test_unconfigure_gives_back_what_docker_wrote_and_the_replaced_helper(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    original = docker_written(
        sandbox,
        {
            "auths": {"quay.io": {"auth": "c2VlZDpzZWVk"}},
            "credHelpers": {"ghcr.io": "ecr-login", "gcr.io": "gcloud"},
            "proxies": {"default": {"noProxy": "localhost,a&b<c>"}},
            "psFormat": "table {{.ID}}\t{{.Names}}",
        },
    )
    assert b"\\u0026" in original and original.startswith(b"{\n\t")  # docker's own format
    config = sandbox.docker_config / "config.json"
    before = sorted(p.name for p in sandbox.docker_config.iterdir())
    path = truss(
        tmp_path,
        "my-truss",
        "secrets:\n  DOCKER_REGISTRY_ghcr.io: null\n  DOCKER_REGISTRY_127.0.0.1:5000: null\n",
    )
    done = sandbox.run_helper("configure", args=[str(path)])
    assert done.returncode == 0, done.stderr
    assert "(was 'ecr-login'; unconfigure puts it back)" in done.stdout
    helpers = json.loads(config.read_text())["credHelpers"]
    assert helpers == {"gcr.io": "gcloud", "ghcr.io": "truss", "127.0.0.1:5000": "truss"}
    assert sorted(p.name for p in sandbox.docker_config.iterdir()) == before  # no lock left

    dry = sandbox.run_helper("unconfigure", args=["--dry-run", str(path)])
    assert dry.returncode == 0 and "would change" in dry.stdout
    assert '"credHelpers": {"ghcr.io": "ecr-login"} (put back' in dry.stdout
    assert config.read_bytes() != original

    undone = sandbox.run_helper("unconfigure", args=[str(path)])
    assert undone.returncode == 0, undone.stderr
    assert f"changed in {config}:" in undone.stdout
    assert '"credHelpers": "127.0.0.1:5000" removed' in undone.stdout
    assert config.read_bytes() == original
    assert sorted(p.name for p in sandbox.docker_config.iterdir()) == before
    got = sandbox.run_helper("get", "127.0.0.1:5000")
    assert (got.returncode, got.stderr) == (1, "")  # forgotten: an unknown registry, silent


def test_unconfigure_by_host_and_what_there_is_nothing_to_undo(sandbox: Sandbox) -> None:
    sandbox.cred_helpers("nvcr.io")  # routed by hand, never recorded
    done = sandbox.run_helper("unconfigure", args=["nvcr.io", "quay.io"])
    assert done.returncode == 0, done.stderr
    assert '"credHelpers": "nvcr.io" removed' in done.stdout
    assert "quay.io: not configured and not routed to truss; nothing to undo" in done.stdout
    assert sandbox.read_docker_config() == {}  # docker drops an empty credHelpers
    bad = sandbox.run_helper("unconfigure", args=["user@nvcr.io"])
    assert bad.returncode == 1 and "not a truss here, nor a registry" in bad.stderr


def test_baseten_push_dry_run_needs_no_api_key(sandbox: Sandbox, tmp_path: Path) -> None:
    path = truss(tmp_path, "my-truss", "secrets:\n  DOCKER_REGISTRY_ghcr.io: null\n")
    sandbox.put_secret("truss_config", "DOCKER_REGISTRY_ghcr.io", b64_credential("u", "pw-x"))
    done = sandbox.run_helper("baseten", args=["push", "--dry-run", str(path)])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "dry run without an API key (no Baseten API key" in done.stdout
    assert "could not see which of these secrets the workspace already has" in done.stdout
    assert f"write    DOCKER_REGISTRY_ghcr.io  from {sandbox.truss_config_path}" in done.stdout
    assert "dry run: nothing written" in done.stdout
    without = sandbox.run_helper("baseten", args=["push", str(path)])
    assert without.returncode == 1 and "no Baseten API key" in without.stderr


def test_racing_configures_of_one_registry_record_one_and_refuse_the_rest(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    # The check for other settings runs under the helper config's lock: two trusses
    # configured at once cannot both find the registry free and overwrite each other.
    racers = 8
    dirs = [
        truss(
            tmp_path,
            f"t{i}",
            "base_image:\n  image: ghcr.io/org/base:1\n  docker_auth:\n"
            f"    auth_method: REGISTRY_SECRET\n    secret_name: pw_{i}\n",
        )
        for i in range(racers)
    ]
    procs = [
        subprocess.Popen(
            [EXE_NAME, "configure", str(d)],
            env=sandbox.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for d in dirs
    ]
    results = [(p.wait(timeout=120), p.communicate()[1]) for p in procs]
    winners = [i for i, (code, _) in enumerate(results) if code == 0]
    assert len(winners) == 1, results
    assert all("is already recorded with" in err for code, err in results if code == 1)
    recorded = json.loads(
        (sandbox.config_home / "docker-credential-truss" / "config.json").read_text()
    )
    assert recorded["registries"]["ghcr.io"]["secret_name"] == f"pw_{winners[0]}"

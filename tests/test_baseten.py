"""``baseten check`` / ``baseten push`` through the installed command, against the stand-in.

The stand-in (tests/fakes/baseten.py) checks the ``Authorization`` header of every
request and records every upsert, so these tests see which key was sent and how, and
exactly what was written. Secret values and API keys are sentinels; no test output may
show them, and the debug log (on in every run) may not either.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess

import pytest
import yaml
from fakes.baseten import LEAK_SENTINEL, FakeBaseten
from prerequisites import helper_exe

EXE = "docker-credential-truss"
KEY = "SENTINEL-baseten-key-a41c"
ENV_KEY = "SENTINEL-baseten-env-key-77d0"
PLAIN_KEY = "SENTINEL-baseten-plain-key-2b9e"
ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
HUB = "DOCKER_REGISTRY_https://index.docker.io/v1/"
AWS_ID = "AKIASENTINEL00000001"
AWS_SECRET = "SENTINEL-aws-secret-5f0b"
GHCR_VALUE = "Z2hfdXNlcjpTRU5USU5FTC1naGNyLXB3"  # base64 of gh_user:SENTINEL-ghcr-pw
HUB_VALUE = "aHViOlNFTlRJTkVMLWh1Yi1wdw=="  # base64 of hub:SENTINEL-hub-pw
SENTINELS = (KEY, ENV_KEY, PLAIN_KEY, AWS_SECRET, GHCR_VALUE, HUB_VALUE, LEAK_SENTINEL)


def executable() -> str:
    return helper_exe()


@pytest.fixture
def fake():
    with FakeBaseten(keys=[f"Api-Key {KEY}", f"Bearer {ENV_KEY}"], teams=("t1",)) as server:
        yield server


@pytest.fixture
def world(env, tmp_path, fake):
    """A truss (ECR AWS_IAM, ghcr.io and Docker Hub secrets), its local secrets, a trussrc."""
    truss = tmp_path / "my-truss"
    truss.mkdir()
    (truss / "config.yaml").write_text(
        yaml.safe_dump(
            {
                "base_image": {
                    "image": f"{ECR}/models/base:1",
                    "docker_auth": {"auth_method": "AWS_IAM"},
                },
                "secrets": {HUB: None, "DOCKER_REGISTRY_ghcr.io": None},
            }
        )
    )
    local = {
        "aws_access_key_id": AWS_ID,
        "aws_secret_access_key": AWS_SECRET,
        "DOCKER_REGISTRY_ghcr.io": GHCR_VALUE,
        HUB: HUB_VALUE,
    }
    os.makedirs(os.path.join(env["HOME"], ".truss"))
    with open(os.path.join(env["HOME"], ".truss", "config.yaml"), "w") as handle:
        yaml.safe_dump({"secrets": local}, handle)
    trussrc(env, baseten={"remote_provider": "baseten", "remote_url": fake.url, "api_key": KEY})
    env["DOCKER_CREDENTIAL_TRUSS_BASETEN_API_URL"] = fake.url
    env["DOCKER_CREDENTIAL_TRUSS_DEBUG"] = "1"
    env["DOCKER_CREDENTIAL_TRUSS_TIMEOUT"] = "2"
    return str(truss)


def trussrc(env, path: str | None = None, **sections: dict) -> str:
    path = path or os.path.join(env["HOME"], ".trussrc")
    with open(path, "w") as handle:
        for name, values in sections.items():
            handle.write(f"[{name}]\n" + "".join(f"{k} = {v}\n" for k, v in values.items()))
    return path


def run(env, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    done = subprocess.run(
        [executable(), "baseten", *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    no_leak(env, done.stdout + done.stderr)
    return done


def no_leak(env, text: str) -> None:
    log = os.path.join(env["XDG_STATE_HOME"], EXE, "log", "debug.log")
    if os.path.exists(log):
        with open(log) as handle:
            text += handle.read()
    leaked = [i for i, s in enumerate(SENTINELS) if s in text]
    assert not leaked, f"sentinel(s) {leaked} leaked into the output or the debug log"


def one_line_error(done, *texts: str, status: int = 1) -> None:
    """A human command's error: once, on stderr, one line; nothing on stdout."""
    assert done.returncode == status
    assert done.stdout == "", done.stdout
    assert done.stderr.count("\n") == 1, done.stderr
    assert "Traceback" not in done.stderr
    for text in texts:
        assert text in done.stderr, done.stderr


# --- check ---------------------------------------------------------------------------


def test_check_names_each_missing_secret_with_its_fix(env, world, fake):
    fake.secrets[None]["aws_access_key_id"] = "x"
    fake.secrets[None]["DOCKER_REGISTRY_docker.io"] = "x"  # the easy mistake
    done = run(env, "check", world)
    assert done.returncode == 1, done.stdout
    out = done.stdout
    assert (
        f"key from api_key of remote 'baseten' in {env['HOME']}/.trussrc (sent as Api-Key)" in out
    )
    assert f"{ECR}: AWS_IAM, from {world}/config.yaml" in out
    assert "  ok    aws_access_key_id: in the workspace" in out
    assert "  FAIL  aws_secret_access_key: not in the workspace" in out
    assert (
        f"  FAIL  {HUB}: not in the workspace (it has 'DOCKER_REGISTRY_docker.io', but the"
        f" builder looks for exactly '{HUB}')" in out
    )
    assert f"fix: docker-credential-truss baseten push (its local value is in {env['HOME']}" in out
    assert out.rstrip().endswith(
        "3 secrets missing; the hosted build would fail; each FAIL says how to fix it"
    )
    assert [r["scheme"] for r in fake.requests] == ["Api-Key"]
    assert fake.upserts == []


def test_check_passes_and_oidc_methods_need_no_secret(env, world, fake, tmp_path):
    for name in ("aws_access_key_id", "aws_secret_access_key", HUB, "DOCKER_REGISTRY_ghcr.io"):
        fake.secrets[None][name] = "x"
    oidc = tmp_path / "oidc-truss"
    oidc.mkdir()
    (oidc / "config.yaml").write_text(
        "base_image:\n  image: us-west2-docker.pkg.dev/p/r/i:1\n  docker_auth:\n"
        "    auth_method: GCP_OIDC\n"
        "    gcp_oidc_service_account: b@p.iam.gserviceaccount.com\n"
        "    gcp_oidc_workload_id_provider: projects/1/locations/global/"
        "workloadIdentityPools/pool/providers/prov\n"
    )
    done = run(env, "check", world, str(oidc))
    assert done.returncode == 0, done.stdout
    assert "us-west2-docker.pkg.dev: GCP_OIDC" in done.stdout
    assert "  --    no secret needed: Baseten's builder uses workload identity" in done.stdout
    assert done.stdout.rstrip().endswith(
        "all good: the workspace has every secret these registries need"
    )


def test_check_without_paths_uses_what_configure_recorded(env, world, fake):
    assert (
        subprocess.run([executable(), "configure", world], env=env, capture_output=True).returncode
        == 0
    )
    done = run(env, "check")
    assert f"{ECR}: AWS_IAM" in done.stdout and "ghcr.io: REGISTRY_SECRET" in done.stdout


def test_check_with_nothing_configured(env, world):
    one_line_error(run(env, "check"), "no registry to check", "baseten check PATH/TO/TRUSS")


def test_team_route(env, world, fake):
    fake.secrets["t1"]["aws_access_key_id"] = "x"
    done = run(env, "check", "--team", "t1", world)
    assert "  ok    aws_access_key_id: in team t1" in done.stdout
    assert {r["path"] for r in fake.requests} == {"/v1/teams/t1/secrets"}
    one_line_error(run(env, "check", "--team=nope", world), "HTTP 404 NOT_FOUND")


# --- which key: truss's precedence -----------------------------------------------------


def test_the_environment_pair_wins_and_is_sent_as_bearer(env, world, fake):
    env.update(BASETEN_TRUSS_AUTH_REMOTE_URL=fake.url, BASETEN_TRUSS_AUTH_API_KEY=ENV_KEY)
    env["BASETEN_API_KEY"] = PLAIN_KEY
    done = run(env, "check", world)
    assert (
        "key from $BASETEN_TRUSS_AUTH_API_KEY (with $BASETEN_TRUSS_AUTH_REMOTE_URL)" in done.stdout
    )
    assert [r["scheme"] for r in fake.requests] == ["Bearer"]
    one_line_error(
        run(env, "check", "--remote", "baseten", world), "--remote baseten cannot be used"
    )
    del env["BASETEN_TRUSS_AUTH_REMOTE_URL"]
    one_line_error(
        run(env, "check", world),
        "BASETEN_TRUSS_AUTH_API_KEY is set but BASETEN_TRUSS_AUTH_REMOTE_URL is not",
    )


def test_a_remote_api_key_wins_over_baseten_api_key_as_in_truss(env, world, fake):
    env["BASETEN_API_KEY"] = PLAIN_KEY  # the stand-in does not know it
    done = run(env, "check", world)
    assert "key from api_key of remote 'baseten'" in done.stdout


def test_baseten_api_key_for_a_remote_without_one_and_with_no_trussrc(env, world, fake):
    fake.keys.add(f"Api-Key {PLAIN_KEY}")
    env["BASETEN_API_KEY"] = PLAIN_KEY
    path = trussrc(env, baseten={"remote_provider": "baseten", "remote_url": fake.url})
    done = run(env, "check", world)
    assert f"key from $BASETEN_API_KEY (remote 'baseten' in {path} has no api_key)" in done.stdout
    os.remove(path)
    done = run(env, "check", world)
    assert f"key from $BASETEN_API_KEY (no remote in {path}: https://app.baseten.co)" in done.stdout
    assert {r["scheme"] for r in fake.requests} == {"Api-Key"}


def test_remote_choice_and_user_trussrc_path(env, world, fake, tmp_path):
    other = str(tmp_path / "other.trussrc")
    trussrc(
        env,
        other,
        work={"remote_provider": "baseten", "remote_url": fake.url, "api_key": "wrong"},
        home={"remote_provider": "baseten", "remote_url": fake.url, "api_key": KEY},
    )
    env["USER_TRUSSRC_PATH"] = other
    one_line_error(
        run(env, "check", world), f"{other} has several remotes (work, home)", "--remote NAME"
    )
    done = run(env, "check", "--remote", "home", world)
    assert f"key from api_key of remote 'home' in {other}" in done.stdout
    one_line_error(run(env, "check", "--remote", "nope", world), f"no remote 'nope' in {other}")


@pytest.mark.parametrize(
    ("section", "store"),
    [
        ({"auth_type": "oauth"}, "an OAuth session"),
        ({"auth_type": "api_key"}, "the system keyring"),
    ],
)
def test_a_keyring_or_oauth_remote_says_which_variable_to_set(env, world, fake, section, store):
    trussrc(env, baseten={"remote_provider": "baseten", "remote_url": fake.url, **section})
    one_line_error(
        run(env, "check", world),
        f"remote 'baseten' in {env['HOME']}/.trussrc keeps its credential in {store}",
        "set BASETEN_API_KEY",
    )


def test_no_key_names_every_place_looked(env, world):
    os.remove(os.path.join(env["HOME"], ".trussrc"))
    one_line_error(
        run(env, "check", world),
        "no Baseten API key: looked in $BASETEN_TRUSS_AUTH_REMOTE_URL with"
        " $BASETEN_TRUSS_AUTH_API_KEY (unset), $BASETEN_API_KEY (unset),"
        f" {env['HOME']}/.trussrc (no such file)",
    )


# --- errors: one line, bounded, never a value or the answer's body ---------------------


def test_a_refused_key_names_where_it_came_from(env, world, fake):
    fake.keys = {"Api-Key someone-else"}
    one_line_error(
        run(env, "check", world),
        f"Baseten refused the API key from api_key of remote 'baseten' in {env['HOME']}/.trussrc"
        " (HTTP 401 UNAUTHENTICATED for GET /v1/secrets)",
    )


@pytest.mark.parametrize(
    ("fail", "text"),
    [
        ("malformed", "Baseten's answer to GET /v1/secrets is not JSON"),
        ("shape", 'is not the expected {"secrets": [{"name": ...}]}'),
        ("500", "Baseten answered GET /v1/secrets with HTTP 500"),
        ("hang", "no answer within 2s"),
    ],
)
def test_bad_answers_are_one_line(env, world, fake, fail, text):
    fake.fail = fail
    one_line_error(run(env, "check", world), text)


def test_unreachable_is_one_line(env, world):
    env["DOCKER_CREDENTIAL_TRUSS_BASETEN_API_URL"] = "http://127.0.0.1:9"
    one_line_error(run(env, "check", world), "cannot reach Baseten at http://127.0.0.1:9:")


# --- push ------------------------------------------------------------------------------


def test_dry_run_lists_names_and_sources_and_writes_nothing(env, world, fake):
    fake.secrets[None][HUB] = "old"
    done = run(env, "push", "--dry-run", world)
    assert done.returncode == 0, done.stdout
    source = f"from {env['HOME']}/.truss/config.yaml"
    assert f"  replace  {HUB}  {source}" in done.stdout
    assert f"  create   aws_secret_access_key  {source}" in done.stdout
    assert "dry run: nothing written" in done.stdout
    assert fake.upserts == [] and fake.secrets[None] == {HUB: "old"}


def test_push_needs_yes_off_a_terminal(env, world, fake):
    done = run(env, "push", world)
    assert done.returncode == 1 and fake.upserts == []
    assert done.stdout.rstrip().endswith(
        "not a terminal, so nothing written: pass --yes to write these secrets"
        " (or --dry-run to see the plan only)"
    )


def test_push_yes_writes_exactly_those_secrets_then_checks(env, world, fake):
    fake.secrets[None]["unrelated"] = "keep"
    done = run(env, "push", "--yes", world)
    assert done.returncode == 0, done.stdout
    written = {u["name"]: u["value"] for u in fake.upserts}
    expected = {
        "aws_access_key_id": AWS_ID,
        "aws_secret_access_key": AWS_SECRET,
        "DOCKER_REGISTRY_ghcr.io": GHCR_VALUE,
        HUB: HUB_VALUE,
    }
    assert written == expected, "push must write exactly the local values of those secrets"
    assert {u["authorization"] for u in fake.upserts} == {f"Api-Key {KEY}"}
    assert fake.secrets[None]["unrelated"] == "keep"
    assert "checking again:" in done.stdout
    assert done.stdout.rstrip().endswith(
        "all good: the workspace has every secret these registries need"
    )


def test_push_to_a_team(env, world, fake):
    assert run(env, "push", "--yes", "--team", "t1", world).returncode == 0
    assert {u["team"] for u in fake.upserts} == {"t1"} and fake.secrets[None] == {}


def test_push_on_a_terminal_asks_first(env, world, fake):
    for answer, code in (("n\n", 1), ("y\n", 0)):
        leader, follower = pty.openpty()
        os.write(leader, answer.encode())
        done = subprocess.run(
            [executable(), "baseten", "push", world],
            stdin=follower,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        os.close(leader)
        os.close(follower)
        no_leak(env, done.stdout + done.stderr)
        assert done.returncode == code, done.stdout + done.stderr
        assert "Write 4 secrets to the workspace? [y/N]" in done.stderr
        assert len(fake.upserts) == (0 if answer == "n\n" else 4)


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("DOCKER_REGISTRY_ghcr.io", "not base64!", "is not valid base64"),
        ("DOCKER_REGISTRY_ghcr.io", "bm8tY29sb24=", "decodes to no ':'"),
        ("aws_access_key_id", "ASIASENTINEL00000001", "is a temporary AWS key"),
    ],
)
def test_push_refuses_values_that_cannot_work(env, world, fake, name, value, reason):
    env[f"TRUSS_SECRET_{name}"] = value
    done = run(env, "push", "--yes", world)
    assert done.returncode == 1
    assert f"refused  secret '{name}' {reason}" in done.stdout, done.stdout
    assert f"it is in environment variable TRUSS_SECRET_{name}" in done.stdout
    assert "nothing written" in done.stdout and fake.upserts == []


def test_push_refuses_a_gcp_secret_that_is_no_service_account_key(env, tmp_path, world, fake):
    truss = tmp_path / "gcp-truss"
    truss.mkdir()
    (truss / "config.yaml").write_text(
        "base_image:\n  image: us-west2-docker.pkg.dev/p/r/i:1\n  docker_auth:\n"
        "    auth_method: GCP_SERVICE_ACCOUNT_JSON\n    secret_name: gsa\n"
    )
    env["TRUSS_SECRET_gsa"] = json.dumps({"type": "authorized_user", "refresh_token": "x"})
    done = run(env, "push", "--yes", str(truss))
    assert (
        'refused  secret \'gsa\' is not a service-account key (no "type": "service_account")'
        in done.stdout
    )
    assert fake.upserts == []


def test_push_says_which_secrets_have_no_local_value(env, world, fake):
    os.remove(os.path.join(env["HOME"], ".truss", "config.yaml"))
    done = run(env, "push", "--yes", world)
    assert (
        "no local value  aws_secret_access_key (looked in $TRUSS_SECRET_aws_secret_access_key"
        in (done.stdout)
    )
    assert done.returncode == 1 and fake.upserts == []


def test_help_and_usage(env):
    done = subprocess.run([executable(), "--help"], capture_output=True, text=True, check=False)
    assert "baseten check [PATH...]" in done.stdout and "baseten push [PATH...]" in done.stdout
    one_line_error(run(env, "frob"), "invalid choice: 'frob'", "baseten --help", status=2)
    one_line_error(run(env, "check", "--dry-run"), "unrecognized arguments: --dry-run", status=2)
    one_line_error(run(env, "push", "--team"), "--team: expected one argument", status=2)
    for args in (["--help"], ["check", "-h"], ["push", "--help"]):
        shown = run(env, *args)
        assert shown.returncode == 0 and shown.stderr == ""
        assert shown.stdout.startswith("usage: docker-credential-truss baseten")
        assert "examples:" in shown.stdout

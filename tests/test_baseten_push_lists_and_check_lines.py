"""``baseten push`` writes each secret once and lists every problem; ``check`` says each
registry's line, counts and near misses exactly.

In-process through ``cli.main`` (test_baseten_in_process's ``run_in_process``, which
also checks that no sentinel reaches the output or the debug log), with test_baseten.py's
world (a truss with ECR AWS_IAM, ghcr.io and Docker Hub secrets, their local values, a
``~/.trussrc``) against the stand-in of tests/fakes/baseten.py, which records every
upsert.
"""

from __future__ import annotations

import json
import os

from test_baseten import ECR, HUB, KEY, fake, world  # noqa: F401 (fixtures)
from test_baseten_in_process import Terminal, run_in_process
from test_baseten_plans_and_fixes import only

ECR2 = "210987654321.dkr.ecr.us-west-2.amazonaws.com"
SECOND_SECRET = "SENTINEL-baseten-second-aws-secret-4e1a"


def keyed(env, fake):  # type: ignore[no-untyped-def]  # noqa: F811
    """``env`` with a key the stand-in accepts and no ~/.trussrc remote to choose from."""
    fake.keys.add(f"Api-Key {KEY}")
    return {
        **env,
        "BASETEN_API_KEY": KEY,
        "DOCKER_CREDENTIAL_TRUSS_BASETEN_API_URL": fake.url,
        "USER_TRUSSRC_PATH": os.path.join(env["HOME"], "no-trussrc"),
    }


# --- push -----------------------------------------------------------------------------


def test_a_secret_two_trusses_need_is_written_once_and_neither_loses_the_rest(
    env,
    world,  # noqa: F811
    fake,  # noqa: F811
    tmp_path,
):
    second = only(
        tmp_path,
        "second",
        {"auth_method": "AWS_IAM", "aws_secret_access_key_secret_name": "second_secret_key"},
        f"{ECR2}/base:1",
    )
    env["TRUSS_SECRET_second_secret_key"] = SECOND_SECRET
    done = run_in_process(env, "push", "--yes", world, second)
    assert done.returncode == 0, done.stdout + done.stderr
    written = [u["name"] for u in fake.upserts]
    assert sorted(written) == sorted(
        [
            "aws_access_key_id",
            "aws_secret_access_key",
            "DOCKER_REGISTRY_ghcr.io",
            HUB,
            "second_secret_key",
        ]
    )
    assert fake.secrets[None]["second_secret_key"] == SECOND_SECRET


def test_every_problem_is_listed_at_once_and_nothing_written(env, fake, tmp_path):  # noqa: F811
    path = only(
        tmp_path,
        "ecr",
        {
            "auth_method": "AWS_IAM",
            "aws_access_key_id_secret_name": "temporary_id",
            "aws_secret_access_key_secret_name": "absent_key",
        },
        f"{ECR}/base:1",
    )
    env = {**keyed(env, fake), "TRUSS_SECRET_temporary_id": "ASIASENTINEL00000003"}
    done = run_in_process(env, "push", "--yes", path)
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert (
        "  refused  secret 'temporary_id' is a temporary AWS key (ASIA...), which stops working"
        " with its session; Baseten's builder needs a long-lived key pair (AKIA...); it is in"
        " environment variable TRUSS_SECRET_temporary_id"
    ) in lines
    assert [line for line in lines if line.startswith("  no local value  absent_key ")] != []
    assert lines[-1] == "nothing written: correct the values refused above, then push again"
    assert fake.upserts == []


def test_a_secret_the_workspace_has_is_not_called_missing_locally(env, fake, tmp_path):  # noqa: F811
    path = only(
        tmp_path,
        "ghcr",
        {"auth_method": "REGISTRY_SECRET", "secret_name": "team_ghcr"},
        "ghcr.io/org/i:1",
    )
    fake.secrets[None]["team_ghcr"] = "x"
    done = run_in_process(env | keyed(env, fake), "push", "--yes", path)
    assert "  no local value  " not in done.stdout, done.stdout
    assert "nothing to write: no local value for any secret these registries need" in (
        done.stdout.splitlines()
    )
    assert done.returncode == 0 and fake.upserts == []


def test_a_dry_run_without_a_key_lists_what_has_no_local_value_and_exits_0(env, tmp_path):
    path = only(
        tmp_path,
        "ghcr",
        {"auth_method": "REGISTRY_SECRET", "secret_name": "team_ghcr"},
        "ghcr.io/org/i:1",
    )
    env = {**env, "USER_TRUSSRC_PATH": os.path.join(env["HOME"], "no-trussrc")}
    done = run_in_process(env, "push", "--dry-run", path)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert [line for line in lines if line.startswith("  no local value  team_ghcr (looked in ")]
    assert lines[-1] == "nothing to write: no local value for any secret these registries need"


def test_a_dry_run_without_a_key_that_refuses_a_value_exits_1(env, tmp_path):
    path = only(tmp_path, "ecr", {"auth_method": "AWS_IAM"}, f"{ECR}/base:1")
    env = {
        **env,
        "USER_TRUSSRC_PATH": os.path.join(env["HOME"], "no-trussrc"),
        "TRUSS_SECRET_aws_access_key_id": "ASIASENTINEL00000005",
        "TRUSS_SECRET_aws_secret_access_key": SECOND_SECRET,
    }
    done = run_in_process(env, "push", "--dry-run", path)
    assert done.returncode == 1
    assert done.stdout.splitlines()[-1] == (
        "nothing written: correct the values refused above, then push again"
    )


def test_the_plan_names_the_route_it_posts_to(env, world, fake):  # noqa: F811
    done = run_in_process(env, "push", "--dry-run", world)
    assert "to write to the workspace (POST /v1/secrets):" in done.stdout.splitlines()
    done = run_in_process(env, "push", "--dry-run", "--team", "t1", world)
    assert "to write to team t1 (POST /v1/teams/t1/secrets):" in done.stdout.splitlines()


def test_two_secrets_are_asked_about_in_the_plural(env, fake, tmp_path):  # noqa: F811
    path = only(tmp_path, "ecr", {"auth_method": "AWS_IAM"}, f"{ECR}/base:1")
    env = {
        **keyed(env, fake),
        "TRUSS_SECRET_aws_access_key_id": "AKIASENTINEL00000004",
        "TRUSS_SECRET_aws_secret_access_key": SECOND_SECRET,
    }
    done = run_in_process(env, "push", path, stdin=Terminal(b"n\n"))
    assert done.stderr == "Write 2 secrets to the workspace? [y/N] "
    assert done.returncode == 1 and fake.upserts == []


def test_an_answer_that_is_not_utf8_is_a_no(env, world, fake):  # noqa: F811
    done = run_in_process(env, "push", world, stdin=Terminal(b"\xff\xfe\n"))
    assert done.returncode == 1 and fake.upserts == []
    assert done.stderr == "Write 4 secrets to the workspace? [y/N] "
    assert done.stdout.splitlines()[-1] == "nothing written"


# --- check ----------------------------------------------------------------------------


def test_check_with_nothing_configured_names_the_helper_config(env, fake):  # noqa: F811
    done = run_in_process(keyed(env, fake), "check")
    helper_config = os.path.join(env["XDG_CONFIG_HOME"], "docker-credential-truss", "config.json")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        f"docker-credential-truss: no registry to check in {helper_config} (nothing"
        " configured); name a truss: docker-credential-truss baseten check PATH/TO/TRUSS\n"
    )


def test_a_helper_config_entry_without_a_source_is_named_without_one(env, fake):  # noqa: F811
    # config.load accepts an entry without "source" (the file is documented, and kept
    # across versions): its line is the registry and the method alone
    helper_config = os.path.join(env["XDG_CONFIG_HOME"], "docker-credential-truss", "config.json")
    os.makedirs(os.path.dirname(helper_config))
    with open(helper_config, "w") as handle:
        json.dump(
            {"version": 1, "registries": {"ghcr.io": {"auth_method": "REGISTRY_SECRET"}}}, handle
        )
    done = run_in_process(keyed(env, fake), "check")
    assert done.returncode == 1
    assert "ghcr.io: REGISTRY_SECRET" in done.stdout.splitlines(), done.stdout


def test_a_registry_that_needs_no_secret_does_not_stop_the_next(env, world, fake, tmp_path):  # noqa: F811
    assume = only(
        tmp_path,
        "assume",
        {
            "auth_method": "AWS_ASSUME_ROLE",
            "aws_assume_role_arn": "arn:aws:iam::210987654321:role/builder",
            "aws_assume_role_region": "us-west-2",
        },
        f"{ECR2}/base:1",
    )
    ghcr = only(tmp_path, "ghcr", {"auth_method": "REGISTRY_SECRET"}, "ghcr.io/org/i:1")
    done = run_in_process(env, "check", assume, ghcr)
    lines = done.stdout.splitlines()
    assert f"{ECR2}: AWS_ASSUME_ROLE, from {assume}/config.yaml" in lines
    assert f"ghcr.io: REGISTRY_SECRET, from {ghcr}/config.yaml" in lines
    assert "  FAIL  DOCKER_REGISTRY_ghcr.io: not in the workspace" in lines
    assert (
        lines[-1] == "1 secret missing; the hosted build would fail; each FAIL says how to fix it"
    )


def test_two_missing_secrets_are_counted_in_the_plural(env, world, fake, tmp_path):  # noqa: F811
    path = only(tmp_path, "ecr", {"auth_method": "AWS_IAM"}, f"{ECR}/base:1")
    done = run_in_process(env, "check", path)
    assert done.returncode == 1
    assert done.stdout.splitlines()[-1] == (
        "2 secrets missing; the hosted build would fail; each FAIL says how to fix it"
    )


def test_a_registry_secret_is_not_offered_for_a_name_of_another_kind(env, world, fake, tmp_path):  # noqa: F811
    # the custom name's tail past len("DOCKER_REGISTRY_") is ghcr.io, as the workspace's is
    path = only(
        tmp_path,
        "ghcr",
        {"auth_method": "REGISTRY_SECRET", "secret_name": "registry_secret_ghcr.io"},
        "ghcr.io/org/i:1",
    )
    fake.secrets[None]["DOCKER_REGISTRY_ghcr.io"] = "x"
    done = run_in_process(env, "check", path)
    assert "  FAIL  registry_secret_ghcr.io: not in the workspace" in done.stdout.splitlines()


def test_a_workspace_name_that_is_no_registry_is_not_offered(env, world, fake, tmp_path):  # noqa: F811
    path = only(tmp_path, "ghcr", {"auth_method": "REGISTRY_SECRET"}, "ghcr.io/org/i:1")
    fake.secrets[None]["DOCKER_REGISTRY_not a registry!"] = "x"
    done = run_in_process(env, "check", path)
    assert "  FAIL  DOCKER_REGISTRY_ghcr.io: not in the workspace" in done.stdout.splitlines()

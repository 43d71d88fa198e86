"""``baseten check`` / ``push`` in-process: the plan without a key, near-miss names, each
FAIL's fix, counts said in words, and what a refusal or a "no" leaves unwritten.

The world is test_baseten.py's (a truss with ECR AWS_IAM, ghcr.io and Docker Hub
secrets, their local values, a ``~/.trussrc``), against tests/fakes/baseten.py.
"""

from __future__ import annotations

import os

import pytest
import yaml
from test_baseten import ECR, HUB, KEY, fake, world  # noqa: F401 (fixtures)
from test_baseten_in_process import Terminal, run_in_process

from docker_credential_truss import baseten


def only(tmp_path, name: str, docker_auth: dict, image: str) -> str:
    """A truss whose base image needs exactly ``docker_auth``."""
    path = tmp_path / name
    path.mkdir()
    config = {"base_image": {"image": image, "docker_auth": docker_auth}}
    (path / "config.yaml").write_text(yaml.safe_dump(config))
    return str(path)


def test_a_dry_run_without_a_key_plans_without_the_workspaces_names(env, world, fake):  # noqa: F811
    os.remove(os.path.join(env["HOME"], ".trussrc"))
    done = run_in_process(env, "push", "--dry-run", world)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("dry run without an API key (no Baseten API key: looked in ")
    assert lines[1] == "could not see which of these secrets the workspace already has"
    assert "to write to the workspace (create, or replace if it exists):" in lines
    source = f"from {env['HOME']}/.truss/config.yaml"
    assert f"  write    aws_access_key_id  {source}" in lines
    assert lines[-1] == "dry run: nothing written"
    assert fake.requests == []
    # without --dry-run, no key is an error
    done = run_in_process(env, "push", world)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.startswith("docker-credential-truss: no Baseten API key: looked in ")


def test_a_name_in_another_case_is_pointed_out(env, world, fake):  # noqa: F811
    fake.secrets[None]["AWS_ACCESS_KEY_ID"] = "x"
    fake.secrets[None]["docker_registry_GHCR.io"] = "x"
    done = run_in_process(env, "check", world)
    assert (
        "  FAIL  aws_access_key_id: not in the workspace (it has 'AWS_ACCESS_KEY_ID'; names are"
        " case-sensitive)"
    ) in done.stdout
    assert (
        "  FAIL  DOCKER_REGISTRY_ghcr.io: not in the workspace (it has 'docker_registry_GHCR.io';"
        " names are case-sensitive)"
    ) in done.stdout


def test_another_spelling_of_the_registry_is_pointed_out_but_not_a_different_one(
    env,
    world,  # noqa: F811
    fake,  # noqa: F811
):
    fake.secrets[None]["DOCKER_REGISTRY_https://ghcr.io/"] = "x"
    fake.secrets[None]["DOCKER_REGISTRY_not a registry!"] = "x"
    fake.secrets[None]["DOCKER_REGISTRY_ghcr.io:444"] = "x"
    done = run_in_process(env, "check", world)
    assert (
        "  FAIL  DOCKER_REGISTRY_ghcr.io: not in the workspace (it has"
        " 'DOCKER_REGISTRY_https://ghcr.io/', but the builder looks for exactly"
        " 'DOCKER_REGISTRY_ghcr.io')"
    ) in done.stdout.splitlines()


def test_the_fix_for_a_secret_without_a_local_value_says_where_to_put_one(env, world, fake):  # noqa: F811
    os.remove(os.path.join(env["HOME"], ".truss", "config.yaml"))
    for name in ("aws_access_key_id", "aws_secret_access_key", HUB):
        fake.secrets["t1"][name] = "x"
    done = run_in_process(env, "check", "--team", "t1", world)
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    at = lines.index("  FAIL  DOCKER_REGISTRY_ghcr.io: not in team t1")
    assert lines[at + 1] == (
        "        fix: add it in Baseten (Settings > Secrets), or put its value in"
        " ~/.truss/config.yaml (secrets:) and run docker-credential-truss baseten push --team t1"
    )
    assert lines[-1] == (
        "1 secret missing; the hosted build would fail; each FAIL says how to fix it"
    )


def test_the_fix_for_a_secret_with_a_local_value_is_push_to_that_team(env, world, fake):  # noqa: F811
    for name in ("aws_access_key_id", "aws_secret_access_key", HUB):
        fake.secrets["t1"][name] = "x"
    done = run_in_process(env, "check", "--team", "t1", world)
    assert (
        "        fix: docker-credential-truss baseten push --team t1 (its local value is in"
        f" {env['HOME']}/.truss/config.yaml)"
    ) in done.stdout.splitlines()


def test_check_counts_the_workspaces_secrets_and_names_the_route(env, world, fake):  # noqa: F811
    fake.secrets[None].update(a="x", b="x")
    done = run_in_process(env, "check", world)
    assert "the workspace: 2 secrets (GET /v1/secrets)" in done.stdout.splitlines()
    assert (
        f"Baseten API {fake.url}, key from api_key of remote 'baseten' in"
        f" {env['HOME']}/.trussrc (sent as Api-Key)"
    ) == done.stdout.splitlines()[0]


def test_a_method_that_needs_no_secret_says_why(env, world, fake, tmp_path):  # noqa: F811
    gar = only(
        tmp_path,
        "gar",
        {
            "auth_method": "GCP_OIDC",
            "gcp_oidc_service_account": "b@p.iam.gserviceaccount.com",
            "gcp_oidc_workload_id_provider": "projects/1/locations/global/"
            "workloadIdentityPools/pool/providers/prov",
        },
        "us-west2-docker.pkg.dev/p/r/i:1",
    )
    done = run_in_process(env, "check", gar)
    assert done.returncode == 0
    assert (
        "  --    no secret needed: Baseten's builder uses workload identity federation with its"
        " own OIDC token"
    ) in done.stdout.splitlines()


def test_needs_for_an_unknown_method_is_nothing():
    assert baseten.needs("ghcr.io", {"auth_method": "NOPE"}) == []
    assert baseten.needs("ghcr.io", {}) == []
    (need,) = baseten.needs("ghcr.io", {"auth_method": "REGISTRY_SECRET"})
    assert (need.name, need.kind) == ("DOCKER_REGISTRY_ghcr.io", "registry")


def test_nothing_to_write_then_checks_again(env, world, fake):  # noqa: F811
    os.remove(os.path.join(env["HOME"], ".truss", "config.yaml"))
    done = run_in_process(env, "push", "--yes", world)
    lines = done.stdout.splitlines()
    assert "nothing to write: no local value for any secret these registries need" in lines
    assert "checking again:" in lines
    assert done.returncode == 1 and fake.upserts == []


def test_one_secret_is_said_in_the_singular(env, fake, tmp_path):  # noqa: F811
    ghcr = only(tmp_path, "ghcr", {"auth_method": "REGISTRY_SECRET"}, "ghcr.io/org/i:1")
    env = {
        **env,
        "BASETEN_API_KEY": KEY,
        "DOCKER_CREDENTIAL_TRUSS_BASETEN_API_URL": fake.url,
        "TRUSS_SECRET_DOCKER_REGISTRY_ghcr.io": "Z2hfdXNlcjpwdw==",
    }
    fake.keys.add(f"Api-Key {KEY}")
    done = run_in_process(env, "check", ghcr)
    assert done.stdout.splitlines()[-1] == (
        "1 secret missing; the hosted build would fail; each FAIL says how to fix it"
    )
    done = run_in_process(env, "push", ghcr, stdin=Terminal(b"y\n"))
    assert done.stderr == "Write 1 secret to the workspace? [y/N] "
    assert [u["name"] for u in fake.upserts] == ["DOCKER_REGISTRY_ghcr.io"]
    assert "  wrote  DOCKER_REGISTRY_ghcr.io" in done.stdout.splitlines()


def test_a_temporary_aws_key_is_refused_even_with_spaces_around_it(env, world, fake):  # noqa: F811
    env["TRUSS_SECRET_aws_access_key_id"] = "  ASIASENTINEL00000009 "
    done = run_in_process(env, "push", "--yes", world)
    assert done.returncode == 1 and fake.upserts == []
    assert (
        "nothing written: correct the values refused above, then push again"
        in done.stdout.splitlines()
    )


def test_no_registry_named_by_the_trusses_given(env, world, tmp_path):  # noqa: F811
    empty = tmp_path / "empty-truss"
    empty.mkdir()
    (empty / "config.yaml").write_text("model_name: x\n")
    done = run_in_process(env, "check", str(empty))
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        "docker-credential-truss: no registry to check in those trusses; name a truss:"
        " docker-credential-truss baseten check PATH/TO/TRUSS\n"
    )


@pytest.mark.parametrize("answer", [b"\n", b"no\n", b""])
def test_anything_but_yes_writes_nothing(env, world, fake, answer):  # noqa: F811
    done = run_in_process(env, "push", world, stdin=Terminal(answer))
    assert done.returncode == 1 and fake.upserts == []
    assert done.stdout.splitlines()[-1] == "nothing written"

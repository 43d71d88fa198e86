"""What ``configure`` writes, where, with which mode, and what it lets through.

Driven through the CLI's entry point in-process; the effect is checked where a user
meets it: the mode of the docker config it creates, a truss setting truss itself
refuses, and the STS call a ``get`` makes after a truss_train file was imported
(tests/fakes/aws.py records each call's region and role).
"""

from __future__ import annotations

import json
import os
import secrets as pysecrets
import stat

import pytest
from fakes.aws import ASSUME_ROLE, ASSUME_ROLE_WEB, FakeAws, Role, isolate
from fakes.aws import SecretEnv as _Env

ACCOUNT = "123456789012"
ECR = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/trainer"


def test_a_new_docker_config_is_private_to_its_owner(cli, env):
    # docker's config.json holds auths and tokens; one this command creates must not be
    # readable by other users, whatever the umask, and neither may its directory.
    old = os.umask(0o022)
    try:
        run = cli("configure", "--registry", "ghcr.io", "--auth-method", "REGISTRY_SECRET")
    finally:
        os.umask(old)
    assert run.code == 0, run.err
    path = os.path.join(env["DOCKER_CONFIG"], "config.json")
    with open(path) as handle:
        assert json.load(handle)["credHelpers"] == {"ghcr.io": "truss"}
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(env["DOCKER_CONFIG"]).st_mode) == 0o700


def test_an_existing_docker_configs_mode_is_kept(cli, env):
    os.makedirs(env["DOCKER_CONFIG"])
    path = os.path.join(env["DOCKER_CONFIG"], "config.json")
    with open(path, "w") as handle:
        handle.write("{}")
    os.chmod(path, 0o640)
    assert cli("configure", "--registry", "ghcr.io", "--auth-method", "REGISTRY_SECRET").code == 0
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640


def test_a_secret_name_with_aws_assume_role_is_refused_as_truss_refuses_it(cli, env, tmp_path):
    truss = tmp_path / "my-truss"
    truss.mkdir()
    (truss / "config.yaml").write_text(
        f"base_image:\n  image: {ECR}/base:1\n  docker_auth:\n"
        "    auth_method: AWS_ASSUME_ROLE\n"
        f"    aws_assume_role_arn: {ROLE}\n    aws_assume_role_region: us-east-1\n"
        "    secret_name: my_registry_secret\n"
    )
    run = cli("configure", str(truss))
    assert run.code == 1
    errors = [line for line in run.err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "secret_name not allowed" in errors[0], run.err
    assert not os.path.exists(os.path.join(env["DOCKER_CONFIG"], "config.json"))
    assert cli("get", stdin=ECR).code == 1, "nothing may be configured for the registry"


TRAIN = """
from truss.base.truss_config import DockerAuthType
from truss_train import definitions

image = definitions.Image(
    base_image="{ecr}/train:1",
    docker_auth=definitions.DockerAuth(
        auth_method=DockerAuthType.{method},
        registry="{ecr}",
        {argument}=definitions.{cls}(role_arn="{role}", region="{region}"),
    ),
)
"""


@pytest.fixture
def fake(monkeypatch, tmp_path):
    isolate(monkeypatch, tmp_path)
    with FakeAws(region={"us-east-1", "eu-west-1"}) as server:
        yield server


@pytest.mark.parametrize(
    ("method", "argument", "cls", "op"),
    [
        ("AWS_ASSUME_ROLE", "aws_assume_role_docker_auth", "AWSAssumeRoleDockerAuth", ASSUME_ROLE),
        ("AWS_OIDC", "aws_oidc_docker_auth", "AWSOIDCDockerAuth", ASSUME_ROLE_WEB),
    ],
)
def test_a_truss_train_role_is_assumed_in_its_own_region(
    cli, env, fake, tmp_path, method, argument, cls, op
):
    # The role lives in eu-west-1, the registry in us-east-1: STS must be asked in
    # eu-west-1 for that role, as truss_train's AWS*DockerAuth(role_arn, region) says.
    key_id = "AKIA" + pysecrets.token_hex(8).upper()
    fake.keys[key_id] = secret = "sk-" + pysecrets.token_urlsafe(24)
    web_token = "eyJ" + pysecrets.token_urlsafe(32)
    fake.add_role(Role(ROLE, trusted_keys={key_id}, web_tokens={web_token}))
    token_file = tmp_path / "oidc-token"
    token_file.write_text(web_token)
    source = tmp_path / "train.py"
    source.write_text(
        TRAIN.format(
            ecr=ECR, method=method, argument=argument, cls=cls, role=ROLE, region="eu-west-1"
        )
    )
    run = cli("configure", str(source))
    assert run.code == 0, run.err
    keys = {"TRUSS_SECRET_aws_access_key_id": key_id, "TRUSS_SECRET_aws_secret_access_key": secret}
    extra = _Env(
        **fake.env(),
        **(keys if method == "AWS_ASSUME_ROLE" else {}),
        AWS_WEB_IDENTITY_TOKEN_FILE=str(token_file),
    )
    run = cli("get", stdin=ECR, extra=extra)
    assert run.code == 0, run.err
    assert run.json["Secret"] == fake.password
    sts = [r for r in fake.requests if r["op"] == op]
    assert [(r["role"], r["error"]) for r in sts] == [(ROLE, None)]
    if op == ASSUME_ROLE:  # signed, so the fake saw the region it was signed for
        assert sts[0]["region"] == "eu-west-1"

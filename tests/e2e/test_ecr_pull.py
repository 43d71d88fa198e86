"""``docker pull`` from an ECR host name with a real dockerd, credentials minted through ECR.

The ECR name ``123456789012.dkr.ecr.us-east-1.amazonaws.com`` resolves, inside the
harness's private mount namespace only, to a local htpasswd registry (see
tests/e2e/conftest.py). That registry accepts user ``AWS`` with the password the local
ECR stand-in (tests/fakes/aws.py) hands out, so the pull succeeds only if the helper
really minted through ``GetAuthorizationToken`` with the truss secrets it was told to
use: the real boto3 reaches the stand-in through ``AWS_ENDPOINT_URL``, exactly as a
VPC-endpoint user's would reach ECR.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import yaml
from e2e_checks import (
    assert_no_secret,
    check,
    expect_failure,
    expect_ok,
    not_found,
    remember,
)
from e2e_harness import CloudRegistry, DockerCLI, Sandbox
from fakes.aws import ASSUME_ROLE_WEB, ECR, FakeAws, Role

HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
IMAGE = f"{HOST}/tiny:1"
ROLE = "arn:aws:iam::123456789012:role/truss-puller"


def write_truss(directory: Path, docker_auth: dict[str, str], secret_names: list[str]) -> Path:
    directory.mkdir()
    config = {
        "base_image": {"image": IMAGE, "docker_auth": {"registry": HOST, **docker_auth}},
        "secrets": dict.fromkeys(secret_names),
    }
    (directory / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return directory


def configure(sandbox: Sandbox, truss_dir: Path) -> None:
    done = sandbox.run_helper("configure", args=[str(truss_dir)])
    expect_ok(done, "configure")
    assert_no_secret(done.stdout + done.stderr, "configure output")
    helpers = sandbox.read_docker_config().get("credHelpers", {})
    check(helpers.get(HOST) == "truss", "configure must route the ECR host to truss")


def test_aws_iam_pull_with_custom_secret_names_after_configure(
    docker: DockerCLI, sandbox: Sandbox, cloud_registry: CloudRegistry, tmp_path: Path
) -> None:
    with FakeAws(region="us-east-1") as fake:
        key_id = "AKIA" + secrets.token_hex(8).upper()
        secret_key = "sk-" + secrets.token_urlsafe(24)
        remember(secret_key, fake.password)
        fake.keys[key_id] = secret_key
        cloud_registry.add_users([("AWS", fake.password)])
        sandbox.env.update(fake.env())
        sandbox.put_secret("truss_config", "ci_aws_key_id", key_id)
        sandbox.put_secret("truss_config", "ci_aws_secret", secret_key)
        truss_dir = write_truss(
            tmp_path / "truss",
            {
                "auth_method": "AWS_IAM",
                "aws_access_key_id_secret_name": "ci_aws_key_id",
                "aws_secret_access_key_secret_name": "ci_aws_secret",
            },
            ["ci_aws_key_id", "ci_aws_secret"],
        )

        docker.rmi(IMAGE)
        expect_failure(
            docker.run("pull", IMAGE), "pull before configure", ["no basic auth credentials"]
        )
        check(fake.count(ECR) == 0, "nothing may call ECR before configure routes the host")

        configure(sandbox, truss_dir)
        pull = docker.run("pull", IMAGE)
        expect_ok(pull, "docker pull from the ECR name after configure")
        check("Downloaded newer image" in pull.stdout, "the pull must really fetch the image")
        check(fake.count(ECR) == 1, "one GetAuthorizationToken call for the pull")
        check(fake.requests[0]["key_id"] == key_id, "ECR must be called with the custom-named key")
        check(fake.requests[0]["registry_ids"] == ["123456789012"], "for the host's account")

        docker.rmi(IMAGE)
        expect_ok(docker.run("pull", IMAGE), "second pull")
        check(fake.count(ECR) == 1, "the second pull must be served from the token cache")


def test_aws_iam_pull_fails_with_a_named_cause_when_aws_refuses(
    docker: DockerCLI, sandbox: Sandbox, cloud_registry: CloudRegistry, tmp_path: Path
) -> None:
    with FakeAws(region="us-east-1") as fake:
        key_id = "AKIA" + secrets.token_hex(8).upper()
        secret_key = "sk-" + secrets.token_urlsafe(24)
        fake.keys[key_id] = secret_key
        fake.deny(ECR)
        sandbox.env.update(fake.env())
        sandbox.put_secret("truss_config", "aws_access_key_id", key_id)
        sandbox.put_secret("truss_config", "aws_secret_access_key", secret_key)
        configure(
            sandbox,
            write_truss(tmp_path / "truss", {"auth_method": "AWS_IAM"}, ["aws_access_key_id"]),
        )
        docker.rmi(IMAGE)
        pull = docker.run("pull", IMAGE)
        # docker 20.10's pull drops a credential helper's error and goes on without
        # credentials, so the pull fails as unauthenticated ...
        expect_failure(pull, "pull with a key ECR refuses", ["no basic auth credentials"])
        check(not docker.has_image(IMAGE), "a refused pull must leave no image")
        check(fake.count(ECR) >= 1, "the helper must have asked ECR")
        assert_no_secret(pull.stdout + pull.stderr, "docker pull output")
        # ... and the helper itself, asked the same question, says exactly why.
        get = sandbox.run_helper("get", HOST)
        why = not_found(get)
        check(why.startswith(f"{HOST}: "), "the reason must name the registry")
        # The pull's failure is remembered for a while: same reason, said to be remembered.
        check("(AccessDeniedException)" in why, "the reason must name AWS's code")
        check("remembered from" in why, "a get right after the pull answers from memory")
        assert_no_secret(get.stdout + get.stderr, "get output")


def test_aws_oidc_pull_through_sts_web_identity(
    docker: DockerCLI, sandbox: Sandbox, cloud_registry: CloudRegistry, tmp_path: Path
) -> None:
    with FakeAws(region={"us-east-1", "us-west-2"}) as fake:
        web_token = "eyJ" + secrets.token_urlsafe(40)
        remember(web_token, fake.password)
        fake.add_role(Role(ROLE, web_tokens={web_token}))
        cloud_registry.add_users([("AWS", fake.password)])
        token_file = tmp_path / "ci-oidc-token"
        token_file.write_text(web_token)
        sandbox.env.update(fake.env())
        sandbox.env["AWS_WEB_IDENTITY_TOKEN_FILE"] = str(token_file)
        configure(
            sandbox,
            write_truss(
                tmp_path / "truss",
                {
                    "auth_method": "AWS_OIDC",
                    "aws_oidc_role_arn": ROLE,
                    "aws_oidc_region": "us-west-2",
                },
                [],
            ),
        )
        docker.rmi(IMAGE)
        pull = docker.run("pull", IMAGE)
        expect_ok(pull, "docker pull through AWS_OIDC")
        check("Downloaded newer image" in pull.stdout, "the pull must really fetch the image")
        check(
            fake.calls == {ASSUME_ROLE_WEB: 1, ECR: 1},
            f"expected one STS and one ECR call, saw {dict(fake.calls)}",
        )
        check(fake.requests[1]["key_id"].startswith("ASIA"), "ECR must see the role's keys")

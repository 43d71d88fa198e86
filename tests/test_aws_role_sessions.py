"""What STS and ECR see when a role is assumed, and what the role's session leaves behind.

The real botocore against tests/fakes/aws.py (as in test_aws.py): the session name
CloudTrail shows, the ExternalId only where AWS_ASSUME_ROLE sends one, the token's
life bounded by the role session's, the role's temporary keys masked in the debug log,
messages after the role took over that name no truss secret, an STS answer without
credentials, the User-Agent AWS logs, and sessions that read no broken ``~/.aws`` file.
"""

from __future__ import annotations

import secrets as pysecrets
import time

import pytest
from fakes.aws import ASSUME_ROLE, ASSUME_ROLE_WEB, ECR, FakeAws, Role, World, isolate

from docker_credential_truss import __version__, debuglog
from docker_credential_truss.providers import aws

ACCOUNT = "123456789012"
HOST = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/puller"
ASSUME = {"aws_assume_role_arn": ROLE, "aws_assume_role_region": "us-west-2"}
OIDC = {"aws_oidc_role_arn": ROLE, "aws_oidc_region": "us-west-2"}


@pytest.fixture
def world(tmp_path, monkeypatch):
    isolate(monkeypatch, tmp_path)
    with FakeAws(region={"us-east-1", "us-west-2"}) as fake:
        world = World(fake, str(tmp_path), HOST)
        fake.add_role(Role(ROLE, trusted_keys={world.key_id}, web_tokens={world.web_token}))
        # temporary keys unique to this test: the debug log's mask list is per process
        fake._issued = pysecrets.randbelow(10**9)
        yield world


def test_a_web_identity_session_is_named_for_cloudtrail(world):
    world.with_web_token()
    world.provider(method="AWS_OIDC", settings=OIDC).mint()
    sts, ecr = world.fake.requests
    assert (sts["op"], sts["role"], sts["session_name"]) == (
        ASSUME_ROLE_WEB,
        ROLE,
        "docker-credential-truss",
    )
    assert (ecr["op"], ecr["key_id"][:4], ecr["region"]) == (ECR, "ASIA", "us-east-1")


def test_an_oidc_job_without_a_token_sends_no_external_id(world):
    # The ExternalId is AWS_ASSUME_ROLE's (Baseten's organisation); AWS_OIDC's AssumeRole
    # from the key pair never sends it, even when the variable is set.
    world.env[aws.EXTERNAL_ID_VARIABLE] = "org-1234"
    world.provider(method="AWS_OIDC", settings=OIDC).mint()
    sts = world.fake.requests[0]
    assert (sts["op"], sts["key_id"], sts["external_id"]) == (ASSUME_ROLE, world.key_id, None)


@pytest.mark.parametrize("method", ["AWS_ASSUME_ROLE", "AWS_OIDC"])
def test_the_token_lives_no_longer_than_the_role_session(world, method):
    world.with_web_token()
    world.fake.sts_expires_in = 900  # the ECR token would live 12 hours
    settings = ASSUME if method == "AWS_ASSUME_ROLE" else OIDC
    before = time.time()
    token = world.provider(method=method, settings=settings).mint()
    assert before + 900 - 60 < token.expires_at < time.time() + 900 + 60


@pytest.mark.parametrize("method", ["AWS_ASSUME_ROLE", "AWS_OIDC"])
def test_the_roles_temporary_keys_are_masked_in_the_debug_log(world, method):
    world.with_web_token()
    settings = ASSUME if method == "AWS_ASSUME_ROLE" else OIDC
    world.provider(method=method, settings=settings).mint()
    issued = [k for k in world.fake.session_tokens]
    assert len(issued) == 1
    secret, session_token = world.fake.keys[issued[0]], world.fake.session_tokens[issued[0]]
    line = f"botocore said: {secret} and {session_token}"
    assert debuglog.masked(line) == f"botocore said: {debuglog.MASK} and {debuglog.MASK}"


def test_ecr_refusing_the_roles_keys_names_no_truss_secret(world):
    # After AssumeRole, the role's keys sign: a refusal is not about the truss secrets.
    world.fake.refuse(ECR, "UnrecognizedClientException", "The security token is invalid")
    assert world.failure(method="AWS_ASSUME_ROLE", settings=ASSUME) == (
        f"{HOST}: ECR GetAuthorizationToken failed: AWS does not recognise the access key id"
        " (UnrecognizedClientException)"
    )


@pytest.mark.parametrize(
    ("method", "op", "call"),
    [
        ("AWS_ASSUME_ROLE", ASSUME_ROLE, "AssumeRole"),
        ("AWS_OIDC", ASSUME_ROLE_WEB, "AssumeRoleWithWebIdentity"),
    ],
)
def test_an_sts_answer_without_credentials_is_named(world, method, op, call):
    world.with_web_token()
    world.fake.garble(
        op,
        f'<{call}Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><{call}Result>'
        f"</{call}Result></{call}Response>",
    )
    settings = ASSUME if method == "AWS_ASSUME_ROLE" else OIDC
    assert world.failure(method=method, settings=settings) == (
        f"{HOST}: STS {call} answered without credentials"
    )
    assert world.fake.count(ECR) == 0


@pytest.mark.parametrize("method", ["AWS_IAM", "AWS_ASSUME_ROLE", "AWS_OIDC"])
def test_every_call_tells_aws_it_is_this_helper(world, method):
    world.with_web_token()
    settings = {"AWS_IAM": {}, "AWS_ASSUME_ROLE": ASSUME, "AWS_OIDC": OIDC}[method]
    world.provider(method=method, settings=settings).mint()
    agents = [r["agent"] for r in world.fake.requests]
    assert len(agents) == (1 if method == "AWS_IAM" else 2)
    assert all(f" docker-credential-truss/{__version__}" in agent for agent in agents), agents


@pytest.mark.parametrize("method", ["AWS_IAM", "AWS_OIDC"])
def test_a_broken_shared_credentials_file_does_not_break_a_truss_session(
    world, monkeypatch, tmp_path, method
):
    # truss secrets (AWS_IAM) and a CI job's token (AWS_OIDC) are all a session uses:
    # boto3's own credentials file, even unreadable as ini, is not read at all.
    broken = tmp_path / "broken-credentials"
    broken.write_text("[default\naws_access_key_id = nothing\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(broken))
    if method == "AWS_OIDC":
        world.with_web_token()
        for name in ("TRUSS_SECRET_aws_access_key_id", "TRUSS_SECRET_aws_secret_access_key"):
            del world.env[name]
    token = world.provider(method=method, settings=OIDC if method == "AWS_OIDC" else {}).mint()
    assert token.secret == world.fake.password


def test_a_github_job_asks_for_an_sts_token_and_exchanges_it_for_the_role(world):
    from fakes.github import ISSUER, FakeGitHub

    world.fake.add_role(Role(ROLE, web_claims={"iss": ISSUER, "aud": "sts.amazonaws.com"}))
    for name in ("TRUSS_SECRET_aws_access_key_id", "TRUSS_SECRET_aws_secret_access_key"):
        del world.env[name]  # the job has nothing but its OIDC token
    with FakeGitHub() as github:
        world.env.update(github.env())
        token = world.provider(method="AWS_OIDC", settings=OIDC).mint()
        assert github.audiences == ["sts.amazonaws.com"]
    assert token.secret == world.fake.password
    assert [(r["op"], r["error"]) for r in world.fake.requests] == [
        (ASSUME_ROLE_WEB, None),
        (ECR, None),
    ]

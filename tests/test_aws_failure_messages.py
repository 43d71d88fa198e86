"""What a person reads when AWS answers oddly or refuses, whole, for each kind of answer.

Minting runs the real botocore against tests/fakes/aws.py (as in test_aws.py), steered
to answer with a given error code, a body that is not JSON or XML, or an ECR token that
is not ``user:password``. Each message is checked whole: the registry, the call, the
cause, and which secret was used, never a secret's value.
"""

from __future__ import annotations

import base64
import os
import secrets as pysecrets

import pytest
from fakes.aws import ASSUME_ROLE, ECR, ECR_PUBLIC, FakeAws, Role, World, isolate, refused_port

from docker_credential_truss.paths import Paths
from docker_credential_truss.providers import Spec, aws
from docker_credential_truss.registry import parse
from docker_credential_truss.secrets import Secrets

ACCOUNT = "123456789012"
HOST = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/puller"
ASSUME = {"aws_assume_role_arn": ROLE, "aws_assume_role_region": "us-west-2"}


@pytest.fixture
def world(tmp_path, monkeypatch):
    isolate(monkeypatch, tmp_path)
    with FakeAws(region={"us-east-1", "us-west-2", "cn-north-1"}) as fake:
        world = World(fake, str(tmp_path), HOST)
        fake.add_role(Role(ROLE, trusted_keys={world.key_id}))
        yield world


def _in_env(name: str) -> str:
    return f"in secret {name!r} (environment variable TRUSS_SECRET_{name})"


# -- AWS's error codes, and what each says ---------------------------------------------------


def test_an_expired_session_token_names_the_secret_it_came_from(world):
    world.env["TRUSS_SECRET_aws_session_token"] = "tmp-token-" + pysecrets.token_hex(8)
    world.fake.refuse(ECR, "ExpiredTokenException", "The security token included has expired")
    assert world.failure() == (
        f"{HOST}: ECR GetAuthorizationToken failed: the AWS session token"
        f" {_in_env('aws_session_token')} has expired (ExpiredTokenException)"
    )


def test_a_stale_request_asks_about_the_clock(world):
    world.fake.refuse(ECR, "RequestExpired", "Request has expired")
    assert world.failure() == (
        f"{HOST}: ECR GetAuthorizationToken failed: AWS says the request is stale:"
        " is this machine's clock right? (RequestExpired)"
    )


def test_an_error_without_a_code_is_called_unrecognised_with_its_status(world):
    world.fake.refuse(ASSUME_ROLE, "", status=400)
    assert world.failure(method="AWS_ASSUME_ROLE", settings=ASSUME) == (
        f"{HOST}: STS AssumeRole failed: an unrecognised error (HTTP 400)"
    )


def test_an_error_code_with_a_colon_is_shown_as_aws_sent_it(world):
    world.fake.refuse(ASSUME_ROLE, "Sender:RoleSessionLimit", status=409)
    assert world.failure(method="AWS_ASSUME_ROLE", settings=ASSUME) == (
        f"{HOST}: STS AssumeRole failed: Sender:RoleSessionLimit (HTTP 409)"
    )


def test_an_error_code_unfit_to_show_is_not_shown(world):
    world.fake.refuse(ASSUME_ROLE, "Bad code, &amp; more!", status=400)
    assert world.failure(method="AWS_ASSUME_ROLE", settings=ASSUME) == (
        f"{HOST}: STS AssumeRole failed: an unrecognised error (HTTP 400)"
    )


# -- answers that cannot be read -----------------------------------------------------------


def test_an_sts_answer_that_is_not_xml_is_reported_as_unreadable(world):
    world.fake.garble(ASSUME_ROLE)
    assert world.failure(method="AWS_ASSUME_ROLE", settings=ASSUME) == (
        f"{HOST}: STS AssumeRole failed: the answer could not be read (ResponseParserError)"
    )
    assert world.fake.count(ECR) == 0


def test_an_ecr_answer_without_a_token_says_so(world):
    world.fake.garble(ECR)
    assert world.failure() == (
        f"{HOST}: ECR GetAuthorizationToken answered without a usable authorization token"
    )


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "token",
    [_b64("AWS:") + "", _b64(":" + "p" * 12), _b64("AWS" + "p" * 12)],
    ids=["no-password", "no-user", "no-colon"],
)
def test_an_ecr_token_that_is_not_user_colon_password_is_refused(world, token):
    world.fake.authorization_token = token
    assert world.failure() == (
        f"{HOST}: ECR GetAuthorizationToken answered a token that is not user:password"
    )


def test_an_ecr_token_with_characters_outside_base64_is_refused_not_cleaned(world):
    # A lenient decoder would drop the stray characters and hand out a password.
    world.fake.authorization_token = _b64("AWS:" + world.fake.password)[:8] + "!*" + "=="
    assert world.failure() == (
        f"{HOST}: ECR GetAuthorizationToken answered without a usable authorization token"
    )


# -- endpoints as a person wrote them, named safely --------------------------------------


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("http://", "http://"),
        ("http:///base", "http:///base"),
        ("http://[::1/sentinel-x", "the AWS endpoint"),
    ],
    ids=["no-host", "path-only", "broken-ipv6"],
)
def test_an_endpoint_url_botocore_refuses_is_named_as_far_as_it_safely_can_be(world, url, named):
    world.env["AWS_ENDPOINT_URL_ECR"] = url
    assert world.failure() == f"{HOST}: cannot use AWS endpoint {named}: ValueError"


def test_an_unreachable_endpoint_in_a_region_botocore_knows_adds_no_hint(world):
    with refused_port() as port:
        world.env["AWS_ENDPOINT_URL_ECR"] = f"http://127.0.0.1:{port}"
        message = world.failure()
    assert message == (
        f"{HOST}: ECR GetAuthorizationToken failed: cannot reach http://127.0.0.1:{port}/:"
        " no network, or the endpoint is wrong"
    )


def test_a_region_of_another_partition_is_known_too(world):
    # cn-north-1 is in the aws-cn partition, not in aws: no hint that it is unknown.
    host = f"{ACCOUNT}.dkr.ecr.cn-north-1.amazonaws.com.cn"
    with refused_port() as port:
        world.env["AWS_ENDPOINT_URL_ECR"] = f"http://127.0.0.1:{port}"
        message = world.failure(host)
    assert message == (
        f"{host}: ECR GetAuthorizationToken failed: cannot reach http://127.0.0.1:{port}/:"
        " no network, or the endpoint is wrong"
    )


# -- ECR Public, and boto3's own set-up ----------------------------------------------------


def test_ecr_public_failures_name_ecr_public_and_the_secret(world):
    world.env["TRUSS_SECRET_aws_access_key_id"] = "AKIA" + pysecrets.token_hex(8).upper()
    assert world.failure("public.ecr.aws") == (
        "public.ecr.aws: ECR Public GetAuthorizationToken failed: AWS does not recognise the"
        f" access key id {_in_env('aws_access_key_id')} (UnrecognizedClientException)"
    )


def test_an_ecr_public_answer_without_a_token_names_ecr_public(world):
    world.fake.garble(ECR_PUBLIC)
    assert world.failure("public.ecr.aws") == (
        "public.ecr.aws: ECR Public GetAuthorizationToken answered without a usable"
        " authorization token"
    )


def test_a_default_chain_profile_that_does_not_exist_is_named(world, monkeypatch):
    del world.env["TRUSS_SECRET_aws_access_key_id"]
    world.env[aws.DEFAULT_CHAIN_VARIABLE] = "1"
    monkeypatch.setenv("AWS_PROFILE", "nowhere-" + pysecrets.token_hex(4))
    assert world.failure() == (
        f"{HOST}: boto3 cannot use AWS profile {os.environ['AWS_PROFILE']!r}: not found"
    )
    assert world.fake.requests == []


def test_without_a_ca_bundle_in_the_env_given_botocore_keeps_its_own(world, monkeypatch, tmp_path):
    # The helper's env is its process's: a bundle botocore finds there itself still
    # verifies when the env handed to the provider names none.
    from harden.hostile import make_ca, make_leaf

    ca = make_ca(tmp_path)
    with FakeAws(tls=make_leaf(tmp_path, ca, "localhost")) as fake:
        fake.keys[world.key_id] = world.secret_key
        world.env.update(fake.env())
        monkeypatch.setenv("AWS_CA_BUNDLE", str(ca[2]))
        secrets = Secrets(world.env, Paths.from_env(world.env))
        token = aws.make(Spec(parse(HOST), "AWS_IAM", {}, secrets, world.env)).mint()
        assert token.secret == fake.password

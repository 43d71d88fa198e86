"""What the resolver hands the token cache: the inputs of a mint, the failure TTL, a warning.

A failed mint is remembered only for the inputs it was made from.

``get`` remembers a failed mint for DOCKER_CREDENTIAL_TRUSS_FAILURE_TTL seconds, so a
builder asking every registry does not wait for a dead endpoint each time; but a person
who fixes a secret, or a CI job whose token file is rewritten, must be tried at once.
The resolver hands the cache what the mint was made from: the secrets it read and the
provider's other inputs (the job's OIDC token). Real botocore against tests/fakes/aws.py;
secret values are sentinels, never printed.
"""

from __future__ import annotations

import os
import secrets as pysecrets

import pytest
from fakes.aws import ASSUME_ROLE_WEB, ECR, FakeAws, Role, isolate
from fakes.aws import SecretEnv as _Env
from fakes.github import job_claims, make_jwt

from docker_credential_truss import config
from docker_credential_truss.errors import ProviderError
from docker_credential_truss.paths import Paths
from docker_credential_truss.registry import parse
from docker_credential_truss.resolver import Resolver

HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
ROLE = "arn:aws:iam::123456789012:role/puller"


@pytest.fixture
def aws(tmp_path, monkeypatch):
    isolate(monkeypatch, tmp_path)
    with FakeAws(region={"us-east-1", "eu-west-1"}) as fake:
        yield fake


def _env(fake: FakeAws, home: str, **more: str) -> _Env:
    return _Env(
        {
            **fake.env(),
            "HOME": home,
            "XDG_CONFIG_HOME": os.path.join(home, "cfg"),
            "XDG_DATA_HOME": os.path.join(home, "data"),
            "XDG_CACHE_HOME": os.path.join(home, "cache"),
            **more,
        }
    )


def _get(env: _Env) -> str | None:
    """The secret ``get`` answers, or None with the error's message checked to be safe."""
    try:
        return Resolver(env, Paths.from_env(env)).get(parse(HOST)).secret
    except ProviderError as exc:
        return "failed: " + exc.message


def test_a_corrected_secret_key_is_tried_at_once_and_the_same_wrong_one_is_remembered(
    aws, tmp_path
):
    key_id = "AKIA" + pysecrets.token_hex(8).upper()
    right = "sk-" + pysecrets.token_urlsafe(24)
    aws.keys[key_id] = right
    wrong = _env(
        aws,
        str(tmp_path),
        TRUSS_SECRET_aws_access_key_id=key_id,
        TRUSS_SECRET_aws_secret_access_key="sk-" + pysecrets.token_urlsafe(24),
    )
    first = _get(wrong)
    assert first is not None and first.startswith("failed: ")
    tried = aws.calls[ECR]
    again = _get(wrong)
    assert again is not None and "remembered from" in again
    assert aws.calls[ECR] == tried, "the same inputs: answered from the failure memory"
    fixed = _Env(wrong, TRUSS_SECRET_aws_secret_access_key=right)
    answer = _get(fixed)
    assert answer == aws.password, "a corrected secret must mint at once"
    assert aws.calls[ECR] == tried + 1


def test_a_rewritten_ci_token_file_is_tried_at_once(aws, tmp_path):
    # Two tokens of the same job (one identity): only their per-token claims differ.
    rejected, accepted = (make_jwt(**job_claims("sts.amazonaws.com")) for _ in range(2))
    aws.add_role(Role(ROLE, web_tokens={accepted}))
    token_file = tmp_path / "oidc-token"
    token_file.write_text(rejected + "\n")
    env = _env(aws, str(tmp_path / "home"), AWS_WEB_IDENTITY_TOKEN_FILE=str(token_file))
    entry = {
        "auth_method": "AWS_OIDC",
        "aws_oidc_role_arn": ROLE,
        "aws_oidc_region": "eu-west-1",
        "source": "test",
    }
    config.merge(Paths.from_env(env), {HOST: entry})
    first = _get(env)
    assert first is not None and "STS rejected the web identity token" in first
    again = _get(env)
    assert again is not None and again.startswith(first + " (remembered from ")
    assert aws.calls[ASSUME_ROLE_WEB] == 1, "the same token: answered from the failure memory"
    token_file.write_text(accepted + "\n")
    assert _get(env) == aws.password, "a rewritten token file must mint at once"
    assert aws.calls[ASSUME_ROLE_WEB] == 2


def _iam(aws, home: str, **more: str) -> _Env:
    key_id = "AKIA" + pysecrets.token_hex(8).upper()
    aws.keys[key_id] = "sk-" + pysecrets.token_urlsafe(24)
    return _env(
        aws,
        home,
        TRUSS_SECRET_aws_access_key_id=key_id,
        TRUSS_SECRET_aws_secret_access_key=aws.keys[key_id],
        **more,
    )


def test_a_failure_ttl_of_zero_from_the_environment_retries_at_once(aws, tmp_path):
    env = _iam(aws, str(tmp_path), DOCKER_CREDENTIAL_TRUSS_FAILURE_TTL="0")
    aws.deny(ECR)
    first, again = _get(env), _get(env)
    assert first is not None and first.startswith("failed: ")
    assert again == first, "not answered from the failure memory"
    assert aws.calls[ECR] == 2


def test_an_unusable_token_cache_is_said_through_the_warning_and_the_get_still_answers(
    aws, tmp_path
):
    env = _iam(aws, str(tmp_path))
    cache = Paths.from_env(env).token_cache
    os.makedirs(cache)
    os.chmod(cache, 0o777)  # writable by others: refused
    said: list[str] = []
    token = Resolver(env, Paths.from_env(env), said.append).get(parse(HOST))
    assert token.secret == aws.password
    assert len(said) == 1 and said[0].startswith("token cache unusable, minting without it: ")

"""What a CI token source tells the cache (whose job), the debug log and a person, and
what GitHub Actions' endpoint is asked exactly.

GitHub's endpoint is tests/fakes/github.py. Tokens are made-up JWTs and are compared
before asserting, so a failure never prints one.
"""

from __future__ import annotations

import hashlib
import json
import os

import pytest
from fakes.github import FakeGitHub, job_claims, make_jwt

from docker_credential_truss import debuglog
from docker_credential_truss.errors import ProviderError
from docker_credential_truss.providers import citoken

KEY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
WIP = "projects/123456789/locations/global/workloadIdentityPools/ci-pool/providers/github"
GOOGLE_AUDIENCE = citoken.GOOGLE_AUDIENCE_PREFIX + WIP
ENDPOINT = "GitHub Actions' token endpoint (ACTIONS_ID_TOKEN_REQUEST_URL, audience"


@pytest.fixture
def github():
    with FakeGitHub() as fake:
        yield fake


def find(env, cloud=citoken.AWS, audience=citoken.AWS_AUDIENCE):
    return citoken.find(cloud, env, audience, KEY)


def refusal(env) -> str:
    with pytest.raises(ProviderError) as err:
        find(env).token()
    return err.value.message


def test_the_debug_log_says_where_the_token_comes_from(env, paths):
    debuglog.setup({"DOCKER_CREDENTIAL_TRUSS_DEBUG": "1"}, paths)
    find({"CIRCLE_OIDC_TOKEN_V2": make_jwt(sub="circle")})
    debuglog.close()
    with open(os.path.join(paths.log_dir, debuglog.FILE_NAME), encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    assert [line.split(" DEBUG ", 1)[1] for line in lines] == [
        f"{KEY}: the CI token comes from $CIRCLE_OIDC_TOKEN_V2"
    ]


def test_a_found_source_knows_the_clouds_default_audience():
    # doctor warns about a token whose audience is not this one
    source = find({"BITBUCKET_STEP_OIDC_TOKEN": make_jwt(sub="b")}, citoken.GCP, GOOGLE_AUDIENCE)
    assert (source.default_audience, source.audience) == (GOOGLE_AUDIENCE, None)


def test_the_same_claims_in_another_order_are_the_same_job():
    claims = job_claims("sts.amazonaws.com")
    backwards = dict(reversed(list(claims.items())))
    assert list(backwards) != list(claims)
    one = citoken.TokenVariable(make_jwt(**claims), "V").job()
    assert citoken.TokenVariable(make_jwt(**backwards), "V").job() == one


def test_a_token_variable_with_spaces_says_it_does_not_hold_one_token():
    source = find({"DOCKER_CREDENTIAL_TRUSS_AWS_WEB_IDENTITY_TOKEN": "one two"})
    with pytest.raises(ProviderError) as err:
        source.ready()
    assert err.value.message == (
        f"{KEY}: $DOCKER_CREDENTIAL_TRUSS_AWS_WEB_IDENTITY_TOKEN does not hold one token"
    )


def test_the_github_inputs_follow_the_endpoint_the_request_token_and_the_audience(github):
    env = github.env()
    inputs = {
        find(env).inputs(),
        find(dict(env, ACTIONS_ID_TOKEN_REQUEST_TOKEN="another-job")).inputs(),
        find(dict(env, ACTIONS_ID_TOKEN_REQUEST_URL=github.request_url + "&run=2")).inputs(),
        find(env, citoken.GCP, GOOGLE_AUDIENCE).inputs(),
    }
    assert len(inputs) == 4
    assert find(env).inputs() == find(dict(env)).inputs()


def test_the_audience_is_sent_as_encodeURIComponent_sends_it(github):
    # actions/toolkit escapes every reserved character of the audience, "/" included
    source = find(github.env(), citoken.GCP, GOOGLE_AUDIENCE)
    assert source.request_url() == (
        github.request_url + "&audience=https%3A%2F%2Fiam.googleapis.com%2F"
        "projects%2F123456789%2Flocations%2Fglobal%2FworkloadIdentityPools%2Fci-pool"
        "%2Fproviders%2Fgithub"
    )
    plain = dict(github.env(), ACTIONS_ID_TOKEN_REQUEST_URL=github.request_url.split("?")[0])
    assert find(plain).request_url() == plain["ACTIONS_ID_TOKEN_REQUEST_URL"] + (
        "?audience=sts.amazonaws.com"
    )


def test_a_github_answer_larger_than_its_limit_is_not_read_whole(github):
    token = make_jwt(**job_claims("sts.amazonaws.com"))
    body = json.dumps({"value": token, "padding": "x" * citoken.MAX_ANSWER})
    github.answers = [(200, body)]
    assert refusal(github.env()) == f"{KEY}: {ENDPOINT} sts.amazonaws.com) answered without a token"


def test_a_busy_answer_then_a_refusal_says_how_many_attempts(github, monkeypatch):
    monkeypatch.setattr(citoken, "BACKOFF", 0.0)
    github.answers = [(503, "{}"), (400, "{}")]
    assert refusal(github.env()) == (
        f"{KEY}: {ENDPOINT} sts.amazonaws.com) answered HTTP 400 after 2 attempts"
    )
    assert github.calls == 2


# -- the job's format: part of the cache identity -------------------------------------------
# A job is its kind and 128 bits of SHA-256 over its NUL-joined parts. It is part of the
# token cache's identity (test_aws_identity_and_config_errors pins the rest): a change
# orphans every cached token, so it goes only with a new cache FORMAT.


def job_of(kind: str, *parts: str) -> str:
    return f"{kind}={hashlib.sha256(chr(0).join(parts).encode()).hexdigest()[:32]}"


def test_a_given_jwts_job_is_its_claims_but_those_of_each_token():
    claims = {"sub": "repo:octo-org/octo-repo:ref:refs/heads/main", "aud": "sts.amazonaws.com"}
    token = make_jwt(**claims, iat=1, nbf=1, exp=2, jti="j1")
    stable = json.dumps(dict(sorted(claims.items())))
    assert citoken.TokenVariable(token, "V").job() == job_of("claims", stable)


def test_a_given_token_that_is_not_a_jwt_is_its_own_job():
    assert citoken.TokenVariable("not-a-jwt", "V").job() == job_of("token", "not-a-jwt")


def test_a_github_job_is_its_endpoint_request_token_and_audience():
    url = "https://token.actions.example/idtoken?api-version=2.0"
    source = citoken.GitHub(url, "request-token", "sts.amazonaws.com", {})
    assert source.job() == job_of("github", url, "request-token", "sts.amazonaws.com")


def test_a_buildkite_job_is_its_id_agent_token_and_audience():
    env = {"BUILDKITE_AGENT_ACCESS_TOKEN": "agent-token"}
    source = citoken.Buildkite("0190-job", "sts.amazonaws.com", env)
    assert source.job() == job_of("buildkite", "0190-job", "agent-token", "sts.amazonaws.com")

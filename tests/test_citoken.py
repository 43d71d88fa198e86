"""Where AWS_OIDC and GCP_OIDC find a CI job's token, and how it is fetched.

GitHub Actions' endpoint is tests/fakes/github.py, which checks the bearer token, the
kept query string and the audience as GitHub does; Buildkite's agent is a small script
on PATH that records its arguments. Tokens are sentinels; a failing assertion never
prints one (answers are compared before asserting).
"""

from __future__ import annotations

import os
import stat

import pytest
from fakes.aws import refused_port
from fakes.github import LEAK_SENTINEL, FakeGitHub, job_claims, make_jwt

from docker_credential_truss import debuglog
from docker_credential_truss.errors import ProviderError
from docker_credential_truss.providers import citoken

KEY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
WIP = "projects/123456789/locations/global/workloadIdentityPools/ci-pool/providers/github"
GOOGLE_AUDIENCE = citoken.GOOGLE_AUDIENCE_PREFIX + WIP


def find(env, cloud=citoken.AWS, audience=citoken.AWS_AUDIENCE):
    return citoken.find(cloud, env, audience, KEY)


@pytest.fixture
def github():
    with FakeGitHub() as fake:
        yield fake


def every_source(tmp_path) -> dict[str, str]:
    path = tmp_path / "token"
    path.write_text(make_jwt(**job_claims("sts.amazonaws.com")) + "\n")
    return {
        "DOCKER_CREDENTIAL_TRUSS_AWS_WEB_IDENTITY_TOKEN_FILE": str(path),
        "AWS_WEB_IDENTITY_TOKEN_FILE": str(path),
        "DOCKER_CREDENTIAL_TRUSS_AWS_WEB_IDENTITY_TOKEN": make_jwt(sub="gitlab"),
        "ACTIONS_ID_TOKEN_REQUEST_URL": "http://127.0.0.1:9/x?api-version=2.0",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "request-token",
        "CIRCLE_OIDC_TOKEN_V2": make_jwt(sub="circle"),
        "BITBUCKET_STEP_OIDC_TOKEN": make_jwt(sub="bitbucket"),
        "BUILDKITE_JOB_ID": "job-1",
    }


ORDER = [
    ("DOCKER_CREDENTIAL_TRUSS_AWS_WEB_IDENTITY_TOKEN_FILE", citoken.TokenFile),
    ("AWS_WEB_IDENTITY_TOKEN_FILE", citoken.TokenFile),
    ("DOCKER_CREDENTIAL_TRUSS_AWS_WEB_IDENTITY_TOKEN", citoken.TokenVariable),
    ("ACTIONS_ID_TOKEN_REQUEST_URL", citoken.GitHub),
    ("CIRCLE_OIDC_TOKEN_V2", citoken.TokenVariable),
    ("BITBUCKET_STEP_OIDC_TOKEN", citoken.TokenVariable),
    ("BUILDKITE_JOB_ID", citoken.Buildkite),
]


def test_the_sources_are_tried_in_the_documented_order(tmp_path):
    env = every_source(tmp_path)
    for variable, kind in ORDER:
        source = find(env)
        assert type(source) is kind, variable
        assert variable in source.name or kind in (citoken.GitHub, citoken.Buildkite)
        del env[variable]
        if variable == "ACTIONS_ID_TOKEN_REQUEST_URL":
            del env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"]
    assert env == {}
    assert find(env) is None


def test_empty_variables_count_as_absent(tmp_path):
    env = dict.fromkeys(every_source(tmp_path), "  ")
    assert find(env) is None


def test_github_needs_both_variables():
    assert find({"ACTIONS_ID_TOKEN_REQUEST_URL": "http://x/?a=1"}) is None
    assert find({"ACTIONS_ID_TOKEN_REQUEST_TOKEN": "t"}) is None


def test_google_reads_its_own_variables_not_aws_ones(tmp_path):
    env = every_source(tmp_path)
    source = find(env, citoken.GCP, GOOGLE_AUDIENCE)
    assert type(source) is citoken.GitHub, "AWS's token file and token are not Google's"
    env["DOCKER_CREDENTIAL_TRUSS_GCP_OIDC_TOKEN"] = make_jwt(sub="gitlab")
    assert find(env, citoken.GCP, GOOGLE_AUDIENCE).name == "$DOCKER_CREDENTIAL_TRUSS_GCP_OIDC_TOKEN"
    env["DOCKER_CREDENTIAL_TRUSS_GCP_OIDC_TOKEN_FILE"] = env["AWS_WEB_IDENTITY_TOKEN_FILE"]
    assert type(find(env, citoken.GCP, GOOGLE_AUDIENCE)) is citoken.TokenFile


def test_places_name_every_source_in_order():
    places = [place.split(" ")[0] for place in citoken.AWS.places().split(", ")]
    assert places == [variable for variable, _ in ORDER]
    assert "id-token: write" in citoken.AWS.places()


def test_the_audience_is_the_clouds_unless_overridden(github):
    assert find(github.env()).audience == "sts.amazonaws.com"
    google = find(github.env(), citoken.GCP, GOOGLE_AUDIENCE)
    assert google.audience == "https://iam.googleapis.com/" + WIP
    env = dict(github.env(), DOCKER_CREDENTIAL_TRUSS_AWS_OIDC_AUDIENCE="my-aud")
    assert find(env).audience == "my-aud"
    assert find(env, citoken.GCP, GOOGLE_AUDIENCE).audience == GOOGLE_AUDIENCE


# -- claims and the job they identify ------------------------------------------------------


def test_claims_are_decoded_without_verifying():
    claims = job_claims("sts.amazonaws.com")
    assert citoken.claims(make_jwt(**claims)) == claims
    for garbage in ("", "a.b", "a.!!!.c", "a.bm90IGpzb24.c", make_jwt() + ".x"):
        assert citoken.claims(garbage) is None, garbage
    assert citoken.claims("a." + make_jwt(x=1).split(".")[1][:-1] + "@.c") is None


def test_tokens_of_one_job_share_a_job_and_another_subject_does_not():
    claims = job_claims("sts.amazonaws.com")
    one = citoken.TokenVariable(make_jwt(**claims), "V").job()
    renewed = dict(claims, jti="other", iat=1, nbf=1, exp=2)
    assert citoken.TokenVariable(make_jwt(**renewed), "V").job() == one
    for field, value in (("sub", "repo:o/r:ref:refs/heads/dev"), ("aud", "x"), ("run_id", "9")):
        other = citoken.TokenVariable(make_jwt(**dict(claims, **{field: value})), "V").job()
        assert other != one, field
    assert "octo" not in one and claims["sub"] not in one


def test_the_github_job_is_known_without_a_request_and_is_the_request_tokens(github):
    source = find(github.env())
    job = source.job()
    assert github.calls == 0
    assert github.request_token not in job
    env = dict(github.env(), ACTIONS_ID_TOKEN_REQUEST_TOKEN="another-job")
    assert find(env).job() != job
    env = dict(github.env(), DOCKER_CREDENTIAL_TRUSS_AWS_OIDC_AUDIENCE="other")
    assert find(env).job() != job


def test_inputs_follow_the_tokens_content(tmp_path):
    path = tmp_path / "token"
    path.write_text("first.token.value")
    env = {"AWS_WEB_IDENTITY_TOKEN_FILE": str(path)}
    before = find(env).inputs()
    path.write_text("second.token.value")
    assert find(env).inputs() != before


# -- a token at hand -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "why"),
    [("", "does not hold one token"), ("a b", "does not hold one token"), (None, "No such file")],
)
def test_a_bad_token_file_is_named_with_what_is_wrong(tmp_path, content, why):
    path = tmp_path / "token"
    if content is not None:
        path.write_text(content)
    source = find({"AWS_WEB_IDENTITY_TOKEN_FILE": str(path)})
    with pytest.raises(ProviderError) as err:
        source.ready()
    message = err.value.message
    assert message.startswith(f"{KEY}: ")
    assert f"the token file {path} (AWS_WEB_IDENTITY_TOKEN_FILE)" in message
    assert why in message


def test_a_token_in_a_variable_is_registered_for_masking():
    value = make_jwt(sub="SENTINEL-variable-token")
    find({"CIRCLE_OIDC_TOKEN_V2": value}).token()
    assert value not in debuglog.masked(f"said {value}")


# -- GitHub Actions ---------------------------------------------------------------------------


def test_github_request_keeps_the_query_and_sends_bearer_and_audience(github):
    source = find(github.env(), citoken.GCP, GOOGLE_AUDIENCE)
    token = source.token()
    assert github.rejections == []
    assert github.audiences == ["https://iam.googleapis.com/" + WIP]
    assert (token == github.issued[0], github.calls) == (True, 1)
    assert source.token() == token and github.calls == 1, "fetched once per process"
    line = debuglog.masked(f"{github.request_token} {token}")
    assert github.request_token not in line and token not in line


def test_the_stand_in_refuses_what_github_refuses(github):
    """The stand-in's checks are real: each mistake is refused, and the helper says so."""
    wrong = [
        dict(github.env(), ACTIONS_ID_TOKEN_REQUEST_TOKEN="wrong"),
        dict(github.env(), ACTIONS_ID_TOKEN_REQUEST_URL=github.request_url.split("?")[0]),
    ]
    for env in wrong:
        with pytest.raises(ProviderError) as err:
            find(env).token()
        assert "refused the request" in err.value.message or "HTTP 400" in err.value.message
    assert github.rejections == [
        "no or wrong bearer token",
        "the URL's own query string was not kept",
    ]


def test_github_refusal_says_what_to_check_and_repeats_nothing(github):
    env = dict(github.env(), ACTIONS_ID_TOKEN_REQUEST_TOKEN="ghrt-SENTINEL-wrong")
    with pytest.raises(ProviderError) as err:
        find(env).token()
    message = err.value.message
    assert message == (
        f"{KEY}: GitHub Actions' token endpoint (ACTIONS_ID_TOKEN_REQUEST_URL, audience"
        " sts.amazonaws.com) refused the request: HTTP 401"
        " (does the job have permissions: id-token: write?)"
    )
    assert LEAK_SENTINEL not in message and "SENTINEL-wrong" not in message


def test_github_busy_answers_are_retried(github, monkeypatch):
    monkeypatch.setattr(citoken, "BACKOFF", 0.0)
    github.answers = [(503, "{}"), (429, "{}")]
    token = find(github.env()).token()
    assert (github.calls, token == github.issued[0]) == (3, True)


def test_github_busy_three_times_gives_up(github, monkeypatch):
    monkeypatch.setattr(citoken, "BACKOFF", 0.0)
    github.answers = [(502, "{}")] * 5
    with pytest.raises(ProviderError, match="answered HTTP 502 after 3 attempts"):
        find(github.env()).token()
    assert github.calls == 3


def test_github_redirect_is_not_followed(github):
    github.answers = [(302, "")]
    with pytest.raises(ProviderError, match="HTTP 302, a redirect \\(not followed\\)"):
        find(github.env()).token()
    assert github.calls == 1, "the bearer token went nowhere else"


@pytest.mark.parametrize("body", ['{"value": ""}', '{"count": 0}', "not json", '{"value": "x"}'])
def test_github_answer_without_a_jwt(github, body):
    github.answers = [(200, body)]
    with pytest.raises(ProviderError, match="answered without a token"):
        find(github.env()).token()


def test_github_unreachable_is_not_retried():
    with refused_port() as port:
        env = {
            "ACTIONS_ID_TOKEN_REQUEST_URL": f"http://127.0.0.1:{port}/t?api-version=2.0",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "t",
        }
        with pytest.raises(ProviderError, match="cannot reach GitHub Actions' token endpoint"):
            find(env).token()


def test_github_is_asked_for_json(github):
    find(github.env()).token()
    assert github.accepts == ["application/json"]


@pytest.mark.parametrize(
    ("status", "said"),
    [
        (300, "answered HTTP 300, a redirect (not followed)"),
        (399, "answered HTTP 399, a redirect (not followed)"),
        (400, "answered HTTP 400"),
        (401, "refused the request: HTTP 401 (does the job have permissions: id-token: write?)"),
        (403, "refused the request: HTTP 403 (does the job have permissions: id-token: write?)"),
        (404, "refused the request: HTTP 404 (does the job have permissions: id-token: write?)"),
        (405, "answered HTTP 405"),
        (600, "answered HTTP 600"),
    ],
)
def test_github_answers_that_are_not_retried_say_what_came_back(github, status, said):
    github.answers = [(status, "{}")]
    with pytest.raises(ProviderError) as err:
        find(github.env()).token()
    prefix = f"{KEY}: GitHub Actions' token endpoint (ACTIONS_ID_TOKEN_REQUEST_URL, audience"
    assert err.value.message == f"{prefix} sts.amazonaws.com) {said}"
    assert github.calls == 1


@pytest.mark.parametrize("status", [429, 500, 599])
def test_github_busy_statuses_are_retried(github, monkeypatch, status):
    monkeypatch.setattr(citoken, "BACKOFF", 0.0)
    github.answers = [(status, "{}")]
    token = find(github.env()).token()
    assert (github.calls, token == github.issued[0]) == (2, True)


def test_github_backoff_doubles_up_to_its_cap(github, monkeypatch):
    import random
    import time

    waits: list[float] = []
    monkeypatch.setattr(random, "random", lambda: 1.0)  # the jitter at its top
    monkeypatch.setattr(time, "sleep", waits.append)
    github.answers = [(503, "{}")] * 3
    with pytest.raises(ProviderError, match="after 3 attempts"):
        find(github.env()).token()
    assert waits == [citoken.BACKOFF, citoken.BACKOFF * 2]


def test_the_request_token_goes_over_https(monkeypatch):
    with refused_port() as port:
        env = {
            "ACTIONS_ID_TOKEN_REQUEST_URL": f"https://127.0.0.1:{port}/t?api-version=2.0",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "t",
        }
        with pytest.raises(ProviderError, match="cannot reach GitHub Actions' token endpoint"):
            find(env).token()


def test_the_request_token_goes_to_this_machine_by_any_of_its_names(github):
    env = github.env()
    env["ACTIONS_ID_TOKEN_REQUEST_URL"] = github.request_url.replace("127.0.0.1", "localhost")
    assert find(env).token() == github.issued[0]
    env["ACTIONS_ID_TOKEN_REQUEST_URL"] = github.request_url.replace("127.0.0.1", "[::1]")
    with pytest.raises(ProviderError) as err:  # nothing listens there, but it was allowed
        find(env).token()
    assert "cannot reach" in err.value.message


def test_a_malformed_request_url_is_refused_before_sending():
    env = {"ACTIONS_ID_TOKEN_REQUEST_URL": "http://[::1/t", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "t"}
    with pytest.raises(ProviderError, match="not an https URL; the request token is not sent"):
        find(env).token()


def test_the_github_job_changes_with_the_endpoint(github):
    other = dict(github.env(), ACTIONS_ID_TOKEN_REQUEST_URL=github.request_url + "&run=2")
    assert find(github.env()).job() != find(other).job()


def test_a_token_variable_is_used_as_it_is():
    token = make_jwt(sub="gitlab")
    assert find({"DOCKER_CREDENTIAL_TRUSS_AWS_WEB_IDENTITY_TOKEN": token}).token() == token


def test_a_token_that_is_not_utf8_still_has_a_job():
    # the OS hands undecodable bytes to Python as lone surrogates
    source = find({"DOCKER_CREDENTIAL_TRUSS_AWS_WEB_IDENTITY_TOKEN": "tok\udcffen"})
    other = find({"DOCKER_CREDENTIAL_TRUSS_AWS_WEB_IDENTITY_TOKEN": "tok\udcfeen"})
    assert source.job() != other.job()


def test_claims_are_read_from_base64url_of_any_length():
    for sub in ("a", "ab", "abc", "abcd", "??~~??"):
        token = make_jwt(sub=sub)
        assert citoken.claims(token) == {"sub": sub}, sub
    payload = token.split(".")[1]
    assert "-" in payload and "_" in payload  # the url-safe alphabet's own two letters


def test_a_payload_that_is_not_an_object_has_no_claims():
    import base64

    payload = base64.urlsafe_b64encode(b"[1, 2]").decode().rstrip("=")
    assert citoken.claims(f"e30.{payload}.c2ln") is None


# -- Buildkite ----------------------------------------------------------------------------------


def fake_agent(tmp_path, script: str) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    agent = bin_dir / "buildkite-agent"
    agent.write_text("#!/bin/sh\n" + script)
    agent.chmod(agent.stat().st_mode | stat.S_IXUSR)
    return {"PATH": f"{bin_dir}{os.pathsep}/usr/bin:/bin", "BUILDKITE_JOB_ID": "job-1"}


def test_buildkite_asks_the_agent_for_the_audience(tmp_path):
    token = make_jwt(**job_claims("sts.amazonaws.com", "organization:o:pipeline:p"))
    args = tmp_path / "args"
    env = fake_agent(tmp_path, f'echo "$@" > {args}\necho {token}\n')
    source = find(env)
    assert source.token() == token
    assert args.read_text().split() == ["oidc", "request-token", "--audience", "sts.amazonaws.com"]


def test_buildkite_agent_failure_shows_its_status_not_its_words(tmp_path):
    env = fake_agent(tmp_path, "echo SENTINEL-agent-said >&2\nexit 3\n")
    with pytest.raises(ProviderError) as err:
        find(env).token()
    assert "failed (exit status 3)" in err.value.message
    assert "SENTINEL" not in err.value.message


def test_buildkite_without_the_agent_says_so(tmp_path):
    env = {"PATH": str(tmp_path), "BUILDKITE_JOB_ID": "job-1"}
    with pytest.raises(ProviderError, match="buildkite-agent is not on PATH"):
        find(env).token()


def test_the_buildkite_job_is_the_job_id_and_the_agents_token(tmp_path):
    env = {"BUILDKITE_JOB_ID": "job-1", "BUILDKITE_AGENT_ACCESS_TOKEN": "agent-1"}
    jobs = {
        find(env).job(),
        find(dict(env, BUILDKITE_JOB_ID="job-2")).job(),
        find(dict(env, BUILDKITE_AGENT_ACCESS_TOKEN="agent-2")).job(),
        find(dict(env, DOCKER_CREDENTIAL_TRUSS_AWS_OIDC_AUDIENCE="other")).job(),
    }
    assert len(jobs) == 4
    assert find(env).job() == find(dict(env)).job()
    inputs = {
        find(env).inputs(),
        find(dict(env, BUILDKITE_JOB_ID="job-2")).inputs(),
        find(dict(env, BUILDKITE_AGENT_ACCESS_TOKEN="agent-2")).inputs(),
    }
    assert len(inputs) == 3


@pytest.mark.parametrize(
    "url", ["http://pipelines.example.com/x?api-version=2.0", "ftp://127.0.0.1/x?a=1", "https:///x"]
)
def test_the_request_token_goes_only_over_https_or_to_this_machine(url):
    env = {"ACTIONS_ID_TOKEN_REQUEST_URL": url, "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "t"}
    with pytest.raises(ProviderError, match="not an https URL; the request token is not sent"):
        find(env).token()

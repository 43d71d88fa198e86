"""AWS_OIDC and GCP_OIDC with a CI job's own token, through the installed command.

Each test runs the executable under test (the ``sandbox`` fixture: ``$DCT_EXE`` or
the installed one, so CI runs these against the release binary too) as a CI job would:
configured from a truss config, with the variables the CI sets. GitHub Actions' token
endpoint is tests/fakes/github.py; STS and ECR are tests/fakes/aws.py, Google's STS and
IAM tests/fakes/gcp.py, whose roles trust a token by its claims (issuer, audience,
subject), as a trust policy does. What is checked is what the stand-ins saw (requests
counted) and what the processes answered; tokens are sentinels looked for in stdout,
stderr and the debug log.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from e2e_checks import not_found
from fakes.aws import ASSUME_ROLE_WEB, ECR, FakeAws, Role
from fakes.gcp import FakeGoogle
from fakes.github import ISSUER, SUBJECT, FakeGitHub, job_claims, make_jwt

HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
ROLE = "arn:aws:iam::123456789012:role/ci-puller"
WIP = "projects/123456789/locations/global/workloadIdentityPools/ci-pool/providers/github"
ACCOUNT = "puller@proj-1.iam.gserviceaccount.com"
AWS_TRUSS = f"""\
base_image:
  image: {HOST}/models/base:1
  docker_auth:
    auth_method: AWS_OIDC
    registry: {HOST}
    aws_oidc_role_arn: {ROLE}
    aws_oidc_region: us-east-1
"""
GCP_TRUSS = f"""\
base_image:
  image: gcr.io/proj-1/tiny:1
  docker_auth:
    auth_method: GCP_OIDC
    registry: gcr.io
    gcp_oidc_workload_id_provider: {WIP}
    gcp_oidc_service_account: {ACCOUNT}
"""
TRUST = {"iss": ISSUER, "aud": "sts.amazonaws.com", "sub": SUBJECT}


def configure(sandbox, truss_yaml: str) -> None:
    truss = sandbox.root / "my-truss"
    truss.mkdir()
    (truss / "config.yaml").write_text(truss_yaml)
    done = sandbox.run_helper("configure", args=[str(truss)])
    assert done.returncode == 0, done.stderr


def start_gets(sandbox, server: str, n: int) -> list[subprocess.CompletedProcess[str]]:
    """``n`` gets started at once (stdin from a file), then waited for."""
    request = sandbox.root / "request"
    request.write_text(server)
    procs = []
    for _ in range(n):
        with open(request) as stdin:
            procs.append(
                subprocess.Popen(
                    ["docker-credential-truss", "get"],
                    stdin=stdin,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    env=dict(sandbox.env),
                )
            )
    done = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        done.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return done


def secret_of(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, f"get failed: {done.stderr.strip()!r}"
    return json.loads(done.stdout)["Secret"]


def debug_log(sandbox) -> str:
    path = Path(sandbox.env["XDG_STATE_HOME"]) / "docker-credential-truss" / "log" / "debug.log"
    return path.read_text(encoding="utf-8")


def leaked(texts: list[str], values: list[str]) -> list[int]:
    """Which of ``values`` (by index, never the value) occur in any of ``texts``."""
    return [i for i, value in enumerate(values) if value and any(value in t for t in texts)]


@pytest.fixture
def aws(sandbox):
    with FakeAws(region="us-east-1") as fake:
        sandbox.env.update(fake.env())
        sandbox.env["AWS_CONFIG_FILE"] = str(sandbox.root / "no-aws-config")
        sandbox.env["AWS_SHARED_CREDENTIALS_FILE"] = str(sandbox.root / "no-aws-credentials")
        fake.add_role(Role(ROLE, web_claims=TRUST))
        configure(sandbox, AWS_TRUSS)
        yield fake


@pytest.fixture
def github(sandbox):
    with FakeGitHub() as fake:
        sandbox.env.update(fake.env())
        yield fake


def test_a_github_actions_job_8_cold_gets_make_1_token_request_and_1_sts_call(sandbox, aws, github):
    sandbox.env["DOCKER_CREDENTIAL_TRUSS_DEBUG"] = "1"
    aws.delay = 1.0  # the first minter is still waiting for ECR while the rest start
    results = start_gets(sandbox, HOST, 8)
    answers = [secret_of(done) == aws.password for done in results]
    assert answers == [True] * 8
    assert github.rejections == []
    assert github.audiences == ["sts.amazonaws.com"]
    counts = (github.calls, aws.count(ASSUME_ROLE_WEB), aws.count(ECR))
    assert counts == (1, 1, 1)
    # warm: no request to the CI at all
    assert secret_of(sandbox.run_helper("get", stdin=HOST)) == aws.password
    assert (github.calls, aws.count(ASSUME_ROLE_WEB)) == (1, 1)
    texts = [debug_log(sandbox)] + [d.stdout + d.stderr for d in results]
    secrets = [github.request_token, *github.issued, "fake-temporary-secret-1"]
    secrets += ["fake-session-token-1"]
    assert leaked(texts, secrets) == []
    assert leaked(texts[:1], [aws.password]) == []
    assert "cache hit" in texts[0]


def test_a_github_actions_job_with_gcp_oidc(sandbox, github):
    with FakeGoogle() as google:
        audience = "https://iam.googleapis.com/" + WIP
        google.expect_federation(
            audience="//iam.googleapis.com/" + WIP, subject_token="", service_account=ACCOUNT
        )
        google.subject_claims = {"iss": ISSUER, "aud": audience, "sub": SUBJECT}
        sandbox.env["DOCKER_CREDENTIAL_TRUSS_GCP_STS_URL"] = google.sts_url
        sandbox.env["DOCKER_CREDENTIAL_TRUSS_GCP_IAMCREDENTIALS_URL"] = google.url
        configure(sandbox, GCP_TRUSS)
        google.delay = 0.5
        results = start_gets(sandbox, "gcr.io", 8)
        again = sandbox.run_helper("get", stdin="gcr.io")
        issued = google.issued["iam"]
        answers = [secret_of(done) == issued[0] for done in [*results, again]]
        assert answers == [True] * 9
        assert google.rejections == []
        assert github.audiences == [audience]
        assert (github.calls, google.calls["sts"], google.calls["iam"]) == (1, 1, 1)


def test_a_cached_get_in_a_github_job_loads_no_http_or_sdk(sandbox, aws, github):
    assert secret_of(sandbox.run_helper("get", stdin=HOST)) == aws.password
    env = dict(sandbox.env, PYTHONPROFILEIMPORTTIME="1")
    done = sandbox.run_helper("get", stdin=HOST, env=env)
    assert secret_of(done) == aws.password and github.calls == 1
    imported = [line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()]
    if "docker_credential_truss.resolver" not in imported:
        pytest.skip("this executable does not honour PYTHONPROFILEIMPORTTIME (frozen?)")
    ours = imported[imported.index("docker_credential_truss") :]  # not site's (editable) own
    heavy = ("botocore", "urllib", "http", "subprocess", "docker_credential_truss.webclient")
    assert [m for m in ours if m.split(".")[0] in heavy or m in heavy] == []


@pytest.mark.parametrize(
    "variable",
    [
        "DOCKER_CREDENTIAL_TRUSS_AWS_WEB_IDENTITY_TOKEN",
        "CIRCLE_OIDC_TOKEN_V2",
        "BITBUCKET_STEP_OIDC_TOKEN",
    ],
)
def test_a_token_in_each_ci_variable(sandbox, aws, variable):
    sandbox.env["DOCKER_CREDENTIAL_TRUSS_DEBUG"] = "1"
    token = make_jwt(**job_claims("sts.amazonaws.com"))
    sandbox.env[variable] = token
    done = sandbox.run_helper("get", stdin=HOST)
    assert secret_of(done) == aws.password
    assert aws.count(ASSUME_ROLE_WEB) == 1
    assert leaked([debug_log(sandbox), done.stdout + done.stderr], [token]) == []


def test_buildkite_through_its_agent(sandbox, aws):
    token = make_jwt(**job_claims("sts.amazonaws.com"))
    agent = sandbox.root / "bin" / "buildkite-agent"
    agent.parent.mkdir()
    args = sandbox.root / "agent-args"
    agent.write_text(f'#!/bin/sh\necho "$@" >> {args}\necho {token}\n')
    agent.chmod(0o755)
    sandbox.env["PATH"] = f"{sandbox.env['PATH']}:{agent.parent}"
    sandbox.env["BUILDKITE_JOB_ID"] = "0190-job"
    for _ in range(2):
        assert secret_of(sandbox.run_helper("get", stdin=HOST)) == aws.password
    assert args.read_text() == "oidc request-token --audience sts.amazonaws.com\n"
    assert aws.count(ASSUME_ROLE_WEB) == 1


@pytest.mark.parametrize("where", ["file", "variable"])
def test_a_refused_token_then_a_good_one_is_tried_at_once(sandbox, aws, where):
    """The failure memory covers the token's content: a new token is tried now."""
    path = sandbox.root / "ci-token"

    def present(token: str) -> None:
        if where == "file":
            path.write_text(token)
            sandbox.env["AWS_WEB_IDENTITY_TOKEN_FILE"] = str(path)
        else:
            sandbox.env["DOCKER_CREDENTIAL_TRUSS_AWS_WEB_IDENTITY_TOKEN"] = token

    present(make_jwt(**job_claims("sts.amazonaws.com", "repo:octo-org/octo-repo:pull_request")))
    why = not_found(sandbox.run_helper("get", stdin=HOST))
    assert why.endswith(f"for role {ROLE} (InvalidIdentityToken)")
    if where == "file":
        assert f"the token file {path} (AWS_WEB_IDENTITY_TOKEN_FILE)" in why
    assert "remembered from" in not_found(sandbox.run_helper("get", stdin=HOST))
    assert aws.count(ASSUME_ROLE_WEB) == 1, "the same token is not sent again at once"
    present(make_jwt(**job_claims("sts.amazonaws.com")))
    assert secret_of(sandbox.run_helper("get", stdin=HOST)) == aws.password
    assert aws.count(ASSUME_ROLE_WEB) == 2


def test_a_silent_github_endpoint_fails_the_get_on_the_request_timeout(sandbox, aws, github):
    github.delay = 5.0
    sandbox.env["DOCKER_CREDENTIAL_TRUSS_TIMEOUT"] = "1"
    why = not_found(sandbox.run_helper("get", stdin=HOST))
    # the request's own timeout fired (not the mint's deadline, which says "too slow")
    assert why.endswith(
        "cannot reach GitHub Actions' token endpoint (ACTIONS_ID_TOKEN_REQUEST_URL,"
        " audience sts.amazonaws.com): no answer within 1s"
    )
    assert (github.calls, aws.count(ASSUME_ROLE_WEB)) == (1, 0), "silence is not retried"


def test_a_token_minted_for_one_job_is_not_served_to_another(sandbox, aws):
    other_subject = "repo:octo-org/octo-repo:environment:prod"
    job_a = make_jwt(**job_claims("sts.amazonaws.com"))
    job_b = make_jwt(**job_claims("sts.amazonaws.com", other_subject))
    variable = "DOCKER_CREDENTIAL_TRUSS_AWS_WEB_IDENTITY_TOKEN"
    sandbox.env[variable] = job_a
    assert secret_of(sandbox.run_helper("get", stdin=HOST)) == aws.password
    # job B's subject is trusted too, but gets its own credential, not job A's
    aws.roles[ROLE].web_claims = dict(TRUST, sub=other_subject)
    sandbox.env[variable] = job_b
    assert secret_of(sandbox.run_helper("get", stdin=HOST)) == aws.password
    assert aws.count(ASSUME_ROLE_WEB) == 2
    # a renewed token of job A (new jti and times) is the same job: served from the cache
    sandbox.env[variable] = make_jwt(**job_claims("sts.amazonaws.com"))
    assert secret_of(sandbox.run_helper("get", stdin=HOST)) == aws.password
    assert aws.count(ASSUME_ROLE_WEB) == 2


def test_no_ci_token_for_gcp_names_every_place_looked(sandbox):
    configure(sandbox, GCP_TRUSS)
    why = not_found(sandbox.run_helper("get", stdin="gcr.io"))
    for place in ("GCP_OIDC_TOKEN_FILE", "ACTIONS_ID_TOKEN_REQUEST_URL", "CIRCLE_OIDC_TOKEN_V2"):
        assert place in why
    assert "BITBUCKET_STEP_OIDC_TOKEN" in why and "buildkite-agent" in why


def test_doctor_shows_the_github_tokens_claims_as_what_the_role_must_trust(sandbox, aws, github):
    sandbox.env["DOCKER_CREDENTIAL_TRUSS_DEBUG"] = "1"
    done = sandbox.run_helper("doctor", args=["--no-registry", HOST])
    report = done.stdout
    assert done.returncode == 0, report
    expected = [
        "  ok    CI OIDC token: from GitHub Actions' token endpoint"
        " (ACTIONS_ID_TOKEN_REQUEST_URL, audience sts.amazonaws.com)",
        f"  --    the trust policy of {ROLE} (and its IAM OIDC provider) must admit"
        " (decoded, not verified):",
        f"  --      iss {ISSUER}",
        "  --      aud sts.amazonaws.com",
        f"  --      sub {SUBJECT}",
    ]
    lines = report.splitlines()
    start = lines.index(expected[0])
    assert lines[start : start + 5] == expected
    assert "https://oidc.baseten.co" in report and "  WARN  " not in report
    assert "credential: made one now for user AWS" in report
    # the token whose claims are shown is the one the credential is minted with
    assert (github.calls, aws.count(ASSUME_ROLE_WEB)) == (1, 1)
    texts = [report + done.stderr, debug_log(sandbox)]
    assert leaked(texts, [github.request_token, *github.issued, aws.password]) == []


def test_doctor_offline_names_every_place_it_looked(sandbox, aws):
    report = sandbox.run_helper("doctor", args=["--offline", HOST]).stdout
    assert "CI OIDC token: none; looked at DOCKER_CREDENTIAL_TRUSS_AWS_WEB_IDENTITY_TOKEN_FILE" in (
        report
    )

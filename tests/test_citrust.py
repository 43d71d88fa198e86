"""doctor's OIDC section: the source found, the token's claims, and the warnings.

The providers are the real ones, made from settings and an environment holding the
CI's variables; GitHub's endpoint is tests/fakes/github.py. ``now`` is a parameter,
so expiry needs no sleeping.
"""

from __future__ import annotations

import time

import pytest
from fakes.github import ISSUER, SUBJECT, FakeGitHub, job_claims, make_jwt

from docker_credential_truss import citrust
from docker_credential_truss.paths import Paths
from docker_credential_truss.providers import Spec, aws, gcp
from docker_credential_truss.registry import parse
from docker_credential_truss.secrets import Secrets

ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
ROLE = "arn:aws:iam::123456789012:role/ci-puller"
AWS_SETTINGS = {"aws_oidc_role_arn": ROLE, "aws_oidc_region": "us-east-1"}
WIP = "projects/123456789/locations/global/workloadIdentityPools/ci-pool/providers/github"
ACCOUNT = "puller@proj-1.iam.gserviceaccount.com"
GCP_SETTINGS = {"gcp_oidc_workload_id_provider": WIP, "gcp_oidc_service_account": ACCOUNT}
TOKEN_VARIABLE = "DOCKER_CREDENTIAL_TRUSS_AWS_WEB_IDENTITY_TOKEN"


class Findings:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def ok(self, text: str) -> None:
        self.lines.append(("ok", text))

    def note(self, text: str) -> None:
        self.lines.append(("--", text))

    def warn(self, text: str, fix: str) -> None:
        self.lines.append(("WARN", f"{text} | fix: {fix}"))

    def fail(self, text: str, fix: str) -> None:
        self.lines.append(("FAIL", f"{text} | fix: {fix}"))

    def of(self, kind: str) -> list[str]:
        return [text for k, text in self.lines if k == kind]


def run(tmp_path, env, method="AWS_OIDC", offline=False, now=None) -> Findings:
    paths = Paths.from_env({"HOME": str(tmp_path)})
    if method == "AWS_OIDC":
        settings = AWS_SETTINGS
        provider = aws.make(Spec(parse(ECR), method, settings, Secrets(env, paths), env))
    else:
        settings = GCP_SETTINGS
        provider = gcp.make(Spec(parse("gcr.io"), method, settings, Secrets(env, paths), env))
    found = Findings()
    citrust.check(found, provider, method, settings, env, offline, now or time.time())
    return found


def test_the_claims_are_shown_as_what_the_trust_policy_must_admit(tmp_path):
    claims = job_claims("sts.amazonaws.com")
    found = run(tmp_path, {TOKEN_VARIABLE: make_jwt(**claims)})
    assert found.of("ok") == [f"CI OIDC token: from ${TOKEN_VARIABLE}"]
    notes = found.of("--")
    assert notes[0] == f"the trust policy of {ROLE} (and its IAM OIDC provider) must admit" + (
        " (decoded, not verified):"
    )
    assert notes[1:5] == [
        f"  iss {ISSUER}",
        "  aud sts.amazonaws.com",
        f"  sub {SUBJECT}",
        "  exp " + time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(claims["exp"])),
    ]
    assert "https://oidc.baseten.co" in notes[5]
    assert found.of("WARN") == [] and found.of("FAIL") == []


def test_an_expired_token_and_another_audience_are_warned_about(tmp_path):
    claims = job_claims("my-org-id")
    found = run(tmp_path, {"CIRCLE_OIDC_TOKEN_V2": make_jwt(**claims)}, now=claims["exp"] + 1)
    warnings = found.of("WARN")
    assert warnings[0].startswith("the CI token expired at ")
    assert warnings[1].startswith(
        "the token's audience is not sts.amazonaws.com, the default for AWS_OIDC"
    )
    assert "DOCKER_CREDENTIAL_TRUSS_AWS_OIDC_AUDIENCE" in warnings[1]


def test_google_accepts_either_spelling_of_the_default_audience(tmp_path):
    for prefix in ("https://iam.googleapis.com/", "//iam.googleapis.com/"):
        token = make_jwt(**job_claims(prefix + WIP))
        found = run(tmp_path, {"DOCKER_CREDENTIAL_TRUSS_GCP_OIDC_TOKEN": token}, "GCP_OIDC")
        assert found.of("WARN") == [], prefix
        assert found.of("--")[0].startswith(f"workload identity provider {WIP} (and {ACCOUNT}'s")


def test_no_source_names_every_place_looked(tmp_path):
    (note,) = run(tmp_path, {}).of("--")
    assert note.startswith("CI OIDC token: none; looked at DOCKER_CREDENTIAL_TRUSS_AWS_WEB")
    assert "BITBUCKET_STEP_OIDC_TOKEN" in note and "AssumeRole" in note


def test_github_is_asked_online_and_not_offline(tmp_path):
    with FakeGitHub() as github:
        offline = run(tmp_path, github.env(), offline=True)
        assert github.calls == 0
        assert offline.of("--") == [
            "CI OIDC token: not asked for (--offline), so its claims are not shown"
        ]
        online = run(tmp_path, github.env())
        assert github.calls == 1 and github.audiences == ["sts.amazonaws.com"]
        assert f"  sub {SUBJECT}" in online.of("--")
        shown = "\n".join(text for _, text in online.lines)
        assert github.issued[0] not in shown and github.request_token not in shown


def test_a_refusal_is_a_failure_with_the_reason(tmp_path):
    with FakeGitHub() as github:
        env = dict(github.env(), ACTIONS_ID_TOKEN_REQUEST_TOKEN="wrong")
        (failure,) = run(tmp_path, env).of("FAIL")
    assert "refused the request: HTTP 401" in failure


@pytest.mark.parametrize("sub", ["line\nbreak\x1b[31m", "x" * 500])
def test_claims_are_shown_on_one_line_without_control_characters(tmp_path, sub):
    token = make_jwt(**job_claims("sts.amazonaws.com", sub))
    shown = next(t for t in run(tmp_path, {TOKEN_VARIABLE: token}).of("--") if "  sub " in t)
    assert shown.isprintable() and len(shown) < 220


def test_a_token_that_is_not_a_jwt_is_warned_about(tmp_path):
    found = run(tmp_path, {TOKEN_VARIABLE: "not-a-jwt"})
    assert found.of("WARN")[0].startswith("the CI token is not a JWT")

"""What ``doctor`` tells a person about an AWS set-up, in the AWS provider's own words.

doctor's OIDC section (citrust) names what signs when no CI token is found, where a
token of another audience must be accepted, and what a role used from CI and from
Baseten's builder must trust; its secrets section says who signs when the key pair
is absent and the default chain is opted in. Checked whole, in-process.
"""

from __future__ import annotations

import os
import time

import pytest
from fakes.github import job_claims, make_jwt

from docker_credential_truss import citrust
from docker_credential_truss.paths import Paths
from docker_credential_truss.providers import Spec, aws, citoken
from docker_credential_truss.registry import parse
from docker_credential_truss.secrets import Secrets

HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
ROLE = "arn:aws:iam::123456789012:role/ci-puller"
SETTINGS = {"aws_oidc_role_arn": ROLE, "aws_oidc_region": "us-east-1"}


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


def oidc_section(tmp_path, env) -> Findings:
    paths = Paths.from_env({"HOME": str(tmp_path)})
    provider = aws.make(Spec(parse(HOST), "AWS_OIDC", SETTINGS, Secrets(env, paths), env))
    found = Findings()
    citrust.check(found, provider, "AWS_OIDC", SETTINGS, env, True, time.time())
    return found


def test_without_a_ci_token_doctor_says_assume_role_signs_instead(tmp_path):
    (note,) = oidc_section(tmp_path, {}).of("--")
    assert note.endswith(
        "; STS AssumeRole is signed with the truss key pair or boto3's credentials instead"
    )


def test_a_token_for_another_audience_is_to_be_accepted_by_the_roles_oidc_provider(tmp_path):
    found = oidc_section(tmp_path, {"CIRCLE_OIDC_TOKEN_V2": make_jwt(**job_claims("my-org"))})
    (warning,) = found.of("WARN")
    assert warning == (
        "the token's audience is not sts.amazonaws.com, the default for AWS_OIDC | fix: accept"
        " it in the role's IAM OIDC provider, or have the CI issue the token for"
        " sts.amazonaws.com (DOCKER_CREDENTIAL_TRUSS_AWS_OIDC_AUDIENCE sets what the helper"
        " asks GitHub and Buildkite for)"
    )
    notes = found.of("--")
    assert notes[0] == (
        f"the trust policy of {ROLE} (and its IAM OIDC provider) must admit"
        " (decoded, not verified):"
    )
    assert notes[-1] == (
        f"on Baseten's hosted builder this config presents issuer {citoken.BASETEN_ISSUER}"
        " instead: used there and from CI, the role must trust both issuers (an IAM OIDC"
        " provider for each)"
    )


@pytest.fixture
def clean(monkeypatch):
    for name in list(os.environ):
        if name.startswith(("AWS_", "TRUSS_SECRET", "DOCKER_CREDENTIAL_TRUSS")):
            monkeypatch.delenv(name)


def test_doctor_says_the_default_chain_signs_without_the_key_pair(cli, env, clean):
    run = cli("configure", "--registry", HOST, "--auth-method", "AWS_IAM")
    assert run.code == 0, run.err
    run = cli("doctor", "--offline", extra={aws.DEFAULT_CHAIN_VARIABLE: "1"})
    assert (
        "secret aws_access_key_id: not set; DOCKER_CREDENTIAL_TRUSS_AWS_DEFAULT_CHAIN=1, so"
        " boto3's default credentials sign (environment, profiles, SSO, instance role)"
    ) in run.out

"""doctor's advice about a CI token whose audience is not the cloud's default, and about
Baseten's hosted builder, word for word for each OIDC method: what to change and where.

The providers are the real ones (tests/test_citrust.py drives the same section).
"""

from __future__ import annotations

import time

from fakes.github import job_claims, make_jwt
from test_citrust import GCP_SETTINGS, WIP, run

from docker_credential_truss.providers import citoken

GOOGLE_DEFAULT = citoken.GOOGLE_AUDIENCE_PREFIX + WIP


def advice(tmp_path, method: str, variable: str) -> tuple[list[str], str]:
    token = make_jwt(**job_claims("my-org-id"))
    found = run(tmp_path, {variable: token}, method, now=time.time())
    return found.of("WARN"), found.of("--")[-1]


def test_google_advice_names_the_workload_identity_provider_and_the_service_account(tmp_path):
    warnings, baseten = advice(tmp_path, "GCP_OIDC", "DOCKER_CREDENTIAL_TRUSS_GCP_OIDC_TOKEN")
    assert warnings == [
        f"the token's audience is not {GOOGLE_DEFAULT}, the default for GCP_OIDC | fix: accept"
        " it in the workload identity provider, or have the CI issue the token for"
        f" {GOOGLE_DEFAULT} (DOCKER_CREDENTIAL_TRUSS_GCP_OIDC_AUDIENCE sets what the helper"
        " asks GitHub and Buildkite for)"
    ]
    assert baseten == (
        "on Baseten's hosted builder this config presents issuer https://oidc.baseten.co"
        " instead: used there and from CI, the service account must admit a provider for"
        " each issuer"
    )


def test_aws_advice_names_the_roles_oidc_provider(tmp_path):
    warnings, baseten = advice(
        tmp_path, "AWS_OIDC", "DOCKER_CREDENTIAL_TRUSS_AWS_WEB_IDENTITY_TOKEN"
    )
    assert warnings == [
        "the token's audience is not sts.amazonaws.com, the default for AWS_OIDC | fix: accept"
        " it in the role's IAM OIDC provider, or have the CI issue the token for"
        " sts.amazonaws.com (DOCKER_CREDENTIAL_TRUSS_AWS_OIDC_AUDIENCE sets what the helper"
        " asks GitHub and Buildkite for)"
    ]
    assert baseten == (
        "on Baseten's hosted builder this config presents issuer https://oidc.baseten.co"
        " instead: used there and from CI, the role must trust both issuers (an IAM OIDC"
        " provider for each)"
    )


def test_google_without_a_token_says_where_it_looked_and_what_follows(tmp_path):
    (note,) = run(tmp_path, {}, "GCP_OIDC").of("--")
    assert note == (
        f"CI OIDC token: none; looked at {citoken.GCP.places()}; GCP_OIDC cannot work without one"
    )


def test_google_names_the_provider_and_the_service_accounts_role(tmp_path):
    token = make_jwt(**job_claims(GOOGLE_DEFAULT))
    found = run(tmp_path, {"DOCKER_CREDENTIAL_TRUSS_GCP_OIDC_TOKEN": token}, "GCP_OIDC")
    account = GCP_SETTINGS["gcp_oidc_service_account"]
    assert found.of("--")[0] == (
        f"workload identity provider {WIP} (and {account}'s workloadIdentityUser) must admit"
        " (decoded, not verified):"
    )

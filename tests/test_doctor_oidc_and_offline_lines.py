"""doctor --offline's lines for what it reads without the network, word for word:

- an OIDC method's CI token: where it was found and the claims the trust must admit;
- a credential whose inputs are well-formed: said so, and not minted;
- a service-account key whose private key is no usable PEM: a FAIL before the network
  (the provider's preflight), with the fix for a secret's value.

In-process through ``cli.main``; the CI token is a JWT of tests/fakes/github.py.
"""

from __future__ import annotations

import json
import os

from fakes.github import ISSUER, SUBJECT, job_claims, make_jwt

from docker_credential_truss import config

ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
ROLE = "arn:aws:iam::123456789012:role/ci-puller"
AR = "us-west2-docker.pkg.dev"


def lines_of(run) -> list[str]:  # type: ignore[no-untyped-def]
    return run.out.splitlines()


def configure_oidc(paths) -> None:  # type: ignore[no-untyped-def]
    """ECR with AWS_OIDC in the helper config: the role, its region, no source."""
    config.merge(
        paths,
        {
            ECR: {
                "auth_method": "AWS_OIDC",
                "aws_oidc_role_arn": ROLE,
                "aws_oidc_region": "us-east-1",
            }
        },
    )


def test_an_oidc_methods_ci_token_is_shown_by_source_and_claims(cli, paths):
    configure_oidc(paths)
    token = make_jwt(**job_claims("sts.amazonaws.com"))
    run = cli(
        "doctor", ECR, "--offline", extra={"DOCKER_CREDENTIAL_TRUSS_AWS_WEB_IDENTITY_TOKEN": token}
    )
    lines = lines_of(run)
    at = lines.index("  ok    CI OIDC token: from $DOCKER_CREDENTIAL_TRUSS_AWS_WEB_IDENTITY_TOKEN")
    assert lines[at + 1 : at + 5] == [
        f"  --    the trust policy of {ROLE} (and its IAM OIDC provider) must admit (decoded,"
        " not verified):",
        f"  --      iss {ISSUER}",
        "  --      aud sts.amazonaws.com",
        f"  --      sub {SUBJECT}",
    ]
    assert lines[at + 5].startswith("  --      exp ") and lines[at + 5].endswith(" UTC")
    assert (
        "  --    credential: inputs read and well-formed (user AWS); not minted (--offline)"
        in lines
    )
    assert "  --    registry: not contacted (--offline)" in lines
    assert token not in run.out


def test_a_key_pair_method_shows_no_ci_token_section(cli, paths):
    config.merge(paths, {ECR: {"auth_method": "AWS_IAM"}})
    extra = {
        "TRUSS_SECRET_aws_access_key_id": "AKIASENTINEL0000DOC1",
        "TRUSS_SECRET_aws_secret_access_key": "SENTINEL-doctor-offline-aws-2c4d",
    }
    run = cli("doctor", ECR, "--offline", extra=extra)
    assert "CI OIDC token" not in run.out
    assert "  --    credential: inputs read and well-formed (user AWS); not minted (--offline)" in (
        lines_of(run)
    )


def test_a_key_whose_private_key_is_no_pem_fails_offline_with_the_fix_for_a_value(cli, paths):
    config.merge(paths, {AR: {"auth_method": "GCP_SERVICE_ACCOUNT_JSON", "secret_name": "sa"}})
    key = {
        "type": "service_account",
        "project_id": "proj-1",
        "private_key_id": "0" * 40,
        "private_key": (
            "-----BEGIN PRIVATE KEY-----\nU0VOVElORUwtbm90LWEta2V5\n-----END PRIVATE KEY-----\n"
        ),
        "client_email": "puller@proj-1.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    run = cli("doctor", AR, "--offline", extra={"TRUSS_SECRET_sa": json.dumps(key)})
    assert run.code == 1
    lines = lines_of(run)
    at = lines.index(
        f"  FAIL  {AR}: secret sa holds a service-account key whose private_key is not a usable"
        " PEM RSA key"
    )
    assert lines[at + 1] == "        fix: correct the secret's value where it is kept (named above)"
    assert "credential: inputs read and well-formed" not in run.out


def test_a_token_for_another_audience_is_warned_about_naming_the_method(cli, paths):
    configure_oidc(paths)
    token = make_jwt(**job_claims("api://other"))
    run = cli(
        "doctor", ECR, "--offline", extra={"DOCKER_CREDENTIAL_TRUSS_AWS_WEB_IDENTITY_TOKEN": token}
    )
    assert any(
        line.startswith(
            "  WARN  the token's audience is not sts.amazonaws.com, the default for AWS_OIDC"
        )
        for line in lines_of(run)
    ), run.out


def test_offline_never_asks_the_cis_token_endpoint(cli, paths):
    from fakes.github import FakeGitHub

    configure_oidc(paths)
    with FakeGitHub() as github:
        run = cli("doctor", ECR, "--offline", extra=github.env())
        calls = github.calls
    assert calls == 0
    assert (
        "  --    CI OIDC token: not asked for (--offline), so its claims are not shown"
        in lines_of(run)
    ), run.out


def test_a_stalled_mint_is_abandoned_naming_the_registry(cli, monkeypatch):
    import threading

    from docker_credential_truss.providers import static

    def stalled(self):  # type: ignore[no-untyped-def]
        threading.Event().wait(5)  # the deadline's alarm ends the wait

    monkeypatch.setattr(static.StaticProvider, "mint", stalled)
    host = "registry.example.com"
    extra = {
        f"TRUSS_SECRET_DOCKER_REGISTRY_{host}": "dTpTRU5USU5FTC1zdGFsbA==",
        "DOCKER_CREDENTIAL_TRUSS_TIMEOUT": "0.1",
    }
    run = cli("doctor", host, extra=extra)
    assert run.code == 1
    lines = lines_of(run)
    at = lines.index(
        f"  FAIL  {host}: no credential within 0.6s; the endpoint is too slow"
        " (6 x DOCKER_CREDENTIAL_TRUSS_TIMEOUT)"
    )
    assert lines[at + 1] == (
        "        fix: check the account's permissions, the endpoint and the network;"
        " DOCKER_CREDENTIAL_TRUSS_DEBUG=1 keeps a log"
    )


def test_a_ci_token_file_that_cannot_be_read_is_reported_once_by_the_credential(
    cli, paths, tmp_path
):
    token_file = tmp_path / "token"
    os.symlink("token", token_file)  # a loop: ELOOP
    configure_oidc(paths)
    run = cli("doctor", ECR, "--offline", extra={"AWS_WEB_IDENTITY_TOKEN_FILE": str(token_file)})
    assert run.code == 1
    lines = lines_of(run)
    at = lines.index(f"  --    settings: aws_oidc_role_arn={ROLE}, aws_oidc_region=us-east-1")
    assert lines[at + 1 : at + 5] == [
        f"  FAIL  {ECR}: cannot read the token file {token_file} (AWS_WEB_IDENTITY_TOKEN_FILE):"
        " Too many levels of symbolic links",
        "        fix: check the account's permissions, the endpoint and the network;"
        " DOCKER_CREDENTIAL_TRUSS_DEBUG=1 keeps a log",
        "  --    registry: not contacted (--offline)",
        "  --    token cache: nothing cached",
    ]

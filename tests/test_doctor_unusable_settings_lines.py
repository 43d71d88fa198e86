"""doctor's lines for settings truss accepts that cannot work for the registry, word for
word, in-process: the method's settings shown by name and value, the FAIL that says why
they cannot work, its fix naming the truss config they came from (else the helper
config), and no credential tried.

No secret is involved: the settings alone are judged (what ``configure`` warns about).
"""

from __future__ import annotations

from docker_credential_truss import config

ROLE = "arn:aws:iam::123456789012:role/ci-puller"
ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
HOST = "registry.example.test"
SOURCE = "/srv/my-truss/config.yaml"


def lines_of(run) -> list[str]:  # type: ignore[no-untyped-def]
    return run.out.splitlines()


def test_an_ecr_method_for_another_host_fails_naming_the_truss_config(cli, paths):
    config.merge(
        paths,
        {
            HOST: {
                "auth_method": "AWS_OIDC",
                "aws_oidc_role_arn": ROLE,
                "aws_oidc_region": "us-east-1",
                "source": SOURCE,
            }
        },
    )
    run = cli("doctor", HOST, "--offline")
    assert run.code == 1
    lines = lines_of(run)
    at = lines.index(f"  ok    auth method AWS_OIDC: configured from {SOURCE}")
    assert lines[at + 1 :] == [
        f"  --    settings: aws_oidc_role_arn={ROLE}, aws_oidc_region=us-east-1",
        f"  FAIL  {HOST}: AWS_OIDC works only with Amazon ECR hosts"
        " (<account>.dkr.ecr.<region>.amazonaws.com and the other ECR forms, or public.ecr.aws)",
        f"        fix: correct auth_method or registry in {SOURCE}, then configure again",
        "  --    credential: not tried, the settings cannot work",
        "  --    token cache: nothing cached",
        "",
        "3 problems found; each FAIL above says how to fix it",
    ]


def test_settings_without_a_source_name_the_helper_config_in_the_fix(cli, paths):
    config.merge(paths, {ECR: {"auth_method": "AWS_OIDC", "aws_oidc_role_arn": ROLE}})
    run = cli("doctor", ECR, "--offline")
    assert run.code == 1
    lines = lines_of(run)
    at = lines.index("  ok    auth method AWS_OIDC: configured from the helper config")
    assert lines[at + 1 : at + 6] == [
        f"  --    settings: aws_oidc_role_arn={ROLE}",
        f"  FAIL  {ECR}: AWS_OIDC needs aws_oidc_role_arn and aws_oidc_region in the truss"
        " config's docker_auth; run `docker-credential-truss configure` again",
        "        fix: correct auth_method or registry in the helper config, then configure again",
        "  --    credential: not tried, the settings cannot work",
        "  --    token cache: nothing cached",
    ]

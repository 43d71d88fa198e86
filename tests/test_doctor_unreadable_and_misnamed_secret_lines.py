"""doctor's lines when a secret cannot be read or is not where get looks, word for word,
in-process: a secret file that cannot be read (a FAIL naming it, and the next secret
still checked), a key-pair secret missing (its ways to set it, none a ``docker login``,
the fix's ``docker pull`` of the configured image), a ~/.truss/config.yaml that cannot be
read (the FAIL that stops get), and a registry secret one slip from its name.

Values are sentinels; none is a real credential.
"""

from __future__ import annotations

import os

from test_doctor import REG

from docker_credential_truss import config

ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com"


def lines_of(run) -> list[str]:  # type: ignore[no-untyped-def]
    return run.out.splitlines()


def test_an_unreadable_secret_file_fails_and_the_next_secret_is_still_checked(cli, paths, tmp_path):
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    os.symlink("aws_access_key_id", secrets_dir / "aws_access_key_id")  # a loop: ELOOP
    config.merge(paths, {ECR: {"auth_method": "AWS_IAM", "image": f"{ECR}/app:1"}})
    run = cli("doctor", ECR, "--offline", extra={"TRUSS_SECRETS_DIR": str(secrets_dir)})
    assert run.code == 1
    lines = lines_of(run)
    at = lines.index("  ok    auth method AWS_IAM: configured from the helper config")
    assert lines[at + 1 :] == [
        f"  FAIL  cannot read secret file {secrets_dir}/aws_access_key_id:"
        " Too many levels of symbolic links",
        "        fix: fix the file it names",
        "  FAIL  secret aws_secret_access_key is missing; looked in"
        f" $TRUSS_SECRET_aws_secret_access_key, {secrets_dir}/aws_secret_access_key,"
        f" {paths.truss_config} (secrets:), {paths.store}",
        "        fix: any one of these:",
        "          mkdir -p \"$TRUSS_SECRETS_DIR\" && printf %s 'VALUE' >"
        " \"$TRUSS_SECRETS_DIR\"/'aws_secret_access_key'",
        f"          in {paths.truss_config}, under secrets:   'aws_secret_access_key': VALUE",
        f'          env "TRUSS_SECRET_aws_secret_access_key=VALUE" docker pull {ECR}/app:1',
        "  --    credential: not tried, a secret is missing",
        "  --    token cache: nothing cached",
        "",
        "4 problems found; each FAIL above says how to fix it",
    ]


def test_an_unreadable_truss_config_stops_the_registry_with_its_fix(cli, paths):
    os.makedirs(os.path.dirname(paths.truss_config), exist_ok=True)
    with open(paths.truss_config, "w") as handle:
        handle.write("secrets: [1, 2]\n")
    run = cli("doctor", REG, "--offline")
    assert run.code == 1
    lines = lines_of(run)
    at = lines.index(f"  FAIL  'secrets' in {paths.truss_config} should be a map of name: value")
    assert lines[at + 1 : at + 3] == [
        "        fix: fix the file it names, then run doctor again",
        "  --    token cache: nothing cached",
    ]


def test_a_registry_secret_in_the_wrong_case_is_named_under_no_way_to_authenticate(
    cli, paths, truss_secrets
):
    truss_secrets({f"docker_registry_{REG}": "SENTINEL-misnamed-5e1"})
    run = cli("doctor", REG, "--offline")
    assert run.code == 1
    lines = lines_of(run)
    at = lines.index(
        "  FAIL  no way to authenticate: not in the helper config, and no secret"
        f" DOCKER_REGISTRY_{REG}"
    )
    assert lines[at + 2 : at + 4] == [
        f"  --    did you mean 'docker_registry_{REG}' (in {paths.truss_config})?"
        " names are case-sensitive",
        "  --    token cache: nothing cached",
    ]
    assert "SENTINEL-misnamed-5e1" not in run.out


def test_an_unreadable_secret_alone_still_keeps_the_credential_from_being_tried(
    cli, paths, tmp_path
):
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    os.symlink("aws_secret_access_key", secrets_dir / "aws_secret_access_key")  # ELOOP
    config.merge(paths, {ECR: {"auth_method": "AWS_IAM"}})
    extra = {
        "TRUSS_SECRETS_DIR": str(secrets_dir),
        "TRUSS_SECRET_aws_access_key_id": "AKIASENTINEL0000A1B2",
    }
    run = cli("doctor", ECR, "--offline", extra=extra)
    assert run.code == 1
    lines = lines_of(run)
    at = lines.index("  ok    auth method AWS_IAM: configured from the helper config")
    assert lines[at + 1 : at + 6] == [
        "  ok    secret aws_access_key_id: found in environment variable"
        " TRUSS_SECRET_aws_access_key_id",
        f"  FAIL  cannot read secret file {secrets_dir}/aws_secret_access_key:"
        " Too many levels of symbolic links",
        "        fix: fix the file it names",
        "  --    credential: not tried, a secret is missing",
        "  --    token cache: nothing cached",
    ]
    assert "AKIASENTINEL" not in run.out

"""What configure says, word for word, about a truss config.yaml it cannot fully use.

Each problem names the part of the file (``base_image``, ``secrets``,
``base_image.docker_auth``) and the file; one bad part does not stop the rest from
being imported. In-process, through the CLI's entry point.
"""

from __future__ import annotations

import os

import pytest

from docker_credential_truss import config

GAR = "us-docker.pkg.dev"


def a_truss(tmp_path, text: str) -> str:
    directory = tmp_path / "my-truss"
    directory.mkdir()
    (directory / "config.yaml").write_text(text)
    return str(directory / "config.yaml")


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("base_image: [x]\n", "base_image in {path}: should be a mapping"),
        (
            "base_image: {image: ghcr.io/o/i:1, tag: 1, build: 2}\n",
            "base_image in {path}: unknown field build, tag (truss push refuses it)",
        ),
        ("base_image: {image: 5}\n", "base_image in {path}: image should be a string"),
        (
            "secrets: [DOCKER_REGISTRY_ghcr.io]\n",
            "secrets in {path}: should be a map of name: value (truss refuses it)",
        ),
        (
            "base_image:\n  image: ghcr.io/o/i:1\n"
            "  docker_auth: {auth_method: AWS_IAM, x: 1, y: 2}\n",
            "base_image.docker_auth in {path}: unknown field x, y (truss push refuses it)",
        ),
        (
            "base_image:\n  image: ghcr.io/o/i:1\n  docker_auth: {auth_method: BASIC}\n",
            "base_image.docker_auth in {path}: auth_method must be one of AWS_IAM, AWS_OIDC,"
            " AWS_ASSUME_ROLE, GCP_SERVICE_ACCOUNT_JSON, GCP_OIDC, REGISTRY_SECRET",
        ),
        (
            "base_image:\n  image: ghcr.io/o/i:1\n"
            "  docker_auth: {auth_method: AWS_IAM, aws_access_key_id_secret_name: null}\n",
            "base_image.docker_auth in {path}: aws_access_key_id_secret_name should be"
            " a string (not null)",
        ),
        (
            "base_image:\n  image: ghcr.io/o/i:1\n"
            "  docker_auth: {auth_method: AWS_IAM, registry: 5}\n",
            "base_image.docker_auth in {path}: registry should be a string or null",
        ),
        (
            "base_image:\n  image: ghcr.io/o/i:1\n  docker_auth: {auth_method: AWS_OIDC}\n",
            "base_image.docker_auth in {path}: aws_oidc_role_arn, aws_oidc_region required"
            " when auth_method is AWS_OIDC",
        ),
        (
            f"base_image:\n  image: {GAR}/p/r/i:1\n  docker_auth:\n"
            "    {auth_method: GCP_SERVICE_ACCOUNT_JSON, secret_name: s,"
            " aws_oidc_region: r, aws_oidc_role_arn: a}\n",
            "base_image.docker_auth in {path}: aws_oidc_role_arn, aws_oidc_region not allowed"
            " when auth_method is GCP_SERVICE_ACCOUNT_JSON",
        ),
        (
            "base_image:\n  image: 'ghcr.io./o/i:1'\n  docker_auth: {auth_method: AWS_IAM}\n",
            "base_image.docker_auth in {path}: base_image.image 'ghcr.io./o/i:1': 'ghcr.io.'"
            " is not a host a docker client can ask for (bad host)",
        ),
        (
            "base_image:\n  image: ghcr.io/o/i:1\n"
            "  docker_auth: {auth_method: REGISTRY_SECRET, registry: 'bad host!'}\n",
            "base_image.docker_auth in {path}: registry: 'bad host!' is not a host a docker"
            " client can ask for (bad host)",
        ),
    ],
)
def test_a_problem_is_one_line_naming_the_part_and_the_file(cli, tmp_path, paths, text, says):
    path = a_truss(tmp_path, text)
    run = cli("configure", path)
    assert run.code == 1
    assert run.err.splitlines()[0] == "error: " + says.format(path=path), run.err
    assert not os.path.exists(paths.helper_config)


def test_a_bad_secret_does_not_stop_the_secrets_after_it(cli, tmp_path, paths):
    path = a_truss(
        tmp_path,
        "secrets:\n  1: x\n  DOCKER_REGISTRY_quay.io: 5\n  DOCKER_REGISTRY_ghcr.io: null\n",
    )
    run = cli("configure", path)
    assert run.code == 1
    assert run.err.splitlines()[:2] == [
        f"error: secrets in {path}: secret name 1 is not a string",
        f"error: secrets in {path}: the value of DOCKER_REGISTRY_quay.io should be a string"
        " or null",
    ]
    assert set(config.load(paths)) == {"ghcr.io"}


def test_a_null_optional_field_does_not_hide_the_fields_after_it(cli, tmp_path, paths):
    path = a_truss(
        tmp_path,
        f"base_image:\n  image: {GAR}/p/r/i:1\n  docker_auth:\n"
        "    {auth_method: GCP_SERVICE_ACCOUNT_JSON, registry: null, secret_name: gcp_key}\n",
    )
    run = cli("configure", path)
    assert run.code == 0, run.err
    assert config.load(paths)[GAR]["secret_name"] == "gcp_key"


def test_docker_auth_without_any_registry_is_a_warning_that_says_what_to_set(cli, tmp_path):
    path = a_truss(tmp_path, "base_image:\n  docker_auth: {auth_method: AWS_IAM}\n")
    run = cli("configure", path)
    assert run.code == 0
    assert run.err.splitlines()[0] == (
        f"warning: base_image.docker_auth in {path}: names no registry (registry is empty and"
        " there is no base_image.image); nothing to import: set registry to the registry's host"
    )


def test_an_empty_config_yaml_is_a_truss_without_registries(cli, tmp_path):
    path = a_truss(tmp_path, "")
    run = cli("configure", path)
    assert run.code == 0
    assert run.err.startswith(f"note: {path} names no private registry")


def test_yaml_that_cannot_be_read_is_refused_naming_the_file(cli, tmp_path):
    path = a_truss(tmp_path, "base_image: [unclosed\n")
    run = cli("configure", path)
    assert run.code == 1
    assert run.err.startswith(f"error: {path}"), run.err

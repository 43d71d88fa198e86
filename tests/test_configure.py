"""configure: truss's validation rules, the helper config, and docker's config.json."""

import json
import os

import pytest

from docker_credential_truss import config


def truss(tmp_path, text, name="my-truss"):
    directory = tmp_path / name
    directory.mkdir()
    (directory / "config.yaml").write_text(text)
    return str(directory)


ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com"


def test_aws_iam_with_custom_secret_names(cli, tmp_path, paths):
    path = truss(
        tmp_path,
        f"""
base_image:
  image: {ECR}/models/base:1
  docker_auth:
    auth_method: aws_iam
    registry: {ECR}
    aws_access_key_id_secret_name: my_key_id
    aws_secret_access_key_secret_name: my_secret_key
secrets:
  my_key_id: null
  my_secret_key: null
""",
    )
    run = cli("configure", path)
    assert run.code == 0, run.out
    entry = config.load(paths)[ECR]
    assert entry["auth_method"] == "AWS_IAM"
    assert entry["aws_access_key_id_secret_name"] == "my_key_id"
    assert entry["source"] == os.path.join(path, "config.yaml")
    with open(paths.docker_config) as handle:
        assert json.load(handle)["credHelpers"] == {ECR: "truss"}


def test_docker_hub_and_token_secrets(cli, tmp_path, paths):
    path = truss(
        tmp_path,
        """
secrets:
  DOCKER_REGISTRY_https://index.docker.io/v1/: null
  DOCKER_REGISTRY_ghcr.io: null
  unrelated: null
""",
    )
    assert cli("configure", os.path.join(path, "config.yaml")).code == 0
    registries = config.load(paths)
    assert set(registries) == {"https://index.docker.io/v1/", "ghcr.io"}
    assert registries["ghcr.io"]["secret_name"] == "DOCKER_REGISTRY_ghcr.io"
    with open(paths.docker_config) as handle:
        assert json.load(handle)["credHelpers"] == {
            "https://index.docker.io/v1/": "truss",
            "docker.io": "truss",
            "ghcr.io": "truss",
        }


def test_keeps_everything_else_in_docker_config(cli, tmp_path, paths):
    os.makedirs(os.path.dirname(paths.docker_config))
    original = {
        "auths": {"quay.io": {"auth": "c2VjcmV0"}},
        "credHelpers": {"gcr.io": "gcloud"},
        "credsStore": "desktop",
        "experimental": "enabled",
    }
    with open(paths.docker_config, "w") as handle:
        json.dump(original, handle)
    os.chmod(paths.docker_config, 0o644)
    path = truss(tmp_path, "secrets: {DOCKER_REGISTRY_ghcr.io: null}\n")
    assert cli("configure", path).code == 0
    with open(paths.docker_config) as handle:
        data = json.load(handle)
    assert data == {**original, "credHelpers": {"gcr.io": "gcloud", "ghcr.io": "truss"}}
    assert os.stat(paths.docker_config).st_mode & 0o777 == 0o644


def test_dry_run_changes_nothing(cli, tmp_path, paths):
    path = truss(tmp_path, "secrets: {DOCKER_REGISTRY_ghcr.io: null}\n")
    run = cli("configure", "--dry-run", path)
    assert run.code == 0
    assert "would" in run.out and "ghcr.io" in run.out
    assert not os.path.exists(paths.docker_config)
    assert not os.path.exists(paths.helper_config)


def test_several_trusses_accumulate(cli, tmp_path, paths):
    one = truss(tmp_path, "secrets: {DOCKER_REGISTRY_ghcr.io: null}\n", "one")
    two = truss(tmp_path, "secrets: {DOCKER_REGISTRY_nvcr.io: null}\n", "two")
    assert cli("configure", one).code == 0
    assert cli("configure", two).code == 0
    assert set(config.load(paths)) == {"ghcr.io", "nvcr.io"}


@pytest.mark.parametrize(
    ("docker_auth", "message"),
    [
        ("{auth_method: GCP_SERVICE_ACCOUNT_JSON}", "secret_name is required"),
        (
            "{auth_method: GCP_SERVICE_ACCOUNT_JSON, secret_name: s, aws_oidc_region: r}",
            "aws_oidc_region is not allowed",
        ),
        ("{auth_method: AWS_OIDC, aws_oidc_role_arn: arn}", "aws_oidc_region is required"),
        ("{auth_method: AWS_OIDC, aws_oidc_role_arn: '', aws_oidc_region: r}", "role_arn is req"),
        ("{auth_method: GCP_OIDC, gcp_oidc_service_account: sa}", "workload_id_provider is req"),
        (
            "{auth_method: GCP_OIDC, gcp_oidc_service_account: a, gcp_oidc_workload_id_provider: p,"
            " secret_name: s}",
            "secret_name is not allowed",
        ),
        ("{auth_method: PASSWORD}", "auth_method must be one of"),
        ("{auth_method: AWS_IAM, registry: other.example.com}", "is not the host of"),
        ("{auth_method: AWS_IAM, registry: 'bad host!'}", "is not a registry host"),
        ("[AWS_IAM]", "should be a mapping"),
    ],
)
def test_truss_validation(cli, tmp_path, paths, docker_auth, message):
    path = truss(tmp_path, f"base_image:\n  image: ghcr.io/o/i:1\n  docker_auth: {docker_auth}\n")
    run = cli("configure", path)
    assert run.code == 1
    assert message in run.out
    assert run.out.count("\n") == 1
    assert not os.path.exists(paths.helper_config)


def test_registry_defaults_to_the_image_host(cli, tmp_path, paths):
    path = truss(
        tmp_path,
        "base_image:\n  image: us-west2-docker.pkg.dev/p/r/i:1\n"
        "  docker_auth: {auth_method: gcp_service_account_json, secret_name: gsa}\n",
    )
    assert cli("configure", path).code == 0
    assert config.load(paths)["us-west2-docker.pkg.dev"]["secret_name"] == "gsa"


def test_docker_hub_image_without_host(cli, tmp_path, paths):
    path = truss(
        tmp_path,
        "base_image:\n  image: myorg/private:1\n"
        "  docker_auth: {auth_method: REGISTRY_SECRET, secret_name: hub}\n",
    )
    assert cli("configure", path).code == 0
    assert "https://index.docker.io/v1/" in config.load(paths)


@pytest.mark.parametrize(
    "text", ["{not: yaml: at all", "- a\n- list\n", "base_image: 3\n", "secrets: [a]\n"]
)
def test_malformed_truss_config(cli, tmp_path, text):
    run = cli("configure", truss(tmp_path, text))
    assert run.code == 1 and run.out.count("\n") == 1


def test_truss_without_registries_is_an_error(cli, tmp_path):
    run = cli("configure", truss(tmp_path, "model_name: plain\n"))
    assert run.code == 1 and "names no private registry" in run.out


def test_missing_path(cli, tmp_path):
    run = cli("configure", str(tmp_path / "nope"))
    assert run.code == 1 and "cannot read truss config" in run.out


def test_no_path_is_usage(cli):
    run = cli("configure")
    assert run.code == 1 and "usage" in run.out


def test_malformed_docker_config_is_left_untouched(cli, tmp_path, paths):
    os.makedirs(os.path.dirname(paths.docker_config))
    with open(paths.docker_config, "w") as handle:
        handle.write('{"auths": {')
    run = cli("configure", truss(tmp_path, "secrets: {DOCKER_REGISTRY_ghcr.io: null}\n"))
    assert run.code == 1 and "not valid JSON" in run.out
    with open(paths.docker_config) as handle:
        assert handle.read() == '{"auths": {'


def test_credhelpers_not_an_object(cli, tmp_path, paths):
    os.makedirs(os.path.dirname(paths.docker_config))
    with open(paths.docker_config, "w") as handle:
        handle.write('{"credHelpers": []}')
    run = cli("configure", truss(tmp_path, "secrets: {DOCKER_REGISTRY_ghcr.io: null}\n"))
    assert run.code == 1 and "credHelpers" in run.out


def test_symlinked_docker_config_stays_a_symlink(cli, tmp_path, paths):
    real = tmp_path / "real-config.json"
    real.write_text("{}")
    os.makedirs(os.path.dirname(paths.docker_config))
    os.symlink(real, paths.docker_config)
    assert cli("configure", truss(tmp_path, "secrets: {DOCKER_REGISTRY_ghcr.io: null}\n")).code == 0
    assert os.path.islink(paths.docker_config)
    assert json.loads(real.read_text())["credHelpers"] == {"ghcr.io": "truss"}


def test_configured_secret_answers_get(cli, tmp_path, truss_secrets):
    import base64

    path = truss(
        tmp_path,
        "base_image:\n  image: ghcr.io/o/i:1\n"
        "  docker_auth: {auth_method: REGISTRY_SECRET, secret_name: ghcr_pat}\n",
    )
    assert cli("configure", path).code == 0
    truss_secrets({"ghcr_pat": base64.b64encode(b"me:pat").decode()})
    assert cli("get", stdin="ghcr.io").json["Username"] == "me"
    assert cli("list").json == {"ghcr.io": "me"}


def test_the_base_image_is_recorded_with_its_registry(cli, tmp_path, paths):
    # doctor looks the image up; a DOCKER_REGISTRY_* secret for the image's host counts
    # as well as docker_auth, and an image on another registry is kept with neither.
    path = truss(
        tmp_path,
        f"base_image:\n  image: {ECR}/models/base:1\n  docker_auth: {{auth_method: AWS_IAM}}\n"
        "secrets:\n  DOCKER_REGISTRY_ghcr.io: null\n",
    )
    other = truss(
        tmp_path,
        "base_image:\n  image: ghcr.io/org/base@sha256:" + "a" * 64 + "\n"
        "secrets:\n  DOCKER_REGISTRY_nvcr.io: null\n",
        name="other",
    )
    assert cli("configure", path, other).code == 0
    registries = config.load(paths)
    assert registries[ECR]["image"] == f"{ECR}/models/base:1"
    assert "image" not in registries["nvcr.io"]
    assert "image" not in registries["ghcr.io"]  # that truss named no ghcr.io image

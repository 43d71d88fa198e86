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
        ("{auth_method: GCP_SERVICE_ACCOUNT_JSON}", "secret_name required"),
        (
            "{auth_method: GCP_SERVICE_ACCOUNT_JSON, secret_name: s, aws_oidc_region: r}",
            "aws_oidc_region not allowed",
        ),
        ("{auth_method: AWS_OIDC, aws_oidc_role_arn: arn}", "aws_oidc_region required"),
        ("{auth_method: AWS_OIDC, aws_oidc_role_arn: '', aws_oidc_region: r}", "role_arn required"),
        ("{auth_method: GCP_OIDC, gcp_oidc_service_account: sa}", "workload_id_provider required"),
        (
            "{auth_method: GCP_OIDC, gcp_oidc_service_account: a, gcp_oidc_workload_id_provider: p,"
            " secret_name: s}",
            "secret_name not allowed",
        ),
        (
            "{auth_method: AWS_OIDC, aws_oidc_role_arn: a, aws_oidc_region: r,"
            " aws_assume_role_arn: b}",
            "aws_assume_role_arn not allowed",
        ),
        ("{auth_method: AWS_ASSUME_ROLE, aws_assume_role_arn: a}", "aws_assume_role_region req"),
        ("{auth_method: AWS_IAM, aws_access_key_id_secret_name: null}", "not null"),
        ("{auth_method: AWS_IAM, registry: 5}", "registry should be a string or null"),
        ("{auth_method: AWS_IAM, password: x}", "unknown field password"),
        ("{auth_method: PASSWORD}", "auth_method must be one of"),
        ("{registry: ghcr.io}", "auth_method must be one of"),
        ("{auth_method: AWS_IAM, registry: 'bad host!'}", "not a host a docker client"),
        ("{auth_method: REGISTRY_SECRET, registry: 'me@ghcr.io'}", "cannot carry a user name"),
        ("{auth_method: REGISTRY_SECRET, registry: 'ghcr.io.'}", "bad host"),
        ("{auth_method: REGISTRY_SECRET, registry: 'oci://ghcr.io'}", "only http and https"),
        ("[AWS_IAM]", "should be a mapping"),
    ],
)
def test_what_truss_refuses_is_refused_with_the_reason(cli, tmp_path, paths, docker_auth, message):
    path = truss(tmp_path, f"base_image:\n  image: ghcr.io/o/i:1\n  docker_auth: {docker_auth}\n")
    run = cli("configure", path)
    assert run.code == 1
    errors = [line for line in run.err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and message in errors[0], run.err
    assert run.out == ""
    assert not os.path.exists(paths.helper_config)


@pytest.mark.parametrize(
    ("image", "docker_auth", "message"),
    [
        ("ghcr.io/o/i:1", "{auth_method: AWS_IAM}", "works only with Amazon ECR hosts"),
        (
            "123456789.dkr.ecr.us-east-1.amazonaws.com/i:1",
            "{auth_method: AWS_ASSUME_ROLE, aws_assume_role_arn: a, aws_assume_role_region: r}",
            "the account id 123456789 is not 12 digits",
        ),
        ("ghcr.io/o/i:1", "{auth_method: GCP_SERVICE_ACCOUNT_JSON, secret_name: s}", "only for"),
        (
            "us-docker.pkg.dev/p/r/i:1",
            "{auth_method: GCP_OIDC, gcp_oidc_service_account: sa,"
            " gcp_oidc_workload_id_provider: p}",
            "gcp_oidc_workload_id_provider must look like",
        ),
        ("ghcr.io/o/i:1", "{auth_method: REGISTRY_SECRET, registry: nvcr.io}", "not the host"),
    ],
)
def test_what_truss_accepts_but_cannot_work_is_imported_with_a_warning(
    cli, tmp_path, paths, image, docker_auth, message
):
    path = truss(tmp_path, f"base_image:\n  image: {image}\n  docker_auth: {docker_auth}\n")
    run = cli("configure", path)
    assert run.code == 0, run.err
    warnings = [line for line in run.err.splitlines() if line.startswith("warning: ")]
    assert any(message in line for line in warnings), run.err
    assert len(config.load(paths)) == 1
    doctor = cli("doctor", "--offline")
    assert doctor.code == 1 and "FAIL" in doctor.out and message in doctor.out, doctor.out


def test_one_bad_entry_does_not_stop_the_others(cli, tmp_path, paths):
    path = truss(
        tmp_path,
        "base_image:\n  image: ghcr.io/o/i:1\n  docker_auth: {auth_method: AWS_IAM, x: 1}\n"
        "secrets:\n  DOCKER_REGISTRY_user@nvcr.io: null\n  DOCKER_REGISTRY_quay.io: null\n",
    )
    run = cli("configure", path)
    assert run.code == 1
    assert run.err.count("error: ") == 1 and "1 problem; 1 imported" in run.err
    # truss accepts any secret name: one no client can send is a warning, not a problem
    assert "warning: secret 'DOCKER_REGISTRY_user@nvcr.io'" in run.err
    assert set(config.load(paths)) == {"quay.io"}


def test_an_unusable_secret_name_alone_is_a_warning_and_exit_0(cli, tmp_path, paths):
    path = truss(
        tmp_path,
        "secrets:\n  'DOCKER_REGISTRY_my registry': null\n  DOCKER_REGISTRY_quay.io: null\n",
    )
    run = cli("configure", path)
    assert run.code == 0, run.err
    assert "warning: secret 'DOCKER_REGISTRY_my registry'" in run.err and "error" not in run.err
    assert set(config.load(paths)) == {"quay.io"}


def test_registry_empty_and_no_image_is_a_warning_not_an_import(cli, tmp_path, paths):
    run = cli("configure", truss(tmp_path, "base_image:\n  docker_auth: {auth_method: AWS_IAM}\n"))
    assert run.code == 0 and "names no registry" in run.err
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
    assert run.code == 1 and run.err.count("error: ") == 1


def test_truss_without_registries_is_a_note_not_an_error(cli, tmp_path, paths):
    # A script looping over every truss must not fail on those with nothing private.
    run = cli("configure", truss(tmp_path, "model_name: plain\n"))
    assert run.code == 0 and run.err.startswith("note: ") and "names no private registry" in run.err
    assert not os.path.exists(paths.docker_config)


def test_missing_path(cli, tmp_path):
    run = cli("configure", str(tmp_path / "nope"))
    assert run.code == 1 and "cannot read truss config" in run.err


def test_no_path_is_usage(cli):
    run = cli("configure")
    assert (run.code, run.out) == (2, "") and run.err.count("\n") == 1
    assert "name a truss" in run.err and "configure --help" in run.err


def test_malformed_docker_config_is_left_untouched(cli, tmp_path, paths):
    os.makedirs(os.path.dirname(paths.docker_config))
    with open(paths.docker_config, "w") as handle:
        handle.write('{"auths": {')
    run = cli("configure", truss(tmp_path, "secrets: {DOCKER_REGISTRY_ghcr.io: null}\n"))
    assert run.code == 1 and "not valid JSON" in run.err and run.out == ""
    with open(paths.docker_config) as handle:
        assert handle.read() == '{"auths": {'


def test_credhelpers_not_an_object(cli, tmp_path, paths):
    os.makedirs(os.path.dirname(paths.docker_config))
    with open(paths.docker_config, "w") as handle:
        handle.write('{"credHelpers": []}')
    run = cli("configure", truss(tmp_path, "secrets: {DOCKER_REGISTRY_ghcr.io: null}\n"))
    assert run.code == 1 and "credHelpers" in run.err and run.out == ""


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


# -- configure without a config.yaml: flags and Python files ---------------------------------


def test_flags_configure_a_registry(cli, paths):
    run = cli(
        "configure",
        "--registry",
        ECR,
        "--auth-method",
        "aws_assume_role",
        "--aws-assume-role-arn=arn:aws:iam::123456789012:role/r",
        "--aws-assume-role-region",
        "us-east-1",
    )
    assert run.code == 0, run.err
    entry = config.load(paths)[ECR]
    assert entry["auth_method"] == "AWS_ASSUME_ROLE"
    assert entry["aws_assume_role_region"] == "us-east-1"
    assert entry["source"] == "the command line"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--auth-method", "AWS_IAM"], "--registry HOST is required"),
        (["--registry", "ghcr.io"], "--auth-method is required"),
        (["--registry", "ghcr.io", "--auth-method", "GCP_OIDC"], "required when auth_method"),
        (["--registry", "me@ghcr.io", "--auth-method", "REGISTRY_SECRET"], "user name"),
    ],
)
def test_flags_follow_the_same_rules(cli, paths, argv, message):
    run = cli("configure", *argv)
    assert run.code == 1 and message in run.err, run.err
    assert not os.path.exists(paths.helper_config)


def test_an_unknown_flag_is_usage(cli):
    run = cli("configure", "--registry", "ghcr.io", "--password", "x")
    assert (run.code, run.out) == (2, "")
    assert "unrecognized arguments: --password" in run.err and run.err.count("\n") == 1


def test_flags_warn_like_config_yaml(cli, paths):
    run = cli("configure", "--registry", "ghcr.io", "--auth-method", "AWS_IAM")
    assert run.code == 0 and "works only with Amazon ECR hosts" in run.err
    assert "ghcr.io" in config.load(paths)


CHAINS = """
import os
import truss_chains as chains
from truss.base import truss_config

AUTH = truss_config.DockerAuthSettings(
    auth_method=truss_config.DockerAuthType.AWS_OIDC,
    aws_oidc_role_arn="arn:aws:iam::123456789012:role/r",
    aws_oidc_region="us-east-1",
)
IMAGE = chains.CustomImage(image="{ecr}/base:1", docker_auth=AUTH)
OTHER = chains.CustomImage(
    image="ghcr.io/o/i:1",
    docker_auth=truss_config.DockerAuthSettings(auth_method="registry_secret", secret_name="gh"),
)
raise SystemExit("configure must never run this file")
"""

TRAIN = """
from truss.base.truss_config import DockerAuthType
from truss_train import definitions

image = definitions.Image(
    base_image="{ecr}/train:1",
    docker_auth=definitions.DockerAuth(
        auth_method=DockerAuthType.AWS_IAM,
        registry="{ecr}",
        aws_iam_docker_auth=definitions.AWSIAMDockerAuth(
            access_key_secret_ref=definitions.SecretReference(name="kid"),
            secret_access_key_secret_ref=definitions.SecretReference(name="skey"),
        ),
    ),
)
"""


def test_chains_file_is_read_without_running_it(cli, tmp_path, paths):
    source = tmp_path / "chain.py"
    source.write_text(CHAINS.format(ecr=ECR))
    run = cli("configure", str(source))
    assert run.code == 0, run.err
    registries = config.load(paths)
    assert registries[ECR]["auth_method"] == "AWS_OIDC"
    assert registries[ECR]["aws_oidc_region"] == "us-east-1"
    assert registries["ghcr.io"] == {
        "auth_method": "REGISTRY_SECRET",
        "secret_name": "gh",
        "source": str(source),
    }


def test_truss_train_file_maps_secret_references(cli, tmp_path, paths):
    source = tmp_path / "train.py"
    source.write_text(TRAIN.format(ecr=ECR))
    run = cli("configure", str(source))
    assert run.code == 0, run.err
    entry = config.load(paths)[ECR]
    assert entry["auth_method"] == "AWS_IAM"
    assert entry["aws_access_key_id_secret_name"] == "kid"
    assert entry["aws_secret_access_key_secret_name"] == "skey"


def test_a_value_that_is_not_a_literal_names_the_flags(cli, tmp_path, paths):
    source = tmp_path / "chain.py"
    source.write_text(
        "import os\nfrom truss.base.truss_config import DockerAuthSettings\n"
        "A = DockerAuthSettings(auth_method='REGISTRY_SECRET', registry=os.environ['REG'])\n"
    )
    run = cli("configure", str(source))
    assert run.code == 1
    assert "os.environ['REG'] is not a literal" in run.err
    assert "--registry HOST --auth-method REGISTRY_SECRET" in run.err
    assert not os.path.exists(paths.helper_config)


def test_a_python_file_without_docker_auth(cli, tmp_path):
    source = tmp_path / "plain.py"
    source.write_text("print('hello')\n")
    run = cli("configure", str(source))
    assert run.code == 0 and "note: " in run.err and "names no private registry" in run.err


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


def test_a_registry_that_is_not_the_images_host_is_warned_with_the_fix(cli, tmp_path, paths):
    path = truss(
        tmp_path,
        "base_image:\n  image: quay.io/o/i:1\n"
        "  docker_auth: {auth_method: REGISTRY_SECRET, secret_name: s, registry: ghcr.io}\n",
    )
    run = cli("configure", path)
    assert (
        "ghcr.io: registry is not the host of base_image.image (quay.io), which is the host"
        " docker will ask for; set registry: quay.io (or leave it empty) and configure again\n"
    ) in run.err

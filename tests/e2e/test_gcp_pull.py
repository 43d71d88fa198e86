"""Real clients pull from "Google" registries through the installed helper.

The registry is the real docker-registry with htpasswd, answering as
``us-west2-docker.pkg.dev`` and ``gcr.io`` inside the harness's private mount
namespace; its only account for the test is ``oauth2accesstoken`` with the access
token the local Google stand-in will issue, so a pull succeeds only if the helper
got that token from the stand-in (through the real google-auth) and handed it over.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
from e2e_checks import check, expect_ok, remember
from e2e_harness import CloudRegistry, DockerCLI, Sandbox
from fakes.gcp import FakeGoogle

AR_HOST = "us-west2-docker.pkg.dev"
AR_IMAGE = f"{AR_HOST}/proj-1/containers/tiny:1"
GCR_IMAGE = "gcr.io/proj-1/tiny:1"
WIP = "projects/123456789/locations/global/workloadIdentityPools/ci-pool/providers/github"
OIDC_ACCOUNT = "puller@proj-1.iam.gserviceaccount.com"


@pytest.fixture(scope="module")
def google_images(seed_docker: DockerCLI, tiny_image: str, cloud_registry: CloudRegistry) -> None:
    """Google-style repository paths (<project>/<repo>/<image>) on the cloud registry."""
    for target in (AR_IMAGE, GCR_IMAGE):
        for args in (("tag", tiny_image, target), ("push", target)):
            expect_ok(seed_docker.run(*args), f"seeding {target}: docker {args[0]}")
        seed_docker.rmi(target)


@pytest.fixture
def google():
    with FakeGoogle() as fake:
        yield fake


def access_token(google: FakeGoogle, endpoint: str, cloud_registry: CloudRegistry) -> str:
    """Agree the token Google will issue with the registry, as the real ones agree."""
    token = "ya29." + secrets.token_urlsafe(32)
    remember(token)
    google.issue_as[endpoint] = token
    cloud_registry.add_users([("oauth2accesstoken", token)])
    return token


def configure(sandbox: Sandbox, tmp_path: Path, docker_auth: dict, image: str) -> None:
    truss = tmp_path / "my-truss"
    truss.mkdir()
    (truss / "config.yaml").write_text(
        json.dumps({"base_image": {"image": image, "docker_auth": docker_auth}})
    )
    expect_ok(sandbox.run_helper("configure", args=[str(truss)]), "configure")
    host = image.split("/", 1)[0]
    routed = sandbox.read_docker_config().get("credHelpers", {}).get(host)
    check(routed == "truss", f"configure must route {host} to the helper")


def skopeo_inspect(sandbox: Sandbox, in_cloud_namespace, image: str):  # type: ignore[no-untyped-def]
    authfile = sandbox.docker_config / "config.json"
    return in_cloud_namespace(
        [
            "skopeo",
            "inspect",
            "--tls-verify=false",
            "--authfile",
            str(authfile),
            f"docker://{image}",
        ],
        sandbox.env,
    )


def test_service_account_key_pulls_from_artifact_registry(
    google_images,  # type: ignore[no-untyped-def]
    google: FakeGoogle,
    cloud_registry: CloudRegistry,
    sandbox: Sandbox,
    docker: DockerCLI,
    in_cloud_namespace,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    key = google.new_key()
    sandbox.put_secret("truss_config", "gcp-sa", key.json())
    access_token(google, "token", cloud_registry)
    auth = {"auth_method": "GCP_SERVICE_ACCOUNT_JSON", "registry": AR_HOST, "secret_name": "gcp-sa"}
    configure(sandbox, tmp_path, auth, AR_IMAGE)

    docker.rmi(AR_IMAGE)
    pull = docker.run("pull", AR_IMAGE)
    expect_ok(pull, f"docker pull {AR_IMAGE}")
    check("Downloaded newer image" in pull.stdout, "the pull must really download")
    check(google.rejections == [], f"the token endpoint refused: {google.rejections}")
    check(google.calls["token"] == 1, "docker pull must cost one token request")

    inspect = skopeo_inspect(sandbox, in_cloud_namespace, AR_IMAGE)
    expect_ok(inspect, f"skopeo inspect {AR_IMAGE}")
    name = json.loads(inspect.stdout)["Name"]
    check(name == AR_IMAGE.rsplit(":", 1)[0], f"skopeo inspected {name}")
    check(google.calls["token"] == 1, "skopeo must be answered from the token cache")


def refused_pull(google, sandbox: Sandbox, docker: DockerCLI, tmp_path: Path):  # type: ignore[no-untyped-def]
    key = google.new_key()
    sandbox.put_secret("env", "gcp-sa", key.json())
    google.fail["token"] = "refuse"
    auth = {"auth_method": "GCP_SERVICE_ACCOUNT_JSON", "registry": AR_HOST, "secret_name": "gcp-sa"}
    configure(sandbox, tmp_path, auth, AR_IMAGE)
    docker.rmi(AR_IMAGE)
    return docker.run("pull", AR_IMAGE)


def test_a_refused_key_fails_the_pull(
    google_images,  # type: ignore[no-untyped-def]
    google: FakeGoogle,
    sandbox: Sandbox,
    docker: DockerCLI,
    tmp_path: Path,
) -> None:
    pull = refused_pull(google, sandbox, docker, tmp_path)
    check(pull.returncode != 0, "a refused key must fail the pull")
    check(google.calls["token"] >= 1, "the helper must have asked the token endpoint")
    check(not docker.has_image(AR_IMAGE), "a refused pull must leave no image")


def test_docker_pull_shows_why_the_key_was_refused(
    google_images,  # type: ignore[no-untyped-def]
    google: FakeGoogle,
    sandbox: Sandbox,
    docker: DockerCLI,
    tmp_path: Path,
) -> None:
    pull = refused_pull(google, sandbox, docker, tmp_path)
    expected = f"{AR_HOST}: {google.token_uri} refused the credential: HTTP 400 (invalid_grant)"
    check(expected in pull.stderr, f"docker must show the helper's line, got: {pull.stderr}")


def test_workload_identity_pulls_from_container_registry(
    google_images,  # type: ignore[no-untyped-def]
    google: FakeGoogle,
    cloud_registry: CloudRegistry,
    sandbox: Sandbox,
    docker: DockerCLI,
    in_cloud_namespace,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    ci_token = "eyJ." + secrets.token_urlsafe(24) + ".sig"
    remember(ci_token)
    token_file = tmp_path / "ci-oidc-token"
    token_file.write_text(ci_token + "\n")
    google.expect_federation(
        audience="//iam.googleapis.com/" + WIP, subject_token=ci_token, service_account=OIDC_ACCOUNT
    )
    access_token(google, "iam", cloud_registry)
    sandbox.env.update(
        {
            "DOCKER_CREDENTIAL_TRUSS_GCP_OIDC_TOKEN_FILE": str(token_file),
            "DOCKER_CREDENTIAL_TRUSS_GCP_STS_URL": google.sts_url,
            "DOCKER_CREDENTIAL_TRUSS_GCP_IAMCREDENTIALS_URL": google.url,
        }
    )
    auth = {
        "auth_method": "GCP_OIDC",
        "registry": "gcr.io",
        "gcp_oidc_workload_id_provider": WIP,
        "gcp_oidc_service_account": OIDC_ACCOUNT,
    }
    configure(sandbox, tmp_path, auth, GCR_IMAGE)

    docker.rmi(GCR_IMAGE)
    expect_ok(docker.run("pull", GCR_IMAGE), f"docker pull {GCR_IMAGE}")
    check(google.rejections == [], f"STS/IAM refused: {google.rejections}")
    check(google.calls == {"token": 0, "sts": 1, "iam": 1}, f"calls: {google.calls}")
    expect_ok(skopeo_inspect(sandbox, in_cloud_namespace, GCR_IMAGE), f"skopeo inspect {GCR_IMAGE}")
    check(google.calls["iam"] == 1, "skopeo must be answered from the token cache")

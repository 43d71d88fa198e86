"""The installed ``docker-credential-truss`` answering for Google registries.

Every test runs the executable under test (``$DCT_EXE``, else the one on PATH) in a
clean environment whose HOME is a temporary directory, against the local Google
stand-in in tests/fakes/gcp.py. Secrets are compared as booleans so that a failing
assertion never prints a token.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
from e2e_checks import not_found
from fakes.gcp import LEAK_SENTINEL, FakeGoogle

AR = "us-west2-docker.pkg.dev"
WIP = "projects/123456789/locations/global/workloadIdentityPools/ci-pool/providers/github"
OIDC_ACCOUNT = "puller@proj-1.iam.gserviceaccount.com"
SA_TRUSS = f"""\
base_image:
  image: {AR}/proj-1/repo/tiny:1
  docker_auth:
    auth_method: GCP_SERVICE_ACCOUNT_JSON
    registry: {AR}
    secret_name: gcp-sa
secrets:
  gcp-sa: null
"""
OIDC_TRUSS = f"""\
base_image:
  image: gcr.io/proj-1/tiny:1
  docker_auth:
    auth_method: gcp_oidc
    registry: gcr.io
    gcp_oidc_workload_id_provider: {WIP}
    gcp_oidc_service_account: {OIDC_ACCOUNT}
"""


def executable() -> str:
    exe = os.environ.get("DCT_EXE") or shutil.which("docker-credential-truss")
    if not exe:
        pytest.fail("no docker-credential-truss to test: install it or set DCT_EXE")
    return os.path.abspath(exe)


class Helper:
    """Runs the helper with an isolated HOME; ``env`` is what every run gets."""

    def __init__(self, root) -> None:
        bindir = root / "bin"
        bindir.mkdir()
        (bindir / "docker-credential-truss").symlink_to(executable())
        self.home = root / "home"
        self.home.mkdir()
        self.env = {
            "PATH": f"{bindir}:/usr/bin:/bin",
            "HOME": str(self.home),
            "LANG": "C.UTF-8",
        }

    def run(self, *args: str, stdin: str = "", env=None, timeout: float = 60):
        return subprocess.run(
            ["docker-credential-truss", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env | (env or {}),
            timeout=timeout,
        )

    def configure(self, root, truss_yaml: str) -> None:
        truss = root / "my-truss"
        truss.mkdir()
        (truss / "config.yaml").write_text(truss_yaml)
        done = self.run("configure", str(truss))
        assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture
def google():
    with FakeGoogle() as fake:
        yield fake


@pytest.fixture
def helper(tmp_path):
    return Helper(tmp_path)


@pytest.fixture
def sa_helper(tmp_path, helper, google):
    """A helper configured from a truss config with GCP_SERVICE_ACCOUNT_JSON; key in the env."""
    key = google.new_key()
    helper.configure(tmp_path, SA_TRUSS)
    helper.env["TRUSS_SECRET_gcp-sa"] = key.json()
    helper.key = key
    return helper


def test_get_answers_oauth2accesstoken_and_the_minted_token(sa_helper, google):
    done = sa_helper.run("get", stdin=f"https://{AR}\n")
    assert done.returncode == 0, done.stdout
    answer = json.loads(done.stdout)
    assert answer["ServerURL"] == f"https://{AR}"
    assert answer["Username"] == "oauth2accesstoken"
    assert google.rejections == []
    ok = answer["Secret"] == google.issued["token"][0]
    assert ok, "Secret is not the token the endpoint issued"


def test_32_simultaneous_cold_gets_make_one_token_request(sa_helper, google):
    google.delay = 0.5  # a slow endpoint widens the window in which they all miss
    procs = [
        subprocess.Popen(
            ["docker-credential-truss", "get"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=sa_helper.env,
        )
        for _ in range(32)
    ]
    outputs = [p.communicate(AR, timeout=120) for p in procs]
    codes = [p.returncode for p in procs]
    assert codes == [0] * 32, [out for out, _ in outputs if not out.startswith("{")]
    assert google.calls["token"] == 1
    assert len(google.issued["token"]) == 1
    issued = google.issued["token"][0]
    answers = [json.loads(out) for out, _ in outputs]
    assert all(a["ServerURL"] == AR and a["Username"] == "oauth2accesstoken" for a in answers)
    same = [a["Secret"] == issued for a in answers]
    assert all(same), f"{same.count(False)} answers differ from the one issued token"


def test_a_cached_token_is_served_without_google_auth(sa_helper, google):
    assert sa_helper.run("get", stdin=AR).returncode == 0
    done = sa_helper.run("get", stdin=AR, env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert done.returncode == 0
    assert google.calls["token"] == 1
    imported = [line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()]
    if "docker_credential_truss.resolver" not in imported:
        pytest.skip("this executable does not honour PYTHONPROFILEIMPORTTIME (frozen?)")
    heavy = [m for m in imported if m.split(".")[0] in ("google", "requests", "urllib3")]
    assert heavy == []


def test_a_rotated_key_gets_its_own_token(sa_helper, google):
    assert sa_helper.run("get", stdin=AR).returncode == 0
    rotated = google.new_key()
    done = sa_helper.run("get", stdin=AR, env={"TRUSS_SECRET_gcp-sa": rotated.json()})
    assert done.returncode == 0
    assert google.calls["token"] == 2
    ok = json.loads(done.stdout)["Secret"] == google.issued["token"][1]
    assert ok, "the rotated key was answered with the old key's token"


def test_key_from_a_secrets_dir_file(sa_helper, google, tmp_path):
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    (secrets_dir / "gcp-sa").write_text(sa_helper.key.json() + "\n")
    del sa_helper.env["TRUSS_SECRET_gcp-sa"]
    done = sa_helper.run("get", stdin=AR, env={"TRUSS_SECRETS_DIR": str(secrets_dir)})
    assert done.returncode == 0, done.stdout
    assert google.rejections == []


def test_refused_key_is_one_line_exit_1_without_secrets(sa_helper, google):
    google.fail["token"] = "refuse"
    done = sa_helper.run("get", stdin=AR)
    why = not_found(done)
    assert why.startswith(f"{AR}: {google.token_uri} refused the credential")
    assert "(invalid_grant)" in why
    private_lines = [ln for ln in sa_helper.key.info["private_key"].splitlines() if len(ln) > 16]
    both = done.stdout + done.stderr
    leaked = LEAK_SENTINEL in both or any(ln in both for ln in private_lines)
    assert not leaked, "output repeats the key or the token endpoint's response body"


def test_a_hanging_endpoint_fails_the_get_on_its_timeout(sa_helper, google):
    google.fail["token"] = "hang"
    try:
        done = sa_helper.run(
            "get", stdin=AR, env={"DOCKER_CREDENTIAL_TRUSS_TIMEOUT": "2"}, timeout=120
        )
    except subprocess.TimeoutExpired:
        pytest.fail("get hung on an endpoint that never answers")
    # The read timeout fired (not the whole-mint deadline, which says "too slow"),
    # with the value asked for, after one request: silence is not retried.
    assert not_found(done) == f"{AR}: cannot reach {google.token_uri}: no answer within 2s"
    assert google.calls["token"] == 1


def test_a_key_that_is_not_json_says_so(sa_helper, google):
    done = sa_helper.run("get", stdin=AR, env={"TRUSS_SECRET_gcp-sa": "SENTINEL-garbage"})
    assert not_found(done).startswith(f"{AR}: secret gcp-sa is not valid JSON")
    assert "SENTINEL-garbage" not in done.stdout + done.stderr
    assert google.calls["token"] == 0


def test_a_missing_key_names_the_secret_and_where_it_looked(sa_helper, google):
    del sa_helper.env["TRUSS_SECRET_gcp-sa"]
    done = sa_helper.run("get", stdin=AR)
    why = not_found(done)
    assert "gcp-sa" in why
    assert "TRUSS_SECRET_gcp-sa" in why


def test_list_shows_the_registry_without_minting(sa_helper, google):
    done = sa_helper.run("list", stdin="unused")
    assert done.returncode == 0
    assert json.loads(done.stdout) == {AR: "oauth2accesstoken"}
    assert google.calls["token"] == 0


def test_gcp_oidc_through_configure_and_get(tmp_path, helper, google):
    helper.configure(tmp_path, OIDC_TRUSS)
    token_file = tmp_path / "ci-token"
    token_file.write_text("header.payload.signature\n")
    google.expect_federation(
        audience="//iam.googleapis.com/" + WIP,
        subject_token="header.payload.signature",
        service_account=OIDC_ACCOUNT,
    )
    env = {
        "DOCKER_CREDENTIAL_TRUSS_GCP_OIDC_TOKEN_FILE": str(token_file),
        "DOCKER_CREDENTIAL_TRUSS_GCP_STS_URL": google.sts_url,
        "DOCKER_CREDENTIAL_TRUSS_GCP_IAMCREDENTIALS_URL": google.url,
    }
    first = helper.run("get", stdin="gcr.io", env=env)
    assert first.returncode == 0, first.stdout
    again = helper.run("get", stdin="gcr.io", env=env)
    assert google.rejections == []
    assert google.calls == {"token": 0, "sts": 1, "iam": 1}
    for done in (first, again):
        answer = json.loads(done.stdout)
        assert answer["Username"] == "oauth2accesstoken"
        ok = answer["Secret"] == google.issued["iam"][0]
        assert ok, "Secret is not the impersonated service account's token"


def test_gcp_oidc_without_a_token_file_explains(tmp_path, helper, google):
    helper.configure(tmp_path, OIDC_TRUSS)
    done = helper.run("get", stdin="gcr.io")
    assert not_found(done).startswith(
        "gcr.io: GCP_OIDC found no OIDC token from a CI; looked at"
        " DOCKER_CREDENTIAL_TRUSS_GCP_OIDC_TOKEN_FILE, DOCKER_CREDENTIAL_TRUSS_GCP_OIDC_TOKEN,"
        " ACTIONS_ID_TOKEN_REQUEST_URL"
    )
    assert google.calls["sts"] == 0

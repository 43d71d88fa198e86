"""``baseten check`` / ``push``: which host gets the API key, and what a push writes.

Driven through the CLI's entry point in-process, against the stand-in of
tests/fakes/baseten.py, which records every request and every upsert:

- the REST base is truss's mapping of the remote URL (``app.baseten.co`` ->
  ``api.baseten.co``...), seen without the override variable: name resolution is
  answered by the test, which records each host and port the command asked for, and
  sends ``api.localhost:8000`` (truss's local remote) to the stand-in;
- a redirect is not followed: the API key never travels to the host it names;
- ``push --dry-run --yes`` writes nothing;
- a truss's own secret names are the ones checked and written;
- AWS_ASSUME_ROLE needs no key pair in the workspace, and push never uploads one for it.
"""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml
from fakes.baseten import FakeBaseten

KEY = "SENTINEL-baseten-key-5d1e"
ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
AWS_ID = "AKIASENTINEL00000002"
AWS_SECRET = "SENTINEL-aws-secret-8c2a"
GHCR_VALUE = "Z2hfdXNlcjpTRU5USU5FTC1naGNyLXB3"  # base64 of gh_user:SENTINEL-ghcr-pw


@pytest.fixture
def fake():
    with FakeBaseten(keys=[f"Api-Key {KEY}", f"Bearer {KEY}"]) as server:
        yield server


@pytest.fixture
def baseten_env(env, truss_secrets):
    truss_secrets(
        {
            "aws_access_key_id": AWS_ID,
            "aws_secret_access_key": AWS_SECRET,
            "my_ghcr_pw": GHCR_VALUE,
            "DOCKER_REGISTRY_ghcr.io": GHCR_VALUE,
        }
    )
    return {**env, "DOCKER_CREDENTIAL_TRUSS_TIMEOUT": "2"}


def truss(tmp_path, name: str, docker_auth: dict, image: str) -> str:
    path = tmp_path / name
    path.mkdir()
    config = {"base_image": {"image": image, "docker_auth": docker_auth}}
    (path / "config.yaml").write_text(yaml.safe_dump(config))
    return str(path)


# --- the REST base -------------------------------------------------------------------


@pytest.fixture
def resolver(monkeypatch, fake):
    """Name resolution as the test says: each (host, port) asked is recorded; only
    ``api.localhost:8000`` resolves, to the stand-in; nothing reaches the real network."""
    asked: list[tuple[str, int]] = []
    real = socket.getaddrinfo
    port = int(fake.url.rsplit(":", 1)[1])

    def getaddrinfo(host, service, *args, **kwargs):  # type: ignore[no-untyped-def]
        asked.append((host, int(service)))
        if (host, int(service)) == ("api.localhost", 8000):
            return real("127.0.0.1", port, *args, **kwargs)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


@pytest.mark.parametrize(
    ("remote_url", "api"),
    [
        ("https://app.baseten.co", ("api.baseten.co", 443)),
        ("https://app.staging.baseten.co/", ("api.staging.baseten.co", 443)),
        ("https://app.staging.baseten.co", ("api.staging.baseten.co", 443)),
        ("https://app.dev.baseten.co", ("api.mc-dev.baseten.co", 443)),
        ("https://baseten.example.com", ("api.baseten.co", 443)),  # unknown: as truss does
    ],
)
def test_the_api_key_goes_to_the_rest_base_truss_maps_the_remote_to(
    cli, baseten_env, tmp_path, resolver, remote_url, api
):
    path = truss(tmp_path, "t", {"auth_method": "AWS_IAM"}, f"{ECR}/base:1")
    extra = {"BASETEN_TRUSS_AUTH_REMOTE_URL": remote_url, "BASETEN_TRUSS_AUTH_API_KEY": KEY}
    run = cli("baseten", "check", path, extra=extra)
    assert run.code == 1
    said = run.out + run.err  # the one-line error: on stderr
    assert f"cannot reach Baseten at https://{api[0]}:" in said, said
    assert resolver == [api], "the key may only be sent to the mapped REST base"


def test_baseten_api_key_alone_goes_to_api_baseten_co(cli, baseten_env, tmp_path, resolver):
    path = truss(tmp_path, "t", {"auth_method": "AWS_IAM"}, f"{ECR}/base:1")
    run = cli("baseten", "check", path, extra={"BASETEN_API_KEY": KEY})
    assert run.code == 1
    assert "cannot reach Baseten at https://api.baseten.co:" in run.out + run.err
    assert resolver == [("api.baseten.co", 443)]


def test_truss_local_remote_is_served_by_api_localhost(cli, baseten_env, tmp_path, resolver, fake):
    fake.secrets[None].update(aws_access_key_id="x", aws_secret_access_key="x")
    path = truss(tmp_path, "t", {"auth_method": "AWS_IAM"}, f"{ECR}/base:1")
    trussrc = tmp_path / "trussrc"
    trussrc.write_text(
        f"[local]\nremote_provider = baseten\nremote_url = http://localhost:8000\napi_key = {KEY}\n"
    )
    run = cli("baseten", "check", path, extra={"USER_TRUSSRC_PATH": str(trussrc)})
    assert run.code == 0, run.out
    assert "Baseten API http://api.localhost:8000, key from api_key of remote 'local'" in run.out
    assert set(resolver) == {("api.localhost", 8000)}
    assert [(r["method"], r["path"], r["scheme"]) for r in fake.requests] == [
        ("GET", "/v1/secrets", "Api-Key")
    ]


# --- redirects -------------------------------------------------------------------------


class _Redirector:
    """Answers every request with 307 to ``target``, as a hijacked or misrouted host might."""

    def __init__(self, target: str) -> None:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def _redirect(self) -> None:
                self.send_response(307)
                self.send_header("Location", target + self.path)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = _redirect

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def test_a_redirect_is_not_followed_with_the_api_key(cli, baseten_env, tmp_path, fake):
    redirector = _Redirector(fake.url)
    try:
        path = truss(tmp_path, "t", {"auth_method": "AWS_IAM"}, f"{ECR}/base:1")
        extra = {
            "BASETEN_API_KEY": KEY,
            "DOCKER_CREDENTIAL_TRUSS_BASETEN_API_URL": redirector.url,
            "USER_TRUSSRC_PATH": str(tmp_path / "none"),
        }
        for argv in (("check", path), ("push", "--yes", path)):
            run = cli("baseten", *argv, extra=extra)
            assert run.code == 1
            assert "HTTP 307" in run.out + run.err, run.out + run.err
        assert fake.requests == [], "the API key followed a redirect to another host"
        assert fake.upserts == []
    finally:
        redirector.close()


# --- what push writes ------------------------------------------------------------------


def served(env: dict, fake: FakeBaseten, tmp_path) -> dict:
    return {
        **env,
        "BASETEN_API_KEY": KEY,
        "DOCKER_CREDENTIAL_TRUSS_BASETEN_API_URL": fake.url,
        "USER_TRUSSRC_PATH": str(tmp_path / "none"),
    }


def test_push_dry_run_with_yes_writes_nothing(cli, baseten_env, tmp_path, fake):
    path = truss(tmp_path, "t", {"auth_method": "AWS_IAM"}, f"{ECR}/base:1")
    for argv in (("--dry-run", "--yes"), ("--yes", "--dry-run")):
        run = cli("baseten", "push", *argv, path, extra=served(baseten_env, fake, tmp_path))
        assert run.code == 0, run.out
        assert "  create   aws_access_key_id  from " in run.out
        assert "dry run: nothing written" in run.out
    assert fake.upserts == [] and fake.secrets[None] == {}
    assert {r["method"] for r in fake.requests} == {"GET"}


def test_a_trusss_own_secret_names_are_checked_and_written(cli, baseten_env, tmp_path, fake):
    ghcr = truss(
        tmp_path,
        "ghcr",
        {"auth_method": "REGISTRY_SECRET", "registry": "ghcr.io", "secret_name": "my_ghcr_pw"},
        "ghcr.io/org/base:1",
    )
    ecr = truss(
        tmp_path,
        "ecr",
        {
            "auth_method": "AWS_IAM",
            "aws_access_key_id_secret_name": "my_key_id",
            "aws_secret_access_key_secret_name": "my_secret_key",
        },
        f"{ECR}/base:1",
    )
    env = served(baseten_env, fake, tmp_path)
    env.update(TRUSS_SECRET_my_key_id=AWS_ID, TRUSS_SECRET_my_secret_key=AWS_SECRET)
    run = cli("baseten", "check", ghcr, ecr, extra=env)
    assert run.code == 1
    for name in ("my_ghcr_pw", "my_key_id", "my_secret_key"):
        assert f"  FAIL  {name}: not in the workspace" in run.out, run.out
    for name in ("DOCKER_REGISTRY_ghcr.io", "aws_access_key_id", "aws_secret_access_key"):
        assert f" {name}:" not in run.out, run.out
    run = cli("baseten", "push", "--yes", ghcr, ecr, extra=env)
    assert run.code == 0, run.out
    assert {u["name"]: u["value"] for u in fake.upserts} == {
        "my_ghcr_pw": GHCR_VALUE,
        "my_key_id": AWS_ID,
        "my_secret_key": AWS_SECRET,
    }


def test_assume_role_needs_no_key_pair_and_push_uploads_none(cli, baseten_env, tmp_path, fake):
    path = truss(
        tmp_path,
        "t",
        {
            "auth_method": "AWS_ASSUME_ROLE",
            "aws_assume_role_arn": "arn:aws:iam::123456789012:role/builder",
            "aws_assume_role_region": "us-east-1",
        },
        f"{ECR}/base:1",
    )
    env = served(baseten_env, fake, tmp_path)
    run = cli("baseten", "check", path, extra=env)
    assert run.code == 0, run.out
    assert "  --    no secret needed: Baseten's AWS principal assumes" in run.out
    run = cli("baseten", "push", "--yes", path, extra=env)
    assert run.code == 0, run.out
    assert fake.upserts == [], "the local AWS key pair must not be uploaded for AWS_ASSUME_ROLE"
    assert AWS_SECRET not in run.out + run.err

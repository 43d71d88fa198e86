"""Which AWS endpoint, region and session a ``get`` uses, seen from the stand-in's side.

``configure`` records the truss's settings and ``get`` runs in-process through the CLI's
entry point, against tests/fakes/aws.py, which records every call with the region its
signature was made for. Three things a user relies on and no other test pins down:

- the assume-role region is part of the cache identity: the same role assumed in
  another region is a new STS call in that region, never the other region's token;
- the AWS_OIDC session reads nothing of the person's ``~/.aws`` or ``AWS_PROFILE``:
  a CI job's web-identity mint is not steered or broken by them;
- an ECR FIPS host is reached through the FIPS endpoint (``ecr-fips.<region>``): a
  private /etc/hosts in a mount namespace sends both endpoint names to listeners of
  our own, and the installed command runs there with no endpoint override.
"""

from __future__ import annotations

import os
import secrets as pysecrets
import shutil
import socket
import subprocess
import threading

import pytest
from fakes.aws import ASSUME_ROLE, ASSUME_ROLE_WEB, ECR, FakeAws, Role
from prerequisites import helper_exe

ACCOUNT = "123456789012"
HOST = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/puller"


class _Env(dict):
    """Holds secret sentinels: pytest must never show it."""

    def __repr__(self) -> str:
        return "<env with secrets, not shown>"


@pytest.fixture
def fake(monkeypatch, tmp_path):
    # botocore reads the process environment: nothing of the developer's may steer it.
    for name in list(os.environ):
        if name.startswith(("AWS_", "TRUSS_SECRET", "DOCKER_CREDENTIAL_TRUSS")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    with FakeAws(region={"us-east-1", "us-west-2", "eu-west-1"}) as server:
        yield server


@pytest.fixture
def aws_env(env, fake):
    key_id = "AKIA" + pysecrets.token_hex(8).upper()
    secret = "sk-" + pysecrets.token_urlsafe(24)
    fake.keys[key_id] = secret
    fake.add_role(Role(ROLE, trusted_keys={key_id}))
    return _Env(
        env,
        **fake.env(),
        TRUSS_SECRET_aws_access_key_id=key_id,
        TRUSS_SECRET_aws_secret_access_key=secret,
        DOCKER_CREDENTIAL_TRUSS_FAILURE_TTL="0",
    )


def configure_assume_role(cli, env, region: str) -> None:
    run = cli(
        "configure",
        "--registry",
        HOST,
        "--auth-method",
        "AWS_ASSUME_ROLE",
        f"--aws-assume-role-arn={ROLE}",
        f"--aws-assume-role-region={region}",
        extra=env,
    )
    assert run.code == 0, run.err


def test_the_same_role_in_another_region_is_assumed_again_in_that_region(cli, aws_env, fake):
    # Two set-ups that share one token cache (same user, same key pair, same role):
    # only the role's region differs, so the second must not be served the first's token.
    east = _Env(aws_env, XDG_CONFIG_HOME=aws_env["XDG_CONFIG_HOME"] + "-east")
    west = _Env(aws_env, XDG_CONFIG_HOME=aws_env["XDG_CONFIG_HOME"] + "-west")
    configure_assume_role(cli, east, "us-east-1")
    configure_assume_role(cli, west, "us-west-2")
    for env in (east, west, east, west):
        run = cli("get", stdin=HOST, extra=env)
        assert run.code == 0, run.err
        assert run.json["Secret"] == fake.password
    sts = [(r["region"], r["role"]) for r in fake.requests if r["op"] == ASSUME_ROLE]
    assert sts == [("us-east-1", ROLE), ("us-west-2", ROLE)], (
        "each region's role session is minted once, in its own region, then cached"
    )
    assert fake.count(ECR) == 2


def test_a_ci_jobs_web_identity_mint_ignores_the_persons_aws_profile_and_config(
    cli, aws_env, fake, monkeypatch, tmp_path
):
    web_token = "eyJ" + pysecrets.token_urlsafe(32)
    fake.add_role(Role(ROLE + "-ci", web_tokens={web_token}))
    token_file = tmp_path / "oidc-token"
    token_file.write_text(web_token + "\n")
    # What a developer machine (or a runner image) may carry: a profile that does not
    # exist here, and a config file that is not even valid.
    broken = tmp_path / "aws-config"
    broken.write_text("[profile elsewhere\nregion = eu-west-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(broken))
    monkeypatch.setenv("AWS_PROFILE", "elsewhere")
    run = cli(
        "configure",
        "--registry",
        HOST,
        "--auth-method",
        "AWS_OIDC",
        f"--aws-oidc-role-arn={ROLE}-ci",
        "--aws-oidc-region=us-west-2",
        extra=aws_env,
    )
    assert run.code == 0, run.err
    env = _Env(aws_env, AWS_WEB_IDENTITY_TOKEN_FILE=str(token_file), AWS_PROFILE="elsewhere")
    for name in ("TRUSS_SECRET_aws_access_key_id", "TRUSS_SECRET_aws_secret_access_key"):
        del env[name]  # a CI job with nothing but its OIDC token
    run = cli("get", stdin=HOST, extra=env)
    assert run.code == 0, run.err
    assert run.json["Secret"] == fake.password
    web = [r for r in fake.requests if r["op"] == ASSUME_ROLE_WEB]
    assert [(r["role"], r["error"]) for r in web] == [(ROLE + "-ci", None)]
    ecr = [r for r in fake.requests if r["op"] == ECR]
    assert [(r["region"], r["key_id"][:4]) for r in ecr] == [("us-east-1", "ASIA")]


# -- FIPS: which endpoint name the installed command connects to --------------------------

FIPS_HOST = f"{ACCOUNT}.dkr.ecr-fips.us-east-1.amazonaws.com"
ENDPOINTS = {
    "ecr-fips.us-east-1.amazonaws.com": "fips",
    "api.ecr.us-east-1.amazonaws.com": "plain",
    "api.ecr-fips.us-east-1.amazonaws.com": "fips",  # newer botocore endpoint rules
    "ecr.us-east-1.amazonaws.com": "plain",
}


class _Listener:
    """Accepts TCP connections on ``ip:443`` and records them; answers nothing useful."""

    def __init__(self, ip: str) -> None:
        self.ip = ip
        self.accepted = 0
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((ip, 443))
        self._sock.listen(8)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self._sock.close()


def _executable() -> str:
    return helper_exe()


def _free_loopback() -> str:
    for _ in range(50):
        a, b, c = (pysecrets.randbelow(n) for n in (180, 255, 240))
        ip = f"127.{a + 64}.{b}.{c + 2}"
        with socket.socket() as probe:
            try:
                probe.bind((ip, 443))
            except OSError:
                continue
        return ip
    pytest.skip("no loopback address with a free port 443")


@pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("unshare"), reason="needs root and unshare"
)
def test_a_fips_host_is_reached_through_the_fips_endpoint(cli, env, tmp_path):
    listeners = {kind: _Listener(_free_loopback()) for kind in ("fips", "plain")}
    try:
        hosts = tmp_path / "hosts"
        hosts.write_text(
            "127.0.0.1 localhost\n"
            + "".join(f"{listeners[kind].ip} {name}\n" for name, kind in ENDPOINTS.items())
        )
        run = cli("configure", "--registry", FIPS_HOST, "--auth-method", "AWS_IAM")
        assert run.code == 0, run.err
        child = _Env(
            env,
            TRUSS_SECRET_aws_access_key_id="AKIA" + "F" * 16,
            TRUSS_SECRET_aws_secret_access_key="SENTINEL-fips-" + pysecrets.token_hex(8),
            AWS_CONFIG_FILE=str(tmp_path / "none"),
            AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
            DOCKER_CREDENTIAL_TRUSS_TIMEOUT="2",
        )
        script = 'mount --bind "$0" /etc/hosts && exec "$@"'
        done = subprocess.run(
            ["unshare", "-m", "sh", "-c", script, str(hosts), _executable(), "get"],
            input=FIPS_HOST,
            capture_output=True,
            text=True,
            env=child,
            timeout=90,
            check=False,
        )
        assert done.returncode == 1, done.stdout  # nothing there speaks TLS
        assert (listeners["fips"].accepted > 0, listeners["plain"].accepted) == (True, 0), (
            f"the FIPS host must go to the FIPS endpoint only: {done.stderr}"
        )
    finally:
        for listener in listeners.values():
            listener.close()

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
  our own, and the installed command runs there with no endpoint override. The same
  is seen in-process (where a mutation test can see it) through an HTTPS proxy that
  records which host each ``CONNECT`` asks for, and so is the STS endpoint's region.
"""

from __future__ import annotations

import base64
import json
import os
import secrets as pysecrets
import shutil
import socket
import subprocess
import threading

import pytest
from fakes.aws import ASSUME_ROLE, ASSUME_ROLE_WEB, ECR, FakeAws, Role, isolate
from fakes.aws import SecretEnv as _Env
from prerequisites import helper_exe

from docker_credential_truss.providers import _aws_calls

ACCOUNT = "123456789012"
HOST = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/puller"


@pytest.fixture
def fake(monkeypatch, tmp_path):
    # botocore reads the process environment: nothing of the developer's may steer it.
    isolate(monkeypatch, tmp_path)
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


# -- which AWS host a get asks for, in-process: through a recording HTTPS proxy --------


class _ConnectRecorder:
    """An HTTPS proxy that records the ``host:port`` of each CONNECT and refuses it (403).

    botocore reaches AWS through ``HTTPS_PROXY`` with a CONNECT naming the endpoint's
    host, so what it records is which endpoint would have been called; nothing is
    tunnelled, so the get fails after that first call.
    """

    def __init__(self) -> None:
        self.targets: list[str] = []
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with conn:
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    head += chunk
                method, _, rest = head.decode("latin-1").partition(" ")
                if method == "CONNECT":
                    self.targets.append(rest.split(" ", 1)[0])
                conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")

    def close(self) -> None:
        self._sock.close()


@pytest.fixture
def proxy(fake, monkeypatch):
    # botocore takes its proxy from the process environment, as the helper's does.
    for name in list(os.environ):
        if name.lower() in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
            monkeypatch.delenv(name)
    recorder = _ConnectRecorder()
    monkeypatch.setenv("HTTPS_PROXY", recorder.url)
    yield recorder
    recorder.close()


def _towards_aws(aws_env, fake) -> _Env:
    """aws_env with no endpoint override: botocore picks AWS's own host names."""
    return _Env({k: v for k, v in aws_env.items() if k not in fake.env()})


@pytest.mark.parametrize(
    ("host", "kind"),
    [(FIPS_HOST, "fips"), (HOST, "plain")],
    ids=["fips-host", "plain-host"],
)
def test_an_ecr_host_is_called_through_its_own_flavour_of_endpoint(
    cli, aws_env, fake, proxy, host, kind
):
    env = _towards_aws(aws_env, fake)
    assert cli("configure", "--registry", host, "--auth-method", "AWS_IAM", extra=env).code == 0
    run = cli("get", stdin=host, extra=env)
    assert "ProxyConnectionError" in run.why  # the proxy refused: nothing reached AWS
    assert [ENDPOINTS.get(t.removesuffix(":443"), t) for t in proxy.targets] == [kind], (
        proxy.targets
    )


def test_assume_role_calls_sts_in_the_roles_region_not_the_registrys(cli, aws_env, fake, proxy):
    env = _towards_aws(aws_env, fake)
    configure_assume_role(cli, env, "us-west-2")
    run = cli("get", stdin=HOST, extra=env)
    assert "STS AssumeRole failed" in run.why
    assert proxy.targets == ["sts.us-west-2.amazonaws.com:443"]


def test_a_web_identity_is_exchanged_at_sts_in_the_roles_region(
    cli, aws_env, fake, proxy, tmp_path
):
    env = _towards_aws(aws_env, fake)
    run = cli(
        "configure",
        "--registry",
        FIPS_HOST,
        "--auth-method",
        "AWS_OIDC",
        f"--aws-oidc-role-arn={ROLE}",
        "--aws-oidc-region=eu-west-1",
        extra=env,
    )
    assert run.code == 0, run.err
    token_file = tmp_path / "oidc-token"
    token_file.write_text("eyJ" + pysecrets.token_urlsafe(32) + "\n")
    env["AWS_WEB_IDENTITY_TOKEN_FILE"] = str(token_file)
    run = cli("get", stdin=FIPS_HOST, extra=env)
    assert "STS AssumeRoleWithWebIdentity failed" in run.why
    # the role's region, and STS's own endpoint: FIPS is the ECR host's, not the role's
    assert proxy.targets == ["sts.eu-west-1.amazonaws.com:443"]


def test_endpoint_overrides_are_dropped_when_aws_says_to_ignore_them(cli, aws_env, fake, proxy):
    env = _Env(aws_env, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=" True ")
    assert cli("configure", "--registry", HOST, "--auth-method", "AWS_IAM", extra=env).code == 0
    run = cli("get", stdin=HOST, extra=env)
    assert "ProxyConnectionError" in run.why
    assert proxy.targets == ["api.ecr.us-east-1.amazonaws.com:443"]
    assert fake.requests == [], "the configured endpoint was called all the same"


# -- the STS call's bounds: botocore's own retries stay off for it too -------------------


@pytest.mark.parametrize("method", ["AWS_OIDC", "AWS_ASSUME_ROLE"])
def test_a_throttled_sts_call_is_tried_three_times_then_reported(
    cli, aws_env, fake, monkeypatch, tmp_path, method
):
    monkeypatch.setattr(_aws_calls.time, "sleep", lambda seconds: None)
    web_token = "eyJ" + pysecrets.token_urlsafe(32)
    fake.add_role(Role(ROLE, trusted_keys=set(fake.keys), web_tokens={web_token}))
    op = ASSUME_ROLE_WEB if method == "AWS_OIDC" else ASSUME_ROLE
    fake.throttle(op, _aws_calls.MAX_ATTEMPTS)  # one more attempt would get through
    arn, region = (
        ("oidc-role-arn", "oidc-region")
        if op == ASSUME_ROLE_WEB
        else ("assume-role-arn", "assume-role-region")
    )
    run = cli(
        "configure",
        "--registry",
        HOST,
        "--auth-method",
        method,
        f"--aws-{arn}={ROLE}",
        f"--aws-{region}=us-west-2",
        extra=aws_env,
    )
    assert run.code == 0, run.err
    token_file = tmp_path / "oidc-token"
    token_file.write_text(web_token + "\n")
    env = _Env(aws_env, AWS_WEB_IDENTITY_TOKEN_FILE=str(token_file))
    run = cli("get", stdin=HOST, extra=env)
    assert f"throttled the request; {_aws_calls.MAX_ATTEMPTS} attempts" in run.why
    assert fake.count(op) == _aws_calls.MAX_ATTEMPTS
    assert fake.count(ECR) == 0


def _jwt(**claims: object) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    job = {"iss": "https://ci.example", "sub": "repo:me/app", "aud": "sts.amazonaws.com"}
    return f"{part({'alg': 'RS256'})}.{part({**job, **claims})}.c2ln"


def test_a_rewritten_web_identity_token_is_tried_at_once_not_the_remembered_failure(
    cli, aws_env, fake, tmp_path
):
    # Two tokens of the same job (same issuer, subject, audience): only their times and
    # ids differ, so both are the same cache identity; the role trusts the second only.
    stale, good = (_jwt(jti=pysecrets.token_hex(8), exp=n) for n in (1, 2))
    fake.add_role(Role(ROLE, web_tokens={good}))
    env = _Env(aws_env, DOCKER_CREDENTIAL_TRUSS_FAILURE_TTL="600")
    run = cli(
        "configure",
        "--registry",
        HOST,
        "--auth-method",
        "AWS_OIDC",
        f"--aws-oidc-role-arn={ROLE}",
        "--aws-oidc-region=us-west-2",
        extra=env,
    )
    assert run.code == 0, run.err
    token_file = tmp_path / "oidc-token"
    token_file.write_text(stale + "\n")
    env["AWS_WEB_IDENTITY_TOKEN_FILE"] = str(token_file)
    for _ in range(2):
        assert "STS rejected the web identity token" in cli("get", stdin=HOST, extra=env).why
    assert fake.count(ASSUME_ROLE_WEB) == 1, "the same token's failure is remembered"
    token_file.write_text(good + "\n")  # what a runner does when it refreshes the token
    run = cli("get", stdin=HOST, extra=env)
    assert run.code == 0, run.err
    assert run.json["Secret"] == fake.password
    assert fake.count(ASSUME_ROLE_WEB) == 2

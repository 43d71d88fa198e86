"""doctor: a healthy set-up passes; each broken one fails, says what is wrong and how to fix it.

Most tests run ``cli.main`` in-process with every location under tmp_path; the last
ones run the installed executable (``$DCT_EXE``, else ``docker-credential-truss`` on
PATH), as a user would. ``REG`` is a real docker-registry with htpasswd on loopback
that accepts the test's credential, since doctor ends by logging in to the registry;
the cloud hosts, which cannot be reached here, are checked with ``--no-registry``.
PATH in every test holds only a directory with a ``docker-credential-truss`` link to
that executable (or nothing, where that is the point). Secret values are sentinels,
checked through booleans so that a failing assertion never prints one.
"""

import base64
import json
import os
import shutil
import subprocess
import sys
import time

import pytest
from e2e.e2e_servers import Registry, free_port
from fakes.gcp import FakeGoogle
from prerequisites import helper_exe, missing

from docker_credential_truss import config
from docker_credential_truss.cache import TokenCache
from docker_credential_truss.minting import Token

PORT = free_port()
REG = f"127.0.0.1:{PORT}"
PASSWORD = "SENTINEL-doctor-pw-71c3"
VALUE = base64.b64encode(f"builder:{PASSWORD}".encode()).decode()
AR = "us-west2-docker.pkg.dev"


def executable() -> str:
    return helper_exe()


@pytest.fixture
def bindir(tmp_path):
    path = tmp_path / "bin"
    path.mkdir()
    (path / "docker-credential-truss").symlink_to(executable())
    return path


@pytest.fixture(scope="module")
def registry_server(tmp_path_factory):
    """docker-registry on REG, accepting builder:PASSWORD (the secret's credential)."""
    if shutil.which("docker-registry") is None:
        missing("docker-registry is not installed (Debian: apt install docker-registry)")
    server = Registry(
        tmp_path_factory.mktemp("registry"), "127.0.0.1", PORT, [("builder", PASSWORD)]
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def healthy(env, bindir, paths, truss_secrets, registry_server):
    """REG's secret in ~/.truss/config.yaml, docker routing REG to truss, helper on PATH."""
    env["PATH"] = f"{bindir}:/usr/bin:/bin"
    truss_secrets({f"DOCKER_REGISTRY_{REG}": VALUE})
    route(paths, REG)
    return env


def route(paths, *keys: str) -> None:
    os.makedirs(os.path.dirname(paths.docker_config), exist_ok=True)
    with open(paths.docker_config, "w") as handle:
        json.dump({"auths": {}, "credHelpers": dict.fromkeys(keys, "truss")}, handle)


def fails_with(run, *lines: str) -> None:
    assert run.code == 1
    for line in lines:
        assert line in run.out, f"missing: {line!r}\n{run.out}"
    assert "  FAIL  " in run.out and "        fix: " in run.out


def test_healthy_set_up_passes_and_shows_names_and_sources_only(cli, healthy, paths, bindir):
    run = cli("doctor")
    assert run.code == 0, run.out
    assert f"docker-credential-truss on PATH: {bindir}/docker-credential-truss" in run.out
    assert f'docker sends it here: credHelpers {REG} -> "truss"' in run.out
    assert f"auth method REGISTRY_SECRET: secret DOCKER_REGISTRY_{REG} exists" in run.out
    assert f"secret DOCKER_REGISTRY_{REG}: found in {paths.truss_config}" in run.out
    assert "credential: made one now for user builder" in run.out
    assert f"registry accepted the credential: GET http://{REG}/v2/ -> 200 (Basic)" in run.out
    assert run.out.rstrip().endswith("all good: 1 registry ready")
    leaked = PASSWORD in run.out or VALUE in run.out
    assert not leaked, "doctor printed a secret value"


def test_helper_not_on_path(cli, healthy, tmp_path):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    run = cli("doctor", extra={"PATH": f"{empty}:/usr/bin:/bin"})
    fails_with(run, "no program named docker-credential-truss on PATH")
    assert "credential: made one now" in run.out  # the rest is still checked


def test_helper_on_path_that_does_not_run(cli, healthy, tmp_path):
    script = tmp_path / "sh-bin" / "docker-credential-truss"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\nexit 3\n")
    script.chmod(0o755)
    run = cli("doctor", extra={"PATH": f"{script.parent}:/usr/bin:/bin"})
    fails_with(run, f"{script} is on PATH but does not run")


def test_registry_not_routed(cli, healthy, paths):
    route(paths, "other.example.test")
    run = cli("doctor", REG)
    fails_with(
        run,
        f"docker does not send it to this helper; credHelpers in {paths.docker_config} has:"
        f" {REG} (no entry)",
        f'add "{REG}": "truss" to "credHelpers" in {paths.docker_config}',
    )


def test_registry_routed_to_another_helper(cli, healthy, paths):
    with open(paths.docker_config, "w") as handle:
        json.dump({"credHelpers": {REG: "ecr-login"}}, handle)
    fails_with(cli("doctor", REG), f'{REG} ("ecr-login")')


def test_docker_hub_needs_both_keys(cli, healthy, paths):
    hub = "https://index.docker.io/v1/"
    route(paths, hub)
    run = cli("doctor", "docker.io", extra={f"TRUSS_SECRET_DOCKER_REGISTRY_{hub}": VALUE})
    fails_with(run, "docker.io (no entry)", '"docker.io": "truss"')
    route(paths, hub, "docker.io")
    run = cli(
        "doctor", "--no-registry", "docker.io", extra={f"TRUSS_SECRET_DOCKER_REGISTRY_{hub}": VALUE}
    )
    assert run.code == 0, run.out


def test_secret_missing(cli, healthy, paths):
    config.merge(paths, {REG: {"auth_method": "REGISTRY_SECRET", "secret_name": "reg-pw"}})
    run = cli("doctor", REG)
    fails_with(
        run,
        "auth method REGISTRY_SECRET: configured from the helper config",
        "secret reg-pw is missing; looked in $TRUSS_SECRET_reg-pw",
        f"docker login {REG}",
        "env \"TRUSS_SECRET_reg-pw=$(printf %s 'USER:PASSWORD' | base64 | tr -d '\\n')\"",
        "credential: not tried, a secret is missing",
    )
    assert "export" not in run.out


def test_no_way_to_authenticate(cli, healthy, paths):
    run = cli("doctor", "nothing.example.test")
    fails_with(
        run,
        "no way to authenticate: not in the helper config, and no secret"
        " DOCKER_REGISTRY_nothing.example.test",
        "docker login nothing.example.test",
    )


def test_bad_secret(cli, healthy, truss_secrets):
    bad = "SENTINEL not base64 !!"
    truss_secrets({f"DOCKER_REGISTRY_{REG}": bad})
    for args in (("doctor",), ("doctor", "--offline")):
        run = cli(*args)
        fails_with(run, f"secret 'DOCKER_REGISTRY_{REG}' is not valid base64")
        assert "correct the secret's value where it is kept" in run.out
        leaked = bad in run.out
        assert not leaked, "doctor printed the secret value"


def test_unreadable_truss_config_is_a_problem_not_a_crash(cli, healthy, paths):
    with open(paths.truss_config, "w") as handle:
        handle.write("secrets: [unclosed\n")
    fails_with(cli("doctor"), f"{paths.truss_config} is not valid YAML")


def test_nothing_configured(cli, env, bindir):
    run = cli("doctor", extra={"PATH": f"{bindir}:/usr/bin:/bin"})
    fails_with(run, "no registry is configured", "docker-credential-truss configure")


def test_unknown_option(cli, healthy):
    run = cli("doctor", "--frobnicate")
    assert (run.code, run.out) == (2, "")
    assert run.err == (
        "docker-credential-truss doctor: unrecognized arguments: --frobnicate"
        " (see: docker-credential-truss doctor --help)\n"
    )


def test_only_the_named_registries_are_checked(cli, healthy, paths):
    route(paths, REG, "other.example.test")
    run = cli("doctor", REG)
    assert run.code == 0, run.out
    assert "other.example.test" not in run.out


# --- a provider whose token endpoint answers (the local Google stand-in) ----------------


@pytest.fixture
def google():
    with FakeGoogle() as fake:
        yield fake


@pytest.fixture
def gcp_env(healthy, paths, google, truss_secrets):
    """The key is in ~/.truss/config.yaml: pytest's failure report shows the env, not files."""
    key = google.new_key()
    config.merge(paths, {AR: {"auth_method": "GCP_SERVICE_ACCOUNT_JSON", "secret_name": "sa"}})
    route(paths, REG, AR)
    truss_secrets({f"DOCKER_REGISTRY_{REG}": VALUE, "sa": key.json()})
    healthy["DOCKER_CREDENTIAL_TRUSS_TIMEOUT"] = "2"
    return key


def test_token_endpoint_refusing(cli, gcp_env, google, paths):
    google.fail["token"] = "refuse"
    run = cli("doctor", AR)
    fails_with(
        run,
        f"secret sa: found in {paths.truss_config}",
        "refused the credential: HTTP 400 (invalid_grant)",
        "check the account's permissions",
    )
    assert google.calls["token"] >= 1
    leaked = gcp_env.info["private_key"] in run.out or "SENTINEL" in run.out
    assert not leaked, "doctor printed the key or the endpoint's response"


def test_offline_does_not_call_the_endpoint(cli, gcp_env, google):
    google.fail["token"] = "refuse"
    run = cli("doctor", "--offline", AR)
    assert run.code == 0, run.out
    assert "not minted (--offline)" in run.out
    assert google.calls["token"] == 0


def test_a_minted_token_is_reported_by_expiry_and_never_shown(cli, gcp_env, google):
    assert cli("get", stdin=AR).code == 0  # fills the cache
    run = cli("doctor", "--no-registry", AR)
    assert run.code == 0, run.out
    assert "credential: made one now for user oauth2accesstoken, valid until" in run.out
    assert "token cache: a token valid until" in run.out and "left)" in run.out
    shown = [t for t in google.issued["token"] if t in run.out]
    assert not shown, "doctor printed a token"


def test_an_expired_token_alone_is_shown_as_expired(cli, healthy, paths):
    now = time.time()
    TokenCache(paths.token_cache).put(REG, "old", Token("u", "SENTINEL-t", now - 60), now - 3600)
    run = cli("doctor", REG)
    assert "(expired: the next get mints a new one)" in run.out


def test_many_stale_tokens_are_one_line(cli, healthy, paths):
    now = time.time()
    cache = TokenCache(paths.token_cache)
    for i in range(50):
        cache.put(REG, f"rotated-{i}", Token("u", f"SENTINEL-{i}", now - 60), now - 3600)
    cache.put(REG, "current", Token("u", "SENTINEL-now", now + 7200), now)
    run = cli("doctor", REG)
    assert run.out.count("token cache:") == 2, run.out
    assert "token cache: 50 stale tokens of other or earlier identities" in run.out


def test_cache_entries_show_expiry_state(cli, healthy, paths):
    now = time.time()
    cache = TokenCache(paths.token_cache)
    cache.put(REG, "fresh-identity", Token("u", "SENTINEL-t1", now + 7200), now)
    cache.put(REG, "old-identity", Token("u", "SENTINEL-t2", now - 60), now - 3600)
    run = cli("doctor", REG)
    assert "(fresh, 1h59m left)" in run.out or "(fresh, 2h00m left)" in run.out
    assert (
        "  --    token cache: 1 stale token of other or earlier identities (expired or nearly);"
        " expired ones is removed as the cache is written"
    ) in run.out.splitlines(), run.out
    leaked = "SENTINEL-t" in run.out
    assert not leaked, "doctor printed a cached token"


# --- the installed executable ---------------------------------------------------------


def run_exe(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["docker-credential-truss", "doctor", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_installed_doctor_healthy(healthy, paths):
    done = run_exe(healthy)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"secret DOCKER_REGISTRY_{REG}: found in {paths.truss_config}" in done.stdout
    assert done.stderr == ""
    leaked = PASSWORD in done.stdout or VALUE in done.stdout
    assert not leaked, "doctor printed a secret value"


def test_installed_doctor_endpoint_refusing_and_missing_secret(gcp_env, healthy, paths, google):
    google.fail["token"] = "refuse"
    config.merge(paths, {REG: {"auth_method": "REGISTRY_SECRET", "secret_name": "gone"}})
    done = run_exe(healthy)
    assert done.returncode == 1
    assert "refused the credential: HTTP 400 (invalid_grant)" in done.stdout
    assert "secret gone is missing" in done.stdout
    assert done.stdout.rstrip().endswith("2 problems found; each FAIL above says how to fix it")


# --- ECR through the AWS stand-in (the real boto3 signs and sends) -----------------------

ECR_HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
AWS_SECRET = "SENTINEL-aws-secret-key-9a1e"


@pytest.fixture
def ecr_env(healthy, paths, tmp_path, truss_secrets):
    """ECR by convention: truss's default AWS secret names, docker routing the host.

    The key pair is in ~/.truss/config.yaml, not the environment, so that pytest's
    report of a failing test (which shows fixture values) cannot show it.
    """
    from fakes.aws import ECR, FakeAws

    with FakeAws(region="us-east-1") as fake:
        fake.keys["AKIADOCTORTEST000001"] = AWS_SECRET
        truss_secrets(
            {
                f"DOCKER_REGISTRY_{REG}": VALUE,
                "aws_access_key_id": "AKIADOCTORTEST000001",
                "aws_secret_access_key": AWS_SECRET,
            }
        )
        route(paths, REG, ECR_HOST)
        healthy.update(fake.env())
        healthy["AWS_CONFIG_FILE"] = str(tmp_path / "no-aws-config")
        healthy["AWS_SHARED_CREDENTIALS_FILE"] = str(tmp_path / "no-aws-credentials")
        fake.op = ECR
        yield fake


def test_ecr_healthy_then_refused(cli, ecr_env, paths):
    run = cli("doctor", "--no-registry", ECR_HOST)
    assert run.code == 0, run.out
    assert "auth method AWS_IAM: an ECR host, and truss's default AWS secrets exist" in run.out
    assert f"secret aws_access_key_id: found in {paths.truss_config}" in run.out
    assert f"secret aws_secret_access_key: found in {paths.truss_config}" in run.out
    assert "credential: made one now for user AWS, valid until" in run.out
    ecr_env.deny(ecr_env.op)
    run = cli("doctor", "--no-registry", ECR_HOST)
    fails_with(run, "access denied", "check the account's permissions")
    leaked = AWS_SECRET in run.out or ecr_env.password in run.out
    assert not leaked, "doctor printed a secret or the endpoint's token"


def test_ecr_with_the_default_chain_opted_in_is_not_a_missing_secret(
    cli, ecr_env, paths, truss_secrets, tmp_path, monkeypatch
):
    """Without the truss key pair but opted in to boto3's chain, get works: so must doctor."""
    config.merge(paths, {ECR_HOST: {"auth_method": "AWS_IAM"}})  # as configure writes it
    truss_secrets({f"DOCKER_REGISTRY_{REG}": VALUE})  # the AWS key pair gone from truss
    credentials = tmp_path / "aws-credentials"
    credentials.write_text(
        "[default]\naws_access_key_id = AKIADOCTORTEST000001\n"
        f"aws_secret_access_key = {AWS_SECRET}\n"
    )
    chain = {"AWS_SHARED_CREDENTIALS_FILE": str(credentials)}
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))  # botocore reads os.environ
    run = cli("doctor", "--no-registry", ECR_HOST, extra=chain)
    fails_with(run, "secret aws_access_key_id is missing")  # not opted in: get fails too
    assert cli("get", stdin=ECR_HOST, extra=chain).code == 1

    chain["DOCKER_CREDENTIAL_TRUSS_AWS_DEFAULT_CHAIN"] = "1"
    got = cli("get", stdin=ECR_HOST, extra=chain)
    assert got.code == 0, got.why
    run = cli("doctor", "--no-registry", ECR_HOST, extra=chain)
    assert run.code == 0, run.out
    assert (
        "secret aws_access_key_id: not set; DOCKER_CREDENTIAL_TRUSS_AWS_DEFAULT_CHAIN=1" in run.out
    )
    assert "credential: made one now for user AWS" in run.out
    assert AWS_SECRET not in run.out


def test_installed_doctor_ecr_healthy_then_refused(ecr_env, healthy):
    done = run_exe(healthy, "--no-registry", ECR_HOST)  # signed by the installed botocore
    assert done.returncode == 0, done.stdout
    ecr_env.deny(ecr_env.op)
    done = run_exe(healthy, "--no-registry", ECR_HOST)
    assert done.returncode == 1
    assert "access denied" in done.stdout and "(AccessDeniedException)" in done.stdout
    leaked = AWS_SECRET in done.stdout or ecr_env.password in done.stdout
    assert not leaked, "doctor printed a secret"


def test_docker_hub_secret_in_truss_config_is_warned_about(cli, healthy, truss_secrets):
    hub = "DOCKER_REGISTRY_https://index.docker.io/v1/"
    truss_secrets({f"DOCKER_REGISTRY_{REG}": VALUE, hub: VALUE})
    run = cli("doctor", "--offline", REG)
    assert run.code == 0, run.out  # a warning, not a problem: docker itself works
    assert f"  WARN  secret {hub} in " in run.out and "truss image run" in run.out
    assert "docker login`" in run.out and "TRUSS_SECRET_" in run.out
    assert "DOCKER_REGISTRY_https:%2F%2Findex.docker.io%2Fv1%2F" in run.out
    assert VALUE not in run.out


def test_other_names_with_a_slash_are_counted_not_shown(cli, healthy, truss_secrets):
    """A key that is not DOCKER_REGISTRY_* may be a value pasted as a name: never echo it."""
    pasted = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    truss_secrets({f"DOCKER_REGISTRY_{REG}": VALUE, pasted: "x"})
    run = cli("doctor", "--offline", REG)
    assert run.code == 0, run.out
    assert "1 other secret name(s) with '/'" in run.out and "truss image run" in run.out
    assert pasted not in run.out and "wJalrXUtnFEMI" not in run.out


def test_offline_doctor_fails_what_get_would_refuse_before_the_network(cli, healthy, paths):
    from docker_credential_truss import config

    ecr = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
    config.merge(paths, {ecr: {"auth_method": "AWS_IAM", "source": "test"}})
    route(paths, REG, ecr)
    healthy["TRUSS_SECRET_aws_access_key_id"] = "AKIAEXAMPLE"
    healthy["TRUSS_SECRET_aws_secret_access_key"] = "sk"
    healthy["DOCKER_CREDENTIAL_TRUSS_TIMEOUT"] = "forever"
    run = cli("doctor", "--offline", ecr)
    fails_with(run, "DOCKER_CREDENTIAL_TRUSS_TIMEOUT should be a number")
    get = cli("get", stdin=ecr)
    assert get.code == 1 and "DOCKER_CREDENTIAL_TRUSS_TIMEOUT should be a number" in get.err


# --- the registry check when the registry is not one -----------------------------------


def _garbage_server(reply: bytes):
    """A TCP server on loopback that answers every connection with ``reply`` (or nothing)."""
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.recv(4096)
            if reply:
                conn.sendall(reply)
                conn.close()
            # else: keep it open and silent; the client must give up on its own

    threading.Thread(target=serve, daemon=True).start()
    return listener


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (None, "Connection refused"),
        (b"SSH-2.0-OpenSSH\r\n", "BadStatusLine"),
        (b"", "no answer within 1s"),
    ],
)
def test_registry_check_against_something_that_is_no_registry(
    cli, healthy, paths, truss_secrets, reply, expected
):
    if reply is None:
        server, key = None, f"127.0.0.1:{free_port()}"
    else:
        server = _garbage_server(reply)
        key = f"127.0.0.1:{server.getsockname()[1]}"
    truss_secrets({f"DOCKER_REGISTRY_{key}": VALUE})
    route(paths, key)
    try:
        run = cli("doctor", key, extra={"DOCKER_CREDENTIAL_TRUSS_TIMEOUT": "1"})
    finally:
        if server is not None:
            server.close()
    fails_with(run, f"FAIL  registry check: http://{key}/v2/: {expected}")
    assert run.out.count("  FAIL  ") == 1, run.out


def test_doctor_says_whether_get_would_answer_from_the_cache_for_this_identity(
    cli, gcp_env, google, truss_secrets
):
    assert cli("get", stdin=AR).code == 0  # caches a token for this key
    run = cli("doctor", "--offline", AR)
    lines = run.out.splitlines()
    assert "  --    token cache: get answers from it for this identity" in lines, run.out
    truss_secrets({f"DOCKER_REGISTRY_{REG}": VALUE, "sa": google.new_key().json()})
    run = cli("doctor", "--offline", AR)  # a rotated key: another identity
    lines = run.out.splitlines()
    assert "  --    token cache: nothing fresh for this identity; the next get mints" in lines
    assert "token cache: get answers from it" not in run.out


# doctor's last line and its PATH check, word for word. The last line counts the problems
# ("1 problem", "2 problems") or the registries ready ("1 registry", "2 registries"). The
# PATH check judges the PATH docker will be given (doctor's env), never doctor's own
# process's; a helper that is not on it is given the `ln -s` of the program installed
# beside this Python. A token cache doctor cannot trust is a FAIL, and the report goes on.

EXE = "docker-credential-truss"
OTHER = "second.example.test"
FOUND = "problem{} found; each FAIL above says how to fix it"
CONFIGURE = "docker-credential-truss configure PATH/TO/MY-TRUSS"


@pytest.fixture
def no_helper_on_path(healthy, tmp_path):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    healthy["PATH"] = f"{empty}:/usr/bin:/bin"
    return healthy


def beside_this_python() -> str:
    script = os.path.join(os.path.dirname(sys.executable), EXE)
    assert os.path.isfile(script), f"these tests need {EXE} installed beside {sys.executable}"
    return script


def test_one_problem_is_said_in_the_singular_with_the_ln_fix(cli, no_helper_on_path):
    run = cli("doctor", REG)
    assert run.code == 1
    lines = run.out.splitlines()
    assert lines[2:5] == [
        "set-up",
        f"  FAIL  no program named {EXE} on PATH, so docker cannot run the helper",
        f"        fix: ln -s {beside_this_python()} /usr/local/bin/{EXE}  (with sudo if need be;"
        " or any folder on PATH)",
    ]
    assert lines[-1] == "1 " + FOUND.format("")
    assert run.out.count("  FAIL  ") == 1, run.out


def test_two_problems_are_said_in_the_plural(cli, no_helper_on_path, paths):
    route(paths, REG, OTHER)
    run = cli("doctor", REG, OTHER)
    assert run.code == 1
    assert run.out.count("  FAIL  ") == 2, run.out  # PATH, and OTHER has no secret
    assert run.out.splitlines()[-1] == "2 " + FOUND.format("s")


def test_two_registries_ready_are_said_in_the_plural(cli, healthy, paths, truss_secrets):
    truss_secrets({f"DOCKER_REGISTRY_{REG}": VALUE, f"DOCKER_REGISTRY_{OTHER}": VALUE})
    route(paths, REG, OTHER)
    run = cli("doctor", "--no-registry")
    assert run.code == 0, run.out
    assert f"\n{OTHER}\n" in run.out and f"\n{REG}\n" in run.out
    assert run.out.splitlines()[-1] == "all good: 2 registries ready"


def test_a_path_missing_from_dockers_environment_finds_nothing(cli, healthy, monkeypatch):
    # doctor's own process can run the helper; the environment docker gets has no PATH
    monkeypatch.setenv("PATH", healthy.pop("PATH"))
    run = cli("doctor", REG)
    assert f"  FAIL  no program named {EXE} on PATH, so docker cannot run the helper" in (
        run.out.splitlines()
    ), run.out
    assert run.out.splitlines()[-1] == "1 " + FOUND.format("")


def test_a_cache_file_others_can_write_is_a_fail_and_the_report_goes_on(cli, healthy, paths):
    os.makedirs(paths.token_cache, mode=0o700, exist_ok=True)
    planted = os.path.join(paths.token_cache, "planted.json")
    with open(planted, "w") as handle:
        handle.write("{}")
    os.chmod(planted, 0o666)
    run = cli("doctor", REG)
    lines = run.out.splitlines()
    at = lines.index(
        f"  FAIL  {planted} is writable by other users; fix with: chmod go-w {planted}"
    )
    assert lines[at + 1] == f"        fix: fix the permissions, or remove {paths.token_cache}"
    assert f"  ok    registry accepted the credential: GET http://{REG}/v2/ -> 200 (Basic)" in lines
    assert lines[-1] == "1 " + FOUND.format(""), run.out  # the planted file, only


def path_fix(run) -> str:  # type: ignore[no-untyped-def]
    lines = run.out.splitlines()
    assert lines[3] == f"  FAIL  no program named {EXE} on PATH, so docker cannot run the helper"
    return lines[4]


def test_a_standalone_build_off_path_is_linked_by_its_own_path_under_the_helpers_name(
    cli, no_helper_on_path, tmp_path, monkeypatch
):
    # PyInstaller sets sys.frozen and makes the build sys.executable; this one was renamed
    # on download, so nothing named docker-credential-truss is beside it
    build = tmp_path / "downloads" / f"{EXE}-0.1.0-linux-amd64"
    build.parent.mkdir()
    build.write_text("")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(build))
    assert path_fix(cli("doctor", REG)) == (
        f"        fix: ln -s {build} /usr/local/bin/{EXE}  (with sudo if need be;"
        " or any folder on PATH)"
    )


def test_a_python_without_the_helper_beside_it_is_told_to_install_it(
    cli, no_helper_on_path, tmp_path, monkeypatch
):
    python = tmp_path / "other-venv" / "bin" / "python3"
    python.parent.mkdir(parents=True)
    python.write_text("")
    monkeypatch.delattr(sys, "frozen", raising=False)
    monkeypatch.setattr(sys, "executable", str(python))
    assert path_fix(cli("doctor", REG)) == (
        f"        fix: add the folder holding it to PATH, or install it with: pipx install {EXE}"
    )


def helper_script(folder, body: str):  # type: ignore[no-untyped-def]
    folder.mkdir()
    script = folder / EXE
    script.write_text("#!/bin/sh\n" + body + "\n")
    script.chmod(0o755)
    return script


def test_a_helper_found_through_a_relative_path_entry_is_refused_as_docker_does(
    cli, healthy, tmp_path, monkeypatch
):
    here = tmp_path / "work"
    helper_script(here, 'echo "docker-credential-truss 0.1.0"')
    monkeypatch.chdir(here)
    run = cli("doctor", REG, extra={"PATH": ".:/usr/bin:/bin"})
    assert run.out.splitlines()[3:5] == [
        f"  FAIL  {EXE} is found as ./{EXE}, through a relative PATH entry ('.' or an empty"
        " one): docker refuses it (resolves to executable in current directory)",
        "        fix: take the relative entry out of PATH (or put it last), and put the helper"
        f" in an absolute folder on PATH: ln -s {here}/{EXE} /usr/local/bin/",
    ]


def test_the_helper_on_path_is_run_with_dockers_environment(cli, healthy, tmp_path):
    # the version it says comes from a variable only docker's environment (doctor's env) has
    folder = tmp_path / "env-bin"
    helper_script(folder, 'echo "docker-credential-truss $DCT_TEST_ANSWER"')
    run = cli("doctor", REG, extra={"PATH": f"{folder}:/usr/bin:/bin", "DCT_TEST_ANSWER": "9.9"})
    assert run.out.splitlines()[3:5] == [
        f"  ok    {EXE} on PATH: {folder}/{EXE} (9.9)",
        "  --    this doctor is 0.1.0; docker will run 9.9",
    ]


def test_a_helper_that_does_not_answer_in_time_does_not_run(cli, healthy, tmp_path, monkeypatch):
    from docker_credential_truss import doctor

    folder = tmp_path / "slow-bin"
    helper_script(folder, "exec sleep 60")
    monkeypatch.setattr(doctor, "VERSION_WAIT", 0.5)
    run = cli("doctor", REG, extra={"PATH": f"{folder}:/usr/bin:/bin"})
    assert run.out.splitlines()[3:5] == [
        f"  FAIL  {folder}/{EXE} is on PATH but does not run (TimeoutExpired)",
        "        fix: reinstall it; a standalone build must keep its _internal folder beside it",
    ]


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        ("exit 3", "no answer"),
        ('echo "docker-credential-truss 0.1.0"; exit 1', "docker-credential-truss 0.1.0"),
        ("echo hello", "hello"),  # exits 0, but is not the helper
        ("echo " + "x" * 100, "x" * 80),  # what it says is cut at 80 characters
    ],
)
def test_a_helper_on_path_that_does_not_answer_its_version_says_what_it_said(
    cli, healthy, tmp_path, body, shown
):
    folder = tmp_path / "odd-bin"
    helper_script(folder, body)
    run = cli("doctor", REG, extra={"PATH": f"{folder}:/usr/bin:/bin"})
    assert run.out.splitlines()[3:5] == [
        f"  FAIL  {folder}/{EXE} is on PATH but does not run ({shown})",
        "        fix: reinstall it; a standalone build must keep its _internal folder beside it",
    ]


def test_a_helper_on_path_only_through_an_active_venv_is_a_warning_with_the_link(
    cli, healthy, tmp_path
):
    venv = tmp_path / "venv"
    venv.mkdir()
    helper_script(venv / "bin", 'echo "docker-credential-truss 0.1.0"')
    run = cli("doctor", REG, extra={"PATH": f"{venv}/bin:/usr/bin:/bin", "VIRTUAL_ENV": str(venv)})
    assert run.out.splitlines()[3:6] == [
        f"  ok    {EXE} on PATH: {venv}/bin/{EXE} (0.1.0)",
        f"  WARN  it is on PATH only while the virtual environment {venv} is active: docker"
        " run from another shell, by sudo, cron or a CI service will not find it",
        f"        fix: ln -s {venv}/bin/{EXE} /usr/local/bin/  (or into ~/.local/bin, if that"
        " is on PATH)",
    ]
    assert "this doctor is" not in run.out  # the same version: no note


# -- the set-up section, whole lines: docker's config, the helper's, truss's secret names


def setup_lines(run) -> list[str]:  # type: ignore[no-untyped-def]
    """The set-up section's lines after the PATH check."""
    return run.out.split("\n\n")[1].splitlines()[2:]


def test_a_docker_config_not_there_yet_is_a_note(cli, healthy, paths):
    os.remove(paths.docker_config)
    assert setup_lines(cli("doctor", REG))[0] == (
        f"  --    docker config {paths.docker_config} does not exist yet"
    )


def test_a_docker_config_that_is_not_json_is_a_fail_with_its_fix(cli, healthy, paths):
    with open(paths.docker_config, "w") as handle:
        handle.write("{not json")
    assert setup_lines(cli("doctor", REG))[:2] == [
        f"  FAIL  docker config: {paths.docker_config} is not valid JSON; move it aside to"
        " start afresh",
        f"        fix: repair {paths.docker_config}, or move it aside and configure again",
    ]


def test_a_broken_helper_config_is_a_fail_and_the_routes_are_counted(cli, healthy, paths):
    route(paths, REG, "other.example.test")
    os.makedirs(os.path.dirname(paths.helper_config), exist_ok=True)
    with open(paths.helper_config, "w") as handle:
        handle.write("[]")
    assert setup_lines(cli("doctor", REG))[:3] == [
        f"  ok    docker config {paths.docker_config}: 2 credHelpers entries name truss",
        f"  FAIL  {paths.helper_config} does not hold a JSON object; move it aside to start afresh",
        f"        fix: move {paths.helper_config} aside and run: {CONFIGURE}",
    ]


def test_an_empty_helper_config_says_a_secret_needs_none(cli, healthy, paths):
    assert setup_lines(cli("doctor", REG))[:2] == [
        f"  ok    docker config {paths.docker_config}: 1 credHelpers entries name truss",
        f"  --    helper config {paths.helper_config}: none yet (a registry with a"
        " DOCKER_REGISTRY_* secret needs none)",
    ]


def test_secret_names_with_a_slash_are_warned_of_the_registrys_by_name(
    cli, healthy, paths, truss_secrets
):
    config.merge(paths, {"a.example.test": {"auth_method": "REGISTRY_SECRET"}})
    hub = "DOCKER_REGISTRY_https://index.docker.io/v1/"
    truss_secrets({f"DOCKER_REGISTRY_{REG}": VALUE, hub: VALUE, "a/b": "1", "c/d": "2"})
    truss = paths.truss_config
    breaks = "breaks `truss image run`, which writes each secret there to a file named after it"
    assert setup_lines(cli("doctor", REG))[1:] == [
        f"  ok    helper config {paths.helper_config}: 1 registries",
        f"  WARN  secret {hub} in {truss} {breaks}",
        f"        fix: move it out of {truss}: `docker login` (the helper's own store), or env"
        f" 'TRUSS_SECRET_{hub}=...' COMMAND, or a file in $TRUSS_SECRETS_DIR named with %2F for"
        " each '/' (DOCKER_REGISTRY_https:%2F%2Findex.docker.io%2Fv1%2F)",
        f"  WARN  2 other secret name(s) with '/' in {truss} (not shown, in case a value was"
        f" pasted as a name): such a name {breaks}",
        f"        fix: look for '/' in the names under secrets: in {truss}",
    ]


def test_a_name_that_is_not_a_registry_is_a_fail_and_the_others_are_checked(cli, healthy):
    run = cli("doctor", "host:99999", REG)
    assert run.out.splitlines()[6:8] == [
        "  FAIL  'host:99999' is not a registry (bad port)",
        "        fix: name it as docker does: host[:port]",
    ]
    assert f"\n{REG}\n" in run.out and run.out.splitlines()[-1] == "1 " + FOUND.format("")


def test_without_names_the_registries_come_from_every_place_a_bad_key_skipped(cli, healthy, paths):
    # the helper config's, those with a secret, then docker's routes to truss, each once;
    # a route key that is not a registry is passed over, not the end of the list
    config.merge(paths, {"a.example.test": {"auth_method": "REGISTRY_SECRET"}})
    route(paths, REG, "bad host", "c.example.test")
    run = cli("doctor")
    keys = {"a.example.test", REG, "c.example.test", "bad host"}
    assert [line for line in run.out.splitlines() if line in keys] == [
        "a.example.test",
        REG,
        "c.example.test",
    ]


def test_a_truss_config_that_cannot_be_read_is_a_fail_where_registries_are_listed(
    cli, healthy, paths
):
    with open(paths.truss_config, "w") as handle:
        handle.write("secrets: [unclosed\n")
    lines = cli("doctor").out.splitlines()
    at = lines.index("        fix: fix the file it names; its secrets cannot be read until then")
    assert lines[at - 1].startswith(
        f"  FAIL  {paths.truss_config} is not valid YAML at line 2, column 1: "
    )


def test_a_broken_helper_config_still_lists_the_registries_with_a_secret(cli, healthy, paths):
    os.makedirs(os.path.dirname(paths.helper_config), exist_ok=True)
    with open(paths.helper_config, "w") as handle:
        handle.write("[]")
    assert f"\n{REG}\n  ok    docker sends it here" in cli("doctor").out


def test_another_registrys_secret_with_a_slash_is_told_its_own_docker_login(
    cli, healthy, paths, truss_secrets
):
    name = "DOCKER_REGISTRY_https://registry.example.test/"
    truss_secrets({f"DOCKER_REGISTRY_{REG}": VALUE, name: VALUE})
    lines = setup_lines(cli("doctor", REG))
    at = lines.index(
        f"  WARN  secret {name} in {paths.truss_config} breaks `truss image run`, which writes"
        " each secret there to a file named after it"
    )
    assert lines[at + 1].startswith(
        f"        fix: move it out of {paths.truss_config}: `docker login"
        " https://registry.example.test/` (the helper's own store), or env"
    )


def test_no_registry_anywhere_is_a_fail_saying_how_to_configure_one(cli, env, paths):
    run = cli("doctor")
    assert run.code == 1
    lines = run.out.splitlines()
    at = lines.index(
        "  FAIL  no registry is configured: docker will never get a credential from this helper"
    )
    assert lines[at + 1] == (
        f"        fix: run: {CONFIGURE}  (or set a DOCKER_REGISTRY_<registry> secret)"
    )

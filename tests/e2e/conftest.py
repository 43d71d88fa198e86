"""Shared fixtures for the end-to-end tests: the installed helper, a real dockerd and
real htpasswd registries, a tiny image on them, and an isolated environment per test.

Fixtures (session scope unless noted):

- ``helper_exe`` -> Path: the executable under test: ``$DCT_EXE``, else
  ``docker-credential-truss`` on PATH, else the one installed next to this Python.
  Missing is an error, never a skip.
- ``helper_bin_dir`` -> Path: a directory holding only a ``docker-credential-truss``
  symlink to ``helper_exe``; it is first on PATH in every test environment.
- ``sandbox`` (function) -> Sandbox: HOME, XDG_*_HOME and DOCKER_CONFIG under tmp_path,
  no inherited TRUSS_SECRET_*, TRUSS_SECRETS_DIR, AWS_*, GOOGLE_*, DOCKER_* or proxy
  variables; ``.env`` (a dict tests may change), ``.run_helper(verb, stdin, env=)``,
  ``.put_secret(source, name, value)``, ``.put_registry_credential(source, key, user, pw)``,
  ``.write_docker_config(obj)``, ``.read_docker_config()``, ``.cred_helpers(*keys)``.
- ``e2e_env`` (function) -> dict and ``run_helper`` (function) -> callable: the same as
  ``sandbox.env`` and ``sandbox.run_helper``.
- ``dockerd`` -> Dockerd: one real dockerd (overlay2 where it works, else vfs) for the
  session, running in a private mount namespace whose /etc/hosts maps every name in
  ``CLOUD_HOSTS`` to the cloud registry's loopback address; started with
  ``--insecure-registry`` for each name.
- ``docker`` (function) -> DockerCLI: ``/usr/bin/docker`` bound to ``dockerd`` and the
  test's environment: ``docker.run(*args, input=None, buildkit=False)``, ``docker.rmi(*refs)``.
- ``tiny_image`` -> str: a two-file image imported into dockerd (local ref ``dct-tiny:1``).
- ``registry`` -> RegistryUnderTest: docker-registry with htpasswd on 127.0.0.1:<free port>,
  holding ``tiny:1``; ``.netloc`` (``127.0.0.1:PORT``), ``.user``, ``.password``
  (a sentinel that contains a ``:``), ``.image`` (``127.0.0.1:PORT/tiny:1``), ``.server``.
- ``cloud_registry`` -> CloudRegistry: docker-registry on ``<ip>:80`` holding ``tiny:1``,
  reachable as ``<cloud host>/tiny:1`` from inside the namespace (dockerd, or
  ``in_cloud_namespace``). It reads its users at start, so ``cloud_registry.add_users([(user,
  password), ...])`` rewrites htpasswd and restarts it (images persist); passwords of a
  user already known are replaced. ``.image(host)`` -> ``host/tiny:1``.
- ``in_cloud_namespace`` -> callable(argv, env, input=None, timeout=120) ->
  CompletedProcess[str]: run a command (e.g. skopeo) where the cloud names resolve the
  same way they do for dockerd.
- ``token_registry`` -> TokenRegistryUnderTest: docker-registry with token auth (as Docker
  Hub and GHCR behave) on 127.0.0.1:<free port> and its token server: anyone may pull
  ``public/tiny:1``; ``private/tiny:1`` needs ``.user``/``.password``. ``.token_server.events``
  records each token request (user, whether the password was right, scopes; never a password).
- ``buildx`` (function) -> Path: the buildx CLI plugin (``$DCT_BUILDX``, else
  ``build-out/tools/docker-buildx`` as ``.ci/fetch-buildx`` puts it), linked into the
  test's ``$DOCKER_CONFIG/cli-plugins`` so ``docker buildx`` works for that test only.
  Missing is an error, never a skip.
- ``seed_docker`` -> DockerCLI: the docker CLI with a plain ``auths`` config for a seeding
  user on both registries: it never runs the helper, so tests can prepare images
  without depending on the code under test.

Server logs live under the session's temp dir and are attached to the report of a
failing test (they hold no secrets; test passwords are sentinels and never printed).
When the client matrix ran (test_client_matrix.py), the end of the run prints what
each client did and showed, with the client versions.
"""

from __future__ import annotations

import json
import os
import secrets as pysecrets
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from client_matrix import note_outcome, summary
from e2e_checks import redact, remember
from e2e_harness import (
    EXE_NAME,
    TIMEOUT,
    CloudRegistry,
    DockerCLI,
    RegistryUnderTest,
    Sandbox,
    TokenRegistryUnderTest,
    b64_credential,
    find_helper,
)
from e2e_servers import (
    CLOUD_HOSTS,
    LOG_FILES,
    Dockerd,
    HarnessError,
    Registry,
    basic_auth_config,
    clean_environ,
    docker_cli_path,
    free_port,
    log_tail,
    namespace_argv,
    pick_loopback_for_port_80,
    require_programs,
    storage_driver_for,
    tiny_rootfs_tar,
    write_hosts_file,
)
from token_auth import TokenRegistry, TokenServer

# --------------------------------------------------------------------------- helper


def pytest_report_header(config: pytest.Config) -> str:
    try:
        return f"e2e: helper under test: {find_helper()}"
    except HarnessError as e:
        return f"e2e: {e}"


@pytest.fixture(scope="session")
def helper_exe() -> Path:
    return find_helper()


@pytest.fixture(scope="session")
def helper_bin_dir(helper_exe: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    bin_dir = tmp_path_factory.mktemp("bin")
    (bin_dir / EXE_NAME).symlink_to(helper_exe)
    return bin_dir


# --------------------------------------------------------------------------- sandbox


@pytest.fixture
def sandbox(tmp_path: Path, helper_bin_dir: Path) -> Sandbox:
    return Sandbox(tmp_path, helper_bin_dir)


@pytest.fixture
def e2e_env(sandbox: Sandbox) -> dict[str, str]:
    return sandbox.env


@pytest.fixture
def run_helper(sandbox: Sandbox) -> Callable[..., subprocess.CompletedProcess[str]]:
    return sandbox.run_helper


@pytest.fixture
def buildx(sandbox: Sandbox) -> Path:
    plugin = Path(
        os.environ.get("DCT_BUILDX")
        or Path(__file__).resolve().parents[2] / "build-out" / "tools" / "docker-buildx"
    )
    if not plugin.is_file():
        raise HarnessError(
            f"no buildx plugin at {plugin}: run .ci/fetch-buildx (or set DCT_BUILDX)"
        )
    plugins = Path(sandbox.env["DOCKER_CONFIG"]) / "cli-plugins"
    plugins.mkdir(parents=True, exist_ok=True)
    (plugins / "docker-buildx").symlink_to(plugin)
    return plugin


# --------------------------------------------------------------------------- servers


@pytest.fixture(scope="session")
def e2e_base() -> Iterator[Path]:
    """A short directory under /tmp (unix socket paths are limited to ~100 characters)."""
    base = Path(tempfile.mkdtemp(prefix="dct-", dir="/tmp"))
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def cloud_ip() -> str:
    return pick_loopback_for_port_80()


@pytest.fixture(scope="session")
def cloud_hosts_file(e2e_base: Path, cloud_ip: str) -> Path:
    return write_hosts_file(e2e_base / "hosts", cloud_ip, CLOUD_HOSTS)


@pytest.fixture(scope="session")
def dockerd(e2e_base: Path, cloud_hosts_file: Path) -> Iterator[Dockerd]:
    require_programs("dockerd", "unshare", "mount")
    docker_cli_path()
    daemon = Dockerd(
        e2e_base / "d",
        cloud_hosts_file,
        CLOUD_HOSTS,
        clean_environ(os.environ),
        storage_driver_for(e2e_base),
    )
    daemon.base.mkdir()
    try:
        daemon.start()
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture
def docker(dockerd: Dockerd, sandbox: Sandbox) -> DockerCLI:
    return DockerCLI(dockerd, sandbox.env)


# The seeding user's password is random per session and never printed.
_SEED_USER = "dct-seed"
_SEED_PASSWORD = pysecrets.token_urlsafe(18)
remember(_SEED_PASSWORD)


@pytest.fixture(scope="session")
def seed_home(e2e_base: Path) -> Path:
    home = e2e_base / "seed"
    (home / "docker").mkdir(parents=True)
    return home


@pytest.fixture(scope="session")
def seed_docker(dockerd: Dockerd, seed_home: Path) -> DockerCLI:
    env = clean_environ(os.environ)
    env.update({"HOME": str(seed_home), "DOCKER_CONFIG": str(seed_home / "docker")})
    return DockerCLI(dockerd, env)


def _seed_auth(seed_home: Path, hosts: Sequence[str]) -> None:
    """Add plain ``auths`` for the seeding user on ``hosts`` to the seeding config."""
    path = seed_home / "docker" / "config.json"
    config: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {"auths": {}}
    new = basic_auth_config({h: (_SEED_USER, _SEED_PASSWORD) for h in hosts})
    config["auths"].update(new["auths"])
    path.write_text(json.dumps(config))


@pytest.fixture(scope="session")
def tiny_image(seed_docker: DockerCLI) -> str:
    ref = "dct-tiny:1"
    result = subprocess.run(
        [docker_cli_path(), "import", "-", ref],
        input=tiny_rootfs_tar("dct-e2e"),
        capture_output=True,
        env=dict(seed_docker.env, DOCKER_HOST=seed_docker.dockerd.host),
        timeout=TIMEOUT,
        check=False,
    )
    if result.returncode != 0:
        raise HarnessError(f"docker import failed: {result.stderr.decode(errors='replace')}")
    return ref


def _push_seed(seed_docker: DockerCLI, tiny_image: str, target: str) -> None:
    for args in (("tag", tiny_image, target), ("push", target)):
        result = seed_docker.run(*args)
        if result.returncode != 0:
            raise HarnessError(f"seeding {target}: docker {args[0]} failed: {result.stderr}")
    seed_docker.rmi(target)


@pytest.fixture(scope="session")
def registry(
    e2e_base: Path, seed_docker: DockerCLI, seed_home: Path, tiny_image: str
) -> Iterator[RegistryUnderTest]:
    require_programs("docker-registry", "htpasswd")
    user = "alice"
    # A ':' inside the password: truss secrets are base64 of user:password and the
    # password may itself contain ':'.
    password = "pw:" + pysecrets.token_urlsafe(18)
    remember(password, b64_credential(user, password))
    server = Registry(
        e2e_base / "registry",
        "127.0.0.1",
        free_port(),
        [(_SEED_USER, _SEED_PASSWORD), (user, password)],
    )
    try:
        server.start()
        _seed_auth(seed_home, [server.netloc])
        _push_seed(seed_docker, tiny_image, f"{server.netloc}/tiny:1")
        yield RegistryUnderTest(server, user, password)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def cloud_registry(
    e2e_base: Path,
    cloud_ip: str,
    cloud_hosts_file: Path,
    seed_docker: DockerCLI,
    seed_home: Path,
    tiny_image: str,
) -> Iterator[CloudRegistry]:
    require_programs("docker-registry", "htpasswd")
    server = Registry(e2e_base / "cloud-registry", cloud_ip, 80, [(_SEED_USER, _SEED_PASSWORD)])
    try:
        server.start()
        _seed_auth(seed_home, CLOUD_HOSTS)
        # One push is enough: every cloud name reaches the same storage.
        _push_seed(seed_docker, tiny_image, f"{CLOUD_HOSTS[-1]}/tiny:1")
        yield CloudRegistry(server, cloud_hosts_file)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def in_cloud_namespace(
    cloud_hosts_file: Path,
) -> Callable[..., subprocess.CompletedProcess[str]]:
    def run(
        argv: Sequence[str],
        env: Mapping[str, str],
        input: str | None = None,
        timeout: float = TIMEOUT,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            namespace_argv(cloud_hosts_file, argv),
            input=input,
            capture_output=True,
            text=True,
            env=dict(env),
            timeout=timeout,
            check=False,
        )

    return run


@pytest.fixture(scope="session")
def token_registry(
    e2e_base: Path, seed_docker: DockerCLI, seed_home: Path, tiny_image: str
) -> Iterator[TokenRegistryUnderTest]:
    require_programs("docker-registry")
    user = "bob"
    password = "tk:" + pysecrets.token_urlsafe(18)
    remember(password, b64_credential(user, password))
    tokens = TokenServer(e2e_base / "token", [(_SEED_USER, _SEED_PASSWORD), (user, password)])
    tokens.start()
    server = TokenRegistry(e2e_base / "token-registry", "127.0.0.1", free_port(), tokens)
    try:
        server.start()
        _seed_auth(seed_home, [server.netloc])
        for repo in ("public/tiny:1", "private/tiny:1"):
            _push_seed(seed_docker, tiny_image, f"{server.netloc}/{repo}")
        yield TokenRegistryUnderTest(server, tokens, user, password)
    finally:
        server.stop()
        tokens.stop()


# --------------------------------------------------------------------------- reports


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Attach server logs to a failing test's report, and redact every known secret.

    The logs contain no secrets (test passwords are sentinels, registries log user
    names only), but a traceback through library code can show argument values, so
    the whole failure text is passed through ``redact`` as a last line of defence.
    """
    outcome = yield
    report = outcome.get_result()
    note_outcome(item, report)
    if not report.failed:
        return
    for log in LOG_FILES:
        tail = log_tail(log)
        if tail:
            report.sections.append((f"server log {log.name} ({log.parent})", tail))
    if report.longrepr is not None:
        text = str(report.longrepr)
        if redact(text) != text:
            report.longrepr = redact(text)
    report.sections = [(title, redact(body)) for title, body in report.sections]


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Print what each client of the client matrix did and showed (test_client_matrix.py)."""
    lines = summary(config)
    if lines:
        terminalreporter.section("client matrix")
        for line in lines:
            terminalreporter.write_line(redact(line))

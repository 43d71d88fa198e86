"""Classes and helpers behind the e2e fixtures (see conftest.py for the fixtures).

Kept out of conftest.py so test modules can import them by a unique module name.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from e2e_checks import expect_ok, remember
from e2e_servers import CLOUD_HOSTS, Dockerd, HarnessError, Registry, clean_environ, docker_cli_path

EXE_NAME = "docker-credential-truss"
SECRET_SOURCES = ("env", "secrets_dir", "truss_config", "helper_store")
TIMEOUT = 180  # seconds for any one client command; no real one here takes more than a few


def find_helper() -> Path:
    configured = os.environ.get("DCT_EXE")
    if configured:
        path = Path(configured)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise HarnessError(f"DCT_EXE={configured} is not an executable file")
        return path.absolute()
    found = shutil.which(EXE_NAME)
    if found:
        return Path(found).absolute()
    beside = Path(sys.executable).parent / EXE_NAME
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside.absolute()
    raise HarnessError(
        f"{EXE_NAME} is not installed: set DCT_EXE to the installed executable, "
        f"put it on PATH, or pip install the package into {sys.prefix}"
    )


def b64_credential(user: str, password: str) -> str:
    """The value of a truss ``DOCKER_REGISTRY_<registry>`` secret: base64 of user:password."""
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def secret_file_name(name: str) -> str:
    """File name of a secret in $TRUSS_SECRETS_DIR (``%`` -> ``%25``, ``/`` -> ``%2F``)."""
    return name.replace("%", "%25").replace("/", "%2F")


class Sandbox:
    """One test's private HOME, XDG dirs, DOCKER_CONFIG and environment."""

    def __init__(self, root: Path, bin_dir: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.config_home = root / "xdg-config"
        self.data_home = root / "xdg-data"
        self.cache_home = root / "xdg-cache"
        self.state_home = root / "xdg-state"
        self.docker_config = root / "docker-config"
        self.secrets_dir = root / "truss-secrets"
        for d in (
            self.home,
            self.config_home,
            self.data_home,
            self.cache_home,
            self.state_home,
            self.docker_config,
        ):
            d.mkdir(parents=True, exist_ok=True)
        env = clean_environ(os.environ)
        env.update(
            {
                "HOME": str(self.home),
                "XDG_CONFIG_HOME": str(self.config_home),
                "XDG_DATA_HOME": str(self.data_home),
                "XDG_CACHE_HOME": str(self.cache_home),
                "XDG_STATE_HOME": str(self.state_home),
                "DOCKER_CONFIG": str(self.docker_config),
                "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', os.defpath)}",
            }
        )
        self.env: dict[str, str] = env
        self._truss_secrets: dict[str, str | None] = {}

    @property
    def truss_config_path(self) -> Path:
        return self.home / ".truss" / "config.yaml"

    def run_helper(
        self,
        verb: str,
        stdin: str = "",
        env: Mapping[str, str] | None = None,
        args: Sequence[str] = (),
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        """Run the installed helper by name, as docker would: found on PATH."""
        return subprocess.run(
            [EXE_NAME, verb, *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=dict(self.env if env is None else env),
            timeout=timeout,
            check=False,
        )

    def run(
        self, argv: Sequence[str], input: str | None = None, timeout: float = TIMEOUT
    ) -> subprocess.CompletedProcess[str]:
        """Run any client (skopeo, ...) in this test's environment."""
        return subprocess.run(
            list(argv),
            input=input,
            capture_output=True,
            text=True,
            env=dict(self.env),
            timeout=timeout,
            check=False,
            stdin=None if input is not None else subprocess.DEVNULL,
        )

    def put_secret(self, source: str, name: str, value: str) -> None:
        """Place a named truss secret where truss users keep them.

        ``env``: TRUSS_SECRET_<name>; ``secrets_dir``: a file in $TRUSS_SECRETS_DIR;
        ``truss_config``: the ``secrets:`` map of ~/.truss/config.yaml.
        """
        remember(value)
        if source == "env":
            self.env[f"TRUSS_SECRET_{name}"] = value
        elif source == "secrets_dir":
            self.secrets_dir.mkdir(exist_ok=True)
            (self.secrets_dir / secret_file_name(name)).write_text(value + "\n")
            self.env["TRUSS_SECRETS_DIR"] = str(self.secrets_dir)
        elif source == "truss_config":
            self._truss_secrets[name] = value
            self.write_truss_config({"secrets": self._truss_secrets})
        else:
            raise ValueError(f"unknown secret source {source!r}")

    def write_truss_config(self, config: Mapping[str, Any]) -> None:
        self.truss_config_path.parent.mkdir(parents=True, exist_ok=True)
        self.truss_config_path.write_text(yaml.safe_dump(dict(config), sort_keys=False))

    def put_registry_credential(self, source: str, key: str, user: str, password: str) -> None:
        """Give the helper a credential for registry ``key`` from one of SECRET_SOURCES.

        ``helper_store`` uses the helper's own ``store`` verb, the way ``docker login``
        does; the others put the truss secret ``DOCKER_REGISTRY_<key>``.
        """
        remember(password, b64_credential(user, password))
        if source == "helper_store":
            payload = json.dumps({"ServerURL": key, "Username": user, "Secret": password})
            expect_ok(self.run_helper("store", payload), f"docker-credential-truss store {key}")
        else:
            self.put_secret(source, f"DOCKER_REGISTRY_{key}", b64_credential(user, password))

    def write_docker_config(self, config: Mapping[str, Any]) -> Path:
        path = self.docker_config / "config.json"
        path.write_text(json.dumps(config, indent=2))
        return path

    def read_docker_config(self) -> dict[str, Any]:
        path = self.docker_config / "config.json"
        result: dict[str, Any] = json.loads(path.read_text())
        return result

    def cred_helpers(self, *keys: str) -> Path:
        """Write a docker config.json sending these registries to the truss helper."""
        return self.write_docker_config({"credHelpers": {k: "truss" for k in keys}})


class DockerCLI:
    """``/usr/bin/docker`` talking to the test dockerd, with a given environment."""

    def __init__(self, dockerd: Dockerd, env: Mapping[str, str]) -> None:
        self.dockerd = dockerd
        self.env = env  # the live dict: changes a test makes later are seen

    def run(
        self,
        *args: str,
        input: str | None = None,
        buildkit: bool = False,
        cwd: Path | None = None,
        timeout: float = TIMEOUT,
    ) -> subprocess.CompletedProcess[str]:
        env = dict(self.env, DOCKER_HOST=self.dockerd.host)
        env["DOCKER_BUILDKIT"] = "1" if buildkit else "0"
        return subprocess.run(
            [docker_cli_path(), *args],
            input=input,
            capture_output=True,
            text=True,
            env=env,
            cwd=cwd,
            timeout=timeout,
            check=False,
            stdin=None if input is not None else subprocess.DEVNULL,
        )

    def rmi(self, *refs: str) -> None:
        """Remove local tags so the next pull really fetches (missing refs are fine)."""
        self.run("image", "rm", "--force", *refs)

    def has_image(self, ref: str) -> bool:
        return self.run("image", "inspect", ref).returncode == 0


class RegistryUnderTest:
    """The plain htpasswd registry and the test account on it."""

    def __init__(self, server: Registry, user: str, password: str) -> None:
        self.server = server
        self.netloc = server.netloc
        self.user = user
        self.password = password
        self.image = f"{self.netloc}/tiny:1"


class TokenRegistryUnderTest:
    """The token-auth registry, its token server, and the test account on it."""

    def __init__(self, server: Registry, token_server: Any, user: str, password: str) -> None:
        self.server = server
        self.token_server = token_server
        self.netloc = server.netloc
        self.user = user
        self.password = password
        self.public_image = f"{self.netloc}/public/tiny:1"
        self.private_image = f"{self.netloc}/private/tiny:1"


class CloudRegistry:
    """One registry on ``<ip>:80`` answering for every name in CLOUD_HOSTS."""

    hosts = CLOUD_HOSTS

    def __init__(self, server: Registry, hosts_file: Path) -> None:
        self.server = server
        self.ip = server.ip
        self.hosts_file = hosts_file

    def add_users(self, users: Sequence[tuple[str, str]]) -> None:
        for _, password in users:
            remember(password)
        self.server.add_users(users)

    def image(self, host: str) -> str:
        return f"{host}/tiny:1"

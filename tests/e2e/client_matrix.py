"""The clients of the client matrix (test_client_matrix.py): one small adapter each.

An adapter fetches one image the way its client does -- a pull, an inspect, or a build
``FROM`` it -- in the test's environment, and returns what the user saw (the client's
exit status, stdout and stderr). It first removes what would let the client skip the
registry (the image, the tag it builds), so every fetch really asks the registry, and
so the helper.

Every client finds the helper through the test's ``$DOCKER_CONFIG/config.json``
(``credHelpers``) and ``PATH``; the containers/image clients (skopeo, podman, buildah)
are given that same file with ``--authfile``, so nothing of the machine's own set-up
is read.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from e2e_harness import TIMEOUT, Sandbox
from e2e_servers import DOCKER_CLI, Dockerd

NEWER_DOCKER_CLI = "/usr/local/bin/docker"

# docker-py, run as the user's program would be: its own process, the test's environment.
# The helper's stderr goes where docker-py leaves it (inherited), the exception to stderr.
DOCKER_PY_SCRIPT = """
import os, sys, docker
client = docker.DockerClient(base_url=os.environ["DOCKER_HOST"], timeout=120)
op, target = sys.argv[1], sys.argv[2]
if op == "pull":
    client.images.pull(target)
else:
    client.images.build(path=target, tag=sys.argv[3], pull=True, nocache=True, rm=True)
"""


def first_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stdout.strip().splitlines()
    return lines[0] if result.returncode == 0 and lines else "?"


class Workspace:
    """One test's sandbox, the session's dockerd and the clients' own storage."""

    def __init__(self, sandbox: Sandbox, dockerd: Dockerd, storage: Path, scratch: Path) -> None:
        self.sandbox = sandbox
        self.dockerd = dockerd
        self.storage = storage  # per session: podman's and buildah's image stores
        self.scratch = scratch  # per test: build contexts, compose files
        self._contexts = 0

    @property
    def authfile(self) -> str:
        return str(self.sandbox.docker_config / "config.json")

    def run(
        self, argv: Sequence[str], input: str | None = None, **env: str
    ) -> subprocess.CompletedProcess[str]:
        """Run a client with the test's environment, talking to the test's dockerd."""
        full_env = dict(self.sandbox.env, DOCKER_HOST=self.dockerd.host, DOCKER_BUILDKIT="0")
        full_env.update(env)
        return subprocess.run(
            list(argv),
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=full_env,
            timeout=TIMEOUT,
            check=False,
        )

    def context(self, image: str) -> Path:
        """A build context whose Dockerfile starts ``FROM image`` (which has no shell)."""
        self._contexts += 1
        path = self.scratch / f"context-{self._contexts}"
        path.mkdir(parents=True)
        (path / "Dockerfile").write_text(f"FROM {image}\nCOPY note /note\n")
        (path / "note").write_text("built by the client matrix\n")
        return path


class Client:
    """A client of the helper; subclasses say how it fetches an image."""

    name = ""
    program = ""  # what must be installed; missing is an error unless ``optional``
    optional = False
    docker_cli = DOCKER_CLI  # the docker CLI that logs in and out for this client

    def missing(self) -> str | None:
        """Why this client cannot run here, or None."""
        if shutil.which(self.program) or Path(self.program).is_file():
            return None
        return f"{self.program} is not installed"

    def version(self, ws: Workspace) -> str:
        """The client's own version line, for the report."""
        return first_line(ws.run([self.program, "--version"]))

    def fetch(self, ws: Workspace, image: str) -> subprocess.CompletedProcess[str]:
        raise NotImplementedError


class DockerPull(Client):
    def __init__(self, name: str, cli: str, optional: bool = False) -> None:
        self.name = name
        self.program = self.docker_cli = cli
        self.optional = optional

    def fetch(self, ws: Workspace, image: str) -> subprocess.CompletedProcess[str]:
        ws.run([self.program, "image", "rm", "--force", image])
        return ws.run([self.program, "pull", image])


class DockerBuild(Client):
    """``docker build`` with the classic builder, BuildKit, or ``buildx build --load``."""

    program = DOCKER_CLI
    TAG = "dct-matrix-built:1"

    def __init__(self, name: str, argv: Sequence[str], buildkit: bool) -> None:
        self.name = name
        self.argv = list(argv)
        self.buildkit = "1" if buildkit else "0"

    def version(self, ws: Workspace) -> str:
        if self.argv[0] != "buildx":
            return super().version(ws)
        return first_line(ws.run([self.program, "buildx", "version"]))

    def fetch(self, ws: Workspace, image: str) -> subprocess.CompletedProcess[str]:
        context = ws.context(image)
        ws.run([self.program, "image", "rm", "--force", self.TAG, image])
        argv = [self.program, *self.argv, "--pull", "--no-cache", "-t", self.TAG, str(context)]
        return ws.run(argv, DOCKER_BUILDKIT=self.buildkit)


class Skopeo(Client):
    name = program = "skopeo"

    def fetch(self, ws: Workspace, image: str) -> subprocess.CompletedProcess[str]:
        argv = ["skopeo", "inspect", "--tls-verify=false", "--authfile", ws.authfile]
        return ws.run([*argv, f"docker://{image}"])


class ContainersStorage(Client):
    """podman and buildah: root here, with their own store, vfs, no systemd."""

    def __init__(self, program: str, options: Sequence[str] = ()) -> None:
        self.name = self.program = program
        self.options = list(options)

    def fetch(self, ws: Workspace, image: str) -> subprocess.CompletedProcess[str]:
        store = ws.storage / self.program
        argv = [
            self.program,
            "--root", str(store / "root"),
            "--runroot", str(store / "run"),
            "--storage-driver", "vfs",
            *self.options,
        ]  # fmt: skip
        ws.run([*argv, "rmi", "--force", image])
        return ws.run([*argv, "pull", "--tls-verify=false", "--authfile", ws.authfile, image])


class DockerPy(Client):
    """docker-py 7 (this test environment's ``docker`` package): pull or build."""

    program = sys.executable
    TAG = "dct-matrix-docker-py:1"

    def __init__(self, op: str) -> None:
        self.name = f"docker-py {op}"
        self.op = op

    def version(self, ws: Workspace) -> str:
        script = "import docker; print('docker-py', docker.__version__)"
        return first_line(ws.run([sys.executable, "-c", script]))

    def fetch(self, ws: Workspace, image: str) -> subprocess.CompletedProcess[str]:
        ws.run([DOCKER_CLI, "image", "rm", "--force", image, self.TAG])
        target = image if self.op == "pull" else str(ws.context(image))
        return ws.run([sys.executable, "-c", DOCKER_PY_SCRIPT, self.op, target, self.TAG])


class Compose(Client):
    """docker-compose 1.29 (Debian's, on Debian's docker-py 5): ``pull``."""

    name = program = "docker-compose"

    def fetch(self, ws: Workspace, image: str) -> subprocess.CompletedProcess[str]:
        ws.run([DOCKER_CLI, "image", "rm", "--force", image])
        ws.scratch.mkdir(parents=True, exist_ok=True)
        compose = ws.scratch / "docker-compose.yml"
        compose.write_text(f'version: "3"\nservices:\n  app:\n    image: "{image}"\n')
        return ws.run(["docker-compose", "-f", str(compose), "-p", "dctmatrix", "pull"])


CLIENTS: tuple[Client, ...] = (
    DockerPull("docker 20.10 pull", DOCKER_CLI),
    DockerPull("docker (newer) pull", NEWER_DOCKER_CLI, optional=True),
    DockerBuild("docker 20.10 build (classic)", ["build"], buildkit=False),
    DockerBuild("BuildKit (20.10)", ["build", "--progress=plain"], buildkit=True),
    DockerBuild(
        "buildx build --load",
        ["buildx", "build", "--load", "--progress=plain", "--network", "host"],
        buildkit=True,
    ),
    Skopeo(),
    ContainersStorage("podman", ["--cgroup-manager=cgroupfs", "--events-backend=file"]),
    ContainersStorage("buildah"),
    DockerPy("pull"),
    DockerPy("build"),
    Compose(),
)


# --------------------------------------------------------------------------- the report

_CELLS = pytest.StashKey[dict[tuple[str, str], dict[str, object]]]()
_VERSIONS = pytest.StashKey[dict[str, str]]()
_CELL = pytest.StashKey[dict[str, object]]()


def note_cell(item: pytest.Item, client: Client, ws: Workspace) -> list[str]:
    """A list the test appends what the user saw to; the run's summary shows it."""
    versions = item.config.stash.setdefault(_VERSIONS, {})
    if client.name not in versions:
        versions[client.name] = client.version(ws)
    scenario = getattr(item, "originalname", item.name).removeprefix("test_")
    notes: list[str] = []
    cell: dict[str, object] = {"notes": notes, "outcome": "not run"}
    item.config.stash.setdefault(_CELLS, {})[(client.name, scenario)] = cell
    item.stash[_CELL] = cell
    return notes


def note_outcome(item: pytest.Item, report: pytest.TestReport) -> None:
    """Called for each report (conftest's hook): the call phase decides the cell's outcome."""
    cell = item.stash.get(_CELL, None)
    if cell is not None and report.when == "call":
        cell["outcome"] = report.outcome


def summary(config: pytest.Config) -> list[str]:
    """The measured matrix, one line per client x scenario, with the client versions."""
    cells = config.stash.get(_CELLS, {})
    if not cells:
        return []
    lines = [f"{name}: {version}" for name, version in config.stash.get(_VERSIONS, {}).items()]
    for (name, scenario), cell in cells.items():
        notes = "; ".join(cell["notes"])  # type: ignore[arg-type]
        lines.append(f"{cell['outcome']:7} {name} | {scenario} | {notes}")
    return lines

"""Real servers for the end-to-end tests: dockerd, docker-registry, and a tiny image.

Everything here starts the programs a user really runs (Debian's ``dockerd`` 20.10
with overlay2 storage where the kernel allows it, else vfs; distribution's
``docker-registry`` with htpasswd auth) on loopback only, keeps their logs in files so
a failing test can show them, and waits for readiness with bounded polling so a broken
machine fails in seconds, not hangs.

Cloud registry names (``gcr.io``, ECR hosts, ...) are made to resolve to a loopback
address by running ``dockerd`` -- and any other client that must resolve them -- in a
private mount namespace whose ``/etc/hosts`` is a bind mount of our own file. The rest
of the machine never sees the changed hosts file.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

DOCKER_CLI = "/usr/bin/docker"  # Debian's 20.10 CLI: BuildKit works with DOCKER_BUILDKIT=1

# Cloud registry hosts the AWS and GCP tests pull from. Inside the cloud namespace they
# all resolve to the cloud registry's loopback address and are served on port 80.
CLOUD_HOSTS = (
    "123456789012.dkr.ecr.us-east-1.amazonaws.com",
    "public.ecr.aws",
    "us-west2-docker.pkg.dev",
    "gcr.io",
)

# Variables a test environment must never inherit: they would feed the helper secrets,
# cloud identities or another docker daemon that the test did not set up, or send
# registry traffic through a proxy instead of to loopback.
_DROP_PREFIXES = (
    "TRUSS_SECRET_",
    "AWS_",
    "GOOGLE_",
    "CLOUDSDK_",
    "GCE_",
    "DOCKER_",
    "XDG_",
    "BUILDKIT_",
    "REGISTRY_AUTH",
)
_DROP_NAMES = frozenset(
    {
        "TRUSS_SECRETS_DIR",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "no_proxy",
        "all_proxy",
        "SSL_CERT_FILE",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
    }
)

# Every started server's log file, so the conftest can show them when a test fails.
LOG_FILES: list[Path] = []


class HarnessError(RuntimeError):
    """A server of the harness did not start or answer; the message says which and why."""


def clean_environ(base: Mapping[str, str]) -> dict[str, str]:
    """Return ``base`` without anything that could leak credentials or daemons into a test.

    PATH keeps every program of ``base``'s PATH except docker's credential helpers
    (:func:`tool_path`): each test puts the helpers it means first on PATH itself.
    """
    env = {
        k: v for k, v in base.items() if k not in _DROP_NAMES and not k.startswith(_DROP_PREFIXES)
    }
    env["PATH"] = tool_path(base.get("PATH") or os.defpath)
    return env


_TOOL_DIRS: dict[str, str] = {}
HELPER_PREFIX = "docker-credential-"


def tool_path(path: str) -> str:
    """A one-directory PATH with the programs ``path`` finds, less ``docker-credential-*``.

    With no credential store configured, docker picks one by looking for
    ``docker-credential-pass`` or ``docker-credential-secretservice`` on PATH (docker/cli
    ``DetectDefaultStore``), so whatever helper the host happens to have would change
    what ``docker login`` does in a test. The directory holds a link to the first
    program of each name, as PATH lookup would find it; it is made once per process and
    removed at exit.
    """
    if path in _TOOL_DIRS:
        return _TOOL_DIRS[path]
    import atexit
    import tempfile

    tools = tempfile.mkdtemp(prefix="dct-tools-")
    atexit.register(shutil.rmtree, tools, True)
    linked: set[str] = set()
    for directory in path.split(os.pathsep):
        try:
            names = sorted(os.listdir(directory or "."))
        except OSError:
            continue
        for name in names:
            target = os.path.join(os.path.abspath(directory or "."), name)
            if name in linked or name.startswith(HELPER_PREFIX):
                continue
            if os.path.isfile(target) and os.access(target, os.X_OK):
                os.symlink(target, os.path.join(tools, name))
                linked.add(name)
    _TOOL_DIRS[path] = tools
    return tools


def wait_until(check: Callable[[], bool], what: str, timeout: float, log: Path | None) -> None:
    """Poll ``check`` every 100 ms for at most ``timeout`` seconds, else fail with the log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise HarnessError(f"{what} not ready after {timeout:.0f}s{log_tail_note(log)}")


def log_tail(log: Path | None, lines: int = 60) -> str:
    """The last ``lines`` lines of a server log (server logs hold no secrets)."""
    if log is None or not log.exists():
        return ""
    text = log.read_text(errors="replace").splitlines()
    return "\n".join(text[-lines:])


def log_tail_note(log: Path | None) -> str:
    tail = log_tail(log, 30)
    return f"; last lines of {log}:\n{tail}" if tail else ""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (the usual small race is accepted)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_is_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def pick_loopback_for_port_80() -> str:
    """A random 127.x.y.z address whose port 80 is free.

    Cloud hostnames carry no port, so their registry must listen on port 80. A random
    address in 127.0.0.0/8 (all loopback on Linux) instead of 127.0.0.1 lets several
    test sessions on one machine each have their own port-80 registry.
    """
    rng = random.SystemRandom()
    for _ in range(50):
        ip = f"127.{rng.randint(64, 250)}.{rng.randint(0, 255)}.{rng.randint(2, 250)}"
        if port_is_free(ip, 80):
            return ip
    raise HarnessError("no loopback address with a free port 80 found")


def write_hosts_file(path: Path, ip: str, names: Iterable[str]) -> Path:
    """The machine's /etc/hosts plus ``ip name`` lines, for bind-mounting in a namespace."""
    original = Path("/etc/hosts").read_text()
    extra = "".join(f"{ip} {name}\n" for name in names)
    path.write_text(original.rstrip("\n") + "\n" + extra)
    return path


def namespace_argv(hosts_file: Path, argv: Sequence[str]) -> list[str]:
    """argv that runs ``argv`` in a new mount namespace where /etc/hosts is ``hosts_file``.

    ``unshare -m`` makes mounts private by default, so the bind mount is seen only by
    the command and its children; it disappears when they exit.
    """
    script = 'mount --bind "$0" /etc/hosts && exec "$@"'
    return ["unshare", "-m", "sh", "-c", script, str(hosts_file), *argv]


def http_status(url: str, auth: tuple[str, str] | None = None, timeout: float = 5) -> int:
    """GET ``url`` without any proxy; return the status code (0 if nothing answers)."""
    if not url.startswith("http://"):
        raise ValueError("loopback registries speak plain http")
    request = urllib.request.Request(url)  # noqa: S310 - http:// only, checked above
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as e:
        return int(e.code)
    except OSError:
        return 0


def _stop_process(proc: subprocess.Popen[bytes] | None, timeout: float = 20) -> None:
    """SIGTERM the process, then SIGKILL its process group if it does not go."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def storage_driver_for(base: Path) -> str:
    """``overlay2`` if an overlay mount works under ``base``, else ``vfs``.

    vfs copies the whole file system for every layer: truss's build (twenty layers over a
    half-gigabyte base) wrote and then deleted ~10 GB with it. overlay2 stores only each
    layer's changes. The probe mounts in a private namespace, so nothing stays mounted.
    ``$DCT_DOCKER_STORAGE`` forces a driver.
    """
    forced = os.environ.get("DCT_DOCKER_STORAGE")
    if forced:
        return forced
    probe = base / "overlay-probe"
    dirs = [probe / d for d in ("lower", "upper", "work", "merged")]
    for d in dirs:
        d.mkdir(parents=True)
    options = f"lowerdir={dirs[0]},upperdir={dirs[1]},workdir={dirs[2]}"
    mount = ["unshare", "-m", "mount", "-t", "overlay", "overlay", "-o", options, str(dirs[3])]
    result = subprocess.run(mount, capture_output=True, timeout=30, check=False)
    shutil.rmtree(probe, ignore_errors=True)
    return "overlay2" if result.returncode == 0 else "vfs"


class Dockerd:
    """A real ``dockerd`` (overlay2 or vfs storage, no networking) in a private mount namespace.

    ``hosts_file`` is bind-mounted over /etc/hosts for the daemon, so the cloud names
    resolve to the cloud registry; each of ``insecure_registries`` is allowed over
    plain HTTP. ``base`` must be short: the unix socket path lives in it.
    """

    def __init__(
        self,
        base: Path,
        hosts_file: Path,
        insecure_registries: Sequence[str],
        env: Mapping[str, str],
        storage_driver: str = "vfs",
    ) -> None:
        self.base = base
        self.hosts_file = hosts_file
        self.storage_driver = storage_driver
        self.insecure_registries = tuple(insecure_registries)
        self.socket = base / "d.sock"
        self.host = f"unix://{self.socket}"
        self.log = base / "dockerd.log"
        self._env = dict(env)
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> None:
        (self.base / "daemon.json").write_text("{}\n")
        argv = [
            "dockerd",
            "--config-file", str(self.base / "daemon.json"),
            "--data-root", str(self.base / "root"),
            "--exec-root", str(self.base / "exec"),
            "--pidfile", str(self.base / "dockerd.pid"),
            "-H", self.host,
            "--iptables=false",
            "--ip6tables=false",
            "--bridge=none",
            f"--storage-driver={self.storage_driver}",
        ]  # fmt: skip
        for name in self.insecure_registries:
            argv += ["--insecure-registry", name]
        LOG_FILES.append(self.log)
        with self.log.open("wb") as log:
            self._proc = subprocess.Popen(
                namespace_argv(self.hosts_file, argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self._env,
                start_new_session=True,
            )
        wait_until(self._ready, "dockerd", timeout, self.log)

    def _ready(self) -> bool:
        if self._proc is not None and self._proc.poll() is not None:
            raise HarnessError(
                f"dockerd exited with {self._proc.returncode}{log_tail_note(self.log)}"
            )
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(2)
                s.connect(str(self.socket))
                s.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
                reply = s.recv(4096)
        except OSError:
            return False
        return reply.startswith(b"HTTP/1.") and b" 200 " in reply.split(b"\r\n", 1)[0]

    def stop(self) -> None:
        _stop_process(self._proc)


def htpasswd_line(user: str, password: str) -> str:
    """One bcrypt htpasswd line made by the real ``htpasswd`` (password via stdin, not argv)."""
    out = subprocess.run(
        ["htpasswd", "-inB", user],
        input=password,
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    if out.returncode != 0:
        raise HarnessError(f"htpasswd failed for user {user!r}: {out.stderr.strip()}")
    return out.stdout.strip() + "\n"


class Registry:
    """A real ``docker-registry`` (distribution 2.8) on ``ip:port`` with htpasswd auth.

    distribution 2.8 reads its htpasswd file once, at start, so :meth:`add_users`
    rewrites the file and restarts the server; storage is on disk under ``base`` and
    survives the restart, so pushed images stay.
    """

    def __init__(self, base: Path, ip: str, port: int, users: Iterable[tuple[str, str]]) -> None:
        self.base = base
        self.ip = ip
        self.port = port
        self.users: dict[str, str] = dict(users)
        self.log = base / "registry.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def netloc(self) -> str:
        """``ip:port``, or just ``ip`` on port 80 (how docker names such a registry)."""
        return self.ip if self.port == 80 else f"{self.ip}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.ip}:{self.port}"

    def _auth(self) -> dict[str, object]:
        """The ``auth`` section of the registry's config; writes what it needs."""
        (self.base / "htpasswd").write_text(
            "".join(htpasswd_line(u, p) for u, p in self.users.items())
        )
        return {"htpasswd": {"realm": "dct-e2e", "path": str(self.base / "htpasswd")}}

    def _write_files(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        config = {
            "version": 0.1,
            "log": {"level": "info", "accesslog": {"disabled": False}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.base / "data")},
                "delete": {"enabled": True},
            },
            "http": {"addr": f"{self.ip}:{self.port}"},
            "auth": self._auth(),
        }
        # JSON is YAML, and needs no quoting rules of our own.
        (self.base / "registry.yml").write_text(json.dumps(config, indent=2))

    def start(self, timeout: float = 30) -> None:
        self._write_files()
        if self.log not in LOG_FILES:
            LOG_FILES.append(self.log)
        with self.log.open("ab") as log:
            self._proc = subprocess.Popen(
                ["docker-registry", "serve", str(self.base / "registry.yml")],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=clean_environ(os.environ),
                start_new_session=True,
            )
        wait_until(self._ready, f"docker-registry on {self.ip}:{self.port}", timeout, self.log)

    def _ready(self) -> bool:
        if self._proc is not None and self._proc.poll() is not None:
            raise HarnessError(
                f"docker-registry exited with {self._proc.returncode}{log_tail_note(self.log)}"
            )
        return http_status(f"{self.url}/v2/") == 401

    def add_users(self, users: Iterable[tuple[str, str]]) -> None:
        """Accept these (user, password) pairs from now on (a user's old password is replaced).

        Restarts the registry only when something changed, since that costs ~0.5 s.
        """
        changed = False
        for user, password in users:
            if self.users.get(user) != password:
                self.users[user] = password
                changed = True
        if changed:
            self.stop()
            self.start()

    def stop(self) -> None:
        _stop_process(self._proc)
        self._proc = None

    def log_mark(self) -> int:
        """A position in the log; :meth:`log_since` returns what was logged after it."""
        return self.log.stat().st_size if self.log.exists() else 0

    def log_since(self, mark: int) -> str:
        with self.log.open("rb") as f:
            f.seek(mark)
            return f.read().decode(errors="replace")

    def saw_failed_login(self, user: str, mark: int) -> bool:
        """Whether, since ``mark``, the registry refused a password for ``user``.

        distribution logs ``error authenticating user "<user>"`` for a wrong password,
        and an empty user name for anonymous requests, so this tells a wrong
        credential that reached it apart from no credential at all.
        """
        text = self.log_since(mark)
        # logrus quotes msg="...", so the inner quotes appear escaped in the file.
        return f'error authenticating user \\"{user}\\"' in text or (
            f'error authenticating user "{user}"' in text
        )

    def status_for(self, auth: tuple[str, str] | None) -> int:
        """What ``GET /v2/`` answers with these credentials (None: anonymous)."""
        return http_status(f"{self.url}/v2/", auth=auth)


def basic_auth_config(entries: Mapping[str, tuple[str, str]]) -> dict[str, object]:
    """A docker config.json with plain ``auths`` (no helper), for seeding and sanity checks."""
    auths = {
        host: {"auth": base64.b64encode(f"{u}:{p}".encode()).decode()}
        for host, (u, p) in entries.items()
    }
    return {"auths": auths}


def tiny_rootfs_tar(marker: str) -> bytes:
    """A two-file root file system, made here: no base image, no internet."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in (("hello.txt", b"hello from dct e2e\n"), ("marker", marker.encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def docker_cli_path() -> str:
    if not Path(DOCKER_CLI).exists():
        raise HarnessError(f"{DOCKER_CLI} (Debian docker.io's CLI) is missing")
    return DOCKER_CLI


def require_programs(*names: str) -> None:
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        raise HarnessError(f"missing programs for the e2e tests: {', '.join(missing)}")

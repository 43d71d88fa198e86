#!/usr/bin/env python3
"""How long ``docker-credential-truss get`` takes to start and answer, against its floor.

Not a test: it prints figures (docs/development.md quotes them). docker runs the helper once
per registry, and legacy ``docker build`` once per configured registry up front, so
start-up is the helper's whole cost on the paths that matter:

  (a) REGISTRY_SECRET, the secret in ~/.truss/config.yaml (reading YAML)
  (b) REGISTRY_SECRET, the secret in the helper's own store (``docker login``)
  (c) ECR (AWS_IAM by convention), a token already in the cache, the AWS key pair in
      ~/.truss/config.yaml

(a) and (c) have secrets drawn from the real alphabets in ~/.truss/config.yaml, some
starting with a digit, ``+`` or ``/``, written by PyYAML's ``dump`` as truss writes it.
  (d) a registry the helper knows nothing about

Each is timed beside its floor, runs interleaved so drift hits all alike:

- the pip-installed command against ``python -c "import json"`` of the same
  interpreter: no Python helper can speak JSON for less;
- the standalone binary (``--exe``) against a PyInstaller hello-world that imports
  json, built by the same packaging/bundle.py (cached under build-out/bench/).

It also counts the modules each path imports beyond the bare interpreter's, which does
not depend on the machine's speed. Reference rows: Debian's docker-credential-ecr-login
(Go) and, where installed, docker-credential-gcloud, each asked for an unknown host
(gcloud only inside an empty network namespace, so it cannot reach out).

    python bench/startup.py [--pip CMD] [--exe dist/docker-credential-truss/docker-credential-truss]
                            [--runs N] [--check]

Every file it writes lives in a temporary HOME; no network is used (the ECR endpoint
points at a closed loopback port, so a cache miss fails instead of leaving the host).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUDGET = 2.0
NOT_FOUND = "credentials not found in native keychain"
ECR_HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
BENCH_USER = "bench-user"
BENCH_PASSWORD = "bench-password-not-a-secret"
BENCH_TOKEN = "bench-cached-token-not-a-secret"

# Run in the interpreter under test: what one `get` imports beyond the bare start-up.
COUNT_MODULES = """\
import sys
before = set(sys.modules)
import io
from docker_credential_truss.cli import main
out = io.BytesIO()
main(["get"], stdin=io.BytesIO(sys.argv[1].encode()), stdout=out, stderr=sys.stderr)
new = sorted(set(sys.modules) - before)
editable = any(name.startswith("__editable__") and "docker_credential_truss" in name
               for name in before)
sys.stdout.write(("editable " if editable else "") + " ".join(new) + "\\n")
"""
COUNT_FLOOR = """\
import sys
before = set(sys.modules)
import json
sys.stdout.write(" ".join(sorted(set(sys.modules) - before)) + "\\n")
"""
SEED_CACHE = """\
import os, sys, time
from docker_credential_truss.cache import TokenCache
from docker_credential_truss.paths import Paths
from docker_credential_truss.minting import Token
from docker_credential_truss.registry import parse
from docker_credential_truss.resolver import Resolver

paths = Paths.from_env(os.environ)
registry = parse(sys.argv[1])
plan = Resolver(os.environ, paths).prepare(registry)
if plan.choice is None or plan.choice.method != "AWS_IAM":
    sys.exit("the resolver does not take the AWS path for " + registry.key)
provider = plan.ready()
now = time.time()
token = Token(provider.username, sys.argv[2], now + 12 * 3600)
TokenCache(paths.token_cache).put(registry.key, provider.identity(), token, now)
"""


class Row:
    """One command to time: what to run, what it reads, and the answer that proves it ran."""

    def __init__(self, label: str, cmd: list[str], stdin: str, env: dict, expect: str) -> None:
        self.label = label
        self.cmd = cmd
        self.stdin = stdin.encode()
        self.env = env
        self.expect = expect
        self.times: list[float] = []

    def check(self) -> None:
        """Run once and fail loudly unless it gave the expected answer (a fast error is no win)."""
        result = subprocess.run(
            self.cmd, input=self.stdin, env=self.env, capture_output=True, timeout=60, check=False
        )
        out = result.stdout.decode(errors="replace")
        if self.expect not in out:
            sys.exit(
                f"{self.label}: {' '.join(self.cmd)} did not answer as expected"
                f" (exit {result.returncode}); stderr: {result.stderr.decode()[-500:]}"
            )

    def time_once(self) -> None:
        start = time.perf_counter()
        subprocess.run(
            self.cmd,
            input=self.stdin,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        self.times.append((time.perf_counter() - start) * 1000)

    @property
    def median(self) -> float:
        return statistics.median(self.times)


def base_env(home: str) -> dict:
    """A clean environment: nothing from the caller's docker, truss, AWS or XDG settings."""
    env = {"HOME": home, "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    for name in ("LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT"):
        if name in os.environ:
            env[name] = os.environ[name]
    os.makedirs(home, exist_ok=True)
    return env


def interpreter_of(script: str) -> str:
    """The Python a pip-installed console script runs on (its #! line)."""
    with open(script, "rb") as handle:
        first = handle.readline()
    if not first.startswith(b"#!") or b"python" not in first:
        sys.exit(f"{script} is not a pip-installed script; pass --pip PATH")
    return first[2:].decode().strip().split()[0]


def installed_command(given: str | None) -> tuple[str, str]:
    """The pip-installed command (``--pip``, else on PATH) and the Python it runs on."""
    pip = given or shutil.which("docker-credential-truss")
    if pip is None:
        sys.exit("no docker-credential-truss on PATH; pip install . or pass --pip PATH")
    pip = os.path.abspath(pip)
    return pip, interpreter_of(pip)


def floor_binary(python: str, cache: str) -> str | None:
    """The PyInstaller hello-world, built once per spec/PyInstaller/Python version."""
    probe = subprocess.run(
        [python, "-c", "import PyInstaller, sys; print(PyInstaller.__version__, sys.version)"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        print(f"binary floor: PyInstaller is not installed for {python}; skipping the binary")
        return None
    digest = hashlib.sha256(probe.stdout.encode())
    for name in ("bundle.py", "floor.py", "floor.spec"):
        with open(os.path.join(ROOT, "packaging", name), "rb") as handle:
            digest.update(handle.read())
    out = os.path.join(cache, "floor-" + digest.hexdigest()[:16])
    exe = os.path.join(out, "dist", "floor", "floor")
    if not os.path.exists(exe):
        print(f"building the binary floor into {out} (once)...", flush=True)
        subprocess.run(
            [python, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
             "--distpath", os.path.join(out, "dist"), "--workpath", os.path.join(out, "work"),
             os.path.join(ROOT, "packaging", "floor.spec")],
            check=True,
        )  # fmt: skip
    return exe


def has_aws(python: str) -> bool:
    probe = (
        "import importlib.util as u; print(u.find_spec('docker_credential_truss.providers.aws'))"
    )
    where = tempfile.gettempdir()  # not a checkout, whose package would be found first
    out = subprocess.run(
        [python, "-c", probe], capture_output=True, text=True, check=False, cwd=where
    )
    return out.returncode == 0 and out.stdout.strip() != "None"


# Secrets as real ones look: AWS secret keys are 40 characters of base64's alphabet, so
# about one in five starts with a digit, '+' or '/'; these do, as do the tokens.
REAL_SECRETS = {
    "aws_access_key_id": "AKIABENCHBENCHBENCH0",
    "aws_secret_access_key": "/K7MDENG+bPxRfiCYbenchNOTaSECRETkeyEXAM1",
    "hf_access_token": "0bench0not0a0secret0token0abcdefghijklmn",
    "baseten_api_key": "9Xbench.notasecretkeyabcdefghijklmnopqrs",
    "github_token": None,
}


def write_truss_config(home: str, secrets: dict) -> None:
    """~/.truss/config.yaml as truss writes it (yaml.dump of {"secrets": ...})."""
    import yaml

    os.makedirs(os.path.join(home, ".truss"))
    with open(os.path.join(home, ".truss", "config.yaml"), "w") as handle:
        handle.write(yaml.dump({"secrets": {**REAL_SECRETS, **secrets}}))


def scenarios(tmp: str, pip: str, python: str) -> list[tuple[str, str, dict, str]]:
    """(label, server, env, expected output) for each path, with its files laid out."""
    value = base64.b64encode(f"{BENCH_USER}:{BENCH_PASSWORD}".encode()).decode()
    found = []

    env = base_env(os.path.join(tmp, "a"))
    write_truss_config(env["HOME"], {"DOCKER_REGISTRY_registry.bench.test": value})
    found.append(
        ("(a) REGISTRY_SECRET in ~/.truss/config.yaml", "registry.bench.test", env, BENCH_USER)
    )

    env = base_env(os.path.join(tmp, "b"))
    login = json.dumps(
        {"ServerURL": "registry.bench.test", "Username": BENCH_USER, "Secret": BENCH_PASSWORD}
    )
    subprocess.run([pip, "store"], input=login.encode(), env=env, check=True)
    found.append(
        ("(b) REGISTRY_SECRET in the helper's store", "registry.bench.test", env, BENCH_USER)
    )

    if has_aws(python):
        env = base_env(os.path.join(tmp, "c"))
        write_truss_config(env["HOME"], {})  # the AWS key pair is in there
        env.update(
            AWS_ENDPOINT_URL_ECR="http://127.0.0.1:9",  # closed: a miss fails, stays local
            AWS_ENDPOINT_URL_STS="http://127.0.0.1:9",
        )
        subprocess.run(
            [python, "-c", SEED_CACHE, ECR_HOST, BENCH_TOKEN], env=env, check=True, cwd=env["HOME"]
        )
        found.append(("(c) ECR (AWS_IAM), cached token", ECR_HOST, env, BENCH_TOKEN))
    else:
        print("(c) skipped: docker_credential_truss.providers.aws is not installed yet")

    env = base_env(os.path.join(tmp, "d"))
    found.append(("(d) unknown registry", "unknown.bench.test", env, NOT_FOUND))
    return found


def count_modules(python: str, server: str, env: dict) -> tuple[int, bool]:
    out = subprocess.run(
        [python, "-c", COUNT_MODULES, server],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=env["HOME"],  # not a checkout, whose package `python -c` would import instead
    ).stdout.split()
    editable = bool(out) and out[0] == "editable"
    names = out[1:] if editable else out
    if any(n.startswith(("boto3", "botocore", "google.auth")) for n in names):
        sys.exit(f"a hot path imported a cloud SDK: {server}")
    return len(names), editable


def time_rows(rows: list[Row], runs: int) -> None:
    for row in rows:
        row.check()
        row.time_once()  # warm the page cache; not counted
        row.times.clear()
    for i in range(runs):
        shift = i % len(rows)  # rotate the order so no row always runs first
        for row in rows[shift:] + rows[:shift]:
            row.time_once()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pip", help="the pip-installed command (default: on PATH)")
    parser.add_argument("--exe", help="the standalone binary to time as well")
    parser.add_argument("--runs", type=int, default=30, help="timed runs per row (default 30)")
    parser.add_argument("--cache", default=os.path.join(ROOT, "build-out", "bench"))
    parser.add_argument("--check", action="store_true", help=f"exit 1 if a ratio > {BUDGET}")
    args = parser.parse_args()

    pip, python = installed_command(args.pip)
    floor_exe = floor_binary(sys.executable, args.cache) if args.exe else None
    exe = os.path.abspath(args.exe) if args.exe and floor_exe else None

    tmp = tempfile.mkdtemp(prefix="dct-bench-")
    try:
        paths = scenarios(tmp, pip, python)
        floor_env = base_env(os.path.join(tmp, "floor"))
        pip_floor = Row("floor", [python, "-c", "import json"], "", floor_env, "")
        bin_floor = Row("floor", [floor_exe], "x", floor_env, "ServerURL") if exe else None
        table = []
        rows = [pip_floor] + ([bin_floor] if bin_floor else [])
        for label, server, env, expect in paths:
            pip_row = Row(label, [pip, "get"], server, env, expect)
            bin_row = Row(label, [exe, "get"], server, env, expect) if exe else None
            rows += [pip_row] + ([bin_row] if bin_row else [])
            table.append((label, pip_row, bin_row, *count_modules(python, server, env)))
        refs = []
        ecr = shutil.which("docker-credential-ecr-login")
        if ecr:
            refs.append(Row("docker-credential-ecr-login (Go)", [ecr, "get"], "unknown.bench.test",
                            base_env(os.path.join(tmp, "ecr")), NOT_FOUND))  # fmt: skip
            rows.append(refs[-1])
        print(f"timing {len(rows)} commands x {args.runs} runs, interleaved...", flush=True)
        time_rows(rows, args.runs)
        gcloud = gcloud_row(tmp, max(3, min(args.runs, 5)))
        if gcloud is not None:
            refs.append(gcloud)
        over = report(table, pip_floor, bin_floor, refs, python, args.runs)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if args.check and over else 0


def gcloud_row(tmp: str, runs: int) -> Row | None:
    gcloud = shutil.which("docker-credential-gcloud")
    if gcloud is None:
        return None
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        print("docker-credential-gcloud: skipped (needs `unshare -n` to be kept off the network)")
        return None
    env = base_env(os.path.join(tmp, "gcloud"))
    env.update(CLOUDSDK_CONFIG=os.path.join(tmp, "gcloud", "cfg"),
               CLOUDSDK_CORE_CHECK_GCE_METADATA="false")  # fmt: skip
    row = Row(f"docker-credential-gcloud ({runs} runs)",
              ["unshare", "-n", gcloud, "get"], "unknown.bench.test", env, "")  # fmt: skip
    for _ in range(runs):
        row.time_once()
    return row


def report(table, pip_floor, bin_floor, refs, python, runs) -> bool:
    over = False

    def cell(row: Row | None, floor: Row | None) -> str:
        nonlocal over
        if row is None or floor is None:
            return f"{'-':>8} {'-':>6}"
        ratio = row.median / floor.median
        over = over or ratio > BUDGET
        return f"{row.median:8.1f} {ratio:6.2f}"

    floor_count = len(
        subprocess.run([python, "-c", COUNT_FLOOR], capture_output=True, text=True, check=True)
        .stdout.split()
    )  # fmt: skip
    print()
    print(f"docker-credential-truss get: median of {runs} interleaved runs, ms; ratio = / floor")
    print(f"{'':44} {'pip install':>15}   {'binary':>15}   {'modules':>7}")
    print(f"{'path':44} {'median':>8} {'ratio':>6}   {'median':>8} {'ratio':>6}   {'imported':>7}")
    floor_bin = f"{bin_floor.median:8.1f} {1:6.2f}" if bin_floor else f"{'-':>8} {'-':>6}"
    print(f"{'floor: import json / frozen hello-world':44} {pip_floor.median:8.1f} {1:6.2f}"
          f"   {floor_bin}   {floor_count:7d}")  # fmt: skip
    editable = False
    for label, pip_row, bin_row, count, is_editable in table:
        editable = editable or is_editable
        print(f"{label:44} {cell(pip_row, pip_floor)}   {cell(bin_row, bin_floor)}   {count:7d}")
    for row in refs:
        print(f"{'reference: ' + row.label:44} {row.median:8.1f}")
    print()
    print("modules imported = beyond the bare interpreter's, in-process (machine-independent)")
    verdict = "OVER" if over else "met"
    print(f"budget: every ratio <= {BUDGET}: {verdict}")
    if editable:
        print("warning: the package is an editable install, whose import hook slows every start;")
        print("         time a regular `pip install .` instead")
    return over


if __name__ == "__main__":
    sys.exit(main())

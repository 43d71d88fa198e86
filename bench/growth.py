#!/usr/bin/env python3
"""How the helper's costs grow with the size of what it reads.

Not a test: it prints figures (docs/development.md quotes them). ``bench/startup.py`` times one
registry; a real user may have hundreds of secrets in ``~/.truss/config.yaml``,
thousands of ``docker login``s in the helper's store or registries in its config, and
docker runs ``list`` over all of them. For each size it lays out the files, checks the
answer once, then times each row interleaved with the floor (``python -c "import
json"`` of the same interpreter), and prints the median, the ratio to the floor and the
growth factor per tenfold: the ratio to the floor at 10N over the ratio at N (ratios,
not raw medians, so a machine that gets busier between sizes does not show as
growth); 1.0 is flat, up to 10 linear, 100 quadratic.

Rows, each with N registries or secrets:

  config secrets   ``get`` of one registry whose secret is among N in ~/.truss/config.yaml
                   (written by PyYAML's ``safe_dump``, as truss writes it; values are
                   base64 of user:password, so about one in five starts with a digit,
                   ``+`` or ``/``)
  store            ``get`` of one registry among N in the helper's store
  helper config    ``get`` of one registry among N in the helper's config
  list             ``list`` over N registries, each with its own secret in the store
  list, debug log  the same with DOCKER_CREDENTIAL_TRUSS_DEBUG=1

    python bench/growth.py [--pip CMD] [--sizes 1,100,1000,10000] [--runs N]
                           [--rows list,list-debug] [--budget SECONDS]

A row whose single run takes longer than ``--budget`` seconds is timed once per size
and not at larger sizes (it is shown as "skipped"): the point is the shape, and a
quadratic row at 10,000 can take minutes. Everything lives in a temporary HOME.
"""

from __future__ import annotations

import argparse
import base64
import itertools
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import yaml
from startup import installed_command  # bench/ is sys.path[0] when run as bench/growth.py

ROWS = ("config", "store", "helper-config", "list", "list-debug")
LABELS = {
    "config": "config secrets (get)",
    "store": "helper's store (get)",
    "helper-config": "helper config (get)",
    "list": "list",
    "list-debug": "list, debug log on",
}
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def host(i: int) -> str:
    return f"r{i}.bench.test"


def value(rng: random.Random, i: int) -> str:
    """A REGISTRY_SECRET value: base64 of user:password, the password from base64's alphabet."""
    password = "".join(rng.choice(B64) for _ in range(30))
    return base64.b64encode(f"user{i}:{password}".encode()).decode()


def base_env(home: str) -> dict:
    env = {"HOME": home, "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    for name in ("LANG", "LC_ALL", "TMPDIR"):
        if name in os.environ:
            env[name] = os.environ[name]
    os.makedirs(home, exist_ok=True)
    return env


def write_private(path: str, body: str) -> None:
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    for parent in (os.path.dirname(path), os.path.dirname(os.path.dirname(path))):
        os.chmod(parent, 0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(fd, "w") as handle:
        handle.write(body)


def lay_out(kind: str, n: int, home: str, rng: random.Random) -> tuple[list[str], str, str]:
    """Files for one row and size -> (command, stdin, the text the answer must contain)."""
    secrets = {f"DOCKER_REGISTRY_{host(i)}": value(rng, i) for i in range(n)}
    target = host(n // 2)
    store = os.path.join(home, ".local", "share", "docker-credential-truss", "secrets.json")
    if kind == "config":
        truss = {"secrets": {**secrets, "hf_access_token": None, "baseten_api_key": None}}
        path = os.path.join(home, ".truss", "config.yaml")
        write_private(path, yaml.safe_dump(truss, default_flow_style=False))
        return ["get"], target, f"user{n // 2}"
    if kind == "store" or kind.startswith("list"):
        write_private(store, json.dumps({"version": 1, "secrets": secrets}))
        if kind == "store":
            return ["get"], target, f"user{n // 2}"
        return ["list"], "", f'"{host(n - 1)}"'
    if kind == "helper-config":
        config = os.path.join(home, ".config", "docker-credential-truss", "config.json")
        registries = {
            host(i): {
                "auth_method": "REGISTRY_SECRET",
                "secret_name": f"secret_{i}",
                "source": f"/home/bench/truss-{i}/config.yaml",
            }
            for i in range(n)
        }
        write_private(config, json.dumps({"version": 1, "registries": registries}))
        pick = secrets[f"DOCKER_REGISTRY_{target}"]
        write_private(store, json.dumps({"version": 1, "secrets": {f"secret_{n // 2}": pick}}))
        return ["get"], target, f"user{n // 2}"
    raise ValueError(kind)


class Row:
    def __init__(self, cmd: list[str], stdin: str, env: dict) -> None:
        self.cmd, self.stdin, self.env = cmd, stdin.encode(), env
        self.times: list[float] = []

    def run(self) -> float:
        start = time.perf_counter()
        subprocess.run(self.cmd, input=self.stdin, env=self.env, capture_output=True, check=False)
        took = (time.perf_counter() - start) * 1000
        self.times.append(took)
        return took

    @property
    def median(self) -> float:
        return statistics.median(self.times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pip", help="the pip-installed command (default: on PATH)")
    parser.add_argument("--sizes", default="1,100,1000,10000")
    parser.add_argument("--rows", default=",".join(ROWS), help=f"any of {','.join(ROWS)}")
    parser.add_argument("--runs", type=int, default=9, help="timed runs per row and size")
    parser.add_argument("--budget", type=float, default=5.0, help="seconds; see above")
    args = parser.parse_args()
    pip, python = installed_command(args.pip)
    sizes = [int(s) for s in args.sizes.split(",")]
    kinds = [k for k in args.rows.split(",") if k]
    tmp = tempfile.mkdtemp(prefix="dct-growth-")
    medians: dict[str, dict[int, float | None]] = {k: {} for k in kinds}
    floors: dict[int, float] = {}
    slow: set[str] = set()
    try:
        for n in sizes:
            floor = Row([python, "-c", "import json"], "", base_env(os.path.join(tmp, "floor")))
            rows: dict[str, Row] = {}
            for kind in kinds:
                if kind in slow:
                    medians[kind][n] = None
                    continue
                env = base_env(os.path.join(tmp, f"{kind}-{n}"))
                if kind == "list-debug":
                    env["DOCKER_CREDENTIAL_TRUSS_DEBUG"] = "1"
                verb, stdin, expect = lay_out(kind, n, env["HOME"], random.Random(n))  # noqa: S311 - test data
                out = subprocess.run(
                    [pip, *verb], input=stdin.encode(), env=env, capture_output=True, check=False
                )
                if expect not in out.stdout.decode(errors="replace"):
                    sys.exit(f"{kind} at {n}: unexpected answer {out.stdout[-300:]!r}")
                rows[kind] = Row([pip, *verb], stdin, env)
            floor.run()
            for i in range(args.runs):
                order = [floor, *rows.values()]
                shift = i % len(order)
                for row in order[shift:] + order[:shift]:
                    if row.times and row.times[-1] > args.budget * 1000 and row is not floor:
                        continue  # one run of a slow row is enough
                    row.run()
            floors[n] = floor.median
            for kind, row in rows.items():
                medians[kind][n] = row.median
                if row.median > args.budget * 1000:
                    slow.add(kind)
            print(f"size {n}: done", file=sys.stderr, flush=True)
            shutil.rmtree(os.path.join(tmp), ignore_errors=True)
            os.makedirs(tmp, exist_ok=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report(kinds, sizes, medians, floors, args.runs)
    return 0


def report(kinds, sizes, medians, floors, runs) -> None:
    print(f"median of {runs} interleaved runs, ms (ratio to the floor); growth = per tenfold")
    head = f"{'row':24}" + "".join(f"{'N=' + format(n, ','):>18}" for n in sizes)
    print(head)
    print(f"{'floor: import json':24}" + "".join(f"{floors[n]:10.1f}{'':8}" for n in sizes))
    for kind in kinds:
        cells = []
        for n in sizes:
            m = medians[kind].get(n)
            cells.append(f"{'skipped':>18}" if m is None else f"{m:10.1f} ({m / floors[n]:5.2f})")
        print(f"{LABELS[kind]:24}" + "".join(cells))
    print()
    print("growth per tenfold (ratio to the floor at 10N / ratio at N):")
    for kind in kinds:
        steps = []
        for a, b in itertools.pairwise(sizes):
            ma, mb = medians[kind].get(a), medians[kind].get(b)
            if ma and mb:
                ratio = (mb / floors[b]) / (ma / floors[a])
                per_ten = ratio ** (1 / max(1e-9, _log10(b / a)))
                steps.append(f"{a:,}->{b:,}: {per_ten:.2f}x")
        print(f"  {LABELS[kind]:24}" + "   ".join(steps))


def _log10(x: float) -> float:
    import math

    return math.log10(x)


if __name__ == "__main__":
    sys.exit(main())

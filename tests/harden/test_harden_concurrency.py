"""Concurrency: 64 helper processes at once on one store, and configures racing on one config.

Store race. 64 installed-executable processes start together, each doing one ``store``,
``erase`` or ``get`` on one of 16 registries whose credentials were stored beforehand.
The parent times every process from just before it is spawned to just after it exits,
so each operation took effect somewhere inside its own interval. That makes this a
register linearizability check, sound without knowing the order:

- the final value of a registry is what some write (a store, or an erase) left, and
  that write is one that no other write on the registry started after it finished
  ("maximal" writes); when only one write is maximal, the last writer is known exactly
  and the final value must be its value;
- with no write on a registry, its first value is still there;
- every ``get`` answers a value that was there when it ran: the first value or one
  written by a store that started before the ``get`` ended;
- meanwhile a reader in this process parses the store file continuously: it must
  always be whole JSON.

A lost update (one writer's read-modify-write overwriting another's) shows as a
registry whose final value is its first value, or absent, when no maximal write left
that: the check catches it. A figure counts how many registries had a known last writer.

Configure race: 16 ``configure`` processes, each importing a different truss config,
race on one docker config.json that already holds other entries; at the end every
routed key and every earlier entry is present, and the helper's config has all 16.
"""

from __future__ import annotations

import base64
import json
import os
import random
import subprocess
import threading
import time

from hardening import Clock, expect, figures, make_env, record, trials

from docker_credential_truss.paths import Paths

REGISTRIES = [f"r{i}.race.test" for i in range(16)]
PROCESSES = 64
COUNTS = figures("concurrency: 64 processes x 16 registries")


def _value(tag: str) -> str:
    return f"v-{tag}-{os.urandom(6).hex()}"


def _store_body(server: str, password: str) -> bytes:
    return json.dumps({"ServerURL": server, "Username": "u", "Secret": password}).encode()


def _final(paths: Paths) -> dict[str, str | None]:
    with open(paths.store, "rb") as handle:
        stored = json.loads(handle.read())["secrets"]
    result: dict[str, str | None] = {}
    for key in REGISTRIES:
        value = stored.get(f"DOCKER_REGISTRY_{key}")
        result[key] = None if value is None else base64.b64decode(value).decode().split(":", 1)[1]
    return result


class Op:
    def __init__(self, kind: str, key: str, value: str | None) -> None:
        self.kind, self.key, self.value = kind, key, value
        self.start = self.end = 0.0
        self.code = -1
        self.out = b""
        self.err = b""

    def run(self, exe: str, env: dict, gate: threading.Barrier) -> None:
        stdin = _store_body(self.key, self.value) if self.kind == "store" else self.key.encode()
        gate.wait()
        self.start = time.monotonic()
        proc = subprocess.Popen(
            [exe, self.kind],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        self.out, self.err = proc.communicate(stdin, timeout=120)
        self.end = time.monotonic()
        self.code = proc.returncode


def _one_round(exe: str, root: str, rng: random.Random) -> None:
    env = make_env(root)
    paths = Paths.from_env(env)
    first = {key: _value("first") for key in REGISTRIES}
    for key, value in first.items():
        proc = subprocess.run([exe, "store"], input=_store_body(key, value), env=env, check=True)
        expect(proc.returncode == 0, "could not prepare the store")
    ops = []
    for i in range(PROCESSES):
        key = REGISTRIES[i % len(REGISTRIES)]
        kind = rng.choices(["store", "erase", "get"], weights=[5, 2, 3])[0]
        ops.append(Op(kind, key, _value(str(i)) if kind == "store" else None))
    gate = threading.Barrier(len(ops) + 1)
    threads = [threading.Thread(target=op.run, args=(exe, env, gate)) for op in ops]
    for thread in threads:
        thread.start()
    reads = torn = 0
    gate.wait()
    while any(thread.is_alive() for thread in threads):
        try:
            with open(paths.store, "rb") as handle:
                json.loads(handle.read())
        except ValueError:
            torn += 1
        reads += 1
    for thread in threads:
        thread.join()
    COUNTS["store reads during the race"] += reads
    expect(torn == 0, f"{torn} of {reads} reads of the store during the race were not JSON")

    final = _final(paths)
    for key in REGISTRIES:
        mine = [op for op in ops if op.key == key]
        for op in mine:
            COUNTS[f"{op.kind} processes"] += 1
            expect(op.err == b"", f"{op.kind} {key} wrote on stderr")
            if op.kind == "store":
                expect(op.code == 0 and op.out == b"", f"store {key} failed")
            elif op.kind == "erase":
                ok = op.code == 0 or op.out.strip() == b"credentials not found in native keychain"
                expect(ok and op.code in (0, 1), f"erase {key} failed")
        writes = [op for op in mine if op.kind in ("store", "erase")]
        for op in (op for op in mine if op.kind == "get"):
            possible = {first[key]} | {w.value for w in writes if w.start < op.end}
            if op.code == 0:
                answer = json.loads(op.out)
                expect(answer["Secret"] in possible, f"get {key} answered a value never there")
            else:
                expect(
                    op.out.strip() == b"credentials not found in native keychain"
                    and any(w.kind == "erase" and w.start < op.end for w in writes),
                    f"get {key} failed while {key} had a credential",
                )
        if not writes:
            expect(final[key] == first[key], f"{key} changed with nobody writing it")
            continue
        maximal = [w for w in writes if not any(o.start > w.end for o in writes)]
        left = {w.value for w in maximal}  # an erase leaves None, which is its .value
        COUNTS["registries with a known last writer"] += len(maximal) == 1
        COUNTS["registries written"] += 1
        expect(final[key] in left, f"{key}: the final value is not one a last writer left")


def test_64_processes_store_erase_get_over_16_registries(exe, tmp_path):
    clock = Clock()
    rng = random.Random()  # noqa: S311 - test data
    rounds = trials(3)
    for i in range(rounds):
        _one_round(exe, str(tmp_path / f"round{i}"), rng)
    record(
        "concurrency: 64 processes x 16 registries",
        rounds=rounds,
        seconds=clock.seconds(),
        violations=0,
    )


def test_configure_races_keep_every_entry(exe, tmp_path):
    clock = Clock()
    rounds, racers = trials(3), 16
    entries = 0
    for r in range(rounds):
        root = tmp_path / f"round{r}"
        env = make_env(str(root))
        env["PATH"] = f"{os.path.dirname(exe)}:{env['PATH']}"
        docker = Paths.from_env(env).docker_config
        os.makedirs(os.path.dirname(docker))
        before = {
            "auths": {"other.io": {"auth": "dXNlcjpwYXNz"}, "https://index.docker.io/v1/": {}},
            "credsStore": "desktop",
            "credHelpers": {"keep.io": "ecr-login", "gcr.io": "gcloud"},
            "HttpHeaders": {"User-Agent": "x"},
            "experimental": "enabled",
        }
        with open(docker, "w") as handle:
            json.dump(before, handle)
        dirs = []
        for i in range(racers):
            truss = root / f"truss{i}"
            truss.mkdir()
            (truss / "config.yaml").write_text(
                f"secrets:\n  DOCKER_REGISTRY_c{i}.race.test: null\n"
                f"  DOCKER_REGISTRY_shared.race.test: null\n"
            )
            dirs.append(str(truss))
        procs = [
            subprocess.Popen(
                [exe, "configure", d], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            for d in dirs
        ]
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            expect(proc.returncode == 0, f"configure failed: {out[-200:]!r}")
            expect(err == b"", f"configure wrote on stderr: {err[-200:]!r}")
        with open(docker) as handle:
            after = json.load(handle)
        helpers = after["credHelpers"]
        for i in range(racers):
            expect(helpers.get(f"c{i}.race.test") == "truss", f"c{i}.race.test was lost")
        expect(helpers.get("shared.race.test") == "truss", "shared.race.test was lost")
        expect(helpers["keep.io"] == "ecr-login" and helpers["gcr.io"] == "gcloud", "lost")
        for k in ("auths", "credsStore", "HttpHeaders", "experimental"):
            expect(after[k] == before[k], f"{k} was changed or lost")
        with open(Paths.from_env(env).helper_config) as handle:
            registries = json.load(handle)["registries"]
        missing = [i for i in range(racers) if f"c{i}.race.test" not in registries]
        expect(not missing, f"the helper config lost {missing}")
        entries += len(helpers)
    record(
        "concurrency: configure races on one docker config.json",
        rounds=rounds,
        racers=racers,
        credHelpers_checked=entries,
        lost=0,
        seconds=clock.seconds(),
    )

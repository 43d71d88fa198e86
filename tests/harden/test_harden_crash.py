"""Crashes: ``kill -9`` in the middle of writing the store or the token cache.

Three kinds of trial, each checked afterwards: the file parses, the entry holds the old
or the new value (nothing else, nothing half-written), and every other entry is intact.

- the installed executable's ``store``, killed after a random delay drawn across its
  whole run (calibrated from a few uncrashed runs), so kills land before, during and
  after the write;
- a process storing in a loop (``Secrets.store``), reporting each completed write on a
  pipe, killed at a random moment, so most kills land inside a write; the value left
  must be the last completed write or the one in progress;
- the same for ``cache.TokenCache.put``.

Left-over temporary files (``.secrets.json.<pid>.<random>``, 0600, holding a secret or a
token) are counted; the next write sweeps them, which the cache trial checks.
"""

from __future__ import annotations

import base64
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter

from hardening import Clock, expect, make_env, record, run_inprocess, trials

from docker_credential_truss import secrets
from docker_credential_truss.cache import TokenCache
from docker_credential_truss.minting import Token
from docker_credential_truss.paths import Paths

NAME = "DOCKER_REGISTRY_crash.test"
BYSTANDERS = {f"DOCKER_REGISTRY_b{i}.test": f"Ynl{i}" for i in range(3)}


def _body(password: str) -> bytes:
    return json.dumps({"ServerURL": "crash.test", "Username": "u", "Secret": password}).encode()


def _password(value: str) -> str:
    return base64.b64decode(value).decode().split(":", 1)[1]


def _leftovers(directory: str, prefix: str) -> int:
    return sum(1 for n in os.listdir(directory) if n.startswith(prefix) and not n.endswith(".lock"))


def _check_store(paths: Paths, allowed: set[str]) -> str:
    with open(paths.store, "rb") as handle:
        data = json.loads(handle.read())  # raises if torn: a corruption
    stored = data["secrets"]
    for name, value in BYSTANDERS.items():
        expect(stored.get(name) == value, f"{name} was damaged by a crash")
    password = _password(stored[NAME])
    expect(password in allowed, "the store holds neither the old nor the new value")
    return password


def test_kill_9_the_installed_store_at_random_moments(exe, tmp_path):
    clock = Clock()
    env = make_env(str(tmp_path))
    paths = Paths.from_env(env)
    store = secrets.Secrets(env, paths)
    for name, value in BYSTANDERS.items():
        store.store(name, value)
    current = "first"
    expect(run_inprocess(env, "store", stdin=_body(current))[0] == 0, "store failed")
    durations = []
    for _ in range(5):
        start = time.monotonic()
        subprocess.run([exe, "store"], input=_body(current), env=env, check=True)
        durations.append(time.monotonic() - start)
    span = sorted(durations)[2] * 1.2
    rng = random.Random()  # noqa: S311 - test data
    counts: Counter = Counter()
    for i in range(trials(200)):
        new = f"new{i}-{os.urandom(4).hex()}"
        proc = subprocess.Popen(
            [exe, "store"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        proc.stdin.write(_body(new))
        proc.stdin.close()
        time.sleep(rng.uniform(0, span))
        proc.send_signal(signal.SIGKILL)
        status = proc.wait()
        counts["killed" if status == -signal.SIGKILL else "finished first"] += 1
        left = _check_store(paths, {current, new})
        counts["old value kept" if left == current else "new value"] += 1
        code, out, _ = run_inprocess(env, "get", stdin=b"crash.test")
        expect(code == 0 and json.loads(out)["Secret"] == left, "get disagrees with the file")
        current = left
    record(
        "crash: kill -9 of the installed store",
        trials=trials(200),
        corruptions=0,
        kill_window_s=round(span, 3),
        leftover_temp_files=_leftovers(paths.data_dir, ".secrets.json."),
        seconds=clock.seconds(),
        **dict(sorted(counts.items())),
    )


STORE_LOOP = """
import sys
from docker_credential_truss import secrets
from docker_credential_truss.paths import Paths
from docker_credential_truss.providers import static
env = {"HOME": sys.argv[1], "XDG_DATA_HOME": sys.argv[2]}
store = secrets.Secrets(env, Paths.from_env(env))
print("ready", flush=True)
for i in range(100000):
    store.store(sys.argv[3], static.encode("u", f"loop{i}"))
    print(i, flush=True)
"""

CACHE_LOOP = """
import sys, time
from docker_credential_truss.cache import TokenCache
from docker_credential_truss.minting import Token
cache = TokenCache(sys.argv[1])
print("ready", flush=True)
for i in range(100000):
    cache.put("crash.test", "identity", Token("u", f"loop{i}", time.time() + 3600), time.time())
    print(i, flush=True)
"""


def _kill_a_loop(script: str, args: list[str], rng: random.Random) -> int:
    """Run ``script``, kill it at a random moment; the index of its last completed write."""
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    expect(proc.stdout.readline() == b"ready\n", "the writer did not start")
    time.sleep(rng.uniform(0, 0.08))
    proc.send_signal(signal.SIGKILL)
    out, err = proc.communicate()
    expect(b"Traceback" not in err, "the writer crashed on its own")
    done = [int(line) for line in out.split()]
    return done[-1] if done else -1


def test_kill_9_a_store_writer_mid_write(tmp_path):
    clock = Clock()
    env = make_env(str(tmp_path))
    paths = Paths.from_env(env)
    store = secrets.Secrets(env, paths)
    for name, value in BYSTANDERS.items():
        store.store(name, value)
    store.store(NAME, base64.b64encode(b"u:before").decode())
    rng = random.Random()  # noqa: S311 - test data
    current, writes = "before", 0
    for _ in range(trials(100)):
        last = _kill_a_loop(STORE_LOOP, [env["HOME"], env["XDG_DATA_HOME"], NAME], rng)
        allowed = {f"loop{last + 1}"} | ({current} if last < 0 else {f"loop{last}"})
        current = _check_store(paths, allowed)
        writes += last + 1
    record(
        "crash: kill -9 of a store writer mid-write",
        trials=trials(100),
        corruptions=0,
        completed_writes_before_kills=writes,
        leftover_temp_files=_leftovers(paths.data_dir, ".secrets.json."),
        seconds=clock.seconds(),
    )


def test_kill_9_a_token_cache_writer_mid_write(tmp_path):
    clock = Clock()
    directory = str(tmp_path / "tokens")
    cache = TokenCache(directory)
    cache.put("crash.test", "identity", Token("u", "before", time.time() + 3600), time.time())
    rng = random.Random()  # noqa: S311 - test data
    current, writes = "before", 0
    for _ in range(trials(100)):
        last = _kill_a_loop(CACHE_LOOP, [directory], rng)
        allowed = {f"loop{last + 1}"} | ({current} if last < 0 else {f"loop{last}"})
        with open(cache.path("crash.test", "identity"), "rb") as handle:
            json.loads(handle.read())  # a torn file is a corruption, even if get() hides it
        token = cache.get("crash.test", "identity", time.time())
        expect(token is not None and token.secret in allowed, "the cache lost its token")
        current = token.secret
        writes += last + 1
    left_by_kills = _leftovers(directory, ".")
    # The next write sweeps the temporary copies (each holds a token) of dead writers.
    cache.put("crash.test", "identity", Token("u", "after", time.time() + 3600), time.time())
    expect(_leftovers(directory, ".") == 0, "a dead writer's temporary token file survived")
    record(
        "crash: kill -9 of a token cache writer mid-write",
        trials=trials(100),
        corruptions=0,
        completed_writes_before_kills=writes,
        leftover_temp_files_before_sweep=left_by_kills,
        leftover_temp_files_after_next_write=0,
        seconds=clock.seconds(),
    )

"""Permissions: private files whatever the umask, and refusal of files others can write.

Every file the helper writes (store, helper config, token cache) must be 0600 and every
directory it creates 0700 with the umask at 000, 022 or 077; a store or directory that
another user could write, or that belongs to another user, is refused with a line that
says how to fix it, and nothing is written.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest
from hardening import check_outcome, expect, figures, make_env, run_exe, snapshot

from docker_credential_truss.paths import Paths

COUNTS = figures("permissions")

CACHE_PUT = """
import sys, time
from docker_credential_truss.cache import TokenCache
from docker_credential_truss.minting import Token
TokenCache(sys.argv[1]).put("r.test", "id", Token("u", "s", time.time() + 3600), time.time())
"""


def _mode(path: str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077])
def test_files_are_0600_in_0700_dirs_whatever_the_umask(exe, tmp_path, umask):
    env = make_env(str(tmp_path))
    env["PATH"] = f"{os.path.dirname(exe)}:{env['PATH']}"
    paths = Paths.from_env(env)
    truss = tmp_path / "truss"
    truss.mkdir()
    (truss / "config.yaml").write_text("secrets:\n  DOCKER_REGISTRY_ghcr.io: null\n")
    existed = {p for p in (tmp_path / "home").rglob("*")} | {tmp_path / "home"}
    body = json.dumps({"ServerURL": "ghcr.io", "Username": "u", "Secret": "s"}).encode()
    for argv, stdin in ((["store"], body), (["configure", str(truss)], b"")):
        code, out, err = run_exe(exe, env, *argv, stdin=stdin, umask=umask)
        check_outcome(argv[0], code, out, err)
        expect(code == 0, f"{argv[0]} failed under umask {umask:03o}: {out[-200:]!r}")
    subprocess.run(
        [sys.executable, "-c", CACHE_PUT, paths.token_cache],
        check=True,
        umask=umask,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    cache_files = [os.path.join(paths.token_cache, n) for n in os.listdir(paths.token_cache)]
    log = os.path.join(paths.log_dir, "debug.log")  # every hardening run logs
    expect(os.path.exists(log), "no debug log was written")
    for path in [paths.store, paths.helper_config, *cache_files, log]:
        if path.endswith(".lock"):
            continue
        expect(_mode(path) == 0o600, f"{path} is {_mode(path):03o} under umask {umask:03o}")
        COUNTS["files checked"] += 1
    app_dirs = [paths.data_dir, paths.config_dir, paths.cache_dir, paths.token_cache, paths.log_dir]
    for path in app_dirs:
        expect(_mode(path) == 0o700, f"{path} is {_mode(path):03o} under umask {umask:03o}")
        COUNTS["dirs checked"] += 1
    # Directories the helper had to create on the way (XDG bases) are private as well,
    # as the XDG base directory spec asks.
    for root in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        path = env[root]
        expect(
            not _mode(path) & 0o022,
            f"{root} was created {_mode(path):03o} under umask {umask:03o}",
        )
        COUNTS["dirs checked"] += 1
    expect(existed <= set((tmp_path / "home").rglob("*")) | {tmp_path / "home"}, "home lost")
    COUNTS["umasks"] += 1


def _stored(tmp_path, exe) -> tuple[dict, Paths]:
    env = make_env(str(tmp_path))
    body = json.dumps({"ServerURL": "ghcr.io", "Username": "u", "Secret": "s"}).encode()
    expect(run_exe(exe, env, "store", stdin=body)[0] == 0, "store failed")
    return env, Paths.from_env(env)


UNSAFE = [
    ("store file", 0o620, "writable by other users"),
    ("store file", 0o602, "writable by other users"),
    ("store file", 0o666, "writable by other users"),
    ("store dir", 0o770, "writable by other users"),
    ("store dir", 0o777, "writable by other users"),
    ("store dir", 0o1777, "writable by other users"),
    ("store file", "chown", "belongs to another user"),
    ("store dir", "chown", "belongs to another user"),
]


@pytest.mark.parametrize(("what", "change", "says"), UNSAFE)
def test_a_store_others_can_write_is_refused_and_nothing_written(exe, tmp_path, what, change, says):
    env, paths = _stored(tmp_path, exe)
    target = paths.store if what == "store file" else paths.data_dir
    if change == "chown":
        if os.geteuid() != 0:
            pytest.skip("needs root to give a file away")
        os.chown(target, 65534, 65534)
    else:
        os.chmod(target, change)
    before = snapshot(str(tmp_path))
    body = json.dumps({"ServerURL": "quay.io", "Username": "u", "Secret": "t"}).encode()
    for verb, stdin in (("store", body), ("erase", b"ghcr.io"), ("get", b"ghcr.io")):
        code, out, err = run_exe(exe, env, verb, stdin=stdin)
        check_outcome(verb, code, out, err)
        said = err if verb == "get" else out.decode()  # get says why on stderr only
        expect(code == 1 and says in said, f"{verb} with an unsafe {what}: {said!r}")
        if change != "chown":
            expect("chmod go-w" in said, f"{verb}: the refusal does not say how to fix it")
        expect(snapshot(str(tmp_path)) == before, f"{verb} wrote despite an unsafe {what}")
        COUNTS["refusals"] += 1


def test_an_insecure_helper_config_or_cache_file_is_refused(exe, tmp_path):
    env, paths = _stored(tmp_path, exe)
    truss = tmp_path / "truss"
    truss.mkdir()
    (truss / "config.yaml").write_text("secrets:\n  DOCKER_REGISTRY_quay.io: null\n")
    env["PATH"] = f"{os.path.dirname(exe)}:{env['PATH']}"
    expect(run_exe(exe, env, "configure", str(truss))[0] == 0, "configure failed")
    os.chmod(paths.helper_config, 0o666)
    before = snapshot(str(tmp_path))
    for argv in (["get"], ["configure", str(truss)]):
        code, out, err = run_exe(exe, env, *argv, stdin=b"quay.io")
        check_outcome(argv[0], code, out, err)
        # get says why on stderr only; configure, a human command, on stderr too
        expect(code == 1 and "writable by other users" in err, f"{argv[0]}: {err!r}")
        expect(snapshot(str(tmp_path)) == before, f"{argv[0]} wrote despite an unsafe config")
        COUNTS["refusals"] += 1

    from docker_credential_truss.cache import TokenCache
    from docker_credential_truss.errors import StoreError
    from docker_credential_truss.minting import Token

    cache = TokenCache(paths.token_cache)
    cache.put("r.test", "id", Token("u", "s", 2e9), 1e9)
    os.chmod(cache.path("r.test", "id"), 0o646)
    with pytest.raises(StoreError, match="writable by other users"):
        cache.get("r.test", "id", 1e9)
    COUNTS["refusals"] += 1

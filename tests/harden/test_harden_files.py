"""Faults around the helper's own files degrade, never block (issue 9, point 7).

Run through the installed executable as a user would meet them, each inside a private
mount namespace (``unshare -m``) so nothing else on the machine sees the change:

- a read-only ``HOME`` (as in a container with a read-only root file system), as an
  unprivileged user (``setpriv`` to nobody): ``get`` for ECR mints without the token
  cache and says so once on stderr; ``store`` and ``erase`` fail with one line and
  what was stored still answers;
- a full file system (a 64 KiB tmpfs as ``HOME``, filled up): the same.

The AWS side is tests/fakes/aws.py, reached over loopback (the namespace shares the
network).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest
from fakes.aws import ECR, FakeAws
from hardening import expect, find_exe, looks_like_traceback, no_sentinel, record, sentinel

HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
REG = "files.test"
NOT_FOUND = "credentials not found in native keychain\n"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("setpriv"),
    reason="needs root, unshare and setpriv",
)

# Runs each step in the namespace and reports what it said, as JSON on stdout.
DRIVER = """\
import json, subprocess, sys
steps = json.load(open(sys.argv[1]))
results = []
for argv, stdin, env in steps:
    done = subprocess.run(argv, input=stdin.encode(), capture_output=True, env=env)
    results.append([done.returncode, done.stdout.decode(), done.stderr.decode()])
json.dump(results, sys.stdout)
"""


def _in_namespace(root: str, setup: str, steps: list) -> list:
    """Run ``setup`` (shell, as root) and then ``steps`` in one private mount namespace."""
    with open(os.path.join(root, "driver.py"), "w") as handle:
        handle.write(DRIVER)
    with open(os.path.join(root, "steps.json"), "w") as handle:
        json.dump(steps, handle)
    script = f'{setup} && exec "{sys.executable}" "{root}/driver.py" "{root}/steps.json"'
    done = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    expect(done.returncode == 0, f"namespace set-up failed: {done.stderr[-500:]}")
    return json.loads(done.stdout)


def _env(home: str, fake: FakeAws, key_id: str, secret: str) -> dict:
    return {
        "HOME": home,
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "DOCKER_CREDENTIAL_TRUSS_DEBUG": "1",  # a log that cannot be written must not matter
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
        "TRUSS_SECRET_aws_access_key_id": key_id,
        "TRUSS_SECRET_aws_secret_access_key": secret,
        **fake.env(),
    }


def _body(user: str, password: str) -> str:
    return json.dumps({"ServerURL": REG, "Username": user, "Secret": password})


def _scenario(root: str, home: str, setup: str, user: list[str], fake: FakeAws) -> dict:
    """The same steps for every fault; what each answered, checked below."""
    key_id, secret = "AKIA" + os.urandom(8).hex().upper(), sentinel("awssk")
    fake.keys[key_id] = secret
    env = _env(home, fake, key_id, secret)
    exe = find_exe()
    old, new = sentinel("old"), sentinel("new")
    steps = [
        [[*user, exe, "store"], _body("u", old), env],  # before the fault: works
        [["sh", "-c", "FAULT"], "", env],  # replaced below by the fault itself
        [[*user, exe, "get"], HOST, env],
        [[*user, exe, "get"], HOST, env],
        [[*user, exe, "store"], _body("u", new), env],
        [[*user, exe, "erase"], REG, env],
        [[*user, exe, "get"], REG, env],
    ]
    return {"steps": steps, "old": old, "new": new, "secret": secret, "env": env}


def _check(results: list, case: dict, fake: FakeAws, what: str) -> None:
    sentinels = [case["old"], case["new"], case["secret"]]
    for code, out, err in results:
        expect(not looks_like_traceback(err), f"{what}: a traceback on stderr: {err[-300:]!r}")
        no_sentinel(out if code else "", sentinels, f"{what}: an error line")
        no_sentinel(err, sentinels, f"{what}: stderr")
    stored, _, get1, get2, store, erase, last = results
    expect(stored[0] == 0, f"{what}: the first store failed: {stored[1]!r}")
    for n, (code, out, err) in enumerate((get1, get2), 1):
        answered = code == 0 and json.loads(out)["Secret"] == fake.password
        expect(answered, f"{what}: get {n} did not mint: {out!r} {err!r}")
        warned = err.count("\n") == 1 and "token cache unusable, minting without it" in err
        expect(warned, f"{what}: get {n} did not say once that the cache is unusable: {err!r}")
    expect(fake.count(ECR) == 2, f"{what}: {fake.count(ECR)} mints for two gets")
    for verb, (code, out, _) in (("store", store), ("erase", erase)):
        one_line = code == 1 and out.count("\n") == 1 and "the helper's store" in out
        expect(one_line, f"{what}: {verb} did not fail in one line: {out!r}")
        expect("unchanged" in out, f"{what}: {verb} does not say the store is intact: {out!r}")
    code, out, _ = last
    expect(code == 0 and json.loads(out)["Secret"] == case["old"], f"{what}: the login was lost")
    record(f"files: {what}", get=get1[2].strip(), store=store[1].strip())


@pytest.fixture
def root():
    path = tempfile.mkdtemp(prefix="dct-files-", dir="/tmp")  # reachable by nobody
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_a_read_only_home_as_an_unprivileged_user(root):
    home = os.path.join(root, "home")
    os.mkdir(home, 0o755)
    os.chown(home, 65534, 65534)
    user = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    with FakeAws() as fake:
        case = _scenario(root, home, "true", user, fake)
        case["steps"][1] = [
            ["sh", "-c", f'mount --bind "{home}" "{home}" && mount -o remount,ro,bind "{home}"'],
            "",
            case["env"],
        ]
        results = _in_namespace(root, "true", case["steps"])
        expect(results[1][0] == 0, f"remount read-only failed: {results[1][2]!r}")
        _check(results, case, fake, "read-only HOME, user nobody")
    expect("Read-only file system" in results[4][1], f"store: {results[4][1]!r}")


def test_a_full_file_system(root):
    home = os.path.join(root, "home")
    os.mkdir(home, 0o700)
    with FakeAws() as fake:
        case = _scenario(
            root, home, f'mount -t tmpfs -o size=64k,mode=0700 tmpfs "{home}"', [], fake
        )
        fill = f'dd if=/dev/zero of="{home}/fill" bs=1k 2>/dev/null; true'
        case["steps"][1] = [["sh", "-c", fill], "", case["env"]]
        results = _in_namespace(
            root, f'mount -t tmpfs -o size=64k,mode=0700 tmpfs "{home}"', case["steps"]
        )
        _check(results, case, fake, "full file system")
    expect("No space left on device" in results[4][1], f"store: {results[4][1]!r}")

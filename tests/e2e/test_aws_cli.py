"""ECR credentials through the installed ``docker-credential-truss``, many processes at once.

Each test runs the real executable (``$DCT_EXE``, else the one on PATH, else the one
next to this Python) as docker would: a fresh process per ``get``, in an isolated
HOME and XDG tree, with boto3 pointed at tests/fakes/aws.py by ``AWS_ENDPOINT_URL``.
What is checked is what the fake saw (how many GetAuthorizationToken calls, with which
access key id) and what the processes answered.

The fixtures here are small and local; tests/e2e/conftest.py's ``sandbox`` does the
same job for the docker-facing tests.
"""

from __future__ import annotations

import json
import os
import secrets as pysecrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from e2e_checks import not_found
from fakes.aws import ECR, FakeAws

HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
EXE = "docker-credential-truss"


def _helper() -> Path:
    configured = os.environ.get("DCT_EXE")
    if configured:
        return Path(configured).absolute()
    found = shutil.which(EXE) or str(Path(sys.executable).parent / EXE)
    if not os.access(found, os.X_OK):
        pytest.fail(f"{EXE} is not installed: set DCT_EXE or install the package")
    return Path(found).absolute()


class Env(dict):
    """A process environment that holds secret sentinels: never shown by pytest."""

    def __repr__(self) -> str:
        return "<env with secrets, not shown>"


class Box:
    """One test's HOME/XDG tree, its fake AWS, and a way to run ``get`` in it."""

    def __init__(self, root: Path, fake: FakeAws) -> None:
        self.root = root
        self.fake = fake
        bin_dir = root / "bin"
        bin_dir.mkdir()
        (bin_dir / EXE).symlink_to(_helper())
        self.cache_home = root / "cache"
        keep = {k: v for k, v in os.environ.items() if k in ("LANG", "LC_ALL", "TZ")}
        self.env = Env(
            keep,
            PATH=f"{bin_dir}{os.pathsep}/usr/bin:/bin",
            HOME=str(root / "home"),
            XDG_CONFIG_HOME=str(root / "config"),
            XDG_DATA_HOME=str(root / "data"),
            XDG_CACHE_HOME=str(self.cache_home),
            XDG_STATE_HOME=str(root / "state"),
            AWS_CONFIG_FILE=str(root / "no-aws-config"),
            AWS_SHARED_CREDENTIALS_FILE=str(root / "no-aws-credentials"),
            **fake.env(),
        )
        (root / "home").mkdir()
        self.rotate()

    def rotate(self) -> str:
        """A new key pair, known to the fake and set as truss's default-named secrets."""
        key_id = "AKIA" + pysecrets.token_hex(8).upper()
        secret = "sk-" + pysecrets.token_urlsafe(24)
        self.fake.keys[key_id] = secret
        self.env["TRUSS_SECRET_aws_access_key_id"] = key_id
        self.env["TRUSS_SECRET_aws_secret_access_key"] = secret
        self.key_id, self.secret = key_id, secret
        return key_id

    def get(self, server: str = HOST) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [EXE, "get"],
            input=server,
            capture_output=True,
            text=True,
            env=dict(self.env),
            timeout=90,
            check=False,
        )

    def start_get(self, server: str = HOST) -> subprocess.Popen[str]:
        """Start a ``get`` now; its stdin is a file, so many can start before any is read."""
        request = self.root / f"request-{pysecrets.token_hex(4)}"
        request.write_text(server)
        with open(request) as stdin:
            return subprocess.Popen(
                [EXE, "get"],
                stdin=stdin,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=dict(self.env),
            )

    def expect_password(self, done: subprocess.CompletedProcess[str]) -> None:
        assert done.returncode == 0, f"get failed: {done.stdout.strip()!r}"
        answer = json.loads(done.stdout)
        assert answer["ServerURL"] == HOST
        assert answer["Username"] == "AWS"
        assert answer["Secret"] == self.fake.password, "not the password ECR handed out"
        assert self.secret not in done.stdout + done.stderr

    def cache_files(self) -> list[Path]:
        tokens = self.cache_home / "docker-credential-truss" / "tokens"
        return sorted(p for p in tokens.glob("*.json") if not p.name.startswith("."))


@pytest.fixture
def box(tmp_path):
    with FakeAws(region="us-east-1") as fake:
        yield Box(tmp_path, fake)


def test_32_simultaneous_gets_on_a_cold_cache_make_one_ecr_call(box):
    box.fake.delay = 1.5  # the first minter is still waiting for AWS while the rest start
    procs = [box.start_get() for _ in range(32)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    for done in results:
        box.expect_password(done)
    assert box.fake.count(ECR) == 1, f"{box.fake.count(ECR)} GetAuthorizationToken calls"
    assert box.fake.requests[0]["key_id"] == box.key_id


def test_a_warm_cache_answers_without_calling_aws(box):
    box.expect_password(box.get())
    box.expect_password(box.get())
    assert box.fake.count(ECR) == 1


def test_rotating_the_key_pair_makes_a_fresh_call_with_the_new_key(box):
    box.expect_password(box.get())
    old = box.key_id
    new = box.rotate()
    box.fake.password = "ecr-" + pysecrets.token_urlsafe(18)
    box.expect_password(box.get())
    assert box.fake.count(ECR) == 2
    assert [r["key_id"] for r in box.fake.requests] == [old, new]
    box.expect_password(box.get())  # and the new identity's token is cached in turn
    assert box.fake.count(ECR) == 2


def test_an_expired_token_is_never_served(box):
    # Expired when the next get reads it, however fast or slow this machine is (a token
    # of a few seconds raced the next get's start-up against half its life).
    box.fake.expires_in = -60.0
    box.expect_password(box.get())
    box.fake.expires_in = 12 * 3600.0
    box.fake.password = "ecr-" + pysecrets.token_urlsafe(18)
    box.expect_password(box.get())
    assert box.fake.count(ECR) == 2


def test_a_short_lived_token_is_cached_for_half_its_life(box):
    box.fake.expires_in = 600.0  # under 20 minutes: the margin is half its life, 5 minutes
    box.expect_password(box.get())
    box.expect_password(box.get())
    assert box.fake.count(ECR) == 1


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_a_damaged_cache_file_is_survived_and_replaced(box, damage):
    box.expect_password(box.get())
    (entry,) = box.cache_files()
    data = entry.read_bytes()
    entry.write_bytes(
        {"truncate": data[: len(data) // 2], "garbage": b"\x00\xffnot json", "empty": b""}[damage]
    )
    box.expect_password(box.get())
    assert box.fake.count(ECR) == 2
    json.loads(entry.read_text())  # rewritten whole
    box.expect_password(box.get())
    assert box.fake.count(ECR) == 2


def test_an_invalid_key_is_not_found_and_one_line_on_stderr(box):
    box.env["TRUSS_SECRET_aws_access_key_id"] = "AKIA" + pysecrets.token_hex(8).upper()
    done = box.get()
    why = not_found(done)
    assert why.startswith(HOST + ": ")
    assert "UnrecognizedClientException" in why
    assert "aws_access_key_id" in why
    assert box.secret not in done.stdout + done.stderr
    assert box.fake.count(ECR) == 1


def test_a_lookalike_host_gets_not_found_and_no_aws_call(box):
    done = box.get(HOST + ".evil.com")
    assert (done.returncode, done.stdout.strip()) == (1, "credentials not found in native keychain")
    assert box.fake.count(ECR) == 0


def test_simultaneous_gets_against_a_dead_endpoint_share_one_failure(box):
    """Single flight must not turn N failing mints into N timeouts in a row."""
    box.fake.hang = True
    box.env["DOCKER_CREDENTIAL_TRUSS_TIMEOUT"] = "1"
    procs = [box.start_get() for _ in range(8)]
    results = [(*proc.communicate(timeout=120), proc.returncode) for proc in procs]
    assert [code for _, _, code in results] == [1] * 8
    assert {out for out, _, _ in results} == {"credentials not found in native keychain\n"}
    # A get that started after the failure answers it as remembered, with that suffix.
    shared = {err.rstrip("\n").split(" (remembered from ", 1)[0] for _, err, _ in results}
    assert len(shared) == 1, "every waiter answers the one failure"
    # One request by one process: silence is not retried, nor minted again per process.
    assert box.fake.count("hang") == 1


def test_assume_role_configured_from_a_truss_through_the_installed_command(box):
    """configure a truss's AWS_ASSUME_ROLE, then 8 processes at once: one STS, one ECR call."""
    from fakes.aws import ASSUME_ROLE, Role

    role = "arn:aws:iam::123456789012:role/puller"
    box.fake.add_role(Role(role, trusted_keys={box.key_id}, external_id="org-42"))
    box.env["DOCKER_CREDENTIAL_TRUSS_AWS_EXTERNAL_ID"] = "org-42"
    truss = box.root / "my-truss"
    truss.mkdir()
    (truss / "config.yaml").write_text(
        f"base_image:\n  image: {HOST}/models/base:1\n  docker_auth:\n"
        f"    auth_method: aws_assume_role\n    aws_assume_role_arn: {role}\n"
        "    aws_assume_role_region: us-east-1\n"
    )
    done = subprocess.run(
        [EXE, "configure", str(truss)],
        capture_output=True,
        text=True,
        env=dict(box.env, DOCKER_CONFIG=str(box.root / "docker")),
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    box.fake.delay = 1.0
    procs = [box.start_get() for _ in range(8)]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        box.expect_password(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    assert (box.fake.count(ASSUME_ROLE), box.fake.count(ECR)) == (1, 1)
    sts, ecr = box.fake.requests
    assert sts["key_id"] == box.key_id and sts["external_id"] == "org-42"
    assert sts["session_name"] == "docker-credential-truss"
    assert ecr["key_id"].startswith("ASIA"), "ECR must be signed with the role's credentials"


def test_a_failure_is_remembered_briefly_and_a_corrected_secret_is_tried_at_once(box):
    """The classic builder asks every routed registry before each build: a failure is
    remembered (keyed by registry and identity), but fixing the secret takes effect now."""
    box.env["TRUSS_SECRET_aws_secret_access_key"] = "sk-wrong-" + pysecrets.token_hex(8)
    assert "InvalidSignatureException" in not_found(box.get())
    assert box.fake.count(ECR) == 1
    again = not_found(box.get())
    assert "InvalidSignatureException" in again and "remembered from" in again
    assert box.fake.count(ECR) == 1, "a remembered failure must not call AWS again"
    box.env["TRUSS_SECRET_aws_secret_access_key"] = box.secret  # same key id, fixed secret
    box.expect_password(box.get())
    assert box.fake.count(ECR) == 2


def test_a_zero_failure_ttl_tries_again_every_time(box):
    box.fake.deny(ECR)
    box.env["DOCKER_CREDENTIAL_TRUSS_FAILURE_TTL"] = "0"
    for _ in range(2):
        assert "AccessDeniedException" in not_found(box.get())
    assert box.fake.count(ECR) == 2


def test_throttling_is_still_retried_by_the_installed_command(box):
    box.fake.throttle(ECR, 2)
    box.expect_password(box.get())
    assert box.fake.count(ECR) == 3

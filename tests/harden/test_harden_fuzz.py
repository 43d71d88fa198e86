"""Every stdin survives: each verb fed random bytes, invalid UTF-8, huge and deep input.

Through ``cli.main`` in-process for volume, and a sample through the installed
executable to catch what only a real process shows (tracebacks, exit codes, signals).
Every run must end with exit 0 or 1; an error is exactly one line on stdout; nothing
that looks like a traceback reaches stderr; and an error changes no file (the store,
the helper's config, docker's config.json, the token cache: hashed before and after).
"""

from __future__ import annotations

import json
import os
import random
import resource
import subprocess
import tempfile
import threading

from hardening import (
    check_outcome,
    expect,
    figures,
    make_env,
    no_sentinel,
    no_sentinel_in_log,
    run_exe,
    run_inprocess,
    sentinel,
    snapshot,
    trials,
)
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from docker_credential_truss.paths import Paths
from docker_credential_truss.protocol import MAX_INPUT
from docker_credential_truss.providers import static

SETTINGS = {"deadline": None, "suppress_health_check": list(HealthCheck)}
VERBS = ("get", "store", "erase", "list")
COUNTS = figures("fuzz: every stdin survives")


class Installed:
    """A helper installation with something in every file, and the sentinels it holds."""

    def __init__(self, root: str | None = None) -> None:
        self.root = root or tempfile.mkdtemp(prefix="dct-fuzz-")
        self.truss_dir = os.path.join(self.root, "my-truss")
        self.env = make_env(self.root)
        self.sentinels = [sentinel(str(i)) for i in range(4)]
        for i, server in enumerate(["ghcr.io", "127.0.0.1:5000"]):
            body = {"ServerURL": server, "Username": f"user{i}", "Secret": self.sentinels[i]}
            code, _, _ = run_inprocess(self.env, "store", stdin=json.dumps(body).encode())
            expect(code == 0, "could not prepare the store")
        self.env["TRUSS_SECRET_DOCKER_REGISTRY_nvcr.io"] = static.encode("u", self.sentinels[2])
        truss = self.truss_dir
        os.makedirs(truss)
        with open(os.path.join(truss, "config.yaml"), "w") as handle:
            handle.write("secrets:\n  DOCKER_REGISTRY_quay.io: null\n")
        home_truss = os.path.join(self.env["HOME"], ".truss")
        os.makedirs(home_truss)
        with open(os.path.join(home_truss, "config.yaml"), "w") as handle:
            value = static.encode("q", self.sentinels[3])
            handle.write(f"secrets:\n  DOCKER_REGISTRY_quay.io: {value}\n")
        code, _, _ = run_inprocess(self.env, "configure", truss)
        expect(code == 0, "could not prepare the helper config")
        self.encoded = [static.encode(f"user{i}", s) for i, s in enumerate(self.sentinels)]
        self.state = snapshot(self.root)

    def all_sentinels(self) -> list[str]:
        return self.sentinels + self.encoded


_INSTALLED: Installed | None = None


def installed() -> Installed:
    global _INSTALLED
    if _INSTALLED is None:
        _INSTALLED = Installed()
    return _INSTALLED


def json_values(leaves=None):
    leaves = leaves or st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=True),
        st.text(max_size=30),
        st.sampled_from(["ghcr.io", "https://index.docker.io/v1/", "", " ", "<token>"]),
    )
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(
                st.one_of(st.sampled_from(["ServerURL", "Username", "Secret"]), st.text()),
                inner,
                max_size=5,
            ),
        ),
        max_leaves=12,
    )


CREDENTIALS = st.fixed_dictionaries(
    {},
    optional={
        "ServerURL": json_values(),
        "Username": json_values(),
        "Secret": json_values(),
    },
)
INVALID_UTF8 = st.sampled_from(
    [b"\xff", b"\xc3\x28", b"\x80", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xfe"]
)


def _lone_surrogate(field: str) -> bytes:
    body = {"ServerURL": "ghcr.io", "Username": "u", "Secret": "s"}
    body[field] = "x\ud800y"
    return json.dumps(body).encode()  # json escapes it as \ud800, which loads back lone


STDIN = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=200).map(str.encode),
    st.builds(
        lambda a, bad, b: a + bad + b, st.binary(max_size=20), INVALID_UTF8, st.binary(max_size=20)
    ),
    json_values().map(lambda v: json.dumps(v).encode()),
    CREDENTIALS.map(lambda v: json.dumps(v).encode()),
    st.sampled_from(["ServerURL", "Username", "Secret"]).map(_lone_surrogate),
    st.builds(
        lambda opener, n: (opener * n).encode(),
        st.sampled_from(["[", "{", '{"a":', '{"ServerURL":', "[{"]),
        st.sampled_from([10, 1000, 50_000, 400_000]),
    ),
)
BIG = [
    b"x" * (10 * 1024 * 1024),
    b"[" * MAX_INPUT,
    b"ghcr.io" + b" " * (MAX_INPUT - 7),
    b"ghcr.io" + b" " * (MAX_INPUT - 6),
    json.dumps({"ServerURL": "a.io", "Username": "u", "Secret": "s" * (MAX_INPUT - 60)}).encode(),
]


def _run_and_check(verb: str, stdin: bytes) -> None:
    world = installed()
    code, out, err = run_inprocess(world.env, verb, stdin=stdin)
    COUNTS[f"{verb} inputs"] += 1
    COUNTS[f"{verb} exit {code}"] += 1
    check_outcome(verb, code, out, err)
    no_sentinel(err, world.all_sentinels(), f"{verb} stderr")
    after = snapshot(world.root)
    if code == 1:
        no_sentinel(out, world.all_sentinels(), f"{verb} error")
        expect(after == world.state, f"{verb} failed but changed a file")
        if COUNTS[f"{verb} inputs"] % 50 == 1:  # the log only grows: read it now and then
            no_sentinel_in_log(world.env, world.all_sentinels(), f"{verb} fuzz")
    elif verb in ("store", "erase"):
        world.state = after  # a successful store or erase may change the store
    else:
        expect(after == world.state, f"{verb} changed a file")


@settings(max_examples=trials(1500), **SETTINGS)
@given(verb=st.sampled_from(VERBS), stdin=STDIN)
@example(verb="store", stdin=_lone_surrogate("Secret"))
@example(verb="store", stdin=_lone_surrogate("Username"))
def test_every_stdin_ends_in_exit_0_or_1_with_one_line(verb, stdin):
    _run_and_check(verb, stdin)


def test_huge_inputs_to_every_verb():
    for verb in VERBS:
        for stdin in BIG:
            _run_and_check(verb, stdin)


@settings(max_examples=trials(60), **SETTINGS)
@given(
    argv=st.lists(
        st.one_of(
            st.text(max_size=12),
            st.sampled_from(["--dry-run", "-h", "configure", "unconfigure", "get", "-"]),
        ),
        max_size=4,
    )
)
def test_any_argv_ends_in_exit_0_1_or_a_usage_error(argv):
    world = installed()
    code, out, _err = run_inprocess(world.env, *argv, stdin=b"ghcr.io")
    COUNTS["argv vectors"] += 1
    human = bool(argv) and argv[0] in ("configure", "unconfigure", "doctor", "baseten")
    # a human command's usage error: exit 2, one line on stderr, nothing on stdout
    usage = human and code == 2 and out == b"" and _err.count("\n") == 1
    expect(code in (0, 1) or usage, f"exit status {code} not 0 or 1 (or 2 for usage)")
    expect("internal error" not in out.decode("utf-8", "replace"), "internal error")
    no_sentinel(out.decode() if code else "", world.all_sentinels(), "argv error")


def test_a_sample_through_the_installed_executable(exe):
    """Real processes: the nasty inputs, plus random ones, on every verb."""
    world = installed()
    rng = random.Random()  # noqa: S311 - test data, not secrets
    nasty = [
        b"",
        b"\n",
        b"\x00" * 64,
        b"\xff\xfe\xfd",
        b"\xed\xa0\x80ghcr.io",
        _lone_surrogate("Secret"),
        _lone_surrogate("Username"),
        b"[" * 400_000,
        b'{"ServerURL":' * 100_000,
        b'{"ServerURL": 1, "Username": [], "Secret": {}}',
        b'{"ServerURL": "ghcr.io", "Username": "a:b", "Secret": "x"}',
        b"NaN",
        b"1" * 5000,
        *BIG,
    ]
    randoms = [rng.randbytes(rng.randint(0, 4096)) for _ in range(trials(10))]
    for verb in VERBS:
        for stdin in nasty + randoms:
            code, out, err = run_exe(exe, world.env, verb, stdin=stdin)
            COUNTS["executable runs"] += 1
            check_outcome(verb, code, out, err)
            no_sentinel(err, world.all_sentinels(), f"{verb} stderr (executable)")
            if code == 1:
                no_sentinel(out, world.all_sentinels(), f"{verb} error (executable)")
                expect(snapshot(world.root) == world.state, f"{verb} failed but changed a file")
            world.state = snapshot(world.root)


def _hostile_files(world: Installed) -> dict[str, str]:
    paths = Paths.from_env(world.env)
    secrets_dir = os.path.join(world.root, "secrets-dir")
    os.makedirs(secrets_dir, exist_ok=True)
    world.env["TRUSS_SECRETS_DIR"] = secrets_dir
    return {
        "store": paths.store,
        "helper config": paths.helper_config,
        "docker config": paths.docker_config,
        "truss user config": paths.truss_config,
        "truss project config": os.path.join(world.truss_dir, "config.yaml"),
        "secrets dir file": os.path.join(secrets_dir, "DOCKER_REGISTRY_ghcr.io"),
    }


FILE_CONTENT = st.one_of(
    st.binary(max_size=200),
    json_values().map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries(
        {},
        optional={
            "version": json_values(),
            "secrets": json_values(),
            "registries": st.one_of(
                json_values(),
                st.dictionaries(st.sampled_from(["ghcr.io", "x"]), json_values(), max_size=2),
            ),
            "credHelpers": json_values(),
        },
    ).map(lambda v: json.dumps(v).encode()),
    st.text(alphabet="secrets:base_image docker_auth{}[]&*!|>-'\"\n\t #%@`", max_size=120).map(
        str.encode
    ),
    st.sampled_from([b"[" * 10_000 + b"\n", b"a: " + b"[" * 5_000, b"- " * 5_000]),
)


@settings(max_examples=trials(300), **SETTINGS)
@given(
    which=st.sampled_from(
        [
            "store",
            "helper config",
            "docker config",
            "truss user config",
            "truss project config",
            "secrets dir file",
        ]
    ),
    content=FILE_CONTENT,
    verb=st.sampled_from([*VERBS, "configure"]),
    stdin=st.sampled_from([b"ghcr.io", b"quay.io", b"nvcr.io", b"127.0.0.1:5000", b"x.io"]),
)
def test_hostile_files_give_one_line_and_change_nothing_else(which, content, verb, stdin):
    """A corrupt store, config or secret file: one clear line, never a crash."""
    with tempfile.TemporaryDirectory() as root:
        world = Installed(root)
        target = _hostile_files(world)[which]
        os.makedirs(os.path.dirname(target), exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        before = snapshot(root)
        if verb == "store":
            body = {"ServerURL": stdin.decode(), "Username": "u", "Secret": sentinel()}
            world.sentinels.append(body["Secret"])
            stdin = json.dumps(body).encode()
        argv = ("configure", world.truss_dir) if verb == "configure" else (verb,)
        code, out, err = run_inprocess(world.env, *argv, stdin=stdin)
        COUNTS["hostile files"] += 1
        COUNTS[f"hostile files exit {code}"] += 1
        check_outcome(verb, code, out, err)
        no_sentinel(err, world.all_sentinels(), f"{verb} stderr with a hostile {which}")
        no_sentinel_in_log(world.env, world.all_sentinels(), f"{verb} with a hostile {which}")
        if code == 1:
            no_sentinel(out, world.all_sentinels(), f"{verb} error with a hostile {which}")
            expect(snapshot(root) == before, f"{verb} failed with a hostile {which} but wrote")


SPECIAL = ["fifo", "/dev/zero", "directory", "symlink loop", "dangling symlink", "/dev/null"]


def _make_special(path: str, kind: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.lexists(path):
        os.unlink(path)
    if kind == "fifo":
        os.mkfifo(path, 0o600)
    elif kind == "directory":
        os.mkdir(path, 0o700)
    elif kind == "symlink loop":
        os.symlink(path, path)
    elif kind == "dangling symlink":
        os.symlink(path + ".nowhere", path)
    else:
        os.symlink(kind, path)


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


#: A run still going after this many seconds has hung (a FIFO opened and waited on);
#: a guard, not a speed bound.
HANG_GUARD = 120.0
#: KiB a run may add to the peak it inherits: the helper itself peaks near 12 MiB
#: (Python) or a few tens (the frozen binary, configure, doctor); one that read
#: /dev/zero as a file would climb towards the 2 GiB limit.
PEAK_MEMORY = 256 * 1024


def _run_watched(
    exe: str, env: dict, argv: tuple[str, ...], stdin: bytes, what: str
) -> tuple[int, bytes, str, int]:
    """Like ``run_exe``, plus the run's peak memory in KiB, from ``wait4``.

    The peak covers the descendants the executable waited for, so the frozen build's
    bootloader reports its Python child too. Linux counts in it the size of this
    process when it forked the child, so it is at least that. A run past HANG_GUARD
    is killed and fails.
    """
    with (
        tempfile.TemporaryFile() as given,
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
    ):
        given.write(stdin)
        given.seek(0)
        proc = subprocess.Popen(
            [exe, *argv], stdin=given, stdout=out, stderr=err, env=env, preexec_fn=_limit_memory
        )
        reaped: list[tuple[int, int, object]] = []
        waiter = threading.Thread(target=lambda: reaped.append(os.wait4(proc.pid, 0)))
        waiter.start()
        waiter.join(HANG_GUARD)
        if waiter.is_alive():
            proc.kill()
            waiter.join()
            proc.returncode = -9
            raise AssertionError(f"{what}: hung, still running after {HANG_GUARD:g}s")
        _, status, usage = reaped[0]
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return proc.returncode, out.read(), err.read().decode("utf-8", "replace"), usage.ru_maxrss


def test_special_files_never_hang_or_exhaust_memory(exe):
    """A FIFO or /dev/zero where a secret, store or config should be: one line, no hang,
    and nothing read without end (the run's peak memory stays that of a normal run).
    """
    places = [
        "store",
        "helper config",
        "truss user config",
        "truss project config",
        "secrets dir file",
    ]
    for which in places:
        for kind in SPECIAL:
            with tempfile.TemporaryDirectory() as root:
                world = Installed(root)
                target = _hostile_files(world)[which]
                _make_special(target, kind)
                for verb in (*VERBS, "configure", "doctor"):
                    argv = ("configure", world.truss_dir) if verb == "configure" else (verb,)
                    stdin = b"ghcr.io"
                    if verb == "store":
                        stdin = json.dumps(
                            {"ServerURL": "ghcr.io", "Username": "u", "Secret": "x"}
                        ).encode()
                    what = f"{verb} on a {kind} as the {which}"
                    code, out, err, peak = _run_watched(exe, world.env, argv, stdin, what)
                    COUNTS["special files (runs)"] += 1
                    # A forked child's peak starts at this process's size (see _run_watched).
                    limit = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss + PEAK_MEMORY
                    expect(peak < limit, f"{what}: peaked at {peak} KiB: read without end?")
                    check_outcome(verb, code, out, err)
                    no_sentinel(err, world.all_sentinels(), f"{verb} stderr, {kind}")
                    if code == 1:
                        no_sentinel(out, world.all_sentinels(), f"{verb} error, {kind}")

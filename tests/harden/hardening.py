"""Shared pieces of the hardening tests (issue 5): trial counts, figures, sentinels, sandboxes.

Trial counts are sized so the whole hardening suite runs in a few minutes on two cores.
``DCT_STRESS=N`` multiplies every count by N for a long run (``DCT_STRESS=20`` is a
good night's worth). Each group of tests counts what it tried in ``figures(title)``;
the conftest prints every group at the end of the run and, when ``DCT_FIGURES`` names
a file, writes them there as JSON.

Secrets in these tests are sentinels: unique random strings that the tests look for in
every output. Failures name the sentinel by index and the place it leaked to, never its
value, so a failing run prints no secret either.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import subprocess
import time
from collections import Counter
from collections.abc import Iterable, Mapping

from prerequisites import helper_exe

from docker_credential_truss.cli import main

FIGURES: dict[str, Counter] = {}


def stress() -> int:
    """The multiplier from ``DCT_STRESS`` (1 when unset)."""
    value = os.environ.get("DCT_STRESS", "").strip()
    return max(1, int(value)) if value else 1


def trials(default: int) -> int:
    return default * stress()


def figures(title: str) -> Counter:
    """The counts (and measurements) of one group of tests, printed at the end of the run."""
    return FIGURES.setdefault(title, Counter())


def record(title: str, **values: object) -> None:
    for name, value in values.items():
        figures(title)[name] = value


# Endings that an escaping step (JSON, repr, YAML, shell) would change: a leak through
# one of them still shows the sentinel's random core, which is what is looked for.
TRICKY_TAILS = ['"', "\\", "'", "\u00e9", " x", "%s", "{0}", "</x>", "$HOME", "\u212a"]
_CORES: dict[str, str] = {}


def sentinel(tag: str = "", tricky: bool = False) -> str:
    """A value that appears nowhere unless this test put it there."""
    core = secrets.token_hex(16)
    value = f"snt{tag}{core}" + (secrets.choice(TRICKY_TAILS) if tricky else "")
    _CORES[value] = core
    return value


def expect(condition: bool, message: str) -> None:
    """Fail with ``message`` only: plain ``assert a == b`` would print secret values."""
    if not condition:
        raise AssertionError(message)


def no_sentinel(text: str | bytes, sentinels: Iterable[str], where: str) -> None:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    leaked = [i for i, s in enumerate(sentinels) if _CORES.get(s, s) in text]
    expect(not leaked, f"sentinel(s) #{leaked} leaked into {where}")


def log_text(env: Mapping[str, str]) -> str:
    """Everything in the debug logs (every hardening run has DOCKER_CREDENTIAL_TRUSS_DEBUG=1)."""
    root = env["XDG_STATE_HOME"]
    text = []
    for directory, _, names in os.walk(root):
        for name in names:
            with open(os.path.join(directory, name), encoding="utf-8", errors="replace") as f:
                text.append(f.read())
    return "\n".join(text)


def no_sentinel_in_log(env: Mapping[str, str], sentinels: Iterable[str], where: str) -> None:
    no_sentinel(log_text(env), sentinels, f"the debug log ({where})")


def looks_like_traceback(err: str) -> bool:
    return "Traceback (most recent call last)" in err or 'File "' in err


NOT_FOUND = b"credentials not found in native keychain\n"
HUMAN_COMMANDS = ("configure", "unconfigure", "doctor", "baseten")
#: get's only errors on stdout: the protocol's answers to input that names no server.
MALFORMED_INPUT = (b"no credentials server URL\n", b"input is larger than", b"input is not UTF-8")


def check_outcome(verb: str, code: int, out: bytes, err: str) -> None:
    """What every run must look like: exit 0 or 1, errors as one safe line.

    ``get`` for a well-formed server answers a credential or exactly not-found, with
    at most one line on stderr saying why; the other protocol verbs' errors are one
    line on stdout; a human command's error that stops it is one line on stderr.
    """
    expect(code in (0, 1), f"{verb}: exit status {code}")
    expect(not looks_like_traceback(err), f"{verb}: traceback on stderr: {err[-300:]!r}")
    if verb == "doctor":  # a report of several lines, exit 1 when something is wrong
        return
    if verb == "configure" and code == 1 and out == b"":
        # configure reports each problem as one "error: ..." line on stderr, and an
        # error that stops it as one "docker-credential-truss: ..." line
        lines = err.splitlines()
        expect(
            any(line.startswith(("error: ", "docker-credential-truss: ")) for line in lines),
            f"configure: exit 1 without an error line ({len(err)} chars)",
        )
        expect("internal error" not in err, f"configure: {err.strip()[:300]}")
        return
    if verb == "get" and code == 1 and out == NOT_FOUND:
        expect(
            err == "" or (err.startswith("docker-credential-truss: ") and err.count("\n") == 1),
            f"get: stderr is not one line ({len(err)} chars)",
        )
        expect("internal error" not in err, f"get: {err.strip()[:300]}")
        return
    if verb == "get" and code == 1:
        expect(out.startswith(MALFORMED_INPUT), f"get: stdout is not the protocol's: {out[:300]!r}")
    if verb in HUMAN_COMMANDS and code == 1 and out == b"":
        # a human command's error that stops it: once, on stderr, one line
        expect(
            err.startswith("docker-credential-truss: ") and err.count("\n") == 1,
            f"{verb}: error output is not exactly one line on stderr ({len(err)} chars)",
        )
        expect("internal error" not in err, f"{verb}: {err.strip()[:300]}")
        return
    if code == 1:
        text = out.decode("utf-8", "replace")
        expect(
            text.endswith("\n") and text.count("\n") == 1 and text.strip() != "",
            f"{verb}: error output is not exactly one line ({len(text)} chars)",
        )
        expect("internal error" not in text, f"{verb}: {text.strip()[:300]}")
        return
    if verb in ("get", "list"):
        expect(isinstance(json.loads(out), dict), f"{verb}: stdout is not a JSON object")
    elif verb in ("store", "erase"):
        expect(out == b"", f"{verb}: printed something on success")


def make_env(root: str) -> dict[str, str]:
    """Every location the helper uses, under ``root``; nothing inherited but PATH."""
    home = os.path.join(root, "home")
    os.makedirs(home, exist_ok=True)
    return {
        "HOME": home,
        "XDG_CONFIG_HOME": os.path.join(root, "xdg-config"),
        "XDG_DATA_HOME": os.path.join(root, "xdg-data"),
        "XDG_CACHE_HOME": os.path.join(root, "xdg-cache"),
        "XDG_STATE_HOME": os.path.join(root, "xdg-state"),
        "DOCKER_CONFIG": os.path.join(root, "docker"),
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        # Every run logs, so every leak check also reads the log.
        "DOCKER_CREDENTIAL_TRUSS_DEBUG": "1",
    }


def run_inprocess(env: Mapping[str, str], *argv: str, stdin: bytes = b"") -> tuple[int, bytes, str]:
    out, err = io.BytesIO(), io.StringIO()
    code = main(list(argv), stdin=io.BytesIO(stdin), stdout=out, stderr=err, env=env)
    return code, out.getvalue(), err.getvalue()


def run_exe(
    exe: str, env: Mapping[str, str], *argv: str, stdin: bytes = b"", timeout: float = 60, **kw
) -> tuple[int, bytes, str]:
    proc = subprocess.run(
        [exe, *argv], input=stdin, capture_output=True, env=dict(env), timeout=timeout, **kw
    )
    return proc.returncode, proc.stdout, proc.stderr.decode("utf-8", "replace")


def snapshot(root: str) -> dict[str, tuple[int, str]]:
    """Every file and directory under ``root`` -> (mode, sha256); lock files are left out.

    Lock files are empty and carry no state, and the debug log (XDG_STATE_HOME) is
    meant to grow; everything else, leftover temporary files included, counts as a change.
    """
    state: dict[str, tuple[int, str]] = {}
    for directory, dirs, names in os.walk(root):
        if "xdg-state" in dirs:
            dirs.remove("xdg-state")
        for name in dirs:
            path = os.path.join(directory, name)
            state[os.path.relpath(path, root)] = (os.lstat(path).st_mode, "dir")
        for name in names:
            if name.endswith(".lock"):
                continue
            path = os.path.join(directory, name)
            with open(path, "rb") as handle:
                digest = hashlib.sha256(handle.read()).hexdigest()
            state[os.path.relpath(path, root)] = (os.lstat(path).st_mode, digest)
    return state


def find_exe() -> str:
    """The executable under test (prerequisites.helper_exe: a skip where there is none)."""
    return helper_exe()


class Clock:
    """Wall time of a test, for the figures."""

    def __init__(self) -> None:
        self.start = time.monotonic()

    def seconds(self) -> float:
        return round(time.monotonic() - self.start, 2)

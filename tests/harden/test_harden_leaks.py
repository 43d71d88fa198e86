"""Secrets never leak: sentinel values through every path that can fail or print.

Every secret here is a sentinel (a unique random string). The tests run the verbs with
sentinels in every source and assert that no sentinel (nor the base64 form in which the
secret is stored) appears on stderr, in ``list``, or in any error line: bad base64,
values without ``:``, missing secrets, a ``~/.truss/config.yaml`` whose YAML error sits
on the line that holds a secret (both the libyaml and the pure-Python parser), corrupt
or insecure store files, and erasing what the helper does not own.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile

import pytest
import yaml
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
    trials,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from docker_credential_truss import secrets
from docker_credential_truss.paths import Paths
from docker_credential_truss.providers import static

SETTINGS = {"deadline": None, "suppress_health_check": list(HealthCheck)}
COUNTS = figures("leaks: no sentinel anywhere")
VERBS = ("get", "list", "erase", "store")

# What makes YAML fail, placed right before or after the secret on its line.
YAML_TRICKS = [
    "!",
    "!!",
    "!<",
    "*",
    "&",
    "%",
    "@",
    "`",
    "{",
    "}",
    "[",
    "]",
    "'",
    '"',
    "|",
    ">",
    "? ",
    "- ",
    "\t",
    ": ",
    "#",
    ",",
    "\\",
    '"\\q',
    "&a *",
    "!!binary ",
    "!!int ",
    "!!float ",
    "!!timestamp ",
    "!!map ",
    "!!python/object:",
    "<<: ",
    "\x07",
    "\ufeff",
]


def _verbs(env: dict, sentinels: list[str], where: str, exe: str | None = None) -> None:
    """Run every verb and doctor against ``env``, debug log on; no sentinel may show up
    anywhere but a get answer: not on stderr, in list, doctor, an error or the log."""
    for argv in (*([v] for v in VERBS), ["doctor"], ["doctor", "--offline"]):
        verb = argv[0]
        if verb == "store":
            stdin = json.dumps({"ServerURL": "ghcr.io", "Username": "u", "Secret": "x"}).encode()
        else:
            stdin = b"ghcr.io"
        runner = run_inprocess if exe is None else lambda e, *a, **k: run_exe(exe, e, *a, **k)
        code, out, err = runner(env, *argv, stdin=stdin)
        COUNTS["runs"] += 1
        COUNTS["doctor runs"] += verb == "doctor"
        check_outcome(verb, code, out, err)
        no_sentinel(err, sentinels, f"{verb} stderr ({where})")
        if code == 1 or verb in ("list", "doctor"):
            no_sentinel(out, sentinels, f"{' '.join(argv)} stdout ({where})")
    no_sentinel_in_log(env, sentinels, where)
    COUNTS["debug logs read"] += 1


@pytest.mark.parametrize("loader", ["libyaml", "pure-python"])
def test_yaml_errors_never_quote_the_secret_line(loader, monkeypatch):
    if loader == "pure-python":
        monkeypatch.delattr(yaml, "CSafeLoader", raising=False)
    elif not hasattr(yaml, "CSafeLoader"):
        pytest.skip("PyYAML built without libyaml")
    _yaml_cases(loader)


def _yaml_cases(loader: str) -> None:
    @settings(max_examples=trials(150), **SETTINGS)
    @given(
        before=st.sampled_from(["", *YAML_TRICKS]),
        after=st.sampled_from(["", *YAML_TRICKS]),
        as_key=st.booleans(),
        where=st.sampled_from(["user config", "project config"]),
    )
    def case(before, after, as_key, where):
        secret = sentinel()
        line = f"  {before}{secret}{after}: x\n" if as_key else f"  k: {before}{secret}{after}\n"
        text = "secrets:\n  DOCKER_REGISTRY_ghcr.io: null\n" + line
        with tempfile.TemporaryDirectory() as root:
            env = make_env(root)
            truss = os.path.join(root, "truss")
            os.makedirs(truss)
            path = Paths.from_env(env).truss_config
            if where == "project config":
                path = os.path.join(truss, "config.yaml")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)
            COUNTS[f"yaml texts ({loader})"] += 1
            if where == "project config":
                code, out, err = run_inprocess(env, "configure", truss)
                COUNTS["runs"] += 1
                no_sentinel(out + err.encode(), [secret], f"configure ({loader})")
                expect(code in (0, 1), "configure: exit status")
                if code == 1:
                    COUNTS[f"yaml errors ({loader})"] += 1
            else:
                code, _, err = run_inprocess(env, "get", stdin=b"ghcr.io")
                COUNTS[f"yaml errors ({loader})"] += code == 1 and "YAML" in err
                _verbs(env, [secret], f"YAML error, {loader}")

    case()


BAD_VALUES = {
    "not base64": lambda s: f"{s}!!",
    "base64 without ':'": lambda s: base64.b64encode(s.encode()).decode(),
    "empty user name": lambda s: base64.b64encode(f":{s}".encode()).decode(),
    "not UTF-8": lambda s: base64.b64encode(b"\xff" + s.encode() + b":x").decode(),
    "space inside": lambda s: base64.b64encode(f"u:{s}".encode()).decode()[:8] + " x" + s,
    "padding missing": lambda s: _unpadded(f"u:{s}".encode()),
}
SOURCES = ["env", "dir", "truss", "store", "configured"]


def _unpadded(raw: bytes) -> str:
    """base64 that needs '==' padding, with the padding cut off: invalid base64."""
    raw += b"x" * ((1 - len(raw)) % 3)
    return base64.b64encode(raw).decode().rstrip("=")


def _place(env: dict, source: str, name: str, value: str) -> None:
    paths = Paths.from_env(env)
    if source == "env":
        env[f"TRUSS_SECRET_{name}"] = value
    elif source == "dir":
        directory = env.setdefault("TRUSS_SECRETS_DIR", os.path.join(env["HOME"], "secrets"))
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, secrets.file_name(name)), "w") as handle:
            handle.write(value)
    elif source == "truss":
        os.makedirs(os.path.dirname(paths.truss_config), exist_ok=True)
        with open(paths.truss_config, "w") as handle:
            yaml.safe_dump({"secrets": {name: value}}, handle)
    else:
        secrets.Secrets(env, paths).store(name, value)


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("bad", sorted(BAD_VALUES))
def test_bad_secret_values_are_named_not_shown(tmp_path, source, bad):
    env = make_env(str(tmp_path))
    secret = sentinel(tricky=True)
    value = BAD_VALUES[bad](secret)
    name = "DOCKER_REGISTRY_ghcr.io"
    if source == "configured":
        name = "my_registry_secret"
        truss = tmp_path / "truss"
        truss.mkdir()
        (truss / "config.yaml").write_text(
            "base_image:\n  image: ghcr.io/org/img:1\n  docker_auth:\n"
            "    auth_method: registry_secret\n    secret_name: my_registry_secret\n"
        )
        expect(run_inprocess(env, "configure", str(truss))[0] == 0, "configure failed")
        source = "env"
    _place(env, source, name, value)
    code, _, err = run_inprocess(env, "get", stdin=b"ghcr.io")
    expect(code == 1 and name in err, "a bad secret value was not reported by name")
    COUNTS["bad secret values"] += 1
    _verbs(env, [secret, value], f"bad secret value: {bad}, {source}")


def test_missing_and_misplaced_secrets_say_where_not_what(tmp_path, exe):
    """Missing named secret, erase of what others own, list: every line without a value."""
    env = make_env(str(tmp_path))
    owned = {src: sentinel(src, tricky=True) for src in SOURCES}
    sentinels = list(owned.values())
    for i, src in enumerate(["env", "dir", "truss", "store"]):
        key = f"r{i}.example"
        _place(env, src, f"DOCKER_REGISTRY_{key}", static.encode(f"user{i}", owned[src]))
        sentinels.append(static.encode(f"user{i}", owned[src]))
    truss = tmp_path / "truss"
    truss.mkdir()
    (truss / "config.yaml").write_text(
        "base_image:\n  image: ghcr.io/org/img:1\n  docker_auth:\n"
        "    auth_method: REGISTRY_SECRET\n    secret_name: absent_secret\n"
    )
    expect(run_inprocess(env, "configure", str(truss))[0] == 0, "configure failed")
    for runner in (None, exe):
        _verbs(env, sentinels, "missing secret", exe=runner)
        for i in range(4):
            code, out, err = run_exe(exe, env, "erase", stdin=f"r{i}.example".encode())
            if i < 3:  # env, dir, truss: not ours to erase
                expect(code == 1 and b"does not edit" in out, "erase of a foreign secret")
            no_sentinel(out + err.encode(), sentinels, "erase")
            COUNTS["runs"] += 1
    code, out, err = run_exe(exe, env, "list")
    listed = json.loads(out)
    expect(set(listed) >= {"r0.example", "r1.example", "r2.example"}, "list lost a registry")
    no_sentinel(out + err.encode(), sentinels, "list")


CORRUPTIONS = {
    "truncated": lambda text: text[: len(text) // 2],
    "not an object": lambda text: json.dumps([text]),
    "secrets not strings": lambda text: json.dumps({"secrets": {"x": [text]}}),
    "binary": lambda text: "\udcff" + text,
}


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_a_corrupt_store_never_quotes_itself(tmp_path, corruption, exe):
    env = make_env(str(tmp_path))
    secret = sentinel()
    paths = Paths.from_env(env)
    secrets.Secrets(env, paths).store("DOCKER_REGISTRY_ghcr.io", static.encode("u", secret))
    with open(paths.store, encoding="utf-8") as handle:
        text = handle.read()
    with open(paths.store, "wb") as handle:
        handle.write(CORRUPTIONS[corruption](text).encode("utf-8", "surrogateescape"))
    encoded = static.encode("u", secret)
    _verbs(env, [secret, encoded], f"corrupt store: {corruption}")
    _verbs(env, [secret, encoded], f"corrupt store: {corruption}", exe=exe)
    code, _, err = run_inprocess(env, "get", stdin=b"ghcr.io")
    expect(code == 1 and "secrets.json" in err, "a corrupt store was not named")


def test_a_malformed_helper_config_never_quotes_itself(tmp_path):
    env = make_env(str(tmp_path))
    secret = sentinel()
    paths = Paths.from_env(env)
    os.makedirs(paths.config_dir, mode=0o700)
    fd = os.open(paths.helper_config, os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"registries": {"ghcr.io": {"auth_method": secret, "secret_name": 1}}}, handle)
    _verbs(env, [secret], "malformed helper config")


def test_a_get_answer_holds_only_its_own_secret(tmp_path, exe):
    env = make_env(str(tmp_path))
    owned = {f"r{i}.example": sentinel(str(i), tricky=True) for i in range(6)}
    for i, (key, secret) in enumerate(owned.items()):
        _place(env, SOURCES[i % 4], f"DOCKER_REGISTRY_{key}", static.encode("u", secret))
    for key, secret in owned.items():
        code, out, err = run_exe(exe, env, "get", stdin=key.encode())
        got = json.loads(out) if code == 0 else {}
        expect(got.get("Secret") == secret, f"get {key} did not answer its secret")
        others = [s for k, s in owned.items() if k != key]
        no_sentinel(out + err.encode(), others, f"get {key}")
        COUNTS["runs"] += 1
    no_sentinel_in_log(env, list(owned.values()), "gets of six registries")

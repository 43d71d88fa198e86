"""DOCKER_CREDENTIAL_TRUSS_DEBUG=1: a private, rotated log that says what happened and
never shows a secret; without it, nothing is written and logging is not even imported.

Secret values here are sentinels. Checks on them compute a boolean first and assert it
with a message, so a failure never prints the log (which could then show a secret).
"""

import base64
import json
import os
import stat
import subprocess
import sys

import pytest
from fakes.gcp import FakeGoogle
from hypothesis import given, settings
from hypothesis import strategies as st

from docker_credential_truss import config, debuglog

REG = "registry.example.test"
PASSWORD = "SENTINEL-password-5b2e"
USER = "SENTINEL-user-0d41"
VALUE = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
AR = "us-west2-docker.pkg.dev"
ON = {"DOCKER_CREDENTIAL_TRUSS_DEBUG": "1"}


def log_text(paths) -> str:
    with open(os.path.join(paths.log_dir, debuglog.FILE_NAME), encoding="utf-8") as handle:
        return handle.read()


def test_a_static_get_is_logged_with_method_and_source_but_no_value(cli, paths, truss_secrets):
    truss_secrets({f"DOCKER_REGISTRY_{REG}": VALUE})
    run = cli("get", stdin=REG, extra=ON)
    assert run.code == 0
    log = log_text(paths)
    assert "get (docker-credential-truss" in log
    assert f"{REG}: auth method REGISTRY_SECRET (secret DOCKER_REGISTRY_{REG} exists)" in log
    assert f"secret DOCKER_REGISTRY_{REG}: found in {paths.truss_config}" in log
    assert f"{REG}: made from the secret (not cached)" in log
    leaked = [s for s in (VALUE, PASSWORD) if s in log]
    assert not leaked, f"{len(leaked)} secret values reached the log"


def test_list_logs_one_summary_line_not_each_registry(cli, paths, truss_secrets):
    """list is a bulk operation: per-registry resolution lines would drown the log."""
    secrets = {f"DOCKER_REGISTRY_r{i}.example.test": VALUE for i in range(3)}
    truss_secrets({**secrets, "DOCKER_REGISTRY_bad.example.test": "not base64 at all"})
    run = cli("list", extra=ON)
    assert run.code == 0
    log = log_text(paths)
    assert "list: 3 registries answered, 1 left out, in " in log
    assert "left out of list: bad.example.test: " in log
    assert "auth method" not in log
    assert "found in" not in log
    leaked = [s for s in (VALUE, PASSWORD, "not base64 at all") if s in log]
    assert not leaked, f"{len(leaked)} secret values reached the log"


def test_log_directory_is_0700_and_file_0600_whatever_the_umask(cli, paths):
    old = os.umask(0)
    try:
        assert cli("get", stdin="unknown.example.test", extra=ON).code == 1
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(paths.log_dir).st_mode) == 0o700
    path = os.path.join(paths.log_dir, debuglog.FILE_NAME)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert "unknown.example.test: no auth method applies" in log_text(paths)


def test_errors_are_logged_as_their_safe_line(cli, paths):
    run = cli("get", stdin=REG, extra={**ON, f"TRUSS_SECRET_DOCKER_REGISTRY_{REG}": "@@not-b64"})
    assert run.code == 1
    assert f"ERROR error: secret 'DOCKER_REGISTRY_{REG}' is not valid base64" in log_text(paths)


def test_store_logs_the_registry_not_the_credential(cli, paths):
    login = json.dumps({"ServerURL": REG, "Username": USER, "Secret": PASSWORD})
    assert cli("store", stdin=login, extra=ON).code == 0
    log = log_text(paths)
    assert f"store {REG}: into the helper's store" in log
    leaked = [s for s in (VALUE, PASSWORD) if s in log]
    assert not leaked, f"{len(leaked)} secret values reached the log"


def test_without_the_variable_nothing_is_written(cli, paths, truss_secrets):
    truss_secrets({f"DOCKER_REGISTRY_{REG}": VALUE})
    assert cli("get", stdin=REG).code == 0
    assert cli("get", stdin="unknown.example.test").code == 1
    assert not os.path.exists(paths.log_dir)


def test_an_earlier_logged_run_does_not_leave_logging_on(cli, paths):
    assert cli("get", stdin="one.example.test", extra=ON).code == 1
    assert cli("get", stdin="two.example.test").code == 1
    assert "two.example.test" not in log_text(paths)


def test_without_the_variable_logging_is_not_imported(env):
    code = (
        "import io, sys\n"
        "from docker_credential_truss.cli import main\n"
        "main(['get'], stdin=io.BytesIO(b'ghcr.io'), stdout=io.BytesIO())\n"
        "print('logging' in sys.modules)\n"
    )
    env = {**env, "TRUSS_SECRET_DOCKER_REGISTRY_ghcr.io": VALUE}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "False"


@pytest.fixture
def google():
    with FakeGoogle() as fake:
        yield fake


def test_cache_miss_then_hit_and_no_key_or_token_in_the_log(cli, env, paths, google):
    key = google.new_key()
    config.merge(paths, {AR: {"auth_method": "GCP_SERVICE_ACCOUNT_JSON", "secret_name": "sa"}})
    extra = {**ON, "TRUSS_SECRET_sa": key.json()}
    first = cli("get", stdin=AR, extra=extra)
    second = cli("get", stdin=AR, extra=extra)
    assert first.code == 0 and second.code == 0, "get failed"
    log = log_text(paths)
    assert f"{AR}: cache miss; minted in" in log
    assert f"{AR}: cache hit" in log
    token = google.issued["token"][0]
    pem_lines = [line for line in key.info["private_key"].splitlines() if len(line) > 16]
    leaked = token in log or key.json() in log or any(line in log for line in pem_lines)
    assert not leaked, "the token or a piece of the key reached the log"


def test_fields_of_a_service_account_key_are_masked_on_their_own():
    pem = "-----BEGIN X-----\nQUJDREVGR0hJSktMTU5PUA==\n-----END X-----\n"
    fields = {"private_key": pem, "private_key_id": "0123456789abcdef0123", "client_email": "a@b"}
    key = json.dumps(fields)
    try:
        debuglog.redact(key)
        text = debuglog.masked("id 0123456789abcdef0123 line QUJDREVGR0hJSktMTU5PUA== for a@b")
    finally:
        debuglog.close()
    assert text == "id [redacted] line [redacted] for a@b"


def test_a_secret_inside_a_foreign_exception_is_masked(cli, paths, monkeypatch):
    from docker_credential_truss.providers import static

    def explode(self):
        raise RuntimeError(f"backend echoed {self._password} back")

    monkeypatch.setattr(static.StaticProvider, "mint", explode)
    run = cli("get", stdin=REG, extra={**ON, f"TRUSS_SECRET_DOCKER_REGISTRY_{REG}": VALUE})
    assert "docker-credential-truss: internal error (RuntimeError); please report" in run.why
    log = log_text(paths)
    kept = "RuntimeError: backend echoed [redacted] back" in log  # the traceback is kept
    leaked = PASSWORD in log
    assert kept and not leaked, "the traceback is missing, or its secret reached the log"


def test_rotated_files_stay_private(cli, paths, monkeypatch):
    monkeypatch.setattr(debuglog, "MAX_BYTES", 400)
    for i in range(8):
        cli("get", stdin=f"host{i}.example.test", extra=ON)
    names = sorted(os.listdir(paths.log_dir))
    assert names == ["debug.log", "debug.log.1", "debug.log.2", "debug.log.3"]
    modes = {n: stat.S_IMODE(os.stat(os.path.join(paths.log_dir, n)).st_mode) for n in names}
    assert set(modes.values()) == {0o600}, modes


def test_masking_covers_each_long_line_of_a_multi_line_secret():
    pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nshort\n-----END-----"
    try:
        debuglog.redact(pem)
        text = debuglog.masked("a line MIIEvQIBADANBgkqhkiG9w0BAQEFAASC quoted, and short")
    finally:
        debuglog.close()
    assert text == "a line [redacted] quoted, and short"


# -- debuglog on its own -------------------------------------------------------------------


def read_log(paths) -> list[str]:
    with open(os.path.join(paths.log_dir, debuglog.FILE_NAME), encoding="utf-8") as handle:
        return handle.read().splitlines()


def test_setup_is_once_per_run_and_only_when_asked(env, paths):
    try:
        assert debuglog.setup(env, paths) is None  # not asked
        assert not os.path.exists(paths.log_dir)
        on = {**env, **ON}
        path = debuglog.setup(on, paths)
        assert path == os.path.join(paths.log_dir, debuglog.FILE_NAME)
        assert debuglog.setup(on, paths) is None  # already on: no second handler
        debuglog.debug("one line %s", "only")
    finally:
        debuglog.close()
    assert [line.split(" ", 2)[2] for line in read_log(paths)] == ["DEBUG one line only"]


def test_a_line_says_when_which_process_and_how_bad(env, paths):
    import re

    try:
        debuglog.setup({**env, **ON}, paths)
        debuglog.error("failed: %s", "why")
    finally:
        debuglog.close()
    (line,) = read_log(paths)
    pattern = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3} pid=(\d+) ERROR failed: why"
    match = re.fullmatch(pattern, line)
    assert match is not None, line
    assert int(match.group(1)) == os.getpid()


def test_error_keeps_a_traceback_only_when_asked(env, paths):
    try:
        debuglog.setup({**env, **ON}, paths)
        try:
            raise RuntimeError("inner")
        except RuntimeError:
            debuglog.error("plain")
            debuglog.error("traced", trace=True)
    finally:
        debuglog.close()
    log = read_log(paths)
    assert log[0].endswith("ERROR plain")
    assert log[1].endswith("ERROR traced")
    assert log[-1] == "RuntimeError: inner"
    assert sum("Traceback" in line for line in log) == 1


def test_log_lines_stay_out_of_other_loggers(env, paths):
    import logging

    seen = []

    class Catch(logging.Handler):
        def emit(self, record):
            seen.append(record.getMessage())

    root = logging.getLogger()
    catcher = Catch(level=logging.DEBUG)
    root.addHandler(catcher)
    try:
        debuglog.setup({**env, **ON}, paths)
        debuglog.debug("ours")
        logging.getLogger("urllib3").warning("theirs")
    finally:
        debuglog.close()
        root.removeHandler(catcher)
    assert seen == ["theirs"]  # ours went to the file only, theirs never to the file
    assert [line.split(" ", 2)[2] for line in read_log(paths)] == ["DEBUG ours"]


def test_a_secret_containing_another_is_masked_whole():
    try:
        debuglog.redact("zz")  # inside "azzb": its stretch is masked as one
        debuglog.redact("azzb")
        text = debuglog.masked("azzb and zz")
    finally:
        debuglog.close()
    assert text == "[redacted] and [redacted]"


def indexed() -> set[str]:
    """The values registered so far (``redact`` only notes them; masking indexes them)."""
    debuglog.masked("")
    return set(debuglog._secrets)


@pytest.mark.parametrize(
    ("value", "password"),
    [
        pytest.param(base64.b64encode(b"user:pa:ss").decode(), "pa:ss", id="colon-in-password"),
        pytest.param(" " + base64.b64encode(b"u:p1").decode() + "\n", "p1", id="padded"),
        pytest.param(base64.b64encode(b":nouser").decode(), None, id="no-user"),
        pytest.param(base64.b64encode(b"nocolon").decode(), None, id="no-colon"),
        pytest.param(base64.b64encode(b"u:").decode(), None, id="empty-password"),
        pytest.param(base64.b64encode(b"\xff:\xfe").decode(), None, id="not-utf8"),
        pytest.param("not base64!", None, id="not-base64"),
    ],
)
def test_the_password_inside_a_registry_secret_is_masked_on_its_own(value, password):
    try:
        debuglog.redact(value)
        registered = indexed()
    finally:
        debuglog.close()
    assert registered == {value} | ({password} if password else set())


def test_empty_values_are_not_registered():
    try:
        debuglog.redact("")
        assert indexed() == set()
        assert debuglog.masked("nothing to hide") == "nothing to hide"
    finally:
        debuglog.close()


@pytest.mark.parametrize("value", ["1", "true", "YES", " on ", "True"])
def test_debug_is_on_for_the_usual_yes_words(value):
    assert debuglog.enabled({debuglog.VARIABLE: value})


@pytest.mark.parametrize("value", ["", "0", "false", "no", "off", "2"])
def test_debug_is_off_otherwise(value):
    assert not debuglog.enabled({debuglog.VARIABLE: value})
    assert not debuglog.enabled({})


def test_pieces_of_exactly_the_minimum_length_are_masked_and_keys_after_space_too():
    piece = "p" * debuglog.MIN_PIECE
    debuglog.redact(f"-----BEGIN-----\n{piece}\nshort\n")
    debuglog.redact(' {"private_key_id": "0123456789abcdef0123"}')
    assert debuglog.masked(f"{piece} 0123456789abcdef0123") == "[redacted] [redacted]"


def test_a_value_that_is_base64_only_after_junk_is_dropped_is_not_decoded():
    debuglog.redact("dTpwd2Q=!!")  # "u:pwd" once the "!!" is thrown away: not strict base64
    assert indexed() == {"dTpwd2Q=!!"}


def test_a_second_run_in_one_process_logs_each_line_once(env, paths):
    on = {**env, **ON}
    for text in ("first", "second"):
        debuglog.setup(on, paths)
        debuglog.debug(text)
        debuglog.close()
    assert [line.split(" ", 2)[2] for line in read_log(paths)] == ["DEBUG first", "DEBUG second"]


def test_where_a_secret_was_found_is_one_exact_line(env, paths):
    from docker_credential_truss.secrets import Secrets

    debuglog.setup({**env, **ON}, paths)
    Secrets({**env, "TRUSS_SECRET_n": "SENTINEL-v"}, paths).find("n")
    debuglog.close()
    (line,) = read_log(paths)
    assert line.endswith(" DEBUG secret n: found in environment variable TRUSS_SECRET_n")


def _masked_by_brute_force(text: str, secrets: list[str]) -> str:
    """Every occurrence of every secret, found the slow way, overlapping ones as one."""
    spans = sorted(
        (i, i + len(s)) for s in set(secrets) for i in range(len(text)) if text.startswith(s, i)
    )
    out, done = [], 0
    for start, end in spans:
        if end <= done:
            continue
        if start >= done:
            out += (text[done:start], debuglog.MASK)
        done = end
    return "".join(out) + text[done:]


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.text(alphabet="ab01+/", min_size=1, max_size=24), min_size=1, max_size=6),
    st.lists(st.text(alphabet="ab01+/ ", max_size=12), max_size=8),
)
def test_the_index_finds_every_occurrence_the_slow_way_does(secrets, fillers):
    """Short and long secrets, repeated, overlapping, nested, at every offset."""
    text = "".join(f + secrets[i % len(secrets)] for i, f in enumerate(fillers)) + "ab"
    try:
        for secret in secrets:
            debuglog.redact(secret)
        ours = debuglog.masked(text)
    finally:
        debuglog.close()
    assert ours == _masked_by_brute_force(text, secrets)

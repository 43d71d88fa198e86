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


# -- the appender: line format, rotation, failures -------------------------------------


def log_sizes(paths) -> list[int]:
    """Sizes of debug.log, debug.log.1, ... (as many as exist, in order)."""
    sizes, name = [], os.path.join(paths.log_dir, debuglog.FILE_NAME)
    for suffix in ("", ".1", ".2", ".3", ".4"):
        if os.path.exists(name + suffix):
            sizes.append(os.path.getsize(name + suffix))
    return sizes


def line_length(env, paths) -> int:
    """Bytes of one ``debug("same")`` line (fixed: the stamp and pid have fixed widths)."""
    debuglog.setup({**env, **ON}, paths)
    debuglog.debug("same")
    debuglog.close()
    (size,) = log_sizes(paths)
    os.remove(os.path.join(paths.log_dir, debuglog.FILE_NAME))
    return size


@pytest.mark.parametrize(
    ("prefill", "limit"),
    # limit as (lines, extra bytes): at, just over and just under a whole number of lines
    [(0, (3, 0)), (0, (3, 1)), (7, (2, 7)), (7, (2, 8)), (7, (2, 6)), (1, (1, 1)), (5, (2, 0))],
)
def test_a_file_is_rotated_before_a_line_would_make_it_max_bytes(
    env, paths, monkeypatch, prefill, limit
):
    """As RotatingFileHandler: a line that would bring the file to MAX_BYTES or more
    goes to a fresh file; the old ones shift up, three kept, all 0600."""
    length = line_length(env, paths)
    max_bytes = limit[0] * length + limit[1]
    monkeypatch.setattr(debuglog, "MAX_BYTES", max_bytes)
    with open(os.path.join(paths.log_dir, debuglog.FILE_NAME), "w") as handle:
        handle.write("x" * prefill)  # what earlier runs left
    current, older = prefill, []
    try:
        debuglog.setup({**env, **ON}, paths)
        for _ in range(12):
            debuglog.debug("same")
            if current + length >= max_bytes:
                current, older = 0, [current, *older][:3]
            current += length
    finally:
        debuglog.close()
    assert log_sizes(paths) == [current, *older]
    modes = {
        stat.S_IMODE(os.stat(os.path.join(paths.log_dir, n)).st_mode)
        for n in os.listdir(paths.log_dir)
    }
    assert modes == {0o600}


def test_the_stamp_is_the_local_time_of_the_line_to_the_millisecond(env, paths, monkeypatch):
    import time

    clock = iter([1_000_000_000.9995, 1_000_000_000.5, 1_000_000_061.25])
    monkeypatch.setattr(time, "time", lambda: next(clock))
    try:
        debuglog.setup({**env, **ON}, paths)
        for n in range(3):
            debuglog.debug("line %d", n)
    finally:
        debuglog.close()
    first = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(1_000_000_000))
    later = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(1_000_000_061))
    pid = os.getpid()
    assert read_log(paths) == [
        f"{first}.999 pid={pid} DEBUG line 0",
        f"{first}.500 pid={pid} DEBUG line 1",
        f"{later}.250 pid={pid} DEBUG line 2",
    ]


def test_the_first_line_has_its_stamp_even_at_the_start_of_the_epoch(env, paths, monkeypatch):
    import time

    monkeypatch.setattr(time, "time", lambda: 1.5)
    try:
        debuglog.setup({**env, **ON}, paths)
        debuglog.debug("early")
    finally:
        debuglog.close()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(1))
    assert read_log(paths) == [f"{stamp}.500 pid={os.getpid()} DEBUG early"]


def test_a_percent_sign_without_arguments_is_logged_as_it_is(env, paths):
    try:
        debuglog.setup({**env, **ON}, paths)
        debuglog.debug("100% of %s")
        debuglog.error("50% of %d")
    finally:
        debuglog.close()
    assert [line.split(" ", 2)[2] for line in read_log(paths)] == [
        "DEBUG 100% of %s",
        "ERROR 50% of %d",
    ]


def test_text_that_is_not_valid_unicode_is_escaped_not_fatal(env, paths):
    try:
        debuglog.setup({**env, **ON}, paths)
        debuglog.debug("file %s", os.fsdecode(b"name-\xff"))  # a surrogate escape
    finally:
        debuglog.close()
    assert read_log(paths)[0].endswith(" DEBUG file name-\\udcff")


def test_a_traceback_keeps_the_exception_message_exactly(env, paths):
    try:
        debuglog.setup({**env, **ON}, paths)
        for message in ("ends in spaces  ", "ends in X"):
            try:
                raise RuntimeError(message)
            except RuntimeError:
                debuglog.error("traced", trace=True)
    finally:
        debuglog.close()
    log = read_log(paths)
    assert "RuntimeError: ends in spaces  " in log
    assert log[-1] == "RuntimeError: ends in X"


def test_a_failed_rotation_turns_the_log_off_and_writes_nowhere_else(
    env, paths, monkeypatch, capfd
):
    import shutil

    monkeypatch.setattr(debuglog, "MAX_BYTES", 10)
    try:
        debuglog.setup({**env, **ON}, paths)
        shutil.rmtree(paths.log_dir)  # the directory vanished: the rotation fails
        debuglog.debug("first")
        debuglog.debug("second")  # must neither raise nor go to another descriptor
    finally:
        debuglog.close()
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")
    assert not os.path.exists(paths.log_dir)


def test_a_log_on_descriptor_0_is_written_and_closed(env, paths):
    """A helper started with stdin closed gets descriptor 0 for its log."""
    saved = os.dup(0)
    try:
        os.close(0)
        try:
            path = debuglog.setup({**env, **ON}, paths)
            on_zero = os.path.samestat(os.fstat(0), os.stat(path))
            debuglog.debug("on zero")
        finally:
            debuglog.close()
        closed = False
        try:
            os.fstat(0)
        except OSError:
            closed = True
    finally:
        os.dup2(saved, 0)
        os.close(saved)
    assert on_zero, "the test meant the log to get descriptor 0"
    assert closed, "the log's descriptor 0 was left open"
    assert read_log(paths)[0].endswith(" DEBUG on zero")


@pytest.mark.parametrize("length", range(debuglog.HEAD - 1, 3 * debuglog.HEAD + 8))
def test_a_secret_at_the_very_end_of_a_line_is_masked(length):
    secret = "".join(chr(ord("a") + i % 26) for i in range(length))
    try:
        debuglog.redact(secret)
        texts = {
            before + secret + after: before + debuglog.MASK + after
            for before in ("", *("p" * n for n in range(1, debuglog.HEAD + 1)))
            for after in ("", "\n")
        }
        wrong = [text for text, want in texts.items() if debuglog.masked(text) != want]
    finally:
        debuglog.close()
    assert not wrong, f"{len(wrong)} of {len(texts)} placements not masked"


def test_quiet_blocks_nest_and_drop_only_debug_lines(env, paths):
    try:
        debuglog.setup({**env, **ON}, paths)
        with debuglog.quiet():
            with debuglog.quiet():
                debuglog.debug("inner")
            debuglog.debug("outer, still quiet")
            debuglog.error("an error is kept")
        debuglog.debug("after")
    finally:
        debuglog.close()
    assert [line.split(" ", 2)[2] for line in read_log(paths)] == [
        "ERROR an error is kept",
        "DEBUG after",
    ]


def test_a_line_sharing_only_the_tail_of_a_secret_is_left_alone():
    secret = "S3cretPrefix-" + "tailpart"  # indexed by its last HEAD characters
    assert len("tailpart") == debuglog.HEAD
    try:
        debuglog.redact(secret)
        for text in ("x" * 20 + "tailpart", "other-Prefix-tailpart!", "tailpart"):
            assert debuglog.masked(text) == text
        assert debuglog.masked("a " + secret + " b") == f"a {debuglog.MASK} b"
    finally:
        debuglog.close()

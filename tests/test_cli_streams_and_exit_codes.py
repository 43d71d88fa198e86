"""What each kind of run of ``cli.main`` puts on stdout and stderr, and its exit status.

A protocol client reads stdout (one line for an error, as docker-credential-helpers
does) and shows stderr to the person; the human commands write errors once, on stderr,
with exit status 2 for a usage error. Checked here in full, line by line, in-process;
``main()`` with no arguments reads the process's own argv, streams and environment.
"""

from __future__ import annotations

import io
import os
import sys

import pytest

from docker_credential_truss import __version__
from docker_credential_truss.cli import HELP, PROTOCOL_USAGE, main

REG = "registry.example.com"


def test_version_is_one_line_on_stdout(cli):
    for flag in ("version", "-v", "--version"):
        run = cli(flag)
        assert (run.code, run.out, run.err) == (0, f"docker-credential-truss {__version__}\n", "")


def test_help_is_the_whole_text_on_stdout(cli):
    for flag in ("-h", "--help", "help"):
        run = cli(flag)
        assert (run.code, run.out, run.err) == (0, HELP, "")


def test_no_command_shows_the_help_on_stderr_and_one_line_on_stdout(cli):
    run = cli()
    assert (run.code, run.out, run.err) == (
        1,
        "no command given; try: docker-credential-truss --help\n",
        HELP,
    )


def test_an_unknown_command_is_named_on_stdout(cli):
    run = cli("bogus", "x")
    assert (run.code, run.out, run.err) == (
        1,
        "unknown command 'bogus'; try: docker-credential-truss --help\n",
        "",
    )


@pytest.mark.parametrize("verb", ["get", "store", "erase", "list"])
def test_a_protocol_verb_with_arguments_is_refused_on_both_streams(cli, verb):
    run = cli(verb, REG, stdin=REG)
    assert (run.code, run.out, run.err) == (
        1,
        PROTOCOL_USAGE + "\n",
        f"docker-credential-truss: {PROTOCOL_USAGE}\n",
    )


def test_get_answers_on_stdout_only(cli):
    run = cli("get", stdin=REG, extra={f"TRUSS_SECRET_DOCKER_REGISTRY_{REG}": "dTpTRU5USU5FTA=="})
    assert (run.code, run.err) == (0, "")
    assert run.json["Username"] == "u" and run.json["ServerURL"] == REG


def test_a_human_commands_usage_error_is_one_line_on_stderr_with_status_2(cli):
    for command in ("configure", "unconfigure", "doctor", "baseten"):
        run = cli(command, "--no-such-option")
        assert (run.code, run.out) == (2, ""), command
        assert run.err.startswith(f"docker-credential-truss {command}: "), run.err
        assert run.err.endswith(f" (see: docker-credential-truss {command} --help)\n")
        assert run.err.count("\n") == 1


def test_a_human_commands_help_is_status_0(cli):
    for command in ("configure", "unconfigure", "doctor", "baseten"):
        run = cli(command, "--help")
        assert (run.code, run.err) == (0, ""), command
        assert run.out.startswith(f"usage: docker-credential-truss {command}"), run.out


def test_a_human_commands_error_is_once_on_stderr_with_status_1(cli, env):
    run = cli("baseten", "check")  # nothing configured
    helper_config = os.path.join(env["XDG_CONFIG_HOME"], "docker-credential-truss", "config.json")
    assert (run.code, run.out, run.err) == (
        1,
        "",
        f"docker-credential-truss: no registry to check in {helper_config} (nothing configured);"
        " name a truss: docker-credential-truss baseten check PATH/TO/TRUSS\n",
    )


def test_an_interruption_is_one_line_on_both_streams(cli, monkeypatch):
    from docker_credential_truss import helper

    def interrupted(self):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt

    monkeypatch.setattr(helper.TrussHelper, "list", interrupted)
    run = cli("list")
    assert (run.code, run.out, run.err) == (
        1,
        "interrupted\n",
        "docker-credential-truss: interrupted\n",
    )


def test_an_internal_error_outside_get_names_its_type_only(cli, monkeypatch):
    from docker_credential_truss import helper

    def broken(self):  # type: ignore[no-untyped-def]
        raise KeyError("SENTINEL-cli-internal")

    monkeypatch.setattr(helper.TrussHelper, "list", broken)
    run = cli("list")
    line = "internal error (KeyError); please report it"
    assert (run.code, run.out, run.err) == (1, line + "\n", f"docker-credential-truss: {line}\n")


def test_a_get_that_fails_for_a_reason_says_it_on_stderr_and_logs_it(cli, env):
    extra = {f"TRUSS_SECRET_DOCKER_REGISTRY_{REG}": "%%%", "DOCKER_CREDENTIAL_TRUSS_DEBUG": "1"}
    run = cli("get", stdin=REG, extra=extra)
    assert run.code == 1 and run.out == "credentials not found in native keychain\n"
    assert run.err.startswith("docker-credential-truss: secret ")
    reason = run.err[len("docker-credential-truss: ") :].rstrip("\n")
    log = read_log(env)
    assert f" ERROR error: {reason}\n" in log
    assert f" DEBUG get (docker-credential-truss {__version__})\n" in log


def test_a_get_for_an_unknown_registry_logs_the_answer(cli, env):
    run = cli("get", stdin="unknown.example.com", extra={"DOCKER_CREDENTIAL_TRUSS_DEBUG": "1"})
    assert (run.code, run.out, run.err) == (1, "credentials not found in native keychain\n", "")
    assert " DEBUG answer: credentials not found in native keychain\n" in read_log(env)


def test_a_human_commands_error_is_logged(cli, env):
    run = cli("baseten", "check", extra={"DOCKER_CREDENTIAL_TRUSS_DEBUG": "1"})
    assert run.code == 1
    reason = run.err[len("docker-credential-truss: ") :].rstrip("\n")
    assert f" ERROR error: {reason}\n" in read_log(env)


def test_another_verbs_error_is_logged(cli, env):
    run = cli("store", stdin="{", extra={"DOCKER_CREDENTIAL_TRUSS_DEBUG": "1"})
    assert run.code == 1
    assert f" ERROR error: {run.out.rstrip()}\n" in read_log(env)


def test_an_internal_error_is_logged_with_its_traceback(cli, env, monkeypatch):
    from docker_credential_truss import helper

    def broken(self):  # type: ignore[no-untyped-def]
        raise KeyError("x")

    monkeypatch.setattr(helper.TrussHelper, "list", broken)
    cli("list", extra={"DOCKER_CREDENTIAL_TRUSS_DEBUG": "1"})
    log = read_log(env)
    assert " ERROR internal error (KeyError)\nTraceback (most recent call last):\n" in log


def read_log(env) -> str:  # type: ignore[no-untyped-def]
    path = os.path.join(env["XDG_STATE_HOME"], "docker-credential-truss", "log", "debug.log")
    with open(path) as handle:
        return handle.read()


class Streams:
    """The process's own streams, as main() with no arguments uses them."""

    def __init__(self, data: bytes) -> None:
        self.stdin = io.TextIOWrapper(io.BytesIO(data))
        self.stdout = io.TextIOWrapper(io.BytesIO(), write_through=True)
        self.stderr = io.StringIO()


def test_main_without_arguments_uses_the_process_argv_streams_and_environment(env, monkeypatch):
    streams = Streams(REG.encode())
    monkeypatch.setattr(sys, "argv", ["docker-credential-truss", "get"])
    monkeypatch.setattr(sys, "stdin", streams.stdin)
    monkeypatch.setattr(sys, "stdout", streams.stdout)
    monkeypatch.setattr(sys, "stderr", streams.stderr)
    for name in list(os.environ):
        monkeypatch.delenv(name)
    for name, value in {**env, f"TRUSS_SECRET_DOCKER_REGISTRY_{REG}": "dTpw"}.items():
        monkeypatch.setenv(name, value)
    assert main() == 0
    answer = streams.stdout.buffer.getvalue().decode()
    assert answer.startswith('{"ServerURL": "registry.example.com", "Username": "u"'), answer
    assert streams.stderr.getvalue() == ""


def test_main_without_arguments_writes_errors_to_the_process_stderr(monkeypatch):
    streams = Streams(b"")
    monkeypatch.setattr(sys, "argv", ["docker-credential-truss", "get", REG])
    monkeypatch.setattr(sys, "stdin", streams.stdin)
    monkeypatch.setattr(sys, "stdout", streams.stdout)
    monkeypatch.setattr(sys, "stderr", streams.stderr)
    assert main() == 1
    assert streams.stdout.buffer.getvalue().decode() == PROTOCOL_USAGE + "\n"
    assert streams.stderr.getvalue() == f"docker-credential-truss: {PROTOCOL_USAGE}\n"


class Terminal(io.BytesIO):
    """A stdin that is a terminal, holding what the person types."""

    def isatty(self) -> bool:
        return True


def test_baseten_push_asks_on_stderr_reads_stdin_and_reports_on_stdout(env, tmp_path):
    from fakes.baseten import FakeBaseten

    key = "SENTINEL-cli-baseten-key-0c5e"
    value = "dTpTRU5USU5FTC1jbGk="  # base64 of u:SENTINEL-cli
    truss = tmp_path / "truss"
    truss.mkdir()
    (truss / "config.yaml").write_text(
        "base_image:\n  image: ghcr.io/org/i:1\n  docker_auth:\n    auth_method: REGISTRY_SECRET\n"
    )
    with FakeBaseten(keys=[f"Api-Key {key}"]) as fake:
        extra = {
            "BASETEN_API_KEY": key,
            "DOCKER_CREDENTIAL_TRUSS_BASETEN_API_URL": fake.url,
            "USER_TRUSSRC_PATH": str(tmp_path / "no-trussrc"),
            "TRUSS_SECRET_DOCKER_REGISTRY_ghcr.io": value,
        }
        out, err = io.BytesIO(), io.StringIO()
        code = main(
            ["baseten", "push", str(truss)],
            stdin=Terminal(b"y\n"),
            stdout=out,
            stderr=err,
            env={**env, **extra},
        )
        written = [(u["name"], u["value"] == value) for u in fake.upserts]
    said = out.getvalue().decode()
    assert (code, err.getvalue()) == (0, "Write 1 secret to the workspace? [y/N] ")
    assert written == [("DOCKER_REGISTRY_ghcr.io", True)]
    assert "  wrote  DOCKER_REGISTRY_ghcr.io" in said.splitlines()
    assert key not in said and value not in said


def test_get_says_on_stderr_that_the_token_cache_is_unusable(monkeypatch, tmp_path):
    from fakes.aws import FakeAws, isolate

    isolate(monkeypatch, tmp_path)
    host = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
    with FakeAws(region={"us-east-1"}) as aws:
        key_id = "AKIASENTINEL0000CL1"
        aws.keys[key_id] = "SENTINEL-cli-aws-secret-3d2f"
        home = str(tmp_path)
        env = {
            **aws.env(),
            "HOME": home,
            "XDG_CONFIG_HOME": os.path.join(home, "cfg"),
            "XDG_DATA_HOME": os.path.join(home, "data"),
            "XDG_CACHE_HOME": os.path.join(home, "cache"),
            "TRUSS_SECRET_aws_access_key_id": key_id,
            "TRUSS_SECRET_aws_secret_access_key": aws.keys[key_id],
        }
        from docker_credential_truss.paths import Paths

        cache = Paths.from_env(env).token_cache
        os.makedirs(cache)
        os.chmod(cache, 0o777)  # writable by others: refused
        out, err = io.BytesIO(), io.StringIO()
        code = main(["get"], stdin=io.BytesIO(host.encode()), stdout=out, stderr=err, env=env)
    assert code == 0
    assert err.getvalue().startswith(
        "docker-credential-truss: token cache unusable, minting without it: "
    )
    assert err.getvalue().count("\n") == 1

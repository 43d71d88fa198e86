"""The wire protocol through cli.main: exact strings, exit codes, nothing on stdout but answers."""

import base64
import json
import os

import pytest

from docker_credential_truss import debuglog
from docker_credential_truss.errors import InputError, NotFound
from docker_credential_truss.helper import TrussHelper
from docker_credential_truss.resolver import Resolver

REG = "127.0.0.1:5000"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def store(cli, server=REG, user="alice", secret="s3cr3t:with:colons"):
    payload = json.dumps({"ServerURL": server, "Username": user, "Secret": secret})
    return cli("store", stdin=payload)


def test_store_then_get_round_trips_and_echoes_the_server(cli):
    assert store(cli).code == 0
    run = cli("get", stdin=f"https://{REG}/v2/\n")
    assert run.code == 0
    assert run.json == {
        "ServerURL": f"https://{REG}/v2/",
        "Username": "alice",
        "Secret": "s3cr3t:with:colons",
    }


def test_store_prints_nothing_on_success(cli):
    run = store(cli)
    assert (run.code, run.out) == (0, "")


def test_identity_token_round_trips(cli):
    assert store(cli, user="<token>", secret="refresh-token-value").code == 0
    assert cli("get", stdin=REG).json["Username"] == "<token>"
    assert cli("get", stdin=REG).json["Secret"] == "refresh-token-value"


def test_unknown_registry_is_the_standard_not_found(cli):
    run = cli("get", stdin="ghcr.io")
    assert (run.code, run.out) == (1, "credentials not found in native keychain\n")


def test_hub_refresh_token_is_not_the_hub_credential(cli):
    hub = "https://index.docker.io/v1/"
    assert store(cli, server=hub).code == 0
    assert cli("get", stdin="https://index.docker.io/v1").json["Secret"] == "s3cr3t:with:colons"
    for other in ("refresh-token", "access-token"):
        run = cli("get", stdin=hub + other)
        assert (run.code, run.out, run.err) == (1, "credentials not found in native keychain\n", "")


def test_unparseable_server_is_not_found(cli):
    run = cli("get", stdin="user@ghcr.io")
    assert (run.code, run.out) == (1, "credentials not found in native keychain\n")


@pytest.mark.parametrize("verb", ["get", "erase"])
@pytest.mark.parametrize("stdin", ["", "  \n"])
def test_empty_server_is_no_credentials_server_url(cli, verb, stdin):
    run = cli(verb, stdin=stdin)
    assert (run.code, run.out) == (1, "no credentials server URL\n")


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"ServerURL": "", "Username": "u", "Secret": "s"}, "no credentials server URL"),
        ({"Username": "u", "Secret": "s"}, "no credentials server URL"),
        ({"ServerURL": REG, "Username": "", "Secret": "s"}, "no credentials username"),
        ({"ServerURL": REG, "Secret": "s"}, "no credentials username"),
    ],
)
def test_store_missing_fields(cli, payload, message):
    run = cli("store", stdin=json.dumps(payload))
    assert (run.code, run.out) == (1, message + "\n")


@pytest.mark.parametrize(
    "stdin",
    [
        "",
        "{not json",
        "[]",
        '"a string"',
        '{"ServerURL": 5, "Username": "u", "Secret": "s"}',
        '{"ServerURL": "h", "Username": ["u"], "Secret": "s"}',
        b"\xff\xfe\x00",
        "[" * 100000 + "]" * 100000,
    ],
)
def test_bad_store_input_is_one_line_and_stores_nothing(cli, paths, stdin):
    store(cli)
    with open(paths.store, "rb") as handle:
        before = handle.read()
    run = cli("store", stdin=stdin)
    assert run.code == 1
    assert run.out.count("\n") == 1 and run.out.strip()
    with open(paths.store, "rb") as handle:
        assert handle.read() == before


def test_oversized_input_is_refused(cli):
    run = cli("get", stdin=b"a" * (2 << 20))
    assert run.code == 1
    assert "larger than" in run.out


def test_user_name_with_colon_is_refused(cli):
    run = store(cli, user="a:b")
    assert run.code == 1
    assert "':'" in run.out


def test_list_shows_users_never_secrets(cli):
    store(cli, secret="list-sentinel-value")
    store(cli, server="ghcr.io", user="bob", secret="other-sentinel")
    run = cli("list")
    assert run.json == {REG: "alice", "ghcr.io": "bob"}
    assert "sentinel" not in run.out + run.err


def test_erase_removes_and_then_reports_not_found(cli):
    store(cli)
    assert cli("erase", stdin=f"https://{REG}").code == 0
    assert cli("get", stdin=REG).out == "credentials not found in native keychain\n"
    assert cli("erase", stdin=REG).out == "credentials not found in native keychain\n"


def test_erase_of_a_secret_from_the_environment_says_where_it_lives(cli):
    run = cli("erase", stdin=REG, extra={f"TRUSS_SECRET_DOCKER_REGISTRY_{REG}": b64("u:p")})
    assert run.code == 1
    assert f"TRUSS_SECRET_DOCKER_REGISTRY_{REG}" in run.out
    assert "does not edit" in run.out


@pytest.mark.parametrize("flag", ["version", "-v", "--version"])
def test_version(cli, flag):
    run = cli(flag)
    assert run.code == 0
    assert run.out.startswith("docker-credential-truss ")


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_help_teaches_the_three_steps(cli, flag):
    run = cli(flag)
    assert run.code == 0
    for step in ("Install", "Configure", "Secrets", "credHelpers", "TRUSS_SECRET_"):
        assert step in run.out


@pytest.mark.parametrize("argv", [[], ["bogus"]])
def test_unknown_or_missing_verb_is_an_error(cli, argv):
    run = cli(*argv)
    assert run.code == 1
    assert run.out.count("\n") == 1


def test_get_failure_is_not_found_with_the_reason_on_stderr(cli):
    # BuildKit, skopeo, podman and docker-py fail outright on any other answer.
    run = cli("get", stdin=REG, extra={f"TRUSS_SECRET_DOCKER_REGISTRY_{REG}": "%%%"})
    assert "not valid base64" in run.why
    run = cli("get", stdin="unknown.example.com")
    assert (run.code, run.out, run.err) == (1, "credentials not found in native keychain\n", "")


def test_an_internal_error_in_get_is_not_found_too(cli, monkeypatch):
    from docker_credential_truss.providers import static

    def explode(self):
        raise KeyError("boom")

    monkeypatch.setattr(static.StaticProvider, "mint", explode)
    run = cli("get", stdin=REG, extra={f"TRUSS_SECRET_DOCKER_REGISTRY_{REG}": b64("u:p")})
    assert "internal error (KeyError)" in run.why


def test_other_verbs_errors_reach_stdout_and_stderr(cli):
    run = cli("erase", stdin=REG, extra={f"TRUSS_SECRET_DOCKER_REGISTRY_{REG}": b64("u:p")})
    assert run.code == 1 and "does not edit" in run.out
    assert run.err == f"docker-credential-truss: {run.out}"


def test_list_leaves_out_an_unreadable_secret_file_and_says_so(cli, tmp_path):
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    (secrets_dir / "DOCKER_REGISTRY_good.example.com").write_text(b64("good:pw"))
    os.mkfifo(secrets_dir / "DOCKER_REGISTRY_fifo.example.com")
    run = cli("list", extra={"TRUSS_SECRETS_DIR": str(secrets_dir)})
    assert run.code == 0
    assert run.json == {"good.example.com": "good"}
    assert "fifo.example.com" in run.err


def test_a_huge_server_url_is_not_echoed_whole(cli):
    run = store(cli, server="bad host " + "x" * 100_000)
    assert run.code == 1
    assert len(run.out) < 300


# -- protocol.handle on its own: the exact error for each malformed input -------------------


class Recorder:
    """A Helper that records what the protocol hands it."""

    def __init__(self):
        self.calls = []

    def add(self, server, username, secret):
        self.calls.append(("add", server, username, secret))

    def delete(self, server):
        self.calls.append(("delete", server))

    def get(self, server):
        self.calls.append(("get", server))
        return "user", "secret"

    def list(self):
        return {"reg": "user"}


def handle(action, stdin: bytes):
    import io

    from docker_credential_truss import protocol

    helper, out = Recorder(), io.BytesIO()
    protocol.handle(helper, action, io.BytesIO(stdin), out)
    return helper.calls, out.getvalue()


NOT_AN_OBJECT = 'store expects a JSON object {"ServerURL", "Username", "Secret"}'
NOT_STRINGS = "ServerURL, Username and Secret must be JSON strings"


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        (b"", 'store expects JSON {"ServerURL", "Username", "Secret"}; got nothing'),
        (b" \n", 'store expects JSON {"ServerURL", "Username", "Secret"}; got nothing'),
        (b"[" * 100000, "store input is nested too deeply"),
        (b'{"ServerURL": ', "store input is not valid JSON (at character 14)"),
        (b"{x}", "store input is not valid JSON (at character 1)"),
        (b"[]", NOT_AN_OBJECT),
        (b'"text"', NOT_AN_OBJECT),
        (b'{"ServerURL": 1, "Username": "u", "Secret": "s"}', NOT_STRINGS),
        (b'{"ServerURL": "r", "Username": ["u"], "Secret": "s"}', NOT_STRINGS),
        (b'{"ServerURL": "r", "Username": "u", "Secret": 5}', NOT_STRINGS),
        (
            b'{"ServerURL": "r", "Username": "u", "Secret": "\\ud800"}',
            "ServerURL, Username and Secret must be valid Unicode text",
        ),
        (b'{"ServerURL": "  ", "Username": "u"}', "no credentials server URL"),
        (b'{"ServerURL": "r", "Username": ""}', "no credentials username"),
        (b'{"ServerURL": "r"}', "no credentials username"),
        (b"\xff", "input is not UTF-8 text"),
    ],
)
def test_malformed_store_input_is_one_exact_line(stdin, message):
    from docker_credential_truss.errors import HelperError

    with pytest.raises(HelperError) as caught:
        handle("store", stdin)
    assert caught.value.message == message


def test_a_json_error_without_a_position_says_so_without_one(monkeypatch):
    from docker_credential_truss import protocol
    from docker_credential_truss.errors import InputError

    def loads(text):
        raise ValueError("no position")

    monkeypatch.setattr(protocol.json, "loads", loads)
    with pytest.raises(InputError) as caught:
        handle("store", b"{}")
    assert caught.value.message == "store input is not valid JSON"


def test_store_hands_the_helper_trimmed_server_and_exact_credentials():
    calls, out = handle(
        "store", b'{"ServerURL": " https://r/ \\n", "Username": " u ", "Secret": null}'
    )
    assert (calls, out) == ([("add", "https://r/", " u ", "")], b"")
    calls, _ = handle("store", b'{"ServerURL": "r", "Username": "u"}')
    assert calls == [("add", "r", "u", "")]


def test_get_erase_list_through_handle():
    calls, out = handle("get", b"  reg.example \n")
    assert calls == [("get", "reg.example")]
    assert out == b'{"ServerURL": "reg.example", "Username": "user", "Secret": "secret"}\n'
    calls, out = handle("erase", b"reg.example\n")
    assert (calls, out) == ([("delete", "reg.example")], b"")
    calls, out = handle("list", b"unused")
    assert (calls, out) == ([], b'{"reg": "user"}\n')


def test_an_unknown_action_is_refused_by_name():
    from docker_credential_truss.errors import InputError

    with pytest.raises(InputError) as caught:
        handle("remove", b"")
    assert caught.value.message == "unknown credential action 'remove'"


def test_input_up_to_the_limit_is_read_and_beyond_it_refused():
    from docker_credential_truss.errors import InputError
    from docker_credential_truss.protocol import MAX_INPUT

    calls, _ = handle("get", b"r" + b" " * (MAX_INPUT - 1))
    assert calls == [("get", "r")]
    with pytest.raises(InputError) as caught:
        handle("get", b"r" + b" " * MAX_INPUT)
    assert caught.value.message == f"input is larger than {MAX_INPUT} bytes"


# -- TrussHelper, the Helper behind the protocol: what store refuses, and how it says so ----


@pytest.fixture
def helper(env, paths):
    return TrussHelper(Resolver(env, paths), lambda line: None)


@pytest.mark.parametrize(
    ("server", "shown"),
    [
        ("user@ghcr.io", "'user@ghcr.io'"),
        ("x" * 99 + "@", "'" + "x" * 99 + "@'"),  # 100 characters: shown whole
        ("@" + "x" * 100, "'@" + "x" * 99 + "...'"),  # 101: cut at 100
    ],
)
def test_store_for_a_server_no_registry_can_have_names_it_cut_short(helper, server, shown):
    with pytest.raises(InputError) as caught:
        helper.add(server, "u", "p")
    message = caught.value.message
    assert (
        message == f"cannot store credentials for {shown}: a registry host cannot carry a user name"
    )


def test_store_refuses_a_user_name_with_a_colon(helper, paths):
    with pytest.raises(InputError) as caught:
        helper.add("ghcr.io", "a:b", "p")
    assert caught.value.message == "a user name containing ':' cannot be used with basic auth"
    assert not os.path.exists(paths.store)


def test_store_logs_the_registry_and_the_secret_name(helper, env, paths):
    env["DOCKER_CREDENTIAL_TRUSS_DEBUG"] = "1"
    try:
        debuglog.setup(env, paths)
        helper.add("https://GHCR.io/v2/", "u", "SENTINEL-helper-pw-11")
    finally:
        debuglog.close()
    with open(os.path.join(paths.log_dir, debuglog.FILE_NAME)) as handle:
        log = handle.read()
    assert log.rstrip().endswith(
        " DEBUG store ghcr.io: into the helper's store as DOCKER_REGISTRY_ghcr.io"
    )
    assert "SENTINEL-helper-pw-11" not in log


def test_get_and_erase_of_a_server_no_registry_can_have_is_not_found(helper):
    with pytest.raises(NotFound):
        helper.get("user@ghcr.io")
    with pytest.raises(NotFound):
        helper.delete("ftp://ghcr.io")


def test_list_warns_about_what_it_leaves_out(env, paths):
    warnings = []
    env["TRUSS_SECRET_DOCKER_REGISTRY_ghcr.io"] = "@@not-base64"
    env["TRUSS_SECRET_DOCKER_REGISTRY_ok.example"] = "dTpw"  # u:p
    answers = TrussHelper(Resolver(env, paths), warnings.append).list()
    assert answers == {"ok.example": "u"}
    assert warnings == [
        "left out of list: ghcr.io: secret 'DOCKER_REGISTRY_ghcr.io' is not valid base64"
        " (expected base64 of user:password)"
    ]


@pytest.mark.parametrize(
    ("raised", "reason"),
    [
        (NotFound(), None),
        (NotFound("no secret for it"), "no secret for it"),
        (InputError("bad   secret\n value"), "bad secret value"),
        (
            RuntimeError("SENTINEL-foreign-text"),
            "internal error (RuntimeError); please report it (with"
            " DOCKER_CREDENTIAL_TRUSS_DEBUG=1 the traceback goes to the debug log)",
        ),
    ],
)
def test_get_turns_every_failure_into_not_found_with_its_reason(raised, reason, env, paths):
    import io

    from docker_credential_truss import protocol

    class Failing(Recorder):
        def get(self, server):
            raise raised

    try:
        debuglog.setup({**env, "DOCKER_CREDENTIAL_TRUSS_DEBUG": "1"}, paths)
        with pytest.raises(NotFound) as caught:
            protocol.handle(Failing(), "get", io.BytesIO(b"reg"), io.BytesIO())
    finally:
        debuglog.close()
    assert caught.value.message == "credentials not found in native keychain"
    assert caught.value.reason == reason
    with open(os.path.join(paths.log_dir, debuglog.FILE_NAME)) as handle:
        log = handle.read()
    traced = "Traceback" in log and "ERROR internal error (RuntimeError)" in log
    assert traced == isinstance(raised, RuntimeError)


def test_list_names_only_registries_whose_get_has_its_inputs(cli, paths):
    from docker_credential_truss import config

    ecr = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
    config.merge(
        paths,
        {
            ecr: {"auth_method": "AWS_IAM"},
            "ghcr.io": {"auth_method": "REGISTRY_SECRET", "secret_name": "ghcr_pw"},
        },
    )
    store(cli)
    run = cli("list")
    assert run.json == {REG: "alice"}
    assert ecr in run.err and "aws_access_key_id" in run.err
    assert "ghcr_pw" in run.err
    keys = {
        "TRUSS_SECRET_aws_access_key_id": "AKIAEXAMPLE",
        "TRUSS_SECRET_aws_secret_access_key": "x",
    }
    assert cli("list", extra=keys).json == {REG: "alice", ecr: "AWS"}  # nothing minted


def _configure(paths, key, **entry):
    from docker_credential_truss import config

    config.merge(paths, {key: {"source": "/t/config.yaml", **entry}})


def test_store_writes_the_secret_name_a_registry_secret_config_reads(cli, paths):
    _configure(paths, "nvcr.io", auth_method="REGISTRY_SECRET", secret_name="ngc_key")
    assert store(cli, server="nvcr.io", user="$oauthtoken", secret="ngc-pw").code == 0
    got = cli("get", stdin="nvcr.io")
    assert (got.json["Username"], got.json["Secret"]) == ("$oauthtoken", "ngc-pw")
    with open(paths.store) as handle:
        assert set(json.load(handle)["secrets"]) == {"ngc_key"}
    assert cli("erase", stdin="nvcr.io").code == 0
    assert cli("get", stdin="nvcr.io").out == "credentials not found in native keychain\n"


def test_store_refuses_a_registry_configured_for_a_cloud_method(cli, paths):
    ecr = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
    _configure(paths, ecr, auth_method="AWS_IAM")
    run = store(cli, server=ecr)
    assert run.code == 1 and run.out.count("\n") == 1
    assert "configured for AWS_IAM" in run.out and "/t/config.yaml" in run.out
    assert not os.path.exists(paths.store)
    run = cli("erase", stdin=ecr)
    assert run.code == 1 and "configured for AWS_IAM" in run.out


@pytest.mark.parametrize("source", ["env", "dir", "truss"])
def test_store_refuses_when_a_source_read_first_holds_another_value(
    cli, paths, env, tmp_path, truss_secrets, source
):
    name = f"DOCKER_REGISTRY_{REG}"
    extra = {}
    if source == "env":
        extra[f"TRUSS_SECRET_{name}"] = b64("old:pw")
    elif source == "dir":
        (tmp_path / "s").mkdir()
        (tmp_path / "s" / name).write_text(b64("old:pw"))
        extra["TRUSS_SECRETS_DIR"] = str(tmp_path / "s")
    else:
        truss_secrets({name: b64("old:pw")})
    run = cli(
        "store",
        stdin=json.dumps({"ServerURL": REG, "Username": "new", "Secret": "pw2"}),
        extra=extra,
    )
    assert run.code == 1 and run.out.count("\n") == 1
    assert name in run.out and "read before the helper's store" in run.out
    assert "pw2" not in run.out + run.err and "old:pw" not in run.out + run.err
    # The same value is no conflict: get answers what was stored.
    run = cli(
        "store",
        stdin=json.dumps({"ServerURL": REG, "Username": "old", "Secret": "pw"}),
        extra=extra,
    )
    assert run.code == 0
    assert cli("get", stdin=REG, extra=extra).json["Username"] == "old"
    # erase removes the store's copy but says what still answers.
    run = cli("erase", stdin=REG, extra=extra)
    assert run.code == 1 and "does not" in run.out and name in run.out


def test_erase_names_the_ecr_convention_that_still_answers(cli):
    ecr = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
    keys = {
        "TRUSS_SECRET_aws_access_key_id": "AKIAEXAMPLE",
        "TRUSS_SECRET_aws_secret_access_key": "x",
    }
    assert store(cli, server=ecr).code == 0
    assert cli("get", stdin=ecr, extra=keys).json["Username"] == "alice"  # the login wins
    run = cli("erase", stdin=ecr, extra=keys)
    assert run.code == 1 and "AWS_IAM" in run.out


def test_store_and_erase_refusals_for_a_cloud_method_say_why_in_full(cli, paths):
    from docker_credential_truss import config

    ecr = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
    config.merge(paths, {ecr: {"auth_method": "AWS_OIDC"}})  # no source recorded
    tail = (
        f" {ecr}: it is configured for AWS_OIDC (from the helper config, recorded in"
        f" {paths.helper_config}), so get makes its credential from that and never reads"
        " a login\n"
    )
    assert store(cli, server=ecr).out == "cannot store credentials for" + tail
    assert cli("erase", stdin=ecr).out == "cannot erase credentials for" + tail


def test_store_refusal_for_a_source_read_first_says_what_to_do(cli):
    name = f"DOCKER_REGISTRY_{REG}"
    run = cli(
        "store",
        stdin=json.dumps({"ServerURL": REG, "Username": "new", "Secret": "pw2"}),
        extra={f"TRUSS_SECRET_{name}": b64("old:pw")},
    )
    assert run.out == (
        f"cannot store credentials for {REG}: secret {name} in environment variable"
        f" TRUSS_SECRET_{name} is read before the helper's store and holds another"
        " credential; change it there, or remove it there and log in again\n"
    )


def test_erase_refusal_for_the_ecr_convention_says_what_to_do(cli):
    ecr = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
    keys = {
        "TRUSS_SECRET_aws_access_key_id": "AKIAEXAMPLE",
        "TRUSS_SECRET_aws_secret_access_key": "x",
    }
    assert store(cli, server=ecr).code == 0
    run = cli("erase", stdin=ecr, extra=keys)
    assert run.out.startswith(f"erase would leave get answering for {ecr} by AWS_IAM (")
    assert run.out.endswith(
        "); docker-credential-truss does not edit those secrets: remove them where they are kept\n"
    )


def test_erase_of_a_configured_registry_secret_ignores_the_ecr_convention(cli, paths):
    """The helper config decides: the default AWS secrets do not answer for it."""
    ecr = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
    _configure(paths, ecr, auth_method="REGISTRY_SECRET", secret_name="ecr_login")
    keys = {
        "TRUSS_SECRET_aws_access_key_id": "AKIAEXAMPLE",
        "TRUSS_SECRET_aws_secret_access_key": "x",
    }
    assert store(cli, server=ecr).code == 0
    assert cli("erase", stdin=ecr, extra=keys).code == 0
    assert cli("get", stdin=ecr, extra=keys).out == "credentials not found in native keychain\n"

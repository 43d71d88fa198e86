"""Secret sources, their order, and errors that name the secret but never its value."""

import base64
import binascii
import json
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from docker_credential_truss.providers.static import b64decode

REG = "127.0.0.1:5000"
NAME = f"DOCKER_REGISTRY_{REG}"


def creds(user: str, secret: str, server: str = REG) -> str:
    return json.dumps({"ServerURL": server, "Username": user, "Secret": secret})


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.fixture
def secrets_dir(tmp_path):
    path = tmp_path / "secrets"
    path.mkdir()
    return path


def user_from(cli, extra=None):
    run = cli("get", stdin=REG, extra=extra)
    assert run.code == 0, run.out
    return run.json["Username"]


def test_each_source_answers_alone(cli, truss_secrets, secrets_dir):
    assert user_from(cli, {f"TRUSS_SECRET_{NAME}": b64("env:pw")}) == "env"
    (secrets_dir / NAME).write_text(b64("dir:pw") + "\n")
    assert user_from(cli, {"TRUSS_SECRETS_DIR": str(secrets_dir)}) == "dir"
    truss_secrets({NAME: b64("truss:pw")})
    assert user_from(cli) == "truss"


def test_store_answers_alone(cli):
    cli("store", stdin=creds("stored", "pw"))
    assert user_from(cli) == "stored"


def test_order_is_env_dir_truss_store(cli, truss_secrets, secrets_dir):
    cli("store", stdin=creds("stored", "pw"))
    truss_secrets({NAME: b64("truss:pw")})
    assert user_from(cli) == "truss"
    (secrets_dir / NAME).write_text(b64("dir:pw"))
    extra = {"TRUSS_SECRETS_DIR": str(secrets_dir)}
    assert user_from(cli, extra) == "dir"
    extra[f"TRUSS_SECRET_{NAME}"] = b64("env:pw")
    assert user_from(cli, extra) == "env"


def test_docker_hub_secret_file_name_escapes_slashes(cli, secrets_dir):
    (secrets_dir / "DOCKER_REGISTRY_https:%2F%2Findex.docker.io%2Fv1%2F").write_text(b64("hub:pw"))
    run = cli("get", stdin="docker.io", extra={"TRUSS_SECRETS_DIR": str(secrets_dir)})
    assert run.json == {"ServerURL": "docker.io", "Username": "hub", "Secret": "pw"}


def test_docker_hub_secret_in_truss_config(cli, truss_secrets):
    truss_secrets({"DOCKER_REGISTRY_https://index.docker.io/v1/": b64("hub:pw")})
    for server in ("https://index.docker.io/v1/", "docker.io", "registry-1.docker.io"):
        assert cli("get", stdin=server).json["Username"] == "hub"


def test_password_may_contain_colons(cli):
    run = cli("get", stdin=REG, extra={f"TRUSS_SECRET_{NAME}": b64("u:a:b:c")})
    assert run.json["Secret"] == "a:b:c"


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("!!!not-base64!!!", "not valid base64"),
        (b64("no-colon-here"), "no ':'"),
        (b64(":password-only"), "empty user name"),
        (base64.b64encode(b"\xff\xfe:x").decode(), "UTF-8"),
    ],
)
def test_bad_secret_values_name_the_secret_not_the_value(cli, value, why):
    run = cli("get", stdin=REG, extra={f"TRUSS_SECRET_{NAME}": value})
    assert NAME in run.why and why in run.why
    assert value not in run.out + run.err


def test_missing_named_secret_says_where_it_looked(cli, env, tmp_path):
    truss = tmp_path / "truss"
    truss.mkdir()
    (truss / "config.yaml").write_text(
        "base_image:\n  image: ghcr.io/org/img:1\n"
        "  docker_auth: {auth_method: registry_secret, secret_name: my_ghcr}\n"
    )
    assert cli("configure", str(truss)).code == 0
    run = cli("get", stdin="ghcr.io")
    for place in ("'my_ghcr'", "$TRUSS_SECRET_my_ghcr", "TRUSS_SECRETS_DIR", ".truss/config.yaml"):
        assert place in run.why
    assert "docker login ghcr.io" in run.why  # and how to fix it


@pytest.mark.parametrize(
    "text",
    [
        "secrets: [unclosed\n",
        "secrets:\n  a: b\n c: SENTINEL-IN-YAML\n",
        "- a list\n",
        "secrets: just-a-string\n",
    ],
)
def test_malformed_truss_config_is_one_clear_line(cli, env, text):
    path = os.path.join(env["HOME"], ".truss", "config.yaml")
    os.makedirs(os.path.dirname(path))
    with open(path, "w") as handle:
        handle.write(text)
    run = cli("get", stdin=REG)
    assert path in run.why
    assert "SENTINEL" not in run.out + run.err


def test_unreadable_truss_config(cli, env):
    path = os.path.join(env["HOME"], ".truss", "config.yaml")
    os.makedirs(path)  # a directory where the file should be
    run = cli("get", stdin=REG)
    assert path in run.why


def test_store_refuses_a_file_others_can_write(cli, paths):
    cli("store", stdin=creds("u", "p"))
    os.chmod(paths.store, 0o666)
    run = cli("get", stdin=REG)
    assert "writable by other users" in run.why
    run = cli("store", stdin=creds("u", "p", "ghcr.io"))
    assert run.code == 1


def test_store_files_are_private_whatever_the_umask(cli, paths):
    old = os.umask(0)
    try:
        cli("store", stdin=creds("u", "p"))
    finally:
        os.umask(old)
    assert os.stat(paths.store).st_mode & 0o777 == 0o600
    assert os.stat(os.path.dirname(paths.store)).st_mode & 0o777 == 0o700


def test_corrupt_store_is_reported_and_left_alone(cli, paths):
    os.makedirs(os.path.dirname(paths.store), mode=0o700)
    with open(paths.store, "w") as handle:
        handle.write('{"secrets": {"trunc')
    os.chmod(paths.store, 0o600)
    run = cli("store", stdin=creds("u", "p"))
    assert run.code == 1 and "not valid JSON" in run.out
    with open(paths.store) as handle:
        assert handle.read() == '{"secrets": {"trunc'


@pytest.mark.parametrize(
    ("content", "value"),
    [
        pytest.param("pw\n", "pw", id="newline"),
        pytest.param("pw\r\n", "pw", id="crlf"),
        pytest.param("pw\r", "pw", id="cr"),  # text mode reads \r\n and \r as \n
        pytest.param("pw\r\r\n", "pw\n", id="one-line-end-only"),
        pytest.param("pw", "pw", id="none"),
        pytest.param("pw\n\n", "pw\n", id="two-newlines"),  # one goes: the rest is the value's
        pytest.param("pw \n", "pw ", id="space"),
        pytest.param("pw\t", "pw\t", id="tab"),
        pytest.param(" pw\n", " pw", id="leading-space"),
        pytest.param("BEGIN\nabc\nEND\n", "BEGIN\nabc\nEND", id="pem"),
    ],
)
def test_a_secret_file_loses_one_trailing_newline_only(env, paths, secrets_dir, content, value):
    from docker_credential_truss.secrets import Secrets

    (secrets_dir / "aws_secret_access_key").write_bytes(content.encode())
    found = Secrets({**env, "TRUSS_SECRETS_DIR": str(secrets_dir)}, paths).find(
        "aws_secret_access_key"
    )
    assert found.value == value
    assert found.source == str(secrets_dir / "aws_secret_access_key")


@pytest.mark.parametrize("content", ["", "\n"], ids=["empty", "newline"])
def test_an_empty_secret_file_is_no_secret(env, paths, secrets_dir, content):
    from docker_credential_truss.secrets import Secrets

    (secrets_dir / "token").write_text(content)
    assert Secrets({**env, "TRUSS_SECRETS_DIR": str(secrets_dir)}, paths).find("token") is None


# -- the Secrets object itself ------------------------------------------------------------


def make_secrets(env, paths, **extra):
    from docker_credential_truss.secrets import Secrets

    return Secrets({**env, **extra}, paths)


def test_file_names_round_trip_and_never_collide():
    from docker_credential_truss.secrets import file_name, name_from_file

    names = ["DOCKER_REGISTRY_https://index.docker.io/v1/", "a%2Fb", "a/b", "100%", "%25/%"]
    files = [file_name(n) for n in names]
    assert files[0] == "DOCKER_REGISTRY_https:%2F%2Findex.docker.io%2Fv1%2F"
    assert files[1] == "a%252Fb" and files[2] == "a%2Fb"
    assert len(set(files)) == len(names) and not any("/" in f for f in files)
    assert [name_from_file(f) for f in files] == names


def test_names_from_every_source_first_source_wins(env, paths, secrets_dir, truss_secrets):
    from docker_credential_truss.secrets import file_name

    truss_secrets({"DOCKER_REGISTRY_a": b64("t:1"), "DOCKER_REGISTRY_t": b64("t:2"), "x": "y"})
    for name, content in {
        "DOCKER_REGISTRY_a": "d\n",
        "DOCKER_REGISTRY_https://index.docker.io/v1/": "d\n",
        "DOCKER_REGISTRY_empty": "\n",
        ".DOCKER_REGISTRY_hidden": "d",
        "other": "d",
    }.items():
        (secrets_dir / file_name(name)).write_text(content)
    secrets = make_secrets(
        env,
        paths,
        TRUSS_SECRETS_DIR=str(secrets_dir),
        TRUSS_SECRET_DOCKER_REGISTRY_a="e",
        TRUSS_SECRET_DOCKER_REGISTRY_unset="",
    )
    secrets.store("DOCKER_REGISTRY_s", b64("s:1"))
    secrets.store("DOCKER_REGISTRY_t", b64("s:2"))
    assert secrets.names("DOCKER_REGISTRY_") == {
        "DOCKER_REGISTRY_a": "environment variable TRUSS_SECRET_DOCKER_REGISTRY_a",
        "DOCKER_REGISTRY_https://index.docker.io/v1/": str(
            secrets_dir / "DOCKER_REGISTRY_https:%2F%2Findex.docker.io%2Fv1%2F"
        ),
        "DOCKER_REGISTRY_t": paths.truss_config,
        "DOCKER_REGISTRY_s": f"the helper's store {paths.store}",
    }


def test_names_lists_an_unreadable_secret_file_and_skips_a_missing_directory(
    env, paths, secrets_dir
):
    (secrets_dir / "DOCKER_REGISTRY_bad").write_bytes(b"\xff\xfe")
    secrets = make_secrets(env, paths, TRUSS_SECRETS_DIR=str(secrets_dir))
    assert list(secrets.names("DOCKER_REGISTRY_")) == ["DOCKER_REGISTRY_bad"]
    missing = make_secrets(env, paths, TRUSS_SECRETS_DIR=str(secrets_dir / "missing"))
    assert missing.names("DOCKER_REGISTRY_") == {}


def test_places_name_every_source_in_order(env, paths, secrets_dir):
    unset = make_secrets(env, paths).places("n/x")
    assert unset == (
        f"$TRUSS_SECRET_n/x, $TRUSS_SECRETS_DIR (unset), {paths.truss_config} (secrets:),"
        f" {paths.store}"
    )
    with_dir = make_secrets(env, paths, TRUSS_SECRETS_DIR=str(secrets_dir)).places("n/x")
    assert with_dir.split(", ")[1] == str(secrets_dir / "n%2Fx")


def test_store_keeps_the_other_secrets_and_marks_the_version(env, paths):
    secrets = make_secrets(env, paths)
    secrets.store("one", "1")
    secrets.store("two", "2")
    secrets.store("one", "1b")
    with open(paths.store) as handle:
        assert json.load(handle) == {"version": 1, "secrets": {"one": "1b", "two": "2"}}
    assert secrets.find("one").value == "1b"
    assert make_secrets(env, paths).stored() == {"one": "1b", "two": "2"}


def test_erase_removes_only_that_secret_from_the_store(env, paths):
    secrets = make_secrets(env, paths)
    secrets.store("one", "1")
    secrets.store("two", "2")
    assert secrets.erase("one") is True
    assert secrets.find("one") is None
    assert make_secrets(env, paths).stored() == {"two": "2"}


def test_erase_of_a_secret_not_in_the_store_says_so_and_writes_nothing(env, paths):
    """Only the store is edited; what else still answers is the helper's to refuse."""
    secrets = make_secrets(env, paths, TRUSS_SECRET_one="1")
    assert secrets.erase("one") is False  # kept elsewhere: not the store's to remove
    assert secrets.erase("nothing") is False
    assert not os.path.exists(paths.store)  # nothing to erase: nothing written
    assert secrets.find("one").value == "1"


def test_erase_of_a_stored_secret_also_set_elsewhere_removes_the_stored_copy(env, paths):
    make_secrets(env, paths).store("one", "stored")
    secrets = make_secrets(env, paths, TRUSS_SECRET_one="env")
    secrets.erase("one")  # the store's copy goes; no error, though the variable remains
    assert make_secrets(env, paths).stored() == {}
    assert secrets.find("one").value == "env"


def test_a_store_that_is_not_ours_is_refused(env, paths):
    from docker_credential_truss import files
    from docker_credential_truss.errors import StoreError

    files.private_dir(os.path.dirname(paths.store))
    for data in ({"secrets": ["a"]}, {"secrets": {"a": 1}}, {"secrets": {"a": None}}):
        files.write_json(paths.store, data)
        with pytest.raises(StoreError, match="is not a docker-credential-truss store"):
            make_secrets(env, paths).find("a")
        with pytest.raises(StoreError):
            make_secrets(env, paths).store("b", "2")
    files.write_json(paths.store, {"version": 1})
    assert make_secrets(env, paths).stored() == {}


def test_found_never_shows_its_value():
    from docker_credential_truss.secrets import Found

    found = Found("SENTINEL-found-value", "somewhere")
    assert repr(found) == "Found(source='somewhere')"


# -- secret files and truss's config that cannot be read: named, with the reason ------------


def test_an_unreadable_secret_file_names_the_file_and_the_reason(env, paths, secrets_dir):
    from docker_credential_truss.errors import SecretError

    os.mkfifo(secrets_dir / "fifo")
    (secrets_dir / "binary").write_bytes(b"\xff\xfe")
    secrets = make_secrets(env, paths, TRUSS_SECRETS_DIR=str(secrets_dir))
    for name, reason in (("fifo", "not a regular file"), ("binary", "not UTF-8 text")):
        with pytest.raises(SecretError) as caught:
            secrets.find(name)
        assert caught.value.message == f"cannot read secret file {secrets_dir / name}: {reason}"


def write_truss_config(paths, content: bytes) -> None:
    os.makedirs(os.path.dirname(paths.truss_config), exist_ok=True)
    with open(paths.truss_config, "wb") as handle:
        handle.write(content)


def test_an_unreadable_truss_config_names_the_reason(env, paths):
    from docker_credential_truss.errors import ConfigError
    from docker_credential_truss.secrets import read_truss_secrets

    write_truss_config(paths, b"secrets:\n  a: \xff\n")
    with pytest.raises(ConfigError) as caught:
        read_truss_secrets(paths.truss_config)
    assert caught.value.message == f"cannot read {paths.truss_config}: not UTF-8 text"
    os.unlink(paths.truss_config)
    os.mkfifo(paths.truss_config)
    with pytest.raises(ConfigError) as caught:
        read_truss_secrets(paths.truss_config)
    assert caught.value.message == f"cannot read {paths.truss_config}: not a regular file"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("secrets: {a: '1', b: 2}\n", {"a": "1", "b": "2"}, id="flow-map"),
        pytest.param("secrets:\n  n: null\n  a: x\n", {"a": "x"}, id="null-first"),
        pytest.param("secrets:\n  a: 123\n  b: true\n", {"a": "123", "b": "True"}, id="scalars"),
        pytest.param("other: 1\n", {}, id="no-secrets"),
        pytest.param("", {}, id="empty"),
        pytest.param("# only a comment\n", {}, id="comment"),
    ],
)
def test_truss_config_secrets_are_strings_and_nulls_are_skipped(paths, text, expected):
    from docker_credential_truss.secrets import read_truss_secrets

    write_truss_config(paths, text.encode())
    found = read_truss_secrets(paths.truss_config)
    assert found == expected
    assert all(type(value) is str for value in found.values())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("- a\n", "should be a YAML mapping with a 'secrets:' map", id="list"),
        pytest.param("secrets: [a]\n", "'secrets' in {path} should be a map", id="secrets-list"),
        pytest.param(
            "secrets:\n  k: {x: 1}\n", "secret 'k' in {path} should be a string", id="map"
        ),
        pytest.param("secrets:\n  k: [1]\n", "secret 'k' in {path} should be a string", id="seq"),
    ],
)
def test_truss_config_of_the_wrong_shape_says_what_is_wrong(paths, text, message):
    from docker_credential_truss.errors import ConfigError
    from docker_credential_truss.secrets import read_truss_secrets

    write_truss_config(paths, text.encode())
    with pytest.raises(ConfigError) as caught:
        read_truss_secrets(paths.truss_config)
    assert message.format(path=paths.truss_config) in caught.value.message


def test_yaml_errors_name_the_position_but_not_the_text():
    import yaml

    from docker_credential_truss.errors import ConfigError
    from docker_credential_truss.yamlsubset import load_pyyaml

    unclosed = (  # libyaml's words when PyYAML has it (the wheels do), else PyYAML's own
        "did not find expected node content"
        if hasattr(yaml, "CSafeLoader")
        else "expected the node content, but found"
    )
    for text, message in (
        ("secrets:\n  a: [1,\n", f"at line 3, column 1: {unclosed}"),
        (
            "secrets:\n  a: !!python/object:os.system x\n",
            "at line 2, column 6: could not determine a constructor for the tag",
        ),
        ("secrets:\n  a: *nothing\n", "at line 2, column 6: found undefined alias"),
    ):
        with pytest.raises(ConfigError) as caught:
            load_pyyaml(text, "/cfg.yaml")
        assert caught.value.message == f"/cfg.yaml is not valid YAML {message}"


def test_yaml_errors_without_a_position_or_problem_still_make_one_line(monkeypatch):
    import yaml

    from docker_credential_truss.errors import ConfigError
    from docker_credential_truss.yamlsubset import load_pyyaml

    def raise_(error):
        def load(text, Loader):
            raise error

        return load

    for error, message in (
        (yaml.YAMLError("bare"), "/c.yaml is not valid YAML: syntax error"),
        (ValueError("odd value"), "/c.yaml is not valid YAML: a value in it cannot be read"),
    ):
        monkeypatch.setattr(yaml, "load", raise_(error))
        with pytest.raises(ConfigError) as caught:
            load_pyyaml("x", "/c.yaml")
        assert caught.value.message == message


def test_a_stored_secret_says_it_comes_from_the_store(env, paths):
    make_secrets(env, paths).store("one", "1")
    assert make_secrets(env, paths).find("one").source == f"the helper's store {paths.store}"


def test_a_missing_secret_says_where_it_looked_and_what_to_do(env, paths):
    from docker_credential_truss.errors import SecretError

    secrets = make_secrets(env, paths)
    with pytest.raises(SecretError) as caught:
        secrets.require("n", "the credential for r")
    assert caught.value.message == (
        f"secret 'n' (the credential for r) not found; looked in {secrets.places('n')};"
        " set it in one of them"
    )


def test_names_never_lists_hidden_files(env, paths, secrets_dir):
    (secrets_dir / ".hidden").write_text("v")
    (secrets_dir / "shown").write_text("v")
    secrets = make_secrets(env, paths, TRUSS_SECRETS_DIR=str(secrets_dir))
    assert list(secrets.names("")) == ["shown"]


def test_a_foreign_store_is_named_when_storing_into_it(env, paths):
    from docker_credential_truss import files
    from docker_credential_truss.errors import StoreError

    files.private_dir(os.path.dirname(paths.store))
    files.write_json(paths.store, {"secrets": ["a"]})
    for action, prefix in (
        (lambda s: s.find("a"), ""),
        (lambda s: s.store("b", "2"), "cannot save b in the helper's store: "),
    ):
        with pytest.raises(StoreError) as caught:
            action(make_secrets(env, paths))
        assert caught.value.message.startswith(f"{prefix}{paths.store} is not a docker-credential")


def test_list_reads_each_secret_file_once(cli, secrets_dir, monkeypatch):
    from docker_credential_truss import secrets as module

    for i in range(5):
        (secrets_dir / f"DOCKER_REGISTRY_r{i}.example.test").write_text(b64(f"u{i}:p") + "\n")
    opened = []
    real = module._read_secret_file
    monkeypatch.setattr(module, "_read_secret_file", lambda p: opened.append(p) or real(p))
    run = cli("list", extra={"TRUSS_SECRETS_DIR": str(secrets_dir)})
    assert run.code == 0, run.out
    assert sorted(run.json) == [f"r{i}.example.test" for i in range(5)]
    assert len(opened) == len(set(opened)) == 5, opened


def test_an_erase_that_cannot_write_says_so_and_the_store_still_answers(env, paths):
    """The store could not be changed (here its lock cannot be opened): the refusal
    names the secret and the file, and the secret is still read from the store, afresh."""
    from docker_credential_truss.errors import StoreError

    secrets = make_secrets(env, paths)
    secrets.store("one", "1")
    os.unlink(paths.store + ".lock")
    os.mkdir(paths.store + ".lock")
    with pytest.raises(StoreError) as caught:
        secrets.erase("one")
    assert caught.value.message == (
        f"cannot remove one from the helper's store: cannot open lock {paths.store}.lock:"
        f" Is a directory; what it held is unchanged (its directory {paths.data_dir} must"
        " be writable; XDG_DATA_HOME moves it)"
    )
    assert secrets.stored() == {"one": "1"}
    assert secrets.find("one").value == "1"


def test_a_store_replaced_by_a_foreign_file_meanwhile_is_named_when_erasing(env, paths):
    """The store is read again under its lock: a file another program put there since
    this process read it is refused by name, not edited."""
    from docker_credential_truss import files
    from docker_credential_truss.errors import StoreError

    secrets = make_secrets(env, paths)
    secrets.store("one", "1")
    assert secrets.stored() == {"one": "1"}  # read now; replaced below
    files.write_json(paths.store, {"secrets": ["one"]})
    with pytest.raises(StoreError) as caught:
        secrets.erase("one")
    assert caught.value.message.startswith(
        f"cannot remove one from the helper's store: {paths.store} is not a"
        " docker-credential-truss store; move it aside;"
    )
    with open(paths.store) as handle:
        assert json.load(handle) == {"secrets": ["one"]}


def standard_b64decode(text: str) -> bytes | str:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return "error"


def our_b64decode(text: str) -> bytes | str:
    try:
        return b64decode(text)
    except (binascii.Error, ValueError):
        return "error"


@settings(max_examples=2000, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=40).map(lambda raw: base64.b64encode(raw).decode()),
        st.text(alphabet="AZaz09+/=-_ \n.é", max_size=12),
        st.binary(max_size=12)
        .map(lambda raw: base64.b64encode(raw).decode())
        .flatmap(lambda good: st.integers(0, len(good)).map(lambda i: good[:i] + "=" + good[i:])),
    )
)
def test_secret_values_decode_as_the_standard_library_does(text):
    """The secret decoder spares get the base64 import; it must agree with it exactly."""
    assert our_b64decode(text) == standard_b64decode(text)

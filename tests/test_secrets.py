"""Secret sources, their order, and errors that name the secret but never its value."""

import base64
import json
import os

import pytest

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

"""docker-py's own client of the protocol, ``docker.credentials.Store("truss")``.

docker-py finds the helper with ``shutil.which`` on this process's PATH and runs it with
``os.environ`` updated by ``environment=``, so each test makes this process's
environment the sandbox's for its duration.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator

import pytest
from docker.credentials import Store
from docker.credentials.errors import CredentialsNotFound, StoreError
from e2e_checks import assert_no_secret, check, not_found, remember
from e2e_harness import SECRET_SOURCES, RegistryUnderTest, Sandbox


@pytest.fixture
def store(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """A docker-py Store for the truss helper, living in the sandbox's environment."""
    for name in list(os.environ):
        if name not in sandbox.env:
            monkeypatch.delenv(name)
    for name, value in sandbox.env.items():
        monkeypatch.setenv(name, value)
    yield Store("truss", environment=sandbox.env)


@pytest.mark.parametrize("source", SECRET_SOURCES)
def test_get_and_list_from_each_source(
    store: Store, sandbox: Sandbox, registry: RegistryUnderTest, source: str
) -> None:
    sandbox.put_registry_credential(source, registry.netloc, registry.user, registry.password)
    got = store.get(registry.netloc)
    check(got.get("ServerURL") == registry.netloc, "get must echo the ServerURL it was given")
    check(got.get("Username") == registry.user, "get must answer the test user")
    check(got.get("Secret") == registry.password, f"get must answer the password from {source}")
    # Clients send other spellings of the same registry; each must get the same answer.
    for spelling in (f"http://{registry.netloc}", f"https://{registry.netloc}/v2/"):
        check(store.get(spelling).get("Secret") == registry.password, f"get {spelling}")
    listed = store.list()
    check(listed.get(registry.netloc) == registry.user, "list must name the registry and user")
    assert_no_secret(repr(listed), "list output")


def test_store_get_list_erase_round_trip(store: Store, registry: RegistryUnderTest) -> None:
    remember(registry.password)
    with pytest.raises(CredentialsNotFound):
        store.get(registry.netloc)
    store.store(registry.netloc, registry.user, registry.password)
    check(store.get(registry.netloc).get("Secret") == registry.password, "stored secret returned")
    check(store.list().get(registry.netloc) == registry.user, "list shows the stored registry")
    store.erase(registry.netloc)
    with pytest.raises(CredentialsNotFound):
        store.get(registry.netloc)
    check(registry.netloc not in store.list(), "erase removes the registry from list")


def test_identity_token_round_trips(store: Store, registry: RegistryUnderTest) -> None:
    token = "identity-token-" + base64.b32encode(registry.password.encode()).decode()[:20]
    remember(token)
    store.store(registry.netloc, "<token>", token)
    got = store.get(registry.netloc)
    check(got.get("Username") == "<token>", "the <token> user name must survive")
    check(got.get("Secret") == token, "the identity token must survive")


def test_unknown_registry_is_not_found(
    store: Store, sandbox: Sandbox, registry: RegistryUnderTest
) -> None:
    # A credential for the same host on another port, and for the bare host, must not answer.
    port = int(registry.netloc.rsplit(":", 1)[1])
    sandbox.put_registry_credential("env", f"127.0.0.1:{port + 1}", "x", registry.password)
    sandbox.put_registry_credential("truss_config", "127.0.0.1", "x", registry.password)
    with pytest.raises(CredentialsNotFound):
        store.get(registry.netloc)


@pytest.mark.parametrize("source", ["env", "secrets_dir", "truss_config"])
def test_malformed_secret_is_not_found_and_explained_on_stderr(
    store: Store, sandbox: Sandbox, registry: RegistryUnderTest, source: str
) -> None:
    # docker-py's pull and build fail on any helper error but not-found (issue 9).
    name = f"DOCKER_REGISTRY_{registry.netloc}"
    bad = "not base64 " + registry.password  # neither base64 nor user:password
    sandbox.put_secret(source, name, bad)
    with pytest.raises(CredentialsNotFound):
        store.get(registry.netloc)
    got = sandbox.run_helper("get", registry.netloc)
    check(name in not_found(got), "the stderr line must name the secret")
    assert_no_secret(got.stdout + got.stderr, "get output", [bad, registry.password])


@pytest.mark.parametrize("source", ["env", "secrets_dir", "truss_config"])
def test_erase_leaves_other_sources_alone(
    store: Store, sandbox: Sandbox, registry: RegistryUnderTest, source: str
) -> None:
    sandbox.put_registry_credential(source, registry.netloc, registry.user, registry.password)
    before = sandbox.truss_config_path.read_bytes() if source == "truss_config" else None
    with pytest.raises(StoreError) as caught:
        store.erase(registry.netloc)
    check(
        f"DOCKER_REGISTRY_{registry.netloc}" in str(caught.value),
        "erase must say which secret it cannot remove",
    )
    assert_no_secret(str(caught.value), "the erase error")
    if before is not None:
        check(sandbox.truss_config_path.read_bytes() == before, "~/.truss/config.yaml unchanged")
    check(store.get(registry.netloc).get("Secret") == registry.password, "still answered")

"""REGISTRY_SECRET in-process: what a missing secret tells a person, and that the
Python 3.10 fallback of the base64 decoding is as strict as 3.11's."""

import base64
import sys
import types

import pytest

from docker_credential_truss import config
from docker_credential_truss.errors import SecretError
from docker_credential_truss.providers import static

HOST = "nvcr.io"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_a_configured_secret_that_is_missing_says_which_where_and_what_to_do(cli, paths, env):
    config.merge(
        paths,
        {HOST: {"source": "/t/config.yaml", "auth_method": "REGISTRY_SECRET"}},
    )
    run = cli("get", stdin=HOST)
    places = ", ".join(
        [
            f"$TRUSS_SECRET_DOCKER_REGISTRY_{HOST}",
            "$TRUSS_SECRETS_DIR (unset)",
            f"{paths.truss_config} (secrets:)",
            str(paths.store),
        ]
    )
    assert run.why == (
        f"docker-credential-truss: secret 'DOCKER_REGISTRY_{HOST}' (the credential for"
        f" {HOST}) not found; looked in {places}; set it in one of them, or run"
        f" `docker login {HOST}`\n"
    )


def test_the_provider_names_the_secret_it_read_as_its_identity():
    # The provider contract: identity() is what a mint depends on (here, one secret).
    provider = static.StaticProvider("ngc_key", b64("$oauthtoken:pw"))
    assert provider.identity() == ("ngc_key",)
    assert provider.username == "$oauthtoken"


@pytest.fixture
def python_3_10(monkeypatch):
    """Take the branch Python 3.10 takes (it has no binascii strict mode)."""
    monkeypatch.setattr(static, "sys", types.SimpleNamespace(version_info=(3, 10, 14, "final", 0)))


def test_on_python_3_10_a_secret_still_decodes_to_its_user_and_password(python_3_10):
    token = static.StaticProvider("DOCKER_REGISTRY_x", b64("alice:pa:ss")).mint()
    assert (token.username, token.secret == "pa:ss") == ("alice", True)


@pytest.mark.parametrize("junk", ["YWxp!Y2U6cHc=", "YWxp Y2U6cHc=", "YWxpY2U6cHc=\x00"])
def test_on_python_3_10_characters_outside_base64_are_refused_not_skipped(python_3_10, junk):
    # A lenient decoder drops the stray characters and answers a wrong password.
    with pytest.raises(SecretError) as caught:
        static.decode(junk, "DOCKER_REGISTRY_x")
    assert str(caught.value) == (
        "secret 'DOCKER_REGISTRY_x' is not valid base64 (expected base64 of user:password)"
    )


@pytest.mark.skipif(sys.version_info < (3, 11), reason="3.10 has no binascii strict mode")
def test_decoding_a_secret_needs_no_base64_module(monkeypatch):
    # base64 and its struct cost ~1 ms of every get that answers from a secret
    # (test_imports.py measures it through the installed command); binascii does alone.
    monkeypatch.setitem(sys.modules, "base64", None)  # importing it now fails
    assert static.decode("YWxpY2U6cHc=", "DOCKER_REGISTRY_x")[0] == "alice"

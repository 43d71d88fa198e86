"""``doctor``'s registry check, in-process, against a registry stand-in: who saw what.

The real docker-registry is driven by tests/e2e/; these run the same conversation
(:mod:`registrycheck` over :mod:`registryclient` and :mod:`webclient`) in this process,
so a change to it is seen. The stand-in (tests/harden/hostile.py's ``Server``) answers
as a registry with one user would, Basic or Bearer, and records each request: method,
path, the headers a test asks about, and which credential came (never its value).
"""

from __future__ import annotations

import base64
import json
import socket
import urllib.parse

import pytest
from harden.hostile import Server

from docker_credential_truss import registrycheck, registryclient, webclient
from docker_credential_truss.registry import parse

USER = "dct-user"
PASSWORD = "SENTINEL-registry-pw-3e1f"
TOKEN = "SENTINEL-bearer-token-9a7c"
PULL_TOKEN = "SENTINEL-pull-token-41d2"
REFRESH = "SENTINEL-identity-token-0b5e"
DIGEST = "sha256:" + "ab" * 32
INDEX = "application/vnd.oci.image.index.v1+json"
BASIC = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
LABELS = {
    BASIC: "basic",
    f"Bearer {TOKEN}": "bearer",
    f"Bearer {PULL_TOKEN}": "bearer-pull",
}
MISSING = {"errors": [{"code": "MANIFEST_UNKNOWN", "message": "not here"}]}
DENIED = {"errors": [{"code": "DENIED"}]}


class Seen:
    """One request as a test may show it: no credential value, only which one came."""

    def __init__(self, handler) -> None:  # type: ignore[no-untyped-def]
        self.method = handler.command
        split = urllib.parse.urlsplit(handler.path)
        self.path = split.path
        self.query = dict(urllib.parse.parse_qsl(split.query))
        auth = handler.headers.get("Authorization")
        self.auth = None if auth is None else LABELS.get(auth, "other")
        self.accept = handler.headers.get("Accept", "")
        self.agent = handler.headers.get("User-Agent", "")
        self.type = handler.headers.get("Content-Type", "")
        length = int(handler.headers.get("Content-Length") or 0)
        self.form = dict(urllib.parse.parse_qsl(handler.rfile.read(length).decode()))

    def __repr__(self) -> str:
        return f"{self.method} {self.path} auth={self.auth}"


def reply(status: int, body: object = b"", **headers: str):  # type: ignore[no-untyped-def]
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    if isinstance(body, dict):
        headers.setdefault("Content_Type", "application/json")
    return status, {k.replace("_", "-"): v for k, v in headers.items()}, data


class Registry:
    """A registry on 127.0.0.1 with one user. ``bearer``: its tokens come from its own
    ``/token`` realm; ``manifest``: what ``/v2/org/img/manifests/1`` answers, given the
    request, when the credential is right."""

    def __init__(self, bearer: bool = False, manifest=None, realm: str | None = None) -> None:  # type: ignore[no-untyped-def]
        self.seen: list[Seen] = []
        self.bearer = bearer
        self.manifest = manifest or (
            lambda seen: reply(200, Docker_Content_Digest=DIGEST, Content_Type=INDEX)
        )
        self.realm = realm
        self.server = Server(self.answer)

    def __enter__(self) -> Registry:
        self.server.__enter__()
        self.key = f"127.0.0.1:{self.server.port}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.__exit__(*exc)

    def challenge(self) -> dict[str, str]:
        if not self.bearer:
            return {"WWW-Authenticate": 'Basic realm="dct"'}
        realm = self.realm or f"{self.server.url}/token"
        return {"WWW-Authenticate": f'Bearer realm="{realm}",service="dct-registry"'}

    def answer(self, handler):  # type: ignore[no-untyped-def]
        seen = Seen(handler)
        self.seen.append(seen)
        if seen.path == "/token":
            return self.token(seen)
        wanted = "bearer" if self.bearer else "basic"
        if seen.auth not in (wanted, "bearer-pull"):
            return reply(401, {"errors": [{"code": "UNAUTHORIZED"}]}, **self.challenge())
        if seen.path == "/v2/":
            return reply(200, {})
        return self.manifest(seen)

    def token(self, seen: Seen):  # type: ignore[no-untyped-def]
        if seen.method == "POST":
            ok = seen.form.get("refresh_token") == REFRESH
        else:
            ok = seen.auth == "basic"
        if not ok:
            return reply(401, {"error": "invalid_grant"})
        scoped = seen.query.get("scope") or seen.form.get("scope")
        field = "access_token" if seen.method == "POST" else "token"
        return reply(200, {field: PULL_TOKEN if scoped else TOKEN})


def check(key: str, env, image: str | None = None, **given):  # type: ignore[no-untyped-def]
    given.setdefault("username", USER)
    given.setdefault("secret", PASSWORD)
    findings = registrycheck.check(
        parse(key),
        given["username"],
        given["secret"],
        image,
        {**env, "DOCKER_CREDENTIAL_TRUSS_TIMEOUT": "5"},
        daemon_json=env["HOME"] + "/no-daemon.json",
    )
    return [(f.kind, f.text) for f in findings]


def test_basic_login_and_image_found(env):
    with Registry() as registry:
        image = f"{registry.key}/org/img:1"
        found = check(registry.key, env, image)
    ping = f"http://{registry.key}/v2/"
    assert found == [
        ("note", "registry check over plain http (a loopback registry)"),
        ("ok", f"registry accepted the credential: GET {ping} -> 200 (Basic)"),
        ("ok", f"image {image}: found, {DIGEST} ({INDEX})"),
    ]
    assert [(s.method, s.path, s.auth) for s in registry.seen] == [
        ("GET", "/v2/", None),
        ("GET", "/v2/", "basic"),
        ("HEAD", "/v2/org/img/manifests/1", "basic"),
    ]
    assert registry.seen[2].accept == ", ".join(registryclient.MANIFEST_TYPES)
    assert {s.agent for s in registry.seen} == {webclient.USER_AGENT}


def test_a_wrong_password_is_refused_and_the_image_not_looked_for(env):
    with Registry() as registry:
        image = f"{registry.key}/org/img:1"
        found = check(registry.key, env, image, secret="SENTINEL-wrong-pw")
    ping = f"http://{registry.key}/v2/"
    assert found[1:] == [
        ("fail", f"registry refused the credential: GET {ping} answered HTTP 401 UNAUTHORIZED"),
        ("note", f"image {image}: not looked for, the login failed"),
    ]
    assert [s.auth for s in registry.seen] == [None, "other"]


def test_bearer_login_asks_the_realm_with_basic_then_a_pull_token_for_the_image(env):
    with Registry(bearer=True) as registry:
        image = f"{registry.key}/org/img:1"
        found = check(registry.key, env, image)
    ping = f"http://{registry.key}/v2/"
    realm = f"http://{registry.key}/token"
    assert found[1:] == [
        ("ok", f"registry accepted the credential: GET {ping} -> 200 (Bearer, token from {realm})"),
        ("ok", f"image {image}: found, {DIGEST} ({INDEX})"),
    ]
    assert [(s.method, s.path, s.auth) for s in registry.seen] == [
        ("GET", "/v2/", None),
        ("GET", "/token", "basic"),
        ("GET", "/v2/", "bearer"),
        ("GET", "/token", "basic"),
        ("HEAD", "/v2/org/img/manifests/1", "bearer-pull"),
    ]
    login, pull = registry.seen[1].query, registry.seen[3].query
    assert login == {"service": "dct-registry", "account": USER}
    assert pull == {"service": "dct-registry", "account": USER, "scope": "repository:org/img:pull"}


def test_an_identity_token_is_posted_as_an_oauth2_refresh_token(env):
    with Registry(bearer=True) as registry:
        found = check(registry.key, env, username="<token>", secret=REFRESH)
    assert found[1][0] == "ok"
    token = registry.seen[1]
    assert (token.method, token.path, token.auth, token.query) == ("POST", "/token", None, {})
    assert token.type == "application/x-www-form-urlencoded"
    assert sorted(token.form) == ["client_id", "grant_type", "refresh_token", "service"]
    assert token.form["grant_type"] == "refresh_token"
    assert token.form["client_id"] == webclient.USER_AGENT
    assert token.form["service"] == "dct-registry"
    assert token.form["refresh_token"] == REFRESH
    assert registry.seen[2].auth == "bearer"


def test_a_realm_that_refuses_says_so_with_its_error(env):
    with Registry(bearer=True) as registry:
        found = check(registry.key, env, secret="SENTINEL-wrong-pw")
    realm = f"http://{registry.key}/token"
    assert found[1] == (
        "fail",
        f"registry refused the credential: token realm {realm} answered HTTP 401 invalid_grant",
    )
    assert [s.path for s in registry.seen] == ["/v2/", "/token"]


def test_a_realm_with_a_query_gets_the_fields_appended(env):
    with Registry(bearer=True) as registry:
        registry.realm = f"{registry.server.url}/token?team=a"
        check(registry.key, env)
    assert registry.seen[1].query == {"team": "a", "service": "dct-registry", "account": USER}


@pytest.mark.parametrize(
    ("body", "token"),
    [(b"not json", None), (b'{"token": ""}', None), (b'{"token": 7}', None), (b"[1]", None)],
)
def test_a_realm_answer_without_a_token_is_a_failure(env, body, token):
    def answer(handler):  # type: ignore[no-untyped-def]
        Seen(handler)
        if handler.path.startswith("/token"):
            return 200, {}, body
        return reply(401, **{"WWW-Authenticate": f'Bearer realm="{server.url}/token"'})

    with Server(answer) as server:
        session = registryclient.Session(parse(f"127.0.0.1:{server.port}"), "http", USER, "x", env)
        with pytest.raises(webclient.Unreachable) as raised:
            session.token({"realm": f"{server.url}/token"}, None)
    assert str(raised.value) == f"the token realm {server.url}/token answered without a token"


def test_the_pull_token_from_the_challenge_scope_when_none_is_asked(env):
    with Registry(bearer=True) as registry:
        session = registryclient.Session(parse(registry.key), "http", USER, PASSWORD, env)
        got = session.token({"realm": f"{registry.server.url}/token", "scope": "repo:x:pull"}, None)
    assert got.value == PULL_TOKEN
    assert repr(got) == "BearerToken(status=200)"
    assert registry.seen[0].query["scope"] == "repo:x:pull"


@pytest.mark.parametrize("realm", ["", "ftp://x/token", "/token"])
def test_a_challenge_without_a_usable_realm_is_a_failure(env, realm):
    session = registryclient.Session(parse("127.0.0.1:9"), "http", USER, PASSWORD, env)
    with pytest.raises(webclient.Unreachable) as raised:
        session.token({"realm": realm}, None)
    assert str(raised.value) == (
        f"the registry's challenge names no usable token realm ({realm!r})"
    )


@pytest.fixture
def names(monkeypatch):
    """``realm.test`` resolves to 127.0.0.1; every name asked is recorded."""
    asked: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        asked.append(host)
        return real("127.0.0.1" if host == "realm.test" else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def test_an_https_registry_never_sends_the_credential_to_a_plain_http_realm(env, names):
    with Registry(bearer=True) as registry:
        realm = f"http://realm.test:{registry.server.port}/token"
        session = registryclient.Session(parse("ghcr.io"), "https", USER, PASSWORD, env)
        with pytest.raises(webclient.Unreachable) as raised:
            session.token({"realm": realm + "?x=1"}, None)
        assert registry.seen == []
        # over plain http to a plain http registry, the same realm is asked
        session = registryclient.Session(parse("ghcr.io"), "http", USER, PASSWORD, env)
        assert session.token({"realm": realm}, None).value == TOKEN
    assert str(raised.value) == (
        f"the token realm {realm} is plain http; the credential is not sent there"
    )
    assert [s.auth for s in registry.seen] == ["basic"]


def test_an_https_registry_may_use_a_loopback_plain_http_realm(env):
    with Registry(bearer=True) as registry:
        session = registryclient.Session(parse("ghcr.io"), "https", USER, PASSWORD, env)
        assert session.token({"realm": f"{registry.server.url}/token"}, None).value == TOKEN


def test_a_redirect_is_an_answer_and_the_credential_does_not_follow_it(env):
    def elsewhere(handler):  # type: ignore[no-untyped-def]
        taken.append(Seen(handler))
        return reply(200, {})

    taken: list[Seen] = []
    with Server(elsewhere) as other:

        def answer(handler):  # type: ignore[no-untyped-def]
            Seen(handler)
            if handler.headers.get("Authorization"):
                return reply(307, Location=f"{other.url}/v2/")
            return reply(401, **{"WWW-Authenticate": 'Basic realm="dct"'})

        with Server(answer) as server:
            key = f"127.0.0.1:{server.port}"
            found = check(key, env)
    assert taken == []
    assert found[1] == (
        "fail",
        f"registry refused the credential: GET http://{key}/v2/ answered HTTP 307",
    )


def test_docker_hub_is_asked_at_its_api_host():
    assert registryclient.api_host(parse("docker.io")) == "registry-1.docker.io"
    assert registryclient.api_host(parse("index.docker.io")) == "registry-1.docker.io"
    assert registryclient.api_host(parse("ghcr.io:443")) == "ghcr.io:443"
    session = registryclient.Session(parse("docker.io"), "https", USER, PASSWORD, {})
    assert session.base == "https://registry-1.docker.io"

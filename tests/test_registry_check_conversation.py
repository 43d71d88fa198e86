"""``doctor``'s registry check, in-process, against a registry stand-in: who saw what.

The real docker-registry is driven by tests/e2e/; these run the same conversation
(:mod:`registrycheck` over :mod:`registryclient` and :mod:`webclient`) in this process,
so a change to it is seen. The stand-in (tests/harden/hostile.py's ``Server``) answers
as a registry with one user would, Basic or Bearer, and records each request: method,
path, the headers a test asks about, and which credential came (never its value).
"""

from __future__ import annotations

import base64
import io
import json
import socket
import threading
import urllib.parse
from pathlib import Path

import pytest
from harden.hostile import Server, make_ca, make_leaf

from docker_credential_truss import debuglog, registrycheck, registryclient, webclient
from docker_credential_truss.paths import Paths
from docker_credential_truss.registry import parse
from docker_credential_truss.report import Report

USER = "dct-user"
PASSWORD = "SENTINEL-registry-pw-3e1"  # its Basic value is pure base64: no "=", "+", "/"
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
REFUSED_FIX = (
    "the credential is wrong or expired for this registry: correct the secret (named above)"
    " or renew the token"
)
MISSING = {"errors": [{"code": "MANIFEST_UNKNOWN", "message": "not here"}]}
DENIED = {"errors": [{"code": "DENIED"}]}


class Seen:
    """One request as a test may show it: no credential value, only which one came."""

    def __init__(self, handler) -> None:  # type: ignore[no-untyped-def]
        self.method = handler.command
        split = urllib.parse.urlsplit(handler.path)
        self.path = split.path
        self.query = dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True))
        self.names = sorted(handler.headers.keys())
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
        found = findings_of(registry.key, env, image, secret="SENTINEL-wrong-pw")
    ping = f"http://{registry.key}/v2/"
    assert found[1:] == [
        (
            "fail",
            f"registry refused the credential: GET {ping} answered HTTP 401 UNAUTHORIZED",
            REFUSED_FIX,
        ),
        ("note", f"image {image}: not looked for, the login failed", ""),
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
    assert token.names == [
        "Accept-Encoding",
        "Connection",
        "Content-Length",
        "Content-Type",
        "Host",
        "User-Agent",
    ]
    assert registry.seen[2].auth == "bearer"


def test_a_realm_that_refuses_says_so_with_its_error(env):
    with Registry(bearer=True) as registry:
        found = findings_of(registry.key, env, secret="SENTINEL-wrong-pw")
    realm = f"http://{registry.key}/token"
    assert found[1] == (
        "fail",
        f"registry refused the credential: token realm {realm} answered HTTP 401 invalid_grant",
        REFUSED_FIX,
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


@pytest.mark.parametrize("realm", [None, "", "ftp://x/token", "/token"])
def test_a_challenge_without_a_usable_realm_is_a_failure(env, realm):
    session = registryclient.Session(parse("127.0.0.1:9"), "http", USER, PASSWORD, env)
    with pytest.raises(webclient.Unreachable) as raised:
        session.token({} if realm is None else {"realm": realm}, None)
    assert str(raised.value) == (
        f"the registry's challenge names no usable token realm ({realm or ''!r})"
    )


def test_an_https_realm_is_asked(env):
    with socket.socket() as closed:  # bound, never listening: the connection is refused
        closed.bind(("127.0.0.1", 0))
        realm = f"https://127.0.0.1:{closed.getsockname()[1]}/token"
        session = registryclient.Session(parse("ghcr.io"), "https", USER, PASSWORD, env)
        with pytest.raises(webclient.Unreachable) as raised:
            session.token({"realm": realm}, None)
    assert str(raised.value) == f"{realm}: Connection refused"


def test_a_challenge_without_a_service_asks_with_an_empty_one(env):
    with Registry(bearer=True) as registry:
        session = registryclient.Session(parse(registry.key), "http", USER, PASSWORD, env)
        assert session.token({"realm": f"{registry.server.url}/token"}, None).value == TOKEN
    assert registry.seen[0].query == {"service": "", "account": USER}


@pytest.fixture
def names(monkeypatch):
    """``realm.test`` and ``reg.test`` resolve to 127.0.0.1; every name asked is recorded."""
    asked: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        asked.append(host)
        return real("127.0.0.1" if host.endswith(".test") else host, *args, **kwargs)

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


def shown(findings) -> str:  # type: ignore[no-untyped-def]
    """The findings as doctor prints them (a Report, masked)."""
    out = io.BytesIO()
    report = Report(out)
    for kind, text in findings:
        report.note(f"{kind} {text}")
    report.flush()
    return out.getvalue().decode()


def test_a_registry_echoing_the_basic_value_as_its_error_code_is_not_shown_it(env):
    code = BASIC.split(" ", 1)[1]

    def manifest(seen):  # type: ignore[no-untyped-def]
        return reply(403, {"errors": [{"code": code}]})

    with Registry(manifest=manifest) as registry:
        found = check(registry.key, env, f"{registry.key}/org/img:1")
    assert found[2][1].startswith("image ")
    assert "denied (HTTP 403 " in found[2][1]
    printed = shown(found)
    assert code not in printed and PASSWORD not in printed


def test_a_registry_echoing_the_token_as_its_error_code_is_not_shown_it(env):
    def manifest(seen):  # type: ignore[no-untyped-def]
        return reply(404, {"errors": [{"code": PULL_TOKEN}, {"code": "MANIFEST_UNKNOWN"}]})

    with Registry(bearer=True, manifest=manifest) as registry:
        found = check(registry.key, env, f"{registry.key}/org/img:1")
    assert found[2][1].startswith("image ")
    assert "not found (HTTP 404 " in found[2][1]
    printed = shown(found)
    assert "MANIFEST_UNKNOWN" in printed
    assert PULL_TOKEN not in printed


def test_the_debug_log_names_each_request_and_answer_never_the_query(env, tmp_path):
    paths = Paths.from_env(env)
    log = debuglog.setup({**env, debuglog.VARIABLE: "1"}, paths)
    with Registry(bearer=True) as registry:
        registry.realm = f"{registry.server.url}/token?team=SENTINEL-team-query"
        check(registry.key, env)
    debuglog.close()
    lines = [line.split(" DEBUG ", 1)[1] for line in Path(log).read_text().splitlines()]
    base = f"http://{registry.key}"
    assert lines == [
        f"registry check: GET {base}/v2/ -> HTTP 401 UNAUTHORIZED",
        f"registry check: GET {base}/token -> HTTP 200",
        f"registry check: GET {base}/v2/ -> HTTP 200",
    ]


def test_no_answer_names_where_without_the_query(env, tmp_path):
    paths = Paths.from_env(env)
    log = debuglog.setup({**env, debuglog.VARIABLE: "1"}, paths)
    with socket.socket() as closed:  # bound, never listening: the connection is refused
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        session = registryclient.Session(parse(f"127.0.0.1:{port}"), "http", USER, "x", env)
        with pytest.raises(webclient.Unreachable) as raised:
            session.send("GET", f"http://127.0.0.1:{port}/token?scope=SENTINEL-q")
    debuglog.close()
    where = f"http://127.0.0.1:{port}/token"
    assert str(raised.value) == f"{where}: Connection refused"
    assert raised.value.reason == f"{where}: Connection refused"
    assert Path(log).read_text().split(" DEBUG ", 1)[1] == (
        f"registry check: GET {where}: Connection refused\n"
    )


@pytest.mark.parametrize(
    ("body", "header", "expected"),
    [
        (MISSING, "", "MANIFEST_UNKNOWN"),
        ({"errors": [{"code": "A"}, "x", {"code": "B"}, {"code": "A"}]}, "", "A B"),
        ({"errors": [{"code": "has space"}], "error": "invalid_grant"}, "", "invalid_grant"),
        ({"errors": "DENIED"}, 'Bearer error="insufficient_scope"', "insufficient_scope"),
        (DENIED, 'Bearer realm="x",error="DENIED"', "DENIED"),
        (b"not json", 'Bearer error="invalid_token"', "invalid_token"),
        ([{"code": "A"}], "", ""),
    ],
)
def test_an_answer_is_described_by_its_status_and_error_codes(body, header, expected):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"WWW-Authenticate": header} if header else {}
    answer = webclient.Answer(401, headers, data)
    assert registryclient.codes(answer) == expected
    assert registryclient.describe(answer) == f"HTTP 401 {expected}".rstrip()


@pytest.fixture
def tls_registry(tmp_path, names):
    """An https registry at ``reg.test:<port>`` whose certificate a fresh CA signed:
    (its key, the CA's PEM)."""
    ca = make_ca(tmp_path)
    leaf = make_leaf(tmp_path, ca, "reg.test")

    def answer(handler):  # type: ignore[no-untyped-def]
        if handler.headers.get("Authorization") == BASIC:
            return reply(200, {})
        return reply(401, **{"WWW-Authenticate": 'Basic realm="dct"'})

    with Server(answer, tls=leaf) as server:
        yield f"reg.test:{server.port}", ca[2].read_bytes()


def test_https_trusts_the_ca_docker_trusts_for_that_host_and_port(env, tls_registry):
    key, ca = tls_registry
    certs = Path(env["XDG_CONFIG_HOME"], "docker", "certs.d")
    (certs / key).mkdir(parents=True)
    (certs / key / "ca.crt").write_bytes(ca)
    found = check(key, env)
    trusted = str(certs / key / "ca.crt")
    assert found[0][0] == "note"
    assert found[0][1].startswith(f"TLS: trusting {trusted} and the system store (")
    assert found[1] == (
        "ok",
        f"registry accepted the credential: GET https://{key}/v2/ -> 200 (Basic)",
    )


def test_https_without_the_ca_fails_on_the_certificate_and_says_where_docker_reads_it(
    env, tls_registry
):
    key, ca = tls_registry
    other = Path(env["XDG_CONFIG_HOME"], "docker", "certs.d", "reg.test")  # no port: not it
    other.mkdir(parents=True)
    (other / "ca.crt").write_bytes(ca)
    findings = registrycheck.check(
        parse(key), USER, PASSWORD, None, env, daemon_json=env["HOME"] + "/none.json"
    )
    assert [f.kind for f in findings] == ["note", "fail"]
    assert findings[0].text.startswith("TLS: trusting the system store (")
    assert findings[1].text.startswith(f"registry check: https://{key}/v2/: TLS: ")
    assert findings[1].fix == (
        f"if docker trusts this registry's CA, put it in /etc/docker/certs.d/{key}/ca.crt"
        " (as docker reads it), or add it to the system store"
    )


def test_a_ca_file_that_cannot_be_loaded_stops_the_check_before_any_request(env, tls_registry):
    key, _ = tls_registry
    bad = Path(env["XDG_CONFIG_HOME"], "docker", "certs.d", key)
    bad.mkdir(parents=True)
    (bad / "ca.crt").write_text("not a certificate")
    assert findings_of(key, env) == [
        (
            "fail",
            f"registry check: a CA file docker trusts for {key} cannot be loaded (SSLError)",
            "replace the file with a PEM certificate, or remove it",
        )
    ]


def test_the_registrys_requests_go_through_the_proxy_docker_would_choose(env):
    proxied = {
        **env,
        "HTTPS_PROXY": "http://secure.proxy.example:3128",
        "HTTP_PROXY": "http://plain.proxy.example:8080",
        "NO_PROXY": "nvcr.io",
    }
    https = registryclient.Session(parse("ghcr.io"), "https", USER, PASSWORD, proxied)
    assert (https.proxy().url, https.proxy().variable) == (
        "http://secure.proxy.example:3128",
        "HTTPS_PROXY",
    )
    plain = registryclient.Session(parse("ghcr.io"), "http", USER, PASSWORD, proxied)
    assert plain.proxy().url == "http://plain.proxy.example:8080"
    assert registryclient.Session(parse("nvcr.io"), "https", USER, "x", proxied).proxy() is None


def test_a_loopback_registry_is_reached_directly_even_with_a_proxy_set(env):
    with Registry() as registry:
        found = check(registry.key, {**env, "HTTP_PROXY": "http://127.0.0.1:9"})
    assert found[:2] == [
        ("note", "registry check over plain http (a loopback registry)"),
        ("note", "no proxy for a loopback registry, as docker does"),
    ]
    assert found[2][0] == "ok"


def test_an_unsupported_proxy_stops_the_check_and_says_why(env):
    socks = {**env, "HTTPS_PROXY": "socks5://127.0.0.1:1080"}
    findings = registrycheck.check(
        parse("ghcr.io"), USER, PASSWORD, None, socks, daemon_json=env["HOME"] + "/none.json"
    )
    assert [(f.kind, f.text, f.fix) for f in findings] == [
        (
            "fail",
            "registry check: HTTPS_PROXY names a socks5 proxy; only http(s) proxies are supported",
            "set HTTPS_PROXY to an http(s) proxy, or add the registry to NO_PROXY",
        )
    ]


def test_an_answer_is_read_to_64_kib_only(env):
    padded = {"errors": [{"code": "UNAUTHORIZED", "detail": "x" * registryclient.MAX_BODY}]}
    small = {"errors": [{"code": "UNAUTHORIZED"}]}

    def answer(handler):  # type: ignore[no-untyped-def]
        Seen(handler)
        body = padded if handler.headers.get("Authorization") else small
        return reply(401, body, **{"WWW-Authenticate": 'Basic realm="dct"'})

    with Server(answer) as server:
        key = f"127.0.0.1:{server.port}"
        found = check(key, env)
    # the refusal's body was cut at 64 KiB: no longer JSON, so no code is shown
    assert found[1] == (
        "fail",
        f"registry refused the credential: GET http://{key}/v2/ answered HTTP 401",
    )


def findings_of(key: str, env, image: str | None = None, secret: str = PASSWORD, **more):  # type: ignore[no-untyped-def]
    """(kind, text, fix) of each finding."""
    more.setdefault("daemon_json", env["HOME"] + "/none.json")
    found = registrycheck.check(parse(key), USER, secret, image, env, **more)
    return [(f.kind, f.text, f.fix) for f in found]


def test_a_registry_that_asks_no_login_is_said_and_its_image_looked_for_without_one(env):
    def answer(handler):  # type: ignore[no-untyped-def]
        Seen(handler)
        registry_seen.append(handler.headers.get("Authorization"))
        if handler.path == "/v2/":
            return reply(200, {})
        return reply(200, Docker_Content_Digest="not-a-digest")

    registry_seen: list[str | None] = []
    with Server(answer) as server:
        key = f"127.0.0.1:{server.port}"
        found = check(key, env, f"{key}/tiny@{DIGEST}")
    assert found[1:] == [
        ("note", f"registry: GET http://{key}/v2/ answers 200 without credentials (no login)"),
        ("ok", f"image {key}/tiny@{DIGEST}: found, no digest given (no type)"),
    ]
    assert registry_seen == [None, None]


def test_a_host_that_is_not_a_registry_is_said(env):
    def answer(handler):  # type: ignore[no-untyped-def]
        Seen(handler)
        if handler.path == "/v2/":
            return reply(404, {"errors": [{"code": "NOT_FOUND"}]})
        return reply(500)

    with Server(answer) as server:
        key = f"127.0.0.1:{server.port}"
        found = findings_of(key, env, f"{key}/org/img:1")
    assert found[1:] == [
        (
            "fail",
            f"registry: GET http://{key}/v2/ answered HTTP 404 NOT_FOUND, not a login challenge",
            "check that this host serves the Docker Registry HTTP API v2",
        ),
        ("note", f"image {key}/org/img:1: not looked for, the login failed", ""),
    ]


def test_a_401_with_another_scheme_is_not_a_login_challenge(env):
    def answer(handler):  # type: ignore[no-untyped-def]
        Seen(handler)
        return reply(401, **{"WWW-Authenticate": 'Negotiate realm="x"'})

    with Server(answer) as server:
        key = f"127.0.0.1:{server.port}"
        found = findings_of(key, env)
    assert found[1][1] == f"registry: GET http://{key}/v2/ answered HTTP 401, not a login challenge"


def test_an_image_on_another_registry_is_not_checked_with_this_credential(env):
    with Registry() as registry:
        found = check(registry.key, env, "ghcr.io/org/img:1")
    assert found[2] == (
        "note",
        "image ghcr.io/org/img:1: on another registry, not checked with this credential",
    )
    assert [s.path for s in registry.seen] == ["/v2/", "/v2/"]


def test_a_missing_image_is_asked_again_with_get_for_its_code(env):
    def manifest(seen):  # type: ignore[no-untyped-def]
        return reply(404, MISSING)

    with Registry(manifest=manifest) as registry:
        image = f"{registry.key}/org/img:1"
        found = findings_of(registry.key, env, image)
    assert found[2] == (
        "fail",
        f"image {image}: not found (HTTP 404 MANIFEST_UNKNOWN)",
        "push the image, or correct base_image.image in the truss config and run configure again",
    )
    assert [(s.method, s.auth) for s in registry.seen[2:]] == [("HEAD", "basic"), ("GET", "basic")]
    assert registry.seen[3].accept == ", ".join(registryclient.MANIFEST_TYPES)


def test_a_denied_image_says_what_may_be_wrong(env):
    def manifest(seen):  # type: ignore[no-untyped-def]
        return reply(403, DENIED)

    with Registry(manifest=manifest) as registry:
        image = f"{registry.key}/org/img:1"
        found = findings_of(registry.key, env, image)
    assert found[2] == (
        "fail",
        f"image {image}: denied (HTTP 403 DENIED); this identity may not pull org/img, or it"
        " does not exist (registries may not say which)",
        "give this identity pull access to the repository, or correct base_image.image",
    )


def test_a_head_answer_with_a_code_is_not_asked_again(env):
    def manifest(seen):  # type: ignore[no-untyped-def]
        return reply(401, **{"WWW-Authenticate": 'Basic realm="dct",error="insufficient_scope"'})

    with Registry(manifest=manifest) as registry:
        image = f"{registry.key}/org/img:1"
        found = check(registry.key, env, image)
    assert [s.method for s in registry.seen[2:]] == ["HEAD"]
    assert found[2][1].startswith(f"image {image}: denied (HTTP 401 insufficient_scope);")


def test_another_status_for_the_image_is_said_with_the_url(env):
    def manifest(seen):  # type: ignore[no-untyped-def]
        return reply(500, {"errors": [{"code": "UNKNOWN"}]})

    with Registry(manifest=manifest) as registry:
        image = f"{registry.key}/org/img:1"
        found = findings_of(registry.key, env, image)
    url = f"http://{registry.key}/v2/org/img/manifests/1"
    assert found[2] == (
        "fail",
        f"image {image}: HEAD {url} answered HTTP 500",
        "see the registry's status; try again later",
    )
    assert [s.method for s in registry.seen[2:]] == ["HEAD"]


def test_the_content_type_is_shown_without_its_parameters(env):
    def manifest(seen):  # type: ignore[no-untyped-def]
        return reply(200, Docker_Content_Digest=DIGEST, Content_Type=f" {INDEX} ; charset=x")

    with Registry(manifest=manifest) as registry:
        image = f"{registry.key}/org/img:1"
        found = check(registry.key, env, image)
    assert found[2] == ("ok", f"image {image}: found, {DIGEST} ({INDEX})")


def test_a_pull_token_refused_says_the_repository(env):
    def answer(handler):  # type: ignore[no-untyped-def]
        seen = Seen(handler)
        if seen.path == "/token":
            if seen.query.get("scope"):
                return reply(403, {"error": "denied"})
            return reply(200, {"token": TOKEN})
        if seen.auth == "bearer":
            return reply(200, {})
        realm = f"{server.url}/token"
        return reply(401, **{"WWW-Authenticate": f'Bearer realm="{realm}",service="s"'})

    with Server(answer) as server:
        key = f"127.0.0.1:{server.port}"
        found = findings_of(key, env, f"{key}/org/img:1")
    assert found[2] == (
        "fail",
        f"image {key}/org/img:1: denied, the token realm answered HTTP 403 denied for pull of"
        " org/img",
        "give this identity pull access to the repository",
    )


def test_a_registry_behind_a_proxy_is_said_and_the_proxy_named_when_it_fails(env):
    def refuse(handler):  # type: ignore[no-untyped-def]
        tunnels.append((handler.command, handler.path))
        return reply(403)

    tunnels: list[tuple[str, str]] = []
    with Server(refuse) as proxy:
        proxied = {**env, "HTTPS_PROXY": proxy.url, "HTTP_PROXY": "http://127.0.0.1:9"}
        found = findings_of("ghcr.io", proxied)
    assert tunnels == [("CONNECT", "ghcr.io:443")]
    assert found[0] == (
        "note",
        f"registry check through the proxy {proxy.url} (HTTPS_PROXY)",
        "",
    )
    assert found[1][1].startswith("TLS: trusting the system store")
    assert found[2] == (
        "fail",
        f"registry check: https://ghcr.io/v2/: OSError (through the proxy {proxy.url} of"
        " HTTPS_PROXY)",
        "check the registry's address and the network; DOCKER_CREDENTIAL_TRUSS_TIMEOUT sets"
        " the seconds per request",
    )


def test_a_blank_proxy_variable_is_no_proxy_for_a_loopback_registry_either(env):
    with Registry() as registry:
        found = check(registry.key, {**env, "HTTPS_PROXY": "  "})
    assert [kind for kind, _ in found] == ["note", "ok"]


def test_a_401_for_the_image_without_a_code_is_asked_again_with_get(env):
    def manifest(seen):  # type: ignore[no-untyped-def]
        return reply(401, {"errors": [{"code": "UNAUTHORIZED"}]})

    with Registry(manifest=manifest) as registry:
        image = f"{registry.key}/org/img:1"
        found = check(registry.key, env, image)
    assert [s.method for s in registry.seen[2:]] == ["HEAD", "GET"]
    assert found[2][1].startswith(f"image {image}: denied (HTTP 401 UNAUTHORIZED);")


def test_an_image_found_without_a_digest_says_so(env):
    def manifest(seen):  # type: ignore[no-untyped-def]
        return reply(200, Content_Type=INDEX)

    with Registry(manifest=manifest) as registry:
        image = f"{registry.key}/org/img:1"
        found = check(registry.key, env, image)
    assert found[2] == ("ok", f"image {image}: found, no digest given ({INDEX})")


def test_plain_http_where_docker_is_told_the_registry_is_insecure(env, names, tmp_path):
    with Registry() as registry:
        key = f"reg.test:{registry.server.port}"
        by_flag = findings_of(key, env, insecure=[key])
        daemon = tmp_path / "daemon.json"
        daemon.write_text(json.dumps({"insecure-registries": [key]}))
        by_daemon = findings_of(key, env, daemon_json=str(daemon))
    assert by_flag[0] == (
        "note",
        "registry check over plain http (named with --insecure-registry)",
        "",
    )
    assert by_daemon[0] == (
        "note",
        f"registry check over plain http (in insecure-registries of {daemon})",
        "",
    )
    assert by_flag[1][0] == by_daemon[1][0] == "ok"


@pytest.fixture
def trickling():
    """A server that answers a header line every 20 ms and never ends its headers: each
    read is answered, the whole answer never comes. Its port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def serve() -> None:
        try:
            conn, _ = listener.accept()
            with conn:
                conn.sendall(b"HTTP/1.1 200 OK\r\n")
                while not stop.wait(0.02):
                    conn.sendall(b"X-Slow: 1\r\n")
        except OSError:
            pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    listener.close()


def test_a_registry_too_slow_for_the_deadline_is_said_with_the_fix(env, trickling):
    key = f"127.0.0.1:{trickling}"
    found = findings_of(key, {**env, "DOCKER_CREDENTIAL_TRUSS_TIMEOUT": "0.25"})
    assert found[1:] == [
        (
            "fail",
            f"{key}: registry check: no answer within 1.5s; the endpoint is too slow"
            " (6 x DOCKER_CREDENTIAL_TRUSS_TIMEOUT)",
            "check the network path to the registry; DOCKER_CREDENTIAL_TRUSS_TIMEOUT sets"
            " the seconds per request",
        )
    ]

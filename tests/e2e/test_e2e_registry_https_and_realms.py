"""``doctor``'s registry check against real docker-registries: where the credential goes.

What a person relies on when doctor logs in with their credential, each seen from the
servers' side:

- an https registry is checked over https (the credential never goes out in clear);
- Docker Hub (``docker.io``) is asked at its API host, ``registry-1.docker.io``;
- a token realm on plain http, named by an https registry, is not sent the credential;
- a token realm's redirect is not followed with the credential;
- the token for the base image is asked with pull scope only.

The https registries are docker-registry with TLS on a loopback address of their own,
named ``registry.dct.test`` and ``registry-1.docker.io`` through a private /etc/hosts in
a mount namespace (as the harness does for cloud names); ``docker.io`` and
``index.docker.io`` resolve there to an address where nothing listens. The helper
trusts the test's certificate through ``SSL_CERT_FILE``.
"""

from __future__ import annotations

import datetime
import secrets
import ssl
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from e2e_checks import assert_no_secret, check, describe, expect_ok, remember
from e2e_harness import Sandbox, b64_credential
from e2e_servers import (
    Registry,
    free_port,
    namespace_argv,
    port_is_free,
    require_programs,
    write_hosts_file,
)
from token_auth import TokenRegistry, TokenServer

REGISTRY = "registry.dct.test"
HUB_API = "registry-1.docker.io"
REALM_HOST = "auth.dct.test"
USER = "alice"


def _certificate(base: Path, names: list[str]) -> tuple[Path, Path]:
    """A self-signed certificate for ``names`` (it is its own CA); (cert, key) files."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    base.mkdir(parents=True, exist_ok=True)
    cert_file, key_file = base / "cert.pem", base / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


class _Tls:
    """docker-registry over TLS: the certificate in its config, readiness over https."""

    cert: Path
    key: Path

    def _write_files(self) -> None:
        super()._write_files()  # type: ignore[misc]
        path = self.base / "registry.yml"  # type: ignore[attr-defined]
        config = yaml.safe_load(path.read_text())
        config["http"]["tls"] = {"certificate": str(self.cert), "key": str(self.key)}
        path.write_text(yaml.safe_dump(config))

    def _ready(self) -> bool:
        proc = self._proc  # type: ignore[attr-defined]
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"docker-registry exited with {proc.returncode}")
        context = ssl.create_default_context(cafile=str(self.cert))
        context.check_hostname = False
        url = f"https://{self.ip}:{self.port}/v2/"  # type: ignore[attr-defined]
        try:
            urllib.request.urlopen(url, context=context, timeout=2)
        except urllib.error.HTTPError as exc:
            return exc.code == 401
        except OSError:
            return False
        return False


class TlsRegistry(_Tls, Registry):
    def __init__(self, base: Path, ip: str, port: int, users, cert: Path, key: Path) -> None:  # type: ignore[no-untyped-def]
        super().__init__(base, ip, port, users)
        self.cert, self.key = cert, key


class RealmRegistry(TokenRegistry):
    """Token auth whose challenge names ``realm``, which need not be the token server's."""

    def __init__(self, base: Path, ip: str, port: int, tokens: TokenServer, realm: str) -> None:
        super().__init__(base, ip, port, tokens)
        self.realm = realm

    def _auth(self) -> dict[str, object]:
        auth = super()._auth()
        auth["token"]["realm"] = self.realm  # type: ignore[index]
        return auth


class TlsRealmRegistry(_Tls, RealmRegistry):
    def __init__(self, base, ip, port, tokens, realm, cert, key) -> None:  # type: ignore[no-untyped-def]
        super().__init__(base, ip, port, tokens, realm)
        self.cert, self.key = cert, key


class Redirector:
    """Answers every request with 307 to the same path on ``target``."""

    def __init__(self, target: str) -> None:
        self.requests = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def _redirect(self) -> None:
                outer.requests += 1
                self.send_response(307)
                self.send_header("Location", target + self.path)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = _redirect

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _loopback_with_free_443(taken: set[str]) -> str:
    for _ in range(50):
        a, b, c = (secrets.randbelow(n) for n in (180, 255, 240))
        ip = f"127.{a + 64}.{b}.{c + 2}"
        if ip not in taken and port_is_free(ip, 443) and port_is_free(ip, 80):
            return ip
    raise RuntimeError("no loopback address with free ports 80 and 443")


class World:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.password = "pw-" + secrets.token_urlsafe(18)
        remember(self.password, b64_credential(USER, self.password))
        self.tls_ip = _loopback_with_free_443(set())
        self.dead_ip = _loopback_with_free_443({self.tls_ip})
        self.cert, key = _certificate(base / "tls", [REGISTRY, HUB_API])
        self.basic = TlsRegistry(
            base / "tls-basic", self.tls_ip, 443, [(USER, self.password)], self.cert, key
        )
        # Token auth over TLS whose realm is plain http on a name that is not loopback.
        self.tokens = TokenServer(base / "tokens", [(USER, self.password)])
        realm = f"http://{REALM_HOST}:{self.tokens.port}/token"
        self.tls_token_port = free_port(self.tls_ip)
        self.tls_token = TlsRealmRegistry(
            base / "tls-token", self.tls_ip, self.tls_token_port, self.tokens, realm, self.cert, key
        )
        # Plain-http loopback token registries: one names the token server, one a redirector.
        # The redirector binds its port first: free_port() releases the port it finds,
        # and a server binding port 0 after it may be handed that very port.
        self.redirector = Redirector(f"http://127.0.0.1:{self.tokens.port}")
        self.token = RealmRegistry(
            base / "token", "127.0.0.1", free_port(), self.tokens, self.tokens.realm
        )
        self.redirected = RealmRegistry(
            base / "redirected",
            "127.0.0.1",
            free_port(),
            self.tokens,
            self.redirector.url + "/token",
        )
        hosts = base / "hosts"
        write_hosts_file(hosts, self.tls_ip, [REGISTRY, HUB_API])
        with hosts.open("a") as handle:
            handle.write(f"127.0.0.1 {REALM_HOST}\n{self.dead_ip} docker.io index.docker.io\n")
        self.hosts = hosts

    def start(self) -> None:
        self.tokens.start()
        for server in (self.basic, self.tls_token, self.token, self.redirected):
            server.start()

    def stop(self) -> None:
        for server in (self.basic, self.tls_token, self.token, self.redirected):
            server.stop()
        self.redirector.close()
        self.tokens.stop()


@pytest.fixture(scope="module")
def world(e2e_base: Path) -> Iterator[World]:
    require_programs("docker-registry", "unshare", "mount")
    found = World(e2e_base / "https-and-realms")
    try:
        found.start()
        yield found
    finally:
        found.stop()


def doctor(sandbox: Sandbox, world: World, registry: str, image: str):  # type: ignore[no-untyped-def]
    """configure a truss whose base image is ``image`` on ``registry``, then doctor it in
    the namespace where the test names resolve, with the debug log on."""
    truss = sandbox.root / "my-truss"
    truss.mkdir(exist_ok=True)
    config = {
        "base_image": {
            "image": image,
            "docker_auth": {
                "auth_method": "REGISTRY_SECRET",
                "registry": registry,
                "secret_name": "registry_pw",
            },
        },
        "secrets": {"registry_pw": None},
    }
    (truss / "config.yaml").write_text(yaml.safe_dump(config))
    expect_ok(sandbox.run_helper("configure", args=[str(truss)]), "configure")
    sandbox.put_secret("env", "registry_pw", b64_credential(USER, world.password))
    sandbox.env.update(SSL_CERT_FILE=str(world.cert), DOCKER_CREDENTIAL_TRUSS_DEBUG="1")
    sandbox.env["DOCKER_CREDENTIAL_TRUSS_TIMEOUT"] = "5"
    result = sandbox.run(
        namespace_argv(world.hosts, ["docker-credential-truss", "doctor", registry])
    )
    log = sandbox.state_home / "docker-credential-truss" / "log" / "debug.log"
    text = log.read_text() if log.exists() else ""
    assert_no_secret(result.stdout + result.stderr + text, "doctor's report or debug log")
    return result


def test_an_https_registry_is_checked_over_https(sandbox: Sandbox, world: World) -> None:
    mark = world.basic.log_mark()
    result = doctor(sandbox, world, REGISTRY, f"{REGISTRY}/absent:1")
    check(
        f"registry accepted the credential: GET https://{REGISTRY}/v2/ -> 200 (Basic)"
        in result.stdout,
        f"doctor must log in over https\n{describe(result)}",
    )
    check("plain http" not in result.stdout, f"no plain http for {REGISTRY}\n{describe(result)}")
    check(
        '"GET /v2/ HTTP/' in world.basic.log_since(mark),
        "the TLS registry must have been asked",
    )


def test_docker_hub_is_asked_at_its_api_host(sandbox: Sandbox, world: World) -> None:
    mark = world.basic.log_mark()
    result = doctor(sandbox, world, "docker.io", "myorg/absent:1")
    check(
        f"registry accepted the credential: GET https://{HUB_API}/v2/ -> 200 (Basic)"
        in result.stdout,
        f"doctor must log in to Docker Hub at {HUB_API}\n{describe(result)}",
    )
    check(
        "FAIL  image myorg/absent:1: not found (HTTP 404" in result.stdout,
        f"the image is looked up at {HUB_API} as myorg/absent\n{describe(result)}",
    )
    check(
        '"HEAD /v2/myorg/absent/manifests/1 HTTP/' in world.basic.log_since(mark),
        "the image must have been asked of registry-1.docker.io",
    )


def test_a_plain_http_realm_of_an_https_registry_gets_no_credential(
    sandbox: Sandbox, world: World
) -> None:
    netloc = f"{REGISTRY}:{world.tls_token_port}"
    mark = world.tokens.mark()
    result = doctor(sandbox, world, netloc, f"{netloc}/private/tiny:1")
    check(result.returncode == 1, f"doctor must fail\n{describe(result)}")
    check(
        f"the token realm http://{REALM_HOST}:{world.tokens.port}/token is plain http;"
        " the credential is not sent there" in result.stdout,
        f"doctor must say why it sent nothing\n{describe(result)}",
    )
    check(world.tokens.events_since(mark) == [], "the plain-http realm must see no request")


def test_a_token_realms_redirect_is_not_followed_with_the_credential(
    sandbox: Sandbox, world: World
) -> None:
    netloc = world.redirected.netloc
    mark = world.tokens.mark()
    before = world.redirector.requests
    result = doctor(sandbox, world, netloc, f"{netloc}/private/tiny:1")
    check(result.returncode == 1, f"doctor must fail\n{describe(result)}")
    check(
        f"token realm {world.redirector.url}/token answered HTTP 307" in result.stdout,
        f"doctor must report the redirect as the realm's answer\n{describe(result)}",
    )
    check(world.redirector.requests > before, "the realm that redirects must have been asked")
    check(
        world.tokens.events_since(mark) == [],
        "the credential must not follow the redirect to the token server",
    )


def test_the_images_token_is_asked_with_pull_scope_only(sandbox: Sandbox, world: World) -> None:
    netloc = world.token.netloc
    mark = world.tokens.mark()
    result = doctor(sandbox, world, netloc, f"{netloc}/private/absent:1")
    check(
        "registry accepted the credential" in result.stdout
        and f"FAIL  image {netloc}/private/absent:1: not found (HTTP 404" in result.stdout,
        f"doctor must log in, then find the image missing\n{describe(result)}",
    )
    events = world.tokens.events_since(mark)
    check(
        [e["scopes"] for e in events] == [[], ["repository:private/absent:pull"]]
        and all(e["user"] == USER and e["ok"] for e in events),
        f"one login token, then one with pull scope only for the image: {events}",
    )

"""Which CAs an https request trusts, in-process: docker's certs.d for that host:port, the
rootless one, and the system store as Go finds it.

Each test makes a CA, serves https for ``reg.test`` (resolved to 127.0.0.1 by the test)
with a certificate it signed, and sees whether :mod:`webclient` gets through with the
trust :mod:`tlstrust` chose: the handshake is the judge, not the list of files.
tests/harden/test_harden_tls_trust.py runs the installed command the same way.
"""

from __future__ import annotations

import socket
import ssl
import subprocess

import pytest
from harden.hostile import Server, make_ca, make_leaf

from docker_credential_truss import tlstrust, webclient


@pytest.fixture
def names(monkeypatch):
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        return real("127.0.0.1" if host == "reg.test" else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture
def server(tmp_path, names):
    """An https server for reg.test: (its host:port, the PEM of the CA that signed it)."""
    made = tmp_path / "made"
    made.mkdir()
    ca = make_ca(made)
    with Server(lambda handler: (200, {}, b"{}"), tls=make_leaf(made, ca, "reg.test")) as running:
        yield f"reg.test:{running.port}", ca[2].read_bytes()


def other_ca(tmp_path) -> bytes:
    where = tmp_path / "other"
    where.mkdir(exist_ok=True)
    return make_ca(where, "another CA")[2].read_bytes()  # not the server's: another name


def put(path, data: bytes) -> str:  # type: ignore[no-untyped-def]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return str(path)


def reached(host: str, trust: tlstrust.Trust) -> str:
    """ "200" when the handshake trusted the server, else why not."""
    client = webclient.Client({"DOCKER_CREDENTIAL_TRUSS_TIMEOUT": "5"}, 1024, lambda: trust)
    try:
        return str(client.send("GET", f"https://{host}/v2/").status)
    except webclient.Unreachable as exc:
        return exc.reason


def test_the_ca_of_certs_d_for_that_host_and_port_is_trusted(tmp_path, env, server):
    host, ca = server
    root = tmp_path / "certs.d"
    put(root / "reg.test" / "ca.crt", other_ca(tmp_path))  # the host without the port: not it
    wanted = put(root / host / "ca.crt", ca)
    trust = tlstrust.trust(env, host, str(root))
    assert trust.docker_files == [wanted]
    assert reached(host, trust) == "200"


def test_without_it_the_handshake_fails_on_the_certificate(tmp_path, env, server):
    host, _ = server
    root = tmp_path / "certs.d"
    put(root / host / "ca.crt", other_ca(tmp_path))
    assert reached(host, tlstrust.trust(env, host, str(root))).startswith("TLS: ")
    # no host named: certs.d is not looked at
    put(root / host / "ca.crt", server[1])
    trust = tlstrust.trust(env, None, str(root))
    assert trust.docker_files == []
    assert reached(host, trust).startswith("TLS: ")


def test_rootless_dockers_certs_d_is_trusted_too(tmp_path, env, server):
    host, ca = server
    system = put(tmp_path / "certs.d" / host / "a.crt", other_ca(tmp_path))
    rootless = put(tmp_path / "xdg-config" / "docker" / "certs.d" / host / "ca.crt", ca)
    trust = tlstrust.trust(env, host, str(tmp_path / "certs.d"))
    assert trust.docker_files == [system, rootless]
    assert reached(host, trust) == "200"


def test_rootless_certs_d_is_under_home_config_without_xdg_config_home(tmp_path, env, server):
    host, ca = server
    env = {k: v for k, v in env.items() if k != "XDG_CONFIG_HOME"}
    rootless = put(tmp_path / "home" / ".config" / "docker" / "certs.d" / host / "ca.crt", ca)
    trust = tlstrust.trust(env, host, str(tmp_path / "none"))
    assert trust.docker_files == [rootless]
    assert reached(host, trust) == "200"


def test_without_home_the_users_home_is_used(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    found = put(tmp_path / "user" / ".config" / "docker" / "certs.d" / "h:1" / "ca.crt", b"x")
    assert tlstrust.docker_ca_files("h:1", {}, str(tmp_path / "none")) == [found]


def test_only_crt_files_are_cas_in_the_order_docker_reads_them(tmp_path):
    directory = tmp_path / "certs.d" / "reg.test:5000"
    for name in ("z.crt", "client.cert", "client.key", "ca.pem", "a.crt", "m.crt"):
        put(directory / name, b"x")
    assert tlstrust.docker_ca_files(
        "reg.test:5000", {"HOME": str(tmp_path)}, str(tmp_path / "certs.d")
    ) == [str(directory / name) for name in ("a.crt", "m.crt", "z.crt")]


def test_a_ca_file_that_is_not_a_certificate_is_an_error(tmp_path, env):
    put(tmp_path / "certs.d" / "reg.test" / "ca.crt", b"not a certificate")
    with pytest.raises(ssl.SSLError):
        tlstrust.trust(env, "reg.test", str(tmp_path / "certs.d"))


def test_ssl_cert_file_is_the_system_store(tmp_path, env, server):
    host, ca = server
    bundle = put(tmp_path / "bundle.pem", ca)
    trust = tlstrust.trust({**env, "SSL_CERT_FILE": f" {bundle} "}, host, str(tmp_path / "none"))
    assert trust.system_file == bundle
    assert trust.describe() == f"the system store ({bundle})"
    assert reached(host, trust) == "200"


def test_the_ca_directories_go_probes_are_trusted_with_a_bundle_of_its_list(
    tmp_path, env, server, monkeypatch
):
    host, ca = server
    hashed = tmp_path / "hashed"
    put(hashed / "ca.pem", ca)
    subprocess.run(["openssl", "rehash", str(hashed)], check=True, capture_output=True)
    monkeypatch.setattr(tlstrust, "CA_DIRS", (str(tmp_path / "absent"), str(hashed)))
    bundle = put(tmp_path / "bundle.pem", other_ca(tmp_path))
    trust = tlstrust.trust({**env, "SSL_CERT_FILE": bundle}, host, str(tmp_path / "none"))
    assert reached(host, trust) == "200"


class Paths:
    def __init__(self, cafile):  # type: ignore[no-untyped-def]
        self.cafile = cafile


def test_the_system_store_is_openssls_own_file_when_it_is_there(tmp_path, monkeypatch):
    own = put(tmp_path / "own.pem", b"x")
    monkeypatch.setattr(ssl, "get_default_verify_paths", lambda: Paths(own))
    assert tlstrust.system_ca_file({"SSL_CERT_FILE": "  "}) == own


@pytest.mark.parametrize("own", [None, "missing.pem", "directory"])
def test_else_the_first_bundle_of_gos_list_that_exists(tmp_path, monkeypatch, own):
    (tmp_path / "directory").mkdir()
    monkeypatch.setattr(ssl, "get_default_verify_paths", lambda: Paths(own and str(tmp_path / own)))
    listed = [
        str(tmp_path / name) for name in ("first.crt", "directory", "third.crt", "fourth.crt")
    ]
    monkeypatch.setattr(tlstrust, "CA_FILES", tuple(listed))
    assert tlstrust.system_ca_file({}) is None
    put(tmp_path / "fourth.crt", b"x")
    put(tmp_path / "third.crt", b"x")
    assert tlstrust.system_ca_file({}) == listed[2]


def test_describe_names_the_docker_files_then_the_system_store():
    context = ssl.create_default_context()
    assert tlstrust.Trust(context, None, []).describe() == "the system store (no CA bundle found)"
    assert tlstrust.Trust(context, "/s.pem", ["/d/a.crt", "/d/b.crt"]).describe() == (
        "/d/a.crt, /d/b.crt and the system store (/s.pem)"
    )


def test_a_machine_without_any_ca_bundle_still_trusts_certs_d(tmp_path, env, server, monkeypatch):
    # a slim image: OpenSSL's own file is not there, nor any of Go's list
    host, ca = server
    monkeypatch.setattr(ssl, "get_default_verify_paths", lambda: Paths(str(tmp_path / "no.pem")))
    monkeypatch.setattr(tlstrust, "CA_FILES", (str(tmp_path / "absent.crt"),))
    wanted = put(tmp_path / "certs.d" / host / "ca.crt", ca)
    trust = tlstrust.trust(env, host, str(tmp_path / "certs.d"))
    assert trust.describe() == f"{wanted} and the system store (no CA bundle found)"
    assert reached(host, trust) == "200"

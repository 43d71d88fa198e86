"""doctor trusts what docker trusts, on any distribution's layout (issue 21, #6, #10).

A registry on ``tls-registry.test:<port>`` (a name, so doctor speaks https to it; it
resolves to a loopback address through a copy of ``/etc/hosts``) serves a certificate
from a CA of the test's own. The installed command runs with a copy of ``/etc`` as its
``/etc`` in a private mount namespace, and:

- #6: the CA is only in docker's per-registry trust, ``/etc/docker/certs.d/<host:port>/
  ca.crt`` (or rootless docker's ``$XDG_CONFIG_HOME/docker/certs.d``): doctor logs in
  and names the file; with the CA nowhere it fails on the certificate (the control);
- #10: the CA is in the system bundle, moved to RHEL's path
  (``/etc/pki/tls/certs/ca-bundle.crt``) with Debian's removed: doctor logs in. Run by
  tests/run with the release binary inside the Debian bullseye root as well, where the
  bundled OpenSSL looks only in Debian's place.
"""

from __future__ import annotations

import base64
import os
import subprocess

import pytest
from hardening import expect, figures, make_env, no_sentinel, run_exe, sentinel
from hostile import Server, etc_with, in_etc, loopback_ip, make_ca, make_leaf, portable_root

COUNTS = figures("TLS trust (certs.d, CA bundle layouts)")
NAME = "tls-registry.test"
DEBIAN_BUNDLE = "ssl/certs/ca-certificates.crt"
RHEL_BUNDLE = "pki/tls/certs/ca-bundle.crt"


@pytest.fixture(scope="module")
def tls_registry(tmp_path_factory):
    """A registry stand-in over TLS asking for Basic auth; (server, CA PEM bytes, password)."""
    directory = tmp_path_factory.mktemp("tls")
    ca = make_ca(directory)
    leaf = make_leaf(directory, ca, NAME)
    password = sentinel("tlspw")
    good = "Basic " + base64.b64encode(f"builder:{password}".encode()).decode()

    def answer(handler):
        if handler.headers.get("Authorization") == good:
            return 200, {"Content-Type": "application/json"}, b"{}"
        return 401, {"WWW-Authenticate": 'Basic realm="dct"'}, b""

    with Server(answer, ip=loopback_ip(), tls=leaf) as server:
        yield server, ca[2].read_bytes(), password


def _doctor(exe, tmp_path, server, password, put=None, remove=()):
    """doctor for the registry, configured from a truss whose secret holds ``password``."""
    env = make_env(str(tmp_path))
    # /usr/sbin: chroot, for the release binary run inside the bullseye root
    env["PATH"] = f"{os.path.dirname(exe)}:{env['PATH']}:/usr/sbin:/sbin"
    key = f"{NAME}:{server.port}"
    truss = tmp_path / "truss"
    truss.mkdir()
    (truss / "config.yaml").write_text(
        f"base_image:\n  image: {key}/img:1\n  docker_auth:\n    auth_method: REGISTRY_SECRET\n"
        f"    registry: {key}\n    secret_name: registry_pw\nsecrets:\n  registry_pw: null\n"
    )
    code, out, _ = run_exe(exe, env, "configure", str(truss))
    expect(code == 0, f"configure: {out[-300:]!r}")
    env["TRUSS_SECRET_registry_pw"] = base64.b64encode(f"builder:{password}".encode()).decode()
    if portable_root(exe) is not None:  # the root sees /tmp only: keep its files there
        expect(str(tmp_path).startswith("/tmp/"), f"{tmp_path} is not under /tmp")
    etc = etc_with(exe, tmp_path / "etc", {NAME: server.ip}, put or {}, remove)
    done = subprocess.run(
        in_etc(exe, etc, "doctor", key), env=env, capture_output=True, timeout=120
    )
    out = done.stdout.decode("utf-8", "replace")
    no_sentinel(out + done.stderr.decode("utf-8", "replace"), [password], "doctor's report")
    return out


def test_a_ca_in_docker_certs_d_is_trusted_and_named(exe, tmp_path, tls_registry):
    server, ca_pem, password = tls_registry
    key = f"{NAME}:{server.port}"
    out = _doctor(exe, tmp_path, server, password, put={f"docker/certs.d/{key}/ca.crt": ca_pem})
    expect(f"registry accepted the credential: GET https://{key}/v2/ -> 200" in out, out)
    expect(f"TLS: trusting /etc/docker/certs.d/{key}/ca.crt and the system store" in out, out)
    COUNTS["certs.d CAs trusted"] += 1


def test_a_ca_in_rootless_dockers_certs_d_is_trusted(exe, tmp_path, tls_registry):
    server, ca_pem, password = tls_registry
    key = f"{NAME}:{server.port}"
    config = tmp_path / "xdg-config"  # make_env's XDG_CONFIG_HOME
    (config / "docker" / "certs.d" / key).mkdir(parents=True)
    (config / "docker" / "certs.d" / key / "ca.crt").write_bytes(ca_pem)
    out = _doctor(exe, tmp_path, server, password)
    expect(f"registry accepted the credential: GET https://{key}/v2/ -> 200" in out, out)
    expect(f"TLS: trusting {config}/docker/certs.d/{key}/ca.crt" in out, out)
    COUNTS["rootless certs.d CAs trusted"] += 1


def test_a_ca_trusted_nowhere_fails_on_the_certificate(exe, tmp_path, tls_registry):
    server, _, password = tls_registry
    out = _doctor(exe, tmp_path, server, password)
    expect(f"FAIL  registry check: https://{NAME}:{server.port}/v2/:" in out, out)
    expect("fix: if docker trusts this registry's CA, put it in /etc/docker/certs.d/" in out, out)
    expect("registry accepted the credential" not in out, out)
    COUNTS["untrusted CAs refused"] += 1


def test_the_system_bundle_at_rhels_path_is_found(exe, tmp_path, tls_registry):
    server, ca_pem, password = tls_registry
    key = f"{NAME}:{server.port}"
    out = _doctor(
        exe, tmp_path, server, password, put={RHEL_BUNDLE: ca_pem}, remove=[DEBIAN_BUNDLE]
    )
    expect(f"registry accepted the credential: GET https://{key}/v2/ -> 200" in out, out)
    expect(f"the system store (/etc/{RHEL_BUNDLE})" in out, out)
    COUNTS["RHEL-layout bundles found" + (" (bullseye root)" if portable_root(exe) else "")] += 1

"""Servers that misbehave on purpose, for the network hardening tests (issue 21).

The real docker-registry never echoes a password or sends terminal escapes, so these
are small stand-ins that speak just enough of the registry API v2 (and of Baseten's
secrets API, and of an http proxy) to do what a hostile or broken server would, and
record what they were sent (paths and header names, never a credential's value).

- :class:`Server`: one threaded HTTP(S) server on a loopback address whose answers a
  test supplies as a function ``(handler) -> (status, headers, body)``;
- :func:`make_ca` / :func:`make_leaf`: a CA and a server certificate for a name;
- :func:`etc_with`: a copy of an ``/etc`` (the host's or the bullseye root's) with
  extra hosts, files placed and files removed, and :func:`in_etc`, the argv that runs
  the executable under test with that copy as its ``/etc`` (inside the bullseye root
  when the executable is ``build-out/portable/in-root/docker-credential-truss``).
"""

from __future__ import annotations

import datetime
import shutil
import ssl
import threading
from collections.abc import Callable, Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

Reply = tuple[int, Mapping[str, str], bytes]


class Server:
    """A threaded HTTP server on ``ip`` whose every request ``answer`` decides."""

    def __init__(
        self,
        answer: Callable[[BaseHTTPRequestHandler], Reply],
        ip: str = "127.0.0.1",
        tls: tuple[str, str] | None = None,
    ) -> None:
        self.requests: list[tuple[str, str, list[str]]] = []  # method, path, header names
        record = self.requests

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def _any(self) -> None:
                record.append((self.command, self.path, sorted(self.headers.keys())))
                status, headers, body = answer(self)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_POST = do_HEAD = do_CONNECT = _any

        self._server = ThreadingHTTPServer((ip, 0), Handler)
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.ip = ip
        self.port = self._server.server_address[1]
        self.url = f"{'https' if tls else 'http'}://{ip}:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    def __enter__(self) -> Server:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def make_ca(directory: Path, name: str = "dct test CA") -> tuple[object, object, Path]:
    """(certificate, key, PEM path) of a fresh CA named ``name``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    path = directory / "ca.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert, key, path


def make_leaf(directory: Path, ca: tuple[object, object, Path], host: str) -> tuple[str, str]:
    """(certificate file, key file) for ``host``, signed by ``ca``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    ca_cert, ca_key, _ = ca
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca_cert.subject)  # type: ignore[attr-defined]
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    cert_path, key_path = directory / f"{host}.crt", directory / f"{host}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


def portable_root(exe: str) -> Path | None:
    """The bullseye root when ``exe`` is packaging/portable.sh's in-root wrapper."""
    path = Path(exe).resolve()
    if path.parent.name == "in-root" and (path.parent.parent / "bullseye").is_dir():
        return path.parent.parent / "bullseye"
    return None


def etc_with(
    exe: str,
    target: Path,
    hosts: Mapping[str, str] = {},
    put: Mapping[str, bytes] = {},
    remove: Iterable[str] = (),
) -> Path:
    """A copy of the ``/etc`` the executable sees, changed: hosts added, files put/removed."""
    root = portable_root(exe)
    source = root / "etc" if root else Path("/etc")
    shutil.copytree(source, target, symlinks=True, ignore_dangling_symlinks=True)
    with open(target / "hosts", "a") as handle:
        handle.write("".join(f"{ip} {name}\n" for name, ip in hosts.items()))
    for relative in remove:
        path = target / relative
        if path.is_symlink() or path.exists():
            path.unlink()
    for relative, data in put.items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink():
            path.unlink()
        path.write_bytes(data)
    return target


def in_etc(exe: str, etc: Path, *args: str) -> list[str]:
    """argv running ``exe args`` with ``etc`` as its /etc, in a private mount namespace."""
    root = portable_root(exe)
    if root is None:
        script = 'mount --bind "$0" /etc && exec "$@"'
        return ["unshare", "-m", "sh", "-c", script, str(etc), exe, *args]
    bundle = "/opt/docker-credential-truss/docker-credential-truss"
    script = (
        'root=$1; shift; for d in tmp proc dev; do mount --rbind "/$d" "$root/$d"; done'
        ' && mount --bind "$0" "$root/etc" && exec chroot "$root" "$@"'
    )
    return ["unshare", "-m", "sh", "-c", script, str(etc), str(root), bundle, *args]


def loopback_ip() -> str:
    """A random 127.x.y.z address (all of 127.0.0.0/8 is loopback on Linux)."""
    import random

    rng = random.SystemRandom()
    return f"127.{rng.randint(64, 250)}.{rng.randint(0, 255)}.{rng.randint(2, 250)}"

"""Which certificate authorities the helper's own https requests trust: docker's choice.

Two parts, as docker has them:

- the system store. OpenSSL looks where it was built to look (``/usr/lib/ssl`` for
  Debian's), which is right for a pip-installed helper on the system's Python but not
  for the release binary, which carries Debian bullseye's OpenSSL onto RHEL, Amazon
  Linux, SUSE or Alpine. So when ``SSL_CERT_FILE`` is unset and OpenSSL's own file is
  missing, the first bundle of the list Go's ``crypto/x509`` probes (what docker uses
  on the same machine) is loaded, and the directories it probes are added;
- per registry, what docker trusts for that host only: every ``*.crt`` in
  ``/etc/docker/certs.d/<host[:port]>/`` and, for rootless docker,
  ``$XDG_CONFIG_HOME/docker/certs.d/<host[:port]>/`` (``~/.config`` by default).

:class:`Trust` says which files it used, so ``doctor`` can say it. The clouds' SDKs
(botocore, google-auth) carry their own bundles and are not concerned.
"""

from __future__ import annotations

import os
import ssl

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

#: Go's crypto/x509 root_linux.go, in its order.
CA_FILES = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu, Gentoo, Arch
    "/etc/pki/tls/certs/ca-bundle.crt",  # Fedora, RHEL 6, Amazon Linux
    "/etc/ssl/ca-bundle.pem",  # openSUSE, SLES
    "/etc/pki/tls/cacert.pem",  # OpenELEC
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",  # CentOS, RHEL 7+
    "/etc/ssl/cert.pem",  # Alpine
)
CA_DIRS = ("/etc/ssl/certs", "/etc/pki/tls/certs")
DOCKER_CERTS_D = "/etc/docker/certs.d"


class Trust:
    """An SSL context and the CA files it was given (what ``doctor`` reports)."""

    __slots__ = ("context", "docker_files", "system_file")

    def __init__(self, context: ssl.SSLContext, system_file: str | None, docker_files: list[str]):
        self.context = context
        self.system_file = system_file
        self.docker_files = docker_files

    def describe(self) -> str:
        system = f"the system store ({self.system_file or 'no CA bundle found'})"
        if not self.docker_files:
            return system
        return f"{', '.join(self.docker_files)} and {system}"


def system_ca_file(env: Mapping[str, str]) -> str | None:
    """The system bundle this process trusts: ``SSL_CERT_FILE``, OpenSSL's, or Go's probe."""
    given = env.get("SSL_CERT_FILE", "").strip()
    if given:
        return given
    own = ssl.get_default_verify_paths().cafile
    if own and os.path.isfile(own):
        return own
    return next((path for path in CA_FILES if os.path.isfile(path)), None)


def docker_ca_files(host: str, env: Mapping[str, str], root: str = DOCKER_CERTS_D) -> list[str]:
    """The ``*.crt`` files docker trusts for ``host`` (``name[:port]``), system-wide and
    rootless, sorted as docker reads them."""
    config = env.get("XDG_CONFIG_HOME") or os.path.join(
        env.get("HOME") or os.path.expanduser("~"), ".config"
    )
    found: list[str] = []
    for base in (root, os.path.join(config, "docker", "certs.d")):
        directory = os.path.join(base, host)
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            continue
        found += [os.path.join(directory, n) for n in names if n.endswith(".crt")]
    return found


def trust(env: Mapping[str, str], host: str | None = None, root: str = DOCKER_CERTS_D) -> Trust:
    """The context for https requests (to ``host``'s registry, when given).

    Raises ``ssl.SSLError`` or ``OSError`` for a CA file that cannot be loaded; the
    caller says which.
    """
    context = ssl.create_default_context()
    system = system_ca_file(env)
    if system and system != ssl.get_default_verify_paths().cafile:
        context.load_verify_locations(cafile=system)
        for directory in CA_DIRS:
            if os.path.isdir(directory):
                context.load_verify_locations(capath=directory)
    docker = docker_ca_files(host, env, root) if host else []
    for path in docker:
        context.load_verify_locations(cafile=path)
    return Trust(context, system, docker)

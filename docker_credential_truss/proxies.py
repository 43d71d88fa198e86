"""Which proxy a request goes through: the choice docker makes, loopback never proxied.

docker (Go's ``net/http.ProxyFromEnvironment``, package ``golang.org/x/net/http/httpproxy``)
reads ``HTTPS_PROXY``/``https_proxy`` for https URLs and ``HTTP_PROXY``/``http_proxy``
for http ones (the upper-case name first), and skips the proxy for:

- ``localhost`` and loopback addresses, always: a credential for a registry on this
  machine never crosses the network in clear to a proxy (Python's urllib would send it);
- the hosts ``NO_PROXY``/``no_proxy`` names: ``*`` for all; an IP address or a CIDR
  range; a domain, which covers its subdomains too (a leading ``.`` or ``*.`` means
  subdomains only); each optionally with ``:port``.

A proxy given without a scheme is ``http://``, as in Go. Only http(s) proxies are
spoken (urllib's ``CONNECT`` for https); a ``socks5://`` proxy is refused with a line
that says so rather than bypassed. Here rather than in urllib's ``ProxyHandler``,
whose choice reads ``os.environ`` (not the environment the helper was given), proxies
loopback, and matches ``no_proxy`` by string suffix.
"""

from __future__ import annotations

import ipaddress
import urllib.parse

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping


class Proxy:
    """A proxy to use: its URL, that URL without user info (to show), and the variable."""

    __slots__ = ("password", "shown", "url", "variable")

    def __init__(self, url: str, variable: str) -> None:
        self.url = url
        self.variable = variable
        parts = urllib.parse.urlsplit(url)
        #: a proxy's password, to register for masking before anything can quote it
        self.password = urllib.parse.unquote(parts.password or "")
        self.shown = f"{parts.scheme}://{parts.hostname or ''}" + (
            f":{parts.port}" if parts.port else ""
        )


class UnsupportedProxy(ValueError):
    """The environment names a proxy this helper cannot speak; the message says which."""


def is_loopback(host: str) -> bool:
    """``localhost`` (and its subdomains, RFC 6761), or a loopback IP address."""
    host = host.strip("[]").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def proxy_for(url: str, env: Mapping[str, str]) -> Proxy | None:
    """The proxy for ``url`` under ``env``, or None to connect directly."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if is_loopback(host):
        return None
    names = (
        ("HTTPS_PROXY", "https_proxy") if parts.scheme == "https" else ("HTTP_PROXY", "http_proxy")
    )
    variable = next((name for name in names if env.get(name, "").strip()), None)
    if variable is None:
        return None
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if _bypassed(host, port, env.get("NO_PROXY") or env.get("no_proxy") or ""):
        return None
    value = env[variable].strip()
    if "://" not in value:
        value = "http://" + value
    scheme = value.split("://", 1)[0].lower()
    if scheme not in ("http", "https"):
        raise UnsupportedProxy(
            f"{variable} names a {scheme} proxy; only http(s) proxies are supported"
        )
    return Proxy(value, variable)


def _bypassed(host: str, port: int, no_proxy: str) -> bool:
    """Whether ``no_proxy`` names ``host:port``, as Go's httpproxy reads it."""
    host = host.lower().rstrip(".")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for entry in no_proxy.split(","):
        entry = entry.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            network = None
        if network is not None:  # an address or a CIDR range: only addresses match it
            if address is not None and address in network:
                return True
            continue
        name, want = _split_entry(entry)
        if want is not None and want != port:
            continue
        if address is not None:
            if name == host:
                return True
            continue
        if name.startswith("*."):
            name = name[1:]
        if name.startswith("."):
            if host.endswith(name):
                return True
        elif host == name or host.endswith("." + name):
            return True
    return False


def _split_entry(entry: str) -> tuple[str, int | None]:
    """``host[:port]`` of a no_proxy entry (``[v6]`` and ``[v6]:port`` included).

    An entry with a bracket anywhere else (``[v6``, ``v6]``, ``[v6]]``, ``[v6]x80``) or a
    port that is not a number is returned whole: it names no address, as in Go.
    """
    if entry.startswith("["):
        inner, sep, rest = entry[1:].partition("]")
        if sep and not rest:
            return inner, None
        if sep and rest.startswith(":") and rest[1:].isdigit():
            return inner, int(rest[1:])
        return entry, None
    name, sep, port = entry.rpartition(":")
    if sep and port.isdigit() and ":" not in name:
        return name, int(port)
    return entry, None

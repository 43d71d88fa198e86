"""One HTTP request as the helper sends it: no redirects, bounded, one error vocabulary.

The registry check (:mod:`registryclient`) and the Baseten API (:mod:`basetenapi`)
both send a credential to a server they were told of, so both need the same care:

- no redirect is followed: a 3xx is the answer, and a credential never travels on to
  a host it was not meant for;
- each request waits at most the helper's request timeout for each read, and at most
  ``max_body`` bytes of the answer are read; the caller bounds the whole exchange with
  :func:`~docker_credential_truss.minting.run_within`;
- an HTTP status, error or not, is an :class:`Answer`; no answer at all is
  :class:`Unreachable`, whose reason is safe to show: the system's words for the
  failure, the exception's type name, or ``no answer within <n>s``;
- the proxy is the one docker would use (:mod:`proxies`: never for loopback), chosen
  from the environment the helper was given, and https trusts the context the caller
  passes (:mod:`tlstrust`: the system store, found on any distribution);
- a JSON answer is read by :func:`parse_json`, which refuses nesting deeper than
  :data:`MAX_DEPTH` before the parser could recurse that far.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request

from docker_credential_truss import debuglog, proxies, tlstrust
from docker_credential_truss.minting import request_timeout

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

USER_AGENT = "docker-credential-truss"
#: Deeper JSON than any API the helper reads; Python's parser recurses once per level.
MAX_DEPTH = 64


class Answer:
    """An HTTP answer: its status, its headers and the first ``max_body`` bytes of its body."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


class Unreachable(Exception):
    """A request got no HTTP answer; ``reason`` is safe to show."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is answered as is: a credential never follows it to another host."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        return None


class Client:
    """Requests under one set of bounds: each read waits at most the helper's request
    timeout (:func:`~docker_credential_truss.minting.request_timeout`), at most
    ``max_body`` bytes of an answer are read, the proxy is chosen from ``env``, and
    https trusts what ``trust()`` gives (made only for https; by default the system's
    CAs, :func:`tlstrust.trust`)."""

    def __init__(
        self,
        env: Mapping[str, str],
        max_body: int,
        trust: Callable[[], tlstrust.Trust] | None = None,
    ) -> None:
        self.env = env
        self.max_body = max_body
        self.timeout = request_timeout(env)
        self.trust = trust or (lambda: tlstrust.trust(env))

    def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None = None,
        data: bytes | None = None,
    ) -> Answer:
        """Send one request to the http(s) ``url``; the answer, or :class:`Unreachable`."""
        if not url.startswith(("https://", "http://")):
            raise Unreachable(f"{url!r} is not an http(s) URL")
        try:
            proxy = proxies.proxy_for(url, self.env)
        except proxies.UnsupportedProxy as exc:
            raise Unreachable(str(exc)) from None
        if proxy is not None and proxy.password:
            debuglog.redact(proxy.password)
        scheme = "https" if url.startswith("https://") else "http"
        handlers: list[urllib.request.BaseHandler] = [
            urllib.request.ProxyHandler({scheme: proxy.url} if proxy else {}),
            _NoRedirects(),
        ]
        if scheme == "https":
            handlers.append(urllib.request.HTTPSHandler(context=self.trust().context))
        # S310: the scheme is checked just above.
        request = urllib.request.Request(  # noqa: S310
            url, data=data, method=method, headers=dict(headers or {})
        )
        request.add_header("User-Agent", USER_AGENT)
        opener = urllib.request.build_opener(*handlers)
        try:
            with opener.open(request, timeout=self.timeout) as response:
                return Answer(response.status, response.headers, response.read(self.max_body))
        except urllib.error.HTTPError as exc:
            # the opener raises it with the response as its file: there is always a body
            return Answer(exc.code, exc.headers, exc.read(self.max_body))
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
            raise Unreachable(self._reason(exc, proxy)) from None

    def _reason(self, exc: Exception, proxy: proxies.Proxy | None) -> str:
        """Why there was no answer, in words safe to show (never the exception's text,
        which may quote the URL and its query)."""
        reason = getattr(exc, "reason", exc)
        text = getattr(reason, "strerror", None) or type(reason).__name__
        if isinstance(reason, TimeoutError) or "timed out" in str(reason):
            text = f"no answer within {self.timeout:g}s"
        elif getattr(reason, "verify_message", None):  # the certificate was not trusted
            text = f"TLS: {reason.verify_message}"
        if proxy is not None:
            text += f" (through the proxy {proxy.shown} of {proxy.variable})"
        return text


def parse_json(body: bytes) -> object:
    """``body`` as JSON; ValueError for anything else, nesting deeper than MAX_DEPTH included."""
    import re

    text = body.decode("utf-8")  # UnicodeDecodeError is a ValueError
    depth = 0
    for match in re.finditer(r'"(?:[^"\\]|\\.)*"|[\[{]|[\]}]', text):
        bracket = match.group()
        if bracket in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise ValueError(f"JSON nested deeper than {MAX_DEPTH} levels")
        elif bracket in "]}":
            depth -= 1
    return json.loads(text)

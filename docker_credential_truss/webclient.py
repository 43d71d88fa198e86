"""One HTTP request as the helper sends it: no redirects, bounded, one error vocabulary.

The registry check (:mod:`registryclient`) and the Baseten API (:mod:`basetenapi`)
both send a credential to a server they were told of, so both need the same care:

- no redirect is followed: a 3xx is the answer, and a credential never travels on to
  a host it was not meant for;
- each request waits at most ``timeout`` seconds for each read, and at most
  ``max_body`` bytes of the answer are read; the caller bounds the whole exchange with
  :func:`~docker_credential_truss.minting.run_within`;
- an HTTP status, error or not, is an :class:`Answer`; no answer at all is
  :class:`Unreachable`, whose reason is safe to show: the system's words for the
  failure, the exception's type name, or ``no answer within <n>s``.
"""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

USER_AGENT = "docker-credential-truss"


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


def send(
    method: str,
    url: str,
    *,
    timeout: float,
    max_body: int,
    headers: Mapping[str, str] | None = None,
    data: bytes | None = None,
) -> Answer:
    """Send one request to the http(s) ``url``; the answer, or :class:`Unreachable`."""
    if not url.startswith(("https://", "http://")):
        raise Unreachable(f"{url!r} is not an http(s) URL")
    # S310: the scheme is checked just above.
    request = urllib.request.Request(  # noqa: S310
        url, data=data, method=method, headers=dict(headers or {})
    )
    request.add_header("User-Agent", USER_AGENT)
    opener = urllib.request.build_opener(_NoRedirects)
    try:
        with opener.open(request, timeout=timeout) as response:
            return Answer(response.status, response.headers, response.read(max_body))
    except urllib.error.HTTPError as exc:
        body = exc.read(max_body) if exc.fp is not None else b""
        return Answer(exc.code, exc.headers, body)
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        text = getattr(reason, "strerror", None) or type(reason).__name__
        if isinstance(reason, TimeoutError) or "timed out" in str(reason):
            text = f"no answer within {timeout:g}s"
        raise Unreachable(text) from None

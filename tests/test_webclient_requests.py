"""One request as the helper sends it (webclient), in-process against small servers:
through which proxy, with which headers, how much of the answer is read, and the words
a person sees when there is no answer.
"""

from __future__ import annotations

import base64
import socket
import urllib.error

import pytest
from harden.hostile import Server, make_ca, make_leaf

from docker_credential_truss import debuglog, webclient
from docker_credential_truss.minting import run_within

PROXY_PASSWORD = "SENTINEL-proxy-pw-6a1c"
ENV = {"DOCKER_CREDENTIAL_TRUSS_TIMEOUT": "5"}


class Recorder:
    """A server that answers ``status``/``headers``/``body`` and keeps what it was sent:
    method, target (an absolute URL when it is a proxy), header values a test names."""

    def __init__(self, status: int = 200, headers: dict | None = None, body: bytes = b"{}"):
        self.seen: list[dict[str, str]] = []
        self.reply = (status, headers or {}, body)
        self.server = Server(self.answer)

    def answer(self, handler):  # type: ignore[no-untyped-def]
        length = int(handler.headers.get("Content-Length") or 0)
        self.seen.append(
            {
                "method": handler.command,
                "target": handler.path,
                "body": handler.rfile.read(length).decode() if length else "",
                **{name.lower(): value for name, value in handler.headers.items()},
            }
        )
        return self.reply

    def __enter__(self) -> Recorder:
        self.server.__enter__()
        self.url = self.server.url
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.__exit__(*exc)


def test_a_request_carries_its_headers_body_and_the_helpers_user_agent():
    with Recorder(201, {"X-Answer": "yes"}, b'{"ok": true}') as server:
        answer = webclient.Client(ENV, 1024).send(
            "POST", f"{server.url}/v1/secrets", {"Accept": "application/json"}, b'{"a": 1}'
        )
    assert (answer.status, answer.headers["X-Answer"], answer.body) == (201, "yes", b'{"ok": true}')
    (seen,) = server.seen
    assert (seen["method"], seen["target"], seen["body"]) == ("POST", "/v1/secrets", '{"a": 1}')
    assert seen["accept"] == "application/json"
    assert seen["user-agent"] == "docker-credential-truss"


def test_an_error_status_is_an_answer_with_its_headers_and_body():
    with Recorder(404, {"X-Why": "gone"}, b'{"errors": []}') as server:
        answer = webclient.Client(ENV, 1024).send("GET", f"{server.url}/v2/x")
    assert (answer.status, answer.headers["X-Why"], answer.body) == (404, "gone", b'{"errors": []}')


def test_at_most_max_body_bytes_of_an_answer_are_read():
    with Recorder(200, {}, b"a" * 100) as ok, Recorder(500, {}, b"b" * 100) as failed:
        assert webclient.Client(ENV, 10).send("GET", ok.url).body == b"a" * 10
        assert webclient.Client(ENV, 10).send("GET", failed.url).body == b"b" * 10


def test_a_redirect_is_the_answer_and_is_not_followed():
    with (
        Recorder() as elsewhere,
        Recorder(302, {"Location": f"{elsewhere.url}/stolen"}, b"") as server,
    ):
        answer = webclient.Client(ENV, 1024).send(
            "GET", f"{server.url}/v2/", {"Authorization": "Bearer SENTINEL-x"}
        )
    assert (answer.status, answer.headers["Location"]) == (302, f"{elsewhere.url}/stolen")
    assert elsewhere.seen == []


@pytest.mark.parametrize("url", ["ftp://host/x", "file:///etc/passwd", "host/v2/"])
def test_only_http_urls_are_sent(url):
    with pytest.raises(webclient.Unreachable) as raised:
        webclient.Client(ENV, 1024).send("GET", url)
    assert raised.value.reason == f"{url!r} is not an http(s) URL"


def test_plain_http_goes_through_the_http_proxy_with_its_credential():
    with Recorder() as proxy:
        port = proxy.url.rsplit(":", 1)[1]
        env = {
            **ENV,
            "HTTP_PROXY": f"http://dct:{PROXY_PASSWORD}@127.0.0.1:{port}",
            "HTTPS_PROXY": "http://127.0.0.1:9",
        }
        answer = webclient.Client(env, 1024).send("GET", "http://registry.example/v2/")
        assert answer.status == 200
    (seen,) = proxy.seen
    assert seen["target"] == "http://registry.example/v2/"
    expected = "Basic " + base64.b64encode(f"dct:{PROXY_PASSWORD}".encode()).decode()
    assert seen.get("proxy-authorization") == expected
    # the proxy's password is known to the log's masking from then on
    assert PROXY_PASSWORD not in debuglog.shown(f"via {PROXY_PASSWORD}")


def test_https_asks_the_https_proxy_for_a_tunnel_and_says_so_when_refused():
    with Recorder(403, {}, b"") as proxy:
        env = {**ENV, "HTTPS_PROXY": proxy.url, "HTTP_PROXY": "http://127.0.0.1:9"}
        with pytest.raises(webclient.Unreachable) as raised:
            webclient.Client(env, 1024).send("GET", "https://registry.example/v2/")
    assert [(s["method"], s["target"]) for s in proxy.seen] == [("CONNECT", "registry.example:443")]
    assert raised.value.reason == f"OSError (through the proxy {proxy.url} of HTTPS_PROXY)"


def test_a_proxy_the_helper_cannot_speak_is_refused_before_sending():
    env = {**ENV, "HTTPS_PROXY": "socks5://127.0.0.1:1080"}
    with pytest.raises(webclient.Unreachable) as raised:
        webclient.Client(env, 1024).send("GET", "https://registry.example/v2/")
    assert raised.value.reason == (
        "HTTPS_PROXY names a socks5 proxy; only http(s) proxies are supported"
    )


def test_a_loopback_server_is_reached_directly_despite_the_proxy():
    with Recorder() as server:
        env = {**ENV, "HTTP_PROXY": "http://127.0.0.1:9"}
        assert webclient.Client(env, 1024).send("GET", f"{server.url}/v2/").status == 200
    assert server.seen[0]["target"] == "/v2/"


def test_no_answer_is_said_in_the_systems_words():
    with socket.socket() as closed:  # bound, never listening: the connection is refused
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/v2/?q=SENTINEL-query"
        with pytest.raises(webclient.Unreachable) as raised:
            webclient.Client(ENV, 1024).send("GET", url)
    assert raised.value.reason == "Connection refused"
    assert str(raised.value) == "Connection refused"


def test_a_server_that_never_answers_is_no_answer_within_the_timeout():
    with socket.socket() as silent:  # listening, never answering
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/v2/"
        env = {"DOCKER_CREDENTIAL_TRUSS_TIMEOUT": "0.2"}
        client = webclient.Client(env, 1024)
        with pytest.raises(webclient.Unreachable) as raised:
            # as every caller does: the whole exchange is bounded too (6 x 0.2 s)
            run_within(lambda: client.send("GET", url), "test", env, "no answer")
    assert raised.value.reason == "no answer within 0.2s"


def test_https_trusts_the_system_store_of_the_environment_by_default(tmp_path, monkeypatch):
    real = socket.getaddrinfo
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, *a, **k: real("127.0.0.1" if host == "reg.test" else host, *a, **k),
    )
    ca = make_ca(tmp_path)
    server = Server(lambda handler: (200, {}, b"{}"), tls=make_leaf(tmp_path, ca, "reg.test"))
    with server:
        url = f"https://reg.test:{server.port}/v2/"
        trusted = webclient.Client({**ENV, "SSL_CERT_FILE": str(ca[2])}, 1024)
        assert trusted.send("GET", url).status == 200
        with pytest.raises(webclient.Unreachable) as raised:
            webclient.Client({**ENV, "SSL_CERT_FILE": str(tmp_path / "reg.test.crt")}, 1024).send(
                "GET", url
            )
    assert raised.value.reason.startswith("TLS: ")


def test_json_as_deep_as_the_bound_is_read_and_brackets_in_strings_do_not_count():
    depth = webclient.MAX_DEPTH
    assert webclient.parse_json(b"[" * depth + b"]" * depth) == webclient.json.loads(
        "[" * depth + "]" * depth
    )
    text = b'[{"a": "\\"[[[["}, "]]]]"]'
    assert webclient.parse_json(text) == [{"a": '"[[[['}, "]]]]"]


def test_json_one_level_deeper_than_the_bound_is_refused():
    depth = webclient.MAX_DEPTH + 1
    with pytest.raises(ValueError, match=f"JSON nested deeper than {webclient.MAX_DEPTH} levels"):
        webclient.parse_json(b"[" * depth + b"]" * depth)
    siblings = b"[" + b",".join([b"[" * 40 + b"]" * 40] * 3) + b"]"
    assert webclient.parse_json(siblings) is not None  # depth goes down again after "]"
    with pytest.raises(ValueError):
        webclient.parse_json(b"\xff")


def test_a_close_does_not_undo_more_than_its_own_open():
    depth = webclient.MAX_DEPTH - 4
    # 60 deep, ten empty arrays opened and closed there, then 10 deeper: 70 levels
    deep = "[" * depth + "[]," * 10 + "[" * 10 + "]" * 10 + "]" * depth
    with pytest.raises(ValueError, match="nested deeper"):
        webclient.parse_json(deep.encode())
    shallow = "[" * depth + "[]," * 10 + "[" * 4 + "]" * 4 + "]" * depth  # 64: the bound
    assert webclient.parse_json(shallow.encode()) is not None


@pytest.mark.parametrize(
    "error",
    [
        TimeoutError("timed out"),
        TimeoutError("_ssl.c:990: The handshake operation"),
        OSError("The read operation timed out"),
    ],
)
def test_a_failure_that_timed_out_is_said_as_no_answer_within_the_timeout(error):
    client = webclient.Client({"DOCKER_CREDENTIAL_TRUSS_TIMEOUT": "7"}, 1024)
    assert client._reason(urllib.error.URLError(error), None) == "no answer within 7s"
    assert client._reason(error, None) == "no answer within 7s"


def test_other_failures_are_said_by_the_systems_words_or_their_type():
    client = webclient.Client({}, 1024)
    refused = ConnectionRefusedError(111, "Connection refused")
    assert client._reason(urllib.error.URLError(refused), None) == "Connection refused"
    assert client._reason(ValueError("http://user:SENTINEL@host/?q"), None) == "ValueError"


def test_the_proxy_is_chosen_by_the_urls_own_scheme_whatever_its_query_holds():
    with Recorder() as proxy:
        env = {**ENV, "HTTP_PROXY": proxy.url}
        url = "http://registry.example/v2/?next=https://elsewhere.example/"
        assert webclient.Client(env, 1024).send("GET", url).status == 200
    assert [s["target"] for s in proxy.seen] == [url]

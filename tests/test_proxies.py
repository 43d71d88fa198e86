"""The proxy choice (docker's, loopback never proxied), JSON depth, and what is shown."""

import pytest

from docker_credential_truss import debuglog
from docker_credential_truss.proxies import UnsupportedProxy, is_loopback, proxy_for
from docker_credential_truss.webclient import MAX_DEPTH, parse_json

ENV = {
    "HTTPS_PROXY": "proxy.example:3128",
    "http_proxy": "http://user:pa%3Ass@proxy.example:8080",
    "NO_PROXY": "internal.example, .corp.example, *.svc.example, 10.0.0.0/8, [fd00::1],"
    " reg.example:5000",
}


@pytest.mark.parametrize(
    ("url", "proxy"),
    [
        ("http://127.0.0.1:5000/v2/", None),
        ("https://127.9.8.7/v2/", None),
        ("http://localhost:5000/v2/", None),
        ("http://api.localhost:8000/v1/secrets", None),
        ("http://[::1]:5000/v2/", None),
        ("https://ghcr.io/v2/", "http://proxy.example:3128"),
        ("http://ghcr.io/v2/", "http://user:pa%3Ass@proxy.example:8080"),
        ("https://internal.example/v2/", None),
        ("https://a.internal.example/v2/", None),
        ("https://notinternal.example/v2/", "http://proxy.example:3128"),
        ("https://corp.example/v2/", "http://proxy.example:3128"),
        ("https://x.corp.example/v2/", None),
        ("https://svc.example/v2/", "http://proxy.example:3128"),
        ("https://a.svc.example/v2/", None),
        ("https://10.1.2.3/v2/", None),
        ("https://11.1.2.3/v2/", "http://proxy.example:3128"),
        ("https://[fd00::1]/v2/", None),
        ("https://reg.example:5000/v2/", None),
        ("https://reg.example/v2/", "http://proxy.example:3128"),
    ],
)
def test_proxy_choice_follows_go_and_never_proxies_loopback(url, proxy):
    chosen = proxy_for(url, ENV)
    assert (chosen.url if chosen else None) == proxy


def test_loopback_is_direct_even_with_no_no_proxy():
    assert proxy_for("http://127.0.0.1:5000/v2/", {"http_proxy": "http://p:1"}) is None


def test_a_proxy_is_shown_without_its_password_and_its_password_known():
    chosen = proxy_for("http://ghcr.io/v2/", ENV)
    assert chosen.shown == "http://proxy.example:8080" and chosen.variable == "http_proxy"
    assert chosen.password == "pa:ss"


def test_upper_case_first_and_star_bypasses_all():
    env = {"HTTPS_PROXY": "http://upper:1", "https_proxy": "http://lower:1"}
    assert proxy_for("https://ghcr.io/", env).url == "http://upper:1"
    assert proxy_for("https://ghcr.io/", {**env, "no_proxy": "*"}) is None


def test_a_socks_proxy_is_refused_not_bypassed():
    with pytest.raises(UnsupportedProxy, match="socks5 proxy"):
        proxy_for("https://ghcr.io/", {"HTTPS_PROXY": "socks5://p:1080"})


def test_json_deeper_than_the_bound_is_refused_before_parsing():
    assert parse_json(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) is not None
    with pytest.raises(ValueError, match="nested deeper"):
        parse_json(b"[" * 100_000 + b"]" * 100_000)
    assert parse_json(b'{"a": "[[[[\\"{{{{"}') == {"a": '[[[["{{{{'}


def test_shown_masks_secrets_and_makes_controls_visible():
    debuglog.redact("sekret-value-77")
    try:
        text = debuglog.shown("code sekret-value-77 \x1b[2J\x9b\u202e\r\nend")
    finally:
        debuglog.close()
    assert text == "code [redacted] \\x1b[2J\\x9b\\u202e\\x0d\\x0aend"


@pytest.mark.parametrize(
    ("url", "no_proxy", "direct"),
    [
        ("https://ghcr.io./v2/", "ghcr.io", True),  # the root's dot changes no name
        ("https://ghcr.io/v2/", "  GHCR.IO ,", True),
        ("https://ghcr.io/v2/", ",, ,", False),
        ("https://ghcr.io/v2/", "ghcr.io:443", True),  # https's port when none is given
        ("http://ghcr.io/v2/", "ghcr.io:80", True),
        ("https://ghcr.io/v2/", "ghcr.io:80", False),
        ("https://ghcr.io:5000/v2/", "ghcr.io:5000", True),
        ("https://10.example/v2/", "10.0.0.0/8", False),  # a range holds addresses only
        ("https://10.1.2.3/v2/", "10.1.2.3", True),
        ("https://10.1.2.3/v2/", "10.1.2.4", False),
        ("https://10.1.2.3:5000/v2/", "10.1.2.3:5000", True),
        ("https://10.1.2.3/v2/", "10.1.2.3:5000", False),
        ("https://[fd00::1]:5000/v2/", "[fd00::1]:5000", True),
        ("https://[fd00::1]/v2/", "[fd00::1]:5000", False),
        ("https://[fd00::1]/v2/", "[fd00::2]", False),
        ("https://10.1.2.3/v2/", "example.com", False),  # a name never matches an address
        ("https://ghcr.io/v2/", "ghcr.io:https", False),  # not a port: the whole entry
        # a stray bracket, or a port that is not a number: the whole entry, no address
        ("https://[fd00::1]/v2/", "[fd00::1", False),
        ("https://[fd00::1]/v2/", "fd00::1]", False),
        ("https://[fd00::1]/v2/", "[fd00::1]]", False),
        ("https://[fd00::1]:5000/v2/", "[fd00::1]]:5000", False),
        ("https://[fd00::1]:80/v2/", "[fd00::1]x80", False),
        ("https://[fd00::1]/v2/", "[fd00::1]:https", False),
        ("https://10.1.2.3:80/v2/", "10.1.2.3]:80", False),
        ("https://[fd00::1]/v2/", "[fd00::1]:x443", False),
        ("https://[fd00::1]:8/v2/", "[fd00::1]:8", True),  # a port of one digit
        # an IPv6 address with a port needs its brackets, as in Go
        ("https://[1:2:3:4:5:6:7:8]:80/v2/", "1:2:3:4:5:6:7:8:80", False),
        ("https://ghcr.io/v2/", "ghcr.io:80, ghcr.io", True),  # another port, then any
        ("https://a.ghcr.io/v2/", "*.ghcr.io", True),
        ("https://ghcr.io/v2/", "*.ghcr.io", False),
        ("https://xghcr.io/v2/", "ghcr.io", False),
        ("https://xghcr.io/v2/", ".ghcr.io", False),
        ("https://ghcr.io/v2/", " , ghcr.io", True),  # an empty entry ends nothing
        ("https://10.200.0.1/v2/", "10.1.2.3/8", True),  # a range written with host bits
        ("https://10.1.2.3/v2/", "example.com, 10.1.2.3", True),  # a name, then the address
        ("https://10.1.2.3/v2/", "[fd00::2], 10.1.2.3", True),
    ],
)
def test_no_proxy_entries_as_go_reads_them(url, no_proxy, direct):
    env = {"HTTPS_PROXY": "http://p:1", "HTTP_PROXY": "http://p:2", "no_proxy": no_proxy}
    assert (proxy_for(url, env) is None) == direct


def test_upper_case_no_proxy_first():
    env = {"HTTPS_PROXY": "p:1", "NO_PROXY": "a.example", "no_proxy": "ghcr.io"}
    assert proxy_for("https://ghcr.io/", env) is not None
    assert proxy_for("https://a.example/", env) is None


@pytest.mark.parametrize(
    ("value", "url", "shown"),
    [
        ("  proxy.example:3128  ", "http://proxy.example:3128", "http://proxy.example:3128"),
        ("HTTPS://u@secure.example", "HTTPS://u@secure.example", "https://secure.example"),
        ("http://[fd00::9]:8080", "http://[fd00::9]:8080", "http://fd00::9:8080"),
    ],
)
def test_a_proxy_value_as_given_and_as_shown(value, url, shown):
    chosen = proxy_for("https://ghcr.io/", {"https_proxy": value})
    assert (chosen.url, chosen.shown, chosen.variable, chosen.password) == (
        url,
        shown,
        "https_proxy",
        "",
    )


def test_a_blank_proxy_variable_is_none_and_the_next_is_read():
    env = {"HTTPS_PROXY": "  ", "https_proxy": "http://lower:1", "HTTP_PROXY": "http://plain:1"}
    assert proxy_for("https://ghcr.io/", env).variable == "https_proxy"
    assert proxy_for("https://ghcr.io/", {"HTTP_PROXY": "http://plain:1"}) is None


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("LOCALHOST.", True),
        ("LOCALHOSTX", False),  # upper case is read as lower case, and nothing is cut
        ("[::1]", True),
        ("127.0.0.2", True),
        ("a.b.localhost", True),
        ("localhost.example", False),
        ("notlocalhost", False),
        ("::2", False),
        ("", False),
    ],
)
def test_what_is_loopback(host, loopback):
    assert is_loopback(host) == loopback


def test_socks_is_refused_whatever_its_case_and_names_the_variable():
    with pytest.raises(UnsupportedProxy) as raised:
        proxy_for("http://ghcr.io/", {"http_proxy": "SOCKS5H://p:1080"})
    assert str(raised.value) == (
        "http_proxy names a socks5h proxy; only http(s) proxies are supported"
    )


@pytest.mark.parametrize("host", ["ghcr.io", "xxxx", "registry.internal"])
def test_without_no_proxy_every_host_goes_through_the_proxy(host):
    chosen = proxy_for(f"https://{host}/v2/", {"HTTPS_PROXY": "http://proxy.example:3128"})
    assert chosen is not None and chosen.url == "http://proxy.example:3128"


def test_a_url_without_a_host_matches_no_no_proxy_name():
    env = {"HTTPS_PROXY": "http://proxy.example:3128", "NO_PROXY": "xxxx, example.com"}
    assert proxy_for("https:///v2/", env) is not None


def test_a_proxy_whose_url_quotes_another_url_is_still_an_http_proxy():
    value = "http://proxy.example:3128/?via=socks5://elsewhere"
    chosen = proxy_for("https://ghcr.io/", {"https_proxy": value})
    assert (chosen.url, chosen.shown) == (value, "http://proxy.example:3128")


def test_a_proxy_without_a_host_is_shown_without_one():
    chosen = proxy_for("https://ghcr.io/", {"https_proxy": "http://user:pw@:3128"})
    assert chosen.shown == "http://:3128"

"""What hostile servers, proxies and DNS do to the network-facing commands (issue 21).

Each finding of the red-team pass, reproduced through the installed command against a
stand-in that misbehaves on purpose (hostile.py), and judged by what was printed and
what the stand-ins were sent:

- #1: a registry (or token realm) that answers with the password as its error code,
  and a Baseten API that answers with the API key as its code: neither is printed;
- #2: with ``http_proxy`` set, a loopback registry is reached directly (the proxy sees
  nothing); a registry elsewhere goes through ``HTTPS_PROXY`` and doctor says so;
- #3: terminal escapes in a manifest's ``Content-Type`` and in a realm URL reach the
  report as visible ``\\x1b`` text, not as escapes;
- #5: a DNS server that never answers cannot hold ``get`` past the mint's deadline
  (``DOCKER_CREDENTIAL_TRUSS_TIMEOUT=1``: 6 s); the resolver is told to wait 30 s x 5
  attempts, so a get that waited for it would hit HANG_GUARD;
- #9: a plain-http Baseten API override to a host other than loopback is refused
  before the key is sent; JSON nested 100,000 deep is one line, not a RecursionError.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess

import pytest
from hardening import (
    NOT_FOUND,
    check_outcome,
    expect,
    figures,
    looks_like_traceback,
    make_env,
    no_sentinel,
    run_exe,
    sentinel,
)
from hostile import Server, etc_with, in_etc, loopback_ip

COUNTS = figures("hostile servers, proxies, DNS")
HANG_GUARD = 60.0  # seconds: a get still running then has hung; not a speed bound
ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com"


def _configured(exe, tmp_path, key: str, image: str | None = None) -> tuple[dict, str]:
    """An environment whose truss pulls ``image`` from ``key`` with a REGISTRY_SECRET."""
    env = make_env(str(tmp_path))
    env["PATH"] = f"{os.path.dirname(exe)}:{env['PATH']}"
    truss = tmp_path / "truss"
    truss.mkdir()
    (truss / "config.yaml").write_text(
        f"base_image:\n  image: {image or key + '/img:1'}\n  docker_auth:\n"
        f"    auth_method: REGISTRY_SECRET\n    registry: {key}\n    secret_name: registry_pw\n"
        "secrets:\n  registry_pw: null\n"
    )
    code, out, _ = run_exe(exe, env, "configure", str(truss))
    expect(code == 0, f"configure: {out[-300:]!r}")
    password = sentinel("pw")
    env["TRUSS_SECRET_registry_pw"] = base64.b64encode(f"builder:{password}".encode()).decode()
    return env, password


def _basic(password: str) -> str:
    return "Basic " + base64.b64encode(f"builder:{password}".encode()).decode()


def _baseten_failed(code: int, out: bytes, err: str) -> str:
    """The one line a failed ``baseten`` printed (on stderr, as human commands do)."""
    expect(code == 1 and out == b"", f"baseten: exit {code}, stdout {out[-200:]!r}")
    expect(not looks_like_traceback(err) and err.count("\n") == 1, f"baseten: {err!r}")
    return err


def _doctor(exe, env, key, *secrets: str) -> str:
    code, out, err = run_exe(exe, env, "doctor", key)
    check_outcome("doctor", code, out, err)
    no_sentinel(out + err.encode(), secrets, "doctor's report")
    return out.decode("utf-8", "replace")


# -- #1: secrets echoed by a server ------------------------------------------------------


def test_a_registry_echoing_the_password_as_its_error_code_is_masked(exe, tmp_path):
    holder: dict[str, str] = {}

    def answer(handler):
        if handler.headers.get("Authorization"):
            body = {"errors": [{"code": holder["password"], "message": "no"}]}
            return 401, {"Content-Type": "application/json"}, json.dumps(body).encode()
        return 401, {"WWW-Authenticate": 'Basic realm="x"'}, b""

    with Server(answer) as registry:
        key = f"127.0.0.1:{registry.port}"
        env, holder["password"] = _configured(exe, tmp_path, key)
        out = _doctor(exe, env, key, holder["password"])
    expect(f"GET http://{key}/v2/ answered HTTP 401 [redacted]" in out, out)
    COUNTS["echoed passwords masked"] += 1


def test_a_token_realm_echoing_the_password_is_masked(exe, tmp_path):
    holder: dict[str, str] = {}

    def answer(handler):
        if handler.path.startswith("/token"):
            body = json.dumps({"error": holder["password"]}).encode()
            return 401, {"Content-Type": "application/json"}, body
        realm = f"http://127.0.0.1:{handler.server.server_address[1]}/token"
        return 401, {"WWW-Authenticate": f'Bearer realm="{realm}",service="s"'}, b""

    with Server(answer) as registry:
        key = f"127.0.0.1:{registry.port}"
        env, holder["password"] = _configured(exe, tmp_path, key)
        out = _doctor(exe, env, key, holder["password"])
    expect("/token answered HTTP 401 [redacted]" in out, out)
    COUNTS["echoed passwords masked"] += 1


def test_a_baseten_api_echoing_the_key_as_its_code_is_masked(exe, tmp_path):
    api_key = sentinel("key")

    def answer(handler):
        return 401, {"Content-Type": "application/json"}, json.dumps({"code": api_key}).encode()

    with Server(answer) as api:
        env, _ = _configured(exe, tmp_path, "ghcr.io")
        env.update(BASETEN_API_KEY=api_key, DOCKER_CREDENTIAL_TRUSS_BASETEN_API_URL=api.url)
        code, out, err = run_exe(exe, env, "baseten", "check", str(tmp_path / "truss"))
    no_sentinel(out + err.encode(), [api_key], "baseten check")
    line = _baseten_failed(code, out, err)
    expect("HTTP 401 [redacted]" in line, f"baseten check: {line!r}")
    COUNTS["echoed API keys masked"] += 1


# -- #3: terminal escapes ----------------------------------------------------------------

ESCAPES = "\x1b[2J\x1b[H\x1b[32mall good"


def test_escapes_in_a_content_type_are_shown_not_obeyed(exe, tmp_path):
    def answer(handler):
        if handler.path == "/v2/":
            return 200, {}, b"{}"
        return 200, {"Content-Type": ESCAPES}, b""

    with Server(answer) as registry:
        key = f"127.0.0.1:{registry.port}"
        env, password = _configured(exe, tmp_path, key)
        out = _doctor(exe, env, key, password)
    expect("\x1b" not in out, "an escape sequence reached the terminal")
    expect("(\\x1b[2J\\x1b[H\\x1b[32mall good)" in out, out)
    COUNTS["escape sequences made visible"] += 1


def test_escapes_in_a_realm_url_are_shown_not_obeyed(exe, tmp_path):
    def answer(handler):
        if handler.path.startswith("/tok"):
            return 401, {}, b""
        realm = f"http://127.0.0.1:{handler.server.server_address[1]}/tok{ESCAPES}"
        return 401, {"WWW-Authenticate": f'Bearer realm="{realm}",service="s"'}, b""

    with Server(answer) as registry:
        key = f"127.0.0.1:{registry.port}"
        env, password = _configured(exe, tmp_path, key)
        out = _doctor(exe, env, key, password)
    expect("\x1b" not in out, "an escape sequence reached the terminal")
    expect("/tok\\x1b[2J" in out, out)
    COUNTS["escape sequences made visible"] += 1


# -- #2: proxies ---------------------------------------------------------------------------


def _proxy_answer(handler):
    return 502, {}, b""


def test_a_loopback_registry_never_goes_through_a_proxy(exe, tmp_path):
    holder: dict[str, str] = {}

    def answer(handler):
        if handler.headers.get("Authorization") == _basic(holder["password"]):
            return 200, {}, b"{}"
        return 401, {"WWW-Authenticate": 'Basic realm="x"'}, b""

    with Server(_proxy_answer) as proxy, Server(answer) as registry:
        key = f"127.0.0.1:{registry.port}"
        env, holder["password"] = _configured(exe, tmp_path, key)
        env.update(http_proxy=proxy.url, HTTP_PROXY=proxy.url, no_proxy="", NO_PROXY="")
        out = _doctor(exe, env, key, holder["password"])
    expect(proxy.requests == [], f"the proxy was sent {len(proxy.requests)} request(s)")
    expect("no proxy for a loopback registry" in out, out)
    expect(f"registry accepted the credential: GET http://{key}/v2/ -> 200" in out, out)
    COUNTS["loopback registries kept from proxies"] += 1


def test_another_registry_goes_through_https_proxy_and_doctor_says_so(exe, tmp_path):
    with Server(_proxy_answer) as proxy:
        env, password = _configured(exe, tmp_path, "registry.proxied.test")
        env.update(HTTPS_PROXY=proxy.url)
        out = _doctor(exe, env, "registry.proxied.test", password)
    seen = [(method, path) for method, path, _ in proxy.requests]
    expect(seen and seen[0] == ("CONNECT", "registry.proxied.test:443"), f"proxy saw {seen}")
    expect(
        all("Authorization" not in names for _, _, names in proxy.requests),
        "a credential was sent to the proxy",
    )
    expect(f"registry check through the proxy {proxy.url} (HTTPS_PROXY)" in out, out)
    COUNTS["proxied registries reported"] += 1


# -- #5: DNS inside the deadline -------------------------------------------------------------


def test_a_black_holed_dns_server_cannot_hold_get_past_the_deadline(exe, tmp_path):
    """The ECR endpoint's name goes to a DNS server that never answers."""
    ip = loopback_ip()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as hole:
        hole.bind((ip, 53))
        env = make_env(str(tmp_path))
        env["PATH"] = f"{os.path.dirname(exe)}:{env['PATH']}:/usr/sbin:/sbin"
        truss = tmp_path / "truss"
        truss.mkdir()
        (truss / "config.yaml").write_text(
            f"base_image:\n  image: {ECR}/img:1\n  docker_auth:\n    auth_method: AWS_IAM\n"
            f"    registry: {ECR}\n"
        )
        expect(run_exe(exe, env, "configure", str(truss))[0] == 0, "configure failed")
        env.update(
            TRUSS_SECRET_aws_access_key_id="AKIA0123456789ABCDEF",
            TRUSS_SECRET_aws_secret_access_key=sentinel("aws"),
            DOCKER_CREDENTIAL_TRUSS_TIMEOUT="1",
        )
        resolv = f"nameserver {ip}\noptions timeout:30 attempts:5\n".encode()
        etc = etc_with(exe, tmp_path / "etc", put={"resolv.conf": resolv})
        try:
            done = subprocess.run(
                in_etc(exe, etc, "get"),
                input=ECR.encode(),
                env=env,
                capture_output=True,
                timeout=HANG_GUARD,
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"get waited for the DNS server for {HANG_GUARD:g}s")
        hole.setblocking(False)
        queries = 0
        try:
            while hole.recv(4096):
                queries += 1
        except BlockingIOError:
            pass
    err = done.stderr.decode("utf-8", "replace")
    expect(queries > 0, "the endpoint's name was never looked up")
    expect(done.returncode == 1 and done.stdout == NOT_FOUND, f"get answered {done.stdout!r}")
    expect(f"{ECR}: no credential within 6s" in err, f"another limit fired: {err!r}")
    COUNTS["DNS look-ups abandoned at the deadline"] += 1


# -- #9: the Baseten API override -------------------------------------------------------------


def _baseten_env(exe, tmp_path, api_url: str) -> tuple[dict, str]:
    env, _ = _configured(exe, tmp_path, "ghcr.io")
    api_key = sentinel("key")
    env.update(BASETEN_API_KEY=api_key, DOCKER_CREDENTIAL_TRUSS_BASETEN_API_URL=api_url)
    return env, api_key


def test_a_plain_http_baseten_override_elsewhere_is_refused_before_sending(exe, tmp_path):
    def answer(handler):
        return 200, {"Content-Type": "application/json"}, b'{"secrets": []}'

    with Server(answer, ip=loopback_ip()) as api:
        env, api_key = _baseten_env(exe, tmp_path, f"http://baseten-api.test:{api.port}")
        etc = etc_with(exe, tmp_path / "etc", hosts={"baseten-api.test": api.ip})
        argv = in_etc(exe, etc, "baseten", "check", str(tmp_path / "truss"))
        done = subprocess.run(argv, env=env, capture_output=True, timeout=60)
    err = done.stderr.decode("utf-8", "replace")
    no_sentinel(done.stdout + err.encode(), [api_key], "baseten check")
    expect(api.requests == [], f"the API key went over plain http ({len(api.requests)} requests)")
    line = _baseten_failed(done.returncode, done.stdout, err)
    expect("is plain http" in line, line)
    COUNTS["plain-http Baseten overrides refused"] += 1


def test_deeply_nested_json_from_baseten_is_one_line(exe, tmp_path):
    def answer(handler):
        return 200, {"Content-Type": "application/json"}, b"[" * 100_000 + b"]" * 100_000

    with Server(answer) as api:
        env, api_key = _baseten_env(exe, tmp_path, api.url)
        code, out, err = run_exe(exe, env, "baseten", "check", str(tmp_path / "truss"))
    no_sentinel(out + err.encode(), [api_key], "baseten check")
    line = _baseten_failed(code, out, err)
    expect("is not JSON" in line and "RecursionError" not in line, line)
    COUNTS["deep JSON answers refused"] += 1

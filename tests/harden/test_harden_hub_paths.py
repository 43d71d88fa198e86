"""Docker Hub's ``/v1/`` sub-paths, in every spelling, never get the Hub credential (issue 21, #4).

The newer docker CLI asks for ``https://index.docker.io/v1/refresh-token`` and
``.../access-token`` on logout: keys of their own, not the Hub login. A server reads
``/V1/refresh-token``, ``//v1/refresh-token``, ``/v1%2Frefresh-token`` and a query
after ``/v1/`` as the same thing, so each is asked for through the installed command
with a Hub credential stored, and must be answered exactly not-found; the key itself,
in the forms clients send, must still get the credential (so the refusals can fail).
"""

from __future__ import annotations

import json

import pytest
from hardening import (
    NOT_FOUND,
    check_outcome,
    expect,
    figures,
    make_env,
    no_sentinel,
    run_exe,
    sentinel,
)

COUNTS = figures("Docker Hub /v1/ sub-paths")

UNDER_V1 = [
    # the spellings the red-team pass was answered for
    "https://index.docker.io/V1/refresh-token",
    "https://index.docker.io//v1/refresh-token",
    "https://index.docker.io/v1%2Frefresh-token",
    "https://index.docker.io/v1/?refresh-token",
    # and their relatives
    "https://index.docker.io/v1/refresh-token",
    "https://INDEX.docker.io/v1/Access-Token",
    "https://index.docker.io/v1%2frefresh-token",
    "https://index.docker.io/v1%252Frefresh-token",
    "https://index.docker.io/%76%31/refresh-token",
    "https://index.docker.io/./v1/refresh-token",
    "https://index.docker.io/x/../v1/refresh-token",
    "https://index.docker.io/v1/./refresh-token",
    "https://index.docker.io///v1///refresh-token",
    "https://index.docker.io/v1?refresh-token",
    "https://index.docker.io/v1/#refresh-token",
    "https://registry-1.docker.io/V1/access-token",
    "docker.io//v1/refresh-token",
]
THE_KEY = [
    "https://index.docker.io/v1/",
    "https://index.docker.io/v1",
    "https://index.docker.io/V1/",
    "https://index.docker.io//v1/",
    "https://index.docker.io/v1/?",
    "docker.io",
    "index.docker.io/library/ubuntu",
]


@pytest.fixture(scope="module")
def hub_env(exe, tmp_path_factory) -> tuple[dict, str]:

    env = make_env(str(tmp_path_factory.mktemp("hub")))
    password = sentinel("hub")
    login = {"ServerURL": "https://index.docker.io/v1/", "Username": "me", "Secret": password}
    code, out, _ = run_exe(exe, env, "store", stdin=json.dumps(login).encode())
    expect(code == 0, f"store failed: {out[-200:]!r}")
    return env, password


@pytest.mark.parametrize("server", UNDER_V1)
def test_a_path_under_hub_v1_in_any_spelling_is_not_found(exe, hub_env, server):
    env, password = hub_env
    code, out, err = run_exe(exe, env, "get", stdin=server.encode())
    check_outcome("get", code, out, err)
    no_sentinel(out + err.encode(), [password], f"get {server!r}")
    expect(code == 1 and out == NOT_FOUND, f"get {server!r} answered: {out[:80]!r}")
    COUNTS["sub-path spellings refused"] += 1


@pytest.mark.parametrize("server", THE_KEY)
def test_the_hub_key_itself_still_gets_the_credential(exe, hub_env, server):
    env, password = hub_env
    code, out, err = run_exe(exe, env, "get", stdin=server.encode())
    expect(code == 0, f"get {server!r} failed: {err[-200:]!r}")
    expect(json.loads(out)["Secret"] == password, f"get {server!r}: not the Hub credential")
    COUNTS["key spellings answered"] += 1

"""Cloud providers: bounded time against bad endpoints, and no leak through SDK errors.

Cross-cutting checks through the installed executable for every cloud auth method on
main (the provider helpers test their own happy paths):

- an endpoint that accepts connections and never answers, and one that refuses them:
  ``get`` answers not-found with one stderr line naming the registry within the
  documented bound, one ``DOCKER_CREDENTIAL_TRUSS_TIMEOUT`` (default 3 s) per request
  (silence is not retried), plus start-up; the next ``get`` answers the remembered
  failure at once;
- the same with eight ``get``s at once (docker pulls layers of one registry in
  parallel): they queue on the token cache's lock and share the one failure, so all
  of them fail within about one mint's bound;
- hostile answers (error bodies, HTML, non-JSON, odd fields), each carrying sentinels:
  whatever google-auth or botocore raise, stdout and the line on stderr hold none of
  them, nor the key, nor the OIDC subject token.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fakes.gcp import ServiceAccountKey
from hardening import (
    Clock,
    check_outcome,
    expect,
    figures,
    looks_like_traceback,
    make_env,
    no_sentinel,
    no_sentinel_in_log,
    run_exe,
    sentinel,
    stress,
)

from docker_credential_truss.providers import DEADLINE_FACTOR

STARTUP_SLACK = 3.0  # interpreter and SDK import on a loaded two-core machine
DEFAULT_TIMEOUT = 3.0  # google-auth requests (providers/__init__.py)
AWS_READ_TIMEOUT = 3.0  # botocore's read timeout (aws.py); silence is not retried
FIGURES = COUNTS = figures("cloud: bounded time and SDK errors")


class Case:
    """One cloud auth method, set up to send every request to ``base`` (http://...).

    ``requests`` is how many requests a mint makes one after the other; ``attempts``
    how many times the SDK tries each (botocore retries, google-auth does not here).
    """

    def __init__(
        self, name: str, server: str, truss: str, requests: int, attempts: int = 1
    ) -> None:
        self.name, self.server, self.truss = name, server, truss
        self.requests, self.attempts = requests, attempts

    def bound(self, timeout: float | None) -> float:
        """The documented bound: requests x attempts x timeout, plus backoff and start-up."""
        if self.name.startswith("AWS"):
            per_attempt = timeout or AWS_READ_TIMEOUT
        else:
            per_attempt = timeout or DEFAULT_TIMEOUT
        return self.requests * self.attempts * per_attempt + STARTUP_SLACK

    def prepare(self, exe: str, root: str, base: str) -> tuple[dict, list[str]]:
        env = make_env(root)
        env["PATH"] = f"{os.path.dirname(exe)}:{env['PATH']}"
        sentinels: list[str] = []
        if self.name == "GCP_SERVICE_ACCOUNT_JSON":
            key = ServiceAccountKey(f"{base}/token")
            env["TRUSS_SECRET_gcp-sa"] = key.json()
            sentinels += [line for line in key.info["private_key"].splitlines() if len(line) > 40]
        elif self.name.startswith("AWS"):
            key_id, secret_key = "AKIA" + os.urandom(8).hex().upper(), sentinel("aws")
            env["TRUSS_SECRET_aws_access_key_id"] = key_id
            env["TRUSS_SECRET_aws_secret_access_key"] = secret_key
            for variable in ("", "_ECR", "_ECR_PUBLIC", "_STS"):
                env[f"AWS_ENDPOINT_URL{variable}"] = base
            sentinels.append(secret_key)
            if self.name == "AWS_OIDC":
                subject = sentinel("webid")
                token_file = os.path.join(root, "web-identity-token")
                with open(token_file, "w") as handle:
                    handle.write(subject)
                env["DOCKER_CREDENTIAL_TRUSS_AWS_WEB_IDENTITY_TOKEN_FILE"] = token_file
                sentinels.append(subject)
        elif self.name == "GCP_OIDC":
            subject = sentinel("oidc")
            token_file = os.path.join(root, "oidc-token")
            with open(token_file, "w") as handle:
                handle.write(subject)
            env["DOCKER_CREDENTIAL_TRUSS_GCP_OIDC_TOKEN_FILE"] = token_file
            env["DOCKER_CREDENTIAL_TRUSS_GCP_STS_URL"] = f"{base}/v1/token"
            env["DOCKER_CREDENTIAL_TRUSS_GCP_IAMCREDENTIALS_URL"] = base
            sentinels.append(subject)
        truss = os.path.join(root, "truss")
        os.makedirs(truss)
        with open(os.path.join(truss, "config.yaml"), "w") as handle:
            handle.write(self.truss)
        code, out, _ = run_exe(exe, env, "configure", truss)
        expect(code == 0, f"configure {self.name}: {out[-300:]!r}")
        return env, sentinels


CASES = [
    Case(
        "GCP_SERVICE_ACCOUNT_JSON",
        "us-west2-docker.pkg.dev",
        "base_image:\n  image: us-west2-docker.pkg.dev/p/r/i:1\n  docker_auth:\n"
        "    auth_method: GCP_SERVICE_ACCOUNT_JSON\n    secret_name: gcp-sa\n",
        requests=1,
    ),
    Case(
        "GCP_OIDC",
        "gcr.io",
        "base_image:\n  image: gcr.io/p/i:1\n  docker_auth:\n    auth_method: GCP_OIDC\n"
        "    gcp_oidc_workload_id_provider: projects/123/locations/global/"
        "workloadIdentityPools/pool-1/providers/prov-1\n"
        "    gcp_oidc_service_account: puller@p-1.iam.gserviceaccount.com\n",
        requests=2,
    ),
]
ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
CASES += [
    Case(
        "AWS_IAM",
        ECR,
        f"base_image:\n  image: {ECR}/img:1\n  docker_auth:\n    auth_method: AWS_IAM\n"
        f"    registry: {ECR}\n",
        requests=1,
    ),
    Case(
        "AWS_OIDC",
        ECR,
        f"base_image:\n  image: {ECR}/img:1\n  docker_auth:\n    auth_method: AWS_OIDC\n"
        "    aws_oidc_role_arn: arn:aws:iam::123456789012:role/puller\n"
        "    aws_oidc_region: us-east-1\n",
        requests=2,
    ),
]
IDS = [case.name for case in CASES]


class Silent:
    """Accepts connections (the kernel completes them) and never answers."""

    def __enter__(self) -> str:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(256)
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


def refused_url() -> str:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now: connections are refused
    return f"http://127.0.0.1:{port}"


REASONS = {
    "silent": ("no answer within", "did not answer within"),
    "refused": ("connection failed", "cannot reach"),
}


def _get(exe: str, env: dict, server: str, timeout: float | None) -> tuple[float, int, bytes, str]:
    if timeout is not None:
        env = {**env, "DOCKER_CREDENTIAL_TRUSS_TIMEOUT": f"{timeout:g}"}
    start = time.monotonic()
    code, out, err = run_exe(exe, env, "get", stdin=server.encode(), timeout=60)
    return time.monotonic() - start, code, out, err


# The documented default bound for one method of each cloud; every method at 1 s.
BOUND_RUNS = [
    pytest.param(case, endpoint, timeout, id=f"{case.name}-{endpoint}-{timeout or 'default'}")
    for case in CASES
    for endpoint in ("silent", "refused")
    for timeout in ((None, 1.0) if case.name in ("GCP_SERVICE_ACCOUNT_JSON", "AWS_IAM") else (1.0,))
]


@pytest.mark.parametrize(("case", "endpoint", "timeout"), BOUND_RUNS)
def test_get_fails_within_the_bound(exe, tmp_path, case, endpoint, timeout):
    with Silent() as silent:
        base = silent if endpoint == "silent" else refused_url()
        env, sentinels = case.prepare(exe, str(tmp_path), base)
        elapsed, code, out, err = _get(exe, env, case.server, timeout)
    bound = case.bound(timeout)
    check_outcome("get", code, out, err)
    expect(code == 1, f"{case.name} against a {endpoint} endpoint did not fail")
    line = err.removeprefix("docker-credential-truss: ")  # get says why on stderr only
    expect(line.startswith(f"{case.server}: "), f"the line does not name the registry: {line!r}")
    reasons = REASONS[endpoint]
    expect(any(r in line for r in reasons), f"the line does not say why: {line!r}")
    expect(elapsed <= bound, f"{case.name}/{endpoint}: {elapsed:.1f}s, bound {bound:.1f}s")
    no_sentinel(out + err.encode(), sentinels, f"{case.name} {endpoint} error")
    no_sentinel_in_log(env, sentinels, f"{case.name} {endpoint}")
    key = f"{case.name} {endpoint} timeout={f'{timeout:g}s' if timeout else 'default'}"
    FIGURES[key] = f"{elapsed:.2f}s (bound {bound:g}s)"
    if timeout is None:  # the next get within the failure TTL answers from memory
        again, code, out, err = _get(exe, env, case.server, timeout)
        check_outcome("get", code, out, err)
        expect(code == 1 and "remembered from" in err, f"the failure was not remembered: {err!r}")
        FIGURES[key + ", the next get (remembered)"] = f"{again:.2f}s"


@pytest.mark.parametrize("case", CASES[::2], ids=IDS[::2])
def test_parallel_gets_against_a_silent_endpoint_share_one_failure(exe, tmp_path, case):
    """N gets at once (docker pulls layers in parallel) against a dead endpoint.

    Single flight makes them queue on one lock; the cache shares the holder's failure
    with those already waiting, so all of them fail within about one mint's bound
    rather than N of them in turn.
    """
    parallel, timeout = 8, 1.0
    times: list[float] = []
    with Silent() as base:
        env, sentinels = case.prepare(exe, str(tmp_path), base)
        env["DOCKER_CREDENTIAL_TRUSS_TIMEOUT"] = f"{timeout:g}"
        gate = threading.Barrier(parallel + 1)
        results: list[tuple[int, bytes, bytes]] = []

        def one() -> None:
            gate.wait()
            proc = subprocess.Popen(
                [exe, "get"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
            )
            out, err = proc.communicate(case.server.encode(), timeout=120)
            times.append(time.monotonic() - start)
            results.append((proc.returncode, out, err))

        threads = [threading.Thread(target=one) for _ in range(parallel)]
        for thread in threads:
            thread.start()
        start = time.monotonic()
        gate.wait()
        for thread in threads:
            thread.join()
    for code, out, err in results:
        check_outcome("get", code, out, err.decode())
        said = any(r.encode() in err for r in REASONS["silent"])
        expect(code == 1 and said, f"get: {err!r}")
        no_sentinel(out + err, sentinels, "a parallel get")
    bound = case.bound(timeout) + STARTUP_SLACK  # the others start on two cores too
    expect(len(times) == parallel, "a get did not finish")
    expect(max(times) <= bound, f"the slowest of {parallel} took {max(times):.1f}s")
    FIGURES[f"{case.name}: {parallel} parallel gets, silent endpoint, timeout=1s"] = (
        f"fastest {min(times):.1f}s, slowest {max(times):.1f}s (bound {bound:g}s)"
    )


class Drip:
    """Answers one byte every half second, forever: each read is quick, the whole is not."""

    def __enter__(self) -> str:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        try:
            conn.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 1000:
                if self.stop.wait(0.5):
                    break
                conn.send(bytes([byte]))
        except OSError:
            pass
        finally:
            conn.close()

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.sock.close()


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_a_dripping_endpoint_is_bounded_too(exe, tmp_path, case):
    """A byte per read timeout never trips a read timeout; the mint deadline stops it."""
    timeout = 1.0
    bound = DEADLINE_FACTOR * timeout + STARTUP_SLACK
    clock = Clock()
    with Drip() as base:
        env, _ = case.prepare(exe, str(tmp_path), base)
        env["DOCKER_CREDENTIAL_TRUSS_TIMEOUT"] = f"{timeout:g}"
        proc = subprocess.Popen(
            [exe, "get"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        try:
            out, err = proc.communicate(case.server.encode(), timeout=bound)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise AssertionError(f"get was still running after {bound:g}s") from None
    seconds = clock.seconds()
    FIGURES[f"{case.name}: dripping endpoint, timeout=1s"] = f"{seconds:.1f}s (bound {bound:g})"
    check_outcome("get", proc.returncode, out, err.decode())
    line = err.decode()
    expect(proc.returncode == 1 and line.count("\n") == 1, "one stderr line, exit 1")
    expect(case.server in line and "too slow" in line, "the line names the registry and cause")


HOSTILE = {
    "oauth error": (
        400,
        "application/json",
        '{{"error": "invalid_grant", "error_description": "{s}"}}',
    ),
    "api error": (
        403,
        "application/json",
        '{{"error": {{"code": 403, "message": "{s}", "status": "PERMISSION_DENIED"}}}}',
    ),
    "html 401": (401, "text/html", "<html><body><h1>{s}</h1></body></html>"),
    "html 500": (500, "text/html", "<pre>Traceback (most recent call last): {s}</pre>"),
    "not json 200": (200, "application/json", "not json {s}"),
    "no token 200": (200, "application/json", '{{"token_type": "Bearer", "note": "{s}"}}'),
    "bad expiry 200": (
        200,
        "application/json",
        '{{"access_token": "{s}", "accessToken": "{s}", "expires_in": "{s}", "expireTime": "{s}"}}',
    ),
    "list 200": (200, "application/json", '["{s}"]'),
    "empty 204": (204, "application/json", ""),
    "redirect": (302, "text/plain", "{s}"),
    "aws json error": (
        400,
        "application/x-amz-json-1.1",
        '{{"__type": "AccessDeniedException", "message": "{s}", "Message": "{s}"}}',
    ),
    "aws xml error": (
        403,
        "text/xml",
        "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
        "<Message>{s}</Message></Error><RequestId>{s}</RequestId></ErrorResponse>",
    ),
    "aws token not base64": (
        200,
        "application/x-amz-json-1.1",
        '{{"authorizationData": [{{"authorizationToken": "{s}!", "expiresAt": 1e10}}]}}',
    ),
}


def _hostile_server(status: int, ctype: str, body: str, secret: str) -> ThreadingHTTPServer:
    payload = body.format(s=secret).encode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            if status == 302:
                self.send_header("Location", f"{refused_url()}/{secret}")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    return server


def _hostile_runs() -> list:
    """Each answer against one Google and one AWS method (all four under DCT_STRESS)."""
    runs = []
    for i, answer in enumerate(sorted(HOSTILE)):
        cases = CASES if stress() > 1 else [CASES[i % 2], CASES[2 + i % 2]]
        runs += [pytest.param(case, answer, id=f"{answer}-{case.name}") for case in cases]
    return runs


@pytest.mark.parametrize(("case", "answer"), _hostile_runs())
def test_hostile_answers_never_leak_into_the_error_line(exe, tmp_path, case, answer):
    secret = sentinel("body")
    server = _hostile_server(*HOSTILE[answer], secret)
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        env, sentinels = case.prepare(exe, str(tmp_path), base)
        elapsed, code, out, err = _get(exe, env, case.server, 2.0)
    finally:
        server.shutdown()
        server.server_close()
    COUNTS["hostile answers"] += 1
    expect(not looks_like_traceback(err) or secret not in err, "a traceback on stderr")
    check_outcome("get", code, out, err)
    no_sentinel_in_log(env, [secret, *sentinels], f"{case.name} {answer}")
    if code == 1:
        no_sentinel(out + err.encode(), [secret, *sentinels], f"{case.name} {answer}")
        COUNTS["hostile answers refused in one line"] += 1
    else:
        # Only a 200 carrying a token may succeed, and then the token is the answer.
        no_sentinel(err, [secret, *sentinels], f"{case.name} {answer} stderr")
        COUNTS["hostile answers taken as a token"] += 1
    expect(elapsed < case.bound(2.0), f"{answer}: {elapsed:.1f}s")


def _token_answer(case: Case, token: str) -> tuple[int, str, str]:
    """A good answer for ``case`` whose access token is ``token``."""
    if case.name.startswith("AWS"):
        encoded = base64.b64encode(f"AWS:{token}".encode()).decode()
        body = {
            "authorizationData": [
                {
                    "authorizationToken": encoded,
                    "expiresAt": time.time() + 43200,
                    "proxyEndpoint": f"https://{case.server}",
                }
            ]
        }
        return (
            200,
            "application/x-amz-json-1.1",
            json.dumps(body).replace("{", "{{").replace("}", "}}"),
        )
    body = {"access_token": token, "expires_in": 3600, "token_type": "Bearer"}
    return 200, "application/json", json.dumps(body).replace("{", "{{").replace("}", "}}")


@pytest.mark.parametrize("case", [CASES[0], CASES[2]], ids=[IDS[0], IDS[2]])
def test_minted_tokens_show_only_in_the_get_answer(exe, tmp_path, case):
    """A token is the get answer and nothing else: not in list, doctor, stderr or the log."""
    token = sentinel("token", tricky=True)
    server = _hostile_server(*_token_answer(case, token), "")
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        env, sentinels = case.prepare(exe, str(tmp_path), base)
        code, out, err = run_exe(exe, env, "get", stdin=case.server.encode())
        check_outcome("get", code, out, err)
        answered = code == 0 and json.loads(out)["Secret"] == token
        expect(answered, f"{case.name}: the token was not answered: {out[-200:]!r}")
        no_sentinel(err, [token, *sentinels], f"{case.name} get stderr")
        for argv in (["list"], ["doctor"], ["doctor", "--offline"], ["get"]):
            code, out, err = run_exe(exe, env, *argv, stdin=b"other.example")
            check_outcome(argv[0], code, out, err)
            no_sentinel(out + err.encode(), [token, *sentinels], f"{case.name} {argv}")
            COUNTS["token runs (list, doctor, get)"] += 1
    finally:
        server.shutdown()
        server.server_close()
    no_sentinel_in_log(env, [token, *sentinels], f"{case.name} with a minted token")


@pytest.mark.parametrize("case", [CASES[1], CASES[3]], ids=[IDS[1], IDS[3]])
def test_an_oidc_token_file_that_is_a_fifo_fails_at_once(exe, tmp_path, case):
    """A CI that leaves a named pipe where the OIDC token should be must not hang docker."""
    with Silent() as base:
        env, sentinels = case.prepare(exe, str(tmp_path), base)
        variable = (
            "DOCKER_CREDENTIAL_TRUSS_AWS_WEB_IDENTITY_TOKEN_FILE"
            if case.name.startswith("AWS")
            else "DOCKER_CREDENTIAL_TRUSS_GCP_OIDC_TOKEN_FILE"
        )
        fifo = str(tmp_path / "token-fifo")
        os.mkfifo(fifo)
        env[variable] = fifo
        try:
            elapsed, code, out, err = _get(exe, env, case.server, 1.0)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{case.name}: get hung on a FIFO token file") from None
    check_outcome("get", code, out, err)
    expect(code == 1 and "not a regular file" in err, f"{case.name}: {err!r}")
    no_sentinel(out + err.encode(), sentinels, f"{case.name} FIFO token file")
    expect(elapsed < STARTUP_SLACK + 2, f"{case.name}: {elapsed:.1f}s on a FIFO token file")
    FIGURES[f"{case.name}: FIFO as the OIDC token file"] = f"failed in {elapsed:.2f}s"

"""Cloud providers: bad endpoints cannot hang a get, and no leak through SDK errors.

Cross-cutting checks through the installed executable for every cloud auth method on
main (the provider helpers test their own happy paths):

- an endpoint that accepts connections and never answers, and one that refuses them:
  ``get`` answers not-found with one stderr line naming the registry and the timeout
  that fired, ``DOCKER_CREDENTIAL_TRUSS_TIMEOUT`` (default 3 s), after one connection
  (silence is not retried); the next ``get`` answers the remembered failure without
  connecting again;
- the same with eight ``get``s at once (docker pulls layers of one registry in
  parallel): they queue on the token cache's lock and share the one failure, so the
  endpoint sees one connection, not eight in turn;
- an endpoint that drips a byte per read timeout: the whole-mint deadline stops it;
- hostile answers (error bodies, HTML, non-JSON, odd fields), each carrying sentinels:
  whatever google-auth or botocore raise, stdout and the line on stderr hold none of
  them, nor the key, nor the OIDC subject token, and no answer is retried beyond the
  SDKs' bounded attempts.

Nothing here is judged by a clock: a loaded two-core machine makes any bound on
seconds flaky. The evidence is what the stand-ins saw and the exact line ``get``
prints; a generous subprocess timeout (HANG_GUARD) only turns a hang into a failure.
Seconds are recorded as figures.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

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

from docker_credential_truss.minting import DEADLINE_FACTOR

HANG_GUARD = 120.0  # seconds: a get still running then has hung; not a speed bound
DEFAULT_TIMEOUT = 3.0  # google-auth requests (minting.py)
AWS_READ_TIMEOUT = 3.0  # botocore's read timeout (aws.py); silence is not retried
#: Tries per request for an answer that asks to try again: botocore here (MAX_ATTEMPTS,
#: throttling and 5xx) and google-auth (a token endpoint's 500) both make three.
ATTEMPTS = 3
FIGURES = COUNTS = figures("cloud: bounded time and SDK errors")


class Case:
    """One cloud auth method, set up to send every request to ``base`` (http://...).

    ``requests`` is how many requests a mint makes one after the other.
    """

    def __init__(self, name: str, server: str, truss: str, requests: int) -> None:
        self.name, self.server, self.truss = name, server, truss
        self.requests = requests

    def silence(self, timeout: float | None) -> str:
        """How ``get``'s line ends when the first request is never answered: the timeout."""
        if self.name.startswith("AWS"):
            return f"did not answer within {timeout or AWS_READ_TIMEOUT:g} s"
        return f"no answer within {timeout or DEFAULT_TIMEOUT:g}s"

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
    """Accepts connections (the kernel completes them) and never answers.

    Nothing is accepted while clients run; :meth:`connections` takes what waits in the
    backlog afterwards, closed by their clients or not, and counts it.
    """

    def __enter__(self) -> Silent:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(256)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.accepted = 0
        return self

    def connections(self) -> int:
        """How many connections clients have made so far."""
        self.sock.setblocking(False)
        try:
            while True:
                conn, _ = self.sock.accept()
                conn.close()
                self.accepted += 1
        except BlockingIOError:
            pass
        finally:
            self.sock.setblocking(True)
        return self.accepted

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


def refused_url() -> str:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now: connections are refused
    return f"http://127.0.0.1:{port}"


#: How get's line ends when the endpoint refuses connections (botocore, google-auth).
REFUSED = ("no network, or the endpoint is wrong", "connection failed")


def _get(exe: str, env: dict, server: str, timeout: float | None) -> tuple[float, int, bytes, str]:
    """One ``get``, its seconds (a figure) and outcome; a run past HANG_GUARD fails as hung."""
    if timeout is not None:
        env = {**env, "DOCKER_CREDENTIAL_TRUSS_TIMEOUT": f"{timeout:g}"}
    start = time.monotonic()
    try:
        code, out, err = run_exe(exe, env, "get", stdin=server.encode(), timeout=HANG_GUARD)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"get {server} hung: still running after {HANG_GUARD:g}s") from None
    return time.monotonic() - start, code, out, err


# The documented default timeout for one method of each cloud; every method at 1 s.
TIMEOUT_RUNS = [
    pytest.param(case, endpoint, timeout, id=f"{case.name}-{endpoint}-{timeout or 'default'}")
    for case in CASES
    for endpoint in ("silent", "refused")
    for timeout in ((None, 1.0) if case.name in ("GCP_SERVICE_ACCOUNT_JSON", "AWS_IAM") else (1.0,))
]


@pytest.mark.parametrize(("case", "endpoint", "timeout"), TIMEOUT_RUNS)
def test_get_fails_on_the_timeout_it_names(exe, tmp_path, case, endpoint, timeout):
    """Silence ends on the configured timeout, named with its value, after one connection.

    Were the timeout not applied, the whole-mint deadline would fire instead and the
    line would say "too slow"; were silence retried, the endpoint would see more
    connections.
    """
    with Silent() as silent:
        base = silent.url if endpoint == "silent" else refused_url()
        env, sentinels = case.prepare(exe, str(tmp_path), base)
        elapsed, code, out, err = _get(exe, env, case.server, timeout)
        check_outcome("get", code, out, err)
        expect(code == 1, f"{case.name} against a {endpoint} endpoint did not fail")
        line = err.removeprefix("docker-credential-truss: ").rstrip("\n")  # stderr only
        expect(
            line.startswith(f"{case.server}: "), f"the line does not name the registry: {line!r}"
        )
        if endpoint == "silent":
            said = line.endswith(case.silence(timeout))
            expect(said, f"the line does not end with {case.silence(timeout)!r}: {line!r}")
            expect(silent.connections() == 1, f"{silent.accepted} connections, not one")
        else:
            expect(line.endswith(REFUSED), f"the line does not say why: {line!r}")
        no_sentinel(out + err.encode(), sentinels, f"{case.name} {endpoint} error")
        no_sentinel_in_log(env, sentinels, f"{case.name} {endpoint}")
        key = f"{case.name} {endpoint} timeout={f'{timeout:g}s' if timeout else 'default'}"
        FIGURES[key] = f"{elapsed:.2f}s"
        if timeout is None:  # the next get within the failure TTL answers from memory
            again, code, out, err = _get(exe, env, case.server, timeout)
            check_outcome("get", code, out, err)
            remembered = code == 1 and line in err and "remembered from" in err
            expect(remembered, f"the failure was not remembered: {err!r}")
            if endpoint == "silent":
                expect(silent.connections() == 1, "the remembered failure connected again")
            FIGURES[key + ", the next get (remembered)"] = f"{again:.2f}s"


@pytest.mark.parametrize("case", CASES[::2], ids=IDS[::2])
def test_parallel_gets_against_a_silent_endpoint_share_one_failure(exe, tmp_path, case):
    """N gets at once (docker pulls layers in parallel) against a dead endpoint.

    Single flight makes them queue on one lock; the cache shares the holder's failure
    with those already waiting, so the endpoint sees one connection, and every get
    says the holder's line, rather than N of them trying in turn.
    """
    parallel, timeout = 8, 1.0
    times: list[float] = []
    with Silent() as silent:
        env, sentinels = case.prepare(exe, str(tmp_path), silent.url)
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
            try:
                out, err = proc.communicate(case.server.encode(), timeout=HANG_GUARD)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                return  # counted below as a get that did not finish
            times.append(time.monotonic() - start)
            results.append((proc.returncode, out, err))

        threads = [threading.Thread(target=one) for _ in range(parallel)]
        for thread in threads:
            thread.start()
        start = time.monotonic()
        gate.wait()
        for thread in threads:
            thread.join()
        connections = silent.connections()
    hung = parallel - len(results)
    expect(hung == 0, f"{hung} of {parallel} gets hung: still running after {HANG_GUARD:g}s")
    holder = f"{case.server}: "  # the line of the one get that tried, shared by the rest
    lines = set()
    for code, out, err in results:
        check_outcome("get", code, out, err.decode())
        line = err.decode().removeprefix("docker-credential-truss: ").rstrip("\n")
        shared = line.split(" (remembered from ", 1)[0]  # one that started after it failed
        said = shared.startswith(holder) and shared.endswith(case.silence(timeout))
        expect(code == 1 and said, f"get: {err!r}")
        lines.add(shared)
        no_sentinel(out + err, sentinels, "a parallel get")
    expect(len(lines) == 1, f"the gets did not share one failure: {sorted(lines)}")
    expect(connections == 1, f"{parallel} gets made {connections} connections, not one")
    FIGURES[f"{case.name}: {parallel} parallel gets, silent endpoint, timeout=1s"] = (
        f"fastest {min(times):.1f}s, slowest {max(times):.1f}s, {connections} connection"
    )


class Drip:
    """Answers one byte every half second, forever: each read is quick, the whole is not.

    ``connections`` counts the connections it accepted.
    """

    def __enter__(self) -> Drip:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.stop = threading.Event()
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        return self

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
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
    """A byte per read timeout never trips a read timeout; the mint deadline stops it.

    The line names the deadline, DEADLINE_FACTOR x the timeout, as what fired; the
    drip (500 s of bytes) outlasts HANG_GUARD, so a get without a deadline fails as hung.
    """
    timeout = 1.0
    clock = Clock()
    with Drip() as drip:
        env, _ = case.prepare(exe, str(tmp_path), drip.url)
        env["DOCKER_CREDENTIAL_TRUSS_TIMEOUT"] = f"{timeout:g}"
        proc = subprocess.Popen(
            [exe, "get"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        try:
            out, err = proc.communicate(case.server.encode(), timeout=HANG_GUARD)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise AssertionError(f"get hung: still running after {HANG_GUARD:g}s") from None
        connections = drip.connections
    seconds = clock.seconds()
    FIGURES[f"{case.name}: dripping endpoint, timeout=1s"] = f"{seconds:.1f}s"
    check_outcome("get", proc.returncode, out, err.decode())
    line = err.decode()
    expect(proc.returncode == 1 and line.count("\n") == 1, "one stderr line, exit 1")
    deadline = (
        f"{case.server}: no credential within {DEADLINE_FACTOR * timeout:g}s;"
        f" the endpoint is too slow ({DEADLINE_FACTOR} x DOCKER_CREDENTIAL_TRUSS_TIMEOUT)"
    )
    expect(deadline in line, f"the line does not name the deadline: {line!r}")
    expect(connections == 1, f"{connections} connections to the dripping endpoint, not one")


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
    """Answers every POST with one canned answer.

    ``server.posts`` counts the POSTs per operation: the path, and the AWS operation
    (``X-Amz-Target``, or the query protocol's ``Action``) where one is named.
    """
    payload = body.format(s=secret).encode()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            sent = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            action = parse_qs(sent.decode("utf-8", "replace")).get("Action", [""])[0]
            operation = " ".join((self.path, self.headers.get("X-Amz-Target") or action))
            with lock:
                server.posts[operation] += 1
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            if status == 302:
                self.send_header("Location", f"{refused_url()}/{secret}")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.posts = Counter()
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
    """No sentinel from the answer in the line or the log; no answer retried beyond the SDKs'."""
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
    # no more operations than the method makes, none tried more than ATTEMPTS times
    posts = dict(server.posts)
    expect(len(posts) <= case.requests, f"{answer}: more operations than a mint makes: {posts}")
    expect(max(posts.values(), default=0) <= ATTEMPTS, f"{answer}: retried too often: {posts}")
    most = "hostile answers: most tries of one request"
    FIGURES[most] = max(FIGURES.get(most, 0), *posts.values(), 0)
    slowest = "hostile answers: slowest get (s)"
    FIGURES[slowest] = max(FIGURES.get(slowest, 0), round(elapsed, 2))


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
    """A CI that leaves a named pipe where the OIDC token should be must not hang docker.

    Opening a FIFO with no writer blocks forever; the get must refuse it unopened,
    before any request (the endpoint sees none), rather than wait on it.
    """
    with Silent() as silent:
        env, sentinels = case.prepare(exe, str(tmp_path), silent.url)
        variable = (
            "DOCKER_CREDENTIAL_TRUSS_AWS_WEB_IDENTITY_TOKEN_FILE"
            if case.name.startswith("AWS")
            else "DOCKER_CREDENTIAL_TRUSS_GCP_OIDC_TOKEN_FILE"
        )
        fifo = str(tmp_path / "token-fifo")
        os.mkfifo(fifo)
        env[variable] = fifo
        elapsed, code, out, err = _get(exe, env, case.server, 1.0)
        connections = silent.connections()
    check_outcome("get", code, out, err)
    said = fifo in err and "not a regular file" in err  # names the file and what is wrong
    expect(code == 1 and said, f"{case.name}: {err!r}")
    expect(connections == 0, f"{case.name}: {connections} connections with no token to send")
    no_sentinel(out + err.encode(), sentinels, f"{case.name} FIFO token file")
    FIGURES[f"{case.name}: FIFO as the OIDC token file"] = f"failed in {elapsed:.2f}s"

"""A local stand-in for ECR, ECR Public and STS that speaks their real wire protocols.

The real boto3/botocore talks to it through ``AWS_ENDPOINT_URL`` (or the per-service
``AWS_ENDPOINT_URL_ECR`` / ``_ECR_PUBLIC`` / ``_STS``), exactly as it would talk to
AWS:

- ECR: JSON 1.1, ``X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken``;
- ECR Public: JSON 1.1, ``X-Amz-Target: SpencerFrontendService.GetAuthorizationToken``;
- STS: the query protocol (form-encoded ``Action=AssumeRole`` or
  ``AssumeRoleWithWebIdentity``), answering XML.

Every signed request's SigV4 ``Authorization`` header is checked the way AWS does:
the access key id must be known (else ``UnrecognizedClientException`` /
``InvalidClientTokenId``), the credential scope's region and service must be the
ones this server plays, and the signature is recomputed here from the request and
the key's secret (so a wrong secret key fails with ``InvalidSignatureException`` /
``SignatureDoesNotMatch``). Temporary keys handed out by STS also need their session
token. ECR tokens carry a future ``expiresAt`` (moto's are always 2015, i.e. expired).

Tests steer it: ``password``, ``expires_in``, ``deny(op)``, ``throttle(op, n)``,
``fail(op, status, n)``, ``refuse(op, code, ...)`` (any error code), ``garble(op, body)``
(a 200 answer that is not JSON or XML, or any other body), ``authorization_token`` (the
raw token ECR hands out),
``hang = True`` (accept, read, never answer), ``delay`` (answer slowly) and
:func:`refused_port`. ``calls`` counts every request per operation (retries
included); ``requests`` records who asked what (key id, region, registry ids, User-Agent),
never a secret.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import secrets as pysecrets
import socket
import threading
import time
from collections import Counter
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote

if TYPE_CHECKING:
    from collections.abc import Iterator

ECR = "ecr:GetAuthorizationToken"
ECR_PUBLIC = "ecr-public:GetAuthorizationToken"
ASSUME_ROLE = "sts:AssumeRole"
ASSUME_ROLE_WEB = "sts:AssumeRoleWithWebIdentity"

_TARGETS = {
    "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken": ("ecr", ECR),
    "SpencerFrontendService.GetAuthorizationToken": ("ecr-public", ECR_PUBLIC),
}
_STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"


class Role:
    """A role STS may hand out: who may assume it (key ids) and which OIDC tokens it trusts.

    ``web_tokens`` are exact tokens; ``web_claims`` is a trust policy's conditions on a
    JWT's claims (``iss``, ``aud``, ``sub``... each equal), checked with ``exp`` in the
    future, as STS does once it has verified the signature (which this stand-in skips).
    """

    def __init__(
        self,
        arn: str,
        *,
        trusted_keys: set[str] | None = None,
        web_tokens: set[str] | None = None,
        web_claims: dict[str, str] | None = None,
        external_id: str | None = None,
    ) -> None:
        self.arn = arn
        self.trusted_keys = trusted_keys or set()
        self.web_tokens = web_tokens or set()
        self.web_claims = web_claims
        #: the sts:ExternalId condition of the trust policy, if it has one
        self.external_id = external_id

    def trusts(self, web_token: str) -> bool:
        if web_token in self.web_tokens:
            return True
        if self.web_claims is None:
            return False
        claims = jwt_claims(web_token)
        return (
            claims is not None
            and all(claims.get(name) == value for name, value in self.web_claims.items())
            and isinstance(claims.get("exp"), int)
            and claims["exp"] > time.time()
        )


def jwt_claims(token: str) -> dict[str, Any] | None:
    """A JWT's claims, unverified; None for anything else."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    return claims if isinstance(claims, dict) else None


class AwsError(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


class SecretEnv(dict):
    """An environment that holds secret sentinels: pytest must never show it (its
    assertion rewriting prints the repr of what a failed assert compared)."""

    def __repr__(self) -> str:
        return "<env with secrets, not shown>"


def isolate(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Nothing from the developer's machine may steer botocore or the helper: no AWS_*,
    TRUSS_SECRET* or DOCKER_CREDENTIAL_TRUSS* variable, and shared files that are absent."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "TRUSS_SECRET", "DOCKER_CREDENTIAL_TRUSS")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))


class World:
    """A fake AWS, an isolated HOME and the env a provider is made with: a truss key pair
    the fake accepts, and a web identity token for a role that trusts it."""

    def __init__(self, fake: FakeAws, home: str, host: str) -> None:
        self.fake = fake
        self.home = home
        self.host = host  # the registry of provider() and failure() when none is given
        self.key_id = "AKIA" + pysecrets.token_hex(8).upper()
        self.secret_key = "sk-" + pysecrets.token_urlsafe(24)
        self.web_token = "eyJ" + pysecrets.token_urlsafe(32)
        fake.keys[self.key_id] = self.secret_key
        #: more values failure() must never show, besides the keys, tokens and ECR password
        self.sentinels: list[str] = []
        self.env: dict[str, str] = SecretEnv(
            fake.env(),
            HOME=home,
            XDG_CONFIG_HOME=os.path.join(home, "cfg"),
            XDG_DATA_HOME=os.path.join(home, "data"),
            XDG_CACHE_HOME=os.path.join(home, "cache"),
            TRUSS_SECRET_aws_access_key_id=self.key_id,
            TRUSS_SECRET_aws_secret_access_key=self.secret_key,
        )

    def provider(self, host: str | None = None, method: str = "AWS_IAM", settings=None):  # type: ignore[no-untyped-def]
        from docker_credential_truss.paths import Paths
        from docker_credential_truss.providers import Spec, aws
        from docker_credential_truss.registry import parse
        from docker_credential_truss.secrets import Secrets

        secrets = Secrets(self.env, Paths.from_env(self.env))
        return aws.make(Spec(parse(host or self.host), method, settings or {}, secrets, self.env))

    def with_web_token(self) -> None:
        """The web identity token in a file named by AWS_WEB_IDENTITY_TOKEN_FILE."""
        path = os.path.join(self.home, "oidc-token")
        with open(path, "w") as handle:
            handle.write(self.web_token + "\n")
        self.env["AWS_WEB_IDENTITY_TOKEN_FILE"] = path

    def failure(self, host: str | None = None, method: str = "AWS_IAM", settings=None) -> str:  # type: ignore[no-untyped-def]
        """Mint, expecting a ProviderError; its message, checked to be one safe line."""
        import pytest

        from docker_credential_truss.errors import ProviderError
        from docker_credential_truss.registry import parse

        with pytest.raises(ProviderError) as caught:
            self.provider(host, method, settings).mint()
        message = caught.value.message
        assert "\n" not in message
        assert message.startswith(parse(host or self.host).key + ": "), (
            "message does not name the registry"
        )
        for sentinel in (self.secret_key, self.fake.password, self.web_token, *self.sentinels):
            assert sentinel not in message, "a secret value leaked into the error message"
        return message


class FakeAws:
    """ECR + ECR Public + STS on 127.0.0.1, one port; see the module docstring."""

    def __init__(
        self,
        keys: dict[str, str] | None = None,
        *,
        region: str | set[str] | None = None,
        password: str | None = None,
        tls: tuple[str, str] | None = None,
    ) -> None:
        #: (certificate file, key file): serve https as ``localhost`` instead of http
        self.tls = tls
        #: access key id -> secret access key (long-term keys the server accepts)
        self.keys: dict[str, str] = dict(keys or {})
        #: access key id -> session token it must come with (temporary keys from STS)
        self.session_tokens: dict[str, str] = {}
        #: regions requests may be signed for (None: any); STS also needs its region here
        self.regions: set[str] | None = {region} if isinstance(region, str) else region
        #: the ECR password handed out; a fresh random sentinel unless a test picks one
        self.password = password or "ecr-" + pysecrets.token_urlsafe(18)
        self.expires_in = 12 * 3600.0
        self.sts_expires_in = 3600.0
        self.roles: dict[str, Role] = {}
        self.hang = False
        #: seconds to think before answering a GetAuthorizationToken (to widen races)
        self.delay = 0.0
        self.calls: Counter[str] = Counter()
        self.requests: list[dict[str, Any]] = []
        self._denied: set[str] = set()
        self._throttles: Counter[str] = Counter()
        self._failures: dict[str, tuple[int, int]] = {}
        self._refusals: dict[str, tuple[str, str, int]] = {}
        self._garbled: dict[str, str] = {}
        #: the raw authorizationToken ECR hands out; None: base64 of ``AWS:<password>``
        self.authorization_token: str | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._issued = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- steering ----------------------------------------------------------------------

    def deny(self, op: str) -> None:
        """Answer ``op`` with AccessDenied(Exception) from now on."""
        self._denied.add(op)

    def throttle(self, op: str, times: int) -> None:
        """Answer the next ``times`` requests for ``op`` with a throttling error."""
        self._throttles[op] = times

    def fail(self, op: str, status: int, times: int) -> None:
        """Answer the next ``times`` requests for ``op`` with a server error of ``status``."""
        self._failures[op] = (status, times)

    def refuse(self, op: str, code: str, message: str = "refused, as steered", status=400) -> None:
        """Answer ``op`` with the error ``code`` (and ``message``, ``status``) from now on."""
        self._refusals[op] = (code, message, status)

    def garble(self, op: str, body: str = "<html>not an answer") -> None:
        """Answer ``op`` with 200 and ``body`` (by default neither JSON nor XML) from now on."""
        self._garbled[op] = body

    def add_role(self, role: Role) -> Role:
        self.roles[role.arn] = role
        return role

    def count(self, op: str) -> int:
        with self._lock:
            return self.calls[op]

    # -- life cycle --------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        host, port = self._server.server_address[:2]
        return f"https://localhost:{port}" if self.tls else f"http://{host}:{port}"

    def env(self) -> dict[str, str]:
        """Environment that points boto3 at this server (and nowhere else)."""
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ENDPOINT_URL_ECR": self.url,
            "AWS_ENDPOINT_URL_ECR_PUBLIC": self.url,
            "AWS_ENDPOINT_URL_STS": self.url,
        }

    def start(self) -> FakeAws:
        fake = self

        class Handler(_Handler):
            server_fake = fake

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        if self.tls:
            import ssl

            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self.tls)
            server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeAws:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the protocol ------------------------------------------------------------------

    def _record(self, op: str, **fields: Any) -> None:
        with self._lock:
            self.calls[op] += 1
            self.requests.append({"op": op, **fields})

    def _steer(self, op: str) -> None:
        if op in self._refusals:
            raise AwsError(*self._refusals[op])
        if op in self._denied:
            raise AwsError(
                "AccessDeniedException" if op.startswith("ecr") else "AccessDenied",
                "User is not authorized to perform this operation",
                400 if op.startswith("ecr") else 403,
            )
        with self._lock:
            status, times = self._failures.get(op, (0, 0))
            if times > 0:
                self._failures[op] = (status, times - 1)
                raise AwsError("InternalFailure", "a server error, as steered", status)
            if self._throttles[op] > 0:
                self._throttles[op] -= 1
                raise AwsError(
                    "ThrottlingException" if op.startswith("ecr") else "Throttling", "Rate exceeded"
                )

    def authenticate(
        self, handler: _Handler, body: bytes, service: str, info: dict[str, Any]
    ) -> None:
        """Check SigV4 like AWS: key known, scope right, signature right.

        The key id and region of the credential scope go into ``info`` as soon as they
        are read, so a refused request is recorded with them too.
        """
        sts = service == "sts"
        invalid_key = "InvalidClientTokenId" if sts else "UnrecognizedClientException"
        bad_signature = "SignatureDoesNotMatch" if sts else "InvalidSignatureException"
        status = 403 if sts else 400
        header = handler.headers.get("Authorization", "")
        if not header.startswith("AWS4-HMAC-SHA256 "):
            raise AwsError(
                "MissingAuthenticationToken", "Request is missing Authentication Token", status
            )
        fields = dict(
            part.strip().split("=", 1) for part in header[len("AWS4-HMAC-SHA256 ") :].split(",")
        )
        key_id, date, region, scope_service, terminator = fields["Credential"].split("/")
        info["key_id"], info["region"] = key_id, region
        if key_id not in self.keys:
            raise AwsError(
                invalid_key, "The security token included in the request is invalid.", status
            )
        if self.regions is not None and region not in self.regions:
            raise AwsError(bad_signature, "Credential should be scoped to a valid region.", status)
        if scope_service != service or terminator != "aws4_request":
            raise AwsError(bad_signature, "Credential should be scoped to correct service.", status)
        expected_token = self.session_tokens.get(key_id)
        if (
            expected_token is not None
            and handler.headers.get("X-Amz-Security-Token") != expected_token
        ):
            raise AwsError(
                invalid_key, "The security token included in the request is invalid.", status
            )
        signed = fields["SignedHeaders"].split(";")
        path, _, query = handler.path.partition("?")
        canonical_query = "&".join(
            f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
            for k, v in sorted(parse_qsl(query, keep_blank_values=True))
        )
        canonical_headers = "".join(
            f"{name}:{' '.join((handler.headers.get(name) or '').split())}\n" for name in signed
        )
        canonical = "\n".join(
            [
                handler.command,
                path or "/",
                canonical_query,
                canonical_headers,
                ";".join(signed),
                hashlib.sha256(body).hexdigest(),
            ]
        )
        amz_date = handler.headers.get("X-Amz-Date", "")
        scope = f"{date}/{region}/{scope_service}/aws4_request"
        to_sign = "\n".join(
            ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
        )
        key = ("AWS4" + self.keys[key_id]).encode()
        for part in (date, region, scope_service, "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(signature, fields.get("Signature", "")):
            raise AwsError(
                bad_signature,
                "The request signature we calculated does not match the signature you provided.",
                status,
            )

    def ecr_token(self, op: str, body: dict[str, Any]) -> dict[str, Any]:
        token = self.authorization_token
        if token is None:
            token = base64.b64encode(f"AWS:{self.password}".encode()).decode()
        expires = time.time() + self.expires_in
        if op == ECR_PUBLIC:
            return {"authorizationData": {"authorizationToken": token, "expiresAt": expires}}
        ids = body.get("registryIds") or ["000000000000"]
        return {
            "authorizationData": [
                {
                    "authorizationToken": token,
                    "expiresAt": expires,
                    "proxyEndpoint": f"https://{rid}.dkr.ecr.us-east-1.amazonaws.com",
                }
                for rid in ids
            ]
        }

    def issue(self, role: Role) -> dict[str, str]:
        """Temporary credentials for ``role``; the server accepts them from now on."""
        with self._lock:
            self._issued += 1
            n = self._issued
        key_id = f"ASIAFAKE{n:012d}"
        secret = f"fake-temporary-secret-{n}"
        token = f"fake-session-token-{n}"
        self.keys[key_id] = secret
        self.session_tokens[key_id] = token
        expiration = datetime.fromtimestamp(time.time() + self.sts_expires_in, tz=timezone.utc)
        return {
            "AccessKeyId": key_id,
            "SecretAccessKey": secret,
            "SessionToken": token,
            "Expiration": expiration.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }


def _sts_xml(action: str, creds: dict[str, str], role: Role) -> str:
    inner = "".join(f"<{k}>{v}</{k}>" for k, v in creds.items())
    return (
        f'<{action}Response xmlns="{_STS_NS}"><{action}Result>'
        f"<Credentials>{inner}</Credentials>"
        f"<AssumedRoleUser><Arn>{role.arn}/docker-credential-truss</Arn>"
        f"<AssumedRoleId>AROAFAKE:docker-credential-truss</AssumedRoleId></AssumedRoleUser>"
        f"</{action}Result><ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata>"
        f"</{action}Response>"
    )


class _Handler(BaseHTTPRequestHandler):
    server_fake: FakeAws
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        fake = self.server_fake
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if fake.hang:
            fake._record("hang")
            fake._stop.wait(120)
            self.close_connection = True
            return
        target = self.headers.get("X-Amz-Target")
        if target is not None:
            self._json(fake, target, body)
        else:
            self._query(fake, body)

    def _json(self, fake: FakeAws, target: str, body: bytes) -> None:
        service, op = _TARGETS.get(target, ("?", target))
        info: dict[str, Any] = {
            "key_id": None,
            "region": None,
            "agent": self.headers.get("User-Agent"),
        }
        try:
            if service == "?":
                raise AwsError("UnknownOperationException", "unknown target")
            fake.authenticate(self, body, service, info)
            request = json.loads(body or b"{}")
            info["registry_ids"] = request.get("registryIds")
            fake._steer(op)
            payload = json.dumps(fake.ecr_token(op, request))
            if fake.delay:
                time.sleep(fake.delay)
        except AwsError as exc:
            fake._record(op, **info, error=exc.code)
            payload = json.dumps({"__type": exc.code, "message": exc.message})
            self._send(
                exc.status, "application/x-amz-json-1.1", payload, {"x-amzn-ErrorType": exc.code}
            )
            return
        fake._record(op, **info, error=None)
        if op in fake._garbled:
            payload = fake._garbled[op]
        self._send(200, "application/x-amz-json-1.1", payload)

    def _query(self, fake: FakeAws, body: bytes) -> None:
        form = dict(parse_qsl(body.decode()))
        action = form.get("Action", "")
        op = f"sts:{action}"
        info: dict[str, Any] = {
            "key_id": None,
            "region": None,
            "agent": self.headers.get("User-Agent"),
            "role": form.get("RoleArn"),
            "session_name": form.get("RoleSessionName"),
            "external_id": form.get("ExternalId"),
        }
        try:
            role = fake.roles.get(form.get("RoleArn", ""))
            if action == "AssumeRoleWithWebIdentity":
                if "Authorization" in self.headers:
                    raise AwsError("InvalidRequest", "AssumeRoleWithWebIdentity is unsigned", 400)
                fake._steer(op)
                if role is None or not role.trusts(form.get("WebIdentityToken", "")):
                    raise AwsError("InvalidIdentityToken", "Couldn't verify the token", 400)
            elif action == "AssumeRole":
                fake.authenticate(self, body, "sts", info)
                fake._steer(op)
                if (
                    role is None
                    or info["key_id"] not in role.trusted_keys
                    or (role.external_id is not None and info["external_id"] != role.external_id)
                ):
                    raise AwsError("AccessDenied", "not authorized to perform sts:AssumeRole", 403)
            else:
                raise AwsError("InvalidAction", "unknown action", 400)
            xml = _sts_xml(action, fake.issue(role), role)
        except AwsError as exc:
            fake._record(op, **info, error=exc.code)
            xml = (
                f'<ErrorResponse xmlns="{_STS_NS}"><Error><Type>Sender</Type>'
                f"<Code>{exc.code}</Code><Message>{exc.message}</Message></Error>"
                "<RequestId>fake</RequestId></ErrorResponse>"
            )
            self._send(exc.status, "text/xml", xml)
            return
        fake._record(op, **info, error=None)
        if op in fake._garbled:
            xml = fake._garbled[op]
        self._send(200, "text/xml", xml)

    def _send(
        self, status: int, ctype: str, text: str, headers: dict[str, str] | None = None
    ) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", "fake-request")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


@contextlib.contextmanager
def refused_port() -> Iterator[int]:
    """A loopback port that refuses connections: bound (so nobody else takes it), not listening."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]
    finally:
        sock.close()

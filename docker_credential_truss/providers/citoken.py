"""Where a CI job's OIDC token comes from, for the AWS and the Google OIDC methods alike.

The first of these that is present is used (an empty variable counts as absent):

1. a token file: ``DOCKER_CREDENTIAL_TRUSS_AWS_WEB_IDENTITY_TOKEN_FILE``, then
   ``AWS_WEB_IDENTITY_TOKEN_FILE`` (AWS); ``DOCKER_CREDENTIAL_TRUSS_GCP_OIDC_TOKEN_FILE``
   (Google). Read at each use: a runner may rewrite it.
2. the token itself: ``DOCKER_CREDENTIAL_TRUSS_AWS_WEB_IDENTITY_TOKEN`` /
   ``DOCKER_CREDENTIAL_TRUSS_GCP_OIDC_TOKEN``; a GitLab ``id_tokens:`` entry of that
   name puts it there.
3. GitHub Actions' token endpoint (the job needs ``permissions: id-token: write``):
   ``GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=<audience>`` with ``Authorization:
   Bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN``; the answer is ``{"value": "<jwt>"}``.
4. CircleCI: ``CIRCLE_OIDC_TOKEN_V2`` (its audience is the organization id).
5. Bitbucket Pipelines (``oidc: true``): ``BITBUCKET_STEP_OIDC_TOKEN``.
6. Buildkite (``BUILDKITE_JOB_ID`` set): ``buildkite-agent oidc request-token
   --audience <audience>``.

The audience asked of GitHub and Buildkite is the cloud's default (``sts.amazonaws.com``;
``https://iam.googleapis.com/`` + the workload identity provider's resource name) unless
``DOCKER_CREDENTIAL_TRUSS_AWS_OIDC_AUDIENCE`` / ``DOCKER_CREDENTIAL_TRUSS_GCP_OIDC_AUDIENCE``
says otherwise; the other sources carry whatever audience their CI put in the token.

The token cache must know whose token it holds without fetching one (a cached ``get``
makes no request to the CI), so :meth:`Source.job` is what can be known locally: for a
token at hand, a digest of its claims without the times and the token id (``iss``,
``sub``, ``aud`` and the CI's job claims), else of the token; for GitHub a digest of the
request URL and request token, for Buildkite of the job id and agent token, both unique
to the job. :meth:`Source.inputs` is what the failure memory fingerprints: the token's
content, so a rewritten file or a new value is tried at once.

The request token, the job's token and the agent's answer are registered for masking
where they enter. Fetching (the network, a subprocess) happens only in :meth:`Source.token`,
which a mint calls inside its deadline and its single flight; nothing here imports more
than the standard library's small modules until then.
"""

from __future__ import annotations

import binascii
import json
import os

from docker_credential_truss import debuglog, files
from docker_credential_truss.errors import ProviderError

try:  # CPython's built-in SHA-256, as in cache.py: hashlib would load OpenSSL first
    from _sha2 import sha256  # Python 3.12+
except ImportError:
    try:
        from _sha256 import sha256  # Python 3.10, 3.11
    except ImportError:  # a build without them
        from hashlib import sha256

TYPE_CHECKING = False  # importing typing costs start-up time
if TYPE_CHECKING:
    from collections.abc import Mapping

GITHUB_URL = "ACTIONS_ID_TOKEN_REQUEST_URL"
GITHUB_TOKEN = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"
CIRCLECI = "CIRCLE_OIDC_TOKEN_V2"
BITBUCKET = "BITBUCKET_STEP_OIDC_TOKEN"
BUILDKITE_JOB = "BUILDKITE_JOB_ID"
BUILDKITE_AGENT = "buildkite-agent"
AWS_AUDIENCE = "sts.amazonaws.com"
GOOGLE_AUDIENCE_PREFIX = "https://iam.googleapis.com/"
#: The issuer Baseten's hosted builder presents: a role used there and from CI trusts both.
BASETEN_ISSUER = "https://oidc.baseten.co"

#: The answer of the GitHub endpoint is a JWT in a small JSON object.
MAX_ANSWER = 64 * 1024
#: Attempts for an answer that asks to try again (429, 5xx); silence gets one, as for mints.
MAX_ATTEMPTS = 3
BACKOFF = 0.5
#: Claims that change with every token of the same job; the rest say whose job it is.
_PER_TOKEN_CLAIMS = frozenset({"exp", "iat", "nbf", "jti"})


class Cloud:
    """The variables one cloud's OIDC method reads."""

    __slots__ = ("audience_variable", "files", "variable")

    def __init__(self, files: tuple[str, ...], variable: str, audience_variable: str) -> None:
        self.files = files
        self.variable = variable
        self.audience_variable = audience_variable

    def audience(self, env: Mapping[str, str], default: str) -> str:
        """The audience to ask a CI for: the override variable's, else ``default``."""
        return env.get(self.audience_variable, "").strip() or default

    def places(self) -> str:
        """Every place :func:`find` looks, in order, for messages."""
        return ", ".join(
            (
                *self.files,
                self.variable,
                f"{GITHUB_URL} (GitHub Actions with permissions: id-token: write)",
                CIRCLECI,
                BITBUCKET,
                f"{BUILDKITE_JOB} ({BUILDKITE_AGENT})",
            )
        )


class Trust:
    """What must trust a CI job's token for one OIDC method, in words for doctor (citrust).

    ``cloud``: where the method looks for the token; ``without``: what happens when there
    is none; ``admitter``: what must admit its claims; ``trust_object``: where another
    audience is accepted; ``both``: what a config used from CI and on Baseten needs.
    """

    __slots__ = ("admitter", "both", "cloud", "trust_object", "without")

    def __init__(
        self, cloud: Cloud, *, without: str, admitter: str, trust_object: str, both: str
    ) -> None:
        self.cloud = cloud
        self.without = without
        self.admitter = admitter
        self.trust_object = trust_object
        self.both = both


AWS = Cloud(
    ("DOCKER_CREDENTIAL_TRUSS_AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_WEB_IDENTITY_TOKEN_FILE"),
    "DOCKER_CREDENTIAL_TRUSS_AWS_WEB_IDENTITY_TOKEN",
    "DOCKER_CREDENTIAL_TRUSS_AWS_OIDC_AUDIENCE",
)
GCP = Cloud(
    ("DOCKER_CREDENTIAL_TRUSS_GCP_OIDC_TOKEN_FILE",),
    "DOCKER_CREDENTIAL_TRUSS_GCP_OIDC_TOKEN",
    "DOCKER_CREDENTIAL_TRUSS_GCP_OIDC_AUDIENCE",
)


def find(cloud: Cloud, env: Mapping[str, str], default_audience: str, key: str) -> Source | None:
    """The first token source present in ``env`` (see the module docstring), or None.

    ``key`` is the registry's, for messages.
    """
    source = _find(cloud, env, default_audience)
    if source is not None:
        source.key = key
        source.default_audience = default_audience
        debuglog.debug("%s: the CI token comes from %s", key, source.name)
    return source


def _find(cloud: Cloud, env: Mapping[str, str], default_audience: str) -> Source | None:
    for name in cloud.files:
        path = env.get(name, "").strip()
        if path:
            return TokenFile(path, name)
    value = env.get(cloud.variable, "").strip()
    if value:
        return TokenVariable(value, cloud.variable)
    url, request_token = env.get(GITHUB_URL, "").strip(), env.get(GITHUB_TOKEN, "").strip()
    if url and request_token:
        debuglog.redact(request_token)  # a bearer credential for the job's tokens
        return GitHub(url, request_token, cloud.audience(env, default_audience), env)
    for name in (CIRCLECI, BITBUCKET):
        value = env.get(name, "").strip()
        if value:
            return TokenVariable(value, name)
    job = env.get(BUILDKITE_JOB, "").strip()
    if job:
        return Buildkite(job, cloud.audience(env, default_audience), env)
    return None


def claims(token: str) -> dict | None:
    """The claims of a JWT, decoded and not verified (the cloud verifies), or None."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1].replace("-", "+").replace("_", "/")
    try:  # binascii rather than base64: base64 and struct cost ~1 ms of a cached get
        data = json.loads(binascii.a2b_base64(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def _digest(*parts: str) -> str:
    return sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:32]


class Source:
    """One place a job's token comes from; see the module docstring."""

    #: how the source is named in messages and doctor's report (never a value)
    name = ""
    #: the registry whose credential needs the token: every message starts with it
    key = ""
    #: the audience asked for; None when the token carries its CI's own
    audience: str | None = None
    #: the cloud's default audience (doctor warns about a token with another)
    default_audience = ""
    #: whether the token is read without the network or a program (doctor --offline)
    at_hand = False

    def job(self) -> str:
        """Whose job the token is, known without the network; never a secret."""
        raise NotImplementedError

    def inputs(self) -> str:
        """What the failure memory fingerprints (salted and hashed there)."""
        raise NotImplementedError

    def ready(self) -> None:
        """Every check :meth:`token` makes without the network or a subprocess."""

    def token(self) -> str:
        """The job's token; may use the network or run a program (a mint calls it)."""
        raise NotImplementedError


class _Given(Source):
    """A token at hand: in a file or a variable."""

    at_hand = True

    def _value(self) -> str:
        raise NotImplementedError

    def job(self) -> str:
        value = self._value()
        found = claims(value)
        if found is None:
            return "token=" + _digest(value)
        stable = {k: v for k, v in found.items() if k not in _PER_TOKEN_CLAIMS}
        # json.loads made every value, so json.dumps writes each
        return "claims=" + _digest(json.dumps(stable, sort_keys=True))

    def inputs(self) -> str:
        return self._value()

    def ready(self) -> None:
        self._value()

    def token(self) -> str:
        return self._value()


class TokenFile(_Given):
    """A file the CI (or the user) wrote the token to; read once per process."""

    def __init__(self, path: str, variable: str) -> None:
        self.path = path
        self.name = f"the token file {path} ({variable})"
        self._read: str | None = None

    def _value(self) -> str:
        if self._read is None:
            try:
                value = files.read_text(self.path).strip()  # never a FIFO
            except OSError as exc:
                raise ProviderError(
                    f"{self.key}: cannot read {self.name}: {files.reason(exc)}"
                ) from None
            if not value or any(c.isspace() for c in value):
                raise ProviderError(f"{self.key}: {self.name} does not hold one token")
            debuglog.redact(value)  # a bearer credential, read from outside the lookup
            self._read = value
        return self._read


class TokenVariable(_Given):
    """A variable holding the token itself."""

    def __init__(self, value: str, variable: str) -> None:
        debuglog.redact(value)  # the job's token enters here
        self.value = value
        self.name = f"${variable}"

    def _value(self) -> str:
        if any(c.isspace() for c in self.value):
            raise ProviderError(f"{self.key}: {self.name} does not hold one token")
        return self.value


class GitHub(Source):
    """GitHub Actions' token endpoint: a fresh token for ``audience`` per request."""

    def __init__(self, url: str, request_token: str, audience: str, env: Mapping[str, str]) -> None:
        self.url = url
        self.request_token = request_token
        self.audience = audience
        self.env = env
        self.name = f"GitHub Actions' token endpoint ({GITHUB_URL}, audience {audience})"
        self._fetched: str | None = None

    def job(self) -> str:
        return "github=" + _digest(self.url, self.request_token, self.audience)

    def inputs(self) -> str:
        return "\0".join((self.url, self.request_token, self.audience))

    def request_url(self) -> str:
        """The endpoint's URL with its own query string kept and ``audience`` added."""
        from urllib.parse import quote

        joint = "&" if "?" in self.url else "?"
        return f"{self.url}{joint}audience={quote(self.audience, safe='')}"

    def token(self) -> str:
        """GET the token; 429 and 5xx are retried, silence and refusals are not."""
        if self._fetched is not None:
            return self._fetched
        import random
        import time

        from docker_credential_truss import webclient

        web = webclient.Client(self.env, MAX_ANSWER)
        url = self.request_url()
        if not _safe_for_bearer(url):
            raise ProviderError(
                f"{self.key}: {GITHUB_URL} is not an https URL; the request token is not sent"
            )
        headers = {"Authorization": f"Bearer {self.request_token}", "Accept": "application/json"}
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                answer = web.send("GET", url, headers=headers)
            except webclient.Unreachable as exc:
                raise ProviderError(f"{self.key}: cannot reach {self.name}: {exc.reason}") from None
            busy = answer.status == 429 or 500 <= answer.status < 600
            if not busy or attempt == MAX_ATTEMPTS:
                break
            time.sleep(random.random() * BACKOFF * 2 ** (attempt - 1))  # noqa: S311 - jitter
        if answer.status != 200:
            raise ProviderError(f"{self.key}: {self.name} {_refused(answer.status, attempt)}")
        try:
            value = json.loads(answer.body)["value"]
        except (ValueError, KeyError, TypeError, RecursionError):
            value = None
        if not isinstance(value, str) or claims(value.strip()) is None:
            raise ProviderError(f"{self.key}: {self.name} answered without a token")
        value = value.strip()
        debuglog.redact(value)
        self._fetched = value
        return value


def _safe_for_bearer(url: str) -> bool:
    """https, or http to this machine (a runner's local proxy, a test's stand-in)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return False
    if parts.scheme == "https":
        return bool(host)
    return parts.scheme == "http" and host in ("127.0.0.1", "::1", "localhost")


def _refused(status: int, attempts: int) -> str:
    if 300 <= status < 400:
        return f"answered HTTP {status}, a redirect (not followed)"
    if status in (401, 403, 404):
        return (
            f"refused the request: HTTP {status} (does the job have permissions: id-token: write?)"
        )
    tries = f" after {attempts} attempts" if attempts > 1 else ""
    return f"answered HTTP {status}{tries}"


class Buildkite(Source):
    """``buildkite-agent oidc request-token``: the agent asks Buildkite for the job."""

    def __init__(self, job_id: str, audience: str, env: Mapping[str, str]) -> None:
        self.job_id = job_id
        self.audience = audience
        self.env = env
        self.name = f"{BUILDKITE_AGENT} oidc request-token (audience {audience})"
        self._fetched: str | None = None

    def job(self) -> str:
        agent_token = self.env.get("BUILDKITE_AGENT_ACCESS_TOKEN", "")
        return "buildkite=" + _digest(self.job_id, agent_token, self.audience)

    def inputs(self) -> str:
        return "\0".join((self.job_id, self.env.get("BUILDKITE_AGENT_ACCESS_TOKEN", "")))

    def token(self) -> str:
        """Run the agent, bounded by 3 network timeouts (it makes one request, retried)."""
        if self._fetched is not None:
            return self._fetched
        import shutil
        import subprocess

        from docker_credential_truss.minting import request_timeout

        program = shutil.which(BUILDKITE_AGENT, path=self.env.get("PATH") or os.defpath)
        if program is None:
            raise ProviderError(
                f"{self.key}: {BUILDKITE_JOB} is set but {BUILDKITE_AGENT} is not on PATH"
            )
        seconds = 3 * request_timeout(self.env)
        try:
            done = subprocess.run(
                [program, "oidc", "request-token", "--audience", self.audience],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                env=dict(self.env),
                timeout=seconds,
            )
        except subprocess.TimeoutExpired:
            raise ProviderError(
                f"{self.key}: {self.name} did not answer within {seconds:g}s"
            ) from None
        except OSError as exc:
            raise ProviderError(f"{self.key}: cannot run {program}: {files.reason(exc)}") from None
        value = done.stdout.decode("utf-8", "replace").strip()
        if value:
            debuglog.redact(value)
        if done.returncode != 0 or claims(value) is None:
            # its stderr is not shown: it may quote what it was sent
            raise ProviderError(
                f"{self.key}: {self.name} failed (exit status {done.returncode});"
                " run it in the job to see why"
            )
        self._fetched = value
        return value

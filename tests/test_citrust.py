"""doctor's OIDC section: the source found, the token's claims, and the warnings.

The providers are the real ones, made from settings and an environment holding the
CI's variables; GitHub's endpoint is tests/fakes/github.py. ``now`` is a parameter,
so expiry needs no sleeping.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest
from fakes.github import ISSUER, SUBJECT, FakeGitHub, job_claims, make_jwt

from docker_credential_truss import citrust
from docker_credential_truss.minting import TIMEOUT_VARIABLE
from docker_credential_truss.paths import Paths
from docker_credential_truss.providers import Spec, aws, gcp
from docker_credential_truss.registry import parse
from docker_credential_truss.secrets import Secrets

ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
ROLE = "arn:aws:iam::123456789012:role/ci-puller"
AWS_SETTINGS = {"aws_oidc_role_arn": ROLE, "aws_oidc_region": "us-east-1"}
WIP = "projects/123456789/locations/global/workloadIdentityPools/ci-pool/providers/github"
ACCOUNT = "puller@proj-1.iam.gserviceaccount.com"
GCP_SETTINGS = {"gcp_oidc_workload_id_provider": WIP, "gcp_oidc_service_account": ACCOUNT}
TOKEN_VARIABLE = "DOCKER_CREDENTIAL_TRUSS_AWS_WEB_IDENTITY_TOKEN"


class Findings:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def ok(self, text: str) -> None:
        self.lines.append(("ok", text))

    def note(self, text: str) -> None:
        self.lines.append(("--", text))

    def warn(self, text: str, fix: str) -> None:
        self.lines.append(("WARN", f"{text} | fix: {fix}"))

    def fail(self, text: str, fix: str) -> None:
        self.lines.append(("FAIL", f"{text} | fix: {fix}"))

    def of(self, kind: str) -> list[str]:
        return [text for k, text in self.lines if k == kind]


def run(tmp_path, env, method="AWS_OIDC", offline=False, now=None) -> Findings:
    paths = Paths.from_env({"HOME": str(tmp_path)})
    if method == "AWS_OIDC":
        settings = AWS_SETTINGS
        provider = aws.make(Spec(parse(ECR), method, settings, Secrets(env, paths), env))
    else:
        settings = GCP_SETTINGS
        provider = gcp.make(Spec(parse("gcr.io"), method, settings, Secrets(env, paths), env))
    found = Findings()
    citrust.check(found, provider, method, settings, env, offline, now or time.time())
    return found


def test_the_claims_are_shown_as_what_the_trust_policy_must_admit(tmp_path):
    claims = job_claims("sts.amazonaws.com")
    found = run(tmp_path, {TOKEN_VARIABLE: make_jwt(**claims)})
    assert found.of("ok") == [f"CI OIDC token: from ${TOKEN_VARIABLE}"]
    notes = found.of("--")
    assert notes[0] == f"the trust policy of {ROLE} (and its IAM OIDC provider) must admit" + (
        " (decoded, not verified):"
    )
    assert notes[1:5] == [
        f"  iss {ISSUER}",
        "  aud sts.amazonaws.com",
        f"  sub {SUBJECT}",
        "  exp " + time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(claims["exp"])),
    ]
    assert "https://oidc.baseten.co" in notes[5]
    assert found.of("WARN") == [] and found.of("FAIL") == []


def test_an_expired_token_and_another_audience_are_warned_about(tmp_path):
    claims = job_claims("my-org-id")
    found = run(tmp_path, {"CIRCLE_OIDC_TOKEN_V2": make_jwt(**claims)}, now=claims["exp"] + 1)
    warnings = found.of("WARN")
    assert warnings[0].startswith("the CI token expired at ")
    assert warnings[1].startswith(
        "the token's audience is not sts.amazonaws.com, the default for AWS_OIDC"
    )
    assert "DOCKER_CREDENTIAL_TRUSS_AWS_OIDC_AUDIENCE" in warnings[1]


def test_google_accepts_either_spelling_of_the_default_audience(tmp_path):
    for prefix in ("https://iam.googleapis.com/", "//iam.googleapis.com/"):
        token = make_jwt(**job_claims(prefix + WIP))
        found = run(tmp_path, {"DOCKER_CREDENTIAL_TRUSS_GCP_OIDC_TOKEN": token}, "GCP_OIDC")
        assert found.of("WARN") == [], prefix
        assert found.of("--")[0].startswith(f"workload identity provider {WIP} (and {ACCOUNT}'s")


def test_no_source_names_every_place_looked(tmp_path):
    (note,) = run(tmp_path, {}).of("--")
    assert note.startswith("CI OIDC token: none; looked at DOCKER_CREDENTIAL_TRUSS_AWS_WEB")
    assert "BITBUCKET_STEP_OIDC_TOKEN" in note and "AssumeRole" in note


def test_github_is_asked_online_and_not_offline(tmp_path):
    with FakeGitHub() as github:
        offline = run(tmp_path, github.env(), offline=True)
        assert github.calls == 0
        assert offline.of("--") == [
            "CI OIDC token: not asked for (--offline), so its claims are not shown"
        ]
        online = run(tmp_path, github.env())
        assert github.calls == 1 and github.audiences == ["sts.amazonaws.com"]
        assert f"  sub {SUBJECT}" in online.of("--")
        shown = "\n".join(text for _, text in online.lines)
        assert github.issued[0] not in shown and github.request_token not in shown


def test_a_refusal_is_a_failure_with_the_reason(tmp_path):
    with FakeGitHub() as github:
        env = dict(github.env(), ACTIONS_ID_TOKEN_REQUEST_TOKEN="wrong")
        (failure,) = run(tmp_path, env).of("FAIL")
    assert "refused the request: HTTP 401" in failure


@pytest.mark.parametrize("sub", ["line\nbreak\x1b[31m", "x" * 500])
def test_claims_are_shown_on_one_line_without_control_characters(tmp_path, sub):
    token = make_jwt(**job_claims("sts.amazonaws.com", sub))
    shown = next(t for t in run(tmp_path, {TOKEN_VARIABLE: token}).of("--") if "  sub " in t)
    assert shown.isprintable() and len(shown) < 220


def test_a_token_that_is_not_a_jwt_is_warned_about(tmp_path):
    found = run(tmp_path, {TOKEN_VARIABLE: "not-a-jwt"})
    assert found.of("WARN")[0].startswith("the CI token is not a JWT")


# -- what a person reads, word for word ---------------------------------------------------


def claim_lines(found: Findings) -> dict[str, str]:
    """The claims doctor shows, by name: "  sub x" -> {"sub": "x"}."""
    shown = {}
    for text in found.of("--"):
        name, _, value = text.strip().partition(" ")
        if text.startswith("  ") and name in citrust.CLAIMS:
            shown[name] = value
    return shown


def test_a_missing_claim_is_shown_as_absent(tmp_path):
    claims = job_claims("sts.amazonaws.com")
    del claims["sub"]
    found = run(tmp_path, {TOKEN_VARIABLE: make_jwt(**claims)})
    assert claim_lines(found)["sub"] == "(absent)"


def test_claims_that_are_not_text_are_shown_as_written(tmp_path):
    # two audiences, a number where a subject is expected: shown as they are, not
    # run together and not read as a time (only exp is a time)
    claims = job_claims(["sts.amazonaws.com", "my-org-id"], subject=1700000000)
    found = run(tmp_path, {TOKEN_VARIABLE: make_jwt(**claims)})
    shown = claim_lines(found)
    assert shown["aud"] == "['sts.amazonaws.com', 'my-org-id']"
    assert shown["sub"] == "1700000000"
    assert found.of("WARN") == []  # one of the audiences is the default


def test_control_characters_in_a_claim_are_each_shown_as_a_question_mark(tmp_path):
    token = make_jwt(**job_claims("sts.amazonaws.com", "repo:a\nb\x1b[31m"))
    assert claim_lines(run(tmp_path, {TOKEN_VARIABLE: token}))["sub"] == "repo:a?b?[31m"


def test_a_claim_is_cut_after_200_characters_and_only_then(tmp_path):
    for length, shown in ((200, "x" * 200), (201, "x" * 200 + "...")):
        token = make_jwt(**job_claims("sts.amazonaws.com", "x" * length))
        assert claim_lines(run(tmp_path, {TOKEN_VARIABLE: token}))["sub"] == shown, length


def test_an_expiry_past_the_calendar_is_shown_as_the_number(tmp_path):
    token = make_jwt(**job_claims("sts.amazonaws.com", exp=10**20))
    found = run(tmp_path, {TOKEN_VARIABLE: token})
    assert claim_lines(found)["exp"] == "100000000000000000000"
    assert found.of("WARN") == []


def test_the_expiry_and_audience_warnings_in_full(tmp_path):
    claims = job_claims("my-org-id")
    found = run(tmp_path, {"CIRCLE_OIDC_TOKEN_V2": make_jwt(**claims)}, now=claims["exp"] + 1)
    expired_at = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(claims["exp"]))
    assert found.of("WARN") == [
        f"the CI token expired at {expired_at} | fix: the CI makes a token per job:"
        " $CIRCLE_OIDC_TOKEN_V2 must hold this job's, not an old one",
        "the token's audience is not sts.amazonaws.com, the default for AWS_OIDC | fix:"
        " accept it in the role's IAM OIDC provider, or have the CI issue the token for"
        " sts.amazonaws.com (DOCKER_CREDENTIAL_TRUSS_AWS_OIDC_AUDIENCE sets what the helper"
        " asks GitHub and Buildkite for)",
    ]


def test_a_token_is_expired_from_its_exp_second_on(tmp_path):
    claims = job_claims("sts.amazonaws.com")
    token = make_jwt(**claims)
    at_expiry = run(tmp_path, {TOKEN_VARIABLE: token}, now=claims["exp"])
    assert [w.split(" | ")[0] for w in at_expiry.of("WARN")] == [
        "the CI token expired at "
        + time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(claims["exp"]))
    ]
    assert run(tmp_path, {TOKEN_VARIABLE: token}, now=claims["exp"] - 1).of("WARN") == []


def test_a_token_that_is_not_a_jwt_is_warned_about_with_where_to_look(tmp_path):
    found = run(tmp_path, {TOKEN_VARIABLE: "not-a-jwt"})
    assert found.of("WARN") == [
        "the CI token is not a JWT, so its claims cannot be shown | fix: check what"
        f" ${TOKEN_VARIABLE} holds: a CI's OIDC token has three dot-separated parts"
    ]


class Trickle:
    """A token endpoint on 127.0.0.1 that answers 200 and then one byte of its body per
    20 ms: no read waits long enough to time out, so only the whole-exchange deadline
    can end the request."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.getsockname()[1]}/token?api-version=2.0"

    def _serve(self) -> None:
        self._server.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except OSError:
                continue
            with conn:
                conn.recv(65536)
                head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                conn.sendall(head + b"Content-Length: 4000\r\n\r\n")
                while not self._stop.wait(0.02):
                    try:
                        conn.sendall(b" ")
                    except OSError:
                        break

    def __enter__(self) -> Trickle:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._server.close()


def test_a_token_endpoint_that_never_finishes_is_a_failure_naming_the_registry(tmp_path):
    with Trickle() as endpoint:
        env = {
            "GITHUB_ACTIONS": "true",
            "ACTIONS_ID_TOKEN_REQUEST_URL": endpoint.url,
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "request-token",
            TIMEOUT_VARIABLE: "0.1",  # a deadline of 0.6 s
        }
        found = run(tmp_path, env)
    assert found.of("FAIL") == [
        f"{ECR}: no OIDC token within 0.6s; the endpoint is too slow (6 x {TIMEOUT_VARIABLE})"
        " | fix: see docs/ci.md for what the job needs"
    ]

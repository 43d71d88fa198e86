"""The Google provider against a local stand-in that the real google-auth talks to.

Tests that a message holds no secret compute the answer before asserting, so that
pytest's assertion rewriting never prints a key or a token when one fails.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time

import pytest
from fakes import sockets
from fakes.gcp import EMAIL, LEAK_SENTINEL, FakeGoogle, ServiceAccountKey
from hypothesis import given
from hypothesis import strategies as st

from docker_credential_truss.errors import ConfigError, ProviderError, SecretError
from docker_credential_truss.minting import DEFAULT_TIMEOUT, TIMEOUT_VARIABLE
from docker_credential_truss.paths import Paths
from docker_credential_truss.providers import Spec, gcp
from docker_credential_truss.registry import InvalidRegistry, parse
from docker_credential_truss.secrets import Secrets

AR = "us-west2-docker.pkg.dev"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WIP = "projects/123456789/locations/global/workloadIdentityPools/ci-pool/providers/github"
AUDIENCE = "//iam.googleapis.com/" + WIP
OIDC_ACCOUNT = "puller@proj-1.iam.gserviceaccount.com"
CI_TOKEN = "ci.oidc.token"
#: google-auth tries a token request that answered 500 three times in all (with backoff).
GOOGLE_AUTH_ATTEMPTS = 3

ACCEPTED = [
    "gcr.io",
    "us.gcr.io",
    "eu.gcr.io",
    "asia.gcr.io",
    "us-docker.pkg.dev",
    "europe-docker.pkg.dev",
    "asia-docker.pkg.dev",
    "us-west2-docker.pkg.dev",
    "us-central1-docker.pkg.dev",
    "europe-west10-docker.pkg.dev",
    "northamerica-northeast1-docker.pkg.dev",
    "southamerica-east1-docker.pkg.dev",
    "australia-southeast2-docker.pkg.dev",
    "me-central2-docker.pkg.dev",
    "africa-south1-docker.pkg.dev",
    "asia-northeast3-docker.pkg.dev",
]
LOOKALIKES = [
    "pkg.dev",
    "docker.pkg.dev",
    "pkg.dev.evil.com",
    "us-west2-docker.pkg.dev.evil.com",
    "evil.us-west2-docker.pkg.dev",
    "us-west2-docker.pkg.devx",
    "us-west2-docker-pkg.dev",
    "us-west2-python.pkg.dev",
    "us-west2-docker.evil.dev",
    "us-west-docker.pkg.dev",
    "us-west0-docker.pkg.dev",
    "west2-docker.pkg.dev",
    "usa-docker.pkg.dev",
    "gcr.io.evil.com",
    "evil-gcr.io",
    "evilgcr.io",
    "evil.gcr.io",
    "mirror.gcr.io",
    "uk.gcr.io",
    "gcr.com",
    "us.gcr.io.evil.com",
]


def registry(server: str = AR):
    return parse(server)


def secrets_for(tmp_path, **values: str) -> Secrets:
    env = {"HOME": str(tmp_path)} | {f"TRUSS_SECRET_{k}": v for k, v in values.items()}
    return Secrets(env, Paths.from_env(env))


def sa_provider(tmp_path, key_json: str, server: str = AR, env=None):
    return gcp.make(
        Spec(
            registry(server),
            "GCP_SERVICE_ACCOUNT_JSON",
            {"auth_method": "GCP_SERVICE_ACCOUNT_JSON", "secret_name": "gcp-sa"},
            secrets_for(tmp_path, **{"gcp-sa": key_json}),
            {"DOCKER_CREDENTIAL_TRUSS_TIMEOUT": "1"} | (env or {}),
        )
    )


def leaks(text: str, *secret_values: str) -> bool:
    """Whether any secret (or a telling piece of one) appears in ``text``."""
    for value in secret_values:
        pieces = [value] + [line for line in value.splitlines() if len(line) > 16]
        if any(piece in text for piece in pieces):
            return True
    return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def google():
    with FakeGoogle() as fake:
        yield fake


# --- hosts --------------------------------------------------------------------------


@pytest.mark.parametrize("host", ACCEPTED)
def test_google_registry_hosts_are_recognised(host):
    reg = parse(f"https://{host.upper()}/proj/repo/img")
    assert gcp.is_google_registry(reg.host, reg.port)


@pytest.mark.parametrize("host", LOOKALIKES)
def test_lookalike_hosts_are_not_google(host):
    reg = parse(host)
    assert not gcp.is_google_registry(reg.host, reg.port)


@pytest.mark.parametrize("server", ["gcr.io:443", "us-west2-docker.pkg.dev:5000"])
def test_a_port_means_not_google(server):
    reg = parse(server)
    assert not gcp.is_google_registry(reg.host, reg.port)


@given(
    st.sampled_from(ACCEPTED),
    st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True),
)
def test_no_label_added_to_a_google_host_stays_google(host, label):
    assert not gcp.is_google_registry(f"{label}.{host}")
    assert not gcp.is_google_registry(f"{host}.{label}")
    if host.endswith("gcr.io"):  # prefixing a region could make another real location
        assert not gcp.is_google_registry(f"{label}{host}")


def test_a_google_method_on_another_host_is_refused(tmp_path, google):
    key = google.new_key()
    with pytest.raises(ConfigError, match="refusing to send a Google token"):
        sa_provider(tmp_path, key.json(), server="registry.example.com")
    assert google.calls["token"] == 0


# --- GCP_SERVICE_ACCOUNT_JSON --------------------------------------------------------


def test_service_account_key_mints_through_the_jwt_bearer_grant(tmp_path, google):
    key = google.new_key()
    provider = sa_provider(tmp_path, key.json())
    assert provider.username == "oauth2accesstoken"
    assert provider.cacheable
    before = time.time()
    token = provider.mint()
    assert google.rejections == []
    assert google.calls["token"] == 1
    assert token.username == "oauth2accesstoken"
    ok = token.secret == google.issued["token"][0]
    assert ok, "the token is not the one the endpoint issued"
    assert before + 3600 - 5 <= token.expires_at <= time.time() + 3600 + 5


def test_expiry_is_utc_epoch_not_local_time(tmp_path, google, monkeypatch):
    # google-auth's expiry is a naive UTC datetime; reading it as local time would
    # shift it by the zone's offset.
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        token = sa_provider(tmp_path, google.new_key().json()).mint()
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert abs(token.expires_at - (time.time() + 3600)) < 30


def test_a_key_the_endpoint_does_not_know_is_refused(tmp_path, google):
    stranger = ServiceAccountKey(google.token_uri)  # never registered with the fake
    with pytest.raises(ProviderError) as err:
        sa_provider(tmp_path, stranger.json()).mint()
    assert google.rejections == ["assertion kid is not a known key id"]
    assert "HTTP 400 (invalid_grant)" in err.value.message


def test_an_assertion_signed_with_another_key_fails_verification(tmp_path, google):
    key = google.new_key()
    forged = dict(key.info, private_key=ServiceAccountKey(google.token_uri).info["private_key"])
    with pytest.raises(ProviderError):
        sa_provider(tmp_path, json.dumps(forged)).mint()
    assert google.rejections == ["assertion signature does not verify"]


def test_refusal_is_one_line_naming_registry_and_code_without_secrets(tmp_path, google):
    key = google.new_key()
    google.fail["token"] = "refuse"
    with pytest.raises(ProviderError) as err:
        sa_provider(tmp_path, key.json()).mint()
    message = err.value.message
    assert message.startswith(AR + ": ")
    assert google.token_uri in message
    assert "HTTP 400 (invalid_grant)" in message
    assert "\n" not in message
    leaked = leaks(message, key.info["private_key"], LEAK_SENTINEL)
    assert not leaked, "the error repeats the key or the response body"


def test_server_error_is_reported_after_google_auths_retries(tmp_path, google):
    google.fail["token"] = "500"
    with pytest.raises(ProviderError) as err:
        sa_provider(tmp_path, google.new_key().json()).mint()
    assert google.calls["token"] == GOOGLE_AUTH_ATTEMPTS, (
        "a 500 is retried, a bounded number of times"
    )
    assert "HTTP 500 (internal_failure)" in err.value.message
    assert LEAK_SENTINEL not in err.value.message


def test_a_hanging_token_endpoint_fails_within_the_timeout(tmp_path, google, monkeypatch):
    google.fail["token"] = "hang"
    wire = sockets.watch(monkeypatch, google.port)
    with pytest.raises(ProviderError) as err:
        sa_provider(tmp_path, google.new_key().json()).mint()
    # One connection and one read, both under the 1 s asked for; the read's timeout
    # expired, and silence was not tried again.
    assert wire.connects == [(1.0, "connected")]
    assert wire.timed_out_reads() == [1.0]
    assert google.calls["token"] == 1
    assert err.value.message == f"{AR}: cannot reach {google.token_uri}: no answer within 1s"


def test_an_unreachable_token_endpoint_is_named(tmp_path):
    uri = f"http://127.0.0.1:{free_port()}/token"
    with pytest.raises(ProviderError) as err:
        sa_provider(tmp_path, ServiceAccountKey(uri).json()).mint()
    assert err.value.message == f"{AR}: cannot reach {uri}: connection failed"


def test_the_default_timeout_is_a_few_seconds(tmp_path, google):
    provider = gcp.make(
        Spec(
            registry(),
            "GCP_SERVICE_ACCOUNT_JSON",
            {"secret_name": "gcp-sa"},
            secrets_for(tmp_path, **{"gcp-sa": google.new_key().json()}),
            {},
        )
    )
    assert provider.timeout == DEFAULT_TIMEOUT == 3.0


@pytest.mark.parametrize("value", ["0", "-1", "abc", "301"])
def test_a_bad_timeout_is_a_config_error(tmp_path, google, value):
    with pytest.raises(ConfigError, match="DOCKER_CREDENTIAL_TRUSS_TIMEOUT"):
        sa_provider(tmp_path, google.new_key().json(), env={TIMEOUT_VARIABLE: value})


def test_key_that_is_not_json_is_a_secret_error_without_its_contents(tmp_path):
    value = "SENTINEL-not-json-5e2a {"
    with pytest.raises(SecretError) as err:
        sa_provider(tmp_path, value)
    message = err.value.message
    assert message.startswith(f"{AR}: secret gcp-sa is not valid JSON (line 1 column ")
    assert not leaks(message, "SENTINEL-not-json-5e2a"), "the error quotes the secret"


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        ({"type": "authorized_user", "refresh_token": "x"}, 'no "type": "service_account"'),
        (["service_account"], 'no "type": "service_account"'),
        ({"type": "service_account", "private_key": "x"}, "without client_email, private_key_id"),
    ],
)
def test_json_that_is_not_a_service_account_key_is_a_secret_error(tmp_path, info, expected):
    with pytest.raises(SecretError) as err:
        sa_provider(tmp_path, json.dumps(info))
    assert expected in err.value.message


def test_a_broken_private_key_fails_at_mint_without_its_contents(tmp_path, google):
    key = google.new_key()
    lines = key.info["private_key"].splitlines()
    broken = "\n".join([lines[0], "SENTINEL" + lines[1][8:], *lines[2:]])
    provider = sa_provider(tmp_path, json.dumps(dict(key.info, private_key=broken)))
    with pytest.raises(SecretError) as err:
        provider.mint()
    assert "private_key is not a usable PEM RSA key" in err.value.message
    assert not leaks(err.value.message, broken), "the error quotes the key"
    assert google.calls["token"] == 0


def test_a_missing_key_secret_names_the_secret(tmp_path):
    with pytest.raises(SecretError, match="gcp-sa"):
        gcp.make(
            Spec(
                registry(),
                "GCP_SERVICE_ACCOUNT_JSON",
                {"secret_name": "gcp-sa"},
                secrets_for(tmp_path),
                {},
            )
        )


def test_a_missing_secret_name_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="secret_name"):
        gcp.make(Spec(registry(), "GCP_SERVICE_ACCOUNT_JSON", {}, secrets_for(tmp_path), {}))


def test_identity_follows_the_key_id_and_never_holds_the_key(tmp_path, google):
    key = google.new_key()
    first = sa_provider(tmp_path, key.json()).identity()
    assert first == sa_provider(tmp_path, key.json()).identity()
    rotated = dict(key.info, private_key_id="0" * 40)
    assert sa_provider(tmp_path, json.dumps(rotated)).identity() != first
    assert EMAIL in first
    assert not leaks(first, key.info["private_key"]), "the identity holds the key"


def test_make_and_identity_import_neither_google_auth_nor_requests(tmp_path):
    key = ServiceAccountKey("http://127.0.0.1:9/token")
    code = f"""
import sys
from docker_credential_truss.paths import Paths
from docker_credential_truss.providers import Spec, gcp
from docker_credential_truss.registry import parse
from docker_credential_truss.secrets import Secrets
env = {{"HOME": {str(tmp_path)!r}, "TRUSS_SECRET_gcp-sa": sys.stdin.read()}}
for method, settings in [
    ("GCP_SERVICE_ACCOUNT_JSON", {{"secret_name": "gcp-sa"}}),
    ("GCP_OIDC", {{"gcp_oidc_workload_id_provider": {WIP!r},
                  "gcp_oidc_service_account": {OIDC_ACCOUNT!r}}}),
]:
    spec = Spec(parse({AR!r}), method, settings, Secrets(env, Paths.from_env(env)), env)
    gcp.make(spec).identity()
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("google", "requests", "urllib3"))
print(heavy)
"""
    out = subprocess.run(
        [sys.executable, "-c", code],
        input=key.json(),
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, PYTHONPATH=ROOT),
    ).stdout
    assert out.strip() == "[]"


# --- GCP_OIDC ---------------------------------------------------------------------------


def oidc_provider(tmp_path, google, *, token: str | None = CI_TOKEN, env=None, **settings):
    environment = {
        gcp.ENV_STS_URL: google.sts_url,
        gcp.ENV_IAMCREDENTIALS_URL: google.url,
        TIMEOUT_VARIABLE: "1",
    }
    if token is not None:
        path = tmp_path / "oidc-token"
        path.write_text(token + "\n")
        environment[gcp.ENV_OIDC_TOKEN_FILE] = str(path)
    environment.update(env or {})
    fields = {"gcp_oidc_workload_id_provider": WIP, "gcp_oidc_service_account": OIDC_ACCOUNT}
    fields.update(settings)
    return gcp.make(Spec(registry(), "GCP_OIDC", fields, secrets_for(tmp_path), environment))


@pytest.fixture
def federation(google):
    google.expect_federation(
        audience=AUDIENCE, subject_token=CI_TOKEN, service_account=OIDC_ACCOUNT
    )
    return google


@pytest.mark.parametrize("provider_field", [WIP, AUDIENCE])
def test_oidc_exchanges_the_ci_token_and_impersonates(tmp_path, federation, provider_field):
    provider = oidc_provider(tmp_path, federation, gcp_oidc_workload_id_provider=provider_field)
    token = provider.mint()
    assert federation.rejections == []
    assert federation.calls == {"token": 0, "sts": 1, "iam": 1}
    assert token.username == "oauth2accesstoken"
    ok = token.secret == federation.issued["iam"][0]
    assert ok, "the token is not the impersonated service account's"
    assert abs(token.expires_at - (time.time() + 3600)) < 30


def test_oidc_registers_the_sts_token_and_the_ci_token_for_masking(tmp_path, federation):
    from docker_credential_truss import debuglog

    oidc_provider(tmp_path, federation).mint()
    (sts_token,) = federation.issued["sts"]
    line = debuglog.masked(f"{sts_token} {CI_TOKEN}")
    assert sts_token not in line and CI_TOKEN not in line


def test_oidc_with_a_token_the_provider_does_not_accept(tmp_path, federation):
    with pytest.raises(ProviderError) as err:
        oidc_provider(tmp_path, federation, token="SENTINEL.other.token").mint()
    assert federation.rejections == ["subject_token is not the CI's token"]
    message = err.value.message
    assert message == f"{AR}: {federation.sts_url} refused the credential: HTTP 400 (invalid_grant)"
    assert federation.calls["iam"] == 0


def test_oidc_audience_is_checked_by_sts(tmp_path, federation):
    other = WIP.replace("providers/github", "providers/other")
    with pytest.raises(ProviderError):
        oidc_provider(tmp_path, federation, gcp_oidc_workload_id_provider=other).mint()
    assert federation.rejections == ["audience is not the workload identity provider"]


def test_oidc_impersonation_refused_names_iam_and_status(tmp_path, federation):
    federation.fail["iam"] = "refuse"
    with pytest.raises(ProviderError) as err:
        oidc_provider(tmp_path, federation).mint()
    message = err.value.message
    assert f"{federation.url}/v1/projects/-/serviceAccounts/{OIDC_ACCOUNT}" in message
    assert message.endswith("refused the credential: HTTP 403 (PERMISSION_DENIED)")
    leaked = leaks(message, LEAK_SENTINEL, *federation.issued["sts"], CI_TOKEN)
    assert not leaked, "the error repeats a token or the response body"


def test_oidc_hanging_sts_fails_within_the_timeout(tmp_path, federation, monkeypatch):
    federation.fail["sts"] = "hang"
    wire = sockets.watch(monkeypatch, federation.port)
    with pytest.raises(ProviderError, match="no answer within 1s"):
        oidc_provider(tmp_path, federation).mint()
    assert wire.connects == [(1.0, "connected")]
    assert wire.timed_out_reads() == [1.0]
    assert (federation.calls["sts"], federation.calls["iam"]) == (1, 0)


def test_oidc_without_the_token_file_variable_says_which_variable(tmp_path, federation):
    provider = oidc_provider(tmp_path, federation, token=None)
    with pytest.raises(ProviderError, match=gcp.ENV_OIDC_TOKEN_FILE):
        provider.mint()
    assert federation.calls["sts"] == 0


def test_oidc_with_a_missing_token_file_names_the_file(tmp_path, federation):
    missing = str(tmp_path / "nope")
    provider = oidc_provider(tmp_path, federation, env={gcp.ENV_OIDC_TOKEN_FILE: missing})
    with pytest.raises(ProviderError) as err:
        provider.mint()
    assert err.value.message == (
        f"{AR}: cannot read the token file {missing} ({gcp.ENV_OIDC_TOKEN_FILE}):"
        " No such file or directory"
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("gcp_oidc_workload_id_provider", "projects/my-project/providers/x"),
        ("gcp_oidc_workload_id_provider", "//iam.evil.com/" + WIP),
        ("gcp_oidc_service_account", "not-an-email"),
        ("gcp_oidc_service_account", ""),
    ],
)
def test_oidc_settings_are_checked_when_made(tmp_path, google, field, value):
    with pytest.raises(ConfigError, match=field):
        oidc_provider(tmp_path, google, **{field: value})


def test_oidc_identity_is_the_account_and_the_job_not_the_ci_token(tmp_path, google):
    """Two tokens of one job (new jti, times) share a cache entry; another subject does not."""
    from fakes.github import job_claims, make_jwt

    claims = job_claims(AUDIENCE)
    first, second = make_jwt(**claims), make_jwt(**dict(claims, jti="x", iat=1, exp=2))
    a = oidc_provider(tmp_path, google, token=first).identity()
    assert a == oidc_provider(tmp_path, google, token=second).identity()
    other_job = make_jwt(**dict(claims, sub="repo:octo-org/other:ref:refs/heads/main"))
    assert a != oidc_provider(tmp_path, google, token=other_job).identity()
    other = "other@proj-1.iam.gserviceaccount.com"
    assert a != oidc_provider(tmp_path, google, gcp_oidc_service_account=other).identity()
    assert oidc_provider(tmp_path, google, token="one").identity() != (
        oidc_provider(tmp_path, google, token="two").identity()
    ), "a token that is not a JWT stands for itself"
    assert not [part for part in a if first in part or "octo" in part]


def test_an_unknown_method_is_refused(tmp_path):
    with pytest.raises(ConfigError):
        gcp.make(Spec(registry(), "AWS_IAM", {}, secrets_for(tmp_path), {}))


def test_registry_parse_rejects_what_would_dodge_the_exact_match():
    for server in ["us-west2-docker.pkg.dev.", "us-west2-docker.pkg.dev@evil.com", "gcr.io:0"]:
        with pytest.raises(InvalidRegistry):
            parse(server)


# --- what a person reads when a key or an exchange goes wrong -----------------------------


def test_a_broken_private_key_names_the_secret_and_the_problem_in_full(tmp_path, google):
    key = google.new_key()
    provider = sa_provider(tmp_path, json.dumps(dict(key.info, private_key="not a key")))
    with pytest.raises(SecretError) as err:
        provider.mint()
    assert err.value.message == (
        f"{AR}: secret gcp-sa holds a service-account key whose private_key is not a usable"
        " PEM RSA key"
    )


def test_without_requests_the_mint_says_which_package_is_missing(tmp_path, google, monkeypatch):
    provider = sa_provider(tmp_path, google.new_key().json())
    monkeypatch.setitem(sys.modules, "requests", None)  # importing it now fails
    with pytest.raises(ProviderError) as err:
        provider.mint()
    assert err.value.message == (
        f"{AR}: Google auth needs the 'requests' package (google-auth[requests])"
    )


def _key(**fields) -> str:
    info = {"type": "service_account", "client_email": EMAIL, "private_key_id": "k1"}
    return json.dumps({**info, "private_key": "pem", **fields})


def test_a_key_without_token_uri_goes_to_googles_token_endpoint():
    info = gcp.service_account_info("where", _key())
    assert info["token_uri"] == "https://oauth2.googleapis.com/token"
    custom = gcp.service_account_info("where", _key(token_uri="https://sts.example/token"))
    assert custom["token_uri"] == "https://sts.example/token"


@pytest.mark.parametrize("token_uri", ["ftp://example.com/token", 5, "oauth2.googleapis.com"])
def test_a_token_uri_that_is_not_http_is_refused_by_name(token_uri):
    with pytest.raises(SecretError) as err:
        gcp.service_account_info(f"{AR}: secret gcp-sa", _key(token_uri=token_uri))
    assert err.value.message == f"{AR}: secret gcp-sa has a token_uri that is not an http(s) URL"


def test_json_refused_without_a_position_is_named_without_one():
    # a 5000-digit number: json.loads raises a ValueError that has no line or column
    with pytest.raises(SecretError) as err:
        gcp.service_account_info(f"{AR}: secret gcp-sa", '{"n": ' + "1" * 5000 + "}")
    assert err.value.message == (
        f"{AR}: secret gcp-sa is not valid JSON; expected a service-account key"
    )


def test_an_oidc_provider_without_a_ci_token_still_has_an_identity(tmp_path, google):
    # list and doctor read the identity of a registry whose CI token is not there
    provider = oidc_provider(tmp_path, google, token=None)
    assert provider.identity()[-1] == ""


def _refused(*args) -> Exception:
    from google.auth import exceptions

    return exceptions.RefreshError(*args)


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("msg", "not json", '{"error": "invalid_grant"}'), " (invalid_grant)"),
        (("msg", 7, {"error": "invalid_scope"}), " (invalid_scope)"),
        (("msg", {"error": {"code": 403}}), " (403)"),
        (("msg", {"error": {"status": "PERMISSION_DENIED", "code": 403}}), " (PERMISSION_DENIED)"),
        (("msg", {"error_description": "why"}), ""),
    ],
)
def test_a_refusal_shows_googles_error_code_only(args, code):
    endpoint = "http://127.0.0.1:1/v1/token"
    said = gcp._refusal(endpoint, 400, _refused(*args))
    assert said == f"{endpoint} refused the credential: HTTP 400{code}"


def test_a_refusal_says_whether_google_answered_at_all():
    error = _refused("msg", {"error": "invalid_grant"})
    assert gcp._refusal("STS", 200, error) == "STS answered without a usable access token"
    assert gcp._refusal("STS", 0, error) == (
        "getting a Google access token failed before STS answered (invalid_grant)"
    )


def test_a_transport_failure_is_named_by_its_cause():
    import requests
    from google.auth import exceptions

    def failure(*, cause=None, context=None) -> Exception:
        error = exceptions.TransportError("x")
        error.__cause__, error.__context__ = cause, context
        return error

    tls = requests.exceptions.SSLError("x")
    assert gcp._transport_reason(failure(cause=tls), 1.0) == "TLS failed"
    slow = requests.exceptions.ReadTimeout("x")
    assert gcp._transport_reason(failure(context=slow), 2.5) == "no answer within 2.5s"
    assert gcp._transport_reason(failure(), 1.0) == "TransportError"


def test_oidc_without_requests_says_which_package_is_missing(tmp_path, google, monkeypatch):
    from google.auth import identity_pool  # noqa: F401 - loaded before requests is hidden

    provider = oidc_provider(tmp_path, google)
    monkeypatch.setitem(sys.modules, "requests", None)  # importing it now fails
    with pytest.raises(ProviderError) as err:
        provider.mint()
    assert err.value.message == (
        f"{AR}: Google auth needs the 'requests' package (google-auth[requests])"
    )


def test_a_failure_before_any_request_names_googles_token_endpoint():
    from google.auth import exceptions

    class FailsAtOnce:  # google-auth credentials that give up before sending anything
        def refresh(self, request: object) -> None:
            raise exceptions.RefreshError("no request made")

    with pytest.raises(ProviderError) as err:
        gcp._refresh(registry(), FailsAtOnce(), 1.0)
    assert err.value.message == (
        f"{AR}: getting a Google access token failed before Google's token endpoint answered"
    )


class _Answers:
    """google-auth credentials whose refresh sends nothing and ends as told."""

    def __init__(self, raises: Exception | None = None, **attributes: object) -> None:
        self.raises = raises
        self.__dict__.update(attributes)

    def refresh(self, request: object) -> None:
        if self.raises is not None:
            raise self.raises


@pytest.mark.parametrize("credentials", [_Answers(token=""), _Answers(token=None), _Answers()])
def test_no_access_token_after_a_refresh_is_said_so(credentials):
    with pytest.raises(ProviderError) as err:
        gcp._refresh(registry(), credentials, 1.0)
    assert err.value.message == f"{AR}: Google's token endpoint sent no access token"


def test_a_token_without_an_expiry_is_kept_without_one():
    token = gcp._refresh(registry(), _Answers(token="at-1"), 1.0)
    assert (token.username, token.secret == "at-1", token.expires_at) == (
        "oauth2accesstoken",
        True,
        None,
    )


def test_an_unexpected_failure_names_where_and_its_type_only():
    credentials = _Answers(raises=ValueError(LEAK_SENTINEL))
    with pytest.raises(ProviderError) as err:
        gcp._refresh(registry(), credentials, 1.0)
    assert err.value.message == (
        f"{AR}: getting a Google access token failed at Google's token endpoint (ValueError)"
    )


def test_a_google_method_on_a_google_host_with_a_port_is_refused_in_full():
    said = gcp.check(parse(AR + ":443"), "GCP_SERVICE_ACCOUNT_JSON", {"secret_name": "s"})
    assert said == (
        f"{AR}:443: GCP_SERVICE_ACCOUNT_JSON is only for Google Artifact Registry"
        " (<location>-docker.pkg.dev) and Container Registry (gcr.io, us.gcr.io, eu.gcr.io,"
        " asia.gcr.io); refusing to send a Google token to another host"
    )


@pytest.mark.parametrize(
    ("method", "settings", "field"),
    [
        ("GCP_SERVICE_ACCOUNT_JSON", {}, "secret_name"),
        ("GCP_OIDC", {"gcp_oidc_service_account": OIDC_ACCOUNT}, "gcp_oidc_workload_id_provider"),
        ("GCP_OIDC", {"gcp_oidc_workload_id_provider": WIP}, "gcp_oidc_service_account"),
    ],
)
def test_a_missing_setting_names_the_method_the_field_and_the_fix(method, settings, field):
    assert gcp.check(registry(), method, settings) == (
        f"{AR}: auth_method {method} needs {field} in the truss docker_auth config"
        " (run configure again)"
    )


def test_a_workload_provider_of_another_shape_is_refused_with_the_shape_expected():
    settings = {"gcp_oidc_workload_id_provider": "pools/x", "gcp_oidc_service_account": "a@b"}
    assert gcp.check(registry(), "GCP_OIDC", settings) == (
        f"{AR}: gcp_oidc_workload_id_provider must look like"
        " projects/<number>/locations/global/workloadIdentityPools/<pool>/providers/<id>"
    )


def test_a_missing_key_secret_says_what_it_is_for(tmp_path):
    with pytest.raises(SecretError) as err:
        gcp.make(
            Spec(
                registry(),
                "GCP_SERVICE_ACCOUNT_JSON",
                {"secret_name": "gcp-sa"},
                secrets_for(tmp_path),
                {},
            )
        )
    assert err.value.message.startswith(
        f"secret 'gcp-sa' (the service-account key for {AR}) not found; looked in "
    )


def test_an_iam_credentials_url_with_a_trailing_slash_still_reaches_iam(tmp_path, federation):
    env = {gcp.ENV_IAMCREDENTIALS_URL: federation.url + "/"}
    token = oidc_provider(tmp_path, federation, env=env).mint()
    assert (federation.rejections, token.secret == federation.issued["iam"][0]) == ([], True)


def test_oidc_mint_inputs_change_with_the_ci_token_so_a_remembered_failure_is_retried(
    tmp_path, federation
):
    # get remembers a failed mint only for the same inputs: a job whose token file is
    # rewritten (a new token) must be tried at once, not answered from that memory
    # (the cache keeps only a salted hash of the inputs).
    provider = oidc_provider(tmp_path, federation, token="SENTINEL.first.token")
    first = provider.inputs()
    (tmp_path / "oidc-token").write_text(CI_TOKEN + "\n")
    again = oidc_provider(tmp_path, federation).inputs()
    assert first and again and first != again, "the inputs must follow the token file"


def test_a_token_uri_is_named_without_its_query_in_what_a_person_reads(tmp_path, google):
    # A query string may carry a signature or a key: only scheme, host and path are shown.
    key = google.new_key()
    key.info["token_uri"] = google.token_uri + "?sig=SENTINEL-sig-5e1&x=a?b"
    google.fail["token"] = "hang"
    with pytest.raises(ProviderError) as err:
        sa_provider(tmp_path, key.json()).mint()
    assert err.value.message == f"{AR}: cannot reach {google.token_uri}: no answer within 1s"


def test_get_without_any_ci_token_says_so_each_time_and_crashes_never(cli, paths):
    # The second get is answered from the failure memory, whose inputs are then taken
    # from a method with no token source at all.
    from docker_credential_truss import config
    from docker_credential_truss.providers import citoken

    settings = {"gcp_oidc_workload_id_provider": WIP, "gcp_oidc_service_account": OIDC_ACCOUNT}
    config.merge(paths, {AR: {"auth_method": "GCP_OIDC", **settings}})
    said = [cli("get", stdin=AR) for _ in range(2)]
    assert [(run.code, run.out) for run in said] == [
        (1, "credentials not found in native keychain\n")
    ] * 2
    line = f"{AR}: GCP_OIDC found no OIDC token from a CI; looked at {citoken.GCP.places()}"
    assert said[0].err == f"docker-credential-truss: {line}\n"
    again = said[1].err.replace(line, "LINE", 1)
    assert re.fullmatch(
        r"docker-credential-truss: LINE \(remembered from [0-9]+s ago; retried after 30s, or at"
        r" once with DOCKER_CREDENTIAL_TRUSS_FAILURE_TTL=0\)\n",
        again,
    ), said[1].err

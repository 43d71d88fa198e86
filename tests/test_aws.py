"""The AWS provider: ECR host matching, and minting through the real botocore.

Minting runs the real botocore against tests/fakes/aws.py, a loopback server that
speaks ECR's JSON protocol and STS's query protocol and checks SigV4 signatures,
reached the way users reach VPC endpoints: ``AWS_ENDPOINT_URL_*``. Secret values are
random sentinels; assertions check that they never appear in a message and never
print them.
"""

from __future__ import annotations

import os
import secrets as pysecrets
import subprocess
import sys
import time

import pytest
from fakes import sockets
from fakes.aws import (
    ASSUME_ROLE,
    ASSUME_ROLE_WEB,
    ECR,
    ECR_PUBLIC,
    FakeAws,
    Role,
    World,
    isolate,
    refused_port,
)
from hypothesis import given
from hypothesis import strategies as st

from docker_credential_truss.errors import ConfigError, SecretError
from docker_credential_truss.minting import TIMEOUT_VARIABLE
from docker_credential_truss.paths import Paths
from docker_credential_truss.providers import _aws_calls, aws
from docker_credential_truss.registry import parse
from docker_credential_truss.secrets import Secrets

HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
ROLE = "arn:aws:iam::123456789012:role/puller"

# -- host matching -----------------------------------------------------------------------

A = "123456789012"
ACCEPTED = [
    # host, account, region, fips, dual-stack
    (HOST, A, "us-east-1", False, False),
    ("210987654321.dkr.ecr.us-west-2.amazonaws.com", "210987654321", "us-west-2", False, False),
    (f"{A}.dkr.ecr-fips.us-gov-west-1.amazonaws.com", A, "us-gov-west-1", True, False),
    (f"{A}.dkr.ecr-fips.us-east-1.amazonaws.com", A, "us-east-1", True, False),
    (f"{A}.dkr.ecr.cn-north-1.amazonaws.com.cn", A, "cn-north-1", False, False),
    (f"{A}.dkr.ecr.eusc-de-east-1.amazonaws.eu", A, "eusc-de-east-1", False, False),
    (f"{A}.dkr-ecr.us-east-1.on.aws", A, "us-east-1", False, True),
    (f"{A}.dkr-ecr-fips.us-east-1.on.aws", A, "us-east-1", True, True),
    (f"{A}.dkr-ecr.cn-north-1.on.amazonwebservices.com.cn", A, "cn-north-1", False, True),
    (f"{A}.dkr.ecr.us-iso-east-1.c2s.ic.gov", A, "us-iso-east-1", False, False),
    (f"{A}.dkr.ecr.us-isob-east-1.sc2s.sgov.gov", A, "us-isob-east-1", False, False),
    (f"{A}.dkr.ecr.eu-isoe-west-1.cloud.adc-e.uk", A, "eu-isoe-west-1", False, False),
    (f"{A}.dkr.ecr.us-isof-south-1.csp.hci.ic.gov", A, "us-isof-south-1", False, False),
]

REJECTED = [
    "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.com",
    "123456789012.dkr.ecr.us-east-1.amazonaws.com.cn.evil.com",
    "123456789012.dkr-ecr.us-east-1.on.aws.evil.com",
    "evil.com.123456789012.dkr.ecr.us-east-1.amazonaws.com.evil",
    "12345678901.dkr.ecr.us-east-1.amazonaws.com",  # 11 digits
    "1234567890123.dkr.ecr.us-east-1.amazonaws.com",  # 13 digits
    "x.123456789012.dkr.ecr.us-east-1.amazonaws.com",  # extra label in front
    "123456789012.x.dkr.ecr.us-east-1.amazonaws.com",  # extra label inside
    "123456789012.dkr.ecr.us-east-1.x.amazonaws.com",  # extra label before the suffix
    "123456789012.dkr.ecr.amazonaws.com",  # no region
    "123456789012.dkr.ecr.us-east-1.amazonaws.co",
    "123456789012.dkr.ecr.us-east-1.amazonaws.net",
    "123456789012.dkr.ecr.us-east-1.aws",
    "123456789012-dkr.ecr.us-east-1.amazonaws.com",
    "123456789012.dkrecr.us-east-1.amazonaws.com",
    "123456789012.dkr.ecr-fipsx.us-east-1.amazonaws.com",
    "123456789012.ecr.us-east-1.amazonaws.com",
    "abcdefghijkl.dkr.ecr.us-east-1.amazonaws.com",
    "public.ecr.aws.evil.com",
    "evilpublic.ecr.aws",
    "x.public.ecr.aws",
    "ecr.aws",
    "gallery.ecr.aws",
    "amazonaws.com",
    "index.docker.io",
    "ghcr.io",
    "127.0.0.1",
]


@pytest.mark.parametrize(("host", "account", "region", "fips", "dualstack"), ACCEPTED)
def test_ecr_private_hosts_are_recognised(host, account, region, fips, dualstack):
    found = aws.parse_host(host)
    assert found is not None
    assert (found.account, found.region, found.fips, found.dualstack) == (
        account,
        region,
        fips,
        dualstack,
    )
    assert not found.public
    assert found.service == "ecr"


def test_ecr_public_is_recognised_with_its_fixed_region():
    found = aws.parse_host("public.ecr.aws")
    assert found is not None
    assert found.public and found.account is None
    assert (found.service, found.region) == ("ecr-public", "us-east-1")


@pytest.mark.parametrize("host", REJECTED)
def test_lookalikes_are_not_ecr(host):
    assert aws.parse_host(host) is None


def test_raw_strings_that_normalisation_would_refuse_are_not_ecr_either():
    # The parser relies on registry.parse, but does not depend on it for safety.
    for host in (
        HOST + "\n",
        HOST + ".",
        " " + HOST,
        HOST.upper(),
        "١٢٣٤٥٦٧٨٩٠١٢.dkr.ecr.us-east-1.amazonaws.com",  # Arabic-Indic digits
        "123456789012.dkr.ecr.-us-east-1.amazonaws.com",
        "123456789012.dkr.ecr.us_east_1.amazonaws.com",
    ):
        assert aws.parse_host(host) is None, repr(host)


def test_a_port_means_not_ecr():
    assert aws.parse_host(HOST, 443) is None
    assert aws.parse_host("public.ecr.aws", 443) is None
    assert aws.parse_host(parse(HOST + ":5000").host, parse(HOST + ":5000").port) is None


@pytest.mark.parametrize(
    "server",
    [f"https://{HOST}/v2/org/img", HOST.upper(), f"{HOST}/org/img:tag", f"http://{HOST}"],
)
def test_what_clients_send_normalises_to_the_ecr_host(server):
    registry = parse(server)
    found = aws.parse_host(registry.host, registry.port)
    assert found is not None and found.account == "123456789012"


_LABEL = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12)


@given(st.lists(_LABEL, min_size=1, max_size=8))
def test_anything_accepted_is_exactly_an_ecr_form(labels):
    host = ".".join(labels)
    found = aws.parse_host(host)
    if found is not None and not found.public:
        sep = "-" if found.dualstack else "."
        fips = "-fips" if found.fips else ""
        rebuilt = f"{found.account}.dkr{sep}ecr{fips}.{found.region}.{found.suffix}"
        assert rebuilt == host


@given(_LABEL, st.sampled_from([a[0] for a in ACCEPTED] + ["public.ecr.aws"]))
def test_a_label_added_on_either_side_makes_it_not_ecr(label, host):
    assert aws.parse_host(f"{label}.{host}") is None
    assert aws.parse_host(f"{host}.{label}") is None


# -- fixtures --------------------------------------------------------------------------------


def _key_id() -> str:
    return "AKIA" + pysecrets.token_hex(8).upper()


@pytest.fixture
def world(tmp_path, monkeypatch):
    isolate(monkeypatch, tmp_path)
    with FakeAws(region={"us-east-1", "us-west-2", "eu-west-1"}) as fake:
        yield World(fake, str(tmp_path), HOST)


# -- AWS_IAM -------------------------------------------------------------------------------


def test_iam_mints_a_token_in_the_hosts_region_for_its_account(world):
    before = time.time()
    token = world.provider().mint()
    assert token.username == "AWS"
    assert token.secret == world.fake.password, "not the password the fake handed out"
    assert before + 12 * 3600 - 60 < token.expires_at < time.time() + 12 * 3600 + 60
    assert world.fake.calls == {ECR: 1}
    (request,) = world.fake.requests
    assert request["key_id"] == world.key_id
    assert request["region"] == "us-east-1"
    assert request["registry_ids"] == ["123456789012"]


def test_iam_signs_for_the_region_in_the_host(world):
    world.provider("210987654321.dkr.ecr.us-west-2.amazonaws.com").mint()
    (request,) = world.fake.requests
    assert (request["region"], request["registry_ids"]) == ("us-west-2", ["210987654321"])


def test_ecr_public_calls_ecr_public_in_us_east_1(world):
    token = world.provider("public.ecr.aws").mint()
    assert token.secret == world.fake.password
    assert world.fake.calls == {ECR_PUBLIC: 1}
    assert world.fake.requests[0]["region"] == "us-east-1"
    assert world.fake.requests[0]["key_id"] == world.key_id


def test_custom_secret_names_from_truss_config_yaml(world):
    key_id, secret_key = _key_id(), "sk-" + pysecrets.token_urlsafe(24)
    world.fake.keys[key_id] = secret_key
    os.makedirs(os.path.join(world.home, ".truss"))
    with open(os.path.join(world.home, ".truss", "config.yaml"), "w") as handle:
        handle.write(f"secrets:\n  ci_key_id: {key_id}\n  ci_secret: {secret_key}\n")
    settings = {
        "aws_access_key_id_secret_name": "ci_key_id",
        "aws_secret_access_key_secret_name": "ci_secret",
    }
    world.provider(settings=settings).mint()
    assert world.fake.requests[0]["key_id"] == key_id  # not the default-named one


def test_empty_setting_means_the_truss_default_name(world):
    world.provider(settings={"aws_access_key_id_secret_name": ""}).mint()
    assert world.fake.requests[0]["key_id"] == world.key_id


def test_session_token_secret_is_sent_with_temporary_keys(world):
    key_id, secret_key, token = "ASIA" + pysecrets.token_hex(8).upper(), "tmp-secret", "tmp-token"
    world.fake.keys[key_id] = secret_key
    world.fake.session_tokens[key_id] = token
    world.env["TRUSS_SECRET_aws_access_key_id"] = key_id
    world.env["TRUSS_SECRET_aws_secret_access_key"] = secret_key
    world.env["TRUSS_SECRET_aws_session_token"] = token
    assert world.provider().mint().secret == world.fake.password

    del world.env["TRUSS_SECRET_aws_session_token"]
    message = world.failure()
    assert "does not recognise the access key id" in message
    assert token not in message and secret_key not in message


def test_invalid_key_id_is_named_with_its_secret_and_source(world):
    world.env["TRUSS_SECRET_aws_access_key_id"] = _key_id()  # unknown to AWS
    message = world.failure()
    assert "ECR GetAuthorizationToken failed" in message
    assert "does not recognise the access key id in secret 'aws_access_key_id'" in message
    assert "TRUSS_SECRET_aws_access_key_id" in message
    assert message.endswith("(UnrecognizedClientException)")
    assert world.fake.calls[ECR] == 1, "an invalid key must not be retried"


def test_wrong_secret_key_is_a_signature_error(world):
    world.env["TRUSS_SECRET_aws_secret_access_key"] = "sk-wrong-" + pysecrets.token_hex(8)
    world.sentinels.append(world.env["TRUSS_SECRET_aws_secret_access_key"])
    message = world.failure()
    assert "secret access key in secret 'aws_secret_access_key'" in message
    assert world.env["TRUSS_SECRET_aws_secret_access_key"] not in message
    assert message.endswith("(InvalidSignatureException)")


def test_region_the_endpoint_refuses_is_named(world):
    message = world.failure("123456789012.dkr.ecr.ap-south-2.amazonaws.com")
    assert "refused region 'ap-south-2'" in message


def test_access_denied_is_explained(world):
    world.fake.deny(ECR)
    message = world.failure()
    assert "access denied" in message and message.endswith("(AccessDeniedException)")


def test_throttling_is_retried_with_backoff_and_then_succeeds(world):
    world.fake.throttle(ECR, 2)
    assert world.provider().mint().secret == world.fake.password
    assert world.fake.calls[ECR] == 3


def test_throttling_that_persists_fails_after_bounded_attempts(world, monkeypatch):
    world.fake.throttle(ECR, 100)
    waits: list[float] = []
    sleep = time.sleep

    def recorded(seconds: float) -> None:
        waits.append(seconds)
        sleep(seconds)

    monkeypatch.setattr(_aws_calls.time, "sleep", recorded)
    message = world.failure()
    assert world.fake.calls[ECR] == _aws_calls.MAX_ATTEMPTS
    assert "throttled" in message and f"{_aws_calls.MAX_ATTEMPTS} attempts" in message
    assert message.endswith("(ThrottlingException)")
    # one jittered wait before each retry, each within its doubling cap
    caps = [_aws_calls.BACKOFF * 2**n for n in range(_aws_calls.MAX_ATTEMPTS - 1)]
    assert len(waits) == len(caps)
    assert all(0 <= wait <= cap for wait, cap in zip(waits, caps, strict=True)), waits


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_server_error_is_retried_and_then_succeeds(world, monkeypatch, status):
    monkeypatch.setattr(_aws_calls.time, "sleep", lambda seconds: None)
    world.fake.fail(ECR, status, 2)
    assert world.provider().mint().secret == world.fake.password
    assert world.fake.calls[ECR] == 3


@pytest.mark.parametrize("status", [501, 505])
def test_a_server_error_that_retrying_cannot_help_is_reported_at_once(world, status):
    world.fake.fail(ECR, status, 1)
    message = world.failure()
    assert message.endswith(f"ECR GetAuthorizationToken failed: InternalFailure (HTTP {status})")
    assert world.fake.calls[ECR] == 1


def test_the_backoff_doubles_up_to_its_cap(world, monkeypatch):
    # The jitter at its very top: each wait is then exactly its cap, BACKOFF x 2^(n-1).
    waits: list[float] = []
    monkeypatch.setattr(_aws_calls.random, "random", lambda: 1.0)
    monkeypatch.setattr(_aws_calls.time, "sleep", waits.append)
    world.fake.throttle(ECR, 100)
    world.failure()
    assert waits == [_aws_calls.BACKOFF, _aws_calls.BACKOFF * 2]


def test_an_ecr_password_with_colons_is_kept_whole(world):
    world.fake.password = "pa:ss:" + pysecrets.token_urlsafe(12)
    token = world.provider().mint()
    assert (token.username, token.secret) == ("AWS", world.fake.password)


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def test_a_refused_endpoint_is_tried_once_and_named(world, monkeypatch):
    with refused_port() as port:
        world.env["AWS_ENDPOINT_URL_ECR"] = f"http://127.0.0.1:{port}"
        wire = sockets.watch(monkeypatch, port)
        message = world.failure()
    assert [outcome for _, outcome in wire.connects] == ["ConnectionRefusedError"]
    assert f"cannot reach http://127.0.0.1:{port}" in message
    assert "not one this botocore knows" not in message


def test_an_endpoint_is_named_without_its_user_info_query_or_fragment(world):
    with refused_port() as port:
        world.env["AWS_ENDPOINT_URL_ECR"] = (
            f"http://me:sentinel-pw@127.0.0.1:{port}/base?X-Token=sentinel-q#sentinel-f"
        )
        message = world.failure()
    assert f"cannot reach http://127.0.0.1:{port}/base: no network" in message
    assert "sentinel" not in message


def test_an_unknown_region_is_hinted_when_unreachable(world):
    with refused_port() as port:
        world.env["AWS_ENDPOINT_URL_ECR"] = f"http://127.0.0.1:{port}"
        message = world.failure("123456789012.dkr.ecr.mars-north-1.amazonaws.com")
    assert "region 'mars-north-1' is not one this botocore knows" in message


def test_a_hanging_endpoint_is_bounded_by_the_default_timeouts(world, monkeypatch):
    world.fake.hang = True
    wire = sockets.watch(monkeypatch, port_of(world.fake.url))
    message = world.failure()
    # One connection, made under the connect timeout; its read waited under the read
    # timeout and ended because that timeout expired; silence is not retried.
    assert wire.connects == [(_aws_calls.CONNECT_TIMEOUT, "connected")]
    assert wire.timed_out_reads() == [_aws_calls.READ_TIMEOUT]
    assert f"did not answer within {_aws_calls.READ_TIMEOUT:g} s" in message
    assert world.fake.calls["hang"] == 1


def test_the_timeout_can_be_shortened(world, monkeypatch):
    world.fake.hang = True
    world.env[TIMEOUT_VARIABLE] = "0.5"
    wire = sockets.watch(monkeypatch, port_of(world.fake.url))
    message = world.failure()
    assert wire.connects == [(0.5, "connected")]
    assert wire.timed_out_reads() == [0.5]
    assert "did not answer within 0.5 s" in message
    assert world.fake.calls["hang"] == 1


def test_a_bad_timeout_setting_is_a_config_error(world):
    world.env[TIMEOUT_VARIABLE] = "soon"
    with pytest.raises(ConfigError, match=TIMEOUT_VARIABLE):
        world.provider().mint()


def test_endpoints_come_from_the_env_given_not_only_the_process(world, monkeypatch):
    # The process environment names a dead endpoint; the env handed to make() wins.
    with refused_port() as port:
        monkeypatch.setenv("AWS_ENDPOINT_URL_ECR", f"http://127.0.0.1:{port}")
        assert world.provider().mint().secret == world.fake.password


def test_global_endpoint_variable_is_enough(world):
    del world.env["AWS_ENDPOINT_URL_ECR"]
    world.provider().mint()
    assert world.fake.calls[ECR] == 1


def test_the_ca_bundle_named_in_the_env_given_verifies_the_endpoint(world, tmp_path):
    from harden.hostile import make_ca, make_leaf

    ca = make_ca(tmp_path)
    with FakeAws(tls=make_leaf(tmp_path, ca, "localhost")) as fake:
        fake.keys[world.key_id] = world.secret_key
        world.fake = fake
        world.env.update(fake.env())
        message = world.failure()  # the system's trust store does not know this CA
        assert message.endswith(
            f"TLS verification of {fake.url}/ failed (a proxy or AWS_CA_BUNDLE?)"
        )
        world.env["AWS_CA_BUNDLE"] = f" {ca[2]} "
        assert world.provider().mint().secret == fake.password
        assert fake.calls[ECR] == 1


def test_truss_secrets_ignore_the_users_aws_profile_and_config(world, monkeypatch, tmp_path):
    broken = tmp_path / "broken-config"
    broken.write_text("[profile elsewhere\nthis is not ini\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(broken))
    monkeypatch.setenv("AWS_PROFILE", "does-not-exist")
    assert world.provider().mint().secret == world.fake.password


def test_missing_key_id_without_opt_in_names_the_secret_and_the_switch(world):
    del world.env["TRUSS_SECRET_aws_access_key_id"]
    with pytest.raises(SecretError) as caught:
        world.provider().identity()
    message = caught.value.message
    assert message.startswith(
        f"secret 'aws_access_key_id' (AWS access key id for {HOST}) not found; looked in "
    )
    assert message.endswith(
        f"; set it, or set {aws.DEFAULT_CHAIN_VARIABLE}=1 to use boto3's default credentials"
    )
    assert world.fake.calls == {}


def test_key_id_without_its_secret_key_is_an_error_not_a_fallback(world):
    del world.env["TRUSS_SECRET_aws_secret_access_key"]
    world.env[aws.DEFAULT_CHAIN_VARIABLE] = "1"
    with pytest.raises(SecretError, match="aws_secret_access_key"):
        world.provider().identity()


def test_default_chain_is_used_only_when_opted_in(world, monkeypatch):
    del world.env["TRUSS_SECRET_aws_access_key_id"]
    del world.env["TRUSS_SECRET_aws_secret_access_key"]
    # boto3's chain reads the process environment, as it does for any boto3 program.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", world.key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", world.secret_key)
    with pytest.raises(SecretError):
        world.provider().identity()
    world.env[aws.DEFAULT_CHAIN_VARIABLE] = "1"
    world.env["AWS_ACCESS_KEY_ID"] = world.key_id
    provider = world.provider()
    assert "default-chain" in provider.identity()
    assert provider.mint().secret == world.fake.password
    assert world.fake.requests[0]["key_id"] == world.key_id


@pytest.mark.parametrize("spelling", ["1", "True", " yes ", "ON"])
def test_the_default_chain_opt_in_takes_the_usual_spellings(world, spelling):
    del world.env["TRUSS_SECRET_aws_access_key_id"]
    world.env[aws.DEFAULT_CHAIN_VARIABLE] = spelling
    assert "default-chain" in world.provider().identity()


def test_default_chain_with_nothing_in_it_says_so(world):
    del world.env["TRUSS_SECRET_aws_access_key_id"]
    world.env[aws.DEFAULT_CHAIN_VARIABLE] = "1"
    message = world.failure()
    assert message.endswith(
        "ECR GetAuthorizationToken failed: no AWS credentials: boto3's default chain"
        " (environment, ~/.aws, SSO, instance role) found none"
    )
    assert world.fake.calls == {}


def test_identity_is_the_key_id_and_changes_with_it(world):
    first = world.provider().identity()
    assert world.key_id in first
    assert world.secret_key not in first
    world.env["TRUSS_SECRET_aws_access_key_id"] = _key_id()
    assert world.provider().identity() != first


def test_default_chain_identity_moves_when_the_credentials_file_changes(world, tmp_path):
    del world.env["TRUSS_SECRET_aws_access_key_id"]
    world.env[aws.DEFAULT_CHAIN_VARIABLE] = "1"
    creds = tmp_path / "credentials"
    world.env["AWS_SHARED_CREDENTIALS_FILE"] = str(creds)
    before = world.provider().identity()
    creds.write_text("[default]\n")
    assert world.provider().identity() != before


def test_default_chain_identity_follows_whoever_boto3_would_be(world):
    # A token minted for one profile, key or role must never answer for another: each
    # of what steers boto3's default chain is part of the cache identity.
    del world.env["TRUSS_SECRET_aws_access_key_id"]
    world.env[aws.DEFAULT_CHAIN_VARIABLE] = "1"
    base = dict(world.env)

    def identity(**changes: str) -> tuple[str, ...]:
        world.env.clear()
        world.env.update(base, **changes)
        return world.provider().identity()

    variants = {
        "none": identity(),
        "profile a": identity(AWS_PROFILE="a"),
        "profile b": identity(AWS_PROFILE="b"),
        "default profile c": identity(AWS_DEFAULT_PROFILE="c"),
        "key 1": identity(AWS_ACCESS_KEY_ID="AKIA" + "1" * 16),
        "key 2": identity(AWS_ACCESS_KEY_ID="AKIA" + "2" * 16),
        "role": identity(AWS_ROLE_ARN=ROLE),
        "other config file": identity(AWS_CONFIG_FILE=__file__),
        "other credentials file": identity(AWS_SHARED_CREDENTIALS_FILE=__file__),
    }
    assert len(set(variants.values())) == len(variants), "two of these would share a token"
    assert identity(AWS_PROFILE="a", AWS_DEFAULT_PROFILE="c") == variants["profile a"]
    assert identity(AWS_PROFILE="", AWS_DEFAULT_PROFILE="c") == variants["default profile c"]
    assert identity() == variants["none"], "the same chain must find its cached token"
    # the files boto3 reads by default are the ones under the HOME given, not this process's
    aws_dir = os.path.join(base["HOME"], ".aws")
    os.makedirs(aws_dir)
    seen = {identity()}
    for name in ("config", "credentials"):
        with open(os.path.join(aws_dir, name), "w") as handle:
            handle.write("[default]\n")
        seen.add(identity())
    assert len(seen) == 3


def test_a_configured_non_ecr_host_is_a_clear_config_error(world):
    with pytest.raises(ConfigError, match="only with Amazon ECR hosts"):
        world.provider("registry.example.com").identity()
    assert world.fake.calls == {}


def test_make_refuses_other_methods(world):
    with pytest.raises(ConfigError):
        world.provider(method="GCP_OIDC")


def test_provider_contract(world):
    provider = world.provider()
    assert provider.username == "AWS"
    assert provider.cacheable is True


# -- by convention -------------------------------------------------------------------------


def test_by_convention_claims_ecr_hosts_with_the_default_secret(world):
    secrets = Secrets(world.env, Paths.from_env(world.env))
    assert aws.by_convention(parse(HOST), secrets, world.env)
    assert aws.by_convention(parse("123456789012.dkr-ecr.us-east-1.on.aws"), secrets, world.env)
    assert not aws.by_convention(parse("public.ecr.aws"), secrets, world.env)
    assert not aws.by_convention(parse("ghcr.io"), secrets, world.env)
    assert not aws.by_convention(parse(HOST + ".evil.com"), secrets, world.env)
    assert not aws.by_convention(parse(HOST + ":5000"), secrets, world.env)


def test_by_convention_without_secrets_only_when_opted_in(world):
    del world.env["TRUSS_SECRET_aws_access_key_id"]
    secrets = Secrets(world.env, Paths.from_env(world.env))
    assert not aws.by_convention(parse(HOST), secrets, world.env)
    world.env[aws.DEFAULT_CHAIN_VARIABLE] = "1"
    assert aws.by_convention(parse(HOST), secrets, world.env)
    assert not aws.by_convention(parse("public.ecr.aws"), secrets, world.env)


# -- AWS_OIDC ------------------------------------------------------------------------------

OIDC = {"aws_oidc_role_arn": ROLE, "aws_oidc_region": "eu-west-1"}


def _token_file(tmp_path, value: str) -> str:
    path = tmp_path / "oidc-token"
    path.write_text(value + "\n")
    return str(path)


def test_oidc_with_a_web_identity_token_file(world, tmp_path):
    web_token = "eyJ" + pysecrets.token_urlsafe(32)
    world.fake.add_role(Role(ROLE, web_tokens={web_token}))
    world.fake.sts_expires_in = 900
    world.env["AWS_WEB_IDENTITY_TOKEN_FILE"] = _token_file(tmp_path, web_token)
    token = world.provider(method="AWS_OIDC", settings=OIDC).mint()
    assert token.secret == world.fake.password
    assert world.fake.calls == {ASSUME_ROLE_WEB: 1, ECR: 1}
    ecr_request = world.fake.requests[1]
    assert ecr_request["key_id"].startswith("ASIA"), "ECR was not called with the role's keys"
    assert ecr_request["region"] == "us-east-1"
    # The role's session ends before the ECR token would: the earlier expiry wins.
    assert token.expires_at < time.time() + 900 + 60


def test_our_token_file_variable_wins_over_aws_one(world, tmp_path):
    web_token = "eyJ" + pysecrets.token_urlsafe(32)
    world.fake.add_role(Role(ROLE, web_tokens={web_token}))
    world.env["AWS_WEB_IDENTITY_TOKEN_FILE"] = str(tmp_path / "missing")
    world.env[aws.TOKEN_FILE_VARIABLE] = _token_file(tmp_path, web_token)
    world.provider(method="AWS_OIDC", settings=OIDC).mint()
    assert world.fake.calls[ASSUME_ROLE_WEB] == 1


def test_oidc_rejected_token_is_explained_without_the_token(world, tmp_path):
    world.fake.add_role(Role(ROLE, web_tokens={"the-right-one"}))
    wrong = "eyJ" + pysecrets.token_urlsafe(32)
    path = _token_file(tmp_path, wrong)
    world.env["AWS_WEB_IDENTITY_TOKEN_FILE"] = path
    message = world.failure(method="AWS_OIDC", settings=OIDC)
    assert wrong not in message
    where = f"the token file {path} (AWS_WEB_IDENTITY_TOKEN_FILE)"
    assert f"STS rejected the web identity token from {where} for role {ROLE}" in message
    assert message.endswith("(InvalidIdentityToken)")
    assert world.fake.calls[ECR] == 0


def test_oidc_unreadable_token_file(world, tmp_path):
    world.env["AWS_WEB_IDENTITY_TOKEN_FILE"] = str(tmp_path / "absent")
    message = world.failure(method="AWS_OIDC", settings=OIDC)
    assert message.endswith(
        "cannot read the token file "
        + str(tmp_path / "absent")
        + " (AWS_WEB_IDENTITY_TOKEN_FILE): No such file or directory"
    )


def test_oidc_assume_role_from_the_truss_key_pair(world):
    world.fake.add_role(Role(ROLE, trusted_keys={world.key_id}))
    token = world.provider(method="AWS_OIDC", settings=OIDC).mint()
    assert token.secret == world.fake.password
    assert world.fake.calls == {ASSUME_ROLE: 1, ECR: 1}
    sts_request, ecr_request = world.fake.requests
    assert (sts_request["key_id"], sts_request["region"]) == (world.key_id, "eu-west-1")
    assert sts_request["role"] == ROLE
    assert ecr_request["key_id"] != world.key_id and ecr_request["key_id"].startswith("ASIA")


def test_oidc_assume_role_denied(world):
    world.fake.add_role(Role(ROLE, trusted_keys=set()))
    message = world.failure(method="AWS_OIDC", settings=OIDC)
    assert f"may not assume role {ROLE}" in message and message.endswith("(AccessDenied)")
    assert "STS AssumeRole failed" in message


def test_oidc_assume_role_from_the_default_chain(world, monkeypatch):
    del world.env["TRUSS_SECRET_aws_access_key_id"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", world.key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", world.secret_key)
    world.fake.add_role(Role(ROLE, trusted_keys={world.key_id}))
    provider = world.provider(method="AWS_OIDC", settings=OIDC)
    assert "default-chain" in provider.identity()
    provider.mint()
    assert world.fake.requests[0]["key_id"] == world.key_id


def test_oidc_needs_role_and_region(world):
    for settings in ({}, {"aws_oidc_role_arn": ROLE}, {"aws_oidc_region": "eu-west-1"}):
        with pytest.raises(ConfigError, match="aws_oidc_role_arn and aws_oidc_region"):
            world.provider(method="AWS_OIDC", settings=settings).identity()


def test_oidc_identity_names_the_role_and_changes_with_it(world, tmp_path):
    web_token = "eyJ" + pysecrets.token_urlsafe(32)
    world.env["AWS_WEB_IDENTITY_TOKEN_FILE"] = _token_file(tmp_path, web_token)
    first = world.provider(method="AWS_OIDC", settings=OIDC).identity()
    other = dict(OIDC, aws_oidc_role_arn=ROLE + "-2")
    assert ROLE in first
    assert world.provider(method="AWS_OIDC", settings=other).identity() != first
    assert web_token not in first, "the identity must not carry the token itself"


# -- AWS_ASSUME_ROLE -------------------------------------------------------------------------

ASSUME = {"aws_assume_role_arn": ROLE, "aws_assume_role_region": "eu-west-1"}


def test_assume_role_signs_sts_with_the_truss_keys_and_ecr_with_the_roles(world):
    world.fake.add_role(Role(ROLE, trusted_keys={world.key_id}))
    token = world.provider(method="AWS_ASSUME_ROLE", settings=ASSUME).mint()
    assert token.secret == world.fake.password
    assert world.fake.calls == {ASSUME_ROLE: 1, ECR: 1}
    sts_request, ecr_request = world.fake.requests
    assert (sts_request["key_id"], sts_request["region"]) == (world.key_id, "eu-west-1")
    assert sts_request["role"] == ROLE
    assert sts_request["session_name"] == "docker-credential-truss"
    assert sts_request["external_id"] is None
    assert ecr_request["key_id"].startswith("ASIA") and ecr_request["key_id"] != world.key_id
    assert ecr_request["region"] == "us-east-1", "ECR is called in the registry's region"


def test_assume_role_uses_the_configured_secret_names_and_session_token(world):
    key_id, secret_key = _key_id(), "sk-" + pysecrets.token_urlsafe(24)
    world.fake.keys[key_id] = secret_key
    world.env["TRUSS_SECRET_my_id"] = key_id
    world.env["TRUSS_SECRET_my_key"] = secret_key
    world.fake.add_role(Role(ROLE, trusted_keys={key_id}))
    settings = dict(
        ASSUME, aws_access_key_id_secret_name="my_id", aws_secret_access_key_secret_name="my_key"
    )
    world.provider(method="AWS_ASSUME_ROLE", settings=settings).mint()
    assert world.fake.requests[0]["key_id"] == key_id


def test_assume_role_sends_the_external_id_from_the_environment(world):
    world.fake.add_role(Role(ROLE, trusted_keys={world.key_id}, external_id="org-1234"))
    message = world.failure(method="AWS_ASSUME_ROLE", settings=ASSUME)
    assert "STS AssumeRole failed" in message and message.endswith("(AccessDenied)")
    assert f"may not assume role {ROLE}" in message
    world.env["DOCKER_CREDENTIAL_TRUSS_AWS_EXTERNAL_ID"] = "org-1234"
    world.provider(method="AWS_ASSUME_ROLE", settings=ASSUME).mint()
    assert world.fake.requests[-2]["external_id"] == "org-1234"
    assert world.fake.requests[-2]["error"] is None


def test_assume_role_with_an_unknown_key_names_the_call_the_secret_and_the_code(world):
    world.fake.add_role(Role(ROLE, trusted_keys={world.key_id}))
    world.env["TRUSS_SECRET_aws_access_key_id"] = _key_id()
    message = world.failure(method="AWS_ASSUME_ROLE", settings=ASSUME)
    assert message.startswith(f"{HOST}: STS AssumeRole failed: AWS does not recognise")
    assert "'aws_access_key_id'" in message and message.endswith("(InvalidClientTokenId)")


def test_assume_role_without_keys_needs_the_default_chain_opt_in(world, monkeypatch):
    del world.env["TRUSS_SECRET_aws_access_key_id"]
    world.fake.add_role(Role(ROLE, trusted_keys={world.key_id}))
    with pytest.raises(SecretError, match="DOCKER_CREDENTIAL_TRUSS_AWS_DEFAULT_CHAIN"):
        world.provider(method="AWS_ASSUME_ROLE", settings=ASSUME).identity()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", world.key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", world.secret_key)
    world.env["DOCKER_CREDENTIAL_TRUSS_AWS_DEFAULT_CHAIN"] = "1"
    provider = world.provider(method="AWS_ASSUME_ROLE", settings=ASSUME)
    assert "default-chain" in provider.identity()
    provider.mint()
    assert world.fake.requests[0]["key_id"] == world.key_id


def test_assume_role_needs_its_role_and_region(world):
    for settings in ({}, {"aws_assume_role_arn": ROLE}, OIDC):
        with pytest.raises(ConfigError, match="aws_assume_role_arn and aws_assume_role_region"):
            world.provider(method="AWS_ASSUME_ROLE", settings=settings).identity()


def test_assume_role_identity_changes_with_role_external_id_and_key(world):
    first = world.provider(method="AWS_ASSUME_ROLE", settings=ASSUME).identity()
    assert first[0] == "AWS_ASSUME_ROLE" and ROLE in first and world.key_id in first
    other_role = dict(ASSUME, aws_assume_role_arn=ROLE + "-2")
    assert world.provider(method="AWS_ASSUME_ROLE", settings=other_role).identity() != first
    world.env["DOCKER_CREDENTIAL_TRUSS_AWS_EXTERNAL_ID"] = "org-1"
    assert world.provider(method="AWS_ASSUME_ROLE", settings=ASSUME).identity() != first
    world.env["TRUSS_SECRET_aws_access_key_id"] = _key_id()
    assert world.provider(method="AWS_ASSUME_ROLE", settings=ASSUME).identity() != first
    assert world.secret_key not in first


def test_assume_role_on_a_non_ecr_host_is_a_config_error_before_the_network(world):
    with pytest.raises(ConfigError, match="works only with Amazon ECR hosts"):
        world.provider("ghcr.io", method="AWS_ASSUME_ROLE", settings=ASSUME).identity()
    assert world.fake.requests == []


# -- laziness ----------------------------------------------------------------------------


def test_provider_module_does_not_import_botocore():
    code = (
        "import sys\n"
        "from docker_credential_truss.providers import aws\n"
        "aws.parse_host('123456789012.dkr.ecr.us-east-1.amazonaws.com')\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_assume_role_tokens_are_cached_per_role_and_base_identity(world):
    from docker_credential_truss import config
    from docker_credential_truss.resolver import Resolver

    world.fake.add_role(Role(ROLE, trusted_keys={world.key_id}))
    world.fake.add_role(Role(ROLE + "-2", trusted_keys={world.key_id}))
    paths = Paths.from_env(world.env)
    entry = {"auth_method": "AWS_ASSUME_ROLE", **ASSUME, "source": "test"}
    config.merge(paths, {HOST: entry})
    first = Resolver(world.env, paths).get(parse(HOST))
    again = Resolver(world.env, paths).get(parse(HOST))
    assert again.secret == first.secret
    assert world.fake.calls == {ASSUME_ROLE: 1, ECR: 1}, "the second get must come from the cache"
    config.merge(paths, {HOST: dict(entry, aws_assume_role_arn=ROLE + "-2")})
    Resolver(world.env, paths).get(parse(HOST))
    assert world.fake.calls[ASSUME_ROLE] == 2, "another role is another identity"
    assert world.fake.requests[-2]["role"] == ROLE + "-2"


@pytest.mark.parametrize("method", ["AWS_OIDC", "AWS_ASSUME_ROLE"])
def test_a_role_region_that_is_not_a_region_name_is_named(world, tmp_path, method):
    world.env["AWS_WEB_IDENTITY_TOKEN_FILE"] = _token_file(tmp_path, "eyJ" + "a" * 40)
    field = "aws_oidc_region" if method == "AWS_OIDC" else "aws_assume_role_region"
    settings = {**(OIDC if method == "AWS_OIDC" else ASSUME), field: "eu west 1"}
    message = world.failure(method=method, settings=settings)
    assert message == f"{HOST}: 'eu west 1' is not a valid AWS region name"
    assert world.fake.calls == {}


# -- what each AWS refusal says, whole --------------------------------------------------------


def _from_env(name: str) -> str:
    return f"in secret {name!r} (environment variable TRUSS_SECRET_{name})"


def test_an_unknown_key_with_a_session_token_names_both_secrets(world):
    world.env["TRUSS_SECRET_aws_access_key_id"] = _key_id()
    world.env["TRUSS_SECRET_aws_session_token"] = "tmp-token-" + pysecrets.token_hex(8)
    world.sentinels.append(world.env["TRUSS_SECRET_aws_session_token"])
    assert world.failure() == (
        f"{HOST}: ECR GetAuthorizationToken failed: AWS does not recognise the access key id"
        f" {_from_env('aws_access_key_id')} with the session token"
        f" {_from_env('aws_session_token')} (UnrecognizedClientException)"
    )


@pytest.mark.parametrize(
    ("host", "op", "needs"),
    [
        (HOST, ECR, "ecr:GetAuthorizationToken (AccessDeniedException)"),
        (
            "public.ecr.aws",
            ECR_PUBLIC,
            "ecr-public:GetAuthorizationToken and sts:GetServiceBearerToken"
            " (AccessDeniedException)",
        ),
    ],
)
def test_access_denied_names_the_permission_the_identity_lacks(world, host, op, needs):
    world.fake.deny(op)
    message = world.failure(host)
    assert message.endswith(f" failed: access denied: the AWS identity is not allowed {needs}")


def test_a_denied_role_with_an_external_id_says_one_was_given(world):
    world.fake.add_role(Role(ROLE, trusted_keys={world.key_id}, external_id="org-1234"))
    world.env["DOCKER_CREDENTIAL_TRUSS_AWS_EXTERNAL_ID"] = "org-9999"
    assert world.failure(method="AWS_ASSUME_ROLE", settings=ASSUME) == (
        f"{HOST}: STS AssumeRole failed: access denied: the AWS identity may not assume role"
        f" {ROLE} with the external id given (AccessDenied)"
    )


def test_a_role_region_sts_refuses_is_named_not_the_registrys(world):
    world.fake.add_role(Role(ROLE, trusted_keys={world.key_id}))
    settings = {**ASSUME, "aws_assume_role_region": "ap-south-2"}
    assert world.failure(method="AWS_ASSUME_ROLE", settings=settings) == (
        f"{HOST}: STS AssumeRole failed: AWS refused region 'ap-south-2' for this endpoint"
        " (SignatureDoesNotMatch)"
    )


def test_an_unknown_key_from_the_default_chain_names_no_secret(world, monkeypatch):
    del world.env["TRUSS_SECRET_aws_access_key_id"]
    world.env[aws.DEFAULT_CHAIN_VARIABLE] = "1"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", _key_id())
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "sk-" + pysecrets.token_hex(8))
    assert world.failure() == (
        f"{HOST}: ECR GetAuthorizationToken failed: AWS does not recognise the access key id"
        " (UnrecognizedClientException)"
    )


@pytest.mark.parametrize(
    ("method", "settings"),
    [("AWS_IAM", {}), ("aws_iam", {}), ("AWS_OIDC", OIDC), ("aws_assume_role", ASSUME)],
)
def test_check_accepts_a_complete_config_in_any_case(method, settings):
    assert aws.check(parse(HOST), method, settings) is None


def test_check_names_what_a_role_method_lacks_and_what_is_not_aws():
    assert aws.check(parse(HOST), "AWS_ASSUME_ROLE", {"aws_assume_role_arn": ROLE}) == (
        f"{HOST}: AWS_ASSUME_ROLE needs aws_assume_role_arn and aws_assume_role_region in the"
        " truss config's docker_auth; run `docker-credential-truss configure` again"
    )
    assert aws.check(parse(HOST), "GCP_OIDC", {}) == f"{HOST}: GCP_OIDC is not an AWS auth method"

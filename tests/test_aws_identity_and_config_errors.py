"""The AWS provider before the network: what a person is told about a set-up that cannot
work, and which settings make a cached token someone else's (the cache identity).

No AWS is needed for most of this; where a call is made, it is to tests/fakes/aws.py
through the real botocore, and the fake's record shows what was sent.
"""

from __future__ import annotations

import hashlib
import os
import secrets as pysecrets

import pytest
from fakes.aws import ASSUME_ROLE, FakeAws, Role
from fakes.aws import SecretEnv as _Env

from docker_credential_truss.errors import ConfigError, SecretError
from docker_credential_truss.paths import Paths
from docker_credential_truss.providers import Spec, aws
from docker_credential_truss.registry import parse
from docker_credential_truss.secrets import Secrets

ACCOUNT = "123456789012"
HOST = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/puller"
ASSUME = {"aws_assume_role_arn": ROLE, "aws_assume_role_region": "us-west-2"}
OIDC = {"aws_oidc_role_arn": ROLE, "aws_oidc_region": "us-west-2"}
ECR_FORMS = "(<account>.dkr.ecr.<region>.amazonaws.com and the other ECR forms, or public.ecr.aws)"


@pytest.fixture
def env(tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.startswith(("AWS_", "TRUSS_SECRET", "DOCKER_CREDENTIAL_TRUSS")):
            monkeypatch.delenv(name)
    home = str(tmp_path)
    return _Env(
        HOME=home,
        XDG_CONFIG_HOME=os.path.join(home, "cfg"),
        XDG_CACHE_HOME=os.path.join(home, "cache"),
        XDG_DATA_HOME=os.path.join(home, "data"),
        TRUSS_SECRET_aws_access_key_id="AKIA" + pysecrets.token_hex(8).upper(),
        TRUSS_SECRET_aws_secret_access_key="sk-" + pysecrets.token_urlsafe(24),
    )


def provider(env, host: str = HOST, method: str = "AWS_IAM", settings=None):
    secrets = Secrets(env, Paths.from_env(env))
    return aws.make(Spec(parse(host), method, settings or {}, secrets, env))


# -- what a set-up that cannot work is told -------------------------------------------------


@pytest.mark.parametrize(
    ("host", "hint"),
    [
        (
            "12345678901.dkr.ecr.us-east-1.amazonaws.com",
            "; the account id 12345678901 is not 12 digits",
        ),
        (HOST + ":5000", "; ECR hosts take no port"),
        ("registry.example.com", ""),
        (HOST + ".evil.com", ""),  # its 12-digit account is not what is wrong
        (
            "1234567890123.dkr.ecr.us-east-1.amazonaws.com:443",
            "; the account id 1234567890123 is not 12 digits",
        ),
    ],
    ids=["short-account", "port", "other-host", "lookalike", "long-account-and-port"],
)
def test_a_host_that_is_not_ecr_is_told_why(env, host, hint):
    with pytest.raises(ConfigError) as caught:
        provider(env, host, "AWS_ASSUME_ROLE", ASSUME).identity()
    assert caught.value.message == (
        f"{parse(host).key}: AWS_ASSUME_ROLE works only with Amazon ECR hosts {ECR_FORMS}{hint}"
    )


def test_a_method_that_is_not_aws_is_named(env):
    with pytest.raises(ConfigError) as caught:
        provider(env, method="GCP_OIDC")
    assert caught.value.message == f"{HOST}: GCP_OIDC is not an AWS auth method"


def test_a_key_id_without_its_secret_key_names_the_secret_and_what_it_is_for(env):
    del env["TRUSS_SECRET_aws_secret_access_key"]
    with pytest.raises(SecretError) as caught:
        provider(env).identity()
    assert caught.value.message.startswith(
        f"secret 'aws_secret_access_key' (AWS secret access key for {HOST}) not found"
    )


# -- the cache identity: what makes a token someone else's --------------------------------


def test_each_account_region_and_ecr_api_has_its_own_identity(env):
    hosts = [
        HOST,
        f"{ACCOUNT}.dkr.ecr.us-west-2.amazonaws.com",
        "210987654321.dkr.ecr.us-east-1.amazonaws.com",
        "public.ecr.aws",
    ]
    for method, settings in (("AWS_IAM", {}), ("AWS_ASSUME_ROLE", ASSUME), ("AWS_OIDC", OIDC)):
        identities = {provider(env, host, method, settings).identity() for host in hosts}
        assert len(identities) == len(hosts), method


def test_the_assume_role_region_is_part_of_the_identity(env):
    east = provider(env, method="AWS_ASSUME_ROLE", settings=ASSUME).identity()
    west = dict(ASSUME, aws_assume_role_region="eu-west-1")
    assert provider(env, method="AWS_ASSUME_ROLE", settings=west).identity() != east


def test_an_oidc_jobs_identity_is_the_job_not_the_key_pair(env, tmp_path):
    token = tmp_path / "token"
    token.write_text("eyJ" + pysecrets.token_urlsafe(32) + "\n")
    with_key = provider(env, method="AWS_OIDC", settings=OIDC).identity()
    env["AWS_WEB_IDENTITY_TOKEN_FILE"] = str(token)
    job = provider(env, method="AWS_OIDC", settings=OIDC).identity()
    env["TRUSS_SECRET_aws_access_key_id"] = "AKIA" + pysecrets.token_hex(8).upper()
    assert provider(env, method="AWS_OIDC", settings=OIDC).identity() == job, (
        "the job's token signs, not the key pair: changing the key is the same identity"
    )
    assert job != with_key
    other_region = dict(OIDC, aws_oidc_region="eu-west-1")
    assert provider(env, method="AWS_OIDC", settings=other_region).identity() != job


def test_a_blank_external_id_is_none_and_a_padded_one_is_trimmed(env):
    plain = provider(env, method="AWS_ASSUME_ROLE", settings=ASSUME).identity()
    env[aws.EXTERNAL_ID_VARIABLE] = "   "
    assert provider(env, method="AWS_ASSUME_ROLE", settings=ASSUME).identity() == plain
    env[aws.EXTERNAL_ID_VARIABLE] = " org-1234 "
    padded = provider(env, method="AWS_ASSUME_ROLE", settings=ASSUME).identity()
    env[aws.EXTERNAL_ID_VARIABLE] = "org-1234"
    assert provider(env, method="AWS_ASSUME_ROLE", settings=ASSUME).identity() == padded
    assert padded != plain


def test_the_default_chain_files_are_found_under_the_process_home_without_one_given(
    env, monkeypatch, tmp_path
):
    del env["TRUSS_SECRET_aws_access_key_id"]
    del env["HOME"]
    env[aws.DEFAULT_CHAIN_VARIABLE] = "1"
    home = tmp_path / "process-home"
    (home / ".aws").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    before = provider(env).identity()
    (home / ".aws" / "credentials").write_text("[default]\n")
    assert provider(env).identity() != before, "a new credentials file is a new identity"


# -- what is sent ------------------------------------------------------------------------


def test_assume_role_sends_the_trimmed_external_id_and_a_custom_session_token(
    env, monkeypatch, tmp_path
):
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    key_id, secret_key = "ASIA" + pysecrets.token_hex(8).upper(), "sk-" + pysecrets.token_hex(8)
    session_token = "tok-" + pysecrets.token_hex(8)
    with FakeAws(region={"us-east-1", "us-west-2"}) as fake:
        fake.keys[key_id] = secret_key
        fake.session_tokens[key_id] = session_token
        fake.add_role(Role(ROLE, trusted_keys={key_id}, external_id="org-1234"))
        env.update(
            fake.env(),
            TRUSS_SECRET_aws_access_key_id=key_id,
            TRUSS_SECRET_aws_secret_access_key=secret_key,
            TRUSS_SECRET_ci_token=session_token,
        )
        env[aws.EXTERNAL_ID_VARIABLE] = " org-1234 "
        settings = dict(ASSUME, aws_session_token_secret_name="ci_token")
        assert provider(env, method="AWS_ASSUME_ROLE", settings=settings).mint().secret == (
            fake.password
        )
        sts = fake.requests[0]
        assert (sts["op"], sts["key_id"], sts["external_id"], sts["error"]) == (
            ASSUME_ROLE,
            key_id,
            "org-1234",
            None,
        )


@pytest.mark.parametrize("method", ["aws_assume_role", "Aws_Assume_Role"])
def test_a_method_in_any_case_is_the_same_method(env, method):
    needs = (
        f"{HOST}: AWS_ASSUME_ROLE needs aws_assume_role_arn and aws_assume_role_region in the"
        " truss config's docker_auth; run `docker-credential-truss configure` again"
    )
    assert aws.check(parse(HOST), method, {}) == needs
    with pytest.raises(ConfigError) as caught:
        provider(env, method=method).identity()
    assert caught.value.message == needs


def test_a_blank_role_is_missing_and_a_padded_one_is_the_same_role(env):
    blank = dict(ASSUME, aws_assume_role_arn="  ")
    with pytest.raises(ConfigError, match="needs aws_assume_role_arn and aws_assume_role_region"):
        provider(env, method="AWS_ASSUME_ROLE", settings=blank).identity()
    padded = dict(ASSUME, aws_assume_role_arn=f" {ROLE}\t", aws_assume_role_region=" us-west-2 ")
    assert provider(env, method="AWS_ASSUME_ROLE", settings=padded).identity() == (
        provider(env, method="AWS_ASSUME_ROLE", settings=ASSUME).identity()
    )


def test_each_aws_default_profile_has_its_own_identity(env):
    # boto3 takes AWS_DEFAULT_PROFILE when AWS_PROFILE is unset: profile c's token is
    # never profile d's, nor the default profile's.
    del env["TRUSS_SECRET_aws_access_key_id"]
    env[aws.DEFAULT_CHAIN_VARIABLE] = "1"
    identities = set()
    for profile in ("c", "d", None):
        if profile is not None:
            env["AWS_DEFAULT_PROFILE"] = profile
        else:
            env.pop("AWS_DEFAULT_PROFILE", None)
        identities.add(provider(env).identity())
    assert len(identities) == 3


def test_each_external_id_has_its_own_identity(env):
    # Baseten assigns one ExternalId per organisation: one's token is never another's.
    identities = set()
    for external_id in ("org-1", "org-2"):
        env[aws.EXTERNAL_ID_VARIABLE] = external_id
        identities.add(provider(env, method="AWS_ASSUME_ROLE", settings=ASSUME).identity())
    assert len(identities) == 2


# -- the cache identity's format: what a token is cached under ------------------------------
# The token cache names each file by a hash of (registry, identity). Any change to an
# identity's parts (a kind's tag, the text standing for an absent value) orphans every
# token users have cached and makes each of them mint again after the upgrade, so each
# kind is pinned here: change one only together with the cache's FORMAT.

KEY_ID = "AKIAIOSFODNN7EXAMPLE"  # AWS's documented example key id
SCOPE = ("ecr", ACCOUNT, "us-east-1")


def fixed(env, **more):
    """The env fixture with a known key id (else a random one) and ``more``."""
    env.update(TRUSS_SECRET_aws_access_key_id=KEY_ID, **more)
    return env


def test_a_key_pairs_identity_is_the_method_scope_and_key_id(env):
    assert provider(fixed(env)).identity() == ("AWS_IAM", *SCOPE, "key", KEY_ID)


def test_ecr_publics_identity_has_no_account_and_its_fixed_region(env):
    assert provider(fixed(env), host="public.ecr.aws").identity() == (
        "AWS_IAM",
        "ecr-public",
        "",
        "us-east-1",
        "key",
        KEY_ID,
    )


def test_an_assumed_roles_identity_without_an_external_id(env):
    assert provider(fixed(env), method="AWS_ASSUME_ROLE", settings=ASSUME).identity() == (
        "AWS_ASSUME_ROLE",
        *SCOPE,
        ROLE,
        "us-west-2",
        "",
        "key",
        KEY_ID,
    )


def test_the_default_chains_identity_with_nothing_set_and_no_shared_files(env):
    del env["TRUSS_SECRET_aws_access_key_id"], env["TRUSS_SECRET_aws_secret_access_key"]
    env[aws.DEFAULT_CHAIN_VARIABLE] = "1"
    home = env["HOME"]
    assert provider(env).identity() == (
        "AWS_IAM",
        *SCOPE,
        "default-chain",
        "",  # no profile
        "",  # no AWS_ACCESS_KEY_ID
        "",  # no AWS_ROLE_ARN
        f"{home}/.aws/credentials",
        "absent",
        f"{home}/.aws/config",
        "absent",
    )


def test_an_oidc_identity_is_the_role_and_the_ci_job(env):
    env = fixed(env, DOCKER_CREDENTIAL_TRUSS_AWS_WEB_IDENTITY_TOKEN="not-a-jwt")
    job = "token=" + hashlib.sha256(b"not-a-jwt").hexdigest()[:32]
    assert provider(env, method="AWS_OIDC", settings=OIDC).identity() == (
        "AWS_OIDC",
        *SCOPE,
        ROLE,
        "us-west-2",
        "oidc",
        job,
    )

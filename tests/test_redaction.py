"""No secret in the log, as a property of the two doors where values enter the process.

Values enter through the secret lookup (``Secrets.find``; ``Secrets.store`` for what
``docker login`` hands in) and through the mint (``minting.minted``; the resolver for
a token read back from the cache). Each test here opens one door only and then raises
an unexpected exception that quotes the value, as an SDK that echoes its input would:
the traceback must reach the debug log with the value masked. Removing the
registration at that door fails the test, whatever the other door does.
The OIDC token a CI job leaves in a file is a third, narrower door: each provider
registers it as it reads the file.

Only the network calls are stood in for (``_aws_calls.mint``, ``gcp._refresh``): the
providers, the resolver, the cache and the CLI's error path are the real ones. Secret
values are sentinels, checked through booleans so a failure never prints one.
"""

import base64
import json
import os

import pytest
from fakes.gcp import ServiceAccountKey

from docker_credential_truss import config, debuglog, protocol
from docker_credential_truss.cache import TokenCache
from docker_credential_truss.minting import Token
from docker_credential_truss.providers import _aws_calls, gcp

ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
AR = "us-west2-docker.pkg.dev"
ON = {"DOCKER_CREDENTIAL_TRUSS_DEBUG": "1"}
KEY_ID = "AKIASENTINEL0000KEY1"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSENTINEL01"  # an AWS secret key's shape
TOKEN = "SENTINEL-minted-token-4e7a9c"
INTERNAL = "internal error (RuntimeError); please report it"  # on stderr, for get and store


@pytest.fixture(scope="module")
def sa_key() -> ServiceAccountKey:
    return ServiceAccountKey("http://127.0.0.1:9/token")  # a real RSA key; no server needed


def log_text(paths) -> str:
    with open(os.path.join(paths.log_dir, debuglog.FILE_NAME), encoding="utf-8") as handle:
        return handle.read()


def masked_in_log(paths, values) -> bool:
    """Whether the traceback was logged, masked, and none of ``values`` is in the log."""
    log = log_text(paths)
    return "RuntimeError: " in log and debuglog.MASK in log and not any(v in log for v in values)


def pieces(key: ServiceAccountKey) -> list[str]:
    """The key and every part of it a message could quote."""
    pem_lines = [line for line in key.info["private_key"].splitlines() if len(line) >= 16]
    return [key.json(), key.info["private_key_id"], key.info["private_key"], *pem_lines]


def aws_env() -> dict[str, str]:
    return {
        **ON,
        "TRUSS_SECRET_aws_access_key_id": KEY_ID,
        "TRUSS_SECRET_aws_secret_access_key": SECRET_KEY,
    }


def gcp_env(paths, key: ServiceAccountKey) -> dict[str, str]:
    config.merge(paths, {AR: {"auth_method": "GCP_SERVICE_ACCOUNT_JSON", "secret_name": "sa"}})
    return {**ON, "TRUSS_SECRET_sa": key.json()}


# -- the secret lookup, alone: the failure comes before anything is minted ------------------


def test_an_aws_secret_key_from_the_lookup_is_masked_in_a_traceback(cli, paths, monkeypatch):
    def echoing_sdk(call):
        raise RuntimeError(f"signature mismatch for key {SECRET_KEY}")

    monkeypatch.setattr(_aws_calls, "mint", echoing_sdk)
    run = cli("get", stdin=ECR, extra=aws_env())
    assert INTERNAL in run.err
    assert masked_in_log(paths, [SECRET_KEY]), "the AWS secret key reached the log"


def test_a_service_account_key_from_the_lookup_is_masked_in_a_traceback(
    cli, paths, monkeypatch, sa_key
):
    quoted = pieces(sa_key)

    def echoing_sdk(registry, credentials, timeout):
        raise RuntimeError("could not sign: " + " | ".join(quoted))

    monkeypatch.setattr(gcp, "_refresh", echoing_sdk)
    run = cli("get", stdin=AR, extra=gcp_env(paths, sa_key))
    assert INTERNAL in run.err
    assert masked_in_log(paths, quoted), "a piece of the service-account key reached the log"


def test_a_registry_secrets_password_from_the_lookup_is_masked(cli, paths, monkeypatch):
    from docker_credential_truss.providers import static

    password = "SENTINEL-static-pw-61d0"
    value = base64.b64encode(f"builder:{password}".encode()).decode()

    def echoing_decoder(self, name, value):  # fails before anything is minted
        raise RuntimeError(f"decoded {password} from {value}")

    monkeypatch.setattr(static.StaticProvider, "__init__", echoing_decoder)
    run = cli(
        "get",
        stdin="reg.example.test",
        extra={**ON, "TRUSS_SECRET_DOCKER_REGISTRY_reg.example.test": value},
    )
    assert INTERNAL in run.err
    assert masked_in_log(paths, [password, value]), "the password reached the log"


def test_a_stored_password_is_masked_in_a_traceback(cli, paths, monkeypatch):
    from docker_credential_truss import files

    password = "SENTINEL-login-pw-0b93"

    def failing_write(path, change, **kwargs):
        data: dict = {}
        change(data)
        raise RuntimeError(f"disk full writing {json.dumps(data)}")

    monkeypatch.setattr(files, "update_json", failing_write)
    creds = {"ServerURL": "reg.example.test", "Username": "builder", "Secret": password}
    run = cli("store", stdin=json.dumps(creds), extra=ON)
    assert INTERNAL in run.err
    value = base64.b64encode(f"builder:{password}".encode()).decode()
    assert masked_in_log(paths, [password, value]), "the stored password reached the log"


# -- the mint, alone: the token is no secret the lookup saw ---------------------------------


def failing_put(self, registry, identity, token, now):
    raise RuntimeError(f"cannot cache {token.secret}")


def test_an_ecr_token_minted_from_an_aws_key_is_masked_in_a_traceback(cli, paths, monkeypatch):
    monkeypatch.setattr(_aws_calls, "mint", lambda call: Token("AWS", TOKEN, 4e9))
    monkeypatch.setattr(TokenCache, "put", failing_put)
    run = cli("get", stdin=ECR, extra=aws_env())
    assert INTERNAL in run.err
    assert masked_in_log(paths, [TOKEN]), "the minted ECR token reached the log"


def test_a_token_minted_from_a_service_account_key_is_masked_in_a_traceback(
    cli, paths, monkeypatch, sa_key
):
    monkeypatch.setattr(gcp, "_refresh", lambda *args: Token("oauth2accesstoken", TOKEN, 4e9))
    monkeypatch.setattr(TokenCache, "put", failing_put)
    run = cli("get", stdin=AR, extra=gcp_env(paths, sa_key))
    assert INTERNAL in run.err
    assert masked_in_log(paths, [TOKEN]), "the minted Google token reached the log"


@pytest.mark.parametrize("cloud", ["aws", "gcp"])
def test_a_token_served_from_the_cache_is_masked_in_a_traceback(cli, paths, monkeypatch, cloud):
    if cloud == "aws":
        server, env = ECR, aws_env()
        monkeypatch.setattr(_aws_calls, "mint", lambda call: Token("AWS", TOKEN, 4e9))
    else:
        server, env = AR, gcp_env(paths, ServiceAccountKey("http://127.0.0.1:9/token"))
        monkeypatch.setattr(gcp, "_refresh", lambda *args: Token("oauth2accesstoken", TOKEN, 4e9))
    assert cli("get", stdin=server, extra=env).code == 0  # minted and cached by this run

    def broken_pipe(stdout, payload):
        raise RuntimeError(f"broken pipe while writing {payload}")

    monkeypatch.setattr(protocol, "_write", broken_pipe)
    monkeypatch.setattr(_aws_calls, "mint", None)  # a second mint would be a bug here
    monkeypatch.setattr(gcp, "_refresh", None)
    run = cli("get", stdin=server, extra=env)
    assert INTERNAL in run.err
    assert "cache hit" in log_text(paths)
    assert masked_in_log(paths, [TOKEN]), "the cached token reached the log"


# -- the OIDC token files, alone: a CI job's token is no secret the lookup or mint saw ------

WEB_TOKEN = "eyJSENTINEL.oidc-web-identity.5c1f"


def test_an_aws_web_identity_token_from_its_file_is_masked(cli, paths, monkeypatch, tmp_path):
    config.merge(
        paths,
        {
            ECR: {
                "auth_method": "AWS_OIDC",
                "aws_oidc_role_arn": "arn:aws:iam::123456789012:role/puller",
                "aws_oidc_region": "eu-west-1",
            }
        },
    )
    (tmp_path / "web-token").write_text(WEB_TOKEN + "\n")

    def echoing_sdk(call):
        raise RuntimeError(f"AssumeRoleWithWebIdentity refused {call.web_token}")

    monkeypatch.setattr(_aws_calls, "mint", echoing_sdk)
    run = cli(
        "get", stdin=ECR, extra={**ON, "AWS_WEB_IDENTITY_TOKEN_FILE": str(tmp_path / "web-token")}
    )
    assert INTERNAL in run.err
    assert masked_in_log(paths, [WEB_TOKEN]), "the web identity token reached the log"


def test_a_gcp_subject_token_from_its_file_is_masked(cli, paths, monkeypatch, tmp_path):
    config.merge(
        paths,
        {
            AR: {
                "auth_method": "GCP_OIDC",
                "gcp_oidc_workload_id_provider": (
                    "projects/123456789/locations/global/workloadIdentityPools/ci-pool/providers/github"
                ),
                "gcp_oidc_service_account": "puller@proj-1.iam.gserviceaccount.com",
            }
        },
    )
    (tmp_path / "subject-token").write_text(WEB_TOKEN + "\n")

    def echoing_sdk(registry, credentials, timeout):
        token = credentials._subject_token_supplier.get_subject_token(None, None)
        raise RuntimeError(f"token exchange refused {token}")

    monkeypatch.setattr(gcp, "_refresh", echoing_sdk)
    run = cli(
        "get",
        stdin=AR,
        extra={**ON, gcp.ENV_OIDC_TOKEN_FILE: str(tmp_path / "subject-token")},
    )
    assert INTERNAL in run.err
    assert masked_in_log(paths, [WEB_TOKEN]), "the GCP subject token reached the log"

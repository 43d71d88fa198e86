"""The token cache serves a token only to the identity it was minted for (issue 21, #7, #8).

Through the installed command, with the real boto3 against the STS/ECR stand-in:

- #7: two AWS_ASSUME_ROLE set-ups, (role A, us-east-1, no ExternalId) and (role B,
  eu-west-1, ExternalId E), whose parts joined with ``@``, ``:`` and ``=`` read the same
  (a role path and an ExternalId may hold all three): the second ``get`` must assume
  role B at STS and answer B's token, not be served A's from the cache;
- #8: a cache entry for one role linked under another role's name is not served to the
  other (each entry records its identity's hash), and a tokens directory another user
  can write is refused with a warning on stderr and a fresh mint.

The evidence is what STS was asked (roles, calls) and which password ``get`` answered.
"""

from __future__ import annotations

import json
import os

import pytest
from fakes.aws import ASSUME_ROLE, FakeAws, Role
from hardening import expect, figures, make_env, run_exe, sentinel

from docker_credential_truss.paths import Paths

COUNTS = figures("cache identities")
ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
KEY_ID = "AKIA" + "0123456789ABCDEF"
#: Joined as the cache did, "<role>@<region>:external-id=<ExternalId>:key=<key id>", both
#: read "...role/a@eu-west-1:external-id=/r@us-east-1:external-id=:key=AKIA...".
ROLE_A = "arn:aws:iam::123456789012:role/a@eu-west-1:external-id=/r"
ROLE_B = "arn:aws:iam::123456789012:role/a"
EXTERNAL_ID_B = "/r@us-east-1:external-id="


@pytest.fixture
def aws():
    secret_key = sentinel("awskey")
    with FakeAws({KEY_ID: secret_key}) as fake:
        fake.add_role(Role(ROLE_A, trusted_keys={KEY_ID}))
        fake.add_role(Role(ROLE_B, trusted_keys={KEY_ID}, external_id=EXTERNAL_ID_B))
        fake.secret_key = secret_key
        yield fake


def _set_up(exe, tmp_path, aws) -> dict:
    env = make_env(str(tmp_path))
    env["PATH"] = f"{os.path.dirname(exe)}:{env['PATH']}"
    env.update(aws.env())
    env["TRUSS_SECRET_aws_access_key_id"] = KEY_ID
    env["TRUSS_SECRET_aws_secret_access_key"] = aws.secret_key
    return env


def _configure(exe, env, tmp_path, name: str, role: str, region: str) -> None:
    truss = tmp_path / name
    truss.mkdir()
    (truss / "config.yaml").write_text(
        f"base_image:\n  image: {ECR}/img:1\n  docker_auth:\n    auth_method: AWS_ASSUME_ROLE\n"
        f"    registry: {ECR}\n    aws_assume_role_arn: '{role}'\n"
        f"    aws_assume_role_region: {region}\n"
    )
    code, out, err = run_exe(exe, env, "configure", "--replace", str(truss))
    expect(code == 0, f"configure {name}: {out[-300:]!r} {err[-300:]!r}")


def _get(exe, env) -> tuple[int, str | None, str]:
    code, out, err = run_exe(exe, env, "get", stdin=ECR.encode())
    secret = json.loads(out)["Secret"] if code == 0 else None
    return code, secret, err


def test_identities_that_joined_alike_each_get_their_own_token(exe, tmp_path, aws):
    env = _set_up(exe, tmp_path, aws)
    _configure(exe, env, tmp_path, "truss-a", ROLE_A, "us-east-1")
    aws.password = password_a = sentinel("ecr-a")
    code, got, err = _get(exe, env)
    expect(code == 0 and got == password_a, f"get for role A: exit {code}, {err[-300:]!r}")

    _configure(exe, env, tmp_path, "truss-b", ROLE_B, "eu-west-1")
    env["DOCKER_CREDENTIAL_TRUSS_AWS_EXTERNAL_ID"] = EXTERNAL_ID_B
    aws.password = password_b = sentinel("ecr-b")
    code, got, err = _get(exe, env)
    expect(code == 0, f"get for role B failed: {err[-300:]!r}")
    expect(got != password_a, "role B was served role A's cached token")
    expect(got == password_b, "role B's get did not answer the token minted for it")
    assumed = [(r["role"], r["external_id"]) for r in aws.requests if r["op"] == ASSUME_ROLE]
    expect(assumed == [(ROLE_A, None), (ROLE_B, EXTERNAL_ID_B)], f"STS was asked {assumed}")
    COUNTS["colliding identities kept apart"] += 1


def test_an_entry_linked_under_another_roles_name_is_not_served(exe, tmp_path, aws):
    env = _set_up(exe, tmp_path, aws)
    tokens = Paths.from_env(env).token_cache
    _configure(exe, env, tmp_path, "truss-a", ROLE_A, "us-east-1")
    aws.password = password_a = sentinel("ecr-a")
    expect(_get(exe, env)[1] == password_a, "get for role A failed")
    (entry_a,) = [n for n in os.listdir(tokens) if n.endswith(".json")]

    # Role B's entry is a link to role A's: what a user who can write the tokens
    # directory, or a tool that copies caches around, would leave there.
    _configure(exe, env, tmp_path, "truss-b", "arn:aws:iam::123456789012:role/b", "us-east-1")
    aws.add_role(Role("arn:aws:iam::123456789012:role/b", trusted_keys={KEY_ID}))
    probe = dict(env, AWS_ENDPOINT_URL_STS="http://127.0.0.1:9")  # where would B's go?
    before = set(os.listdir(tokens))
    run_exe(exe, probe, "get", stdin=ECR.encode())  # fails at STS; leaves B's file name
    names = {n for n in set(os.listdir(tokens)) - before if n.endswith(".json.failed")}
    expect(len(names) == 1, f"no failure record names role B's entry: {sorted(names)}")
    entry_b = names.pop()[: -len(".failed")]
    os.unlink(os.path.join(tokens, entry_b + ".failed"))
    os.symlink(os.path.join(tokens, entry_a), os.path.join(tokens, entry_b))

    aws.password = password_b = sentinel("ecr-b")
    code, got, err = _get(exe, env)
    expect(code == 0 and got != password_a, "role B was served role A's token through a link")
    expect(got == password_b, f"role B's get did not mint its own token: {err[-300:]!r}")
    COUNTS["linked entries refused"] += 1


def test_a_tokens_directory_others_can_write_is_refused_with_a_warning(exe, tmp_path, aws):
    env = _set_up(exe, tmp_path, aws)
    tokens = Paths.from_env(env).token_cache
    _configure(exe, env, tmp_path, "truss-a", ROLE_A, "us-east-1")
    aws.password = password_a = sentinel("ecr-a")
    expect(_get(exe, env)[1] == password_a, "get for role A failed")
    os.chmod(tokens, 0o777)  # anyone could now put an entry there

    aws.password = password_2 = sentinel("ecr-2")
    code, got, err = _get(exe, env)
    expect(code == 0 and got == password_2, f"get did not mint afresh: exit {code}")
    expect(
        "token cache unusable" in err and "writable by other users" in err,
        f"no warning about the tokens directory: {err[-300:]!r}",
    )
    expect(aws.count(ASSUME_ROLE) == 2, "the cached token was served from an unsafe directory")
    COUNTS["unsafe directories refused"] += 1

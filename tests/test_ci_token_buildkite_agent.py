"""How the helper runs ``buildkite-agent oidc request-token``: what the agent is given
(the job's environment, no stdin, a time limit) and what a person sees when it fails.

The agent is a small script on PATH, as in test_citoken.py. Tokens are made-up JWTs and
are compared before asserting, so a failure never prints one.
"""

from __future__ import annotations

import os
import stat

import pytest
from fakes.github import job_claims, make_jwt

from docker_credential_truss import debuglog
from docker_credential_truss.errors import ProviderError
from docker_credential_truss.providers import citoken

KEY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
NAME = "buildkite-agent oidc request-token (audience sts.amazonaws.com)"


def agent(tmp_path, script: str, first_line: str = "#!/bin/sh\n") -> tuple[dict[str, str], str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    program = bin_dir / "buildkite-agent"
    program.write_text(first_line + script)
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    env = {"PATH": f"{bin_dir}{os.pathsep}/usr/bin:/bin", "BUILDKITE_JOB_ID": "job-1"}
    return env, str(program)


def source(env):
    return citoken.find(citoken.AWS, env, citoken.AWS_AUDIENCE, KEY)


def refusal(env) -> str:
    with pytest.raises(ProviderError) as err:
        source(env).token()
    return err.value.message


def test_the_agent_gets_the_jobs_environment_not_the_helpers(tmp_path):
    token = make_jwt(**job_claims("sts.amazonaws.com"))
    seen = tmp_path / "seen"
    env, _ = agent(tmp_path, f'echo "$BUILDKITE_AGENT_ACCESS_TOKEN" > {seen}\necho {token}\n')
    env["BUILDKITE_AGENT_ACCESS_TOKEN"] = "agent-token-of-this-job"
    assert "BUILDKITE_AGENT_ACCESS_TOKEN" not in os.environ
    assert source(env).token() == token
    assert seen.read_text() == "agent-token-of-this-job\n"


def test_the_agent_cannot_read_the_helpers_stdin(tmp_path):
    # docker's request arrives on the helper's stdin; the agent has no business with it
    token = make_jwt(**job_claims("sts.amazonaws.com"))
    seen = tmp_path / "seen"
    env, _ = agent(tmp_path, f"cat > {seen}\necho {token}\n")
    read_end, write_end = os.pipe()
    os.write(write_end, b"what the helper was asked\n")
    os.close(write_end)
    saved = os.dup(0)
    os.dup2(read_end, 0)
    try:
        got = source(env).token()
    finally:
        os.dup2(saved, 0)
        os.close(saved)
        os.close(read_end)
    assert got == token
    assert seen.read_text() == ""


def test_the_agent_is_run_once_per_process(tmp_path):
    token = make_jwt(**job_claims("sts.amazonaws.com"))
    runs = tmp_path / "runs"
    env, _ = agent(tmp_path, f"echo run >> {runs}\necho {token}\n")
    found = source(env)
    assert (found.token() == token, found.token() == token) == (True, True)
    assert runs.read_text() == "run\n"


def test_the_agents_answer_is_registered_for_masking(tmp_path):
    token = make_jwt(sub="SENTINEL-buildkite-token")
    env, _ = agent(tmp_path, f"echo {token}\n")
    source(env).token()
    assert token not in debuglog.masked(f"said {token}")


def test_an_agent_slower_than_three_network_timeouts_is_given_up(tmp_path):
    env, _ = agent(tmp_path, "exec sleep 5\n")
    env["DOCKER_CREDENTIAL_TRUSS_TIMEOUT"] = "0.2"
    assert refusal(env) == f"{KEY}: {NAME} did not answer within 0.6s"


def test_an_agent_that_cannot_be_run_is_named_with_why(tmp_path):
    env, program = agent(tmp_path, "echo never\n", first_line="#!/nonexistent/interpreter\n")
    assert refusal(env) == f"{KEY}: cannot run {program}: No such file or directory"


@pytest.mark.parametrize(
    ("script", "status"),
    [
        ("printf 'not-utf8-\\377\\376'\n", 0),  # no token, and not even text
        (f"echo {make_jwt(sub='x')}\nexit 2\n", 2),  # a token, but the agent failed
        ("echo not-a-jwt\n", 0),
    ],
)
def test_an_agent_that_gives_no_token_says_its_status_and_what_to_do(tmp_path, script, status):
    env, _ = agent(tmp_path, script)
    assert refusal(env) == (
        f"{KEY}: {NAME} failed (exit status {status}); run it in the job to see why"
    )


def test_an_absent_or_empty_agent_token_is_the_same_job(tmp_path):
    env = {"BUILDKITE_JOB_ID": "job-1"}
    empty = dict(env, BUILDKITE_AGENT_ACCESS_TOKEN="")
    assert source(env).job() == source(empty).job()
    assert source(env).inputs() == source(empty).inputs()
    other = dict(env, BUILDKITE_JOB_ID="job-2")
    assert source(env).job() != source(other).job()
    assert source(env).inputs() != source(other).inputs()

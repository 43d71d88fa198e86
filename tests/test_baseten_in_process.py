"""test_baseten.py's checks of ``baseten check`` / ``push`` again, through ``cli.main`` here.

test_baseten.py runs the installed command, which mutation testing cannot reach (a
subprocess imports the unmutated package). The same tests run here in this process:
the same truss, local secrets, ``~/.trussrc`` and stand-in (tests/fakes/baseten.py),
the same assertions, the check that no sentinel reaches the output or the debug log
included; only the runner differs. The prompt on a terminal is asked here of a stdin
that says it is one; ``--help`` stays with the installed command.
"""

from __future__ import annotations

import io
import subprocess

import pytest
import test_baseten
from test_baseten import (  # noqa: F401 (fixtures and tests collected here again)
    fake,
    test_a_keyring_or_oauth_remote_says_which_variable_to_set,
    test_a_refused_key_names_where_it_came_from,
    test_a_remote_api_key_wins_over_baseten_api_key_as_in_truss,
    test_bad_answers_are_one_line,
    test_baseten_api_key_for_a_remote_without_one_and_with_no_trussrc,
    test_check_names_each_missing_secret_with_its_fix,
    test_check_passes_and_oidc_methods_need_no_secret,
    test_check_with_nothing_configured,
    test_check_without_paths_uses_what_configure_recorded,
    test_dry_run_lists_names_and_sources_and_writes_nothing,
    test_no_key_names_every_place_looked,
    test_push_needs_yes_off_a_terminal,
    test_push_refuses_a_gcp_secret_that_is_no_service_account_key,
    test_push_refuses_values_that_cannot_work,
    test_push_says_which_secrets_have_no_local_value,
    test_push_to_a_team,
    test_push_yes_writes_exactly_those_secrets_then_checks,
    test_remote_choice_and_user_trussrc_path,
    test_team_route,
    test_the_environment_pair_wins_and_is_sent_as_bearer,
    test_unreachable_is_one_line,
    world,
)

from docker_credential_truss.cli import main


class Terminal(io.BytesIO):
    """A stdin that is a terminal, holding what the person types."""

    def isatty(self) -> bool:
        return True


def run_in_process(env, *args: str, stdin: str | io.BytesIO = "") -> subprocess.CompletedProcess:
    given = stdin if isinstance(stdin, io.BytesIO) else io.BytesIO(stdin.encode())
    out, err = io.BytesIO(), io.StringIO()
    code = main(["baseten", *args], stdin=given, stdout=out, stderr=err, env=dict(env))
    done = subprocess.CompletedProcess(args, code, out.getvalue().decode(), err.getvalue())
    test_baseten.no_leak(env, done.stdout + done.stderr)
    return done


@pytest.fixture(autouse=True)
def _in_process(monkeypatch):
    monkeypatch.setattr(test_baseten, "run", run_in_process)


@pytest.mark.parametrize(("answer", "code", "written"), [("n\n", 1, 0), ("YES\n", 0, 4)])
def test_push_on_a_terminal_asks_first(env, world, fake, answer, code, written):  # noqa: F811
    done = run_in_process(env, "push", world, stdin=Terminal(answer.encode()))
    assert done.returncode == code, done.stdout + done.stderr
    assert done.stderr == "Write 4 secrets to the workspace? [y/N] "
    assert len(fake.upserts) == written
    if not written:
        assert done.stdout.rstrip().endswith("nothing written")

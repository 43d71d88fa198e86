"""What the human commands' arguments parse to, and the one line a wrong one gets.

options.py turns argv into the values configure, unconfigure, doctor and baseten act
on; a usage error is one line naming the command and its --help (exit status 2 in the
CLI). These check the parsed values whole and the lines word for word.
"""

from __future__ import annotations

import io

import pytest

from docker_credential_truss import options

EXE = "docker-credential-truss"


def usage_error(parse, args: list[str]) -> str:
    with pytest.raises(options.UsageError) as raised:
        parse(args, io.BytesIO())
    return raised.value.message


def test_each_command_parses_to_exactly_its_values():
    assert vars(options.unconfigure(["ghcr.io", "--dry-run", "my-truss"], io.BytesIO())) == {
        "targets": ["ghcr.io", "my-truss"],
        "dry_run": True,
    }
    assert vars(options.doctor([], io.BytesIO())) == {
        "registries": [],
        "offline": False,
        "no_registry": False,
        "insecure_registry": [],
    }


def test_insecure_registry_can_be_given_several_times():
    opts = options.doctor(
        ["--insecure-registry", "a.test:5000", "ghcr.io", "--insecure-registry=b.test"],
        io.BytesIO(),
    )
    assert opts.insecure_registry == ["a.test:5000", "b.test"]
    assert opts.registries == ["ghcr.io"]


@pytest.mark.parametrize("action", ["check", "push"])
def test_baseten_actions_parse_to_their_values_without_dry_run_or_yes(action):
    opts = options.baseten([action, "my-truss", "--team", "t1"], io.BytesIO())
    assert (opts.action, opts.paths, opts.team, opts.remote) == (action, ["my-truss"], "t1", None)
    assert opts.dry_run is False and opts.yes is False


def test_an_abbreviated_option_is_refused_not_guessed():
    assert usage_error(options.doctor, ["--off"]) == (
        f"{EXE} doctor: unrecognized arguments: --off (see: {EXE} doctor --help)"
    )


def test_baseten_without_check_or_push_says_which_are_known():
    assert usage_error(options.baseten, ["frob"]) == (
        f"{EXE} baseten: argument check|push: invalid choice: 'frob' (choose from 'check',"
        f" 'push') (see: {EXE} baseten --help)"
    )
    assert usage_error(options.baseten, ["--remote", "x"]) == (
        f"{EXE} baseten: the following arguments are required: check|push"
        f" (see: {EXE} baseten --help)"
    )


def test_configure_without_a_truss_or_a_registry_says_what_to_give():
    assert usage_error(options.configure, []) == (
        f"{EXE} configure: name a truss (PATH or FILE.py), or give --registry and"
        f" --auth-method (see: {EXE} configure --help)"
    )


def test_argparse_asking_to_exit_without_a_status_is_status_0():
    with pytest.raises(options.UsageError) as raised:
        options._Parser("doctor", io.BytesIO()).exit()
    assert raised.value.message == f"{EXE} doctor: exit status 0 (see: {EXE} doctor --help)"

"""What ``-h``/``--help`` prints for each human command, word for word.

The help is the reference a person reads first: its usage lines, each option's words
and the examples (which must stay commands a person can paste). Each command's help is
kept in ``tests/help/<command>.txt`` and compared exactly, at a fixed width, so a
changed word is a reviewed change: after changing a help text on purpose, rewrite the
files with ``DCT_UPDATE_HELP=1 pytest tests/test_help_text.py`` and read the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

HELP = Path(__file__).parent / "help"
COMMANDS = [
    ("configure",),
    ("unconfigure",),
    ("doctor",),
    ("baseten",),
    ("baseten", "check"),
    ("baseten", "push"),
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_the_help_of_each_human_command_is_what_its_file_says(cli, monkeypatch, command, flag):
    monkeypatch.setenv("COLUMNS", "100")  # argparse wraps at the terminal's width
    run = cli(*command, flag)
    assert (run.code, run.err) == (0, "")
    text = run.out
    kept = HELP / ("-".join(command) + ".txt")
    if os.environ.get("DCT_UPDATE_HELP") == "1" and flag == "--help":
        kept.write_text(text)
    assert text == kept.read_text(), (
        f"{' '.join(command)} --help changed: see this file's docstring"
    )


@pytest.mark.parametrize(
    ("status", "message", "said"), [(3, None, "exit status 3"), (0, "bye", "bye")]
)
def test_argparse_asking_to_exit_is_a_usage_error_not_an_exit(status, message, said):
    # Python 3.11's argparse asks only through the actions replaced here; a later one
    # asking otherwise must still end in one usage line, not in sys.exit mid-command.
    import io

    from docker_credential_truss import options

    parser = options._Parser("doctor", io.BytesIO())
    with pytest.raises(options.UsageError) as raised:
        parser.exit(status, message)
    assert raised.value.message == (
        f"docker-credential-truss doctor: {said} (see: docker-credential-truss doctor --help)"
    )

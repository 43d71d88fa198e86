"""The options of the human commands (configure, unconfigure, doctor, baseten), by argparse.

argparse gives each command the conventions people expect: ``-h``/``--help`` with the
usage, every option and examples, ``--flag=value`` and ``--flag value``, options before
or after the paths. It costs a few milliseconds to import, so only these commands
import this module; ``get``, which docker runs once per registry, never does
(tests/test_imports.py). Two of argparse's habits are changed: help goes to the
stdout the CLI was given (not ``sys.stdout``), and a usage error is raised as
:class:`UsageError` (one line, exit status 2) instead of printing the whole usage and
exiting from inside the parser.
"""

from __future__ import annotations

import argparse

from docker_credential_truss.errors import HelperError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO, NoReturn

EXE = "docker-credential-truss"


class UsageError(HelperError):
    """The arguments of a human command are wrong: one line on stderr, exit status 2."""

    def __init__(self, command: str, message: str) -> None:
        super().__init__(f"{EXE} {command}: {message} (see: {EXE} {command} --help)")


class HelpShown(Exception):
    """``--help`` was answered on stdout; the command stops there with exit status 0."""


class _Parser(argparse.ArgumentParser):
    def __init__(self, command: str, stdout: BinaryIO, **kwargs: object) -> None:
        super().__init__(
            prog=f"{EXE} {command}",
            add_help=False,
            allow_abbrev=False,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            **kwargs,  # type: ignore[arg-type]
        )
        self.command = command
        self.stdout = stdout
        self.add_argument("-h", "--help", action=_Help, help="show this help and exit")

    def error(self, message: str) -> NoReturn:
        raise UsageError(self.command, message)

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise UsageError(self.command, message or f"exit status {status}")


class _Help(argparse.Action):
    def __init__(self, option_strings: list[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)  # type: ignore[arg-type]

    def __call__(self, parser, namespace, values, option_string=None) -> NoReturn:  # type: ignore[no-untyped-def]
        parser.stdout.write(parser.format_help().encode())
        parser.stdout.flush()
        raise HelpShown()


def configure(args: list[str], stdout: BinaryIO) -> argparse.Namespace:
    """``configure``: sources (paths and .py files), --dry-run, --replace, the field flags.

    ``fields`` in the result holds the docker_auth fields given as flags.
    """
    from docker_credential_truss.authmethods import FIELDS, NAMES, OWN_SECRET

    parser = _Parser(
        "configure",
        stdout,
        usage=(
            f"{EXE} configure [--dry-run] [--replace] PATH|FILE.py...\n"
            f"       {EXE} configure [--dry-run] [--replace] --registry HOST"
            " --auth-method METHOD [--secret-name NAME] [--<docker_auth field> VALUE]..."
        ),
        description=(
            "Import the registry settings of trusses into the helper, and route those\n"
            "registries to it in docker's config.json ($DOCKER_CONFIG/config.json, default\n"
            "~/.docker/config.json), keeping everything else there. A registry already\n"
            "recorded with other settings is left alone unless --replace is given."
        ),
        epilog=(
            "examples:\n"
            f"  {EXE} configure path/to/my-truss\n"
            f"  {EXE} configure --dry-run my-truss/config.yaml chain.py\n"
            f"  {EXE} configure --registry ghcr.io --auth-method {OWN_SECRET} \\\n"
            "      --secret-name ghcr_pw\n"
            "\n"
            f"undo with: {EXE} unconfigure HOST|PATH..."
        ),
    )
    parser.add_argument(
        "sources",
        nargs="*",
        metavar="PATH|FILE.py",
        help="a truss directory, its config.yaml, or a truss Chains or truss_train .py file"
        " (read, never run)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="say what would change; write nothing"
    )
    parser.add_argument(
        "--replace",
        action="store_true",
        help="replace a registry's recorded settings when these differ",
    )
    group = parser.add_argument_group(
        "a registry without a truss (the docker_auth fields as flags)"
    )
    group.add_argument("--registry", metavar="HOST", help="the host docker asks for")
    group.add_argument(
        "--auth-method",
        metavar="METHOD",
        help=", ".join(NAMES[:-1]) + " or " + NAMES[-1],
    )
    for field in FIELDS:
        if field != "registry":
            group.add_argument("--" + field.replace("_", "-"), metavar="VALUE", dest=field)
    opts = parser.parse_intermixed_args(args)
    opts.fields = {
        field: getattr(opts, field)
        for field in ("auth_method", *FIELDS)
        if getattr(opts, field) is not None
    }
    if not opts.sources and not opts.fields:
        parser.error("name a truss (PATH or FILE.py), or give --registry and --auth-method")
    return opts


def unconfigure(args: list[str], stdout: BinaryIO) -> argparse.Namespace:
    """``unconfigure``: registries or trusses to undo, --dry-run."""
    parser = _Parser(
        "unconfigure",
        stdout,
        description=(
            "Undo configure: remove the registries' records from the helper's config and\n"
            'their "credHelpers" entries that name truss from docker\'s config.json, and\n'
            "put back the helper configure replaced, if it replaced one. Everything else in\n"
            "docker's config.json is kept as it is."
        ),
        epilog=(
            "examples:\n"
            f"  {EXE} unconfigure ghcr.io 127.0.0.1:5000\n"
            f"  {EXE} unconfigure --dry-run path/to/my-truss"
        ),
    )
    parser.add_argument(
        "targets",
        nargs="+",
        metavar="HOST|PATH",
        help="a registry (as docker names it) or a truss: every registry it names",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="say what would change; write nothing"
    )
    return parser.parse_intermixed_args(args)


def doctor(args: list[str], stdout: BinaryIO) -> argparse.Namespace:
    """``doctor``: registries, --offline, --no-registry, --insecure-registry HOST (repeatable)."""
    parser = _Parser(
        "doctor",
        stdout,
        description=(
            "Check each registry's set-up step by step, as docker's request would go: the\n"
            "helper on PATH, docker's routing, the auth method, its secrets (names and\n"
            "where they were found, never values), a fresh credential, a login to the\n"
            "registry with it and the truss's base image, the token cache. Each problem is\n"
            "a FAIL line followed by a fix: line; the exit status is 1 if there is any."
        ),
        epilog=(f"examples:\n  {EXE} doctor\n  {EXE} doctor ghcr.io --offline"),
    )
    parser.add_argument(
        "registries",
        nargs="*",
        metavar="REGISTRY",
        help="the registries to check (default: every one the helper knows of or docker"
        " sends to it)",
    )
    parser.add_argument(
        "--offline", action="store_true", help="touch no network: check inputs, mint nothing"
    )
    parser.add_argument(
        "--no-registry", action="store_true", help="make a credential but do not log in with it"
    )
    parser.add_argument(
        "--insecure-registry",
        action="append",
        default=[],
        metavar="HOST",
        help="use plain http for HOST, as docker's insecure-registries (loopback already is)",
    )
    return parser.parse_intermixed_args(args)


def baseten(args: list[str], stdout: BinaryIO) -> argparse.Namespace:
    """``baseten check|push``: trusses, --remote, --team; push adds --dry-run and --yes.

    Each action has a parser of its own, chosen by the first argument: argparse's
    subparsers cannot take options between the paths (``parse_intermixed_args``).
    """
    if args and args[0] in ("check", "push"):
        opts = _baseten_action(args[0], stdout).parse_intermixed_args(args[1:])
        opts.action = args[0]
        opts.dry_run = getattr(opts, "dry_run", False)
        opts.yes = getattr(opts, "yes", False)
        return opts
    parser = _Parser(
        "baseten",
        stdout,
        usage=f"{EXE} baseten {{check,push}} [PATH...] [options]",
        description=(
            "Will Baseten's hosted builder find the registry secrets these trusses need?\n"
            "  check   does the workspace have them? (names only)\n"
            "  push    upload their local values"
        ),
        epilog=(
            "examples:\n"
            f"  {EXE} baseten check path/to/my-truss\n"
            f"  {EXE} baseten push --dry-run\n"
            "\n"
            f"{EXE} baseten check --help and baseten push --help say more."
        ),
    )
    parser.add_argument(
        "action", choices=("check", "push"), metavar="check|push", help="what to do"
    )
    parser.parse_args(args[:1])
    raise AssertionError("unreachable: the parser refuses anything but check or push")


_KEY = (
    "The API key is truss's: $BASETEN_TRUSS_AUTH_REMOTE_URL with _API_KEY, else the\n"
    "api_key of a ~/.trussrc remote ($USER_TRUSSRC_PATH), else $BASETEN_API_KEY."
)


def _baseten_action(action: str, stdout: BinaryIO) -> _Parser:
    if action == "check":
        parser = _Parser(
            "baseten check",
            stdout,
            description=(
                "List the secret names the hosted builder needs for these trusses (default:\n"
                "every registry configure recorded) and whether the workspace has each, by\n"
                "name (values are never read). Exit status 1 if one is missing.\n\n" + _KEY
            ),
            epilog=(
                "examples:\n"
                f"  {EXE} baseten check path/to/my-truss\n"
                f"  {EXE} baseten check --team TEAM_ID"
            ),
        )
    else:
        parser = _Parser(
            "baseten push",
            stdout,
            description=(
                "Upsert the local values of exactly the secrets check lists, after saying\n"
                "which and from where (asks on a terminal; --yes for scripts), then check\n"
                "again. A value that cannot work is refused and nothing is written.\n"
                "--dry-run needs no API key; with one it also says which already exist.\n\n" + _KEY
            ),
            epilog=(
                "examples:\n"
                f"  {EXE} baseten push --dry-run path/to/my-truss\n"
                f"  {EXE} baseten push --yes --remote baseten"
            ),
        )
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="a truss directory or config.yaml (default: every configured registry)",
    )
    parser.add_argument("--remote", metavar="NAME", help="the ~/.trussrc remote whose key to use")
    parser.add_argument("--team", metavar="TEAM_ID", help="a team's secrets, not the workspace's")
    if action == "push":
        parser.add_argument("--dry-run", action="store_true", help="show the plan; write nothing")
        parser.add_argument("--yes", action="store_true", help="write without asking")
    return parser

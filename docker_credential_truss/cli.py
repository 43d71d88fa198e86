"""The command line: the only place that touches argv, the standard streams and exit codes.

Top-level imports are kept to what ``get`` needs: docker may run this once per
registry per build, so anything else is imported by the verb that uses it.
"""

from __future__ import annotations

import os
import sys

from docker_credential_truss import __version__, debuglog
from docker_credential_truss.errors import (
    REPORT_IT,
    HelperError,
    InputError,
    NotFound,
    internal_error,
)
from docker_credential_truss.protocol import ACTIONS, handle

TYPE_CHECKING = False  # importing typing costs start-up time
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import BinaryIO, TextIO

PROTOCOL_USAGE = (
    "usage: docker-credential-truss get|store|erase|list, with the request on stdin"
    " (docker runs these); for the rest: docker-credential-truss --help"
)
HUMAN_COMMANDS = ("configure", "unconfigure", "doctor", "baseten")

HELP = """\
docker-credential-truss: a Docker credential helper for truss registry auth.

Docker, BuildKit, skopeo/podman and docker-py run it to get registry credentials
made from the same truss config and secrets that Baseten uses for base_image.

Set up in three steps:
  1. Install:    pip install .   (in a checkout; or pipx install .), or put the
                 standalone binary's folder on PATH: docker runs it by exactly
                 the name docker-credential-truss
  2. Configure:  docker-credential-truss configure path/to/my-truss
                 Reads base_image.docker_auth and the DOCKER_REGISTRY_* secrets of
                 the truss's config.yaml and routes those registries to this helper
                 in $DOCKER_CONFIG/config.json (default ~/.docker/config.json):
                   {"credHelpers": {"ghcr.io": "truss"}}
  3. Secrets:    put the values where truss keeps them, e.g. ~/.truss/config.yaml:
                   secrets:
                     DOCKER_REGISTRY_ghcr.io: <base64 of user:password>
                     aws_access_key_id: AKIA...
                 or `docker login ghcr.io`, which stores through this helper.
                 Docker Hub: `docker login`, not ~/.truss/config.yaml (the '/'s in
                 its secret name break `truss image run`).

Secrets are looked up, first match wins, in:
  $TRUSS_SECRET_<name>          environment variable, the exact secret name
  $TRUSS_SECRETS_DIR/<name>     one file per secret ('/' written as %2F, '%' as %25)
  ~/.truss/config.yaml          its secrets: map
  the helper's store            written by `docker login` (store)

Commands (each human command has --help, with examples):
  get | store | erase | list    the credential-helper protocol: docker writes the
                                request on stdin; no other arguments
  configure PATH|FILE.py... [--dry-run] [--replace]
                                import truss configs (a truss directory or config.yaml,
                                or a Chains/truss_train .py file, read, never run)
  configure --registry HOST --auth-method METHOD [--secret-name NAME]
            [--<any docker_auth field, _ as -> VALUE]...
                                the same without a truss; all six truss auth methods
  unconfigure HOST|PATH... [--dry-run]
                                undo configure for those registries, putting back the
                                helper it replaced
  doctor [REGISTRY...] [--offline] [--no-registry] [--insecure-registry HOST]
                                check each registry's set-up step by step and say how
                                to fix it; exit status 1 if anything is wrong
  baseten check [PATH...] [--remote NAME] [--team TEAM_ID]
                                does the Baseten workspace have the secrets the
                                hosted builder needs for these trusses? (names only)
  baseten push [PATH...] [--dry-run] [--yes] [--remote NAME] [--team TEAM_ID]
                                upsert those secrets' local values, then check again
  version, -v, --version        print the version
  -h, --help                    this text

get answers a credential or "credentials not found in native keychain" (exit
status 1), so public images still pull anonymously. When a registry this helper
serves has no credential now (a missing or malformed secret, a cloud endpoint that
refuses or is down), one line on stderr says what failed, where it looked and how
to fix it; an unknown registry stays silent. A failed mint is remembered for 30 s
(DOCKER_CREDENTIAL_TRUSS_FAILURE_TTL=seconds, 0 to turn off), so builders that ask
every registry do not wait for a dead endpoint each time. store refuses a login
that get would not answer (a cloud auth method, or another value in a source read
first); erase fails naming what would still answer. The other protocol verbs'
errors are one line on stdout (and stderr) with exit status 1. The human commands
write errors once, on stderr: exit status 2 for a usage error, 1 for the rest.

DOCKER_CREDENTIAL_TRUSS_DEBUG=1 logs what each run does (verb, registry, auth method
and why, cache hits, minting time, errors; never a secret) to debug.log in
$XDG_STATE_HOME/docker-credential-truss/log (default ~/.local/state/...).
"""


def main(
    argv: Sequence[str] | None = None,
    *,
    stdin: BinaryIO | None = None,
    stdout: BinaryIO | None = None,
    stderr: TextIO | None = None,
    env: Mapping[str, str] | None = None,
) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    stdin = sys.stdin.buffer if stdin is None else stdin
    stdout = sys.stdout.buffer if stdout is None else stdout
    stderr = sys.stderr if stderr is None else stderr
    env = os.environ if env is None else env
    try:
        return _run(args, stdin, stdout, stderr, env)
    except NotFound as exc:
        _say(stdout, exc.message)  # clients go anonymous on exactly this answer
        if exc.reason:  # every client shows the helper's stderr to the person
            debuglog.error("error: %s", exc.reason)
            stderr.write(f"docker-credential-truss: {debuglog.shown(exc.reason)}\n")
        else:
            debuglog.debug("answer: %s", exc.message)
        return 1
    except HelperError as exc:
        debuglog.error("error: %s", exc.message)
        line = debuglog.shown(exc.message)  # it may quote a server: masked, made inert
    except KeyboardInterrupt:
        line = "interrupted"
    except Exception as exc:  # the text of a foreign error may hold a secret
        # The log gets the traceback: its formatter masks every secret value seen.
        debuglog.error("internal error (%s)", type(exc).__name__, trace=True)
        line = f"{internal_error(exc)}; {REPORT_IT}"
    finally:
        debuglog.close()
    _say(stdout, line)
    # Some clients show the helper's stdout, others only its stderr: say it in both.
    stderr.write(f"docker-credential-truss: {line}\n")
    return 1


def _run(
    args: list[str], stdin: BinaryIO, stdout: BinaryIO, stderr: TextIO, env: Mapping[str, str]
) -> int:
    if not args:
        stderr.write(HELP)
        _say(stdout, "no command given; try: docker-credential-truss --help")
        return 1
    action, rest = args[0], args[1:]
    if debuglog.enabled(env):
        from docker_credential_truss.paths import Paths

        debuglog.setup(env, Paths.from_env(env))
        debuglog.debug("%s (docker-credential-truss %s)", action, __version__)
    if action in ACTIONS:
        if rest:  # as docker-credential-helpers: a verb takes its request on stdin only
            raise InputError(PROTOCOL_USAGE)
        from docker_credential_truss.helper import TrussHelper
        from docker_credential_truss.paths import Paths
        from docker_credential_truss.resolver import Resolver

        def warn(line: str) -> None:
            stderr.write(f"docker-credential-truss: {line}\n")

        helper = TrussHelper(Resolver(env, Paths.from_env(env), warn), warn)
        handle(helper, action, stdin, stdout)
        return 0
    if action in ("version", "-v", "--version"):
        _say(stdout, f"docker-credential-truss {__version__}")
        return 0
    if action in ("-h", "--help", "help"):
        stdout.write(HELP.encode())
        return 0
    if action in HUMAN_COMMANDS:
        return _human(action, rest, stdin, stdout, stderr, env)
    _say(stdout, f"unknown command {action!r}; try: docker-credential-truss --help")
    return 1


def _human(
    action: str,
    args: list[str],
    stdin: BinaryIO,
    stdout: BinaryIO,
    stderr: TextIO,
    env: Mapping[str, str],
) -> int:
    """A command for a person: its errors go once to stderr, a usage error exits 2."""
    from docker_credential_truss import options

    try:
        if action == "configure":
            from docker_credential_truss.configure import configure

            return configure(options.configure(args, stdout), stdout, stderr, env)
        if action == "unconfigure":
            from docker_credential_truss.configure import unconfigure

            return unconfigure(options.unconfigure(args, stdout), stdout, stderr, env)
        if action == "doctor":
            from docker_credential_truss.doctor import doctor

            return doctor(options.doctor(args, stdout), stdout, env)
        from docker_credential_truss.baseten import baseten

        return baseten(options.baseten(args, stdout), stdin, stdout, stderr, env)
    except options.HelpShown:
        return 0
    except options.UsageError as exc:  # it quotes the arguments: made inert too
        stderr.write(debuglog.shown(exc.message) + "\n")
        return 2
    except HelperError as exc:
        debuglog.error("error: %s", exc.message)
        # it may quote a server (baseten's API, a registry): masked and made inert
        stderr.write(f"docker-credential-truss: {debuglog.shown(exc.message)}\n")
        return 1


def _say(stdout: BinaryIO, line: str) -> None:
    stdout.write(line.encode() + b"\n")
    stdout.flush()

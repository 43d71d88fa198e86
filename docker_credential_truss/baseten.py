"""``baseten check`` and ``baseten push``: will Baseten's hosted builder find the secrets?

``truss push`` builds on Baseten, which reads registry credentials from the workspace's
secrets, not from this machine. A missing or misspelt secret (Docker Hub's
``DOCKER_REGISTRY_https://index.docker.io/v1/`` is easy to get wrong) shows up only
minutes into the build. ``check`` lists the secret names each registry's auth method
needs and asks the workspace (``GET /v1/secrets``, names only) whether it has them;
``push`` upserts the local values of exactly those secrets (``POST /v1/secrets``), after
saying which and from where, and checks again.

Secret values are read from the same places ``get`` reads them, checked for the form
their use needs, sent only in the body of the upsert, and never printed or logged.
"""

from __future__ import annotations

from docker_credential_truss import basetenapi, config, trussconfig
from docker_credential_truss.authmethods import METHODS
from docker_credential_truss.errors import InputError, SecretError
from docker_credential_truss.paths import Paths
from docker_credential_truss.registry import SECRET_PREFIX, InvalidRegistry, parse
from docker_credential_truss.report import Report
from docker_credential_truss.secrets import Secrets

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import BinaryIO, TextIO

USAGE = (
    "usage: docker-credential-truss baseten check [PATH...] [--remote NAME] [--team TEAM_ID]\n"
    "       docker-credential-truss baseten push [PATH...] [--dry-run] [--yes]"
    " [--remote NAME] [--team TEAM_ID]"
)
EXE = "docker-credential-truss"


class Need:
    """A secret the hosted builder will look up, and the form its value must have."""

    __slots__ = ("kind", "name")

    def __init__(self, name: str, kind: str) -> None:
        self.name = name
        self.kind = kind  # the form of authmethods.Secret: "registry", "aws_key_id"...


def needs(key: str, entry: Mapping[str, str]) -> list[Need]:
    """The secret names the hosted builder reads for one registry entry."""
    method = METHODS.get(entry.get("auth_method", ""))
    if method is None or method.hosted:
        return []
    return [Need(s.name(entry, SECRET_PREFIX + key), s.form) for s in method.secrets]


def check_value(need: Need, value: str) -> None:
    """Raise SecretError when ``value`` cannot work for ``need`` (never quoting it)."""
    if need.kind == "registry":
        from docker_credential_truss.providers.static import decode

        decode(value, need.name)
    elif need.kind == "gcp_key":
        from docker_credential_truss.providers.gcp import service_account_info

        service_account_info(f"secret {need.name!r}", value)
    elif need.kind == "aws_key_id" and value.strip().startswith("ASIA"):
        raise SecretError(
            f"secret {need.name!r} is a temporary AWS key (ASIA...), which stops working with"
            " its session; Baseten's builder needs a long-lived key pair (AKIA...)"
        )


def baseten(
    args: list[str], stdin: BinaryIO, stdout: BinaryIO, stderr: TextIO, env: Mapping[str, str]
) -> int:
    if not args or args[0] not in ("check", "push"):
        raise InputError(USAGE.replace("\n", " "))
    action, options = args[0], _Options(args[1:], action_is_push=args[0] == "push")
    paths = Paths.from_env(env)
    registries = _registries(options.paths, paths)
    key = basetenapi.find_key(env, options.remote)
    client = basetenapi.Client(key, env, options.team)
    out = Report(stdout)
    where = f"team {options.team}" if options.team else "the workspace"
    out.line(f"Baseten API {key.api_url}, key from {key.source} (sent as {key.scheme})")
    if action == "push":
        code = _push(out, client, registries, Secrets(env, paths), options, stdin, stderr, where)
        if code is not None:
            out.flush()
            return code
        out.line()
        out.line("checking again:")
    code = _check(out, client, registries, Secrets(env, paths), where)
    out.flush()
    return code


class _Options:
    def __init__(self, args: list[str], action_is_push: bool) -> None:
        self.paths: list[str] = []
        self.remote: str | None = None
        self.team: str | None = None
        self.dry_run = self.yes = False
        items = iter(args)
        for arg in items:
            name, eq, value = arg.partition("=")
            if name in ("--remote", "--team"):
                given = value if eq else next(items, None)
                if not given:
                    raise InputError(f"{name} needs a value; {USAGE.splitlines()[0]}")
                setattr(self, name[2:], given)
            elif action_is_push and arg in ("--dry-run", "--yes"):
                setattr(self, arg[2:].replace("-", "_"), True)
            elif arg.startswith("-"):
                raise InputError(f"unknown option {arg}; {' '.join(USAGE.split())}")
            else:
                self.paths.append(arg)


def _registries(given: list[str], paths: Paths) -> dict[str, dict[str, str]]:
    """Registry key -> entry: from the trusses named, else every one configure recorded."""
    entries: dict[str, dict[str, str]] = {}
    for path in given:
        entries.update(trussconfig.read(path).entries)
    if not given:
        entries = config.load(paths)
    if not entries:
        where = "those trusses" if given else f"{paths.helper_config} (nothing configured)"
        raise InputError(
            f"no registry to check in {where}; name a truss: {EXE} baseten check PATH/TO/TRUSS"
        )
    return entries


def _check(
    out: Report,
    client: basetenapi.Client,
    registries: dict[str, dict[str, str]],
    secrets: Secrets,
    where: str,
) -> int:
    names = client.secret_names()
    have = set(names)
    out.line(f"{where}: {len(names)} secrets ({'GET ' + client.path})")
    for key, entry in registries.items():
        method = entry.get("auth_method", "?")
        source = f", from {entry['source']}" if entry.get("source") else ""
        out.line()
        out.line(f"{key}: {method}{source}")
        wanted = needs(key, entry)
        if not wanted:
            known = METHODS.get(method)
            reason = known.hosted if known and known.hosted else "this auth method reads no secret"
            out.note(f"no secret needed: {reason}")
            continue
        for need in wanted:
            if need.name in have:
                out.ok(f"{need.name}: in {where}")
                continue
            out.fail(
                f"{need.name}: not in {where}{_near_miss(need.name, names)}",
                _fix(need, secrets, client),
            )
    out.line()
    missing = out.problems
    if missing:
        s = "s" if missing > 1 else ""
        out.line(
            f"{missing} secret{s} missing; the hosted build would fail;"
            " each FAIL says how to fix it"
        )
        return 1
    out.line(f"all good: {where} has every secret these registries need")
    return 0


def _near_miss(name: str, names: list[str]) -> str:
    """A workspace name that looks meant for ``name``: another spelling of it."""
    for other in names:
        if other.lower() == name.lower():
            return f" (it has {other!r}; names are case-sensitive)"
        if name.startswith(SECRET_PREFIX) and other.startswith(SECRET_PREFIX):
            try:
                same = (
                    parse(other[len(SECRET_PREFIX) :]).key == parse(name[len(SECRET_PREFIX) :]).key
                )
            except InvalidRegistry:
                same = False
            if same:
                return f" (it has {other!r}, but the builder looks for exactly {name!r})"
    return ""


def _fix(need: Need, secrets: Secrets, client: basetenapi.Client) -> str:
    team = f" --team {client.team}" if client.team else ""
    found = secrets.find(need.name)
    if found is not None:
        return f"{EXE} baseten push{team} (its local value is in {found.source})"
    return (
        f"add it in Baseten (Settings > Secrets), or put its value in ~/.truss/config.yaml"
        f" (secrets:) and run {EXE} baseten push{team}"
    )


def _push(
    out: Report,
    client: basetenapi.Client,
    registries: dict[str, dict[str, str]],
    secrets: Secrets,
    options: _Options,
    stdin: BinaryIO,
    stderr: TextIO,
    where: str,
) -> int | None:
    """Write the local values; the exit status when it stops here, None to check again."""
    have = set(client.secret_names())
    plan: list[tuple[str, str, str]] = []  # (name, value, source)
    refused: list[str] = []
    absent: list[str] = []
    seen: set[str] = set()
    for key, entry in registries.items():
        for need in needs(key, entry):
            if need.name in seen:
                continue
            seen.add(need.name)
            found = secrets.find(need.name)
            if found is None:
                if need.name not in have:
                    absent.append(f"{need.name} (looked in {secrets.places(need.name)})")
                continue
            try:
                check_value(need, found.value)
            except SecretError as exc:
                refused.append(f"{exc.message}; it is in {found.source}")
                continue
            plan.append((need.name, found.value, found.source))
    out.line()
    for line in refused:
        out.line(f"  refused  {line}")
    for line in absent:
        out.line(f"  no local value  {line}")
    if refused:
        out.line()
        out.line("nothing written: correct the values refused above, then push again")
        return 1
    if not plan:
        out.line("nothing to write: no local value for any secret these registries need")
        return None
    out.line(f"to write to {where} ({'POST ' + client.path}):")
    for name, _, source in plan:
        verb = "replace" if name in have else "create "
        out.line(f"  {verb}  {name}  from {source}")
    if options.dry_run:
        out.line()
        out.line("dry run: nothing written")
        return 0
    if not options.yes:
        if not stdin.isatty():
            out.line()
            out.line(
                "not a terminal, so nothing written: pass --yes to write these secrets"
                " (or --dry-run to see the plan only)"
            )
            return 1
        out.flush()
        n = len(plan)
        stderr.write(f"Write {n} secret{'s' if n > 1 else ''} to {where}? [y/N] ")
        stderr.flush()
        answer = stdin.readline().decode(errors="replace").strip().lower()
        if answer not in ("y", "yes"):
            out.line("nothing written")
            return 1
    out.line()
    for name, value, _ in plan:
        client.upsert(name, value)
        out.line(f"  wrote  {name}")
        out.flush()  # a later failure must not hide what was written
    return None

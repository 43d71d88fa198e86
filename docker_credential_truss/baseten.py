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
    from argparse import Namespace
    from collections.abc import Mapping
    from typing import BinaryIO, TextIO

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
    opts: Namespace, stdin: BinaryIO, stdout: BinaryIO, stderr: TextIO, env: Mapping[str, str]
) -> int:
    """``opts`` from :func:`options.baseten`: action, paths, remote, team, dry_run, yes."""
    paths = Paths.from_env(env)
    registries = _registries(opts.paths, paths)
    out = Report(stdout)
    where = f"team {opts.team}" if opts.team else "the workspace"
    try:
        key = basetenapi.find_key(env, opts.remote)
    except basetenapi.BasetenError as exc:
        if not (opts.action == "push" and opts.dry_run):
            raise
        # A plan needs no key: only "create" or "replace" needs the workspace's names.
        out.line(f"dry run without an API key ({exc.message})")
        out.line(f"could not see which of these secrets {where} already has")
        code = _push(out, None, registries, Secrets(env, paths), opts, stdin, stderr, where)
        out.flush()
        return 0 if code is None else code
    client = basetenapi.Client(key, env, opts.team)
    out.line(f"Baseten API {key.api_url}, key from {key.source} (sent as {key.scheme})")
    if opts.action == "push":
        code = _push(out, client, registries, Secrets(env, paths), opts, stdin, stderr, where)
        if code is not None:
            out.flush()
            return code
        out.line()
        out.line("checking again:")
    code = _check(out, client, registries, Secrets(env, paths), where)
    out.flush()
    return code


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
    client: basetenapi.Client | None,
    registries: dict[str, dict[str, str]],
    secrets: Secrets,
    options: Namespace,
    stdin: BinaryIO,
    stderr: TextIO,
    where: str,
) -> int | None:
    """Write the local values; the exit status when it stops here, None to check again.

    With no ``client`` (a dry run without an API key) it plans without knowing which
    secrets exist.
    """
    have = None if client is None else set(client.secret_names())
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
                if have is None or need.name not in have:
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
    if client is None:
        out.line(f"to write to {where} (create, or replace if it exists):")
    else:
        out.line(f"to write to {where} ({'POST ' + client.path}):")
    for name, _, source in plan:
        verb = "write  " if have is None else "replace" if name in have else "create "
        out.line(f"  {verb}  {name}  from {source}")
    if options.dry_run:
        out.line()
        out.line("dry run: nothing written")
        return 0
    assert client is not None  # only a dry run goes without a key
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

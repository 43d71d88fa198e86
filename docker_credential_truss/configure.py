"""``configure``: import truss registry settings into the helper and route docker to it.

Three sources, one set of rules (truss's, see :mod:`trussconfig`):

- ``PATH``: a truss directory or its config.yaml;
- ``FILE.py``: a truss Chains or truss_train source file, read statically
  (:mod:`trussdefs`; the file is never imported or run);
- ``--registry HOST --auth-method METHOD [--<docker_auth field> VALUE]...``: the same
  fields as flags, for a registry with no truss config at hand.

Problems (what truss refuses, or a host no docker client sends) and warnings (what
truss accepts but cannot work here) are reported per registry on stderr; every
registry without a problem is imported, and the exit status is 1 if there was any
problem. The helper's config is written first, then docker's config.json, so a
registry is never routed to the helper before the helper knows how to answer for it.
"""

from __future__ import annotations

import shutil

from docker_credential_truss import config, dockerconfig, trussconfig
from docker_credential_truss.authmethods import FIELDS
from docker_credential_truss.errors import ConfigError, InputError
from docker_credential_truss.paths import Paths

TYPE_CHECKING = False  # importing typing costs start-up time
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import BinaryIO, TextIO

#: docker_auth fields as flags: --auth-method, --registry, --secret-name, ...
FLAGS = {"--" + field.replace("_", "-"): field for field in ("auth_method", *FIELDS)}
USAGE = (
    "usage: docker-credential-truss configure [--dry-run] PATH|FILE.py...\n"
    "       docker-credential-truss configure [--dry-run] --registry HOST --auth-method METHOD"
    " [--secret-name NAME] [--<docker_auth field> VALUE]..."
)


def configure(args: list[str], stdout: BinaryIO, stderr: TextIO, env: Mapping[str, str]) -> int:
    dry_run, sources, fields = _parse(args)
    found: list[trussconfig.TrussRegistries] = []
    failed = 0
    for source in sources:
        try:
            if source.endswith(".py"):
                from docker_credential_truss import trussdefs

                one = trussdefs.read(source)
            else:
                one = trussconfig.read(source)
        except ConfigError as exc:
            stderr.write(f"error: {exc.message}\n")
            failed += 1
            continue
        if not one.entries and not one.problems and not one.warnings:
            what = source if source.endswith(".py") else trussconfig.config_path(source)
            stderr.write(
                f"error: {what} names no private registry"
                " (no docker_auth and no DOCKER_REGISTRY_* secrets)\n"
            )
            failed += 1
            continue
        found.append(one)
    if fields:
        found.append(_from_flags(fields))
    entries: dict[str, dict[str, str]] = {}
    for one in found:
        for line in one.problems:
            stderr.write(f"error: {line}\n")
        for line in one.warnings:
            stderr.write(f"warning: {line}\n")
        failed += len(one.problems)
        entries.update(one.entries)
    if entries:
        _record(entries, dry_run, stdout, env)
    if shutil.which("docker-credential-truss", path=env.get("PATH")) is None:
        stderr.write(
            "warning: docker-credential-truss is not on PATH; docker will not find the helper\n"
        )
    if failed:
        imported = f"; {len(entries)} imported" if entries else "; nothing imported"
        stderr.write(f"{failed} problem{'s' if failed > 1 else ''}{imported}\n")
        return 1
    return 0


def _parse(args: list[str]) -> tuple[bool, list[str], dict[str, str]]:
    dry_run = False
    sources: list[str] = []
    fields: dict[str, str] = {}
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if arg == "--dry-run":
            dry_run = True
            continue
        if not arg.startswith("-"):
            sources.append(arg)
            continue
        flag, eq, value = arg.partition("=")
        if flag not in FLAGS:
            raise InputError(f"unknown option {flag}\n{USAGE}")
        if not eq:
            if not rest:
                raise InputError(f"{flag} needs a value\n{USAGE}")
            value = rest.pop(0)
        fields[FLAGS[flag]] = value
    if not sources and not fields:
        raise InputError(USAGE)
    return dry_run, sources, fields


def _from_flags(fields: dict[str, str]) -> trussconfig.TrussRegistries:
    found = trussconfig.TrussRegistries("the command line")
    where = "--registry/--auth-method flags"
    if not fields.get("registry"):
        found.problems.append(f"{where}: --registry HOST is required (the host docker asks for)")
        return found
    if "auth_method" not in fields:
        found.problems.append(f"{where}: --auth-method is required")
        return found
    trussconfig.docker_auth(found, fields, "", where)
    return found


def _record(
    entries: dict[str, dict[str, str]], dry_run: bool, stdout: BinaryIO, env: Mapping[str, str]
) -> None:
    paths = Paths.from_env(env)
    lines = []
    for key, entry in entries.items():
        detail = ", ".join(
            f"{k}={v}"
            for k, v in entry.items()
            if k not in ("auth_method", "source", "image_registry", "image")
        )
        lines.append(f"{key}: {entry['auth_method']}" + (f" ({detail})" if detail else ""))
    if dry_run:
        changes = dockerconfig.planned(paths.docker_config, list(entries))
        verb = "would record"
    else:
        config.merge(paths, entries)
        changes = dockerconfig.route(paths.docker_config, list(entries))
        verb = "recorded"
    out = [f"{verb} in {paths.helper_config}:"] + [f"  {line}" for line in lines]
    route = "would route" if dry_run else "routed"
    if changes:
        out.append(f"{route} to docker-credential-truss in {paths.docker_config}:")
        for key, previous in changes.items():
            was = f" (was {previous!r})" if previous else ""
            out.append(f'  "credHelpers": {{"{key}": "truss"}}{was}')
    else:
        out.append(f"{paths.docker_config} already routes these registries to truss")
    stdout.write(("\n".join(out) + "\n").encode())
